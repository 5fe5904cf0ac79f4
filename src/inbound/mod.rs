//! Inbound replies: receive (stdin | maildir | imap) → classify → trim → authorise → post.
//!
//! The pure steps ([`address`], [`classify`], [`authorise`], [`commands`], [`body`], [`trim`])
//! take values and return values; [`pipeline`] drives them against the store, the forum and the
//! answer transport; [`receive`] holds the edges (stdin for the MTA pipe, Maildir, IMAP);
//! [`wiring`] builds the forum and answer transport a config describes; [`cadence`] says when
//! the daemon drains the Maildir and when it polls IMAP.
//!
//! **Invariant:** an inbound message is stored (raw bytes, Message-ID, SHA-256) before anything
//! else happens, and leaves the queue only as posted, answered or ignored with a reason.
//! **Invariant:** mail without a token never acts on its From alone: a new thread or a command
//! needs a trusted server's aligned pass ([`auth_results`]) or the sender's confirmation
//! ([`confirm`]).

pub mod address;
pub mod answer;
pub mod auth_results;
pub mod authorise;
pub mod body;
pub mod cadence;
pub mod classify;
pub mod commands;
pub mod confirm;
pub mod pipeline;
pub mod raw_headers;
pub mod receive;
pub mod shared_slots;
pub mod trim;
pub mod wiring;

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::forum::Forum;
use crate::store::Store;
use cadence::{Cadence, Due};
pub use pipeline::{AnswerSink, Outcome, Pipeline, Report};

/// `digestd receive`: reads one message on stdin; returns a sysexits code (0, 65, 75). Never panics.
/// `now` stands in for the clock when given (`digestd receive --now`).
pub fn receive_stdin_exit_code(config_path: &Path, now: Option<DateTime<Utc>>) -> i32 {
    receive::stdin::receive_stdin_exit_code(config_path, now)
}

/// Processes the stored message `id` with the forum and answer transport `config` describes,
/// at `now`.
pub fn process_stored(
    config: &Config,
    store: &mut Store,
    id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let forum = wiring::open_forum(config)?;
    let answers = wiring::OutboundAnswers::from_config(config)?;
    let answerer = answer::Answerer::new(Some(&config.templates_dir));
    let digest_now = |email: &str| send_digest_now(config, email);
    let pipeline =
        Pipeline::new(config, forum.as_ref(), &answers, &answerer).with_digest_now(&digest_now);
    Ok(pipeline.process_guarded(store, id, now)?)
}

/// `digest now` by email: the person's digest, sent now through the normal cycle (ledger and
/// all), so a second `digest now` in the same period sends nothing twice.
fn send_digest_now(config: &Config, email: &str) -> Result<(), String> {
    crate::delivery_run::send_now(config, None, Some(email))
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// What one [`run_inbound_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundRunReport {
    /// Taken from the Maildir, if one is configured.
    pub maildir: Option<receive::maildir::MaildirReport>,
    /// Polled from IMAP, if configured.
    pub imap: Option<receive::imap::ImapReport>,
    /// Retries of queued messages (forum failures, earlier crashes).
    pub retried: Report,
    /// Problems met (the run goes on past each).
    pub errors: Vec<String>,
    /// Servers that cannot be used until someone acts (certificate or login refused): logged
    /// once per outage where it began (see [`crate::mail_outage`]), so not again each round.
    pub unusable: Vec<String>,
    /// True when one of `errors` came from the store: the daemon's loop opens it again for
    /// the next round rather than keep it.
    pub store_failed: bool,
}

/// One round of inbound work for the daemon: drain the configured Maildir, poll the configured
/// IMAP mailbox (blocking; see [`receive::imap`]), then retry every
/// queued message whose time has come (stdin deliveries the forum refused for now, crashes).
/// Blocking; the daemon calls it on a timer from `spawn_blocking`.
pub fn run_inbound_once(
    config: &Config,
    store: &mut Store,
    forum: &dyn Forum,
    answers: &dyn AnswerSink,
) -> InboundRunReport {
    run_inbound_round(config, store, forum, answers, Due::ALL)
}

