//! Mail without a token never acts on its From address alone, end to end through
//! `digestd receive` (the real binary, store and local forum in a temp dir, answers into a real
//! smtp-sink): forged new threads and commands only get the real person a confirmation request;
//! the reply to it carries the action out once, from that address, within 48 hours; a trusted
//! server's `dkim=pass` acts at once; `digest now` works once an hour; at most five requests a
//! day go to one address, and a request whose mail could not be sent is not kept.

mod support;

use std::time::Duration;

use chrono::Utc;
use digestd::model::ReplyToken;
use digestd::store::{InboundStatus, PersonState};
use support::inbound::{mail, Transport, World, REPLY_DOMAIN};
use support::{SmtpSink, SunkMessage};

const TRUSTED: &str = "trusted_authserv_ids = [\"mx.test.example\"]";
const DKIM_PASS: &str =
    "Authentication-Results: mx.test.example;\r\n\tdkim=pass (2048-bit key) header.d=example.org header.s=s1\r\n";

fn world(extra_inbound: &str) -> (World, SmtpSink) {
    let sink = SmtpSink::start();
    let world = World::new(Transport::Smtp(sink.port()), extra_inbound);
    (world, sink)
}

fn state(world: &World, email: &str) -> PersonState {
    world
        .store()
        .person_state(email)
        .expect("state")
        .expect("known person")
}

/// A mail to `local@<reply domain>` from `from`.
fn to_digestd(
    from: &str,
    local: &str,
    subject: &str,
    id: &str,
    headers: &str,
    body: &str,
) -> Vec<u8> {
    mail(
        from,
        &format!("{local}@{REPLY_DOMAIN}"),
        subject,
        id,
        headers,
        body,
    )
}

/// Receives `raw`, expects exit 0, returns where it ended.
fn receive(world: &World, raw: &[u8]) -> (InboundStatus, Option<String>) {
    let (code, err) = world.receive(raw);
    assert_eq!(code, 0, "{err}");
    world.last_status()
}

/// The token of a confirmation request: its Reply-To is `confirm+TOKEN@`, its Message-ID
/// `confirm.TOKEN@`.
fn confirm_token(m: &SunkMessage) -> ReplyToken {
    let parsed = m.parsed();
    let reply_to = parsed
        .header_raw("Reply-To")
        .expect("a Reply-To")
        .trim()
        .to_string();
    let token = reply_to
        .strip_prefix("confirm+")
        .and_then(|r| r.strip_suffix(&format!("@{REPLY_DOMAIN}")))
        .and_then(ReplyToken::parse)
        .unwrap_or_else(|| panic!("a confirm address: {reply_to}"));
    assert_eq!(
        parsed.message_id(),
        Some(format!("confirm.{}@{REPLY_DOMAIN}", token.as_str()).as_str())
    );
    token
}

/// The reply a person's mail program makes to a confirmation request.
fn confirmation_reply(token: &ReplyToken, from: &str, id: &str) -> Vec<u8> {
    let headers = format!(
        "In-Reply-To: <confirm.{t}@{REPLY_DOMAIN}>\r\nReferences: <confirm.{t}@{REPLY_DOMAIN}>\r\n",
        t = token.as_str()
    );
    to_digestd(
        from,
        &format!("confirm+{}", token.as_str()),
        "Re: Confirm",
        id,
        &headers,
        "Yes, that was me.\r\n\r\n> Reply to this mail to ...",
    )
}

fn body(m: &SunkMessage) -> String {
    m.parsed().body_text(0).unwrap_or_default().to_string()
}

