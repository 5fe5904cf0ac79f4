//! The facts the engagement report counts, as the store reads them: posts (told apart by
//! whether they came in by email) and the moments people paused or unsubscribed.

use chrono::{DateTime, Utc};

/// One post, as the engagement report counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFact {
    /// Store id of the post (ties between posts of the same instant are broken by it).
    pub post_id: i64,
    /// Store id of its thread.
    pub thread_id: i64,
    /// Its group.
    pub group_id: String,
    /// Its author's address, normalised.
    pub author_email: String,
    /// When it was written.
    pub created: DateTime<Utc>,
    /// It came in as a reply by email (digestd posted it for its author).
    pub by_email: bool,
    /// It carries the `question` tag (how forums mark a question).
    pub question_tag: bool,
    /// It is marked the thread's best (accepted) answer.
    pub best_answer: bool,
}

/// What a person did to the digests they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonEventKind {
    /// Paused their digests.
    Pause,
    /// Resumed them.
    Resume,
    /// Unsubscribed from everything.
    Unsubscribe,
    /// Came back.
    Resubscribe,
    /// Opted out of one schedule (a one-click unsubscribe link).
    ScheduleOptOut,
}

impl PersonEventKind {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonEventKind::Pause => "pause",
            PersonEventKind::Resume => "resume",
            PersonEventKind::Unsubscribe => "unsubscribe",
            PersonEventKind::Resubscribe => "resubscribe",
            PersonEventKind::ScheduleOptOut => "schedule-optout",
        }
    }

    /// The kind named `s` (as stored), if any.
    pub fn parse(s: &str) -> Option<PersonEventKind> {
        [
            PersonEventKind::Pause,
            PersonEventKind::Resume,
            PersonEventKind::Unsubscribe,
            PersonEventKind::Resubscribe,
            PersonEventKind::ScheduleOptOut,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Counts as an unsubscribe in the report (from everything, or from one schedule).
    pub fn is_unsubscribe(self) -> bool {
        matches!(
            self,
            PersonEventKind::Unsubscribe | PersonEventKind::ScheduleOptOut
        )
    }
}

/// One pause, resume, unsubscribe or opt-out, when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonEvent {
    /// Whose.
    pub email: String,
    /// What.
    pub kind: PersonEventKind,
    /// When.
    pub at: DateTime<Utc>,
}
