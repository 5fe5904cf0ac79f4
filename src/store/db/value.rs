//! Values crossing the store's SQL boundary the same way on both engines: parameters
//! ([`Param`] → [`Value`]), result rows ([`Row`]) and reading a column back ([`FromValue`]).
//!
//! SQLite's storage classes (NULL, INTEGER, REAL, TEXT, BLOB) are the common ground: the
//! PostgreSQL schema keeps integers, 0/1 booleans and instants as `BIGINT`, text as `TEXT`
//! and bytes as `BYTEA`, so one value means the same on both.

use super::super::StoreError;

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL.
    Null,
    /// An integer (also 0/1 booleans and unix-nanosecond instants).
    Int(i64),
    /// A floating-point number.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Something that can be bound as a parameter.
pub trait Param {
    /// The value bound.
    fn value(&self) -> Value;
}

impl Param for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn value(&self) -> Value {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_param!(i64, i32, i16, u8, u16, u32, u64, usize);

impl Param for bool {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}

impl Param for f64 {
    fn value(&self) -> Value {
        Value::Real(*self)
    }
}

impl Param for str {
    fn value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl Param for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl Param for [u8] {
    fn value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl Param for Vec<u8> {
    fn value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// Parameters for one statement, positional (`?1` is the first).
#[macro_export]
#[doc(hidden)]
macro_rules! sql_params {
    () => { &[] as &[&dyn $crate::store::db::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::db::Param),+] as &[&dyn $crate::store::db::Param] };
}
pub use crate::sql_params as params;

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its columns, in select order.
    pub(crate) values: Vec<Value>,
}

impl Row {
    /// Column `i` (0-based) as `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, StoreError> {
        let v = self.values.get(i).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| StoreError::BadValue {
            column: std::any::type_name::<T>(),
            value: format!("column {i}: {v:?}"),
        })
    }

    /// The row's values.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

/// A Rust type a column can be read as.
pub trait FromValue: Sized {
    /// `None` when the value does not fit.
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Option<Self> {
        Some(v.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

macro_rules! int_from {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
int_from!(i64, i32, u8, u16, u32, u64, usize);

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            Value::Text(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_and_columns_round_trip() {
        let p = params![1i64, true, "a", Some(2u32), None::<i64>, vec![1u8]];
        let values: Vec<Value> = p.iter().map(|p| p.value()).collect();
        assert_eq!(
            values,
            vec![
                Value::Int(1),
                Value::Int(1),
                Value::Text("a".into()),
                Value::Int(2),
                Value::Null,
                Value::Blob(vec![1])
            ]
        );
        let row = Row { values };
        assert!(row.get::<bool>(1).expect("bool"));
        assert_eq!(row.get::<Option<i64>>(4).expect("null"), None);
        assert!(row.get::<i64>(2).is_err(), "text is not an integer");
    }
}
