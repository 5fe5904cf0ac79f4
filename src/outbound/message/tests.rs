//! Unit tests of message building: every header and both parts, parsed back with mail-parser.

use chrono::TimeZone;
use mail_parser::MessageParser;

use super::*;
use crate::outbound::new_message_id;

fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 7, 30, 0)
        .single()
        .unwrap_or_default()
}

fn digest<'a>() -> DigestMessage<'a> {
    DigestMessage {
        from: "Digests <digest@example.org>",
        envelope_from: None,
        to_name: "Ana de Vries",
        to_email: "ana@example.org",
        subject: "Your weekly digest",
        text: "Hello Ana,\n\nThree threads moved this week.\n",
        html: "<html><body><p>Hello Ana,</p><p>Three threads moved this week.</p></body></html>",
        message_id: "abc.123@digests.example.org",
        date: date(),
        list_id: "digests.example.org",
        list_name: "Gemeente Example",
        list_unsubscribe_mailto: "unsubscribe+0123abcd@reply.example.org",
        list_unsubscribe_url: None,
        reply_to: None,
    }
}

/// A body part with the wire's CRLF line ends turned into LF.
fn lf(body: Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    body.map(|b| b.replace("\r\n", "\n"))
}

fn header<'x>(msg: &'x mail_parser::Message<'x>, name: &str) -> Option<String> {
    msg.header_raw(name).map(|v| v.trim().to_owned())
}

/// Every header line of the raw message (unfolded), to check that nothing was injected.
fn header_names(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    head.split("\r\n")
        .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
        .collect()
}

#[test]
fn digest_has_every_header_and_both_parts() {
    let built = build_digest(&digest()).expect("builds");
    assert_eq!(built.envelope_from, "digest@example.org");
    assert_eq!(built.envelope_to, "ana@example.org");
    assert_eq!(built.message_id, "abc.123@digests.example.org");

    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    assert_eq!(msg.message_id(), Some("abc.123@digests.example.org"));
    assert_eq!(
        msg.date().map(|d| d.to_timestamp()),
        Some(date().timestamp())
    );
    let from = msg.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.name(), Some("Digests"));
    assert_eq!(from.address(), Some("digest@example.org"));
    let to = msg.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.name(), Some("Ana de Vries"));
    assert_eq!(to.address(), Some("ana@example.org"));
    assert_eq!(msg.subject(), Some("Your weekly digest"));
    assert_eq!(header(&msg, "MIME-Version").as_deref(), Some("1.0"));
    assert_eq!(
        header(&msg, "List-Id").as_deref(),
        Some("Gemeente Example <digests.example.org>")
    );
    assert_eq!(
        header(&msg, "List-Unsubscribe").as_deref(),
        Some("<mailto:unsubscribe+0123abcd@reply.example.org?subject=unsubscribe>")
    );
    assert_eq!(header(&msg, "List-Unsubscribe-Post"), None);
    assert_eq!(
        header(&msg, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    assert_eq!(
        header(&msg, "X-Auto-Response-Suppress").as_deref(),
        Some("All")
    );
    assert_eq!(header(&msg, "Precedence").as_deref(), Some("list"));
    assert_eq!(header(&msg, "Reply-To"), None);
    assert!(header(&msg, "Content-Type")
        .unwrap_or_default()
        .starts_with("multipart/alternative"));

    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(msg.html_body_count(), 1);
    assert_eq!(
        lf(msg.body_text(0)).as_deref(),
        Some("Hello Ana,\n\nThree threads moved this week.\n")
    );
    assert!(msg
        .body_html(0)
        .unwrap_or_default()
        .contains("<p>Three threads moved this week.</p>"));
}

#[test]
fn one_click_url_adds_post_header_and_reply_to_is_set() {
    let mut input = digest();
    input.list_unsubscribe_url = Some("https://digests.example.org/u/0123abcd");
    input.reply_to = Some("Group Planning <group+planning@reply.example.org>");
    input.envelope_from = Some("bounce+0123@reply.example.org");
    let built = build_digest(&input).expect("builds");
    assert_eq!(built.envelope_from, "bounce+0123@reply.example.org");
    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    let unsub = header(&msg, "List-Unsubscribe").unwrap_or_default();
    let unsub: String = unsub.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        unsub,
        "<mailto:unsubscribe+0123abcd@reply.example.org?subject=unsubscribe>, \
         <https://digests.example.org/u/0123abcd>"
    );
    assert_eq!(
        header(&msg, "List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let reply_to = msg.reply_to().and_then(|a| a.first()).expect("reply-to");
    assert_eq!(reply_to.address(), Some("group+planning@reply.example.org"));
}

#[test]
fn hostile_subject_and_name_cannot_inject_headers() {
    let mut input = digest();
    input.subject = "Hello\r\nBcc: victim@evil.example\r\n\r\nbody";
    input.to_name = "Eve\nX-Injected: yes\r";
    input.list_name = "Org\r\nX-Evil: 1";
    let built = build_digest(&input).expect("builds");
    let names = header_names(&built.raw);
    assert!(!names
        .iter()
        .any(|n| n == "bcc" || n.starts_with("x-injected") || n == "x-evil"));
    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    assert_eq!(msg.subject(), Some("Hello Bcc: victim@evil.example body"));
    let to = msg.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.name(), Some("Eve X-Injected: yes"));
    assert_eq!(to.address(), Some("ana@example.org"));
    assert_eq!(msg.text_body_count(), 1);
}

#[test]
fn hostile_addresses_are_refused() {
    let mut input = digest();
    input.to_email = "ana@example.org\r\nBcc: x@evil.example";
    assert!(matches!(
        build_digest(&input),
        Err(MessageError::InvalidAddress { field: "to", .. })
    ));
    let mut input = digest();
    input.list_unsubscribe_url = Some("https://x.example/a\r\nBcc: y");
    assert!(matches!(
        build_digest(&input),
        Err(MessageError::InvalidUrl(_))
    ));
    let mut input = digest();
    input.list_unsubscribe_url = Some("http://plain.example/u");
    assert!(matches!(
        build_digest(&input),
        Err(MessageError::InvalidUrl(_))
    ));
    let mut input = digest();
    input.message_id = "a@b>\r\nX: y";
    assert!(matches!(
        build_digest(&input),
        Err(MessageError::InvalidMessageId(_))
    ));
    let mut input = digest();
    input.list_id = "digests example";
    assert!(matches!(
        build_digest(&input),
        Err(MessageError::InvalidListId(_))
    ));
    let mut input = digest();
    input.from = "not an address";
    assert!(matches!(
        build_digest(&input),
        Err(MessageError::InvalidAddress { field: "from", .. })
    ));
}

#[test]
fn non_ascii_name_and_subject_are_rfc2047_encoded() {
    let mut input = digest();
    input.to_name = "Zoë Ğünther, jr.";
    input.subject = "Overleg: wijkteam Noord — “zorgmijders” ✓";
    input.list_name = "Gemeente Ærø";
    let built = build_digest(&input).expect("builds");
    let raw = String::from_utf8_lossy(&built.raw);
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    assert!(head.is_ascii(), "headers must be 7-bit: {head}");
    assert!(head.contains("=?utf-8?"), "{head}");
    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    assert_eq!(
        msg.subject(),
        Some("Overleg: wijkteam Noord — “zorgmijders” ✓")
    );
    let to = msg.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.name(), Some("Zoë Ğünther, jr."));
    assert_eq!(to.address(), Some("ana@example.org"));
}

