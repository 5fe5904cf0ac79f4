//! SMTP through lettre, over a small pool of connections whose sockets have `TCP_NODELAY`.
//!
//! Why not lettre's own pooled `AsyncSmtpTransport`: it never sets `TCP_NODELAY`, so every
//! pooled connection stalls about 40 ms per message on delayed ACKs (measured: 455 msgs/s
//! against 13,000/s for Postfix's smtp-source). Here the `tokio::net::TcpStream` is opened by us,
//! `set_nodelay(true)`, and handed to [`AsyncSmtpConnection::connect_with_transport`]; lettre
//! still speaks all of SMTP (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing).
//!
//! The pool: at most `pool_size` connections in use at once (a semaphore); a finished
//! connection goes back to an idle list and is reused; one idle for a while is checked with
//! NOOP before reuse, one idle too long is closed. Any error that breaks a connection (lettre
//! aborts the session on every refused command) drops it, so one bad recipient never poisons
//! the next message. [`SmtpOutbound::close`] (or dropping the last handle inside a tokio
//! runtime) says QUIT on the idle connections.
//!
//! AUTH: [`crate::mail_login`] (PLAIN/LOGIN with a password, XOAUTH2 with an OAuth token). A
//! refused OAuth token is dropped from the cache and one more connection opened with a fresh
//! token; a second refusal is a refused login.
//!
//! TLS: STARTTLS goes through lettre (its rustls, with the system roots and the `ca_file`);
//! implicit TLS is our own rustls handshake ([`crate::mail_tls`], same roots) on our no-delay
//! socket, handed to lettre as its transport. Certificates are always verified.
//!
//! Error classes: only a refusal inside the mail transaction (MAIL/RCPT/DATA answered 5xx, or an
//! address lettre cannot send) is [`SendError::Permanent`]. A relay whose certificate is refused
//! or which refuses the login ([`crate::mail_login`]) is [`SendError::Unusable`]: logged once
//! per outage and backed off ([`crate::mail_outage`]), sends failing fast meanwhile. Everything
//! else about reaching the relay (connect, greeting, EHLO, timeouts) is
//! [`SendError::Transient`]: it is never the recipient's fault, and the message should wait for
//! the relay or the config to be fixed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::PathBuf;

use lettre::address::Envelope;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::error::{from_smtp, SendError};
use crate::config::TlsMode;
use crate::mail_login::{smtp_authenticate, Credentials, LoginError};
use crate::mail_tls::TlsFailure;

/// Where and how to reach an SMTP relay, and the pool's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Relay host name or address.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// TLS mode.
    pub tls: TlsMode,
    /// How to log in, when the relay needs AUTH.
    pub credentials: Option<Credentials>,
    /// Extra PEM CA bundle trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Connections in use at once (at least 1).
    pub pool_size: usize,
    /// Limit on opening a connection (TCP connect, greeting, EHLO, TLS, AUTH).
    pub connect_timeout: Duration,
    /// Limit on one message's transaction (MAIL to the reply after the final dot).
    pub send_timeout: Duration,
    /// An idle connection older than this is checked with NOOP before reuse.
    pub check_idle_after: Duration,
    /// An idle connection older than this is closed instead of reused.
    pub max_idle: Duration,
}

impl SmtpSettings {
    /// Settings for `host:port` with the defaults: no TLS, no AUTH, 4 connections, 30 s to
    /// connect, 5 min per message (RFC 5321's DATA-termination wait is 10 min), NOOP after 5 s
    /// idle, close after 60 s idle.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        SmtpSettings {
            host: host.into(),
            port,
            tls: TlsMode::None,
            credentials: None,
            ca_file: None,
            pool_size: 4,
            connect_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(300),
            check_idle_after: Duration::from_secs(5),
            max_idle: Duration::from_secs(60),
        }
    }
}

/// A pooled SMTP transport. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SmtpOutbound {
    inner: Arc<Inner>,
}

struct Inner {
    settings: SmtpSettings,
    /// For STARTTLS (lettre's handshake).
    tls: Option<TlsParameters>,
    /// For implicit TLS (our handshake).
    tls_config: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    /// This relay's key in [`crate::mail_outage`], and the fingerprint of its settings.
    outage_key: String,
    fingerprint: u64,
    hello: ClientId,
    idle: Mutex<Vec<Idle>>,
    permits: Semaphore,
}

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

