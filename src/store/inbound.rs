//! Inbound messages as stored before anything else happens, and the answers-per-day limit.
//!
//! **Invariant:** a message is stored (raw bytes, Message-ID, SHA-256) first; it leaves `queued`
//! only as `posted`, `answered`, `ignored` or `failed`, each with its reason. The same bytes or the
//! same Message-ID stored twice is one row (Reply-All copies, MTA redeliveries).
//!
//! Only the basics live here; the pipeline that drives them is `crate::inbound`.

use std::collections::HashMap;
use std::fmt;

use super::db::{params, Exec, Param, Row, Tx, Value};
use chrono::{DateTime, NaiveDate, Utc};

use super::deliveries::bare_message_id;
use super::{from_db, now_db, to_db, Store, StoreError};

/// Where an inbound message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboundStatus {
    /// Stored, not yet done (or waiting for a retry).
    Queued,
    /// Posted to the forum.
    Posted,
    /// Refused, and the sender got an answer saying why.
    Answered,
    /// Deliberately dropped (auto-reply, bounce, loop), reason recorded.
    Ignored,
    /// Given up on (reason recorded).
    Failed,
}

impl InboundStatus {
    /// Text stored in SQLite.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundStatus::Queued => "queued",
            InboundStatus::Posted => "posted",
            InboundStatus::Answered => "answered",
            InboundStatus::Ignored => "ignored",
            InboundStatus::Failed => "failed",
        }
    }

    /// Parses stored text.
    pub fn parse(s: &str) -> Option<InboundStatus> {
        Some(match s {
            "queued" => InboundStatus::Queued,
            "posted" => InboundStatus::Posted,
            "answered" => InboundStatus::Answered,
            "ignored" => InboundStatus::Ignored,
            "failed" => InboundStatus::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for InboundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Store::insert_inbound`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsertedInbound {
    /// Row id (of the existing row when a duplicate).
    pub id: i64,
    /// True when the same bytes or Message-ID were already stored; nothing was inserted.
    pub duplicate: bool,
}

/// A received message to store with [`Store::insert_inbound_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewInbound<'a> {
    /// Bytes to store.
    pub raw: &'a [u8],
    /// Message-ID (brackets allowed), if the message has one.
    pub message_id: Option<&'a str>,
    /// SHA-256 (hex) of the message as received.
    pub sha256: &'a str,
}

/// Where a processed message ends, for [`Store::finish_inbound_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundEnd<'a> {
    /// Posted; the forum's id of the post, its link (empty: none given) and its group.
    Posted(&'a str, &'a str, &'a str),
    /// Answered, ignored or failed, with the reason.
    Done(InboundStatus, Option<&'a str>),
    /// Still queued, not to be retried before the instant; the reason.
    Deferred(DateTime<Utc>, &'a str),
}

/// One stored inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRow {
    /// Row id.
    pub id: i64,
    /// Message-ID without angle brackets, if the message had one.
    pub message_id: Option<String>,
    /// SHA-256 of the raw bytes, hex.
    pub sha256: String,
    /// The message as received.
    pub raw: Vec<u8>,
    /// When it was stored.
    pub received: DateTime<Utc>,
    /// How it came in (`stdin`, `maildir`, `imap`).
    pub source: String,
    /// Where it stands.
    pub status: InboundStatus,
    /// Why it stands there.
    pub reason: Option<String>,
    /// Processing attempts so far.
    pub attempts: u32,
    /// Not to be retried before this instant.
    pub next_attempt: Option<DateTime<Utc>>,
    /// Forum id of the post it became.
    pub posted_remote_id: Option<String>,
    /// Link to the post it became, when the forum gave one.
    pub posted_url: Option<String>,
    /// The worker that holds it, or held it last (`None`: never held).
    pub claimed_by: Option<String>,
    /// When that worker's lease ends (`None`: not held).
    pub lease_until: Option<DateTime<Utc>>,
}

/// `SELECT` of the columns of [`InboundRow`] from the stored messages with their bytes,
/// then `$rest` (a fixed statement, not one built per call).
macro_rules! select_inbound {
    ($rest:literal) => {
        concat!(
            "SELECT m.id, m.message_id, m.sha256, r.raw, m.received, m.source, m.status, ",
            "m.reason, m.attempts, m.next_attempt, m.posted_remote_id, m.posted_url, ",
            "m.claimed_by, m.lease_until ",
            "FROM inbound_messages m JOIN inbound_raw r ON r.id = m.id ",
            $rest
        )
    };
}

const SET_STATUS: &str = "UPDATE inbound_messages SET status = ?2, reason = ?3 WHERE id = ?1";
const SET_POSTED: &str = "UPDATE inbound_messages SET status = 'posted', reason = NULL,
     posted_remote_id = ?2, posted_url = NULLIF(?3, ''), posted_group_id = NULLIF(?4, ''),
     next_attempt = NULL WHERE id = ?1";
const DEFER: &str = "UPDATE inbound_messages SET status = 'queued', attempts = attempts + 1,
     next_attempt = ?2, reason = ?3, lease_until = NULL WHERE id = ?1";

fn inbound_from_row(r: &Row) -> Result<(InboundRow, String), StoreError> {
    Ok((
        InboundRow {
            id: r.get(0)?,
            message_id: r.get(1)?,
            sha256: r.get(2)?,
            raw: r.get(3)?,
            received: from_db(r.get(4)?),
            source: r.get(5)?,
            status: InboundStatus::Queued,
            reason: r.get(7)?,
            attempts: r.get(8)?,
            next_attempt: r.get::<Option<i64>>(9)?.map(from_db),
            posted_remote_id: r.get(10)?,
            posted_url: r.get(11)?,
            claimed_by: r.get(12)?,
            lease_until: r.get::<Option<i64>>(13)?.map(from_db),
        },
        r.get(6)?,
    ))
}

fn finish((mut row, status): (InboundRow, String)) -> Result<InboundRow, StoreError> {
    row.status = InboundStatus::parse(&status).ok_or(StoreError::BadValue {
        column: "inbound_messages.status",
        value: status,
    })?;
    Ok(row)
}

/// The lookup key of a (bare) Message-ID: the first 8 bytes of its SHA-256, as a signed
/// integer. Collisions only cost a second comparison: lookups also compare the text.
pub(crate) fn message_id_hash(bare: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bare.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// Migration 4: gives every row with a Message-ID written before it its hash.
pub(crate) fn backfill_message_id_hashes(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, message_id FROM inbound_messages WHERE message_id IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update =
        tx.prepare("UPDATE inbound_messages SET message_id_hash = ?1 WHERE id = ?2")?;
    for (id, mid) in rows {
        update.execute(rusqlite::params![message_id_hash(&mid), id])?;
    }
    Ok(())
}

/// A message of a batch to be stored as a new row with id `id`.
struct NewRow<'b, 'm> {
    id: i64,
    message: &'b NewInbound<'m>,
    /// The bare Message-ID and its [`message_id_hash`], when it has one.
    message_id: Option<(&'m str, i64)>,
}

/// Rows written by one multi-row statement (SQLite allows 32,766 parameters a statement; the
/// widest here takes 4 a row, plus 4).
const ROWS_A_STATEMENT: usize = 64;

/// Message-IDs looked up by one statement.
const IDS_A_LOOKUP: usize = 128;

/// The first stored row of each of `message_ids` (with their hashes) that is stored: looked
/// up by hash, [`IDS_A_LOOKUP`] at a time, then matched on the text.
fn stored_message_ids<'m>(
    tx: &mut Tx<'_>,
    message_ids: &[Option<(&'m str, i64)>],
) -> Result<HashMap<&'m str, i64>, StoreError> {
    let wanted: HashMap<&'m str, i64> = message_ids.iter().flatten().copied().collect();
    let hashes: Vec<i64> = wanted.values().copied().collect();
    let mut found: HashMap<&'m str, i64> = HashMap::new();
    if hashes.is_empty() {
        return Ok(found);
    }
    let marks = vec!["?"; IDS_A_LOOKUP].join(", ");
    let lookup = format!(
        "SELECT message_id, MIN(id) FROM inbound_messages
         WHERE message_id_hash IN ({marks}) GROUP BY message_id"
    );
    for chunk in hashes.chunks(IDS_A_LOOKUP) {
        // A short last chunk repeats its last hash: one statement for every chunk.
        let bound: Vec<Value> = (0..IDS_A_LOOKUP)
            .map(|i| Value::Int(chunk.get(i).or(chunk.last()).copied().unwrap_or_default()))
            .collect();
        for row in tx.rows(&lookup, &bound)? {
            let mid: Option<String> = row.get(0)?;
            let id: i64 = row.get(1)?;
            if let Some((&key, _)) = mid.as_deref().and_then(|m| wanted.get_key_value(m)) {
                found.insert(key, id);
            }
        }
    }
    Ok(found)
}

/// Who stores a batch: the worker, and the instant (unix nanoseconds) until which it holds
/// the new rows.
#[derive(Debug, Clone, Copy)]
struct Storer<'w> {
    worker: &'w str,
    lease_until: i64,
}

/// Writes `rows` (queued, received at `received` from `source`, held by `storer`) and their raw
/// bytes, many to a statement.
///
/// Each new row is written already claimed by the worker that stores it (`claimed_by`,
/// `lease_until`), so that processing it right after needs no second write of the row; a
/// worker that dies before it has finished leaves a lease that expires (see
/// [`super::leases`]).
///
/// `OR FAIL`: a statement that fails keeps the rows it wrote before the failure, which lets
/// SQLite write these statements without a statement journal (with the default `ABORT`, a
/// statement of many rows first copies every page it changes to a temporary file, to undo
/// itself: a third of the insert's time). Nothing partial can be committed: a failure
/// returns here, and the caller's transaction is rolled back when it is dropped.
fn insert_rows(
    tx: &mut Tx<'_>,
    rows: &[NewRow<'_, '_>],
    received: i64,
    source: &str,
    storer: Storer<'_>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_A_STATEMENT) {
        let mut messages = Vec::with_capacity(4 + 4 * chunk.len());
        let mut raw = Vec::with_capacity(2 * chunk.len());
        messages.push(Value::Int(received));
        messages.push(source.value());
        messages.push(storer.worker.value());
        messages.push(Value::Int(storer.lease_until));
        for row in chunk {
            messages.push(Value::Int(row.id));
            messages.push(row.message_id.map(|(mid, _)| mid).value());
            messages.push(row.message_id.map(|(_, hash)| hash).value());
            messages.push(row.message.sha256.value());
            raw.push(Value::Int(row.id));
            raw.push(Value::Blob(row.message.raw.to_vec()));
        }
        tx.run(insert_sql(chunk.len()).messages.as_str(), &messages)?;
        tx.run(insert_sql(chunk.len()).raw.as_str(), &raw)?;
    }
    Ok(())
}

/// The two inserts of `n` rows, built once per process for each `n` up to
/// [`ROWS_A_STATEMENT`].
struct InsertSql {
    /// Into `inbound_messages`: `?1` received, `?2` source, `?3` the storing worker, `?4` the
    /// end of its lease, then id, Message-ID, its hash and SHA-256 for each row.
    messages: String,
    /// Into `inbound_raw`: id and bytes for each row.
    raw: String,
}

/// The inserts of `n` rows (1 ..= [`ROWS_A_STATEMENT`]).
fn insert_sql(n: usize) -> &'static InsertSql {
    static BUILT: std::sync::OnceLock<Vec<InsertSql>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        (1..=ROWS_A_STATEMENT)
            .map(|n| InsertSql {
                messages: insert_messages_sql(n),
                raw: insert_raw_sql(n),
            })
            .collect()
    });
    &built[n.clamp(1, ROWS_A_STATEMENT) - 1]
}

