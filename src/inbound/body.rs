//! The text to post from a reply: the trimmer's result plus the list of attachments, as one
//! Markdown body. The single place the pipeline calls the trimmer from.
//!
//! **Invariant:** pure; attachments are listed by name and size, never inlined or executed.
//! Images and documents up to the size cap are listed as they are; larger ones, and every
//! other type (programs, scripts, archives, web pages), are listed as not kept.

use mail_parser::Message;

use crate::inbound::trim::AttachmentInfo;

/// Extensions never kept, whatever type the sender's client claims (programs, scripts, pages
/// that run code when opened).
const RISKY_EXTENSIONS: &[&str] = &[
    "exe", "com", "bat", "cmd", "scr", "pif", "msi", "dll", "js", "jse", "vbs", "vbe", "wsf",
    "ps1", "sh", "jar", "hta", "lnk", "svg", "htm", "html", "xhtml", "docm", "xlsm", "pptm",
];
/// Image file extensions (used when the type is the generic `application/octet-stream`).
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "heic", "heif", "bmp", "tif", "tiff",
];
/// Document types besides the `vnd.openxmlformats-officedocument.*` and
/// `vnd.oasis.opendocument.*` families.
const DOCUMENT_TYPES: &[&str] = &[
    "application/pdf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/rtf",
    "text/plain",
    "text/csv",
    "text/rtf",
];
/// Document file extensions (used when the type is generic).
const DOCUMENT_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf", "txt", "csv",
];

/// How an attachment is listed in the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentVerdict {
    /// An image or a document within the size cap: listed by name and size.
    Listed,
    /// An image or a document above `[inbound] max_attachment_bytes`: listed as not kept.
    TooLarge,
    /// Any other type: listed as not kept.
    NotAccepted,
}

/// The verdict for one attachment (by its name's extension and its MIME type, and its size).
pub fn verdict(name: &str, content_type: &str, size: usize, max_bytes: usize) -> AttachmentVerdict {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = ext.as_str();
    let ct = content_type.to_ascii_lowercase();
    let generic = ct.is_empty() || ct == "application/octet-stream";
    let accepted = !RISKY_EXTENSIONS.contains(&ext)
        && ((ct.starts_with("image/") && ct != "image/svg+xml")
            || DOCUMENT_TYPES.contains(&ct.as_str())
            || ct.starts_with("application/vnd.openxmlformats-officedocument.")
            || ct.starts_with("application/vnd.oasis.opendocument.")
            || (generic
                && (IMAGE_EXTENSIONS.contains(&ext) || DOCUMENT_EXTENSIONS.contains(&ext))));
    if !accepted {
        AttachmentVerdict::NotAccepted
    } else if size > max_bytes {
        AttachmentVerdict::TooLarge
    } else {
        AttachmentVerdict::Listed
    }
}

/// One line of the attachment list.
fn listing(a: &AttachmentInfo, max_bytes: usize) -> String {
    let (name, size) = (clean_name(&a.name), human_size(a.size));
    match verdict(&a.name, &a.content_type, a.size, max_bytes) {
        AttachmentVerdict::Listed => format!("{name} ({size})"),
        AttachmentVerdict::TooLarge => format!(
            "{name} ({size}, not kept: larger than {})",
            human_size(max_bytes)
        ),
        AttachmentVerdict::NotAccepted => {
            format!("{name} ({size}, not kept: not an image or document)")
        }
    }
}

/// What a reply contributes to a post.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyBody {
    /// The person's own text (trimmed), Markdown-safe plain text.
    pub text: String,
    /// Attachment names with sizes, in message order.
    pub attachments: Vec<String>,
}

/// A line the sender wrote: not blank and not a `>` quote.
fn is_own_line(line: &str) -> bool {
    let line = line.trim_start();
    !line.is_empty() && !line.starts_with('>')
}

impl ReplyBody {
    /// True when there is nothing of the sender's own to post: no attachments and no line
    /// that is neither blank nor quoted. The trimmer keeps a quote when a message holds nothing
    /// else (so no text is lost in the trimmed view), but a reply that only quotes, typically
    /// the digest sent back unchanged, is answered as empty rather than posted.
    pub fn is_empty(&self) -> bool {
        self.attachments.is_empty() && !self.text.lines().any(is_own_line)
    }

