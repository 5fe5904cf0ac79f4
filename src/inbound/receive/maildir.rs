//! A Maildir watched by the daemon (`[inbound] maildir = PATH`): the messages in `new/` are
//! stored (a batch of them in one transaction), processed (their ends recorded in one more
//! transaction), then moved to `cur/` with the Seen flag (`:2,S`).
//!
//! **Invariant:** a message is moved out of `new/` only after it is stored. A crash between
//! storing and moving leaves it in `new/`; the next drain finds it already stored (same bytes)
//! and only finishes it, so it never becomes two posts.

use std::path::{Path, PathBuf};

use super::{prepare_bytes, Intake};
use crate::inbound::pipeline::{InboundError, Pipeline, Report};
use crate::store::{Store, StoreError};

/// Most messages stored in one transaction and finished in one more. Each batch's commit is
/// synced to disk (one fsync, about 2 ms on the development VM), so a burst of small replies
/// goes faster in larger batches; [`BATCH_BYTES`] bounds the memory a batch holds.
pub const BATCH: usize = 1024;
/// A batch is closed once its messages hold this many bytes (at most one more message over).
pub const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Errors that stop a drain (the messages not yet taken stay in `new/`).
#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    /// The Maildir could not be created or listed.
    #[error("maildir {}: {source}", .path.display())]
    Io {
        /// The Maildir root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store refused a message.
    #[error("storing a message from the maildir: {0}")]
    Store(#[from] StoreError),
    /// Processing hit the store.
    #[error(transparent)]
    Pipeline(#[from] InboundError),
}

/// What one drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaildirReport {
    /// Messages taken from `new/` (stored and moved to `cur/`).
    pub taken: usize,
    /// Of those, already stored before (a redelivery or a crash before the move).
    pub duplicates: usize,
    /// Messages left in `new/` because they could not be read or moved.
    pub left: usize,
    /// What processing did.
    pub processed: Report,
}

/// Takes up to `limit` messages from `dir/new`, stores and processes them in batches, and moves
/// each batch to `cur/` once it is stored and processed.
pub fn drain_maildir(
    dir: &Path,
    store: &mut Store,
    pipeline: &Pipeline<'_>,
    limit: usize,
) -> Result<MaildirReport, MaildirError> {
    let md = maildir::Maildir::from(dir.to_path_buf());
    md.create_dirs().map_err(|source| MaildirError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for e in md.list_new() {
        match e {
            Ok(e) => entries.push((e.id().to_string(), e.path().clone())),
            Err(err) => tracing::warn!("maildir {}: {err}", dir.display()),
        }
    }
    // Oldest first: Maildir unique names start with the delivery time.
    entries.sort();
    let mut report = MaildirReport::default();
    let mut pending = entries.into_iter().take(limit).peekable();
    // Batches are read (and hashed, parsed, classified, trimmed) on a helper thread while the
    // one before is stored and processed here (see Pipeline::receive_batches). Each carries
    // the names of its files and how many could not be read.
    let batches = std::iter::from_fn(move || {
        pending.peek()?;
        let (read, intakes, unreadable) = read_batch(&mut pending);
        Some(((read, unreadable), intakes))
    });
    // A store failure stops the drain, and the batch stays in new/: the next drain finds what
    // was stored (same bytes) and only finishes it.
    pipeline.receive_batches(
        store,
        batches,
        "maildir",
        |(read, unreadable): (Vec<String>, usize), done| {
            report.left += unreadable;
            for (inserted, outcome) in &done {
                if inserted.duplicate {
                    report.duplicates += 1;
                }
                report.processed.count(outcome);
            }
            for id in read {
                match md.move_new_to_cur_with_flags(&id, "S") {
                    Ok(()) => report.taken += 1,
                    Err(err) => {
                        tracing::warn!("maildir: moving {id} to cur/: {err}");
                        report.left += 1;
                    }
                }
            }
        },
    )?;
    Ok(report)
}

/// Reads the next batch from `pending`: up to [`BATCH`] messages or [`BATCH_BYTES`] of them,
/// whichever comes first. Returns the unique names read, their intakes, and how many files
/// could not be read (they stay in `new/`, logged).
fn read_batch(
    pending: &mut impl Iterator<Item = (String, PathBuf)>,
) -> (Vec<String>, Vec<Intake>, usize) {
    let mut read: Vec<String> = Vec::new();
    let mut intakes = Vec::new();
    let mut bytes = 0usize;
    let mut unreadable = 0;
    while read.len() < BATCH && bytes < BATCH_BYTES {
        let Some((id, path)) = pending.next() else {
            break;
        };
        match std::fs::read(&path) {
            Ok(raw) => {
                let intake = prepare_bytes(raw);
                bytes += intake.raw.len();
                read.push(id);
                intakes.push(intake);
            }
            Err(err) => {
                tracing::warn!("maildir message {}: {err}", path.display());
                unreadable += 1;
            }
        }
    }
    (read, intakes, unreadable)
}