/// The insert of `n` queued rows held by a worker (see [`InsertSql::messages`]).
fn insert_messages_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let p = 5 + 4 * i;
            format!(
                "(?{p}, ?{}, ?{}, ?{}, ?1, ?2, 'queued', ?3, ?4)",
                p + 1,
                p + 2,
                p + 3
            )
        })
        .collect();
    format!(
        "INSERT OR FAIL INTO inbound_messages (id, message_id, message_id_hash, sha256,
             received, source, status, claimed_by, lease_until) VALUES {}",
        rows.join(", ")
    )
}

/// The insert of `n` rows of raw bytes: id and bytes for each row.
fn insert_raw_sql(n: usize) -> String {
    super::db::many_rows::statement("INSERT OR FAIL INTO inbound_raw (id, raw)", 2, n, "")
}

impl Store {
    /// Stores a received message as `queued`, unless it is already stored (then nothing is
    /// written and the existing row's id comes back as a duplicate). A new row is held by this
    /// worker ([`crate::worker::id`]) for a lease ([`crate::worker::lease`]) from now, so
    /// that no other worker takes it while this one processes it.
    ///
    /// `message_id` must be the one `raw` carries (as [`crate::inbound::receive::message_id`]
    /// reads it): the same bytes carry the same Message-ID, so a message with one is a
    /// duplicate when that Message-ID is stored (a redelivery, a Reply-All copy), and a message
    /// without one when the same `sha256` is stored without one.
    pub fn insert_inbound(
        &mut self,
        raw: &[u8],
        message_id: Option<&str>,
        sha256: &str,
        source: &str,
    ) -> Result<InsertedInbound, StoreError> {
        let one = NewInbound {
            raw,
            message_id,
            sha256,
        };
        let mut done = self.insert_inbound_batch(&[one], source)?;
        done.pop().ok_or(StoreError::BadValue {
            column: "inbound_messages.id",
            value: "no row stored".into(),
        })
    }

