//! `digestd run`'s log lines as journald gets them (`JOURNAL_STREAM` set, default format): a
//! syslog `<N>` prefix on every line, no colours or timestamps, one summary line per digest run
//! (with its ids and counts) and per inbound message, no post or reply bodies at info level, and
//! `[daemon] log_filter` in force.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::daemon::{import_posts, post_line, Daemon, Spec};

const POST_BODY: &str = "POSTBODYMARKER-1f3a";
const REPLY_BODY: &str = "REPLYBODYMARKER-9c2e";

fn setup(dir: &Path, log_filter: &str) -> std::path::PathBuf {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join("inbox").join(sub)).expect("inbox");
    }
    let config = dir.join("digestd.toml");
    Spec {
        schedule: "* * * * * *".into(),
        tail: format!(
            "[inbound]\nmaildir = \"inbox\"\n\n[daemon]\nlog_filter = \"{log_filter}\"\ninbound_poll_secs = 1\n"
        ),
        ..Spec::default()
    }
    .write(&config);
    import_posts(&config, &[post_line("t", "Winter visits", POST_BODY)]);
    config
}

/// Waits (bounded) for the first digest in the Maildir outbox; returns its text.
fn first_digest(dir: &Path, daemon: &Daemon) -> String {
    let outbox = dir.join("outbox/new");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let first = std::fs::read_dir(&outbox)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read_to_string(e.path()).ok());
        if let Some(text) = first {
            return text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no digest within 30 s:\n{}", daemon.stderr());
}

fn stop(mut daemon: Daemon) -> String {
    daemon.signal("-TERM");
    assert!(daemon
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
    daemon.stderr()
}

const JOURNAL: [(&str, &str); 1] = [("JOURNAL_STREAM", "8:123456")];

#[test]
fn journald_lines_summarise_runs_and_inbound_messages_without_bodies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = setup(dir.path(), "info");
    let daemon = Daemon::start(&config, &JOURNAL);
    let digest = first_digest(dir.path(), &daemon);
    let start = digest.find("reply+").expect("a reply link") + "reply+".len();
    let token: String = digest[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    for i in 0..2 {
        let reply = format!(
            "From: Alice Aalders <alice@testdam.example>\r\nTo: reply+{token}@reply.testdam.example\r\nSubject: Re: digest\r\nMessage-ID: <log-{i}@testdam.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{REPLY_BODY} {i}\r\n"
        );
        std::fs::write(
            dir.path().join(format!("inbox/new/17000000{i}.log.host")),
            reply,
        )
        .expect("reply");
    }
    assert!(
        daemon.wait_log("inbound message processed", 2, Duration::from_secs(30)),
        "{}",
        daemon.stderr()
    );
    let log = stop(daemon);

    for line in log.lines().filter(|l| !l.is_empty()) {
        let rest = line
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .filter(|(level, _)| level.len() == 1 && level.as_bytes()[0].is_ascii_digit())
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("no <N> prefix: {line:?}"));
        assert!(
            !rest.starts_with(|c: char| c.is_ascii_digit()),
            "no timestamp: {line:?}"
        );
        assert!(!line.contains('\x1b'), "no colours: {line:?}");
    }
    let runs: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("digest run finished"))
        .collect();
    let firings = log.matches("schedule fired").count();
    assert!(firings >= 1);
    // One summary line per run; the firing SIGTERM interrupted may have none.
    assert!(
        runs.len() <= firings && runs.len() + 1 >= firings,
        "one summary line per digest run ({} for {firings} firings):\n{log}",
        runs.len()
    );
    let mut ids: Vec<&str> = runs
        .iter()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("run=")))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "each run id once:\n{log}");
    assert_eq!(n, runs.len(), "every summary names its run");
    let first = runs
        .iter()
        .find(|l| l.contains("sent=1"))
        .unwrap_or_else(|| panic!("a run that sent the digest:\n{log}"));
    for field in [
        "run=",
        "schedule=* * * * * *@Europe/Amsterdam",
        "period_end=",
        "people=1",
    ] {
        assert!(first.contains(field), "{field} in {first}");
    }
    assert_eq!(
        log.matches("inbound message processed").count(),
        2,
        "one line per inbound message:\n{log}"
    );
    assert!(!log.contains(POST_BODY), "no post bodies at info:\n{log}");
    assert!(!log.contains(REPLY_BODY), "no reply bodies at info:\n{log}");
}

#[test]
fn the_configured_log_filter_takes_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = setup(dir.path(), "warn");
    let daemon = Daemon::start(&config, &JOURNAL);
    first_digest(dir.path(), &daemon);
    let log = stop(daemon);
    assert!(
        !log.lines().any(|l| l.starts_with("<6>")),
        "no info lines with log_filter = \"warn\":\n{log}"
    );
    assert!(!log.contains("digest run finished"));
}
