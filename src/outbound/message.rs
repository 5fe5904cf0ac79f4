//! Building RFC 5322 messages (pure: no I/O, no clock, no randomness; the caller passes the
//! date and the Message-ID).
//!
//! Digests go out as `multipart/alternative` (text + HTML) with list headers; answers to inbound
//! mail go out as `text/plain` auto-replies. lettre does the MIME and RFC 2047 work; this module
//! adds the headers digestd needs and makes sure **no CR or LF from any input reaches a header**:
//! every free-text value is flattened to one line before lettre sees it, and every structured
//! value (address, Message-ID, List-Id, URL) is validated and refused when malformed.
//!
//! Header choices:
//! - `Auto-Submitted: auto-generated` (RFC 3834) and `X-Auto-Response-Suppress: All` (Exchange)
//!   keep vacation replies and read receipts away from digests.
//! - `Precedence: list` is also set: RFC 3834 discourages relying on it, but it is what many
//!   autoresponders (vacation(1), some Exchange and Gmail filters) still check, and a digest *is*
//!   list mail. Answers (`build_plain_answer`) do not carry it.
//! - `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058) only when an https URL is
//!   given, since one-click needs an HTTP endpoint.

use std::str::FromStr;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

/// Everything a digest message needs. Text values may be untrusted (forum titles, names).
#[derive(Debug, Clone)]
pub struct DigestMessage<'a> {
    /// From mailbox, e.g. `Digests <digest@example.org>`.
    pub from: &'a str,
    /// Envelope sender (Return-Path), e.g. a bounce address; `None` uses the From address.
    pub envelope_from: Option<&'a str>,
    /// Recipient's display name (may be empty).
    pub to_name: &'a str,
    /// Recipient's address.
    pub to_email: &'a str,
    /// Subject (untrusted text; flattened to one line).
    pub subject: &'a str,
    /// The text/plain part.
    pub text: &'a str,
    /// The text/html part.
    pub html: &'a str,
    /// Message-ID without angle brackets (see [`new_message_id`]).
    pub message_id: &'a str,
    /// Date header.
    pub date: DateTime<Utc>,
    /// List-Id value, a dot-atom such as `digests.example.org`.
    pub list_id: &'a str,
    /// Description shown before the List-Id (e.g. the organisation's name); may be empty.
    pub list_name: &'a str,
    /// Address that unsubscribes when mailed (`mailto:` in List-Unsubscribe).
    pub list_unsubscribe_mailto: &'a str,
    /// One-click unsubscribe URL (https), if the deployment has one.
    pub list_unsubscribe_url: Option<&'a str>,
    /// Reply-To mailbox, if replies should go elsewhere than From.
    pub reply_to: Option<&'a str>,
}

/// A text/plain answer to an inbound message (reply accepted / rejected notices).
#[derive(Debug, Clone)]
pub struct PlainAnswer<'a> {
    /// From mailbox.
    pub from: &'a str,
    /// Recipient's display name (may be empty).
    pub to_name: &'a str,
    /// Recipient's address.
    pub to_email: &'a str,
    /// Subject (flattened to one line).
    pub subject: &'a str,
    /// The body.
    pub text: &'a str,
    /// Message-ID without angle brackets.
    pub message_id: &'a str,
    /// Date header.
    pub date: DateTime<Utc>,
    /// Message-ID of the message answered (with or without brackets), for In-Reply-To.
    pub in_reply_to: Option<&'a str>,
    /// References of the message answered, oldest first (with or without brackets); the
    /// answered id is appended when not already last.
    pub references: &'a [&'a str],
    /// Reply-To mailbox, when replies must go elsewhere than From (a confirmation request's
    /// `confirm+TOKEN@` address).
    pub reply_to: Option<&'a str>,
}

/// A message ready for a transport: the bytes and the SMTP envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltMessage {
    /// The complete RFC 5322 message, CRLF line endings.
    pub raw: Vec<u8>,
    /// Envelope sender (MAIL FROM); empty for the null sender `<>`.
    pub envelope_from: String,
    /// Envelope recipient (RCPT TO).
    pub envelope_to: String,
    /// The Message-ID, without angle brackets.
    pub message_id: String,
}

