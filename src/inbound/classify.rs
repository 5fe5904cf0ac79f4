//! Classifying an inbound message before anything is posted: a reply, an auto-reply, a bounce, a
//! command, a new thread, a mail loop, or mail for no known address.
//!
//! **Invariant:** pure, and conservative: anything that looks machine-generated is never posted
//! and never answered (RFC 3834).

use std::fmt;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use crate::inbound::address::{self, Addresses, Sender, Target};
use crate::inbound::raw_headers;
use crate::model::{GroupId, ReplyToken};

/// What kind of mail this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// The reply to a confirmation request (`confirm+TOKEN@`).
    Confirm {
        /// The token found in a recipient address.
        token: ReplyToken,
    },
    /// A reply to one digest item, carrying its token.
    Reply {
        /// The token found in a recipient address.
        token: ReplyToken,
    },
    /// An auto-reply or out-of-office message.
    AutoReply(AutoReason),
    /// A delivery status notification or other bounce.
    Bounce {
        /// The address that failed (the DSN's Final-Recipient), when known.
        recipient: Option<String>,
    },
    /// A mail to the command address (`digest@`, or a List-Unsubscribe address with a token).
    Command {
        /// The token of the command address, when it had one.
        token: Option<ReplyToken>,
    },
    /// A mail to a group address: a new thread.
    NewThread {
        /// The group id from `group+ID@`.
        group: GroupId,
    },
    /// A mail from one of digestd's own addresses.
    Loop,
    /// None of digestd's addresses in the recipients (may still be a reply to a digest as a
    /// whole, found through In-Reply-To/References).
    Unknown,
}

/// Why a message counts as automatic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoReason {
    /// `Auto-Submitted` other than `no` (RFC 3834), with its value.
    AutoSubmitted(String),
    /// An `X-Autoreply` header.
    XAutoreply,
    /// An `X-Autorespond` header.
    XAutorespond,
    /// `Precedence: bulk | junk | list | auto_reply`.
    Precedence(String),
    /// Exchange's `X-MS-Exchange-Generated-Message-Source`.
    ExchangeGenerated,
    /// The subject starts like an out-of-office message.
    OutOfOfficeSubject,
    /// No sender at all (no usable From).
    NoSender,
}

impl fmt::Display for AutoReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoReason::AutoSubmitted(v) => write!(f, "Auto-Submitted: {v}"),
            AutoReason::XAutoreply => f.write_str("X-Autoreply"),
            AutoReason::XAutorespond => f.write_str("X-Autorespond"),
            AutoReason::Precedence(v) => write!(f, "Precedence: {v}"),
            AutoReason::ExchangeGenerated => f.write_str("X-MS-Exchange-Generated-Message-Source"),
            AutoReason::OutOfOfficeSubject => f.write_str("out-of-office subject"),
            AutoReason::NoSender => f.write_str("no sender"),
        }
    }
}

/// Subject prefixes of out-of-office and automatic replies (lower case), en/nl/fr/de. A subject
/// matches when it starts with one of these followed by `:` or nothing, so a human reply to a
/// thread titled "Out of office rota" (`Re: Out of office rota`) does not.
const OOF_SUBJECTS: &[&str] = &[
    // en
    "out of office",
    "out of the office",
    "out of office autoreply",
    "out of office reply",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "away from my desk",
    "away from the office",
    "on vacation",
    "vacation reply",
    "absence notice",
    // nl
    "afwezig",
    "automatisch antwoord",
    "automatisch bericht",
    "afwezigheidsmelding",
    "afwezigheidsbericht",
    "niet aanwezig",
    "niet op kantoor",
    "buiten kantoor",
    "met vakantie",
    // fr
    "absence",
    "absent",
    "absente",
    "réponse automatique",
    "reponse automatique",
    "absent du bureau",
    "message d'absence",
    "message d’absence",
    "en congé",
    // de
    "abwesenheit",
    "abwesenheitsnotiz",
    "abwesend",
    "automatische antwort",
    "automatische rückantwort",
    "außer haus",
    "ausser haus",
    "nicht im büro",
    "im urlaub",
];

/// Classifies `msg` as addressed to digestd's `addresses`.
pub fn classify(msg: &Message<'_>, addresses: &Addresses) -> Class {
    classify_with_sender(msg, addresses).0
}

/// [`classify`], with the sender it read ([`address::sender`]), for a caller that needs it
/// next: reading it is a good part of classifying.
pub fn classify_with_sender(msg: &Message<'_>, addresses: &Addresses) -> (Class, Option<Sender>) {
    let sender = address::sender(msg);
    let class = classify_from(msg, addresses, sender.as_ref());
    (class, sender)
}

