//! The whole loop on the embedded defaults: a post, a digest in a Maildir outbox, the person's
//! reply dropped into the inbound Maildir, `digestd run` picking it up and posting it into the
//! thread as that person, quotes and signature trimmed.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::daemon::Spec;
use support::{start_daemon, stop_daemon};

fn config_text() -> String {
    Spec {
        people: vec![
            ("alice@testdam.example".into(), "Alice Aalders".into()),
            ("bob@testdam.example".into(), "Bob Bos".into()),
        ],
        person_extra: String::new(),
        tail: "[inbound]\nmaildir = \"inbox\"\n\n[daemon]\ninbound_poll_secs = 1\n".into(),
        ..Spec::default()
    }
    .render()
}

fn digestd(config: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    support::run_digestd(config, args, Some(stdin.unwrap_or("").as_bytes()))
}

#[test]
fn a_reply_to_a_digest_lands_in_the_thread_as_the_person() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("digestd.toml");
    std::fs::write(&config, config_text()).expect("config");

    let out = digestd(
        &config,
        &[
            "post",
            "--group",
            "social-work",
            "--author",
            "bob@testdam.example",
            "--title",
            "Winter home visits",
        ],
        Some("What do you check on a winter home visit?"),
    );
    assert!(
        out.status.success(),
        "post: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = digestd(&config, &["send-now"], None);
    assert!(
        out.status.success(),
        "send-now: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Alice's digest, and the reply address of the thread in it.
    let outbox = dir.path().join("outbox/new");
    let digest = std::fs::read_dir(&outbox)
        .expect("outbox")
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read(e.path()).expect("read"))
        .find(|raw| String::from_utf8_lossy(raw).contains("To: \"Alice Aalders\""))
        .expect("Alice got a digest");
    let parsed = mail_parser::MessageParser::default()
        .parse(&digest)
        .expect("parses");
    let text = parsed.body_text(0).expect("text part").to_string();
    let token = regex::Regex::new(r"reply\+([0-9a-f]{40})@reply\.testdam\.example")
        .expect("regex")
        .captures(&text)
        .map(|c| c[1].to_owned())
        .expect("a reply address in the text part");
    let digest_id = parsed.message_id().expect("Message-ID").to_owned();

    // Alice answers from her mail client: quote, attribution and signature included.
    let reply = format!(
        "From: Alice Aalders <Alice@Testdam.example>\r\n\
         To: reply+{token}@reply.testdam.example\r\n\
         Subject: Re: Winter home visits\r\n\
         Message-ID: <answer-1@mail.testdam.example>\r\n\
         In-Reply-To: <{digest_id}>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         The heating, the CO detector, and food for three days.\r\n\
         \r\n\
         On Mon, 23 Nov 2026 at 07:00, Testdam Groups <digest@testdam.example> wrote:\r\n\
         > What do you check on a winter home visit?\r\n\
         \r\n\
         -- \r\n\
         Alice Aalders, social worker\r\n"
    );
    let inbox = dir.path().join("inbox");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(inbox.join(sub)).expect("inbox");
    }
    std::fs::write(inbox.join("new/1700000000.reply.test"), reply).expect("drop the reply");

    let mut daemon = start_daemon(&config);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut shown = String::new();
    while Instant::now() < deadline {
        let out = digestd(&config, &["thread", "1"], None);
        shown = String::from_utf8_lossy(&out.stdout).to_string();
        if shown.contains("CO detector") {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = stop_daemon(&mut daemon);

    assert!(
        shown.contains("The heating, the CO detector, and food for three days."),
        "{shown}"
    );
    assert!(
        shown.contains("alice@testdam.example"),
        "posted as Alice: {shown}"
    );
    assert!(
        !shown.contains("wrote:") && !shown.contains("social worker"),
        "quote and signature trimmed: {shown}"
    );
    let processed = std::fs::read_dir(inbox.join("cur")).expect("cur").count();
    assert_eq!(processed, 1, "the reply moved to cur/");
}