/// [`run_inbound_once`] doing only what is `due`: the Maildir and the retries (`due.local`),
/// the IMAP folder (`due.imap`).
pub fn run_inbound_round(
    config: &Config,
    store: &mut Store,
    forum: &dyn Forum,
    answers: &dyn AnswerSink,
    due: Due,
) -> InboundRunReport {
    let answerer = answer::Answerer::new(Some(&config.templates_dir));
    let digest_now = |email: &str| send_digest_now(config, email);
    let pipeline = Pipeline::new(config, forum, answers, &answerer).with_digest_now(&digest_now);
    let mut report = InboundRunReport::default();
    if let Some(dir) = config.inbound.maildir.as_ref().filter(|_| due.local) {
        match receive::maildir::drain_maildir(dir, store, &pipeline, 10_000) {
            Ok(r) => report.maildir = Some(r),
            Err(e) => {
                report.store_failed |= !matches!(e, receive::maildir::MaildirError::Io { .. });
                report.errors.push(e.to_string())
            }
        }
    }
    if let Some(imap) = config.inbound.imap.as_ref().filter(|_| due.imap) {
        match receive::imap::poll_imap_once(imap, store, &pipeline) {
            Ok(r) => report.imap = Some(r),
            Err(e) if e.is_unusable() => report.unusable.push(e.to_string()),
            Err(e) => {
                report.store_failed |= e.is_store();
                report.errors.push(e.to_string())
            }
        }
    }
    if due.local {
        match pipeline.process_queued(store, Utc::now(), 10_000) {
            Ok(r) => report.retried = r,
            Err(e) => {
                report.store_failed = true;
                report.errors.push(e.to_string())
            }
        }
    }
    report.count_in_metrics();
    report
}

impl InboundRunReport {
    /// Everything processed this round, from every source.
    pub fn processed(&self) -> Report {
        let mut all = self.retried;
        if let Some(m) = &self.maildir {
            all.add(m.processed);
        }
        if let Some(i) = &self.imap {
            all.add(i.processed);
        }
        all
    }

    /// Adds this round's outcomes to `digestd_inbound_messages_total{outcome=…}`.
    fn count_in_metrics(&self) {
        let all = self.processed();
        let m = &crate::metrics::METRICS;
        m.inbound_n("posted", all.posted as u64);
        m.inbound_n("answered", all.answered as u64);
        m.inbound_n("ignored", all.ignored as u64);
        m.inbound_n("deferred", all.deferred as u64);
    }
}

