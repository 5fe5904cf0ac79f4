//! Pure decisions of the Discourse connector: the cursor, which topics of a category page can
//! hold new posts, which posts are new, and how a Discourse post becomes a [`Post`].
//!
//! Discourse post ids are site-wide and increasing, so the cursor is the highest post id
//! collected in the group plus that post's time: a topic whose last bump is older than that
//! time cannot hold a newer post, which is where paging through a category stops.

use chrono::{DateTime, Duration, Utc};

use crate::forum::{Cursor, FetchBatch, FetchedPost};
use crate::model::{normalize_email, BodyFormat, Post, Thread};

use super::wire::{TopicSummary, TopicView, WirePost, ACTION_LIKE, POST_TYPE_REGULAR};

/// How far back the first poll of a group looks (a digest covers at most a week).
pub const BACKFILL: Duration = Duration::days(14);

/// Position in a group's stream: the newest post id collected and when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostCursor {
    /// Highest post id collected.
    pub post_id: u64,
    /// Creation time of that post.
    pub at: DateTime<Utc>,
}

impl PostCursor {
    /// The stored form: `discourse:<post id>:<RFC 3339 time>`.
    pub fn encode(&self) -> Cursor {
        Cursor(format!(
            "discourse:{}:{}",
            self.post_id,
            self.at.to_rfc3339()
        ))
    }

    /// Reads a stored cursor; `None` when it is not one of ours (then collection starts over
    /// from the backfill window, and the store's unique remote ids drop what it had).
    pub fn decode(cursor: &Cursor) -> Option<PostCursor> {
        let rest = cursor.0.strip_prefix("discourse:")?;
        let (id, at) = rest.split_once(':')?;
        Some(PostCursor {
            post_id: id.parse().ok()?,
            at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        })
    }
}

/// Where a fetch starts: posts above `after_id`, in topics bumped at or after `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Only posts with a larger id are new.
    pub after_id: u64,
    /// Topics last bumped before this cannot hold new posts: paging stops at the first one.
    pub since: DateTime<Utc>,
    /// Topics whose last post is older than this are not opened (the cursor's post time: a
    /// quiet poll then costs one list request).
    pub last_post_from: DateTime<Utc>,
}

impl Window {
    /// The window after `cursor`, or the backfill window before `now` without one.
    pub fn new(cursor: Option<PostCursor>, now: DateTime<Utc>) -> Window {
        match cursor {
            Some(c) => Window {
                after_id: c.post_id,
                // A minute of slack for a bump recorded a little before its post's time.
                since: c.at - Duration::minutes(1),
                last_post_from: c.at,
            },
            None => Window {
                after_id: 0,
                since: now - BACKFILL,
                last_post_from: now - BACKFILL,
            },
        }
    }
}

/// What one page of a category's topic list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageScan {
    /// Topics that may hold new posts (and carry one of the group's tags, when it has any).
    pub candidates: Vec<u64>,
    /// True when an unpinned topic older than the window was seen: later pages are older.
    pub reached_end: bool,
}

/// Picks the topics of one list page worth opening.
pub fn scan_page(topics: &[TopicSummary], window: &Window, tags: &[String]) -> PageScan {
    let mut scan = PageScan {
        candidates: Vec::new(),
        reached_end: false,
    };
    for t in topics {
        let bumped = t.bumped_at.or(t.last_posted_at).unwrap_or(t.created_at);
        if bumped < window.since {
            if !(t.pinned || t.pinned_globally) {
                scan.reached_end = true;
            }
            continue;
        }
        let last_post = t.last_posted_at.unwrap_or(bumped);
        if last_post >= window.last_post_from && has_any_tag(&t.tags, tags) {
            scan.candidates.push(t.id);
        }
    }
    scan
}

/// True when the group names no tags, or the topic carries one of them (case-insensitive).
pub fn has_any_tag(topic_tags: &[super::wire::TagRef], wanted: &[String]) -> bool {
    wanted.is_empty()
        || topic_tags
            .iter()
            .any(|t| wanted.iter().any(|w| w.eq_ignore_ascii_case(t.name())))
}

/// True for a post digestd collects: an ordinary, visible, undeleted post after the window.
pub fn is_new_post(p: &WirePost, window: &Window) -> bool {
    p.id > window.after_id
        && p.post_type == POST_TYPE_REGULAR
        && !p.hidden
        && p.deleted_at.is_none()
}

/// Ids of the topic's posts after the window that its first chunk did not include.
pub fn missing_post_ids(view: &TopicView, window: &Window) -> Vec<u64> {
    view.post_stream
        .stream
        .iter()
        .copied()
        .filter(|id| *id > window.after_id)
        .filter(|id| !view.post_stream.posts.iter().any(|p| p.id == *id))
        .collect()
}

