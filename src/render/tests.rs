//! Rendering tests against the shipped `templates/` directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::model::{
    BodyFormat, Digest, DigestThread, Frequency, Highlight, Period, Person, Post, Thread,
};

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

fn renderer() -> Renderer {
    Renderer::load(&templates()).unwrap_or_else(|e| panic!("{e}"))
}

fn end() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 6, 30, 0)
        .single()
        .unwrap_or_default()
}

fn thread(id: i64, title: &str, url: &str) -> Thread {
    Thread {
        id,
        group_id: "care".into(),
        remote_id: id.to_string(),
        title: title.into(),
        url: url.into(),
        created: end() - Duration::days(3),
    }
}

fn post(id: i64, thread: &Thread, author: &str, body: &str, format: BodyFormat) -> Post {
    Post {
        id,
        thread_id: thread.id,
        group_id: thread.group_id.clone(),
        remote_id: id.to_string(),
        author_email: "x@example.org".into(),
        author_name: author.into(),
        created: end() - Duration::hours(id),
        body: body.into(),
        body_format: format,
        tags: vec!["training".into()],
        likes: 2,
        reply_count: 0,
        best_answer: false,
        url: format!("{}#p{id}", thread.url),
    }
}

fn digest(locale: &str, threads: Vec<DigestThread>, highlights: Vec<Highlight>) -> Digest {
    Digest {
        person: Person {
            email: "ann@example.org".into(),
            name: "Ann de Vries".into(),
            roles: vec!["social-worker".into()],
            time_zone: chrono_tz::Europe::Amsterdam,
            locale: locale.into(),
            frequency: Frequency::Weekly,
            matrix_id: None,
        },
        schedule: "0 30 7 * * Mon@Europe/Amsterdam".into(),
        period: Period {
            start: end() - Duration::days(7),
            end: end(),
        },
        threads,
        more_threads: 0,
        highlights,
        more_highlights: 0,
        questions: Vec::new(),
        more_questions: 0,
    }
}

fn normal_digest(locale: &str) -> Digest {
    let t1 = thread(
        1,
        "Intake forms for the new youth scheme",
        "https://forum.example.org/t/1",
    );
    let t2 = thread(2, "Parking permits", "https://forum.example.org/t/2");
    let p1 = post(
        3,
        &t1,
        "Bob Jansen",
        "Has anyone tried the **new** intake form? It asks for the *household* twice, which \
         confuses families. I suggest we skip section 4 until the form is fixed.",
        BodyFormat::Markdown,
    );
    let p2 = post(
        5,
        &t2,
        "Cy",
        "<p>Permits are <b>free</b> for visits.</p>",
        BodyFormat::Html,
    );
    let mut d = digest(
        locale,
        vec![
            DigestThread {
                thread: t1.clone().into(),
                new_posts: vec![p1.clone().into()],
                participants: vec!["Bob Jansen".into(), "Ann de Vries".into(), "Dee".into()],
                score: 3.0,
            },
            DigestThread {
                thread: t2.into(),
                new_posts: vec![p2.into()],
                participants: vec!["Cy".into()],
                score: 1.0,
            },
        ],
        vec![Highlight {
            post: p1.into(),
            thread: t1.into(),
            role: "social-worker".into(),
            tag: "training".into(),
            score: 2.0,
        }],
    );
    d.more_threads = 4;
    d
}

struct Fixture {
    groups: HashMap<String, String>,
    tokens: HashMap<i64, ReplyToken>,
    role_titles: HashMap<String, crate::model::LocalText>,
}

impl Fixture {
    fn new() -> Fixture {
        let token = ReplyToken::parse(&"ab".repeat(20)).unwrap_or_else(ReplyToken::generate);
        Fixture {
            groups: [("care".to_string(), "Youth care".to_string())]
                .into_iter()
                .collect(),
            tokens: [(1, token.clone()), (2, token.clone()), (9, token)]
                .into_iter()
                .collect(),
            role_titles: HashMap::new(),
        }
    }

    fn ctx(&self) -> RenderContext<'_> {
        RenderContext {
            organisation: "Gemeente Voorbeeld",
            group_names: &self.groups,
            reply_domain: "replies.example.org",
            reply_tokens: &self.tokens,
            unsubscribe_mailto: "mailto:digest@replies.example.org?subject=unsubscribe",
            excerpt_chars: 120,
            excerpts: None,
            template: DEFAULT_TEMPLATE,
            preferences_url: Some("https://digests.example.org/p/abc.def"),
            role_titles: &self.role_titles,
        }
    }
}

