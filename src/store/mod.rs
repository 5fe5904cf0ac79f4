//! The store (SQLite with WAL, or PostgreSQL; versioned migrations for each): forum copies,
//! people, deliveries, tokens, inbound messages, and the built-in forum's own tables.
//!
//! [`Store`] is the one type callers use, whichever engine is under it ([`StoreLocation`]:
//! `[store] path` or `[store] url`); its methods run the same SQL through [`db`] on both.
//!
//! **Boundary:** only `store` (and `forum::local`, which owns its tables in the same file) writes
//! SQL. Everything else calls methods on [`Store`] and gets the plain values of [`crate::model`].
//!
//! One file per table family: [`forum`] (groups, threads, posts, cursors), [`people`],
//! [`deliveries`] (ledger and runs), [`tokens`], [`inbound`] (with [`inbound_counts`] for
//! status and metrics), [`unsubscribes`] (used one-click tokens), [`confirmations`] (mail
//! waiting for its sender's confirmation), [`highlights`] (nominations and highlights sent),
//! [`engagement`] (the engagement report's reads and the people events), [`nudges`]
//! (newcomers' first posts, the post a nudge item's token stands for), [`preferences`] (what the
//! preferences page sets). The schema is in [`migrations`] (SQLite) and [`migrations_pg`]
//! (PostgreSQL).
//!
//! **Invariants:** every multi-row write is one `BEGIN IMMEDIATE` transaction; instants are unix
//! nanoseconds (see [`migrations`]); a store written by a newer binary is refused, never touched.

pub mod confirmations;
pub mod copy;
pub mod cpd;
pub mod db;
pub mod deliveries;
pub mod engagement;
pub mod firing_runs;
pub mod forum;
pub mod highlights;
pub mod inbound;
pub mod inbound_counts;
pub mod leases;
pub mod location;
pub mod migrations;
pub mod migrations_pg;
pub mod nudges;
mod open_pg;
pub mod people;
pub mod pg_tls;
pub mod preferences;
pub mod schedule_watch;
pub mod scratch_pg;
pub mod tokens;
pub mod unsubscribes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior};

use db::Db;

pub use confirmations::ConfirmationRow;
pub use deliveries::NewDelivery;
pub use firing_runs::FiringRuns;
pub use forum::PollState;
pub use highlights::SentHighlight;
pub use inbound::{InboundRow, InboundStatus, InsertedInbound};
pub use location::{PgSettings, StoreLocation};
pub use people::PersonState;
pub use preferences::{DigestOverrides, PreferenceChange, StoredPreferences};
pub use schedule_watch::ScheduleWatch;
pub use tokens::ReplyLookups;
pub use unsubscribes::{Redeemed, UsedToken};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("postgresql: {0}")]
    Postgres(#[from] r2d2_postgres::postgres::Error),
    /// No PostgreSQL connection could be had from the pool in time.
    #[error("postgresql connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("connecting to the postgresql store {url}: {message}")]
    Connect {
        /// The URL, without its password.
        url: String,
        /// What the server or the network said.
        message: String,
    },
    /// A query that must return a row returned none.
    #[error("no row returned by: {0}")]
    NoRow(String),
    /// `[store] url` or `password_file` is unusable.
    #[error("store url: {0}")]
    BadUrl(String),
    /// The PostgreSQL password file could not be read.
    #[error("reading the store's password file {}: {source}", .path.display())]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Applying a PostgreSQL migration failed.
    #[error("migrating the postgresql store to version {version}: {source}")]
    PgMigration {
        /// Version being applied.
        version: i64,
        /// Why.
        source: r2d2_postgres::postgres::Error,
    },
    /// The store's directory could not be created.
    #[error("creating the store directory {}: {source}", .path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was written by a newer digestd.
    #[error(
        "store {} has schema version {found}, but this digestd knows only up to {known}: \
         upgrade digestd (or restore a backup) instead of running an older binary on it",
        .path.display()
    )]
    TooNew {
        /// The store file.
        path: PathBuf,
        /// Version found in the file.
        found: i64,
        /// Newest version this binary knows.
        known: i64,
    },
    /// Applying a migration failed.
    #[error("migrating the store to version {version}: {source}")]
    Migration {
        /// Version being applied.
        version: i64,
        /// Why.
        source: rusqlite::Error,
    },
    /// An instant outside what the store can hold (years 1677–2262).
    #[error("date out of range for the store: {0}")]
    DateOutOfRange(DateTime<Utc>),
    /// A value in the store could not be read back (a corrupt or hand-edited row).
    #[error("bad value in column {column}: {value:?}")]
    BadValue {
        /// Column.
        column: &'static str,
        /// What was found.
        value: String,
    },
    /// The store's files could not be synced to disk.
    #[error("syncing {} to disk: {source}", .path.display())]
    Sync {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A fetched post names a thread that is neither in its batch nor in the store.
    #[error("post {post} of group {group} names unknown thread {thread}")]
    UnknownThread {
        /// Group.
        group: String,
        /// Post's remote id.
        post: String,
        /// Thread's remote id.
        thread: String,
    },
}

