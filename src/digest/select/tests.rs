//! Unit tests of selection: who gets which threads and highlights, and the shared activity index.

use super::*;
use crate::model::{BodyFormat, Frequency, Schedule};
use chrono::{Duration, TimeZone};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 7, 0, 0)
        .single()
        .unwrap_or_default()
}

fn period() -> Period {
    Period {
        start: t0() - Duration::days(7),
        end: t0(),
    }
}

fn thread(id: ThreadId, group: &str) -> Thread {
    Thread {
        id,
        group_id: group.into(),
        remote_id: id.to_string(),
        title: format!("Thread {id}"),
        url: format!("https://forum.example/t/{id}"),
        created: t0() - Duration::days(30),
    }
}

fn post(id: PostId, thread: &Thread, author: &str, hours_ago: i64) -> Post {
    Post {
        id,
        thread_id: thread.id,
        group_id: thread.group_id.clone(),
        remote_id: id.to_string(),
        author_email: format!("{author}@example.org"),
        author_name: author.to_string(),
        created: t0() - Duration::hours(hours_ago),
        body: format!("post {id}"),
        body_format: BodyFormat::Markdown,
        tags: Vec::new(),
        likes: 0,
        reply_count: 0,
        best_answer: false,
        url: format!("{}#p{id}", thread.url),
    }
}

fn tagged(mut p: Post, tags: &[&str], likes: u32) -> Post {
    p.tags = tags.iter().map(|s| s.to_string()).collect();
    p.likes = likes;
    p
}

fn person() -> Person {
    Person {
        email: "ann@example.org".into(),
        name: "Ann".into(),
        roles: vec!["social-worker".into()],
        time_zone: chrono_tz::Europe::Amsterdam,
        locale: "en".into(),
        frequency: Frequency::Weekly,
        matrix_id: None,
    }
}

fn role(name: &str, groups: &[&str], tags: &[&str]) -> Role {
    Role {
        name: name.into(),
        title: None,
        groups: groups.iter().map(|s| s.to_string()).collect(),
        training_tags: tags.iter().map(|s| s.to_string()).collect(),
        schedule: Schedule {
            cron: "0 0 7 * * Mon".into(),
            time_zone: chrono_tz::Europe::Amsterdam,
        },
        best_of: None,
        template: None,
    }
}

fn run(activity: &Activity, roles: &[&Role], delivered: &[PostId], limits: SelectLimits) -> Digest {
    let delivered: HashSet<PostId> = delivered.iter().copied().collect();
    select(
        &person(),
        roles,
        "key",
        period(),
        activity,
        &delivered,
        &limits,
    )
}

fn ids(d: &Digest) -> Vec<ThreadId> {
    d.threads.iter().map(|t| t.thread.id).collect()
}

#[test]
fn empty_activity_gives_empty_digest() {
    let a = Activity::new(Vec::new(), Vec::new());
    let r = role("social-worker", &["care"], &["training"]);
    let d = run(&a, &[&r], &[], SelectLimits::default());
    assert!(d.is_empty());
    assert_eq!(d.more_threads, 0);
    assert_eq!(d.schedule, "key");
}

#[test]
fn threads_only_from_followed_groups_and_in_period() {
    let t1 = thread(1, "care");
    let t2 = thread(2, "planning");
    let t3 = thread(3, "care");
    let posts = vec![
        post(10, &t1, "bob", 5),
        post(20, &t2, "bob", 5),
        post(30, &t3, "bob", 24 * 8), // before the period
        post(31, &t3, "bob", -1),     // after the period end
    ];
    let a = Activity::new(vec![t1, t2, t3], posts);
    let r = role("social-worker", &["care"], &[]);
    let d = run(&a, &[&r], &[], SelectLimits::default());
    assert_eq!(ids(&d), vec![1]);
    assert_eq!(d.threads[0].new_posts.len(), 1);
}

#[test]
fn own_posts_do_not_make_a_thread_but_count_as_participation() {
    let t1 = thread(1, "care");
    let t2 = thread(2, "care");
    let posts = vec![
        post(10, &t1, "ann", 5),
        post(11, &t1, "ann", 4),
        post(20, &t2, "ann", 5),
        post(21, &t2, "bob", 4),
    ];
    let a = Activity::new(vec![t1, t2], posts);
    let r = role("social-worker", &["care"], &[]);
    let d = run(&a, &[&r], &[], SelectLimits::default());
    assert_eq!(ids(&d), vec![2]);
    let t = &d.threads[0];
    assert_eq!(
        t.new_posts.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![21]
    );
    assert_eq!(t.participants, vec!["ann".to_string(), "bob".to_string()]);
}

