//! `digestd bench digest`: selection + rendering throughput for a synthetic organisation,
//! against bare Handlebars rendering of the same digests' data (the limit), on one thread and on
//! every core (`--threads`, default the cores this process may use), plus peak memory.
//!
//! The organisation (groups, roles, people, a week of posts) is written into a temporary store
//! through the store's own API and read back with `load_activity`, as a digest run does. Then:
//! (a) on one thread, for every person: select, make reply tokens, build the context, render
//!     subject, text and HTML (the digests are dropped at once: memory stays flat whatever the
//!     number of people), timing each step;
//! (b) bare Handlebars on one thread: both templates rendered from pre-built contexts of a
//!     sample of the same digests (at most [`SAMPLE`] kept, taken during (a)), as many renders
//!     as there are people;
//! (c) (a) again on `--threads` threads exactly as a digest run spreads it: a stretch of people
//!     at a time ([`crate::delivery_run::stretch_len`]) over [`crate::parallel::map_ordered`],
//!     with a fresh excerpt cache, timed by the wall clock (thread start-up and the wait for the
//!     slowest digest of each stretch included);
//! (d) (b) on `--threads` threads: slices of 256 renders handed to whichever thread is free.
//!
//! The figure is (c)'s rate over (d)'s (target ≥ 0.5), beside each pass's speed-up over one
//! thread. On the 2-core development VM, shared with other work, the speed-up is at most 2x and
//! varies with the load; run it a few times. Peak memory (`VmHWM`) covers the whole process,
//! the synthetic store's setup included.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context as _;
use chrono::{Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::digest::{select, Activity, SelectLimits};
use crate::forum::{Cursor, FetchBatch, FetchedPost};
use crate::model::{
    BodyFormat, Frequency, Group, Period, Person, Post, ReplyToken, Role, Schedule, Thread,
    ThreadId,
};
use crate::render::{ExcerptCache, RenderContext, Renderer, DEFAULT_TEMPLATE};
use crate::store::Store;

/// Contexts kept for the bare-Handlebars run.
pub const SAMPLE: usize = 2_000;
/// Groups in the synthetic organisation.
const GROUPS: usize = 24;
/// Roles; role `r` follows groups `r`, `r + 12`, `(r + 1) % 24`.
const ROLES: usize = 12;
/// Average posts per thread.
const POSTS_PER_THREAD: usize = 8;

const WORDS: &[&str] = &[
    "intake",
    "form",
    "household",
    "permit",
    "budget",
    "meeting",
    "policy",
    "client",
    "case",
    "visit",
    "schedule",
    "laptop",
    "password",
    "printer",
    "zoning",
    "plan",
    "hearing",
    "contract",
    "training",
    "procedure",
    "deadline",
    "team",
    "report",
    "the",
    "a",
    "for",
    "with",
    "and",
    "we",
    "should",
    "can",
    "anyone",
    "know",
    "how",
    "to",
    "update",
    "check",
    "new",
    "old",
    "next",
    "week",
    "before",
    "after",
    "please",
    "thanks",
    "question",
    "about",
    "support",
    "room",
];

fn sentence(rng: &mut StdRng, words: std::ops::Range<usize>) -> String {
    let words = rng.random_range(words);
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    s
}

fn body(rng: &mut StdRng) -> String {
    let paragraphs = rng.random_range(1..4);
    (0..paragraphs)
        .map(|_| {
            let mut p = sentence(rng, 15..45);
            if rng.random_bool(0.3) {
                p.push_str(" **important** see [the guide](https://forum.example.org/guide).");
            }
            p
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(crate) fn templates_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DIGESTD_TEMPLATES") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("templates");
    if local.join("digest.html.hbs").is_file() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")
    }
}

/// The synthetic organisation.
pub(crate) struct Org {
    pub(crate) groups: Vec<Group>,
    pub(crate) roles: Vec<Role>,
    pub(crate) people: Vec<Person>,
}

/// A synthetic organisation with a week of posts, stored and loaded back as a digest run loads
/// them: what `bench digest` measures and what `bench send` takes its digests from.
pub(crate) struct Synthetic {
    /// Groups, roles and people.
    pub(crate) org: Org,
    /// The run's activity index, loaded from the store.
    pub(crate) activity: Activity,
    /// The period every digest covers (the week before a fixed Monday morning).
    pub(crate) period: Period,
    /// Threads written.
    pub(crate) threads_made: usize,
    /// Threads and posts loaded back.
    pub(crate) loaded: (usize, usize),
    /// Time spent writing the store, and loading + indexing it.
    pub(crate) timings: (StdDuration, StdDuration),
}

impl Synthetic {
    /// `people` people and `posts` posts over 24 groups and 12 roles, the same for a given
    /// `seed`. The store lives in a temporary directory, dropped before returning.
    pub(crate) fn build(people: usize, posts: usize, seed: u64) -> anyhow::Result<Synthetic> {
        let mut rng = StdRng::seed_from_u64(seed);
        let end = Utc
            .with_ymd_and_hms(2025, 3, 10, 6, 30, 0)
            .single()
            .context("fixed benchmark date")?;
        let period = Period {
            start: end - Duration::days(7),
            end,
        };

        let setup = Instant::now();
        let org = organisation(people, &mut rng);
        let dir = tempfile::tempdir().context("temporary directory for the bench store")?;
        let mut store =
            Store::open(&dir.path().join("bench.sqlite")).context("opening the store")?;
        store.sync_groups(&org.groups)?;
        let threads_made = fill_store(&mut store, &org, posts, end, &mut rng)?;
        let stored = setup.elapsed();

        let load = Instant::now();
        let group_ids: Vec<String> = org.groups.iter().map(|g| g.id.clone()).collect();
        let mut tags: Vec<String> = org
            .roles
            .iter()
            .flat_map(|r| r.training_tags.iter().cloned())
            .collect();
        tags.sort();
        tags.dedup();
        let (threads, loaded_posts) =
            store.load_activity(&group_ids, period.start, &tags, end - Duration::days(90), 0)?;
        let loaded = (threads.len(), loaded_posts.len());
        let activity = Activity::new(threads, loaded_posts);
        let loaded_in = load.elapsed();
        Ok(Synthetic {
            org,
            activity,
            period,
            threads_made,
            loaded,
            timings: (stored, loaded_in),
        })
    }

    /// The roles of `person`.
    pub(crate) fn roles_of(&self, person: &Person) -> Vec<&Role> {
        self.org
            .roles
            .iter()
            .filter(|r| person.roles.contains(&r.name))
            .collect()
    }

    /// The key of the one schedule every role shares.
    pub(crate) fn schedule_key(&self) -> String {
        self.org
            .roles
            .first()
            .map(|r| r.schedule.key())
            .unwrap_or_default()
    }

    /// The digest of `person`, selected as a run selects it (nothing delivered yet).
    pub(crate) fn select(&self, person: &Person, schedule_key: &str) -> crate::model::Digest {
        select(
            person,
            &self.roles_of(person),
            schedule_key,
            self.period,
            &self.activity,
            &HashSet::new(),
            &SelectLimits::default(),
        )
    }
}

/// The synthetic organisation's groups, roles and `people` people (weekly readers).
pub(crate) fn organisation(people: usize, rng: &mut StdRng) -> Org {
    let schedule = Schedule {
        cron: "0 30 7 * * Mon".into(),
        time_zone: chrono_tz::Europe::Amsterdam,
    };
    let groups: Vec<Group> = (0..GROUPS)
        .map(|g| Group::local(format!("group-{g}"), format!("Group {g}")))
        .collect();
    let roles: Vec<Role> = (0..ROLES)
        .map(|r| Role {
            name: format!("role-{r}"),
            title: None,
            groups: [r, r + ROLES, (r + 1) % GROUPS]
                .iter()
                .map(|g| groups[*g].id.clone())
                .collect(),
            training_tags: if r % 2 == 0 {
                vec!["training".into(), "best-answer".into()]
            } else {
                vec!["howto".into()]
            },
            schedule: schedule.clone(),
            best_of: None,
            template: None,
        })
        .collect();
    let people: Vec<Person> = (0..people)
        .map(|i| {
            let mut roles = vec![format!("role-{}", i % ROLES)];
            if rng.random_bool(0.3) {
                roles.push(format!("role-{}", (i / ROLES + 5) % ROLES));
                roles.dedup();
            }
            Person {
                email: format!("person{i}@example.org"),
                name: format!("Person {i}"),
                roles,
                time_zone: chrono_tz::Europe::Amsterdam,
                locale: if i % 5 == 0 { "nl".into() } else { "en".into() },
                frequency: Frequency::Weekly,
                matrix_id: None,
            }
        })
        .collect();
    Org {
        groups,
        roles,
        people,
    }
}

/// Writes `posts` posts over the week before `end` into `store`, group by group.
pub(crate) fn fill_store(
    store: &mut Store,
    org: &Org,
    posts: usize,
    end: chrono::DateTime<Utc>,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    let threads_total = posts.div_ceil(POSTS_PER_THREAD).max(1);
    let week = 7 * 24 * 3600;
    let mut next_post = 0usize;
    for (gi, group) in org.groups.iter().enumerate() {
        let lo = threads_total * gi / GROUPS;
        let hi = threads_total * (gi + 1) / GROUPS;
        let mut batch = FetchBatch {
            next_cursor: Cursor(format!("bench-{gi}")),
            ..FetchBatch::default()
        };
        let p_lo = posts * gi / GROUPS;
        let p_hi = posts * (gi + 1) / GROUPS;
        if hi == lo {
            continue;
        }
        for t in lo..hi {
            let created = end - Duration::seconds(rng.random_range(0..week));
            batch.threads.push(Thread {
                id: 0,
                group_id: group.id.clone(),
                remote_id: format!("t{t}"),
                title: sentence(rng, 3..9),
                url: format!("https://forum.example.org/t/{t}"),
                created,
            });
        }
        let mut fetched: Vec<FetchedPost> = (p_lo..p_hi)
            .map(|_| {
                let t = rng.random_range(lo..hi);
                let author = rng.random_range(0..org.people.len().max(1));
                let mut tags = Vec::new();
                if rng.random_bool(0.04) {
                    tags.push("training".to_string());
                }
                if rng.random_bool(0.03) {
                    tags.push("howto".to_string());
                }
                next_post += 1;
                FetchedPost {
                    thread_remote_id: format!("t{t}"),
                    post: Post {
                        id: 0,
                        thread_id: 0,
                        group_id: group.id.clone(),
                        remote_id: format!("p{next_post}"),
                        author_email: format!("person{author}@example.org"),
                        author_name: format!("Person {author}"),
                        created: end - Duration::seconds(rng.random_range(1..week)),
                        body: body(rng),
                        body_format: BodyFormat::Markdown,
                        tags,
                        likes: rng.random_range(0..12),
                        reply_count: rng.random_range(0..4),
                        best_answer: rng.random_bool(0.02),
                        url: format!("https://forum.example.org/t/{t}#p{next_post}"),
                    },
                }
            })
            .collect();
        fetched.sort_by_key(|f| f.post.created);
        batch.posts = fetched;
        store
            .store_batch(group, &batch)
            .with_context(|| format!("storing synthetic posts of {}", group.id))?;
    }
    Ok(threads_total)
}

fn secs(d: StdDuration) -> f64 {
    d.as_secs_f64()
}

/// Runs `f` and says how many cores the process kept busy meanwhile (CPU time over wall time):
/// on a shared machine, what it could have, whatever the number of threads it asked for.
fn cores_busy<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let (wall, cpu) = (Instant::now(), super::process_cpu_time());
    let out = f();
    let cpu = super::process_cpu_time().saturating_sub(cpu);
    (out, secs(cpu) / secs(wall.elapsed()).max(1e-9))
}

/// Everything one person's digest is made from that the whole benchmark shares.
struct Maker<'a> {
    renderer: &'a Renderer,
    roles_by_name: HashMap<&'a str, &'a Role>,
    group_names: HashMap<String, String>,
    limits: SelectLimits,
    delivered: HashSet<crate::model::PostId>,
    excerpt_chars: usize,
    schedule_key: String,
    period: Period,
    activity: &'a Activity,
}