/// The daemon's inbound loop: the Maildir and the retries every `every`, the IMAP folder every
/// `[inbound.imap] poll_seconds` (see [`cadence`]), and, with `idle = true`, as soon as the
/// server announces new mail ([`idle_waiter`]). Each round runs on a blocking thread, until
/// `stop` turns true. Errors are logged; the loop goes on.
///
/// The store and the forums stay open from round to round (opening a store costs a
/// connection pool and a migration check under the store's write lock, on PostgreSQL every
/// second per worker, and the built-in forum opens one too): they are opened again, for the
/// next round, only after a round whose store failed, that found a forum not open, or that
/// panicked ([`RoundStore`]), so that a failure never wedges the loop. The answer transport
/// is fresh each round.
pub async fn watch_inbound(
    config: std::sync::Arc<Config>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let imap_every = config
        .inbound
        .imap
        .as_ref()
        .map(|i| std::time::Duration::from_secs(i.poll_seconds));
    let mut cadence = Cadence::new(every, imap_every, tokio::time::Instant::now().into_std());
    let (imap_rounds, imap_rounds_rx) = tokio::sync::watch::channel(0u64);
    let (mut wakes, waiter) = match config.inbound.imap.as_ref().filter(|i| i.idle) {
        Some(imap) => {
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let task = tokio::spawn(idle_waiter(imap.clone(), tx, imap_rounds_rx));
            (Some(rx), Some(AbortOnDrop(task)))
        }
        None => (None, None),
    };
    let _waiter = waiter;
    let mut kept = RoundStore::default();
    loop {
        let due = cadence.take_due(tokio::time::Instant::now().into_std());
        let cfg = config.clone();
        let mut held = std::mem::take(&mut kept);
        let round = tokio::task::spawn_blocking(move || {
            let report = inbound_round_on(&cfg, &mut held, due);
            (held, report)
        })
        .await;
        // A round that panicked took its store down with it: opened again next round.
        let round = round.map(|(held, report)| {
            kept = held;
            report
        });
        match round {
            Ok(Ok(r)) => {
                for e in &r.errors {
                    tracing::warn!("inbound: {e}");
                }
                for e in &r.unusable {
                    tracing::debug!("inbound: {e}");
                }
                tracing::debug!(?r, "inbound round done");
            }
            Ok(Err(e)) => tracing::warn!("inbound round failed: {e:#}"),
            Err(e) => tracing::error!("inbound round panicked: {e}"),
        }
        if due.imap {
            imap_rounds.send_modify(|n| *n += 1);
        }
        let woken = async {
            match wakes.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(cadence.next_wake().into()) => {}
            Some(()) = woken => {
                tracing::debug!("imap: new mail announced (IDLE)");
                cadence.imap_due_now(tokio::time::Instant::now().into_std());
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
    }
}

/// What the daemon's inbound loop keeps from round to round: the store, and the forums
/// replies are posted into (the built-in forum holds a store of its own). None at first; the
/// store again none after a round whose store failed, the forums after a round that found
/// one of them not open, or whose store failed (the next round opens them anew).
#[derive(Debug, Default)]
pub struct RoundStore {
    store: Option<Store>,
    forums: Option<crate::forum::Forums>,
    /// Times a store was opened (for the log line that says so).
    opened: u64,
}

impl RoundStore {
    /// The kept store and forums, each opened first when there is none (`config`).
    fn get(&mut self, config: &Config) -> anyhow::Result<(&mut Store, &dyn Forum)> {
        if self.store.is_none() {
            let store = Store::open_at(&config.store_location())?;
            self.opened += 1;
            if self.opened == 1 {
                tracing::info!("inbound: store opened, kept from round to round");
            } else {
                tracing::info!(
                    times = self.opened,
                    "inbound: store opened again after a round whose store failed"
                );
            }
            self.store = Some(store);
        }
        let forums = self
            .forums
            .get_or_insert_with(|| crate::forum::open_forums(config));
        let store = self
            .store
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("no store"))?;
        Ok((store, forums))
    }

    /// After a round: lets the store go when it failed (`store_failed`), and the forums then
    /// or when one of them is not open; the next round opens them anew.
    fn after_round(&mut self, store_failed: bool) {
        if store_failed {
            self.store = None;
        }
        let forum_missing = self
            .forums
            .as_ref()
            .is_some_and(|f| f.failures().next().is_some());
        if store_failed || forum_missing {
            self.forums = None;
        }
    }
}

/// One round of the daemon's inbound loop on the store and forums `kept` holds (opened first
/// when it holds none), with the answer transport `config` describes; after a round whose
/// store failed, `kept` lets them go (see [`RoundStore::after_round`]).
pub fn inbound_round_on(
    config: &Config,
    kept: &mut RoundStore,
    due: Due,
) -> anyhow::Result<InboundRunReport> {
    let answers = wiring::OutboundAnswers::from_config(config)?;
    let (store, forum) = kept.get(config)?;
    let report = run_inbound_round(config, store, forum, &answers, due);
    kept.after_round(report.store_failed);
    Ok(report)
}

/// Aborts a task when dropped (the IDLE waiter ends with the loop that owns it).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Least time between two IDLE wakes: a message that cannot be moved out of the folder would
/// otherwise wake the loop again at once, forever.
const IDLE_MIN_GAP: std::time::Duration = std::time::Duration::from_secs(5);

/// `[inbound.imap] idle = true`: waits with IMAP IDLE ([`receive::imap::wait_for_mail`]) and
/// sends a wake when mail is there, then waits for the IMAP round that wake asked for
/// (`imap_rounds` counting up) before it waits again. Each wait lasts at most `poll_seconds`
/// (and 25 minutes, inside RFC 2177's 29); failures back off up to `poll_seconds`, while the
/// regular polls go on. Ends when the loop's receiver is gone.
pub async fn idle_waiter(
    imap: crate::config::ImapConfig,
    wake: tokio::sync::mpsc::Sender<()>,
    mut imap_rounds: tokio::sync::watch::Receiver<u64>,
) {
    let poll = std::time::Duration::from_secs(imap.poll_seconds.max(1));
    let max_wait = poll.min(std::time::Duration::from_secs(25 * 60));
    let mut failures: u32 = 0;
    loop {
        let seen = *imap_rounds.borrow_and_update();
        match receive::imap::wait_for_mail(&imap, max_wait).await {
            Ok(receive::imap::Wake::Mail) => {
                failures = 0;
                if wake.send(()).await.is_err() {
                    return;
                }
                while *imap_rounds.borrow() <= seen {
                    if imap_rounds.changed().await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(IDLE_MIN_GAP).await;
            }
            Ok(receive::imap::Wake::Quiet) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                let pause = (IDLE_MIN_GAP * 2u32.saturating_pow(failures.min(10))).min(poll);
                if e.is_unusable() {
                    // Logged once per outage where it began.
                    tracing::debug!("imap idle: {e}; IDLE again in {pause:?}");
                } else {
                    tracing::warn!("imap idle: {e}; polling goes on, IDLE again in {pause:?}");
                }
                tokio::time::sleep(pause).await;
            }
        }
        if wake.is_closed() {
            return;
        }
    }
}
