//! Selection: (person, roles, recent activity, what they already got) → [`crate::model::Digest`].
//!
//! A run builds one [`Activity`] from what the store loaded and then calls [`select`] once per
//! person, up to 100,000 times. So the work that is the same for everyone is done once:
//! [`Activity::new`] indexes posts by group (sorted by time), and the first person asking for a
//! (group, period) pair makes the *window* of that pair: its threads with their period posts,
//! participants and [`rank::thread_score`] in ranked order, and its tagged posts scored with
//! [`rank::highlight_score`]. Every later person with that period reuses it (the windows are
//! cached inside the `Activity`, which is `Sync`). The first person with a given list of roles
//! then makes its [`plan`]: the windows of their groups merged into one ranked list and their
//! highlight candidates ranked, shared by everyone with those roles. Per person, selection only
//! checks what is new to them: O(threads shown + posts delivered to them), not O(posts).
//!
//! A thread's score describes the thread's activity in the period (everyone's posts), the same
//! for every reader; what differs per person is whether it qualifies and which posts are new.
//!
//! Highlights are taken from the groups each role follows (a role's training tags apply to its
//! own groups), in the period or older but never after the period end. Besides training tags and
//! best answers, ambassadors' nominations and much-liked posts ([`Curation`]) make candidates for
//! every role following the group; [`rank::highlight_source`] says why a post qualifies.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::digest::rank;
use crate::model::{
    normalize_email, Digest, GroupId, Period, Person, Post, PostId, Role, Thread, ThreadId,
};

/// Tag that makes a role's training tags also match posts marked as best answer.
pub const BEST_ANSWER_TAG: &str = rank::BEST_ANSWER_LABEL;

/// What people and the forum add to tags when picking highlights (loaded by the run).
#[derive(Debug, Clone, Default)]
pub struct Curation {
    /// Ambassadors' nominations in force, per post.
    pub nominations: HashMap<PostId, u32>,
    /// A post with at least this many likes is a highlight candidate (0: likes are no source).
    pub min_likes: u32,
}

#[cfg(test)]
mod equivalence;
mod plan;
mod questions;
#[cfg(test)]
mod reference;

pub use questions::QUESTION_TAG;

/// Caps on a digest's sections (from `[digest]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectLimits {
    /// At most this many threads; the rest is counted in `more_threads`.
    pub max_threads: usize,
    /// At most this many highlights; the rest is counted in `more_highlights`.
    pub max_highlights: usize,
    /// At most this many unanswered questions; the rest is counted in `more_questions`.
    pub max_questions: usize,
    /// A question is unanswered once it has waited this long with no answer.
    pub unanswered_after: chrono::Duration,
}

impl Default for SelectLimits {
    fn default() -> Self {
        let d = crate::config::DigestConfig::default();
        SelectLimits {
            max_threads: d.max_threads,
            max_highlights: d.max_highlights,
            max_questions: d.max_questions,
            unanswered_after: d.unanswered_after,
        }
    }
}

/// Bit of [`PostMeta::tags`] set for a best answer.
const BEST_ANSWER_BIT: u64 = 1 << 63;
/// Bit of [`PostMeta::tags`] set when the post has a tag beyond the 60 that get their own bit.
const OVERFLOW_BIT: u64 = 1 << 62;
/// Bit of [`PostMeta::tags`] set for a post an ambassador nominated.
const NOMINATED_BIT: u64 = 1 << 61;
/// Bit of [`PostMeta::tags`] set for a post with at least [`Curation::min_likes`] likes.
const LIKED_BIT: u64 = 1 << 60;
/// Tags that get their own bit in [`PostMeta::tags`].
const TAG_BITS: u32 = 60;

/// What selection checks for every post, packed small and contiguous (the posts themselves are
/// only touched for what goes into a digest).
#[derive(Debug, Clone, Copy)]
struct PostMeta {
    id: PostId,
    /// Interned author address.
    author: u32,
    /// One bit per interned tag, plus [`OVERFLOW_BIT`], [`NOMINATED_BIT`], [`LIKED_BIT`] and
    /// [`BEST_ANSWER_BIT`].
    tags: u64,
}

/// The posts of one group, oldest first, with the positions of the tagged ones.
#[derive(Debug, Default)]
struct GroupPosts {
    /// Sorted by (created, id); shared with the digests that show them.
    posts: Vec<Arc<Post>>,
    /// `meta[i]` describes `posts[i]`.
    meta: Vec<PostMeta>,
    /// Indices into `posts` of highlight candidates: a tag, a best answer, a nomination or
    /// enough likes.
    tagged: Vec<usize>,
}

