//! `digestd bench trim --corpus DIR [--failures]`: exact-match accuracy of the reply trimmer on
//! reply corpora in the shared format, and its throughput (parse + extract + trim).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::inbound::trim::{corpus, extract_reply};

/// Longest time spent timing one corpus.
const TIME_BUDGET: Duration = Duration::from_secs(2);
/// Most passes over one corpus while timing.
const MAX_PASSES: usize = 10_000;

/// Scores each corpus folder (`<id>.eml` + `<id>.expected.txt`) and prints, per corpus, cases,
/// exact matches, accuracy and messages per second; with `failures`, a line diff of each miss.
pub fn run(corpora: &[PathBuf], failures: bool) -> anyhow::Result<()> {
    anyhow::ensure!(!corpora.is_empty(), "no corpus given (--corpus DIR)");
    for dir in corpora {
        let cases =
            load_corpus(dir).with_context(|| format!("reading corpus {}", dir.display()))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        if cases.is_empty() {
            println!("{name}: no cases (expected <id>.eml + <id>.expected.txt)");
            continue;
        }
        let parser = mail_parser::MessageParser::default();
        let mut exact = 0usize;
        for case in &cases {
            let text = parser
                .parse(&case.eml)
                .map(|m| extract_reply(&m).text)
                .unwrap_or_default();
            if corpus::matches(&case.expected, &text) {
                exact += 1;
            } else if failures {
                println!("--- miss {name}/{}", case.id);
                print!("{}", corpus::line_diff(&case.expected, &text));
            }
        }
        // Throughput: repeat the corpus until the time budget is spent.
        let start = Instant::now();
        let mut messages = 0usize;
        let mut passes = 0usize;
        while passes < MAX_PASSES && (passes == 0 || start.elapsed() < TIME_BUDGET) {
            for case in &cases {
                if let Some(m) = parser.parse(&case.eml) {
                    std::hint::black_box(extract_reply(&m));
                }
                messages += 1;
            }
            passes += 1;
        }
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        println!(
            "{name}: {} cases, {exact} exact, accuracy {:.1}%, {:.0} messages/s (parse + extract + trim, {passes} passes)",
            cases.len(),
            100.0 * exact as f64 / cases.len() as f64,
            messages as f64 / secs
        );
    }
    Ok(())
}

/// Reads every `<id>.eml` with its `<id>.expected.txt` in `dir`, sorted by id. A message
/// without an expectation is skipped.
pub fn load_corpus(dir: &Path) -> io::Result<Vec<corpus::Case>> {
    let mut emls: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    let mut cases: Vec<corpus::Case> = Vec::with_capacity(emls.len());
    for eml_path in emls {
        let Some(id) = eml_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
        else {
            continue;
        };
        let expected_path = dir.join(format!("{id}.expected.txt"));
        let Ok(expected) = std::fs::read(&expected_path) else {
            continue;
        };
        cases.push(corpus::Case {
            id,
            eml: std::fs::read(&eml_path)?,
            expected: String::from_utf8_lossy(&expected).into_owned(),
        });
    }
    Ok(cases)
}
