//! [`Outbound`]: the configured transport, one enum over SMTP, sendmail and Maildir, with the
//! retry loop around any of them.

use std::time::Instant;

use super::error::SendError;
use super::maildir::MaildirOutbound;
use super::retry::RetryPolicy;
use super::sendmail::SendmailOutbound;
use super::smtp::{SmtpOutbound, SmtpSettings};
use crate::config::{MailConfig, TransportConfig};

/// How messages leave. Cheap to clone (the SMTP pool is shared between clones).
#[derive(Debug, Clone)]
pub enum Outbound {
    /// An SMTP relay, over a pool of `mail.concurrency` connections.
    Smtp(SmtpOutbound),
    /// The local sendmail command.
    Sendmail(SendmailOutbound),
    /// A Maildir directory.
    Maildir(MaildirOutbound),
}

impl Outbound {
    /// The transport `[mail.transport]` describes. Opens no connection; creates the Maildir's
    /// folders.
    pub fn from_config(mail: &MailConfig) -> Result<Outbound, SendError> {
        match &mail.transport {
            TransportConfig::Smtp {
                host,
                port,
                tls,
                user,
                password,
                oauth,
                ca_file,
            } => {
                let mut settings = SmtpSettings::new(host.clone(), *port);
                settings.tls = *tls;
                settings.ca_file = ca_file.clone();
                settings.pool_size = mail.concurrency.max(1);
                settings.credentials = match (user, oauth) {
                    (Some(user), Some(oauth)) => Some(crate::mail_login::Credentials::oauth(
                        crate::oauth::OAuthLogin {
                            user: user.clone(),
                            config: oauth.clone(),
                        },
                    )),
                    (user, _) => user.as_ref().map(|u| {
                        crate::mail_login::Credentials::password(
                            u.clone(),
                            password.clone().unwrap_or_default(),
                        )
                    }),
                };
                SmtpOutbound::new(settings).map(Outbound::Smtp)
            }
            TransportConfig::Sendmail { command } => {
                Ok(Outbound::Sendmail(SendmailOutbound::new(command)))
            }
            TransportConfig::Maildir { path } => MaildirOutbound::new(path).map(Outbound::Maildir),
        }
    }

    /// Sends one message once. `envelope_from` empty means the null sender.
    pub async fn send(
        &self,
        envelope_from: &str,
        envelope_to: &str,
        raw: &[u8],
    ) -> Result<(), SendError> {
        match self {
            Outbound::Smtp(t) => t.send(envelope_from, envelope_to, raw).await,
            Outbound::Sendmail(t) => t.send(envelope_from, envelope_to, raw).await,
            Outbound::Maildir(t) => t.send(envelope_from, envelope_to, raw).await,
        }
    }

    /// Sends, retrying transient failures as `policy` allows; a permanent failure returns at
    /// once. The error returned is the last one.
    pub async fn send_with_retry(
        &self,
        envelope_from: &str,
        envelope_to: &str,
        raw: &[u8],
        policy: &RetryPolicy,
    ) -> Result<(), SendError> {
        let start = Instant::now();
        let mut failed = 0u32;
        loop {
            match self.send(envelope_from, envelope_to, raw).await {
                Ok(()) => return Ok(()),
                Err(e @ (SendError::Permanent(_) | SendError::Unusable(_))) => return Err(e),
                Err(e) => {
                    failed += 1;
                    match policy.delay_after(failed, start.elapsed()) {
                        Some(delay) => {
                            tracing::debug!(attempt = failed, ?delay, error = %e, "retrying send");
                            tokio::time::sleep(delay).await;
                        }
                        None => return Err(e),
                    }
                }
            }
        }
    }

    /// Closes pooled connections politely (SMTP QUIT); a no-op for the other transports.
    pub async fn close(&self) {
        if let Outbound::Smtp(t) = self {
            t.close().await;
        }
    }
}
