//! The store's copy of the forums: groups, threads, posts, and the per-group collection cursor.
//!
//! Threads and posts are keyed by `(group, remote_id)`: collecting the same page twice changes
//! nothing. [`Store::load_activity`] is the digest cycle's one read of forum content.

use std::collections::HashMap;

use super::db::{params, Exec, Param, Row, Tx, Value};
use super::{from_db, now_db, tags_from_db, tags_to_db, to_db, Store, StoreError};
use crate::model::{BodyFormat, Group, GroupId, Post, Thread, ThreadId};
use crate::model::{Cursor, FetchBatch};
use chrono::{DateTime, Utc};

/// Collection state of one group, for `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollState {
    /// Group id.
    pub group_id: GroupId,
    /// Where the next poll continues.
    pub cursor: Option<Cursor>,
    /// Last successful poll.
    pub last_success: Option<DateTime<Utc>>,
    /// Last error, if the last poll failed (cleared by a success).
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

pub(super) const POST_COLUMNS: &str =
    "p.id, p.thread_id, p.group_id, p.remote_id, p.author_email, \
     p.author_name, p.created, p.body, p.body_format, p.tags, p.likes, p.reply_count, \
     p.best_answer, p.url";

const THREAD_COLUMNS: &str = "t.id, t.group_id, t.remote_id, t.title, t.url, t.created";

fn body_format_to_db(f: BodyFormat) -> &'static str {
    match f {
        BodyFormat::Markdown => "markdown",
        BodyFormat::Html => "html",
    }
}

pub(super) fn post_from_row(r: &Row) -> Result<Post, StoreError> {
    let format: String = r.get(8)?;
    let tags: String = r.get(9)?;
    Ok(Post {
        id: r.get(0)?,
        thread_id: r.get(1)?,
        group_id: r.get(2)?,
        remote_id: r.get(3)?,
        author_email: r.get(4)?,
        author_name: r.get(5)?,
        created: from_db(r.get(6)?),
        body: r.get(7)?,
        body_format: if format == "html" {
            BodyFormat::Html
        } else {
            BodyFormat::Markdown
        },
        tags: tags_from_db(&tags),
        likes: r.get(10)?,
        reply_count: r.get(11)?,
        best_answer: r.get(12)?,
        url: r.get(13)?,
    })
}

fn thread_from_row(r: &Row) -> Result<Thread, StoreError> {
    Ok(Thread {
        id: r.get(0)?,
        group_id: r.get(1)?,
        remote_id: r.get(2)?,
        title: r.get(3)?,
        url: r.get(4)?,
        created: from_db(r.get(5)?),
    })
}

/// One thread by store id, read on `ex`.
pub(crate) fn thread_on(ex: &mut impl Exec, id: ThreadId) -> Result<Option<Thread>, StoreError> {
    let sql = format!("SELECT {THREAD_COLUMNS} FROM threads t WHERE t.id = ?1");
    ex.query_opt(&sql, params![id], thread_from_row)
}

/// Upserts one group row (name and forum follow config).
fn upsert_group(tx: &mut Tx<'_>, g: &Group) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO groups (id, name, forum) VALUES (?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, forum = excluded.forum",
        params![g.id, g.name, g.forum.to_string()],
    )?;
    Ok(())
}

impl Store {
    /// Makes the groups table follow config. Groups gone from config are kept (their threads and
    /// posts stay readable); nothing is deleted.
    pub fn sync_groups(&mut self, groups: &[Group]) -> Result<(), StoreError> {
        self.db.write(|tx| {
            for g in groups {
                upsert_group(tx, g)?;
            }
            Ok(())
        })
    }

