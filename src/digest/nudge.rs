//! What an ambassador's weekly nudge lists for one group: its unanswered questions and its
//! newcomers' first posts. Pure: the posts come in, the items go out.
//!
//! A question is unanswered when nobody but its author has posted in the thread, or when its
//! opening post carries the [`QUESTION_TAG`] and no post is marked the best answer (the same
//! rule as the digest's "Can you help?" section, without its waiting time: an ambassador
//! hears of a question at once). A newcomer's first post is the first post its author ever
//! wrote in the group (the store finds those); the ambassador's own posts are left out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::select::QUESTION_TAG;
use crate::model::{Post, Thread, ThreadId};

/// Most items of each kind a nudge lists per group ("and N more" after them).
pub const MAX_ITEMS: usize = 10;

/// One item of a nudge: a post (the question's opening post, or a newcomer's first post) in
/// its thread.
#[derive(Debug, Clone, PartialEq)]
pub struct NudgeItem {
    /// The thread.
    pub thread: Thread,
    /// The post.
    pub post: Post,
    /// Whole days since it was written.
    pub days: i64,
}

/// A group's part of a nudge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NudgeGroup {
    /// Group id.
    pub group_id: String,
    /// Group name.
    pub group_name: String,
    /// Unanswered questions, oldest first, at most [`MAX_ITEMS`].
    pub questions: Vec<NudgeItem>,
    /// Unanswered questions not listed.
    pub more_questions: usize,
    /// Newcomers' first posts, oldest first, at most [`MAX_ITEMS`].
    pub newcomers: Vec<NudgeItem>,
    /// First posts not listed.
    pub more_newcomers: usize,
}

impl NudgeGroup {
    /// True when there is nothing to tell about the group.
    pub fn is_empty(&self) -> bool {
        self.questions.is_empty() && self.newcomers.is_empty()
    }
}

/// The unanswered questions of `group_id` among `threads` and their `posts` (oldest first; a
/// thread counts only when its opening post is among them), oldest first, never `ambassador`'s
/// own.
pub fn unanswered_questions(
    group_id: &str,
    threads: &[Thread],
    posts: &[Post],
    ambassador: &str,
    now: DateTime<Utc>,
) -> Vec<NudgeItem> {
    let by_id: HashMap<ThreadId, &Thread> = threads
        .iter()
        .filter(|t| t.group_id == group_id)
        .map(|t| (t.id, t))
        .collect();
    // thread → (opening post, someone else posted, an answer is marked best)
    let mut seen: HashMap<ThreadId, (&Post, bool, bool)> = HashMap::new();
    let mut order: Vec<ThreadId> = Vec::new();
    for p in posts.iter().filter(|p| by_id.contains_key(&p.thread_id)) {
        match seen.get_mut(&p.thread_id) {
            None => {
                seen.insert(p.thread_id, (p, false, p.best_answer));
                order.push(p.thread_id);
            }
            Some((opener, answered, solved)) => {
                *answered |= p.author_email != opener.author_email;
                *solved |= p.best_answer;
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| {
            let (opener, answered, solved) = seen[&id];
            let thread = by_id[&id];
            let tagged = opener.tags.iter().any(|t| t == QUESTION_TAG);
            let open = !answered || (tagged && !solved);
            let own = opener.author_email == ambassador;
            // The opening post must be the thread's first (not a later post of an old thread).
            let first = opener.created >= thread.created;
            (open && !own && first).then(|| item(thread, opener, now))
        })
        .collect()
}

/// The newcomers' first posts among `first_posts` (oldest first), with their threads; the
/// `ambassador`'s own and posts whose thread is unknown are left out.
pub fn newcomers(
    first_posts: &[Post],
    threads: &HashMap<ThreadId, Thread>,
    ambassador: &str,
    now: DateTime<Utc>,
) -> Vec<NudgeItem> {
    first_posts
        .iter()
        .filter(|p| p.author_email != ambassador)
        .filter_map(|p| threads.get(&p.thread_id).map(|t| item(t, p, now)))
        .collect()
}

fn item(thread: &Thread, post: &Post, now: DateTime<Utc>) -> NudgeItem {
    NudgeItem {
        thread: thread.clone(),
        post: post.clone(),
        days: (now - post.created).num_days().max(0),
    }
}

/// Keeps the first [`MAX_ITEMS`] of `items`; returns them and how many were cut.
pub fn capped(mut items: Vec<NudgeItem>) -> (Vec<NudgeItem>, usize) {
    let more = items.len().saturating_sub(MAX_ITEMS);
    items.truncate(MAX_ITEMS);
    (items, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("instant")
    }

    fn thread(id: ThreadId, days: i64) -> Thread {
        Thread {
            id,
            group_id: "g".into(),
            remote_id: id.to_string(),
            title: format!("t{id}"),
            url: String::new(),
            created: now() - Duration::days(days),
        }
    }

    fn post(id: i64, thread: ThreadId, author: &str, days: i64) -> Post {
        Post {
            id,
            thread_id: thread,
            group_id: "g".into(),
            remote_id: id.to_string(),
            author_email: author.into(),
            author_name: author.into(),
            created: now() - Duration::days(days),
            body: "b".into(),
            body_format: Default::default(),
            tags: vec![],
            likes: 0,
            reply_count: 0,
            best_answer: false,
            url: String::new(),
        }
    }

    #[test]
    fn a_question_is_unanswered_until_someone_else_posts_or_an_answer_is_marked() {
        let threads = vec![thread(1, 5), thread(2, 4), thread(3, 3), thread(4, 2)];
        let mut tagged = post(6, 3, "c@x", 3);
        tagged.tags = vec!["question".into()];
        let posts = vec![
            post(1, 1, "a@x", 5),
            post(2, 1, "a@x", 4),
            post(3, 2, "b@x", 4),
            post(4, 2, "a@x", 3),
            tagged,
            post(7, 3, "a@x", 2),
            post(8, 4, "amb@x", 2),
        ];
        let items = unanswered_questions("g", &threads, &posts, "amb@x", now());
        let ids: Vec<ThreadId> = items.iter().map(|i| i.thread.id).collect();
        assert_eq!(
            ids,
            [1, 3],
            "2 answered; 3 tagged and unsolved; 4 is the ambassador's"
        );
        assert_eq!(items[0].days, 5);
    }

    #[test]
    fn newcomers_leave_out_the_ambassador_and_unknown_threads() {
        let threads: HashMap<ThreadId, Thread> = [(1, thread(1, 3))].into_iter().collect();
        let posts = vec![
            post(1, 1, "new@x", 1),
            post(2, 1, "amb@x", 1),
            post(3, 9, "x@x", 1),
        ];
        let items = newcomers(&posts, &threads, "amb@x", now());
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].post.author_email, "new@x");
        let many: Vec<NudgeItem> = (0..12).map(|_| items[0].clone()).collect();
        let (kept, more) = capped(many);
        assert_eq!((kept.len(), more), (MAX_ITEMS, 2));
    }
}
