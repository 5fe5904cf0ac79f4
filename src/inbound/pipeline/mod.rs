//! The inbound pipeline for one stored message: parse → classify → trim → authorise → post or
//! answer or ignore, and record where the message ended.
//!
//! **Invariant:** every queued message ends `posted`, `answered`, or `ignored` with a reason, or
//! stays `queued` with a later `next_attempt` when the forum or the answer transport failed for
//! now (a failed answer gives its once-a-day slot back). Nothing is dropped.
//! The forum call carries the Message-ID as idempotency key, and the store keeps one row per
//! Message-ID or per byte sequence, so a redelivery or a Reply-All copy makes one post.
//! With several workers on one database, a message is processed by the worker that claimed it
//! (a lease, `store::leases`); a worker that dies leaves a lease that expires, and the message
//! is retried by another (the idempotency key keeps the post to one).
//!
//! One file per job: this one wires the pipeline and processes single messages;
//! `stream` stores and processes batches (one, or a stream of them overlapped with parsing
//! and the disk sync); `parse` parses, classifies and trims a message (pure); `decide`
//! decides per message (authorise, post, apply a command, count a bounce, ignore);
//! `commanding` carries out an email command; `confirming` asks a person to confirm what a
//! mail without a token asked for, and carries it out on their reply; `answering` sends the
//! answers and confirmations; `outcome` holds where a message ends and the counts of a run.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;

use crate::config::{Config, PeopleIndex};
use crate::forum::Forum;
use crate::inbound::address::Addresses;
use crate::inbound::answer::Answerer;
use crate::inbound::receive::Intake;
use crate::model::Person;
use crate::outbound::message::BuiltMessage;
use crate::outbound::SendError;
use crate::store::inbound::NewInbound;
use crate::store::{InboundStatus, InsertedInbound, Store, StoreError};

mod answering;
mod commanding;
mod confirming;
mod decide;
mod highlighting;
mod outcome;
mod parse;
mod stream;

pub use decide::thread_title;
pub use outcome::{backoff, Outcome, Report};
pub use parse::auth_results;

use outcome::panic_text;
use parse::Parsings;

/// Header digestd adds to a message it stored only in part (the value is the original size).
pub const TRUNCATED_HEADER: &str = "X-Digestd-Truncated";

/// Sends an answer mail (built with a null envelope sender). Implemented by the outbound
/// transport; tests use a recording sink.
pub trait AnswerSink: Send + Sync {
    /// Hands `msg` to the transport. A transient failure leaves the message queued for a
    /// retry; a permanent one ends it ignored.
    fn send_answer(&self, msg: &BuiltMessage) -> Result<(), SendError>;
}

/// An [`AnswerSink`] that drops answers (logging them): for benchmarks and dry runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardAnswers;

impl AnswerSink for DiscardAnswers {
    fn send_answer(&self, msg: &BuiltMessage) -> Result<(), SendError> {
        tracing::debug!(to = %msg.envelope_to, "answer discarded");
        Ok(())
    }
}

/// Called for `digest now`: sends the person's digest now.
pub type DigestNowHook<'a> = &'a (dyn Fn(&str) -> Result<(), String> + Sync);

/// Errors that stop processing (the message stays queued).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// No such stored message.
    #[error("inbound message {0} is not in the store")]
    Missing(i64),
    /// The thread reading and parsing the next batches panicked (a bug); what it had not
    /// handed over stays where it was read from.
    #[error("the thread reading inbound batches panicked")]
    Reader,
    /// The thread syncing a stored batch to disk panicked (a bug); the batch stays queued in
    /// the store and where it was read from.
    #[error("the thread syncing stored inbound mail to disk panicked")]
    Sync,
}

/// The pipeline, wired to a config, a forum and an answer transport.
pub struct Pipeline<'a> {
    config: &'a Config,
    forum: &'a dyn Forum,
    answers: &'a dyn AnswerSink,
    answerer: &'a Answerer,
    digest_now: Option<DigestNowHook<'a>>,
    addresses: Addresses,
    /// Index of `config.people` by address (the first person with it), so finding the sender
    /// costs the same for ten people or ten thousand.
    people: PeopleIndex<'a>,
}

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

impl<'a> Pipeline<'a> {
    /// A pipeline posting into `forum` and answering through `answers`.
    pub fn new(
        config: &'a Config,
        forum: &'a dyn Forum,
        answers: &'a dyn AnswerSink,
        answerer: &'a Answerer,
    ) -> Self {
        Pipeline {
            config,
            forum,
            answers,
            answerer,
            digest_now: None,
            addresses: Addresses::from_config(config),
            people: config.people_index(),
        }
    }

