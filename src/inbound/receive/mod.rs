//! The edges where mail comes in: stdin (the MTA pipe), a Maildir, an IMAP mailbox. Each one
//! stores the raw message first ([`intake`]) and then hands the stored id to the pipeline.
//!
//! **Invariant:** nothing is processed, moved or flagged before it is stored; a message that
//! could not be stored stays where it was (MTA queue, `new/`, the IMAP folder).

pub mod imap;
pub mod maildir;
pub mod stdin;

use sha2::{Digest, Sha256};

use crate::inbound::pipeline::TRUNCATED_HEADER;
use crate::store::inbound::NewInbound;
use crate::store::{InsertedInbound, Store, StoreError};

/// The most bytes stored of one message (50 MiB). A larger message is stored as its header
/// section plus a [`TRUNCATED_HEADER`] marker, so it is answered "too large" rather than lost or
/// bounced by the MTA.
pub const MAX_STORED_BYTES: usize = 50 * 1024 * 1024;

/// A message as it will be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    /// Bytes to store (the whole message, or its headers and a marker when too large).
    pub raw: Vec<u8>,
    /// Message-ID without angle brackets, when the message has one.
    pub message_id: Option<String>,
    /// SHA-256 (hex) of the message as received (all of it).
    pub sha256: String,
}

impl Intake {
    /// This message as the store takes it.
    pub fn as_new_inbound(&self) -> NewInbound<'_> {
        NewInbound {
            raw: &self.raw,
            message_id: self.message_id.as_deref(),
            sha256: &self.sha256,
        }
    }
}

/// Why input is not mail at all (`digestd receive` exits 65 for these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotMail {
    /// Nothing, or only whitespace.
    #[error("empty input")]
    Empty,
    /// The first line is not a header field (`Name: value`) or an mbox `From ` line.
    #[error("no header section")]
    NoHeaders,
}

/// Checks that `raw` starts with a header section: the first line is a header field (or an mbox
/// `From ` line followed by one). Pure and cheap; MIME errors later are the pipeline's business.
pub fn looks_like_mail(raw: &[u8]) -> Result<(), NotMail> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(NotMail::Empty);
    }
    let mut lines = raw.split(|&b| b == b'\n');
    let mut first = lines.next().unwrap_or(&[]);
    if first.starts_with(b"From ") {
        first = lines.next().unwrap_or(&[]);
    }
    if is_header_line(first) {
        Ok(())
    } else {
        Err(NotMail::NoHeaders)
    }
}

fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon]
            .iter()
            .all(|&b| (33..=126).contains(&b) && b != b':')
}

/// Builds what to store from the received bytes. `total_len` and `sha256` describe the whole
/// message as received (more than `raw` when the reader stopped at [`MAX_STORED_BYTES`]).
pub fn prepare(raw: Vec<u8>, total_len: usize, sha256: String) -> Intake {
    let message_id = message_id(&raw);
    let raw = if total_len > MAX_STORED_BYTES || raw.len() > MAX_STORED_BYTES {
        truncated(&raw, total_len)
    } else {
        raw
    };
    Intake {
        raw,
        message_id,
        sha256,
    }
}

/// [`prepare`] for bytes already in memory.
pub fn prepare_bytes(raw: Vec<u8>) -> Intake {
    let sha = hex::encode(Sha256::digest(&raw));
    let len = raw.len();
    prepare(raw, len, sha)
}

/// The header section of `raw` (at most 1 MiB), a truncation marker, and a one-line body.
fn truncated(raw: &[u8], total_len: usize) -> Vec<u8> {
    let end = header_end(raw).unwrap_or(raw.len()).min(1024 * 1024);
    let mut out = raw[..end].to_vec();
    while out.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        out.pop();
    }
    out.extend_from_slice(format!("\r\n{TRUNCATED_HEADER}: {total_len}\r\n\r\n").as_bytes());
    out.extend_from_slice(format!("(body not stored: {total_len} bytes)\r\n").as_bytes());
    out
}

/// Offset of the end of the header section (before the blank line).
fn header_end(raw: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < raw.len() {
        let next = raw[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| i + p + 1)?;
        let line = &raw[i..next];
        if line == b"\n" || line == b"\r\n" {
            return Some(i);
        }
        i = next;
    }
    None
}

/// The Message-ID header value without brackets (header section only, unfolded). Works on the
/// bytes: only the value found is decoded (lossily), not the whole header section.
pub fn message_id(raw: &[u8]) -> Option<String> {
    let end = header_end(raw).unwrap_or(raw.len().min(1024 * 1024));
    let mut lines = raw[..end].split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"message-id")
        {
            continue;
        }
        let mut value = line[colon + 1..].trim_ascii().to_vec();
        while let Some(cont) = lines
            .peek()
            .filter(|l| l.starts_with(b" ") || l.starts_with(b"\t"))
        {
            value.extend_from_slice(cont.trim_ascii());
            lines.next();
        }
        let value = String::from_utf8_lossy(&value);
        let id = value
            .trim()
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        return (!id.is_empty() && id.len() <= 998).then_some(id);
    }
    None
}

/// Stores `intake` (deduplicated by SHA-256 and Message-ID) from `source`.
pub fn store_intake(
    store: &mut Store,
    intake: &Intake,
    source: &str,
) -> Result<InsertedInbound, StoreError> {
    store.insert_inbound(
        &intake.raw,
        intake.message_id.as_deref(),
        &intake.sha256,
        source,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_or_not() {
        assert_eq!(looks_like_mail(b""), Err(NotMail::Empty));
        assert_eq!(looks_like_mail(b" \n\r\n"), Err(NotMail::Empty));
        assert_eq!(
            looks_like_mail(b"hello there\nthis is text"),
            Err(NotMail::NoHeaders)
        );
        assert_eq!(looks_like_mail(b"\x89PNG\r\n"), Err(NotMail::NoHeaders));
        assert!(looks_like_mail(b"Subject: x\r\n\r\nbody").is_ok());
        assert!(looks_like_mail(b"From a@b Mon Jan 1\nFrom: a@b\n\nx").is_ok());
    }

    #[test]
    fn message_id_unfolded_and_truncation_keeps_headers() {
        let raw = b"Subject: x\r\nMessage-ID:\r\n <abc@example.org>\r\n\r\nbody".to_vec();
        assert_eq!(message_id(&raw).as_deref(), Some("abc@example.org"));
        let t = prepare(raw.clone(), MAX_STORED_BYTES + 1, "h".into());
        let text = String::from_utf8(t.raw).expect("utf8");
        assert!(text.starts_with("Subject: x\r\nMessage-ID:"));
        assert!(text.contains(&format!("{TRUNCATED_HEADER}: {}", MAX_STORED_BYTES + 1)));
        assert!(!text.contains("body\r"));
        assert_eq!(t.message_id.as_deref(), Some("abc@example.org"));
    }
}
