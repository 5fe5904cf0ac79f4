//! The Matrix connector against a real Synapse on 127.0.0.1 (tests/support/synapse.rs): rooms
//! collected page by page into a real store (roots, thread replies, HTML, authors mapped back
//! to people), cursors that survive a restart without duplicates, replies and new threads posted
//! as the person in the right thread exactly once, and the errors: a stopped server is
//! transient, an unknown room or an unmappable person is refused with a clear reason.

mod support;

use digestd::collect::collect_groups;
use digestd::forum::matrix::people::Directory;
use digestd::forum::matrix::{Connection, MatrixForum};
use digestd::forum::{Author, Cursor, Forum};
use digestd::model::{ForumKind, Group, GroupSource};
use digestd::store::Store;
use serde_json::{json, Value};

use digestd::bench::synapse::Synapse;
use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};
use support::synapse::{self as hs, unique, Hs};

/// The bot's localpart in every test.
const BOT: &str = "digestd-bot";

fn connection(synapse: &Synapse) -> Connection {
    Connection {
        homeserver: synapse.base_url(),
        server_name: synapse.server_name().to_string(),
        as_token: synapse.as_token().to_string(),
        bot_user: BOT.to_string(),
        user_id_template: String::new(),
    }
}

/// People of the tests: Anna by the template, Bob by an explicit matrix id.
fn people(anna: &str, bob: &str, bob_id: &str) -> Directory {
    Directory::new(
        "",
        "digestd.test",
        [
            (anna, "Anna de Vries", None),
            (bob, "Bob Bakker", Some(bob_id)),
        ],
    )
}

fn group(id: &str, room: &str) -> Group {
    Group {
        id: id.to_string(),
        name: id.to_string(),
        forum: ForumKind::Matrix,
        forum_name: "city-matrix".into(),
        source: GroupSource::Matrix {
            room: room.to_string(),
        },
    }
}

/// (post remote id, thread remote id, author email, author name, format, body) of a group's
/// stored posts, oldest first; read from the store's file.
fn stored_posts(
    store: &Store,
    group: &str,
) -> Vec<(String, String, String, String, String, String)> {
    let conn = rusqlite::Connection::open(store.path()).expect("open store");
    let mut st = conn
        .prepare(
            "SELECT p.remote_id, t.remote_id, p.author_email, p.author_name, p.body_format, p.body
             FROM posts p JOIN threads t ON t.id = p.thread_id
             WHERE p.group_id = ?1 ORDER BY p.created, p.id",
        )
        .expect("prepare");
    let rows = st
        .query_map([group], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, String>(4)?,
                r.get(5)?,
            ))
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

fn thread_title(store: &Store, group: &str, remote: &str) -> String {
    let conn = rusqlite::Connection::open(store.path()).expect("open store");
    conn.query_row(
        "SELECT title FROM threads WHERE group_id = ?1 AND remote_id = ?2",
        [group, remote],
        |r| r.get(0),
    )
    .expect("thread")
}

/// A room on `synapse` made by Anna, with Bob, Zed (nobody in the config) and the bot invited
/// and Bob and Zed joined. Returns (hs, room id, alias, anna, bob, zed user ids, emails).
struct Scene<'a> {
    hs: Hs<'a>,
    room: String,
    alias: String,
    anna: String,
    bob: String,
    zed: String,
    anna_email: String,
    bob_email: String,
}

fn scene(synapse: &Synapse) -> Scene<'_> {
    let hs = Hs::new(synapse);
    let tag = unique("t");
    let anna_local = format!("anna{tag}");
    let anna = hs.register(&anna_local, "Anna de Vries");
    let bob = hs.register(&format!("robert{tag}"), "Robert B.");
    let zed = hs.register(&format!("zed{tag}"), "Zed Outsider");
    let bot = hs.register(BOT, "digestd");
    let alias_local = format!("room{tag}");
    let room = hs.create_room(&anna, &alias_local, &[&bob, &zed, &bot]);
    hs.join(&bob, &room);
    hs.join(&zed, &room);
    Scene {
        hs,
        room,
        alias: format!("#{alias_local}:digestd.test"),
        anna,
        bob,
        zed,
        anna_email: format!("{anna_local}@city.example"),
        bob_email: format!("bob{tag}@city.example"),
    }
}

