//! IMAP polling (`[inbound.imap]`), for organisations whose mail lives on Exchange or a hosted
//! service: log in, select the folder, and take the undeleted messages in rounds of up to
//! [`BATCH`] (at most [`MAX_PER_POLL`] a poll, so a backlog drains in one poll), each round in
//! batches of at most 16 MiB (their sizes first, then each batch's bodies in one
//! `UID FETCH … BODY.PEEK[]`, so nothing is marked read by fetching): store each batch in one
//! synced transaction, process it, then move the batch in one command to the processed folder
//! (`UID MOVE`, or `UID COPY` + `\Deleted` + `UID EXPUNGE` on servers without MOVE).
//!
//! **Invariant:** a message leaves the polled folder only after it is stored; if the move fails
//! it is fetched again next time and the store's dedupe (same bytes / same Message-ID) makes that
//! a no-op, so it is never processed twice and never deleted unstored.
//!
//! [`wait_for_mail`] is the IDLE side (`idle = true`): it only waits until the server announces
//! mail, touching nothing, and the poll does the rest.
//!
//! TLS verifies the server's certificate against the system roots and `ca_file`
//! ([`crate::mail_tls`]); the login is [`crate::mail_login`]'s. A refused certificate or login
//! makes the mailbox [`ImapError::Unusable`]: logged once per outage and backed off
//! ([`crate::mail_outage`]), the messages staying in the folder until it works again.
//!
//! The poll is blocking (it runs its own small tokio runtime): call it from a plain thread or
//! `spawn_blocking`, never from async code directly. [`wait_for_mail`] is async.

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::maildir::BATCH_BYTES;
use super::prepare_bytes;
use crate::config::TlsMode;
use crate::inbound::pipeline::{InboundError, Pipeline, Report};
use crate::mail_login::{imap_login, Credentials, LoginError};
use crate::mail_tls::TlsFailure;
use crate::oauth::login::{greeting_mechanisms, ImapServer};
use crate::oauth::OAuthLogin;
use crate::store::{Store, StoreError};

pub use crate::config::ImapConfig;

/// Messages taken per round of a poll (searched, sized, fetched, stored, moved).
pub const BATCH: usize = 200;

/// Most messages one poll takes, in rounds of [`BATCH`]: a backlog drains in one poll instead of
/// one round per poll interval. The rest wait for the next poll.
pub const MAX_PER_POLL: usize = 10 * BATCH;

/// No new round starts after this long in one poll, well inside the poll's 300 s limit (a slow
/// forum makes each round slow).
const ROUNDS_FOR: Duration = Duration::from_secs(120);

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
    /// The server cannot be used until someone acts: its certificate was refused or it refused
    /// the login (logged once per outage; polls back off meanwhile).
    #[error("imap {host}: {reason}")]
    Unusable {
        /// Server.
        host: String,
        /// Why, in words.
        reason: String,
    },
    /// The server refused a command (select, fetch, ...).
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

impl ImapError {
    /// True for [`ImapError::Unusable`].
    pub fn is_unusable(&self) -> bool {
        matches!(self, ImapError::Unusable { .. })
    }

    /// True when the store failed ([`ImapError::Store`], [`ImapError::Pipeline`]).
    pub fn is_store(&self) -> bool {
        matches!(self, ImapError::Store(_) | ImapError::Pipeline(_))
    }
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
    let (credentials, fingerprint) = guarded_credentials(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ImapError::Io {
            host: cfg.host.clone(),
            source,
        })?;
    let result = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(300),
            poll(cfg, &credentials, store, pipeline),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ImapError::Protocol {
                host: cfg.host.clone(),
                message: "poll timed out after 300 s".into(),
            })
        })
    });
    record_outcome(cfg, fingerprint, result)
}

/// This mailbox's key in [`crate::mail_outage`].
fn outage_key(cfg: &ImapConfig) -> String {
    format!("imap {}@{}:{}", cfg.user, cfg.host, cfg.port)
}

