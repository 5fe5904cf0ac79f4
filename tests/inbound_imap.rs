//! IMAP polling against a real Dovecot on 127.0.0.1: replies waiting in INBOX are stored,
//! posted, and moved to the processed folder; a second poll finds nothing to do.

mod support;

use digestd::config::{Config, TlsMode};
use digestd::forum::local::LocalForum;
use digestd::inbound::answer::Answerer;
use digestd::inbound::pipeline::{DiscardAnswers, Pipeline};
use digestd::inbound::receive::imap::{poll_imap_once, ImapConfig, ImapReport, BATCH};
use digestd::store::InboundStatus;
use support::dovecot::Dovecot;
use support::inbound::{fixture, simple_reply, Transport, World};

/// One Dovecot at a time in this file: parallel instances picking ports with `free_port` can
/// race for the same port (seen once in CI as "connection refused" mid-test).
static ONE_DOVECOT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_dovecot() -> std::sync::MutexGuard<'static, ()> {
    ONE_DOVECOT.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a pipeline over the world's store and local forum is made of.
struct Parts {
    config: Config,
    forum: LocalForum,
    answerer: Answerer,
}

impl Parts {
    fn new(world: &World) -> Parts {
        let config = Config::load(&world.config_path).expect("config");
        let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
        Parts {
            config,
            forum,
            answerer: Answerer::new(None),
        }
    }

    fn pipeline(&self) -> Pipeline<'_> {
        Pipeline::new(&self.config, &self.forum, &DiscardAnswers, &self.answerer)
    }
}

/// A world whose config has `[inbound.imap]` for `dovecot` (plain, loopback) plus `extra`
/// lines; the first value holds the password file and must outlive the test.
fn world_with_imap(dovecot: &Dovecot, extra: &str) -> (World, World) {
    let probe = World::new(Transport::Maildir, "");
    let password_file = probe.dir.path().join("imap-password");
    std::fs::write(&password_file, format!("{}\n", dovecot.password())).expect("password file");
    let world = World::new(
        Transport::Maildir,
        &format!(
            "\n[inbound.imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"{}\"\npassword_file = \"{}\"\n{extra}",
            dovecot.port(),
            dovecot.user(),
            password_file.display()
        ),
    );
    (probe, world)
}

/// `[inbound.imap]` for the test server, the password in a file as in production.
fn imap_config(world: &World, dovecot: &Dovecot, password: &str) -> ImapConfig {
    let password_file = world.dir.path().join("imap-password");
    std::fs::write(&password_file, format!("{password}\n")).expect("password file");
    ImapConfig {
        host: "127.0.0.1".into(),
        port: dovecot.port(),
        tls: TlsMode::None,
        user: dovecot.user().into(),
        password_file: Some(password_file),
        oauth: None,
        folder: "INBOX".into(),
        processed_folder: "Processed".into(),
        poll_seconds: 60,
        idle: false,
        ca_file: None,
    }
}

#[test]
fn replies_in_an_imap_inbox_are_posted_and_moved_once() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start("replies", "s3cret");
    let world = World::new(Transport::Maildir, "");
    let token = world.grant("ann@example.org", 90);
    dovecot.deliver(
        "1700000000.1.host",
        &simple_reply(
            &token,
            "ann@example.org",
            "imap-1@x",
            "First reply over IMAP.",
        ),
    );
    dovecot.deliver(
        "1700000001.2.host",
        &simple_reply(
            &token,
            "ann@example.org",
            "imap-2@x",
            "Second reply over IMAP.",
        ),
    );
    dovecot.deliver(
        "1700000002.3.host",
        &fixture("auto-reply.eml", Some(&token)),
    );
    assert_eq!(dovecot.count(""), 3);

    let parts = Parts::new(&world);
    let pipeline = parts.pipeline();
    let mut store = world.store();
    let mut imap = imap_config(&world, &dovecot, dovecot.password());
    imap.processed_folder = "digestd-done".into();

    let report = poll_imap_once(&imap, &mut store, &pipeline)
        .unwrap_or_else(|e| panic!("poll: {e}\n{}", dovecot.log()));
    assert_eq!(report.stored, 3, "{report:?}");
    assert_eq!(report.moved, 3, "{report:?}");
    assert_eq!(report.processed.posted, 2);
    assert_eq!(report.processed.ignored, 1);
    assert_eq!(dovecot.count(""), 0, "INBOX emptied");
    assert_eq!(
        dovecot.count("digestd-done"),
        3,
        "all kept in the processed folder"
    );
    let thread = world.thread_text();
    assert!(thread.contains("First reply over IMAP."), "{thread}");
    assert!(thread.contains("Second reply over IMAP."), "{thread}");

    // Nothing left: a second poll does nothing, and nothing is posted twice.
    let again = poll_imap_once(&imap, &mut store, &pipeline).expect("second poll");
    assert_eq!(again.stored, 0);
    // A redelivery of a processed message (same Message-ID) is stored as a duplicate only.
    dovecot.deliver(
        "1700000003.4.host",
        &simple_reply(
            &token,
            "ann@example.org",
            "imap-1@x",
            "First reply over IMAP.",
        ),
    );
    let dup = poll_imap_once(&imap, &mut store, &pipeline).expect("third poll");
    assert_eq!((dup.stored, dup.duplicates, dup.moved), (1, 1, 1));
    assert_eq!(world.posts_in_thread(), 3, "seed + 2");
    let rows = world.inbound_rows();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows.iter()
            .filter(|r| r.status == InboundStatus::Posted)
            .count(),
        2
    );
}

