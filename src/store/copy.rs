//! Copying a whole store into an empty one, across engines (`digestd migrate`): every table,
//! every row, in one transaction on the target, with a row count and a checksum per table read
//! back from both sides.
//!
//! Both stores are opened (so migrated) to this binary's newest schema first; their tables and
//! columns must then match, except SQLite's implicit `rowid`, which the PostgreSQL schema
//! keeps as a column where the store reads it. The checksum of a table is the sum (mod 2^128)
//! of a SHA-256 per row over its values in column-name order, so it does not depend on the
//! order rows come back in, nor on the engine.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::db::{params, Db, Engine, Exec, Row, Tx, Value};
use super::{Store, StoreError};

/// Tables in an order that satisfies their foreign keys; tables not named here follow, by
/// name.
const ORDER: &[&str] = &[
    "groups",
    "threads",
    "posts",
    "cursors",
    "people",
    "person_roles",
    "schedule_optouts",
    "deliveries",
    "delivery_posts",
    "reply_tokens",
    "runs",
    "inbound_messages",
    "inbound_raw",
    "answers_sent",
    "unsubscribe_tokens_used",
    "confirmations",
    "digest_now_requests",
    "local_threads",
    "local_posts",
    "highlight_nominations",
    "highlights_sent",
    "person_events",
    "token_posts",
];

/// Tables whose SQLite `rowid` the store reads (for their insertion order): copied too, and
/// kept as a column on PostgreSQL.
const ROWID_KEPT: &[&str] = &["reply_tokens"];

/// Rows read, and written, by one statement.
const ROWS_A_BATCH: usize = 200;

/// Why a copy was refused or failed (nothing is left half-copied: the target's transaction is
/// rolled back).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target already holds data.
    #[error("the target store is not empty: table {table} has {rows} rows (migrate only into a new, empty store)")]
    TargetNotEmpty {
        /// A table with rows.
        table: String,
        /// How many.
        rows: u64,
    },
    /// Source and target are the same store.
    #[error("source and target are the same store")]
    SameStore,
    /// The two schemas differ (one binary opened both, so this is a hand-made change).
    #[error("the stores' schemas differ: {0}")]
    SchemaDiffers(String),
    /// What was written does not read back the same.
    #[error("table {table}: copied {source_rows} rows (checksum {source_sum}) but the target holds {target_rows} (checksum {target_sum})")]
    Mismatch {
        /// Table.
        table: String,
        /// Rows in the source.
        source_rows: u64,
        /// Its checksum.
        source_sum: String,
        /// Rows in the target.
        target_rows: u64,
        /// Its checksum.
        target_sum: String,
    },
}

/// Row count and checksum of one table on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSum {
    /// Rows.
    pub rows: u64,
    /// Checksum, 32 hex digits.
    pub checksum: String,
}

/// What a copy did for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// Table.
    pub table: String,
    /// As read from the source.
    pub source: TableSum,
    /// As read back from the target after the copy.
    pub target: TableSum,
}