#[test]
fn own_posts_are_recognised_whatever_the_case_of_the_address() {
    let t1 = thread(1, "care");
    let mut p = post(10, &t1, "x", 5);
    p.author_email = "ann@example.org".into();
    let a = Activity::new(vec![t1], vec![p]);
    let r = role("social-worker", &["care"], &[]);
    let mut someone = person();
    someone.email = " Ann@Example.org ".into();
    let d = select(
        &someone,
        &[&r],
        "k",
        period(),
        &a,
        &HashSet::new(),
        &SelectLimits::default(),
    );
    assert!(d.is_empty());
}

#[test]
fn delivered_posts_are_left_out() {
    let t1 = thread(1, "care");
    let t2 = thread(2, "care");
    let posts = vec![
        post(10, &t1, "bob", 5),
        post(20, &t2, "bob", 5),
        post(21, &t2, "cy", 4),
    ];
    let a = Activity::new(vec![t1, t2], posts);
    let r = role("social-worker", &["care"], &[]);
    let d = run(&a, &[&r], &[10, 20], SelectLimits::default());
    assert_eq!(ids(&d), vec![2]);
    assert_eq!(d.threads[0].new_posts[0].id, 21);
}

#[test]
fn ranking_and_cap_with_more() {
    let ts: Vec<Thread> = (1..=5).map(|i| thread(i, "care")).collect();
    let mut posts = Vec::new();
    // Thread i has i distinct posters.
    for t in &ts {
        for k in 0..t.id {
            posts.push(post(t.id * 100 + k, t, &format!("p{k}"), 10));
        }
    }
    let a = Activity::new(ts, posts);
    let r = role("social-worker", &["care"], &[]);
    let d = run(
        &a,
        &[&r],
        &[],
        SelectLimits {
            max_threads: 3,
            max_highlights: 5,
            ..SelectLimits::default()
        },
    );
    assert_eq!(ids(&d), vec![5, 4, 3]);
    assert_eq!(d.more_threads, 2);
    assert!(d.threads[0].score > d.threads[1].score);
}

#[test]
fn more_counts_only_threads_with_news() {
    let ts: Vec<Thread> = (1..=3).map(|i| thread(i, "care")).collect();
    let posts = vec![
        post(10, &ts[0], "bob", 1),
        post(20, &ts[1], "bob", 2),
        post(30, &ts[2], "ann", 3), // own only: not "more"
    ];
    let a = Activity::new(ts, posts);
    let r = role("social-worker", &["care"], &[]);
    let d = run(
        &a,
        &[&r],
        &[],
        SelectLimits {
            max_threads: 1,
            max_highlights: 5,
            ..SelectLimits::default()
        },
    );
    assert_eq!(d.threads.len(), 1);
    assert_eq!(d.more_threads, 1);
}

#[test]
fn several_roles_merge_groups_in_rank_order() {
    let t1 = thread(1, "care");
    let t2 = thread(2, "it");
    let posts = vec![
        post(10, &t1, "bob", 5),
        post(20, &t2, "bob", 5),
        post(21, &t2, "cy", 5),
    ];
    let a = Activity::new(vec![t1, t2], posts);
    let r1 = role("social-worker", &["care"], &[]);
    let r2 = role("it", &["it", "care"], &[]);
    let d = run(&a, &[&r1, &r2], &[], SelectLimits::default());
    assert_eq!(ids(&d), vec![2, 1]);
}

