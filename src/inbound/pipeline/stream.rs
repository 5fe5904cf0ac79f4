//! The stream of batches: each batch stored, parsed on a helper thread while the one before is
//! synced to disk, then processed in order, with the outcomes of a batch recorded at once.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{TryRecvError, TrySendError};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;

use super::outcome::{panic_text, panicked, status_after, Outcome};
use super::parse::{parse_classify_trim, Parsed, Parsing, Parsings, Prepared, Queued};
use super::{InboundError, Pipeline};
use crate::inbound::classify::Class;
use crate::inbound::receive::Intake;
use crate::model::ReplyToken;
use crate::store::inbound::{InboundEnd, NewInbound};
use crate::store::{InboundRow, InboundStatus, InsertedInbound, Store, StoreError};

impl<'a> Pipeline<'a> {
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
                // Its new rows are held by this worker from (about) now: the insert leases them.
                let stored_at = std::time::Instant::now();
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
                            stored_at,
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
            stored_at,
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
                self.process_stored(store, intakes, inserted, stored_at, parsed, Utc::now())
            })
        });
        let _ = spent.send(batch);
        on_batch(tag, done?);
        Ok(())
    }

    /// Processes a batch just stored (`inserted`, in the order of `intakes`, the insert begun
    /// at `stored_at`), with what parsing already made of each intake (`None`: parsed here),
    /// and records where each message ended (see [`Pipeline::receive_batch`]).
    ///
    /// The rows the insert wrote are held by this worker already (the insert leased them):
    /// they are claimed again only when a third of that lease has passed. Rows stored before
    /// (duplicates still queued) are claimed: another worker may hold them.
    pub(super) fn process_stored<'r>(
        &self,
        store: &mut Store,
        intakes: &'r [Intake],
        inserted: Vec<InsertedInbound>,
        stored_at: std::time::Instant,
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

        // Held by this worker: the rows this batch stored, from their insert (claimed again
        // when a third of that lease has passed); rows stored before are claimed, and one
        // another worker is processing right now stays theirs (not reported here; it is
        // queued until they finish it).
        let mut held: HashSet<i64> = HashSet::new();
        let inserted_held = !crate::worker::renewal_due(stored_at);
        let mut renewed = if inserted_held {
            stored_at
        } else {
            std::time::Instant::now()
        };
        if failure.is_none() && !rows.is_empty() {
            let mut to_claim: Vec<i64> = Vec::new();
            for (row, bytes) in &rows {
                match bytes {
                    Bytes::Received(_) if inserted_held => {
                        held.insert(row.id);
                    }
                    _ => to_claim.push(row.id),
                }
            }
            if !to_claim.is_empty() {
                let t = Utc::now();
                let until = crate::worker::lease_until(t);
                match store.claim_inbound(&to_claim, crate::worker::id(), t, until) {
                    Ok(claimed) => held.extend(claimed),
                    Err(e) => failure = Some(e.into()),
                }
            }
        }

        // Then each message in turn (none when the lookups failed: all stay queued).
        let mut outcomes: Vec<Option<Outcome>> = vec![None; rows.len()];
        if failure.is_none() {
            for (i, ((row, _), prep)) in rows.iter().zip(prepared).enumerate() {
                if !held.contains(&row.id) {
                    continue;
                }
                if crate::worker::renewal_due(renewed) {
                    let rest: Vec<i64> = rows[i..].iter().map(|(r, _)| r.id).collect();
                    let until = crate::worker::lease_until(Utc::now());
                    if let Err(e) = store.renew_inbound(&rest, crate::worker::id(), until) {
                        failure = Some(e.into());
                        break;
                    }
                    renewed = std::time::Instant::now();
                }
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
                    Outcome::Posted {
                        remote_post_id,
                        url,
                        group_id,
                    } => InboundEnd::Posted(remote_post_id, url, group_id),
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
}

/// Where the bytes of a message of a batch are.
#[derive(Clone, Copy)]
enum Bytes {
    /// The batch's input at this index (stored by this batch).
    Received(usize),
    /// A row read back from the store at this index (stored before, still queued).
    Loaded(usize),
}

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
    /// When the insert began (its new rows are leased to this worker from then).
    stored_at: std::time::Instant,
    /// The sync of the batch's commit.
    syncing: Option<std::thread::ScopedJoinHandle<'scope, Result<(), StoreError>>>,
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
