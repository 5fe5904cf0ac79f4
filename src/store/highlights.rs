//! Training highlights in the store: ambassadors' nominations (`highlight_nominations`) and the
//! highlights each digest delivered (`highlights_sent`, written with the ledger row by
//! [`Store::insert_pending_delivery`]).
//!
//! A nomination is one row per (post, nominator): nominating again renews it (clearing a
//! withdrawal), withdrawing keeps the row with its instant. Only nominations in force count
//! ([`Store::nomination_counts`]).

use std::collections::HashMap;

use super::db::many_rows::insert_rows;
use super::db::{params, Exec, Param, Row, Tx, Value};
use chrono::{DateTime, Utc};

use super::{from_db, to_db, Store, StoreError};
use crate::model::{normalize_email, GroupId, HighlightNomination, PostId};

/// A highlight a digest delivered, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentHighlight {
    /// The highlighted post.
    pub post_id: PostId,
    /// The role it was a highlight for.
    pub role: String,
}

impl Store {
    /// Records `by`'s nomination of `post_id` (in `group_id`) at `at`; a nomination already
    /// there (even withdrawn) is renewed. Returns true when there was no nomination in force
    /// by `by` before.
    pub fn nominate_highlight(
        &mut self,
        post_id: PostId,
        group_id: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let by = normalize_email(by);
        self.db.write(|tx| {
            let before: Option<Option<i64>> = tx.query_opt(
                "SELECT withdrawn FROM highlight_nominations
                 WHERE post_id = ?1 AND nominated_by = ?2",
                params![post_id, by],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO highlight_nominations (post_id, group_id, nominated_by, at, withdrawn)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT(post_id, nominated_by)
                 DO UPDATE SET group_id = excluded.group_id, at = excluded.at, withdrawn = NULL",
                params![post_id, group_id, by, to_db(at)?],
            )?;
            Ok(!matches!(before, Some(None)))
        })
    }

    /// Withdraws `by`'s nomination of `post_id` at `at`. Returns false when `by` had no
    /// nomination of it in force (nothing changed).
    pub fn withdraw_highlight(
        &mut self,
        post_id: PostId,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let by = normalize_email(by);
        let n = self.db.execute(
            "UPDATE highlight_nominations SET withdrawn = ?3
             WHERE post_id = ?1 AND nominated_by = ?2 AND withdrawn IS NULL",
            params![post_id, by, to_db(at)?],
        )?;
        Ok(n > 0)
    }

    /// Every nomination of `post_id`, in force or withdrawn, oldest first.
    pub fn nominations_of(&self, post_id: PostId) -> Result<Vec<HighlightNomination>, StoreError> {
        self.db.query_map(
            "SELECT post_id, group_id, nominated_by, at, withdrawn FROM highlight_nominations
             WHERE post_id = ?1 ORDER BY at, nominated_by",
            params![post_id],
            nomination_from_row,
        )
    }