#[test]
fn highlights_match_tags_rank_and_include_older_unsent() {
    let t1 = thread(1, "care");
    let posts = vec![
        tagged(post(10, &t1, "bob", 5), &["training"], 0),
        tagged(post(11, &t1, "cy", 5), &["training"], 30),
        tagged(post(12, &t1, "dee", 24 * 20), &["training"], 2), // older, unsent
        tagged(post(13, &t1, "eve", 5), &["gossip"], 50),        // tag not the role's
        tagged(post(14, &t1, "ann", 5), &["training"], 50),      // own post
        tagged(post(15, &t1, "fay", 5), &["training"], 50),      // delivered
        tagged(post(16, &t1, "gus", -2), &["training"], 50),     // after the period
    ];
    let a = Activity::new(vec![t1], posts);
    let r = role("social-worker", &["care"], &["training"]);
    let d = run(&a, &[&r], &[15], SelectLimits::default());
    let hs: Vec<PostId> = d.highlights.iter().map(|h| h.post.id).collect();
    assert_eq!(hs, vec![11, 12, 10]);
    assert!(d.highlights.iter().all(|h| h.tag == "training"));
    assert_eq!(d.highlights[0].role, "social-worker");
    assert_eq!(d.highlights[0].thread.id, 1);
}

#[test]
fn best_answer_counts_when_the_role_asks_for_it() {
    let t1 = thread(1, "care");
    let mut p = post(10, &t1, "bob", 5);
    p.best_answer = true;
    let a = Activity::new(vec![t1], vec![p]);
    let with = role("a", &["care"], &["best-answer"]);
    let without = role("b", &["care"], &["training"]);
    let d = run(&a, &[&with], &[], SelectLimits::default());
    assert_eq!(d.highlights.len(), 1);
    assert_eq!(d.highlights[0].tag, "best-answer");
    let d = run(&a, &[&without], &[], SelectLimits::default());
    assert!(d.highlights.is_empty());
}