impl std::fmt::Debug for SmtpOutbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpOutbound")
            .field("host", &self.inner.settings.host)
            .field("port", &self.inner.settings.port)
            .field("tls", &self.inner.settings.tls)
            .field("pool_size", &self.inner.settings.pool_size)
            .finish_non_exhaustive()
    }
}

impl SmtpOutbound {
    /// A transport for `settings`. Opens nothing yet; fails only when the TLS parameters
    /// cannot be built (bad host name for certificate checks, an unreadable `ca_file`).
    pub fn new(settings: SmtpSettings) -> Result<Self, SendError> {
        let setup = |e: &dyn std::fmt::Display| {
            SendError::Permanent(format!("TLS setup for {}: {e}", settings.host))
        };
        let (tls, tls_config) = match settings.tls {
            TlsMode::None => (None, None),
            TlsMode::Starttls | TlsMode::Tls => {
                let mut builder = TlsParameters::builder(settings.host.clone());
                if let Some(path) = &settings.ca_file {
                    for der in crate::mail_tls::read_ca_file(path).map_err(|e| setup(&e))? {
                        let cert = Certificate::from_der(der.to_vec()).map_err(|e| setup(&e))?;
                        builder = builder.add_root_certificate(cert);
                    }
                }
                let params = builder.build_rustls().map_err(|e| setup(&e))?;
                let config = crate::mail_tls::client_config(settings.ca_file.as_deref())
                    .map_err(|e| setup(&e))?;
                (Some(params), Some(config))
            }
        };
        let outage_key = format!(
            "smtp {}{}:{}",
            settings
                .credentials
                .as_ref()
                .map(|c| format!("{}@", c.user()))
                .unwrap_or_default(),
            settings.host,
            settings.port
        );
        let fingerprint = crate::mail_outage::fingerprint(
            &(settings.tls, &settings.ca_file),
            settings.credentials.as_ref(),
        );
        let pool_size = settings.pool_size.max(1);
        Ok(SmtpOutbound {
            inner: Arc::new(Inner {
                settings,
                tls,
                tls_config,
                outage_key,
                fingerprint,
                hello: ClientId::default(),
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(pool_size),
            }),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &SmtpSettings {
        &self.inner.settings
    }

    /// Connections currently idle in the pool.
    pub fn idle_connections(&self) -> usize {
        self.inner.lock_idle().len()
    }

    /// Sends `raw` from `envelope_from` (empty: the null sender) to `envelope_to`, over a pooled
    /// connection.
    pub async fn send(
        &self,
        envelope_from: &str,
        envelope_to: &str,
        raw: &[u8],
    ) -> Result<(), SendError> {
        let envelope = envelope(envelope_from, envelope_to)?;
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| SendError::Transient("SMTP transport closed".into()))?;
        let mut conn = self.checkout().await?;
        match tokio::time::timeout(self.inner.settings.send_timeout, conn.send(&envelope, raw))
            .await
        {
            Ok(Ok(_response)) => {
                self.checkin(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                if !conn.has_broken() {
                    self.checkin(conn);
                }
                Err(from_smtp(&e))
            }
            Err(_elapsed) => Err(SendError::Transient(format!(
                "no answer from {}:{} within {:?}",
                self.inner.settings.host,
                self.inner.settings.port,
                self.inner.settings.send_timeout
            ))),
        }
    }

    /// `check-config --online`: opens one session (TCP, TLS as configured, EHLO, AUTH), says
    /// QUIT, and reports what failed in words: the relay unreachable, its certificate refused,
    /// the login refused. Ignores any back-off; records nothing.
    pub async fn check_login(&self) -> Result<(), SendError> {
        let s = &self.inner.settings;
        let relay = format!("{}:{}", s.host, s.port);
        match tokio::time::timeout(s.connect_timeout, self.connect_session()).await {
            Ok(Ok(mut conn)) => {
                let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
                Ok(())
            }
            Ok(Err(ConnectFailure::Refused(e) | ConnectFailure::TokenRefused(e))) => {
                Err(SendError::Unusable(format!("{relay}: {e}")))
            }
            Ok(Err(ConnectFailure::Other(e))) => Err(SendError::Transient(format!("{relay}: {e}"))),
            Err(_) => Err(SendError::Transient(format!(
                "{relay}: unreachable (no connection within {:?})",
                s.connect_timeout
            ))),
        }
    }

    /// Refuses further sends and says QUIT on every idle connection. Sends in flight finish;
    /// their connections are closed when the last handle is dropped.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle: Vec<Idle> = std::mem::take(&mut *self.inner.lock_idle());
        for mut i in idle {
            let _ = tokio::time::timeout(Duration::from_secs(5), i.conn.quit()).await;
        }
    }

    /// An idle connection that is still healthy, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.inner.settings;
        loop {
            let idle = self.inner.lock_idle().pop();
            let Some(Idle { mut conn, since }) = idle else {
                return self.connect().await;
            };
            let age = since.elapsed();
            if age > s.max_idle {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.quit()).await;
                });
                continue;
            }
            if age > s.check_idle_after {
                let alive = tokio::time::timeout(s.connect_timeout, conn.test_connected())
                    .await
                    .unwrap_or(false);
                if !alive {
                    continue;
                }
            }
            return Ok(conn);
        }
    }

    fn checkin(&self, conn: AsyncSmtpConnection) {
        if !self.inner.permits.is_closed() {
            self.inner.lock_idle().push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// A new session, unless the relay is in an outage and backing off (then fails fast).
    /// A refused certificate or login starts or extends the outage; success ends it.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.inner.settings;
        let relay = format!("{}:{}", s.host, s.port);
        let key = &self.inner.outage_key;
        let fingerprint = self.inner.fingerprint;
        if let Some(reason) = crate::mail_outage::backing_off(key, fingerprint, Instant::now()) {
            return Err(SendError::Unusable(format!("{relay}: {reason}")));
        }
        match tokio::time::timeout(s.connect_timeout, self.connect_session()).await {
            Ok(Ok(conn)) => {
                crate::mail_outage::record_success(key);
                Ok(conn)
            }
            Ok(Err(ConnectFailure::Refused(e) | ConnectFailure::TokenRefused(e))) => {
                let reason = format!("{relay}: {e}");
                crate::mail_outage::record_refusal(key, fingerprint, &reason, Instant::now());
                Err(SendError::Unusable(reason))
            }
            Ok(Err(ConnectFailure::Other(e))) => Err(SendError::Transient(format!("{relay}: {e}"))),
            Err(_) => Err(SendError::Transient(format!(
                "{relay}: no connection within {:?}",
                s.connect_timeout
            ))),
        }
    }

    /// [`Self::connect_inner`], once more when the relay refused an OAuth token (dropped from
    /// the cache, so the second try has a fresh one); a second refusal is a refused login.
    async fn connect_session(&self) -> Result<AsyncSmtpConnection, ConnectFailure> {
        match self.connect_inner().await {
            Err(ConnectFailure::TokenRefused(e)) => {
                let s = &self.inner.settings;
                tracing::info!(relay = %format!("{}:{}", s.host, s.port), "smtp: {e}; fetching a new token");
                self.connect_inner().await.map_err(|e| match e {
                    ConnectFailure::TokenRefused(e) => ConnectFailure::Refused(format!(
                        "{e} (a freshly fetched token was refused too: check the app's SMTP permission and the sending mailbox)"
                    )),
                    other => other,
                })
            }
            other => other,
        }
    }

    /// Opens a session: TCP (no delay), TLS as configured, greeting and EHLO, AUTH.
    async fn connect_inner(&self) -> Result<AsyncSmtpConnection, ConnectFailure> {
        let inner = &self.inner;
        let s = &inner.settings;
        let host = s.host.as_str();
        let tcp = TcpStream::connect((host, s.port))
            .await
            .map_err(|e| ConnectFailure::Other(format!("connect: {e}")))?;
        tcp.set_nodelay(true)
            .map_err(|e| ConnectFailure::Other(format!("TCP_NODELAY: {e}")))?;
        let mut conn = match (&inner.tls_config, s.tls) {
            (Some(config), TlsMode::Tls) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(s.host.clone())
                    .map_err(|e| ConnectFailure::Refused(format!("TLS server name: {e}")))?;
                let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| tls_failure(&e, host))?;
                AsyncSmtpConnection::connect_with_transport(
                    Box::new(TlsTransport(stream)),
                    &inner.hello,
                )
                .await
                .map_err(|e| ConnectFailure::Other(format!("greeting/EHLO: {e}")))?
            }
            _ => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &inner.hello)
                        .await
                        .map_err(|e| ConnectFailure::Other(format!("greeting/EHLO: {e}")))?;
                if let (Some(params), TlsMode::Starttls) = (&inner.tls, s.tls) {
                    if !conn.can_starttls() {
                        conn.abort().await;
                        return Err(ConnectFailure::Refused(
                            "the relay does not offer STARTTLS".into(),
                        ));
                    }
                    conn.starttls(params.clone(), &inner.hello)
                        .await
                        .map_err(|e| tls_failure(&e, host))?;
                }
                conn
            }
        };
        if let Some(credentials) = &s.credentials {
            if let Err(e) = smtp_authenticate(&mut conn, credentials).await {
                conn.abort().await;
                return Err(match e {
                    LoginError::Refused { .. } => ConnectFailure::Refused(format!("AUTH: {e}")),
                    LoginError::TokenRefused { .. } => {
                        ConnectFailure::TokenRefused(format!("AUTH: {e}"))
                    }
                    LoginError::Failed(_) => ConnectFailure::Other(format!("AUTH: {e}")),
                });
            }
        }
        Ok(conn)
    }
}

