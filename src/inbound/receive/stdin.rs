//! `digestd receive`: one message on stdin from an MTA pipe transport or alias.
//!
//! Exit codes (sysexits): 0 accepted (stored, then posted, answered, ignored or left queued for
//! the daemon's retry), 65 EX_DATAERR only when the input is not mail at all (empty, or no header
//! section), 75 EX_TEMPFAIL when the message could not be stored (config unreadable, store
//! unwritable, read error): the MTA keeps it and retries. Nothing here panics out: a panic
//! before storing maps to 75, after storing to 0 (the message stays queued).
//!
//! Size: up to [`MAX_STORED_BYTES`] is stored whole; beyond that only the header section is
//! stored (with a truncation marker), the rest is read and hashed but dropped, and the sender
//! is answered "too large". Either way the MTA gets 0 and does not bounce.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{looks_like_mail, prepare, store_intake, MAX_STORED_BYTES};
use crate::config::Config;
use crate::store::Store;

/// Accepted (or deliberately dropped).
pub const EX_OK: i32 = 0;
/// Input is not mail at all.
pub const EX_DATAERR: i32 = 65;
/// Could not store: try again later.
pub const EX_TEMPFAIL: i32 = 75;

/// Reads all of `input`: at most `cap` bytes kept, everything hashed and counted.
pub fn read_capped(input: &mut dyn Read, cap: usize) -> std::io::Result<(Vec<u8>, usize, String)> {
    let mut kept = Vec::new();
    let mut hasher = Sha256::new();
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n;
        if kept.len() < cap {
            let take = n.min(cap - kept.len());
            kept.extend_from_slice(&buf[..take]);
        }
    }
    Ok((kept, total, hex::encode(hasher.finalize())))
}

/// `digestd receive` on this process's stdin; `now` stands in for the clock when given.
pub fn receive_stdin_exit_code(config_path: &Path, now: Option<DateTime<Utc>>) -> i32 {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    receive_exit_code(config_path, &mut lock, now)
}

/// `digestd receive` reading `input`, processing at `now` (default: the clock): returns the
/// sysexits code. Never panics.
pub fn receive_exit_code(
    config_path: &Path,
    input: &mut dyn Read,
    now: Option<DateTime<Utc>>,
) -> i32 {
    let stored = catch_unwind(AssertUnwindSafe(|| intake(config_path, input)));
    let (config, mut store, id) = match stored {
        Ok(Ok(v)) => v,
        Ok(Err(code)) => return code,
        Err(_) => {
            eprintln!("digestd receive: internal error before the message was stored");
            return EX_TEMPFAIL;
        }
    };
    let processed = catch_unwind(AssertUnwindSafe(|| {
        crate::inbound::process_stored(&config, &mut store, id, now.unwrap_or_else(Utc::now))
    }));
    match processed {
        Ok(Ok(outcome)) => tracing::info!(id, ?outcome, "received"),
        Ok(Err(e)) => tracing::warn!(id, "stored; processing left for the daemon: {e:#}"),
        Err(_) => tracing::error!(
            id,
            "stored; processing panicked, left queued for the daemon"
        ),
    }
    EX_OK
}

/// Reads, checks and stores; on failure the exit code to return.
fn intake(config_path: &Path, input: &mut dyn Read) -> Result<(Config, Store, i64), i32> {
    let (raw, total, sha) = read_capped(input, MAX_STORED_BYTES).map_err(|e| {
        eprintln!("digestd receive: reading stdin: {e}");
        EX_TEMPFAIL
    })?;
    if let Err(e) = looks_like_mail(&raw) {
        eprintln!("digestd receive: not a mail message: {e}");
        return Err(EX_DATAERR);
    }
    let config = Config::load(config_path).map_err(|e| {
        eprintln!(
            "digestd receive: configuration {}:\n{e}",
            config_path.display()
        );
        EX_TEMPFAIL
    })?;
    // The claim on the message below holds this long (then another worker may retry it).
    crate::worker::set_lease_secs(config.daemon.lease_seconds);
    let mut store = Store::open_at(&config.store_location()).map_err(|e| {
        eprintln!(
            "digestd receive: opening the store {}: {e}",
            config.store_location().display()
        );
        EX_TEMPFAIL
    })?;
    let intake = prepare(raw, total, sha);
    let inserted = store_intake(&mut store, &intake, "stdin").map_err(|e| {
        eprintln!("digestd receive: storing the message: {e}");
        EX_TEMPFAIL
    })?;
    if inserted.duplicate {
        tracing::info!(id = inserted.id, "duplicate delivery: already stored");
    }
    Ok((config, store, inserted.id))
}
