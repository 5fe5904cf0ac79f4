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
