//! The sendmail transport, end to end: the real binary with `[mail.transport] kind = "sendmail"`
//! pointing at a small script that stands in for sendmail. It behaves as sendmail's documented
//! command line says (what lettre's `SendmailTransport` runs: `sendmail -i -f FROM -- TO...`,
//! the message on stdin): it records its arguments and the message it read, and exits with the
//! code in a file the test controls (0, or 75 EX_TEMPFAIL, or 1).

mod support;

use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};

use std::path::{Path, PathBuf};
use std::process::Output;

use mail_parser::{MessageParser, MimeHeaders};

const SCRIPT: &str = r#"#!/bin/sh
# Stand-in for sendmail: read the whole message, record it, exit as told.
here="$(dirname "$0")"
call="$(mktemp -d "$here/calls/call.XXXXXXXX")"
for arg in "$@"; do printf '%s\n' "$arg"; done > "$call/args"
cat > "$call/message"
date +%s%N > "$call/time"
code="$(cat "$here/exit_code" 2>/dev/null || echo 0)"
if [ "$code" != 0 ]; then
    echo "fake-sendmail: simulated failure (exit $code)" >&2
fi
exit "$code"
"#;

/// One run of the fake sendmail.
#[derive(Debug)]
struct Call {
    args: Vec<String>,
    message: Vec<u8>,
}

struct Fake {
    dir: tempfile::TempDir,
}

impl Fake {
    fn new() -> Fake {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("calls")).expect("calls dir");
        let script = dir.path().join("fake-sendmail");
        std::fs::write(&script, SCRIPT).expect("writing the script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Fake { dir }
    }

    fn command(&self) -> PathBuf {
        self.dir.path().join("fake-sendmail")
    }

    fn exit_with(&self, code: i32) {
        std::fs::write(self.dir.path().join("exit_code"), code.to_string()).expect("exit_code");
    }

