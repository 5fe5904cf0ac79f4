//! Reply trimming: keeps what the person wrote in an email reply and drops what their mail
//! client added — quoted text, attributions ("On … wrote:" in many languages), Outlook header
//! blocks, forward markers, signatures and mobile sign-offs — so that only their answer is
//! posted to the forum.
//!
//! The rules are the general ones of mail clients (ported in spirit from
//! discourse/email_reply_trimmer, github/email_reply_parser and mailgun/talon):
//!
//! * plain text ([`trim_text`]): lines are classified ([`lines`]), the reply is cut at the first
//!   signature delimiter, sign-off, separator, header block, forward marker or attribution over
//!   an unquoted copy, then the quote rules apply ([`quotes`]): trailing quotes go, a
//!   bottom-posted quote goes, interleaved quotes stay as `> ` lines, a quote-only message keeps
//!   its quote;
//! * HTML ([`html_to_reply_text`]): converted to text with the quote blocks left out, then
//!   trimmed like plain text;
//! * whole messages ([`extract_reply`]): first `text/plain` part, else the HTML part;
//!   attachments listed, never inlined.
//!
//! Everything here is pure: no I/O.

mod body;
pub mod corpus;
pub mod headers;
mod html;
pub mod lines;
pub mod quotes;
pub mod signatures;
mod text;

pub use html::html_to_reply_text;

/// What the person wrote, and what trimming took away.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trimmed {
    /// The reply text (LF line ends, no trailing blank lines, lines without trailing spaces).
    pub text: String,
    /// True when quoted text, an attribution or a quoted header block was removed.
    pub removed_quote: bool,
    /// True when a signature or a mobile sign-off was removed.
    pub removed_signature: bool,
}

/// An attachment of a reply, listed (never inlined) in the post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// File name as the sender's client gave it (`attachment` when none).
    pub name: String,
    /// MIME type, lower case (`image/png`).
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// The trimmed reply of a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedReply {
    /// What the person wrote (see [`Trimmed::text`]).
    pub text: String,
    /// Attachments, in message order.
    pub attachments: Vec<AttachmentInfo>,
    /// True when the body came from the HTML part (no text/plain part).
    pub from_html: bool,
    /// True when quoted text was removed.
    pub removed_quote: bool,
    /// True when a signature was removed.
    pub removed_signature: bool,
}

/// Trims a plain-text reply body: returns what the person wrote.
///
/// Pure; never panics, whatever the input.
pub fn trim_text(body: &str) -> Trimmed {
    text::trim(body)
}

/// Picks the body of a parsed message (first text/plain part decoded; HTML converted only when
/// there is no text part), trims it and lists the attachments.
pub fn extract_reply(message: &mail_parser::Message<'_>) -> ExtractedReply {
    body::extract(message)
}
