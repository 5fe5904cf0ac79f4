//! Scores the reply trimmer on the fixtures of `tests/fixtures/trim/<kind>/`, one folder per
//! kind of mail it used to get wrong (issue 20): attributions beyond Western European
//! languages and clients, "original message" separators, device sign-offs over an
//! unattributed quote, re-wrapped quotes, rulers of dashes inside the reply, and the "reply
//! above this line" marker. Each folder must reach its floor (95% exact); a missing or empty
//! folder fails. The per-folder score is printed (`cargo test --test trim_kinds -- --nocapture`).

use std::path::PathBuf;

use digestd::bench::trim::load_corpus;
use digestd::inbound::trim::{corpus, extract_reply};

/// Minimum exact-match accuracy (percent) per fixture folder.
const FLOORS: &[(&str, f64)] = &[
    ("attribution-intl", 95.0),
    ("original-message-separators", 95.0),
    ("device-signoff-then-quote", 95.0),
    ("rewrapped-quotes", 95.0),
    ("dash-rulers-in-reply", 95.0),
    ("reply-above-marker", 95.0),
];

/// Exact matches and misses (id and diff) of the trimmer on the cases of `dir`.
fn score(dir: &std::path::Path) -> Result<(usize, usize, Vec<String>), String> {
    let cases = load_corpus(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if cases.is_empty() {
        return Err(format!("{}: no cases", dir.display()));
    }
    let mut exact = 0;
    let mut misses = Vec::new();
    for case in &cases {
        let Some(message) = mail_parser::MessageParser::default().parse(&case.eml) else {
            misses.push(format!("{}: does not parse", case.id));
            continue;
        };
        let reply = extract_reply(&message);
        if corpus::matches(&case.expected, &reply.text) {
            exact += 1;
        } else {
            misses.push(format!(
                "{}\n{}",
                case.id,
                corpus::line_diff(&case.expected, &reply.text)
            ));
        }
    }
    Ok((exact, cases.len(), misses))
}

#[test]
fn every_kind_of_mail_is_trimmed() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trim");
    let mut failures = Vec::new();
    for &(kind, floor) in FLOORS {
        match score(&root.join(kind)) {
            Err(e) => failures.push(e),
            Ok((exact, total, misses)) => {
                for miss in &misses {
                    println!("--- miss {kind}/{miss}");
                }
                let accuracy = 100.0 * exact as f64 / total as f64;
                println!("{kind}: {exact}/{total} exact = {accuracy:.1}%");
                if accuracy + 1e-9 < floor {
                    failures.push(format!("{kind}: {accuracy:.1}% < {floor}%"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "trimming below its floor: {failures:?}"
    );
}

#[test]
fn every_fixture_folder_names_its_sources() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trim");
    assert!(root.join("LICENSES.md").is_file(), "LICENSES.md missing");
    for &(kind, _) in FLOORS {
        let source = std::fs::read_to_string(root.join(kind).join("SOURCE.md"))
            .unwrap_or_else(|e| panic!("{kind}/SOURCE.md: {e}"));
        let cases = load_corpus(&root.join(kind)).unwrap_or_default();
        for case in cases {
            assert!(
                source.contains(&format!("`{}`", case.id)),
                "{kind}/SOURCE.md does not name {}",
                case.id
            );
        }
    }
}

#[test]
fn the_digest_markers_of_every_locale_are_cut() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates/i18n");
    let mut locales = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let table: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let marker = table
            .get("reply_above")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{}: no reply_above", path.display()));
        locales += 1;
        let body = format!(
            "My answer.\n\nUnknown client said on some day:\n\n> {marker}\n>\n> The digest\n"
        );
        let trimmed = digestd::inbound::trim::trim_text(&body);
        assert_eq!(trimmed.text, "My answer.", "{}: {marker}", path.display());
    }
    assert!(
        locales >= 2,
        "expected the en and nl locales in {}",
        dir.display()
    );
}