    /// How many nominations in force each post of `groups` has (posts without one are absent).
    pub fn nomination_counts(
        &self,
        groups: &[GroupId],
    ) -> Result<HashMap<PostId, u32>, StoreError> {
        let mut out = HashMap::new();
        let mut db = self.db.auto()?;
        for g in groups {
            let rows: Vec<(PostId, u32)> = db.query_map(
                "SELECT post_id, COUNT(*) FROM highlight_nominations
                 WHERE group_id = ?1 AND withdrawn IS NULL GROUP BY post_id",
                params![g],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Highlights delivered to `person` by digests that went out (sent), with the instant of
    /// the digest's period end, oldest first, in `[from, to)`.
    pub fn highlights_delivered(
        &self,
        person: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, SentHighlight)>, StoreError> {
        self.db.query_map(
            "SELECT h.at, h.post_id, h.role FROM highlights_sent h
             JOIN deliveries d ON d.id = h.delivery_id
             WHERE h.person_email = ?1 AND d.status = 'sent' AND h.at >= ?2 AND h.at < ?3
             ORDER BY h.at, h.post_id",
            params![normalize_email(person), to_db(from)?, to_db(to)?],
            |r| {
                Ok((
                    from_db(r.get(0)?),
                    SentHighlight {
                        post_id: r.get(1)?,
                        role: r.get(2)?,
                    },
                ))
            },
        )
    }
}

/// Writes a delivery's highlights inside its ledger transaction.
pub(crate) fn insert_sent(
    tx: &mut Tx<'_>,
    delivery_id: i64,
    person: &str,
    at: i64,
    highlights: &[SentHighlight],
) -> Result<(), StoreError> {
    let rows: Vec<Value> = highlights
        .iter()
        .flat_map(|h| {
            [
                Value::Int(delivery_id),
                h.post_id.value(),
                Value::Text(person.to_owned()),
                h.role.value(),
                Value::Int(at),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO highlights_sent (delivery_id, post_id, person_email, role, at)",
        5,
        &rows,
        "ON CONFLICT DO NOTHING",
    )?;
    Ok(())
}

fn nomination_from_row(r: &Row) -> Result<HighlightNomination, StoreError> {
    Ok(HighlightNomination {
        post_id: r.get(0)?,
        group_id: r.get(1)?,
        nominated_by: r.get(2)?,
        at: from_db(r.get(3)?),
        withdrawn: r.get::<Option<i64>>(4)?.map(from_db),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::test_support::each_store;

    #[test]
    fn nominate_withdraw_renew() {
        each_store(|mut store| {
            let t0 = Utc::now();
            assert!(store
                .nominate_highlight(7, "g", "Amb@X.org", t0)
                .expect("nominate"));
            assert!(!store
                .nominate_highlight(7, "g", "amb@x.org", t0)
                .expect("again"));
            assert!(store.nominate_highlight(7, "g", "b@x.org", t0).expect("b"));
            assert_eq!(
                store.nomination_counts(&["g".into()]).expect("counts")[&7],
                2
            );
            assert!(store
                .withdraw_highlight(7, "amb@x.org", t0 + Duration::hours(1))
                .expect("withdraw"));
            assert!(!store
                .withdraw_highlight(7, "amb@x.org", t0 + Duration::hours(2))
                .expect("twice"));
            assert_eq!(
                store.nomination_counts(&["g".into()]).expect("counts")[&7],
                1
            );
            let all = store.nominations_of(7).expect("of");
            assert_eq!(all.len(), 2);
            let amb = all
                .iter()
                .find(|n| n.nominated_by == "amb@x.org")
                .expect("amb");
            assert!(!amb.is_active());
            assert!(store
                .nominate_highlight(7, "g", "amb@x.org", t0 + Duration::hours(3))
                .expect("renew"));
            assert_eq!(
                store.nomination_counts(&["g".into()]).expect("counts")[&7],
                2
            );
            assert!(store
                .nomination_counts(&["other".into()])
                .expect("other")
                .is_empty());
        });
    }

    #[test]
    fn sent_highlights_are_never_forgotten_and_listed_once_sent() {
        each_store(|mut store| {
            let end = Utc::now();
            let id = store
                .insert_pending_delivery(&crate::store::NewDelivery {
                    person_email: "Ann@X.org".into(),
                    schedule: "s".into(),
                    period_end: end,
                    message_id: "m@x".into(),
                    raw: vec![],
                    post_ids: vec![9],
                    grants: vec![],
                    highlights: vec![SentHighlight {
                        post_id: 9,
                        role: "nurse".into(),
                    }],
                })
                .expect("insert")
                .expect("new");
            // Long after the delivery's period, the highlight still counts as delivered.
            let later = end + Duration::days(400);
            assert!(store
                .delivered_posts("ann@x.org", later)
                .expect("one")
                .contains(&9));
            assert!(store.delivered_posts_all(later).expect("all")["ann@x.org"].contains(&9));
            let window = (end - Duration::days(1), end + Duration::days(1));
            assert!(store
                .highlights_delivered("ann@x.org", window.0, window.1)
                .expect("pending")
                .is_empty());
            store.mark_sent(id).expect("sent");
            let got = store
                .highlights_delivered("ann@x.org", window.0, window.1)
                .expect("sent");
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].1.role, "nurse");
        });
    }
}
