//! digestd on a PostgreSQL store (`[store] url`), end to end against a real PostgreSQL and
//! smtp-sink, and `digestd migrate` between SQLite and PostgreSQL, both ways.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Duration, Utc};
use digestd::store::copy::table_sums;
use digestd::store::{PgSettings, Store, StoreLocation};
use support::config::Spec;
use support::postgres::{PgServer, PASSWORD};
use support::{bin, ensure_deps, run_digestd, start_daemon, stop_daemon, wait_until, SmtpSink};

fn post_line(thread: &str, author: &str, hours_ago: i64, body: &str) -> String {
    serde_json::json!({
        "group": "social-work",
        "thread": thread,
        "title": format!("Thread {thread}"),
        "author": author,
        "created": (Utc::now() - Duration::hours(hours_ago)).to_rfc3339(),
        "body": body,
        "tags": ["training"],
    })
    .to_string()
}

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Imports a few posts into the built-in forum of `config`'s store.
fn import_posts(config: &Path) {
    let file = config.with_file_name("posts.jsonl");
    let lines = [
        post_line("a", "alice@testdam.example", 5, "How do we file the form?"),
        post_line("a", "bob@testdam.example", 4, "Like this: **carefully**."),
        post_line("b", "bob@testdam.example", 3, "Training on Tuesday."),
    ];
    std::fs::write(&file, lines.join("\n")).expect("posts");
    let out = run_digestd(config, &["import", file.to_str().expect("utf-8")], None);
    ok(&out, "import");
}

fn people() -> Vec<(String, String)> {
    vec![
        ("alice@testdam.example".into(), "Alice Aalders".into()),
        ("bob@testdam.example".into(), "Bob Bakker".into()),
        ("carol@testdam.example".into(), "Carol Claes".into()),
    ]
}

fn migrate(from: &str, to: &str) -> std::process::Output {
    Command::new(bin())
        .args(["migrate", "--from", from, "--to", to])
        .env_remove("PGPASSWORD")
        .output()
        .expect("running digestd migrate")
}

fn pg_location(url: String) -> StoreLocation {
    StoreLocation::Postgres(PgSettings {
        url,
        password_file: None,
        pool_size: 2,
        ca_file: None,
    })
}

#[test]
fn send_now_on_postgresql_mails_everyone_once_through_a_real_smtp_server() {
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.fresh_database();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pg-password"), format!("{PASSWORD}\n")).expect("password");
    let config = Spec {
        store_pg: Some(format!(
            "url = \"{}\"\npassword_file = \"pg-password\"\npool_size = 3",
            server.url_without_password(&db)
        )),
        transport: Spec::smtp(sink.port()),
        people: people(),
        ..Spec::default()
    }
    .write_in(dir.path());
    assert!(
        !dir.path().join("digestd.sqlite").exists(),
        "no SQLite file"
    );
    import_posts(&config);
    ok(&run_digestd(&config, &["send-now"], None), "send-now");
    let first = sink.messages();
    let mut to: Vec<String> = first.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec![
            "alice@testdam.example",
            "bob@testdam.example",
            "carol@testdam.example"
        ]
    );
    let text = String::from_utf8_lossy(&first[0].raw).into_owned();
    assert!(
        text.contains("Thread a"),
        "the digest names the thread: {text}"
    );
    ok(
        &run_digestd(&config, &["send-now"], None),
        "second send-now",
    );
    assert_eq!(sink.messages().len(), 3, "never twice");
    let status = ok(&run_digestd(&config, &["status"], None), "status");
    assert!(status.contains("sent"), "{status}");
    assert!(!status.contains(PASSWORD), "no password shown: {status}");
    assert!(status.contains(&db), "names the database: {status}");
    assert!(
        !dir.path().join("digestd.sqlite").exists(),
        "everything went to PostgreSQL"
    );
    // The rows are in PostgreSQL itself.
    let n = server
        .psql(&db, "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
        .expect("psql");
    assert_eq!(n.trim(), "3");
    // A wrong password is a clear error, not a hang.
    std::fs::write(dir.path().join("pg-password"), "wrong\n").expect("password");
    let out = run_digestd(&config, &["status"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password"), "{err}");
}

#[test]
fn migrate_moves_everything_to_postgresql_and_back_and_refuses_a_full_target() {
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Spec {
        people: people(),
        ..Spec::default()
    }
    .write_in(dir.path());
    import_posts(&config);
    ok(&run_digestd(&config, &["send-now"], None), "send-now");
    let file: PathBuf = dir.path().join("digestd.sqlite");
    {
        let mut store = Store::open(&file).expect("store");
        store
            .insert_inbound(
                b"Subject: hi\r\n\r\nhello\r\n",
                Some("<m1@x>"),
                "ab",
                "test",
            )
            .expect("inbound");
        store
            .insert_inbound(&[0u8, 255, 10, 13], None, "cd", "test")
            .expect("binary inbound");
        store
            .set_paused("bob@testdam.example", true)
            .expect("pause");
    }
    let before = table_sums(&Store::open(&file).expect("store")).expect("sums");

    let url = server.fresh_url();
    let out = migrate(file.to_str().expect("utf-8"), &url);
    let report = ok(&out, "migrate to postgresql");
    assert!(report.contains("checksums match"), "{report}");
    for table in [
        "deliveries",
        "reply_tokens",
        "inbound_raw",
        "local_posts",
        "people",
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with(table))
            .unwrap_or_else(|| panic!("no line for {table}: {report}"));
        let rows = before
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, s)| s.rows)
            .expect("table");
        assert!(rows > 0, "{table} has rows");
        assert!(line.contains(&format!(" {rows} ")), "{line}");
    }
    assert!(!report.contains(PASSWORD), "no password printed: {report}");
    let pg = Store::open_at(&pg_location(url.clone())).expect("pg store");
    assert_eq!(
        table_sums(&pg).expect("sums"),
        before,
        "same rows, same values"
    );
    // New rows get fresh ids after the copied ones.
    let max_run: i64 = server
        .psql(
            url.rsplit('/').next().expect("db"),
            "SELECT MAX(id) FROM runs",
        )
        .expect("psql")
        .trim()
        .parse()
        .expect("id");
    let run = pg.start_run("s", Utc::now(), "w").expect("new run");
    assert!(run > max_run, "{run} after {max_run}");
    drop(pg);

    // A target with data is refused, and nothing changes there.
    let again = migrate(file.to_str().expect("utf-8"), &url);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");

    // And back: a new SQLite file holds what PostgreSQL holds.
    let back = dir.path().join("back.sqlite");
    let out = migrate(&url, back.to_str().expect("utf-8"));
    ok(&out, "migrate back to sqlite");
    let pg_now = table_sums(&Store::open_at(&pg_location(url)).expect("pg")).expect("sums");
    let back_sums = table_sums(&Store::open(&back).expect("back")).expect("sums");
    assert_eq!(back_sums, pg_now);
    // A source that does not exist is an error, not an empty copy.
    let missing = migrate(
        dir.path().join("none.sqlite").to_str().expect("utf-8"),
        dir.path().join("x.sqlite").to_str().expect("utf-8"),
    );
    assert!(!missing.status.success());
}

