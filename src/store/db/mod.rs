//! The store's one way to run SQL on either engine: [`Db`] is an open SQLite connection or a
//! PostgreSQL pool; [`Exec`] runs statements on it (each on its own) or in a [`Tx`] (a write
//! transaction, [`Db::write`]).
//!
//! **Same semantics on both:** a write transaction holds the store's write lock from its first
//! statement (SQLite's `BEGIN IMMEDIATE`; on PostgreSQL a transaction-scoped advisory lock,
//! [`WRITE_LOCK`]), so writers are serialised exactly as on SQLite and every read-modify-write
//! in the store stays correct with several processes on one database. The SQL is written once,
//! in the dialect both accept (`?N` placeholders, `ON CONFLICT`, `RETURNING`, `FILTER`); the
//! few differences are translated in [`postgres::translate`] or kept in the schema
//! (`migrations_pg`).
//!
//! **Durability:** a commit is visible to every connection and safe from a crash of digestd
//! when it returns. On SQLite (`synchronous = NORMAL`, WAL) it reaches the disk at the next
//! sync; on PostgreSQL it is on disk (`synchronous_commit = on`), except a
//! [`Db::write_unsynced`] mark. Transactions that only write rows by their keys
//! ([`Db::write_rows`]: a stretch of pending digests, a sent mark) skip the store-wide lock. What must survive a power cut before digestd acts on it
//! outside the store (pending digests before their mail leaves, inbound mail before its
//! source lets go of it) is made durable first by `Store::sync_commits` / `Store::synced`.
//! Rows by the dozen go in a few statements ([`many_rows`]).

pub mod many_rows;
pub(crate) mod postgres;
mod sqlite;
pub mod value;

use std::collections::HashMap;

use r2d2_postgres::postgres::Statement;
use rusqlite::{Connection, TransactionBehavior};

pub use crate::sql_params as params;
pub use value::{FromValue, Param, Row, Value};

use self::postgres::{PgConn, PgPool};
use super::StoreError;

/// The key of the advisory lock a PostgreSQL write transaction holds (`digestd` in ASCII).
pub const WRITE_LOCK: i64 = 0x0064_6967_6573_7464;

/// How a write transaction runs on PostgreSQL (on SQLite every one is `BEGIN IMMEDIATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// Holding [`WRITE_LOCK`]; the commit waits for the disk ([`Db::write`]).
    Locked,
    /// Without the store-wide lock; the commit waits for the disk ([`Db::write_rows`]).
    Unlocked,
    /// Without the store-wide lock; the commit does not wait for the disk
    /// ([`Db::write_unsynced`]).
    Unsynced,
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// An open database.
pub enum Db {
    /// A SQLite connection.
    Sqlite(Connection),
    /// A pool of PostgreSQL connections.
    Postgres(PgPool),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

/// Statements run one at a time, each committed on its own.
pub enum Auto<'a> {
    /// On the SQLite connection.
    Sqlite(&'a Connection),
    /// On a connection taken from the pool.
    Postgres(Box<r2d2::PooledConnection<postgres::PgManager>>),
}

/// A write transaction (see the module doc): committed by [`Db::write`] when its closure
/// returns `Ok`, rolled back otherwise.
pub enum Tx<'a> {
    /// SQLite (`BEGIN IMMEDIATE`).
    Sqlite(rusqlite::Transaction<'a>),
    /// PostgreSQL, holding [`WRITE_LOCK`], with its connection's statement cache.
    Postgres(
        r2d2_postgres::postgres::Transaction<'a>,
        &'a mut HashMap<String, Statement>,
    ),
}

/// Runs the store's SQL (see the module doc).
pub trait Exec {
    /// Which engine runs it.
    fn engine(&self) -> Engine;
    /// Runs one statement with bound values; returns the rows it changed.
    fn run(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError>;
    /// Runs one query with bound values; returns its rows.
    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;

    /// Runs one statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        self.run(sql, &values(params))
    }

    /// Every row of a query, each mapped by `f`.
    fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, &values(params))?.iter().map(f).collect()
    }

    /// The first row of a query mapped by `f`, or `None` when there is none.
    fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.rows(sql, &values(params))?.first().map(f).transpose()
    }

    /// The first row of a query mapped by `f`; an error when there is none.
    fn query_row<T>(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?
            .ok_or_else(|| StoreError::NoRow(first_line(sql)))
    }
}

fn first_line(sql: &str) -> String {
    sql.trim().lines().next().unwrap_or_default().to_owned()
}

/// The values of `params`.
pub fn values(params: &[&dyn Param]) -> Vec<Value> {
    params.iter().map(|p| p.value()).collect()
}

