//! When each forum is polled next, and whether it is up: the timing and outage bookkeeping of
//! `digestd run`'s collection loop.
//!
//! Each forum instance has its own interval (`[forums.<name>] poll_seconds`); a forum that is
//! down delays only its own groups (it is polled again on its interval, never in a tight loop)
//! and is logged once when it goes down and once when it comes back, not once per poll.
//!
//! Pure: the caller passes the clock in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::ForumConfig;

/// What is known of one forum's polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForumHealth {
    /// When a poll of all its groups last succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// When a poll last failed, and why.
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Failed polls in a row (0: up).
    pub failures_in_a_row: u32,
}

/// A change worth one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthChange {
    /// The forum failed after being up (or on its first poll).
    WentDown {
        /// Why.
        error: String,
    },
    /// The forum answered again after this many failed polls.
    CameBack {
        /// Failed polls during the outage.
        failed_polls: u32,
    },
}

/// The collection loop's timetable and health, per forum instance.
#[derive(Debug, Clone, Default)]
pub struct PollPlan {
    forums: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    every: Duration,
    next: Instant,
    health: ForumHealth,
}

impl PollPlan {
    /// A plan for `forums`, every one due at `now` (a start collects at once).
    pub fn new(forums: &[ForumConfig], now: Instant) -> PollPlan {
        let mut plan = PollPlan::default();
        plan.replace_forums(forums, now);
        plan
    }

    /// Takes a reloaded forum list: forums kept keep their health and timing (their interval
    /// may change), new ones are due at once, removed ones are forgotten.
    pub fn replace_forums(&mut self, forums: &[ForumConfig], now: Instant) {
        let mut next = BTreeMap::new();
        for f in forums {
            let every = Duration::from_secs(f.poll_seconds.max(1));
            let entry = match self.forums.remove(&f.name) {
                Some(mut e) => {
                    e.next = e.next.min(now + every);
                    e.every = every;
                    e
                }
                None => Entry {
                    every,
                    next: now,
                    health: ForumHealth::default(),
                },
            };
            next.insert(f.name.clone(), entry);
        }
        self.forums = next;
    }

    /// When the next forum is due (`None`: no forums).
    pub fn next_due(&self) -> Option<Instant> {
        self.forums.values().map(|e| e.next).min()
    }

    /// The forums due at `now`, each moved to its next slot (one interval from `now`, so a late
    /// or slow poll never makes polls bunch up).
    pub fn take_due(&mut self, now: Instant) -> Vec<String> {
        let mut due = Vec::new();
        for (name, e) in &mut self.forums {
            if e.next <= now {
                e.next = now + e.every;
                due.push(name.clone());
            }
        }
        due
    }

    /// Records the outcome of polling forum `name` (`Err`: the first error of its groups) and
    /// says whether that is worth a log line.
    pub fn record(
        &mut self,
        name: &str,
        outcome: Result<(), String>,
        at: DateTime<Utc>,
    ) -> Option<HealthChange> {
        let e = self.forums.get_mut(name)?;
        let h = &mut e.health;
        match outcome {
            Ok(()) => {
                h.last_success = Some(at);
                let was = std::mem::take(&mut h.failures_in_a_row);
                (was > 0).then_some(HealthChange::CameBack { failed_polls: was })
            }
            Err(error) => {
                h.last_error = Some((at, error.clone()));
                h.failures_in_a_row += 1;
                (h.failures_in_a_row == 1).then_some(HealthChange::WentDown { error })
            }
        }
    }

    /// Health of every forum, by name.
    pub fn health(&self) -> impl Iterator<Item = (&str, &ForumHealth)> {
        self.forums.iter().map(|(k, e)| (k.as_str(), &e.health))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ForumSettings;
    use crate::model::ForumKind;

    fn forum(name: &str, secs: u64) -> ForumConfig {
        ForumConfig {
            name: name.into(),
            kind: ForumKind::Feed,
            poll_seconds: secs,
            settings: ForumSettings::Feed(Default::default()),
        }
    }

    #[test]
    fn each_forum_keeps_its_own_interval() {
        let t0 = Instant::now();
        let mut plan = PollPlan::new(&[forum("fast", 10), forum("slow", 60)], t0);
        assert_eq!(plan.take_due(t0), vec!["fast", "slow"]);
        assert_eq!(plan.next_due(), Some(t0 + Duration::from_secs(10)));
        assert!(plan.take_due(t0 + Duration::from_secs(9)).is_empty());
        assert_eq!(plan.take_due(t0 + Duration::from_secs(10)), vec!["fast"]);
        assert_eq!(
            plan.take_due(t0 + Duration::from_secs(60)),
            vec!["fast", "slow"]
        );
    }

    #[test]
    fn an_outage_is_reported_once_down_and_once_back() {
        let t0 = Instant::now();
        let now = Utc::now();
        let mut plan = PollPlan::new(&[forum("f", 10)], t0);
        assert_eq!(plan.record("f", Ok(()), now), None);
        assert_eq!(
            plan.record("f", Err("refused".into()), now),
            Some(HealthChange::WentDown {
                error: "refused".into()
            })
        );
        for _ in 0..5 {
            assert_eq!(plan.record("f", Err("refused".into()), now), None);
        }
        assert_eq!(
            plan.record("f", Ok(()), now),
            Some(HealthChange::CameBack { failed_polls: 6 })
        );
        let (_, h) = plan.health().next().expect("f");
        assert_eq!(h.failures_in_a_row, 0);
        assert_eq!(h.last_success, Some(now));
        assert!(h.last_error.is_some());
    }

    #[test]
    fn a_reload_keeps_health_and_makes_new_forums_due() {
        let t0 = Instant::now();
        let mut plan = PollPlan::new(&[forum("a", 60)], t0);
        plan.take_due(t0);
        plan.record("a", Err("down".into()), Utc::now());
        plan.replace_forums(&[forum("a", 30), forum("b", 60)], t0);
        assert_eq!(plan.take_due(t0), vec!["b"]);
        assert_eq!(plan.next_due(), Some(t0 + Duration::from_secs(30)));
        let a = plan.health().find(|(n, _)| *n == "a").expect("a").1;
        assert_eq!(a.failures_in_a_row, 1);
    }

    #[test]
    fn unknown_forums_are_ignored() {
        let mut plan = PollPlan::new(&[], Instant::now());
        assert_eq!(plan.record("x", Ok(()), Utc::now()), None);
        assert_eq!(plan.next_due(), None);
    }
}
