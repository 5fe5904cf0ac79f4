//! Building a person's digest from recent forum activity. Pure: no I/O.

pub mod rank;
pub mod select;