/// One digest made: its size, and (on the one-thread pass) the time of each step and the
/// context kept for the bare run.
#[derive(Default)]
struct Made {
    items: usize,
    empty: usize,
    bytes: usize,
    /// select, tokens + context + subject, handlebars + wrap.
    steps: [StdDuration; 3],
    sample: Option<handlebars::Context>,
}

impl Maker<'_> {
    /// Selects, makes reply tokens and the context, and renders subject, text and HTML of
    /// `person`'s digest, as a digest run does (the message is dropped at once). With `keep`,
    /// a copy of the context is kept (not timed).
    fn make(&self, person: &Person, excerpts: &ExcerptCache, keep: bool) -> anyhow::Result<Made> {
        let t0 = Instant::now();
        let roles: Vec<&Role> = person
            .roles
            .iter()
            .filter_map(|r| self.roles_by_name.get(r.as_str()).copied())
            .collect();
        let digest = select(
            person,
            &roles,
            &self.schedule_key,
            self.period,
            self.activity,
            &self.delivered,
            &self.limits,
        );
        let t1 = Instant::now();
        let tokens: HashMap<ThreadId, ReplyToken> = digest
            .threads
            .iter()
            .map(|t| t.thread.id)
            .chain(digest.highlights.iter().map(|h| h.thread.id))
            .map(|id| (id, ReplyToken::generate()))
            .collect();
        let unsubscribe = format!(
            "mailto:digest@replies.example.org?subject=unsubscribe%20{}",
            ReplyToken::generate().as_str()
        );
        let role_titles = HashMap::new();
        let ctx = RenderContext {
            organisation: "Gemeente Voorbeeld",
            group_names: &self.group_names,
            reply_domain: "replies.example.org",
            reply_tokens: &tokens,
            unsubscribe_mailto: &unsubscribe,
            excerpt_chars: self.excerpt_chars,
            excerpts: Some(excerpts),
            template: DEFAULT_TEMPLATE,
            preferences_url: None,
            role_titles: &role_titles,
        };
        let value = self.renderer.context_value(&digest, &ctx);
        let subject = self.renderer.subject(&digest, &ctx);
        let t2 = Instant::now();
        let sample = keep.then(|| handlebars::Context::from(value.clone()));
        let t2b = Instant::now();
        let (text, html) = self.renderer.render_value(DEFAULT_TEMPLATE, value)?;
        let t3 = Instant::now();
        Ok(Made {
            items: digest.threads.len() + digest.highlights.len(),
            empty: usize::from(digest.is_empty()),
            bytes: black_box(subject.len() + text.len() + html.len()),
            steps: [t1 - t0, t2 - t1, t3 - t2b],
            sample,
        })
    }
}

