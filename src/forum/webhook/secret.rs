//! The shared secret of a webhook forum: read once from its `secret_file`, never printed.
//!
//! The file holds text (for example `openssl rand -hex 32`); surrounding whitespace is dropped
//! and the remaining bytes are the HMAC key, exactly what `openssl dgst -hmac "$(cat FILE)"`
//! uses on the platform's side.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("reading the webhook secret {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Fewer than [`WebhookSecret::MIN_BYTES`] bytes after trimming.
    #[error(
        "the webhook secret {} has {len} bytes, needs at least {}: openssl rand -hex 32 > FILE",
        .path.display(),
        WebhookSecret::MIN_BYTES
    )]
    TooShort {
        /// The file.
        path: PathBuf,
        /// Bytes found.
        len: usize,
    },
}

/// The HMAC-SHA256 key shared with one platform (both directions).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Shortest key accepted, in bytes.
    pub const MIN_BYTES: usize = 32;

    /// A key from bytes (surrounding ASCII whitespace dropped); `None` when shorter than
    /// [`WebhookSecret::MIN_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<WebhookSecret> {
        let key = bytes.trim_ascii();
        (key.len() >= Self::MIN_BYTES).then(|| WebhookSecret(key.to_vec()))
    }

    /// Reads the key from `path`.
    pub fn from_file(path: &Path) -> Result<WebhookSecret, SecretError> {
        let raw = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        WebhookSecret::new(&raw).ok_or_else(|| SecretError::TooShort {
            path: path.to_path_buf(),
            len: raw.trim_ascii().len(),
        })
    }

    /// The key bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_trimmed_text_of_at_least_32_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("secret");
        std::fs::write(&file, format!("  {}\n", "ab".repeat(32))).expect("write");
        let s = WebhookSecret::from_file(&file).expect("reads");
        assert_eq!(s.bytes(), "ab".repeat(32).as_bytes());
        assert_eq!(format!("{s:?}"), "WebhookSecret(..)");
        std::fs::write(&file, "short\n").expect("write");
        assert!(matches!(
            WebhookSecret::from_file(&file),
            Err(SecretError::TooShort { len: 5, .. })
        ));
        assert!(matches!(
            WebhookSecret::from_file(&dir.path().join("missing")),
            Err(SecretError::Read { .. })
        ));
    }
}