    /// Every call so far, oldest first.
    fn calls(&self) -> Vec<Call> {
        let mut calls: Vec<(u128, Call)> = std::fs::read_dir(self.dir.path().join("calls"))
            .expect("calls dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.join("time").is_file())
            .map(|p| {
                let time = std::fs::read_to_string(p.join("time"))
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                let args = std::fs::read_to_string(p.join("args"))
                    .expect("args")
                    .lines()
                    .map(str::to_owned)
                    .collect();
                let message = std::fs::read(p.join("message")).expect("message");
                (time, Call { args, message })
            })
            .collect();
        calls.sort_by_key(|(t, _)| *t);
        calls.into_iter().map(|(_, c)| c).collect()
    }
}

fn write_config(dir: &Path, sendmail: &Path, people: &[(&str, &str)]) -> PathBuf {
    Spec {
        store_path: "state/digestd.sqlite".into(),
        transport: format!("kind = \"sendmail\"\ncommand = \"{}\"", sendmail.display()),
        groups: vec![GroupSpec::new("general", "General")],
        roles: vec![RoleSpec::new(
            "staff",
            &["general"],
            "0 0 7 * * Mon-Fri",
            "",
        )],
        people: people
            .iter()
            .map(|(email, name)| (email.to_string(), name.to_string()))
            .collect(),
        person_roles: vec!["staff".into()],
        person_extra: String::new(),
        // The author of the posts, who gets no digests.
        persons: vec![PersonSpec::new(
            "writer@testdam.example",
            "Wim Writer",
            &["staff"],
            "frequency = \"off\"",
        )],
        ..Spec::default()
    }
    .write_in(dir)
}

fn digestd(config: &Path, args: &[&str]) -> Output {
    support::run_digestd(config, args, None)
}

fn add_post(config: &Path, body: &str) {
    let out = support::run_digestd(
        config,
        &[
            "post",
            "--group",
            "general",
            "--author",
            "writer@testdam.example",
        ],
        Some(body.as_bytes()),
    );
    assert!(
        out.status.success(),
        "post: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pending(config: &Path) -> u64 {
    let out = digestd(config, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    status["deliveries_pending"]
        .as_u64()
        .expect("deliveries_pending")
}

#[test]
fn digests_reach_sendmail_complete_with_the_right_envelope() {
    let fake = Fake::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &fake.command(),
        &[
            ("alice@testdam.example", "Alice Aalders"),
            ("bob@testdam.example", "Bob Bos"),
        ],
    );
    add_post(
        &config,
        "The **new** rota is up.\n\n.\n\nA line with only a dot above.",
    );
    let out = digestd(&config, &["send-now"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("sent 2"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "one sendmail run per digest: {calls:?}");
    let mut recipients = Vec::new();
    for call in &calls {
        // sendmail -i -f <envelope from> -- <recipient>
        assert_eq!(call.args.len(), 5, "{:?}", call.args);
        assert_eq!(
            call.args[..4],
            ["-i", "-f", "digest@testdam.example", "--"],
            "{:?}",
            call.args
        );
        let to = call.args[4].clone();
        let m = MessageParser::default()
            .parse(&call.message)
            .expect("the message on stdin parses");
        let header_to = m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .expect("To");
        assert_eq!(header_to, to, "envelope and header recipient agree");
        let from = m.from().and_then(|a| a.first()).and_then(|a| a.address());
        assert_eq!(from, Some("digest@testdam.example"));
        assert!(m.subject().is_some_and(|s| !s.is_empty()));
        assert!(m
            .message_id()
            .is_some_and(|id| id.ends_with("@reply.testdam.example")));
        assert!(m
            .content_type()
            .is_some_and(|ct| ct.subtype() == Some("alternative")));
        let text = m.body_text(0).expect("text part");
        let html = m.body_html(0).expect("HTML part");
        assert!(text.contains("The new rota is up."), "{text}");
        assert!(
            html.contains("<strong>new</strong> rota") && html.trim_end().ends_with("</html>"),
            "the whole HTML part arrived"
        );
        // The whole message: its last MIME boundary closes it.
        let raw = String::from_utf8_lossy(&call.message);
        let boundary = m
            .content_type()
            .and_then(|ct| ct.attribute("boundary"))
            .expect("boundary");
        assert!(
            raw.trim_end().ends_with(&format!("--{boundary}--")),
            "message complete up to its closing boundary"
        );
        recipients.push(to);
    }
    recipients.sort();
    assert_eq!(recipients, ["alice@testdam.example", "bob@testdam.example"]);
    assert_eq!(pending(&config), 0);

    // Nothing twice.
    let out = digestd(&config, &["send-now"]);
    assert!(out.status.success());
    assert_eq!(
        fake.calls().len(),
        2,
        "a second cycle runs sendmail for nothing"
    );
}

/// A sendmail that fails is retried with backoff, then the digest stays pending (whatever the
/// exit code: lettre reports only sendmail's stderr, so exit 75 and exit 1 are both transient),
/// and the next cycle hands over the very same message once sendmail works again.
#[test]
fn a_failing_sendmail_leaves_the_digest_pending_and_it_is_resent_later() {
    let fake = Fake::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &fake.command(),
        &[("alice@testdam.example", "Alice Aalders")],
    );
    add_post(&config, "Is the printer fixed?");

    let mut tries = 0;
    for code in [75, 1] {
        fake.exit_with(code);
        let out = digestd(&config, &["send-now"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = if code == 75 {
            // A fresh digest: recorded, tried, left pending for the next cycle (the writer, who
            // opted out, is the one skipped).
            "sent 0, resumed 0, empty 0, skipped 1, failed 0, deferred 1"
        } else {
            // The pending one resent (and failing again); nothing new recorded.
            "sent 0, resumed 0"
        };
        assert!(stdout.contains(expected), "exit {code}: {stdout}\n{stderr}");
        assert!(
            !stdout.contains("failed 1"),
            "exit {code} is transient, not a refusal: {stdout}"
        );
        assert_eq!(out.status.code(), Some(0), "exit {code}: {stderr}");
        assert!(
            stderr.contains("simulated failure"),
            "sendmail's complaint is logged: {stderr}"
        );
        assert_eq!(pending(&config), 1, "exit {code}: the digest stays pending");
        let calls = fake.calls().len();
        assert!(
            calls - tries > 1,
            "exit {code}: retried within the cycle ({} tries)",
            calls - tries
        );
        tries = calls;
    }

    fake.exit_with(0);
    let out = digestd(&config, &["send-now"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("resumed 1"), "{stdout}");
    assert_eq!(pending(&config), 0);
    let calls = fake.calls();
    let last = calls.last().expect("a call");
    assert_eq!(last.args[4], "alice@testdam.example");
    assert_eq!(
        last.message, calls[0].message,
        "the stored message, byte for byte"
    );
    assert!(calls.iter().all(|c| c.message == calls[0].message));
    // Handed over once: no further cycle sends it again.
    let out = digestd(&config, &["send-now"]);
    assert!(out.status.success());
    assert_eq!(fake.calls().len(), calls.len());
}
