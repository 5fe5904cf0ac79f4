//! The Discourse connector against a stand-in site on 127.0.0.1 answering with the JSON shapes
//! of Discourse's API documentation (`tests/support/discourse.rs`, fixtures in
//! `tests/fixtures/discourse/`): collection with paging and a cursor, likes, tags and accepted
//! answers, replies as the person, 429 / 500 / timeouts / malformed JSON, a person without an
//! account, and retries that never post twice.

mod support;

use std::time::{Duration, Instant};

use digestd::forum::discourse::client::RetryPolicy;
use digestd::forum::discourse::{DiscourseForum, DiscourseOptions};
use digestd::forum::{Author, Forum, ForumError};
use digestd::model::{ForumKind, Group, GroupSource};
use support::discourse::{FakeDiscourse, Fault};

const KEY: &str = "test-key-0123456789";

fn forum(site: &FakeDiscourse, timeout: Duration) -> DiscourseForum {
    DiscourseForum::new(DiscourseOptions {
        url: site.url(),
        api_key: KEY.into(),
        api_username: "system".into(),
        policy: RetryPolicy {
            attempts: 3,
            max_retry_after: Duration::from_secs(5),
            backoff: Duration::from_millis(50),
            timeout,
            budget: Duration::from_secs(30),
            cool_down: Duration::ZERO,
        },
    })
}

fn group(category: &str, tags: &[&str]) -> Group {
    Group {
        id: "youth-care".into(),
        name: "Youth care".into(),
        forum: ForumKind::Discourse,
        forum_name: "city-discourse".into(),
        source: GroupSource::Discourse {
            category: category.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        },
    }
}

fn anna() -> Author {
    Author {
        email: "Anna@Example.org".into(),
        name: "Anna".into(),
    }
}