/// [`classify`] once the sender is read.
fn classify_from(msg: &Message<'_>, addresses: &Addresses, sender: Option<&Sender>) -> Class {
    if let Some(s) = sender {
        if addresses.is_own(&s.email) {
            return Class::Loop;
        }
    }
    if let Some(recipient) = bounce(msg, sender.map(|s| s.email.as_str())) {
        return Class::Bounce { recipient };
    }
    if let Some(reason) = auto_reply(msg) {
        return Class::AutoReply(reason);
    }
    if sender.is_none() {
        return Class::AutoReply(AutoReason::NoSender);
    }
    // Precedence: a confirmation, then a reply token (the item answered), then a group, then a
    // command.
    let targets = address::targets(addresses, msg);
    if let Some(token) = targets.iter().find_map(|t| match t {
        Target::Confirm(tok) => Some(tok.clone()),
        _ => None,
    }) {
        return Class::Confirm { token };
    }
    if let Some(token) = targets.iter().find_map(|t| match t {
        Target::Reply(tok) => Some(tok.clone()),
        _ => None,
    }) {
        return Class::Reply { token };
    }
    if let Some(group) = targets.iter().find_map(|t| match t {
        Target::Group(g) => Some(g.clone()),
        _ => None,
    }) {
        return Class::NewThread { group };
    }
    if let Some(token) = targets.iter().find_map(|t| match t {
        Target::Command(tok) => Some(tok.clone()),
        _ => None,
    }) {
        return Class::Command { token };
    }
    Class::Unknown
}

/// The auto-reply marker in `msg`'s headers or subject, if any.
pub fn auto_reply(msg: &Message<'_>) -> Option<AutoReason> {
    for header in msg.headers() {
        let name = header.name.as_str();
        // Only the few headers below matter; the rest is skipped before any allocation.
        if !matches!(name.len(), 10 | 11 | 13 | 14 | 38) {
            continue;
        }
        let Some(value) = raw_headers::value(msg, header) else {
            continue;
        };
        let value = value.trim();
        let lower = value.to_ascii_lowercase();
        if name.eq_ignore_ascii_case("Auto-Submitted") {
            let kind = lower.split(';').next().unwrap_or("").trim();
            if !kind.is_empty() && kind != "no" {
                return Some(AutoReason::AutoSubmitted(kind.to_string()));
            }
        } else if name.eq_ignore_ascii_case("X-Autoreply") {
            if lower != "no" {
                return Some(AutoReason::XAutoreply);
            }
        } else if name.eq_ignore_ascii_case("X-Autorespond") {
            if lower != "no" {
                return Some(AutoReason::XAutorespond);
            }
        } else if name.eq_ignore_ascii_case("Precedence") {
            if matches!(lower.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
                return Some(AutoReason::Precedence(lower));
            }
        } else if name.eq_ignore_ascii_case("X-MS-Exchange-Generated-Message-Source") {
            return Some(AutoReason::ExchangeGenerated);
        }
        // X-Auto-Response-Suppress is a request to others, not a marker of this message.
    }
    msg.subject()
        .filter(|s| is_oof_subject(s))
        .map(|_| AutoReason::OutOfOfficeSubject)
}

/// True when `subject` starts like an out-of-office message.
pub fn is_oof_subject(subject: &str) -> bool {
    let s = subject.trim().to_lowercase();
    OOF_SUBJECTS.iter().any(|p| {
        s.strip_prefix(p).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || rest.starts_with(':') || rest.starts_with('-')
        })
    })
}

/// `Some(recipient)` when `msg` is a bounce; the recipient is the failed address when known.
pub fn bounce(msg: &Message<'_>, sender: Option<&str>) -> Option<Option<String>> {
    let root = msg.root_part();
    let is_dsn = is_delivery_report(root);
    let daemon_sender = sender.is_some_and(is_daemon_address);
    // RFC 3834 and RFC 5321: only DSNs and auto-replies use the null reverse path, and a null
    // path is never answered; counting it as a bounce keeps it away from posting and answering.
    if !(is_dsn || daemon_sender || return_path_is_null(msg)) {
        return None;
    }
    let recipient = final_recipient(msg).or_else(|| failed_recipients_header(msg));
    Some(recipient)
}

/// True for MAILER-DAEMON / postmaster style senders.
pub fn is_daemon_address(email: &str) -> bool {
    let local = email
        .rsplit_once('@')
        .map(|(l, _)| l)
        .unwrap_or(email)
        .to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "postmaster" | "mail-daemon" | "maildaemon" | "mailerdaemon"
    )
}

fn is_delivery_report(part: &MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
    })
}

