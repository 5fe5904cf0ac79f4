//! `[daemon] threads` changes nothing but the time a run takes: the real binary runs `send-now`
//! over the same organisation and posts on one thread and on several, each with its own SQLite
//! file and Maildir, and the two ledgers hold the same digests for the same people in the same
//! order, and again after a second run; no post reaches anyone twice.

mod support;

use std::path::{Path, PathBuf};

use chrono::{Duration as Age, Utc};
use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};

const PEOPLE: usize = 150;

/// An organisation of [`PEOPLE`] people on three roles (one over a group nobody posts in, so
/// some digests are empty), a mix of daily, weekly and opted-out people and two locales,
/// selecting and rendering on `threads` threads.
fn write_org(dir: &Path, threads: usize) -> PathBuf {
    let persons = (0..PEOPLE)
        .map(|i| {
            let roles: &[&str] = match i % 5 {
                0 => &["social-worker", "it-support"],
                1 | 2 => &["social-worker"],
                3 => &["it-support"],
                _ if i % 10 == 4 => &["archivist"],
                _ => &["it-support", "archivist"],
            };
            let mut extra = String::new();
            if i % 7 == 0 {
                extra.push_str("locale = \"nl\"\n");
            }
            match i % 11 {
                0 => extra.push_str("frequency = \"off\"\n"),
                1..=4 => extra.push_str("frequency = \"daily\"\n"),
                _ => {}
            }
            PersonSpec::new(
                &format!("p{i:03}@testdam.example"),
                &format!("Person {i}"),
                roles,
                &extra,
            )
        })
        .collect();
    let schedule = "0 0 7 * * Mon-Fri";
    Spec {
        store_path: "state/digestd.sqlite".into(),
        // One message at a time: the ledger and the outbox fill in the same order.
        mail_extra: "concurrency = 1".into(),
        digest_extra: "max_threads = 6\nmax_highlights = 3".into(),
        groups: vec![
            GroupSpec::new("social-work", "Social work"),
            GroupSpec::new("it-support", "IT support"),
            GroupSpec::new("all-staff", "All staff"),
            GroupSpec::new("archive", "Archive"),
        ],
        roles: vec![
            RoleSpec::new(
                "social-worker",
                &["social-work", "all-staff"],
                schedule,
                "training_tags = [\"training\"]",
            ),
            RoleSpec::new(
                "it-support",
                &["it-support", "all-staff"],
                schedule,
                "training_tags = [\"howto\"]",
            ),
            RoleSpec::new("archivist", &["archive"], schedule, ""),
        ],
        people: Vec::new(),
        persons,
        tail: format!(
            "[defaults]\ntime_zone = \"Europe/Amsterdam\"\nlocale = \"en\"\nfrequency = \"weekly\"\n\n\
             [daemon]\nthreads = {threads}\n"
        ),
        ..Spec::default()
    }
    .write_in(dir)
}