#[test]
fn a_backlog_larger_than_one_round_drains_in_one_poll() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start("backlog", "s3cret");
    let world = World::new(Transport::Maildir, "");
    let token = world.grant("ann@example.org", 90);
    let n = 2 * BATCH + 50;
    for i in 0..n {
        dovecot.deliver(
            &format!("1700000000.{i}.host"),
            &simple_reply(
                &token,
                "ann@example.org",
                &format!("backlog-{i}@x"),
                &format!("Backlog reply number {i}."),
            ),
        );
    }
    assert_eq!(dovecot.count(""), n);
    let report = poll_once_into(&world, &dovecot, "digestd-done");
    assert_eq!((report.stored, report.moved), (n, n), "{report:?}");
    assert_eq!(report.processed.posted, n, "{report:?}");
    assert_eq!(dovecot.count(""), 0, "INBOX emptied in one poll");
    assert_eq!(dovecot.count("digestd-done"), n);
    assert_eq!(world.posts_in_thread(), n + 1, "seed + one post each");
}

/// One poll of `dovecot`'s INBOX for `world`, moving what it took to `folder`.
fn poll_once_into(world: &World, dovecot: &Dovecot, folder: &str) -> ImapReport {
    let parts = Parts::new(world);
    let mut imap = imap_config(world, dovecot, dovecot.password());
    imap.processed_folder = folder.into();
    poll_imap_once(&imap, &mut world.store(), &parts.pipeline())
        .unwrap_or_else(|e| panic!("poll: {e}\n{}", dovecot.log()))
}

#[test]
fn without_move_a_batch_is_copied_flagged_and_expunged_after_it_is_stored() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start_without_move("replies", "s3cret");
    let world = World::new(Transport::Maildir, "");
    let token = world.grant("ann@example.org", 90);
    for (i, name) in ["1700000000.1.host", "1700000001.2.host"]
        .iter()
        .enumerate()
    {
        dovecot.deliver(
            name,
            &simple_reply(
                &token,
                "ann@example.org",
                &format!("copy-{i}@x"),
                &format!("Reply {i} over a server without MOVE."),
            ),
        );
    }
    let report = poll_once_into(&world, &dovecot, "digestd-done");
    assert_eq!((report.stored, report.moved), (2, 2), "{report:?}");
    assert_eq!(report.processed.posted, 2, "{report:?}");
    assert_eq!(
        dovecot.count(""),
        0,
        "expunged from INBOX\n{}",
        dovecot.log()
    );
    assert_eq!(dovecot.count("digestd-done"), 2, "copied first");
    assert_eq!(world.posts_in_thread(), 3, "seed + 2");
}

#[test]
fn wrong_password_is_an_error_and_touches_nothing() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start("replies", "s3cret");
    let world = World::new(Transport::Maildir, "");
    dovecot.deliver("1700000000.1.host", b"Subject: x\r\n\r\ny\r\n");
    let parts = Parts::new(&world);
    let pipeline = parts.pipeline();
    let mut store = world.store();
    let imap = imap_config(&world, &dovecot, "wrong");
    let err = poll_imap_once(&imap, &mut store, &pipeline).expect_err("login fails");
    assert!(err.to_string().contains("LOGIN"), "{err}");
    assert_eq!(dovecot.count(""), 1);
    assert!(world.inbound_rows().is_empty());
}

