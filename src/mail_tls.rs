//! TLS for the mail servers (the SMTP relay, the IMAP mailbox): which certificates are trusted,
//! and what a failed handshake means in words.
//!
//! Certificates are always verified: the system's roots (`rustls-native-certs`) plus, when a
//! server block names one, its `ca_file` (PEM). No setting turns verification off; a
//! plain-text server (`tls = "none"`) is accepted by the config only on a loopback address
//! ([`is_loopback`]).
//!
//! [`describe_failure`] walks an error's sources for the rustls error inside (lettre and
//! tokio-rustls wrap it in `std::io::Error`) and says what went wrong: the certificate is for
//! another host, expired, not yet valid, or from an unknown CA. Those are
//! [`TlsFailure::Certificate`]: the server or the configuration must change, so retrying at once
//! cannot help.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The `ca_file` could not be read.
    #[error("ca_file {path}: {source}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The `ca_file` holds no usable certificate.
    #[error("ca_file {path}: no PEM certificate in it")]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// rustls refused the settings.
    #[error("TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificates trusted for a server: the system roots and those of `ca_file`.
pub fn trusted_roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        for cert in read_ca_file(path)? {
            roots.add(cert)?;
        }
    }
    Ok(roots)
}

/// The certificates of a PEM `ca_file`; an error when it cannot be read or holds none.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    use rustls::pki_types::pem::PemObject;
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|source| TlsSetupError::CaFile {
        path: shown.clone(),
        source,
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate { path: shown });
    }
    Ok(certs)
}

/// A rustls client configuration verifying servers against [`trusted_roots`].
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(trusted_roots(ca_file)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// What a failed TLS handshake (or TLS step) was about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's certificate was refused: a configuration or server problem that retrying
    /// does not fix. The words say why.
    Certificate(String),
    /// Anything else in TLS (a protocol error, an alert from the server).
    Other(String),
}

impl TlsFailure {
    /// The words.
    pub fn reason(&self) -> &str {
        match self {
            TlsFailure::Certificate(s) | TlsFailure::Other(s) => s,
        }
    }
}

/// Finds the rustls error among `error`'s sources and says what it means for `host`; `None`
/// when no rustls error is inside.
pub fn describe_failure(
    error: &(dyn std::error::Error + 'static),
    host: &str,
) -> Option<TlsFailure> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(describe_rustls(r, host));
        }
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(describe_rustls(r, host));
        }
        current = e.source();
    }
    None
}

/// A rustls error in words, naming `host`.
pub fn describe_rustls(error: &rustls::Error, host: &str) -> TlsFailure {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(c) => TlsFailure::Certificate(match c {
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the certificate of {host} is not valid for the name {host:?} \
                 (wrong host name: connect to the name the certificate was made for)"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                format!("the certificate of {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the certificate of {host} is not valid yet (check the clock)")
            }
            C::UnknownIssuer => format!(
                "the certificate of {host} is signed by an unknown certificate authority \
                 (not in the system's roots nor in ca_file)"
            ),
            C::Revoked => format!("the certificate of {host} is revoked"),
            C::BadSignature | C::BadEncoding => {
                format!("the certificate of {host} is malformed or badly signed")
            }
            other => format!("the certificate of {host} was refused: {other:?}"),
        }),
        other => TlsFailure::Other(format!("TLS with {host} failed: {other}")),
    }
}

/// True for `localhost` and loopback IP addresses (where plain text is acceptable).
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_become_words_naming_the_host() {
        use rustls::CertificateError as C;
        let cases = [
            (C::NotValidForName, "not valid for the name"),
            (C::Expired, "expired"),
            (C::UnknownIssuer, "unknown certificate authority"),
        ];
        for (c, words) in cases {
            let io = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                rustls::Error::InvalidCertificate(c),
            );
            let got = describe_failure(&io, "mail.example.org").expect("found");
            match got {
                TlsFailure::Certificate(s) => {
                    assert!(s.contains(words) && s.contains("mail.example.org"), "{s}")
                }
                other => panic!("{other:?}"),
            }
        }
        let plain = std::io::Error::other("connection reset");
        assert_eq!(describe_failure(&plain, "h"), None);
    }

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["mail.example.org", "10.0.0.1", "192.168.1.1", ""] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("ca.pem");
        std::fs::write(&f, "not a certificate").expect("write");
        assert!(matches!(
            read_ca_file(&f),
            Err(TlsSetupError::NoCertificate { .. })
        ));
        assert!(matches!(
            read_ca_file(&dir.path().join("missing.pem")),
            Err(TlsSetupError::CaFile { .. })
        ));
    }
}