/// Copies everything in `from` into `to`, which must be empty; returns what each table held
/// on both sides (equal, or the copy fails).
pub fn copy_store(from: &Store, to: &Store) -> Result<Vec<TableCopy>, CopyError> {
    if from.location() == to.location() {
        return Err(CopyError::SameStore);
    }
    let tables = tables(&from.db)?;
    let target_tables = tables_of(&to.db)?;
    let names: BTreeSet<&String> = tables.iter().map(|(t, _)| t).collect();
    let target_names: BTreeSet<&String> = target_tables.iter().map(|(t, _)| t).collect();
    if names != target_names {
        return Err(CopyError::SchemaDiffers(format!(
            "tables only in the source: {:?}; only in the target: {:?}",
            names.difference(&target_names).collect::<Vec<_>>(),
            target_names.difference(&names).collect::<Vec<_>>()
        )));
    }
    let mut target_auto = to.db.auto()?;
    for (table, _) in &tables {
        let rows = count(&mut target_auto, table)?;
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty {
                table: table.clone(),
                rows,
            });
        }
    }
    drop(target_auto);
    let mut plan = Vec::with_capacity(tables.len());
    for (table, columns) in &tables {
        let target_columns = &target_tables
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        plan.push((
            table.clone(),
            common_columns(table, columns, target_columns)?,
        ));
    }
    let sources: Vec<TableSum> = from.db.read(|src| {
        to.db.write(|dst| {
            let mut sums = Vec::with_capacity(plan.len());
            for (table, columns) in &plan {
                sums.push(copy_table(src, dst, table, columns)?);
            }
            if dst.engine() == Engine::Postgres {
                restart_identities(dst)?;
            }
            Ok::<_, StoreError>(sums)
        })
    })?;
    let mut out = Vec::with_capacity(plan.len());
    let mut target_auto = to.db.auto()?;
    for ((table, columns), source) in plan.iter().zip(sources) {
        let target = sum_table(&mut target_auto, table, columns)?;
        if target != source {
            return Err(CopyError::Mismatch {
                table: table.clone(),
                source_rows: source.rows,
                source_sum: source.checksum,
                target_rows: target.rows,
                target_sum: target.checksum,
            });
        }
        out.push(TableCopy {
            table: table.clone(),
            source,
            target,
        });
    }
    Ok(out)
}

/// Row count and checksum of every table of `store` (in copy order).
pub fn table_sums(store: &Store) -> Result<Vec<(String, TableSum)>, StoreError> {
    let tables = tables(&store.db)?;
    let mut auto = store.db.auto()?;
    tables
        .into_iter()
        .map(|(t, columns)| {
            let cols = with_rowid(&t, &columns, store.engine());
            let sum = sum_table(&mut auto, &t, &cols)?;
            Ok((t, sum))
        })
        .collect()
}

/// The columns copied: the same names on both sides; `rowid` where either side keeps it as a
/// column (SQLite's is implicit there).
fn common_columns(
    table: &str,
    source: &[String],
    target: &[String],
) -> Result<Vec<String>, CopyError> {
    let a: BTreeSet<&str> = source
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "rowid")
        .collect();
    let b: BTreeSet<&str> = target
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "rowid")
        .collect();
    if a != b {
        return Err(CopyError::SchemaDiffers(format!(
            "table {table}: columns only in the source {:?}, only in the target {:?}",
            a.difference(&b).collect::<Vec<_>>(),
            b.difference(&a).collect::<Vec<_>>()
        )));
    }
    let mut columns: Vec<String> = a.into_iter().map(str::to_owned).collect();
    if ROWID_KEPT.contains(&table) || source.iter().chain(target).any(|c| c == "rowid") {
        columns.push("rowid".into());
    }
    Ok(columns)
}

/// `columns` plus `rowid` for a SQLite table whose PostgreSQL twin keeps it (see
/// [`super::migrations_pg`]): the checksums then cover the same values on both engines.
fn with_rowid(table: &str, columns: &[String], engine: Engine) -> Vec<String> {
    let mut cols: Vec<String> = columns.iter().filter(|c| *c != "rowid").cloned().collect();
    cols.sort();
    let keeps_rowid = columns.iter().any(|c| c == "rowid")
        || (engine == Engine::Sqlite && ROWID_KEPT.contains(&table));
    if keeps_rowid {
        cols.push("rowid".into());
    }
    cols
}

/// Tables of `db` (without the PostgreSQL version table) with their columns, in copy order.
fn tables(db: &Db) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut t = tables_of(db)?;
    let rank = |name: &str| ORDER.iter().position(|o| *o == name).unwrap_or(ORDER.len());
    t.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    Ok(t)
}

fn tables_of(db: &Db) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut auto = db.auto()?;
    let (list, cols) = match db.engine() {
        Engine::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
        ),
        Engine::Postgres => (
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name <> 'schema_version' ORDER BY table_name",
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        ),
    };
    let names: Vec<String> = auto.query_map(list, params![], |r| r.get(0))?;
    names
        .into_iter()
        .map(|n| {
            let c: Vec<String> = auto.query_map(cols, params![n], |r| r.get(0))?;
            Ok((n, c))
        })
        .collect()
}