#[test]
fn a_forged_new_thread_posts_nothing_and_only_asks_the_real_person() {
    let (world, sink) = world("");
    let threads = world.local_thread_count();
    let raw = to_digestd(
        "Ann Example <ann@example.org>",
        "group+general",
        "Parking at the town hall",
        "forged-thread@evil.example",
        "Received: from evil.example (unknown [198.51.100.7])\r\n",
        "Park on the mayor's spot, everybody.",
    );
    assert_eq!(
        receive(&world, &raw),
        (
            InboundStatus::Answered,
            Some("confirm-new-thread".to_string())
        )
    );
    assert_eq!(world.local_thread_count(), threads, "nothing posted");
    let mails = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1);
    let request = &mails[0];
    assert_eq!(request.rcpt_to, vec!["ann@example.org".to_string()]);
    assert_eq!(request.mail_from, "", "null envelope sender");
    assert_eq!(
        request.parsed().subject(),
        Some("Confirm your new thread in General")
    );
    let text = body(request);
    assert!(
        text.contains("Reply to this mail to post your new thread in General"),
        "{text}"
    );
    confirm_token(request);

    // bob reads Dutch.
    let raw = to_digestd(
        "bob@example.org",
        "group+general",
        "Fietsenstalling",
        "forged-thread-2@evil.example",
        "",
        "Waar?",
    );
    assert_eq!(receive(&world, &raw).0, InboundStatus::Answered);
    let mails = sink.wait_for(2, Duration::from_secs(10));
    let nl = mails
        .iter()
        .find(|m| m.rcpt_to == vec!["bob@example.org".to_string()])
        .expect("bob's request");
    assert_eq!(
        nl.parsed().subject(),
        Some("Bevestig uw nieuwe onderwerp in General")
    );
    assert_eq!(world.local_thread_count(), threads, "still nothing posted");
}

#[test]
fn a_confirmed_new_thread_is_posted_once_and_only_for_the_address_asked() {
    let (world, sink) = world("");
    let threads = world.local_thread_count();
    let raw = to_digestd(
        "Ann Example <ann@example.org>",
        "group+general",
        "Fwd: Parking at the town hall",
        "thread@mail.example.org",
        "",
        "Does anyone know where visitors can park during the works?",
    );
    assert_eq!(receive(&world, &raw).0, InboundStatus::Answered);
    let token = confirm_token(&sink.wait_for(1, Duration::from_secs(10))[0]);

    // Someone else answering the request: refused, nothing posted.
    let status = receive(
        &world,
        &confirmation_reply(&token, "bob@example.org", "c-bob@x"),
    );
    assert_eq!(
        status,
        (
            InboundStatus::Answered,
            Some("confirm-wrong-sender".to_string())
        )
    );
    assert_eq!(world.local_thread_count(), threads);

    // ann confirms: the stored mail is posted as her new thread.
    let status = receive(
        &world,
        &confirmation_reply(&token, "Ann <ANN@example.org>", "c-1@x"),
    );
    assert_eq!(status.0, InboundStatus::Posted, "{status:?}");
    assert_eq!(world.local_thread_count(), threads + 1);
    let forum =
        digestd::forum::local::LocalForum::open(&world.config.store_path, &world.config.forum_url)
            .expect("forum");
    let thread = forum
        .local_thread(threads as i64 + 1)
        .expect("read")
        .expect("the new thread");
    assert_eq!(thread.title, "Parking at the town hall");
    assert_eq!(thread.posts.len(), 1);
    assert_eq!(thread.posts[0].author_email, "ann@example.org");
    assert!(thread.posts[0].body.contains("where visitors can park"));

    // A replay (another mail answering the same request): answered "already done".
    let status = receive(
        &world,
        &confirmation_reply(&token, "ann@example.org", "c-2@x"),
    );
    assert_eq!(
        status,
        (
            InboundStatus::Answered,
            Some("confirm-already-done".to_string())
        )
    );
    assert_eq!(world.local_thread_count(), threads + 1, "posted once");
    // The same confirmation delivered twice is stored once.
    receive(
        &world,
        &confirmation_reply(&token, "ann@example.org", "c-1@x"),
    );
    assert_eq!(world.local_thread_count(), threads + 1);

    let mails = sink.wait_for(3, Duration::from_secs(10));
    assert_eq!(mails.len(), 3, "request, wrong sender, already done");
    let refused = mails
        .iter()
        .find(|m| m.rcpt_to == vec!["bob@example.org".to_string()])
        .expect("bob is told");
    assert!(body(refused).contains("adres"), "bob reads Dutch");
}

