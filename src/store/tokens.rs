//! Reply tokens: what each token found in a reply address grants.
//!
//! Tokens are written with their digest (see [`Store::insert_pending_delivery`]) and only read
//! here. The lookup is by the SHA-256 of the token (no SQL compares the secret itself), then the
//! stored token is compared with the presented one with [`ReplyToken::ct_eq`]. The caller checks
//! expiry and the sender.

use std::collections::HashMap;

use chrono::Utc;
use rusqlite::params;
use sha2::{Digest, Sha256};

use super::db::{self, Exec, Row};
use super::{from_db, to_db, Store, StoreError};
use crate::model::{ReplyGrant, ReplyToken, Thread, ThreadId};

/// A token row as read: (token text, person, thread, expires).
type TokenRow = (String, String, Option<i64>, i64);

fn token_row(r: &Row) -> Result<TokenRow, StoreError> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn finish((text, person_email, thread_id, expires): TokenRow) -> Result<ReplyGrant, StoreError> {
    let token = ReplyToken::parse(&text).ok_or(StoreError::BadValue {
        column: "reply_tokens.token",
        value: "(not a token)".into(),
    })?;
    Ok(ReplyGrant {
        token,
        person_email,
        thread_id,
        expires: from_db(expires),
    })
}

/// The lookup key of a token: SHA-256 of its text.
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Migration 2: gives every token row written before it its hash.
pub(crate) fn backfill_token_hashes(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT rowid, token FROM reply_tokens WHERE token_sha256 IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE reply_tokens SET token_sha256 = ?1 WHERE rowid = ?2")?;
    for (rowid, token) in rows {
        update.execute(params![token_hash(&token), rowid])?;
    }
    Ok(())
}

/// What `token` grants, read on `ex` (see [`Store::token`]).
fn token_on(ex: &mut impl Exec, token: &ReplyToken) -> Result<Option<ReplyGrant>, StoreError> {
    let row = ex.query_opt(
        "SELECT token, person_email, thread_id, expires FROM reply_tokens
         WHERE token_sha256 = ?1",
        db::params![token_hash(token.as_str())],
        token_row,
    )?;
    let grant = row.map(finish).transpose()?;
    Ok(grant.filter(|g| g.token.ct_eq(token)))
}

/// The grants of a batch's reply tokens and the threads they answer, read at once (see
/// [`Store::reply_lookups`]). A token or thread not in here was not looked up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplyLookups {
    grants: HashMap<String, Option<ReplyGrant>>,
    threads: HashMap<ThreadId, Option<Thread>>,
}

impl ReplyLookups {
    /// `Some(grant or None)` when `token` was looked up, `None` when it was not.
    pub fn grant(&self, token: &ReplyToken) -> Option<Option<&ReplyGrant>> {
        self.grants.get(token.as_str()).map(Option::as_ref)
    }

    /// `Some(thread or None)` when thread `id` was looked up, `None` when it was not.
    pub fn thread(&self, id: ThreadId) -> Option<Option<&Thread>> {
        self.threads.get(&id).map(Option::as_ref)
    }
}

impl Store {
    /// Reads what `tokens` grant ([`Store::token`]) and the threads those grants answer, in
    /// one read transaction: one lock round instead of two per message.
    pub fn reply_lookups(&self, tokens: &[&ReplyToken]) -> Result<ReplyLookups, StoreError> {
        let mut out = ReplyLookups::default();
        if tokens.is_empty() {
            return Ok(out);
        }
        self.db.read(|ex| {
            for token in tokens {
                if out.grants.contains_key(token.as_str()) {
                    continue;
                }
                let grant = token_on(ex, token)?;
                if let Some(id) = grant.as_ref().and_then(|g| g.thread_id) {
                    if let std::collections::hash_map::Entry::Vacant(slot) = out.threads.entry(id) {
                        slot.insert(super::forum::thread_on(ex, id)?);
                    }
                }
                out.grants.insert(token.as_str().to_string(), grant);
            }
            Ok(out)
        })
    }

    /// What `token` grants, if it was ever issued (expired ones included: the caller decides).
    /// Found by the token's hash; the stored token must then equal `token` (constant time).
    pub fn token(&self, token: &ReplyToken) -> Result<Option<ReplyGrant>, StoreError> {
        token_on(&mut self.db.auto()?, token)
    }

    /// The tokens a digest carried (its items' reply links and its command token), in thread
    /// order; used to answer a reply to the digest as a whole.
    pub fn grants_of_delivery(&self, delivery_id: i64) -> Result<Vec<ReplyGrant>, StoreError> {
        let rows = self.db.query_map(
            "SELECT token, person_email, thread_id, expires FROM reply_tokens
             WHERE delivery_id = ?1 ORDER BY thread_id IS NULL, rowid",
            db::params![delivery_id],
            token_row,
        )?;
        rows.into_iter().map(finish).collect()
    }