#[test]
fn collects_every_page_then_only_what_is_new() {
    let site = FakeDiscourse::start(KEY);
    let (rota, parking) = {
        let mut s = site.state();
        s.per_page = 2;
        s.chunk_size = 2;
        let rota = s.add_topic(5, "Rota changes", "anna", "New rota from April");
        s.add_post(rota, "bert", "Does it start in April?");
        let answer = s.add_post(rota, "anna", "Yes, on the 1st.");
        s.posts.iter_mut().find(|p| p.id == answer).unwrap().likes = 3;
        s.topics.iter_mut().find(|t| t.id == rota).unwrap().accepted = Some(3);
        s.topics.iter_mut().find(|t| t.id == rota).unwrap().tags = vec!["Training".into()];
        let parking = s.add_topic(5, "Parking", "bert", "Where do we park?");
        s.add_topic(5, "Canteen", "bert", "Menu?");
        s.add_topic(6, "Other category", "bert", "not ours");
        (rota, parking)
    };
    let f = forum(&site, Duration::from_secs(5));
    let g = group("youth-care", &[]);

    let batch = f.fetch_since(&g, None, 500).expect("first fetch");
    assert_eq!(
        batch.posts.len(),
        5,
        "every post of the category, over two list pages"
    );
    assert!(!batch.more);
    let ids: Vec<u64> = batch
        .posts
        .iter()
        .map(|p| p.post.remote_id.parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    let answer = batch
        .posts
        .iter()
        .find(|p| p.post.body.contains("Yes, on the 1st"))
        .unwrap();
    assert_eq!(answer.thread_remote_id, rota.to_string());
    assert_eq!(answer.post.likes, 3);
    assert!(answer.post.best_answer);
    assert_eq!(answer.post.tags, vec!["training"]);
    assert_eq!(answer.post.author_email, "anna@example.org");
    assert_eq!(answer.post.author_name, "Anna");
    assert!(answer
        .post
        .url
        .ends_with(&format!("/t/rota-changes/{rota}/3")));
    assert!(batch.threads.iter().any(|t| t.title == "Rota changes"));
    {
        let s = site.state();
        assert!(
            !s.requests_to("GET", "/c/youth-care/5.json?order=activity&page=1")
                .is_empty(),
            "second list page read"
        );
        assert!(
            !s.requests_to("GET", &format!("/t/{rota}/posts.json?post_ids"))
                .is_empty(),
            "posts beyond the first chunk read"
        );
        assert!(s
            .requests
            .iter()
            .all(|r| r.api_username.as_deref() == Some("system")));
        assert_eq!(
            s.requests_to("GET", "/u/anna/emails.json").len(),
            1,
            "addresses are cached"
        );
    }

    let topic_views_before = site.state().requests_to("GET", "/t/").len();
    let again = f
        .fetch_since(&g, Some(&batch.next_cursor), 500)
        .expect("second fetch");
    let opened = site.state().requests_to("GET", "/t/").len() - topic_views_before;
    assert!(
        opened <= 1,
        "a quiet poll opens at most the topic of the cursor's post: {opened}"
    );
    assert!(again.posts.is_empty(), "nothing new: {:?}", again.posts);
    assert_eq!(again.next_cursor, batch.next_cursor);

    let new_post = site
        .state()
        .add_post(parking, "anna", "Behind the building.");
    let third = f
        .fetch_since(&g, Some(&batch.next_cursor), 500)
        .expect("third fetch");
    assert_eq!(third.posts.len(), 1);
    assert_eq!(third.posts[0].post.remote_id, new_post.to_string());
}

#[test]
fn a_small_limit_pages_with_more_and_the_tags_narrow_the_group() {
    let site = FakeDiscourse::start(KEY);
    {
        let mut s = site.state();
        let a = s.add_topic(5, "Tagged", "anna", "one");
        s.add_post(a, "bert", "two");
        s.add_post(a, "anna", "three");
        s.topics.iter_mut().find(|t| t.id == a).unwrap().tags = vec!["training".into()];
        s.add_topic(5, "Untagged", "bert", "four");
    }
    let f = forum(&site, Duration::from_secs(5));
    let g = group("5", &[]);
    let first = f.fetch_since(&g, None, 2).unwrap();
    assert_eq!(first.posts.len(), 2);
    assert!(first.more);
    let rest = f.fetch_since(&g, Some(&first.next_cursor), 2).unwrap();
    assert_eq!(rest.posts.len(), 2);
    assert!(!rest.more);

    let tagged = f
        .fetch_since(&group("youth-care", &["Training"]), None, 500)
        .unwrap();
    assert_eq!(tagged.posts.len(), 3, "only the topic tagged training");
}

#[test]
fn rate_limits_wait_for_retry_after_and_5xx_is_retried() {
    let site = FakeDiscourse::start(KEY);
    site.state().add_topic(5, "T", "anna", "x");
    site.state()
        .fail_next("GET", "/c/", Fault::Status(429, Some(1)));
    site.state()
        .fail_next("GET", "/t/", Fault::Status(500, None));
    let f = forum(&site, Duration::from_secs(5));
    let started = Instant::now();
    let b = f
        .fetch_since(&group("youth-care", &[]), None, 500)
        .expect("retried");
    assert_eq!(b.posts.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
    let s = site.state();
    assert_eq!(s.requests_to("GET", "/c/").len(), 2);
}

#[test]
fn a_long_rate_limit_a_lasting_500_a_timeout_and_malformed_json_are_transient() {
    let site = FakeDiscourse::start(KEY);
    site.state().add_topic(5, "T", "anna", "x");
    let f = forum(&site, Duration::from_millis(700));
    let g = group("youth-care", &[]);

    site.state()
        .fail_next("GET", "/c/", Fault::Status(429, Some(3600)));
    let started = Instant::now();
    let e = f.fetch_since(&g, None, 500).unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("rate limited")),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "an hour is not waited for"
    );

    for _ in 0..3 {
        site.state()
            .fail_next("GET", "/c/", Fault::Status(500, None));
    }
    let e = f.fetch_since(&g, None, 500).unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("500")),
        "{e}"
    );

    for _ in 0..3 {
        site.state()
            .fail_next("GET", "/c/", Fault::DelayBefore(Duration::from_secs(2)));
    }
    let e = f.fetch_since(&g, None, 500).unwrap_err();
    assert!(e.is_transient(), "{e}");

    site.state().fail_next("GET", "/c/", Fault::Malformed);
    let e = f.fetch_since(&g, None, 500).unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("malformed JSON")),
        "{e}"
    );

    let ok = f.fetch_since(&g, None, 500).expect("recovers");
    assert_eq!(ok.posts.len(), 1);
}

