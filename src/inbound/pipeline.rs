//! The inbound pipeline for one stored message: parse → classify → trim → authorise → post or
//! answer or ignore, and record where the message ended.
//!
//! **Invariant:** every queued message ends `posted`, `answered`, or `ignored` with a reason, or
//! stays `queued` with a later `next_attempt` when the forum or the answer transport failed for
//! now (a failed answer gives its once-a-day slot back). Nothing is dropped.
//! The forum call carries the Message-ID as idempotency key, and the store keeps one row per
//! Message-ID or per byte sequence, so a redelivery or a Reply-All copy makes one post.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{TryRecvError, TrySendError};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser};

use crate::config::{Config, PeopleIndex};
use crate::forum::{Author, Forum};
use crate::inbound::address::{self, Addresses, Sender};
use crate::inbound::answer::{self, AnswerContext, Answerer, ItemLink};
use crate::inbound::authorise::{
    authorise_new_thread, authorise_reply, Decision, Reason, ReplyEvidence, ThreadEvidence,
};
use crate::inbound::body::{self, ReplyBody};
use crate::inbound::classify::{classify_with_sender, Class};
use crate::inbound::commands::{self, Command};
use crate::inbound::raw_headers;
use crate::inbound::receive::Intake;
use crate::inbound::shared_slots::SharedSlots;
use crate::model::{normalize_email, Frequency, Group, Person, ReplyToken};
use crate::outbound::message::{new_message_id, one_line, BuiltMessage};
use crate::outbound::SendError;
use crate::store::inbound::{InboundEnd, NewInbound};
use crate::store::{InboundRow, InboundStatus, InsertedInbound, ReplyLookups, Store, StoreError};

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

