//! Unit tests of the built-in forum: posting, threads, imports and idempotency.

use super::*;
use crate::store::test_support::{each_store, temp_store};

fn group(id: &str) -> Group {
    Group::local(id, id)
}

fn anna() -> Author {
    Author {
        email: "Anna@Example.org".into(),
        name: "Anna de Vries".into(),
    }
}

fn record(thread: &str, body: &str, created: Option<&str>) -> ImportRecord {
    ImportRecord {
        group: "planning".into(),
        thread: thread.into(),
        title: None,
        author: "piet@example.org".into(),
        author_name: None,
        created: created.map(|c| c.parse().expect("date")),
        body: body.into(),
        tags: vec!["Training".into()],
        likes: 3,
        best_answer: false,
    }
}

#[test]
fn posting_is_idempotent_on_the_key() {
    each_store(|store| {
        let forum = LocalForum::open_at(store.location(), "https://f.example.org/").expect("open");
        let g = group("planning");
        let t = forum
            .create_thread(&g, &anna(), "", "# Zoning question\n\nWho knows?", "<m1@x>")
            .expect("thread");
        assert_eq!(t.url, format!("https://f.example.org/t/{0}#p{0}", 1));
        let again = forum
            .create_thread(&g, &anna(), "", "# Zoning question\n\nWho knows?", "<m1@x>")
            .expect("again");
        assert_eq!(again.remote_post_id, t.remote_post_id);
        let r1 = forum
            .post_reply(&g, &t.remote_thread_id, &anna(), "Me.", "<m2@x>")
            .expect("reply");
        let r2 = forum
            .post_reply(&g, &t.remote_thread_id, &anna(), "Me.", "<m2@x>")
            .expect("reply again");
        assert_eq!(r1.remote_post_id, r2.remote_post_id);
        let thread = forum.local_thread(1).expect("read").expect("exists");
        assert_eq!(thread.title, "Zoning question");
        assert_eq!(thread.posts.len(), 2);
        assert_eq!(thread.posts[0].author_email, "anna@example.org");

        assert!(matches!(
            forum.post_reply(&g, "99", &anna(), "x", "<m3@x>"),
            Err(ForumError::Refused(_))
        ));
        assert!(matches!(
            forum.post_reply(&g, "abc", &anna(), "x", "<m4@x>"),
            Err(ForumError::Refused(_))
        ));
        assert!(matches!(
            forum.post_reply(&group("hr"), "1", &anna(), "x", "<m5@x>"),
            Err(ForumError::Refused(_))
        ));
        assert!(matches!(
            forum.post_reply(&g, "1", &anna(), "  \n", "<m6@x>"),
            Err(ForumError::Refused(_))
        ));
    });
}

#[test]
fn fetch_since_pages_by_post_id_per_group() {
    each_store(|store| {
        let forum = LocalForum::open_at(store.location(), "https://f").expect("open");
        let (a, b) = (group("a"), group("b"));
        forum
            .create_thread(&a, &anna(), "A", "a1", "k1")
            .expect("a");
        forum
            .create_thread(&b, &anna(), "B", "b1", "k2")
            .expect("b");
        forum.post_reply(&a, "1", &anna(), "a2", "k3").expect("a2");
        forum.post_reply(&a, "1", &anna(), "a3", "k4").expect("a3");

        let p1 = forum.fetch_since(&a, None, 2).expect("page 1");
        assert!(p1.more);
        assert_eq!(p1.posts.len(), 2);
        assert_eq!(p1.threads.len(), 1);
        assert_eq!(p1.threads[0].url, "https://f/t/1");
        assert_eq!(p1.posts[1].post.url, "https://f/t/1#p3");
        assert_eq!(p1.posts[1].thread_remote_id, "1");
        assert_eq!(p1.next_cursor, Cursor("3".into()));
        let p2 = forum
            .fetch_since(&a, Some(&p1.next_cursor), 2)
            .expect("page 2");
        assert!(!p2.more);
        assert_eq!(p2.posts.len(), 1);
        assert_eq!(p2.posts[0].post.body, "a3");
        let p3 = forum
            .fetch_since(&a, Some(&p2.next_cursor), 2)
            .expect("page 3");
        assert!(p3.posts.is_empty());
        assert_eq!(p3.next_cursor, p2.next_cursor);
        let only_b = forum.fetch_since(&b, None, 10).expect("b");
        assert_eq!(only_b.posts.len(), 1);
        assert!(forum.fetch_since(&a, Some(&Cursor("x".into())), 2).is_err());
    });
}