#[test]
fn a_wrong_key_keeps_work_queued_and_check_online_says_what_is_wrong() {
    let site = FakeDiscourse::start(KEY);
    let f = forum(&site, Duration::from_secs(5));
    let g = group("youth-care", &[]);
    f.check_groups(&[&g]).expect("key and category fine");

    let missing = group("no-such-category", &[]);
    let e = f.check_groups(&[&g, &missing]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("no-such-category") && text.contains("youth-care (5)"),
        "{text}"
    );

    let bad = DiscourseForum::new(DiscourseOptions {
        url: site.url(),
        api_key: "wrong".into(),
        api_username: "system".into(),
        policy: RetryPolicy::default(),
    });
    let e = bad.fetch_since(&g, None, 10).unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("API key")),
        "{e}"
    );
    assert!(bad.check_groups(&[&g]).is_err());
}

#[test]
fn a_reply_is_posted_as_the_person_in_their_topic() {
    let site = FakeDiscourse::start(KEY);
    let topic = site
        .state()
        .add_topic(5, "Rota changes", "bert", "New rota");
    let f = forum(&site, Duration::from_secs(5));
    let posted = f
        .post_reply(
            &group("youth-care", &[]),
            &topic.to_string(),
            &anna(),
            "Works for me.",
            "<m1@x>",
        )
        .expect("posted");
    assert_eq!(posted.remote_thread_id, topic.to_string());
    assert!(
        posted.url.ends_with(&format!("/t/rota-changes/{topic}/2")),
        "{}",
        posted.url
    );
    let s = site.state();
    let posts = s.requests_to("POST", "/posts.json");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].api_username.as_deref(), Some("anna"));
    let body = posts[0].body.as_ref().unwrap();
    assert_eq!(body["topic_id"], topic);
    assert_eq!(body["raw"], "Works for me.");
}

