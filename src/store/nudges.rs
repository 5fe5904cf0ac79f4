//! What the ambassadors' nudge reads and writes: newcomers' first posts in a group, the post a
//! nudge item's reply token stands for, and a thread's opening post.

use super::db::params;
use chrono::{DateTime, Utc};

use super::forum::{post_from_row, POST_COLUMNS};
use super::tokens::token_hash;
use super::{to_db, Store, StoreError};
use crate::model::{Post, PostId, ReplyToken, ThreadId};

impl Store {
    /// Posts of `group` written in `(since, until]` that are their author's first post in the
    /// group, oldest first.
    pub fn first_posts_in_group(
        &self,
        group: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Post>, StoreError> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM posts p
             WHERE p.group_id = ?1 AND p.created > ?2 AND p.created <= ?3
               AND NOT EXISTS (SELECT 1 FROM posts q
                   WHERE q.group_id = p.group_id AND q.author_email = p.author_email
                     AND (q.created < p.created OR (q.created = p.created AND q.id < p.id)))
             ORDER BY p.created, p.id"
        );
        self.db.query_map(
            &sql,
            params![group, to_db(since)?, to_db(until)?],
            post_from_row,
        )
    }

    /// Records that `token` (a nudge item's reply token) stands for `post`.
    pub fn set_token_post(&self, token: &ReplyToken, post: PostId) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO token_posts (token_sha256, post_id) VALUES (?1, ?2)
             ON CONFLICT (token_sha256) DO UPDATE SET post_id = excluded.post_id",
            params![token_hash(token.as_str()), post],
        )?;
        Ok(())
    }

    /// The post `token` stands for, when a nudge recorded one.
    pub fn token_post(&self, token: &ReplyToken) -> Result<Option<PostId>, StoreError> {
        self.db.query_opt(
            "SELECT post_id FROM token_posts WHERE token_sha256 = ?1",
            params![token_hash(token.as_str())],
            |r| r.get(0),
        )
    }

    /// The first post of thread `thread`, if it is stored.
    pub fn thread_opener(&self, thread: ThreadId) -> Result<Option<PostId>, StoreError> {
        self.db.query_opt(
            "SELECT id FROM posts WHERE thread_id = ?1 ORDER BY created, id LIMIT 1",
            params![thread],
            |r| r.get(0),
        )
    }
}
