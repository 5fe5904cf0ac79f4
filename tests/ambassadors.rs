//! Ambassadors end to end through the binary: the weekly nudge (its content, its headers, never
//! twice in a period) into a real smtp-sink, then `highlight` / `unhighlight` replies to a nudge
//! item's address through `digestd receive`, and a refused nomination from someone who is not
//! an ambassador. Nominations are checked in the store.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use digestd::model::{ReplyGrant, ReplyToken};
use digestd::store::Store;
use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};
use support::inbound::{mail, receive_with};
use support::{run_digestd, SmtpSink};

const DOMAIN: &str = "reply.testdam.example";

/// A config with group `general` (ambassador amy), everyone staff, answers and nudges to `sink`.
fn world(sink: &SmtpSink) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut general = GroupSpec::new("general", "General");
    general.extra = "ambassadors = [\"Amy@example.org\"]".into();
    let person = |email: &str, name: &str, locale: &str| {
        PersonSpec::new(email, name, &["staff"], &format!("locale = \"{locale}\""))
    };
    let spec = Spec {
        transport: Spec::smtp(sink.port()),
        groups: vec![general, GroupSpec::new("other", "Other")],
        roles: vec![RoleSpec::new(
            "staff",
            &["general", "other"],
            "0 0 7 * * *",
            "time_zone = \"UTC\"",
        )],
        people: Vec::new(),
        persons: vec![
            person("amy@example.org", "Amy Ambassador", "en"),
            person("ann@example.org", "Ann Example", "nl"),
            person("bob@example.org", "Bob Example", "en"),
            person("nina@example.org", "Nina Newcomer", "en"),
        ],
        tail: "[ambassadors]\nschedule = \"0 0 9 * * Mon\"\ntime_zone = \"UTC\"\n".into(),
        ..Spec::default()
    };
    let config = spec.write_in(dir.path());
    let post = |thread: &str, author: &str, days: i64, body: &str| {
        let created = (Utc::now() - Duration::days(days)).to_rfc3339();
        format!(
            r#"{{"group":"general","thread":"{thread}","title":"{thread}","author":"{author}","created":"{created}","body":"{body}"}}"#
        )
    };
    let lines = [
        // Ann and Bob are no newcomers: they posted weeks ago.
        post("Old news", "ann@example.org", 20, "Welcome all."),
        post("Old news", "bob@example.org", 19, "Thanks."),
        post(
            "Where is the parking permit form",
            "ann@example.org",
            3,
            "Anyone?",
        ),
        post("Team lunch", "bob@example.org", 2, "Friday?"),
        post("Team lunch", "ann@example.org", 2, "Yes."),
        post(
            "Team lunch",
            "nina@example.org",
            1,
            "Hello, I am new here and would love to join.",
        ),
    ];
    let file = dir.path().join("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("posts");
    ok(&config, &["import", &file.to_string_lossy()]);
    (dir, config)
}

