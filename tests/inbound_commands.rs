//! Email commands, the List-Unsubscribe address, the answers for mail that cannot be posted, and
//! strict mode, end to end through `digestd receive`: the real binary, store and local forum in
//! a temp dir, answers into a real smtp-sink. Settings are checked in the store.

mod support;

use std::time::Duration;

use digestd::model::Frequency;
use digestd::store::{InboundStatus, PersonState};
use support::inbound::{mail, simple_reply, Transport, World, REPLY_DOMAIN};
use support::SmtpSink;

fn world_with_sink(extra_inbound: &str) -> (World, SmtpSink) {
    let sink = SmtpSink::start();
    let world = World::new(Transport::Smtp(sink.port()), extra_inbound);
    (world, sink)
}

fn ann(world: &World) -> PersonState {
    world
        .store()
        .person_state("ann@example.org")
        .expect("state")
        .expect("ann is known")
}

/// `[inbound]` trusting the test's mail server.
const TRUSTED: &str = "trusted_authserv_ids = [\"mx.test.example\"]";

/// What that server writes on ann's signed mail.
const DKIM_PASS: &str =
    "Authentication-Results: mx.test.example; dkim=pass header.d=example.org\r\n";

/// Mails `subject` to the command address as ann, signed and vouched for by the trusted
/// server (so it acts at once); returns the reason the message ended with.
fn command(world: &World, subject: &str) -> Option<String> {
    let to = format!("digest@{REPLY_DOMAIN}");
    let id = format!("cmd-{}@mail.example.org", subject.replace(' ', "-"));
    let raw = mail("Ann@example.org", &to, subject, &id, DKIM_PASS, "");
    let (code, err) = world.receive(&raw);
    assert_eq!(code, 0, "{subject}: {err}");
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Answered, "{subject}: {reason:?}");
    reason
}

#[test]
fn commands_change_the_persons_settings_and_are_confirmed() {
    let (world, sink) = world_with_sink(TRUSTED);
    assert_eq!(command(&world, "pause").as_deref(), Some("command-pause"));
    assert!(ann(&world).paused);
    assert_eq!(command(&world, "resume").as_deref(), Some("command-resume"));
    assert!(!ann(&world).paused);
    assert_eq!(command(&world, "daily").as_deref(), Some("command-daily"));
    assert_eq!(ann(&world).frequency_override, Some(Frequency::Daily));
    assert_eq!(command(&world, "weekly").as_deref(), Some("command-weekly"));
    assert_eq!(ann(&world).frequency_override, Some(Frequency::Weekly));
    assert_eq!(
        command(&world, "unsubscribe").as_deref(),
        Some("command-unsubscribe")
    );
    assert!(ann(&world).unsubscribed);
    // A one-click unsubscribe from one schedule (the HTTP endpoint's opt-out).
    let store = digestd::store::Store::open(&world.config.store_path).expect("open store");
    assert!(store.opt_out("ann@example.org", "weekly").expect("opt out"));
    drop(store);
    // resume also undoes an unsubscribe and every schedule opt-out (a new reason for today:
    // confirmed again)
    let to = format!("digest@{REPLY_DOMAIN}");
    let raw = mail(
        "ann@example.org",
        &to,
        "Re: x",
        "resume-2@x",
        DKIM_PASS,
        "resume",
    );
    assert_eq!(world.receive(&raw).0, 0);
    let state = ann(&world);
    assert!(!state.unsubscribed && !state.paused, "{state:?}");
    assert!(world
        .store()
        .all_schedule_optouts()
        .expect("opt-outs")
        .is_empty());
    let confirmations = sink.wait_for(5, Duration::from_secs(10));
    assert_eq!(confirmations.len(), 5, "one confirmation per command");
    assert!(confirmations
        .iter()
        .all(|m| m.mail_from.is_empty() && m.rcpt_to == vec!["ann@example.org".to_string()]));
}

