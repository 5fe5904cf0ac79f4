//! The monthly "best of" digest of a role (config `[[roles]] best_of`), its pure parts: the
//! schedule key its ledger rows and firings carry, and the period one covers (the calendar
//! month before the firing, in the role's time zone), so a second firing in the same month
//! falls in the same period and the ledger sends nothing twice.
//!
//! Not yet wired: the scheduler does not start these jobs and no run sends them (issue #21).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{Period, Role, Schedule};

/// Prefix of a best-of schedule key (firings starting with it are best-of runs).
pub const SCHEDULE_PREFIX: &str = "best-of:";

/// The schedule key of `role`'s best-of digest on `schedule`: one per role, since each role
/// has its own highlights.
pub fn schedule_key(role: &Role, schedule: &Schedule) -> String {
    format!("{SCHEDULE_PREFIX}{}:{}", role.name, schedule.key())
}

/// The month a best-of digest made at `now` covers: from the start of the previous calendar
/// month to the start of the current one, both at local midnight in `time_zone`.
pub fn period(time_zone: Tz, now: DateTime<Utc>) -> Period {
    let local = now.with_timezone(&time_zone).date_naive();
    let this_month = local.with_day(1).unwrap_or(local);
    let previous = this_month
        .pred_opt()
        .and_then(|d| d.with_day(1))
        .unwrap_or(this_month);
    Period {
        start: local_midnight(time_zone, previous),
        end: local_midnight(time_zone, this_month),
    }
}

/// Midnight at the start of `day` in `time_zone` (the earlier instant when clocks go back;
/// UTC midnight in the unlikely case a zone skips midnight).
fn local_midnight(time_zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    time_zone
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn the_period_is_the_previous_calendar_month_in_the_roles_zone() {
        let tz = chrono_tz::Europe::Amsterdam;
        // 1 December 08:00 CET: November, from 31 Oct 23:00 UTC to 30 Nov 23:00 UTC.
        let p = period(tz, utc(2026, 12, 1, 7));
        assert_eq!(p.start, utc(2026, 10, 31, 23));
        assert_eq!(p.end, utc(2026, 11, 30, 23));
        // Any later moment of December is the same period: the ledger sends it once.
        assert_eq!(period(tz, utc(2026, 12, 31, 22)), p);
        // 30 Nov 23:00 UTC is already 1 December in Amsterdam.
        assert_eq!(period(tz, utc(2026, 11, 30, 23)), p);
    }

    #[test]
    fn january_covers_december_and_summer_time_is_respected() {
        let tz = chrono_tz::Europe::Amsterdam;
        let p = period(tz, utc(2027, 1, 1, 7));
        assert_eq!(p.start, utc(2026, 11, 30, 23));
        assert_eq!(p.end, utc(2026, 12, 31, 23));
        // April covers March, which starts in winter time and ends in summer time.
        let p = period(tz, utc(2026, 4, 1, 6));
        assert_eq!(p.start, utc(2026, 2, 28, 23));
        assert_eq!(p.end, utc(2026, 3, 31, 22));
    }

    #[test]
    fn the_key_names_the_role_and_the_schedule() {
        let schedule = Schedule {
            cron: "0 0 8 1 * *".into(),
            time_zone: chrono_tz::UTC,
        };
        let role = Role {
            name: "planner".into(),
            title: None,
            groups: vec![],
            training_tags: vec![],
            schedule: schedule.clone(),
            best_of: Some(schedule.clone()),
            template: None,
        };
        let key = schedule_key(&role, &schedule);
        assert!(key.starts_with(SCHEDULE_PREFIX) && key.contains("planner"));
        assert!(key.ends_with(&schedule.key()));
    }
}