/// A topic's link: `<base>/t/<slug>/<id>`.
pub fn topic_url(base: &str, slug: &str, topic_id: u64) -> String {
    let slug = if slug.is_empty() { "-" } else { slug };
    format!("{}/t/{slug}/{topic_id}", base.trim_end_matches('/'))
}

/// A post's link: `<base>/t/<slug>/<topic id>/<post number>`.
pub fn post_url(base: &str, slug: &str, topic_id: u64, post_number: u32) -> String {
    format!("{}/{post_number}", topic_url(base, slug, topic_id))
}

/// The thread of a topic view.
pub fn thread_of(group_id: &str, base: &str, view: &TopicView) -> Thread {
    Thread {
        id: 0,
        group_id: group_id.to_string(),
        remote_id: view.id.to_string(),
        title: view.title.clone(),
        url: topic_url(base, &view.slug, view.id),
        created: view.created_at,
    }
}

/// A Discourse post as a digestd post: HTML body, the topic's tags, likes, replies and whether
/// it is the accepted answer. `author_email` comes from the user lookup.
pub fn post_of(
    group_id: &str,
    base: &str,
    view: &TopicView,
    p: &WirePost,
    author_email: &str,
) -> FetchedPost {
    let likes = p
        .actions_summary
        .iter()
        .filter(|a| a.id == ACTION_LIKE)
        .filter_map(|a| a.count)
        .sum();
    let best_answer = p.accepted_answer
        || view
            .accepted_answer
            .as_ref()
            .is_some_and(|a| a.post_number == p.post_number);
    let mut tags: Vec<String> = view.tags.iter().map(|t| t.name().to_lowercase()).collect();
    tags.sort();
    tags.dedup();
    let name = p
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&p.username);
    FetchedPost {
        thread_remote_id: view.id.to_string(),
        post: Post {
            id: 0,
            thread_id: 0,
            group_id: group_id.to_string(),
            remote_id: p.id.to_string(),
            author_email: normalize_email(author_email),
            author_name: name.to_string(),
            created: p.created_at,
            body: crate::forum::links::absolute_links(&p.cooked, base),
            body_format: BodyFormat::Html,
            tags,
            likes,
            reply_count: p.reply_count,
            best_answer,
            url: post_url(base, &view.slug, view.id, p.post_number),
        },
    }
}

/// The address given to an author whose address Discourse will not tell (a deleted or system
/// user): it matches no person, so their posts reach everyone and no one's replies.
pub fn placeholder_email(username: &str) -> String {
    format!("{}@users.discourse.invalid", username.to_lowercase())
}