/// Why a message could not be built. These are caller errors (bad config or data), never I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// An address or mailbox did not parse.
    #[error("invalid {field} address {value:?}")]
    InvalidAddress {
        /// Which field (`from`, `to`, `reply-to`, ...).
        field: &'static str,
        /// The offending value (flattened).
        value: String,
    },
    /// A Message-ID is not of the form `left@right` in printable ASCII.
    #[error("invalid message id {0:?}")]
    InvalidMessageId(String),
    /// The List-Id is not a dot-atom.
    #[error("invalid list id {0:?}")]
    InvalidListId(String),
    /// The unsubscribe URL is not a plain https URL.
    #[error("invalid unsubscribe url {0:?}")]
    InvalidUrl(String),
    /// lettre refused the message.
    #[error("cannot build message: {0}")]
    Build(String),
}

/// Builds a digest: multipart/alternative with list headers. See the module doc for headers.
pub fn build_digest(input: &DigestMessage<'_>) -> Result<BuiltMessage, MessageError> {
    let from = parse_mailbox("from", input.from)?;
    let to = mailbox_of("to", input.to_name, input.to_email)?;
    let envelope_from = match input.envelope_from {
        Some(addr) => parse_address("envelope-from", addr)?.to_string(),
        None => from.email.to_string(),
    };
    let message_id = check_message_id(input.message_id)?;
    let list_id = list_id_header(input.list_name, input.list_id)?;
    let mailto = parse_address("list-unsubscribe", input.list_unsubscribe_mailto)?;
    let mut unsubscribe = format!("<mailto:{mailto}?subject=unsubscribe>");
    if let Some(url) = input.list_unsubscribe_url {
        let url = check_https_url(url)?;
        unsubscribe.push_str(&format!(", <{url}>"));
    }

    let mut builder = Message::builder()
        .message_id(Some(format!("<{message_id}>")))
        .date(SystemTime::from(input.date))
        .from(from)
        .to(to.clone())
        .subject(one_line(input.subject));
    if let Some(reply_to) = input.reply_to {
        builder = builder.reply_to(parse_mailbox("reply-to", reply_to)?);
    }
    builder = builder
        .raw_header(raw("List-Id", list_id))
        .raw_header(raw("List-Unsubscribe", unsubscribe));
    if input.list_unsubscribe_url.is_some() {
        builder = builder.raw_header(raw(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ));
    }
    let message = builder
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .raw_header(raw("X-Auto-Response-Suppress", "All".into()))
        .raw_header(raw("Precedence", "list".into()))
        .multipart(MultiPart::alternative_plain_html(
            input.text.to_owned(),
            input.html.to_owned(),
        ))
        .map_err(|e| MessageError::Build(e.to_string()))?;

    Ok(BuiltMessage {
        raw: message.formatted(),
        envelope_from,
        envelope_to: to.email.to_string(),
        message_id,
    })
}

/// Builds a text/plain auto-reply (`Auto-Submitted: auto-replied`) threaded under the answered
/// message. The envelope sender is null (`<>`, RFC 3834 §3.3) so it can never bounce back into a
/// loop.
pub fn build_plain_answer(input: &PlainAnswer<'_>) -> Result<BuiltMessage, MessageError> {
    let from = parse_mailbox("from", input.from)?;
    let to = mailbox_of("to", input.to_name, input.to_email)?;
    let message_id = check_message_id(input.message_id)?;

    let mut builder = Message::builder()
        .message_id(Some(format!("<{message_id}>")))
        .date(SystemTime::from(input.date))
        .from(from)
        .to(to.clone())
        .subject(one_line(input.subject));
    if let Some(reply_to) = input.reply_to {
        builder = builder.reply_to(parse_mailbox("reply-to", reply_to)?);
    }

    let mut references = input
        .references
        .iter()
        .map(|r| check_message_id(strip_brackets(r)))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(parent) = input.in_reply_to {
        let parent = check_message_id(strip_brackets(parent))?;
        builder = builder.in_reply_to(format!("<{parent}>"));
        if references.last() != Some(&parent) {
            references.push(parent);
        }
    }
    if !references.is_empty() {
        let joined = references
            .iter()
            .map(|r| format!("<{r}>"))
            .collect::<Vec<_>>()
            .join(" ");
        builder = builder.references(joined);
    }

    let message = builder
        .raw_header(raw("Auto-Submitted", "auto-replied".into()))
        .raw_header(raw("X-Auto-Response-Suppress", "All".into()))
        .singlepart(SinglePart::plain(input.text.to_owned()))
        .map_err(|e| MessageError::Build(e.to_string()))?;

    Ok(BuiltMessage {
        raw: message.formatted(),
        envelope_from: String::new(),
        envelope_to: to.email.to_string(),
        message_id,
    })
}

