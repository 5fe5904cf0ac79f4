//! The outbound half of the loop, end to end: the real binary, a real SQLite file, Postfix's
//! `smtp-sink` on 127.0.0.1; messages parsed with mail-parser.

mod support;

use support::config::{GroupSpec, RoleSpec, Spec};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{Duration as Age, Utc};
use mail_parser::{HeaderValue, MimeHeaders};
use support::{bin, ensure_deps, start_daemon, stop_daemon, SinkOptions, SmtpSink, SunkMessage};

/// Writes a config for a small organisation sending through `port`; returns its path.
fn write_org(dir: &Path, port: u16, schedule: &str, people: &str) -> PathBuf {
    Spec {
        store_path: "state/digestd.sqlite".into(),
        mail_extra: "concurrency = 4".into(),
        transport: Spec::smtp(port),
        digest_extra: "max_threads = 10\nmax_highlights = 5".into(),
        groups: vec![
            GroupSpec::new("social-work", "Social work"),
            GroupSpec::new("it-support", "IT support"),
            GroupSpec::new("all-staff", "All staff"),
        ],
        roles: vec![
            RoleSpec::new(
                "social-worker",
                &["social-work", "all-staff"],
                schedule,
                "training_tags = [\"training\"]",
            ),
            RoleSpec::new(
                "it-support",
                &["it-support", "all-staff"],
                schedule,
                "training_tags = [\"howto\"]",
            ),
        ],
        people: Vec::new(),
        tail: format!(
            "[defaults]\ntime_zone = \"Europe/Amsterdam\"\nlocale = \"en\"\nfrequency = \"weekly\"\n\n{people}\n"
        ),
        ..Spec::default()
    }
    .write_in(dir)
}

fn person(email: &str, name: &str, role: &str, extra: &str) -> String {
    format!("[[people]]\nemail = \"{email}\"\nname = \"{name}\"\nroles = [\"{role}\"]\n{extra}\n")
}

fn digestd(config: &Path, args: &[&str]) -> std::process::Output {
    support::run_digestd(config, args, None)
}

