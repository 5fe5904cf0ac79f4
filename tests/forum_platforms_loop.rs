//! End to end on the Discourse and feed connectors with the real binary: posts on the platform
//! → `digestd send-now` collects them → the digest reaches smtp-sink → the reply mail goes
//! through `digestd receive` → the platform got the reply as the right user in the right topic,
//! once (Discourse), or the person gets an answer that links the item (a read-only feed, or a
//! person without an account on Discourse).

mod support;

use std::path::Path;
use std::time::Duration;

use support::config::{GroupSpec, RoleSpec, Spec};
use support::discourse::FakeDiscourse;
use support::discourse::Fault;
use support::feed_server::{Doc, FeedServer};
use support::{repo_root, start_daemon, stop_daemon, wait_until, SmtpSink, SunkMessage};

const KEY: &str = "e2e-key-abcdef";

/// The test organisation on `forums`: group `youth-care` on the platform named in `source`
/// (plus `more` groups), Anna and Carla as youth workers, mail to smtp-sink on `port`, replies
/// from the Maildir `inbox`.
fn platform_spec(port: u16, forums: &str, source: &str, more: Vec<GroupSpec>) -> Spec {
    let mut groups = vec![GroupSpec {
        id: "youth-care".into(),
        name: "Youth care".into(),
        extra: source.into(),
    }];
    groups.extend(more);
    let group_ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let group_ids: Vec<&str> = group_ids.iter().map(String::as_str).collect();
    Spec {
        transport: Spec::smtp(port),
        forums: forums.into(),
        groups,
        roles: vec![RoleSpec::new(
            "youth-worker",
            &group_ids,
            "0 0 7 * * Mon-Fri",
            "time_zone = \"Europe/Amsterdam\"",
        )],
        people: vec![
            ("anna@example.org".into(), "Anna".into()),
            ("carla@example.org".into(), "Carla".into()),
        ],
        person_roles: vec!["youth-worker".into()],
        person_extra: String::new(),
        tail: "[inbound]\nmaildir = \"inbox\"\n\n[daemon]\ninbound_poll_secs = 1\n".into(),
        ..Spec::default()
    }
}

/// [`platform_spec`] with the group `youth-care` only, as TOML.
fn config_text(port: u16, forums: &str, source: &str) -> String {
    platform_spec(port, forums, source, Vec::new()).render()
}

/// `digestd ARGS -c CONFIG` through the tests' one runner.
fn digestd(config: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    support::run_digestd(config, args, stdin)
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The digest sent to `who`, its text part, reply token and Message-ID.
fn digest_for(messages: &[SunkMessage], who: &str) -> (String, String, String) {
    let m = messages
        .iter()
        .find(|m| m.rcpt_to.iter().any(|r| r == who))
        .unwrap_or_else(|| panic!("no digest for {who}"));
    let parsed = m.parsed();
    let text = parsed.body_text(0).expect("text part").to_string();
    let token = regex::Regex::new(r"reply\+([0-9a-f]{40})@reply\.testdam\.example")
        .expect("regex")
        .captures(&text)
        .map(|c| c[1].to_owned())
        .unwrap_or_else(|| panic!("a reply address in {text}"));
    let id = parsed.message_id().expect("Message-ID").to_owned();
    (text, token, id)
}

fn reply(from: &str, token: &str, digest_id: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\n\
         To: reply+{token}@reply.testdam.example\r\n\
         Subject: Re: Rota changes\r\n\
         Message-ID: <{message_id}>\r\n\
         In-Reply-To: <{digest_id}>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {body}\r\n\
         \r\n\
         On Mon, 23 Nov 2026 at 07:00, Testdam Groups <digest@testdam.example> wrote:\r\n\
         > New rota from April\r\n"
    )
    .into_bytes()
}

/// The answer mail sent to `who` after the digests (at most 10 s).
fn answer_for(sink: &SmtpSink, count: usize, who: &str) -> String {
    let all = sink.wait_for(count, Duration::from_secs(10));
    let m = all
        .iter()
        .rev()
        .find(|m| m.rcpt_to.iter().any(|r| r == who))
        .unwrap_or_else(|| panic!("no answer for {who}"));
    let parsed = m.parsed();
    format!(
        "{}\n{}",
        parsed.subject().unwrap_or_default(),
        parsed.body_text(0).unwrap_or_default()
    )
}