/// The start tags of an HTML document (text between them is escaped, so never holds `<`).
fn tags(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(t, _)| t.to_ascii_lowercase()))
        .collect()
}

#[test]
fn english_digest_has_the_key_elements_in_both_parts() {
    let r = renderer();
    let f = Fixture::new();
    let out = r
        .render(&normal_digest("en"), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.subject, "6 active threads in your groups");

    let text = &out.text;
    for needle in [
        "Hello Ann de Vries,",
        "== Active threads ==",
        "* Intake forms for the new youth scheme",
        "  Youth care · 1 new post · 2 likes\n  With Bob Jansen, Ann de Vries and Dee\n",
        "Latest from Bob Jansen, Mon 10 Mar, 04:30:",
        "Has anyone tried the new intake form?",
        "https://forum.example.org/t/1\n",
        &format!(
            "  Reply by email:\n  mailto:reply+{}@replies.example.org?subject=Re:%20Intake%20forms",
            "ab".repeat(20)
        ),
        "Permits are free for visits.",
        "… and 4 more threads.",
        "== Training highlights ==",
        "For your role: social-worker",
        "mailto:digest@replies.example.org?subject=unsubscribe",
        "digest@replies.example.org",
    ] {
        assert!(text.contains(needle), "text part lacks {needle:?}:\n{text}");
    }
    for line in text.lines() {
        assert!(
            line.chars().count() <= TEXT_WIDTH || !line.trim().contains(' '),
            "long line: {line:?}"
        );
    }
    assert!(!text.contains("<b>") && !text.contains("**"), "{text}");

    let html = &out.html;
    for needle in [
        "max-width:600px",
        "role=\"presentation\"",
        "display:none",
        "Intake forms for the new youth scheme · Parking permits",
        "href=\"https://forum.example.org/t/1\"",
        "Reply by email</a>",
        "Training highlights",
        "Youth care",
        "Unsubscribe</a>",
    ] {
        assert!(html.contains(needle), "html part lacks {needle:?}");
    }
    assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<style"));
    assert!(!html.contains("class="), "inline styles only");
}

