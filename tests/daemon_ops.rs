//! `digestd run` as systemd runs it: the notify protocol on a real datagram socket
//! (READY=1, WATCHDOG=1 at the configured interval and during a long cycle, RELOADING/READY on
//! SIGHUP, STOPPING=1), SIGHUP with a valid and with a broken config, SIGTERM → exit 0.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{digestd, import_posts, post_line, Daemon, NotifySocket, Spec};
use support::{bin, FakeRules, FakeSmtp, SinkOptions, SmtpSink};

fn watchdog_pings(seen: &[String]) -> usize {
    seen.iter().filter(|m| m.contains("WATCHDOG=1")).count()
}

/// Starts the daemon with `NOTIFY_SOCKET` and `WATCHDOG_USEC`; returns it once READY=1 came.
fn start_notified(config: &Path, sock: &NotifySocket, watchdog_usec: &str) -> (Daemon, String) {
    let path = sock.path().to_string_lossy().into_owned();
    let daemon = Daemon::start(
        config,
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", watchdog_usec)],
    );
    let seen = sock.wait_for("READY=1", Duration::from_secs(20));
    let ready = seen.last().cloned().unwrap_or_default();
    (daemon, ready)
}

fn config_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("digestd.toml")
}

#[test]
fn notify_protocol_reload_and_clean_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_path(&dir);
    Spec::default().write(&config);
    let sock = NotifySocket::bind(dir.path());
    let (mut daemon, ready) = start_notified(&config, &sock, "400000");
    assert!(
        ready.contains("STATUS=next digest"),
        "READY carries the next digest time: {ready}"
    );

    // Pings at about half of the 400 ms interval: ~15 in 3 s; generous bounds either side.
    let pings = watchdog_pings(&sock.collect_for(Duration::from_secs(3)));
    assert!((5..=60).contains(&pings), "{pings} pings in 3 s");

    // SIGHUP with a valid new config: RELOADING=1, then READY=1 again.
    Spec {
        schedule: "0 0 8 * * Mon-Fri".into(),
        group_name: "Social work and care".into(),
        ..Spec::default()
    }
    .write(&config);
    daemon.signal("-HUP");
    sock.wait_for("RELOADING=1", Duration::from_secs(10));
    let ready = sock.wait_for("READY=1", Duration::from_secs(10));
    let status = ready.last().cloned().unwrap_or_default();
    assert!(
        status.contains("STATUS=next digest") && status.contains("(0 0 8 * * Mon-Fri@"),
        "the STATUS= line shows the new schedule's next time: {status}"
    );

    // SIGHUP with a broken config: the daemon keeps running on the old one.
    std::fs::write(&config, "[organisation\nname = ").expect("broken config");
    daemon.signal("-HUP");
    sock.wait_for("RELOADING=1", Duration::from_secs(10));
    let ready = sock.wait_for("READY=1", Duration::from_secs(10));
    let status = ready.last().cloned().unwrap_or_default();
    assert!(
        status.contains("(0 0 8 * * Mon-Fri@"),
        "still the last good schedule: {status}"
    );
    assert!(daemon.is_running(), "still running after a broken reload");
    sock.wait_for("WATCHDOG=1", Duration::from_secs(3));

    // SIGTERM: STOPPING=1 and exit 0.
    daemon.signal("-TERM");
    sock.wait_for("STOPPING=1", Duration::from_secs(10));
    let status = daemon.wait_exit(Duration::from_secs(30));
    let stderr = daemon.stderr();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGTERM: {status:?}\n{stderr}"
    );
    assert!(
        stderr.contains("reload refused"),
        "the broken reload is logged:\n{stderr}"
    );
    assert!(
        stderr.contains("digestd.toml:"),
        "with file and line:\n{stderr}"
    );
}

