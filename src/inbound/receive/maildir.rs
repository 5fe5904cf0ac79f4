//! A Maildir watched by the daemon (`[inbound] maildir = PATH`): each message in `new/` is
//! stored, processed, then moved to `cur/` with the Seen flag (`:2,S`).
//!
//! **Invariant:** a message is moved out of `new/` only after it is stored. A crash between
//! storing and moving leaves it in `new/`; the next drain finds it already stored (same bytes)
//! and only finishes it, so it never becomes two posts.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{prepare_bytes, store_intake};
use crate::inbound::pipeline::{InboundError, Pipeline, Report};
use crate::store::{InboundStatus, Store, StoreError};

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

/// Takes up to `limit` messages from `dir/new`, stores and processes each, moves it to `cur/`.
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
    for (id, path) in entries.into_iter().take(limit) {
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(err) => {
                tracing::warn!("maildir message {}: {err}", path.display());
                report.left += 1;
                continue;
            }
        };
        let intake = prepare_bytes(raw);
        // A store failure stops the drain: the rest stays in new/ for the next one.
        let inserted = store_intake(store, &intake, "maildir")?;
        if inserted.duplicate {
            report.duplicates += 1;
        }
        let still_queued = store
            .inbound(inserted.id)?
            .is_some_and(|r| r.status == InboundStatus::Queued);
        if still_queued {
            let outcome = pipeline.process_guarded(store, inserted.id, Utc::now())?;
            report.processed.count(&outcome);
        }
        match md.move_new_to_cur_with_flags(&id, "S") {
            Ok(()) => report.taken += 1,
            Err(err) => {
                tracing::warn!("maildir: moving {id} to cur/: {err}");
                report.left += 1;
            }
        }
    }
    Ok(report)
}