/// Where one message ended (this time round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Posted to the forum.
    Posted {
        /// The forum's id of the post.
        remote_post_id: String,
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
    /// `limit`. A panic while processing one message defers it and goes on with the next.
    pub fn process_queued(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Report, InboundError> {
        let due: Vec<i64> = store
            .queued_inbound()?
            .into_iter()
            .filter(|r| r.next_attempt.is_none_or(|t| t <= now))
            .map(|r| r.id)
            .take(limit)
            .collect();
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
        let outcome = self.outcome(store, &row, now)?;
        match &outcome {
            Outcome::Posted { remote_post_id } => store.set_inbound_posted(id, remote_post_id)?,
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
        let inserted = std::thread::scope(|scope| {
            scope.spawn(|| {
                let parser = MessageParser::default();
                parsed.fill_rest(|i| self.parse(&parser, &intakes[i].raw));
            });
            let new: Vec<NewInbound<'_>> = intakes.iter().map(Intake::as_new_inbound).collect();
            let inserted = store.insert_inbound_batch(&new, source);
            if inserted.is_ok() {
                let parser = MessageParser::default();
                parsed.fill_rest(|i| self.parse(&parser, &intakes[i].raw));
            }
            inserted
        })?;
        self.process_stored(store, &intakes, inserted, &parsed, now)
    }

    /// Stores and processes a stream of batches, as [`Pipeline::receive_batch`] does each,
    /// overlapped: a helper thread takes the next batch from `batches` (reading it: the
    /// iterator runs there) and hands it over unparsed, then parses, classifies and trims the
    /// batch stored last while this thread stores the new one; this thread takes its share of
    /// that parsing (each message is parsed once, by whichever thread takes it first) before
    /// it processes the batch, and parses whenever it would otherwise wait for the helper. A
    /// batch's commit is synced to disk on a thread of its own while this one processes the
    /// batch stored before it; after each batch, a thread with a connection of its own copies
    /// the WAL into the database file (a passive checkpoint, which a commit would otherwise
    /// make itself, in the stream's way, once the WAL reaches 32 MiB). A batch is processed
    /// only once its commit is synced: parsing is pure, so nothing is acted on before a batch
    /// has been stored durably. At most four batches are in hand at once (one being read, one
    /// waiting to be stored, one being parsed and synced, one being processed).
    ///
    /// `on_batch` gets each batch's tag and results, in order, once the batch is stored and
    /// processed (a Maildir drain moves its files to `cur/` then). The first error stops the
    /// stream and is returned. When storing a batch fails, the batch stored before it is still
    /// processed (its sync permitting); otherwise a batch stored but not yet processed stays
    /// queued in the store (the next run processes it), and a batch read but not stored is
    /// simply not taken: neither is reported, so their messages stay where the iterator found
    /// them.
    pub fn receive_batches<T: Send>(
        &self,
        store: &mut Store,
        batches: impl Iterator<Item = (T, Vec<Intake>)> + Send,
        source: &str,
        mut on_batch: impl FnMut(T, Vec<(InsertedInbound, Outcome)>),
    ) -> Result<(), InboundError> {
        let how = self.parse_settings();
        let commit_sync = store.commit_sync();
        // Without a checkpointer of its own (it could not be opened), the store's commits
        // checkpoint the WAL themselves, as everywhere else.
        let checkpointer = store
            .wal_checkpointer()
            .inspect_err(|e| tracing::warn!("inbound: no WAL checkpoints beside the stream: {e}"))
            .ok();
        std::thread::scope(|scope| {
            // The WAL copied into the database file on a thread of its own after each batch,
            // while the next is stored: the stream neither stops for the copy nor leaves it
            // all to its end.
            let (checkpoint_now, checkpoint_wanted) = std::sync::mpsc::channel::<()>();
            if let Some(checkpointer) = checkpointer {
                scope.spawn(move || {
                    while checkpoint_wanted.recv().is_ok() {
                        while checkpoint_wanted.try_recv().is_ok() {}
                        if let Err(e) = checkpointer.checkpoint() {
                            tracing::warn!("inbound: WAL checkpoint beside the stream: {e}");
                        }
                    }
                });
            }
            // Batches are handed over as soon as they are read, unparsed: both threads parse
            // them (see `SharedSlots`), the helper from the moment it has handed a batch over,
            // this thread whenever it would otherwise wait.
            let (ready_tx, ready) = std::sync::mpsc::sync_channel::<(T, Arc<ParsedBatch>)>(1);
            // Batches go back to the helper to be freed: most of what they hold was allocated
            // there.
            let (spent, spent_rx) = std::sync::mpsc::channel::<Arc<ParsedBatch>>();
            let reader = scope.spawn(move || {
                let parser = MessageParser::default();
                // The batch handed over last, parsed here until every message is taken.
                let mut parsing: Option<Arc<ParsedBatch>> = None;
                for (tag, intakes) in batches {
                    while let Ok(old) = spent_rx.try_recv() {
                        drop(old);
                    }
                    let batch = Arc::new(ParsedBatch::new(intakes, |intakes| {
                        Parsings::new(intakes.len())
                    }));
                    // Handed over; until the storing thread takes it, the batch before is
                    // parsed here message by message.
                    let mut handing = Some((tag, Arc::clone(&batch)));
                    if let Some(before) = &parsing {
                        before.with_dependent(|intakes, parsed| {
                            while let Some(next) = handing.take() {
                                match ready_tx.try_send(next) {
                                    Ok(()) => {}
                                    Err(TrySendError::Full(next)) => {
                                        handing = Some(next);
                                        if !parsed.fill_next(|i| {
                                            parse_classify_trim(&parser, &intakes[i].raw, &how)
                                        }) {
                                            break;
                                        }
                                    }
                                    Err(TrySendError::Disconnected(next)) => {
                                        handing = Some(next);
                                        break;
                                    }
                                }
                            }
                        });
                    }
                    if let Some(next) = handing {
                        if ready_tx.send(next).is_err() {
                            break;
                        }
                    }
                    if let Some(before) = parsing.replace(batch) {
                        before.with_dependent(|intakes, parsed| {
                            parsed
                                .fill_rest(|i| parse_classify_trim(&parser, &intakes[i].raw, &how))
                        });
                    }
                }
                if let Some(last) = parsing.take() {
                    last.with_dependent(|intakes, parsed| {
                        parsed.fill_rest(|i| parse_classify_trim(&parser, &intakes[i].raw, &how))
                    });
                }
                // No more batches (the stream ends once this thread's sender is gone); the last
                // ones come back to be freed here too, as the others did.
                drop(ready_tx);
                for old in spent_rx {
                    drop(old);
                }
            });
            let parser = MessageParser::default();
            let mut result = Ok(());
            // The batch stored last, its commit being synced; processed after the next is
            // stored.
            let mut pending: Option<StoredBatch<'_, T>> = None;
            loop {
                // The next batch; while it is being read, this thread parses the batch
                // stored last, which it processes next.
                let next = loop {
                    match ready.try_recv() {
                        Ok(next) => break Some(next),
                        Err(TryRecvError::Disconnected) => break None,
                        Err(TryRecvError::Empty) => {
                            let helped = pending.as_ref().is_some_and(|p| {
                                p.batch.with_dependent(|intakes, parsed| {
                                    parsed.fill_next(|i| self.parse(&parser, &intakes[i].raw))
                                })
                            });
                            if !helped {
                                break ready.recv().ok();
                            }
                        }
                    }
                };
                let Some((tag, batch)) = next else { break };
                let intakes = batch.borrow_owner();
                let stored = if intakes.is_empty() {
                    // Nothing to store (say, only unreadable files): no transaction.
                    Ok((Vec::new(), None))
                } else {
                    let new: Vec<NewInbound<'_>> =
                        intakes.iter().map(Intake::as_new_inbound).collect();
                    store
                        .insert_inbound_batch_unsynced(&new, source)
                        .map(|inserted| {
                            let sync = commit_sync.clone();
                            (inserted, Some(scope.spawn(move || sync.run())))
                        })
                };
                let earlier = pending.take();
                let stored = match stored {
                    Ok((inserted, syncing)) => {
                        pending = Some(StoredBatch {
                            tag,
                            batch,
                            inserted,
                            syncing,
                        });
                        Ok(())
                    }
                    Err(e) => {
                        let _ = spent.send(batch);
                        Err(InboundError::from(e))
                    }
                };
                let processed = match earlier {
                    Some(earlier) => {
                        self.process_synced(store, &parser, earlier, &spent, &mut on_batch)
                    }
                    None => Ok(()),
                };
                let _ = checkpoint_now.send(());
                if let Err(e) = stored.and(processed) {
                    result = Err(e);
                    break;
                }
            }
            // The last batch stored; after an error, it stays queued in the store and where
            // the iterator found it, as the batches after the error do.
            if let (Ok(()), Some(last)) = (&result, pending.take()) {
                result = self.process_synced(store, &parser, last, &spent, &mut on_batch);
            }
            // The helper stops at its next batch once nothing takes them; the checkpointer
            // once nothing asks it.
            drop(checkpoint_now);
            drop(ready);
            drop(spent);
            if reader.join().is_err() && result.is_ok() {
                result = Err(InboundError::Reader);
            }
            result
        })
    }

    /// Waits for a stored batch's commit to reach the disk, then processes the batch (see
    /// [`Pipeline::process_stored`]), hands it back to the helper to be freed and reports
    /// it to `on_batch`. A failed sync leaves the batch queued and unreported.
    fn process_synced<T>(
        &self,
        store: &mut Store,
        parser: &MessageParser,
        stored: StoredBatch<'_, T>,
        spent: &std::sync::mpsc::Sender<Arc<ParsedBatch>>,
        on_batch: &mut impl FnMut(T, Vec<(InsertedInbound, Outcome)>),
    ) -> Result<(), InboundError> {
        let StoredBatch {
            tag,
            batch,
            inserted,
            syncing,
        } = stored;
        // This thread's share of what the helper has not parsed yet, while the commit is
        // still being synced (parsing is pure: nothing is acted on before the sync returns).
        batch.with_dependent(|intakes, parsed| {
            parsed.fill_rest(|i| self.parse(parser, &intakes[i].raw))
        });
        let synced = match syncing.map(std::thread::ScopedJoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(InboundError::from(e)),
            Some(Err(_)) => Err(InboundError::Sync),
        };
        let done = synced.and_then(|()| {
            batch.with_dependent(|intakes, parsed| {
                if intakes.is_empty() {
                    return Ok(Vec::new());
                }
                self.process_stored(store, intakes, inserted, parsed, Utc::now())
            })
        });
        let _ = spent.send(batch);
        on_batch(tag, done?);
        Ok(())
    }

    /// Processes a batch just stored (`inserted`, in the order of `intakes`), with what parsing
    /// already made of each intake (`None`: parsed here), and records where each message ended
    /// (see [`Pipeline::receive_batch`]).
    fn process_stored<'r>(
        &self,
        store: &mut Store,
        intakes: &'r [Intake],
        inserted: Vec<InsertedInbound>,
        parsed: &Parsings<'r>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(InsertedInbound, Outcome)>, InboundError> {
        let parser = MessageParser::default();
        // Which rows to process, and what the others are.
        let mut slots: Vec<(InsertedInbound, Slot)> = Vec::with_capacity(inserted.len());
        let mut rows: Vec<(Queued, Bytes)> = Vec::new();
        let mut loaded: Vec<InboundRow> = Vec::new();
        let mut first_slot: HashMap<i64, usize> = HashMap::new();
        let mut failure = None;
        for (i, (ins, intake)) in inserted.into_iter().zip(intakes).enumerate() {
            if let Some(&first) = first_slot.get(&ins.id) {
                slots.push((ins, Slot::SameAs(first)));
                continue;
            }
            first_slot.insert(ins.id, slots.len());
            if ins.duplicate {
                // Stored before: its stored row decides, and its stored bytes are processed.
                match store.inbound(ins.id) {
                    Ok(Some(row)) if row.status != InboundStatus::Queued => {
                        slots.push((ins, Slot::Done(Outcome::AlreadyDone(row.status))));
                    }
                    Ok(Some(row)) => {
                        slots.push((ins, Slot::Todo(rows.len())));
                        rows.push((Queued::of(&row), Bytes::Loaded(loaded.len())));
                        loaded.push(row);
                    }
                    Ok(None) => {
                        failure = Some(InboundError::Missing(ins.id));
                        break;
                    }
                    Err(e) => {
                        failure = Some(e.into());
                        break;
                    }
                }
                continue;
            }
            let queued = Queued {
                id: ins.id,
                message_id: intake
                    .message_id
                    .as_deref()
                    .map(crate::store::deliveries::bare_message_id)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string),
                sha256: intake.sha256.clone(),
                attempts: 0,
            };
            slots.push((ins, Slot::Todo(rows.len())));
            rows.push((queued, Bytes::Received(i)));
        }

        // Every message to process parsed and classified (pure; what another thread is
        // parsing is waited for), then what the replies need read at once. What a message of
        // this batch parsed into stays in `parsed`, so that it is freed with the batch.
        let reread: Vec<Parsing<'_>> = loaded.iter().map(|r| self.parse(&parser, &r.raw)).collect();
        let prepared: Vec<Prepared<'_, '_>> = rows
            .iter()
            .map(|(row, bytes)| {
                let parsing = match *bytes {
                    Bytes::Received(i) => {
                        parsed.get_or_fill(i, || self.parse(&parser, &intakes[i].raw))
                    }
                    Bytes::Loaded(j) => reread.get(j),
                };
                match parsing {
                    Some(parsing) => parsing.prepared(row, now),
                    None => Prepared::Done(panicked(row, "message not parsed".into(), now)),
                }
            })
            .collect();
        let lookups = if failure.is_none() {
            let tokens: Vec<&ReplyToken> = prepared
                .iter()
                .filter_map(|p| match p {
                    Prepared::Parsed(Parsed {
                        class: Class::Reply { token },
                        ..
                    }) => Some(token),
                    _ => None,
                })
                .collect();
            match store.reply_lookups(&tokens) {
                Ok(l) => l,
                Err(e) => {
                    failure = Some(e.into());
                    Default::default()
                }
            }
        } else {
            Default::default()
        };

        // Then each message in turn (none when the lookups failed: all stay queued).
        let mut outcomes: Vec<Option<Outcome>> = vec![None; rows.len()];
        if failure.is_none() {
            for (i, ((row, _), prep)) in rows.iter().zip(prepared).enumerate() {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    self.finish_prepared(store, row, prep, &lookups, now)
                }))
                .unwrap_or_else(|panic| Ok(panicked(row, panic_text(panic.as_ref()), now)));
                match result {
                    Ok(o) => outcomes[i] = Some(o),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }

        // Results in input order; what was not reached stays queued and is not reported.
        let mut done: Vec<(InsertedInbound, Outcome)> = Vec::with_capacity(slots.len());
        let mut slot_outcome: Vec<Option<Outcome>> = Vec::with_capacity(slots.len());
        for (ins, slot) in slots {
            let outcome = match slot {
                Slot::Done(o) => Some(o),
                Slot::Todo(i) => outcomes[i].take(),
                Slot::SameAs(first) => slot_outcome[first]
                    .as_ref()
                    .map(|o| Outcome::AlreadyDone(status_after(o))),
            };
            slot_outcome.push(outcome.clone());
            if let Some(o) = outcome {
                done.push((ins, o));
            }
        }
        let ends: Vec<(i64, InboundEnd<'_>)> = done
            .iter()
            .filter_map(|(ins, o)| {
                let end = match o {
                    Outcome::Posted { remote_post_id } => InboundEnd::Posted(remote_post_id),
                    Outcome::Answered { reason } => {
                        InboundEnd::Done(InboundStatus::Answered, Some(reason))
                    }
                    Outcome::Ignored { reason } => {
                        InboundEnd::Done(InboundStatus::Ignored, Some(reason))
                    }
                    Outcome::Deferred {
                        next_attempt,
                        error,
                    } => InboundEnd::Deferred(*next_attempt, error),
                    Outcome::AlreadyDone(_) => return None,
                };
                Some((ins.id, end))
            })
            .collect();
        store.finish_inbound_batch(&ends)?;
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Parses, classifies and trims one message (pure; see [`parse_classify_trim`]).
    fn parse<'r>(&self, parser: &MessageParser, raw: &'r [u8]) -> Parsing<'r> {
        parse_classify_trim(parser, raw, &self.parse_settings())
    }

    /// What parsing needs of this pipeline's configuration.
    fn parse_settings(&self) -> ParseSettings<'_> {
        ParseSettings {
            addresses: &self.addresses,
            max_attachment_bytes: self.config.inbound.max_attachment_bytes,
            read_auth_results: !self.config.inbound.trusted_authserv_ids.is_empty(),
        }
    }

    /// Parses and handles one queued message: where it ends (nothing recorded yet).
    fn outcome(
        &self,
        store: &mut Store,
        row: &InboundRow,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let queued = Queued::of(row);
        let parsing = self.parse(&MessageParser::default(), &row.raw);
        let prepared = parsing.prepared(&queued, now);
        self.finish_prepared(store, &queued, prepared, &ReplyLookups::default(), now)
    }

    /// Handles a prepared message (see [`Parsing::prepared`]) and logs where it ended.
    fn finish_prepared(
        &self,
        store: &mut Store,
        row: &Queued,
        prepared: Prepared<'_, '_>,
        lookups: &ReplyLookups,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let outcome = match prepared {
            Prepared::Done(o) => o,
            Prepared::Parsed(parsed) => self.handle(store, row, parsed, lookups, now)?,
        };
        tracing::info!(id = row.id, message_id = ?row.message_id, ?outcome, "inbound message processed");
        Ok(outcome)
    }

    fn handle(
        &self,
        store: &mut Store,
        row: &Queued,
        parsed: &Parsed<'_>,
        lookups: &ReplyLookups,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let Parsed {
            raw,
            facts,
            class,
            sender,
            body,
        } = parsed;
        let sender = match (&class, sender) {
            (Class::Loop, _) => return Ok(ignored("loop: sent from one of digestd's addresses")),
            (Class::AutoReply(r), _) => return Ok(ignored(&format!("auto-reply: {r}"))),
            (Class::Bounce { recipient }, _) => {
                return Ok(match recipient {
                    Some(r) => {
                        let bouncing =
                            store.record_bounce(r, self.config.inbound.bounce_threshold.max(1))?;
                        ignored(&format!(
                            "bounce for {r}{}",
                            if bouncing {
                                " (now marked bouncing)"
                            } else {
                                ""
                            }
                        ))
                    }
                    None => ignored("bounce (recipient unknown)"),
                })
            }
            (_, None) => return Ok(ignored("no usable From address")),
            (_, Some(s)) => s,
        };
        let ctx = Ctx {
            row,
            raw,
            reparsed: OnceCell::new(),
            facts,
            body,
            sender,
            now,
            lookups,
        };
        match class {
            Class::Reply { token } => self.reply(store, &ctx, token),
            Class::NewThread { group } => self.new_thread(store, &ctx, group),
            Class::Command { token } => self.command(store, &ctx, token.as_ref()),
            Class::Unknown => self.unknown(store, &ctx),
            Class::Loop | Class::AutoReply(_) | Class::Bounce { .. } => {
                Ok(ignored("already classified"))
            }
        }
    }

    /// The trimmed body of the message in `c` (see [`body::reply_body`]).
    fn body<'c>(&self, c: &'c Ctx<'_>) -> &'c ReplyBody {
        c.body.get_or_init(|| {
            c.msg()
                .map(|m| body::reply_body(m, self.config.inbound.max_attachment_bytes))
                .unwrap_or_default()
        })
    }

    fn reply(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        token: &ReplyToken,
    ) -> Result<Outcome, InboundError> {
        let fetched_grant;
        let grant = match c.lookups.grant(token) {
            Some(found) => found,
            None => {
                fetched_grant = store.token(token)?;
                fetched_grant.as_ref()
            }
        };
        let body = self.body(c);
        let ar = &c.facts.auth_results;
        let decision = authorise_reply(&ReplyEvidence {
            token,
            grant,
            from: &c.sender.email,
            now: c.now,
            auth_results: ar,
            trusted_authserv_ids: &self.config.inbound.trusted_authserv_ids,
            size: c.facts.original_size,
            max_size: self.config.inbound.max_message_bytes,
            empty_after_trim: body.is_empty(),
        });
        let (thread_id, author) = match decision {
            Decision::Post { thread, author } => (thread, author),
            Decision::Reject(reason) => {
                return self.answer(store, c, c.sender, reason.key(), self.context(c))
            }
        };
        let fetched_thread;
        let thread = match c.lookups.thread(thread_id) {
            Some(found) => found,
            None => {
                fetched_thread = store.thread(thread_id)?;
                fetched_thread.as_ref()
            }
        };
        let Some(thread) = thread else {
            let actx = self.context(c);
            return self.answer(store, c, c.sender, Reason::ForumRefused.key(), actx);
        };
        let group = self.group(&thread.group_id);
        let author = self.author(&author, c.sender);
        let key = idempotency_key(c.row);
        let result = self.forum.post_reply(
            &group,
            &thread.remote_id,
            &author,
            &body.to_markdown(),
            &key,
        );
        // The answer context is built only when an answer or confirmation goes out.
        self.posted_or_not(store, c, result, || {
            let mut actx = self.context(c);
            actx.thread_title = Some(one_line(&thread.title));
            actx.thread_url = Some(one_line(&thread.url)).filter(|u| !u.is_empty());
            actx
        })
    }

    fn new_thread(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        group_id: &str,
    ) -> Result<Outcome, InboundError> {
        let group = self.config.group(group_id);
        let member = self.person(&c.sender.email).is_some_and(|p| {
            p.roles.iter().any(|r| {
                self.config
                    .role(r)
                    .is_some_and(|role| role.groups.iter().any(|g| g == group_id))
            })
        });
        let body = self.body(c);
        let ar = &c.facts.auth_results;
        let mut actx = self.context(c);
        actx.group = Some(one_line(group_id));
        if let Err(reason) = authorise_new_thread(&ThreadEvidence {
            group_known: group.is_some(),
            member,
            from: &c.sender.email,
            auth_results: ar,
            trusted_authserv_ids: &self.config.inbound.trusted_authserv_ids,
            size: c.facts.original_size,
            max_size: self.config.inbound.max_message_bytes,
            empty_after_trim: body.is_empty(),
        }) {
            return self.answer(store, c, c.sender, reason.key(), actx);
        }
        let Some(group) = group else {
            return self.answer(store, c, c.sender, Reason::UnknownGroup.key(), actx);
        };
        let title = thread_title(c.facts.subject.as_deref(), body);
        actx.thread_title = Some(title.clone());
        let author = self.author(&c.sender.email, c.sender);
        let key = idempotency_key(c.row);
        let result = self
            .forum
            .create_thread(group, &author, &title, &body.to_markdown(), &key);
        self.posted_or_not(store, c, result, || actx)
    }

    /// Where a forum call leaves the message; `actx` builds the answer context when an
    /// answer or a confirmation goes out.
    fn posted_or_not(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        result: Result<crate::forum::Posted, crate::forum::ForumError>,
        actx: impl FnOnce() -> AnswerContext,
    ) -> Result<Outcome, InboundError> {
        match result {
            Ok(p) => {
                if self.config.inbound.confirm_posts {
                    self.confirm(c, actx());
                }
                Ok(Outcome::Posted {
                    remote_post_id: p.remote_post_id,
                })
            }
            Err(e) if e.is_transient() => Ok(Outcome::Deferred {
                next_attempt: c.now + backoff(c.row.attempts),
                error: e.to_string(),
            }),
            Err(e) => {
                tracing::warn!("forum refused inbound message {}: {e}", c.row.id);
                let mut actx = actx();
                if let crate::forum::ForumError::Refused(reason) = &e {
                    actx.reason = Some(one_line(reason)).filter(|r| !r.is_empty());
                }
                self.answer(store, c, c.sender, Reason::ForumRefused.key(), actx)
            }
        }
    }

    fn command(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        token: Option<&ReplyToken>,
    ) -> Result<Outcome, InboundError> {
        // Whose settings: the token's person (List-Unsubscribe address), else the sender.
        let email = match token {
            Some(t) => match store.token(t)? {
                Some(g) if g.token.ct_eq(t) => normalize_email(&g.person_email),
                _ => return Ok(ignored("command address with an unknown token")),
            },
            None => c.sender.email.clone(),
        };
        let known = self.person(&email).is_some() || store.person_state(&email)?.is_some();
        if !known {
            // No answer: mail to digest@ from strangers is mostly spam (no backscatter).
            return Ok(ignored("command from an address that gets no digest"));
        }
        let person = Sender {
            name: self
                .config
                .person(&email)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| c.sender.name.clone()),
            email: email.clone(),
        };
        let actx = self.context(c);
        let ar = &c.facts.auth_results;
        let trusted = &self.config.inbound.trusted_authserv_ids;
        if token.is_none()
            && !trusted.is_empty()
            && !crate::inbound::authorise::authenticated(ar, trusted, &c.sender.email)
        {
            return self.answer(store, c, &person, Reason::NotAuthenticated.key(), actx);
        }
        let text = &self.body(c).text;
        let cmd = commands::parse(c.facts.subject.as_deref(), text)
            .or_else(|| token.map(|_| Command::Unsubscribe));
        let Some(cmd) = cmd else {
            // "Thanks!" to the command address in answer to a digest: list its items instead.
            if token.is_none() {
                if let Some(outcome) = self.digest_reply(store, c)? {
                    return Ok(outcome);
                }
            }
            return self.answer(store, c, &person, Reason::UnknownCommand.key(), actx);
        };
        match cmd {
            Command::Pause => {
                store.set_paused(&email, true)?;
            }
            Command::Resume => {
                store.set_paused(&email, false)?;
                store.set_unsubscribed(&email, false)?;
                store.clear_schedule_optouts(&email)?;
            }
            Command::Unsubscribe => {
                store.set_unsubscribed(&email, true)?;
            }
            Command::Daily => {
                store.set_frequency_override(&email, Some(Frequency::Daily))?;
            }
            Command::Weekly => {
                store.set_frequency_override(&email, Some(Frequency::Weekly))?;
            }
            Command::DigestNow => match self.digest_now {
                Some(hook) => {
                    if let Err(e) = hook(&email) {
                        tracing::warn!("digest now for {email}: {e}");
                    }
                }
                None => tracing::warn!("digest now for {email}: no sender wired in this process"),
            },
        }
        tracing::info!(%email, command = %cmd, "email command applied");
        let key = format!("command-{}", cmd.key());
        self.answer(store, c, &person, &key, actx)
    }

    fn unknown(&self, store: &mut Store, c: &Ctx<'_>) -> Result<Outcome, InboundError> {
        Ok(self
            .digest_reply(store, c)?
            .unwrap_or_else(|| ignored("not addressed to any digestd address")))
    }

    /// A reply without a token in its recipients whose In-Reply-To/References name a digest
    /// digestd sent. A digest of exactly one thread item stands for that item: its token is
    /// used, and the normal checks (sender, expiry) apply. A digest of several items is a reply
    /// to the digest as a whole: the answer lists its items with their reply addresses. `None`
    /// when no digest is referenced.
    fn digest_reply(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
    ) -> Result<Option<Outcome>, InboundError> {
        let referenced = c.msg().map(address::referenced_ids).unwrap_or_default();
        for mid in referenced {
            let Some(delivery) = store.delivery_by_message_id(&mid)? else {
                continue;
            };
            let grants = store.grants_of_delivery(delivery.id)?;
            if let [only] = grants
                .iter()
                .filter(|g| g.thread_id.is_some())
                .collect::<Vec<_>>()
                .as_slice()
            {
                return self.reply(store, c, &only.token).map(Some);
            }
            if normalize_email(&delivery.person_email) != c.sender.email {
                return Ok(Some(ignored("reply to a digest sent to someone else")));
            }
            let mut items = Vec::new();
            for g in grants {
                let (Some(tid), true) = (g.thread_id, g.expires > c.now) else {
                    continue;
                };
                if let Some(t) = store.thread(tid)? {
                    items.push(ItemLink {
                        title: one_line(&t.title),
                        address: format!(
                            "reply+{}@{}",
                            g.token.as_str(),
                            self.addresses.reply_domain
                        ),
                    });
                }
            }
            let mut actx = self.context(c);
            actx.items = items;
            return self
                .answer(store, c, c.sender, Reason::DigestAsWhole.key(), actx)
                .map(Some);
        }
        Ok(None)
    }

    /// Sends the answer `key` to `to`, within the RFC 3834 and once-a-day limits.
    fn answer(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        to: &Sender,
        key: &str,
        actx: AnswerContext,
    ) -> Result<Outcome, InboundError> {
        if let Some(why) = self.may_answer(c) {
            return Ok(ignored(&format!("{key} (not answered: {why})")));
        }
        if !store.record_answer(&to.email, key, c.now.date_naive())? {
            return Ok(ignored(&format!("{key} (already answered today)")));
        }
        match self.send_mail(c, to, key, actx) {
            Ok(()) => Ok(Outcome::Answered { reason: key.into() }),
            Err(AnswerFailure::NotBuilt(e)) => {
                Ok(ignored(&format!("{key} (answer not built: {e})")))
            }
            Err(AnswerFailure::Send(e @ SendError::Permanent(_))) => {
                store.release_answer(&to.email, key, c.now.date_naive())?;
                Ok(ignored(&format!("{key} (answer refused: {e})")))
            }
            Err(AnswerFailure::Send(e)) => {
                // The transport failed for now: the message stays queued and the day's slot is
                // given back, so the retry (with backoff) sends the answer.
                store.release_answer(&to.email, key, c.now.date_naive())?;
                tracing::warn!(id = c.row.id, "answer {key} not sent, retried later: {e}");
                Ok(Outcome::Deferred {
                    next_attempt: c.now + backoff(c.row.attempts),
                    error: format!("{key}: answer not sent: {e}"),
                })
            }
        }
    }

    /// `[inbound] confirm_posts`: tells the sender their reply was posted (the `posted` answer).
    /// Within the RFC 3834 limits but not the once-a-day one (each post is confirmed once); a
    /// confirmation that fails is logged, never retried: the post is what counts.
    fn confirm(&self, c: &Ctx<'_>, actx: AnswerContext) {
        if let Some(why) = self.may_answer(c) {
            tracing::debug!(id = c.row.id, "post not confirmed: {why}");
            return;
        }
        if let Err(e) = self.send_mail(c, c.sender, "posted", actx) {
            tracing::warn!(id = c.row.id, "confirmation of a post not sent: {e}");
        }
    }

    /// Renders the answer `key` in `to`'s locale, builds it (null envelope sender,
    /// Auto-Submitted: auto-replied) and hands it to the answer transport.
    fn send_mail(
        &self,
        c: &Ctx<'_>,
        to: &Sender,
        key: &str,
        actx: AnswerContext,
    ) -> Result<(), AnswerFailure> {
        let person = self.person(&to.email);
        let locale = person.map(|p| p.locale.as_str()).unwrap_or("en");
        let mut actx = actx;
        actx.name = person
            .map(|p| p.name.clone())
            .unwrap_or_else(|| to.name.clone());
        let msg = c
            .msg()
            .ok_or_else(|| AnswerFailure::NotBuilt("the message no longer parses".into()))?;
        let built = self
            .answerer
            .render(locale, key, &actx)
            .and_then(|text| {
                answer::build(
                    &self.config.mail.from,
                    to,
                    &text,
                    msg,
                    &new_message_id(&self.addresses.reply_domain),
                )
            })
            .map_err(|e| AnswerFailure::NotBuilt(e.to_string()))?;
        self.answers
            .send_answer(&built)
            .map_err(AnswerFailure::Send)
    }

    fn context(&self, c: &Ctx<'_>) -> AnswerContext {
        AnswerContext {
            name: c.sender.name.clone(),
            subject: one_line(c.facts.subject.as_deref().unwrap_or("")),
            organisation: one_line(&self.config.organisation),
            max_mb: self.config.inbound.max_message_bytes / (1024 * 1024),
            command_address: self.addresses.command_address(),
            forum_url: self.config.forum_url.clone(),
            ..Default::default()
        }
    }

    /// The configured group `id`, borrowed; a stand-in named after the id when the config no
    /// longer has it (a thread of a group since removed).
    fn group(&self, id: &str) -> Cow<'_, Group> {
        match self.config.group(id) {
            Some(group) => Cow::Borrowed(group),
            None => Cow::Owned(Group::local(id, id)),
        }
    }

    /// Why the message in `c` must not be answered (RFC 3834 and loops; see
    /// [`answer::may_answer`]), if so.
    fn may_answer(&self, c: &Ctx<'_>) -> Option<&'static str> {
        match c.msg() {
            Some(msg) => answer::may_answer(msg, Some(c.sender), &self.addresses),
            None => Some("message not parseable"),
        }
    }

    fn author(&self, email: &str, sender: &Sender) -> Author {
        let name = self
            .person(email)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| sender.name.clone());
        Author {
            email: normalize_email(email),
            name: one_line(&name),
        }
    }
}

