//! `digestd run` with `[http]` on 127.0.0.1, end to end: digests reach smtp-sink carrying the
//! mailto and the https one-click link (RFC 8058), a POST over real HTTP opts the person out of
//! that schedule only, a replayed or forged token is refused, and `/metrics` shows what the
//! daemon actually did (digests sent, the forum's last poll, an inbound reply's outcome).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use digestd::http::token::{sign, verify, UnsubscribeClaim};
use digestd::http::Secret;
use support::config::{GroupSpec, RoleSpec};
use support::daemon::{digestd, import_posts, post_line_in, Daemon, Spec};
use support::http_client::request;
use support::{free_port, SmtpSink, SunkMessage};

const ALICE: &str = "alice@testdam.example";
const PUBLIC: &str = "https://digests.testdam.example";
const EVERY_SECOND: &str = "* * * * * *@Europe/Amsterdam";
const EVERY_TWO: &str = "*/2 * * * * *@Europe/Amsterdam";

/// The message's header section, unfolded.
fn headers(m: &SunkMessage) -> String {
    let raw = String::from_utf8_lossy(&m.raw).replace("\r\n", "\n");
    let head = raw.split("\n\n").next().unwrap_or_default().to_string();
    head.replace("\n ", " ").replace("\n\t", " ")
}

fn header_line(m: &SunkMessage, name: &str) -> String {
    headers(m)
        .lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l[name.len()..].starts_with(':')
        })
        .unwrap_or_default()
        .to_string()
}

