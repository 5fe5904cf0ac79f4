//! One set of real mail servers on 127.0.0.1 for the TLS and login tests: a test CA
//! ([`TestCa`], openssl), Dovecot (IMAP with TLS and STARTTLS, and SASL for Postfix), Postfix's
//! `smtpd` ([`digestd::bench::postfix::Postfix`]: STARTTLS on the submission port, implicit
//! TLS on the smtps port, plain for comparison; AUTH through Dovecot) relaying what it
//! accepts to an [`SmtpSink`] that keeps every mail. Both servers present the same
//! certificate, chosen by [`Cert`]. One set per test; everything stops when it is dropped.
//!
//! [`MailServers::start`] returns `None` (the test says it skipped) when Postfix cannot run
//! here (not root, not installed), and panics instead when env `CI` is set.

use std::path::PathBuf;

use digestd::bench::postfix::{Postfix, PostfixOptions};
use digestd::bench::test_ca::{ServerCert, TestCa};

use super::dovecot::{Dovecot, DovecotOptions, OAuthOptions};
use super::{ensure_deps, find_program, is_root, skip_unless_ci, SmtpSink};

/// The login both servers accept.
pub const USER: &str = "digest-sender";
/// Its password.
pub const PASSWORD: &str = "correct horse";

/// Which certificate the servers present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cert {
    /// For localhost and 127.0.0.1, from the trusted test CA.
    Good,
    /// For another host name, from the trusted test CA.
    WrongHost,
    /// Expired, from the trusted test CA.
    Expired,
    /// From a CA nobody trusts.
    UnknownCa,
}

/// The running servers (fields drop in order: Postfix first, then what it talks to).
pub struct MailServers {
    /// Postfix: submission (STARTTLS), smtps (implicit TLS) and plain listeners.
    pub postfix: Postfix,
    /// Dovecot: IMAP (STARTTLS) on `port()`, IMAPS on `imaps_port()`, SASL for Postfix.
    pub dovecot: Dovecot,
    /// Where Postfix relays: every mail it accepted lands here.
    pub sink: SmtpSink,
    /// The test CA's files.
    pub ca: TestCa,
    _ca_dir: tempfile::TempDir,
}

impl MailServers {
    /// Starts the set with `cert`, or `None` when Postfix cannot run here (not on CI).
    pub fn start(cert: Cert) -> Option<MailServers> {
        MailServers::start_with_oauth(cert, None)
    }

    /// [`MailServers::start`] whose Dovecot (and so Postfix's AUTH) takes OAuth bearer tokens
    /// as `oauth` says instead of the password.
    pub fn start_with_oauth(cert: Cert, oauth: Option<OAuthOptions>) -> Option<MailServers> {
        ensure_deps();
        if !is_root() {
            skip_unless_ci("root (Postfix's master runs as root)");
            return None;
        }
        if find_program("postfix").is_none() || find_program("openssl").is_none() {
            skip_unless_ci("postfix or openssl");
            return None;
        }
        let ca_dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::create(ca_dir.path()).expect("test CA (openssl)");
        let chosen: ServerCert = match cert {
            Cert::Good => ca.good.clone(),
            Cert::WrongHost => ca.wrong_host.clone(),
            Cert::Expired => ca.expired.clone(),
            Cert::UnknownCa => ca.unknown_ca.clone(),
        };
        let dovecot = Dovecot::start_with(
            USER,
            PASSWORD,
            DovecotOptions {
                tls: Some((chosen.clone(), ca.ca_file.clone())),
                sasl_socket: true,
                extra: String::new(),
                oauth,
            },
        );
        let sink = SmtpSink::start();
        let postfix = Postfix::start(&PostfixOptions {
            relay_port: sink.port(),
            cert: Some(chosen),
            dovecot_auth: Some(dovecot.auth_socket()),
        })
        .unwrap_or_else(|e| panic!("starting Postfix: {e:#}"));
        Some(MailServers {
            postfix,
            dovecot,
            sink,
            ca,
            _ca_dir: ca_dir,
        })
    }

    /// The CA file clients should trust.
    pub fn ca_file(&self) -> PathBuf {
        self.ca.ca_file.clone()
    }
}
