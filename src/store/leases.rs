//! Work shared by several workers on one database (issue 22): each schedule firing recorded
//! once cluster-wide, keyed by (schedule, period end), its people cut into slices that workers
//! claim one at a time; and the leases on pending deliveries and queued inbound messages.
//!
//! A claim writes the worker's id and the instant its lease ends; the worker renews the lease
//! while it works and marks a slice done when it is. A row whose lease has expired (its worker
//! died or hung) may be claimed by another worker. Claims run in a write transaction, which
//! holds the store's write lock on both engines (see [`super::db`]), and on PostgreSQL the row
//! is also picked `FOR UPDATE SKIP LOCKED`: two claimers never get the same row.
//!
//! **Invariant:** a lease never decides alone whether work is done twice: a slice taken over
//! from a dead worker meets the ledger's unique (person, schedule, period end), and an inbound
//! message its status; a lease only keeps two live workers from doing the same work at once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::db::{params, Engine, Exec, Value};
use super::{from_db, to_db, Store, StoreError};
use crate::model::Delivery;

/// Firings older than this are forgotten when a new one is recorded.
const FIRINGS_KEPT_DAYS: i64 = 30;

/// Ids an `IN (…)` list of one statement holds at most.
const IDS_A_STATEMENT: usize = 500;

/// One slice of a firing, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceRow {
    /// The slice's number, from 0.
    pub slice: u32,
    /// The worker that claimed it last (`None`: never claimed).
    pub claimed_by: Option<String>,
    /// When that worker's lease ends (`None`: never claimed, or given back).
    pub lease_until: Option<DateTime<Utc>>,
    /// When it was done (`None`: not yet).
    pub done: Option<DateTime<Utc>>,
}

/// Which pending deliveries a claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingClaim {
    /// Those no live worker holds: never claimed, given back, or whose lease expired (the
    /// start of a cycle).
    Free,
    /// Only those whose lease expired: left by a worker that died (a take-over between
    /// cycles; a row given back after a failed send waits for the next cycle).
    Orphaned,
}

/// The live leases one worker holds, for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerLeases {
    /// Slices of firings being worked on.
    pub slices: u64,
    /// Pending deliveries being sent.
    pub deliveries: u64,
    /// Queued inbound messages being processed.
    pub inbound: u64,
}

/// Lengths of the `IN (…)` lists of the fixed statements that take a list of ids: a list is
/// padded to the next length by repeating its last id (which changes nothing in an `IN`), so
/// that a few statements, built once per process and prepared once per connection, serve
/// every length up to [`IDS_A_STATEMENT`].
const ID_LIST_SIZES: [usize; 4] = [1, 8, 64, IDS_A_STATEMENT];

/// Which of [`ID_LIST_SIZES`] a list of `n` ids is padded to (`n` at most
/// [`IDS_A_STATEMENT`]): its index and the length.
fn list_size(n: usize) -> (usize, usize) {
    ID_LIST_SIZES
        .iter()
        .copied()
        .enumerate()
        .find(|&(_, size)| size >= n)
        .unwrap_or((ID_LIST_SIZES.len() - 1, IDS_A_STATEMENT))
}

/// `ids` as `size` values: the last one repeated to fill the list.
fn padded(ids: &[i64], size: usize) -> impl Iterator<Item = Value> + '_ {
    let last = ids.last().copied().unwrap_or_default();
    (0..size.max(ids.len())).map(move |i| Value::Int(ids.get(i).copied().unwrap_or(last)))
}

/// One statement for each of [`ID_LIST_SIZES`], built by `build` on first use.
type SizedStatements = std::sync::OnceLock<Vec<String>>;

/// The statement of `cell` for `n` ids, and the length its list takes.
fn sized(
    cell: &'static SizedStatements,
    n: usize,
    build: fn(usize) -> String,
) -> (&'static str, usize) {
    let built = cell.get_or_init(|| ID_LIST_SIZES.iter().map(|&n| build(n)).collect());
    let (index, size) = list_size(n);
    (built[index].as_str(), size)
}

/// The claim of [`Store::claim_inbound`] on `engine` for `n` ids: `?1` worker, `?2` lease end,
/// `?3` now, then the ids.
fn claim_inbound_sql(engine: Engine, n: usize) -> (&'static str, usize) {
    fn build(n: usize, locking: &str) -> String {
        format!(
            "UPDATE inbound_messages SET claimed_by = ?1, lease_until = ?2
             WHERE id IN (
                 SELECT id FROM inbound_messages
                 WHERE id IN ({}) AND status = 'queued'
                   AND (lease_until IS NULL OR lease_until < ?3 OR claimed_by = ?1){locking})
             RETURNING id",
            placeholders(4, n)
        )
    }
    static SQLITE: SizedStatements = SizedStatements::new();
    static POSTGRES: SizedStatements = SizedStatements::new();
    match engine {
        Engine::Sqlite => sized(&SQLITE, n, |n| build(n, skip_locked(Engine::Sqlite))),
        Engine::Postgres => sized(&POSTGRES, n, |n| build(n, skip_locked(Engine::Postgres))),
    }
}