fn import(config: &Path, lines: &[String]) {
    let file = config.with_file_name("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("writing posts");
    let out = Command::new(bin())
        .arg("import")
        .arg("-c")
        .arg(config)
        .arg(&file)
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn post(
    group: &str,
    thread: &str,
    author: &str,
    hours_ago: i64,
    body: &str,
    tags: &[&str],
) -> String {
    serde_json::json!({
        "group": group,
        "thread": thread,
        "title": format!("Thread {thread}"),
        "author": author,
        "created": (Utc::now() - Age::hours(hours_ago) - Age::minutes(1)).to_rfc3339(),
        "body": body,
        "tags": tags,
    })
    .to_string()
}

/// `people` people of one role (weekly) and an author who opted out, with one new post, on a
/// schedule firing every second: the daemon's own schedule starts the run.
fn crowd_org(sink: &SmtpSink, people: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut list: Vec<String> = (0..people)
        .map(|i| {
            person(
                &format!("p{i:03}@testdam.example"),
                &format!("Person {i}"),
                "social-worker",
                "",
            )
        })
        .collect();
    list.push(person(
        "author@testdam.example",
        "Ann Author",
        "social-worker",
        "frequency = \"off\"",
    ));
    let config = write_org(dir.path(), sink.port(), "* * * * * *", &list.join("\n"));
    import(
        &config,
        &[post(
            "social-work",
            "a",
            "author@testdam.example",
            2,
            "News for everyone.",
            &[],
        )],
    );
    (dir, config)
}

fn by_recipient(messages: &[SunkMessage]) -> HashMap<String, Vec<SunkMessage>> {
    let mut map: HashMap<String, Vec<SunkMessage>> = HashMap::new();
    for m in messages {
        for r in &m.rcpt_to {
            map.entry(r.to_lowercase()).or_default().push(m.clone());
        }
    }
    map
}

/// The unfolded value of the first header `name` in the raw message.
fn raw_header(m: &SunkMessage, name: &str) -> String {
    let text = String::from_utf8_lossy(&m.raw).replace("\r\n", "\n");
    let head = text
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .replace("\n ", " ")
        .replace("\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_owned())
        .unwrap_or_default()
}

/// The text part's section under `== heading ==`, up to the next section or the footer.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let marker = format!("== {heading} ==");
    let Some(start) = text.find(&marker) else {
        return "";
    };
    let rest = &text[start + marker.len()..];
    let end = [rest.find("\n== "), rest.find("\n-- \n")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The HTML part from the `<h2>` holding `heading` on (the sections that follow it included).
fn html_from<'a>(html: &'a str, heading: &str) -> &'a str {
    html.find(&format!(">{heading}</h2>"))
        .map_or("", |i| &html[i..])
}

fn header_text(m: &mail_parser::Message<'_>, name: &str) -> String {
    match m.header(name) {
        Some(HeaderValue::Text(t)) => t.to_string(),
        Some(HeaderValue::TextList(l)) => l.join(", "),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

#[test]
fn digests_reach_a_real_smtp_server_with_the_right_content_and_never_twice() {
    ensure_deps();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let people = [
        person(
            "alice@testdam.example",
            "Alice Aalders",
            "social-worker",
            "",
        ),
        person(
            "bob@testdam.example",
            "Bob Bos",
            "social-worker",
            "locale = \"nl\"",
        ),
        person("carol@testdam.example", "Carol Claes", "it-support", ""),
        person(
            "dave@testdam.example",
            "Dave Dekker",
            "social-worker",
            "frequency = \"off\"",
        ),
    ]
    .join("\n");
    let config = write_org(dir.path(), sink.port(), "0 0 7 * * Mon-Fri", &people);
    import(
        &config,
        &[
            post(
                "social-work",
                "a",
                "alice@testdam.example",
                30,
                "Who handles debt referrals?",
                &[],
            ),
            post(
                "social-work",
                "a",
                "bob@testdam.example",
                20,
                "We book the follow-up at intake.",
                &[],
            ),
            post(
                "social-work",
                "d",
                "alice@testdam.example",
                10,
                "A thread only Alice wrote in.",
                &[],
            ),
            post(
                "it-support",
                "b",
                "carol@testdam.example",
                15,
                "VPN profile needs a reboot at the office.",
                &[],
            ),
            post(
                "all-staff",
                "c",
                "dave@testdam.example",
                5,
                "Drill on Friday at 14:00.",
                &[],
            ),
            post(
                "social-work",
                "t",
                "bob@testdam.example",
                60,
                "Checklist for home visits in winter.",
                &["training"],
            ),
            // Ten days old: outside everyone's weekly period, never sent to anyone, tagged.
            post(
                "social-work",
                "old",
                "trainer@testdam.example",
                240,
                "Onboarding guide for **new** case workers.",
                &["training"],
            ),
            // Also old, not tagged, and nobody answered it: no thread and no highlight, but a
            // question in "Can you help?".
            post(
                "social-work",
                "stale",
                "trainer@testdam.example",
                200,
                "An old question nobody answered.",
                &[],
            ),
        ],
    );

    let out = digestd(&config, &["send-now"]);
    assert!(
        out.status.success(),
        "send-now failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = sink.wait_for(3, Duration::from_secs(20));
    let by = by_recipient(&messages);
    assert_eq!(
        by.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        [
            "alice@testdam.example",
            "bob@testdam.example",
            "carol@testdam.example"
        ]
        .map(String::from)
        .into_iter()
        .collect(),
        "dave opted out (frequency off); everyone else gets one"
    );

    for (to, list) in &by {
        assert_eq!(list.len(), 1, "{to} got {} digests", list.len());
        let m = list[0].parsed();
        assert_eq!(list[0].mail_from, "digest@testdam.example");
        assert!(
            m.message_id()
                .is_some_and(|id| id.ends_with("@reply.testdam.example")),
            "Message-ID"
        );
        assert!(m.date().is_some(), "Date");
        let list_id = raw_header(&list[0], "List-Id");
        assert!(
            list_id.ends_with("<digest.reply.testdam.example>"),
            "List-Id: {list_id}"
        );
        let unsub = raw_header(&list[0], "List-Unsubscribe");
        assert!(
            unsub.contains("mailto:unsubscribe+"),
            "List-Unsubscribe: {unsub}"
        );
        assert_eq!(header_text(&m, "Auto-Submitted"), "auto-generated");
        assert_eq!(header_text(&m, "X-Auto-Response-Suppress"), "All");
        assert!(
            m.content_type()
                .is_some_and(|ct| ct.subtype() == Some("alternative")),
            "multipart/alternative"
        );
        let subject = m.subject().unwrap_or_default();
        assert!(
            !subject.is_empty() && !subject.contains(['\r', '\n']),
            "subject {subject:?}"
        );
        assert!(
            m.body_text(0).is_some() && m.body_html(0).is_some(),
            "both parts for {to}"
        );
    }

    let alice = by["alice@testdam.example"][0].parsed();
    let text = alice.body_text(0).unwrap_or_default().to_string();
    let html = alice.body_html(0).unwrap_or_default().to_string();
    assert!(
        text.contains("We book the follow-up"),
        "Bob's reply in Alice's thread:\n{text}"
    );
    assert!(
        text.contains("Drill on Friday"),
        "all-staff thread:\n{text}"
    );
    assert!(
        !text.contains("only Alice wrote"),
        "a thread with only her own post is left out:\n{text}"
    );
    assert!(
        !text.contains("VPN profile"),
        "IT group is not followed by social workers:\n{text}"
    );
    let threads = section(&text, "Active threads");
    let highlights = section(&text, "Training highlights");
    assert!(
        highlights.contains("Checklist for home visits")
            && highlights.contains("For your role: social-worker"),
        "the training post under the highlights heading:\n{text}"
    );
    assert!(
        highlights.contains("Onboarding guide for new case workers"),
        "an older tagged post never sent to her is a highlight:\n{text}"
    );
    assert!(
        threads.contains("We book the follow-up"),
        "the threads section:\n{text}"
    );
    assert!(
        !threads.contains("Onboarding guide") && !threads.contains("Thread old"),
        "the older post is outside the period: not an active thread:\n{text}"
    );
    assert!(
        !threads.contains("nobody answered") && !highlights.contains("nobody answered"),
        "an old untagged post is neither a thread nor a highlight:\n{text}"
    );
    let questions = section(&text, "Can you help?");
    assert!(
        questions.contains("* Thread stale")
            && questions.contains("An old question nobody answered.")
            && questions.contains("mailto:reply+"),
        "an old question nobody answered asks for help, with its reply link:\n{text}"
    );
    assert!(
        html.contains("id=\"can-you-help\""),
        "the section's id in the HTML part"
    );
    let html_highlights = html_from(&html, "Training highlights");
    assert!(
        html_highlights.contains("Checklist for home visits in winter.</p>")
            && html_highlights.contains("For your role: social-worker"),
        "the training post under the highlights heading in the HTML part"
    );
    assert!(
        html_highlights.contains("Onboarding guide for <strong>new</strong> case workers."),
        "the highlight's excerpt as sanitised HTML"
    );
    // The threads section ends where its <tbody id="threads"> does.
    let html_threads = html_from(&html, "Active threads")
        .split("</tbody>")
        .next()
        .unwrap_or_default();
    assert!(
        html_threads.contains("We book the follow-up")
            && !html_threads.contains("Onboarding guide"),
        "not among the HTML part's threads"
    );
    let token_link =
        regex::Regex::new(r"mailto:reply\+[0-9a-f]{40}@reply\.testdam\.example").expect("regex");
    assert!(
        token_link.is_match(&html),
        "reply link with a 160-bit token in the HTML part"
    );
    assert!(!html.contains("<script"), "no scripts");

    // Bob's locale is nl: Dutch from subject to footer, in both parts.
    let bob_msg = by["bob@testdam.example"][0].parsed();
    let subject = bob_msg.subject().unwrap_or_default().to_string();
    assert!(
        subject.ends_with("actieve discussies in uw groepen"),
        "Dutch subject: {subject}"
    );
    let text = bob_msg.body_text(0).unwrap_or_default().to_string();
    let html = bob_msg.body_html(0).unwrap_or_default().to_string();
    for needle in [
        "Beste Bob Bos,",
        "Dit speelde er in uw groepen van",
        "== Actieve discussies ==",
        "Antwoord per e-mail",
        "Voor uw rol: social-worker",
    ] {
        assert!(
            text.contains(needle),
            "Bob's text part lacks {needle:?}:\n{text}"
        );
    }
    assert!(
        section(&text, "Uitgelicht voor uw vak").contains("Onboarding guide"),
        "Bob's highlights, in Dutch:\n{text}"
    );
    assert!(
        !text.contains("Active threads") && !text.contains("Reply by email"),
        "no English left in Bob's digest:\n{text}"
    );
    assert!(html.contains("lang=\"nl\"") && html.contains(">Uitgelicht voor uw vak</h2>"));
    assert!(html.contains(">Antwoord per e-mail</a>") && !html.contains("Reply by email"));
    assert!(
        !section(&text, "Uitgelicht voor uw vak").contains("Checklist for home visits"),
        "his own training post is not a highlight for him:\n{text}"
    );

    let carol = by["carol@testdam.example"][0].parsed();
    let text = carol.body_text(0).unwrap_or_default().to_string();
    assert!(
        text.contains("Drill on Friday"),
        "all-staff reaches IT:\n{text}"
    );
    assert!(
        !text.contains("debt referrals") && !text.contains("follow-up at intake"),
        "no social work for IT:\n{text}"
    );

    // A second cycle finds nothing new for anyone and sends nothing.
    let out = digestd(&config, &["send-now"]);
    assert!(
        out.status.success(),
        "second send-now: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        sink.messages().len(),
        messages.len(),
        "nothing is sent twice"
    );

    // Weekly people get one digest a week; an explicit send-now for one person sends the news.
    import(
        &config,
        &[post(
            "social-work",
            "a",
            "bob@testdam.example",
            0,
            "One more idea: SMS reminders.",
            &[],
        )],
    );
    let out = digestd(&config, &["send-now", "--person", "alice@testdam.example"]);
    assert!(
        out.status.success(),
        "send-now --person: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = sink.wait_for(messages.len() + 1, Duration::from_secs(20));
    let alice_all = &by_recipient(&after)["alice@testdam.example"];
    assert_eq!(alice_all.len(), 2);
    let newest = alice_all
        .iter()
        .map(|m| m.parsed().body_text(0).unwrap_or_default().to_string())
        .find(|t| t.contains("SMS reminders"));
    let newest = newest.expect("the new reply is in Alice's second digest");
    assert!(
        !newest.contains("We book the follow-up"),
        "already delivered posts are not repeated:\n{newest}"
    );
    let again = section(&newest, "Training highlights");
    assert!(
        !again.contains("Onboarding guide") && !again.contains("Checklist for home visits"),
        "highlights already delivered are not repeated:\n{newest}"
    );
    // A question still unanswered stays in "Can you help?" until someone answers it.
    assert!(
        section(&newest, "Can you help?").contains("Thread old"),
        "the unanswered question is asked again:\n{newest}"
    );
}

/// An empty digest is not sent by default; with `send_empty = true` it is, and says so.
#[test]
fn empty_digests_are_sent_only_when_configured() {
    ensure_deps();
    let people = [
        person(
            "alice@testdam.example",
            "Alice Aalders",
            "social-worker",
            "",
        ),
        person("bob@testdam.example", "Bob Bos", "social-worker", ""),
    ]
    .join("\n");
    // Only Alice wrote: Bob has news, Alice has nothing but her own post.
    let only_alice = [post(
        "social-work",
        "a",
        "alice@testdam.example",
        3,
        "Anyone free on Thursday?",
        &[],
    )];

    for send_empty in [false, true] {
        let sink = SmtpSink::start();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = write_org(dir.path(), sink.port(), "0 0 7 * * Mon-Fri", &people);
        if send_empty {
            let toml = std::fs::read_to_string(&config).expect("config");
            let toml = toml.replace(
                "max_highlights = 5\n",
                "max_highlights = 5\nsend_empty = true\n",
            );
            std::fs::write(&config, toml).expect("config");
        }
        import(&config, &only_alice);
        let out = digestd(&config, &["send-now"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "send_empty = {send_empty}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = if send_empty { 2 } else { 1 };
        let messages = sink.wait_for(expected, Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(300));
        let messages = if sink.messages().len() > messages.len() {
            sink.messages()
        } else {
            messages
        };
        let by = by_recipient(&messages);
        assert_eq!(
            messages.len(),
            expected,
            "send_empty = {send_empty}: {stdout}"
        );
        assert_eq!(by["bob@testdam.example"].len(), 1);
        if send_empty {
            assert!(
                stdout.contains("sent 2") && stdout.contains("empty 0"),
                "{stdout}"
            );
            let alice = by["alice@testdam.example"][0].parsed();
            assert_eq!(alice.subject(), Some("Nothing new in your groups"));
            let text = alice.body_text(0).unwrap_or_default().to_string();
            assert!(
                text.contains("Nothing new in your groups this time."),
                "{text}"
            );
            assert!(!text.contains("== Active threads =="), "{text}");
            assert!(
                alice.body_html(0).is_some(),
                "an empty digest has both parts too"
            );
        } else {
            assert!(
                stdout.contains("sent 1") && stdout.contains("empty 1"),
                "{stdout}"
            );
            assert!(
                !by.contains_key("alice@testdam.example"),
                "no empty digest by default"
            );
        }
    }
}

#[test]
fn preview_records_and_sends_nothing() {
    ensure_deps();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let people = [
        person(
            "alice@testdam.example",
            "Alice Aalders",
            "social-worker",
            "",
        ),
        person("bob@testdam.example", "Bob Bos", "social-worker", ""),
    ]
    .join("\n");
    let config = write_org(dir.path(), sink.port(), "0 0 7 * * Mon-Fri", &people);
    import(
        &config,
        &[post(
            "social-work",
            "a",
            "bob@testdam.example",
            3,
            "Preview me <script>alert(1)</script>",
            &[],
        )],
    );
    for args in [
        &["preview", "--person", "alice@testdam.example"][..],
        &["preview", "--person", "alice@testdam.example", "--html"],
    ] {
        let out = digestd(&config, args);
        assert!(
            out.status.success(),
            "preview: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("Preview me"), "{shown}");
        assert!(!shown.contains("<script>"), "sanitised: {shown}");
    }
    let out = digestd(&config, &["preview", "--person", "nobody@testdam.example"]);
    assert!(!out.status.success(), "unknown person is an error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody@testdam.example"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.messages().is_empty(), "preview sends nothing");
    // And records nothing: the real cycle still sends Alice her digest.
    let out = digestd(&config, &["send-now"]);
    assert!(out.status.success());
    let sent = sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(
        sent.len(),
        1,
        "Alice gets Bob's post; Bob has nothing but his own"
    );
    assert_eq!(sent[0].rcpt_to, vec!["alice@testdam.example".to_owned()]);
}

#[test]
fn preview_of_a_person_on_two_schedules_shows_both_and_html_asks_for_a_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let people = "[[people]]\nemail = \"carol@testdam.example\"\nname = \"Carol Claes\"\nroles = [\"social-worker\", \"it-support\"]\n";
    let config = write_org(dir.path(), 2525, "0 0 7 * * Mon-Fri", people);
    // IT support gets its digest on another schedule.
    let text = std::fs::read_to_string(&config).expect("config");
    let at = text
        .rfind("schedule = \"0 0 7 * * Mon-Fri\"")
        .expect("it-support schedule");
    let text = format!(
        "{}schedule = \"0 0 8 * * Mon\"{}",
        &text[..at],
        &text[at + "schedule = \"0 0 7 * * Mon-Fri\"".len()..]
    );
    std::fs::write(&config, text).expect("config");
    import(
        &config,
        &[
            post(
                "social-work",
                "a",
                "bob@testdam.example",
                2,
                "Case conference notes",
                &[],
            ),
            post(
                "it-support",
                "b",
                "bob@testdam.example",
                2,
                "Printer queue fixed",
                &[],
            ),
        ],
    );

    let out = digestd(&config, &["preview", "--person", "carol@testdam.example"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(shown.matches("== schedule ").count(), 2, "{shown}");
    assert!(shown.contains("Case conference notes") && shown.contains("Printer queue fixed"));

    let out = digestd(
        &config,
        &["preview", "--person", "carol@testdam.example", "--html"],
    );
    assert!(!out.status.success(), "two HTML documents are not one");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--role") && err.contains("it-support"),
        "{err}"
    );

    let out = digestd(
        &config,
        &[
            "preview",
            "--person",
            "carol@testdam.example",
            "--html",
            "--role",
            "it-support",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8_lossy(&out.stdout);
    assert_eq!(html.matches("</html>").count(), 1, "{html}");
    assert!(html.contains("Printer queue fixed"), "{html}");
    assert!(!html.contains("Case conference notes"), "{html}");

    let out = digestd(
        &config,
        &[
            "preview",
            "--person",
            "carol@testdam.example",
            "--role",
            "hr",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not have the role"));
}

#[test]
fn smtp_server_down_keeps_digests_pending_and_sends_them_later() {
    ensure_deps();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let people = person(
        "alice@testdam.example",
        "Alice Aalders",
        "social-worker",
        "",
    );
    let config = write_org(dir.path(), port, "0 0 7 * * Mon-Fri", &people);
    import(
        &config,
        &[post(
            "social-work",
            "a",
            "bob@testdam.example",
            3,
            "Anyone there?",
            &[],
        )],
    );
    let out = digestd(&config, &["send-now"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("deferred 1"),
        "the digest is kept pending: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server comes up on that port: the next cycle resends the stored message.
    let sink = SmtpSink::start();
    let config = write_org(dir.path(), sink.port(), "0 0 7 * * Mon-Fri", &people);
    let out = digestd(&config, &["send-now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("resumed 1"));
    assert_eq!(sink.wait_for(1, Duration::from_secs(20)).len(), 1);
}

#[test]
fn unknown_role_or_person_for_send_now_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_org(
        dir.path(),
        9,
        "0 0 7 * * Mon-Fri",
        &person("alice@testdam.example", "Alice", "social-worker", ""),
    );
    let out = digestd(&config, &["send-now", "--role", "astronaut"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("astronaut"));
}

/// How a daemon is interrupted in the middle of a run of many digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    /// SIGKILL: nothing finishes; a restarted daemon resends what was recorded.
    Kill,
    /// SIGTERM: the messages in flight finish, the daemon exits 0, the rest stays pending.
    Term,
}

/// SIGKILL in the middle of a run of many digests; after a restart everyone has exactly one.
#[test]
fn sigkill_mid_run_then_restart_gives_everyone_exactly_one_digest() {
    interrupted_mid_run_everyone_gets_exactly_one_digest(Interrupt::Kill);
}

/// SIGTERM in the middle of a run: the messages in flight finish, the daemon exits 0, and every
/// digest is either sent once or left pending for the next run — never lost, never twice.
#[test]
fn sigterm_mid_run_finishes_in_flight_and_leaves_the_rest_for_the_next_run() {
    interrupted_mid_run_everyone_gets_exactly_one_digest(Interrupt::Term);
}

/// A daemon interrupted mid-run (`interrupt`), then the next run (a restarted daemon after a
/// kill, `send-now` after a stop): everyone ends with exactly one digest.
fn interrupted_mid_run_everyone_gets_exactly_one_digest(interrupt: Interrupt) {
    ensure_deps();
    const PEOPLE: usize = 40;
    // smtp-sink waits a second before answering each DATA, so the interruption lands mid-run.
    let sink = SmtpSink::start_with(SinkOptions {
        data_delay_secs: Some(1),
        ..SinkOptions::default()
    });
    let (_dir, config) = crowd_org(&sink, PEOPLE);

    let mut daemon = start_daemon(&config);
    let sent_first = match interrupt {
        Interrupt::Kill => 6,
        Interrupt::Term => 4,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.messages().len() < sent_first && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }

    let messages = match interrupt {
        Interrupt::Kill => {
            let before = sink.messages().len();
            assert!(
                (6..PEOPLE).contains(&before),
                "killed mid-run ({before} of {PEOPLE} sent)"
            );
            daemon.kill().expect("SIGKILL");
            let _ = daemon.wait();

            let mut daemon = start_daemon(&config);
            let messages = sink.wait_for(PEOPLE, Duration::from_secs(90));
            // Give a duplicate the chance to show up.
            std::thread::sleep(Duration::from_secs(3));
            let messages = if sink.messages().len() > messages.len() {
                sink.messages()
            } else {
                messages
            };
            // SIGTERM: clean stop, exit 0.
            let status = stop_daemon(&mut daemon);
            // The one window no SMTP client can close (RFC 1047): the server said 250 to a
            // message's end, and the kill came before the ledger recorded it. That message is
            // sent again, as the same stored bytes with the same Message-ID (receivers
            // recognise it); at most one per pooled connection. Anything else is a bug.
            let copies = resent_copies(&messages);
            assert!(
                messages.len() - copies == PEOPLE && copies <= 4,
                "{} messages for {PEOPLE} people, {copies} of them resent copies",
                messages.len()
            );
            assert!(
                status.is_some_and(|s| s.success()),
                "SIGTERM stops the daemon with exit 0: {status:?}"
            );
            messages
        }
        Interrupt::Term => {
            let status = stop_daemon(&mut daemon);
            assert!(
                status.is_some_and(|s| s.success()),
                "exit 0 after SIGTERM: {status:?}"
            );
            let sent_before = sink.wait_for(0, Duration::from_secs(2)).len();
            assert!(
                sent_before < PEOPLE,
                "stopped mid-run ({sent_before} of {PEOPLE})"
            );

            // The ledger agrees with the server: every row marked sent arrived; no row is
            // half-done.
            let out = digestd(&config, &["status", "--json"]);
            let status: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("status --json");
            let pending = status["deliveries_pending"].as_u64().unwrap_or_default() as usize;
            assert!(
                sent_before + pending <= PEOPLE,
                "sent {sent_before} + pending {pending}"
            );

            // The next run sends the rest.
            let out = digestd(&config, &["send-now"]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            sink.wait_for(PEOPLE, Duration::from_secs(90))
        }
    };
    let by = by_recipient(&messages);
    for i in 0..PEOPLE {
        let to = format!("p{i:03}@testdam.example");
        let ids: HashSet<String> = by
            .get(&to)
            .map(|ms| ms.iter().map(|m| raw_header(m, "Message-ID")).collect())
            .unwrap_or_default();
        assert!(
            ids.len() == 1 && !ids.contains(""),
            "{to}: exactly one digest ({interrupt:?} mid-run): {ids:?}"
        );
        if interrupt == Interrupt::Term {
            // A clean stop leaves no window: not even the same digest twice.
            assert_eq!(
                by.get(&to).map_or(0, Vec::len),
                1,
                "{to}: one copy after SIGTERM"
            );
        }
    }
}

/// How many of `messages` repeat an earlier one's Message-ID (the same digest sent again).
fn resent_copies(messages: &[SunkMessage]) -> usize {
    let mut seen = HashSet::new();
    messages
        .iter()
        .filter(|m| !seen.insert(raw_header(m, "Message-ID")))
        .count()
}

/// A permanently refused address is recorded as failed for that person only; the run goes on
/// and everyone else gets theirs. (A scripted responder: smtp-sink cannot refuse one recipient.)
#[test]
fn one_bad_address_never_stops_a_run() {
    let smtp = support::FakeSmtp::start(support::FakeRules {
        rcpt_replies: vec![(
            "gone@".into(),
            "550 5.1.1 <gone@testdam.example>: no such user".into(),
        )],
        ..support::FakeRules::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let people = [
        person(
            "alice@testdam.example",
            "Alice Aalders",
            "social-worker",
            "",
        ),
        person("gone@testdam.example", "Gone Person", "social-worker", ""),
        person("bob@testdam.example", "Bob Bos", "social-worker", ""),
    ]
    .join("\n");
    let config = write_org(dir.path(), smtp.port(), "0 0 7 * * Mon-Fri", &people);
    import(
        &config,
        &[post(
            "social-work",
            "a",
            "author@testdam.example",
            3,
            "Hello all.",
            &[],
        )],
    );
    let out = digestd(&config, &["send-now"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("sent 2") && stdout.contains("failed 1"),
        "{stdout}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "send-now reports the failure in its exit code"
    );
    let mut to: Vec<String> = smtp
        .accepted()
        .iter()
        .flat_map(|m| m.rcpt_to.clone())
        .collect();
    to.sort();
    assert_eq!(to, ["alice@testdam.example", "bob@testdam.example"]);
    // Each refusal counts as a bounce; at the threshold (3) the address is marked bouncing and
    // is not tried again.
    for _ in 0..4 {
        let out = digestd(&config, &["send-now"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("resumed 0"));
    }
    let tries = smtp
        .rcpt_attempts()
        .iter()
        .filter(|r| r.contains("gone@"))
        .count();
    assert_eq!(
        tries, 3,
        "tried until the bounce threshold, then never again"
    );
    let out = digestd(&config, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("gone@testdam.example"),
        "listed as bouncing"
    );
}
