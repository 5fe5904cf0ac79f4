//! "Can you help?": the questions in a person's groups that nobody has answered.
//!
//! A thread is a question waiting for help at an instant `end` when it was opened at least
//! `unanswered_after` before `end` and either nobody but its author had posted in it by `end`,
//! or its opening post carries the [`QUESTION_TAG`] (how forums mark a question) and no post in
//! it was marked the accepted/best answer by `end`. Once someone else replies (or an answer is
//! accepted), it leaves the section.
//!
//! [`QuestionIndex::new`] finds the candidates once per run (O(posts)); [`questions_for`] picks
//! one person's: never their own, ranked by [`rank::question_score`], capped.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{Activity, GroupPosts};
use crate::digest::rank;
use crate::model::{Question, Role, ThreadId};

/// Tag on a thread's opening post that marks it as a question (solved once an answer is
/// marked best/accepted).
pub const QUESTION_TAG: &str = "question";

/// A thread that may be waiting for an answer, as found in one group's loaded posts.
#[derive(Debug, Clone)]
pub(super) struct OpenQuestion {
    thread_id: ThreadId,
    /// Index of the opening post in the group's posts.
    opener: usize,
    /// Interned author of the opening post.
    author: u32,
    asked: DateTime<Utc>,
    /// First post by someone else.
    answered: Option<DateTime<Utc>>,
    /// Marked as a question by its tag.
    tagged: bool,
    /// First post marked best answer.
    solved: Option<DateTime<Utc>>,
}

impl OpenQuestion {
    /// Waiting for help at `end`?
    fn open_at(&self, end: DateTime<Utc>, after: Duration) -> bool {
        let waited = self.asked + after <= end;
        let unanswered = self.answered.is_none_or(|a| a > end);
        let unsolved = self.tagged && self.solved.is_none_or(|s| s > end);
        waited && self.asked <= end && (unanswered || unsolved)
    }
}

/// The candidate questions of every group, made once per run.
#[derive(Debug, Default)]
pub(super) struct QuestionIndex {
    /// Per group (same index as `Activity::groups`), oldest first.
    pub(super) groups: Vec<Vec<OpenQuestion>>,
}

impl QuestionIndex {
    /// Finds the threads of `groups` whose opening post is loaded: threads created after
    /// `complete_since` (`None`: every thread's posts are all loaded).
    pub(super) fn new(
        groups: &[GroupPosts],
        thread_created: &HashMap<ThreadId, DateTime<Utc>>,
        complete_since: Option<DateTime<Utc>>,
    ) -> QuestionIndex {
        let groups = groups
            .iter()
            .map(|g| {
                let mut by_thread: HashMap<ThreadId, usize> = HashMap::new();
                let mut out: Vec<OpenQuestion> = Vec::new();
                for (i, p) in g.posts.iter().enumerate() {
                    let m = &g.meta[i];
                    match by_thread.get(&p.thread_id) {
                        None => {
                            let complete = match (complete_since, thread_created.get(&p.thread_id))
                            {
                                (None, _) => true,
                                (Some(since), Some(created)) => *created > since,
                                (Some(_), None) => false,
                            };
                            if !complete {
                                // Mark the thread seen so later posts are not taken as openers.
                                by_thread.insert(p.thread_id, usize::MAX);
                                continue;
                            }
                            by_thread.insert(p.thread_id, out.len());
                            out.push(OpenQuestion {
                                thread_id: p.thread_id,
                                opener: i,
                                author: m.author,
                                asked: p.created,
                                answered: None,
                                tagged: p.tags.iter().any(|t| t == QUESTION_TAG),
                                solved: p.best_answer.then_some(p.created),
                            });
                        }
                        Some(&usize::MAX) => {}
                        Some(&q) => {
                            let q = &mut out[q];
                            if m.author != q.author && q.answered.is_none() {
                                q.answered = Some(p.created);
                            }
                            if p.best_answer && q.solved.is_none() {
                                q.solved = Some(p.created);
                            }
                        }
                    }
                }
                out
            })
            .collect();
        QuestionIndex { groups }
    }
}

/// The questions waiting for help in the groups of `roles` at `end`, never asked by `me`,
/// best first, at most `max` (and how many more there were).
pub(super) fn questions_for(
    activity: &Activity,
    roles: &[&Role],
    me: Option<u32>,
    end: DateTime<Utc>,
    unanswered_after: Duration,
    max: usize,
) -> (Vec<Question>, usize) {
    let mut seen: Vec<usize> = Vec::new();
    let mut found: Vec<(f64, usize, &OpenQuestion)> = Vec::new();
    for role in roles {
        for g in &role.groups {
            let Some(&gi) = activity.group_index.get(g.as_str()) else {
                continue;
            };
            if seen.contains(&gi) {
                continue;
            }
            seen.push(gi);
            let fit = rank::group_fit(roles.iter().map(|r| r.groups.as_slice()), g);
            let Some(open) = activity.questions.groups.get(gi) else {
                continue;
            };
            for q in open {
                if Some(q.author) == me || !q.open_at(end, unanswered_after) {
                    continue;
                }
                found.push((rank::question_score(fit, end - q.asked), gi, q));
            }
        }
    }
    found.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.2.asked.cmp(&b.2.asked))
            .then(a.2.thread_id.cmp(&b.2.thread_id))
    });
    let more = found.len().saturating_sub(max);
    let questions = found
        .into_iter()
        .filter_map(|(score, gi, q)| {
            let thread = activity.threads.get(&q.thread_id)?;
            Some(Question {
                thread: Arc::clone(thread),
                opener: Arc::clone(&activity.groups[gi].posts[q.opener]),
                waiting_days: (end - q.asked).num_days(),
                score,
            })
        })
        .take(max)
        .collect();
    (questions, more)
}
