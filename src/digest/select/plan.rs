//! The part of selection shared by everyone with the same roles, made once per run.
//!
//! A run selects up to 100,000 digests, but people share a handful of role lists. For each
//! (roles, period) pair asked for, the first person makes a [`Plan`]: the threads of all the
//! followed groups' windows merged into one ranked list, which of them one person wrote alone,
//! and the highlight candidates of the roles, deduplicated, labelled and ranked. Later people
//! with the same roles reuse it (plans are cached inside the `Activity`).
//!
//! Per person, a [`Reader`] then walks the plan. Whether a thread has news for the reader is
//! known without looking at its posts unless the reader had one of them delivered: it has news
//! unless they wrote every one of its period posts. So a digest costs O(threads shown + posts
//! delivered), and counting "N more threads" costs a lookup, not a pass over every post.
//!
//! The plan selects exactly what the straightforward walk over the windows selects (the tests
//! compare both on generated organisations, see `reference.rs`).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use super::{is_new_for, thread_order, Activity, Window};
use crate::model::{DigestThread, Highlight, Period, PostId, Role};

/// One role as far as selection is concerned: a plan is reused only for equal roles.
#[derive(Debug)]
struct RoleKey {
    name: String,
    groups: Vec<String>,
    tags: Vec<String>,
}

impl RoleKey {
    fn of(role: &Role) -> RoleKey {
        RoleKey {
            name: role.name.clone(),
            groups: role.groups.clone(),
            tags: role.training_tags.clone(),
        }
    }

    fn is(&self, role: &Role) -> bool {
        self.name == role.name && self.groups == role.groups && self.tags == role.training_tags
    }
}

/// A plan with what it was made for.
type Entry = (Vec<RoleKey>, Period, Arc<Plan>);

/// The plans made so far in a run, by a hash of (roles, period); `Sync`.
#[derive(Debug, Default)]
pub(super) struct PlanCache {
    by_hash: RwLock<HashMap<u64, Vec<Entry>>>,
}

fn plan_hash(roles: &[&Role], period: Period) -> u64 {
    let mut h = DefaultHasher::new();
    for r in roles {
        r.name.hash(&mut h);
        r.groups.hash(&mut h);
        r.training_tags.hash(&mut h);
    }
    period.start.hash(&mut h);
    period.end.hash(&mut h);
    h.finish()
}

fn find(bucket: &[Entry], roles: &[&Role], period: Period) -> Option<Arc<Plan>> {
    bucket
        .iter()
        .find(|(keys, p, _)| {
            *p == period
                && keys.len() == roles.len()
                && keys.iter().zip(roles).all(|(k, r)| k.is(r))
        })
        .map(|(_, _, plan)| Arc::clone(plan))
}

/// A highlight candidate of a plan.
#[derive(Debug)]
struct Candidate {
    /// Index into the activity's groups.
    group: usize,
    /// Index into the group's posts.
    post: usize,
    /// Interned author.
    author: u32,
    /// Index into [`Plan::role_names`]: the first role it matched.
    role: usize,
    /// Why it matched (the label shown).
    tag: String,
    score: f64,
}

/// What selection needs for one (roles, period) pair, whoever the reader.
#[derive(Debug)]
pub(super) struct Plan {
    /// The windows of the followed groups, in the order the roles list them, once each.
    windows: Vec<(usize, Arc<Window>)>,
    /// Every thread of those windows, best first: (window, index into its threads).
    threads: Vec<(usize, usize)>,
    /// `sole[pos]`: the one author of all period posts of thread `threads[pos]`, if one.
    sole: Vec<Option<u32>>,
    /// `position[w][t]`: where thread `t` of window `w` is in `threads`.
    position: Vec<Vec<usize>>,
    /// Per author, the positions (ascending) of the threads they alone posted in.
    sole_threads: HashMap<u32, Vec<usize>>,
    /// Period posts in the windows.
    posts: usize,
    /// Names of the roles, in their order.
    role_names: Vec<String>,
    /// Highlight candidates, best first, each post once.
    highlights: Vec<Candidate>,
    /// Highlight candidates per author.
    highlights_by: HashMap<u32, usize>,
}

