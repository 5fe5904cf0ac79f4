//! Scratch databases on a PostgreSQL server, for `digestd bench scale`: each measured round
//! gets a new empty database beside the one the given URL names, dropped afterwards.
//!
//! Only names this module makes (`digestd_bench_scale_*`) are created or dropped.

use postgres::NoTls;

use super::{PgSettings, StoreError};

/// The prefix of every scratch database's name.
pub const PREFIX: &str = "digestd_bench_scale_";

/// A database made by [`create`] on the server of `settings`; [`drop_database`] removes it.
#[derive(Debug, Clone)]
pub struct ScratchDatabase {
    /// The server's connection (the database the caller named: where CREATE/DROP run).
    admin: PgSettings,
    /// Its name.
    pub name: String,
    /// Its URL: the caller's URL with the database replaced (password kept when given).
    pub url: String,
}

/// Creates the empty database `PREFIX + suffix` (dropping a leftover of that name first) on the
/// server `settings` points at. `suffix` is made of ASCII letters, digits and `_` only.
pub fn create(settings: &PgSettings, suffix: &str) -> Result<ScratchDatabase, StoreError> {
    if suffix.is_empty()
        || !suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(StoreError::BadUrl(format!(
            "scratch database suffix {suffix:?}: letters, digits and _ only"
        )));
    }
    let name = format!("{PREFIX}{suffix}");
    let mut url = url::Url::parse(&settings.url).map_err(|e| {
        StoreError::BadUrl(format!("{}: {e}", super::location::redact(&settings.url)))
    })?;
    url.set_path(&format!("/{name}"));
    let scratch = ScratchDatabase {
        admin: settings.clone(),
        name,
        url: url.to_string(),
    };
    let quoted = quoted(&scratch.name);
    run(
        settings,
        &[
            format!("DROP DATABASE IF EXISTS {quoted}"),
            format!("CREATE DATABASE {quoted}"),
        ],
    )?;
    Ok(scratch)
}

impl ScratchDatabase {
    /// Drops the database (every connection to it must be closed).
    pub fn drop_database(&self) -> Result<(), StoreError> {
        run(
            &self.admin,
            &[format!("DROP DATABASE IF EXISTS {}", quoted(&self.name))],
        )
    }
}

/// `name` as a quoted SQL identifier (it holds letters, digits and `_` only).
fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// Runs `statements` one by one outside any transaction (CREATE/DROP DATABASE need that).
fn run(settings: &PgSettings, statements: &[String]) -> Result<(), StoreError> {
    let config = settings.config()?;
    super::db::postgres::outside_runtime(|| {
        let mut client = config.connect(NoTls).map_err(|e| StoreError::Connect {
            url: super::location::redact(&settings.url),
            message: e.to_string(),
        })?;
        for sql in statements {
            client.batch_execute(sql)?;
        }
        Ok(())
    })
}