/// Our implicit-TLS stream as lettre's transport (lettre's trait is for any such stream).
#[derive(Debug)]
struct TlsTransport(tokio_rustls::client::TlsStream<TcpStream>);

impl lettre::transport::smtp::client::AsyncTokioStream for TlsTransport {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsTransport {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsTransport {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Why opening a session failed.
enum ConnectFailure {
    /// The relay cannot be used until someone acts (certificate or login refused).
    Refused(String),
    /// The relay refused an OAuth token (dropped from the cache): worth one more connection.
    TokenRefused(String),
    /// Anything else (network, greeting, a TLS hiccup): try again later.
    Other(String),
}

/// A failed TLS handshake in words: a refused certificate makes the relay unusable.
fn tls_failure(e: &(dyn std::error::Error + 'static), host: &str) -> ConnectFailure {
    match crate::mail_tls::describe_failure(e, host) {
        Some(TlsFailure::Certificate(words)) => ConnectFailure::Refused(format!("TLS: {words}")),
        Some(TlsFailure::Other(words)) => ConnectFailure::Other(format!("TLS: {words}")),
        None => ConnectFailure::Other(format!("TLS with {host}: {e}")),
    }
}

impl Inner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        if idle.is_empty() {
            return;
        }
        // Best effort: say QUIT if a runtime is still there; otherwise the sockets just close.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                for mut i in idle {
                    let _ = tokio::time::timeout(Duration::from_secs(5), i.conn.quit()).await;
                }
            });
        }
    }
}