fn count(ex: &mut impl Exec, table: &str) -> Result<u64, StoreError> {
    let n: i64 = ex.query_row(&format!("SELECT COUNT(*) FROM {table}"), params![], |r| {
        r.get(0)
    })?;
    Ok(n.max(0) as u64)
}

/// Adds one row to a running checksum.
fn add_row(sum: &mut u128, row: &Row) {
    let mut h = Sha256::new();
    for v in row.values() {
        match v {
            Value::Null => h.update(b"N"),
            Value::Int(i) => {
                h.update(b"I");
                h.update(i.to_be_bytes());
            }
            Value::Real(f) => {
                h.update(b"R");
                h.update(f.to_bits().to_be_bytes());
            }
            Value::Text(s) => {
                h.update(b"T");
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            Value::Blob(b) => {
                h.update(b"B");
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
        }
    }
    let digest = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    *sum = sum.wrapping_add(u128::from_be_bytes(first));
}

/// Reads `table` a batch at a time (keyed by its row order), passing each batch to `each`.
fn for_each_batch(
    ex: &mut impl Exec,
    table: &str,
    columns: &[String],
    mut each: impl FnMut(&[Row]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let list = columns.join(", ");
    let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
    let sql = format!(
        "SELECT {list} FROM {table} ORDER BY {} LIMIT {ROWS_A_BATCH} OFFSET ?1",
        order.join(", ")
    );
    let mut offset: i64 = 0;
    loop {
        let rows = ex.rows(&sql, &[Value::Int(offset)])?;
        if rows.is_empty() {
            return Ok(());
        }
        each(&rows)?;
        offset += rows.len() as i64;
        if rows.len() < ROWS_A_BATCH {
            return Ok(());
        }
    }
}

fn finish(rows: u64, sum: u128) -> TableSum {
    TableSum {
        rows,
        checksum: format!("{sum:032x}"),
    }
}

fn sum_table(ex: &mut impl Exec, table: &str, columns: &[String]) -> Result<TableSum, StoreError> {
    let (mut rows, mut sum) = (0u64, 0u128);
    for_each_batch(ex, table, columns, |batch| {
        for r in batch {
            add_row(&mut sum, r);
        }
        rows += batch.len() as u64;
        Ok(())
    })?;
    Ok(finish(rows, sum))
}

fn copy_table(
    src: &mut impl Exec,
    dst: &mut Tx<'_>,
    table: &str,
    columns: &[String],
) -> Result<TableSum, StoreError> {
    let (mut rows, mut sum) = (0u64, 0u128);
    let list = columns.join(", ");
    for_each_batch(src, table, columns, |batch| {
        let marks: Vec<String> = (0..batch.len())
            .map(|i| {
                let row: Vec<String> = (0..columns.len())
                    .map(|c| format!("?{}", i * columns.len() + c + 1))
                    .collect();
                format!("({})", row.join(", "))
            })
            .collect();
        let values: Vec<Value> = batch.iter().flat_map(|r| r.values().to_vec()).collect();
        dst.run(
            &format!("INSERT INTO {table} ({list}) VALUES {}", marks.join(", ")),
            &values,
        )?;
        for r in batch {
            add_row(&mut sum, r);
        }
        rows += batch.len() as u64;
        Ok(())
    })?;
    Ok(finish(rows, sum))
}

/// Moves each identity column's sequence past the ids copied in (PostgreSQL does not when an
/// id is given).
fn restart_identities(dst: &mut Tx<'_>) -> Result<(), StoreError> {
    let identities: Vec<(String, String)> = dst.query_map(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT)
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (table, column) in identities {
        dst.query_row(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                    COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
            ),
            params![],
            |_| Ok(()),
        )?;
    }
    Ok(())
}
