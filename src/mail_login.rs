//! The one place where digestd proves who it is to a mail server: SMTP AUTH on the relay and
//! IMAP LOGIN on the mailbox, from one [`Credentials`] value.
//!
//! A credential is a password (SMTP AUTH PLAIN or LOGIN, IMAP LOGIN) or an OAuth 2.0 token
//! source (SMTP AUTH XOAUTH2, IMAP AUTHENTICATE XOAUTH2/OAUTHBEARER; [`crate::oauth::login`]).
//!
//! A server saying no to the credentials is [`LoginError::Refused`]: retrying at once cannot
//! help, so callers treat the server as unusable until the configuration is fixed (see
//! [`crate::mail_outage`]). Anything else (the connection dropped) is [`LoginError::Failed`].

use std::fmt::Debug;

use lettre::transport::smtp::authentication::{Credentials as LettreCredentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::oauth::login::ImapServer;
use crate::oauth::OAuthLogin;

/// How digestd logs in to a mail server.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// A user name and a password (SMTP AUTH PLAIN/LOGIN, IMAP LOGIN).
    Password {
        /// Login name.
        user: String,
        /// Password.
        password: String,
    },
    /// OAuth 2.0 access tokens for `login.user` from a (cached, shared) token source.
    OAuth {
        /// The user and where tokens come from.
        login: OAuthLogin,
        /// A digest of the secret file's contents when this value was made, so a fixed file
        /// counts as new settings ([`crate::mail_outage::fingerprint`]).
        secret_digest: u64,
    },
}

impl Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .finish_non_exhaustive(),
            Credentials::OAuth { login, .. } => f
                .debug_struct("OAuth")
                .field("user", &login.user)
                .field("provider", &login.config.provider())
                .finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    /// A password login.
    pub fn password(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Password {
            user: user.into(),
            password: password.into(),
        }
    }

    /// An OAuth login (reads the secret file to note its digest).
    pub fn oauth(login: OAuthLogin) -> Credentials {
        let secret_digest = crate::oauth::secret_digest(&login.config);
        Credentials::OAuth {
            login,
            secret_digest,
        }
    }

    /// The login name (for messages).
    pub fn user(&self) -> &str {
        match self {
            Credentials::Password { user, .. } => user,
            Credentials::OAuth { login, .. } => &login.user,
        }
    }
}

/// Why logging in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The server refused the credentials (or offers no way to use them): fix the
    /// configuration; retrying at once will not help.
    #[error("login refused for user {user:?}: {reason}")]
    Refused {
        /// The login name.
        user: String,
        /// The server's answer.
        reason: String,
    },
    /// The server refused an OAuth token, now dropped from the cache: one more connection with
    /// a freshly fetched token may succeed (SMTP; IMAP retries on the same connection).
    #[error("token refused for user {user:?}: {reason}")]
    TokenRefused {
        /// The login name.
        user: String,
        /// The server's answer.
        reason: String,
    },
    /// The exchange failed for another reason (connection lost, a garbled answer).
    #[error("login failed: {0}")]
    Failed(String),
}

/// SMTP AUTH on an open (and, when configured, encrypted) connection.
pub async fn smtp_authenticate(
    conn: &mut AsyncSmtpConnection,
    credentials: &Credentials,
) -> Result<(), LoginError> {
    match credentials {
        Credentials::Password { user, password } => {
            let creds = LettreCredentials::new(user.clone(), password.clone());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map(|_| ())
                .map_err(|e| {
                    if e.is_permanent() || e.is_client() {
                        LoginError::Refused {
                            user: user.clone(),
                            reason: e.to_string(),
                        }
                    } else {
                        LoginError::Failed(e.to_string())
                    }
                })
        }
        Credentials::OAuth { login, .. } => crate::oauth::login::smtp_xoauth2(conn, login).await,
    }
}

/// IMAP login on a greeted (and, when configured, encrypted) connection to `server`.
pub async fn imap_login<T>(
    client: async_imap::Client<T>,
    credentials: &Credentials,
    server: ImapServer<'_>,
) -> Result<async_imap::Session<T>, LoginError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    match credentials {
        Credentials::Password { user, password } => {
            client
                .login(user, password)
                .await
                .map_err(|(e, _)| match e {
                    async_imap::error::Error::No(reason) => LoginError::Refused {
                        user: user.clone(),
                        reason,
                    },
                    other => LoginError::Failed(other.to_string()),
                })
        }
        Credentials::OAuth { login, .. } => crate::oauth::login::imap(client, login, server).await,
    }
}
