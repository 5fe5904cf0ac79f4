//! Schedules: one tokio-cron-scheduler job per distinct (cron, time zone) of the configured roles,
//! one for the ambassadors' nudge, and one per role with a monthly best-of (`best_of`).
//!
//! A job does no work itself: it sends a [`Firing`] to the daemon's loop, which runs cycles one at
//! a time. That keeps every store write on one task and lets SIGTERM stop between messages.

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::config::Config;
use crate::model::Schedule;

mod missed;

pub use missed::{missed_occurrence, CatchUp};

/// Errors building or running the schedules.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The scheduler refused a job or failed to start.
    #[error("schedule {schedule:?}: {source}")]
    Scheduler {
        /// The schedule key.
        schedule: String,
        /// The scheduler's error.
        source: tokio_cron_scheduler::JobSchedulerError,
    },
    /// A cron expression could not be read.
    #[error("schedule {schedule:?}: invalid cron expression: {message}")]
    Cron {
        /// The schedule key.
        schedule: String,
        /// Why.
        message: String,
    },
}

/// A schedule fired: run the digests of `schedule` for the period ending `at`, the cron's
/// scheduled occurrence (see [`occurrence_near`]), the same on every worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// Schedule key (see [`Schedule::key`]).
    pub schedule: String,
    /// The occurrence it fired for.
    pub at: DateTime<Utc>,
}

/// The distinct schedules of the configured roles, in config order.
pub fn distinct_schedules(config: &Config) -> Vec<Schedule> {
    let mut out: Vec<Schedule> = Vec::new();
    for role in &config.roles {
        if !out.iter().any(|s| s.key() == role.schedule.key()) {
            out.push(role.schedule.clone());
        }
    }
    out
}

/// `schedule`'s cron expression, read.
fn parse(schedule: &Schedule) -> Result<croner::Cron, ScheduleError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&schedule.cron)
        .map_err(|e| ScheduleError::Cron {
            schedule: schedule.key(),
            message: e.to_string(),
        })
}

/// Each role's monthly best-of schedule, with its key (one per role: each role has its own
/// highlights).
pub fn best_of_schedules(config: &Config) -> Vec<(String, Schedule)> {
    config
        .roles
        .iter()
        .filter_map(|r| {
            let s = r.best_of.clone()?;
            Some((crate::best_of::schedule_key(r, &s), s))
        })
        .collect()
}

/// The next time `schedule` fires after `after`, if it ever does.
pub fn next_fire(
    schedule: &Schedule,
    after: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    let local = after.with_timezone(&schedule.time_zone);
    Ok(parse(schedule)?
        .find_next_occurrence(&local, false)
        .ok()
        .map(|t| t.with_timezone(&Utc)))
}

/// The last time `schedule` fired at or before `at`, if it ever did (a whole second, as
/// [`occurrence_near`] names it).
pub fn previous_fire(
    schedule: &Schedule,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    // croner keeps the fraction of a second it starts from.
    let local = at.trunc_subsecs(0).with_timezone(&schedule.time_zone);
    Ok(parse(schedule)?
        .find_previous_occurrence(&local, true)
        .ok()
        .map(|t| t.with_timezone(&Utc)))
}

/// The scheduled occurrence of `schedule` a job firing at `now` stands for: the occurrence
/// nearest to `now` (a job runs a moment after its time, never long before), or `now` to the
/// whole second when none is within a minute. Every worker of a cluster, each woken by its
/// own job, so names the same firing with the same period end.
pub fn occurrence_near(schedule: &Schedule, now: DateTime<Utc>) -> DateTime<Utc> {
    let window = chrono::Duration::minutes(1);
    let mut best: Option<DateTime<Utc>> = None;
    let mut cursor = (now - window).trunc_subsecs(0);
    // Bounded: a cron fires at most once a second, 120 times in the window.
    for _ in 0..=120 {
        let Ok(Some(next)) = next_fire(schedule, cursor) else {
            break;
        };
        if next > now + window {
            break;
        }
        if best.is_none_or(|b| (next - now).abs() < (b - now).abs()) {
            best = Some(next);
        }
        if next > now {
            break;
        }
        cursor = next;
    }
    best.unwrap_or_else(|| now.trunc_subsecs(0))
}

