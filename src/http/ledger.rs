//! The one-click unsubscribe write: records the token's nonce as used and unsubscribes the
//! person, in one transaction, so a token works exactly once.
//!
//! **Coupling:** this module owns one table in the store's SQLite file,
//! `unsubscribe_tokens_used`, created with `CREATE TABLE IF NOT EXISTS` by [`ensure_schema`]
//! (outside the store's numbered migrations, so it never changes `user_version`). It opts the
//! person out of the one schedule the link came from through [`Store::opt_out_of_schedule`]
//! (the store's `schedule_optouts` table): their other schedules' digests keep coming.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};

use super::token::UnsubscribeClaim;
use crate::store::{Store, StoreError};

/// The table of used tokens (nonce is the key; instants are unix seconds).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS unsubscribe_tokens_used (
    nonce      TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    schedule   TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    used_at    INTEGER NOT NULL
)";

/// Creates the used-token table when missing.
pub fn ensure_schema(store: &Store) -> Result<(), StoreError> {
    store.conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// What redeeming a (verified) token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    /// The person is now opted out of the token's schedule and the token used up.
    Unsubscribed,
    /// The token was used before: nothing changed.
    AlreadyUsed,
    /// No such person in the store: nothing changed, the token stays unused.
    UnknownPerson,
}

/// True when the token with this nonce has been used.
pub fn is_used(store: &Store, nonce: &str) -> Result<bool, StoreError> {
    Ok(store
        .conn
        .query_row(
            "SELECT 1 FROM unsubscribe_tokens_used WHERE nonce = ?1",
            [nonce],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Uses up a verified token and opts its person out of its schedule, all or nothing.
pub fn redeem(store: &Store, claim: &UnsubscribeClaim) -> Result<Redeemed, StoreError> {
    let tx = store.conn.unchecked_transaction()?;
    let inserted = tx.execute(
        "INSERT INTO unsubscribe_tokens_used (nonce, email, schedule, issued_at, used_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(nonce) DO NOTHING",
        params![
            claim.nonce,
            claim.email,
            claim.schedule,
            claim.issued_at.timestamp(),
            Utc::now().timestamp()
        ],
    )?;
    if inserted == 0 {
        return Ok(Redeemed::AlreadyUsed);
    }
    if !Store::opt_out_of_schedule(&tx, &claim.email, &claim.schedule)? {
        return Ok(Redeemed::UnknownPerson);
    }
    tx.commit()?;
    Ok(Redeemed::Unsubscribed)
}