#[test]
fn html_part_shows_excerpts_as_sanitised_html_and_text_part_as_text() {
    let r = renderer();
    let f = Fixture::new();
    let out = r
        .render(&normal_digest("en"), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    // Markdown emphasis as HTML in the HTML part (thread and highlight), plain in the text part.
    assert_eq!(
        out.html
            .matches("Has anyone tried the <strong>new</strong> intake form? It asks for the <em>household</em>")
            .count(),
        2,
        "{}",
        out.html
    );
    assert!(out.html.contains("Permits are <b>free</b> for visits."));
    assert!(!out.html.contains("&lt;strong&gt;") && !out.html.contains("**new**"));
    assert!(out.text.contains("Has anyone tried the new intake form?"));
    // Cut to the excerpt length (120) on a word, in both parts.
    assert!(out.html.contains("we skip…</p>"), "{}", out.html);
    assert!(out.text.contains("we skip…\""), "{}", out.text);
}

#[test]
fn a_run_makes_each_posts_excerpt_once() {
    let r = renderer();
    let f = Fixture::new();
    let cache = ExcerptCache::new();
    let mut ctx = f.ctx();
    ctx.excerpts = Some(&cache);
    let first = r
        .render(&normal_digest("en"), &ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cache.len(), 2, "two distinct posts (one shown twice)");
    let again = r
        .render(&normal_digest("nl"), &ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cache.len(), 2, "reused by the next digest");
    let uncached = r
        .render(&normal_digest("en"), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        first.html, uncached.html,
        "same output with or without the cache"
    );
    assert!(again.html.contains("<strong>new</strong>"));
}

#[test]
fn dutch_digest() {
    let r = renderer();
    let f = Fixture::new();
    let out = r
        .render(&normal_digest("nl-NL"), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.subject, "6 actieve discussies in uw groepen");
    for part in [&out.text, &out.html] {
        assert!(part.contains("Uitgelicht voor uw vak"), "{part}");
        assert!(part.contains("Antwoord per e-mail"), "{part}");
        assert!(part.contains("Beste Ann de Vries,"), "{part}");
        assert!(part.contains("ma 10 mrt, 04:30"), "{part}");
        assert!(part.contains("Bob Jansen, Ann de Vries en Dee"), "{part}");
    }
    assert!(out.html.contains("lang=\"nl\""));
}

#[test]
fn the_footer_links_to_the_preferences_page_in_every_locale() {
    let r = renderer();
    let f = Fixture::new();
    for (locale, words) in [
        ("en", "Change your preferences"),
        ("nl", "Uw voorkeuren wijzigen"),
    ] {
        let out = r
            .render(&normal_digest(locale), &f.ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        let link = "https://digests.example.org/p/abc.def";
        assert!(
            out.text.contains(&format!("{words}: {link}")),
            "{}",
            out.text
        );
        assert!(
            out.html
                .contains(&format!("<a href=\"{link}\" id=\"preferences-link\"")),
            "{}",
            out.html
        );
        assert!(out.html.contains(words));
    }
    let without = RenderContext {
        preferences_url: None,
        ..f.ctx()
    };
    let out = r.render(&normal_digest("en"), &without).expect("renders");
    assert!(!out.text.contains("preferences") && !out.html.contains("preferences-link"));
}

#[test]
fn unknown_locale_falls_back_to_english() {
    let r = renderer();
    let f = Fixture::new();
    let out = r
        .render(&normal_digest("fr"), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.text.contains("Active threads"));
}

#[test]
fn hostile_content_is_neutralised() {
    let t = thread(
        9,
        "Pwned\r\nBcc: victim@example.org <script>alert(1)</script>",
        "javascript:alert(document.cookie)",
    );
    let mut p = post(
        1,
        &t,
        "<b onmouseover=alert(1)>Mallory</b>",
        "<img src=x onerror=alert(1)><script>steal()</script><a href=\"javascript:x()\">click</a> \
         <style>body{display:none}</style>hello",
        BodyFormat::Html,
    );
    p.url = "JaVaScRiPt:alert(2)".into();
    let md = post(
        2,
        &t,
        "Eve",
        "Hi <script>alert(3)</script> [x](javascript:alert(4)) <img src=x onerror=alert(5)>",
        BodyFormat::Markdown,
    );
    let d = digest(
        "en",
        vec![DigestThread {
            thread: t.clone().into(),
            new_posts: vec![md.into(), p.clone().into()],
            participants: vec!["<i>Eve</i>\r\n".into()],
            score: 1.0,
        }],
        vec![Highlight {
            post: p.into(),
            thread: t.into(),
            role: "social-worker\r\nX: y".into(),
            tag: "training".into(),
            score: 1.0,
        }],
    );
    let r = renderer();
    let f = Fixture::new();
    let out = r.render(&d, &f.ctx()).unwrap_or_else(|e| panic!("{e}"));

    assert!(!out.subject.contains('\r') && !out.subject.contains('\n'));
    for tag in tags(&out.html) {
        assert!(
            !tag.starts_with("script") && !tag.starts_with("img"),
            "{tag}"
        );
        assert!(
            !tag.starts_with("style") && !tag.starts_with("iframe"),
            "{tag}"
        );
        assert!(!tag.contains("javascript:"), "{tag}");
        let has_handler = tag
            .split_whitespace()
            .any(|attr| attr.starts_with("on") && attr.contains('='));
        assert!(!has_handler, "{tag}");
    }
    assert!(out.html.contains("&lt;script&gt;"), "title shown as text");
    assert!(
        out.html
            .contains("&lt;b onmouseover&#x3D;alert(1)&gt;Mallory&lt;/b&gt;"),
        "author shown as text: {}",
        out.html
            .find("Mallory")
            .map_or("", |i| &out.html[i.saturating_sub(60)..i + 20])
    );
    // The reply link's subject carries no raw CR/LF either.
    assert!(out.html.contains("Pwned%20Bcc:%20victim%40example.org"));
    assert!(!out.text.contains("javascript:"), "{}", out.text);
    assert!(!out.text.contains("steal()"), "script content dropped");
}

#[test]
fn empty_digest_renders() {
    let r = renderer();
    let f = Fixture::new();
    let out = r
        .render(&digest("en", Vec::new(), Vec::new()), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.subject, "Nothing new in your groups");
    assert!(out.text.contains("Nothing new in your groups this time."));
    assert!(!out.text.contains("== Active threads =="));
}

#[test]
fn subject_for_highlights_only() {
    let r = renderer();
    let f = Fixture::new();
    let mut d = normal_digest("en");
    d.threads.clear();
    d.more_threads = 0;
    let out = r.render(&d, &f.ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.subject, "1 training highlight for you");
}

#[test]
fn missing_directory_is_a_clear_error() {
    let e = Renderer::load(Path::new("/nonexistent/templates")).err();
    let msg = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("/nonexistent/templates"), "{msg}");
}

fn copy_templates(to: &Path) {
    for sub in ["", "partials", "i18n"] {
        let from = templates().join(sub);
        let dest = to.join(sub);
        std::fs::create_dir_all(&dest).unwrap_or_else(|e| panic!("{e}"));
        for entry in std::fs::read_dir(&from).unwrap_or_else(|e| panic!("{e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_file() {
                if let Some(name) = path.file_name() {
                    std::fs::copy(&path, dest.join(name)).unwrap_or_else(|e| panic!("{e}"));
                }
            }
        }
    }
}

#[test]
fn missing_template_file_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_templates(dir.path());
    std::fs::remove_file(dir.path().join("digest.txt.hbs")).unwrap_or_else(|e| panic!("{e}"));
    let msg = Renderer::load(dir.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("digest.txt.hbs"), "{msg}");
}