/// Why an answer mail did not go out.
#[derive(Debug, thiserror::Error)]
enum AnswerFailure {
    /// Rendering or building failed.
    #[error("not built: {0}")]
    NotBuilt(String),
    /// The transport failed.
    #[error("not sent: {0}")]
    Send(SendError),
}

/// Per-message values handed between the steps.
struct Ctx<'m> {
    row: &'m Queued,
    /// The message's bytes.
    raw: &'m [u8],
    /// The message parsed again, for the rarer steps that need more of it than its facts
    /// (answers, replies to a digest as a whole): made when first needed.
    reparsed: OnceCell<Option<Message<'m>>>,
    /// What the common steps need of the parsed message.
    facts: &'m MailFacts,
    /// What the person wrote, trimmed: made once, when first needed (or already while the
    /// batch was being stored).
    body: &'m OnceLock<ReplyBody>,
    sender: &'m Sender,
    now: DateTime<Utc>,
    lookups: &'m ReplyLookups,
}

impl<'m> Ctx<'m> {
    /// The message parsed (again: what parsing made first was freed at once); `None` only
    /// for bytes that do not parse, which never reach a `Ctx`.
    fn msg(&self) -> Option<&Message<'m>> {
        self.reparsed
            .get_or_init(|| MessageParser::default().parse(self.raw))
            .as_ref()
    }
}

