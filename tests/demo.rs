//! `digestd demo`, the newcomer's first command: the real binary, twice, in a fresh folder.
//! The first run writes one complete RFC 5322 message per digest into DIR/outbox/new and says
//! where to look; the second run sends nothing and says so.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mail_parser::{HeaderValue, MessageParser, MimeHeaders};

fn demo(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_digestd"))
        .arg("demo")
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .expect("running digestd demo");
    assert!(
        out.status.success(),
        "digestd demo failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 summary")
}

fn outbox(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("outbox/new"))
        .expect("DIR/outbox/new exists")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// The raw, unfolded value of header `name` (mail-parser turns some headers into structures).
fn raw_header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
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
}

/// "digests sent: N" from the summary.
fn digests_sent(summary: &str) -> usize {
    let line = summary
        .lines()
        .find(|l| l.contains("digests sent:"))
        .unwrap_or_else(|| panic!("no 'digests sent:' line in:\n{summary}"));
    line.split("digests sent:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"))
}

/// (email, frequency) of the demo's people, from the CSV it writes.
fn demo_people(dir: &Path) -> Vec<(String, String)> {
    let csv = std::fs::read_to_string(dir.join("config/people.csv")).expect("people.csv");
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (
                cells[0].to_owned(),
                cells.get(5).copied().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn demo_writes_complete_digests_once_and_says_where_to_look() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");

    // First run: a fresh organisation, one cycle, a summary.
    let summary = demo(&dir);
    assert!(
        summary.contains("20 people"),
        "people in the summary:\n{summary}"
    );
    let sent = digests_sent(&summary);
    let new_dir = dir.join("outbox").join("new");
    assert!(
        summary.contains(&new_dir.display().to_string()),
        "where to look:\n{summary}"
    );
    let config = dir.join("config").join("digestd.toml");
    assert!(
        summary.contains(&format!("digestd preview -c {}", config.display()))
            && summary.contains("--html"),
        "how to preview one in a browser:\n{summary}"
    );
    let preview_line = summary
        .lines()
        .find(|l| l.contains("digestd preview"))
        .unwrap_or_default();

    let people = demo_people(&dir);
    assert_eq!(people.len(), 20, "twenty people in the demo");
    let expected: BTreeSet<String> = people
        .iter()
        .filter(|(_, freq)| freq != "off")
        .map(|(email, _)| email.clone())
        .collect();
    let everyone: BTreeSet<String> = people.iter().map(|(e, _)| e.clone()).collect();

    let files = outbox(&dir);
    assert_eq!(
        files.len(),
        sent,
        "one file in outbox/new per digest sent:\n{summary}"
    );
    let mut recipients = BTreeSet::new();
    let mut saw_highlight = false;
    let mut saw_question = false;
    let mut saw_nominated = false;
    for file in &files {
        let raw = std::fs::read(file).expect("reading a digest");
        let name = file.display();
        let m = MessageParser::default()
            .parse(&raw)
            .unwrap_or_else(|| panic!("{name} does not parse"));
        let from = m
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_else(|| panic!("{name}: From"));
        assert_eq!(from, "digest@demodam.example", "{name}: From");
        let to: Vec<&str> = m
            .to()
            .map(|a| a.iter().filter_map(|a| a.address()).collect())
            .unwrap_or_default();
        assert_eq!(to.len(), 1, "{name}: one To address: {to:?}");
        assert!(
            everyone.contains(to[0]),
            "{name}: To {} is a demo person",
            to[0]
        );
        recipients.insert(to[0].to_owned());
        let subject = m.subject().unwrap_or_default();
        assert!(
            !subject.is_empty() && !subject.contains(['\r', '\n']),
            "{name}: Subject {subject:?}"
        );
        assert!(
            m.message_id()
                .is_some_and(|id| id.ends_with("@reply.demodam.example")),
            "{name}: Message-ID {:?}",
            m.message_id()
        );
        assert!(m.date().is_some(), "{name}: Date");
        let list_id = raw_header(&raw, "List-Id").unwrap_or_default();
        assert!(
            list_id.contains("<digest.demodam.example>"),
            "{name}: List-Id {list_id:?}"
        );
        let unsub = raw_header(&raw, "List-Unsubscribe").unwrap_or_default();
        assert!(
            unsub.contains("<mailto:unsubscribe+"),
            "{name}: List-Unsubscribe {unsub:?}"
        );
        match m.header("Auto-Submitted") {
            Some(HeaderValue::Text(t)) => assert_eq!(t, "auto-generated", "{name}"),
            other => panic!("{name}: Auto-Submitted {other:?}"),
        }
        assert!(
            m.content_type()
                .is_some_and(|ct| ct.ctype() == "multipart" && ct.subtype() == Some("alternative")),
            "{name}: multipart/alternative"
        );
        assert_eq!(m.text_body_count(), 1, "{name}: one text part");
        assert_eq!(m.html_body_count(), 1, "{name}: one HTML part");
        let text = m.body_text(0).unwrap_or_default();
        let html = m.body_html(0).unwrap_or_default();
        assert!(text.len() > 200, "{name}: a real text part:\n{text}");
        assert!(
            html.contains("<table") && html.contains("</html>"),
            "{name}: a whole HTML document"
        );
        assert!(
            !html.contains("<script") && !html.contains("<iframe"),
            "{name}: no scripts"
        );
        assert!(
            html.contains("mailto:reply+"),
            "{name}: a reply link in the HTML part"
        );
        // The demo has training posts: the highlights section (en or nl) shows up somewhere.
        saw_highlight |= text.contains("== Training highlights ==")
            || text.contains("== Uitgelicht voor uw vak ==");
        // Each section present in the text part has its id in the HTML part.
        for (id, en, nl) in [
            (
                "threads",
                "== Active threads ==",
                "== Actieve discussies ==",
            ),
            (
                "can-you-help",
                "== Can you help? ==",
                "== Kunt u helpen? ==",
            ),
            (
                "highlights",
                "== Training highlights ==",
                "== Uitgelicht voor uw vak ==",
            ),
        ] {
            let in_text = text.contains(en) || text.contains(nl);
            let in_html = html.contains(&format!("id=\"{id}\""));
            assert_eq!(
                in_text, in_html,
                "{name}: section {id} in both parts or neither"
            );
        }
        // The demo has questions nobody answered for days, and posts colleagues nominated.
        saw_question |= html.contains("id=\"can-you-help\"");
        saw_nominated |= text.contains("Recommended by a colleague")
            || text.contains("Aanbevolen door een collega");
    }
    assert_eq!(
        recipients, expected,
        "everyone but the opted-out person gets a digest"
    );
    assert!(saw_highlight, "some digest carries a training highlight");
    assert!(saw_question, "some digest asks \"Can you help?\"");
    assert!(saw_nominated, "some digest carries a nominated highlight");

    // Second run: same folder, nothing new, nothing sent, and the summary says so.
    let again = demo(&dir);
    assert!(again.contains("20 people"), "{again}");
    assert!(
        again.contains("nothing new to send"),
        "second run says it sent nothing:\n{again}"
    );
    assert!(
        !again.contains("digests sent:"),
        "second run sends nothing:\n{again}"
    );
    assert!(
        !again.contains("forum posts from the past week loaded"),
        "posts are not loaded twice:\n{again}"
    );
    assert_eq!(outbox(&dir).len(), files.len(), "no new file in the outbox");

    // The preview the summary suggests shows a real digest (not "nothing new"), even though
    // that person's digest was just sent, and sends nothing.
    let args: Vec<&str> = preview_line
        .split_whitespace()
        .skip_while(|w| *w != "preview")
        .take_while(|w| *w != ">")
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_digestd"))
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("running the suggested preview");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.starts_with("<!DOCTYPE html>"), "{args:?}: {html}");
    assert!(
        html.contains("mailto:reply+"),
        "threads in the preview: {html}"
    );
    assert_eq!(outbox(&dir).len(), files.len(), "a preview sends nothing");
}