/// True when the Return-Path is the null path `<>`.
pub fn return_path_is_null(msg: &Message<'_>) -> bool {
    raw_headers::values(msg, "Return-Path").any(|value| {
        value
            .trim()
            .trim_matches(|c| c == '<' || c == '>')
            .trim()
            .is_empty()
    })
}

fn failed_recipients_header(msg: &Message<'_>) -> Option<String> {
    raw_headers::values(msg, "X-Failed-Recipients")
        .next()
        .and_then(|v| v.split(',').next())
        .and_then(address::bare_address)
}

/// The Final-Recipient (or Original-Recipient) of the first message/delivery-status part.
fn final_recipient(msg: &Message<'_>) -> Option<String> {
    for part in &msg.parts {
        let is_status = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("delivery-status")
                        || s.eq_ignore_ascii_case("global-delivery-status")
                })
        });
        if !is_status {
            continue;
        }
        let text = match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            PartType::Message(m) => String::from_utf8_lossy(m.raw_message()).into_owned(),
            PartType::Multipart(_) => continue,
        };
        let mut original = None;
        for line in text.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            // `rfc822; someone@example.org`
            let addr = value
                .split_once(';')
                .map(|(_, a)| a)
                .unwrap_or(value)
                .trim();
            if name.eq_ignore_ascii_case("Final-Recipient") {
                if let Some(a) = address::bare_address(addr) {
                    return Some(a);
                }
            } else if name.eq_ignore_ascii_case("Original-Recipient") && original.is_none() {
                original = address::bare_address(addr);
            }
        }
        if original.is_some() {
            return original;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

    fn addrs() -> Addresses {
        Addresses::new("reply.example.org", "Digests <digest@example.org>")
    }

    fn class_of(headers: &str, body: &str) -> Class {
        let raw = format!("{headers}\r\n\r\n{body}");
        let msg = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        classify(&msg, &addrs())
    }

    fn reply_headers(extra: &str) -> String {
        format!("From: Ann <ann@example.org>\r\nTo: reply+{TOKEN}@reply.example.org\r\nSubject: Re: Budget\r\nMessage-ID: <m1@example.org>{extra}")
    }

    #[test]
    fn plain_reply() {
        assert!(matches!(
            class_of(&reply_headers(""), "Yes."),
            Class::Reply { .. }
        ));
    }

    #[test]
    fn auto_reply_markers() {
        for h in [
            "\r\nAuto-Submitted: auto-replied",
            "\r\nAuto-Submitted: auto-generated; owner-email=x@y",
            "\r\nX-Autoreply: yes",
            "\r\nX-Autorespond: Out",
            "\r\nPrecedence: bulk",
            "\r\nPrecedence: auto_reply",
            "\r\nX-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
        ] {
            assert!(
                matches!(class_of(&reply_headers(h), "away"), Class::AutoReply(_)),
                "{h}"
            );
        }
        for h in [
            "\r\nAuto-Submitted: no",
            "\r\nX-Auto-Response-Suppress: All",
        ] {
            assert!(
                matches!(class_of(&reply_headers(h), "real"), Class::Reply { .. }),
                "{h}"
            );
        }
    }

    #[test]
    fn oof_subjects_in_four_languages() {
        for s in [
            "Out of Office: Re: Budget",
            "Automatic reply: Re: Budget",
            "Afwezig: Re: Budget",
            "Automatisch antwoord: Budget",
            "Réponse automatique : Budget",
            "Abwesenheitsnotiz: Budget",
            "Absence",
        ] {
            assert!(is_oof_subject(s), "{s}");
        }
        for s in ["Re: Out of office rota", "Absences next week", "Re: Budget"] {
            assert!(!is_oof_subject(s), "{s}");
        }
    }

    #[test]
    fn dsn_bounce_names_final_recipient() {
        let raw = "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: digest@example.org\r\nReturn-Path: <>\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; Gone@Example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n";
        let msg = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        assert_eq!(
            classify(&msg, &addrs()),
            Class::Bounce {
                recipient: Some("gone@example.org".into())
            }
        );
    }

    #[test]
    fn loop_and_unknown_and_commands() {
        assert_eq!(
            class_of(
                "From: digest@example.org\r\nTo: reply+0123456789abcdef0123456789abcdef01234567@reply.example.org",
                "x"
            ),
            Class::Loop
        );
        assert_eq!(
            class_of("From: a@example.org\r\nTo: b@example.org", "x"),
            Class::Unknown
        );
        assert_eq!(
            class_of(
                "From: a@example.org\r\nTo: digest@reply.example.org",
                "pause"
            ),
            Class::Command { token: None }
        );
        assert_eq!(
            class_of(
                "From: a@example.org\r\nTo: group+planning@reply.example.org",
                "x"
            ),
            Class::NewThread {
                group: "planning".into()
            }
        );
    }
}