impl Exec for Auto<'_> {
    fn engine(&self) -> Engine {
        match self {
            Auto::Sqlite(_) => Engine::Sqlite,
            Auto::Postgres(_) => Engine::Postgres,
        }
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match self {
            Auto::Sqlite(c) => sqlite::execute(c, sql, params),
            Auto::Postgres(c) => {
                let PgConn { client, cache } = &mut ***c;
                postgres::execute(&mut **client, cache, sql, params)
            }
        }
    }

    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Auto::Sqlite(c) => sqlite::query(c, sql, params),
            Auto::Postgres(c) => {
                let PgConn { client, cache } = &mut ***c;
                postgres::query(&mut **client, cache, sql, params)
            }
        }
    }
}

impl Exec for Tx<'_> {
    fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(..) => Engine::Postgres,
        }
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match self {
            Tx::Sqlite(t) => sqlite::execute(t, sql, params),
            Tx::Postgres(t, cache) => postgres::execute(t, cache, sql, params),
        }
    }

    fn rows(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Tx::Sqlite(t) => sqlite::query(t, sql, params),
            Tx::Postgres(t, cache) => postgres::query(t, cache, sql, params),
        }
    }
}

impl Db {
    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Statements each committed on its own (on PostgreSQL, one pooled connection).
    pub fn auto(&self) -> Result<Auto<'_>, StoreError> {
        Ok(match self {
            Db::Sqlite(c) => Auto::Sqlite(c),
            Db::Postgres(p) => {
                Auto::Postgres(Box::new(self::postgres::outside_runtime(|| p.get())?))
            }
        })
    }

    /// Runs `f` in one write transaction holding the store's write lock; commits when it
    /// returns `Ok`, rolls back otherwise.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_as(Commit::Locked, f)
    }

    /// [`Db::write`] without the store-wide lock on PostgreSQL, for a transaction that only
    /// inserts or updates rows by their keys and reads nothing it then acts on (its
    /// correctness rests on row locks, unique keys and `ON CONFLICT`, not on being alone):
    /// several workers' such writes then overlap instead of queueing. On SQLite the same as
    /// [`Db::write`].
    pub fn write_rows<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_as(Commit::Unlocked, f)
    }

    /// [`Db::write_rows`], committed without waiting for the disk on PostgreSQL
    /// (`synchronous_commit = off` for this transaction): visible to everyone and safe from a
    /// crash of digestd when it returns, but a crash of the database server within a fraction
    /// of a second (at most three WAL-writer delays) may forget it, unless a
    /// `Store::sync_commits` ran after it. For marks that only cost a repeat when lost (a
    /// digest's "sent"); on SQLite the same as [`Db::write`].
    pub fn write_unsynced<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.write_as(Commit::Unsynced, f)
    }

    fn write_as<T, E: From<StoreError>>(
        &self,
        commit: Commit,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(c) => {
                let tx = rusqlite::Transaction::new_unchecked(c, TransactionBehavior::Immediate)
                    .map_err(StoreError::from)?;
                let mut tx = Tx::Sqlite(tx);
                let value = f(&mut tx)?;
                if let Tx::Sqlite(t) = tx {
                    t.commit().map_err(StoreError::from)?;
                }
                Ok(value)
            }
            Db::Postgres(p) => {
                use self::postgres::outside_runtime;
                let mut conn = p.get().map_err(StoreError::from)?;
                let PgConn { client, cache } = &mut *conn;
                let t = outside_runtime(|| {
                    let mut t = client.transaction()?;
                    match commit {
                        Commit::Locked => {
                            t.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
                        }
                        Commit::Unlocked => {}
                        Commit::Unsynced => {
                            t.batch_execute("SET LOCAL synchronous_commit = off")?;
                        }
                    }
                    Ok::<_, StoreError>(t)
                })?;
                let mut tx = Tx::Postgres(t, cache);
                let result = f(&mut tx);
                let Tx::Postgres(t, _) = tx else {
                    unreachable!("a PostgreSQL store's transaction is PostgreSQL's")
                };
                // Ended here, not on drop: a rollback blocks too.
                match result {
                    Ok(value) => {
                        outside_runtime(|| t.commit()).map_err(StoreError::from)?;
                        Ok(value)
                    }
                    Err(e) => {
                        let _ = outside_runtime(|| t.rollback());
                        Err(e)
                    }
                }
            }
        }
    }

    /// Runs `f`'s reads together: in one read transaction on SQLite (one lock round), on one
    /// pooled connection on PostgreSQL.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut Auto<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let tx = c.unchecked_transaction()?;
                let value = f(&mut Auto::Sqlite(c))?;
                tx.commit()?;
                Ok(value)
            }
            Db::Postgres(_) => f(&mut self.auto()?),
        }
    }

    /// Runs one statement on its own; returns the rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize, StoreError> {
        self.auto()?.execute(sql, params)
    }

    /// Every row of a query, each mapped by `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.auto()?.query_map(sql, params, f)
    }

    /// The first row of a query mapped by `f`, or `None`.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.auto()?.query_opt(sql, params, f)
    }

    /// The first row of a query mapped by `f`; an error when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.auto()?.query_row(sql, params, f)
    }
}
