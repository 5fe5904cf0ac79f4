//! `digestd migrate --from FILE_OR_URL --to FILE_OR_URL`: moves an installation between the
//! two stores (SQLite and PostgreSQL, either way) with [`crate::store::copy::copy_store`], and
//! prints each table's row count and checksum on both sides.

use std::fmt::Write as _;

use anyhow::Context;

use crate::store::copy::{copy_store, TableCopy};
use crate::store::{Store, StoreLocation};

/// Copies the store at `from` into the new, empty store at `to`; returns the report printed.
pub fn run(from: &str, to: &str) -> anyhow::Result<String> {
    let from = StoreLocation::parse_arg(from);
    let to = StoreLocation::parse_arg(to);
    if let StoreLocation::File(path) = &from {
        anyhow::ensure!(
            path.is_file(),
            "the source store {} does not exist",
            path.display()
        );
    }
    let source = Store::open_at(&from)
        .with_context(|| format!("opening the source store {}", from.display()))?;
    let target = Store::open_at(&to)
        .with_context(|| format!("opening the target store {}", to.display()))?;
    let copied = copy_store(&source, &target).with_context(|| {
        format!(
            "migrating {} to {} (nothing was copied)",
            from.display(),
            to.display()
        )
    })?;
    Ok(report(&from, &to, &copied))
}

/// The table printed: rows and checksum per table, source beside target, and the totals.
pub fn report(from: &StoreLocation, to: &StoreLocation, copied: &[TableCopy]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:>10} {:<32}  {:>10} {:<32}",
        "table", "rows from", "checksum from", "rows to", "checksum to"
    );
    let mut total = (0u64, 0u128, 0u64, 0u128);
    for t in copied {
        let _ = writeln!(
            out,
            "{:<26} {:>10} {:<32}  {:>10} {:<32}",
            t.table, t.source.rows, t.source.checksum, t.target.rows, t.target.checksum
        );
        let parse = |s: &str| u128::from_str_radix(s, 16).unwrap_or(0);
        total.0 += t.source.rows;
        total.1 = total.1.wrapping_add(parse(&t.source.checksum));
        total.2 += t.target.rows;
        total.3 = total.3.wrapping_add(parse(&t.target.checksum));
    }
    let _ = writeln!(
        out,
        "{:<26} {:>10} {:<32x}  {:>10} {:<32x}",
        "all tables", total.0, total.1, total.2, total.3
    );
    let _ = writeln!(
        out,
        "migrated {} to {}: {} rows in {} tables, checksums match",
        from.display(),
        to.display(),
        total.0,
        copied.len()
    );
    out
}
