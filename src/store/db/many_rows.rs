//! Many rows in few statements: `INSERT .. VALUES (..), (..), ..` with a handful of fixed row
//! counts, so a digest's dozens of rows cost a few round trips to PostgreSQL instead of one
//! each, and each engine prepares at most [`CHUNKS`]`.len()` texts per statement.

use super::{Exec, Value};
use crate::store::StoreError;

/// The row counts a statement carries, largest first; any count is a sum of them.
pub const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// Inserts `values.len() / width` rows, `width` values each in column order, as
/// `{head} VALUES (?1, ..), (..) {tail}` statements of [`CHUNKS`] rows; returns the rows the
/// statements changed. `values.len()` must be a multiple of `width`.
pub fn insert_rows(
    ex: &mut impl Exec,
    head: &str,
    width: usize,
    values: &[Value],
    tail: &str,
) -> Result<usize, StoreError> {
    if width == 0 || values.is_empty() {
        return Ok(0);
    }
    debug_assert_eq!(values.len() % width, 0, "{head}: a partial row");
    let mut changed = 0;
    let mut rest = values;
    while rest.len() >= width {
        let rows = rest.len() / width;
        let chunk = CHUNKS.into_iter().find(|c| *c <= rows).unwrap_or(1);
        let (now, later) = rest.split_at(chunk * width);
        changed += ex.run(&statement(head, width, chunk, tail), now)?;
        rest = later;
    }
    Ok(changed)
}

/// The text of one statement inserting `rows` rows of `width` values.
pub fn statement(head: &str, width: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * width * 5 + 16);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..width {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push('?');
            sql.push_str(&(row * width + col + 1).to_string());
        }
        sql.push(')');
    }
    if !tail.is_empty() {
        sql.push(' ');
        sql.push_str(tail);
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_numbers_its_placeholders_row_by_row() {
        assert_eq!(
            statement("INSERT INTO t (a, b)", 2, 2, "ON CONFLICT DO NOTHING"),
            "INSERT INTO t (a, b) VALUES (?1, ?2), (?3, ?4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            statement("INSERT INTO t (a)", 1, 1, ""),
            "INSERT INTO t (a) VALUES (?1)"
        );
    }

    #[test]
    fn every_row_count_is_made_of_the_fixed_chunks() {
        for rows in 0..300usize {
            let mut left = rows;
            let mut parts = Vec::new();
            while left > 0 {
                let c = CHUNKS.into_iter().find(|c| *c <= left).unwrap_or(1);
                parts.push(c);
                left -= c;
            }
            assert_eq!(parts.iter().sum::<usize>(), rows);
            assert!(parts.len() <= rows / 64 + 3 * 3 + 1, "{rows}: {parts:?}");
        }
    }

    #[test]
    fn rows_land_on_both_engines() {
        crate::store::test_support::each_store(|store| {
            let id: i64 = store
                .db
                .write(|tx| {
                    let id: i64 = tx.query_row(
                        "INSERT INTO deliveries (person_email, schedule, period_end, message_id,
                            raw, status, created, attempts)
                         VALUES ('a@example.org', 's', 1, 'm@example.org', ?1, 'sent', 1, 0)
                         RETURNING id",
                        crate::store::db::params![Value::Blob(b"raw".to_vec())],
                        |r| r.get(0),
                    )?;
                    let values: Vec<Value> = (0..150)
                        .flat_map(|i| [Value::Int(id), Value::Int(i)])
                        .collect();
                    let n = insert_rows(
                        tx,
                        "INSERT INTO delivery_posts (delivery_id, post_id)",
                        2,
                        &values,
                        "ON CONFLICT DO NOTHING",
                    )?;
                    assert_eq!(n, 150);
                    // Again: every row is already there.
                    let again = insert_rows(
                        tx,
                        "INSERT INTO delivery_posts (delivery_id, post_id)",
                        2,
                        &values,
                        "ON CONFLICT DO NOTHING",
                    )?;
                    assert_eq!(again, 0);
                    Ok::<_, StoreError>(id)
                })
                .expect("insert");
            let count: i64 = store
                .db
                .query_row(
                    "SELECT COUNT(*) FROM delivery_posts WHERE delivery_id = ?1",
                    crate::store::db::params![id],
                    |r| r.get(0),
                )
                .expect("count");
            assert_eq!(count, 150);
        });
    }
}