#[test]
fn syntax_error_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_templates(dir.path());
    std::fs::write(
        dir.path().join("digest.txt.hbs"),
        "line one\nline two {{#if x}}\nno close\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = Renderer::load(dir.path()).err();
    match e {
        Some(RenderError::Template { path, line, .. }) => {
            assert!(path.ends_with("digest.txt.hbs"));
            assert!(line >= 2, "line {line}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn missing_partial_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_templates(dir.path());
    std::fs::remove_file(dir.path().join("partials/footer_txt.hbs"))
        .unwrap_or_else(|e| panic!("{e}"));
    let msg = Renderer::load(dir.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("digest.txt.hbs") && msg.contains("footer_txt"),
        "{msg}"
    );
}

#[test]
fn role_template_override() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_templates(dir.path());
    std::fs::write(
        dir.path().join("short.html.hbs"),
        "<p>{{t \"heading\"}}: {{thread_total}}</p>",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("short.txt.hbs"), "{{thread_total}} threads")
        .unwrap_or_else(|e| panic!("{e}"));
    let r = Renderer::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.has_template("short"));
    assert_eq!(
        r.template_names(),
        vec!["best_of", "digest", "nudge", "short"]
    );
    let f = Fixture::new();
    let mut ctx = f.ctx();
    ctx.template = "short";
    let out = r
        .render(&normal_digest("en"), &ctx)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.html, "<p>Your digest: 6</p>");
    assert_eq!(out.text, "6 threads");
    ctx.template = "nope";
    assert!(matches!(
        r.render(&normal_digest("en"), &ctx),
        Err(RenderError::MissingTemplate { .. })
    ));
}

#[test]
fn renderer_is_shareable() {
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<Renderer>();
}