/// Builds a batch from the new posts found (any order): oldest first by post id, at most
/// `limit`, with the cursor after the last one kept and `more` when some were left out.
/// Without posts the cursor stays where it was (`previous`).
pub fn assemble(
    mut found: Vec<(Thread, FetchedPost, DateTime<Utc>, u64)>,
    limit: usize,
    previous: Option<PostCursor>,
) -> FetchBatch {
    found.sort_by_key(|(_, _, _, id)| *id);
    found.dedup_by_key(|(_, _, _, id)| *id);
    let more = found.len() > limit.max(1);
    found.truncate(limit.max(1));
    let next = found
        .last()
        .map(|(_, _, at, id)| PostCursor {
            post_id: *id,
            at: *at,
        })
        .or(previous);
    let mut threads: Vec<Thread> = Vec::new();
    let mut posts = Vec::with_capacity(found.len());
    for (thread, post, _, _) in found {
        if !threads.iter().any(|t| t.remote_id == thread.remote_id) {
            threads.push(thread);
        }
        posts.push(post);
    }
    FetchBatch {
        threads,
        posts,
        next_cursor: next.map(|c| c.encode()).unwrap_or_default(),
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forum::discourse::wire::{PostStream, TagRef};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn summary(id: u64, bumped: &str, pinned: bool, tags: &[&str]) -> TopicSummary {
        TopicSummary {
            id,
            title: format!("t{id}"),
            slug: format!("t-{id}"),
            created_at: at("2026-01-01T00:00:00Z"),
            bumped_at: Some(at(bumped)),
            last_posted_at: None,
            pinned,
            pinned_globally: false,
            tags: tags.iter().map(|t| TagRef::Name(t.to_string())).collect(),
        }
    }

    fn wire_post(id: u64, number: u32) -> WirePost {
        serde_json::from_value(serde_json::json!({
            "id": id, "username": "anna", "name": "Anna", "created_at": "2026-03-01T10:00:00Z",
            "cooked": "<p>hi</p>", "post_number": number, "post_type": 1, "reply_count": 2,
            "topic_id": 7, "actions_summary": [{"id": 2, "count": 3, "can_act": true}]
        }))
        .unwrap()
    }

    fn view(posts: Vec<WirePost>, stream: Vec<u64>) -> TopicView {
        TopicView {
            id: 7,
            title: "Rota".into(),
            slug: "rota".into(),
            created_at: at("2026-03-01T09:00:00Z"),
            category_id: Some(5),
            tags: vec![TagRef::Name("Training".into())],
            post_stream: PostStream { posts, stream },
            accepted_answer: Some(crate::forum::discourse::wire::AcceptedAnswer { post_number: 2 }),
            details: None,
        }
    }

    #[test]
    fn cursor_round_trips_and_rejects_foreign_ones() {
        let c = PostCursor {
            post_id: 42,
            at: at("2026-03-01T10:00:00Z"),
        };
        assert_eq!(PostCursor::decode(&c.encode()), Some(c));
        assert_eq!(PostCursor::decode(&Cursor("17".into())), None);
        assert_eq!(PostCursor::decode(&Cursor("discourse:x:y".into())), None);
    }

    #[test]
    fn paging_stops_at_the_first_old_unpinned_topic_and_filters_tags() {
        let w = Window {
            after_id: 10,
            since: at("2026-03-01T00:00:00Z"),
            last_post_from: at("2026-03-01T00:00:00Z"),
        };
        let topics = vec![
            summary(1, "2025-01-01T00:00:00Z", true, &[]),
            summary(2, "2026-03-02T00:00:00Z", false, &["training"]),
            summary(3, "2026-03-02T00:00:00Z", false, &["other"]),
        ];
        let scan = scan_page(&topics, &w, &["Training".into()]);
        assert_eq!(scan.candidates, vec![2]);
        assert!(!scan.reached_end, "an old pinned topic does not end paging");
        let old = vec![summary(4, "2026-02-01T00:00:00Z", false, &[])];
        assert!(scan_page(&old, &w, &[]).reached_end);
        let quiet = Window {
            last_post_from: at("2026-03-03T00:00:00Z"),
            ..w
        };
        let mut t = summary(5, "2026-03-02T00:00:00Z", false, &[]);
        t.last_posted_at = Some(at("2026-03-02T00:00:00Z"));
        let scan = scan_page(&[t], &quiet, &[]);
        assert!(
            scan.candidates.is_empty() && !scan.reached_end,
            "bumped late, no new post: not opened"
        );
    }

    #[test]
    fn posts_keep_likes_replies_tags_and_the_accepted_answer() {
        let v = view(vec![wire_post(11, 1), wire_post(12, 2)], vec![11, 12, 13]);
        let fp = post_of(
            "g",
            "https://d.example/",
            &v,
            &v.post_stream.posts[1],
            "Anna@X.org",
        );
        assert_eq!(fp.thread_remote_id, "7");
        assert_eq!(fp.post.likes, 3);
        assert_eq!(fp.post.reply_count, 2);
        assert!(fp.post.best_answer);
        assert_eq!(fp.post.tags, vec!["training"]);
        assert_eq!(fp.post.author_email, "anna@x.org");
        assert_eq!(fp.post.url, "https://d.example/t/rota/7/2");
        assert_eq!(fp.post.body_format, BodyFormat::Html);
        let w = Window {
            after_id: 11,
            since: at("2026-01-01T00:00:00Z"),
            last_post_from: at("2026-01-01T00:00:00Z"),
        };
        assert_eq!(missing_post_ids(&v, &w), vec![13]);
    }

    #[test]
    fn whispers_small_actions_and_deleted_posts_are_not_collected() {
        let w = Window {
            after_id: 0,
            since: at("2026-01-01T00:00:00Z"),
            last_post_from: at("2026-01-01T00:00:00Z"),
        };
        let mut p = wire_post(1, 1);
        assert!(is_new_post(&p, &w));
        p.post_type = 4;
        assert!(!is_new_post(&p, &w));
        let mut p = wire_post(1, 1);
        p.deleted_at = Some("2026-03-01T10:00:00Z".into());
        assert!(!is_new_post(&p, &w));
    }

    #[test]
    fn a_batch_is_oldest_first_bounded_and_its_cursor_follows_the_last_post() {
        let v = view(vec![], vec![]);
        let item = |id: u64| {
            let p = wire_post(id, 1);
            (
                thread_of("g", "https://d", &v),
                post_of("g", "https://d", &v, &p, "a@x"),
                p.created_at,
                id,
            )
        };
        let b = assemble(vec![item(5), item(3), item(4), item(3)], 2, None);
        let ids: Vec<_> = b.posts.iter().map(|p| p.post.remote_id.clone()).collect();
        assert_eq!(ids, vec!["3", "4"]);
        assert!(b.more);
        assert_eq!(b.threads.len(), 1);
        assert_eq!(
            PostCursor::decode(&b.next_cursor).map(|c| c.post_id),
            Some(4)
        );
        let prev = PostCursor {
            post_id: 9,
            at: at("2026-03-01T10:00:00Z"),
        };
        let empty = assemble(vec![], 10, Some(prev));
        assert_eq!(empty.next_cursor, prev.encode());
        assert!(!empty.more);
    }
}