/// (a) on one thread: every person's digest in turn, the time of each step, and a sample of
/// the contexts for (b). Returns (time, totals, samples).
fn one_thread(
    maker: &Maker<'_>,
    people: &[Person],
) -> anyhow::Result<(StdDuration, Made, Vec<handlebars::Context>)> {
    let stride = (people.len() / SAMPLE).max(1);
    let excerpts = ExcerptCache::new();
    let mut total = Made::default();
    let mut samples = Vec::with_capacity(SAMPLE.min(people.len()));
    for (i, person) in people.iter().enumerate() {
        let keep = i % stride == 0 && samples.len() < SAMPLE;
        let made = maker.make(person, &excerpts, keep)?;
        total.items += made.items;
        total.empty += made.empty;
        total.bytes += made.bytes;
        for (sum, step) in total.steps.iter_mut().zip(made.steps) {
            *sum += step;
        }
        samples.extend(made.sample);
    }
    Ok((total.steps.iter().sum(), total, samples))
}

/// (a) on `threads` threads as a digest run does it: a stretch of people at a time over
/// [`crate::parallel::map_ordered`], with a fresh excerpt cache. Returns the wall-clock time.
fn all_threads(
    maker: &Maker<'_>,
    people: &[Person],
    threads: usize,
) -> anyhow::Result<StdDuration> {
    let excerpts = ExcerptCache::new();
    let stretch = crate::delivery_run::stretch_len(threads);
    let started = Instant::now();
    for part in people.chunks(stretch) {
        let made = crate::parallel::map_ordered(part, threads, |p| maker.make(p, &excerpts, false));
        for m in made {
            black_box(m?.bytes);
        }
    }
    Ok(started.elapsed())
}

