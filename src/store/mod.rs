//! The SQLite store (WAL, versioned migrations): forum copies, people, deliveries, tokens.

use std::path::Path;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The open store.
pub struct Store {
    /// The connection.
    pub conn: rusqlite::Connection,
}

impl Store {
    /// Opens (creating and migrating) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        Ok(Store { conn })
    }
}
