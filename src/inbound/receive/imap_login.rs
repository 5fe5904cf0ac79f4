//! Logging in to the IMAP server of `[inbound.imap]`: `LOGIN` with the password from
//! `password_file`, or `AUTHENTICATE XOAUTH2` (or `OAUTHBEARER`, when the server offers only
//! that) with an access token from `oauth = { … }`.
//!
//! A refused token is dropped from the cache and a fresh one fetched for one more attempt on
//! the same connection; a second refusal is the error. The mechanism is chosen from the
//! `AUTH=` capabilities of the server's greeting; a greeting without them (Gmail, Exchange
//! Online) gets XOAUTH2, which both offer.

use std::fmt::Debug;
use std::sync::Arc;

use async_imap::imap_proto::{Capability, Response, ResponseCode};
use tokio::io::{AsyncRead, AsyncWrite};

use super::imap::{ImapConfig, ImapError};
use crate::oauth::sasl::{self, Mechanism};
use crate::oauth::{OAuthError, OAuthLogin, TokenSource};

/// What the login presents.
pub(super) enum Secret {
    /// `LOGIN` with this password.
    Password(String),
    /// SASL with a token from `source` (`token` is the one to try first).
    OAuth {
        /// The shared, cached source.
        source: Arc<TokenSource>,
        /// The current token.
        token: String,
    },
}

/// The secret for `cfg`: the password file's first line, read at each connection so it can be
/// rotated without a restart, or a (cached) token. Blocking (file, token endpoint).
pub(super) fn secret(cfg: &ImapConfig) -> Result<Secret, ImapError> {
    if let Some(oauth) = &cfg.oauth {
        let source = TokenSource::shared(&OAuthLogin {
            user: cfg.user.clone(),
            config: oauth.clone(),
        });
        let token = source.token().map_err(|e| token_error(cfg, e))?;
        return Ok(Secret::OAuth { source, token });
    }
    let path = cfg
        .password_file
        .as_deref()
        .unwrap_or(std::path::Path::new(""));
    std::fs::read_to_string(path)
        .map(|p| Secret::Password(p.lines().next().unwrap_or("").to_string()))
        .map_err(|source| ImapError::Io {
            host: format!("{} (password file {})", cfg.host, path.display()),
            source,
        })
}

/// The SASL mechanisms (`AUTH=…`) a greeting announces, upper case; empty when it lists none.
pub(super) fn greeting_mechanisms(greeting: &Response<'_>) -> Vec<String> {
    match greeting {
        Response::Data { outcome, .. } => match &outcome.code {
            Some(ResponseCode::Capabilities(caps)) => caps
                .iter()
                .filter_map(|c| match c {
                    Capability::Auth(m) => Some(m.to_ascii_uppercase()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Logs in with `secret`; `mechanisms` are those the greeting announced.
pub(super) async fn login<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    secret: &Secret,
    mechanisms: &[String],
) -> Result<async_imap::Session<T>, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let (source, token) = match secret {
        Secret::Password(password) => {
            return client
                .login(&cfg.user, password)
                .await
                .map_err(|(e, _)| protocol(cfg, "LOGIN", e));
        }
        Secret::OAuth { source, token } => (source, token),
    };
    let mechanism = Mechanism::choose(mechanisms.iter().map(String::as_str));
    let first = authenticate(client, cfg, mechanism, token).await;
    let client = match first {
        Ok(session) => return Ok(session),
        Err((e, client)) => {
            tracing::info!(
                host = %cfg.host,
                "imap: {} refused the token ({e}); fetching a new one",
                mechanism.name()
            );
            source.refused(token);
            client
        }
    };
    let fresh = {
        let source = Arc::clone(source);
        tokio::task::spawn_blocking(move || source.token())
            .await
            .map_err(|e| protocol(cfg, "token fetch", e))?
            .map_err(|e| token_error(cfg, e))?
    };
    authenticate(client, cfg, mechanism, &fresh)
        .await
        .map_err(|(e, _)| {
            source.refused(&fresh);
            protocol(
                cfg,
                &format!("AUTHENTICATE {}", mechanism.name()),
                format!(
                    "{e} (a freshly fetched {} token was refused too: check the mailbox permissions of the app and the user `{}`)",
                    source.login().config.provider(),
                    cfg.user
                ),
            )
        })
}

/// One `AUTHENTICATE` with `token`.
async fn authenticate<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    mechanism: Mechanism,
    token: &str,
) -> Result<async_imap::Session<T>, (async_imap::error::Error, async_imap::Client<T>)>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let response = match mechanism {
        Mechanism::XOAuth2 => sasl::xoauth2(&cfg.user, token),
        Mechanism::OAuthBearer => sasl::oauthbearer(&cfg.user, &cfg.host, cfg.port, token),
    };
    client
        .authenticate(
            mechanism.name(),
            BearerResponse {
                response: Some(response),
            },
        )
        .await
}

/// Answers the server's first (empty) challenge with the token response, and any later one
/// (the server's error details, RFC 7628 §3.2.2) with an empty line, so the server ends the
/// exchange with its NO.
struct BearerResponse {
    response: Option<String>,
}

impl async_imap::Authenticator for BearerResponse {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

fn protocol(cfg: &ImapConfig, what: &str, e: impl std::fmt::Display) -> ImapError {
    ImapError::Protocol {
        host: cfg.host.clone(),
        message: format!("{what}: {e}"),
    }
}

fn token_error(cfg: &ImapConfig, source: OAuthError) -> ImapError {
    ImapError::Token {
        host: cfg.host.clone(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_come_from_the_greetings_capability_code() {
        let (_, dovecot) = Response::parse(
            b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=oauthbearer] Dovecot ready.\r\n",
        )
        .expect("parses");
        assert_eq!(greeting_mechanisms(&dovecot), ["XOAUTH2", "OAUTHBEARER"]);
        let (_, gmail) =
            Response::parse(b"* OK Gimap ready for requests from 192.0.2.1\r\n").expect("parses");
        assert!(greeting_mechanisms(&gmail).is_empty());
    }

    #[test]
    fn the_authenticator_answers_once_then_empty() {
        use async_imap::Authenticator;
        let mut a = BearerResponse {
            response: Some("user=x\x01auth=Bearer t\x01\x01".into()),
        };
        assert_eq!(a.process(b""), "user=x\x01auth=Bearer t\x01\x01");
        assert_eq!(a.process(br#"{"status":"401"}"#), "");
    }
}