/// (b) bare Handlebars: `renders` renders of the sample contexts on `threads` threads (slices
/// of 256 renders handed out as threads come free). Returns (time, bytes).
fn bare(
    renderer: &Renderer,
    samples: &[handlebars::Context],
    renders: usize,
    threads: usize,
) -> anyhow::Result<(StdDuration, usize)> {
    if samples.is_empty() {
        return Ok((StdDuration::ZERO, 0));
    }
    let slices: Vec<std::ops::Range<usize>> = (0..renders)
        .step_by(256)
        .map(|lo| lo..(lo + 256).min(renders))
        .collect();
    let started = Instant::now();
    let done = crate::parallel::map_ordered(&slices, threads, |slice| {
        let mut bytes = 0usize;
        for i in slice.clone() {
            let (text, html) =
                renderer.render_bare(DEFAULT_TEMPLATE, &samples[i % samples.len()])?;
            bytes += black_box(text.len() + html.len());
        }
        Ok::<usize, crate::render::RenderError>(bytes)
    });
    let took = started.elapsed();
    let mut bytes = 0;
    for b in done {
        bytes += b?;
    }
    Ok((took, bytes))
}

/// Runs the benchmark for `people` people and `posts` posts, on one thread and on `threads`
/// threads, and prints its figures.
pub fn run(people: usize, posts: usize, threads: usize) -> anyhow::Result<()> {
    let threads = threads.max(1);
    let syn = Synthetic::build(people, posts, 0x5eed)?;
    let org = &syn.org;
    let threads_made = syn.threads_made;
    let (n_threads, n_posts) = syn.loaded;
    let (stored, loaded) = syn.timings;

    let renderer = Renderer::load(&templates_dir())?;
    let maker = Maker {
        renderer: &renderer,
        roles_by_name: org.roles.iter().map(|r| (r.name.as_str(), r)).collect(),
        group_names: org
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect(),
        limits: SelectLimits::default(),
        delivered: HashSet::new(),
        excerpt_chars: crate::config::DigestConfig::default().excerpt_chars,
        schedule_key: syn.schedule_key(),
        period: syn.period,
        activity: &syn.activity,
    };

    let (one, busy_one) = cores_busy(|| one_thread(&maker, &org.people));
    let (full_time, total, samples) = one?;
    let (bare_one, busy_bare_one) = cores_busy(|| bare(&renderer, &samples, people, 1));
    let (bare_time, bare_bytes) = bare_one?;
    let (full_all, busy_all) = cores_busy(|| all_threads(&maker, &org.people, threads));
    let full_all = full_all?;
    let (bare_all, busy_bare_all) = cores_busy(|| bare(&renderer, &samples, people, threads));
    let (bare_all, _) = bare_all?;

    let n = people.max(1) as f64;
    let rate = |d: StdDuration| n / secs(d).max(1e-9);
    let pct = |d: StdDuration| 100.0 * secs(d) / secs(full_time).max(1e-9);
    let [t_select, t_context, t_render] = total.steps;
    println!(
        "bench digest: {people} people, {posts} posts, {GROUPS} groups, {ROLES} roles, \
         {threads_made} threads; on 1 thread and on {threads} (this machine: {} cores)",
        crate::parallel::available_threads()
    );
    println!(
        "setup: synthetic store {:.1} s; load_activity + index {:.2} s ({n_posts} posts, {n_threads} threads)",
        secs(stored),
        secs(loaded)
    );
    println!(
        "1 thread:   select + render {people} digests in {:.2} s = {:.0} digests/s \
         (select {:.0}%, tokens + context + subject {:.0}%, handlebars + wrap {:.0}%); \
         {:.1} items/digest, {} empty, {:.1} KB/digest; {busy_one:.2} cores busy",
        secs(full_time),
        rate(full_time),
        pct(t_select),
        pct(t_context),
        pct(t_render),
        total.items as f64 / n,
        total.empty,
        total.bytes as f64 / n / 1024.0
    );
    println!(
        "1 thread:   bare handlebars {people} renders of {} pre-built contexts in {:.2} s = {:.0} digests/s ({:.1} KB/digest; {busy_bare_one:.2} cores busy); ratio {:.2}",
        samples.len(),
        secs(bare_time),
        rate(bare_time),
        bare_bytes as f64 / n / 1024.0,
        rate(full_time) / rate(bare_time).max(1e-9)
    );
    println!(
        "{threads} threads: select + render {:.2} s = {:.0} digests/s ({:.2}x one thread; \
         {busy_all:.2} cores busy); bare handlebars {:.2} s = {:.0} digests/s ({:.2}x one thread; \
         {busy_bare_all:.2} cores busy)",
        secs(full_all),
        rate(full_all),
        rate(full_all) / rate(full_time).max(1e-9),
        secs(bare_all),
        rate(bare_all),
        rate(bare_all) / rate(bare_time).max(1e-9),
    );
    println!(
        "ratio on {threads} threads: {:.2} (target >= 0.5)",
        rate(full_all) / rate(bare_all).max(1e-9)
    );
    match peak_memory_mb() {
        Some(mb) => println!("peak memory (VmHWM): {mb:.0} MB (target <= 500 MB)"),
        None => println!("peak memory: unknown (no /proc/self/status)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_run_completes() {
        super::run(50, 400, 2).unwrap_or_else(|e| panic!("{e:#}"));
    }
}