/// Forty posts over three groups by people of the organisation (so each person's own posts
/// make their digest differ), some tagged as training material, within the last six days.
fn posts_file(dir: &Path) -> PathBuf {
    let groups = ["social-work", "it-support", "all-staff"];
    let lines: Vec<String> = (0..40)
        .map(|i| {
            let tags: &[&str] = match i % 9 {
                0 => &["training"],
                4 => &["howto"],
                _ => &[],
            };
            serde_json::json!({
                "group": groups[i % 3],
                "thread": format!("t{}", i % 13),
                "title": format!("Thread {}", i % 13),
                "author": format!("p{:03}@testdam.example", (i * 37) % PEOPLE),
                "created": (Utc::now() - Age::hours(2 + 3 * i as i64)).to_rfc3339(),
                "body": format!("Post {i}: **item** {i} of the week, see [the guide](https://forum.testdam.example/g/{i})."),
                "tags": tags,
            })
            .to_string()
        })
        .collect();
    let file = dir.join("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("writing posts");
    file
}

fn digestd_ok(config: &Path, args: &[&str]) -> String {
    let out = support::run_digestd(config, args, None);
    assert!(
        out.status.success(),
        "digestd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One ledger row as it can be compared across runs: the person, its status, and the text part
/// from the first section on with every reply token masked (tokens are random; the date line
/// above the sections names the run's day).
#[derive(Debug, PartialEq, Eq)]
struct Row {
    person: String,
    status: String,
    subject: String,
    text: String,
}

fn ledger(config: &Path) -> Vec<Row> {
    let db = config.with_file_name("state").join("digestd.sqlite");
    let conn = rusqlite::Connection::open(&db).expect("opening the store");
    let mut stmt = conn
        .prepare("SELECT person_email, status, raw FROM deliveries ORDER BY id")
        .expect("query");
    let token = regex::Regex::new(r"[0-9a-f]{40}").expect("regex");
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
        ))
    })
    .expect("rows")
    .map(|row| {
        let (person, status, raw) = row.expect("row");
        let message = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("a stored digest parses");
        let text = message.body_text(0).unwrap_or_default().into_owned();
        let from_sections = text.find("\n== ").map_or("", |i| &text[i..]);
        Row {
            person,
            status,
            subject: message.subject().unwrap_or_default().to_owned(),
            text: token.replace_all(from_sections, "TOKEN").into_owned(),
        }
    })
    .collect()
}

fn outbox_count(config: &Path) -> usize {
    std::fs::read_dir(config.with_file_name("outbox").join("new"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_run_on_several_threads_records_and_sends_the_same_digests_as_one_thread() {
    let one_dir = tempfile::tempdir().expect("tempdir");
    let many_dir = tempfile::tempdir().expect("tempdir");
    let posts = posts_file(one_dir.path());
    let one = write_org(one_dir.path(), 1);
    let many = write_org(many_dir.path(), 4);
    for config in [&one, &many] {
        digestd_ok(config, &["import", posts.to_str().expect("utf-8 path")]);
    }

    let one_report = digestd_ok(&one, &["send-now"]);
    let many_report = digestd_ok(&many, &["send-now"]);
    assert_eq!(one_report, many_report, "the same counts");
    assert!(one_report.contains("empty "), "{one_report}");
    assert!(
        !one_report.contains("empty 0,"),
        "some digests are empty: {one_report}"
    );

    let one_rows = ledger(&one);
    let many_rows = ledger(&many);
    assert!(
        one_rows.len() > PEOPLE / 2,
        "most people get a digest: {} of {PEOPLE}",
        one_rows.len()
    );
    assert!(
        one_rows.iter().all(|r| r.status == "sent"),
        "every digest sent"
    );
    assert!(
        one_rows.iter().any(|r| r.text.contains("== "))
            && one_rows.windows(2).any(|w| w[0].text != w[1].text),
        "digests with sections, differing between people"
    );
    assert_eq!(
        one_rows.len(),
        many_rows.len(),
        "the same number of digests"
    );
    for (a, b) in one_rows.iter().zip(&many_rows) {
        assert_eq!(a, b, "the same digest in the same place of the ledger");
    }
    assert_eq!(outbox_count(&one), one_rows.len());
    assert_eq!(outbox_count(&many), many_rows.len());

    // The next run (daily people get the highlights that did not fit) agrees too, and no
    // post ever reaches the same person twice.
    let one_again = digestd_ok(&one, &["send-now"]);
    let many_again = digestd_ok(&many, &["send-now"]);
    assert_eq!(one_again, many_again, "the same counts on the next run");
    let one_rows = ledger(&one);
    let many_rows = ledger(&many);
    assert_eq!(one_rows, many_rows, "the same ledger after two runs");
    assert_eq!(outbox_count(&many), many_rows.len());
    let link = regex::Regex::new(r"https://forum\.testdam\.example/t/\d+#p\d+").expect("regex");
    let mut seen = std::collections::HashSet::new();
    for row in &many_rows {
        for post in link.find_iter(&row.text) {
            assert!(
                seen.insert((row.person.clone(), post.as_str().to_owned())),
                "{} got {} twice",
                row.person,
                post.as_str()
            );
        }
    }
}
