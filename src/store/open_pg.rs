//! Opening a PostgreSQL store: the pool, and the migrations of [`super::migrations_pg`]
//! applied under the store's write lock (several processes may start at once).

use r2d2_postgres::postgres::Transaction;

use super::db::{postgres as pg, Db, WRITE_LOCK};
use super::location::PgConnection;
use super::{migrations_pg, PgSettings, StoreError};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Opens the pool and migrates the database; refuses one written by a newer digestd.
pub(super) fn open(settings: &PgSettings) -> Result<Db, StoreError> {
    let connection = settings.connection()?;
    pg::outside_runtime(|| open_blocking(settings, connection))
}

/// The TLS connector for `connection` (verifying against the system roots and its `ca_file`).
fn connector(connection: &PgConnection) -> Result<MakeRustlsConnect, StoreError> {
    let config = crate::mail_tls::client_config(connection.ca_file.as_deref())
        .map_err(|e| StoreError::BadUrl(format!("TLS to the store: {e}")))?;
    Ok(MakeRustlsConnect::new((*config).clone()))
}

fn open_blocking(settings: &PgSettings, connection: PgConnection) -> Result<Db, StoreError> {
    let tls = connector(&connection)?;
    let config = connection.config;
    // One connection first, so that a wrong password, a refused certificate or a missing
    // database is reported as the server (or the TLS check) said it, at once (the pool would
    // retry until its timeout).
    let first = config
        .connect(tls.clone())
        .map_err(|e| StoreError::Connect {
            url: super::location::redact(&settings.url),
            message: describe(&e, &config),
        })?;
    drop(first);
    let pool = pg::pool(config, tls, settings.pool_size)?;
    let mut conn = pool.get()?;
    let mut tx = conn.client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    // Quiet: the server's NOTICE that the table exists would be logged at every open.
    tx.batch_execute("SET LOCAL client_min_messages = warning")?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let found = current(&mut tx)?;
    let known = migrations_pg::MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::TooNew {
            path: super::location::redact(&settings.url).into(),
            found,
            known,
        });
    }
    for (i, sql) in migrations_pg::MIGRATIONS
        .iter()
        .enumerate()
        .skip(found as usize)
    {
        let version = i as i64 + 1;
        tx.batch_execute(sql)
            .and_then(|()| tx.execute("DELETE FROM schema_version", &[]).map(|_| ()))
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[&version],
                )
                .map(|_| ())
            })
            .map_err(|source| StoreError::PgMigration { version, source })?;
        tracing::info!(version, "postgresql store migrated");
    }
    tx.commit()?;
    drop(conn);
    Ok(Db::Postgres(pool))
}

/// The whole of a PostgreSQL error: the server's message when it sent one, a refused
/// certificate in words.
fn describe(
    e: &r2d2_postgres::postgres::Error,
    config: &r2d2_postgres::postgres::Config,
) -> String {
    let host = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            r2d2_postgres::postgres::config::Host::Tcp(name) => name.clone(),
            r2d2_postgres::postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    if let Some(tls) = crate::mail_tls::describe_failure(e, &host) {
        return format!("TLS: {}", tls.reason());
    }
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

fn current(tx: &mut Transaction<'_>) -> Result<i64, StoreError> {
    let row = tx.query_opt("SELECT version FROM schema_version", &[])?;
    Ok(row.map(|r| r.get::<_, i64>(0)).unwrap_or(0))
}

/// The schema version of an open PostgreSQL store.
pub(super) fn version(db: &Db) -> Result<i64, StoreError> {
    use super::db::Exec;
    let mut auto = db.auto()?;
    Ok(auto
        .query_opt("SELECT version FROM schema_version", &[], |r| r.get(0))?
        .unwrap_or(0))
}
