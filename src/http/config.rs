//! `[http]` settings and the signing key of unsubscribe and preferences links.
//!
//! ```toml
//! [http]
//! listen = "127.0.0.1:8025"                 # default; loopback unless you mean otherwise
//! public_url = "https://digests.example.org" # base of the links in List-Unsubscribe
//! secret_file = "/etc/digestd/http.key"       # text (hex/base64, trimmed) or raw binary, >= 32 bytes
//! token_max_age_days = 365                    # older unsubscribe links are refused
//! preferences_link_days = 60                  # older preferences links are refused
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[http]`: the endpoint is served only when this section is present.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on (default `127.0.0.1:8025`).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Public base URL of this endpoint (behind a reverse proxy doing TLS), used in
    /// List-Unsubscribe links; default `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// File holding the HMAC key for unsubscribe tokens (at least 32 bytes). Without it,
    /// one-click unsubscribe is off (`/u/...` answers 404) and digests carry only the mailto.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Unsubscribe links older than this many days are refused (default 365).
    #[serde(default = "default_max_age_days")]
    pub token_max_age_days: u32,
    /// Preferences links (in every digest's footer) older than this many days are refused
    /// (default 60; each digest carries a fresh one).
    #[serde(default = "default_preferences_link_days")]
    pub preferences_link_days: u32,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8025))
}

fn default_max_age_days() -> u32 {
    365
}

fn default_preferences_link_days() -> u32 {
    60
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            public_url: None,
            secret_file: None,
            token_max_age_days: default_max_age_days(),
            preferences_link_days: default_preferences_link_days(),
        }
    }
}

impl HttpConfig {
    /// The base URL for links, without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Makes a relative `secret_file` relative to `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(p) = &self.secret_file {
            if p.is_relative() {
                self.secret_file = Some(base.join(p));
            }
        }
    }

    /// Reads the signing key, when one is configured.
    pub fn load_secret(&self) -> Result<Option<Secret>, SecretError> {
        self.secret_file
            .as_deref()
            .map(Secret::from_file)
            .transpose()
    }
}

/// Why the signing key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read.
    #[error("reading the HTTP secret {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Fewer than [`Secret::MIN_BYTES`] bytes.
    #[error("the HTTP secret {} has {len} bytes, needs at least {}: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > FILE", .path.display(), Secret::MIN_BYTES)]
    TooShort {
        /// The file.
        path: PathBuf,
        /// Bytes found.
        len: usize,
    },
}

/// The HMAC key of unsubscribe tokens. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Shortest key accepted, in bytes.
    pub const MIN_BYTES: usize = 32;

    /// A key from bytes; `None` when shorter than [`Secret::MIN_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Option<Secret> {
        (bytes.len() >= Self::MIN_BYTES).then_some(Secret(bytes))
    }

    /// A fresh random key (tests, or a generated key file).
    pub fn generate() -> Secret {
        let bytes: [u8; 32] = rand::random();
        Secret(bytes.to_vec())
    }

    /// Reads a key file. Two forms, told apart by content:
    ///
    /// - **text** (every byte printable ASCII or whitespace, e.g. 64 hex digits as the Debian
    ///   package writes, or base64): surrounding whitespace is dropped and the text itself is the
    ///   key (at least [`Secret::MIN_BYTES`] characters);
    /// - **binary** (any other byte, e.g. `head -c 32 /dev/urandom`): the bytes are the key as
    ///   they are, nothing trimmed (at least [`Secret::MIN_BYTES`] bytes).
    pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
        let raw = std::fs::read(path).map_err(|source| SecretError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let key = key_bytes(raw);
        let len = key.len();
        Secret::new(key).ok_or_else(|| SecretError::TooShort {
            path: path.to_path_buf(),
            len,
        })
    }

    /// The key bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The key in a key file's bytes: a text key trimmed, a binary key untouched.
fn key_bytes(raw: Vec<u8>) -> Vec<u8> {
    let is_text = raw
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if is_text {
        raw.trim_ascii().to_vec()
    } else {
        raw
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_and_off() {
        let c: HttpConfig = toml::from_str("").expect("empty section");
        assert_eq!(c, HttpConfig::default());
        assert_eq!(c.listen.to_string(), "127.0.0.1:8025");
        assert_eq!(c.public_base(), "http://127.0.0.1:8025");
        let c: HttpConfig =
            toml::from_str("public_url = \"https://d.example.org/\"").expect("parses");
        assert_eq!(c.public_base(), "https://d.example.org");
        assert!(toml::from_str::<HttpConfig>("listn = \"x\"").is_err());
    }

    #[test]
    fn secrets_need_32_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").expect("write");
        assert!(matches!(
            Secret::from_file(&short),
            Err(SecretError::TooShort { len: 3, .. })
        ));
        let good = dir.path().join("good");
        std::fs::write(&good, format!("{}\n", "k".repeat(40))).expect("write");
        assert_eq!(Secret::from_file(&good).expect("ok").bytes().len(), 40);
        assert_eq!(format!("{:?}", Secret::generate()), "Secret(..)");
        // A raw binary key whose bytes begin and end with whitespace bytes is kept whole.
        let mut raw = vec![b'\n', b' ', 0x00, 0xff];
        raw.extend([0x80u8; 26]);
        raw.extend([b'\t', b'\r']);
        assert_eq!(raw.len(), 32);
        let binary = dir.path().join("binary");
        std::fs::write(&binary, &raw).expect("write");
        assert_eq!(Secret::from_file(&binary).expect("ok").bytes(), &raw[..]);
        // A hex text key with a newline: the 64 characters are the key.
        let hex = dir.path().join("hex");
        std::fs::write(&hex, format!(" {}\n", "ab".repeat(32))).expect("write");
        assert_eq!(
            Secret::from_file(&hex).expect("ok").bytes(),
            "ab".repeat(32).as_bytes()
        );
        let mut c = HttpConfig {
            secret_file: Some("good".into()),
            ..HttpConfig::default()
        };
        c.resolve_paths(dir.path());
        assert!(c.load_secret().expect("loads").is_some());
    }
}