/// Running cron jobs; dropping it does not stop them, call [`Scheduler::shutdown`].
pub struct Scheduler {
    inner: JobScheduler,
}

impl Scheduler {
    /// Starts one job per distinct schedule of `config`; each firing is sent on `tx`.
    pub async fn start(
        config: &Config,
        tx: mpsc::Sender<Firing>,
    ) -> Result<Scheduler, ScheduleError> {
        let err = |schedule: &str| {
            let schedule = schedule.to_owned();
            move |source| ScheduleError::Scheduler { schedule, source }
        };
        let inner = JobScheduler::new().await.map_err(err("*"))?;
        let roles = distinct_schedules(config).into_iter().map(|s| (s.key(), s));
        // The ambassadors' nudge, when any group has ambassadors (its key tells the daemon).
        let nudge = (!config.ambassadors.by_group.is_empty()).then(|| {
            let s = config.ambassadors.schedule.clone();
            (crate::ambassador_nudge::schedule_key(&s), s)
        });
        // Each role's monthly best-of, on its own schedule (its key names the role).
        let best_of = best_of_schedules(config);
        for (key, schedule) in roles.chain(nudge).chain(best_of) {
            let tx = tx.clone();
            let job_key = key.clone();
            let occurrence_of = schedule.clone();
            let job = Job::new_async_tz(
                schedule.cron.as_str(),
                schedule.time_zone,
                move |_id, _lock| {
                    let tx = tx.clone();
                    let key = job_key.clone();
                    let at = occurrence_near(&occurrence_of, Utc::now());
                    Box::pin(async move {
                        let firing = Firing { schedule: key, at };
                        if tx.send(firing).await.is_err() {
                            tracing::debug!("schedule fired while the daemon is stopping");
                        }
                    })
                },
            )
            .map_err(err(&key))?;
            inner.add(job).await.map_err(err(&key))?;
            tracing::info!(schedule = %key, next = ?next_fire(&schedule, Utc::now()).ok().flatten(), "scheduled");
        }
        inner.start().await.map_err(err("*"))?;
        Ok(Scheduler { inner })
    }

    /// Stops every job.
    pub async fn shutdown(mut self) {
        if let Err(e) = self.inner.shutdown().await {
            tracing::warn!(error = %e, "stopping the scheduler");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn next_fire_respects_the_time_zone() {
        let s = Schedule {
            cron: "0 30 7 * * Mon-Fri".into(),
            time_zone: chrono_tz::Europe::Amsterdam,
        };
        // Friday 2026-11-20 12:00 UTC → next is Monday 2026-11-23 07:30 CET = 06:30 UTC.
        let after = Utc
            .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
            .single()
            .expect("valid date");
        let next = next_fire(&s, after).expect("parses").expect("fires");
        assert_eq!(
            next,
            Utc.with_ymd_and_hms(2026, 11, 23, 6, 30, 0)
                .single()
                .expect("valid date")
        );
    }

    #[test]
    fn a_firing_names_the_nearest_scheduled_occurrence() {
        let s = Schedule {
            cron: "0 30 7 * * *".into(),
            time_zone: chrono_tz::UTC,
        };
        let at = |h, m, sec, ms| {
            Utc.with_ymd_and_hms(2026, 11, 20, h, m, sec)
                .single()
                .expect("valid date")
                + chrono::Duration::milliseconds(ms)
        };
        let due = at(7, 30, 0, 0);
        assert_eq!(occurrence_near(&s, at(7, 30, 0, 3)), due, "just after");
        assert_eq!(occurrence_near(&s, at(7, 30, 2, 900)), due, "late");
        assert_eq!(occurrence_near(&s, at(7, 29, 59, 990)), due, "a hair early");
        assert_eq!(
            occurrence_near(&s, at(12, 0, 0, 250)),
            at(12, 0, 0, 0),
            "none near: the whole second"
        );
        let every_two = Schedule {
            cron: "*/2 * * * * *".into(),
            time_zone: chrono_tz::UTC,
        };
        assert_eq!(occurrence_near(&every_two, at(7, 0, 4, 40)), at(7, 0, 4, 0));
    }

    #[test]
    fn bad_cron_is_an_error() {
        let s = Schedule {
            cron: "every monday".into(),
            time_zone: chrono_tz::UTC,
        };
        assert!(next_fire(&s, Utc::now()).is_err());
    }
}