/// A Message-ID (without brackets) made of `now`, the 128 bits of `random`, and `@domain`
/// (see `outbound::new_message_id` for a fresh one).
///
/// Characters outside `[A-Za-z0-9.-]` are dropped from `domain`; an empty domain becomes
/// `digestd.invalid`.
pub fn message_id(domain: &str, now: DateTime<Utc>, random: [u8; 16]) -> String {
    let domain: String = domain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = domain.trim_matches('.');
    let domain = if domain.is_empty() {
        "digestd.invalid"
    } else {
        domain
    };
    let millis = now.timestamp_millis();
    format!("{millis:x}.{}@{domain}", hex::encode(random))
}

/// Flattens untrusted text to one header-safe line: every control character (CR, LF, tab,
/// NUL, ...) and Unicode line/paragraph separator becomes a space; runs of spaces collapse; the
/// result is trimmed.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_control() || c.is_whitespace() {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

fn parse_address(field: &'static str, value: &str) -> Result<Address, MessageError> {
    let flat = one_line(value);
    if flat != value.trim() {
        return Err(MessageError::InvalidAddress { field, value: flat });
    }
    Address::from_str(&flat).map_err(|_| MessageError::InvalidAddress { field, value: flat })
}

fn parse_mailbox(field: &'static str, value: &str) -> Result<Mailbox, MessageError> {
    let flat = one_line(value);
    if flat != value.trim() {
        return Err(MessageError::InvalidAddress { field, value: flat });
    }
    Mailbox::from_str(&flat).map_err(|_| MessageError::InvalidAddress { field, value: flat })
}

fn mailbox_of(field: &'static str, name: &str, email: &str) -> Result<Mailbox, MessageError> {
    let address = parse_address(field, email)?;
    let name = one_line(name);
    Ok(Mailbox::new((!name.is_empty()).then_some(name), address))
}

fn strip_brackets(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

fn check_message_id(id: &str) -> Result<String, MessageError> {
    let ok = id.len() <= 900
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
        && matches!(id.split_once('@'), Some((l, r)) if !l.is_empty() && !r.is_empty() && !r.contains('@'));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(MessageError::InvalidMessageId(one_line(id)))
    }
}

fn list_id_header(name: &str, id: &str) -> Result<String, MessageError> {
    let ok = !id.is_empty()
        && id.len() <= 255
        && !id.starts_with('.')
        && !id.ends_with('.')
        && !id.contains("..")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !ok {
        return Err(MessageError::InvalidListId(one_line(id)));
    }
    // The description is a phrase: quote it unless it is plain words.
    let name = one_line(name);
    Ok(if name.is_empty() {
        format!("<{id}>")
    } else if name
        .chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
    {
        format!("{name} <{id}>")
    } else {
        let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{quoted}\" <{id}>")
    })
}

fn check_https_url(url: &str) -> Result<&str, MessageError> {
    let ok = url.len() <= 2000
        && url.starts_with("https://")
        && url.len() > "https://".len()
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b','));
    if ok {
        Ok(url)
    } else {
        Err(MessageError::InvalidUrl(one_line(url)))
    }
}

#[cfg(test)]
mod tests;
