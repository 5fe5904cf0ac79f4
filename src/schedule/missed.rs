//! Which firing of a schedule was missed (pure): an occurrence that passed while no worker
//! could record it (the database was unreachable, or every daemon was stopped) and that the
//! daemon's take-over round runs late.
//!
//! Only the newest occurrence missed counts: a digest covers the time back to the person's
//! last one, so one late firing serves everything the missed ones would have. An occurrence is
//! missed when it is
//! - older than [`CatchUp::grace`] (before that the worker's own job may still be running it),
//! - newer than [`CatchUp::lookback`] (a digest a day late is still welcome; one from last
//!   week is not),
//! - newer than the instant the schedule was first watched (a new installation or a schedule
//!   just added never sends what came before it),
//! - and newer than the schedule's newest firing recorded (that firing, or a `send-now`, has
//!   served the period already).

use chrono::{DateTime, Duration, Utc};

use super::{previous_fire, ScheduleError};
use crate::model::Schedule;

/// The bounds of catching up a missed firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatchUp {
    /// How far back an occurrence may lie and still be run late.
    pub lookback: Duration,
    /// How long after an occurrence it is left to the workers' own jobs.
    pub grace: Duration,
}

/// The occurrence of `schedule` missed at `now` (see the module doc), if any: `watched_since`
/// is when a daemon first ran with the schedule, `last_firing` the period end of its newest
/// firing recorded.
pub fn missed_occurrence(
    schedule: &Schedule,
    watched_since: DateTime<Utc>,
    last_firing: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    bounds: CatchUp,
) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    let Some(latest) = previous_fire(schedule, now - bounds.grace)? else {
        return Ok(None);
    };
    let floor = watched_since.max(now - bounds.lookback);
    let served = last_firing.is_some_and(|last| last >= latest);
    Ok((latest > floor && !served).then_some(latest))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const BOUNDS: CatchUp = CatchUp {
        lookback: Duration::days(1),
        grace: Duration::seconds(120),
    };

    fn daily_at_7_30() -> Schedule {
        Schedule {
            cron: "0 30 7 * * *".into(),
            time_zone: chrono_tz::UTC,
        }
    }

    /// 2026-12-07 (a Monday) at `h:m`, UTC; day 6 is the Sunday before.
    fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, h, m, 0)
            .single()
            .expect("valid instant")
    }

    fn missed(
        s: &Schedule,
        since: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        missed_occurrence(s, since, last, now, BOUNDS).expect("parses")
    }

    #[test]
    fn an_occurrence_without_a_firing_is_missed_and_one_with_a_firing_is_not() {
        let s = daily_at_7_30();
        let since = at(1, 12, 0);
        let yesterday = Some(at(6, 7, 30));
        assert_eq!(
            missed(&s, since, yesterday, at(7, 9, 0)),
            Some(at(7, 7, 30))
        );
        assert_eq!(missed(&s, since, Some(at(7, 7, 30)), at(7, 9, 0)), None);
        assert_eq!(
            missed(&s, since, None, at(7, 9, 0)),
            Some(at(7, 7, 30)),
            "firings older than 30 days are forgotten: none recorded is no proof"
        );
    }

    #[test]
    fn the_occurrence_is_the_whole_second_a_firing_names() {
        let s = daily_at_7_30();
        let now = at(7, 9, 0) + Duration::milliseconds(443);
        let got = missed(&s, at(1, 0, 0), None, now);
        assert_eq!(got, Some(at(7, 7, 30)));
        assert_eq!(
            got,
            Some(crate::schedule::occurrence_near(
                &s,
                at(7, 7, 30) + Duration::milliseconds(7)
            ))
        );
    }

    #[test]
    fn a_new_installation_or_schedule_never_sends_what_came_before_it() {
        let s = daily_at_7_30();
        assert_eq!(missed(&s, at(7, 10, 0), None, at(7, 10, 5)), None);
        assert_eq!(
            missed(&s, at(7, 7, 30), None, at(7, 10, 5)),
            None,
            "same instant"
        );
        assert_eq!(
            missed(&s, at(7, 7, 29), None, at(7, 10, 5)),
            Some(at(7, 7, 30))
        );
    }

    #[test]
    fn an_occurrence_within_the_grace_is_left_to_the_workers_own_jobs() {
        let s = daily_at_7_30();
        let since = at(1, 0, 0);
        let last = Some(at(6, 7, 30));
        assert_eq!(
            missed(&s, since, last, at(7, 7, 31)),
            None,
            "a minute after"
        );
        assert_eq!(missed(&s, since, last, at(7, 7, 32)), Some(at(7, 7, 30)));
    }

    #[test]
    fn an_occurrence_older_than_the_lookback_is_not_sent_late() {
        let weekly = Schedule {
            cron: "0 30 7 * * Mon".into(),
            time_zone: chrono_tz::UTC,
        };
        let since = at(1, 0, 0);
        let last = Some(
            Utc.with_ymd_and_hms(2026, 11, 30, 7, 30, 0)
                .single()
                .expect("valid"),
        );
        assert_eq!(
            missed(&weekly, since, last, at(8, 7, 0)),
            Some(at(7, 7, 30))
        );
        assert_eq!(
            missed(&weekly, since, last, at(8, 8, 0)),
            None,
            "a day and more"
        );
        assert_eq!(missed(&weekly, since, last, at(9, 12, 0)), None);
    }

    #[test]
    fn of_many_occurrences_missed_only_the_newest_runs_and_a_later_firing_serves_them() {
        let every_ten = Schedule {
            cron: "0 */10 * * * *".into(),
            time_zone: chrono_tz::UTC,
        };
        let since = at(1, 0, 0);
        let before_the_outage = Some(at(7, 8, 0));
        assert_eq!(
            missed(&every_ten, since, before_the_outage, at(7, 9, 5)),
            Some(at(7, 9, 0))
        );
        let send_now = Some(at(7, 9, 3));
        assert_eq!(missed(&every_ten, since, send_now, at(7, 9, 5)), None);
    }

    #[test]
    fn the_time_zone_decides_the_occurrence() {
        let amsterdam = Schedule {
            cron: "0 30 7 * * *".into(),
            time_zone: chrono_tz::Europe::Amsterdam,
        };
        // 07:30 in Amsterdam in December is 06:30 UTC.
        assert_eq!(
            missed(&amsterdam, at(1, 0, 0), None, at(7, 9, 0)),
            Some(at(7, 6, 30))
        );
    }

    #[test]
    fn a_bad_cron_is_an_error() {
        let bad = Schedule {
            cron: "every day".into(),
            time_zone: chrono_tz::UTC,
        };
        assert!(missed_occurrence(&bad, at(1, 0, 0), None, at(7, 9, 0), BOUNDS).is_err());
    }
}