/// Writes sample digests for looking at (`DIGESTD_SAMPLE_DIR=/tmp cargo test ... write_samples`).
#[test]
fn write_samples() {
    let Some(dir) = std::env::var_os("DIGESTD_SAMPLE_DIR") else {
        return;
    };
    let r = renderer();
    let f = Fixture::new();
    for locale in ["en", "nl"] {
        let out = r
            .render(&normal_digest(locale), &f.ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        let base = Path::new(&dir).join(format!("digest-{locale}"));
        std::fs::write(base.with_extension("html"), &out.html).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            base.with_extension("txt"),
            format!("Subject: {}\n\n{}", out.subject, out.text),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// `normal_digest` with one unanswered question (thread 9) in "Can you help?".
fn digest_with_question(locale: &str) -> Digest {
    let mut d = normal_digest(locale);
    let t9 = thread(
        9,
        "Who signs off a care plan?",
        "https://forum.example.org/t/9",
    );
    let mut p = post(
        9,
        &t9,
        "Bob Jansen",
        "Does the team lead sign, or the GP?",
        BodyFormat::Markdown,
    );
    p.tags = vec!["question".into()];
    d.questions = vec![crate::model::Question {
        thread: t9.into(),
        opener: p.into(),
        waiting_days: 3,
        score: 1.0,
    }];
    d.more_questions = 2;
    d
}

#[test]
fn every_section_has_its_id_in_html_and_its_heading_in_text_in_every_locale() {
    let r = renderer();
    let f = Fixture::new();
    let token = "ab".repeat(20);
    for (locale, heading, waiting, more) in [
        (
            "en",
            "== Can you help? ==",
            "Waiting for 3 days",
            "… and 2 more open questions",
        ),
        (
            "nl",
            "== Kunt u helpen? ==",
            "Wacht al 3 dagen",
            "… en nog 2 open vragen",
        ),
    ] {
        let out = r
            .render(&digest_with_question(locale), &f.ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        for id in ["threads", "can-you-help", "highlights"] {
            assert_eq!(
                out.html.matches(&format!("id=\"{id}\"")).count(),
                1,
                "{locale}: section {id}"
            );
        }
        // Threads, then "Can you help?", then highlights.
        let at = |needle: &str| out.html.find(needle).unwrap_or(usize::MAX);
        assert!(at("id=\"threads\"") < at("id=\"can-you-help\""));
        assert!(at("id=\"can-you-help\"") < at("id=\"highlights\""));
        let text = &out.text;
        assert!(text.contains(heading), "{locale}: {text}");
        assert!(text.contains("* Who signs off a care plan?"), "{text}");
        assert!(text.contains(waiting), "{locale}: {text}");
        assert!(text.contains(more), "{locale}: {text}");
        assert!(
            text.contains(&format!(
                "mailto:reply+{token}@replies.example.org?subject=Re:%20Who"
            )),
            "{text}"
        );
        assert!(out.html.contains("Does the team lead sign, or the GP?"));
    }
    // Without questions there is no such section at all.
    let out = r
        .render(&normal_digest("en"), &f.ctx())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.html.contains("can-you-help"));
    assert!(!out.text.contains("Can you help?"));
}

#[test]
fn a_role_title_is_shown_in_the_readers_language_instead_of_its_id() {
    let r = renderer();
    let mut f = Fixture::new();
    f.role_titles.insert(
        "social-worker".into(),
        crate::model::LocalText {
            default: "Social worker".into(),
            by_locale: [
                ("en".to_string(), "Social worker".to_string()),
                ("nl".to_string(), "Maatschappelijk werker".to_string()),
            ]
            .into_iter()
            .collect(),
        },
    );
    for (locale, shown) in [
        ("en", "For your role: Social worker"),
        ("nl", "Voor uw rol: Maatschappelijk werker"),
    ] {
        let out = r
            .render(&normal_digest(locale), &f.ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.text.contains(shown), "{locale}: {}", out.text);
        assert!(out.html.contains(shown), "{locale}");
        assert!(
            !out.text.contains("social-worker"),
            "{locale}: {}",
            out.text
        );
    }
}

#[test]
fn a_best_of_names_its_month_in_every_locale_and_shows_only_highlights() {
    let r = renderer();
    let f = Fixture::new();
    let mut ctx = f.ctx();
    ctx.template = crate::best_of::TEMPLATE;
    let month = crate::best_of::month_period(chrono_tz::Europe::Amsterdam, 2026, 11)
        .unwrap_or_else(|| panic!("a month"));
    for (locale, subject, heading) in [
        (
            "en",
            "Best of November 2026: 1 training highlight",
            "== Training highlights of November 2026 ==",
        ),
        (
            "nl",
            "Het beste van november 2026: 1 leestip",
            "== Leestips van november 2026 ==",
        ),
    ] {
        let mut digest = normal_digest(locale);
        digest.threads.clear();
        digest.more_threads = 0;
        digest.period = month;
        let out = r.render(&digest, &ctx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.subject, subject);
        assert_eq!(out.html.matches("id=\"best-of\"").count(), 1, "{locale}");
        assert!(!out.html.contains("id=\"threads\""), "{locale}");
        assert!(out.text.contains(heading), "{locale}: {}", out.text);
        assert!(out.text.contains("Intake forms"), "{}", out.text);
    }
}
