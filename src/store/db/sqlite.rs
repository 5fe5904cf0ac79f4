//! Running the store's SQL on SQLite (rusqlite, prepared statements cached per connection).

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::value::{Row, Value};
use crate::store::StoreError;

fn bind(v: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::ToSqlOutput::Borrowed;
    match v {
        Value::Null => Borrowed(ValueRef::Null),
        Value::Int(i) => Borrowed(ValueRef::Integer(*i)),
        Value::Real(f) => Borrowed(ValueRef::Real(*f)),
        Value::Text(s) => Borrowed(ValueRef::Text(s.as_bytes())),
        Value::Blob(b) => Borrowed(ValueRef::Blob(b)),
    }
}

fn read(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Runs one statement; returns the rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let bound: Vec<_> = params.iter().map(bind).collect();
    Ok(st.execute(rusqlite::params_from_iter(bound))?)
}

/// Runs one query; returns its rows.
pub(super) fn query(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let width = st.column_count();
    let bound: Vec<_> = params.iter().map(bind).collect();
    let mut rows = st.query(rusqlite::params_from_iter(bound))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(read(r.get_ref(i)?));
        }
        out.push(Row { values });
    }
    Ok(out)
}