#[test]
fn non_ascii_bodies_survive() {
    let mut input = digest();
    input.text = "Café — één ✓\n";
    input.html = "<p>Café — één ✓</p>";
    let built = build_digest(&input).expect("builds");
    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    assert_eq!(lf(msg.body_text(0)).as_deref(), Some("Café — één ✓\n"));
    assert!(msg
        .body_html(0)
        .unwrap_or_default()
        .contains("Café — één ✓"));
}

#[test]
fn plain_answer_threads_and_is_auto_replied() {
    let refs = ["first@mua.example", "<second@mua.example>"];
    let answer = PlainAnswer {
        from: "Digests <digest@example.org>",
        to_name: "Ana",
        to_email: "ana@example.org",
        subject: "Re: Your reply\r\nBcc: x@evil.example",
        text: "Your reply was posted.\n",
        message_id: "ans.1@digests.example.org",
        date: date(),
        in_reply_to: Some("<third@mua.example>"),
        references: &refs,
        reply_to: None,
    };
    let built = build_plain_answer(&answer).expect("builds");
    assert_eq!(built.envelope_from, "");
    assert_eq!(built.envelope_to, "ana@example.org");
    assert!(!header_names(&built.raw).iter().any(|n| n == "bcc"));
    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    assert_eq!(msg.subject(), Some("Re: Your reply Bcc: x@evil.example"));
    assert_eq!(msg.message_id(), Some("ans.1@digests.example.org"));
    assert_eq!(
        header(&msg, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(header(&msg, "Precedence"), None);
    assert_eq!(msg.in_reply_to().as_text(), Some("third@mua.example"));
    let refs: Vec<String> = msg
        .references()
        .as_text_list()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(
        refs,
        [
            "first@mua.example",
            "second@mua.example",
            "third@mua.example"
        ]
    );
    assert!(header(&msg, "Content-Type")
        .unwrap_or_default()
        .starts_with("text/plain"));
    // lettre ends a single-part message with one more CRLF.
    assert_eq!(
        lf(msg.body_text(0)).as_deref().map(str::trim_end),
        Some("Your reply was posted.")
    );
    assert_eq!(header(&msg, "Reply-To"), None);
}

#[test]
fn plain_answer_can_ask_for_replies_elsewhere() {
    let answer = PlainAnswer {
        from: "Digests <digest@example.org>",
        to_name: "",
        to_email: "ana@example.org",
        subject: "Confirm",
        text: "Reply to this mail.\n",
        message_id: "confirm.1@reply.example.org",
        date: date(),
        in_reply_to: None,
        references: &[],
        reply_to: Some("confirm+abc@reply.example.org"),
    };
    let built = build_plain_answer(&answer).expect("builds");
    let msg = MessageParser::default().parse(&built.raw).expect("parses");
    assert_eq!(
        header(&msg, "Reply-To").as_deref(),
        Some("confirm+abc@reply.example.org")
    );
    let bad = PlainAnswer {
        reply_to: Some("not an address\r\nBcc: x@evil.example"),
        ..answer
    };
    assert!(build_plain_answer(&bad).is_err());
}

#[test]
fn message_ids_are_unique_and_well_formed() {
    let a = new_message_id("digests.example.org");
    let b = new_message_id("digests.example.org");
    assert_ne!(a, b);
    assert!(a.ends_with("@digests.example.org"));
    assert!(check_message_id(&a).is_ok());
    assert!(new_message_id("bad\r\n domain>").ends_with("@baddomain"));
    assert!(new_message_id("").ends_with("@digestd.invalid"));
}

#[test]
fn one_line_flattens_controls() {
    assert_eq!(one_line("  a\r\n\tb\u{2028}c\0d  "), "a b c d");
    assert_eq!(one_line(""), "");
}