#[test]
fn forged_unsubscribe_and_pause_change_nothing_until_confirmed() {
    let (world, sink) = world("");
    for (subject, key) in [
        ("unsubscribe", "confirm-unsubscribe"),
        ("pause", "confirm-pause"),
    ] {
        let raw = to_digestd(
            "ann@example.org",
            "digest",
            subject,
            &format!("forged-{subject}@evil.example"),
            "",
            "",
        );
        assert_eq!(
            receive(&world, &raw),
            (InboundStatus::Answered, Some(key.to_string()))
        );
    }
    let ann = state(&world, "ann@example.org");
    assert!(!ann.unsubscribed && !ann.paused, "{ann:?}");
    let mails = sink.wait_for(2, Duration::from_secs(10));
    assert_eq!(mails.len(), 2);
    assert!(mails
        .iter()
        .all(|m| m.rcpt_to == vec!["ann@example.org".to_string()]));
    let unsubscribe = mails
        .iter()
        .find(|m| m.parsed().subject() == Some("Confirm: unsubscribe from digests"))
        .expect("the unsubscribe request");
    assert!(body(unsubscribe).contains("Reply to this mail to unsubscribe."));
    let pause = mails
        .iter()
        .find(|m| m.parsed().subject() == Some("Confirm: pause your digests"))
        .expect("the pause request");

    // The real ann confirms the pause; the unsubscribe request is left alone.
    let status = receive(
        &world,
        &confirmation_reply(&confirm_token(pause), "ann@example.org", "ok-pause@x"),
    );
    assert_eq!(
        status,
        (InboundStatus::Answered, Some("command-pause".to_string()))
    );
    let ann = state(&world, "ann@example.org");
    assert!(ann.paused && !ann.unsubscribed, "{ann:?}");
    assert_eq!(sink.wait_for(3, Duration::from_secs(10)).len(), 3);
}

#[test]
fn a_reply_that_lost_the_confirm_address_still_counts_through_its_references() {
    let (world, sink) = world("");
    let raw = to_digestd("ann@example.org", "digest", "weekly", "w@x", "", "");
    assert_eq!(receive(&world, &raw).1.as_deref(), Some("confirm-weekly"));
    let token = confirm_token(&sink.wait_for(1, Duration::from_secs(10))[0]);
    // Sent to the command address, naming the request only in In-Reply-To.
    let reply = to_digestd(
        "ann@example.org",
        "digest",
        "Re: Confirm: weekly digests",
        "w-ok@x",
        &format!(
            "In-Reply-To: <confirm.{}@{REPLY_DOMAIN}>\r\n",
            token.as_str()
        ),
        "ok",
    );
    assert_eq!(receive(&world, &reply).1.as_deref(), Some("command-weekly"));
    assert_eq!(
        state(&world, "ann@example.org").frequency_override,
        Some(digestd::model::Frequency::Weekly)
    );
}

#[test]
fn an_expired_confirmation_does_nothing_and_says_send_again() {
    let (world, sink) = world("");
    let raw = to_digestd("ann@example.org", "digest", "pause", "old@x", "", "");
    let (code, err) = world.receive_at(&raw, Utc::now() - chrono::Duration::hours(49));
    assert_eq!(code, 0, "{err}");
    assert_eq!(world.last_status().1.as_deref(), Some("confirm-pause"));
    let token = confirm_token(&sink.wait_for(1, Duration::from_secs(10))[0]);
    let status = receive(
        &world,
        &confirmation_reply(&token, "ann@example.org", "late@x"),
    );
    assert_eq!(
        status,
        (InboundStatus::Answered, Some("confirm-expired".to_string()))
    );
    assert!(!state(&world, "ann@example.org").paused);
    let mails = sink.wait_for(2, Duration::from_secs(10));
    let expired = mails
        .iter()
        .find(|m| m.parsed().subject() == Some("Confirmation expired: please send again"))
        .expect("told it expired");
    assert!(body(expired).contains("send your original mail again"));
    // Within 48 hours it would have worked.
    let raw = to_digestd("ann@example.org", "digest", "pause", "recent@x", "", "");
    world.receive_at(&raw, Utc::now() - chrono::Duration::hours(47));
    let token = confirm_token(
        sink.wait_for(3, Duration::from_secs(10))
            .last()
            .expect("a second request"),
    );
    receive(
        &world,
        &confirmation_reply(&token, "ann@example.org", "in-time@x"),
    );
    assert!(state(&world, "ann@example.org").paused);
}