#[test]
fn configured_imap_mailbox_is_polled_by_run_inbound_once() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start("replies", "s3cret");
    let (_probe, world) = world_with_imap(&dovecot, "processed_folder = \"Done\"\n");
    let imap = world
        .config
        .inbound
        .imap
        .clone()
        .expect("[inbound.imap] parsed");
    assert_eq!((imap.folder.as_str(), imap.poll_seconds), ("INBOX", 60));
    let token = world.grant("ann@example.org", 90);
    dovecot.deliver(
        "1700000000.1.host",
        &simple_reply(
            &token,
            "ann@example.org",
            "cfg-1@x",
            "Via the configured mailbox.",
        ),
    );
    let forum = LocalForum::open(&world.config.store_path, &world.config.forum_url).expect("forum");
    let mut store = world.store();
    let report =
        digestd::inbound::run_inbound_once(&world.config, &mut store, &forum, &DiscardAnswers);
    assert!(
        report.errors.is_empty(),
        "{:?}\n{}",
        report.errors,
        dovecot.log()
    );
    let imap_report = report.imap.expect("imap polled");
    assert_eq!((imap_report.stored, imap_report.moved), (1, 1));
    assert_eq!(dovecot.count("Done"), 1);
    assert!(world.thread_text().contains("Via the configured mailbox."));
}

#[test]
fn imap_over_tls_and_starttls_checks_the_certificate_and_posts() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start_tls("replies", "s3cret");
    let world = World::new(Transport::Maildir, "");
    let token = world.grant("ann@example.org", 90);
    dovecot.deliver(
        "1700000000.1.host",
        &simple_reply(
            &token,
            "ann@example.org",
            "tls-1@x",
            "Reply over implicit TLS.",
        ),
    );
    let parts = Parts::new(&world);
    let pipeline = parts.pipeline();
    let mut store = world.store();
    let mut imap = imap_config(&world, &dovecot, dovecot.password());
    imap.tls = TlsMode::Tls;
    imap.port = dovecot.imaps_port();

    // A certificate from a CA the client does not trust: refused before LOGIN, nothing touched.
    let err = poll_imap_once(&imap, &mut store, &pipeline).expect_err("untrusted certificate");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(world.inbound_rows().is_empty());
    assert_eq!(dovecot.count(""), 1);

    // Trusting the CA (`ca_file`): implicit TLS works end to end.
    imap.ca_file = Some(dovecot.ca_file());
    let report = poll_imap_once(&imap, &mut store, &pipeline)
        .unwrap_or_else(|e| panic!("imaps poll: {e}\n{}", dovecot.log()));
    assert_eq!(
        (report.stored, report.processed.posted),
        (1, 1),
        "{report:?}"
    );

    // STARTTLS on the plain port.
    dovecot.deliver(
        "1700000001.2.host",
        &simple_reply(&token, "ann@example.org", "tls-2@x", "Reply over STARTTLS."),
    );
    imap.tls = TlsMode::Starttls;
    imap.port = dovecot.port();
    let report = poll_imap_once(&imap, &mut store, &pipeline)
        .unwrap_or_else(|e| panic!("starttls poll: {e}\n{}", dovecot.log()));
    assert_eq!(
        (report.stored, report.processed.posted),
        (1, 1),
        "{report:?}"
    );
    let thread = world.thread_text();
    assert!(thread.contains("Reply over implicit TLS."), "{thread}");
    assert!(thread.contains("Reply over STARTTLS."), "{thread}");
    assert_eq!(dovecot.count(""), 0);
    assert!(
        dovecot.log().contains("TLS"),
        "Dovecot saw TLS sessions:\n{}",
        dovecot.log()
    );
}

#[test]
fn with_idle_the_daemon_loop_takes_new_mail_long_before_the_next_poll() {
    let _serial = one_dovecot();
    let dovecot = Dovecot::start("replies", "s3cret");
    // Polls an hour apart: only IDLE can bring the reply in within the test's bound.
    let (_probe, world) = world_with_imap(&dovecot, "poll_seconds = 3600\nidle = true\n");
    assert!(world.config.inbound.imap.as_ref().is_some_and(|i| i.idle));
    let token = world.grant("ann@example.org", 90);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let watcher = rt.spawn(digestd::inbound::watch_inbound(
        std::sync::Arc::new(world.config.clone()),
        std::time::Duration::from_secs(3600),
        stop_rx,
    ));
    // The first round polls at once; then the waiter logs in and IDLEs (a second login).
    let logins = || dovecot.log().matches("Login: user=<replies>").count();
    let started = std::time::Instant::now();
    while logins() < 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the IDLE waiter never logged in:\n{}",
            dovecot.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    dovecot.deliver(
        "1700000000.1.host",
        &simple_reply(&token, "ann@example.org", "idle-1@x", "Arrived while IDLE."),
    );
    let delivered = std::time::Instant::now();
    while !world.thread_text().contains("Arrived while IDLE.") {
        assert!(
            delivered.elapsed() < std::time::Duration::from_secs(30),
            "not posted within 30 s (the next poll is an hour away):\n{}",
            dovecot.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(dovecot.count(""), 0, "moved out of INBOX");
    let _ = stop.send(true);
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), watcher)
            .await
            .expect("the loop stops")
            .expect("no panic");
    });
}