#[test]
fn discourse_posts_reach_the_digest_and_a_reply_lands_as_the_person_once() {
    let sink = SmtpSink::start();
    let site = FakeDiscourse::start(KEY);
    let topic = {
        let mut s = site.state();
        let t = s.add_topic(5, "Rota changes", "bert", "New rota from April");
        s.add_post(t, "bert", "Weekend shifts rotate every four weeks.");
        t
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("discourse-key");
    std::fs::write(&key_file, format!("{KEY}\n")).expect("key file");
    let forum = format!(
        "[forums.city-discourse]\nkind = \"discourse\"\nurl = \"{}\"\napi_key_file = \"{}\"\n",
        site.url(),
        key_file.display()
    );
    let config = dir.path().join("digestd.toml");
    std::fs::write(
        &config,
        config_text(
            sink.port(),
            &forum,
            "forum = \"city-discourse\"\ncategory = \"youth-care\"",
        ),
    )
    .expect("config");

    ok(&digestd(&config, &["send-now"], None), "send-now");
    let digests = sink.wait_for(2, Duration::from_secs(10));
    let (text, token, digest_id) = digest_for(&digests, "anna@example.org");
    assert!(text.contains("Rota changes"), "{text}");
    assert!(text.contains("rotate every four weeks"), "{text}");

    let mail = reply(
        "Anna <Anna@Example.org>",
        &token,
        &digest_id,
        "anna-1@mail.example.org",
        "Works for us, thanks.",
    );
    ok(&digestd(&config, &["receive"], Some(&mail)), "receive");
    ok(
        &digestd(&config, &["receive"], Some(&mail)),
        "receive again",
    );
    {
        let s = site.state();
        let posts = s.requests_to("POST", "/posts.json");
        assert_eq!(posts.len(), 1, "posted once: {posts:?}");
        assert_eq!(posts[0].api_username.as_deref(), Some("anna"));
        let body = posts[0].body.as_ref().expect("JSON body");
        assert_eq!(body["topic_id"], topic);
        let raw = body["raw"].as_str().unwrap_or_default();
        assert!(raw.contains("Works for us, thanks."), "{raw}");
        assert!(!raw.contains("wrote:"), "quote trimmed: {raw}");
    }

    // Carla gets digests but has no account on the forum: an answer, no post.
    let (_, carla_token, carla_digest) = digest_for(&digests, "carla@example.org");
    let mail = reply(
        "Carla <carla@example.org>",
        &carla_token,
        &carla_digest,
        "carla-1@mail.example.org",
        "Me too.",
    );
    ok(
        &digestd(&config, &["receive"], Some(&mail)),
        "receive carla",
    );
    let answer = answer_for(&sink, 3, "carla@example.org");
    assert!(
        answer.contains("carla@example.org has no account"),
        "{answer}"
    );
    assert!(
        answer.contains(&format!("/t/rota-changes/{topic}")),
        "{answer}"
    );
    assert_eq!(site.state().requests_to("POST", "/posts.json").len(), 1);
}

#[test]
fn feed_entries_reach_the_digest_and_a_reply_is_answered_with_the_item_link() {
    let sink = SmtpSink::start();
    let server = FeedServer::start();
    let recent = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc2822();
    let xml = std::fs::read_to_string(repo_root().join("tests/fixtures/feeds/wordpress_rss2.xml"))
        .expect("fixture")
        .replace("Tue, 03 Mar 2026 08:12:44 +0000", &recent)
        .replace("Mon, 02 Mar 2026 14:30:00 +0000", &recent);
    server.put("/feed/", Doc::xml(&xml, "\"wp\""));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("digestd.toml");
    let group = format!(
        "forum = \"intranet\"\nfeed_url = \"{}\"",
        server.url("/feed/")
    );
    std::fs::write(
        &config,
        config_text(sink.port(), "[forums.intranet]\nkind = \"feed\"\n", &group),
    )
    .expect("config");

    ok(&digestd(&config, &["send-now"], None), "send-now");
    let digests = sink.wait_for(2, Duration::from_secs(10));
    let (text, token, digest_id) = digest_for(&digests, "anna@example.org");
    assert!(text.contains("Safeguarding course dates"), "{text}");

    let mail = reply(
        "Anna <anna@example.org>",
        &token,
        &digest_id,
        "anna-f@mail.example.org",
        "Thanks!",
    );
    ok(&digestd(&config, &["receive"], Some(&mail)), "receive");
    let answer = answer_for(&sink, 3, "anna@example.org");
    assert!(answer.contains("read-only feed"), "{answer}");
    assert!(
        answer.contains("https://intranet.example.org/2026/03/0"),
        "the item's link: {answer}"
    );
    let polls = server.seen().len();
    assert!(polls >= 1);
}

/// The inbound row of `message_id` in the store: (status, attempts).
fn inbound_state(store: &Path, message_id: &str) -> Option<(String, i64)> {
    let conn = rusqlite::Connection::open(store).expect("store");
    conn.query_row(
        "SELECT status, attempts FROM inbound_messages WHERE message_id = ?1",
        [message_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

/// Makes every queued retry due now (instead of after the pipeline's one-minute backoff).
fn make_retries_due(store: &Path) {
    let conn = rusqlite::Connection::open(store).expect("store");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn.execute(
        "UPDATE inbound_messages SET next_attempt = 0 WHERE status = 'queued'",
        [],
    )
    .expect("update");
}

#[test]
fn a_reply_waits_while_discourse_fails_and_lands_once_across_a_sigkill() {
    let sink = SmtpSink::start();
    let site = FakeDiscourse::start(KEY);
    let topic = site
        .state()
        .add_topic(5, "Rota changes", "bert", "New rota from April");
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("discourse-key");
    std::fs::write(&key_file, KEY).expect("key file");
    let forum = format!(
        "[forums.city-discourse]\nkind = \"discourse\"\nurl = \"{}\"\napi_key_file = \"{}\"\n",
        site.url(),
        key_file.display()
    );
    let config = dir.path().join("digestd.toml");
    std::fs::write(
        &config,
        config_text(
            sink.port(),
            &forum,
            "forum = \"city-discourse\"\ncategory = \"youth-care\"",
        ),
    )
    .expect("config");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(dir.path().join("inbox").join(sub)).expect("inbox");
    }
    let store = dir.path().join("digestd.sqlite");
    ok(&digestd(&config, &["send-now"], None), "send-now");
    let digests = sink.wait_for(2, Duration::from_secs(10));
    let (_, token, digest_id) = digest_for(&digests, "anna@example.org");
    let text = "Count me in for the first weekend.";
    let mail = reply(
        "Anna <anna@example.org>",
        &token,
        &digest_id,
        "anna-k@mail.example.org",
        text,
    );

    // Discourse fails the post: the reply is stored and stays queued.
    site.state()
        .fail_next("POST", "/posts.json", Fault::Status(500, None));
    ok(&digestd(&config, &["receive"], Some(&mail)), "receive");
    let (status, attempts) = inbound_state(&store, "anna-k@mail.example.org").expect("stored");
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    assert!(site.state().posts.iter().all(|p| p.raw != text));

    // Discourse is back but its answer to the post is lost: the daemon is killed (SIGKILL)
    // while waiting for it, after the post was made.
    site.state().fail_next(
        "POST",
        "/posts.json",
        Fault::DelayAfter(Duration::from_secs(60)),
    );
    make_retries_due(&store);
    let mut daemon = start_daemon(&config);
    let posted = wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        site.state().posts.iter().any(|p| p.raw.contains(text))
    });
    daemon.kill().expect("SIGKILL");
    let _ = daemon.wait();
    assert!(posted, "the retry reached Discourse");

    // Restarted, the daemon finds the post made before the kill and does not post again.
    make_retries_due(&store);
    let mut daemon = start_daemon(&config);
    let done = wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        inbound_state(&store, "anna-k@mail.example.org").is_some_and(|(s, _)| s == "posted")
    });
    let _ = stop_daemon(&mut daemon);
    assert!(done, "marked posted after the restart");
    let s = site.state();
    let mine: Vec<_> = s.posts.iter().filter(|p| p.raw.contains(text)).collect();
    assert_eq!(mine.len(), 1, "posted exactly once");
    assert_eq!(
        s.requests_to("POST", "/posts.json").len(),
        2,
        "the failed attempt and the one whose answer was lost; none after the restart"
    );
    assert_eq!(mine[0].username, "anna");
    assert_eq!(mine[0].topic_id, topic);
}

