//! What the daemon's take-over round reads to find firings missed while the database was
//! unreachable: since when each schedule is watched (the first start of a daemon with it
//! configured, kept in `schedule_watch`), and the newest firing recorded of each.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::db::{params, Exec};
use super::{from_db, to_db, Store, StoreError};

/// One schedule as the take-over round sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleWatch {
    /// When a daemon first ran with this schedule configured.
    pub since: DateTime<Utc>,
    /// The period end of its newest firing recorded (`None`: none in the store).
    pub last_firing: Option<DateTime<Utc>>,
}

impl Store {
    /// Records that the schedules `keys` are watched from `now`, for those not watched
    /// already (the first start of a daemon with them keeps its instant).
    pub fn watch_schedules(
        &mut self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = to_db(now)?;
        self.db.write(|tx| {
            for key in keys {
                tx.execute(
                    "INSERT INTO schedule_watch (schedule, since) VALUES (?1, ?2)
                     ON CONFLICT (schedule) DO NOTHING",
                    params![key, now],
                )?;
            }
            Ok(())
        })
    }

    /// The watched schedules, by key, each with its newest firing.
    pub fn schedule_watches(&self) -> Result<HashMap<String, ScheduleWatch>, StoreError> {
        self.db.read(|db| {
            let since: Vec<(String, i64)> = db.query_map(
                "SELECT schedule, since FROM schedule_watch",
                params![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let last: HashMap<String, i64> = db
                .query_map(
                    "SELECT schedule, MAX(period_end) FROM firings GROUP BY schedule",
                    params![],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .into_iter()
                .collect();
            Ok(since
                .into_iter()
                .map(|(key, since)| {
                    let last_firing = last.get(&key).copied().map(from_db);
                    let watch = ScheduleWatch {
                        since: from_db(since),
                        last_firing,
                    };
                    (key, watch)
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::test_support::each_store;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, hour, 0, 0)
            .single()
            .expect("valid instant")
    }

    #[test]
    fn a_schedule_keeps_the_instant_it_was_first_watched_and_its_newest_firing() {
        each_store(|mut store| {
            let (a, b) = ("0 0 7 * * *@UTC".to_string(), "0 0 9 * * *@UTC".to_string());
            store
                .watch_schedules(std::slice::from_ref(&a), at(1))
                .expect("watch a");
            store
                .watch_schedules(&[a.clone(), b.clone()], at(3))
                .expect("watch both");
            store.join_firing(&a, at(7), 1, "w", at(7)).expect("firing");
            store.join_firing(&a, at(5), 1, "w", at(7)).expect("older");
            let watches = store.schedule_watches().expect("watches");
            assert_eq!(
                watches[&a],
                ScheduleWatch {
                    since: at(1),
                    last_firing: Some(at(7))
                }
            );
            assert_eq!(
                watches[&b],
                ScheduleWatch {
                    since: at(3),
                    last_firing: None
                }
            );
            assert_eq!(watches.len(), 2);
        });
    }
}
