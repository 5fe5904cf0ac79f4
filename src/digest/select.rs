//! Selection: (person, roles, recent activity, what they already got) → [`crate::model::Digest`].
//!
//! A run builds one [`Activity`] from what the store loaded and then calls [`select`] once per
//! person, up to 100,000 times. So the work that is the same for everyone is done once:
//! [`Activity::new`] indexes posts by group (sorted by time), and the first person asking for a
//! (group, period) pair makes the *window* of that pair: its threads with their period posts,
//! participants and [`rank::thread_score`] in ranked order, and its tagged posts scored with
//! [`rank::highlight_score`]. Every later person with that period reuses it (the windows are
//! cached inside the `Activity`, which is `Sync`). Per person, selection then walks the ranked
//! windows of their groups and only checks, thread by thread, whether something in it is new to
//! them: O(threads in their groups), not O(posts).
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
    normalize_email, Digest, DigestThread, GroupId, Highlight, Period, Person, Post, PostId, Role,
    Thread, ThreadId,
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

mod questions;

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
}

/// The shared, per-(group, period) part of selection.
#[derive(Debug, Default)]
struct Window {
    /// Ranked, best first.
    threads: Vec<WindowThread>,
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
        Activity {
            threads,
            group_index,
            groups,
            authors,
            tag_bits,
            curation,
            questions: questions::QuestionIndex::default(),
            windows: RwLock::new(HashMap::new()),
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
        for i in first..last {
            let p = &g.posts[i];
            let slot = *by_thread.entry(p.thread_id).or_insert_with(|| {
                threads.push(WindowThread {
                    thread_id: p.thread_id,
                    posts: Vec::new(),
                    participants: Vec::new(),
                    score: 0.0,
                    newest: p.created,
                });
                likes.push(0);
                threads.len() - 1
            });
            let t = &mut threads[slot];
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
        threads.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.newest.cmp(&a.newest))
                .then(a.thread_id.cmp(&b.thread_id))
        });
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
            highlights,
        }
    }
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

    // The groups followed by any role, once each, with their windows.
    let mut followed: Vec<usize> = Vec::new();
    for role in roles {
        for g in &role.groups {
            if let Some(&gi) = activity.group_index.get(g.as_str()) {
                if !followed.contains(&gi) {
                    followed.push(gi);
                }
            }
        }
    }
    let windows: Vec<(usize, Arc<Window>)> = followed
        .iter()
        .map(|&gi| (gi, activity.window(gi, period)))
        .collect();

    // Threads: merge the ranked windows, keep those with news for this person.
    let mut heads = vec![0usize; windows.len()];
    let mut threads: Vec<DigestThread> = Vec::new();
    let mut more_threads = 0usize;
    loop {
        let mut best: Option<(usize, &WindowThread)> = None;
        for (w, (_, window)) in windows.iter().enumerate() {
            if let Some(t) = window.threads.get(heads[w]) {
                let better = match best {
                    None => true,
                    Some((_, b)) => t
                        .score
                        .total_cmp(&b.score)
                        .then(t.newest.cmp(&b.newest))
                        .then(b.thread_id.cmp(&t.thread_id))
                        .is_gt(),
                };
                if better {
                    best = Some((w, t));
                }
            }
        }
        let Some((w, wt)) = best else { break };
        heads[w] += 1;
        let group = &activity.groups[windows[w].0];
        if threads.len() >= limits.max_threads {
            // Full: the rest is only counted, and counting needs no rank order.
            heads[w] -= 1;
            for (w, (gi, window)) in windows.iter().enumerate() {
                let group = &activity.groups[*gi];
                more_threads += window.threads[heads[w].min(window.threads.len())..]
                    .iter()
                    .filter(|t| {
                        t.posts
                            .iter()
                            .any(|&i| is_new_for(&group.meta[i], me, delivered))
                    })
                    .count();
            }
            break;
        }
        let new_posts: Vec<Arc<Post>> = wt
            .posts
            .iter()
            .filter(|&&i| is_new_for(&group.meta[i], me, delivered))
            .map(|&i| Arc::clone(&group.posts[i]))
            .collect();
        if new_posts.is_empty() {
            continue;
        }
        let Some(thread) = activity.threads.get(&wt.thread_id) else {
            continue;
        };
        threads.push(DigestThread {
            thread: Arc::clone(thread),
            new_posts,
            participants: wt.participants.clone(),
            score: wt.score,
        });
    }

    // Highlights: per role, its tags in its groups; each post once.
    struct Candidate<'a> {
        post: &'a Arc<Post>,
        role: &'a str,
        tag: &'a str,
        score: f64,
    }
    let mut seen: HashSet<PostId> = HashSet::new();
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for role in roles {
        let mask = activity.role_mask(&role.training_tags);
        for g in &role.groups {
            let Some(&gi) = activity.group_index.get(g.as_str()) else {
                continue;
            };
            let Some((_, window)) = windows.iter().find(|(wgi, _)| *wgi == gi) else {
                continue;
            };
            let group = &activity.groups[gi];
            for &(i, score) in &window.highlights {
                let m = &group.meta[i];
                if m.tags & mask == 0 || !is_new_for(m, me, delivered) || seen.contains(&m.id) {
                    continue;
                }
                let post = &group.posts[i];
                let Some(tag) = activity.matching_tag(post, &role.training_tags) else {
                    continue;
                };
                seen.insert(post.id);
                candidates.push(Candidate {
                    post,
                    role: &role.name,
                    tag,
                    score,
                });
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.post.created.cmp(&a.post.created))
            .then(a.post.id.cmp(&b.post.id))
    });
    let more_highlights = candidates.len().saturating_sub(limits.max_highlights);
    let highlights: Vec<Highlight> = candidates
        .into_iter()
        .filter_map(|c| {
            let thread = activity.threads.get(&c.post.thread_id)?;
            Some(Highlight {
                post: Arc::clone(c.post),
                thread: Arc::clone(thread),
                role: c.role.to_string(),
                tag: c.tag.to_string(),
                score: c.score,
            })
        })
        .take(limits.max_highlights)
        .collect();

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
