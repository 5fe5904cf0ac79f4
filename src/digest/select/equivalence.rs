//! The planned selection ([`super::select`]) against the straightforward one
//! ([`super::reference::select_reference`]) on generated organisations: every digest equal.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::reference::select_reference;
use super::{select, Activity, Curation, SelectLimits};
use crate::model::{
    BodyFormat, Frequency, Period, Person, Post, PostId, Role, Schedule, Thread, ThreadId,
};

const TAGS: &[&str] = &["training", "howto", "question", "best-answer", "faq"];

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 7, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A generated organisation: its activity, roles, people and what each already got.
struct World {
    activity: Activity,
    roles: Vec<Role>,
    people: Vec<Person>,
    delivered: Vec<HashSet<PostId>>,
}

fn person(i: usize, roles: Vec<String>) -> Person {
    Person {
        // Some addresses differ in case from the ones they post with.
        email: if i % 7 == 0 {
            format!("Person{i}@Example.org")
        } else {
            format!("person{i}@example.org")
        },
        name: format!("Person {i}"),
        roles,
        time_zone: chrono_tz::Europe::Amsterdam,
        locale: "en".into(),
        frequency: Frequency::Weekly,
        matrix_id: None,
    }
}

fn world(seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let groups = rng.random_range(1..7);
    let authors = rng.random_range(1..12);
    let group = |g: usize| format!("g{g}");
    let mut threads: Vec<Thread> = Vec::new();
    let mut posts: Vec<Post> = Vec::new();
    for id in 1..=rng.random_range(0..40) as ThreadId {
        let g = rng.random_range(0..groups);
        threads.push(Thread {
            id,
            group_id: group(g),
            remote_id: id.to_string(),
            title: format!("Thread {id}"),
            url: format!("https://forum.example/t/{id}"),
            created: end() - Duration::hours(rng.random_range(0..24 * 30)),
        });
    }
    for id in 1..=rng.random_range(0..300) as PostId {
        if threads.is_empty() {
            break;
        }
        let t = &threads[rng.random_range(0..threads.len())];
        // Now and then a post of a thread filed under another group, or of an unknown thread.
        let group_id = if rng.random_bool(0.03) {
            group(rng.random_range(0..groups))
        } else {
            t.group_id.clone()
        };
        let thread_id = if rng.random_bool(0.02) { 999 } else { t.id };
        // Few authors, so that threads by one person alone are common.
        let author = rng.random_range(0..authors);
        let tags = TAGS
            .iter()
            .filter(|_| rng.random_bool(0.15))
            .map(|s| s.to_string())
            .collect();
        posts.push(Post {
            id,
            thread_id,
            group_id,
            remote_id: id.to_string(),
            author_email: format!("person{author}@example.org"),
            author_name: format!("Person {author}"),
            // Mostly in the last week; some older, some after the period, some on the same
            // instant (ties in rank).
            created: end() - Duration::hours(rng.random_range(-24..24 * 14) / 3 * 3),
            body: format!("post {id}"),
            body_format: BodyFormat::Markdown,
            tags,
            likes: rng.random_range(0..6),
            reply_count: rng.random_range(0..3),
            best_answer: rng.random_bool(0.1),
            url: format!("https://forum.example/p/{id}"),
        });
    }
    let post_ids: Vec<PostId> = posts.iter().map(|p| p.id).collect();
    let mut nominations: HashMap<PostId, u32> = HashMap::new();
    for &id in &post_ids {
        if rng.random_bool(0.05) {
            nominations.insert(id, rng.random_range(0..3));
        }
    }
    let curation = Curation {
        nominations,
        min_likes: rng.random_range(0..6),
    };
    let roles: Vec<Role> = (0..rng.random_range(1..5))
        .map(|r| Role {
            name: format!("role-{r}"),
            title: None,
            // Groups repeated now and then, and one that has no posts.
            groups: (0..rng.random_range(0..4))
                .map(|_| group(rng.random_range(0..groups + 1)))
                .collect(),
            training_tags: TAGS
                .iter()
                .filter(|_| rng.random_bool(0.4))
                .map(|s| s.to_string())
                .collect(),
            schedule: Schedule {
                cron: "0 0 7 * * Mon".into(),
                time_zone: chrono_tz::Europe::Amsterdam,
            },
            best_of: None,
            template: None,
        })
        .collect();
    let people: Vec<Person> = (0..authors + 3)
        .map(|i| {
            let mut mine: Vec<String> = roles
                .iter()
                .filter(|_| rng.random_bool(0.5))
                .map(|r| r.name.clone())
                .collect();
            if rng.random_bool(0.3) {
                mine.reverse();
            }
            person(i, mine)
        })
        .collect();
    let delivered = people
        .iter()
        .map(|_| match rng.random_range(0..4) {
            0 | 1 => HashSet::new(),
            // A few posts, and ids nobody knows.
            2 => post_ids
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.1))
                .chain([100_000, 100_001])
                .collect(),
            // More ids than there are posts.
            _ => post_ids
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.5))
                .chain(200_000..200_000 + post_ids.len() as PostId)
                .collect(),
        })
        .collect();
    let since = rng
        .random_bool(0.5)
        .then(|| end() - Duration::days(rng.random_range(0..20)));
    World {
        activity: Activity::with_curation(threads, posts, curation)
            .with_threads_complete_since(since),
        roles,
        people,
        delivered,
    }
}

