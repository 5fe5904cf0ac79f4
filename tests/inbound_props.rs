//! Property test: arbitrary bytes, and arbitrary mail-shaped bytes, go through intake → parse →
//! classify → trim → authorise without a panic.

use chrono::Utc;
use mail_parser::MessageParser;
use proptest::prelude::*;

use digestd::inbound::address::{self, Addresses};
use digestd::inbound::auth_results::AuthPolicy;
use digestd::inbound::authorise::{authorise_reply, ReplyEvidence};
use digestd::inbound::classify::{classify, Class};
use digestd::inbound::receive::{looks_like_mail, prepare_bytes};
use digestd::inbound::{answer, body, commands};
use digestd::model::ReplyToken;

fn run(raw: &[u8]) {
    let addrs = Addresses::new("reply.test.example", "Digests <digest@test.example>");
    let _ = looks_like_mail(raw);
    let intake = prepare_bytes(raw.to_vec());
    let Some(msg) = MessageParser::default().parse(&intake.raw) else {
        return;
    };
    let class = classify(&msg, &addrs);
    let sender = address::sender(&msg);
    let _ = answer::may_answer(&msg, sender.as_ref(), &addrs);
    let _ = answer::threading(&msg);
    let _ = address::referenced_ids(&msg);
    let reply = body::reply_body(&msg, 10 * 1024 * 1024);
    let _ = commands::parse(msg.subject(), &reply.text);
    let _ = reply.to_markdown();
    if let Class::Reply { token } = class {
        let ar = digestd::inbound::pipeline::auth_results(&msg);
        let trusted = vec!["mx.test.example".to_string()];
        let _ = authorise_reply(&ReplyEvidence {
            token: &token,
            grant: None,
            from: sender.as_ref().map(|s| s.email.as_str()).unwrap_or(""),
            now: Utc::now(),
            auth_results: &ar,
            auth: AuthPolicy {
                trusted_ids: &trusted,
                accept_spf: false,
            },
            size: raw.len(),
            max_size: 1 << 20,
            empty_after_trim: reply.is_empty(),
        });
    }
}

/// Pieces real mail is made of, to reach deeper than random bytes do.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let token = ReplyToken::generate();
    prop_oneof![
        Just(format!("To: reply+{}@reply.test.example\r\n", token.as_str()).into_bytes()),
        Just(b"From: \"A\" <a@example.org>\r\n".to_vec()),
        Just(b"From: <>\r\nReturn-Path: <>\r\n".to_vec()),
        Just(
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n".to_vec()
        ),
        Just(b"Content-Type: multipart/alternative; boundary=\"b\"\r\n".to_vec()),
        Just(b"Content-Type: text/html; charset=utf-16\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
        Just(b"Auto-Submitted: auto-replied\r\n".to_vec()),
        Just(
            b"Authentication-Results: mx.test.example; dkim=pass header.d=example.org (x\r\n"
                .to_vec()
        ),
        Just(b"Subject: =?utf-8?B?w6k=?= =?iso-8859-1?Q?=E9?=\r\n".to_vec()),
        Just(b"In-Reply-To: <a@b> <<>>\r\nReferences: <\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(
            b"--b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822;\r\n"
                .to_vec()
        ),
        Just(b"--b--\r\n".to_vec()),
        Just(b"> quoted\r\nOn Mon, A <a@b> wrote:\r\n-- \r\nsig\r\n".to_vec()),
        Just(b"<blockquote class=gmail_quote><div id=divRplyFwdMsg>x</div></blockquote>".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        run(&raw);
    }

    #[test]
    fn mail_shaped_bytes_never_panic(pieces in proptest::collection::vec(piece(), 0..24)) {
        let raw: Vec<u8> = pieces.concat();
        run(&raw);
    }
}