    /// The Markdown body of the post: the text, then a list of attachments.
    pub fn to_markdown(&self) -> String {
        let mut out = self.text.trim_end().to_string();
        if !self.attachments.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str("Attachments:\n");
            for a in &self.attachments {
                out.push_str("- ");
                out.push_str(a);
                out.push('\n');
            }
        }
        out
    }
}

/// Extracts what the person wrote (through [`crate::inbound::trim::extract_reply`]) and lists
/// the attachments (see [`verdict`]; `max_attachment_bytes` is the size cap).
pub fn reply_body(msg: &Message<'_>, max_attachment_bytes: usize) -> ReplyBody {
    let reply = crate::inbound::trim::extract_reply(msg);
    ReplyBody {
        text: reply.text,
        attachments: reply
            .attachments
            .iter()
            .map(|a| listing(a, max_attachment_bytes))
            .collect(),
    }
}

/// An attachment name safe to show in Markdown: no control or markup characters.
fn clean_name(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !matches!(c, '[' | ']' | '`' | '<' | '>' | '*' | '_'))
        .collect();
    let name = name.trim();
    if name.is_empty() {
        "unnamed attachment".into()
    } else {
        name.chars().take(200).collect()
    }
}

fn human_size(n: usize) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", n.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_of_only_quotes_and_blank_lines_is_empty() {
        let body = |text: &str, attachments: Vec<String>| ReplyBody {
            text: text.into(),
            attachments,
        };
        assert!(body("", vec![]).is_empty());
        assert!(body("> Email with only quote.\n>\n\n", vec![]).is_empty());
        assert!(!body("Yes.\n> Will you come?", vec![]).is_empty());
        assert!(!body("  I agree", vec![]).is_empty());
        assert!(!body("> quote", vec!["plan.pdf (3 MB)".into()]).is_empty());
    }

    #[test]
    fn attachments_are_listed_by_name_never_inlined() {
        let b = ReplyBody {
            text: "See the plan.\n\n".into(),
            attachments: vec![format!(
                "{} ({})",
                clean_name("plan[1]`<script>.pdf\r\n"),
                human_size(3 * 1024 * 1024)
            )],
        };
        assert_eq!(
            b.to_markdown(),
            "See the plan.\n\nAttachments:\n- plan1script.pdf (3.0 MB)\n"
        );
        assert_eq!(clean_name(" \u{7} "), "unnamed attachment");
        assert!(ReplyBody::default().is_empty());
    }

    #[test]
    fn images_and_documents_are_kept_up_to_the_cap_other_types_never() {
        use AttachmentVerdict::*;
        let cap = 1000;
        assert_eq!(verdict("a.png", "image/png", 10, cap), Listed);
        assert_eq!(verdict("a.PDF", "application/pdf", 1000, cap), Listed);
        assert_eq!(
            verdict("a.pdf", "application/octet-stream", 10, cap),
            Listed
        );
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        assert_eq!(verdict("notes.docx", docx, 10, cap), Listed);
        assert_eq!(verdict("a.jpg", "image/jpeg", 1001, cap), TooLarge);
        assert_eq!(
            verdict("setup.exe", "application/x-msdownload", 10, cap),
            NotAccepted
        );
        assert_eq!(verdict("photo.png.exe", "image/png", 10, cap), NotAccepted);
        assert_eq!(verdict("logo.svg", "image/svg+xml", 10, cap), NotAccepted);
        assert_eq!(verdict("run.sh", "text/plain", 10, cap), NotAccepted);
        assert_eq!(verdict("data.zip", "application/zip", 10, cap), NotAccepted);
        assert_eq!(
            verdict("blob", "application/octet-stream", 10, cap),
            NotAccepted
        );
        let exe = AttachmentInfo {
            name: "setup.exe".into(),
            content_type: "application/x-msdownload".into(),
            size: 100,
        };
        assert_eq!(
            listing(&exe, cap),
            "setup.exe (1 KB, not kept: not an image or document)"
        );
        let big = AttachmentInfo {
            name: "plan.jpg".into(),
            content_type: "image/jpeg".into(),
            size: 3 * 1024 * 1024,
        };
        assert_eq!(
            listing(&big, 2 * 1024 * 1024),
            "plan.jpg (3.0 MB, not kept: larger than 2.0 MB)"
        );
    }
}
