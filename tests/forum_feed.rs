//! The RSS/Atom connector against feeds served over loopback HTTP: real-world shapes
//! (WordPress, SharePoint, Discourse, GitHub), conditional GET and 304, relative links, HTML in
//! titles, the same entry twice, malformed XML, a thread pattern, and replies refused with a
//! message that links the item.

mod support;

use std::time::Duration;

use digestd::forum::feed::FeedForum;
use digestd::forum::{Author, Forum, ForumError};
use digestd::model::{ForumKind, Group, GroupSource};
use support::feed_server::{Doc, FeedServer};

fn fixture(name: &str) -> String {
    let path = support::repo_root().join("tests/fixtures/feeds").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn group(url: &str, pattern: Option<&str>) -> Group {
    Group {
        id: "news".into(),
        name: "Intranet news".into(),
        forum: ForumKind::Feed,
        forum_name: "intranet".into(),
        source: GroupSource::Feed {
            url: url.into(),
            thread_pattern: pattern.map(str::to_string),
        },
    }
}

fn forum() -> FeedForum {
    FeedForum::new(Duration::from_secs(5))
}

#[test]
fn wordpress_rss_becomes_posts_with_tags_and_a_second_poll_is_a_304() {
    let server = FeedServer::start();
    server.put(
        "/feed/",
        Doc::xml(&fixture("wordpress_rss2.xml"), "\"wp-1\""),
    );
    let g = group(&server.url("/feed/"), None);
    let f = forum();

    let batch = f.fetch_since(&g, None, 500).expect("fetched");
    assert_eq!(batch.posts.len(), 2);
    assert_eq!(batch.threads.len(), 2, "each entry is its own thread");
    let rota = batch
        .posts
        .iter()
        .find(|p| p.post.remote_id == "https://intranet.example.org/?p=412")
        .expect("the rota entry");
    assert_eq!(rota.post.tags, vec!["training", "youth care"]);
    assert_eq!(rota.post.author_name, "Anna Jansen");
    assert_eq!(rota.post.author_email, "feed@127.0.0.1.invalid");
    assert!(rota.post.body.contains("rotate every four weeks"));
    assert_eq!(
        rota.post.url,
        "https://intranet.example.org/2026/03/03/new-rota/"
    );
    let thread = batch
        .threads
        .iter()
        .find(|t| t.remote_id == rota.thread_remote_id)
        .unwrap();
    assert_eq!(
        thread.title,
        "New rota for the youth-care team – questions & answers"
    );
    assert!(
        batch.posts[0].post.created < batch.posts[1].post.created,
        "oldest first"
    );

    let again = f
        .fetch_since(&g, Some(&batch.next_cursor), 500)
        .expect("polled again");
    assert!(again.posts.is_empty());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].if_none_match, None);
    assert_eq!(seen[1].if_none_match.as_deref(), Some("\"wp-1\""));
    assert_eq!(seen[1].status, 304);
    assert_eq!(
        again.next_cursor, batch.next_cursor,
        "validators kept over a 304"
    );
}

#[test]
fn last_modified_is_sent_back_when_there_is_no_etag() {
    let server = FeedServer::start();
    let mut doc = Doc::xml(&fixture("sharepoint_rss2.xml"), "x");
    doc.etag = None;
    doc.last_modified = Some("Tue, 03 Mar 2026 09:41:06 GMT".into());
    server.put("/sites/socialwork/_layouts/15/listfeed.aspx", doc);
    let g = group(
        &server.url("/sites/socialwork/_layouts/15/listfeed.aspx"),
        None,
    );
    let f = forum();
    let batch = f.fetch_since(&g, None, 500).expect("fetched");
    assert_eq!(batch.posts.len(), 2);
    let closed = batch
        .posts
        .iter()
        .find(|p| p.post.url.ends_with("ID=12"))
        .unwrap();
    assert!(closed.post.body.contains("closed on Friday"));
    assert_eq!(closed.post.author_name, "Jansen, Anna");
    let again = f.fetch_since(&g, Some(&batch.next_cursor), 500).unwrap();
    assert!(again.posts.is_empty());
    let seen = server.seen();
    assert_eq!(
        seen[1].if_modified_since.as_deref(),
        Some("Tue, 03 Mar 2026 09:41:06 GMT")
    );
    assert_eq!(seen[1].status, 304);
}

#[test]
fn a_thread_pattern_groups_discourse_posts_by_topic() {
    let server = FeedServer::start();
    server.put(
        "/posts.rss",
        Doc::xml(&fixture("discourse_posts_rss.xml"), "\"d1\""),
    );
    let g = group(&server.url("/posts.rss"), Some(r"/t/[^/]+/(\d+)"));
    let batch = forum().fetch_since(&g, None, 500).unwrap();
    assert_eq!(batch.posts.len(), 3);
    let mut keys: Vec<&str> = batch.threads.iter().map(|t| t.remote_id.as_str()).collect();
    keys.sort();
    assert_eq!(keys, vec!["42", "43"]);
    let in_42 = batch
        .posts
        .iter()
        .filter(|p| p.thread_remote_id == "42")
        .count();
    assert_eq!(in_42, 2);
    assert_eq!(batch.posts[0].post.remote_id, "forum.example.org-post-1200");
}

