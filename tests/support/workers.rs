//! What the tests of several `digestd run` workers on one database share: the two threads
//! every numbered reader but the author has news in, and the check that each of them got
//! exactly one digest.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use super::{run_digestd, SmtpSink, SunkMessage};

/// Imports two threads by p0 into the built-in forum of `config`'s store: news for every
/// numbered reader but p0.
pub fn import_two_threads(config: &Path) {
    let file = config.with_file_name("posts.jsonl");
    let lines: Vec<String> = ["a", "b"]
        .iter()
        .map(|thread| {
            serde_json::json!({
                "group": "social-work",
                "thread": thread,
                "title": format!("Thread {thread}"),
                "author": "p0@testdam.example",
                "created": (Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
                "body": "News for everyone.",
            })
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("posts");
    let out = run_digestd(config, &["import", file.to_str().expect("utf-8")], None);
    assert!(
        out.status.success(),
        "import failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (at most `within`) for a digest to each of readers p1…p(people-1), gives a duplicate
/// `settle` to show up, and checks that each got exactly one and nobody else any; `context`
/// ends a failure's message (the workers' logs). Returns the mails.
pub fn assert_one_digest_each_reader(
    sink: &SmtpSink,
    people: usize,
    within: Duration,
    settle: Duration,
    context: impl Fn() -> String,
) -> Vec<SunkMessage> {
    let messages = sink.wait_for(people - 1, within);
    std::thread::sleep(settle);
    let messages = if sink.messages().len() > messages.len() {
        sink.messages()
    } else {
        messages
    };
    let mut by: HashMap<String, usize> = HashMap::new();
    for m in &messages {
        for r in &m.rcpt_to {
            *by.entry(r.to_lowercase()).or_default() += 1;
        }
    }
    for i in 1..people {
        let to = format!("p{i}@testdam.example");
        assert_eq!(
            by.get(&to).copied(),
            Some(1),
            "{to}: exactly one digest ({} messages)\n{}",
            messages.len(),
            context()
        );
    }
    assert_eq!(messages.len(), people - 1, "nobody else, nothing twice");
    messages
}