#[test]
fn check_config_online_reaches_discourse_and_the_feeds_and_says_what_is_missing() {
    // `--online` also connects to the mail relay: a real one that answers.
    let sink = SmtpSink::start();
    let site = FakeDiscourse::start(KEY);
    let server = FeedServer::start();
    let mut doc = Doc::xml(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/feeds/wordpress_rss2.xml"))
            .expect("fixture"),
        "\"wp\"",
    );
    doc.authorization = Some("Bearer intranet-token".into());
    server.put("/feed/", doc);
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("discourse-key");
    std::fs::write(&key_file, KEY).expect("key file");
    let auth_file = dir.path().join("intranet-authorization");
    std::fs::write(&auth_file, "Bearer intranet-token\n").expect("authorization file");
    let config = dir.path().join("digestd.toml");
    let write = |category: &str, feed_path: &str| {
        let forums = format!(
            "[forums.city-discourse]\nkind = \"discourse\"\nurl = \"{}\"\napi_key_file = \"{}\"\n\n\
             [forums.intranet]\nkind = \"feed\"\nauthorization_file = \"{}\"\n",
            site.url(),
            key_file.display(),
            auth_file.display()
        );
        let news = GroupSpec::on(
            "news",
            "News",
            "intranet",
            &format!("feed_url = \"{}\"", server.url(feed_path)),
        );
        let text = platform_spec(
            sink.port(),
            &forums,
            &format!("forum = \"city-discourse\"\ncategory = \"{category}\""),
            vec![news],
        )
        .render();
        std::fs::write(&config, text).expect("config");
    };

    write("youth-care", "/feed/");
    let out = digestd(&config, &["check-config", "--online"], None);
    ok(&out, "check-config --online");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains("forum city-discourse (discourse, 1 groups): ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("forum intranet (feed, 1 groups): ok"),
        "{stdout}"
    );

    write("no-such-category", "/missing.xml");
    let out = digestd(&config, &["check-config", "--online"], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains("forum city-discourse (discourse, 1 groups): FAILED")
            && stdout.contains("category \"no-such-category\"")
            && stdout.contains("youth-care (5)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("forum intranet (feed, 1 groups): FAILED")
            && stdout.contains("does not exist"),
        "{stdout}"
    );
}
