//! IMAP polling against a real Dovecot on 127.0.0.1: replies waiting in INBOX are stored,
//! posted, and moved to the processed folder; a second poll finds nothing to do.

mod inbound_support;
mod support;

use digestd::config::{Config, TlsMode};
use digestd::forum::local::LocalForum;
use digestd::inbound::answer::Answerer;
use digestd::inbound::pipeline::{DiscardAnswers, Pipeline};
use digestd::inbound::receive::imap::{poll_imap_once, ImapConfig};
use digestd::store::InboundStatus;
use inbound_support::{fixture, simple_reply, Transport, World};
use support::dovecot::Dovecot;

#[test]
fn replies_in_an_imap_inbox_are_posted_and_moved_once() {
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

    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();
    let mut imap = ImapConfig::new(
        "127.0.0.1",
        dovecot.port(),
        dovecot.user(),
        dovecot.password(),
    );
    imap.tls = TlsMode::None;
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
fn wrong_password_is_an_error_and_touches_nothing() {
    let dovecot = Dovecot::start("replies", "s3cret");
    let world = World::new(Transport::Maildir, "");
    dovecot.deliver("1700000000.1.host", b"Subject: x\r\n\r\ny\r\n");
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();
    let mut imap = ImapConfig::new("127.0.0.1", dovecot.port(), "replies", "wrong");
    imap.tls = TlsMode::None;
    let err = poll_imap_once(&imap, &mut store, &pipeline).expect_err("login fails");
    assert!(err.to_string().contains("LOGIN"), "{err}");
    assert_eq!(dovecot.count(""), 1);
    assert!(world.inbound_rows().is_empty());
}
