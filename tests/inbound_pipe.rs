//! `digestd receive` as an MTA pipe calls it: the real binary, a real store and local forum in a
//! temp dir, answers into a real smtp-sink. Each case checks the exit code and where the message
//! ended (posted → visible with `digestd thread`; answered → a mail in the sink; ignored → the
//! reason in the store).

mod support;

use std::time::Duration;

use support::inbound::{fixture, simple_reply, Transport, World};
use support::SmtpSink;

use digestd::store::InboundStatus;

fn world_with_sink() -> (World, SmtpSink) {
    let sink = SmtpSink::start();
    let world = World::new(Transport::Smtp(sink.port()), "");
    (world, sink)
}

/// A world trusting `mx.test.example`, whose dkim=pass the command and new-thread fixtures
/// carry.
fn trusted_world_with_sink() -> (World, SmtpSink) {
    let sink = SmtpSink::start();
    let world = World::new(
        Transport::Smtp(sink.port()),
        "trusted_authserv_ids = [\"mx.test.example\"]",
    );
    (world, sink)
}

#[test]
fn plain_reply_is_posted_as_the_person_without_the_quote() {
    let (world, sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    let (code, err) = world.receive(&fixture("reply-plain.eml", Some(&token)));
    assert_eq!(code, 0, "{err}");
    let thread = world.thread_text();
    assert!(thread.contains("I agree with the proposal"), "{thread}");
    assert!(
        !thread.contains("what do we think of the proposal?\n>"),
        "{thread}"
    );
    assert!(!thread.contains("wrote:"), "{thread}");
    assert!(
        thread.contains("ann@example.org") || thread.contains("Ann Example"),
        "{thread}"
    );
    assert_eq!(world.last_status().0, InboundStatus::Posted);
    assert!(sink.messages().is_empty(), "no answer for a good reply");
}

#[test]
fn odd_charsets_and_encodings_are_posted_readably() {
    let (world, _sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    for (file, expect) in [
        (
            "reply-iso-8859-1-qp.eml",
            "Café na de vergadering, prima idée.",
        ),
        (
            "reply-windows-1252.eml",
            "Budget “final”: € 300 extra – agreed.",
        ),
        (
            "reply-utf16-base64.eml",
            "Grüße aus Köln: ja, einverstanden.",
        ),
        ("reply-base64-utf8.eml", "Ça marche — d’accord."),
    ] {
        let (code, err) = world.receive(&fixture(file, Some(&token)));
        assert_eq!(code, 0, "{file}: {err}");
        let (status, reason) = world.last_status();
        assert_eq!(status, InboundStatus::Posted, "{file}: {reason:?}");
        let thread = world.thread_text();
        assert!(thread.contains(expect), "{file}: {thread}");
    }
}

#[test]
fn broken_mime_never_fails_the_pipe() {
    let (world, _sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    let (code, err) = world.receive(&fixture("broken-mime.eml", Some(&token)));
    assert_eq!(code, 0, "{err}");
    let (status, reason) = world.last_status();
    // Whatever could be read is posted; if nothing could, the sender is told.
    assert!(
        matches!(status, InboundStatus::Posted | InboundStatus::Answered),
        "{status:?} {reason:?}"
    );
}

#[test]
fn spoofed_sender_is_refused_and_answered_once() {
    let (world, sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    let (code, err) = world.receive(&fixture("spoofed.eml", Some(&token)));
    assert_eq!(code, 0, "{err}");
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Answered);
    assert_eq!(reason.as_deref(), Some("wrong-sender"));
    assert_eq!(world.posts_in_thread(), 1, "only the seed post");
    let answers = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(answers.len(), 1);
    let a = &answers[0];
    assert_eq!(a.mail_from, "", "null envelope sender");
    assert_eq!(a.rcpt_to, vec!["mallory@evil.example".to_string()]);
    let text = String::from_utf8_lossy(&a.raw);
    assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
    assert!(
        text.contains("In-Reply-To: <spoofed@evil.example>"),
        "{text}"
    );

    // A second try the same day (new Message-ID) is refused again but not answered again.
    let again = String::from_utf8_lossy(&fixture("spoofed.eml", Some(&token)))
        .replace("spoofed@evil.example>", "spoofed-2@evil.example>");
    let (code, _) = world.receive(again.as_bytes());
    assert_eq!(code, 0);
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Ignored);
    assert!(reason
        .unwrap_or_default()
        .contains("already answered today"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn foreign_and_expired_and_unknown_tokens_are_answered_in_the_persons_language() {
    let (world, sink) = world_with_sink();
    // bob's token used by ann → wrong sender (answer in ann's locale, en)
    let bobs = world.grant("bob@example.org", 90);
    let (code, _) = world.receive(&simple_reply(&bobs, "ann@example.org", "foreign@x", "hi"));
    assert_eq!(code, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("wrong-sender"));
    // bob's own expired token → expired (answer in nl)
    let old = world.grant("bob@example.org", -1);
    let (code, _) = world.receive(&simple_reply(&old, "bob@example.org", "expired@x", "hoi"));
    assert_eq!(code, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("expired"));
    // a token nobody issued
    let never = digestd::model::ReplyToken::generate();
    let (code, _) = world.receive(&simple_reply(&never, "ann@example.org", "unknown@x", "hi"));
    assert_eq!(code, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("unknown-token"));
    assert_eq!(world.posts_in_thread(), 1);

    let answers = sink.wait_for(3, Duration::from_secs(10));
    assert_eq!(answers.len(), 3);
    let to_bob = answers
        .iter()
        .find(|m| m.rcpt_to == vec!["bob@example.org".to_string()])
        .expect("answer to bob");
    let subject = to_bob.parsed().subject().unwrap_or("").to_string();
    assert!(subject.contains("verlopen"), "Dutch subject: {subject}");
}

#[test]
fn auto_reply_and_bounce_are_ignored_never_answered() {
    let (world, sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    let (code, _) = world.receive(&fixture("auto-reply.eml", Some(&token)));
    assert_eq!(code, 0);
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Ignored);
    assert!(reason.unwrap_or_default().starts_with("auto-reply"));

    let (code, _) = world.receive(&fixture("bounce-dsn.eml", None));
    assert_eq!(code, 0);
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Ignored);
    assert!(reason
        .unwrap_or_default()
        .contains("bounce for ann@example.org"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(sink.messages().is_empty());
    assert_eq!(world.posts_in_thread(), 1);
}

#[test]
fn bounces_mark_an_address_bouncing_after_the_threshold() {
    let sink = SmtpSink::start();
    let world = World::new(Transport::Smtp(sink.port()), "bounce_threshold = 2");
    for i in 0..2 {
        let raw = String::from_utf8_lossy(&fixture("bounce-dsn.eml", None))
            .replace("bounce-1@", &format!("bounce-{i}x@"));
        assert_eq!(world.receive(raw.as_bytes()).0, 0);
    }
    let bouncing = world.store().bouncing_addresses().expect("bouncing");
    assert_eq!(bouncing, vec!["ann@example.org".to_string()]);
}

#[test]
fn duplicate_delivery_and_reply_all_copies_make_one_post() {
    let (world, _sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    let raw = fixture("reply-plain.eml", Some(&token));
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(world.receive(&raw).0, 0, "same bytes again");
    // A Reply-All copy: same Message-ID, delivered to another of digestd's addresses.
    let mut copy = b"Delivered-To: digest@reply.test.example\r\n".to_vec();
    copy.extend_from_slice(&raw);
    assert_eq!(world.receive(&copy).0, 0);
    assert_eq!(world.posts_in_thread(), 2, "seed + one reply");
    assert_eq!(world.inbound_rows().len(), 1);
}

#[test]
fn not_mail_is_65_and_unstorable_is_75() {
    let (world, _sink) = world_with_sink();
    assert_eq!(world.receive(b"").0, 65);
    assert_eq!(world.receive(b"just some words\nand more\n").0, 65);
    assert_eq!(world.receive(&[0u8, 159, 146, 150, 10]).0, 65);
    // Config that does not exist: the MTA must retry.
    let missing = world.dir.path().join("nope.toml");
    assert_eq!(
        support::inbound::receive_with(&missing, b"Subject: x\r\n\r\ny").0,
        75
    );
    // A store path that is a directory cannot be opened.
    let cfg = std::fs::read_to_string(&world.config_path).expect("config");
    let bad = world.dir.path().join("bad.toml");
    std::fs::create_dir_all(world.dir.path().join("dir.sqlite")).expect("dir");
    std::fs::write(
        &bad,
        cfg.replace("path = \"digestd.sqlite\"", "path = \"dir.sqlite\""),
    )
    .expect("write");
    let (code, err) = support::inbound::receive_with(&bad, b"Subject: x\r\n\r\ny");
    assert_eq!(code, 75, "{err}");
}

#[test]
fn mail_of_25_mb_is_stored_and_answered_too_large() {
    let (world, sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    let mut raw = simple_reply(&token, "ann@example.org", "big@x", "See attached.");
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    raw.extend_from_slice(line.repeat(25 * 1024 * 1024 / line.len()).as_bytes());
    assert!(raw.len() > 25 * 1024 * 1024 - 200);
    let (code, err) = world.receive(&raw);
    assert_eq!(code, 0, "{err}");
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Answered);
    assert_eq!(reason.as_deref(), Some("too-large"));
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
}

#[test]
fn commands_new_threads_and_digest_replies() {
    // The fixtures carry the trusted server's dkim=pass: they act at once.
    let (world, sink) = trusted_world_with_sink();
    // pause
    assert_eq!(world.receive(&fixture("command-pause.eml", None)).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("command-pause"));
    let state = world
        .store()
        .person_state("ann@example.org")
        .expect("state")
        .expect("person");
    assert!(state.paused);
    // a new thread in a group ann's role follows
    assert_eq!(world.receive(&fixture("new-thread.eml", None)).0, 0);
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Posted, "{reason:?}");
    // …and in one it does not
    let raw = String::from_utf8_lossy(&fixture("new-thread.eml", None))
        .replace("group+general@", "group+secret@")
        .replace("new-thread@", "new-thread-2@");
    assert_eq!(world.receive(raw.as_bytes()).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("not-member"));
    // two answers so far: pause confirmation, not-member
    assert_eq!(sink.wait_for(2, Duration::from_secs(10)).len(), 2);
}

#[test]
fn reply_to_the_digest_as_a_whole_lists_its_items() {
    let (world, sink) = world_with_sink();
    let parking = world.add_thread("Parking at the town hall");
    let tokens = world.digest_sent("digest-42@test.example", &[world.thread_id, parking]);
    let token = &tokens[0];
    let raw = String::from_utf8_lossy(&fixture("digest-as-whole.eml", None))
        .replace("@DIGEST_MID@", "digest-42@test.example");
    assert_eq!(world.receive(raw.as_bytes()).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("digest-as-whole"));
    let answers = sink.wait_for(1, Duration::from_secs(10));
    let text = answers[0]
        .parsed()
        .body_text(0)
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("Budget 2025"), "{text}");
    assert!(text.contains("Parking at the town hall"), "{text}");
    assert!(
        text.contains(&format!("reply+{}@reply.test.example", token.as_str())),
        "{text}"
    );
    assert_eq!(world.posts_in_thread(), 1, "nothing posted");
    // The same reply sent to the command address (Reply-To of some digests) is no "unknown
    // command": it gets the item list too (already answered today, so recorded only).
    let to_command = raw
        .replace("To: digest@test.example", "To: digest@reply.test.example")
        .replace("whole@mail", "whole-2@mail");
    assert_eq!(world.receive(to_command.as_bytes()).0, 0);
    let (_, reason) = world.last_status();
    assert!(
        reason.unwrap_or_default().starts_with("digest-as-whole"),
        "not an unknown-command answer"
    );
}

#[test]
fn digest_now_by_email_sends_the_digest_and_confirms() {
    let (world, sink) = trusted_world_with_sink();
    let raw = String::from_utf8_lossy(&fixture("command-pause.eml", None))
        .replace("Subject: pause", "Subject: digest now")
        .replace("cmd-pause@", "cmd-now@");
    let (code, err) = world.receive(raw.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert_eq!(world.last_status().1.as_deref(), Some("command-digest-now"));
    let mails = sink.wait_for(2, Duration::from_secs(20));
    assert_eq!(mails.len(), 2, "the digest and the confirmation: {err}");
    let digest = mails
        .iter()
        .find(|m| String::from_utf8_lossy(&m.raw).contains("Auto-Submitted: auto-generated"))
        .expect("a digest");
    assert_eq!(digest.rcpt_to, vec!["ann@example.org".to_string()]);
    assert!(String::from_utf8_lossy(&digest.raw).contains("Budget 2025"));
}

#[test]
fn an_answer_the_transport_refuses_for_now_stays_queued_and_goes_out_on_retry() {
    // The relay answers the first message with 451, the next with 250.
    let smtp = support::FakeSmtp::start(support::FakeRules {
        fail_first_messages: 1,
        ..support::FakeRules::default()
    });
    let world = World::new(Transport::Smtp(smtp.port()), "");
    let token = world.grant("ann@example.org", 90);
    let (code, err) = world.receive(&fixture("spoofed.eml", Some(&token)));
    assert_eq!(code, 0, "{err}");
    let row = world.inbound_rows().pop().expect("stored");
    assert_eq!(row.status, InboundStatus::Queued, "{:?}", row.reason);
    let next = row.next_attempt.expect("a retry is planned");
    assert_eq!(smtp.data_attempts(), 1);
    assert!(smtp.accepted().is_empty());

    // The retry (as the daemon makes it) sends the answer: the day's slot was not used up.
    let config = digestd::config::Config::load(&world.config_path).expect("config");
    let forum = digestd::forum::local::LocalForum::open(&config.store_path, &config.forum_url)
        .expect("forum");
    let answers = digestd::inbound::wiring::OutboundAnswers::from_config(&config).expect("smtp");
    let answerer = digestd::inbound::answer::Answerer::new(Some(&config.templates_dir));
    let pipeline = digestd::inbound::Pipeline::new(&config, &forum, &answers, &answerer);
    let report = pipeline
        .process_queued(&mut world.store(), next, 10)
        .expect("retry");
    assert_eq!(report.answered, 1, "{report}");
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Answered);
    assert_eq!(reason.as_deref(), Some("wrong-sender"));
    let sent = smtp.accepted();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].mail_from, "", "null envelope sender");
    assert_eq!(sent[0].rcpt_to, vec!["mallory@evil.example".to_string()]);
}

#[test]
fn confirm_posts_mails_a_confirmation_for_each_post_and_is_off_by_default() {
    let sink = SmtpSink::start();
    let world = World::new(Transport::Smtp(sink.port()), "confirm_posts = true");
    let token = world.grant("ann@example.org", 90);
    for i in 0..2 {
        let raw = simple_reply(
            &token,
            "Ann <ann@example.org>",
            &format!("ok-{i}@x"),
            "Yes.",
        );
        assert_eq!(world.receive(&raw).0, 0);
        assert_eq!(world.last_status().0, InboundStatus::Posted);
    }
    let mails = sink.wait_for(2, Duration::from_secs(10));
    assert_eq!(mails.len(), 2, "one confirmation per post, not one per day");
    for m in &mails {
        assert_eq!(m.mail_from, "", "null envelope sender");
        assert_eq!(m.rcpt_to, vec!["ann@example.org".to_string()]);
        let text = String::from_utf8_lossy(&m.raw);
        assert!(text.contains("Auto-Submitted: auto-replied"), "{text}");
        let parsed = m.parsed();
        assert_eq!(parsed.subject(), Some("Your reply was posted"));
        let body = parsed.body_text(0).unwrap_or_default().to_string();
        assert!(body.contains("was posted in \"Budget 2025\""), "{body}");
    }

    // Without the key, a post is not confirmed.
    let (world, sink) = world_with_sink();
    let token = world.grant("ann@example.org", 90);
    assert_eq!(
        world
            .receive(&simple_reply(&token, "ann@example.org", "q@x", "Hi."))
            .0,
        0
    );
    assert_eq!(world.last_status().0, InboundStatus::Posted);
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.messages().is_empty());
}

#[test]
fn a_reply_to_a_digest_of_one_item_is_posted_through_its_references() {
    let (world, sink) = world_with_sink();
    world.digest_sent("digest-1@test.example", &[world.thread_id]);
    // No token in the recipients: In-Reply-To names the digest, the digest holds one thread.
    let raw = String::from_utf8_lossy(&fixture("digest-as-whole.eml", None))
        .replace("@DIGEST_MID@", "digest-1@test.example");
    assert_eq!(world.receive(raw.as_bytes()).0, 0);
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Posted, "{reason:?}");
    assert!(world.thread_text().contains("Thanks, interesting items."));
    // The same through References only, to the command address.
    let raw = raw
        .replace(
            "In-Reply-To: <digest-1@test.example>",
            "References: <x@y> <digest-1@test.example>",
        )
        .replace("To: digest@test.example", "To: digest@reply.test.example")
        .replace("whole@mail", "whole-2@mail")
        .replace("Thanks, interesting", "Second, through References,");
    assert_eq!(world.receive(raw.as_bytes()).0, 0);
    assert_eq!(world.last_status().0, InboundStatus::Posted);
    assert_eq!(world.posts_in_thread(), 3);
    // Someone else replying to ann's one-item digest: the token's sender check refuses it.
    let raw = raw
        .replace("From: Ann@example.org", "From: bob@example.org")
        .replace("whole-2@mail", "whole-3@mail");
    assert_eq!(world.receive(raw.as_bytes()).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("wrong-sender"));
    assert_eq!(world.posts_in_thread(), 3);
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
}

#[test]
fn attachments_are_listed_by_name_and_size_and_only_images_and_documents_under_the_cap_kept() {
    let sink = SmtpSink::start();
    let world = World::new(Transport::Smtp(sink.port()), "max_attachment_bytes = 2048");
    let token = world.grant("ann@example.org", 90);
    let (code, err) = world.receive(&fixture("reply-attachments.eml", Some(&token)));
    assert_eq!(code, 0, "{err}");
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Posted, "{reason:?}");
    let thread = world.thread_text();
    assert!(
        thread.contains("Here are the photo, the minutes"),
        "{thread}"
    );
    assert!(thread.contains("Attachments:"), "{thread}");
    assert!(thread.contains("- photo.png (1 KB)\n"), "{thread}");
    assert!(thread.contains("- minutes.pdf (1 KB)\n"), "{thread}");
    assert!(
        thread.contains("- setup.exe (1 KB, not kept: not an image or document)"),
        "{thread}"
    );
    assert!(
        thread.contains("- site-plan.jpg (3 KB, not kept: larger than 2 KB)"),
        "{thread}"
    );
    assert!(
        !thread.contains("This program cannot be run"),
        "never inlined: {thread}"
    );
    assert!(!thread.contains("TVqQ"), "no base64 in the post: {thread}");
}
