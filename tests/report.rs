//! `digestd report` end to end: a real store seeded through the binary (posts imported with
//! their dates, a reply by email through `digestd receive`, a `pause` command), collected, then
//! the report as CSV, as a table and as an HTML page, which headless Chromium renders.

mod support;

use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use support::inbound::{mail, Transport, World, REPLY_DOMAIN};
use support::run_digestd;

/// `[inbound]` trusting the test's mail server, so a command acts at once.
const TRUSTED: &str = "trusted_authserv_ids = [\"mx.test.example\"]";

/// What that server writes on ann's signed mail.
const DKIM_PASS: &str =
    "Authentication-Results: mx.test.example; dkim=pass header.d=example.org\r\n";

/// One post for `digestd import`, written `ago` before now.
fn post(thread: &str, author: &str, ago: Duration, body: &str) -> String {
    let created = (Utc::now() - ago).to_rfc3339();
    format!(
        r#"{{"group":"general","thread":"{thread}","title":"{thread}","author":"{author}","created":"{created}","body":"{body}"}}"#
    )
}

/// A world whose store holds, in group `general`:
/// - "Budget 2025" (bob, now) answered by ann by email;
/// - q1 (ann, 10 days ago), never answered;
/// - q2 (bob, 3 days ago), answered by ann on the forum 2 days ago;
///
/// and ann paused her digests by email. Returns the world and the report's instant.
fn seeded() -> (World, DateTime<Utc>) {
    let world = World::new(Transport::Maildir, TRUSTED);
    let token = world.grant("ann@example.org", 30);
    let reply = mail(
        "ann@example.org",
        &format!("reply+{}@{REPLY_DOMAIN}", token.as_str()),
        "Re: Budget 2025",
        "reply-1@example.org",
        DKIM_PASS,
        "Yes, let us do it.",
    );
    let (code, err) = world.receive(&reply);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        world.posts_in_thread(),
        2,
        "posted: {:?}",
        world.last_status()
    );
    let pause = mail(
        "ann@example.org",
        &format!("digest@{REPLY_DOMAIN}"),
        "pause",
        "pause-1@example.org",
        DKIM_PASS,
        "",
    );
    let (code, err) = world.receive(&pause);
    assert_eq!(code, 0, "{err}");
    let lines = [
        post(
            "q1",
            "ann@example.org",
            Duration::days(10),
            "Who knows the form?",
        ),
        post(
            "q2",
            "bob@example.org",
            Duration::days(3),
            "Where is the key?",
        ),
        post("q2", "ann@example.org", Duration::days(2), "In the drawer."),
    ];
    let file = world.dir.path().join("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("posts file");
    ok(&world.config_path, &["import", &file.to_string_lossy()]);
    ok(&world.config_path, &["collect"]);
    (world, Utc::now() + Duration::minutes(1))
}

/// Runs digestd with `args`, which must succeed; its stdout.
fn ok(config: &Path, args: &[&str]) -> String {
    let out = run_digestd(config, args, None);
    assert!(
        out.status.success(),
        "digestd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `digestd report` over 3 weeks at `now` with `extra` arguments.
fn report(world: &World, now: DateTime<Utc>, extra: &[&str]) -> String {
    let now = now.to_rfc3339();
    let mut args = vec!["report", "--weeks", "3", "--now", &now];
    args.extend_from_slice(extra);
    ok(&world.config_path, &args)
}

/// The CSV's lines for `scope,id`, as maps from column to value.
fn rows(csv: &str, scope_id: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .filter(|l| l.starts_with(&format!("{scope_id},")))
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn total(rows: &[std::collections::HashMap<String, String>], column: &str) -> i64 {
    rows.iter()
        .map(|r| r[column].parse::<i64>().unwrap_or(0))
        .sum()
}

#[test]
fn csv_counts_posts_replies_by_email_and_on_the_forum_questions_and_pauses() {
    let (world, now) = seeded();
    let csv = report(&world, now, &["--csv"]);
    let general = rows(&csv, "group,general");
    assert_eq!(general.len(), 3, "one line a week:\n{csv}");
    assert_eq!(total(&general, "posts"), 5, "{csv}");
    assert_eq!(total(&general, "new_threads"), 3, "{csv}");
    assert_eq!(total(&general, "replies_email"), 1, "{csv}");
    assert_eq!(total(&general, "replies_forum"), 1, "{csv}");
    assert_eq!(total(&general, "pauses"), 1, "{csv}");
    assert_eq!(total(&general, "unsubscribes"), 0, "{csv}");
    let this_week = general.last().expect("this week");
    assert_eq!(this_week["unanswered"], "1", "q1 only: {csv}");
    assert_eq!(this_week["oldest_unanswered_days"], "10", "{csv}");
    let staff = rows(&csv, "role,staff");
    assert_eq!(total(&staff, "posts"), 5, "ann and bob are staff: {csv}");
    assert_eq!(total(&staff, "replies_email"), 1, "{csv}");
    let secret = rows(&csv, "group,secret");
    assert_eq!(total(&secret, "posts"), 0, "{csv}");
    assert_eq!(
        total(&secret, "pauses"),
        0,
        "nobody's role follows it: {csv}"
    );
}

#[test]
fn the_table_has_a_block_per_group_and_role() {
    let (world, now) = seeded();
    let text = report(&world, now, &[]);
    assert!(text.starts_with("Engagement report: 3 week(s)"), "{text}");
    for heading in [
        "group General (general)",
        "group Board only (secret)",
        "role staff",
    ] {
        assert!(text.contains(heading), "{heading}:\n{text}");
    }
    assert!(
        text.contains("by email") && text.contains("unanswered"),
        "{text}"
    );
    let weeks = text
        .lines()
        .filter(|l| l.len() > 10 && l.as_bytes()[4] == b'-' && l.as_bytes()[7] == b'-')
        .count();
    assert_eq!(weeks, 3 * 3, "3 weeks for 2 groups and 1 role:\n{text}");
}

#[test]
fn bad_arguments_are_refused_with_a_clear_error() {
    let (world, _) = seeded();
    let out = run_digestd(&world.config_path, &["report", "--weeks", "0"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--weeks must be between 1 and"), "{err}");
    let out = run_digestd(
        &world.config_path,
        &["report", "--csv", "--html", "x.html"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn the_html_page_renders_its_charts_in_headless_chromium() {
    let (world, now) = seeded();
    let page = world.dir.path().join("report.html");
    let out = report(&world, now, &["--html", &page.to_string_lossy()]);
    assert!(
        out.is_empty(),
        "the page goes to the file, not stdout: {out}"
    );
    let html = std::fs::read_to_string(&page).expect("page written");
    assert!(!html.contains("<script"), "no script");
    assert_eq!(html.matches("<svg").count(), 2 * 3, "two charts a card");
    let Some(chromium) = which("chromium") else {
        support::skip_unless_ci("chromium");
        return;
    };
    let dom = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium");
    assert!(
        dom.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom.matches("<svg").count(),
        6,
        "the charts are in the DOM:\n{dom}"
    );
    assert!(dom.contains("<rect"), "bars drawn: {dom}");
    assert!(dom.contains("id=\"group-general\""), "{dom}");
}

/// The path of `program` on `PATH`, if it is there.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}
