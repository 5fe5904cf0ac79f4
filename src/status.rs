//! `digestd status`: what the daemon has done and will do, for an operator at a terminal
//! (`Display`) or a script (`--json`, via serde).
//!
//! Reads the store through its methods (the inbound queue summary is an aggregate query that
//! loads no message bodies). Next runs come from [`crate::schedule::next_fire`], the same
//! computation the scheduler uses.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::Config;
use crate::store::{Store, StoreError};

/// Errors of `status`.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Store(#[from] StoreError),
}

/// Everything `digestd status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// When this report was made.
    pub generated_at: DateTime<Utc>,
    /// Config file read.
    pub config: PathBuf,
    /// Store read: its file, or its URL without the password.
    pub store: PathBuf,
    /// One entry per distinct schedule of the configured roles, in config order.
    pub schedules: Vec<ScheduleStatus>,
    /// Inbound messages waiting to be processed.
    pub inbound: InboundQueue,
    /// Digests written to the ledger but not sent yet.
    pub deliveries_pending: u64,
    /// Addresses marked bouncing (they get no digests), sorted.
    pub bouncing: Vec<String>,
    /// Configured groups and their forum's last poll, in config order.
    pub forums: Vec<ForumStatus>,
    /// Workers holding live leases (several `digestd run` on one database), by id.
    pub workers: Vec<WorkerStatus>,
}

/// A worker holding live leases: what it is working on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerStatus {
    /// Its id (`host:pid:random`, as its log says).
    pub worker: String,
    /// Slices of digest runs it holds.
    pub slices: u64,
    /// Pending digests it is sending.
    pub deliveries: u64,
    /// Queued inbound messages it is processing.
    pub inbound: u64,
}

/// One schedule: when it last ran and when it runs next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleStatus {
    /// Schedule key (`cron@zone`).
    pub key: String,
    /// Cron expression.
    pub cron: String,
    /// Zone it is evaluated in.
    pub time_zone: Tz,
    /// Roles on this schedule.
    pub roles: Vec<String>,
    /// The latest run, if any.
    pub last_run: Option<RunStatus>,
    /// The next firing, if the expression ever fires again.
    pub next_run: Option<DateTime<Utc>>,
    /// Addresses opted out of this schedule only (one-click unsubscribe), sorted.
    pub opted_out: Vec<String>,
}

/// The last firing of a schedule, all workers that took part together (each logs its own
/// part of a run).
pub type RunStatus = crate::store::FiringRuns;

/// The inbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InboundQueue {
    /// Messages with status `queued`.
    pub queued: u64,
    /// Arrival of the oldest of them.
    pub oldest: Option<DateTime<Utc>>,
}

/// A configured group and its collection state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForumStatus {
    /// Group id.
    pub group: String,
    /// Group name.
    pub name: String,
    /// Forum kind (`local`, `matrix`, ...).
    pub forum: String,
    /// Forum instance (`[forums.<name>]`; `local` for the built-in one).
    pub forum_name: String,
    /// Last successful poll (`None`: never).
    pub last_success: Option<DateTime<Utc>>,
    /// Error of the last poll, if it failed.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The status of `config`'s daemon as `store` records it, now.
pub fn status(config: &Config, store: &Store) -> Result<Status, StatusError> {
    status_at(config, store, Utc::now())
}

