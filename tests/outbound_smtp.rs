//! Outbound mail through the real transports: `Outbound::Smtp` against Postfix's smtp-sink
//! (and, for the error codes smtp-sink cannot script, the in-process `FakeSmtp`), and the Maildir
//! transport. Every received message is parsed back with mail-parser.

mod support;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use digestd::config::{MailConfig, TlsMode, TransportConfig};
use digestd::outbound::smtp::{SmtpOutbound, SmtpSettings};
use digestd::outbound::{
    build_digest, new_message_id, BuiltMessage, DigestMessage, Outbound, RetryPolicy, SendError,
};
use support::{FakeRules, FakeSmtp, SinkOptions, SmtpSink};

fn mail_config(transport: TransportConfig, concurrency: usize) -> MailConfig {
    MailConfig {
        from: "Digests <digest@example.org>".into(),
        reply_domain: "reply.example.org".into(),
        list_id: "digests.example.org".into(),
        transport,
        concurrency,
    }
}

fn smtp_config(port: u16, concurrency: usize) -> MailConfig {
    mail_config(
        TransportConfig::Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            user: None,
            password: None,
            oauth: None,
            ca_file: None,
        },
        concurrency,
    )
}

/// A digest for `person` (`person@example.org`), with a body line that needs dot-stuffing.
fn digest_for(person: &str) -> BuiltMessage {
    let to_email = format!("{person}@example.org");
    let subject = format!("Digest for {person}: ünïcode — week 10");
    let text = format!("Hello {person},\n.\n..a line starting with dots\nBye.\n");
    let html = format!("<html><body><p>Hello {person},</p><p>Bye.</p></body></html>");
    let id = new_message_id("digests.example.org");
    build_digest(&DigestMessage {
        from: "Digests <digest@example.org>",
        envelope_from: None,
        to_name: person,
        to_email: &to_email,
        subject: &subject,
        text: &text,
        html: &html,
        message_id: &id,
        date: Utc
            .with_ymd_and_hms(2025, 3, 4, 7, 30, 0)
            .single()
            .expect("valid date"),
        list_id: "digests.example.org",
        list_name: "Example",
        list_unsubscribe_mailto: "unsubscribe@reply.example.org",
        list_unsubscribe_url: None,
        reply_to: None,
    })
    .expect("digest builds")
}

fn fast_policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_total: Duration::from_secs(5),
    }
}

