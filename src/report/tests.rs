//! Unit tests of the engagement report: weeks, openers and replies, unanswered questions and
//! their age, events per group and role, and the three outputs.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::facts::{PersonEvent, PersonEventKind, PostFact};
use super::*;
use crate::model::{Frequency, Group, Person, Role, Schedule};

/// Wednesday 2026-12-09 12:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 9, 12, 0, 0)
        .single()
        .expect("instant")
}

fn post(
    id: i64,
    thread: i64,
    group: &str,
    author: &str,
    days_ago: i64,
    by_email: bool,
) -> PostFact {
    PostFact {
        post_id: id,
        thread_id: thread,
        group_id: group.into(),
        author_email: author.into(),
        created: now() - Duration::days(days_ago),
        by_email,
        question_tag: false,
        best_answer: false,
    }
}

fn role(name: &str, groups: &[&str]) -> Role {
    Role {
        name: name.into(),
        title: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        training_tags: vec![],
        schedule: Schedule {
            cron: "0 0 7 * * *".into(),
            time_zone: chrono_tz::UTC,
        },
        best_of: None,
        template: None,
    }
}

fn person(email: &str, roles: &[&str]) -> Person {
    Person {
        email: email.into(),
        name: email.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        time_zone: chrono_tz::UTC,
        locale: "en".into(),
        frequency: Frequency::Weekly,
        matrix_id: None,
    }
}

struct World {
    groups: Vec<Group>,
    roles: Vec<Role>,
    people: Vec<Person>,
    posts: Vec<PostFact>,
    events: Vec<PersonEvent>,
}

fn world() -> World {
    let mut posts = vec![
        // Thread 1 in care, opened 16 days ago by ann, answered by email by bob 15 days ago.
        post(1, 1, "care", "ann@x.org", 16, false),
        post(2, 1, "care", "bob@x.org", 15, true),
        // Thread 2 in care, opened 9 days ago by ann, only ann since: unanswered.
        post(3, 2, "care", "ann@x.org", 9, false),
        post(4, 2, "care", "ann@x.org", 8, false),
        // Thread 3 in care, opened 2 days ago by bob, answered on the forum by cy today.
        post(5, 3, "care", "bob@x.org", 2, false),
        post(6, 3, "care", "cy@x.org", 0, false),
        // Thread 4 in it, opened 1 day ago, unanswered.
        post(7, 4, "it", "cy@x.org", 1, false),
    ];
    posts.sort_by_key(|p| (p.created, p.post_id));
    World {
        groups: vec![Group::local("care", "Youth care"), Group::local("it", "IT")],
        roles: vec![role("carer", &["care"]), role("admin", &["it"])],
        people: vec![
            person("ann@x.org", &["carer"]),
            person("bob@x.org", &["carer"]),
            person("cy@x.org", &["admin"]),
        ],
        posts,
        events: vec![
            PersonEvent {
                email: "bob@x.org".into(),
                kind: PersonEventKind::Pause,
                at: now() - Duration::days(1),
            },
            PersonEvent {
                email: "cy@x.org".into(),
                kind: PersonEventKind::ScheduleOptOut,
                at: now() - Duration::days(8),
            },
            PersonEvent {
                email: "bob@x.org".into(),
                kind: PersonEventKind::Resume,
                at: now(),
            },
        ],
    }
}

fn built(w: &World, weeks: usize) -> Report {
    build(&ReportInput {
        now: now(),
        weeks,
        groups: &w.groups,
        roles: &w.roles,
        people: &w.people,
        posts: &w.posts,
        events: &w.events,
    })
}

fn row<'r>(r: &'r Report, scope: Scope, id: &str) -> &'r ReportRow {
    r.rows
        .iter()
        .find(|x| x.scope == scope && x.id == id)
        .expect("row")
}

#[test]
fn weeks_start_on_monday_and_end_with_the_current_one() {
    let r = built(&world(), 3);
    let days: Vec<String> = r.weeks.iter().map(|d| d.to_string()).collect();
    assert_eq!(days, ["2026-11-23", "2026-11-30", "2026-12-07"]);
    assert_eq!(
        report_start(now(), 3),
        Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
            .single()
            .expect("t")
    );
    assert_eq!(built(&world(), 0).weeks.len(), 1, "at least one week");
}

#[test]
fn a_group_counts_threads_replies_by_email_and_on_the_forum() {
    let r = built(&world(), 3);
    let care = row(&r, Scope::Group, "care");
    assert_eq!(care.name, "Youth care");
    // Week of 23 Nov: thread 1 opened (16 days ago = 23 Nov) and answered by email.
    assert_eq!(
        (
            care.weeks[0].posts,
            care.weeks[0].new_threads,
            care.weeks[0].replies_email
        ),
        (2, 1, 1)
    );
    // Week of 30 Nov: thread 2 opened (9 days ago), ann's own follow-up counts on the forum.
    let w1 = care.weeks[1];
    assert_eq!((w1.posts, w1.new_threads, w1.replies_forum), (2, 1, 1));
    // This week: thread 3 opened and answered on the forum.
    let w2 = care.weeks[2];
    assert_eq!(
        (w2.posts, w2.new_threads, w2.replies_email, w2.replies_forum),
        (2, 1, 0, 1)
    );
}

