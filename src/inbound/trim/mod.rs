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

mod ascii;
mod body;
pub mod corpus;
pub mod headers;
mod html;
pub mod lines;
mod local_regex;
mod marker;
pub mod patterns;
pub mod quotes;
mod rulers;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn top_posted_reply_drops_attribution_and_quote() {
        let t = trim_text(
            r#"Sounds good, see you then.

On Mon, Jan 1, 2024 at 10:00 AM Bob <bob@example.org> wrote:
> Shall we meet on Friday?
"#,
        );
        assert_eq!(t.text, "Sounds good, see you then.");
        assert!(t.removed_quote);
    }

    #[test]
    fn wrapped_attribution_in_dutch() {
        let t = trim_text(
            "Prima!\n\nOp 16 aug. 2014 05:13 schreef \"Bob\" <bob@example.org> het\nvolgende geschreven:\n\n> Vraag\n",
        );
        assert_eq!(t.text, "Prima!");
    }

    #[test]
    fn outlook_header_block_in_german() {
        let t = trim_text(
            "Danke!\n\nVon: Bob <bob@example.org>\nGesendet: Montag, 1. Januar 2024 10:00\nAn: Alice\nBetreff: Frage\n\nalte Nachricht\n",
        );
        assert_eq!(t.text, "Danke!");
    }

    #[test]
    fn original_message_separator() {
        let t = trim_text("Yes.\n\n-----Original Message-----\nFrom: x\n\nold\n");
        assert_eq!(t.text, "Yes.");
    }

    #[test]
    fn signatures_and_signoffs() {
        let t = trim_text("Fine by me.\n\n-- \nAlice\nACME Corp\n");
        assert_eq!(t.text, "Fine by me.");
        assert!(t.removed_signature);
        let t = trim_text("Fine by me.\n\nVerzonden vanaf mijn iPhone\n");
        assert_eq!(t.text, "Fine by me.");
        let t = trim_text("Fine.\n\nSent from my desk, is much easier then my mobile phone.");
        assert_eq!(
            t.text,
            "Fine.\n\nSent from my desk, is much easier then my mobile phone."
        );
    }

    #[test]
    fn interleaved_reply_keeps_the_quotes_it_answers() {
        let t = trim_text(
            r#"Hi,

On Mon, Jan 1, 2024 at 10:00 AM Bob <bob@example.org> wrote:
> Can you come on Friday?

Yes.

> And bring the report?

Of course.

> Bob
"#,
        );
        assert_eq!(
            t.text,
            "Hi,\n\nOn Mon, Jan 1, 2024 at 10:00 AM Bob <bob@example.org> wrote:\n> Can you come on Friday?\n\nYes.\n\n> And bring the report?\n\nOf course."
        );
    }

    #[test]
    fn bottom_posted_reply_keeps_only_the_answer() {
        let t = trim_text(
            "On Mon, Jan 1, 2024 at 10:00 AM Bob <bob@example.org> wrote:\n> Question?\n\nAnswer.\n",
        );
        assert_eq!(t.text, "Answer.");
    }

    #[test]
    fn lists_survive() {
        let body = "Steps:\n\n1. open\n2. close\n\n- a\n- b\n* c\n";
        assert_eq!(trim_text(body).text, body.trim_end());
    }

    #[test]
    fn quote_only_keeps_the_quote() {
        assert_eq!(trim_text("> only a quote\n").text, "> only a quote");
    }

    #[test]
    fn trailing_blank_lines_and_crlf() {
        assert_eq!(trim_text("a\r\nb\r\n\r\n\r\n").text, "a\nb");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn trim_text_never_panics(s in "\\PC{0,400}") {
            let _ = trim_text(&s);
        }

        #[test]
        fn trim_text_never_panics_on_mail_like_text(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("> quoted".to_string()),
                    Just("On Mon, 1 Jan 2024 at 10:00, Bob <b@x.org> wrote:".to_string()),
                    Just("-- ".to_string()),
                    Just("From: x".to_string()),
                    Just("```".to_string()),
                    Just(String::new()),
                    "\\PC{0,40}",
                ],
                0..30,
            )
        ) {
            let _ = trim_text(&lines.join("\n"));
        }

        #[test]
        fn html_to_reply_text_never_panics(s in "\\PC{0,400}") {
            let _ = html_to_reply_text(&s);
        }

        #[test]
        fn html_from_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = html_to_reply_text(&s);
            let _ = trim_text(&s);
        }
    }
}
