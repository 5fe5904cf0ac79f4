//! The facts of a CPD record (`digestd cpd`): a person's posts with what the thread around them
//! says (who opened it, whose post was the first answer, whether the post came by email), and
//! the training highlights their sent digests delivered. The record itself is made by the pure
//! `cpd::record`.

use super::db::{params, Exec, Row};
use chrono::{DateTime, Utc};

use super::{from_db, to_db, Store, StoreError};
use crate::model::{normalize_email, GroupId, PostId, ThreadId};

/// One post by a person, with its thread's context.
#[derive(Debug, Clone, PartialEq)]
pub struct CpdPost {
    /// Author (normalised).
    pub person_email: String,
    /// The post.
    pub post_id: PostId,
    /// When it was written.
    pub created: DateTime<Utc>,
    /// Its group.
    pub group_id: GroupId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// The thread's title.
    pub thread_title: String,
    /// The post's link.
    pub url: String,
    /// Marked as the thread's best answer.
    pub best_answer: bool,
    /// Author of the thread's first post.
    pub opener_email: String,
    /// The thread's first post is tagged `question` (then only an accepted/best answer counts
    /// as answering it).
    pub opener_question: bool,
    /// The first post in the thread by someone other than its opener.
    pub first_reply_id: Option<PostId>,
    /// It came in by email (an inbound reply digestd posted).
    pub by_email: bool,
}

/// One training highlight a sent digest delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct CpdHighlight {
    /// Recipient (normalised).
    pub person_email: String,
    /// The digest's period end.
    pub at: DateTime<Utc>,
    /// The role it was a highlight for.
    pub role: String,
    /// The post.
    pub post_id: PostId,
    /// Its group.
    pub group_id: GroupId,
    /// Its thread's title.
    pub thread_title: String,
    /// The post's link.
    pub url: String,
}

impl Store {
    /// Posts written in `[from, to)` by `person` (`None`: by anyone), oldest first.
    pub fn cpd_posts(
        &self,
        person: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CpdPost>, StoreError> {
        const COLUMNS: &str = "SELECT p.author_email, p.id, p.created, p.group_id, p.thread_id,
                    t.title, p.url, p.best_answer,
                    (SELECT o.author_email FROM posts o WHERE o.thread_id = p.thread_id
                     ORDER BY o.created, o.id LIMIT 1) AS opener,
                    p.remote_id,
                    (SELECT CASE WHEN instr(o.tags, ',question,') > 0 THEN 1 ELSE 0 END
                     FROM posts o WHERE o.thread_id = p.thread_id
                     ORDER BY o.created, o.id LIMIT 1) AS question
             FROM posts p JOIN threads t ON t.id = p.thread_id";
        let map = |r: &Row| -> Result<(CpdPost, String), StoreError> {
            Ok((
                CpdPost {
                    person_email: normalize_email(&r.get::<String>(0)?),
                    post_id: r.get(1)?,
                    created: from_db(r.get(2)?),
                    group_id: r.get(3)?,
                    thread_id: r.get(4)?,
                    thread_title: r.get(5)?,
                    url: r.get(6)?,
                    best_answer: r.get::<i64>(7)? != 0,
                    opener_email: normalize_email(&r.get::<Option<String>>(8)?.unwrap_or_default()),
                    opener_question: r.get::<Option<i64>>(10)?.unwrap_or(0) != 0,
                    first_reply_id: None,
                    by_email: false,
                },
                r.get::<String>(9)?,
            ))
        };
        let mut db = self.db.auto()?;
        let rows: Vec<(CpdPost, String)> = match person {
            Some(person) => db.query_map(
                &format!(
                    "{COLUMNS} WHERE p.author_email = ?1 AND p.created >= ?2 AND p.created < ?3
                     ORDER BY p.created, p.id"
                ),
                params![normalize_email(person), to_db(from)?, to_db(to)?],
                map,
            )?,
            None => db.query_map(
                &format!(
                    "{COLUMNS} WHERE p.created >= ?1 AND p.created < ?2 ORDER BY p.created, p.id"
                ),
                params![to_db(from)?, to_db(to)?],
                map,
            )?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for (mut post, remote_id) in rows {
            post.first_reply_id = db.query_opt(
                "SELECT id FROM posts WHERE thread_id = ?1 AND author_email <> ?2
                 ORDER BY created, id LIMIT 1",
                params![post.thread_id, post.opener_email],
                |r| r.get(0),
            )?;
            post.by_email = db
                .query_opt(
                    "SELECT 1 FROM inbound_messages WHERE status = 'posted'
                       AND posted_remote_id = ?1
                       AND (posted_group_id IS NULL OR posted_group_id = ?2) LIMIT 1",
                    params![remote_id, post.group_id],
                    |r| r.get::<i64>(0),
                )?
                .is_some();
            out.push(post);
        }
        Ok(out)
    }

    /// Training highlights delivered by sent digests whose period ended in `[from, to)`, to
    /// `person` (`None`: to anyone), oldest first.
    pub fn cpd_highlights(
        &self,
        person: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CpdHighlight>, StoreError> {
        const COLUMNS: &str = "SELECT h.person_email, h.at, h.role, h.post_id, p.group_id,
                    t.title, p.url
             FROM highlights_sent h
             JOIN deliveries d ON d.id = h.delivery_id
             JOIN posts p ON p.id = h.post_id
             JOIN threads t ON t.id = p.thread_id
             WHERE d.status = 'sent'";
        let map = |r: &Row| -> Result<CpdHighlight, StoreError> {
            Ok(CpdHighlight {
                person_email: r.get(0)?,
                at: from_db(r.get(1)?),
                role: r.get(2)?,
                post_id: r.get(3)?,
                group_id: r.get(4)?,
                thread_title: r.get(5)?,
                url: r.get(6)?,
            })
        };
        match person {
            Some(person) => self.db.query_map(
                &format!(
                    "{COLUMNS} AND h.person_email = ?1 AND h.at >= ?2 AND h.at < ?3
                     ORDER BY h.at, h.person_email, h.post_id"
                ),
                params![normalize_email(person), to_db(from)?, to_db(to)?],
                map,
            ),
            None => self.db.query_map(
                &format!(
                    "{COLUMNS} AND h.at >= ?1 AND h.at < ?2 ORDER BY h.at, h.person_email, h.post_id"
                ),
                params![to_db(from)?, to_db(to)?],
                map,
            ),
        }
    }
}