/// A cycle far longer than the watchdog interval (8 digests, each DATA answered after 1 s, one
/// connection) keeps the pings coming: the sends are progress.
#[test]
fn watchdog_pings_continue_during_a_long_cycle() {
    let sink = SmtpSink::start_with(SinkOptions {
        data_delay_secs: Some(1),
        ..SinkOptions::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_path(&dir);
    Spec {
        schedule: "* * * * * *".into(),
        transport: Spec::smtp(sink.port()),
        mail_extra: "concurrency = 1".into(),
        people: Spec::numbered_people(8),
        ..Spec::default()
    }
    .write(&config);
    import_posts(
        &config,
        &[post_line("t", "Winter visits", "Checklist, anyone?")],
    );
    let sock = NotifySocket::bind(dir.path());
    // A 2 s watchdog: the cycle (>= 8 s) is four times longer.
    let (mut daemon, _) = start_notified(&config, &sock, "2000000");
    sock.wait_for("STATUS=sending digests", Duration::from_secs(20));
    let during = sock.wait_for("STATUS=next digest", Duration::from_secs(120));
    let pings = watchdog_pings(&during);
    assert_eq!(sink.wait_for(8, Duration::from_secs(10)).len(), 8);
    assert!(
        pings >= 3,
        "pings keep coming during an 8 s cycle with a 2 s watchdog: {pings} in {during:?}"
    );
    daemon.signal("-TERM");
    assert!(daemon
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
}

#[test]
fn run_with_a_broken_config_exits_1_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_path(&dir);
    Spec {
        schedule: "not a cron".into(),
        ..Spec::default()
    }
    .write(&config);
    let out = Command::new(bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schedule") && stderr.contains("digestd.toml:"),
        "{stderr}"
    );
}

/// Files in the Maildir outbox addressed to `who`.
fn digests_to(outbox: &Path, who: &str) -> usize {
    std::fs::read_dir(outbox)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(&format!("<{who}>")))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits (bounded) until `who` has at least one digest in the outbox.
fn wait_digest(outbox: &Path, who: &str, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    while digests_to(outbox, who) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Editing the people list takes effect at the next digest, without a restart or SIGHUP.
#[test]
fn people_added_on_disk_get_the_next_digest_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_path(&dir);
    let mut spec = Spec {
        schedule: "* * * * * *".into(),
        ..Spec::default()
    };
    spec.write(&config);
    import_posts(
        &config,
        &[post_line("t", "Winter visits", "Checklist, anyone?")],
    );

    let mut daemon = Daemon::start(&config, &[]);
    let outbox = dir.path().join("outbox/new");
    wait_digest(&outbox, "alice@testdam.example", Duration::from_secs(30));
    assert_eq!(
        digests_to(&outbox, "alice@testdam.example"),
        1,
        "Alice's digest"
    );

    spec.people
        .push(("carol@testdam.example".into(), "Carol Claes".into()));
    spec.write(&config);
    wait_digest(&outbox, "carol@testdam.example", Duration::from_secs(30));
    daemon.signal("-TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert_eq!(
        digests_to(&outbox, "carol@testdam.example"),
        1,
        "Carol, added on disk, got the next digest"
    );
    assert_eq!(
        digests_to(&outbox, "alice@testdam.example"),
        1,
        "Alice still has exactly one"
    );
    assert!(status.is_some_and(|s| s.success()));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// SIGHUP and wait (bounded) for the reload to finish.
fn reload(daemon: &Daemon, sock: &NotifySocket) {
    daemon.signal("-HUP");
    sock.wait_for("RELOADING=1", Duration::from_secs(10));
    sock.wait_for("READY=1", Duration::from_secs(10));
}

/// Text of every digest in the outbox, oldest first.
fn outbox_texts(outbox: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(outbox)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

fn wait_count(outbox: &Path, count: usize, timeout: Duration) -> Vec<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let texts = outbox_texts(outbox);
        if texts.len() >= count || std::time::Instant::now() > deadline {
            return texts;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A template edited on disk is used from the next digest after SIGHUP; after a broken config
/// the last good schedule keeps firing.
#[test]
fn reload_brings_in_templates_and_a_broken_config_keeps_the_schedule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_path(&dir);
    let templates = dir.path().join("templates");
    copy_dir(&support::repo_root().join("templates"), &templates);
    let spec = Spec {
        schedule: "* * * * * *".into(),
        templates: templates.clone(),
        ..Spec::default()
    };
    spec.write(&config);
    import_posts(
        &config,
        &[post_line("t1", "Winter visits", "Checklist, anyone?")],
    );
    let sock = NotifySocket::bind(dir.path());
    let (mut daemon, _) = start_notified(&config, &sock, "0");
    let outbox = dir.path().join("outbox/new");
    let texts = wait_count(&outbox, 1, Duration::from_secs(30));
    assert_eq!(texts.len(), 1, "{}", daemon.stderr());
    assert!(!texts[0].contains("TEMPLATE-V2"));

    let txt = templates.join("digest.txt.hbs");
    let mut body = std::fs::read_to_string(&txt).expect("template");
    body.push_str("\nTEMPLATE-V2\n");
    std::fs::write(&txt, body).expect("edit template");
    reload(&daemon, &sock);
    import_posts(
        &config,
        &[post_line("t2", "Holiday rota", "Who is on call?")],
    );
    let texts = wait_count(&outbox, 2, Duration::from_secs(30));
    assert_eq!(texts.len(), 2, "{}", daemon.stderr());
    assert!(
        texts[1].contains("TEMPLATE-V2"),
        "the edited template is used"
    );

    std::fs::write(&config, "[organisation\nname = ").expect("broken config");
    reload(&daemon, &sock);
    // `import` needs a valid config: a copy of the good one, same store.
    let good = dir.path().join("good.toml");
    spec.write(&good);
    import_posts(&good, &[post_line("t3", "Hearing dates", "Next Tuesday.")]);
    let texts = wait_count(&outbox, 3, Duration::from_secs(30));
    assert_eq!(
        texts.len(),
        3,
        "the old schedule still fires: {}",
        daemon.stderr()
    );
    assert!(daemon.stderr().contains("reload refused"));
    daemon.signal("-TERM");
    assert!(daemon
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
}

/// SIGTERM while a send hangs (the server never answers DATA): STOPPING=1, exit 0 within
/// `[daemon] shutdown_timeout_secs` (2 s) plus slack; the digest stays pending and goes out,
/// once, at the next start.
#[test]
fn sigterm_during_a_hung_send_exits_within_the_bound_and_keeps_the_digest() {
    let hung = FakeSmtp::start(FakeRules {
        hang_after_data: Some(Duration::from_secs(60)),
        ..FakeRules::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_path(&dir);
    let mut spec = Spec {
        schedule: "* * * * * *".into(),
        transport: Spec::smtp(hung.port()),
        tail: "[daemon]\nshutdown_timeout_secs = 2\n".into(),
        ..Spec::default()
    };
    spec.write(&config);
    import_posts(
        &config,
        &[post_line("t", "Winter visits", "Checklist, anyone?")],
    );
    let sock = NotifySocket::bind(dir.path());
    let (mut daemon, _) = start_notified(&config, &sock, "0");
    let deadline = Instant::now() + Duration::from_secs(30);
    while hung.data_attempts() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(hung.data_attempts(), 1, "{}", daemon.stderr());

    let asked = Instant::now();
    daemon.signal("-TERM");
    sock.wait_for("STOPPING=1", Duration::from_secs(10));
    let status = daemon.wait_exit(Duration::from_secs(10));
    let took = asked.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 within the bound plus slack: {status:?} after {took:?}\n{}",
        daemon.stderr()
    );
    assert!(
        took >= Duration::from_secs(1),
        "the bound, not an early exit: {took:?}"
    );
    let report = digestd(&config, &["status"]);
    assert!(
        String::from_utf8_lossy(&report.stdout).contains("Deliveries pending: 1"),
        "{}",
        String::from_utf8_lossy(&report.stdout)
    );

    // Next start, on a server that answers: the pending digest is sent, once.
    let sink = SmtpSink::start();
    spec.transport = Spec::smtp(sink.port());
    spec.write(&config);
    let mut daemon = Daemon::start(&config, &[]);
    assert_eq!(sink.wait_for(1, Duration::from_secs(30)).len(), 1);
    std::thread::sleep(Duration::from_secs(3));
    daemon.signal("-TERM");
    assert!(daemon
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
    let sent = sink.messages();
    assert_eq!(sent.len(), 1, "sent once");
    assert!(String::from_utf8_lossy(&sent[0].raw).contains("Winter visits"));
    let report = digestd(&config, &["status"]);
    assert!(String::from_utf8_lossy(&report.stdout).contains("Deliveries pending: 0"));
}