#[test]
fn github_atom_relative_links_html_titles_and_repeated_entries() {
    let server = FeedServer::start();
    server.put(
        "/releases.atom",
        Doc::xml(&fixture("github_releases_atom.xml"), "\"g\""),
    );
    let gh = forum()
        .fetch_since(&group(&server.url("/releases.atom"), None), None, 500)
        .unwrap();
    assert_eq!(gh.posts.len(), 2);
    assert!(gh.posts[1]
        .post
        .body
        .contains("<li>Export case files as PDF</li>"));
    assert_eq!(gh.threads[1].title, "v2.1.0");

    server.put(
        "/feeds/planning.atom",
        Doc::xml(&fixture("relative_links_html_titles_atom.xml"), "\"p\""),
    );
    let batch = forum()
        .fetch_since(&group(&server.url("/feeds/planning.atom"), None), None, 500)
        .unwrap();
    assert_eq!(batch.posts.len(), 2, "the entry listed twice is kept once");
    let leave = batch
        .posts
        .iter()
        .find(|p| p.post.remote_id.ends_with("efa6a"))
        .unwrap();
    assert_eq!(leave.post.url, server.url("/news/2026/leave-policy"));
    assert_eq!(leave.post.author_email, "anna@example.org");
    assert_eq!(leave.post.tags, vec!["hr"]);
    assert!(
        leave
            .post
            .body
            .contains(&format!("href=\"{}\"", server.url("/docs/leave.pdf"))),
        "root-relative links in the body made absolute: {}",
        leave.post.body
    );
    let title = &batch
        .threads
        .iter()
        .find(|t| t.remote_id == leave.thread_remote_id)
        .unwrap()
        .title;
    assert_eq!(title, "New leave policy & rota");
    let budget = batch
        .posts
        .iter()
        .find(|p| p.post.remote_id.ends_with("efa6b"))
        .unwrap();
    assert_eq!(
        budget.post.url,
        server.url("/feeds/news/2026/budget-meeting")
    );
}

#[test]
fn malformed_xml_a_missing_feed_and_a_500_fail_cleanly() {
    let server = FeedServer::start();
    server.put("/bad.xml", Doc::xml(&fixture("malformed.xml"), "\"b\""));
    let f = forum();
    let e = f
        .fetch_since(&group(&server.url("/bad.xml"), None), None, 500)
        .unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("not valid RSS or Atom")),
        "{e}"
    );

    let e = f
        .fetch_since(&group(&server.url("/gone.xml"), None), None, 500)
        .unwrap_err();
    assert!(
        matches!(&e, ForumError::Refused(m) if m.contains("does not exist")),
        "{e}"
    );

    let mut broken = Doc::xml("", "\"e\"");
    broken.status = 500;
    server.put("/err.xml", broken);
    let e = f
        .fetch_since(&group(&server.url("/err.xml"), None), None, 500)
        .unwrap_err();
    assert!(e.is_transient(), "{e}");

    let bad_pattern = group(&server.url("/bad.xml"), Some("(unclosed"));
    assert!(f.check_groups(&[&bad_pattern]).is_err());
}

#[test]
fn replies_and_new_threads_are_refused_with_a_link_to_the_item() {
    let f = forum();
    let g = group("https://intranet.example.org/feed/", None);
    let author = Author {
        email: "anna@example.org".into(),
        name: "Anna".into(),
    };
    let item = "https://intranet.example.org/2026/03/03/new-rota/";
    match f.post_reply(&g, item, &author, "Thanks!", "<m@x>") {
        Err(ForumError::Refused(m)) => {
            assert!(m.contains("read-only feed"), "{m}");
            assert!(m.contains(item), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    match f.create_thread(&g, &author, "Hi", "Body", "<n@x>") {
        Err(ForumError::Refused(m)) => assert!(m.contains("https://intranet.example.org/feed/")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_feed_behind_a_login_gets_the_configured_authorization() {
    let server = FeedServer::start();
    let mut doc = Doc::xml(&fixture("sharepoint_rss2.xml"), "\"sp\"");
    doc.authorization = Some("Basic ZGlnZXN0ZDpzZWNyZXQ=".into());
    server.put("/listfeed.aspx", doc);
    let g = group(&server.url("/listfeed.aspx"), None);
    let e = forum().fetch_since(&g, None, 500).unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("needs a login")),
        "{e}"
    );
    let f = forum().with_authorization("Basic ZGlnZXN0ZDpzZWNyZXQ=\n");
    assert_eq!(
        f.fetch_since(&g, None, 500)
            .expect("with the login")
            .posts
            .len(),
        2
    );
}