/// The SMTP envelope; an empty sender is the null sender `<>`. Bad addresses are permanent.
pub(crate) fn envelope(from: &str, to: &str) -> Result<Envelope, SendError> {
    let from = match from.trim() {
        "" | "<>" => None,
        f => Some(
            f.parse::<Address>()
                .map_err(|e| SendError::Permanent(format!("envelope sender {f:?}: {e}")))?,
        ),
    };
    let to_addr = to
        .trim()
        .parse::<Address>()
        .map_err(|e| SendError::Permanent(format!("envelope recipient {to:?}: {e}")))?;
    Envelope::new(from, vec![to_addr]).map_err(|e| SendError::Permanent(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_accepts_null_sender_and_refuses_bad_addresses() {
        assert!(envelope("", "a@example.org").is_ok());
        assert!(envelope("<>", "a@example.org").is_ok());
        assert!(matches!(
            envelope("x@example.org", "not an address"),
            Err(SendError::Permanent(_))
        ));
        assert!(matches!(
            envelope("bad\r\n@x", "a@example.org"),
            Err(SendError::Permanent(_))
        ));
    }

    #[tokio::test]
    async fn refused_connection_is_transient() {
        // Bind then drop a listener: the port is (almost certainly) closed now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let smtp = SmtpOutbound::new(SmtpSettings::new("127.0.0.1", port)).expect("builds");
        let err = smtp
            .send("a@example.org", "b@example.org", b"Subject: x\r\n\r\nx\r\n")
            .await
            .expect_err("nothing listens");
        assert!(err.is_transient(), "{err}");
    }
}
