//! The deliveries ledger (one row per digest, keyed by person, schedule and period end) and the
//! log of digest runs.
//!
//! **Invariant:** a digest's row, its posts and its reply tokens are written in one transaction
//! *before* the SMTP call ([`Store::insert_pending_delivery`]), and marked after. A second insert
//! for the same (person, schedule, period end) inserts nothing, so a restarted run never builds
//! the same digest twice; pending rows are resent byte for byte.

use std::collections::{HashMap, HashSet};

use super::db::many_rows::insert_rows;
use super::db::{params, Exec, Param, Row, Tx, Value};
use super::{from_db, now_db, to_db, Store, StoreError};
use crate::model::{Delivery, DeliveryStatus, PostId, ReplyGrant};
use chrono::{DateTime, Utc};

/// A digest about to be sent: what [`Store::insert_pending_delivery`] records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    /// Recipient (normalised).
    pub person_email: String,
    /// Schedule key.
    pub schedule: String,
    /// End of the digest's period.
    pub period_end: DateTime<Utc>,
    /// Message-ID without angle brackets.
    pub message_id: String,
    /// The complete message.
    pub raw: Vec<u8>,
    /// Posts it delivers.
    pub post_ids: Vec<PostId>,
    /// Reply (and command) tokens it carries.
    pub grants: Vec<ReplyGrant>,
    /// Training highlights it delivers (kept in `highlights_sent`: never sent to the person
    /// again, listed in their CPD record).
    pub highlights: Vec<super::highlights::SentHighlight>,
}

fn status_from_db(s: &str) -> Result<DeliveryStatus, StoreError> {
    match s {
        "pending" => Ok(DeliveryStatus::Pending),
        "sent" => Ok(DeliveryStatus::Sent),
        "failed" => Ok(DeliveryStatus::Failed),
        other => Err(StoreError::BadValue {
            column: "deliveries.status",
            value: other.to_string(),
        }),
    }
}

const DELIVERY_COLUMNS: &str =
    "id, person_email, schedule, period_end, message_id, raw, status, error";

type RawDelivery = (Delivery, String);

fn delivery_from_row(r: &Row) -> Result<RawDelivery, StoreError> {
    Ok((
        Delivery {
            id: r.get(0)?,
            person_email: r.get(1)?,
            schedule: r.get(2)?,
            period_end: from_db(r.get(3)?),
            message_id: r.get(4)?,
            raw: r.get(5)?,
            status: DeliveryStatus::Pending,
            error: r.get(7)?,
        },
        r.get(6)?,
    ))
}

fn finish_delivery((mut d, status): RawDelivery) -> Result<Delivery, StoreError> {
    d.status = status_from_db(&status)?;
    Ok(d)
}

/// A Message-ID as stored: without angle brackets or surrounding space.
pub(crate) fn bare_message_id(mid: &str) -> &str {
    mid.trim().trim_start_matches('<').trim_end_matches('>')
}

impl Store {
    /// Records a digest as pending, with its posts and reply tokens, in ONE transaction.
    /// Returns its id, or `None` (inserting nothing) when the ledger already holds a digest for
    /// the same person, schedule and period end.
    pub fn insert_pending_delivery(&mut self, d: &NewDelivery) -> Result<Option<i64>, StoreError> {
        let ids = self.insert_pending_deliveries(&[d])?;
        Ok(ids.into_iter().next().flatten())
    }

    /// Records digests as pending, each with its posts and reply tokens, all in ONE
    /// transaction (one commit for a stretch of a run). Returns each one's id in order, or
    /// `None` for one the ledger already holds (same person, schedule and period end).
    pub fn insert_pending_deliveries(
        &mut self,
        ds: &[&NewDelivery],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if ds.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_db();
        // Leased to this worker, which sends them next (see `store::leases`).
        let lease_until = to_db(crate::worker::lease_until(Utc::now()))?;
        // Inserts by key only (`ON CONFLICT` keeps one per person, schedule and period, also
        // against another worker's insert at the same moment): no store-wide lock.
        self.db.write_rows(|tx| {
            ds.iter()
                .map(|d| insert_pending(tx, d, now, lease_until))
                .collect()
        })
    }