#[test]
fn dkim_pass_from_a_trusted_server_acts_at_once_and_an_untrusted_one_does_not() {
    let (world, sink) = world(TRUSTED);
    let threads = world.local_thread_count();
    // Signed, vouched for by the trusted server: posted and applied at once.
    let raw = to_digestd(
        "ann@example.org",
        "group+general",
        "Signed thread",
        "signed-thread@x",
        DKIM_PASS,
        "Signed and sealed.",
    );
    assert_eq!(receive(&world, &raw).0, InboundStatus::Posted);
    assert_eq!(world.local_thread_count(), threads + 1);
    let raw = to_digestd(
        "ann@example.org",
        "digest",
        "pause",
        "signed-pause@x",
        DKIM_PASS,
        "",
    );
    assert_eq!(receive(&world, &raw).1.as_deref(), Some("command-pause"));
    assert!(state(&world, "ann@example.org").paused);

    // The same header from a server nobody trusts, a pass for another domain, and an SPF pass
    // (not accepted unless configured): confirmation needed.
    let untrusted = DKIM_PASS.replace("mx.test.example", "mx.elsewhere.example");
    let other_domain = DKIM_PASS.replace("header.d=example.org", "header.d=evil.example");
    let spf = "Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=ann@example.org\r\n";
    for (i, headers) in [untrusted.as_str(), other_domain.as_str(), spf]
        .into_iter()
        .enumerate()
    {
        let raw = to_digestd(
            "ann@example.org",
            "digest",
            "unsubscribe",
            &format!("u-{i}@x"),
            headers,
            "",
        );
        assert_eq!(
            receive(&world, &raw).1.as_deref(),
            Some("confirm-unsubscribe"),
            "{headers}"
        );
        assert!(!state(&world, "ann@example.org").unsubscribed);
    }
    let raw = to_digestd(
        "ann@example.org",
        "group+general",
        "Unsigned thread",
        "unsigned-thread@x",
        &untrusted,
        "Who am I?",
    );
    assert_eq!(
        receive(&world, &raw).1.as_deref(),
        Some("confirm-new-thread")
    );
    assert_eq!(world.local_thread_count(), threads + 1);
    // Answers: the pause confirmation, three unsubscribe requests, one thread request.
    assert_eq!(sink.wait_for(5, Duration::from_secs(10)).len(), 5);
}

#[test]
fn spf_pass_counts_when_accept_spf_is_set() {
    let (world, _sink) = world(&format!("{TRUSTED}\naccept_spf = true"));
    let spf = "Authentication-Results: mx.test.example; spf=pass smtp.mailfrom=ann@example.org\r\n";
    let raw = to_digestd("ann@example.org", "digest", "pause", "spf@x", spf, "");
    assert_eq!(receive(&world, &raw).1.as_deref(), Some("command-pause"));
    assert!(state(&world, "ann@example.org").paused);
}

