//! Building a person's digest from recent forum activity. Pure: no I/O.
//!
//! [`select`] decides what goes in (and what is left out: own posts, posts already delivered,
//! groups not followed); [`rank`] decides the order; [`personal`] applies what a person set on
//! the preferences page (groups left out, language, a dated pause) before selection.

pub mod nudge;
pub mod personal;
pub mod rank;
pub mod select;

pub use select::{select, Activity, Curation, SelectLimits};
