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

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use crate::model::{
        BodyFormat, Cursor, FetchBatch, FetchedPost, Group, Person, Post, ReplyToken, Thread,
    };
    use crate::report::facts::PersonEventKind;
    use crate::store::test_support::each_store;

    fn post(thread: &str, remote: &str, author: &str, days: i64) -> FetchedPost {
        FetchedPost {
            thread_remote_id: thread.into(),
            post: Post {
                id: 0,
                thread_id: 0,
                group_id: String::new(),
                remote_id: remote.into(),
                author_email: author.into(),
                author_name: author.into(),
                created: chrono::Utc::now() - Duration::days(days),
                body: format!("body {remote}"),
                body_format: BodyFormat::Markdown,
                tags: vec![],
                likes: 0,
                reply_count: 0,
                best_answer: false,
                url: String::new(),
            },
        }
    }

    fn thread(remote: &str, days: i64) -> Thread {
        Thread {
            id: 0,
            group_id: String::new(),
            remote_id: remote.into(),
            title: format!("Thread {remote}"),
            url: String::new(),
            created: chrono::Utc::now() - Duration::days(days),
        }
    }

    #[test]
    fn first_posts_tokens_openers_and_events_on_both_engines() {
        each_store(|mut store| {
            let g = Group::local("g", "G");
            store.sync_groups(std::slice::from_ref(&g)).expect("groups");
            let batch = FetchBatch {
                threads: vec![thread("1", 20), thread("2", 1)],
                posts: vec![
                    post("1", "1", "old@x.org", 20),
                    post("1", "2", "new@x.org", 1),
                    post("1", "3", "old@x.org", 1),
                    post("2", "4", "other@x.org", 1),
                    post("2", "5", "new@x.org", 0),
                ],
                next_cursor: Cursor("5".into()),
                more: false,
            };
            store.store_batch(&g, &batch).expect("stored");
            let now = chrono::Utc::now();
            let first = store
                .first_posts_in_group("g", now - Duration::days(2), now)
                .expect("first posts");
            let remotes: Vec<&str> = first.iter().map(|p| p.remote_id.as_str()).collect();
            assert_eq!(remotes, ["2", "4"], "each author's first post in the group");

            let opener = store.thread_opener(first[0].thread_id).expect("opener");
            let token = ReplyToken::generate();
            assert_eq!(store.token_post(&token).expect("none"), None);
            store.set_token_post(&token, first[0].id).expect("set");
            assert_eq!(store.token_post(&token).expect("some"), Some(first[0].id));
            assert_ne!(opener, Some(first[0].id), "the opener is the old post");

            let person = Person {
                email: "new@x.org".into(),
                name: "N".into(),
                roles: vec![],
                time_zone: chrono_tz::UTC,
                locale: "en".into(),
                frequency: crate::model::Frequency::Weekly,
                matrix_id: None,
            };
            store.sync_people(&[person]).expect("people");
            assert!(store.set_paused("new@x.org", true).expect("pause"));
            assert!(store
                .set_paused("new@x.org", true)
                .expect("again: no change"));
            assert!(store.set_paused("new@x.org", false).expect("resume"));
            let events = store
                .person_events(now - Duration::days(1), chrono::Utc::now())
                .expect("events");
            let kinds: Vec<PersonEventKind> = events.iter().map(|e| e.kind).collect();
            assert_eq!(kinds, [PersonEventKind::Pause, PersonEventKind::Resume]);
            let posts = store.engagement_posts(chrono::Utc::now()).expect("posts");
            assert_eq!(posts.len(), 5);
            assert!(posts.iter().all(|p| !p.by_email));
        });
    }
}
