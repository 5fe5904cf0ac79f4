//! The engagement report for admins (`digestd report`): per group and per role, week by week,
//! posts, replies by email versus on the forum, unanswered questions and their age,
//! unsubscribes and pauses.
//!
//! Pure (rule 1): [`build`] takes the config's groups, roles and people and the facts the store
//! read ([`facts`]), and returns a [`Report`]; [`text`] and [`html`] turn it into a table, CSV
//! or a page. The command's edge (store reads, files) is `crate::report_command`.
//!
//! Definitions, the same in every output:
//! - weeks start on Monday 00:00 UTC; the last week is the one holding "now" (so far);
//! - a thread's opener is its first post; every later post is a reply, by email when digestd
//!   posted it from a reply mail, else on the forum;
//! - a question is unanswered at an instant when its opener was written by then and nobody
//!   but the opener's author had posted in the thread by then, or when the opener carries the
//!   `question` tag and no post had been marked the best answer by then (the rule of the
//!   digest's "Can you help?" section); its age is counted from the opener; each week reports
//!   the questions unanswered at its end (or now);
//! - a group's row counts its posts, its questions, and the unsubscribes and pauses of the
//!   people whose roles follow it; a role's row counts its members' posts in the role's
//!   groups, the questions of those groups, and its members' unsubscribes and pauses (an
//!   unsubscribe is one from everything or from one schedule).

pub mod facts;
pub mod html;
pub mod text;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::model::{Group, Person, Role};
use facts::{PersonEvent, PersonEventKind, PostFact};

/// What a report is built from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The instant the report is made at (the last week ends here).
    pub now: DateTime<Utc>,
    /// Weeks covered, the current one included (at least 1).
    pub weeks: usize,
    /// The configured groups, in config order.
    pub groups: &'a [Group],
    /// The configured roles, in config order.
    pub roles: &'a [Role],
    /// The configured people (their roles decide whose events count where).
    pub people: &'a [Person],
    /// Every post up to `now` (older posts matter: a question can stay unanswered for long).
    pub posts: &'a [PostFact],
    /// The people events of the covered weeks.
    pub events: &'a [PersonEvent],
}

/// Whether a row is about a group or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A group's row.
    Group,
    /// A role's row.
    Role,
}

impl Scope {
    /// `group` or `role`, as the CSV writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Group => "group",
            Scope::Role => "role",
        }
    }
}

/// One week's figures of one group or role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeekFigures {
    /// Posts written that week (openers and replies).
    pub posts: usize,
    /// Threads opened that week.
    pub new_threads: usize,
    /// Replies that came in by email.
    pub replies_email: usize,
    /// Replies written on the forum.
    pub replies_forum: usize,
    /// Questions unanswered at the week's end.
    pub unanswered: usize,
    /// Age in whole days of the oldest of them (`None`: there are none).
    pub oldest_unanswered_days: Option<i64>,
    /// Unsubscribes (from everything or from one schedule) that week.
    pub unsubscribes: usize,
    /// Pauses that week.
    pub pauses: usize,
}

/// One group's or role's weeks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Group or role.
    pub scope: Scope,
    /// Its id (group id, role name).
    pub id: String,
    /// Its display name (the group's name; the role's name).
    pub name: String,
    /// One entry per week of [`Report::weeks`], in the same order.
    pub weeks: Vec<WeekFigures>,
}

/// The engagement report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The instant it was made at.
    pub now: DateTime<Utc>,
    /// The Monday each week starts on, oldest first.
    pub weeks: Vec<NaiveDate>,
    /// Groups first (config order), then roles (config order).
    pub rows: Vec<ReportRow>,
}

/// The Monday (UTC) of the week holding `t`.
pub fn week_start(t: DateTime<Utc>) -> NaiveDate {
    let day = t.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Midnight UTC at the start of `day`.
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// The instant the whole report starts at (Monday 00:00 UTC of its first week).
pub fn report_start(now: DateTime<Utc>, weeks: usize) -> DateTime<Utc> {
    let weeks = weeks.max(1) as i64;
    midnight(week_start(now) - Duration::weeks(weeks - 1))
}

/// What a thread's posts say about it as a question.
#[derive(Debug, Clone)]
struct ThreadFacts<'p> {
    /// Its first post.
    opener: &'p PostFact,
    /// When someone other than the opener's author first posted in it.
    answered: Option<DateTime<Utc>>,
    /// When a post in it was first marked the best answer.
    solved: Option<DateTime<Utc>>,
}

impl ThreadFacts<'_> {
    /// Unanswered at `t`: its age in whole days then, else `None`.
    fn unanswered_age_at(&self, t: DateTime<Utc>) -> Option<i64> {
        let unanswered = self.answered.is_none_or(|a| a > t);
        let unsolved = self.opener.question_tag && self.solved.is_none_or(|s| s > t);
        let open = self.opener.created <= t && (unanswered || unsolved);
        open.then(|| (t - self.opener.created).num_days())
    }
}