#[test]
fn a_person_without_an_account_is_refused_and_nothing_is_posted() {
    let site = FakeDiscourse::start(KEY);
    let topic = site.state().add_topic(5, "Rota", "bert", "New rota");
    let f = forum(&site, Duration::from_secs(5));
    let stranger = Author {
        email: "carla@example.org".into(),
        name: "Carla".into(),
    };
    let e = f
        .post_reply(
            &group("youth-care", &[]),
            &topic.to_string(),
            &stranger,
            "Hi",
            "<m2@x>",
        )
        .unwrap_err();
    match e {
        ForumError::Refused(m) => {
            assert!(m.contains("carla@example.org has no account"), "{m}");
            assert!(m.contains("not be posted under another name"), "{m}");
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert!(site.state().requests_to("POST", "/posts.json").is_empty());
}

#[test]
fn a_closed_topic_is_refused_with_discourses_reason() {
    let site = FakeDiscourse::start(KEY);
    let topic = site.state().add_topic(5, "Rota", "bert", "New rota");
    site.state().topics.iter_mut().for_each(|t| t.closed = true);
    let f = forum(&site, Duration::from_secs(5));
    let e = f
        .post_reply(
            &group("youth-care", &[]),
            &topic.to_string(),
            &anna(),
            "Hi",
            "<m3@x>",
        )
        .unwrap_err();
    assert!(
        matches!(&e, ForumError::Refused(m) if m.contains("This topic is closed")),
        "{e}"
    );
}

#[test]
fn a_reply_whose_answer_was_lost_is_not_posted_twice() {
    let site = FakeDiscourse::start(KEY);
    let topic = site.state().add_topic(5, "Rota", "bert", "New rota");
    let f = forum(&site, Duration::from_millis(700));
    let g = group("youth-care", &[]);
    site.state().fail_next(
        "POST",
        "/posts.json",
        Fault::DelayAfter(Duration::from_secs(2)),
    );
    let e = f
        .post_reply(&g, &topic.to_string(), &anna(), "Count me in.", "<m4@x>")
        .unwrap_err();
    assert!(e.is_transient(), "a lost answer is retried later: {e}");
    std::thread::sleep(Duration::from_millis(1500));

    let retried = f
        .post_reply(&g, &topic.to_string(), &anna(), "Count me in.", "<m4@x>")
        .expect("the retry finds the first attempt");
    let s = site.state();
    let mine: Vec<_> = s
        .posts
        .iter()
        .filter(|p| p.topic_id == topic && p.raw == "Count me in.")
        .collect();
    assert_eq!(mine.len(), 1, "posted once");
    assert_eq!(retried.remote_post_id, mine[0].id.to_string());
    assert_eq!(s.requests_to("POST", "/posts.json").len(), 1);
}

#[test]
fn a_new_thread_goes_to_the_category_once_per_message() {
    let site = FakeDiscourse::start(KEY);
    let f = forum(&site, Duration::from_secs(5));
    let g = group("youth-care", &["training"]);
    let first = f
        .create_thread(&g, &anna(), "Course dates", "March 12 and 19.", "<m5@x>")
        .expect("created");
    let again = f
        .create_thread(&g, &anna(), "Course dates", "March 12 and 19.", "<m5@x>")
        .expect("the same topic again");
    assert_eq!(first.remote_thread_id, again.remote_thread_id);
    let s = site.state();
    let posts = s.requests_to("POST", "/posts.json");
    assert_eq!(posts.len(), 1);
    let body = posts[0].body.as_ref().unwrap();
    assert_eq!(body["category"], 5);
    assert_eq!(body["title"], "Course dates");
    assert_eq!(body["tags"][0], "training");
    assert_eq!(posts[0].api_username.as_deref(), Some("anna"));
    assert_eq!(s.topics.len(), 1);
}

#[test]
fn the_documented_shapes_parse_as_published() {
    use digestd::forum::discourse::wire;
    fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = support::repo_root()
            .join("tests/fixtures/discourse")
            .join(name);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON");
        if let Some(o) = v.as_object_mut() {
            o.remove("_source");
        }
        let v = v.get("body").cloned().unwrap_or(v);
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    let cats: wire::CategoryListResponse = load("categories.json");
    assert_eq!(cats.category_list.categories.len(), 1);
    let list: wire::CategoryTopicsResponse = load("category_topics.json");
    assert!(list.topic_list.more_topics_url.is_none());
    let topic: wire::TopicView = load("topic.json");
    assert_eq!(
        topic.tags[0].name(),
        "string",
        "tags as {{id, name, slug}} objects"
    );
    assert_eq!(topic.post_stream.posts.len(), 1);
    let _: wire::TopicPostsResponse = load("topic_posts.json");
    let _: wire::CreatedPost = load("post_created.json");
    let _: wire::PostShow = load("post_show.json");
    let _: wire::UserEmails = load("user_emails.json");
    let users: Vec<wire::AdminUser> = load("admin_users_list.json");
    assert_eq!(users.len(), 1);
}

#[test]
fn a_site_that_is_down_fails_fast_for_the_other_groups_until_the_cool_down_ends() {
    let site = FakeDiscourse::start(KEY);
    site.state().add_topic(5, "T", "anna", "x");
    site.state().add_topic(6, "P", "bert", "y");
    let f = DiscourseForum::new(DiscourseOptions {
        url: site.url(),
        api_key: KEY.into(),
        api_username: "system".into(),
        policy: RetryPolicy {
            attempts: 2,
            max_retry_after: Duration::from_secs(5),
            backoff: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
            budget: Duration::from_secs(30),
            cool_down: Duration::from_millis(800),
        },
    });
    let youth = group("youth-care", &[]);
    let mut planning = group("planning", &[]);
    planning.id = "planning".into();
    f.fetch_since(&youth, None, 10).expect("categories loaded");
    for _ in 0..2 {
        site.state()
            .fail_next("GET", "/c/", Fault::Status(503, None));
    }
    let e = f.fetch_since(&youth, None, 10).unwrap_err();
    assert!(e.is_transient(), "{e}");
    let before = site.state().requests.len();
    let e = f.fetch_since(&planning, None, 10).unwrap_err();
    assert!(
        matches!(&e, ForumError::Unavailable(m) if m.contains("not tried again")),
        "{e}"
    );
    assert_eq!(
        site.state().requests.len(),
        before,
        "no request while cooling down"
    );
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(
        f.fetch_since(&planning, None, 10)
            .expect("back")
            .posts
            .len(),
        1
    );
}