    /// Stores a grant outside any digest (e.g. a token for a command confirmation mail).
    pub fn insert_grant(&self, grant: &ReplyGrant) -> Result<(), StoreError> {
        let kind = if grant.thread_id.is_some() {
            "reply"
        } else {
            "command"
        };
        self.db.execute(
            "INSERT INTO reply_tokens (token, person_email, thread_id, kind, delivery_id,
                expires, created, token_sha256)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7)",
            db::params![
                grant.token.as_str(),
                crate::model::normalize_email(&grant.person_email),
                grant.thread_id,
                kind,
                to_db(grant.expires)?,
                to_db(Utc::now())?,
                token_hash(grant.token.as_str())
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{each_store, temp_store};
    use crate::store::NewDelivery;
    use chrono::Duration;

    #[test]
    fn tokens_are_found_with_their_grant() {
        each_store(|mut store| {
            let expires = Utc::now() + Duration::days(90);
            let reply = ReplyGrant {
                token: ReplyToken::generate(),
                person_email: "A@x.org".into(),
                thread_id: Some(42),
                expires,
            };
            let command = ReplyGrant {
                token: ReplyToken::generate(),
                person_email: "a@x.org".into(),
                thread_id: None,
                expires,
            };
            let id = store
                .insert_pending_delivery(&NewDelivery {
                    person_email: "a@x.org".into(),
                    schedule: "s".into(),
                    period_end: Utc::now(),
                    message_id: "m@x".into(),
                    raw: vec![],
                    post_ids: vec![],
                    grants: vec![command.clone(), reply.clone()],
                    highlights: vec![],
                })
                .expect("insert")
                .expect("new");
            let got = store.token(&reply.token).expect("lookup").expect("found");
            assert!(got.token.ct_eq(&reply.token));
            assert_eq!(got.person_email, "a@x.org");
            assert_eq!(got.thread_id, Some(42));
            assert_eq!(got.expires, expires);
            assert_eq!(store.token(&ReplyToken::generate()).expect("lookup"), None);
            let all = store.grants_of_delivery(id).expect("grants");
            assert_eq!(all.len(), 2);
            assert_eq!(all[0].thread_id, Some(42));
            assert_eq!(all[1].thread_id, None);

            let loose = ReplyGrant {
                token: ReplyToken::generate(),
                person_email: "b@x.org".into(),
                thread_id: None,
                expires,
            };
            store.insert_grant(&loose).expect("grant");
            assert!(store.token(&loose.token).expect("lookup").is_some());
        });
    }

    #[test]
    fn a_row_whose_hash_matches_but_token_differs_is_not_a_match() {
        let (_d, store) = temp_store();
        let (real, other) = (ReplyToken::generate(), ReplyToken::generate());
        store
            .insert_grant(&ReplyGrant {
                token: real.clone(),
                person_email: "a@x.org".into(),
                thread_id: Some(1),
                expires: Utc::now() + Duration::days(1),
            })
            .expect("grant");
        store
            .sqlite()
            .expect("sqlite")
            .execute(
                "UPDATE reply_tokens SET token_sha256 = ?1",
                [token_hash(other.as_str())],
            )
            .expect("tamper");
        assert_eq!(store.token(&other).expect("lookup"), None);
        assert_eq!(
            store.token(&real).expect("lookup"),
            None,
            "found by hash only"
        );
    }

    #[test]
    fn migration_2_backfills_the_hash_of_tokens_written_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        let token = ReplyToken::generate();
        {
            let conn = rusqlite::Connection::open(&path).expect("open");
            conn.execute_batch(crate::store::migrations::MIGRATIONS[0])
                .expect("v1");
            conn.execute_batch("PRAGMA user_version = 1")
                .expect("version");
            conn.execute(
                "INSERT INTO reply_tokens (token, person_email, thread_id, kind, delivery_id,
                    expires, created) VALUES (?1, 'a@x.org', 7, 'reply', NULL, ?2, 0)",
                params![
                    token.as_str(),
                    to_db(Utc::now() + Duration::days(1)).expect("t")
                ],
            )
            .expect("v1 row");
        }
        let store = Store::open(&path).expect("migrates");
        assert!(store.schema_version().expect("v") >= 3);
        let got = store.token(&token).expect("lookup").expect("found by hash");
        assert_eq!(got.thread_id, Some(7));
    }
}