#[test]
fn rooms_are_collected_page_by_page_with_threads_people_and_no_duplicates() {
    let Some(synapse) = hs::shared() else { return };
    let s = scene(synapse);
    let r1 =
        s.hs.say(&s.anna, &s.room, "**Budget 2027**\nWho has the figures?");
    let r2 = s.hs.send(
        &s.zed,
        &s.room,
        json!({"msgtype": "m.text", "body": "See this", "format": "org.matrix.custom.html",
               "formatted_body": "<p>See <b>this</b></p>"}),
    );
    let a1 = s.hs.reply_in_thread(&s.bob, &s.room, &r1, "I have them.");
    let a2 = s.hs.reply_in_thread(&s.anna, &s.room, &r1, "Thanks Bob!");
    // Not posts: a reaction and an edit.
    s.hs.call(
        "PUT",
        &format!(
            "/rooms/{}/send/m.reaction/{}",
            hs::enc(&s.room),
            unique("r")
        ),
        Some(&s.bob),
        Some(json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": r1, "key": "👍"}})),
    );
    s.hs.send(
        &s.anna,
        &s.room,
        json!({"msgtype": "m.text", "body": "* fixed", "m.new_content": {"msgtype": "m.text", "body": "fixed"},
               "m.relates_to": {"rel_type": "m.replace", "event_id": r1}}),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("store.sqlite");
    let g = group("budget", &s.alias);
    let directory = || people(&s.anna_email, &s.bob_email, &s.bob);
    // Two posts a page: the replies' root is on an earlier page.
    {
        let mut store = Store::open(&store_path).expect("store");
        let forum = MatrixForum::new(&connection(synapse), directory());
        let first = forum.fetch_since(&g, None, 2).expect("page 1");
        assert_eq!(first.posts.len(), 2, "{first:?}");
        assert!(first.more);
        store.store_batch(&g, &first).expect("store page 1");
    }
    // "Restart": a new connector (nothing remembered) and the store reopened from its cursor.
    let mut store = Store::open(&store_path).expect("store");
    let forum = MatrixForum::new(&connection(synapse), directory());
    let cursor = store.cursor("budget").expect("cursor").expect("a cursor");
    assert!(!cursor.0.is_empty());
    let second = forum.fetch_since(&g, Some(&cursor), 2).expect("page 2");
    assert_eq!(second.posts.len(), 2, "{second:?}");
    let root_thread = second
        .threads
        .iter()
        .find(|t| t.remote_id == r1)
        .expect("the replies bring their root's thread");
    assert_eq!(root_thread.title, "Budget 2027");
    store.store_batch(&g, &second).expect("store page 2");
    // The rest through the collection loop: nothing new, nothing doubled.
    let report = collect_groups(&mut store, &[(&g, &forum as &dyn Forum)]);
    assert_eq!((report.posts, report.groups_failed), (0, 0), "{report}");

    let posts = stored_posts(&store, "budget");
    let ids: Vec<&str> = posts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(ids, [r1.as_str(), r2.as_str(), a1.as_str(), a2.as_str()]);
    let threads: Vec<&str> = posts.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(
        threads,
        [r1.as_str(), r2.as_str(), r1.as_str(), r1.as_str()]
    );
    assert_eq!(posts[0].2, s.anna_email, "Anna by the template");
    assert_eq!(posts[0].3, "Anna de Vries");
    assert_eq!(posts[2].2, s.bob_email, "Bob by his matrix_id");
    assert_eq!(
        posts[1].2, s.zed,
        "someone outside the config keeps their user id"
    );
    assert_eq!(posts[1].3, "Zed Outsider");
    assert_eq!(posts[1].4, "html");
    assert_eq!(posts[1].5, "<p>See <b>this</b></p>");
    assert_eq!(posts[0].4, "markdown");
    assert_eq!(thread_title(&store, "budget", &r1), "Budget 2027");

    // New activity later: exactly the new post, from the stored cursor.
    let a3 = s.hs.reply_in_thread(&s.zed, &s.room, &r2, "And that.");
    let report = collect_groups(&mut store, &[(&g, &forum as &dyn Forum)]);
    assert_eq!(report.posts, 1, "{report}");
    let report = collect_groups(&mut store, &[(&g, &forum as &dyn Forum)]);
    assert_eq!(report.posts, 0, "{report}");
    let posts = stored_posts(&store, "budget");
    assert_eq!(posts.len(), 5);
    assert_eq!(
        (posts[4].0.as_str(), posts[4].1.as_str()),
        (a3.as_str(), r2.as_str())
    );
    // The same room by its id collects the same posts (a second group, same room).
    let by_id = group("budget-by-id", &s.room);
    let batch = forum.fetch_since(&by_id, None, 100).expect("by id");
    assert_eq!(batch.posts.len(), 5);
}

fn thread_of(event: &Value) -> Option<&str> {
    event["content"]["m.relates_to"]
        .as_object()
        .filter(|r| r.get("rel_type").and_then(Value::as_str) == Some("m.thread"))
        .and_then(|r| r.get("event_id"))
        .and_then(Value::as_str)
}

#[test]
fn a_reply_is_posted_as_the_person_in_the_thread_once() {
    let Some(synapse) = hs::shared() else { return };
    let s = scene(synapse);
    let root = s.hs.say(&s.zed, &s.room, "Who covers the Friday shift?");
    let other = s.hs.say(&s.zed, &s.room, "Unrelated");
    // Carol has never been on Matrix: registered, invited and joined on her first reply.
    let tag = unique("c");
    let carol_email = format!("Carol{tag}@City.example");
    let mut directory_people = vec![(s.anna_email.as_str(), "Anna de Vries", None)];
    directory_people.push((carol_email.as_str(), "Carol Jansen", None));
    let forum = MatrixForum::new(
        &connection(synapse),
        Directory::new("", "digestd.test", directory_people),
    );
    let g = group("shifts", &s.alias);
    let carol = Author {
        email: carol_email.to_lowercase(),
        name: "Carol Jansen".into(),
    };
    let key = format!("<{tag}@mail.city.example>");
    let posted = forum
        .post_reply(&g, &root, &carol, "I can **take** it.", &key)
        .expect("posted");
    assert_eq!(posted.remote_thread_id, root);
    // A retry (same idempotency key) is the same event, not a second message.
    let again = forum
        .post_reply(&g, &root, &carol, "I can **take** it.", &key)
        .expect("posted again");
    assert_eq!(again.remote_post_id, posted.remote_post_id);
    // Also from a fresh connector (a restarted daemon retrying the queued reply).
    let fresh = MatrixForum::new(
        &connection(synapse),
        Directory::new(
            "",
            "digestd.test",
            [(carol.email.as_str(), "Carol Jansen", None)],
        ),
    );
    let third = fresh
        .post_reply(&g, &root, &carol, "I can **take** it.", &key)
        .expect("posted a third time");
    assert_eq!(third.remote_post_id, posted.remote_post_id);

    // Read back as Zed: one message by Carol's own user, in the root's thread, HTML rendered.
    let carol_id = format!("@carol{}:digestd.test", tag.to_lowercase());
    let events = s.hs.messages(&s.zed, &s.room);
    let by_carol: Vec<&Value> = events.iter().filter(|e| e["sender"] == carol_id).collect();
    assert_eq!(by_carol.len(), 1, "{events:#?}");
    let reply = by_carol[0];
    assert_eq!(reply["event_id"], posted.remote_post_id.as_str());
    assert_eq!(thread_of(reply), Some(root.as_str()));
    assert_eq!(reply["content"]["body"], "I can **take** it.");
    assert_eq!(
        reply["content"]["formatted_body"],
        "<p>I can <strong>take</strong> it.</p>"
    );
    assert_eq!(
        reply["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        root.as_str()
    );
    // Her display name is her name.
    let profile = s.hs.call(
        "GET",
        &format!("/profile/{}/displayname", hs::enc(&carol_id)),
        None,
        None,
    );
    assert_eq!(profile["displayname"], "Carol Jansen");
    // The other thread got nothing.
    assert!(events.iter().all(|e| thread_of(e) != Some(other.as_str())));

    // Anna (already in the room) replies too; collecting maps both back to the people.
    let anna = Author {
        email: s.anna_email.clone(),
        name: "Anna de Vries".into(),
    };
    forum
        .post_reply(&g, &root, &anna, "Thanks Carol", &format!("<a{tag}@x>"))
        .expect("anna posts");
    let batch = forum.fetch_since(&g, None, 100).expect("collect");
    let authors: Vec<(&str, &str)> = batch
        .posts
        .iter()
        .filter(|p| p.thread_remote_id == root)
        .map(|p| (p.post.author_email.as_str(), p.post.author_name.as_str()))
        .collect();
    assert_eq!(
        authors,
        [
            (s.zed.as_str(), "Zed Outsider"),
            (carol.email.as_str(), "Carol Jansen"),
            (s.anna_email.as_str(), "Anna de Vries")
        ]
    );
}

#[test]
fn a_new_thread_is_opened_as_the_person_and_collected_with_its_title() {
    let Some(synapse) = hs::shared() else { return };
    let s = scene(synapse);
    let forum = MatrixForum::new(
        &connection(synapse),
        people(&s.anna_email, &s.bob_email, &s.bob),
    );
    let g = group("new-threads", &s.room);
    let bob = Author {
        email: s.bob_email.clone(),
        name: "Bob Bakker".into(),
    };
    let posted = forum
        .create_thread(&g, &bob, "Winter rota", "Who is **in**?", "<new-1@x>")
        .expect("created");
    assert_eq!(posted.remote_thread_id, posted.remote_post_id);
    assert!(
        posted.url.starts_with("https://matrix.to/#/"),
        "{}",
        posted.url
    );
    let events = s.hs.messages(&s.anna, &s.room);
    let root = events
        .iter()
        .find(|e| e["event_id"] == posted.remote_post_id.as_str())
        .expect("the new root is in the room");
    assert_eq!(root["sender"], s.bob.as_str(), "as Bob's own matrix_id");
    assert_eq!(root["content"]["body"], "**Winter rota**\n\nWho is **in**?");
    assert!(thread_of(root).is_none());
    let batch = forum.fetch_since(&g, None, 100).expect("collect");
    let thread = batch
        .threads
        .iter()
        .find(|t| t.remote_id == posted.remote_thread_id)
        .expect("thread");
    assert_eq!(thread.title, "Winter rota");
}

#[test]
fn unknown_rooms_bad_threads_and_unmappable_people_are_refused_clearly() {
    let Some(synapse) = hs::shared() else { return };
    let s = scene(synapse);
    let forum = MatrixForum::new(
        &connection(synapse),
        people(&s.anna_email, &s.bob_email, &s.bob),
    );
    let e = forum
        .fetch_since(&group("g", "#no-such-room:digestd.test"), None, 10)
        .expect_err("unknown alias");
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("#no-such-room:digestd.test"), "{e}");
    let e = forum
        .fetch_since(&group("g", "!nosuchroom:digestd.test"), None, 10)
        .expect_err("unknown room id");
    assert!(!e.is_transient(), "{e}");
    assert!(
        e.to_string().contains("digestd-bot"),
        "says who to invite: {e}"
    );
    let e = forum
        .fetch_since(&group("g", "youth-care"), None, 10)
        .expect_err("not an address");
    assert!(e.to_string().contains("neither a room id"), "{e}");
    let e = forum
        .fetch_since(&group("g", &s.room), Some(&Cursor("garbage".into())), 10)
        .expect_err("bad cursor");
    assert!(!e.is_transient(), "{e}");

    let g = group("g", &s.room);
    let anna = Author {
        email: s.anna_email.clone(),
        name: "Anna".into(),
    };
    let e = forum
        .post_reply(&g, "42", &anna, "x", "<k1@x>")
        .expect_err("not an event id");
    assert!(e.to_string().contains("not a Matrix event id"), "{e}");
    let jorn = Author {
        email: "jörn@city.example".into(),
        name: "Jörn".into(),
    };
    let e = forum
        .create_thread(&g, &jorn, "t", "x", "<k2@x>")
        .expect_err("no valid user id");
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("matrix_id"), "{e}");

    // check-config --online: a good room passes, a bad one is named with its group.
    forum.check_online(&[&g]).expect("the room is fine");
    let bad = group("ghost", "#ghost:digestd.test");
    let e = forum.check_online(&[&g, &bad]).expect_err("ghost room");
    assert!(e.to_string().contains("group ghost"), "{e}");
    let wrong_token = MatrixForum::new(
        &Connection {
            as_token: "not-the-token".into(),
            ..connection(synapse)
        },
        Directory::default(),
    );
    let e = wrong_token.check_online(&[&g]).expect_err("bad token");
    assert!(e.to_string().contains("as_token"), "{e}");
}

#[test]
fn a_stopped_homeserver_is_transient_and_collection_resumes_after_it_returns() {
    let Some(mut synapse) = hs::own() else { return };
    let (room, anna) = {
        let s = scene(&synapse);
        s.hs.say(&s.anna, &s.room, "first");
        (s.room.clone(), s.anna.clone())
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
    let forum = MatrixForum::new(
        &connection(&synapse),
        Directory::new("", "digestd.test", std::iter::empty()),
    );
    let g = group("ops", &room);
    let report = collect_groups(&mut store, &[(&g, &forum as &dyn Forum)]);
    assert_eq!(report.posts, 1, "{report}");

    synapse.stop();
    let e = forum.fetch_since(&g, None, 10).expect_err("down");
    assert!(e.is_transient(), "{e}");
    let author = Author {
        email: "anna@city.example".into(),
        name: "Anna".into(),
    };
    let e = forum
        .create_thread(&g, &author, "t", "x", "<down@x>")
        .expect_err("down");
    assert!(e.is_transient(), "{e}");
    let report = collect_groups(&mut store, &[(&g, &forum as &dyn Forum)]);
    assert_eq!(report.groups_failed, 1, "{report}");

    synapse.restart().expect("restart");
    Hs::new(&synapse).say(&anna, &room, "second");
    let report = collect_groups(&mut store, &[(&g, &forum as &dyn Forum)]);
    assert_eq!((report.posts, report.groups_failed), (1, 0), "{report}");
    assert_eq!(stored_posts(&store, "ops").len(), 2);
}

/// The configuration of the end-to-end test: one Matrix forum, one group on it, Anna.
fn loop_config(
    dir: &std::path::Path,
    synapse: &Synapse,
    sink_port: u16,
    alias: &str,
    anna: &str,
    anna_matrix_id: Option<&str>,
) -> std::path::PathBuf {
    std::fs::write(dir.join("as-token"), synapse.as_token()).expect("token file");
    let forums = format!(
        "[forums.city-matrix]\nkind = \"matrix\"\nhomeserver = \"{}\"\n\
         server_name = \"digestd.test\"\nas_token_file = \"as-token\"\n\
         bot_user = \"{BOT}\"\npoll_seconds = 30\n",
        synapse.base_url()
    );
    let spec = Spec {
        organisation: "Testdam".into(),
        transport: Spec::smtp(sink_port),
        forums,
        groups: vec![GroupSpec::on(
            "home-visits",
            "Home visits",
            "city-matrix",
            &format!("room = \"{alias}\""),
        )],
        roles: vec![RoleSpec::new(
            "social-worker",
            &["home-visits"],
            "0 0 7 * * Mon-Fri",
            "time_zone = \"Europe/Amsterdam\"",
        )],
        people: Vec::new(),
        persons: vec![PersonSpec::new(
            anna,
            "Anna de Vries",
            &["social-worker"],
            &anna_matrix_id.map_or(String::new(), |m| format!("matrix_id = \"{m}\"")),
        )],
        ..Spec::default()
    };
    spec.write_in(dir)
}

/// `digestd ARGS -c CONFIG` with `stdin`, through the tests' one runner.
fn run_digestd(config: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    support::run_digestd(config, args, Some(stdin.as_bytes()))
}

/// The reply address token in a digest's text part.
fn reply_token(text: &str) -> String {
    regex::Regex::new(r"reply\+([0-9a-f]{40})@reply\.testdam\.example")
        .expect("regex")
        .captures(text)
        .map(|c| c[1].to_owned())
        .expect("a reply address")
}

/// A reply from `from` to the digest address of `token`: `text`, then the quoted `quoted`.
fn reply_mail(from: &str, token: &str, text: &str, quoted: &str) -> String {
    format!(
        "From: Anna de Vries <{from}>\r\n\
         To: reply+{token}@reply.testdam.example\r\n\
         Subject: Re: digest\r\n\
         Message-ID: <matrix-{token}@mail.testdam.example>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {text}\r\n\
         \r\n\
         On Mon, 23 Nov 2026 at 07:00, Testdam Groups <digest@testdam.example> wrote:\r\n\
         > {quoted}\r\n"
    )
}

#[test]
fn end_to_end_a_room_reaches_the_digest_and_the_reply_mail_lands_in_the_thread_once() {
    let Some(synapse) = hs::shared() else { return };
    let s = scene(synapse);
    let root =
        s.hs.say(&s.zed, &s.room, "Winter home visits: what do you check?");
    s.hs.reply_in_thread(&s.bob, &s.room, &root, "The heating, first of all.");
    let sink = support::SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // Anna's address does not make her user id: the people list's matrix_id does.
    let anna_email = format!("a.devries.{}@city.example", unique("e"));
    let config = loop_config(
        dir.path(),
        synapse,
        sink.port(),
        &s.alias,
        &anna_email,
        Some(&s.anna),
    );

    let out = run_digestd(&config, &["send-now"], "");
    assert!(
        out.status.success(),
        "send-now: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails = sink.wait_for(1, std::time::Duration::from_secs(30));
    assert_eq!(mails.len(), 1, "Anna's digest");
    let parsed = mails[0].parsed();
    let text = parsed.body_text(0).expect("text part").to_string();
    assert!(text.contains("Winter home visits"), "{text}");
    assert!(text.contains("The heating"), "{text}");
    let token = reply_token(&text);
    let reply = reply_mail(
        &anna_email,
        &token,
        "The CO detector, and food for three days.",
        "Winter home visits: what do you check?",
    );
    for attempt in 0..2 {
        // The second delivery of the same mail (an MTA retry) must not post again.
        let out = run_digestd(&config, &["receive"], &reply);
        assert!(
            out.status.success(),
            "receive #{attempt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let events = s.hs.messages(&s.zed, &s.room);
    let by_anna: Vec<&Value> = events
        .iter()
        .filter(|e| e["sender"] == s.anna.as_str())
        .collect();
    assert_eq!(by_anna.len(), 1, "once, as Anna: {events:#?}");
    assert_eq!(
        thread_of(by_anna[0]),
        Some(root.as_str()),
        "in the root's thread"
    );
    let body = by_anna[0]["content"]["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("The CO detector, and food for three days."),
        "{body}"
    );
    assert!(!body.contains("wrote:"), "quote trimmed: {body}");
}

#[test]
fn check_config_online_passes_for_a_good_room_and_names_a_missing_one() {
    let Some(synapse) = hs::shared() else { return };
    let s = scene(synapse);
    let dir = tempfile::tempdir().expect("tempdir");
    // check-config --online also logs in to the configured SMTP relay: give it one.
    let sink = support::SmtpSink::start();
    let config = loop_config(
        dir.path(),
        synapse,
        sink.port(),
        &s.alias,
        &s.anna_email,
        None,
    );
    let out = run_digestd(&config, &["check-config", "--online"], "");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("city-matrix"), "{said}");

    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace(&s.alias, "#gone:digestd.test")).expect("config");
    let out = run_digestd(&config, &["check-config", "--online"], "");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("group home-visits"), "{said}");
    assert!(said.contains("#gone:digestd.test"), "{said}");

    // A matrix_id that is no user id is a config error with file, line and key.
    let bad = loop_config(
        dir.path(),
        synapse,
        25,
        &s.alias,
        &s.anna_email,
        Some("anna.example.org"),
    );
    let out = run_digestd(&bad, &["check-config"], "");
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("people[0].matrix_id"), "{said}");
    assert!(said.contains("not a valid Matrix user id"), "{said}");

    std::fs::write(
        &config,
        std::fs::read_to_string(&bad)
            .expect("config")
            .replace("matrix_id = \"anna.example.org\"", "")
            .replace(&s.alias, "#gone:digestd.test"),
    )
    .expect("config");
    std::fs::write(dir.path().join("as-token"), "wrong-token").expect("token");
    let out = run_digestd(&config, &["check-config", "--online"], "");
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("as_token_file"), "{said}");
}

