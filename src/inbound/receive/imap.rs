//! IMAP polling (`[inbound.imap]`), for organisations whose mail lives on Exchange or a hosted
//! service: log in, select the folder, fetch every undeleted message (`BODY.PEEK[]`, so nothing
//! is marked read by fetching), store it, process it, then move it to the processed folder
//! (`UID MOVE`, or `UID COPY` + `\Deleted` + `UID EXPUNGE` on servers without MOVE).
//!
//! **Invariant:** a message leaves the polled folder only after it is stored; if the move fails
//! it is fetched again next time and the store's dedupe (same bytes / same Message-ID) makes that
//! a no-op, so it is never processed twice and never deleted unstored.
//!
//! The API is blocking (it runs its own small tokio runtime): call it from a plain thread or
//! `spawn_blocking`, never from async code directly.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{prepare_bytes, store_intake};
use crate::config::TlsMode;
use crate::inbound::pipeline::{InboundError, Pipeline, Report};
use crate::store::{InboundStatus, Store, StoreError};

pub use crate::config::ImapConfig;

/// Messages taken per poll; the rest wait for the next one.
pub const BATCH: usize = 200;

/// Why a poll failed (messages not yet moved stay in the folder).
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Network or TLS failure.
    #[error("imap {host}: {source}")]
    Io {
        /// Server.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server refused a command (login, select, ...).
    #[error("imap {host}: {message}")]
    Protocol {
        /// Server.
        host: String,
        /// What failed.
        message: String,
    },
    /// The store refused a message.
    #[error("storing a message from imap: {0}")]
    Store(#[from] StoreError),
    /// Processing hit the store.
    #[error(transparent)]
    Pipeline(#[from] InboundError),
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImapReport {
    /// Messages fetched and stored (or found already stored).
    pub stored: usize,
    /// Of those, already stored before.
    pub duplicates: usize,
    /// Messages moved (or flagged) out of the polled folder.
    pub moved: usize,
    /// What processing did.
    pub processed: Report,
}

/// Polls once: fetch, store, process, move. Blocking (see the module doc).
pub fn poll_imap_once(
    cfg: &ImapConfig,
    store: &mut Store,
    pipeline: &Pipeline<'_>,
) -> Result<ImapReport, ImapError> {
    let password = std::fs::read_to_string(&cfg.password_file)
        .map(|p| p.trim_end_matches(['\r', '\n']).to_string())
        .map_err(|source| ImapError::Io {
            host: format!(
                "{} (password file {})",
                cfg.host,
                cfg.password_file.display()
            ),
            source,
        })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ImapError::Io {
            host: cfg.host.clone(),
            source,
        })?;
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(300),
            poll(cfg, &password, store, pipeline),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ImapError::Protocol {
                host: cfg.host.clone(),
                message: "poll timed out after 300 s".into(),
            })
        })
    })
}

async fn poll(
    cfg: &ImapConfig,
    password: &str,
    store: &mut Store,
    pipeline: &Pipeline<'_>,
) -> Result<ImapReport, ImapError> {
    let io = |source: std::io::Error| ImapError::Io {
        host: cfg.host.clone(),
        source,
    };
    let tcp = tokio::time::timeout(
        Duration::from_secs(30),
        TcpStream::connect((cfg.host.as_str(), cfg.port)),
    )
    .await
    .map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    })?
    .map_err(io)?;
    tcp.set_nodelay(true).map_err(io)?;
    match cfg.tls {
        TlsMode::None => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            session(client, cfg, password, store, pipeline).await
        }
        TlsMode::Tls => {
            let tls = tls_connect(cfg, tcp).await?;
            let mut client = async_imap::Client::new(tls);
            greeting(&mut client, cfg).await?;
            session(client, cfg, password, store, pipeline).await
        }
        TlsMode::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client, cfg).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| proto(cfg, "STARTTLS", e))?;
            let tls = tls_connect(cfg, client.into_inner()).await?;
            session(async_imap::Client::new(tls), cfg, password, store, pipeline).await
        }
    }
}

fn proto(cfg: &ImapConfig, what: &str, e: impl std::fmt::Display) -> ImapError {
    ImapError::Protocol {
        host: cfg.host.clone(),
        message: format!("{what}: {e}"),
    }
}

async fn greeting<T>(client: &mut async_imap::Client<T>, cfg: &ImapConfig) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(proto(cfg, "greeting", "connection closed")),
        Err(source) => Err(ImapError::Io {
            host: cfg.host.clone(),
            source,
        }),
    }
}