/// A table whose rows carry leases that [`Store::lease_many`] sets.
#[derive(Debug, Clone, Copy)]
enum LeasedTable {
    /// `deliveries`.
    Deliveries,
    /// `inbound_messages`.
    Inbound,
}

/// The lease update of [`Store::lease_many`] on `table` for `n` ids: `?1` lease end (or
/// NULL), `?2` worker, then the ids.
fn lease_many_sql(table: LeasedTable, n: usize) -> (&'static str, usize) {
    fn build(table: &str, n: usize) -> String {
        format!(
            "UPDATE {table} SET lease_until = ?1 WHERE claimed_by = ?2 AND id IN ({})",
            placeholders(3, n)
        )
    }
    static DELIVERIES: SizedStatements = SizedStatements::new();
    static INBOUND: SizedStatements = SizedStatements::new();
    match table {
        LeasedTable::Deliveries => sized(&DELIVERIES, n, |n| build("deliveries", n)),
        LeasedTable::Inbound => sized(&INBOUND, n, |n| build("inbound_messages", n)),
    }
}

/// Sets one of the counts of a [`WorkerLeases`].
type SetCount = fn(&mut WorkerLeases, u64);

/// `?first, ?first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// ` FOR UPDATE SKIP LOCKED` on PostgreSQL (nothing on SQLite, whose writers hold the file).
fn skip_locked(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    }
}