/// The credentials, unless the server is in an outage and backing off (then
/// [`ImapError::Unusable`] at once, without connecting).
fn guarded_credentials(cfg: &ImapConfig) -> Result<(Credentials, u64), ImapError> {
    let credentials = credentials(cfg)?;
    let fingerprint = crate::mail_outage::fingerprint(&(cfg.tls, &cfg.ca_file), Some(&credentials));
    if let Some(reason) =
        crate::mail_outage::backing_off(&outage_key(cfg), fingerprint, Instant::now())
    {
        return Err(ImapError::Unusable {
            host: cfg.host.clone(),
            reason,
        });
    }
    Ok((credentials, fingerprint))
}

/// Starts or extends the outage on a refusal, ends it on success.
fn record_outcome<T>(
    cfg: &ImapConfig,
    fingerprint: u64,
    result: Result<T, ImapError>,
) -> Result<T, ImapError> {
    match &result {
        Ok(_) => crate::mail_outage::record_success(&outage_key(cfg)),
        Err(ImapError::Unusable { reason, .. }) => {
            crate::mail_outage::record_refusal(
                &outage_key(cfg),
                fingerprint,
                reason,
                Instant::now(),
            );
        }
        Err(_) => {}
    }
    result
}

/// `check-config --online`: connects (TLS as configured), logs in, selects the folder and logs
/// out, touching no message. Blocking (its own small runtime); ignores any back-off.
pub fn check_login(cfg: &ImapConfig) -> Result<(), ImapError> {
    let credentials = credentials(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ImapError::Io {
            host: cfg.host.clone(),
            source,
        })?;
    rt.block_on(async {
        let check = async {
            match open(cfg).await? {
                Opened::Plain(client, mechs) => {
                    check_session(client, cfg, &credentials, &mechs).await
                }
                Opened::Tls(client, mechs) => {
                    check_session(*client, cfg, &credentials, &mechs).await
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), check)
            .await
            .unwrap_or_else(|_| Err(proto(cfg, "check", "no answer within 60 s")))
    })
}

async fn check_session<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    credentials: &Credentials,
    mechanisms: &[String],
) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut s = login(client, cfg, credentials, mechanisms).await?;
    s.select(&cfg.folder)
        .await
        .map_err(|e| proto(cfg, "SELECT", e))?;
    let _ = s.logout().await;
    Ok(())
}

/// What [`wait_for_mail`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The folder holds mail, or the server announced new mail: poll now.
    Mail,
    /// Nothing came within the wait.
    Quiet,
}

/// Waits with IMAP IDLE (RFC 2177) until the folder has mail or `max_wait` passes: logs in,
/// selects the folder, and answers [`Wake::Mail`] at once when it holds messages; otherwise
/// IDLEs until the server announces a new one (`EXISTS`). Touches no message: the poll that
/// follows stores, processes and moves them. Async (no store involved), for the daemon's
/// runtime.
pub async fn wait_for_mail(cfg: &ImapConfig, max_wait: Duration) -> Result<Wake, ImapError> {
    let (credentials, fingerprint) = guarded_credentials(cfg)?;
    let result = match open(cfg).await {
        Ok(Opened::Plain(client, mechs)) => {
            idle_session(client, cfg, &credentials, &mechs, max_wait).await
        }
        Ok(Opened::Tls(client, mechs)) => {
            idle_session(*client, cfg, &credentials, &mechs, max_wait).await
        }
        Err(e) => Err(e),
    };
    record_outcome(cfg, fingerprint, result)
}

/// The login: an OAuth token source (`oauth`), or the user and the password from
/// `password_file` (first line), read at each connection so it can be rotated without a
/// restart.
fn credentials(cfg: &ImapConfig) -> Result<Credentials, ImapError> {
    if let Some(oauth) = &cfg.oauth {
        return Ok(Credentials::oauth(OAuthLogin {
            user: cfg.user.clone(),
            config: oauth.clone(),
        }));
    }
    let path = cfg.password_file.clone().unwrap_or_default();
    std::fs::read_to_string(&path)
        .map(|p| Credentials::password(&cfg.user, p.lines().next().unwrap_or("")))
        .map_err(|source| ImapError::Io {
            host: format!("{} (password file {})", cfg.host, path.display()),
            source,
        })
}

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// A connection ready for LOGIN (greeting read; TLS or STARTTLS done as configured), with the
/// SASL mechanisms its greeting announced.
enum Opened {
    Plain(async_imap::Client<TcpStream>, Vec<String>),
    Tls(Box<async_imap::Client<TlsStream>>, Vec<String>),
}

