//! A bespoke platform connected by signed webhooks, over real HTTP on 127.0.0.1.
//!
//! Inbound: `digestd run` with `[http]` takes `POST /hooks/<forum>/posts`; good posts are stored
//! once (a second delivery answers "duplicate"), and a bad or missing signature, a stale
//! timestamp, bad JSON (the field named), an unknown forum or group are refused, logged and
//! store nothing. The signatures here are made independently of digestd (the `hmac` crate, and
//! once the `openssl` and `curl` commands of `docs/webhooks.md`).
//!
//! Outbound: a reply mail (`digestd receive`) is POSTed signed to the platform
//! ([`support::webhook_platform`]) as the person, in the right thread, once; a platform answering
//! 500 keeps it queued and the retry posts it exactly once; a refusal (422) or a read-only
//! platform gets the person an answer mail with the reason; a new thread by mail is opened once.
//!
//! End to end: pushes survive a SIGKILL of the daemon, `send-now` mails them to smtp-sink, and
//! the reply to that digest lands on the platform once. `check-config --online` reaches
//! `post_url`.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use digestd::config::Config;
use digestd::model::{Post, ReplyGrant, ReplyToken, Thread};
use digestd::store::{InboundRow, InboundStatus, Store};
use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};
use support::daemon::Daemon;
use support::http_client::{request, request_with, Response};
use support::inbound::{fixture, receive_with, replace, simple_reply};
use support::webhook_platform::{hmac_hex, Platform};
use support::{free_port, wait_until, SmtpSink};

/// The shared secret (text, as `openssl rand -hex 32` makes one).
const SECRET: &str = "6f1c0e9a4b2d8f7e3a5c1b9d0e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f";
const ANN: &str = "ann@example.org";

/// A temp-dir installation with a webhook forum `hr-portal` holding group `hr-news`
/// (`remote_id = "hr"`), `[http]` on a free port, and mail into the Maildir `outbox` (or the
/// transport given).
struct Site {
    dir: tempfile::TempDir,
    config_path: PathBuf,
    http: SocketAddr,
}

impl Site {
    fn new(post_url: Option<&str>) -> Site {
        Site::with_transport(post_url, "kind = \"maildir\"\npath = \"outbox\"")
    }

