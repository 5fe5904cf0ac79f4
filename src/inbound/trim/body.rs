//! Chooses the body of a parsed reply the way the corpora describe it: the first `text/plain`
//! part, decoded (mail-parser handles transfer encodings and charsets); the HTML part, turned
//! into text, only when there is no plain-text part. Attachments are listed by name, type and
//! size, never inlined.

use std::borrow::Cow;

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use super::{html::html_to_reply_text, text, AttachmentInfo, ExtractedReply};

/// True when the part is `text/plain` (or a text part without a content type).
fn is_plain(part: &MessagePart<'_>) -> bool {
    match part.content_type() {
        None => true,
        Some(ct) => {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        }
    }
}

/// True when the part is an attachment (by disposition) rather than a body.
fn is_attachment(part: &MessagePart<'_>) -> bool {
    part.content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
}

/// The body text of the message and whether it came from HTML. A plain-text body is borrowed
/// as decoded ([`text::trim`] cuts its lines at `\r\n` and `\n` alike).
fn choose_body<'m>(message: &'m Message<'_>) -> (Cow<'m, str>, bool) {
    let plain = message
        .text_body
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .chain(message.parts.iter())
        .find(|p| matches!(p.body, PartType::Text(_)) && is_plain(p) && !is_attachment(p));
    if let Some(PartType::Text(text)) = plain.map(|p| &p.body) {
        return (Cow::Borrowed(text.as_ref()), false);
    }
    let html = message
        .html_body
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .chain(message.parts.iter())
        .find(|p| matches!(p.body, PartType::Html(_)) && !is_attachment(p));
    if let Some(PartType::Html(html)) = html.map(|p| &p.body) {
        return (Cow::Owned(html_to_reply_text(html)), true);
    }
    (Cow::Borrowed(""), false)
}

/// Attachments of the message (not the bodies), by name, type and size.
fn attachments(message: &Message<'_>) -> Vec<AttachmentInfo> {
    message
        .attachments
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .filter(|p| {
            // mail-parser lists inline text parts as attachments too; keep only real files.
            is_attachment(p)
                || p.attachment_name().is_some()
                || matches!(
                    p.body,
                    PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Message(_)
                )
        })
        .map(|p| AttachmentInfo {
            name: p
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| "attachment".to_string()),
            content_type: p
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
                    None => ct.ctype().to_ascii_lowercase(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_string()),
            size: p.len(),
        })
        .collect()
}

/// Picks the body, trims it, and lists the attachments (see [`super::extract_reply`]).
pub fn extract(message: &Message<'_>) -> ExtractedReply {
    let (body, from_html) = choose_body(message);
    let trimmed = text::trim(&body);
    ExtractedReply {
        text: trimmed.text,
        attachments: attachments(message),
        from_html,
        removed_quote: trimmed.removed_quote,
        removed_signature: trimmed.removed_signature,
    }
}