/// One thread's activity in one (group, period) window.
#[derive(Debug)]
struct WindowThread {
    thread_id: ThreadId,
    /// Indices into the group's posts: the period posts, oldest first.
    posts: Vec<usize>,
    /// Distinct author names, in order of first post.
    participants: Vec<String>,
    score: f64,
    newest: DateTime<Utc>,
    /// The interned author of every period post when they are all by one person: the thread
    /// has news for every reader but them (delivered posts aside).
    sole_author: Option<u32>,
}

/// The shared, per-(group, period) part of selection.
#[derive(Debug, Default)]
struct Window {
    /// Ranked, best first.
    threads: Vec<WindowThread>,
    /// Index into the group's posts of the first period post.
    first: usize,
    /// `thread_of[i - first]`: index into `threads` of the thread of period post `i`.
    thread_of: Vec<u32>,
    /// Tagged posts created up to the period end: (index into group posts, score), best first.
    highlights: Vec<(usize, f64)>,
}

type WindowKey = (usize, DateTime<Utc>, DateTime<Utc>);

/// Everything selection needs from one run's load of the store, indexed once and shared by
/// every person of the run (`Sync`).
#[derive(Debug, Default)]
pub struct Activity {
    threads: HashMap<ThreadId, Arc<Thread>>,
    group_index: HashMap<GroupId, usize>,
    groups: Vec<GroupPosts>,
    /// Interned author addresses (normalised).
    authors: HashMap<String, u32>,
    /// Interned tags: bit position in [`PostMeta::tags`] (below [`TAG_BITS`]).
    tag_bits: HashMap<String, u32>,
    curation: Curation,
    /// Candidate questions per group ("Can you help?").
    questions: questions::QuestionIndex,
    windows: RwLock<HashMap<WindowKey, Arc<Window>>>,
    /// Where each post is: (index into `groups`, index into its posts).
    post_at: HashMap<PostId, (u32, u32)>,
    /// The plans of the role lists asked for so far.
    plans: plan::PlanCache,
}

impl Activity {
    /// Indexes `threads` and `posts` (any order; posts of unknown threads are kept for nothing
    /// and ignored), with tags and best answers as the only highlight sources.
    pub fn new(threads: Vec<Thread>, posts: Vec<Post>) -> Activity {
        Activity::with_curation(threads, posts, Curation::default())
    }

    /// [`Activity::new`] with nominations and likes as highlight sources too.
    pub fn with_curation(threads: Vec<Thread>, posts: Vec<Post>, curation: Curation) -> Activity {
        let threads: HashMap<ThreadId, Arc<Thread>> =
            threads.into_iter().map(|t| (t.id, Arc::new(t))).collect();
        let mut group_index: HashMap<GroupId, usize> = HashMap::new();
        let mut groups: Vec<GroupPosts> = Vec::new();
        for post in posts {
            if !threads.contains_key(&post.thread_id) {
                continue;
            }
            let idx = match group_index.get(post.group_id.as_str()) {
                Some(&i) => i,
                None => {
                    group_index.insert(post.group_id.clone(), groups.len());
                    groups.push(GroupPosts::default());
                    groups.len() - 1
                }
            };
            groups[idx].posts.push(Arc::new(post));
        }
        let mut authors: HashMap<String, u32> = HashMap::new();
        let mut tag_bits: HashMap<String, u32> = HashMap::new();
        for g in &mut groups {
            g.posts
                .sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
            g.meta = g
                .posts
                .iter()
                .map(|p| {
                    let email = normalize_email(&p.author_email);
                    let next = authors.len() as u32;
                    let author = *authors.entry(email).or_insert(next);
                    let mut tags = if p.best_answer { BEST_ANSWER_BIT } else { 0 };
                    if curation.nominations.get(&p.id).is_some_and(|&n| n > 0) {
                        tags |= NOMINATED_BIT;
                    }
                    if curation.min_likes > 0 && p.likes >= curation.min_likes {
                        tags |= LIKED_BIT;
                    }
                    for t in &p.tags {
                        let next = tag_bits.len() as u32;
                        let bit = match tag_bits.get(t.as_str()) {
                            Some(&b) => Some(b),
                            None if next < TAG_BITS => {
                                tag_bits.insert(t.clone(), next);
                                Some(next)
                            }
                            None => None,
                        };
                        tags |= bit.map_or(OVERFLOW_BIT, |b| 1 << b);
                    }
                    PostMeta {
                        id: p.id,
                        author,
                        tags,
                    }
                })
                .collect();
            g.tagged = g
                .meta
                .iter()
                .enumerate()
                .filter(|(_, m)| m.tags != 0)
                .map(|(i, _)| i)
                .collect();
        }
        let post_at = groups
            .iter()
            .enumerate()
            .flat_map(|(gi, g)| {
                g.meta
                    .iter()
                    .enumerate()
                    .map(move |(i, m)| (m.id, (gi as u32, i as u32)))
            })
            .collect();
        Activity {
            threads,
            group_index,
            groups,
            authors,
            tag_bits,
            curation,
            questions: questions::QuestionIndex::default(),
            windows: RwLock::new(HashMap::new()),
            post_at,
            plans: plan::PlanCache::default(),
        }
        .with_threads_complete_since(None)
    }