    /// A site whose mail (digests and answers) leaves through `transport` (`[mail.transport]`).
    fn with_transport(post_url: Option<&str>, transport: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("webhook.key"), format!("{SECRET}\n")).expect("key");
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let post_url = post_url.map_or(String::new(), |u| format!("post_url = \"{u}\""));
        let spec = Spec {
            organisation: "Test".into(),
            forum_url: "https://forum.test.example".into(),
            from: "Digests <digest@test.example>".into(),
            reply_domain: support::inbound::REPLY_DOMAIN.into(),
            transport: transport.into(),
            forums: format!(
                "[forums.hr-portal]\nkind = \"webhook\"\nsecret_file = \"webhook.key\"\n{post_url}\n"
            ),
            groups: vec![GroupSpec::on(
                "hr-news",
                "HR news",
                "hr-portal",
                "remote_id = \"hr\"",
            )],
            roles: vec![RoleSpec::new(
                "staff",
                &["hr-news"],
                "0 0 7 * * *",
                "time_zone = \"Europe/Amsterdam\"",
            )],
            people: Vec::new(),
            persons: vec![PersonSpec::new(ANN, "Ann Example", &["staff"], "locale = \"en\"")],
            tail: format!(
                "[daemon]\ninbound_poll_secs = 3600\n\n[inbound]\n\n[http]\nlisten = \"{http}\"\n"
            ),
            ..Spec::default()
        };
        let config_path = spec.write_in(dir.path());
        Site {
            dir,
            config_path,
            http,
        }
    }

    fn config(&self) -> Config {
        Config::load(&self.config_path).unwrap_or_else(|e| panic!("config: {e}"))
    }

    fn store(&self) -> Store {
        Store::open(&self.dir.path().join("digestd.sqlite")).expect("store")
    }

    /// Starts `digestd run` and waits until its HTTP endpoint answers.
    fn start(&self) -> Daemon {
        let mut daemon = Daemon::start(&self.config_path, &[]);
        let up = wait_until(Duration::from_secs(20), Duration::from_millis(50), || {
            std::net::TcpStream::connect_timeout(&self.http, Duration::from_millis(200)).is_ok()
        });
        assert!(up && daemon.is_running(), "daemon: {}", daemon.stderr());
        daemon
    }

    /// POSTs `body` to `/hooks/<forum>/posts` with these signature headers.
    fn push_raw(&self, forum: &str, body: &[u8], headers: &[(&str, String)]) -> Response {
        let mut h = vec![("Content-Type", "application/json".to_string())];
        h.extend(headers.iter().cloned());
        request_with(
            self.http,
            "POST",
            &format!("/hooks/{forum}/posts"),
            &h,
            body,
        )
    }

    /// POSTs `body` signed now with the shared secret.
    fn push(&self, body: &str) -> Response {
        self.push_signed_at(body, Utc::now().timestamp())
    }

    fn push_signed_at(&self, body: &str, ts: i64) -> Response {
        let ts = ts.to_string();
        let sig = format!(
            "sha256={}",
            hmac_hex(SECRET.as_bytes(), &ts, body.as_bytes())
        );
        self.push_raw(
            "hr-portal",
            body.as_bytes(),
            &[("X-Digestd-Timestamp", ts), ("X-Digestd-Signature", sig)],
        )
    }

    /// Every thread and post stored for `hr-news`.
    fn stored(&self) -> (Vec<Thread>, Vec<Post>) {
        let epoch = Utc::now() - chrono::Duration::days(3650);
        self.store()
            .load_activity(&["hr-news".to_string()], epoch, &[], epoch, 0)
            .expect("activity")
    }

    /// A reply token for ann in the stored thread with platform id `remote`.
    fn grant(&self, remote: &str) -> ReplyToken {
        let (threads, _) = self.stored();
        let thread = threads
            .iter()
            .find(|t| t.remote_id == remote)
            .unwrap_or_else(|| panic!("thread {remote} stored: {threads:?}"));
        let token = ReplyToken::generate();
        self.store()
            .insert_grant(&ReplyGrant {
                token: token.clone(),
                person_email: ANN.into(),
                thread_id: Some(thread.id),
                expires: Utc::now() + chrono::Duration::days(30),
            })
            .expect("grant");
        token
    }

    fn receive(&self, raw: &[u8]) {
        let (code, err) = receive_with(&self.config_path, raw);
        assert_eq!(code, 0, "digestd receive: {err}");
    }

    fn inbound_rows(&self) -> Vec<InboundRow> {
        let store = self.store();
        (1..1_000)
            .map_while(|id| store.inbound(id).expect("inbound"))
            .collect()
    }

    /// Answer mails in the Maildir `outbox`, as text.
    fn answers(&self) -> Vec<String> {
        let new = self.dir.path().join("outbox/new");
        std::fs::read_dir(&new)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| {
                        String::from_utf8_lossy(&std::fs::read(e.path()).expect("read")).into()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A `digestd.post.v1` document in group `group`, thread `t-1`, post `id`.
fn post_doc(group: &str, id: &str, body: &str) -> String {
    serde_json::json!({
        "schema": "digestd.post.v1",
        "group": group,
        "thread": {"id": "t-1", "title": "New leave policy", "url": "https://hr.test/t/1"},
        "post": {
            "id": id,
            "author_email": "Bob@Example.org",
            "author_name": "Bob Builder",
            "created": "2026-03-02T09:30:00+01:00",
            "body": body,
            "format": "markdown",
            "tags": ["policy"],
            "url": format!("https://hr.test/t/1#{id}"),
        }
    })
    .to_string()
}

/// `doc` written an hour ago (digests look back a limited time).
fn recent(doc: String) -> String {
    let created = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    doc.replace("2026-03-02T09:30:00+01:00", &created)
}

fn metric_line(site: &Site, prefix: &str) -> Option<String> {
    let r = request(site.http, "GET", "/metrics", None);
    r.body
        .lines()
        .find(|l| l.starts_with(prefix))
        .map(str::to_string)
}

#[test]
fn signed_pushes_are_stored_once_and_every_bad_one_is_refused_storing_nothing() {
    let site = Site::new(None);
    let daemon = site.start();

    let r = site.push(&post_doc("hr", "p-1", "The **new** policy starts in May."));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""result":"stored""#), "{}", r.body);
    let (threads, posts) = site.stored();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].title, "New leave policy");
    assert_eq!(threads[0].url, "https://hr.test/t/1");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].remote_id, "p-1");
    assert_eq!(posts[0].author_email, "bob@example.org");
    assert_eq!(posts[0].author_name, "Bob Builder");
    assert_eq!(posts[0].tags, vec!["policy".to_string()]);
    assert_eq!(posts[0].created.to_rfc3339(), "2026-03-02T08:30:00+00:00");

    // The same delivery again: 200, "duplicate", still one post.
    let r = site.push(&post_doc("hr", "p-1", "The **new** policy starts in May."));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""result":"duplicate""#), "{}", r.body);
    assert_eq!(site.stored().1.len(), 1);

    // A batch: one new post, one already stored.
    let batch = format!(
        "[{},{}]",
        post_doc("hr", "p-1", "The **new** policy starts in May."),
        post_doc("hr", "p-2", "Does it cover part-time staff?")
    );
    let r = site.push(&batch);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""stored":1"#), "{}", r.body);
    assert!(r.body.contains(r#""duplicates":1"#), "{}", r.body);
    assert_eq!(site.stored().1.len(), 2);

    // Refusals: each answered with its status, none stores anything.
    let good = post_doc("hr", "p-9", "Should never be stored.");
    let now = Utc::now().timestamp();
    let wrong_sig = format!(
        "sha256={}",
        hmac_hex(
            b"another secret entirely, 32 bytes+",
            &now.to_string(),
            good.as_bytes()
        )
    );
    let r = site.push_raw(
        "hr-portal",
        good.as_bytes(),
        &[
            ("X-Digestd-Timestamp", now.to_string()),
            ("X-Digestd-Signature", wrong_sig),
        ],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("bad_signature"), "{}", r.body);
    let r = site.push_raw("hr-portal", good.as_bytes(), &[]);
    assert_eq!(r.status, 401, "{}", r.body);
    // Body changed after signing.
    let ts = now.to_string();
    let sig = format!(
        "sha256={}",
        hmac_hex(SECRET.as_bytes(), &ts, good.as_bytes())
    );
    let tampered = good.replace("never", "always");
    let r = site.push_raw(
        "hr-portal",
        tampered.as_bytes(),
        &[("X-Digestd-Timestamp", ts), ("X-Digestd-Signature", sig)],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    // Correctly signed, but six minutes old (and six minutes ahead).
    for skew in [-360, 360] {
        let r = site.push_signed_at(&good, now + skew);
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("stale"), "{}", r.body);
    }
    // Bad JSON names the field.
    let bad_date = good.replace("2026-03-02T09:30:00+01:00", "last Tuesday");
    let r = site.push(&bad_date);
    assert_eq!(r.status, 400, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json error body");
    assert_eq!(v["error"], "bad_json");
    assert_eq!(v["field"], "post.created", "{}", r.body);
    let no_author = good.replace(r#""author_email":"Bob@Example.org","#, "");
    let r = site.push(&no_author);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains(r#""field":"post.author_email""#),
        "{}",
        r.body
    );
    let r = site.push("{\"schema\": \"digestd.post.v1\", ");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = site.push(&good.replace("digestd.post.v1", "digestd.post.v2"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains(r#""field":"schema""#), "{}", r.body);
    // Unknown group (signed): 404, and a batch with one unknown group stores none of it.
    let r = site.push(&post_doc("no-such-group", "p-9", "x"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("unknown_group"), "{}", r.body);
    let r = site.push(&format!("[{good},{}]", post_doc("elsewhere", "p-10", "x")));
    assert_eq!(r.status, 404, "{}", r.body);
    // Unknown forum.
    let r = site.push_raw("nowhere", good.as_bytes(), &[]);
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("unknown_forum"), "{}", r.body);

    let (_, posts) = site.stored();
    assert_eq!(posts.len(), 2, "refused pushes stored nothing: {posts:?}");

    // Counted and logged.
    let stored = metric_line(
        &site,
        "digestd_webhook_posts_total{forum=\"hr-portal\",result=\"stored\"}",
    );
    assert_eq!(
        stored.as_deref().and_then(|l| l.rsplit(' ').next()),
        Some("2"),
        "{stored:?}"
    );
    let bad = metric_line(
        &site,
        "digestd_webhook_requests_total{forum=\"hr-portal\",result=\"bad_signature\"}",
    );
    assert_eq!(
        bad.as_deref().and_then(|l| l.rsplit(' ').next()),
        Some("3"),
        "{bad:?}"
    );
    let stale = metric_line(
        &site,
        "digestd_webhook_requests_total{forum=\"hr-portal\",result=\"stale\"}",
    );
    assert_eq!(
        stale.as_deref().and_then(|l| l.rsplit(' ').next()),
        Some("2"),
        "{stale:?}"
    );
    assert!(
        daemon.wait_log("webhook push refused", 12, Duration::from_secs(5)),
        "{}",
        daemon.stderr()
    );
    assert!(
        daemon.stderr().contains("post.created"),
        "{}",
        daemon.stderr()
    );
}

#[test]
fn the_documented_curl_example_is_accepted() {
    let site = Site::new(None);
    let _daemon = site.start();
    for tool in ["curl", "openssl"] {
        assert!(
            support::find_program(tool).is_some(),
            "{tool} is missing: run .ci/install-deps"
        );
    }
    let script = curl_example();
    let out = std::process::Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(&script)
        .env("DIGESTD", format!("http://{}", site.http))
        .env("SECRET_FILE", site.dir.path().join("webhook.key"))
        .current_dir(site.dir.path())
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""result":"stored""#), "{stdout}");
    let (threads, posts) = site.stored();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(threads[0].remote_id, "t-1001");
}

/// The first `sh` block after the heading "Sending a post with curl" in `docs/webhooks.md`.
fn curl_example() -> String {
    let doc = std::fs::read_to_string(support::repo_root().join("docs/webhooks.md")).expect("doc");
    let after = doc
        .split("Sending a post with curl")
        .nth(1)
        .expect("the curl section");
    let block = after.split("```sh\n").nth(1).expect("an sh block");
    block.split("```").next().expect("closed block").to_string()
}

#[test]
fn a_reply_mail_is_posted_signed_as_the_person_in_its_thread_once() {
    let platform = Platform::start(SECRET, &[]);
    let site = Site::new(Some(&platform.url()));
    {
        // The thread arrives the way threads arrive: pushed to the running daemon.
        let mut daemon = site.start();
        let r = site.push(&post_doc("hr", "p-1", "The new policy starts in May."));
        assert_eq!(r.status, 200, "{}", r.body);
        daemon.signal("-TERM");
        assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());
    }
    let token = site.grant("t-1");
    let mail = simple_reply(
        &token,
        ANN,
        "reply-1@example.org",
        "Yes, part-time staff too.",
    );
    site.receive(&mail);
    // The same mail delivered twice (MTA retry): still one post.
    site.receive(&mail);

    let rows = site.inbound_rows();
    assert_eq!(
        rows[0].status,
        InboundStatus::Posted,
        "{:?}",
        rows[0].reason
    );
    assert_eq!(rows[0].posted_remote_id.as_deref(), Some("p-1"));
    // The link the platform returned is kept beside its id.
    assert!(
        rows[0]
            .posted_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://platform.test/t/") && u.ends_with("#p-1")),
        "{:?}",
        rows[0].posted_url
    );
    let received = platform.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].verified, "the platform verified the signature");
    let doc = &received[0].json;
    assert_eq!(doc["schema"], "digestd.reply.v1");
    assert_eq!(doc["group"], "hr");
    assert_eq!(doc["thread"], "t-1");
    assert_eq!(doc["author"]["email"], ANN);
    assert_eq!(doc["author"]["name"], "Ann Example");
    assert_eq!(doc["format"], "markdown");
    assert!(
        doc["body"]
            .as_str()
            .unwrap_or_default()
            .contains("part-time staff too"),
        "{doc}"
    );
    assert!(
        !doc["idempotency_key"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{doc}"
    );
    assert!(
        site.answers().is_empty(),
        "no answer mail for a posted reply"
    );
}

#[test]
fn a_platform_that_fails_keeps_the_reply_queued_and_the_retry_posts_it_exactly_once() {
    let platform = Platform::start(SECRET, &[(500, r#"{"error":"database is down"}"#)]);
    let site = Site::new(Some(&platform.url()));
    seed_thread(&site);
    let token = site.grant("t-1");
    site.receive(&simple_reply(
        &token,
        ANN,
        "reply-2@example.org",
        "Count me in.",
    ));

    let row = site.inbound_rows().pop().expect("stored");
    assert_eq!(row.status, InboundStatus::Queued, "{:?}", row.reason);
    assert!(
        row.reason.as_deref().unwrap_or_default().contains("500"),
        "{:?}",
        row.reason
    );
    let next = row.next_attempt.expect("a retry is planned");
    assert!(next > Utc::now(), "backoff: {next}");
    assert_eq!(platform.received().len(), 1);
    assert!(platform.posts().is_empty());

    // The retry, as the daemon's inbound loop makes it when next_attempt has come.
    let config = site.config();
    let forums = digestd::forum::open_forums(&config);
    let answers = digestd::inbound::wiring::OutboundAnswers::from_config(&config).expect("answers");
    let answerer = digestd::inbound::answer::Answerer::new(Some(&config.templates_dir));
    let pipeline = digestd::inbound::Pipeline::new(&config, &forums, &answers, &answerer);
    let report = pipeline
        .process_queued(&mut site.store(), next, 10)
        .expect("retry");
    assert_eq!(report.posted, 1, "{report}");
    // A later round finds nothing left to do.
    let report = pipeline
        .process_queued(&mut site.store(), next + chrono::Duration::hours(7), 10)
        .expect("later");
    assert_eq!(report.posted, 0, "{report}");

    let row = site.inbound_rows().pop().expect("stored");
    assert_eq!(row.status, InboundStatus::Posted, "{:?}", row.reason);
    let received = platform.received();
    assert_eq!(received.len(), 2, "{received:?}");
    assert_eq!(
        received[0].json["idempotency_key"], received[1].json["idempotency_key"],
        "the retry carries the same key"
    );
    let posts = platform.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(row.posted_remote_id.as_deref(), Some("p-1"));
    assert_eq!(posts[0]["author"]["email"], ANN);
    assert!(
        site.answers().is_empty(),
        "no answer mail for a posted reply"
    );
}

#[test]
fn a_refusal_or_a_read_only_platform_answers_the_person_and_is_not_retried() {
    let platform = Platform::start(SECRET, &[(422, r#"{"error":"no user with this address"}"#)]);
    for post_url in [Some(platform.url()), None] {
        let site = Site::new(post_url.as_deref());
        seed_thread(&site);
        let token = site.grant("t-1");
        site.receive(&simple_reply(
            &token,
            ANN,
            "reply-3@example.org",
            "Count me in.",
        ));
        let row = site.inbound_rows().pop().expect("stored");
        assert_eq!(
            row.status,
            InboundStatus::Answered,
            "{post_url:?}: {:?}",
            row.reason
        );
        assert_eq!(row.reason.as_deref(), Some("forum-refused"));
        let answers = site.answers();
        assert_eq!(answers.len(), 1, "one answer mail: {answers:?}");
        assert!(answers[0].contains(ANN), "{}", answers[0]);
        let why = if post_url.is_some() {
            "no user with this address"
        } else {
            "read-only"
        };
        assert!(
            answers[0].contains(why),
            "the reason reaches the person: {}",
            answers[0]
        );
    }
    assert_eq!(platform.received().len(), 1, "refused once, never retried");
}

/// Stores thread `t-1` of `hr` as a push would (through the store, without a daemon).
fn seed_thread(site: &Site) {
    let doc = post_doc("hr", "p-1", "The new policy starts in May.");
    let posts = digestd::forum::webhook::mapping::parse_posts(doc.as_bytes()).expect("doc");
    let config = site.config();
    let group = config.group("hr-news").expect("group");
    let mut store = site.store();
    store.sync_people(&config.people).expect("people");
    for gb in digestd::forum::webhook::mapping::batches(&posts) {
        store.store_batch(group, &gb.batch).expect("store");
    }
}

#[test]
fn check_config_online_reads_the_secret_and_reaches_post_url() {
    let platform = Platform::start(SECRET, &[]);
    let site = Site::new(Some(&platform.url()));
    let run = |site: &Site| {
        std::process::Command::new(support::bin())
            .args(["check-config", "--online", "-c"])
            .arg(&site.config_path)
            .env_remove("RUST_LOG")
            .output()
            .expect("check-config")
    };
    let out = run(&site);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("forum hr-portal (webhook, 1 groups): ok"),
        "{text}"
    );
    assert_eq!(platform.received()[0].method, "HEAD");

    // Nothing listens at post_url any more.
    let closed = format!("http://127.0.0.1:{}/digestd/posts", free_port());
    let site = Site::new(Some(&closed));
    let out = run(&site);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("forum hr-portal (webhook, 1 groups): FAILED"),
        "{text}"
    );
    assert!(text.contains(&closed), "{text}");
}

#[test]
fn pushed_posts_survive_sigkill_reach_the_digest_and_the_reply_lands_once() {
    let sink = SmtpSink::start();
    let platform = Platform::start(SECRET, &[]);
    let site = Site::with_transport(
        Some(&platform.url()),
        &format!(
            "kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"",
            sink.port()
        ),
    );
    let first = recent(post_doc("hr", "p-1", "The new policy starts in May."));
    let second = recent(post_doc(
        "hr",
        "p-2",
        "Part-time staff are covered pro rata.",
    ));
    {
        let mut daemon = site.start();
        assert_eq!(site.push(&first).status, 200);
        assert_eq!(site.push(&second).status, 200);
        // Killed without a chance to clean up, then started again on the same store.
        daemon.signal("-KILL");
        assert!(daemon.wait_exit(Duration::from_secs(10)).is_some());
    }
    {
        let mut daemon = site.start();
        // The platform retries a push it did not see answered: still two posts.
        let r = site.push(&second);
        assert!(r.body.contains(r#""result":"duplicate""#), "{}", r.body);
        assert_eq!(site.stored().1.len(), 2);
        daemon.signal("-TERM");
        assert!(daemon.wait_exit(Duration::from_secs(30)).is_some());
    }

    let out = support::daemon::digestd(&site.config_path, &["send-now"]);
    assert!(out.status.success());
    let digests = sink.wait_for(1, Duration::from_secs(10));
    let digest = digests
        .iter()
        .find(|m| m.rcpt_to.iter().any(|r| r == ANN))
        .expect("a digest for ann");
    let text = digest.parsed().body_text(0).expect("text").to_string();
    assert!(text.contains("New leave policy"), "{text}");
    assert!(text.contains("pro rata"), "{text}");
    let token = regex::Regex::new(r"reply\+([0-9a-f]{40})@reply\.test\.example")
        .expect("regex")
        .captures(&text)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("a reply address in {text}"));
    let token = ReplyToken::parse(&token).expect("token");

    let mail = simple_reply(&token, ANN, "e2e-1@example.org", "Good news, thanks.");
    site.receive(&mail);
    site.receive(&mail);
    let posts = platform.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(platform.received().len(), 1);
    assert_eq!(posts[0]["thread"], "t-1");
    assert_eq!(posts[0]["group"], "hr");
    assert_eq!(posts[0]["author"]["email"], ANN);
    assert_eq!(posts[0]["author"]["name"], "Ann Example");
    assert!(posts[0]["body"]
        .as_str()
        .unwrap_or_default()
        .contains("Good news"));
    assert_eq!(
        sink.messages().len(),
        digests.len(),
        "no answer mail for a posted reply"
    );
}

#[test]
fn a_new_thread_by_mail_is_opened_on_the_platform_once() {
    let platform = Platform::start(SECRET, &[]);
    let site = Site::new(Some(&platform.url()));
    // New threads by mail need a server the config trusts to vouch for the sender.
    let toml = std::fs::read_to_string(&site.config_path).expect("config");
    let toml = toml.replace(
        "[inbound]\n",
        "[inbound]\ntrusted_authserv_ids = [\"mx.test.example\"]\n",
    );
    std::fs::write(&site.config_path, toml).expect("config");
    seed_thread(&site);
    // Ann (whose role follows hr-news) mails the group's address; the trusted server vouches.
    let mail = replace(
        &fixture("new-thread.eml", None),
        b"group+general@",
        b"group+hr-news@",
    );
    site.receive(&mail);
    site.receive(&mail);
    let row = site.inbound_rows().pop().expect("stored");
    assert_eq!(row.status, InboundStatus::Posted, "{:?}", row.reason);
    assert_eq!(row.posted_remote_id.as_deref(), Some("p-1"));
    let received = platform.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].verified);
    let doc = &received[0].json;
    assert_eq!(doc["schema"], "digestd.thread.v1");
    assert_eq!(doc["group"], "hr");
    assert_eq!(doc["title"], "Parking at the town hall");
    assert_eq!(doc["author"]["email"], ANN);
    assert_eq!(doc["idempotency_key"], "new-thread@mail.example.org");
    assert!(doc.get("thread").is_none(), "{doc}");
    assert!(doc["body"]
        .as_str()
        .unwrap_or_default()
        .contains("visitors can park"));
}