#[test]
fn planned_selection_equals_the_straightforward_one() {
    let mut compared = 0usize;
    let mut non_empty = 0usize;
    for seed in 0..300u64 {
        let w = world(seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xfeed);
        let periods = [
            Period {
                start: end() - Duration::days(7),
                end: end(),
            },
            Period {
                start: end() - Duration::days(1),
                end: end() - Duration::hours(3),
            },
        ];
        let limits = [
            SelectLimits::default(),
            SelectLimits {
                max_threads: 0,
                max_highlights: 0,
                max_questions: 0,
                unanswered_after: Duration::days(1),
            },
            SelectLimits {
                max_threads: rng.random_range(1..4),
                max_highlights: rng.random_range(1..4),
                max_questions: 2,
                unanswered_after: Duration::hours(5),
            },
            SelectLimits {
                max_threads: 1000,
                max_highlights: 1000,
                max_questions: 1000,
                unanswered_after: Duration::days(2),
            },
        ];
        for (person, delivered) in w.people.iter().zip(&w.delivered) {
            let roles: Vec<&Role> = w
                .roles
                .iter()
                .filter(|r| person.roles.contains(&r.name))
                .collect();
            for period in periods {
                for limits in &limits {
                    let planned =
                        select(person, &roles, "k", period, &w.activity, delivered, limits);
                    let reference = select_reference(
                        person,
                        &roles,
                        "k",
                        period,
                        &w.activity,
                        delivered,
                        limits,
                    );
                    assert_eq!(
                        planned, reference,
                        "seed {seed}, {}, {period:?}, {limits:?}",
                        person.email
                    );
                    compared += 1;
                    non_empty += usize::from(!planned.is_empty());
                }
            }
        }
    }
    // The generated worlds do exercise selection.
    assert!(compared > 10_000, "{compared}");
    assert!(non_empty > compared / 3, "{non_empty} of {compared}");
}

#[test]
fn plans_are_shared_only_by_equal_roles() {
    let w = world(7);
    let roles: Vec<&Role> = w.roles.iter().collect();
    let period = Period {
        start: end() - Duration::days(7),
        end: end(),
    };
    let a = w.activity.plan(&roles, period);
    let b = w.activity.plan(&roles, period);
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    // Same names, a group left out (as the preferences page does): another plan.
    let mut fewer: Vec<Role> = w.roles.clone();
    fewer[0].groups.clear();
    let fewer: Vec<&Role> = fewer.iter().collect();
    let c = w.activity.plan(&fewer, period);
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
}
