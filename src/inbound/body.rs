//! The text to post from a reply: the trimmer's result plus the list of attachments, as one
//! Markdown body. The single place the pipeline calls the trimmer from.
//!
//! **Invariant:** pure; attachments are listed by name and size, never inlined or executed.

use mail_parser::Message;

/// What a reply contributes to a post.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyBody {
    /// The person's own text (trimmed), Markdown-safe plain text.
    pub text: String,
    /// Attachment names with sizes, in message order.
    pub attachments: Vec<String>,
}

impl ReplyBody {
    /// True when there is nothing to post.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.attachments.is_empty()
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
/// the attachments.
pub fn reply_body(msg: &Message<'_>) -> ReplyBody {
    let reply = crate::inbound::trim::extract_reply(msg);
    ReplyBody {
        text: reply.text,
        attachments: reply
            .attachments
            .iter()
            .map(|a| format!("{} ({})", clean_name(&a.name), human_size(a.size)))
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
}