#[test]
fn import_groups_by_thread_key_and_is_repeatable() {
    each_store(|mut store| {
        let recs = vec![
            record("t1", "Second, written later", Some("2024-05-02T10:00:00Z")),
            record("t1", "First words\nmore", Some("2024-05-01T09:00:00Z")),
            record("t2", "Other thread", Some("2024-05-01T11:00:00+02:00")),
        ];
        assert_eq!(import_records(&mut store, recs.clone()).expect("import"), 3);
        // Same records again: nothing new, same threads.
        assert_eq!(import_records(&mut store, recs).expect("again"), 0);
        // A new record with a known key lands in the existing thread.
        assert_eq!(
            import_records(&mut store, vec![record("t1", "Third", None)]).expect("more"),
            1
        );
        let forum = LocalForum::open_at(store.location(), "https://f").expect("open");
        let t1 = forum.local_thread(1).expect("t1").expect("exists");
        assert_eq!(t1.posts.len(), 3);
        assert_eq!(t1.title, "Second, written later");
        assert_eq!(
            t1.created,
            "2024-05-01T09:00:00Z".parse::<DateTime<Utc>>().expect("d")
        );
        assert_eq!(t1.posts[0].author_name, "piet");
        assert_eq!(t1.posts[0].tags, vec!["training"]);
        assert_eq!(t1.posts[0].likes, 3);
        let t2 = forum.local_thread(2).expect("t2").expect("exists");
        assert_eq!(t2.posts.len(), 1);
        assert!(forum.local_thread(3).expect("t3").is_none());
        let text = format_thread(&t1, "https://f/t/1");
        assert!(text.starts_with("Second, written later\n"), "{text}");
        assert!(text.contains("piet <piet@example.org> · 2024-05-01 09:00 UTC · tags: training"));
    });
}

#[test]
fn a_bad_record_imports_nothing() {
    let (_d, mut store) = temp_store();
    let mut bad = record("t2", "x", None);
    bad.author = "not an address".into();
    let err = import_records(&mut store, vec![record("t1", "ok", None), bad]).expect_err("refused");
    assert!(err.to_string().starts_with("line 2:"), "{err}");
    let n: i64 = store
        .sqlite()
        .expect("sqlite")
        .query_row("SELECT COUNT(*) FROM local_posts", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 0);
}

#[test]
fn import_of_50k_records_is_fast() {
    let (_d, mut store) = temp_store();
    let base: DateTime<Utc> = "2024-05-01T00:00:00Z".parse().expect("d");
    let recs = (0..50_000i64).map(|i| ImportRecord {
        group: format!("g{}", i % 5),
        thread: format!("t{}", i % 2_000),
        title: None,
        author: format!("p{}@example.org", i % 100),
        author_name: Some(format!("Person {}", i % 100)),
        created: Some(base + chrono::Duration::seconds(i)),
        body: format!("Post number {i} with some words in it."),
        tags: if i % 10 == 0 {
            vec!["training".into()]
        } else {
            vec![]
        },
        likes: (i % 7) as u32,
        best_answer: i % 97 == 0,
    });
    let started = std::time::Instant::now();
    assert_eq!(import_records(&mut store, recs).expect("import"), 50_000);
    let took = started.elapsed();
    eprintln!("imported 50,000 records in {took:?}");
    // Release builds take well under a second; this bound only catches a quadratic
    // regression in an unoptimised build on a busy machine.
    assert!(took.as_secs_f64() < 20.0, "took {took:?}");
}

#[test]
fn default_titles() {
    assert_eq!(default_title("\n\n## Hello there \nbody"), "Hello there");
    assert_eq!(default_title("   "), "(untitled)");
    assert_eq!(default_title(&"x".repeat(500)).len(), 200);
}