#[test]
fn a_reply_received_while_the_homeserver_is_down_is_posted_once_when_it_returns_across_a_sigkill() {
    let Some(mut synapse) = hs::own() else { return };
    let (room, alias, root, anna, zed, anna_email) = {
        let s = scene(&synapse);
        let root = s.hs.say(&s.zed, &s.room, "Who takes the night shift?");
        (
            s.room.clone(),
            s.alias.clone(),
            root,
            s.anna.clone(),
            s.zed.clone(),
            s.anna_email.clone(),
        )
    };
    let sink = support::SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = loop_config(dir.path(), &synapse, sink.port(), &alias, &anna_email, None);
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[daemon]\ninbound_poll_secs = 1\n");
    std::fs::write(&config, text).expect("config");

    let out = run_digestd(&config, &["send-now"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails = sink.wait_for(1, std::time::Duration::from_secs(30));
    let token = reply_token(mails[0].parsed().body_text(0).expect("text").as_ref());

    // The homeserver goes down; the reply arrives: stored and queued, not lost.
    synapse.stop();
    let mail = reply_mail(
        &anna_email,
        &token,
        "I will, on Tuesday.",
        "Who takes the night shift?",
    );
    let out = run_digestd(&config, &["receive"], &mail);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = dir.path().join("digestd.sqlite");
    let db = rusqlite::Connection::open(&store).expect("store");
    let status: String = db
        .query_row("SELECT status FROM inbound_messages", [], |r| r.get(0))
        .expect("the reply is stored");
    assert_eq!(status, "queued");

    // Back up. The retry is due minutes later (backoff): bring it forward, as time would.
    synapse.restart().expect("restart");
    let changed = db
        .execute(
            "UPDATE inbound_messages SET next_attempt = 0 WHERE status = 'queued'",
            [],
        )
        .expect("due now");
    assert_eq!(changed, 1);
    let hs = Hs::new(&synapse);
    let anna_messages = || {
        hs.messages(&zed, &room)
            .into_iter()
            .filter(|e| e["sender"] == anna.as_str())
            .collect::<Vec<Value>>()
    };
    let mut daemon = support::start_daemon(&config);
    let posted = support::wait_until(
        std::time::Duration::from_secs(60),
        std::time::Duration::from_millis(200),
        || !anna_messages().is_empty(),
    );
    // Killed without warning right after posting, then started again: nothing more is posted.
    daemon.kill().expect("SIGKILL");
    let _ = daemon.wait();
    assert!(
        posted,
        "the queued reply was posted once the homeserver was back"
    );
    let mut daemon = support::start_daemon(&config);
    std::thread::sleep(std::time::Duration::from_secs(4));
    let _ = support::stop_daemon(&mut daemon);
    let by_anna = anna_messages();
    assert_eq!(by_anna.len(), 1, "once: {by_anna:#?}");
    assert_eq!(thread_of(&by_anna[0]), Some(root.as_str()));
    assert!(by_anna[0]["content"]["body"]
        .as_str()
        .is_some_and(|b| b.contains("I will, on Tuesday.")));
    let status: String = db
        .query_row("SELECT status FROM inbound_messages", [], |r| r.get(0))
        .expect("row");
    assert_eq!(status, "posted");
}
