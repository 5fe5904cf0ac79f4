//! Scores the reply trimmer on the shared corpora (`$DIGESTD_CORPORA`, else
//! `../shared/corpora/*`) and fails when the exact-match accuracy of a corpus falls below the
//! target of issue 4 (95% exact on every corpus), so a regression in the trimming rules fails
//! CI. Absent corpora are skipped with a note, except under CI (env `CI` set), where they fail.

mod support;

use std::path::PathBuf;

use digestd::bench::trim::load_corpus;
use digestd::inbound::trim::{corpus, extract_reply};

/// Minimum accuracy (percent) per corpus folder name: the target, 95 (reached when this was
/// written: 100, 100, 95.5).
const FLOORS: &[(&str, f64)] = &[
    ("discourse-email-reply-trimmer", 95.0),
    ("github-email-reply-parser", 95.0),
    ("talon-html-replies", 95.0),
];

/// The shared corpora: `$DIGESTD_CORPORA`, else `../shared/corpora` beside the checkout.
fn corpora_root() -> PathBuf {
    std::env::var_os("DIGESTD_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"))
}

/// Skips with a note when the corpora are absent, but fails under CI (env `CI` set).
fn absent(what: &std::path::Path) {
    support::skip_unless_ci(&format!("{} (set DIGESTD_CORPORA)", what.display()));
}

#[test]
fn corpora_accuracy() {
    let root = corpora_root();
    if !root.is_dir() {
        absent(&root);
        return;
    }
    let mut failures = Vec::new();
    for &(name, floor) in FLOORS {
        let dir = root.join(name);
        let cases = match load_corpus(&dir) {
            Ok(c) if !c.is_empty() => c,
            _ => {
                absent(&dir);
                continue;
            }
        };
        let mut exact = 0;
        for case in &cases {
            let Some(message) = mail_parser::MessageParser::default().parse(&case.eml) else {
                println!("{name}: {} does not parse", case.id);
                continue;
            };
            let reply = extract_reply(&message);
            if corpus::matches(&case.expected, &reply.text) {
                exact += 1;
            } else {
                println!(
                    "--- miss {}\n{}",
                    case.id,
                    corpus::line_diff(&case.expected, &reply.text)
                );
            }
        }
        let accuracy = 100.0 * exact as f64 / cases.len() as f64;
        println!("{name}: {exact}/{} exact = {accuracy:.1}%", cases.len());
        if accuracy + 1e-9 < floor {
            failures.push(format!("{name}: {accuracy:.1}% < {floor}%"));
        }
    }
    assert!(failures.is_empty(), "accuracy regressed: {failures:?}");
}