async fn open(cfg: &ImapConfig) -> Result<Opened, ImapError> {
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
            let mechs = greeting(&mut client, cfg).await?;
            Ok(Opened::Plain(client, mechs))
        }
        TlsMode::Tls => {
            let tls = tls_connect(cfg, tcp).await?;
            let mut client = async_imap::Client::new(tls);
            let mechs = greeting(&mut client, cfg).await?;
            Ok(Opened::Tls(Box::new(client), mechs))
        }
        TlsMode::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            let mechs = greeting(&mut client, cfg).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| proto(cfg, "STARTTLS", e))?;
            let tls = tls_connect(cfg, client.into_inner()).await?;
            // The mechanisms announced before TLS stand (no new greeting after STARTTLS).
            Ok(Opened::Tls(Box::new(async_imap::Client::new(tls)), mechs))
        }
    }
}

async fn poll(
    cfg: &ImapConfig,
    credentials: &Credentials,
    store: &mut Store,
    pipeline: &Pipeline<'_>,
) -> Result<ImapReport, ImapError> {
    match open(cfg).await? {
        Opened::Plain(client, mechs) => {
            session(client, cfg, credentials, &mechs, store, pipeline).await
        }
        Opened::Tls(client, mechs) => {
            session(*client, cfg, credentials, &mechs, store, pipeline).await
        }
    }
}

/// Logs in ([`crate::mail_login`]); a refused login makes the server unusable for now.
async fn login<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    credentials: &Credentials,
    mechanisms: &[String],
) -> Result<async_imap::Session<T>, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let server = ImapServer {
        host: &cfg.host,
        port: cfg.port,
        mechanisms,
    };
    imap_login(client, credentials, server)
        .await
        .map_err(|e| match e {
            LoginError::Refused { .. } | LoginError::TokenRefused { .. } => ImapError::Unusable {
                host: cfg.host.clone(),
                reason: format!("LOGIN: {e}"),
            },
            LoginError::Failed(_) => proto(cfg, "LOGIN", e),
        })
}

/// One IDLE wait (see [`wait_for_mail`]).
async fn idle_session<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    credentials: &Credentials,
    mechanisms: &[String],
    max_wait: Duration,
) -> Result<Wake, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    use async_imap::extensions::idle::IdleResponse;
    use async_imap::imap_proto::{MailboxDatum, Response};
    let mut s = login(client, cfg, credentials, mechanisms).await?;
    let mailbox = s
        .select(&cfg.folder)
        .await
        .map_err(|e| proto(cfg, "SELECT", e))?;
    if mailbox.exists > 0 {
        let _ = s.logout().await;
        return Ok(Wake::Mail);
    }
    let mut idle = s.idle();
    idle.init().await.map_err(|e| proto(cfg, "IDLE", e))?;
    let deadline = tokio::time::Instant::now() + max_wait;
    let woke = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break Wake::Quiet;
        }
        let (wait, _interrupt) = idle.wait_with_timeout(left);
        // The crate's timeout restarts at every keepalive ("* OK Still here"): bound it here.
        match tokio::time::timeout(left, wait).await {
            Err(_) | Ok(Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt)) => {
                break Wake::Quiet
            }
            Ok(Ok(IdleResponse::NewData(data))) => {
                if matches!(
                    data.parsed(),
                    Response::MailboxData(MailboxDatum::Exists(_) | MailboxDatum::Recent(_))
                ) {
                    break Wake::Mail;
                }
                // Flags, expunges (our own moves): keep waiting.
            }
            Ok(Err(e)) => return Err(proto(cfg, "IDLE", e)),
        }
    };
    if let Ok(mut s) = idle.done().await {
        let _ = s.logout().await;
    }
    Ok(woke)
}

