//! The monthly "best of" digest of a role (config `[[roles]] best_of`), its pure parts: the
//! schedule key its ledger rows and firings carry, and the period one covers (the calendar
//! month before the firing, in the role's time zone), so a second firing in the same month
//! falls in the same period and the ledger sends nothing twice.
//!
//! It also keeps only the month's highlights of a selected digest, ranked and capped
//! ([`month_highlights`]). The run that sends it is [`crate::best_of_run`].

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{Digest, Period, Role, Schedule};

/// The template pair of a best-of digest (`best_of.html.hbs`, `best_of.txt.hbs`).
pub const TEMPLATE: &str = "best_of";

/// A `--month` that is not `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("month {0:?} is not a month: use the form YYYY-MM, e.g. 2026-11")]
pub struct BadMonth(pub String);

/// Prefix of a best-of schedule key (firings starting with it are best-of runs).
pub const SCHEDULE_PREFIX: &str = "best-of:";

/// The schedule key of `role`'s best-of digest on `schedule`: one per role, since each role
/// has its own highlights.
pub fn schedule_key(role: &Role, schedule: &Schedule) -> String {
    format!("{SCHEDULE_PREFIX}{}:{}", role.name, schedule.key())
}

/// The role of a best-of schedule key among `roles` (`None`: no role has that best-of).
pub fn role_of_key<'a>(roles: &'a [Role], key: &str) -> Option<&'a Role> {
    roles.iter().find(|r| {
        r.best_of
            .as_ref()
            .is_some_and(|s| schedule_key(r, s) == key)
    })
}

/// Reads `YYYY-MM` into (year, month).
pub fn parse_month(text: &str) -> Result<(i32, u32), BadMonth> {
    let bad = || BadMonth(text.to_string());
    let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u32 = m.parse().map_err(|_| bad())?;
    if y.len() != 4 || m.len() != 2 || NaiveDate::from_ymd_opt(year, month, 1).is_none() {
        return Err(bad());
    }
    Ok((year, month))
}

/// The calendar month `year`-`month` in `time_zone` (`None` for no such month).
pub fn month_period(time_zone: Tz, year: i32, month: u32) -> Option<Period> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    Some(Period {
        start: local_midnight(time_zone, first),
        end: local_midnight(time_zone, next),
    })
}

/// The (year, month) a period made by [`period`] or [`month_period`] covers.
pub fn month_of(time_zone: Tz, period: Period) -> (i32, u32) {
    let local = period.start.with_timezone(&time_zone).date_naive();
    (local.year(), local.month())
}

/// `digest` as a best-of of `month`: only the highlights of posts written in the month
/// (from its first instant up to, not including, the next month's), in their ranked order, at
/// most `max` (the rest counted in `more_highlights`); no threads and no questions.
pub fn month_highlights(mut digest: Digest, month: Period, max: usize) -> Digest {
    digest
        .highlights
        .retain(|h| h.post.created >= month.start && h.post.created < month.end);
    digest.more_highlights = digest.highlights.len().saturating_sub(max);
    digest.highlights.truncate(max);
    digest.threads.clear();
    digest.more_threads = 0;
    digest.questions.clear();
    digest.more_questions = 0;
    digest.period = month;
    digest
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
    month_period(time_zone, previous.year(), previous.month()).unwrap_or(Period {
        start: local_midnight(time_zone, previous),
        end: local_midnight(time_zone, this_month),
    })
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
    fn a_month_is_read_as_yyyy_mm_and_covers_that_calendar_month() {
        assert_eq!(parse_month("2026-11"), Ok((2026, 11)));
        for bad in ["2026-13", "2026-1", "26-11", "november", "2026-11-01", ""] {
            assert_eq!(parse_month(bad), Err(BadMonth(bad.into())), "{bad}");
        }
        let tz = chrono_tz::Europe::Amsterdam;
        let p = month_period(tz, 2026, 12).expect("a month");
        assert_eq!(p.start, utc(2026, 11, 30, 23));
        assert_eq!(p.end, utc(2026, 12, 31, 23));
        assert_eq!(month_of(tz, p), (2026, 12));
        assert_eq!(period(tz, utc(2027, 1, 15, 12)), p);
    }

    #[test]
    fn a_best_of_keeps_the_months_highlights_in_rank_order_capped_and_nothing_else() {
        use crate::model::{BodyFormat, Highlight, Person, Thread};
        use std::sync::Arc;
        let tz = chrono_tz::UTC;
        let month = month_period(tz, 2026, 11).expect("a month");
        let thread = Arc::new(Thread {
            id: 1,
            group_id: "g".into(),
            remote_id: "1".into(),
            title: "T".into(),
            url: String::new(),
            created: month.start,
        });
        let highlight = |id: i64, at: DateTime<Utc>| Highlight {
            post: Arc::new(crate::model::Post {
                id,
                created: at,
                ..crate::model::sample_post("x", BodyFormat::Markdown)
            }),
            thread: Arc::clone(&thread),
            role: "r".into(),
            tag: "training".into(),
            score: 1.0,
        };
        let digest = Digest {
            person: Person {
                email: "a@x.org".into(),
                name: "A".into(),
                roles: vec!["r".into()],
                time_zone: tz,
                locale: "en".into(),
                frequency: crate::model::Frequency::Weekly,
                matrix_id: None,
            },
            schedule: "best-of:r:x".into(),
            period: month,
            threads: Vec::new(),
            more_threads: 3,
            // Ranked: 1, 2 (before the month), 3, 4 (the month's first instant), 5 (next month).
            highlights: vec![
                highlight(1, utc(2026, 11, 20, 9)),
                highlight(2, utc(2026, 10, 31, 23)),
                highlight(3, utc(2026, 11, 2, 9)),
                highlight(4, month.start),
                highlight(5, month.end),
            ],
            more_highlights: 0,
            questions: Vec::new(),
            more_questions: 2,
        };
        let best = month_highlights(digest, month, 2);
        let ids: Vec<i64> = best.highlights.iter().map(|h| h.post.id).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(best.more_highlights, 1, "post 4 is left out by the cap");
        assert_eq!((best.more_threads, best.more_questions), (0, 0));
        assert_eq!(best.period, month);
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
        let roles = [role];
        assert_eq!(
            role_of_key(&roles, &key).map(|r| r.name.as_str()),
            Some("planner")
        );
        assert!(role_of_key(&roles, "best-of:other:x").is_none());
    }
}