/// Each thread's opener and first answer (posts must be oldest first, as the store reads them).
fn threads(posts: &[PostFact]) -> HashMap<i64, ThreadFacts<'_>> {
    let mut threads: HashMap<i64, ThreadFacts<'_>> = HashMap::new();
    for p in posts {
        match threads.get_mut(&p.thread_id) {
            None => {
                threads.insert(
                    p.thread_id,
                    ThreadFacts {
                        opener: p,
                        answered: None,
                        solved: p.best_answer.then_some(p.created),
                    },
                );
            }
            Some(t) => {
                if t.answered.is_none() && p.author_email != t.opener.author_email {
                    t.answered = Some(p.created);
                }
                if t.solved.is_none() && p.best_answer {
                    t.solved = Some(p.created);
                }
            }
        }
    }
    threads
}

/// Which posts, questions and people a row counts.
struct RowFilter<'a> {
    groups: HashSet<&'a str>,
    /// Only posts by these authors (`None`: anyone's).
    authors: Option<HashSet<&'a str>>,
    /// Whose events count.
    people: HashSet<&'a str>,
}

/// Builds the report.
pub fn build(input: &ReportInput<'_>) -> Report {
    let weeks_n = input.weeks.max(1);
    let first = week_start(input.now) - Duration::weeks(weeks_n as i64 - 1);
    let weeks: Vec<NaiveDate> = (0..weeks_n)
        .map(|i| first + Duration::weeks(i as i64))
        .collect();
    let threads = threads(input.posts);
    let openers: HashSet<i64> = threads.values().map(|t| t.opener.post_id).collect();
    let members_of = |role: &str| -> HashSet<&str> {
        input
            .people
            .iter()
            .filter(|p| p.roles.iter().any(|r| r == role))
            .map(|p| p.email.as_str())
            .collect()
    };
    let mut rows = Vec::new();
    for g in input.groups {
        let people: HashSet<&str> = input
            .roles
            .iter()
            .filter(|r| r.groups.contains(&g.id))
            .flat_map(|r| members_of(&r.name))
            .collect();
        let filter = RowFilter {
            groups: HashSet::from([g.id.as_str()]),
            authors: None,
            people,
        };
        rows.push(ReportRow {
            scope: Scope::Group,
            id: g.id.clone(),
            name: g.name.clone(),
            weeks: figures(input, &weeks, &threads, &openers, &filter),
        });
    }
    for r in input.roles {
        let members = members_of(&r.name);
        let filter = RowFilter {
            groups: r.groups.iter().map(String::as_str).collect(),
            authors: Some(members.clone()),
            people: members,
        };
        rows.push(ReportRow {
            scope: Scope::Role,
            id: r.name.clone(),
            name: r.name.clone(),
            weeks: figures(input, &weeks, &threads, &openers, &filter),
        });
    }
    Report {
        now: input.now,
        weeks,
        rows,
    }
}

/// One row's figures, week by week.
fn figures(
    input: &ReportInput<'_>,
    weeks: &[NaiveDate],
    threads: &HashMap<i64, ThreadFacts<'_>>,
    openers: &HashSet<i64>,
    filter: &RowFilter<'_>,
) -> Vec<WeekFigures> {
    let mut out = Vec::with_capacity(weeks.len());
    for (i, &week) in weeks.iter().enumerate() {
        let start = midnight(week);
        let last = i + 1 == weeks.len();
        // The last week ends now, inclusive (posts are read up to now).
        let end = if last {
            input.now
        } else {
            midnight(week + Duration::weeks(1))
        };
        let in_week = |t: DateTime<Utc>| t >= start && (t < end || last && t == end);
        let mut f = WeekFigures::default();
        for p in input.posts.iter().filter(|p| in_week(p.created)) {
            if !filter.groups.contains(p.group_id.as_str())
                || filter
                    .authors
                    .as_ref()
                    .is_some_and(|a| !a.contains(p.author_email.as_str()))
            {
                continue;
            }
            f.posts += 1;
            if openers.contains(&p.post_id) {
                f.new_threads += 1;
            } else if p.by_email {
                f.replies_email += 1;
            } else {
                f.replies_forum += 1;
            }
        }
        for t in threads
            .values()
            .filter(|t| filter.groups.contains(t.opener.group_id.as_str()))
        {
            if let Some(age) = t.unanswered_age_at(end) {
                f.unanswered += 1;
                f.oldest_unanswered_days =
                    Some(f.oldest_unanswered_days.map_or(age, |o| o.max(age)));
            }
        }
        for e in input
            .events
            .iter()
            .filter(|e| in_week(e.at) && filter.people.contains(e.email.as_str()))
        {
            if e.kind.is_unsubscribe() {
                f.unsubscribes += 1;
            } else if e.kind == PersonEventKind::Pause {
                f.pauses += 1;
            }
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests;