/// The stored row of a message being processed, without its bytes (the parsed message
/// borrows those).
struct Queued {
    /// Row id.
    id: i64,
    /// Message-ID without angle brackets, if the message had one.
    message_id: Option<String>,
    /// SHA-256 of the raw bytes, hex.
    sha256: String,
    /// Processing attempts so far.
    attempts: u32,
}

impl Queued {
    /// The processing view of a stored row.
    fn of(row: &InboundRow) -> Self {
        Queued {
            id: row.id,
            message_id: row.message_id.clone(),
            sha256: row.sha256.clone(),
            attempts: row.attempts,
        }
    }
}

/// Where the bytes of a message of a batch are.
#[derive(Clone, Copy)]
enum Bytes {
    /// The batch's input at this index (stored by this batch).
    Received(usize),
    /// A row read back from the store at this index (stored before, still queued).
    Loaded(usize),
}

/// What parsing and classifying made of some bytes, before it is tied to a stored row.
enum Parsing<'r> {
    /// Parsed, classified and (for the classes that post or read it) trimmed.
    Parsed(Parsed<'r>),
    /// Not parseable as a mail message.
    NotMail,
    /// Parsing or classifying panicked, with this message.
    Panicked(String),
}

impl<'r> Parsing<'r> {
    /// Where the message of `row` stands: a panic defers it, unparseable bytes end it ignored.
    fn prepared(&self, row: &Queued, now: DateTime<Utc>) -> Prepared<'_, 'r> {
        match self {
            Parsing::Parsed(parsed) => Prepared::Parsed(parsed),
            Parsing::NotMail => Prepared::Done(ignored("not parseable as a mail message")),
            Parsing::Panicked(what) => Prepared::Done(panicked(row, what.clone(), now)),
        }
    }
}

