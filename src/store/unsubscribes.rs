//! Used one-click unsubscribe tokens (`unsubscribe_tokens_used`) and the unsubscribe write:
//! the token's nonce is recorded as used and the person opted out of the token's schedule in
//! one transaction, so a token works exactly once.
//!
//! The HTTP edge verifies the token's signature (`http::token`) and hands the store what the
//! token says; the store never sees the key.

use super::db::{params, Exec};
use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// What redeeming a (verified) unsubscribe token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    /// The person is now opted out of the token's schedule and the token used up.
    Unsubscribed,
    /// The token was used before: nothing changed.
    AlreadyUsed,
    /// No such person in the store: nothing changed, the token stays unused.
    UnknownPerson,
}

/// What a verified unsubscribe token says, as the store records it.
#[derive(Debug, Clone, Copy)]
pub struct UsedToken<'a> {
    /// The token's nonce (unique per token; the table's key).
    pub nonce: &'a str,
    /// The recipient's address.
    pub email: &'a str,
    /// The schedule key the link came from.
    pub schedule: &'a str,
    /// When the link was made.
    pub issued_at: DateTime<Utc>,
}

impl Store {
    /// True when the unsubscribe token with this nonce has been used.
    pub fn unsubscribe_token_used(&self, nonce: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_opt(
                "SELECT 1 FROM unsubscribe_tokens_used WHERE nonce = ?1",
                params![nonce],
                |_| Ok(()),
            )?
            .is_some())
    }

    /// Uses up a verified token at `now` and opts its person out of its schedule, all or
    /// nothing.
    pub fn redeem_unsubscribe(
        &self,
        token: &UsedToken<'_>,
        now: DateTime<Utc>,
    ) -> Result<Redeemed, StoreError> {
        self.db.write(|tx| {
            let inserted = tx.execute(
                "INSERT INTO unsubscribe_tokens_used (nonce, email, schedule, issued_at, used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(nonce) DO NOTHING",
                params![
                    token.nonce,
                    token.email,
                    token.schedule,
                    token.issued_at.timestamp(),
                    now.timestamp()
                ],
            )?;
            if inserted == 0 {
                return Ok(Redeemed::AlreadyUsed);
            }
            if !Store::opt_out_of_schedule(tx, token.email, token.schedule)? {
                // Nothing is kept for an unknown person: the token stays unused.
                tx.execute(
                    "DELETE FROM unsubscribe_tokens_used WHERE nonce = ?1",
                    params![token.nonce],
                )?;
                return Ok(Redeemed::UnknownPerson);
            }
            Ok(Redeemed::Unsubscribed)
        })
    }
}