#[test]
fn mail_to_the_list_unsubscribe_address_unsubscribes_the_tokens_person() {
    let (world, sink) = world_with_sink("");
    let token = world.command_grant("ann@example.org");
    let to = format!("unsubscribe+{}@{REPLY_DOMAIN}", token.as_str());
    // A mail client's List-Unsubscribe mailto: often has an empty body and a fixed subject.
    let raw = mail(
        "Ann <ann@example.org>",
        &to,
        "Unsubscribe",
        "lu-1@x",
        "",
        "",
    );
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(
        world.last_status(),
        (
            InboundStatus::Answered,
            Some("command-unsubscribe".to_string())
        )
    );
    assert!(ann(&world).unsubscribed);
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);

    // A token nobody issued changes nothing and answers nobody.
    let fake = digestd::model::ReplyToken::generate();
    let to = format!("unsubscribe+{}@{REPLY_DOMAIN}", fake.as_str());
    let raw = mail("bob@example.org", &to, "Unsubscribe", "lu-2@x", "", "");
    assert_eq!(world.receive(&raw).0, 0);
    let (status, reason) = world.last_status();
    assert_eq!(status, InboundStatus::Ignored);
    assert!(reason.unwrap_or_default().contains("unknown token"));
    let bob = world
        .store()
        .person_state("bob@example.org")
        .expect("state");
    assert!(!bob.is_some_and(|b| b.unsubscribed));
}

#[test]
fn what_cannot_be_posted_is_answered_with_its_reason() {
    let (world, sink) = world_with_sink("");
    // A new thread for a group that does not exist.
    let to = format!("group+no-such-group@{REPLY_DOMAIN}");
    let raw = mail(
        "ann@example.org",
        &to,
        "Parking",
        "ng@x",
        "",
        "Where to park?",
    );
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("unknown-group"));
    // A reply with nothing in it but blank lines.
    let token = world.grant("ann@example.org", 90);
    let raw = simple_reply(&token, "ann@example.org", "empty@x", "  \r\n\r\n \r\n");
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("empty"));
    // A reply that only quotes (the digest sent back unchanged): the trimmer keeps the quote,
    // but nothing of the sender's own is there, so it is answered as empty, not posted.
    let token = world.grant("bob@example.org", 90);
    let quote_only =
        "On Mon, 1 Jan 2024, Digest wrote:\r\n> Where to park?\r\n> Reply: mailto:x\r\n";
    let raw = simple_reply(&token, "bob@example.org", "quote-only@x", quote_only);
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("empty"));
    // A reply to an address whose token names no thread (a command token).
    let command = world.command_grant("ann@example.org");
    let raw = simple_reply(&command, "ann@example.org", "no-thread@x", "Agreed.");
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(world.last_status().1.as_deref(), Some("no-thread"));

    assert_eq!(world.posts_in_thread(), 1, "nothing posted");
    let answers = sink.wait_for(4, Duration::from_secs(10));
    assert_eq!(answers.len(), 4);
    let subjects: Vec<String> = answers
        .iter()
        .map(|m| m.parsed().subject().unwrap_or("").to_string())
        .collect();
    assert!(subjects.iter().all(|s| !s.is_empty()), "{subjects:?}");
}

#[test]
fn strict_mode_posts_only_with_dkim_pass_from_the_trusted_server() {
    let (world, sink) = world_with_sink(TRUSTED);
    let token = world.grant("ann@example.org", 90);
    let to = format!("reply+{}@{REPLY_DOMAIN}", token.as_str());
    // No Authentication-Results, and one from a server that is not trusted: refused.
    let untrusted =
        "Authentication-Results: mx.elsewhere.example; dkim=pass header.d=example.org\r\n";
    for (id, headers) in [("s-1@x", ""), ("s-2@x", untrusted)] {
        let raw = mail(
            "ann@example.org",
            &to,
            "Re: Budget",
            id,
            headers,
            "Unsigned.",
        );
        assert_eq!(world.receive(&raw).0, 0);
        assert_ne!(world.last_status().0, InboundStatus::Posted, "{id}");
    }
    let reasons: Vec<Option<String>> = world.inbound_rows().into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons[0].as_deref(), Some("not-authenticated"));
    assert!(
        reasons[1]
            .as_deref()
            .is_some_and(|r| r.starts_with("not-authenticated")),
        "{reasons:?}"
    );
    assert_eq!(
        sink.wait_for(1, Duration::from_secs(10)).len(),
        1,
        "answered once"
    );
    // dkim=pass for the sender's domain from the trusted server: posted.
    let trusted = DKIM_PASS;
    let raw = mail(
        "ann@example.org",
        &to,
        "Re: Budget",
        "s-3@x",
        trusted,
        "Signed.",
    );
    assert_eq!(world.receive(&raw).0, 0);
    assert_eq!(world.last_status().0, InboundStatus::Posted);
    assert!(world.thread_text().contains("Signed."));
    assert_eq!(world.posts_in_thread(), 2);
}