/// Parses and classifies `raw`, and trims it when its class posts or reads what the person
/// wrote (a reply, a new thread, a command; `max_attachment_bytes` as in
/// [`body::reply_body`]). Pure; a panic is caught and reported, never unwound.
fn parse_classify_trim<'r>(
    parser: &MessageParser,
    raw: &'r [u8],
    how: &ParseSettings<'_>,
) -> Parsing<'r> {
    catch_unwind(AssertUnwindSafe(|| match parser.parse(raw) {
        Some(msg) => {
            let (class, sender) = classify_with_sender(&msg, how.addresses);
            let body = OnceLock::new();
            if matches!(
                class,
                Class::Reply { .. } | Class::NewThread { .. } | Class::Command { .. }
            ) {
                let _ = body.set(body::reply_body(&msg, how.max_attachment_bytes));
            }
            Parsing::Parsed(Parsed {
                raw,
                facts: MailFacts::of(&msg, how.read_auth_results),
                class,
                sender,
                body,
            })
        }
        None => Parsing::NotMail,
    }))
    .unwrap_or_else(|panic| Parsing::Panicked(panic_text(panic.as_ref())))
}

/// What [`parse_classify_trim`] needs of the configuration.
#[derive(Debug, Clone, Copy)]
struct ParseSettings<'a> {
    /// digestd's addresses, to classify by.
    addresses: &'a Addresses,
    /// `[inbound] max_attachment_bytes`, for the trimmed body's attachment list.
    max_attachment_bytes: usize,
    /// True in the stricter mode (`trusted_authserv_ids` set).
    read_auth_results: bool,
}

