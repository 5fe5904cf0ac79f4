//! Running the store's SQL on PostgreSQL: a pool of connections (r2d2), each with its own
//! cache of prepared statements, and the small translation from the store's SQL to
//! PostgreSQL's (`?N` placeholders become `$N`; SQLite's `INSERT OR FAIL` is a plain `INSERT`).
//!
//! The `postgres` client blocks on a runtime of its own, which tokio forbids on a thread that
//! is driving a runtime: [`outside_runtime`] runs each call where blocking is allowed (the
//! store is called from async code too, as SQLite's blocking calls are).

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use bytes::BytesMut;
use r2d2_postgres::postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use r2d2_postgres::postgres::{self, Client, GenericClient, Statement};
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::value::{Row, Value};
use crate::store::StoreError;

/// Runs `f` where a blocking call may run: as it is outside any tokio runtime,
/// in `block_in_place` on a multi-thread runtime, and on a scoped thread of its own on a
/// current-thread runtime (where `block_in_place` is not allowed).
pub(crate) fn outside_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| match s.spawn(f).join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

/// A client closed outside any tokio runtime when dropped (closing blocks on the client's
/// own runtime, which a runtime thread may not do).
pub struct OwnedClient(Option<Client>);

impl std::ops::Deref for OwnedClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl std::ops::DerefMut for OwnedClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for OwnedClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            outside_runtime(move || drop(client));
        }
    }
}

/// One pooled connection and the statements prepared on it.
pub struct PgConn {
    /// The connection.
    pub(crate) client: OwnedClient,
    /// Prepared statements by the store's SQL text.
    pub(crate) cache: HashMap<String, Statement>,
}

/// Opens [`PgConn`]s for the pool.
pub struct PgManager(PostgresConnectionManager<MakeRustlsConnect>);

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgManager")
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: OwnedClient(Some(outside_runtime(|| self.0.connect())?)),
            cache: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        outside_runtime(|| self.0.is_valid(&mut conn.client))
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// The pool of a PostgreSQL store.
pub type PgPool = r2d2::Pool<PgManager>;

/// Makes every commit made so far (on any connection, [`super::Db::write_unsynced`] ones too)
/// durable: a transaction that writes one WAL record (a logical-decoding message, no table
/// touched) and commits with `synchronous_commit = on`, so its commit waits for the WAL to be
/// flushed up to its own record, which lies after every earlier commit.
pub fn sync_wal(pool: &PgPool) -> Result<(), StoreError> {
    let mut conn = outside_runtime(|| pool.get())?;
    outside_runtime(|| {
        conn.client.batch_execute(
            "BEGIN; SET LOCAL synchronous_commit = on;
             SELECT pg_logical_emit_message(true, 'digestd', 'sync');
             COMMIT",
        )
    })?;
    Ok(())
}

/// Opens a pool of at most `max` connections with `config`, over TLS made by `tls` when the
/// config's `sslmode` asks for it.
pub(crate) fn pool(
    config: postgres::Config,
    tls: MakeRustlsConnect,
    max: u32,
) -> Result<PgPool, StoreError> {
    let manager = PgManager(PostgresConnectionManager::new(config, tls));
    r2d2::Pool::builder()
        .max_size(max.max(1))
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .map_err(StoreError::from)
}

/// The store's SQL as PostgreSQL reads it (see the module doc).
pub(crate) fn translate(sql: &str) -> String {
    let sql = sql.replacen("INSERT OR FAIL INTO", "INSERT INTO", 1);
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0u32;
    let mut in_literal = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            in_literal = !in_literal;
            out.push(c);
        } else if c == '?' && !in_literal {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            if digits.is_empty() {
                next += 1;
                digits = next.to_string();
            }
            out.push('$');
            out.push_str(&digits);
        } else {
            out.push(c);
        }
    }
    out
}

/// The statement for `sql`, prepared once per connection.
fn statement(
    client: &mut (impl GenericClient + Send),
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, StoreError> {
    if let Some(st) = cache.get(sql) {
        return Ok(st.clone());
    }
    let st = client.prepare(&translate(sql))?;
    cache.insert(sql.to_owned(), st.clone());
    Ok(st)
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// Runs one statement; returns the rows it changed.
pub(super) fn execute(
    client: &mut (impl GenericClient + Send),
    cache: &mut HashMap<String, Statement>,
    sql: &str,
    params: &[Value],
) -> Result<usize, StoreError> {
    outside_runtime(|| {
        let st = statement(client, cache, sql)?;
        Ok(client.execute(&st, &refs(params))? as usize)
    })
}

/// Runs one query; returns its rows.
pub(super) fn query(
    client: &mut (impl GenericClient + Send),
    cache: &mut HashMap<String, Statement>,
    sql: &str,
    params: &[Value],
) -> Result<Vec<Row>, StoreError> {
    let rows = outside_runtime(|| {
        let st = statement(client, cache, sql)?;
        client.query(&st, &refs(params)).map_err(StoreError::from)
    })?;
    rows.iter()
        .map(|r| {
            let values = (0..r.len())
                .map(|i| r.try_get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row { values })
        })
        .collect()
}

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Int(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            _ => Value::Text(String::from_sql(&Type::TEXT, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_become_numbered_and_literals_are_left_alone() {
        assert_eq!(
            translate("SELECT ?2, '?', ? FROM t WHERE a = ?1 AND b IN (?, ?)"),
            "SELECT $2, '?', $1 FROM t WHERE a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(
            translate("INSERT OR FAIL INTO t (a) VALUES (?1)"),
            "INSERT INTO t (a) VALUES ($1)"
        );
    }
}
