//! Delivery into a Maildir (the demo's outbox): each message one file in `new/`, written to
//! `tmp/` first, fsynced, then renamed, so a reader never sees half a message.
//!
//! The file is the message as it would go over SMTP, preceded by `Return-Path` and
//! `Delivered-To` lines as a local delivery agent writes them.

use std::path::{Path, PathBuf};

use maildir::Maildir;

use super::error::SendError;
use super::smtp::envelope;

/// Writes messages into a Maildir.
#[derive(Debug, Clone)]
pub struct MaildirOutbound {
    root: PathBuf,
}

impl MaildirOutbound {
    /// A transport writing under `root`; creates `root/{tmp,new,cur}` when missing.
    pub fn new(root: &Path) -> Result<Self, SendError> {
        Maildir::from(root.to_path_buf())
            .create_dirs()
            .map_err(|e| {
                SendError::Permanent(format!("creating Maildir {}: {e}", root.display()))
            })?;
        Ok(MaildirOutbound {
            root: root.to_path_buf(),
        })
    }

    /// The Maildir root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Delivers one message; returns the path of the new file. Blocking (file I/O).
    pub fn deliver(
        &self,
        envelope_from: &str,
        envelope_to: &str,
        raw: &[u8],
    ) -> Result<PathBuf, SendError> {
        let envelope = envelope(envelope_from, envelope_to)?;
        let from = envelope.from().map(|a| a.to_string()).unwrap_or_default();
        let to = envelope
            .to()
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let mut data = Vec::with_capacity(raw.len() + from.len() + to.len() + 40);
        data.extend_from_slice(
            format!("Return-Path: <{from}>\r\nDelivered-To: {to}\r\n").as_bytes(),
        );
        data.extend_from_slice(raw);
        let maildir = Maildir::from(self.root.clone());
        let id = maildir.store_new(&data).map_err(|e| {
            SendError::Transient(format!("writing into Maildir {}: {e}", self.root.display()))
        })?;
        Ok(self.root.join("new").join(id))
    }

    /// [`MaildirOutbound::deliver`] on tokio's blocking pool.
    pub async fn send(
        &self,
        envelope_from: &str,
        envelope_to: &str,
        raw: &[u8],
    ) -> Result<(), SendError> {
        let this = self.clone();
        let (from, to, raw) = (
            envelope_from.to_owned(),
            envelope_to.to_owned(),
            raw.to_vec(),
        );
        tokio::task::spawn_blocking(move || this.deliver(&from, &to, &raw))
            .await
            .map_err(|e| SendError::Transient(format!("Maildir writer: {e}")))?
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivers_a_complete_file_into_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("outbox");
        let md = MaildirOutbound::new(&root).expect("creates");
        let raw = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
        let path = md
            .deliver("a@example.org", "b@example.org", raw)
            .expect("delivers");
        assert!(path.starts_with(root.join("new")));
        for sub in ["tmp", "new", "cur"] {
            assert!(root.join(sub).is_dir());
        }
        assert_eq!(
            std::fs::read_dir(root.join("tmp")).map(|d| d.count()).ok(),
            Some(0)
        );
        let data = std::fs::read(&path).expect("reads");
        let msg = mail_parser::MessageParser::default()
            .parse(&data)
            .expect("parses");
        assert_eq!(msg.subject(), Some("hi"));
        assert_eq!(msg.return_address(), Some("a@example.org"));
        assert_eq!(
            msg.header_raw("Delivered-To").map(str::trim),
            Some("b@example.org")
        );
        assert!(data.ends_with(raw));
    }

    #[test]
    fn bad_recipient_is_permanent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let md = MaildirOutbound::new(dir.path()).expect("creates");
        assert!(matches!(
            md.deliver("a@example.org", "nope", b"x"),
            Err(SendError::Permanent(_))
        ));
    }
}