#[test]
fn the_daemon_runs_its_schedule_on_postgresql_and_sends_each_digest_once() {
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let url = server.fresh_url();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Spec {
        store_pg: Some(format!("url = \"{url}\"")),
        transport: Spec::smtp(sink.port()),
        schedule: "* * * * * *".into(),
        people: people(),
        ..Spec::default()
    }
    .write_in(dir.path());
    import_posts(&config);
    let mut daemon = start_daemon(&config);
    let all = wait_until(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(200),
        || sink.messages().len() >= 3,
    );
    // A few more firings of the same period add nothing.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = stop_daemon(&mut daemon);
    assert!(
        all,
        "three digests within a minute: {}",
        sink.messages().len()
    );
    assert_eq!(sink.messages().len(), 3, "each person once");
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn a_store_rides_out_a_database_restart() {
    ensure_deps();
    // A server of its own: the shared one serves the other tests meanwhile.
    let server = match PgServer::start() {
        Ok(s) => s,
        Err(e) => {
            support::skip_unless_ci(&format!("PostgreSQL ({e})"));
            return;
        }
    };
    let store = Store::open_at(&pg_location(server.fresh_url())).expect("store");
    let started = Utc::now();
    let before = store.start_run("s", started, "w").expect("run");
    server.stop();
    // While it is down: an error naming PostgreSQL, within the pool's timeout, no hang.
    let down = std::time::Instant::now();
    let err = store.start_run("s", started, "w").expect_err("down");
    assert!(err.to_string().contains("postgresql"), "{err}");
    assert!(down.elapsed() < std::time::Duration::from_secs(30));
    server.start_again().expect("restart");
    // Back: the pool replaces its broken connections, and nothing written before is lost.
    let after = store
        .start_run("s", started, "w")
        .expect("after the restart");
    assert!(after > before);
    assert_eq!(store.last_firing_runs().expect("runs").len(), 1);
}

/// Every table and column the SQLite migrations make, the PostgreSQL twins make too (and no
/// more): a migration added to one engine only fails here, not in production.
#[test]
fn both_engines_have_the_same_tables_and_columns() {
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("schema.sqlite");
    drop(Store::open(&file).expect("SQLite store"));
    let db = server.fresh_database();
    drop(Store::open_at(&pg_location(server.url(&db))).expect("PostgreSQL store"));

    let conn = rusqlite::Connection::open(&file).expect("opening the SQLite file");
    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .expect("schema query");
    let sqlite: std::collections::BTreeSet<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "{}.{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?
            ))
        })
        .expect("schema rows")
        .collect::<Result<_, _>>()
        .expect("schema rows");
    let pg: std::collections::BTreeSet<String> = server
        .psql(
            &db,
            "SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_schema = 'public'",
        )
        .expect("PostgreSQL schema")
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        // SQLite has these without naming them: every table's implicit rowid, and the schema
        // version in `PRAGMA user_version`.
        .filter(|l| l != "reply_tokens.rowid" && l != "schema_version.version")
        .collect();
    let only_sqlite: Vec<_> = sqlite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "the two engines' schemas differ:\n only in SQLite: {only_sqlite:?}\n only in PostgreSQL: {only_pg:?}"
    );
}
