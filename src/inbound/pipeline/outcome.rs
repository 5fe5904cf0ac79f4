//! Where a message ends: the outcome of one message, the counts of a run, the retry delay.

use chrono::{DateTime, Utc};

use super::parse::Queued;
use crate::store::InboundStatus;

/// Where one message ended (this time round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Posted to the forum.
    Posted {
        /// The forum's id of the post.
        remote_post_id: String,
        /// Link to the post, as the forum gave it (empty: none).
        url: String,
        /// The group it was posted in (the engagement report counts it as a reply by email).
        group_id: String,
    },
    /// Not posted; the sender got an answer.
    Answered {
        /// Reason key (see [`Reason::key`] and command keys).
        reason: String,
    },
    /// Deliberately not posted and not answered.
    Ignored {
        /// Why.
        reason: String,
    },
    /// The forum or the answer transport failed for now: still queued, retried from
    /// `next_attempt`.
    Deferred {
        /// Earliest retry.
        next_attempt: DateTime<Utc>,
        /// What failed.
        error: String,
    },
    /// The message was already done (not queued).
    AlreadyDone(InboundStatus),
}

/// Counts of one run over the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Posted.
    pub posted: usize,
    /// Answered.
    pub answered: usize,
    /// Ignored with a reason.
    pub ignored: usize,
    /// Left queued for a retry.
    pub deferred: usize,
}

impl Report {
    /// Adds one outcome.
    pub fn count(&mut self, o: &Outcome) {
        match o {
            Outcome::Posted { .. } => self.posted += 1,
            Outcome::Answered { .. } => self.answered += 1,
            Outcome::Ignored { .. } => self.ignored += 1,
            Outcome::Deferred { .. } => self.deferred += 1,
            Outcome::AlreadyDone(_) => {}
        }
    }

    /// Adds another report.
    pub fn add(&mut self, o: Report) {
        self.posted += o.posted;
        self.answered += o.answered;
        self.ignored += o.ignored;
        self.deferred += o.deferred;
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} posted, {} answered, {} ignored, {} queued for retry",
            self.posted, self.answered, self.ignored, self.deferred
        )
    }
}

/// Retry delay after `attempts` failed attempts: 1 min doubling, capped at 6 hours.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let secs = 60i64.saturating_mul(1i64 << attempts.min(12));
    chrono::Duration::seconds(secs.min(6 * 3600))
}

/// A message whose processing panicked (`what`: the panic's text): deferred, with that text
/// as the reason.
pub(super) fn panicked(row: &Queued, what: String, now: DateTime<Utc>) -> Outcome {
    tracing::error!(id = row.id, "processing inbound message panicked: {what}");
    Outcome::Deferred {
        next_attempt: now + backoff(row.attempts),
        error: format!("internal error: {what}"),
    }
}

/// The status a message has after `outcome` is recorded.
pub(super) fn status_after(outcome: &Outcome) -> InboundStatus {
    match outcome {
        Outcome::Posted { .. } => InboundStatus::Posted,
        Outcome::Answered { .. } => InboundStatus::Answered,
        Outcome::Ignored { .. } => InboundStatus::Ignored,
        Outcome::Deferred { .. } => InboundStatus::Queued,
        Outcome::AlreadyDone(s) => *s,
    }
}

/// The message of a caught panic.
pub(super) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

pub(super) fn ignored(reason: &str) -> Outcome {
    Outcome::Ignored {
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_and_caps_at_six_hours() {
        assert_eq!(backoff(0), chrono::Duration::minutes(1));
        assert_eq!(backoff(1), chrono::Duration::minutes(2));
        assert_eq!(backoff(5), chrono::Duration::minutes(32));
        assert_eq!(backoff(9), chrono::Duration::hours(6));
        assert_eq!(backoff(u32::MAX), chrono::Duration::hours(6));
    }
}