/// What parsing made of each message of a batch, in order, each parsed once by whichever
/// thread takes it first.
type Parsings<'r> = SharedSlots<Parsing<'r>>;

self_cell::self_cell!(
    /// A batch of intakes with what parsing made of them (the parsed messages borrow the
    /// bytes), handed from the reading thread to the storing one.
    struct ParsedBatch {
        owner: Vec<Intake>,
        #[not_covariant]
        dependent: Parsings,
    }
);

/// A batch stored but not yet processed, in a stream of batches: what its insert returned,
/// and the thread syncing its commit to disk (none when nothing was stored).
struct StoredBatch<'scope, T> {
    /// The caller's tag of the batch.
    tag: T,
    /// The intakes with what parsing made of them (shared with the helper parsing them).
    batch: Arc<ParsedBatch>,
    /// The insert's results, in the order of the intakes.
    inserted: Vec<InsertedInbound>,
    /// The sync of the batch's commit.
    syncing: Option<std::thread::ScopedJoinHandle<'scope, Result<(), StoreError>>>,
}

/// Where one message of a batch stands after parsing and classifying.
enum Prepared<'p, 'r> {
    /// Ended already (not parseable, or parsing panicked).
    Done(Outcome),
    /// Parsed and classified (borrowed from where the parsing is kept); handled next.
    Parsed(&'p Parsed<'r>),
}