#[test]
fn unanswered_questions_are_counted_at_each_weeks_end_with_their_age() {
    let r = built(&world(), 3);
    let care = row(&r, Scope::Group, "care");
    assert_eq!(
        care.weeks[0].unanswered, 0,
        "thread 1 was answered within a day"
    );
    // End of the week of 30 Nov (7 Dec 00:00): thread 2 (30 Nov 12:00) open for 6.5 days.
    assert_eq!(care.weeks[1].unanswered, 1);
    assert_eq!(care.weeks[1].oldest_unanswered_days, Some(6));
    // Now: thread 2 (9 days) still open; thread 3 answered today.
    assert_eq!(care.weeks[2].unanswered, 1);
    assert_eq!(care.weeks[2].oldest_unanswered_days, Some(9));
    let it = row(&r, Scope::Group, "it");
    assert_eq!(
        (it.weeks[2].unanswered, it.weeks[2].oldest_unanswered_days),
        (1, Some(1))
    );
    assert_eq!(it.weeks[1].oldest_unanswered_days, None);
}

#[test]
fn unsubscribes_and_pauses_count_for_the_groups_and_roles_of_the_person() {
    let r = built(&world(), 3);
    let care = row(&r, Scope::Group, "care");
    assert_eq!((care.weeks[2].pauses, care.weeks[2].unsubscribes), (1, 0));
    let it = row(&r, Scope::Group, "it");
    assert_eq!((it.weeks[1].unsubscribes, it.weeks[2].pauses), (1, 0));
    let carer = row(&r, Scope::Role, "carer");
    assert_eq!(carer.weeks[2].pauses, 1, "a resume is not a pause");
    let admin = row(&r, Scope::Role, "admin");
    assert_eq!(admin.weeks[1].unsubscribes, 1, "a schedule opt-out counts");
}

#[test]
fn a_role_counts_its_members_posts_in_its_groups() {
    let r = built(&world(), 3);
    let carer = row(&r, Scope::Role, "carer");
    // This week: bob opened thread 3; cy (not a carer) answered it.
    assert_eq!((carer.weeks[2].posts, carer.weeks[2].replies_forum), (1, 0));
    assert_eq!(
        carer.weeks[2].unanswered, 1,
        "the questions of the role's groups"
    );
    let admin = row(&r, Scope::Role, "admin");
    assert_eq!(
        admin.weeks[2].posts, 1,
        "cy's post in care is not in the admin's groups"
    );
}

#[test]
fn text_and_csv_show_every_row_and_week() {
    let r = built(&world(), 2);
    let text = text::to_text(&r);
    assert!(text.contains("group Youth care (care)"), "{text}");
    assert!(text.contains("role carer"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("2026-12-07")), "{text}");
    let csv = text::to_csv(&r);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "scope,id,name,week_start,posts,new_threads,replies_email,replies_forum,unanswered,\
         oldest_unanswered_days,unsubscribes,pauses"
    );
    assert_eq!(lines.len(), 1 + 4 * 2, "4 rows x 2 weeks");
    assert!(
        lines.contains(&"group,care,Youth care,2026-12-07,2,1,0,1,1,9,0,1"),
        "{csv}"
    );
    assert!(
        lines.contains(&"group,it,IT,2026-11-30,0,0,0,0,0,,1,0"),
        "{csv}"
    );
}

#[test]
fn csv_quotes_names_with_commas() {
    let mut w = world();
    w.groups[0].name = "Care, \"youth\"".into();
    let csv = text::to_csv(&built(&w, 1));
    assert!(csv.contains(",\"Care, \"\"youth\"\"\","), "{csv}");
}

#[test]
fn the_page_is_self_contained_with_a_chart_per_series_and_escaped_names() {
    let mut w = world();
    w.groups[1].name = "<IT & co>".into();
    let page = html::to_html(&built(&w, 4));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("name=\"viewport\""));
    assert_eq!(page.matches("<svg").count(), 2 * 4, "two charts per row");
    assert!(page.contains("&lt;IT &amp; co&gt;"));
    assert!(!page.contains("<script"), "no script");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external resources"
    );
    assert!(page.contains("id=\"group-care\"") && page.contains("id=\"role-admin\""));
}

#[test]
fn nice_tops_are_even_and_round() {
    let tops: Vec<usize> = [0, 1, 3, 7, 10, 11, 21, 60, 101]
        .into_iter()
        .map(html::nice_top)
        .collect();
    assert_eq!(tops, [2, 2, 4, 8, 10, 20, 50, 100, 200]);
}

#[test]
fn a_tagged_question_stays_unanswered_until_an_answer_is_marked_best() {
    let mut w = world();
    // Thread 5 in it: a tagged question 6 days ago, a "me too" 5 days ago, a best answer today.
    let mut opener = post(8, 5, "it", "cy@x.org", 6, false);
    opener.question_tag = true;
    let mut best = post(10, 5, "it", "ann@x.org", 0, false);
    best.best_answer = true;
    w.posts
        .extend([opener, post(9, 5, "it", "bob@x.org", 5, false), best]);
    w.posts.sort_by_key(|p| (p.created, p.post_id));
    let r = built(&w, 2);
    let it = row(&r, Scope::Group, "it");
    assert_eq!(
        it.weeks[0].unanswered, 1,
        "open at the end of last week: {it:?}"
    );
    assert_eq!(it.weeks[1].unanswered, 1, "only thread 4 now: {it:?}");
    assert_eq!(it.weeks[1].oldest_unanswered_days, Some(1));
}