fn smtp_to(port: u16, pool: usize) -> SmtpOutbound {
    let mut settings = SmtpSettings::new("127.0.0.1", port);
    settings.pool_size = pool;
    settings.connect_timeout = Duration::from_secs(5);
    settings.send_timeout = Duration::from_secs(20);
    SmtpOutbound::new(settings).expect("transport builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_sends_arrive_complete_at_smtp_sink() {
    let sink = SmtpSink::start();
    let outbound = Outbound::from_config(&smtp_config(sink.port(), 3)).expect("transport");
    let people: Vec<String> = (0..12).map(|i| format!("person{i}")).collect();
    let mut tasks = Vec::new();
    for p in &people {
        let (outbound, msg) = (outbound.clone(), digest_for(p));
        tasks.push(tokio::spawn(async move {
            outbound
                .send(&msg.envelope_from, &msg.envelope_to, &msg.raw)
                .await
                .map(|()| msg.message_id)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("task").expect("sent"));
    }
    outbound.close().await;

    let got = sink.wait_for(people.len(), Duration::from_secs(10));
    assert_eq!(got.len(), people.len());
    for m in &got {
        assert_eq!(m.mail_from, "digest@example.org");
        assert_eq!(m.rcpt_to.len(), 1);
        let person = m.rcpt_to[0].trim_end_matches("@example.org").to_string();
        let msg = m.parsed();
        let id = msg.message_id().expect("message id").to_string();
        assert!(ids.contains(&id), "{id} was sent");
        assert_eq!(
            msg.subject(),
            Some(format!("Digest for {person}: ünïcode — week 10").as_str())
        );
        let to = msg.to().and_then(|a| a.first()).expect("To");
        assert_eq!(to.address(), Some(m.rcpt_to[0].as_str()));
        assert_eq!(
            msg.header_raw("List-Id").map(str::trim),
            Some("Example <digests.example.org>")
        );
        assert_eq!(
            msg.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        assert_eq!(
            msg.body_text(0).as_deref(),
            Some(format!("Hello {person},\n.\n..a line starting with dots\nBye.\n").as_str())
        );
        assert!(msg
            .body_html(0)
            .unwrap_or_default()
            .contains(&format!("<p>Hello {person},</p>")));
    }
}

#[tokio::test]
async fn connections_are_reused_and_bounded_by_the_pool() {
    let fake = FakeSmtp::start(FakeRules::default());
    let smtp = smtp_to(fake.port(), 2);
    for i in 0..5 {
        let m = digest_for(&format!("seq{i}"));
        smtp.send(&m.envelope_from, &m.envelope_to, &m.raw)
            .await
            .expect("sent");
    }
    assert_eq!(fake.sessions(), 1, "sequential sends share one connection");
    assert_eq!(smtp.idle_connections(), 1);

    let mut tasks = Vec::new();
    for i in 0..10 {
        let (smtp, m) = (smtp.clone(), digest_for(&format!("par{i}")));
        tasks.push(tokio::spawn(async move {
            smtp.send(&m.envelope_from, &m.envelope_to, &m.raw).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("sent");
    }
    assert!(
        fake.sessions() <= 2,
        "{} sessions for a pool of 2",
        fake.sessions()
    );
    assert_eq!(fake.accepted().len(), 15);
    smtp.close().await;
}

#[tokio::test]
async fn connection_refused_is_transient_and_retried_within_the_policy() {
    let port = support::free_port();
    let outbound = Outbound::from_config(&smtp_config(port, 1)).expect("transport");
    let m = digest_for("nobody");
    let start = Instant::now();
    let err = outbound
        .send_with_retry(&m.envelope_from, &m.envelope_to, &m.raw, &fast_policy(3))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, SendError::Transient(_)), "{err}");
    // Two waits: 10 ms and 20 ms.
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn smtp_sink_5xx_is_permanent_and_4xx_transient() {
    let hard = SmtpSink::start_with(SinkOptions {
        hard_reject: vec!["RCPT".into()],
        ..SinkOptions::default()
    });
    let m = digest_for("rejected");
    let err = smtp_to(hard.port(), 1)
        .send(&m.envelope_from, &m.envelope_to, &m.raw)
        .await
        .expect_err("RCPT refused");
    assert!(
        matches!(err, SendError::Permanent(ref s) if s.contains("500")),
        "{err}"
    );

    let soft = SmtpSink::start_with(SinkOptions {
        soft_reject: vec!["RCPT".into()],
        ..SinkOptions::default()
    });
    let err = smtp_to(soft.port(), 1)
        .send(&m.envelope_from, &m.envelope_to, &m.raw)
        .await
        .expect_err("RCPT deferred");
    assert!(
        matches!(err, SendError::Transient(ref s) if s.contains("450")),
        "{err}"
    );
    assert!(hard.messages().is_empty(), "{:?}", hard.messages());
    assert!(soft.messages().is_empty(), "{:?}", soft.messages());
}

#[tokio::test]
async fn permanent_error_is_not_retried_and_does_not_poison_the_pool() {
    let fake = FakeSmtp::start(FakeRules {
        rcpt_replies: vec![("bad".into(), "550 5.1.1 no such user".into())],
        ..FakeRules::default()
    });
    let outbound = Outbound::Smtp(smtp_to(fake.port(), 1));
    let bad = digest_for("bad");
    let err = outbound
        .send_with_retry(
            &bad.envelope_from,
            &bad.envelope_to,
            &bad.raw,
            &fast_policy(4),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(err, SendError::Permanent(ref s) if s.contains("no such user")),
        "{err}"
    );
    assert_eq!(fake.rcpt_attempts(), ["bad@example.org"], "tried once only");

    let good = digest_for("good");
    outbound
        .send_with_retry(
            &good.envelope_from,
            &good.envelope_to,
            &good.raw,
            &fast_policy(4),
        )
        .await
        .expect("the next message goes through");
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].rcpt_to, ["good@example.org"]);
    assert_eq!(accepted[0].mail_from, "digest@example.org");
    outbound.close().await;
}

#[tokio::test]
async fn transient_4xx_is_retried_until_accepted() {
    let fake = FakeSmtp::start(FakeRules {
        fail_first_messages: 2,
        ..FakeRules::default()
    });
    let outbound = Outbound::Smtp(smtp_to(fake.port(), 1));
    let m = digest_for("later");
    outbound
        .send_with_retry(&m.envelope_from, &m.envelope_to, &m.raw, &fast_policy(4))
        .await
        .expect("third attempt accepted");
    assert_eq!(fake.data_attempts(), 3);
    assert_eq!(fake.accepted().len(), 1);
    let msg = fake.accepted()[0].clone();
    assert_eq!(msg.parsed().message_id(), Some(m.message_id.as_str()));
}

#[tokio::test]
async fn transient_4xx_gives_up_after_the_last_attempt() {
    let fake = FakeSmtp::start(FakeRules {
        fail_first_messages: 100,
        fail_reply: Some("421 4.7.0 too busy".into()),
        ..FakeRules::default()
    });
    let outbound = Outbound::Smtp(smtp_to(fake.port(), 1));
    let m = digest_for("busy");
    let err = outbound
        .send_with_retry(&m.envelope_from, &m.envelope_to, &m.raw, &fast_policy(3))
        .await
        .expect_err("always busy");
    assert!(
        matches!(err, SendError::Transient(ref s) if s.contains("too busy")),
        "{err}"
    );
    assert_eq!(fake.data_attempts(), 3);
    assert!(fake.accepted().is_empty());
}

#[tokio::test]
async fn maildir_transport_writes_messages_that_parse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("outbox");
    let outbound = Outbound::from_config(&mail_config(
        TransportConfig::Maildir { path: root.clone() },
        1,
    ))
    .expect("transport");
    let m = digest_for("maildir");
    outbound
        .send(&m.envelope_from, &m.envelope_to, &m.raw)
        .await
        .expect("delivered");
    let files: Vec<_> = std::fs::read_dir(root.join("new"))
        .expect("new/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1);
    let data = std::fs::read(&files[0]).expect("read");
    let msg = mail_parser::MessageParser::default()
        .parse(&data)
        .expect("parses");
    assert_eq!(msg.message_id(), Some(m.message_id.as_str()));
    assert_eq!(msg.return_address(), Some("digest@example.org"));
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    assert!(data.ends_with(&m.raw));
}