impl Store {
    /// Joins the firing of `schedule` for the period ending `period_end`: records it with
    /// `slices` slices unless a worker did before, and returns the firing's slice count (the
    /// first worker's: every worker cuts the people the same way).
    pub fn join_firing(
        &mut self,
        schedule: &str,
        period_end: DateTime<Utc>,
        slices: u32,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let end = to_db(period_end)?;
        let now_n = to_db(now)?;
        let forget = to_db(now - chrono::Duration::days(FIRINGS_KEPT_DAYS))?;
        self.db.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO firings (schedule, period_end, slices, created, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (schedule, period_end) DO NOTHING",
                params![schedule, end, slices.max(1), now_n, worker],
            )?;
            if inserted == 1 {
                for slice in 0..slices.max(1) {
                    tx.execute(
                        "INSERT INTO firing_slices (schedule, period_end, slice) VALUES (?1, ?2, ?3)",
                        params![schedule, end, slice],
                    )?;
                }
                tx.execute(
                    "DELETE FROM firing_slices WHERE period_end < ?1",
                    params![forget],
                )?;
                tx.execute("DELETE FROM firings WHERE period_end < ?1", params![forget])?;
            }
            tx.query_row(
                "SELECT slices FROM firings WHERE schedule = ?1 AND period_end = ?2",
                params![schedule, end],
                |r| r.get(0),
            )
        })
    }

    /// Claims one slice of a firing for `worker` until `until`: one not done that nobody
    /// holds at `now` (never claimed, given back, or its lease expired). `None`: none is left.
    pub fn claim_slice(
        &mut self,
        schedule: &str,
        period_end: DateTime<Utc>,
        worker: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError> {
        let end = to_db(period_end)?;
        let (now, until) = (to_db(now)?, to_db(until)?);
        self.db.write(|tx| {
            let sql = format!(
                "UPDATE firing_slices SET claimed_by = ?3, lease_until = ?5
                 WHERE schedule = ?1 AND period_end = ?2 AND slice = (
                     SELECT slice FROM firing_slices
                     WHERE schedule = ?1 AND period_end = ?2 AND done IS NULL
                       AND (lease_until IS NULL OR lease_until < ?4)
                     ORDER BY slice LIMIT 1{})
                 RETURNING slice",
                skip_locked(tx.engine())
            );
            tx.query_opt(&sql, params![schedule, end, worker, now, until], |r| {
                r.get(0)
            })
        })
    }

    /// Extends `worker`'s lease on a slice to `until`; false when the worker no longer holds
    /// it (its lease expired and another worker took the slice).
    pub fn renew_slice(
        &self,
        schedule: &str,
        period_end: DateTime<Utc>,
        slice: u32,
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.db.execute(
            "UPDATE firing_slices SET lease_until = ?5
             WHERE schedule = ?1 AND period_end = ?2 AND slice = ?3 AND claimed_by = ?4
               AND done IS NULL",
            params![schedule, to_db(period_end)?, slice, worker, to_db(until)?],
        )? == 1)
    }

    /// Marks a slice done by `worker` at `now`; false when it was done already.
    pub fn finish_slice(
        &self,
        schedule: &str,
        period_end: DateTime<Utc>,
        slice: u32,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.db.execute(
            "UPDATE firing_slices SET done = ?5, claimed_by = ?4, lease_until = NULL
             WHERE schedule = ?1 AND period_end = ?2 AND slice = ?3 AND done IS NULL",
            params![schedule, to_db(period_end)?, slice, worker, to_db(now)?],
        )? == 1)
    }

    /// Gives a slice back unfinished (the worker is stopping): any worker may claim it now.
    pub fn release_slice(
        &self,
        schedule: &str,
        period_end: DateTime<Utc>,
        slice: u32,
        worker: &str,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE firing_slices SET lease_until = NULL
             WHERE schedule = ?1 AND period_end = ?2 AND slice = ?3 AND claimed_by = ?4
               AND done IS NULL",
            params![schedule, to_db(period_end)?, slice, worker],
        )?;
        Ok(())
    }

    /// The slices of a firing, by number.
    pub fn firing_slices(
        &self,
        schedule: &str,
        period_end: DateTime<Utc>,
    ) -> Result<Vec<SliceRow>, StoreError> {
        self.db.query_map(
            "SELECT slice, claimed_by, lease_until, done FROM firing_slices
             WHERE schedule = ?1 AND period_end = ?2 ORDER BY slice",
            params![schedule, to_db(period_end)?],
            |r| {
                Ok(SliceRow {
                    slice: r.get(0)?,
                    claimed_by: r.get(1)?,
                    lease_until: r.get::<Option<i64>>(2)?.map(from_db),
                    done: r.get::<Option<i64>>(3)?.map(from_db),
                })
            },
        )
    }

    /// The firings since `since` with a slice any worker may claim at `now` (never claimed,
    /// given back, or left by a worker whose lease expired), oldest first.
    pub fn firings_to_take_over(
        &self,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, i64)> = self.db.query_map(
            "SELECT DISTINCT schedule, period_end FROM firing_slices
             WHERE done IS NULL AND (lease_until IS NULL OR lease_until < ?1)
               AND period_end >= ?2
             ORDER BY period_end, schedule",
            params![to_db(now)?, to_db(since)?],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.into_iter().map(|(s, e)| (s, from_db(e))).collect())
    }

    /// Claims at most `limit` pending deliveries with an id above `after` for `worker` until
    /// `until` (which ones: `which`), oldest first, and returns them.
    pub fn claim_pending_deliveries(
        &mut self,
        which: PendingClaim,
        after: i64,
        limit: usize,
        worker: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (now, until) = (to_db(now)?, to_db(until)?);
        let free = match which {
            PendingClaim::Free => "(lease_until IS NULL OR lease_until < ?3)",
            PendingClaim::Orphaned => "lease_until < ?3",
        };
        let ids: Vec<i64> = self.db.write(|tx| {
            let sql = format!(
                "UPDATE deliveries SET claimed_by = ?4, lease_until = ?5
                 WHERE id IN (
                     SELECT id FROM deliveries
                     WHERE status = 'pending' AND id > ?1 AND {free}
                     ORDER BY id LIMIT ?2{})
                 RETURNING id",
                skip_locked(tx.engine())
            );
            tx.query_map(
                &sql,
                params![after, limit as i64, now, worker, until],
                |r| r.get(0),
            )
        })?;
        let mut out = Vec::with_capacity(ids.len());
        let mut ids = ids;
        ids.sort_unstable();
        for id in ids {
            if let Some(d) = self.delivery(id)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Extends `worker`'s leases on the pending deliveries `ids` to `until`; returns those it
    /// still held (the others were taken over by another worker after the lease expired).
    pub fn renew_deliveries(
        &self,
        ids: &[i64],
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let until = to_db(until)?;
        let mut held = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_A_STATEMENT) {
            let sql = format!(
                "UPDATE deliveries SET lease_until = ?1
                 WHERE claimed_by = ?2 AND status = 'pending' AND id IN ({})
                 RETURNING id",
                placeholders(3, chunk.len())
            );
            let mut values = vec![Value::Int(until), Value::Text(worker.to_owned())];
            values.extend(chunk.iter().map(|&id| Value::Int(id)));
            let rows = self.db.auto()?.rows(&sql, &values)?;
            for r in rows {
                held.push(r.get(0)?);
            }
        }
        held.sort_unstable();
        Ok(held)
    }

    /// Gives back `worker`'s leases on the deliveries `ids` (not sent: stopping, or the relay
    /// unusable): the next cycle of any worker sends them.
    pub fn release_deliveries(&self, ids: &[i64], worker: &str) -> Result<usize, StoreError> {
        self.lease_many(LeasedTable::Deliveries, ids, worker, None)
    }

    /// Claims for `worker` until `until` those of the inbound messages `ids` that are queued
    /// and not held at `now` by another worker; returns the ids claimed, in order.
    ///
    /// A message is stored already held by the worker that stores it (see
    /// [`Store::insert_inbound_batch`]), so this is for the others: retries, rows stored
    /// before (a Maildir copy of one), rows whose lease expired, and a worker's own rows whose
    /// lease is getting short. One of a few fixed statements (see [`ID_LIST_SIZES`]).
    pub fn claim_inbound(
        &mut self,
        ids: &[i64],
        worker: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let (now, until) = (to_db(now)?, to_db(until)?);
        let mut claimed = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_A_STATEMENT) {
            let got: Vec<i64> = self.db.write(|tx| {
                let (sql, size) = claim_inbound_sql(tx.engine(), chunk.len());
                let mut values = Vec::with_capacity(3 + size);
                values.push(Value::Text(worker.to_owned()));
                values.push(Value::Int(until));
                values.push(Value::Int(now));
                values.extend(padded(chunk, size));
                tx.rows(sql, &values)?.iter().map(|r| r.get(0)).collect()
            })?;
            claimed.extend(got);
        }
        claimed.sort_unstable();
        claimed.dedup();
        Ok(claimed)
    }

    /// Extends `worker`'s leases on the inbound messages `ids` to `until`; returns how many it
    /// still held.
    pub fn renew_inbound(
        &self,
        ids: &[i64],
        worker: &str,
        until: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        self.lease_many(LeasedTable::Inbound, ids, worker, Some(to_db(until)?))
    }

    /// Sets (`Some`) or clears (`None`) `worker`'s leases on rows `ids` of `table`.
    fn lease_many(
        &self,
        table: LeasedTable,
        ids: &[i64],
        worker: &str,
        until: Option<i64>,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for chunk in ids.chunks(IDS_A_STATEMENT) {
            let (sql, size) = lease_many_sql(table, chunk.len());
            let mut values = Vec::with_capacity(2 + size);
            values.push(until.map_or(Value::Null, Value::Int));
            values.push(Value::Text(worker.to_owned()));
            values.extend(padded(chunk, size));
            n += self.db.auto()?.run(sql, &values)?;
        }
        Ok(n)
    }

    /// Voids every lease (a SQLite store at the start of `digestd run`: one daemon per file,
    /// so what a killed predecessor held is free at once, as before leases existed).
    pub fn release_all_leases(&mut self) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE firing_slices SET lease_until = NULL
                 WHERE done IS NULL AND lease_until IS NOT NULL",
                params![],
            )?;
            tx.execute(
                "UPDATE deliveries SET lease_until = NULL
                 WHERE status = 'pending' AND lease_until IS NOT NULL",
                params![],
            )?;
            tx.execute(
                "UPDATE inbound_messages SET lease_until = NULL
                 WHERE status = 'queued' AND lease_until IS NOT NULL",
                params![],
            )?;
            Ok(())
        })
    }

    /// The live leases at `now`, by worker id.
    pub fn live_leases(
        &self,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, WorkerLeases>, StoreError> {
        let now = to_db(now)?;
        let mut out: BTreeMap<String, WorkerLeases> = BTreeMap::new();
        let queries: [(&str, SetCount); 3] = [
            (
                "SELECT claimed_by, COUNT(*) FROM firing_slices
                 WHERE done IS NULL AND lease_until >= ?1 GROUP BY claimed_by",
                |w, n| w.slices = n,
            ),
            (
                "SELECT claimed_by, COUNT(*) FROM deliveries
                 WHERE status = 'pending' AND lease_until >= ?1 GROUP BY claimed_by",
                |w, n| w.deliveries = n,
            ),
            (
                "SELECT claimed_by, COUNT(*) FROM inbound_messages
                 WHERE status = 'queued' AND lease_until >= ?1 GROUP BY claimed_by",
                |w, n| w.inbound = n,
            ),
        ];
        self.db.read(|db| {
            for (sql, set) in queries {
                for (worker, n) in db.query_map(sql, params![now], |r| {
                    Ok((r.get::<Option<String>>(0)?, r.get::<i64>(1)?))
                })? {
                    let worker = worker.unwrap_or_default();
                    set(out.entry(worker).or_default(), n.max(0) as u64);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