async fn tls_connect(
    cfg: &ImapConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &cfg.ca_file {
        let pem = std::fs::read(path).map_err(|source| ImapError::Io {
            host: cfg.host.clone(),
            source,
        })?;
        for cert in rustls_pki_certs(&pem) {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| proto(cfg, "tls", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| proto(cfg, "tls server name", e))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|source| ImapError::Io {
            host: cfg.host.clone(),
            source,
        })
}

/// Certificates in a PEM bundle (blocks between BEGIN/END CERTIFICATE lines).
fn rustls_pki_certs(pem: &[u8]) -> Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>> {
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            cur = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b64) = cur.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    out.push(der.into());
                }
            }
        } else if let Some(c) = cur.as_mut() {
            c.push_str(line);
        }
    }
    out
}

async fn session<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    password: &str,
    store: &mut Store,
    pipeline: &Pipeline<'_>,
) -> Result<ImapReport, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut s = client
        .login(&cfg.user, password)
        .await
        .map_err(|(e, _)| proto(cfg, "LOGIN", e))?;
    let caps = s
        .capabilities()
        .await
        .map_err(|e| proto(cfg, "CAPABILITY", e))?;
    let has_move = caps.has_str("MOVE");
    let has_uidplus = caps.has_str("UIDPLUS");
    // Creating an existing folder fails harmlessly.
    let _ = s.create(&cfg.processed_folder).await;
    s.select(&cfg.folder)
        .await
        .map_err(|e| proto(cfg, "SELECT", e))?;
    let mut uids: Vec<u32> = s
        .uid_search("UNDELETED")
        .await
        .map_err(|e| proto(cfg, "UID SEARCH", e))?
        .into_iter()
        .collect();
    uids.sort_unstable();
    uids.truncate(BATCH);
    let mut report = ImapReport::default();
    for uid in uids {
        let fetches: Vec<async_imap::types::Fetch> = s
            .uid_fetch(uid.to_string(), "BODY.PEEK[]")
            .await
            .map_err(|e| proto(cfg, "UID FETCH", e))?
            .try_collect()
            .await
            .map_err(|e| proto(cfg, "UID FETCH", e))?;
        let Some(raw) = fetches.iter().find_map(|f| f.body().map(<[u8]>::to_vec)) else {
            tracing::warn!(uid, "imap: fetch returned no body; left in place");
            continue;
        };
        let intake = prepare_bytes(raw);
        let inserted = store_intake(store, &intake, "imap")?;
        report.stored += 1;
        if inserted.duplicate {
            report.duplicates += 1;
        }
        let queued = store
            .inbound(inserted.id)?
            .is_some_and(|r| r.status == InboundStatus::Queued);
        if queued {
            let outcome = pipeline.process_guarded(store, inserted.id, Utc::now())?;
            report.processed.count(&outcome);
        }
        let moved = if has_move {
            s.uid_mv(uid.to_string(), &cfg.processed_folder)
                .await
                .map_err(|e| proto(cfg, "UID MOVE", e))
        } else {
            move_by_copy(&mut s, uid, cfg, has_uidplus).await
        };
        match moved {
            Ok(()) => report.moved += 1,
            Err(e) => tracing::warn!(
                uid,
                "imap: stored but not moved (fetched again next time): {e}"
            ),
        }
    }
    let _ = s.logout().await;
    Ok(report)
}

async fn move_by_copy<T>(
    s: &mut async_imap::Session<T>,
    uid: u32,
    cfg: &ImapConfig,
    has_uidplus: bool,
) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    s.uid_copy(uid.to_string(), &cfg.processed_folder)
        .await
        .map_err(|e| proto(cfg, "UID COPY", e))?;
    let _: Vec<_> = s
        .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted \\Seen)")
        .await
        .map_err(|e| proto(cfg, "UID STORE", e))?
        .try_collect()
        .await
        .map_err(|e| proto(cfg, "UID STORE", e))?;
    if has_uidplus {
        let _: Vec<_> = s
            .uid_expunge(uid.to_string())
            .await
            .map_err(|e| proto(cfg, "UID EXPUNGE", e))?
            .try_collect()
            .await
            .map_err(|e| proto(cfg, "UID EXPUNGE", e))?;
    }
    // Without UIDPLUS the message stays flagged \Deleted (skipped by UNDELETED) until the
    // server or a client expunges: never deleted before it was copied.
    Ok(())
}
