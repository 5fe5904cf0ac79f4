//! Presenting an OAuth access token to a mail server, for [`crate::mail_login`]'s OAuth arm:
//! SMTP `AUTH XOAUTH2` (lettre) and IMAP `AUTHENTICATE XOAUTH2`, or `OAUTHBEARER` when the
//! server offers only that (async-imap with [`BearerResponse`]).
//!
//! The token comes from the process's shared [`TokenSource`] (cached). A token the server
//! refuses is dropped from the cache: IMAP then fetches a fresh one and tries once more on the
//! same connection, and a second refusal is [`LoginError::Refused`]; SMTP reports
//! [`LoginError::TokenRefused`] and the relay's pool opens one more connection (lettre cannot
//! answer the server's error challenge and go on). A token source that cannot give a token
//! is `Refused` when an admin must act (secret revoked, key file wrong) and `Failed`
//! (retried later) when the endpoint is unreachable.

use std::fmt::Debug;
use std::sync::Arc;

use async_imap::imap_proto::{Capability, Response, ResponseCode};
use lettre::transport::smtp::authentication::{
    Credentials as LettreCredentials, Mechanism as SmtpMechanism,
};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use tokio::io::{AsyncRead, AsyncWrite};

use super::sasl::{self, Mechanism};
use super::{OAuthLogin, TokenSource};
use crate::mail_login::LoginError;

/// Where an IMAP login goes: the server (OAUTHBEARER names it) and the SASL mechanisms its
/// greeting announced.
#[derive(Debug, Clone, Copy)]
pub struct ImapServer<'a> {
    /// Host name.
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// `AUTH=` capabilities of the greeting, upper case (empty: none announced).
    pub mechanisms: &'a [String],
}

/// A (cached) token for `source`, fetched on a blocking thread when needed.
async fn token(source: &Arc<TokenSource>) -> Result<String, LoginError> {
    let s = Arc::clone(source);
    let user = source.login().user.clone();
    match tokio::task::spawn_blocking(move || s.token()).await {
        Ok(Ok(token)) => Ok(token),
        Ok(Err(e)) if e.needs_admin() => Err(LoginError::Refused {
            user,
            reason: e.to_string(),
        }),
        Ok(Err(e)) => Err(LoginError::Failed(e.to_string())),
        Err(e) => Err(LoginError::Failed(format!("oauth token fetch: {e}"))),
    }
}

/// SMTP `AUTH XOAUTH2` as `login.user`.
pub async fn smtp_xoauth2(
    conn: &mut AsyncSmtpConnection,
    login: &OAuthLogin,
) -> Result<(), LoginError> {
    let source = TokenSource::shared(login);
    let token = token(&source).await?;
    let creds = LettreCredentials::new(login.user.clone(), token.clone());
    match conn.auth(&[SmtpMechanism::Xoauth2], &creds).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() || e.is_client() => {
            source.refused(&token);
            Err(LoginError::TokenRefused {
                user: login.user.clone(),
                reason: format!("XOAUTH2: {e}"),
            })
        }
        Err(e) => Err(LoginError::Failed(e.to_string())),
    }
}

/// IMAP `AUTHENTICATE` as `login.user`, once more with a fresh token if the first is refused.
pub async fn imap<T>(
    client: async_imap::Client<T>,
    login: &OAuthLogin,
    server: ImapServer<'_>,
) -> Result<async_imap::Session<T>, LoginError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let source = TokenSource::shared(login);
    let mechanism = Mechanism::choose(server.mechanisms.iter().map(String::as_str));
    let first = token(&source).await?;
    let client = match authenticate(client, login, server, mechanism, &first).await {
        Ok(session) => return Ok(session),
        Err((async_imap::error::Error::No(reason), client)) => {
            tracing::info!(
                host = %server.host,
                "imap: {} refused the token ({reason}); fetching a new one",
                mechanism.name()
            );
            source.refused(&first);
            client
        }
        Err((other, _)) => {
            return Err(LoginError::Failed(format!("{}: {other}", mechanism.name())))
        }
    };
    let fresh = token(&source).await?;
    match authenticate(client, login, server, mechanism, &fresh).await {
        Ok(session) => Ok(session),
        Err((async_imap::error::Error::No(reason), _)) => {
            source.refused(&fresh);
            Err(LoginError::Refused {
                user: login.user.clone(),
                reason: format!(
                    "AUTHENTICATE {}: {reason} (a freshly fetched {} token was refused too: check the app's mailbox permissions)",
                    mechanism.name(),
                    login.config.provider(),
                ),
            })
        }
        Err((other, _)) => Err(LoginError::Failed(format!("{}: {other}", mechanism.name()))),
    }
}

/// One `AUTHENTICATE` with `token`.
async fn authenticate<T>(
    client: async_imap::Client<T>,
    login: &OAuthLogin,
    server: ImapServer<'_>,
    mechanism: Mechanism,
    token: &str,
) -> Result<async_imap::Session<T>, (async_imap::error::Error, async_imap::Client<T>)>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let response = match mechanism {
        Mechanism::XOAuth2 => sasl::xoauth2(&login.user, token),
        Mechanism::OAuthBearer => sasl::oauthbearer(&login.user, server.host, server.port, token),
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
pub struct BearerResponse {
    response: Option<String>,
}

impl async_imap::Authenticator for BearerResponse {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

/// The SASL mechanisms (`AUTH=…`) an IMAP greeting announces, upper case; empty when it lists
/// none (Gmail, Exchange Online: XOAUTH2 is then used, which both offer).
pub fn greeting_mechanisms(greeting: &Response<'_>) -> Vec<String> {
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