/// What the common steps (authorising, posting, the answer's context) need of a parsed
/// message, taken from it while it is parsed, so that the parsed message itself is freed at
/// once, by the thread that made it and while it is still in that thread's cache (keeping
/// a batch of parsed messages alive slows parsing by a tenth).
#[derive(Debug, Default)]
struct MailFacts {
    /// The Subject, decoded.
    subject: Option<String>,
    /// The size the message had when received (see [`original_size`]).
    original_size: usize,
    /// The Authentication-Results values, read only in the stricter mode
    /// (`trusted_authserv_ids` set): otherwise they decide nothing.
    auth_results: Vec<String>,
}

impl MailFacts {
    /// The facts of `msg`; its Authentication-Results only when `read_auth_results`.
    fn of(msg: &Message<'_>, read_auth_results: bool) -> Self {
        MailFacts {
            subject: msg.subject().map(str::to_string),
            original_size: original_size(msg),
            auth_results: if read_auth_results {
                auth_results(msg)
            } else {
                Vec::new()
            },
        }
    }
}

/// A message parsed and classified, ready to be handled.
struct Parsed<'r> {
    /// The message's bytes (stored; parsed again by the rarer steps that need more).
    raw: &'r [u8],
    /// What the common steps need of the parsed message.
    facts: MailFacts,
    /// What kind of mail it is.
    class: Class,
    /// Who sent it (as classifying read it).
    sender: Option<Sender>,
    /// What the person wrote, trimmed: already made, or made when first needed.
    body: OnceLock<ReplyBody>,
}

