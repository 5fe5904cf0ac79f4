//! The facts of a CPD record (`digestd cpd`): a person's posts with what the thread around them
//! says (who opened it, whose post was the first answer, whether the post came by email), and
//! the training highlights their sent digests delivered. The record itself is made by the pure
//! `cpd::record`.

use chrono::{DateTime, Utc};
use rusqlite::params;

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
        let mut st = self.conn.prepare_cached(
            "SELECT p.author_email, p.id, p.created, p.group_id, p.thread_id, t.title, p.url,
                    p.best_answer,
                    (SELECT o.author_email FROM posts o WHERE o.thread_id = p.thread_id
                     ORDER BY o.created, o.id LIMIT 1) AS opener,
                    p.remote_id,
                    (SELECT instr(o.tags, ',question,') > 0 FROM posts o
                     WHERE o.thread_id = p.thread_id ORDER BY o.created, o.id LIMIT 1)
             FROM posts p JOIN threads t ON t.id = p.thread_id
             WHERE (?1 IS NULL OR p.author_email = ?1) AND p.created >= ?2 AND p.created < ?3
             ORDER BY p.created, p.id",
        )?;
        let person = person.map(normalize_email);
        let rows = st.query_map(params![person, to_db(from)?, to_db(to)?], |r| {
            Ok((
                CpdPost {
                    person_email: normalize_email(&r.get::<_, String>(0)?),
                    post_id: r.get(1)?,
                    created: from_db(r.get(2)?),
                    group_id: r.get(3)?,
                    thread_id: r.get(4)?,
                    thread_title: r.get(5)?,
                    url: r.get(6)?,
                    best_answer: r.get::<_, i64>(7)? != 0,
                    opener_email: normalize_email(
                        &r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                    ),
                    opener_question: r.get::<_, Option<bool>>(10)?.unwrap_or(false),
                    first_reply_id: None,
                    by_email: false,
                },
                r.get::<_, String>(9)?,
            ))
        })?;
        let rows: Vec<(CpdPost, String)> = rows.collect::<Result<_, _>>()?;
        let mut first_reply = self.conn.prepare_cached(
            "SELECT id FROM posts WHERE thread_id = ?1 AND author_email <> ?2
             ORDER BY created, id LIMIT 1",
        )?;
        let mut by_email = self.conn.prepare_cached(
            "SELECT 1 FROM inbound_messages WHERE status = 'posted' AND posted_remote_id = ?1
               AND (posted_group_id IS NULL OR posted_group_id = ?2) LIMIT 1",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (mut post, remote_id) in rows {
            let mut q = first_reply.query(params![post.thread_id, post.opener_email])?;
            post.first_reply_id = q.next()?.map(|r| r.get(0)).transpose()?;
            let mut q = by_email.query(params![remote_id, post.group_id])?;
            post.by_email = q.next()?.is_some();
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
        let mut st = self.conn.prepare_cached(
            "SELECT h.person_email, h.at, h.role, h.post_id, p.group_id, t.title, p.url
             FROM highlights_sent h
             JOIN deliveries d ON d.id = h.delivery_id
             JOIN posts p ON p.id = h.post_id
             JOIN threads t ON t.id = p.thread_id
             WHERE d.status = 'sent' AND (?1 IS NULL OR h.person_email = ?1)
               AND h.at >= ?2 AND h.at < ?3
             ORDER BY h.at, h.person_email, h.post_id",
        )?;
        let person = person.map(normalize_email);
        let rows = st.query_map(params![person, to_db(from)?, to_db(to)?], |r| {
            Ok(CpdHighlight {
                person_email: r.get(0)?,
                at: from_db(r.get(1)?),
                role: r.get(2)?,
                post_id: r.get(3)?,
                group_id: r.get(4)?,
                thread_title: r.get(5)?,
                url: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