/// The one-click token in the message's List-Unsubscribe header.
fn one_click_token(m: &SunkMessage) -> String {
    let line = header_line(m, "List-Unsubscribe");
    let start = line
        .find(&format!("{PUBLIC}/u/"))
        .unwrap_or_else(|| panic!("no https link in {line:?}"))
        + PUBLIC.len()
        + 3;
    line[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

/// The schedule a digest came with, read from its (verified) one-click token.
fn schedule_of(secret: &Secret, m: &SunkMessage) -> String {
    verify(
        secret,
        &one_click_token(m),
        Utc::now(),
        chrono::Duration::days(1),
    )
    .expect("the link verifies")
    .schedule
}

/// The first reply token (`reply+HEX@`) in the message's text.
fn reply_token(m: &SunkMessage) -> String {
    let text = m.parsed().body_text(0).unwrap_or_default().to_string();
    let start = text.find("reply+").expect("a reply link") + "reply+".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

/// The value of the first metric line that starts with `prefix`.
fn metric(body: &str, prefix: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn write_config(dir: &Path, sink_port: u16, http_port: u16) -> std::path::PathBuf {
    let config = dir.join("digestd.toml");
    std::fs::write(dir.join("http.key"), format!("{}\n", "5a".repeat(32))).expect("key");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join("inbox").join(sub)).expect("inbox");
    }
    Spec {
        schedule: "* * * * * *".into(),
        transport: Spec::smtp(sink_port),
        person_roles: vec!["social-worker".into(), "planner".into()],
        groups: vec![
            GroupSpec::new("social-work", "Social work"),
            GroupSpec::new("planning", "Planning"),
        ],
        roles: vec![
            RoleSpec::new(
                "social-worker",
                &["social-work"],
                "* * * * * *",
                "time_zone = \"Europe/Amsterdam\"",
            ),
            RoleSpec::new(
                "planner",
                &["planning"],
                "*/2 * * * * *",
                "time_zone = \"Europe/Amsterdam\"",
            ),
        ],
        tail: format!(
            r#"
[inbound]
maildir = "inbox"

[daemon]
inbound_poll_secs = 1

[http]
listen = "127.0.0.1:{http_port}"
public_url = "{PUBLIC}"
secret_file = "http.key"
"#
        ),
        ..Spec::default()
    }
    .write(&config);
    config
}

/// Waits (bounded) until `pred` holds for the sink's messages; returns them.
fn wait_messages(
    sink: &SmtpSink,
    timeout: Duration,
    pred: impl Fn(&[SunkMessage]) -> bool,
) -> Vec<SunkMessage> {
    let deadline = Instant::now() + timeout;
    loop {
        let msgs = sink.messages();
        if pred(&msgs) || Instant::now() > deadline {
            return msgs;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn one_click_over_http_opts_out_of_that_schedule_and_metrics_follow() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let http_port = free_port();
    let config = write_config(dir.path(), sink.port(), http_port);
    let secret = Secret::from_file(&dir.path().join("http.key")).expect("key");
    import_posts(
        &config,
        &[
            post_line_in("social-work", "t1", "Winter visits", "Checklist, anyone?"),
            post_line_in("planning", "t2", "Zoning map", "New draft attached."),
        ],
    );
    let mut daemon = Daemon::start(&config, &[]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http_port));

    // One digest per schedule.
    let first = wait_messages(&sink, Duration::from_secs(60), |m| m.len() >= 2);
    assert_eq!(first.len(), 2, "stderr:\n{}", daemon.stderr());
    let mut schedules: Vec<String> = first.iter().map(|m| schedule_of(&secret, m)).collect();
    schedules.sort();
    assert_eq!(
        schedules,
        vec![EVERY_SECOND.to_string(), EVERY_TWO.to_string()]
    );
    for m in &first {
        let lu = header_line(m, "List-Unsubscribe");
        assert!(
            lu.contains("<mailto:unsubscribe+"),
            "mailto in List-Unsubscribe: {lu}"
        );
        assert!(lu.contains(&format!("<{PUBLIC}/u/")), "https link: {lu}");
        assert_eq!(
            header_line(m, "List-Unsubscribe-Post"),
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
        );
    }
    let every_second = first
        .iter()
        .find(|m| schedule_of(&secret, m) == EVERY_SECOND)
        .expect("digest of the every-second schedule");
    let token = one_click_token(every_second);
    let path = format!("/u/{token}");

    // GET: a confirmation page, nothing changed.
    let page = request(addr, "GET", &path, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<form method=\"post\""), "{}", page.body);
    // A forged token (another key) is refused.
    let forged = sign(
        &Secret::generate(),
        &UnsubscribeClaim::new(ALICE, EVERY_TWO),
    );
    let r = request(
        addr,
        "POST",
        &format!("/u/{forged}"),
        Some("List-Unsubscribe=One-Click"),
    );
    assert_eq!(r.status, 403);
    // POST: opted out of that schedule; the replay is refused.
    let r = request(addr, "POST", &path, Some("List-Unsubscribe=One-Click"));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(addr, "POST", &path, Some("List-Unsubscribe=One-Click"));
    assert_eq!(r.status, 410, "replay refused: {}", r.body);

    // New posts in both groups: only the other schedule's digest comes.
    import_posts(
        &config,
        &[
            post_line_in("social-work", "t3", "Holiday rota", "Who is on call?"),
            post_line_in("planning", "t4", "Hearing dates", "Next Tuesday."),
        ],
    );
    let after = wait_messages(&sink, Duration::from_secs(60), |m| m.len() >= 3);
    assert_eq!(after.len(), 3, "stderr:\n{}", daemon.stderr());
    // The every-second schedule has fired several times since; still nothing for it.
    std::thread::sleep(Duration::from_secs(3));
    let later: Vec<String> = sink.messages()[2..]
        .iter()
        .map(|m| schedule_of(&secret, m))
        .collect();
    assert_eq!(
        later,
        vec![EVERY_TWO.to_string()],
        "only the other schedule"
    );
    let status = digestd(&config, &["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains(&format!("opted out: {ALICE}")),
        "status shows the opt-out:\n{status}"
    );

    // A reply dropped in the inbound Maildir is posted and counted.
    let reply = format!(
        "From: Alice Aalders <{ALICE}>\r\nTo: reply+{}@reply.testdam.example\r\nSubject: Re: digest\r\nMessage-ID: <e2e-reply@testdam.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nI can take Tuesday.\r\n",
        reply_token(&sink.messages()[2])
    );
    // Delivered as an MTA does: written in tmp/, then renamed into new/.
    let tmp = dir.path().join("inbox/tmp/1700000000.e2e.host");
    std::fs::write(&tmp, reply.as_bytes()).expect("reply");
    std::fs::rename(&tmp, dir.path().join("inbox/new/1700000000.e2e.host")).expect("deliver");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut scrape = String::new();
    while Instant::now() < deadline {
        scrape = request(addr, "GET", "/metrics", None).body;
        // The counter moves when the daemon has posted; the store-derived gauge once the
        // store says so: wait for both.
        if metric(
            &scrape,
            "digestd_inbound_messages_total{outcome=\"posted\"}",
        )
        .is_some()
            && metric(&scrape, "digestd_inbound_stored{status=\"posted\"}").is_some()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        metric(
            &scrape,
            "digestd_inbound_messages_total{outcome=\"posted\"}"
        ),
        Some(1.0),
        "{scrape}\n{}",
        daemon.stderr()
    );
    assert_eq!(
        metric(&scrape, "digestd_digests_sent_total "),
        Some(sink.messages().len() as f64),
        "{scrape}"
    );
    let polled = metric(
        &scrape,
        "digestd_forum_last_success_timestamp_seconds{group=\"social-work\"}",
    )
    .expect("last poll gauge");
    assert!(polled > 1.7e9, "a real poll time: {polled}");
    assert_eq!(metric(&scrape, "digestd_unsubscribes_total "), Some(1.0));
    assert_eq!(
        metric(&scrape, "digestd_inbound_stored{status=\"posted\"}"),
        Some(1.0),
        "{scrape}"
    );

    // A reply through the MTA pipe (a process of its own) shows in the store-derived gauge;
    // the daemon's own counter counts only what the daemon processed.
    let piped = format!(
        "From: Alice Aalders <{ALICE}>\r\nTo: reply+{}@reply.testdam.example\r\nSubject: Re: digest\r\nMessage-ID: <e2e-pipe@testdam.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnd Thursday too.\r\n",
        reply_token(&sink.messages()[2])
    );
    let mut receive = std::process::Command::new(support::bin())
        .args(["receive", "-c"])
        .arg(&config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("digestd receive");
    std::io::Write::write_all(&mut receive.stdin.take().expect("stdin"), piped.as_bytes())
        .expect("pipe the reply");
    let out = receive.wait_with_output().expect("receive exits");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scrape = request(addr, "GET", "/metrics", None).body;
    assert_eq!(
        metric(&scrape, "digestd_inbound_stored{status=\"posted\"}"),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        metric(
            &scrape,
            "digestd_inbound_messages_total{outcome=\"posted\"}"
        ),
        Some(1.0),
        "{scrape}"
    );

    daemon.signal("-TERM");
    assert!(daemon
        .wait_exit(Duration::from_secs(30))
        .is_some_and(|s| s.success()));
}