fn ok(config: &Path, args: &[&str]) -> String {
    let out = run_digestd(config, args, None);
    assert!(
        out.status.success(),
        "digestd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn store(config: &Path) -> Store {
    Store::open(&config.with_file_name("digestd.sqlite")).expect("store")
}

/// The reply tokens in a text part, in order.
fn tokens(text: &str) -> Vec<ReplyToken> {
    text.match_indices("reply+")
        .filter_map(|(i, _)| {
            let hex: String = text[i + 6..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            ReplyToken::parse(&hex)
        })
        .collect()
}

/// Sends the nudge, which must reach amy; returns its text part.
fn nudge(config: &Path, sink: &SmtpSink) -> String {
    let out = ok(config, &["nudge"]);
    assert!(out.contains("sent 1"), "{out}");
    let got = sink.wait_for(1, StdDuration::from_secs(10));
    let m = got.last().expect("the nudge");
    assert_eq!(m.rcpt_to, ["amy@example.org"]);
    let raw = String::from_utf8_lossy(&m.raw);
    for header in ["List-Id:", "List-Unsubscribe:", "Reply-To: digest@"] {
        assert!(raw.contains(header), "{header}: {raw}");
    }
    let parsed = m.parsed();
    assert!(parsed.body_html(0).is_some(), "an HTML part");
    parsed.body_text(0).expect("a text part").into_owned()
}

#[test]
fn the_nudge_lists_unanswered_questions_and_newcomers_first_posts_once_a_period() {
    let sink = SmtpSink::start();
    let (_dir, config) = world(&sink);
    let text = nudge(&config, &sink);
    assert!(text.contains("Where is the parking permit form"), "{text}");
    assert!(text.contains("Questions nobody has answered yet"), "{text}");
    assert!(text.contains("Newcomers' first posts"), "{text}");
    assert!(text.contains("First post by Nina Newcomer"), "{text}");
    assert!(text.contains("I am new here"), "{text}");
    assert!(!text.contains("Friday?"), "team lunch is answered: {text}");
    assert!(
        !text.contains("First post by Ann"),
        "ann is no newcomer: {text}"
    );
    assert_eq!(tokens(&text).len(), 2, "a reply link per item: {text}");
    // Twice in one period: nothing more.
    let out = ok(&config, &["nudge"]);
    assert!(out.contains("sent 0") && out.contains("skipped 1"), "{out}");
    std::thread::sleep(StdDuration::from_millis(300));
    assert_eq!(sink.messages().len(), 1, "never twice per period");
}

#[test]
fn highlight_then_unhighlight_nominates_the_items_post_and_withdraws_it() {
    let sink = SmtpSink::start();
    let (_dir, config) = world(&sink);
    let text = nudge(&config, &sink);
    let items = tokens(&text);
    let nina = &items[1];
    let reply = |body: &str, id: &str| {
        mail(
            "amy@example.org",
            &format!("reply+{}@{DOMAIN}", nina.as_str()),
            "Re: Team lunch",
            id,
            "",
            body,
        )
    };
    let (code, err) = receive_with(&config, &reply("highlight\r\n", "h1@example.org"));
    assert_eq!(code, 0, "{err}");
    let st = store(&config);
    let first = st
        .first_posts_in_group("general", Utc::now() - Duration::days(2), Utc::now())
        .expect("first posts");
    let post = first
        .iter()
        .find(|p| p.author_email == "nina@example.org")
        .expect("nina's post");
    let nominations = st.nominations_of(post.id).expect("nominations");
    assert_eq!(nominations.len(), 1, "{nominations:?}");
    assert_eq!(nominations[0].nominated_by, "amy@example.org");
    assert!(nominations[0].is_active());
    let answers = sink.wait_for(2, StdDuration::from_secs(10));
    let answer = String::from_utf8_lossy(&answers[1].raw).into_owned();
    assert!(
        answer.contains("Nominated as training material"),
        "{answer}"
    );

    let (code, err) = receive_with(&config, &reply("Unhighlight", "h2@example.org"));
    assert_eq!(code, 0, "{err}");
    let nominations = store(&config).nominations_of(post.id).expect("nominations");
    assert!(!nominations[0].is_active(), "withdrawn: {nominations:?}");
    let answers = sink.wait_for(3, StdDuration::from_secs(10));
    assert!(String::from_utf8_lossy(&answers[2].raw).contains("Nomination withdrawn"));
    // Neither reply was posted in the thread.
    let thread = ok(&config, &["thread", &post.thread_id.to_string()]);
    assert!(!thread.to_lowercase().contains("highlight"), "{thread}");
}

#[test]
fn a_nomination_from_someone_who_is_not_an_ambassador_is_refused_and_changes_nothing() {
    let sink = SmtpSink::start();
    let (_dir, config) = world(&sink);
    ok(&config, &["collect"]);
    let st = store(&config);
    let since = Utc::now() - Duration::days(30);
    let (_, posts) = st
        .load_activity(&["general".to_string()], since, &[], since, u32::MAX)
        .expect("posts");
    let question = posts
        .iter()
        .find(|p| p.body.contains("Anyone?"))
        .expect("ann's question");
    // Ann (a member, not an ambassador) has a reply link to the thread, as in her digest.
    let token = ReplyToken::generate();
    st.insert_grant(&ReplyGrant {
        token: token.clone(),
        person_email: "ann@example.org".into(),
        thread_id: Some(question.thread_id),
        expires: Utc::now() + Duration::days(30),
    })
    .expect("grant");
    let raw = mail(
        "ann@example.org",
        &format!("reply+{}@{DOMAIN}", token.as_str()),
        "Re: Where is the parking permit form",
        "refused@example.org",
        "",
        "highlight",
    );
    let (code, err) = receive_with(&config, &raw);
    assert_eq!(code, 0, "{err}");
    assert!(
        st.nominations_of(question.id).expect("none").is_empty(),
        "nothing nominated"
    );
    let answers = sink.wait_for(1, StdDuration::from_secs(10));
    let answer = answers[0].parsed();
    assert_eq!(answers[0].rcpt_to, ["ann@example.org"]);
    let text = answer.body_text(0).expect("text").into_owned();
    // Ann reads Dutch.
    assert!(
        text.contains("alleen de ambassadeurs van de groep"),
        "{text}"
    );
    assert_eq!(
        answer.subject(),
        Some("Uw voordracht is niet vastgelegd"),
        "{text}"
    );
    let posts = st.posts_of_thread(question.thread_id).expect("posts");
    assert_eq!(posts.len(), 1, "not posted either");
}
