//! Confirmation requests (what a mail without a token asked for, waiting for the person's
//! reply) and the time of each person's last `digest now`.
//!
//! Requests are found by the SHA-256 of their token, then the stored token is compared with
//! the presented one in constant time (as reply tokens are). What a request carries out is
//! stored as plain text (`action`, `detail`); `crate::inbound::confirm` gives it meaning.
//! Marking a request done is one conditional update, so it is carried out at most once.

use super::db::{params, Exec};
use chrono::{DateTime, Duration, Utc};

use super::tokens::token_hash;
use super::{from_db, to_db, Store, StoreError};
use crate::model::{normalize_email, ReplyToken};

/// Requests expired this long ago are deleted when a new one is stored.
const KEEP_EXPIRED: Duration = Duration::days(30);

/// A confirmation request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRow {
    /// The one-time token.
    pub token: ReplyToken,
    /// Who must answer (normalised address).
    pub person_email: String,
    /// `new-thread` or `command`.
    pub action: String,
    /// The group id, or the command's key.
    pub detail: String,
    /// The stored inbound message that asked for it.
    pub inbound_id: i64,
    /// When the request was made.
    pub created: DateTime<Utc>,
    /// When it can no longer be answered.
    pub expires: DateTime<Utc>,
    /// When it was carried out, if it was.
    pub done: Option<DateTime<Utc>>,
}

impl Store {
    /// Stores a confirmation request (and deletes requests expired more than 30 days ago).
    pub fn insert_confirmation(&mut self, row: &ConfirmationRow) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "DELETE FROM confirmations WHERE expires < ?1",
                params![to_db(row.created - KEEP_EXPIRED)?],
            )?;
            tx.execute(
                "INSERT INTO confirmations (token, token_sha256, person_email, action, detail,
                    inbound_id, created, expires, done)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    row.token.as_str(),
                    token_hash(row.token.as_str()),
                    normalize_email(&row.person_email),
                    row.action,
                    row.detail,
                    row.inbound_id,
                    to_db(row.created)?,
                    to_db(row.expires)?,
                    row.done.map(to_db).transpose()?,
                ],
            )?;
            Ok(())
        })
    }

    /// The request made with `token`, if any (done and expired ones included: the caller
    /// decides).
    pub fn confirmation(&self, token: &ReplyToken) -> Result<Option<ConfirmationRow>, StoreError> {
        let row = self.db.query_opt(
            "SELECT token, person_email, action, detail, inbound_id, created, expires, done
             FROM confirmations WHERE token_sha256 = ?1",
            params![token_hash(token.as_str())],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                    r.get::<i64>(4)?,
                    r.get::<i64>(5)?,
                    r.get::<i64>(6)?,
                    r.get::<Option<i64>>(7)?,
                ))
            },
        )?;
        let Some((text, person_email, action, detail, inbound_id, created, expires, done)) = row
        else {
            return Ok(None);
        };
        let stored = ReplyToken::parse(&text).ok_or(StoreError::BadValue {
            column: "confirmations.token",
            value: "(not a token)".into(),
        })?;
        if !stored.ct_eq(token) {
            return Ok(None);
        }
        Ok(Some(ConfirmationRow {
            token: stored,
            person_email,
            action,
            detail,
            inbound_id,
            created: from_db(created),
            expires: from_db(expires),
            done: done.map(from_db),
        }))
    }

    /// Marks the request made with `token` done at `now`; false when it was done already (then
    /// the caller must not carry it out again).
    pub fn mark_confirmation_done(
        &self,
        token: &ReplyToken,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.db.execute(
            "UPDATE confirmations SET done = ?1 WHERE token_sha256 = ?2 AND done IS NULL",
            params![to_db(now)?, token_hash(token.as_str())],
        )?;
        Ok(n == 1)
    }

    /// Deletes the request made with `token` (its mail could not be sent).
    pub fn delete_confirmation(&self, token: &ReplyToken) -> Result<(), StoreError> {
        self.db.execute(
            "DELETE FROM confirmations WHERE token_sha256 = ?1",
            params![token_hash(token.as_str())],
        )?;
        Ok(())
    }

    /// How many requests went to `email` since `since`.
    pub fn confirmations_since(
        &self,
        email: &str,
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let n: i64 = self.db.query_row(
            "SELECT count(*) FROM confirmations WHERE person_email = ?1 AND created >= ?2",
            params![normalize_email(email), to_db(since)?],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// When `email` last had a `digest now` carried out, if ever.
    pub fn last_digest_now(&self, email: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<i64> = self.db.query_opt(
            "SELECT at FROM digest_now_requests WHERE email = ?1",
            params![normalize_email(email)],
            |r| r.get(0),
        )?;
        Ok(at.map(from_db))
    }

    /// Records that `email` had a `digest now` carried out at `at`.
    pub fn record_digest_now(&self, email: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO digest_now_requests (email, at) VALUES (?1, ?2)
             ON CONFLICT (email) DO UPDATE SET at = excluded.at",
            params![normalize_email(email), to_db(at)?],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::each_store;

    fn row(now: DateTime<Utc>) -> ConfirmationRow {
        ConfirmationRow {
            token: ReplyToken::generate(),
            person_email: "Ann@Example.org".into(),
            action: "command".into(),
            detail: "unsubscribe".into(),
            inbound_id: 3,
            created: now,
            expires: now + Duration::hours(48),
            done: None,
        }
    }

    #[test]
    fn stored_found_by_token_done_once_counted_and_deleted() {
        each_store(|mut store| {
            let now = DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
            let r = row(now);
            store.insert_confirmation(&r).expect("insert");
            let found = store.confirmation(&r.token).expect("read").expect("found");
            assert_eq!(found.person_email, "ann@example.org");
            assert_eq!(
                (found.created, found.expires, found.done),
                (now, r.expires, None)
            );
            assert_eq!(
                store.confirmation(&ReplyToken::generate()).expect("read"),
                None
            );
            assert!(store.mark_confirmation_done(&r.token, now).expect("mark"));
            assert!(!store.mark_confirmation_done(&r.token, now).expect("again"));
            let done = store.confirmation(&r.token).expect("read").expect("found");
            assert_eq!(done.done, Some(now));
            assert_eq!(
                store
                    .confirmations_since("ann@example.org", now - Duration::hours(1))
                    .expect("count"),
                1
            );
            assert_eq!(
                store
                    .confirmations_since("ann@example.org", now + Duration::hours(1))
                    .expect("count"),
                0
            );
            store.delete_confirmation(&r.token).expect("delete");
            assert_eq!(store.confirmation(&r.token).expect("read"), None);
            // A request made long after another's expiry clears the old one out.
            let old = row(now);
            store.insert_confirmation(&old).expect("insert");
            store
                .insert_confirmation(&row(now + Duration::days(40)))
                .expect("insert");
            assert_eq!(store.confirmation(&old.token).expect("read"), None);
        });
    }

    #[test]
    fn digest_now_times_are_kept_per_person() {
        each_store(|store| {
            let t = DateTime::from_timestamp(1_800_000_000, 0).expect("instant");
            assert_eq!(
                store.last_digest_now("ann@example.org").expect("read"),
                None
            );
            store
                .record_digest_now("Ann@example.org", t)
                .expect("record");
            store
                .record_digest_now("ann@example.org", t + Duration::minutes(90))
                .expect("record");
            assert_eq!(
                store.last_digest_now("ANN@example.org").expect("read"),
                Some(t + Duration::minutes(90))
            );
            assert_eq!(
                store.last_digest_now("bob@example.org").expect("read"),
                None
            );
        });
    }
}