/// [`status`] as seen at `now` (next runs are computed after `now`).
pub fn status_at(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Status, StatusError> {
    let runs = store.last_firing_runs()?;
    let optouts = store.all_schedule_optouts()?;
    let schedules = crate::schedule::distinct_schedules(config)
        .into_iter()
        .map(|s| {
            let key = s.key();
            let roles = config
                .roles
                .iter()
                .filter(|r| r.schedule.key() == key)
                .map(|r| r.name.clone())
                .collect();
            let last_run = runs.iter().find(|r| r.schedule == key).cloned();
            // An expression the config accepted parses; if not, show no next run.
            let next_run = crate::schedule::next_fire(&s, now).ok().flatten();
            let opted_out = optouts
                .iter()
                .filter(|(_, schedule)| *schedule == key)
                .map(|(email, _)| email.clone())
                .collect();
            ScheduleStatus {
                key,
                cron: s.cron,
                time_zone: s.time_zone,
                roles,
                last_run,
                next_run,
                opted_out,
            }
        })
        .collect();
    let (queued, oldest) = store.inbound_queue_summary()?;
    let (pending, _, _) = store.delivery_counts()?;
    let polls = store.poll_states()?;
    let forums = config
        .groups
        .iter()
        .map(|g| {
            let p = polls.iter().find(|p| p.group_id == g.id);
            ForumStatus {
                group: g.id.clone(),
                name: g.name.clone(),
                forum: g.forum.to_string(),
                forum_name: g.forum_name.clone(),
                last_success: p.and_then(|p| p.last_success),
                last_error: p.and_then(|p| p.last_error.clone()),
                last_error_at: p.and_then(|p| p.last_error_at),
            }
        })
        .collect();
    Ok(Status {
        generated_at: now,
        config: config.source.clone(),
        store: store.location().display().into(),
        schedules,
        inbound: InboundQueue { queued, oldest },
        deliveries_pending: pending,
        bouncing: store.bouncing_addresses()?,
        forums,
        workers: store
            .live_leases(now)?
            .into_iter()
            .map(|(worker, l)| WorkerStatus {
                worker,
                slices: l.slices,
                deliveries: l.deliveries,
                inbound: l.inbound,
            })
            .collect(),
    })
}

impl Status {
    /// The report as pretty JSON (for `--json`).
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

fn in_zone(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let d = now - t;
    let (n, unit) = if d.num_days() >= 2 {
        (d.num_days(), "days")
    } else if d.num_hours() >= 2 {
        (d.num_hours(), "hours")
    } else if d.num_minutes() >= 2 {
        (d.num_minutes(), "minutes")
    } else {
        (d.num_seconds().max(0), "seconds")
    };
    format!("{n} {unit} ago")
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = self.generated_at;
        writeln!(f, "digestd status at {}", utc(now))?;
        writeln!(f, "  config: {}", self.config.display())?;
        writeln!(f, "  store:  {}", self.store.display())?;
        writeln!(f)?;
        writeln!(f, "Schedules ({})", self.schedules.len())?;
        for s in &self.schedules {
            writeln!(
                f,
                "  {} ({}) for roles: {}",
                s.cron,
                s.time_zone,
                s.roles.join(", ")
            )?;
            match &s.last_run {
                Some(r) => {
                    let end = match r.finished {
                        Some(t) => format!("finished {}", in_zone(t, s.time_zone)),
                        None => "not finished (running or interrupted)".to_string(),
                    };
                    let shared = match r.workers {
                        0 | 1 => String::new(),
                        n => format!(" ({n} workers)"),
                    };
                    writeln!(
                        f,
                        "    last run:  {}, {end}: {} sent, {} failed{shared}",
                        in_zone(r.started, s.time_zone),
                        r.sent,
                        r.failed
                    )?;
                }
                None => writeln!(f, "    last run:  never")?,
            }
            match s.next_run {
                Some(t) => writeln!(f, "    next run:  {}", in_zone(t, s.time_zone))?,
                None => writeln!(f, "    next run:  never")?,
            }
            if !s.opted_out.is_empty() {
                writeln!(f, "    opted out: {}", s.opted_out.join(", "))?;
            }
        }
        writeln!(f)?;
        match self.inbound.oldest {
            Some(t) if self.inbound.queued > 0 => writeln!(
                f,
                "Inbound queue: {} waiting, oldest received {} ({})",
                self.inbound.queued,
                utc(t),
                ago(now, t)
            )?,
            _ => writeln!(f, "Inbound queue: empty")?,
        }
        writeln!(f, "Deliveries pending: {}", self.deliveries_pending)?;
        if self.bouncing.is_empty() {
            writeln!(f, "Bouncing addresses: none")?;
        } else {
            writeln!(f, "Bouncing addresses ({}):", self.bouncing.len())?;
            for a in &self.bouncing {
                writeln!(f, "  {a}")?;
            }
        }
        if !self.workers.is_empty() {
            writeln!(f, "Workers holding leases ({}):", self.workers.len())?;
            for w in &self.workers {
                writeln!(
                    f,
                    "  {}: {} slices, {} digests, {} inbound",
                    w.worker, w.slices, w.deliveries, w.inbound
                )?;
            }
        }
        writeln!(f)?;
        writeln!(f, "Forums ({})", self.forums.len())?;
        for g in &self.forums {
            let last = match g.last_success {
                Some(t) => format!("last successful poll {} ({})", utc(t), ago(now, t)),
                None => "never polled successfully".to_string(),
            };
            let forum = if g.forum_name == g.forum {
                g.forum.clone()
            } else {
                format!("{} ({})", g.forum_name, g.forum)
            };
            writeln!(f, "  {} \"{}\" [{forum}]: {last}", g.group, g.name)?;
            if let (Some(e), Some(at)) = (&g.last_error, g.last_error_at) {
                writeln!(f, "    last error {}: {e}", utc(at))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn example_config() -> Config {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/digestd.toml");
        match Config::load(&path) {
            Ok(c) => c,
            Err(e) => panic!("example config must load: {e}"),
        }
    }

    /// The example config, a fresh store beside it, and the key of its first role's schedule.
    fn first_schedule_store() -> (Config, tempfile::TempDir, Store, String) {
        let cfg = example_config();
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("s.sqlite")).expect("store");
        let schedule = cfg.roles[0].schedule.key();
        (cfg, dir, store, schedule)
    }

    /// The last run `st` shows for the schedule `key`.
    fn last_run_of<'a>(st: &'a Status, key: &str) -> &'a RunStatus {
        st.schedules
            .iter()
            .find(|s| s.key == key)
            .and_then(|s| s.last_run.as_ref())
            .expect("a last run of the schedule")
    }

    #[test]
    fn empty_store_reports_never_and_next_runs() {
        let cfg = example_config();
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("s.sqlite")).expect("store");
        let now = Utc
            .with_ymd_and_hms(2024, 5, 6, 12, 0, 0)
            .single()
            .expect("t");
        let st = status_at(&cfg, &store, now).expect("status");
        assert!(!st.schedules.is_empty());
        for s in &st.schedules {
            assert!(s.last_run.is_none());
            let next = s.next_run.expect("fires again");
            assert!(next > now);
            assert!(!s.roles.is_empty());
        }
        assert_eq!(
            st.inbound,
            InboundQueue {
                queued: 0,
                oldest: None
            }
        );
        assert_eq!(st.forums.len(), cfg.groups.len());
        assert!(st.forums.iter().all(|f| f.last_success.is_none()));
        let text = st.to_string();
        assert!(text.contains("last run:  never"), "{text}");
        assert!(text.contains("Inbound queue: empty"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&st.to_json()).expect("json");
        assert_eq!(json["inbound"]["queued"], 0);
    }

    #[test]
    fn workers_holding_leases_show_up_and_expired_ones_do_not() {
        let (cfg, _dir, mut store, schedule) = first_schedule_store();
        let now = Utc::now();
        store
            .join_firing(&schedule, now, 3, "host-a:1:aa", now)
            .expect("firing");
        let hour = chrono::Duration::hours(1);
        for (worker, until) in [("host-a:1:aa", now + hour), ("host-b:2:bb", now + hour)] {
            store
                .claim_slice(&schedule, now, worker, now, until)
                .expect("claim")
                .expect("slice");
        }
        store
            .claim_slice(&schedule, now, "dead:3:cc", now, now - hour)
            .expect("claim")
            .expect("slice");
        let st = status_at(&cfg, &store, now).expect("status");
        let names: Vec<(&str, u64)> = st
            .workers
            .iter()
            .map(|w| (w.worker.as_str(), w.slices))
            .collect();
        assert_eq!(names, vec![("host-a:1:aa", 1), ("host-b:2:bb", 1)]);
        let text = st.to_string();
        assert!(text.contains("Workers holding leases (2):"), "{text}");
        assert!(
            text.contains("host-b:2:bb: 1 slices, 0 digests, 0 inbound"),
            "{text}"
        );
    }

    #[test]
    fn runs_queue_bounces_and_polls_show_up() {
        let cfg = example_config();
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
        store.sync_people(&cfg.people).expect("people");
        store.sync_groups(&cfg.groups).expect("groups");
        let schedule = cfg.roles[0].schedule.key();
        let fired = Utc
            .with_ymd_and_hms(2024, 5, 6, 5, 30, 0)
            .single()
            .expect("t");
        let run = store.start_run(&schedule, fired, "w").expect("run");
        store.finish_run(run, 12, 1).expect("finish");
        let bouncer = cfg.people[0].email.clone();
        store.record_bounce(&bouncer, 1).expect("bounce");
        store
            .insert_inbound(
                b"Subject: hi\r\n\r\nbody\r\n",
                Some("<a@b>"),
                "00ff",
                "stdin",
            )
            .expect("inbound");
        let group = cfg.groups[0].id.clone();
        let polled = Utc
            .with_ymd_and_hms(2024, 5, 6, 6, 0, 0)
            .single()
            .expect("t");
        crate::store::test_support::record_poll_success_at(&store, &group, "c", polled);

        let now = Utc::now();
        let st = status_at(&cfg, &store, now).expect("status");
        let r = last_run_of(&st, &schedule);
        assert_eq!((r.sent, r.failed, r.period_end), (12, 1, fired));
        assert!(r.finished.is_some());
        assert_eq!(st.inbound.queued, 1);
        assert!(st.inbound.oldest.is_some());
        assert_eq!(st.bouncing, vec![bouncer.clone()]);
        let f = st.forums.iter().find(|f| f.group == group).expect("forum");
        assert_eq!(
            f.last_success,
            Some(
                Utc.with_ymd_and_hms(2024, 5, 6, 6, 0, 0)
                    .single()
                    .expect("t")
            )
        );
        let text = st.to_string();
        assert!(text.contains("12 sent, 1 failed\n"), "one worker: {text}");
        assert!(text.contains("Inbound queue: 1 waiting"), "{text}");
        assert!(text.contains(&bouncer), "{text}");
        assert!(
            text.contains("last successful poll 2024-05-06 06:00:00 UTC"),
            "{text}"
        );
    }

    #[test]
    fn the_last_run_is_the_last_firing_summed_over_its_workers() {
        let (cfg, _dir, mut store, schedule) = first_schedule_store();
        let at = |h| {
            Utc.with_ymd_and_hms(2024, 5, 6, h, 30, 0)
                .single()
                .expect("t")
        };
        let earlier = store.start_run(&schedule, at(4), "a").expect("run");
        store.finish_run(earlier, 99, 0).expect("finish");
        store
            .join_firing(&schedule, at(5), 2, "a", at(5))
            .expect("firing");
        for (slice, worker, sent, failed) in [(0, "a", 7, 0), (1, "b", 5, 2)] {
            let run = store.start_run(&schedule, at(5), worker).expect("run");
            store.finish_run(run, sent, failed).expect("finish");
            store
                .finish_slice(&schedule, at(5), slice, worker, at(6))
                .expect("done");
        }
        let st = status_at(&cfg, &store, Utc::now()).expect("status");
        let r = last_run_of(&st, &schedule);
        assert_eq!(
            (r.period_end, r.sent, r.failed, r.workers, r.finished),
            (at(5), 12, 2, 2, Some(at(6)))
        );
        let text = st.to_string();
        assert!(text.contains("12 sent, 2 failed (2 workers)"), "{text}");
    }
}