fn proto(cfg: &ImapConfig, what: &str, e: impl std::fmt::Display) -> ImapError {
    ImapError::Protocol {
        host: cfg.host.clone(),
        message: format!("{what}: {e}"),
    }
}

/// Reads the greeting; returns the SASL mechanisms it announces.
async fn greeting<T>(
    client: &mut async_imap::Client<T>,
    cfg: &ImapConfig,
) -> Result<Vec<String>, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    match client.read_response().await {
        Ok(Some(r)) => Ok(greeting_mechanisms(r.parsed())),
        Ok(None) => Err(proto(cfg, "greeting", "connection closed")),
        Err(source) => Err(ImapError::Io {
            host: cfg.host.clone(),
            source,
        }),
    }
}

/// The TLS handshake, verifying the certificate ([`crate::mail_tls`]); a refused certificate
/// makes the server unusable for now.
async fn tls_connect(
    cfg: &ImapConfig,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    use tokio_rustls::rustls;
    let config = crate::mail_tls::client_config(cfg.ca_file.as_deref()).map_err(|e| {
        ImapError::Unusable {
            host: cfg.host.clone(),
            reason: e.to_string(),
        }
    })?;
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| proto(cfg, "tls server name", e))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(
            |source| match crate::mail_tls::describe_failure(&source, &cfg.host) {
                Some(TlsFailure::Certificate(reason)) => ImapError::Unusable {
                    host: cfg.host.clone(),
                    reason: format!("TLS: {reason}"),
                },
                Some(TlsFailure::Other(reason)) => proto(cfg, "TLS", reason),
                None => ImapError::Io {
                    host: cfg.host.clone(),
                    source,
                },
            },
        )
}

async fn session<T>(
    client: async_imap::Client<T>,
    cfg: &ImapConfig,
    credentials: &Credentials,
    mechanisms: &[String],
    store: &mut Store,
    pipeline: &Pipeline<'_>,
) -> Result<ImapReport, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut s = login(client, cfg, credentials, mechanisms).await?;
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
    let mut report = ImapReport::default();
    // Rounds until the folder holds nothing this poll has not taken already (a message that
    // could not be fetched or moved waits for the next poll), or MAX_PER_POLL are taken.
    let mut taken_this_poll: HashSet<u32> = HashSet::new();
    let started = std::time::Instant::now();
    while taken_this_poll.len() < MAX_PER_POLL && started.elapsed() < ROUNDS_FOR {
        let mut uids: Vec<u32> = s
            .uid_search("UNDELETED")
            .await
            .map_err(|e| proto(cfg, "UID SEARCH", e))?
            .into_iter()
            .filter(|uid| !taken_this_poll.contains(uid))
            .collect();
        uids.sort_unstable();
        uids.truncate(BATCH.min(MAX_PER_POLL - taken_this_poll.len()));
        if uids.is_empty() {
            break;
        }
        taken_this_poll.extend(uids.iter().copied());
        // Sizes first, so each batch fetched in one command holds at most BATCH_BYTES (or one
        // message, when that alone is larger).
        let sizes: Vec<(u32, usize)> = fetch_all(&mut s, cfg, &uids, "(UID RFC822.SIZE)")
            .await?
            .iter()
            .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0) as usize)))
            .collect();
        for batch in size_bounded(&uids, &sizes, BATCH_BYTES) {
            let fetched: Vec<(u32, Vec<u8>)> = fetch_all(&mut s, cfg, &batch, "(UID BODY.PEEK[])")
                .await?
                .iter()
                .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                .collect();
            for uid in batch
                .iter()
                .filter(|u| !fetched.iter().any(|(f, _)| f == *u))
            {
                tracing::warn!(uid, "imap: fetch returned no body; left in place");
            }
            if fetched.is_empty() {
                continue;
            }
            let (taken, intakes): (Vec<u32>, Vec<_>) = fetched
                .into_iter()
                .map(|(uid, raw)| (uid, prepare_bytes(raw)))
                .unzip();
            // One transaction (one fsync) stores the batch before anything else happens; a
            // failure leaves it all in the folder, and the next poll finds what was stored.
            let done = pipeline.receive_batch(store, intakes, "imap", Utc::now())?;
            for (inserted, outcome) in &done {
                report.stored += 1;
                if inserted.duplicate {
                    report.duplicates += 1;
                }
                report.processed.count(outcome);
            }
            // The whole batch in one command: a failure leaves it all in the folder, fetched again
            // next time and found stored.
            let set = uid_set(&taken);
            let moved = if has_move {
                s.uid_mv(&set, &cfg.processed_folder)
                    .await
                    .map_err(|e| proto(cfg, "UID MOVE", e))
            } else {
                move_by_copy(&mut s, &set, cfg, has_uidplus).await
            };
            match moved {
                Ok(()) => report.moved += taken.len(),
                Err(e) => tracing::warn!(
                    uids = %set,
                    "imap: stored but not moved (fetched again next time): {e}"
                ),
            }
        }
    }
    let _ = s.logout().await;
    Ok(report)
}