    /// Says that only threads created after `since` have all their posts loaded (`None`: all
    /// have): only those can be unanswered questions, since their opening post is known.
    pub fn with_threads_complete_since(mut self, since: Option<DateTime<Utc>>) -> Activity {
        let created: HashMap<ThreadId, DateTime<Utc>> = self
            .threads
            .iter()
            .map(|(id, t)| (*id, t.created))
            .collect();
        self.questions = questions::QuestionIndex::new(&self.groups, &created, since);
        self
    }

    /// The thread with store id `id`.
    pub fn thread(&self, id: ThreadId) -> Option<&Thread> {
        self.threads.get(&id).map(|t| &**t)
    }

    /// Number of posts indexed.
    pub fn post_count(&self) -> usize {
        self.groups.iter().map(|g| g.posts.len()).sum()
    }

    /// Number of threads known.
    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }

    /// The window of group `gi` for `period`, computed on first use.
    fn window(&self, gi: usize, period: Period) -> Arc<Window> {
        let key = (gi, period.start, period.end);
        {
            let cache = self.windows.read().unwrap_or_else(|e| e.into_inner());
            if let Some(w) = cache.get(&key) {
                return Arc::clone(w);
            }
        }
        let w = Arc::new(self.build_window(gi, period));
        let mut cache = self.windows.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(cache.entry(key).or_insert(w))
    }

    fn build_window(&self, gi: usize, period: Period) -> Window {
        let g = &self.groups[gi];
        let first = g.posts.partition_point(|p| p.created <= period.start);
        let last = g.posts.partition_point(|p| p.created <= period.end);
        let mut by_thread: HashMap<ThreadId, usize> = HashMap::new();
        let mut threads: Vec<WindowThread> = Vec::new();
        let mut likes: Vec<u64> = Vec::new();
        let mut thread_of: Vec<usize> = Vec::with_capacity(last.saturating_sub(first));
        for i in first..last {
            let p = &g.posts[i];
            let author = g.meta[i].author;
            let slot = *by_thread.entry(p.thread_id).or_insert_with(|| {
                threads.push(WindowThread {
                    thread_id: p.thread_id,
                    posts: Vec::new(),
                    participants: Vec::new(),
                    score: 0.0,
                    newest: p.created,
                    sole_author: Some(author),
                });
                likes.push(0);
                threads.len() - 1
            });
            thread_of.push(slot);
            let t = &mut threads[slot];
            if t.sole_author != Some(author) {
                t.sole_author = None;
            }
            t.posts.push(i);
            t.newest = p.created;
            likes[slot] += u64::from(p.likes);
            if !t.participants.iter().any(|n| n == &p.author_name) {
                t.participants.push(p.author_name.clone());
            }
        }
        for (t, likes) in threads.iter_mut().zip(likes) {
            t.score = rank::thread_score(
                &rank::ThreadSignals {
                    participants: t.participants.len(),
                    posts: t.posts.len(),
                    likes,
                    newest: t.newest,
                },
                period.end,
            );
        }
        let mut order: Vec<usize> = (0..threads.len()).collect();
        order.sort_by(|&a, &b| thread_order(&threads[a], &threads[b]));
        let mut rank_of = vec![0u32; threads.len()];
        for (rank, &slot) in order.iter().enumerate() {
            rank_of[slot] = rank as u32;
        }
        let thread_of: Vec<u32> = thread_of.into_iter().map(|s| rank_of[s]).collect();
        threads.sort_by(thread_order);
        let mut highlights: Vec<(usize, f64)> = g
            .tagged
            .iter()
            .copied()
            .filter(|&i| g.posts[i].created <= period.end)
            .map(|i| {
                let p = &g.posts[i];
                let s = rank::highlight_score(
                    &rank::HighlightSignals {
                        likes: p.likes,
                        replies: p.reply_count,
                        best_answer: p.best_answer,
                        nominations: self.nominations(p.id),
                        created: p.created,
                    },
                    period.end,
                );
                (i, s)
            })
            .collect();
        highlights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Window {
            threads,
            first,
            thread_of,
            highlights,
        }
    }
}