    /// Stores many received messages in one transaction, each as [`Store::insert_inbound`]
    /// would (a duplicate of a stored row, or of an earlier message of the batch, is not
    /// inserted). The results come back in input order. All or nothing: when this fails,
    /// none of the batch is stored.
    ///
    /// Durable when it returns: the commit is synced to disk (`synchronous = FULL` for this
    /// transaction), because the caller then tells the source it may let go of the messages
    /// (`digestd receive` exits 0 and the MTA deletes its copy; a Maildir message leaves
    /// `new/`; an IMAP message is moved). The store's other commits keep `NORMAL`, which
    /// survives a crash of digestd but may lose the last commits to a power cut.
    pub fn insert_inbound_batch(
        &mut self,
        messages: &[NewInbound<'_>],
        source: &str,
    ) -> Result<Vec<InsertedInbound>, StoreError> {
        self.synced(|store| store.insert_inbound_batch_tx(messages, source))
    }

    /// Stores many received messages as [`Store::insert_inbound_batch`] does, but commits
    /// without waiting for the disk (`synchronous = NORMAL`): the batch survives a crash of
    /// digestd at once, a power cut only once a [`super::CommitSync`] run after this call has
    /// returned. Nothing may be acted on, and no source told to let go, before that: the
    /// caller overlaps the fsync with other work (see
    /// [`crate::inbound::pipeline::Pipeline::receive_batches`]).
    pub fn insert_inbound_batch_unsynced(
        &mut self,
        messages: &[NewInbound<'_>],
        source: &str,
    ) -> Result<Vec<InsertedInbound>, StoreError> {
        self.insert_inbound_batch_tx(messages, source)
    }

    fn insert_inbound_batch_tx(
        &mut self,
        messages: &[NewInbound<'_>],
        source: &str,
    ) -> Result<Vec<InsertedInbound>, StoreError> {
        self.db
            .write(|tx| Self::insert_inbound_batch_in(tx, messages, source))
    }

    fn insert_inbound_batch_in(
        tx: &mut Tx<'_>,
        messages: &[NewInbound<'_>],
        source: &str,
    ) -> Result<Vec<InsertedInbound>, StoreError> {
        let received = now_db();
        // Held by this worker from the start: processing it right after storing it needs no
        // claim (one write less a message).
        let storer = Storer {
            worker: crate::worker::id(),
            lease_until: to_db(crate::worker::lease_until(Utc::now()))?,
        };
        // The same bytes carry the same Message-ID, so a message with one is looked up by it
        // alone, and only a message without one by its SHA-256 (see migration 4).
        let keys: Vec<Option<(&str, i64)>> = messages
            .iter()
            .map(|m| {
                let mid = m.message_id.map(bare_message_id).filter(|m| !m.is_empty());
                mid.map(|mid| (mid, message_id_hash(mid)))
            })
            .collect();
        let stored = stored_message_ids(tx, &keys)?;
        // New rows get the ids SQLite would give them (the table has no AUTOINCREMENT and
        // rows are never deleted), so that they can be written many to a statement.
        let mut next_id: i64 = tx.query_row(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM inbound_messages",
            params![],
            |r| r.get(0),
        )?;
        let mut in_batch_mid: HashMap<&str, i64> = HashMap::new();
        let mut in_batch_sha: HashMap<&str, i64> = HashMap::new();
        let mut out = Vec::with_capacity(messages.len());
        let mut new_rows: Vec<NewRow<'_, '_>> = Vec::with_capacity(messages.len());
        for (m, mid) in messages.iter().zip(&keys) {
            let existing = match *mid {
                Some((mid, _)) => stored.get(mid).or(in_batch_mid.get(mid)).copied(),
                None => match in_batch_sha.get(m.sha256) {
                    Some(&id) => Some(id),
                    None => tx.query_row(
                        "SELECT MIN(id) FROM inbound_messages
                         WHERE message_id IS NULL AND sha256 = ?1",
                        params![m.sha256],
                        |r| r.get(0),
                    )?,
                },
            };
            let id = existing.unwrap_or_else(|| {
                let id = next_id;
                next_id += 1;
                match *mid {
                    Some((mid, _)) => in_batch_mid.insert(mid, id),
                    None => in_batch_sha.insert(m.sha256, id),
                };
                new_rows.push(NewRow {
                    id,
                    message: m,
                    message_id: *mid,
                });
                id
            });
            out.push(InsertedInbound {
                id,
                duplicate: existing.is_some(),
            });
        }
        insert_rows(tx, &new_rows, received, source, storer)?;
        Ok(out)
    }

    /// Records where many processed messages ended, in one transaction (see
    /// [`Store::set_inbound_posted`], [`Store::set_inbound_status`], [`Store::defer_inbound`]).
    pub fn finish_inbound_batch(
        &mut self,
        ends: &[(i64, InboundEnd<'_>)],
    ) -> Result<(), StoreError> {
        if ends.is_empty() {
            return Ok(());
        }
        self.db.write(|tx| {
            for (id, end) in ends {
                match *end {
                    InboundEnd::Posted(remote, url, group) => {
                        tx.execute(SET_POSTED, params![id, remote, url, group])?
                    }
                    InboundEnd::Done(s, reason) => {
                        tx.execute(SET_STATUS, params![id, s.as_str(), reason])?
                    }
                    InboundEnd::Deferred(at, reason) => {
                        tx.execute(DEFER, params![id, to_db(at)?, reason])?
                    }
                };
            }
            Ok(())
        })
    }

    /// Moves a message to `status`, recording `reason`.
    pub fn set_inbound_status(
        &self,
        id: i64,
        status: InboundStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db
            .execute(SET_STATUS, params![id, status.as_str(), reason])?;
        Ok(())
    }

    /// Marks a message posted, keeping the forum's id of the new post, its link (`""`: none)
    /// and the group it went to.
    pub fn set_inbound_posted(
        &self,
        id: i64,
        remote_post_id: &str,
        url: &str,
        group_id: &str,
    ) -> Result<(), StoreError> {
        self.db
            .execute(SET_POSTED, params![id, remote_post_id, url, group_id])?;
        Ok(())
    }

    /// Leaves a message queued for a retry not before `next_attempt`, counting the attempt.
    pub fn defer_inbound(
        &self,
        id: i64,
        next_attempt: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.db
            .execute(DEFER, params![id, to_db(next_attempt)?, reason])?;
        Ok(())
    }

    /// Every queued message, oldest first (the caller honours `next_attempt`).
    pub fn queued_inbound(&self) -> Result<Vec<InboundRow>, StoreError> {
        let sql = select_inbound!("WHERE m.status = 'queued' ORDER BY m.id");
        let rows = self.db.query_map(sql, params![], inbound_from_row)?;
        rows.into_iter().map(finish).collect()
    }

    /// The queued messages due for a (re)try at `due` (no `next_attempt`, or one not after it)
    /// that no other worker than `worker` holds at `now` (never held, given back, lease
    /// expired), oldest first, at most `limit`: their ids only (the daemon asks every round,
    /// and reads each message's bytes only when it processes it).
    pub fn due_inbound(
        &self,
        due: DateTime<Utc>,
        worker: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<i64>, StoreError> {
        self.db.query_map(
            "SELECT id FROM inbound_messages
             WHERE status = 'queued' AND (next_attempt IS NULL OR next_attempt <= ?1)
               AND (lease_until IS NULL OR lease_until < ?3 OR claimed_by = ?2)
             ORDER BY id LIMIT ?4",
            params![to_db(due)?, worker, to_db(now)?, limit as i64],
            |r| r.get(0),
        )
    }

    /// One stored message.
    pub fn inbound(&self, id: i64) -> Result<Option<InboundRow>, StoreError> {
        let sql = select_inbound!("WHERE m.id = ?1");
        let row = self.db.query_opt(sql, params![id], inbound_from_row)?;
        row.map(finish).transpose()
    }

    /// Records that `address` got an answer for `reason` on `day`; false when it already had one
    /// that day (then no second answer may go out).
    pub fn record_answer(
        &self,
        address: &str,
        reason: &str,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        self.answer_slot(
            "INSERT INTO answers_sent (address, reason, day) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            address,
            reason,
            day,
        )
    }

    /// Gives back the slot [`Store::record_answer`] took, when the answer could not be sent:
    /// the retry may answer the same day.
    pub fn release_answer(
        &self,
        address: &str,
        reason: &str,
        day: NaiveDate,
    ) -> Result<(), StoreError> {
        self.answer_slot(
            "DELETE FROM answers_sent WHERE address = ?1 AND reason = ?2 AND day = ?3",
            address,
            reason,
            day,
        )
        .map(|_| ())
    }

    /// Runs `sql` on the (address, reason, day) slot; true when it changed one row.
    fn answer_slot(
        &self,
        sql: &str,
        address: &str,
        reason: &str,
        day: NaiveDate,
    ) -> Result<bool, StoreError> {
        Ok(self.db.execute(
            sql,
            params![
                crate::model::normalize_email(address),
                reason,
                day.format("%Y-%m-%d").to_string()
            ],
        )? == 1)
    }
}

#[cfg(test)]
mod tests;
