//! The straightforward selection, as it was before [`super::plan`]: every person walks the
//! ranked windows of their groups post by post. Kept for tests only, as the reference the
//! planned selection must match digest for digest.

use std::collections::HashSet;
use std::sync::Arc;

use super::SelectLimits;
use super::{is_new_for, questions, Activity, Window, WindowThread};
use crate::model::{
    normalize_email, Digest, DigestThread, Highlight, Period, Person, Post, PostId, Role,
};

/// Builds `person`'s digest for `period` from the groups and training tags of `roles`.
///
/// Leaves out posts by the person and posts in `delivered`; a thread is in only when at least one
/// post of the period is left. Threads are ranked by [`rank::thread_score`] and capped at
/// `limits.max_threads` (the rest counted in `more_threads`); highlights are ranked by
/// [`rank::highlight_score`], each post once even when several roles match it (the first role in
/// `roles` order names it), and capped at `limits.max_highlights`. Unanswered questions in the
/// roles' groups ("Can you help?", see [`questions`]) are ranked by [`rank::question_score`] and
/// capped at `limits.max_questions`.
pub(crate) fn select_reference(
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