    /// Marks a delivery sent (accepted by the transport). On PostgreSQL the mark does not wait
    /// for the disk (see [`super::db::Db::write_unsynced`]): only a crash of the database
    /// server right after it can forget it, and then the digest is sent again, byte for byte,
    /// once its lease expires; the next [`Store::sync_commits`] makes it durable.
    pub fn mark_sent(&self, id: i64) -> Result<(), StoreError> {
        self.db.write_unsynced(|tx| {
            tx.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = ?2, error = NULL WHERE id = ?1",
                params![id, now_db()],
            )
        })?;
        Ok(())
    }

    /// Marks a delivery failed for good, keeping why.
    pub fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE deliveries SET status = 'failed', error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    /// Counts one more send attempt and gives the row's lease back (the next cycle of any
    /// worker sends it again); returns the new count.
    pub fn bump_attempt(&self, id: i64) -> Result<u32, StoreError> {
        let n: Option<u32> = self.db.query_opt(
            "UPDATE deliveries SET attempts = attempts + 1, lease_until = NULL WHERE id = ?1
             RETURNING attempts",
            params![id],
            |r| r.get(0),
        )?;
        Ok(n.unwrap_or(0))
    }

    /// Attempts counted so far for a delivery.
    pub fn delivery_attempts(&self, id: i64) -> Result<u32, StoreError> {
        let n: Option<u32> = self.db.query_opt(
            "SELECT attempts FROM deliveries WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        Ok(n.unwrap_or(0))
    }

    /// Every pending delivery, oldest first (what a run resends after a crash).
    pub fn pending_deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE status = 'pending' ORDER BY id"
        );
        let rows = self.db.query_map(&sql, params![], delivery_from_row)?;
        rows.into_iter().map(finish_delivery).collect()
    }

    /// The delivery that was sent with Message-ID `mid` (angle brackets optional).
    pub fn delivery_by_message_id(&self, mid: &str) -> Result<Option<Delivery>, StoreError> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE message_id = ?1");
        let row = self
            .db
            .query_opt(&sql, params![bare_message_id(mid)], delivery_from_row)?;
        row.map(finish_delivery).transpose()
    }

    /// The delivery with ledger id `id`.
    pub fn delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1");
        let row = self.db.query_opt(&sql, params![id], delivery_from_row)?;
        row.map(finish_delivery).transpose()
    }

    /// Posts in this person's pending or sent digests whose period ended at or after `since`,
    /// and every highlight ever delivered to them (so a highlight never comes twice).
    pub fn delivered_posts(
        &self,
        person_email: &str,
        since: DateTime<Utc>,
    ) -> Result<HashSet<PostId>, StoreError> {
        let person = crate::model::normalize_email(person_email);
        let rows: Vec<PostId> = self.db.query_map(
            "SELECT dp.post_id FROM deliveries d JOIN delivery_posts dp ON dp.delivery_id = d.id
             WHERE d.person_email = ?1 AND d.period_end >= ?2
               AND d.status IN ('pending', 'sent')
             UNION
             SELECT h.post_id FROM highlights_sent h JOIN deliveries d ON d.id = h.delivery_id
             WHERE h.person_email = ?1 AND d.status IN ('pending', 'sent')",
            params![person, to_db(since)?],
            |r| r.get(0),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// [`Store::delivered_posts`] for everyone at once, by address (people without any are absent).
    pub fn delivered_posts_all(
        &self,
        since: DateTime<Utc>,
    ) -> Result<HashMap<String, HashSet<PostId>>, StoreError> {
        let rows: Vec<(String, PostId)> = self.db.query_map(
            "SELECT d.person_email, dp.post_id
             FROM deliveries d JOIN delivery_posts dp ON dp.delivery_id = d.id
             WHERE d.period_end >= ?1 AND d.status IN ('pending', 'sent')
             UNION ALL
             SELECT h.person_email, h.post_id
             FROM highlights_sent h JOIN deliveries d ON d.id = h.delivery_id
             WHERE d.status IN ('pending', 'sent')",
            params![to_db(since)?],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut out: HashMap<String, HashSet<PostId>> = HashMap::new();
        for (email, post) in rows {
            out.entry(email).or_default().insert(post);
        }
        Ok(out)
    }

    /// Period end of this person's last pending or sent digest on `schedule`.
    pub fn last_sent(
        &self,
        person_email: &str,
        schedule: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let person = crate::model::normalize_email(person_email);
        let t: Option<i64> = self.db.query_row(
            "SELECT MAX(period_end) FROM deliveries
             WHERE person_email = ?1 AND schedule = ?2 AND status IN ('pending', 'sent')",
            params![person, schedule],
            |r| r.get(0),
        )?;
        Ok(t.map(from_db))
    }

    /// [`Store::last_sent`] for everyone on `schedule`, by address.
    pub fn last_sent_all(
        &self,
        schedule: &str,
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let rows = self.db.query_map(
            "SELECT person_email, MAX(period_end) FROM deliveries
             WHERE schedule = ?1 AND status IN ('pending', 'sent') GROUP BY person_email",
            params![schedule],
            |r| Ok((r.get::<String>(0)?, from_db(r.get(1)?))),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// Counts of ledger rows by status (pending, sent, failed).
    pub fn delivery_counts(&self) -> Result<(u64, u64, u64), StoreError> {
        self.db.query_row(
            "SELECT COUNT(*) FILTER (WHERE status = 'pending'),
                    COUNT(*) FILTER (WHERE status = 'sent'),
                    COUNT(*) FILTER (WHERE status = 'failed') FROM deliveries",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// Logs the start of `worker`'s part of a digest run; returns its id.
    pub fn start_run(
        &self,
        schedule: &str,
        period_end: DateTime<Utc>,
        worker: &str,
    ) -> Result<i64, StoreError> {
        self.db.query_row(
            "INSERT INTO runs (schedule, period_end, started, worker) VALUES (?1, ?2, ?3, ?4)
             RETURNING id",
            params![schedule, to_db(period_end)?, now_db(), worker],
            |r| r.get(0),
        )
    }

    /// Logs the end of a digest run with its counts.
    pub fn finish_run(&self, id: i64, sent: usize, failed: usize) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE runs SET finished = ?2, sent = ?3, failed = ?4 WHERE id = ?1",
            params![id, now_db(), sent as i64, failed as i64],
        )?;
        Ok(())
    }
}

/// Inserts one pending digest in `tx` (see [`Store::insert_pending_deliveries`]).
fn insert_pending(
    tx: &mut Tx<'_>,
    d: &NewDelivery,
    now: i64,
    lease_until: i64,
) -> Result<Option<i64>, StoreError> {
    let person = crate::model::normalize_email(&d.person_email);
    let period_end = to_db(d.period_end)?;
    let id: Option<i64> = tx.query_opt(
        "INSERT INTO deliveries (person_email, schedule, period_end, message_id, raw,
                status, created, attempts, claimed_by, lease_until)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, 0, ?7, ?8)
             ON CONFLICT(person_email, schedule, period_end) DO NOTHING
             RETURNING id",
        params![
            person,
            d.schedule,
            period_end,
            bare_message_id(&d.message_id),
            d.raw,
            now,
            crate::worker::id(),
            lease_until
        ],
        |r| r.get(0),
    )?;
    let Some(id) = id else {
        return Ok(None);
    };
    // A few statements for the dozens of rows (one round trip each on PostgreSQL).
    let posts: Vec<Value> = d
        .post_ids
        .iter()
        .flat_map(|p| [Value::Int(id), Value::Int(*p)])
        .collect();
    insert_rows(
        tx,
        "INSERT INTO delivery_posts (delivery_id, post_id)",
        2,
        &posts,
        "ON CONFLICT DO NOTHING",
    )?;
    let mut tokens: Vec<Value> = Vec::with_capacity(d.grants.len() * 8);
    for g in &d.grants {
        let kind = if g.thread_id.is_some() {
            "reply"
        } else {
            "command"
        };
        tokens.extend([
            Value::Text(g.token.as_str().to_owned()),
            Value::Text(crate::model::normalize_email(&g.person_email)),
            g.thread_id.value(),
            Value::Text(kind.to_owned()),
            Value::Int(id),
            Value::Int(to_db(g.expires)?),
            Value::Int(now),
            super::tokens::token_hash(g.token.as_str()).value(),
        ]);
    }
    insert_rows(
        tx,
        "INSERT INTO reply_tokens (token, person_email, thread_id, kind, delivery_id,
                expires, created, token_sha256)",
        8,
        &tokens,
        "",
    )?;
    super::highlights::insert_sent(tx, id, &person, period_end, &d.highlights)?;
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReplyToken;

    /// Two workers recording a stretch for the same people at the same moment (a slice taken
    /// over while its first worker still wrote): without the store-wide lock, the unique key
    /// still leaves exactly one digest per person, and each worker learns which are its own.
    #[test]
    fn two_workers_recording_the_same_people_at_once_keep_one_digest_each() {
        let Some((first, second)) = crate::store::test_support::pg_pair() else {
            return;
        };
        let end = Utc::now();
        let stretch = move |worker: &str| -> Vec<NewDelivery> {
            (0..300)
                .map(|i| NewDelivery {
                    person_email: format!("p{i}@example.org"),
                    schedule: "weekly".into(),
                    period_end: end,
                    message_id: format!("<{worker}.{i}@example.org>"),
                    raw: vec![b'x'; 2000],
                    post_ids: (0..40).collect(),
                    grants: Vec::new(),
                    highlights: Vec::new(),
                })
                .collect()
        };
        let record = move |mut store: Store, worker: &'static str| {
            std::thread::spawn(move || {
                let ds = stretch(worker);
                let refs: Vec<&NewDelivery> = ds.iter().collect();
                let mut ids = Vec::new();
                for part in refs.chunks(64) {
                    ids.extend(store.insert_pending_deliveries(part).expect("recorded"));
                }
                (store, ids)
            })
        };
        let a = record(first, "a");
        let b = record(second, "b");
        let (store, a) = a.join().expect("first worker");
        let (_, b) = b.join().expect("second worker");
        for (i, (a, b)) in a.iter().zip(&b).enumerate() {
            assert!(a.is_some() != b.is_some(), "person {i}: {a:?} and {b:?}");
        }
        let rows: i64 = store
            .db
            .query_row("SELECT COUNT(*) FROM deliveries", &[], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 300, "one digest per person");
        let posts: i64 = store
            .db
            .query_row("SELECT COUNT(*) FROM delivery_posts", &[], |r| r.get(0))
            .expect("count");
        assert_eq!(posts, 300 * 40, "each digest's posts once");
    }
    use crate::store::test_support::each_store;
    use chrono::Duration;

    fn new_delivery(person: &str, end: DateTime<Utc>, mid: &str) -> NewDelivery {
        NewDelivery {
            person_email: person.into(),
            schedule: "0 0 7 * * Mon@Europe/Amsterdam".into(),
            period_end: end,
            message_id: format!("<{mid}>"),
            raw: b"Subject: x\r\n\r\nbody".to_vec(),
            post_ids: vec![3, 1, 2],
            grants: vec![
                ReplyGrant {
                    token: ReplyToken::generate(),
                    person_email: person.into(),
                    thread_id: Some(7),
                    expires: end + Duration::days(90),
                },
                ReplyGrant {
                    token: ReplyToken::generate(),
                    person_email: person.into(),
                    thread_id: None,
                    expires: end + Duration::days(90),
                },
            ],
            highlights: vec![],
        }
    }

    #[test]
    fn ledger_is_unique_per_person_schedule_period() {
        each_store(|mut store| {
            let end = Utc::now();
            let d = new_delivery("a@x.org", end, "m1@x");
            let id = store
                .insert_pending_delivery(&d)
                .expect("insert")
                .expect("new");
            let mut again = new_delivery("a@x.org", end, "m2@x");
            again.post_ids = vec![99];
            assert_eq!(store.insert_pending_delivery(&again).expect("again"), None);
            // Nothing of the second one landed: neither its posts nor its tokens.
            let delivered = store.delivered_posts("a@x.org", end).expect("posts");
            assert_eq!(delivered, HashSet::from([1, 2, 3]));
            assert_eq!(store.token(&again.grants[0].token).expect("tok"), None);
            // Another period is another digest.
            assert!(store
                .insert_pending_delivery(&new_delivery("a@x.org", end + Duration::days(1), "m3@x"))
                .expect("next")
                .is_some());
            let got = store
                .delivery_by_message_id("<m1@x>")
                .expect("mid")
                .expect("some");
            assert_eq!(got.id, id);
            assert_eq!(got.status, DeliveryStatus::Pending);
            assert_eq!(got.message_id, "m1@x");
            assert_eq!(got.period_end, end);
        });
    }

    #[test]
    fn pending_to_sent_and_failed() {
        each_store(|mut store| {
            let end = Utc::now();
            let a = store
                .insert_pending_delivery(&new_delivery("a@x.org", end, "a@x"))
                .expect("a")
                .expect("new");
            let b = store
                .insert_pending_delivery(&new_delivery("b@x.org", end, "b@x"))
                .expect("b")
                .expect("new");
            assert_eq!(store.pending_deliveries().expect("p").len(), 2);
            assert_eq!(store.bump_attempt(a).expect("bump"), 1);
            assert_eq!(store.bump_attempt(a).expect("bump"), 2);
            store.mark_sent(a).expect("sent");
            store.mark_failed(b, "550 no such user").expect("failed");
            assert!(store.pending_deliveries().expect("p").is_empty());
            let b_row = store.delivery(b).expect("b").expect("some");
            assert_eq!(b_row.status, DeliveryStatus::Failed);
            assert_eq!(b_row.error.as_deref(), Some("550 no such user"));
            assert_eq!(store.delivery_counts().expect("counts"), (0, 1, 1));

            let sched = "0 0 7 * * Mon@Europe/Amsterdam";
            assert_eq!(store.last_sent("a@x.org", sched).expect("last"), Some(end));
            // A failed digest is not "sent": the next run may try again.
            assert_eq!(store.last_sent("b@x.org", sched).expect("last"), None);
            let all = store.last_sent_all(sched).expect("all");
            assert_eq!(all.len(), 1);
            let posts = store
                .delivered_posts_all(end - Duration::days(1))
                .expect("all");
            assert_eq!(posts.len(), 1);
            assert_eq!(posts["a@x.org"].len(), 3);
            assert!(store
                .delivered_posts_all(end + Duration::seconds(1))
                .expect("later")
                .is_empty());
        });
    }

    #[test]
    fn runs_are_logged() {
        each_store(|store| {
            let end = Utc::now();
            let r1 = store.start_run("s1", end, "w").expect("start");
            store.finish_run(r1, 10, 1).expect("finish");
            let r2 = store
                .start_run("s1", end + Duration::days(1), "w")
                .expect("start");
            let _r3 = store.start_run("s2", end, "w").expect("start");
            let runs = store.last_firing_runs().expect("runs");
            assert_eq!(runs.len(), 2);
            assert_eq!(runs[0].period_end, end + Duration::days(1), "{r2}");
            assert_eq!(runs[0].finished, None);
            assert_eq!(runs[1].schedule, "s2");
        });
    }
}
