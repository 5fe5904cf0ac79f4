//! Several `digestd run` processes on one PostgreSQL database (issue 22, "many workers"): a
//! schedule firing is one run cluster-wide, its people are shared between the workers by
//! slices, and everyone gets exactly one digest. Real PostgreSQL, real smtp-sink.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{Timelike, Utc};
use support::config::Spec;
use support::daemon::Daemon;
use support::postgres::{PgServer, PASSWORD};
use support::{ensure_deps, run_digestd, SmtpSink};

const PEOPLE: usize = 400;

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Imports two threads into the built-in forum of `config`'s store.
fn import_posts(config: &Path) {
    let file = config.with_file_name("posts.jsonl");
    let lines: Vec<String> = ["a", "b"]
        .iter()
        .map(|thread| {
            serde_json::json!({
                "group": "social-work",
                "thread": thread,
                "title": format!("Thread {thread}"),
                "author": "p0@testdam.example",
                "created": (Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
                "body": "News for everyone.",
            })
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("posts");
    let out = run_digestd(config, &["import", file.to_str().expect("utf-8")], None);
    ok(&out, "import");
}

/// The worker id a daemon's "digestd running" line names.
fn worker_id(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("digestd running"))?;
    let at = line.find("worker=")? + "worker=".len();
    Some(
        line[at..]
            .split_whitespace()
            .next()?
            .trim_matches('"')
            .to_owned(),
    )
}

#[test]
fn two_workers_on_one_postgresql_share_a_run_and_everyone_gets_exactly_one_digest() {
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.fresh_database();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pg-password"), format!("{PASSWORD}\n")).expect("password");
    // Once a minute, at a second far enough ahead that both workers are up when it fires.
    let second = (Utc::now() + chrono::Duration::seconds(15)).second();
    let config = Spec {
        store_pg: Some(format!(
            "url = \"{}\"\npassword_file = \"pg-password\"\npool_size = 3",
            server.url_without_password(&db)
        )),
        transport: Spec::smtp(sink.port()),
        schedule: format!("{second} * * * * *"),
        people: Spec::numbered_people(PEOPLE),
        tail: "[daemon]\nlease_seconds = 5\nthreads = 1\n".into(),
        ..Spec::default()
    }
    .write_in(dir.path());
    import_posts(&config);

    let a = Daemon::start(&config, &[]);
    let b = Daemon::start(&config, &[]);
    for d in [&a, &b] {
        assert!(
            d.wait_log("digestd running", 1, Duration::from_secs(30)),
            "a worker started: {}",
            d.stderr()
        );
    }
    // Everyone but p0, the author of both threads (nothing new for them).
    let messages = sink.wait_for(PEOPLE - 1, Duration::from_secs(120));
    // Give a duplicate the chance to show up.
    std::thread::sleep(Duration::from_secs(3));
    let messages = if sink.messages().len() > messages.len() {
        sink.messages()
    } else {
        messages
    };
    let mut by: HashMap<String, usize> = HashMap::new();
    for m in &messages {
        for r in &m.rcpt_to {
            *by.entry(r.to_lowercase()).or_default() += 1;
        }
    }
    for i in 1..PEOPLE {
        let to = format!("p{i}@testdam.example");
        assert_eq!(
            by.get(&to).copied(),
            Some(1),
            "{to}: exactly one digest from two workers ({} messages)",
            messages.len()
        );
    }
    assert_eq!(messages.len(), PEOPLE - 1, "nobody else, nothing twice");

    // The first firing (one row, however many workers joined it) and its slices, all done,
    // shared by both workers, each named in its own log.
    const FIRST: &str = "period_end = (SELECT MIN(period_end) FROM firings)";
    let open = server
        .psql(
            &db,
            &format!("SELECT COUNT(*) FROM firing_slices WHERE done IS NULL AND {FIRST}"),
        )
        .expect("psql");
    assert_eq!(open.trim(), "0", "every slice done");
    let claimers = server
        .psql(
            &db,
            &format!(
                "SELECT DISTINCT claimed_by FROM firing_slices WHERE {FIRST} ORDER BY claimed_by"
            ),
        )
        .expect("psql");
    let claimers: Vec<&str> = claimers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let ids = [
        worker_id(&a.stderr()).expect("worker a's id in its log"),
        worker_id(&b.stderr()).expect("worker b's id in its log"),
    ];
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        assert!(
            claimers.contains(&id.as_str()),
            "both workers did part of the run: {id} not among {claimers:?}"
        );
    }
    let ledger = server
        .psql(
            &db,
            "SELECT status, COUNT(*), COUNT(DISTINCT person_email) FROM deliveries GROUP BY status",
        )
        .expect("psql");
    assert_eq!(
        ledger.trim(),
        format!("sent|{n}|{n}", n = PEOPLE - 1),
        "one ledger row each, all sent"
    );
    drop((a, b));
}
