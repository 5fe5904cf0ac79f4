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
    // One pass over the header section, a line at a time (memchr), stopping at its end; a
    // message without one is read for its first MiB.
    let mut start = 0;
    let found = loop {
        if start >= raw.len() {
            break None;
        }
        let next = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |p| start + p + 1);
        let line = &raw[start..next];
        if line == b"\n" || line == b"\r\n" {
            break None;
        }
        if let Some(colon) = message_id_colon(line) {
            break Some((start, next, colon));
        }
        start = next;
    };
    let (start, next, colon) = found?;
    if start >= 1024 * 1024 && header_end(raw).is_none() {
        return None;
    }
    let mut value = raw[start + colon + 1..next].trim_ascii().to_vec();
    // Folded onto the lines after it.
    for cont in raw[next..]
        .split(|&b| b == b'\n')
        .take_while(|l| l.starts_with(b" ") || l.starts_with(b"\t"))
    {
        value.extend_from_slice(cont.trim_ascii());
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
    (!id.is_empty() && id.len() <= 998).then_some(id)
}

/// Where the colon of a `Message-ID:` header line is (the name compared without case, blanks
/// around it allowed); `None` for any other line, most of them after one byte.
fn message_id_colon(line: &[u8]) -> Option<usize> {
    if !matches!(line.first(), Some(b'M' | b'm' | b' ' | b'\t')) {
        return None;
    }
    let colon = memchr::memchr(b':', line)?;
    line[..colon]
        .trim_ascii()
        .eq_ignore_ascii_case(b"message-id")
        .then_some(colon)
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
    fn message_id_is_the_first_one_of_the_header_section_only() {
        let id = |raw: &[u8]| message_id(raw);
        assert_eq!(
            id(b"message-id : <a@x>\nMessage-ID: <b@x>\n\nx").as_deref(),
            Some("a@x"),
            "the first, any case, blanks before the colon"
        );
        assert_eq!(
            id(b"Subject: Message-ID: <no@x>\nMessage-Id:<c@x> (comment)\n\n").as_deref(),
            Some("c@x")
        );
        assert_eq!(id(b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n"), None);
        assert_eq!(id(b"Message-IDs: <not@x>\nMessage: x\n\n"), None);
        assert_eq!(id(b"Message-ID: <>\n\n"), None, "empty");
        assert_eq!(
            id(b"Message-ID: <last@x>").as_deref(),
            Some("last@x"),
            "no newline"
        );
        assert_eq!(id(b""), None);
        // Without a blank line, only the first MiB counts as headers.
        let mut long = b"X-Filler: ".to_vec();
        long.resize(1024 * 1024 + 10, b'a');
        long.extend_from_slice(b"\nMessage-ID: <late@x>\n");
        assert_eq!(id(&long), None);
        long.extend_from_slice(b"\nbody");
        assert_eq!(
            id(&long).as_deref(),
            Some("late@x"),
            "a long header section"
        );
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