#[test]
fn highlights_are_capped_and_deduplicated_across_roles() {
    let t1 = thread(1, "care");
    let posts: Vec<Post> = (0..6)
        .map(|i| tagged(post(10 + i, &t1, "bob", 5 + i), &["training", "law"], 0))
        .collect();
    let a = Activity::new(vec![t1], posts);
    let r1 = role("first", &["care"], &["training"]);
    let r2 = role("second", &["care"], &["law"]);
    let d = run(
        &a,
        &[&r1, &r2],
        &[],
        SelectLimits {
            max_threads: 10,
            max_highlights: 4,
            ..SelectLimits::default()
        },
    );
    assert_eq!(d.highlights.len(), 4);
    assert_eq!(d.more_highlights, 2);
    let mut ids: Vec<PostId> = d.highlights.iter().map(|h| h.post.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert!(d.highlights.iter().all(|h| h.role == "first"));
    // Newest first at equal likes.
    assert_eq!(d.highlights[0].post.id, 10);
}

#[test]
fn highlights_only_from_the_roles_groups() {
    let t1 = thread(1, "care");
    let t2 = thread(2, "it");
    let posts = vec![
        tagged(post(10, &t1, "bob", 5), &["training"], 0),
        tagged(post(20, &t2, "bob", 5), &["training"], 0),
    ];
    let a = Activity::new(vec![t1, t2], posts);
    let r1 = role("social-worker", &["care"], &["training"]);
    let r2 = role("it", &["it"], &[]);
    let d = run(&a, &[&r1, &r2], &[], SelectLimits::default());
    let hs: Vec<PostId> = d.highlights.iter().map(|h| h.post.id).collect();
    assert_eq!(hs, vec![10]);
    assert_eq!(ids(&d).len(), 2);
}

#[test]
fn windows_are_shared_and_results_stable() {
    let t1 = thread(1, "care");
    let posts = vec![post(10, &t1, "bob", 5)];
    let a = Activity::new(vec![t1], posts);
    let r = role("social-worker", &["care"], &[]);
    let d1 = run(&a, &[&r], &[], SelectLimits::default());
    let d2 = run(&a, &[&r], &[], SelectLimits::default());
    assert_eq!(d1, d2);
    let cached = a.windows.read().map(|c| c.len()).unwrap_or(0);
    assert_eq!(cached, 1);
}

#[test]
fn nominations_and_likes_make_highlights_for_every_role_of_the_group() {
    let t1 = thread(1, "g");
    let plain = post(10, &t1, "bob", 24 * 20);
    let liked = tagged(post(11, &t1, "cy", 24 * 3), &[], 12);
    let tagged_post = tagged(post(12, &t1, "dee", 2), &["training"], 0);
    let a = Activity::with_curation(
        vec![t1],
        vec![plain, liked, tagged_post],
        Curation {
            nominations: [(10, 1)].into_iter().collect(),
            min_likes: 10,
        },
    );
    // A role without training tags still gets the nominated and the much-liked post.
    let r = role("social-worker", &["g"], &[]);
    let d = run(&a, &[&r], &[], SelectLimits::default());
    let got: Vec<(PostId, &str)> = d
        .highlights
        .iter()
        .map(|h| (h.post.id, h.tag.as_str()))
        .collect();
    // The nomination ranks first even though the post is three weeks old.
    assert_eq!(got, vec![(10, "nominated"), (11, "liked")]);
    // Already delivered highlights never come back.
    let d = run(&a, &[&r], &[10], SelectLimits::default());
    assert_eq!(d.highlights.len(), 1);
    // Without curation the same posts are no highlights.
    let t1 = thread(1, "g");
    let plain = Activity::new(vec![t1.clone()], vec![post(10, &t1, "bob", 24 * 20)]);
    assert!(run(&plain, &[&r], &[], SelectLimits::default())
        .highlights
        .is_empty());
}

/// Question ids (thread ids) of `ann`'s digest with roles `roles` at `end`.
fn questions_at(
    a: &Activity,
    roles: &[&Role],
    end: DateTime<Utc>,
    max: usize,
) -> (Vec<ThreadId>, usize) {
    let d = select(
        &person(),
        roles,
        "key",
        Period {
            start: end - Duration::days(7),
            end,
        },
        a,
        &HashSet::new(),
        &SelectLimits {
            max_questions: max,
            unanswered_after: Duration::days(2),
            ..SelectLimits::default()
        },
    );
    (
        d.questions.iter().map(|q| q.thread.id).collect(),
        d.more_questions,
    )
}

#[test]
fn can_you_help_lists_unanswered_questions_but_not_own_fresh_or_answered_ones() {
    let threads: Vec<Thread> = (1..=6).map(|i| thread(i, "g")).collect();
    let posts = vec![
        // 1: asked 4 days ago, the asker added a detail; nobody else answered.
        post(10, &threads[0], "bob", 96),
        post(11, &threads[0], "bob", 90),
        // 2: asked 5 days ago, answered by cy 60 hours ago.
        post(20, &threads[1], "bob", 120),
        post(21, &threads[1], "cy", 60),
        // 3: Ann's own question.
        post(30, &threads[2], "ann", 100),
        // 4: asked an hour ago: not waiting long enough yet.
        post(40, &threads[3], "bob", 1),
        // 5: a tagged question with a reply but no accepted answer: still unsolved.
        tagged(post(50, &threads[4], "dee", 72), &["question"], 0),
        post(51, &threads[4], "cy", 70),
        // 6: a tagged question whose answer was accepted.
        tagged(post(60, &threads[5], "dee", 72), &["question"], 0),
        {
            let mut p = post(61, &threads[5], "cy", 70);
            p.best_answer = true;
            p
        },
    ];
    let a = Activity::new(threads, posts);
    let r = role("social-worker", &["g"], &[]);
    // Oldest first at equal fit.
    assert_eq!(questions_at(&a, &[&r], t0(), 5), (vec![1, 5], 0));
    assert_eq!(questions_at(&a, &[&r], t0(), 1), (vec![1], 1));
    // Before cy answered thread 2 (60 h ago) it had waited more than two days: it was listed.
    assert_eq!(
        questions_at(&a, &[&r], t0() - Duration::hours(62), 5).0,
        vec![2]
    );
}

#[test]
fn can_you_help_prefers_the_groups_that_fit_the_role_and_skips_incomplete_threads() {
    let main = thread(1, "main");
    let side = thread(2, "side");
    let posts = vec![
        post(10, &main, "bob", 60),
        // Older, but in the group the role follows last.
        post(20, &side, "bob", 100),
    ];
    let r = role("social-worker", &["main", "other", "side"], &[]);
    let a = Activity::new(vec![main.clone(), side.clone()], posts.clone());
    assert_eq!(questions_at(&a, &[&r], t0(), 5).0, vec![1, 2]);
    // Threads opened before what was loaded cannot be judged (their opener is not known).
    let a = Activity::new(vec![main, side], posts)
        .with_threads_complete_since(Some(t0() - Duration::days(10)));
    assert!(questions_at(&a, &[&r], t0(), 5).0.is_empty());
}
