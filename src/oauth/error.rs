//! [`OAuthError`]: why no access token could be had, naming the provider and the reason.

/// Why a token could not be fetched. Every variant names the provider (`microsoft`, `google`,
/// `token_command`) so a log line says where to look.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused the client: wrong or revoked secret or key, unknown client, no
    /// delegation (`invalid_client`, `unauthorized_client`, `invalid_grant`, …).
    #[error("oauth {provider}: the token endpoint refused the credentials ({code}: {description}){hint}")]
    Refused {
        /// Provider.
        provider: &'static str,
        /// The RFC 6749 `error` code.
        code: String,
        /// The provider's `error_description`.
        description: String,
        /// What the code usually means, for the admin (starts with "; " or is empty).
        hint: String,
    },
    /// The token endpoint could not be reached (DNS, connect, TLS, timeout).
    #[error("oauth {provider}: token endpoint {url} unreachable: {reason}")]
    Unreachable {
        /// Provider.
        provider: &'static str,
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// The endpoint answered, but not with a token (bad status without an error object, not
    /// JSON, no `access_token`).
    #[error("oauth {provider}: malformed answer from {url}: {reason}")]
    Malformed {
        /// Provider.
        provider: &'static str,
        /// The endpoint.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// A local file (client secret, service account key) is missing, unreadable or invalid.
    #[error("oauth {provider}: {path}: {reason}")]
    LocalFile {
        /// Provider.
        provider: &'static str,
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// `token_command` failed: could not start, timed out, exited non-zero or printed nothing.
    #[error("oauth token_command {program}: {reason}")]
    Command {
        /// The program.
        program: String,
        /// What happened (with its stderr).
        reason: String,
    },
}

impl OAuthError {
    /// True when retrying soon cannot help (credentials refused, local file wrong): the admin
    /// must act. Unreachable endpoints and failed commands may recover by themselves.
    pub fn needs_admin(&self) -> bool {
        matches!(
            self,
            OAuthError::Refused { .. } | OAuthError::LocalFile { .. }
        )
    }
}

/// What an RFC 6749 §5.2 error code usually means for these flows (a hint for the log).
pub(crate) fn hint_for(code: &str) -> &'static str {
    match code {
        "invalid_client" => "; the client secret is wrong, expired or revoked, or the client id is unknown",
        "unauthorized_client" => "; the client may not use this grant: check the app's permissions or the domain-wide delegation",
        "invalid_grant" => "; the assertion was refused: check the key, the clock, and that the mailbox exists",
        "invalid_scope" => "; the scope is not granted to this client",
        "invalid_request" => "; the request was refused: check tenant and client id",
        _ => "",
    }
}
