//! The one error type of sending, split by what the caller should do about it.

/// Why a message was not accepted by the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: SMTP 4xx, connection refused or lost, timeouts, TLS trouble, a full
    /// disk, a sendmail that failed.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying will not help: SMTP 5xx, an address the server or lettre refuses, a transport
    /// that cannot be built from the configuration.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The relay cannot be used at all until someone acts: its certificate was refused, or it
    /// refused the login. Nothing can be sent (the message waits, like a transient failure),
    /// and retrying each message at once is pointless: the caller stops its run and the
    /// transport backs off (see [`crate::mail_outage`]).
    #[error("relay unusable: {0}")]
    Unusable(String),
}

impl SendError {
    /// True for [`SendError::Transient`] and [`SendError::Unusable`]: the message waits.
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_) | SendError::Unusable(_))
    }

    /// The reason, without the transient/permanent prefix (what the ledger records).
    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient(s) | SendError::Permanent(s) | SendError::Unusable(s) => s,
        }
    }
}

/// Classifies a lettre SMTP error: 5xx and client-side refusals are permanent, everything else
/// (4xx, network, timeout, TLS, an unparsable reply) transient.
pub(crate) fn from_smtp(e: &lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_permanent() || e.is_client() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}
