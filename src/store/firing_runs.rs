//! The last firing of each schedule as a whole, for `status`: every worker that took part
//! logs its own part in `runs`, so a firing's totals are the sum of its rows, and the workers
//! that did its work are those that finished its slices.

use chrono::{DateTime, Utc};

use super::db::{params, Exec};
use super::{from_db, Store, StoreError};

/// The latest firing of one schedule, summed over the workers that took part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FiringRuns {
    /// Schedule key.
    pub schedule: String,
    /// Period end of the firing.
    pub period_end: DateTime<Utc>,
    /// When the first worker started its part.
    pub started: DateTime<Utc>,
    /// When the firing was done (its last slice, or its last part when it has no slices);
    /// `None`: still running, or interrupted and not yet taken over.
    pub finished: Option<DateTime<Utc>>,
    /// Digests sent, all workers together.
    pub sent: u64,
    /// Digests failed, all workers together.
    pub failed: u64,
    /// Workers that took part (did a slice; without slices, logged a part), at least 1.
    pub workers: u64,
}

/// A firing's slices in short: workers that did one, slices left, the last done.
type SliceSummary = (i64, i64, Option<i64>);

/// The runs of one firing, summed, as read: schedule, period end, first start, last end,
/// parts not finished, sent, failed, workers that logged a part.
struct Parts {
    schedule: String,
    end: i64,
    started: i64,
    last_finished: Option<i64>,
    unfinished: i64,
    sent: i64,
    failed: i64,
    loggers: i64,
}

impl Store {
    /// The latest firing of each schedule (the period end of its newest `runs` row), with
    /// the runs of that firing summed, by schedule key.
    pub fn last_firing_runs(&self) -> Result<Vec<FiringRuns>, StoreError> {
        self.db.read(|db| {
            let parts: Vec<Parts> = db.query_map(
                "SELECT r.schedule, r.period_end, MIN(r.started), MAX(r.finished),
                        CAST(SUM(CASE WHEN r.finished IS NULL THEN 1 ELSE 0 END) AS BIGINT),
                        CAST(SUM(r.sent) AS BIGINT), CAST(SUM(r.failed) AS BIGINT),
                        COUNT(DISTINCT r.worker)
                 FROM runs r
                 JOIN (SELECT schedule, period_end FROM runs
                       WHERE id IN (SELECT MAX(id) FROM runs GROUP BY schedule)) l
                   ON l.schedule = r.schedule AND l.period_end = r.period_end
                 GROUP BY r.schedule, r.period_end
                 ORDER BY r.schedule",
                params![],
                |r| {
                    Ok(Parts {
                        schedule: r.get(0)?,
                        end: r.get(1)?,
                        started: r.get(2)?,
                        last_finished: r.get(3)?,
                        unfinished: r.get(4)?,
                        sent: r.get(5)?,
                        failed: r.get(6)?,
                        loggers: r.get(7)?,
                    })
                },
            )?;
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                let Parts {
                    schedule,
                    end,
                    started,
                    last_finished,
                    unfinished,
                    sent,
                    failed,
                    loggers,
                } = p;
                let slices: Option<SliceSummary> = db.query_opt(
                    "SELECT COUNT(DISTINCT claimed_by),
                            CAST(SUM(CASE WHEN done IS NULL THEN 1 ELSE 0 END) AS BIGINT),
                            MAX(done)
                     FROM firing_slices WHERE schedule = ?1 AND period_end = ?2
                     HAVING COUNT(*) > 0",
                    params![schedule, end],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                let (workers, finished) = match slices {
                    Some((doers, open, done)) => (doers, if open == 0 { done } else { None }),
                    None => (loggers, if unfinished == 0 { last_finished } else { None }),
                };
                out.push(FiringRuns {
                    schedule,
                    period_end: from_db(end),
                    started: from_db(started),
                    finished: finished.map(from_db),
                    sent: sent.max(0) as u64,
                    failed: failed.max(0) as u64,
                    workers: workers.max(1) as u64,
                });
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::each_store;

    const S: &str = "0 0 7 * * *@UTC";

    fn at(hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, 7, hour, 0, 0)
            .single()
            .expect("valid instant")
    }

    #[test]
    fn the_last_firing_sums_its_workers_parts() {
        each_store(|mut store| {
            // An older firing, by one worker.
            let old = store.start_run(S, at(1), "a").expect("run");
            store.finish_run(old, 100, 0).expect("finish");
            // The last one: three slices, two workers did them, three parts logged (c joined
            // and found no slice left).
            store.join_firing(S, at(7), 3, "a", at(7)).expect("firing");
            for (worker, sent, failed) in [("a", 10, 1), ("b", 20, 0), ("c", 0, 0)] {
                let run = store.start_run(S, at(7), worker).expect("run");
                store.finish_run(run, sent, failed).expect("finish");
            }
            for (slice, worker) in [(0, "a"), (1, "b")] {
                store
                    .finish_slice(S, at(7), slice, worker, at(8))
                    .expect("done");
            }
            let open = store.last_firing_runs().expect("runs");
            assert_eq!(open.len(), 1);
            let f = &open[0];
            assert_eq!((f.period_end, f.sent, f.failed), (at(7), 30, 1));
            assert_eq!(f.finished, None, "a slice is left");
            store.finish_slice(S, at(7), 2, "b", at(9)).expect("done");
            let f = store.last_firing_runs().expect("runs").remove(0);
            assert_eq!(f.workers, 2, "a and b did its slices");
            assert_eq!(f.finished, Some(at(9)));
        });
    }

    #[test]
    fn a_run_without_slices_is_its_own_rows() {
        each_store(|store| {
            let run = store.start_run(S, at(3), "a").expect("run");
            let f = store.last_firing_runs().expect("runs").remove(0);
            assert_eq!((f.workers, f.finished, f.sent), (1, None, 0));
            store.finish_run(run, 4, 0).expect("finish");
            let f = store.last_firing_runs().expect("runs").remove(0);
            assert_eq!((f.workers, f.sent), (1, 4));
            assert!(f.finished.is_some());
        });
    }
}