impl Activity {
    /// The plan of `roles` for `period`, made on first use.
    pub(super) fn plan(&self, roles: &[&Role], period: Period) -> Arc<Plan> {
        let hash = plan_hash(roles, period);
        {
            let cache = self.plans.by_hash.read().unwrap_or_else(|e| e.into_inner());
            if let Some(plan) = cache.get(&hash).and_then(|b| find(b, roles, period)) {
                return plan;
            }
        }
        let plan = Arc::new(Plan::new(self, roles, period));
        let mut cache = self
            .plans
            .by_hash
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let bucket = cache.entry(hash).or_default();
        if let Some(made) = find(bucket, roles, period) {
            return made;
        }
        bucket.push((
            roles.iter().map(|r| RoleKey::of(r)).collect(),
            period,
            Arc::clone(&plan),
        ));
        plan
    }
}

impl Plan {
    fn new(activity: &Activity, roles: &[&Role], period: Period) -> Plan {
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

        // Merge the ranked windows; the sort is stable, so a thread in two groups' windows
        // comes first from the window listed first, as a merge of the windows takes it.
        let mut threads: Vec<(usize, usize)> = windows
            .iter()
            .enumerate()
            .flat_map(|(w, (_, win))| (0..win.threads.len()).map(move |t| (w, t)))
            .collect();
        threads.sort_by(|a, b| {
            thread_order(&windows[a.0].1.threads[a.1], &windows[b.0].1.threads[b.1])
        });
        let mut position: Vec<Vec<usize>> = windows
            .iter()
            .map(|(_, win)| vec![0; win.threads.len()])
            .collect();
        let mut sole = Vec::with_capacity(threads.len());
        let mut sole_threads: HashMap<u32, Vec<usize>> = HashMap::new();
        for (pos, &(w, t)) in threads.iter().enumerate() {
            position[w][t] = pos;
            let author = windows[w].1.threads[t].sole_author;
            sole.push(author);
            if let Some(a) = author {
                sole_threads.entry(a).or_default().push(pos);
            }
        }
        let posts = windows.iter().map(|(_, win)| win.thread_of.len()).sum();

        // Highlights: per role, its tags in its groups; each post once, named by the first
        // role it matches.
        let mut seen: HashSet<PostId> = HashSet::new();
        let mut highlights: Vec<Candidate> = Vec::new();
        for (ri, role) in roles.iter().enumerate() {
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
                    if m.tags & mask == 0 || seen.contains(&m.id) {
                        continue;
                    }
                    let Some(tag) = activity.matching_tag(&group.posts[i], &role.training_tags)
                    else {
                        continue;
                    };
                    seen.insert(m.id);
                    highlights.push(Candidate {
                        group: gi,
                        post: i,
                        author: m.author,
                        role: ri,
                        tag: tag.to_string(),
                        score,
                    });
                }
            }
        }
        highlights.sort_by(|a, b| {
            let pa = &activity.groups[a.group].posts[a.post];
            let pb = &activity.groups[b.group].posts[b.post];
            b.score
                .total_cmp(&a.score)
                .then(pb.created.cmp(&pa.created))
                .then(pa.id.cmp(&pb.id))
        });
        let mut highlights_by: HashMap<u32, usize> = HashMap::new();
        for c in &highlights {
            *highlights_by.entry(c.author).or_default() += 1;
        }
        Plan {
            windows,
            threads,
            sole,
            position,
            sole_threads,
            posts,
            role_names: roles.iter().map(|r| r.name.clone()).collect(),
            highlights,
            highlights_by,
        }
    }
}

/// One reader's walk over a plan.
pub(super) struct Reader<'a> {
    activity: &'a Activity,
    plan: &'a Plan,
    /// The reader, interned (`None`: never posted).
    me: Option<u32>,
    delivered: &'a HashSet<PostId>,
    /// Positions (ascending) of the threads with a period post delivered to the reader, whose
    /// posts must be checked one by one.
    touched: Vec<usize>,
    /// More delivered posts than posts in the windows: check every thread post by post.
    touched_all: bool,
}

