//! A run's pure work on every core: the people due in one stretch of a run are selected and
//! rendered on `[daemon] threads` threads ([`crate::parallel::map_ordered`]), and the results
//! come back in the people's order. Nothing here touches the store: the run's one thread then
//! records each digest in the ledger, in that order, before any of them is sent, exactly as a
//! single thread would.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Engine, Prepared};
use crate::digest::personal;
use crate::digest::select::{select, Activity};
use crate::model::{GroupId, Period, Person, PostId, Role};
use crate::render::ExcerptCache;

/// One person due in this run, with everything their digest is made from that is theirs alone.
pub(super) struct Due<'a> {
    /// Who.
    pub(super) person: &'a Person,
    /// Their roles on this schedule.
    pub(super) roles: Vec<&'a Role>,
    /// The period their digest covers.
    pub(super) period: Period,
    /// Posts already delivered to them (never selected again).
    pub(super) delivered: &'a HashSet<PostId>,
    /// The template pair their first role names (`digest` otherwise).
    pub(super) template: String,
    /// Groups they left out on the preferences page.
    pub(super) excluded: Option<&'a HashSet<GroupId>>,
    /// The language they chose on the preferences page.
    pub(super) locale: Option<&'a str>,
}

/// What became of one person due.
pub(super) enum Made {
    /// Nothing new for them, and `[digest] send_empty` is off.
    Empty,
    /// Their complete message, to be recorded and sent.
    Ready(Box<Prepared>),
}

/// The run-wide inputs every digest of a schedule shares.
pub(super) struct Shared<'a> {
    /// The schedule's key.
    pub(super) schedule_key: &'a str,
    /// The schedule's posts and threads, loaded once.
    pub(super) activity: &'a Activity,
    /// Each post's excerpts, made once for the run.
    pub(super) excerpts: &'a ExcerptCache,
    /// The period end of the run.
    pub(super) now: DateTime<Utc>,
}

/// People selected and rendered at once by a run on `threads` threads: at least a send batch,
/// and at least 16 per thread so the threads seldom wait for the slowest digest of a stretch.
pub fn stretch_len(threads: usize) -> usize {
    super::BATCH.max(threads.saturating_mul(16))
}

impl Engine {
    /// Selects and renders the digest of each of `due` on the configured number of threads;
    /// the results are in the order of `due`. The first failure (in that order) is returned.
    pub(super) fn prepare_all(
        &self,
        due: &[Due<'_>],
        shared: &Shared<'_>,
    ) -> anyhow::Result<Vec<Made>> {
        let limits = self.limits();
        let send_empty = self.config.digest.send_empty;
        let made = crate::parallel::map_ordered(due, self.threads(), |d| {
            // What they set on the preferences page: groups left out, their language.
            let kept = d
                .excluded
                .and_then(|ex| personal::without_groups(&d.roles, ex));
            let roles: Vec<&Role> = kept
                .as_ref()
                .map_or_else(|| d.roles.clone(), |k| k.iter().collect());
            let speaking = personal::with_locale(d.person, d.locale);
            let digest = select(
                speaking.as_ref().unwrap_or(d.person),
                &roles,
                shared.schedule_key,
                d.period,
                shared.activity,
                d.delivered,
                &limits,
            );
            if digest.is_empty() && !send_empty {
                return Ok(Made::Empty);
            }
            self.prepare(&digest, &d.template, shared.now, Some(shared.excerpts))
                .map(|p| Made::Ready(Box::new(p)))
        });
        made.into_iter().collect()
    }

    /// Threads a run selects and renders on (`[daemon] threads`, at least 1).
    pub fn threads(&self) -> usize {
        self.config.daemon.threads.max(1)
    }
}