/// The open store.
pub struct Store {
    /// The database, SQLite or PostgreSQL.
    pub(crate) db: Db,
    /// The SQLite file (empty on PostgreSQL).
    path: PathBuf,
    /// Where it is.
    location: StoreLocation,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish()
    }
}

impl Store {
    /// Opens (creating and migrating) the store at `path`; creates the parent directory.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut conn = open_connection(path)?;
        migrate(&mut conn, path)?;
        Ok(Store {
            db: Db::Sqlite(conn),
            path: path.to_path_buf(),
            location: StoreLocation::File(path.to_path_buf()),
        })
    }

    /// Opens (creating and migrating) the store at `location`: a SQLite file, or a PostgreSQL
    /// database with a pool of at most `pool_size` connections.
    pub fn open_at(location: &StoreLocation) -> Result<Store, StoreError> {
        match location {
            StoreLocation::File(path) => Store::open(path),
            StoreLocation::Postgres(settings) => Ok(Store {
                db: open_pg::open(settings)?,
                path: PathBuf::new(),
                location: location.clone(),
            }),
        }
    }

    /// Where this store is.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// Which engine this store runs on.
    pub fn engine(&self) -> db::Engine {
        self.db.engine()
    }

    /// The SQLite file this store lives in (empty on PostgreSQL; see [`Store::location`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite connection (tests that look at SQLite itself; `None` on PostgreSQL).
    pub(crate) fn sqlite(&self) -> Option<&Connection> {
        match &self.db {
            Db::Sqlite(c) => Some(c),
            Db::Postgres(_) => None,
        }
    }

    /// Schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        match &self.db {
            Db::Sqlite(c) => Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?),
            Db::Postgres(_) => open_pg::version(&self.db),
        }
    }

    /// Runs `write` with `synchronous = FULL`: each commit in it reaches the disk (the WAL
    /// is fsynced) before it returns, then the connection goes back to `NORMAL`.
    pub(crate) fn synced<T>(
        &mut self,
        write: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(conn) = self.sqlite() else {
            // A PostgreSQL commit is durable when it returns (synchronous_commit = on).
            return write(self);
        };
        conn.execute_batch("PRAGMA synchronous = FULL")?;
        let result = write(self);
        let restored = match self.sqlite() {
            Some(conn) => conn.execute_batch("PRAGMA synchronous = NORMAL"),
            None => Ok(()),
        };
        let value = result?;
        restored?;
        Ok(value)
    }

    /// Makes every commit so far survive a power cut, not only a crash of digestd: fsyncs
    /// the WAL, where a `synchronous = NORMAL` commit otherwise waits for the next checkpoint
    /// to reach the disk (the database file itself, when there is no WAL). Called before
    /// acting outside the store on what it records: before a batch of digests recorded as
    /// pending is sent, so a power cut cannot make digestd forget one it sent and send it
    /// again.
    pub fn sync_commits(&self) -> Result<(), StoreError> {
        self.commit_sync().run()
    }

    /// What [`Store::sync_commits`] does, as a value another thread can run while this one
    /// goes on (it needs only the file's path): it syncs every commit made before it runs.
    pub fn commit_sync(&self) -> CommitSync {
        CommitSync {
            path: self.sqlite().map(|_| self.path.clone()),
            pool: match &self.db {
                Db::Sqlite(_) => None,
                Db::Postgres(pool) => Some(pool.clone()),
            },
        }
    }

    /// Copies what the WAL holds into the database file now (a passive checkpoint: it does
    /// not wait for readers), as a commit does by itself once the WAL reaches 32 MiB.
    /// Benchmarks call it so the cost of that copy is inside what they time.
    pub fn checkpoint_wal(&self) -> Result<(), StoreError> {
        match self.sqlite() {
            Some(conn) => passive_checkpoint(conn),
            None => Ok(()),
        }
    }

    /// A connection of its own that checkpoints this store's WAL from another thread (see
    /// [`WalCheckpointer`]): a long burst of writes then does not stop for the copy, which
    /// a commit otherwise makes itself once the WAL reaches 32 MiB.
    pub fn wal_checkpointer(&self) -> Result<WalCheckpointer, StoreError> {
        Ok(WalCheckpointer {
            conn: match self.sqlite() {
                Some(_) => Some(open_connection(&self.path)?),
                None => None,
            },
        })
    }
}