/// `UID FETCH` of `uids` (one command) for `items`: every response.
async fn fetch_all<T>(
    s: &mut async_imap::Session<T>,
    cfg: &ImapConfig,
    uids: &[u32],
    items: &str,
) -> Result<Vec<async_imap::types::Fetch>, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let set = uid_set(uids);
    s.uid_fetch(set, items)
        .await
        .map_err(|e| proto(cfg, "UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| proto(cfg, "UID FETCH", e))
}

/// A UID set for a command: `1,5,9`.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `uids` in order, cut into batches whose `sizes` add up to at most `max_bytes` (a message
/// larger than that alone makes a batch of one; a UID without a known size counts as 0).
fn size_bounded(uids: &[u32], sizes: &[(u32, usize)], max_bytes: usize) -> Vec<Vec<u32>> {
    let size_of = |uid: u32| {
        sizes
            .iter()
            .find_map(|&(u, size)| (u == uid).then_some(size))
            .unwrap_or(0)
    };
    let mut batches: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0usize;
    for &uid in uids {
        let size = size_of(uid);
        match batches.last_mut() {
            Some(batch) if bytes + size <= max_bytes => {
                batch.push(uid);
                bytes += size;
            }
            _ => {
                batches.push(vec![uid]);
                bytes = size;
            }
        }
    }
    batches
}

/// Moves the messages of the UID set `uids` without MOVE: `UID COPY`, then `\Deleted`, then
/// `UID EXPUNGE` of just them when the server has UIDPLUS.
async fn move_by_copy<T>(
    s: &mut async_imap::Session<T>,
    uids: &str,
    cfg: &ImapConfig,
    has_uidplus: bool,
) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    s.uid_copy(uids, &cfg.processed_folder)
        .await
        .map_err(|e| proto(cfg, "UID COPY", e))?;
    let _: Vec<_> = s
        .uid_store(uids, "+FLAGS.SILENT (\\Deleted \\Seen)")
        .await
        .map_err(|e| proto(cfg, "UID STORE", e))?
        .try_collect()
        .await
        .map_err(|e| proto(cfg, "UID STORE", e))?;
    if has_uidplus {
        let _: Vec<_> = s
            .uid_expunge(uids)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_comma_separated() {
        assert_eq!(uid_set(&[3]), "3");
        assert_eq!(uid_set(&[1, 5, 9]), "1,5,9");
    }

    #[test]
    fn batches_hold_at_most_the_byte_cap_and_a_large_message_goes_alone() {
        let uids = [1, 2, 3, 4, 5];
        let sizes = [(1, 40), (2, 50), (3, 200), (4, 10), (5, 10)];
        assert_eq!(
            size_bounded(&uids, &sizes, 100),
            vec![vec![1, 2], vec![3], vec![4, 5]]
        );
        // Unknown sizes count as nothing; order is kept.
        assert_eq!(size_bounded(&[7, 8], &[], 100), vec![vec![7, 8]]);
        assert!(size_bounded(&[], &sizes, 100).is_empty());
    }
}