    /// The configured person with address `email` (any case), as [`Config::person`] finds them.
    fn person(&self, email: &str) -> Option<&'a Person> {
        self.people.get(email)
    }

    /// Sets what `digest now` does (without it, the command is confirmed and logged only).
    pub fn with_digest_now(mut self, hook: DigestNowHook<'a>) -> Self {
        self.digest_now = Some(hook);
        self
    }

    /// Processes every queued message whose `next_attempt` has come, oldest first, at most
    /// `limit`, but those another worker holds (its lease live: it is processing them now).
    /// A panic while processing one message defers it and goes on with the next.
    pub fn process_queued(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Report, InboundError> {
        // Leases in real time, whatever `now` says (as `process` claims).
        let due = store.due_inbound(now, crate::worker::id(), Utc::now(), limit)?;
        let mut report = Report::default();
        for id in due {
            let outcome = self.process_guarded(store, id, now)?;
            report.count(&outcome);
        }
        Ok(report)
    }

    /// [`Pipeline::process`] with panics caught: a panicking message is deferred.
    pub fn process_guarded(
        &self,
        store: &mut Store,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        match catch_unwind(AssertUnwindSafe(|| self.process(store, id, now))) {
            Ok(r) => r,
            Err(panic) => {
                let what = panic_text(panic.as_ref());
                tracing::error!(id, "processing inbound message panicked: {what}");
                let attempts = store.inbound(id)?.map(|r| r.attempts).unwrap_or(0);
                let next_attempt = now + backoff(attempts);
                store.defer_inbound(id, next_attempt, &format!("internal error: {what}"))?;
                Ok(Outcome::Deferred {
                    next_attempt,
                    error: what,
                })
            }
        }
    }

    /// Processes the stored message `id` and records where it ended.
    pub fn process(
        &self,
        store: &mut Store,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let row = store.inbound(id)?.ok_or(InboundError::Missing(id))?;
        if row.status != InboundStatus::Queued {
            return Ok(Outcome::AlreadyDone(row.status));
        }
        // Held by this worker (real time, whatever `now` says): a message another worker is
        // processing right now is theirs. One this worker has just stored is held already
        // (`digestd receive`); any other is claimed first.
        let t = Utc::now();
        let worker = crate::worker::id();
        let held = crate::worker::holds_fresh(row.claimed_by.as_deref(), row.lease_until, t)
            || !store
                .claim_inbound(&[id], worker, t, crate::worker::lease_until(t))?
                .is_empty();
        if !held {
            return Ok(Outcome::AlreadyDone(InboundStatus::Queued));
        }
        let outcome = self.outcome(store, &row, now)?;
        match &outcome {
            Outcome::Posted {
                remote_post_id,
                url,
                group_id,
            } => store.set_inbound_posted(id, remote_post_id, url, group_id)?,
            Outcome::Answered { reason } => {
                store.set_inbound_status(id, InboundStatus::Answered, Some(reason))?
            }
            Outcome::Ignored { reason } => {
                store.set_inbound_status(id, InboundStatus::Ignored, Some(reason))?
            }
            Outcome::Deferred {
                next_attempt,
                error,
            } => store.defer_inbound(id, *next_attempt, error)?,
            Outcome::AlreadyDone(_) => {}
        }
        Ok(outcome)
    }

    /// Stores `intakes` from `source` in one transaction, then processes each message that is
    /// new or still queued, and records where they all ended in one more transaction (a
    /// Maildir drain, the benchmark). Every message is stored before anything else happens to
    /// it; a message whose processing panics is deferred. Duplicates (stored before, or earlier
    /// in the batch) are processed at most once. Results come in input order.
    ///
    /// Processing goes in three steps: every message is parsed, classified and trimmed (on a
    /// second thread, while the batch is being stored; a duplicate still queued is parsed from
    /// its stored bytes); the grants and threads the replies need are read in one read
    /// transaction; then, the batch being stored, each message is authorised, posted or
    /// answered in turn.
    ///
    /// When processing hits a store error, the outcomes reached so far are still recorded
    /// before the error is returned; the rest stays queued for the next run.
    pub fn receive_batch(
        &self,
        store: &mut Store,
        intakes: Vec<Intake>,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(InsertedInbound, Outcome)>, InboundError> {
        // Store and parse at once: the insert (disk) on this thread while a helper thread
        // parses, classifies and trims (pure); once stored, this thread takes its share of
        // what is left. Nothing is acted on before the insert has committed.
        let parsed = Parsings::new(intakes.len());
        let mut stored = std::time::Instant::now();
        let inserted = std::thread::scope(|scope| {
            scope.spawn(|| {
                let parser = MessageParser::default();
                parsed.fill_rest(|i| self.parse(&parser, &intakes[i].raw));
            });
            let new: Vec<NewInbound<'_>> = intakes.iter().map(Intake::as_new_inbound).collect();
            stored = std::time::Instant::now();
            let inserted = store.insert_inbound_batch(&new, source);
            if inserted.is_ok() {
                let parser = MessageParser::default();
                parsed.fill_rest(|i| self.parse(&parser, &intakes[i].raw));
            }
            inserted
        })?;
        self.process_stored(store, &intakes, inserted, stored, &parsed, now)
    }
}