#[test]
fn digest_now_is_carried_out_once_an_hour() {
    let (world, sink) = world(TRUSTED);
    let now = Utc::now();
    let ask = |id: &str, at| {
        let raw = to_digestd("ann@example.org", "digest", "digest now", id, DKIM_PASS, "");
        let (code, err) = world.receive_at(&raw, at);
        assert_eq!(code, 0, "{err}");
        world.last_status().1
    };
    assert_eq!(ask("now-1@x", now).as_deref(), Some("command-digest-now"));
    assert_eq!(
        ask("now-2@x", now + chrono::Duration::minutes(20)).as_deref(),
        Some("command-digest-now-limited")
    );
    // An hour later it is carried out again (its confirmation may already have gone out
    // today: one a day).
    let later = now + chrono::Duration::minutes(61);
    let third = ask("now-3@x", later).unwrap_or_default();
    assert!(
        third.starts_with("command-digest-now") && !third.contains("limited"),
        "{third}"
    );
    let last = world
        .store()
        .last_digest_now("ann@example.org")
        .expect("read")
        .expect("recorded");
    assert_eq!(last.timestamp(), later.timestamp());
    // Among the digests and confirmations: the refusal, which says when to ask again.
    let mails = sink.wait_for(3, Duration::from_secs(20));
    let limited = mails
        .iter()
        .find(|m| m.parsed().subject() == Some("Digest already sent this hour"))
        .expect("the refusal");
    let text = body(limited);
    assert!(text.contains("You can ask again from "), "{text}");
    // ann has no time zone of her own in this config: UTC.
    let again = (now + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M (UTC)");
    assert!(text.contains(&again.to_string()), "{text}");
}

#[test]
fn at_most_five_requests_a_day_go_to_one_address() {
    let (world, sink) = world("");
    for i in 0..6 {
        let raw = to_digestd(
            "ann@example.org",
            "digest",
            "pause",
            &format!("flood-{i}@evil.example"),
            "",
            "",
        );
        let (status, reason) = receive(&world, &raw);
        if i < 5 {
            assert_eq!(status, InboundStatus::Answered, "{i}: {reason:?}");
        } else {
            assert_eq!(status, InboundStatus::Ignored);
            assert!(
                reason
                    .unwrap_or_default()
                    .contains("5 confirmation requests"),
                "the sixth is not sent"
            );
        }
    }
    assert_eq!(sink.wait_for(6, Duration::from_secs(3)).len(), 5);
    assert!(!state(&world, "ann@example.org").paused);
}

#[test]
fn a_request_the_transport_refuses_for_now_is_not_kept_and_is_asked_again_on_retry() {
    let smtp = support::FakeSmtp::start(support::FakeRules {
        fail_first_messages: 1,
        ..support::FakeRules::default()
    });
    let world = World::new(Transport::Smtp(smtp.port()), "");
    let raw = to_digestd("ann@example.org", "digest", "pause", "p@x", "", "");
    let (status, _) = receive(&world, &raw);
    assert_eq!(status, InboundStatus::Queued, "deferred");
    let store = world.store();
    let since = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        store
            .confirmations_since("ann@example.org", since)
            .expect("count"),
        0,
        "no request kept without its mail"
    );
    // The daemon's retry asks again, with a new token.
    let config = digestd::config::Config::load(&world.config_path).expect("config");
    let forum = digestd::forum::local::LocalForum::open(&config.store_path, &config.forum_url)
        .expect("forum");
    let answers = digestd::inbound::wiring::OutboundAnswers::from_config(&config).expect("smtp");
    let answerer = digestd::inbound::answer::Answerer::new(Some(&config.templates_dir));
    let pipeline = digestd::inbound::Pipeline::new(&config, &forum, &answers, &answerer);
    let later = Utc::now() + chrono::Duration::hours(1);
    let report = pipeline
        .process_queued(&mut world.store(), later, 10)
        .expect("retry");
    assert_eq!(report.answered, 1, "{report}");
    assert_eq!(world.last_status().1.as_deref(), Some("confirm-pause"));
    assert_eq!(smtp.accepted().len(), 1);
    assert_eq!(
        store
            .confirmations_since("ann@example.org", since)
            .expect("count"),
        1
    );
}