impl<'a> Reader<'a> {
    /// The walk of `plan` for the reader `me` who had `delivered`.
    pub(super) fn new(
        activity: &'a Activity,
        plan: &'a Plan,
        me: Option<u32>,
        delivered: &'a HashSet<PostId>,
    ) -> Reader<'a> {
        let touched_all = delivered.len() > plan.posts;
        let mut touched = Vec::new();
        if !touched_all {
            for id in delivered {
                let Some(&(gi, i)) = activity.post_at.get(id) else {
                    continue;
                };
                let Some(w) = plan.windows.iter().position(|(wgi, _)| *wgi == gi as usize) else {
                    continue;
                };
                let win = &plan.windows[w].1;
                let Some(&t) = (i as usize)
                    .checked_sub(win.first)
                    .and_then(|k| win.thread_of.get(k))
                else {
                    continue;
                };
                touched.push(plan.position[w][t as usize]);
            }
            touched.sort_unstable();
            touched.dedup();
        }
        Reader {
            activity,
            plan,
            me,
            delivered,
            touched,
            touched_all,
        }
    }

    /// Does the thread at `pos` have a period post the reader did not write and did not get?
    fn has_news(&self, pos: usize) -> bool {
        if self.touched_all || self.touched.binary_search(&pos).is_ok() {
            let (w, t) = self.plan.threads[pos];
            let (gi, win) = &self.plan.windows[w];
            let group = &self.activity.groups[*gi];
            win.threads[t]
                .posts
                .iter()
                .any(|&i| is_new_for(&group.meta[i], self.me, self.delivered))
        } else {
            self.plan.sole[pos].is_none_or(|a| Some(a) != self.me)
        }
    }

    /// How many threads from position `from` on have news for the reader.
    fn news_from(&self, from: usize) -> usize {
        let len = self.plan.threads.len();
        if self.touched_all {
            return (from..len).filter(|&p| self.has_news(p)).count();
        }
        let mine = self
            .me
            .and_then(|me| self.plan.sole_threads.get(&me))
            .map_or(0, |ps| ps.len() - ps.partition_point(|&p| p < from));
        let stale = self.touched[self.touched.partition_point(|&p| p < from)..]
            .iter()
            .filter(|&&p| self.plan.sole[p].is_none_or(|a| Some(a) != self.me))
            .filter(|&&p| !self.has_news(p))
            .count();
        len.saturating_sub(from) - mine - stale
    }

    /// The reader's threads, best first, at most `max`, and how many more have news.
    pub(super) fn threads(&self, max: usize) -> (Vec<DigestThread>, usize) {
        let mut out: Vec<DigestThread> = Vec::new();
        for (pos, &(w, t)) in self.plan.threads.iter().enumerate() {
            if out.len() >= max {
                return (out, self.news_from(pos));
            }
            if !self.has_news(pos) {
                continue;
            }
            let (gi, win) = &self.plan.windows[w];
            let group = &self.activity.groups[*gi];
            let wt = &win.threads[t];
            let new_posts: Vec<_> = wt
                .posts
                .iter()
                .filter(|&&i| is_new_for(&group.meta[i], self.me, self.delivered))
                .map(|&i| Arc::clone(&group.posts[i]))
                .collect();
            if new_posts.is_empty() {
                continue;
            }
            let Some(thread) = self.activity.threads.get(&wt.thread_id) else {
                continue;
            };
            out.push(DigestThread {
                thread: Arc::clone(thread),
                new_posts,
                participants: wt.participants.clone(),
                score: wt.score,
            });
        }
        (out, 0)
    }

    /// The reader's highlights, best first, at most `max`, and how many more there were.
    pub(super) fn highlights(&self, max: usize) -> (Vec<Highlight>, usize) {
        let plan = self.plan;
        // Without deliveries, the count is known from the candidates' authors.
        let counted = self.delivered.is_empty();
        let mut count = if counted {
            let mine = self
                .me
                .and_then(|me| plan.highlights_by.get(&me))
                .copied()
                .unwrap_or(0);
            plan.highlights.len() - mine
        } else {
            0
        };
        let mut out: Vec<Highlight> = Vec::new();
        for c in &plan.highlights {
            if counted && out.len() >= max {
                break;
            }
            let group = &self.activity.groups[c.group];
            if !is_new_for(&group.meta[c.post], self.me, self.delivered) {
                continue;
            }
            if !counted {
                count += 1;
            }
            if out.len() >= max {
                continue;
            }
            let post = &group.posts[c.post];
            let Some(thread) = self.activity.threads.get(&post.thread_id) else {
                continue;
            };
            out.push(Highlight {
                post: Arc::clone(post),
                thread: Arc::clone(thread),
                role: plan.role_names[c.role].clone(),
                tag: c.tag.clone(),
                score: c.score,
            });
        }
        (out, count.saturating_sub(max))
    }
}