/// Syncs a store's commits to disk, from any thread (made by [`Store::commit_sync`]).
#[derive(Clone)]
pub struct CommitSync {
    /// The store's database file (its WAL is this path with `-wal`); `None` on PostgreSQL.
    path: Option<PathBuf>,
    /// The PostgreSQL store's pool (`None` on SQLite).
    pool: Option<db::postgres::PgPool>,
}

impl std::fmt::Debug for CommitSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommitSync")
            .field("path", &self.path)
            .field("postgres", &self.pool.is_some())
            .finish()
    }
}

impl CommitSync {
    /// Fsyncs the store's WAL (the database file when there is no WAL; on PostgreSQL, waits
    /// for the server to flush its WAL): every commit made before this call then survives a
    /// power cut. Says which file failed.
    pub fn run(&self) -> Result<(), StoreError> {
        if let Some(pool) = &self.pool {
            return db::postgres::sync_wal(pool);
        }
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let sync = |path: &Path| std::fs::File::open(path).and_then(|f| f.sync_data());
        match sync(&wal) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                sync(path).map_err(|source| StoreError::Sync {
                    path: path.clone(),
                    source,
                })
            }
            other => other.map_err(|source| StoreError::Sync { path: wal, source }),
        }
    }
}

/// Copies a store's WAL into its database file from a connection of its own, so that a
/// thread can do it while the store's connection goes on writing (made by
/// [`Store::wal_checkpointer`]).
#[derive(Debug)]
pub struct WalCheckpointer {
    /// Its own connection to the store's file (`None` on PostgreSQL: nothing to copy).
    conn: Option<Connection>,
}

impl WalCheckpointer {
    /// Copies what the WAL holds into the database file now, as [`Store::checkpoint_wal`]
    /// does: a passive checkpoint, which neither waits for nor blocks the writer (frames
    /// committed while it runs are left for the next one).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.conn {
            Some(conn) => passive_checkpoint(conn),
            None => Ok(()),
        }
    }
}

/// A passive checkpoint of `conn`'s WAL (see [`WalCheckpointer::checkpoint`]).
fn passive_checkpoint(conn: &Connection) -> Result<(), StoreError> {
    let _: (i64, i64, i64) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(())
}

/// Opens a connection with digestd's pragmas (WAL, NORMAL sync, foreign keys, 5 s busy timeout),
/// without migrating. Used by [`Store::open`] and by the local forum's own connection.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // A new file gets 16 KiB pages (an existing one keeps its size: SQLite changes it only
    // before the first table exists). The WAL writes and checkpoints page by page, a syscall
    // or two each, and raw inbound mail (a few KiB to MiB per message) spans several 4 KiB
    // pages: 16 KiB pages make storing a burst of replies about three times faster
    // (`digestd bench inbound`, the store's insert figure).
    conn.execute_batch(&format!("PRAGMA page_size = {NEW_FILE_PAGE_SIZE}"))?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    // 32 MiB page cache: a 50,000-post import or digest run stays in memory.
    // Checkpoint the WAL every 32 MiB instead of SQLite's 1000 pages: a burst of mail
    // rewrites the same index and status pages many times, and a checkpoint copies each page
    // once however often it changed, with two fsyncs each time. The WAL file is cut back to
    // 64 MiB after a checkpoint so a burst does not leave a large file behind.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32000;
         PRAGMA wal_autocheckpoint = {}; PRAGMA journal_size_limit = 67108864;",
        wal_checkpoint_pages(page_size)
    ))?;
    Ok(conn)
}

/// Page size of a store file created by digestd.
pub(crate) const NEW_FILE_PAGE_SIZE: i64 = 16384;

