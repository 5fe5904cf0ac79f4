//! Parsing, classifying and trimming one message (pure), and what the later steps keep of it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser};

use super::outcome::{ignored, panic_text, panicked, Outcome};
use super::{Pipeline, TRUNCATED_HEADER};
use crate::inbound::address::{Addresses, Sender};
use crate::inbound::body::{self, ReplyBody};
use crate::inbound::classify::{classify_with_sender, Class};
use crate::inbound::raw_headers;
use crate::inbound::shared_slots::SharedSlots;
use crate::store::InboundRow;

impl<'a> Pipeline<'a> {
    /// Parses, classifies and trims one message (pure; see [`parse_classify_trim`]).
    pub(super) fn parse<'r>(&self, parser: &MessageParser, raw: &'r [u8]) -> Parsing<'r> {
        parse_classify_trim(parser, raw, &self.parse_settings())
    }

    /// What parsing needs of this pipeline's configuration.
    pub(super) fn parse_settings(&self) -> ParseSettings<'_> {
        ParseSettings {
            addresses: &self.addresses,
            max_attachment_bytes: self.config.inbound.max_attachment_bytes,
            read_auth_results: !self.config.inbound.trusted_authserv_ids.is_empty(),
        }
    }
}

/// The stored row of a message being processed, without its bytes (the parsed message
/// borrows those).
pub(super) struct Queued {
    /// Row id.
    pub(super) id: i64,
    /// Message-ID without angle brackets, if the message had one.
    pub(super) message_id: Option<String>,
    /// SHA-256 of the raw bytes, hex.
    pub(super) sha256: String,
    /// Processing attempts so far.
    pub(super) attempts: u32,
}

impl Queued {
    /// The processing view of a stored row.
    pub(super) fn of(row: &InboundRow) -> Self {
        Queued {
            id: row.id,
            message_id: row.message_id.clone(),
            sha256: row.sha256.clone(),
            attempts: row.attempts,
        }
    }
}

/// What parsing and classifying made of some bytes, before it is tied to a stored row.
pub(super) enum Parsing<'r> {
    /// Parsed, classified and (for the classes that post or read it) trimmed.
    Parsed(Parsed<'r>),
    /// Not parseable as a mail message.
    NotMail,
    /// Parsing or classifying panicked, with this message.
    Panicked(String),
}

impl<'r> Parsing<'r> {
    /// Where the message of `row` stands: a panic defers it, unparseable bytes end it ignored.
    pub(super) fn prepared(&self, row: &Queued, now: DateTime<Utc>) -> Prepared<'_, 'r> {
        match self {
            Parsing::Parsed(parsed) => Prepared::Parsed(parsed),
            Parsing::NotMail => Prepared::Done(ignored("not parseable as a mail message")),
            Parsing::Panicked(what) => Prepared::Done(panicked(row, what.clone(), now)),
        }
    }
}

/// Parses and classifies `raw`, and trims it when its class posts or reads what the person
/// wrote (a reply, a new thread, a command; `max_attachment_bytes` as in
/// [`body::reply_body`]). Pure; a panic is caught and reported, never unwound.
pub(super) fn parse_classify_trim<'r>(
    parser: &MessageParser,
    raw: &'r [u8],
    how: &ParseSettings<'_>,
) -> Parsing<'r> {
    catch_unwind(AssertUnwindSafe(|| match parser.parse(raw) {
        Some(msg) => {
            let (class, sender) = classify_with_sender(&msg, how.addresses);
            let body = OnceLock::new();
            if matches!(
                class,
                Class::Reply { .. } | Class::NewThread { .. } | Class::Command { .. }
            ) {
                let _ = body.set(body::reply_body(&msg, how.max_attachment_bytes));
            }
            Parsing::Parsed(Parsed {
                raw,
                facts: MailFacts::of(&msg, how.read_auth_results),
                class,
                sender,
                body,
            })
        }
        None => Parsing::NotMail,
    }))
    .unwrap_or_else(|panic| Parsing::Panicked(panic_text(panic.as_ref())))
}

/// What [`parse_classify_trim`] needs of the configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct ParseSettings<'a> {
    /// digestd's addresses, to classify by.
    pub(super) addresses: &'a Addresses,
    /// `[inbound] max_attachment_bytes`, for the trimmed body's attachment list.
    pub(super) max_attachment_bytes: usize,
    /// True in the stricter mode (`trusted_authserv_ids` set).
    pub(super) read_auth_results: bool,
}

/// What parsing made of each message of a batch, in order, each parsed once by whichever
/// thread takes it first.
pub(super) type Parsings<'r> = SharedSlots<Parsing<'r>>;

/// Where one message of a batch stands after parsing and classifying.
pub(super) enum Prepared<'p, 'r> {
    /// Ended already (not parseable, or parsing panicked).
    Done(Outcome),
    /// Parsed and classified (borrowed from where the parsing is kept); handled next.
    Parsed(&'p Parsed<'r>),
}

/// What the common steps (authorising, posting, the answer's context) need of a parsed
/// message, taken from it while it is parsed, so that the parsed message itself is freed at
/// once, by the thread that made it and while it is still in that thread's cache (keeping
/// a batch of parsed messages alive slows parsing by a tenth).
#[derive(Debug, Default)]
pub(super) struct MailFacts {
    /// The Subject, decoded.
    pub(super) subject: Option<String>,
    /// The size the message had when received (see [`original_size`]).
    pub(super) original_size: usize,
    /// The Authentication-Results values, read only in the stricter mode
    /// (`trusted_authserv_ids` set): otherwise they decide nothing.
    pub(super) auth_results: Vec<String>,
}

impl MailFacts {
    /// The facts of `msg`; its Authentication-Results only when `read_auth_results`.
    pub(super) fn of(msg: &Message<'_>, read_auth_results: bool) -> Self {
        MailFacts {
            subject: msg.subject().map(str::to_string),
            original_size: original_size(msg),
            auth_results: if read_auth_results {
                auth_results(msg)
            } else {
                Vec::new()
            },
        }
    }
}

/// A message parsed and classified, ready to be handled.
pub(super) struct Parsed<'r> {
    /// The message's bytes (stored; parsed again by the rarer steps that need more).
    pub(super) raw: &'r [u8],
    /// What the common steps need of the parsed message.
    pub(super) facts: MailFacts,
    /// What kind of mail it is.
    pub(super) class: Class,
    /// Who sent it (as classifying read it).
    pub(super) sender: Option<Sender>,
    /// What the person wrote, trimmed: already made, or made when first needed.
    pub(super) body: OnceLock<ReplyBody>,
}

/// Size of the message as received (the truncation marker's value when only a part was stored).
pub(super) fn original_size(msg: &Message<'_>) -> usize {
    let stored = msg.raw_message().len();
    raw_headers::values(msg, TRUNCATED_HEADER)
        .next()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(stored, |n| n.max(stored))
}

/// Raw Authentication-Results values, top (newest) first.
pub fn auth_results(msg: &Message<'_>) -> Vec<String> {
    raw_headers::values(msg, "Authentication-Results")
        .map(str::to_string)
        .collect()
}