    /// Stores one fetched page in ONE transaction: upserts its threads (title and url follow the
    /// forum), inserts its posts (a post already stored is left as it is), and moves the group's
    /// cursor to `batch.next_cursor`. Returns how many posts were new.
    pub fn store_batch(&mut self, group: &Group, batch: &FetchBatch) -> Result<usize, StoreError> {
        self.db.write(|tx| {
            upsert_group(tx, group)?;
            let mut thread_ids: HashMap<&str, ThreadId> = HashMap::new();
            for t in &batch.threads {
                let id: ThreadId = tx.query_row(
                    "INSERT INTO threads (group_id, remote_id, title, url, created)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(group_id, remote_id)
                     DO UPDATE SET title = excluded.title, url = excluded.url
                     RETURNING id",
                    params![group.id, t.remote_id, t.title, t.url, to_db(t.created)?],
                    |r| r.get(0),
                )?;
                thread_ids.insert(t.remote_id.as_str(), id);
            }
            let mut new_posts = 0;
            for fp in &batch.posts {
                let thread_id = match thread_ids.get(fp.thread_remote_id.as_str()) {
                    Some(id) => *id,
                    None => tx
                        .query_opt(
                            "SELECT id FROM threads WHERE group_id = ?1 AND remote_id = ?2",
                            params![group.id, fp.thread_remote_id],
                            |r| r.get(0),
                        )?
                        .ok_or_else(|| StoreError::UnknownThread {
                            group: group.id.clone(),
                            post: fp.post.remote_id.clone(),
                            thread: fp.thread_remote_id.clone(),
                        })?,
                };
                let p = &fp.post;
                new_posts += tx.execute(
                    "INSERT INTO posts (thread_id, group_id, remote_id, author_email, author_name,
                        created, body, body_format, tags, likes, reply_count, best_answer, url)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT(group_id, remote_id) DO NOTHING",
                    params![
                        thread_id,
                        group.id,
                        p.remote_id,
                        crate::model::normalize_email(&p.author_email),
                        p.author_name,
                        to_db(p.created)?,
                        p.body,
                        body_format_to_db(p.body_format),
                        tags_to_db(&p.tags),
                        p.likes,
                        p.reply_count,
                        p.best_answer,
                        p.url,
                    ],
                )?;
            }
            tx.execute(
                "INSERT INTO cursors (group_id, cursor, last_success, last_error, last_error_at)
                 VALUES (?1, ?2, ?3, NULL, NULL)
                 ON CONFLICT(group_id) DO UPDATE SET cursor = excluded.cursor,
                    last_success = excluded.last_success, last_error = NULL, last_error_at = NULL",
                params![group.id, batch.next_cursor.0, now_db()],
            )?;
            Ok(new_posts)
        })
    }

    /// Where collection of `group_id` continues (`None`: from the beginning).
    pub fn cursor(&self, group_id: &str) -> Result<Option<Cursor>, StoreError> {
        let c: Option<Option<String>> = self.db.query_opt(
            "SELECT cursor FROM cursors WHERE group_id = ?1",
            params![group_id],
            |r| r.get(0),
        )?;
        Ok(c.flatten().map(Cursor))
    }

    /// Records that polling `group_id` failed (the cursor stays where it was).
    pub fn record_poll_error(&self, group_id: &str, msg: &str) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO cursors (group_id, cursor, last_error, last_error_at)
             VALUES (?1, NULL, ?2, ?3)
             ON CONFLICT(group_id) DO UPDATE SET last_error = excluded.last_error,
                last_error_at = excluded.last_error_at",
            params![group_id, msg, now_db()],
        )?;
        Ok(())
    }

    /// Collection state of every group polled so far, by group id.
    pub fn poll_states(&self) -> Result<Vec<PollState>, StoreError> {
        self.db.query_map(
            "SELECT group_id, cursor, last_success, last_error, last_error_at
             FROM cursors ORDER BY group_id",
            params![],
            |r| {
                Ok(PollState {
                    group_id: r.get(0)?,
                    cursor: r.get::<Option<String>>(1)?.map(Cursor),
                    last_success: r.get::<Option<i64>>(2)?.map(from_db),
                    last_error: r.get(3)?,
                    last_error_at: r.get::<Option<i64>>(4)?.map(from_db),
                })
            },
        )
    }

    /// The activity a digest run reads, in two prepared queries:
    ///
    /// - posts in `groups` created after `posts_since`, and
    /// - posts in any group created after `highlights_since` that carry one of `highlight_tags`
    ///   (compared lower case), are marked best answer or have at least `highlight_min_likes`
    ///   likes (0: likes do not count), and
    /// - posts with an ambassador's nomination in force, however old,
    ///
    /// plus every thread those posts belong to. Posts come oldest first, threads by id.
    pub fn load_activity(
        &self,
        groups: &[GroupId],
        posts_since: DateTime<Utc>,
        highlight_tags: &[String],
        highlights_since: DateTime<Utc>,
        highlight_min_likes: u32,
    ) -> Result<(Vec<Thread>, Vec<Post>), StoreError> {
        let mut args: Vec<Value> = Vec::new();
        let mut ors: Vec<String> = Vec::new();
        if !groups.is_empty() {
            args.push(to_db(posts_since)?.value());
            let marks = vec!["?"; groups.len()].join(", ");
            args.extend(groups.iter().map(|g| g.value()));
            ors.push(format!("(p.created > ? AND p.group_id IN ({marks}))"));
        }
        // Highlights: positional order is the instant first, then each tag.
        args.push(to_db(highlights_since)?.value());
        let mut highlight = vec!["p.best_answer = 1".to_string()];
        for t in highlight_tags {
            let t = t.trim().to_lowercase();
            if !t.is_empty() && !t.contains(',') {
                args.push(Value::Text(format!(",{t},")));
                highlight.push("instr(p.tags, ?) > 0".to_string());
            }
        }
        if highlight_min_likes > 0 {
            args.push(Value::Int(i64::from(highlight_min_likes)));
            highlight.push("p.likes >= ?".to_string());
        }
        ors.push(format!("(p.created > ? AND ({}))", highlight.join(" OR ")));
        // Nominated posts, however old: an ambassador chose them.
        ors.push(
            "p.id IN (SELECT post_id FROM highlight_nominations WHERE withdrawn IS NULL)".into(),
        );
        let filter = ors.join(" OR ");

        let mut db = self.db.auto()?;
        let posts: Vec<Post> = {
            let sql = format!(
                "SELECT {POST_COLUMNS} FROM posts p WHERE {filter} ORDER BY p.created, p.id"
            );
            let rows = db.rows(&sql, &args)?;
            rows.iter().map(post_from_row).collect::<Result<_, _>>()?
        };
        let threads: Vec<Thread> = {
            let sql = format!(
                "SELECT {THREAD_COLUMNS} FROM threads t
                 WHERE t.id IN (SELECT p.thread_id FROM posts p WHERE {filter})
                 ORDER BY t.id"
            );
            let rows = db.rows(&sql, &args)?;
            rows.iter().map(thread_from_row).collect::<Result<_, _>>()?
        };
        Ok((threads, posts))
    }

    /// One thread by store id.
    pub fn thread(&self, id: ThreadId) -> Result<Option<Thread>, StoreError> {
        thread_on(&mut self.db.auto()?, id)
    }

    /// The stored posts of a thread, oldest first.
    pub fn posts_of_thread(&self, id: ThreadId) -> Result<Vec<Post>, StoreError> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM posts p WHERE p.thread_id = ?1 ORDER BY p.created, p.id"
        );
        self.db.query_map(&sql, params![id], post_from_row)
    }

    /// Number of posts stored (all groups).
    pub fn post_count(&self) -> Result<u64, StoreError> {
        self.db
            .query_row("SELECT COUNT(*) FROM posts", params![], |r| r.get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FetchedPost;
    use crate::store::test_support::{each_store, temp_store};
    use chrono::Duration;

    fn group(id: &str) -> Group {
        Group::local(id, id.to_uppercase())
    }

    fn thread(remote: &str, created: DateTime<Utc>) -> Thread {
        Thread {
            id: 0,
            group_id: String::new(),
            remote_id: remote.into(),
            title: format!("Thread {remote}"),
            url: format!("https://f/t/{remote}"),
            created,
        }
    }

    fn post(
        thread: &str,
        remote: &str,
        created: DateTime<Utc>,
        tags: &[&str],
        best: bool,
    ) -> FetchedPost {
        FetchedPost {
            thread_remote_id: thread.into(),
            post: Post {
                id: 0,
                thread_id: 0,
                group_id: String::new(),
                remote_id: remote.into(),
                author_email: "A@Example.org".into(),
                author_name: "A".into(),
                created,
                body: format!("body {remote}"),
                body_format: BodyFormat::Markdown,
                tags: tags.iter().map(|t| t.to_string()).collect(),
                likes: 2,
                reply_count: 1,
                best_answer: best,
                url: format!("https://f/t/{thread}#p{remote}"),
            },
        }
    }

    #[test]
    fn store_batch_is_idempotent_and_moves_cursor() {
        each_store(|mut store| {
            let g = group("g");
            let now = Utc::now();
            let batch = FetchBatch {
                threads: vec![thread("1", now)],
                posts: vec![
                    post("1", "1", now, &[], false),
                    post("1", "2", now, &[], false),
                ],
                next_cursor: Cursor("2".into()),
                more: false,
            };
            assert_eq!(store.cursor("g").expect("c"), None);
            assert_eq!(store.store_batch(&g, &batch).expect("store"), 2);
            assert_eq!(store.cursor("g").expect("c"), Some(Cursor("2".into())));
            assert_eq!(store.store_batch(&g, &batch).expect("again"), 0);
            assert_eq!(store.post_count().expect("n"), 2);

            // A later page may name a thread stored earlier without repeating it.
            let later = FetchBatch {
                threads: vec![],
                posts: vec![post("1", "3", now, &[], false)],
                next_cursor: Cursor("3".into()),
                more: false,
            };
            assert_eq!(store.store_batch(&g, &later).expect("later"), 1);
            let orphan = FetchBatch {
                threads: vec![],
                posts: vec![post("9", "4", now, &[], false)],
                next_cursor: Cursor("4".into()),
                more: false,
            };
            assert!(matches!(
                store.store_batch(&g, &orphan),
                Err(StoreError::UnknownThread { .. })
            ));
            // The failed batch changed nothing, cursor included.
            assert_eq!(store.cursor("g").expect("c"), Some(Cursor("3".into())));

            let (threads, posts) = store
                .load_activity(&["g".into()], now - Duration::days(1), &[], now, 0)
                .expect("load");
            assert_eq!(threads.len(), 1);
            assert_eq!(posts.len(), 3);
            assert_eq!(posts[0].author_email, "a@example.org");
            assert_eq!(posts[0].thread_id, threads[0].id);
            assert_eq!(store.posts_of_thread(threads[0].id).expect("p").len(), 3);
            assert_eq!(
                store.thread(threads[0].id).expect("t").map(|t| t.title),
                Some("Thread 1".to_string())
            );
        });
    }

    #[test]
    fn poll_errors_are_recorded_and_cleared() {
        each_store(|mut store| {
            store.record_poll_error("g", "down").expect("err");
            let st = store.poll_states().expect("states");
            assert_eq!(st[0].last_error.as_deref(), Some("down"));
            assert_eq!(st[0].cursor, None);
            let batch = FetchBatch {
                next_cursor: Cursor("7".into()),
                ..Default::default()
            };
            store.store_batch(&group("g"), &batch).expect("ok");
            let st = store.poll_states().expect("states");
            assert_eq!(st[0].last_error, None);
            assert!(st[0].last_success.is_some());
        });
    }

    #[test]
    fn load_activity_filters_groups_periods_and_tags() {
        each_store(|mut store| {
            let now = Utc::now();
            let old = now - Duration::days(20);
            let mid = now - Duration::days(5);
            let recent = now - Duration::hours(2);
            let a = FetchBatch {
                threads: vec![thread("1", old), thread("2", old)],
                posts: vec![
                    post("1", "old", old, &["training"], false),
                    post("1", "recent", recent, &[], false),
                    post("2", "mid-tagged", mid, &["Training"], false),
                    post("2", "mid-plain", mid, &["trainingx"], false),
                ],
                next_cursor: Cursor("a".into()),
                more: false,
            };
            let b = FetchBatch {
                threads: vec![thread("1", old), thread("3", old)],
                posts: vec![
                    post("1", "b-recent", recent, &[], false),
                    post("3", "b-best", mid, &[], true),
                ],
                next_cursor: Cursor("b".into()),
                more: false,
            };
            store.store_batch(&group("a"), &a).expect("a");
            store.store_batch(&group("b"), &b).expect("b");

            let day = now - Duration::days(1);
            let fortnight = now - Duration::days(14);
            let (threads, posts) = store
                .load_activity(&["a".into()], day, &["training".into()], fortnight, 0)
                .expect("load");
            let ids: Vec<&str> = posts.iter().map(|p| p.remote_id.as_str()).collect();
            // Oldest first: the mid posts (tagged in a, best answer in b), then the recent one of a.
            assert_eq!(ids.len(), 3, "{ids:?}");
            assert!(ids.contains(&"recent"));
            assert!(ids.contains(&"mid-tagged"));
            assert!(ids.contains(&"b-best"));
            assert_eq!(ids[2], "recent");
            assert_eq!(threads.len(), 3);
            for p in &posts {
                assert!(threads.iter().any(|t| t.id == p.thread_id));
            }

            // No groups: only highlights.
            let (_, posts) = store
                .load_activity(&[], day, &[], fortnight, 0)
                .expect("load");
            assert_eq!(posts.len(), 1);
            assert!(posts[0].best_answer);
        });
    }

    #[test]
    fn load_activity_is_fast_at_50k_posts() {
        let (_d, mut store) = temp_store();
        let now = Utc::now();
        let g = group("g");
        let mut batch = FetchBatch::default();
        for t in 0..1_000 {
            batch.threads.push(thread(&t.to_string(), now));
        }
        for i in 0..50_000i64 {
            let created = now - Duration::minutes(i);
            let tags: &[&str] = if i % 50 == 0 { &["training"] } else { &[] };
            batch.posts.push(post(
                &(i % 1_000).to_string(),
                &i.to_string(),
                created,
                tags,
                false,
            ));
        }
        batch.next_cursor = Cursor("x".into());
        assert_eq!(store.store_batch(&g, &batch).expect("store"), 50_000);
        let started = std::time::Instant::now();
        let (threads, posts) = store
            .load_activity(
                &["g".into()],
                now - Duration::days(7),
                &["training".into()],
                now - Duration::days(30),
                0,
            )
            .expect("load");
        let took = started.elapsed();
        eprintln!("load_activity over 50,000 posts: {took:?}");
        // A week of minutes, plus every 50th post of the month before.
        let expected = (0..50_000i64)
            .filter(|i| *i < 7 * 1440 || (*i < 30 * 1440 && i % 50 == 0))
            .count();
        assert_eq!(posts.len(), expected);
        assert_eq!(threads.len(), 1_000);
        assert!(took.as_secs_f64() < 2.0, "load_activity took {took:?}");
    }
}