/// The rank order of threads: best score first, then the newest post, then the thread id.
fn thread_order(a: &WindowThread, b: &WindowThread) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.newest.cmp(&a.newest))
        .then(a.thread_id.cmp(&b.thread_id))
}

/// Is the post described by `m` news for the reader `me` (interned; `None`: never posted)?
fn is_new_for(m: &PostMeta, me: Option<u32>, delivered: &HashSet<PostId>) -> bool {
    Some(m.author) != me && (delivered.is_empty() || !delivered.contains(&m.id))
}

impl Activity {
    /// The tag mask of a role's training tags (see [`PostMeta::tags`]).
    fn role_mask(&self, tags: &[String]) -> u64 {
        let mut mask = OVERFLOW_BIT | NOMINATED_BIT | LIKED_BIT;
        for t in tags {
            if t == BEST_ANSWER_TAG {
                mask |= BEST_ANSWER_BIT;
            }
            if let Some(&b) = self.tag_bits.get(t.as_str()) {
                mask |= 1 << b;
            }
        }
        mask
    }
}

impl Activity {
    /// Nominations in force of post `id`.
    fn nominations(&self, id: PostId) -> u32 {
        self.curation.nominations.get(&id).copied().unwrap_or(0)
    }

    /// Why `p` is a highlight for a role with `tags` (the label shown), if it is one.
    fn matching_tag<'a>(&self, p: &'a Post, tags: &'a [String]) -> Option<&'a str> {
        let candidate = rank::CandidatePost {
            tags: &p.tags,
            best_answer: p.best_answer,
            likes: p.likes,
            nominations: self.nominations(p.id),
        };
        let source = rank::highlight_source(&candidate, tags, self.curation.min_likes)?;
        Some(match source {
            rank::HighlightSource::Tag(t) => t,
            rank::HighlightSource::Nominated => rank::NOMINATED_LABEL,
            rank::HighlightSource::BestAnswer => rank::BEST_ANSWER_LABEL,
            rank::HighlightSource::Liked => rank::LIKED_LABEL,
        })
    }
}

/// Builds `person`'s digest for `period` from the groups and training tags of `roles`.
///
/// Leaves out posts by the person and posts in `delivered`; a thread is in only when at least one
/// post of the period is left. Threads are ranked by [`rank::thread_score`] and capped at
/// `limits.max_threads` (the rest counted in `more_threads`); highlights are ranked by
/// [`rank::highlight_score`], each post once even when several roles match it (the first role in
/// `roles` order names it), and capped at `limits.max_highlights`. Unanswered questions in the
/// roles' groups ("Can you help?", see [`questions`]) are ranked by [`rank::question_score`] and
/// capped at `limits.max_questions`.
///
/// The work that is the same for everyone with these roles is done once per run (see
/// [`plan`]); per person, selection only checks what is new to them.
pub fn select(
    person: &Person,
    roles: &[&Role],
    schedule_key: &str,
    period: Period,
    activity: &Activity,
    delivered: &HashSet<PostId>,
    limits: &SelectLimits,
) -> Digest {
    let me = activity
        .authors
        .get(normalize_email(&person.email).as_str())
        .copied();
    let plan = activity.plan(roles, period);
    let reader = plan::Reader::new(activity, &plan, me, delivered);
    let (threads, more_threads) = reader.threads(limits.max_threads);
    let (highlights, more_highlights) = reader.highlights(limits.max_highlights);
    let (questions, more_questions) = questions::questions_for(
        activity,
        roles,
        me,
        period.end,
        limits.unanswered_after,
        limits.max_questions,
    );
    Digest {
        person: person.clone(),
        schedule: schedule_key.to_string(),
        period,
        threads,
        more_threads,
        highlights,
        more_highlights,
        questions,
        more_questions,
    }
}

#[cfg(test)]
mod tests;
