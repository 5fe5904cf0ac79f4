//! `digestd cpd`: the CPD record of one person (readable text, CSV) and the admin export for
//! everyone, from the demo organisation's real store after its real digest run; bad input gets
//! a clear error and a non-zero exit.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn digestd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digestd"))
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_LOG")
        .output()
        .expect("running digestd")
}

fn ok(args: &[&str]) -> String {
    let out = digestd(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn days() -> (String, String) {
    let today = chrono::Utc::now().date_naive();
    (
        (today - chrono::Duration::days(30)).to_string(),
        (today + chrono::Duration::days(1)).to_string(),
    )
}

fn demo(dir: &Path) -> String {
    ok(&["demo", "--dir", dir.to_str().expect("path")]);
    dir.join("config/digestd.toml").display().to_string()
}

#[test]
fn a_person_gets_a_dated_record_of_highlights_replies_and_answers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = demo(&tmp.path().join("demo"));
    let (from, to) = days();
    // Charlotte gave the best answer on debt counselling, and is a social worker and HR advisor.
    let text = ok(&[
        "cpd",
        "-c",
        &config,
        "--person",
        "C.Bakker@demodam.example",
        "--from",
        &from,
        "--to",
        &to,
    ]);
    assert!(
        text.starts_with("CPD record of Charlotte Bakker <c.bakker@demodam.example>\n"),
        "{text}"
    );
    assert!(text.contains(&format!("{from} to {to}")), "{text}");
    assert!(text.contains("questions answered: 1"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("answered a question") && l.contains("Debt counselling referrals")),
        "{text}"
    );
    // Highlights delivered by her digest, for each of her roles.
    let highlight_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("training highlight "))
        .collect();
    assert!(!highlight_lines.is_empty(), "{text}");
    assert!(text.contains("(for role social-worker)"), "{text}");
    assert!(
        text.contains(&format!(
            "training highlights delivered: {}",
            highlight_lines.len()
        )),
        "{text}"
    );
    // Dates come in order.
    let dates: Vec<&str> = text
        .lines()
        .filter(|l| l.len() > 10 && l.as_bytes()[4] == b'-' && l.as_bytes()[7] == b'-')
        .map(|l| &l[..10])
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);

    // The same as CSV.
    let csv = ok(&[
        "cpd",
        "-c",
        &config,
        "--person",
        "c.bakker@demodam.example",
        "--from",
        &from,
        "--to",
        &to,
        "--csv",
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("date,email,name,kind,group,thread,url,via,role,posts")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(
        rows.iter()
            .filter(|r| r.contains(",training-highlight,"))
            .count(),
        highlight_lines.len()
    );
    assert!(rows
        .iter()
        .all(|r| r.contains(",c.bakker@demodam.example,Charlotte Bakker,")));
    assert!(rows.iter().any(|r| r.contains(",answer,Social work,")));

    // A period before anything happened is empty, and says so.
    let empty = ok(&[
        "cpd",
        "-c",
        &config,
        "--person",
        "c.bakker@demodam.example",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-31",
    ]);
    assert!(empty.contains("Nothing recorded in these days."), "{empty}");
}

#[test]
fn the_admin_export_covers_everyone_and_bad_input_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = demo(&tmp.path().join("demo"));
    let (from, to) = days();
    let csv = ok(&[
        "cpd", "-c", &config, "--all", "--csv", "--from", &from, "--to", &to,
    ]);
    let people: std::collections::BTreeSet<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    assert!(people.len() >= 10, "many people in the export: {people:?}");
    for kind in [",training-highlight,", ",reply,", ",answer,"] {
        assert!(csv.contains(kind), "{kind} in:\n{csv}");
    }

    let refused = |args: &[&str], says: &str| {
        let out = digestd(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &[
            "cpd",
            "-c",
            &config,
            "--person",
            "nobody@demodam.example",
            "--from",
            &from,
            "--to",
            &to,
        ],
        "no person nobody@demodam.example",
    );
    refused(
        &["cpd", "-c", &config, "--all", "--from", &to, "--to", &from],
        "is before --from",
    );
    refused(
        &[
            "cpd",
            "-c",
            &config,
            "--all",
            "--from",
            "2026-13-01",
            "--to",
            &to,
        ],
        "invalid value '2026-13-01'",
    );
    refused(
        &["cpd", "-c", &config, "--from", &from, "--to", &to],
        "--person",
    );
}

/// The recipient and the first thread reply token of a demo digest in the outbox.
fn a_digest_reply(demo: &Path) -> (String, String) {
    let new = demo.join("outbox/new");
    let mut files: Vec<_> = std::fs::read_dir(&new)
        .expect("the demo's outbox")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        let raw = std::fs::read(&f).expect("a message");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        let text = m.body_text(0).unwrap_or_default().into_owned();
        let Some(at) = text.find("mailto:reply+") else {
            continue;
        };
        let token: String = text[at + "mailto:reply+".len()..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        let to = m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .expect("a recipient")
            .to_string();
        return (to, token);
    }
    panic!("no digest with a reply link in {}", new.display());
}

#[test]
fn a_reply_by_email_is_labelled_by_email_and_forum_posts_on_the_forum() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let config = demo(&dir);
    let (from, to) = days();
    let (person, token) = a_digest_reply(&dir);
    let record = || {
        ok(&[
            "cpd", "-c", &config, "--person", &person, "--from", &from, "--to", &to,
        ])
    };
    let before = record();
    assert!(before.contains("(0 by email)"), "{before}");
    assert!(!before.contains("(by email)"), "{before}");

    // The person answers the digest's first thread by email; digestd posts it.
    let mail = format!(
        "From: {person}\r\nTo: reply+{token}@reply.demodam.example\r\nSubject: Re: the thread\r\n\
         Message-ID: <cpd-by-email@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThanks, this helped me with a case today.\r\n"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_digestd"))
        .args(["receive", "-c", &config])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(mail.as_bytes())?;
            child.wait_with_output()
        })
        .expect("running digestd receive");
    assert!(
        out.status.success(),
        "receive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&["collect", "-c", &config]);

    let after = record();
    assert!(after.contains("(1 by email)"), "{after}");
    let by_email: Vec<&str> = after.lines().filter(|l| l.contains("(by email)")).collect();
    assert_eq!(by_email.len(), 1, "{after}");
    // Everything else they replied to was written on the forum, and says so.
    let replies_before = before
        .lines()
        .filter(|l| l.contains("(on the forum)"))
        .count();
    let replies_after = after
        .lines()
        .filter(|l| l.contains("(on the forum)"))
        .count();
    assert!(replies_after <= replies_before, "{before}\n---\n{after}");

    let csv = ok(&[
        "cpd", "-c", &config, "--person", &person, "--from", &from, "--to", &to, "--csv",
    ]);
    let email_rows: Vec<&str> = csv
        .lines()
        .filter(|r| r.contains(",reply,") || r.contains(",answer,"))
        .filter(|r| r.split(',').any(|f| f == "email"))
        .collect();
    assert_eq!(email_rows.len(), 1, "{csv}");
    let export = ok(&[
        "cpd", "-c", &config, "--all", "--csv", "--from", &from, "--to", &to,
    ]);
    assert!(
        export.lines().any(|r| r.contains(",forum,")),
        "the demo's forum replies: {export}"
    );
}