/// WAL size, in bytes, at which a commit checkpoints it into the database file.
const WAL_CHECKPOINT_BYTES: i64 = 32 * 1024 * 1024;

/// [`WAL_CHECKPOINT_BYTES`] in pages of `page_size` bytes (SQLite counts pages).
fn wal_checkpoint_pages(page_size: i64) -> i64 {
    (WAL_CHECKPOINT_BYTES / page_size.max(512)).max(1)
}

/// Applies every migration the file lacks, one transaction each; refuses a newer file.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = migrations::MIGRATIONS.len() as i64;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    tx.commit()?;
    for (i, sql) in migrations::MIGRATIONS
        .iter()
        .enumerate()
        .skip(found as usize)
    {
        let version = i as i64 + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated meanwhile: re-check under the write lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now >= version {
            continue;
        }
        tx.execute_batch(sql)
            .and_then(|()| migrations::after(version, &tx))
            .and_then(|()| tx.execute_batch(&format!("PRAGMA user_version = {version}")))
            .map_err(|source| StoreError::Migration { version, source })?;
        tx.commit()?;
        tracing::info!(version, path = %path.display(), "store migrated");
    }
    Ok(())
}

/// An instant as stored: unix nanoseconds.
pub(crate) fn to_db(t: DateTime<Utc>) -> Result<i64, StoreError> {
    t.timestamp_nanos_opt().ok_or(StoreError::DateOutOfRange(t))
}

/// An instant read back from the store.
pub(crate) fn from_db(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}

/// Now, as stored.
pub(crate) fn now_db() -> i64 {
    // Within range until 2262.
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Tags as stored: lower case, trimmed, comma-framed (`,a,b,`), or `''` when there are none.
pub(crate) fn tags_to_db(tags: &[String]) -> String {
    let cleaned: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_lowercase().replace(',', " "))
        .filter(|t| !t.is_empty())
        .collect();
    if cleaned.is_empty() {
        String::new()
    } else {
        format!(",{},", cleaned.join(","))
    }
}

/// Tags read back from the store.
pub(crate) fn tags_from_db(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The tests' PostgreSQL server (shared with the integration tests).
#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
pub(crate) mod postgres_server;

#[cfg(test)]
pub(crate) mod test_support {
    //! Fresh stores for tests: a SQLite file in a temporary directory, and a new database in
    //! the test process's PostgreSQL (started once, see `tests/support/postgres.rs`).
    use super::postgres_server;
    use super::{PgSettings, Store, StoreLocation};

    /// A store in a temp dir (kept alive by the returned guard).
    pub fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("sub").join("digestd.sqlite")).expect("open");
        (dir, store)
    }

    /// A store in a new database of the test process's PostgreSQL (`None` when PostgreSQL
    /// cannot start here; a panic then under CI).
    pub fn pg_store() -> Option<Store> {
        let server = postgres_server::PgServer::shared()?;
        let location = StoreLocation::Postgres(PgSettings {
            url: server.fresh_url(),
            password_file: None,
            pool_size: 4,
            ca_file: None,
        });
        Some(Store::open_at(&location).expect("open postgresql store"))
    }

    /// Two stores (two workers' pools) on one new database of the test process's PostgreSQL.
    pub fn pg_pair() -> Option<(Store, Store)> {
        let server = postgres_server::PgServer::shared()?;
        let location = StoreLocation::Postgres(PgSettings {
            url: server.fresh_url(),
            password_file: None,
            pool_size: 2,
            ca_file: None,
        });
        let open = || Store::open_at(&location).expect("open postgresql store");
        Some((open(), open()))
    }

    /// Runs `test` on a fresh SQLite store, then on a fresh PostgreSQL store: the store's
    /// semantics are the same on both.
    pub fn each_store(mut test: impl FnMut(Store)) {
        let (_dir, store) = temp_store();
        test(store);
        if let Some(store) = pg_store() {
            test(store);
        }
    }

    /// Records a successful poll of `group_id` at `at` with `cursor`, as collection would
    /// have at that instant.
    pub fn record_poll_success_at(
        store: &Store,
        group_id: &str,
        cursor: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        store
            .db
            .execute(
                "INSERT INTO cursors (group_id, cursor, last_success) VALUES (?1, ?2, ?3)",
                super::db::params![group_id, cursor, super::to_db(at).expect("instant")],
            )
            .expect("cursor");
    }
}

#[cfg(test)]
mod tests;