/// What happens to one input message of a batch.
enum Slot {
    /// Nothing to do: the outcome is known.
    Done(Outcome),
    /// Processed: the index of its row.
    Todo(usize),
    /// A copy of the message in an earlier slot (the same Message-ID or bytes).
    SameAs(usize),
}

/// A message whose processing panicked (`what`: the panic's text): deferred, with that text
/// as the reason.
fn panicked(row: &Queued, what: String, now: DateTime<Utc>) -> Outcome {
    tracing::error!(id = row.id, "processing inbound message panicked: {what}");
    Outcome::Deferred {
        next_attempt: now + backoff(row.attempts),
        error: format!("internal error: {what}"),
    }
}

/// The status a message has after `outcome` is recorded.
fn status_after(outcome: &Outcome) -> InboundStatus {
    match outcome {
        Outcome::Posted { .. } => InboundStatus::Posted,
        Outcome::Answered { .. } => InboundStatus::Answered,
        Outcome::Ignored { .. } => InboundStatus::Ignored,
        Outcome::Deferred { .. } => InboundStatus::Queued,
        Outcome::AlreadyDone(s) => *s,
    }
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn ignored(reason: &str) -> Outcome {
    Outcome::Ignored {
        reason: reason.to_string(),
    }
}

/// The idempotency key handed to the forum: the Message-ID, or the SHA-256 when there is none.
fn idempotency_key(row: &Queued) -> String {
    match &row.message_id {
        Some(m) if !m.is_empty() => m.clone(),
        _ => format!("sha256:{}", row.sha256),
    }
}

/// Size of the message as received (the truncation marker's value when only a part was stored).
fn original_size(msg: &Message<'_>) -> usize {
    let stored = msg.raw_message().len();
    raw_headers::values(msg, TRUNCATED_HEADER)
        .next()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(stored, |n| n.max(stored))
}

/// Raw Authentication-Results values, top (newest) first.
pub fn auth_results(msg: &Message<'_>) -> Vec<String> {
    raw_headers::values(msg, "Authentication-Results")
        .map(str::to_string)
        .collect()
}

/// Title of a thread opened by mail: the subject without `Fwd:`-style prefixes, else the first
/// line of the body, at most 120 characters.
pub fn thread_title(subject: Option<&str>, body: &ReplyBody) -> String {
    let mut s = one_line(subject.unwrap_or(""));
    loop {
        let lower = s.to_lowercase();
        let cut = ["fwd:", "fw:", "re:", "tr:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start().to_string(),
            None => break,
        }
    }
    if s.is_empty() {
        s = one_line(
            body.text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(""),
        );
    }
    if s.is_empty() {
        s = "(no subject)".into();
    }
    s.chars().take(120).collect()
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

    #[test]
    fn thread_titles_drop_forward_prefixes_and_fall_back_to_the_body() {
        let body = ReplyBody {
            text: "\n  First line here\nsecond".into(),
            attachments: vec![],
        };
        assert_eq!(thread_title(Some("Fwd: RE: Parking\r\n"), &body), "Parking");
        assert_eq!(thread_title(Some("  "), &body), "First line here");
        assert_eq!(thread_title(None, &ReplyBody::default()), "(no subject)");
        assert_eq!(thread_title(Some(&"x".repeat(300)), &body).len(), 120);
    }
}
