//! The daemon: wiring, schedules and signals.
//!
//! One loop owns the store and runs one thing at a time: a schedule firing (collect, then a digest
//! cycle), a reload, or stopping. Signals are watched on their own task so that SIGTERM can stop a
//! cycle between messages: the message in flight finishes and is recorded, the rest stays pending
//! for the next start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::delivery_run::{open_synced_store, Audience, Engine};
use crate::poll_plan::{HealthChange, PollPlan};
use crate::schedule::{distinct_schedules, next_fire, Firing, Scheduler};
use crate::systemd_notify::Notifier;

/// How long SIGTERM may take (`[daemon] shutdown_timeout_secs`, default 30): after this the
/// process exits anyway. Nothing is lost by that: digests not yet sent are pending in the store
/// and go out at the next start.
static SHUTDOWN_SECS: AtomicU64 = AtomicU64::new(30);

/// What the signal task tells the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Run,
    Reload(u64),
    Stop,
}

/// Runs until SIGTERM or SIGINT; SIGHUP reloads config and templates.
pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(config_path.to_path_buf()))
}

async fn run_async(config_path: PathBuf) -> anyhow::Result<()> {
    let config =
        Config::load(&config_path).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    apply_daemon_settings(&config);
    let mut store = open_synced_store(&config)?;
    let mut engine = Engine::new(config)?;
    watch_schedules(&mut store, &engine.config);

    let notifier = Notifier::from_env().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "NOTIFY_SOCKET unusable; not notifying systemd");
        Notifier::disabled()
    });
    engine.notifier = notifier.clone();
    let (control_tx, mut control_rx) = watch::channel(Control::Run);
    let stop_flag = engine.stop.clone();
    tokio::spawn(watch_signals(control_tx, stop_flag, notifier.clone()));
    // The loop's tick only records progress; the watchdog thread pings while progress is recent
    // (see `heartbeat`), so a long cycle that keeps sending is not killed and a hung loop is.
    let watchdog_interval = crate::systemd_notify::watchdog_interval();
    if let Some(interval) = watchdog_interval.filter(|_| notifier.is_enabled()) {
        crate::heartbeat::spawn_watchdog(notifier.clone(), interval)
            .context("starting the watchdog thread")?;
    }
    let tick_every = watchdog_interval.map_or(Duration::from_secs(3600), |d| d / 4);
    let mut tick = tokio::time::interval(tick_every.max(Duration::from_millis(10)));

    let webhooks =
        crate::http::Webhooks::new(crate::http::WebhookTable::from_config(&engine.config));
    let preferences = crate::http::Preferences::new(&engine.config, engine.renderer.locales());
    if let Some(http) = engine.config.http.clone() {
        let server = crate::http::Server::bind_full(
            &http,
            engine.config.store_location(),
            &crate::metrics::METRICS,
            webhooks.clone(),
            preferences.clone(),
        )
        .await
        .with_context(|| format!("starting the HTTP endpoint on {}", http.listen))?;
        let mut stop_rx = control_rx.clone();
        tokio::spawn(async move {
            let stopped = async move {
                while *stop_rx.borrow_and_update() != Control::Stop {
                    if stop_rx.changed().await.is_err() {
                        break;
                    }
                }
            };
            if let Err(e) = server.run(stopped).await {
                tracing::error!(error = %e, "HTTP endpoint failed");
            }
        });
    }

    let mut inbound = InboundWatcher::start(&engine.config);

    let (fire_tx, mut fire_rx) = mpsc::channel::<Firing>(16);
    let mut scheduler = Some(Scheduler::start(&engine.config, fire_tx.clone()).await?);
    tracing::info!(config = %config_path.display(), worker = %crate::worker::id(), "digestd running");
    let _ = notifier.ready_with_status(&next_digest_status(&engine.config));

    // One daemon per SQLite file: what a killed predecessor held is free at once. (On
    // PostgreSQL other workers may be alive: their leases are honoured and expire.)
    if store.engine() == crate::store::db::Engine::Sqlite {
        store
            .release_all_leases()
            .context("freeing the leases of a previous run")?;
    }
    // A crash may have left digests recorded but unsent: send them before anything else.
    let (resumed, failed) = engine.resume_pending(&mut store).await?;
    if resumed + failed > 0 {
        tracing::info!(
            resumed,
            failed,
            "resumed digests left pending by an interrupted run"
        );
    }

    // Each forum is polled on its own interval; a schedule firing collects from all first.
    let mut forums = crate::forum::open_forums(&engine.config);
    let mut polls = PollPlan::new(&engine.config.forums, std::time::Instant::now());

    // Work other workers left: slices and pending digests whose lease expired.
    let mut takeover =
        tokio::time::interval((crate::worker::lease_std() / 2).max(Duration::from_secs(1)));
    takeover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut last_reload = 0;
    loop {
        if *control_rx.borrow() == Control::Stop {
            break;
        }
        tokio::select! {
            changed = control_rx.changed() => {
                if changed.is_err() { break; }
                let control = *control_rx.borrow_and_update();
                match control {
                    Control::Stop => break,
                    Control::Reload(n) if n != last_reload => {
                        last_reload = n;
                        let _ = notifier.reloading();
                        let mut live = Live { engine: &mut engine, scheduler: &mut scheduler, inbound: &mut inbound, store: &mut store, webhooks: &webhooks, preferences: &preferences };
                        live.reload(&config_path, &fire_tx, &notifier).await;
                        forums = crate::forum::open_forums(&engine.config);
                        polls.replace_forums(&engine.config.forums, std::time::Instant::now());
                        let _ = notifier.ready_with_status(&next_digest_status(&engine.config));
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => crate::heartbeat::beat(),
            _ = takeover.tick() => {
                for firing in crate::take_over::take_over(&engine, &mut store).await {
                    if engine.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    fire(&config_path, &mut engine, &mut store, &forums, &mut polls, &notifier, firing).await;
                }
            }
            _ = sleep_until_due(&polls) => {
                let due = polls.take_due(std::time::Instant::now());
                let (report, outcomes) = tokio::task::block_in_place(|| {
                    crate::collect::collect_forums(&engine.config, &mut store, &forums, Some(&due))
                });
                record_polls(&mut polls, outcomes);
                if report.posts > 0 {
                    tracing::info!(%report, forums = ?due, "collected");
                }
            }
            Some(firing) = fire_rx.recv() => {
                fire(&config_path, &mut engine, &mut store, &forums, &mut polls, &notifier, firing).await;
            }
        }
    }
    tracing::info!("stopping");
    let _ = notifier.stopping();
    inbound.stop();
    engine.outbound.close().await;
    if let Some(s) = scheduler.take() {
        s.shutdown().await;
    }
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

/// One firing of a schedule (from its job, or missed and found by the take-over round):
/// collect from every forum, then the schedule's digests, best-of or nudges.
async fn fire(
    config_path: &Path,
    engine: &mut Engine,
    store: &mut crate::store::Store,
    forums: &crate::forum::Forums,
    polls: &mut PollPlan,
    notifier: &Notifier,
    firing: Firing,
) {
    tracing::info!(schedule = %firing.schedule, at = %firing.at, "schedule fired");
    refresh_people(config_path, engine, store);
    if let Err(e) = crate::store::Store::sync_groups(store, &engine.config.groups) {
        tracing::error!("storing the groups failed: {e:#}");
    }
    let (report, outcomes) = tokio::task::block_in_place(|| {
        crate::collect::collect_forums(&engine.config, store, forums, None)
    });
    record_polls(polls, outcomes);
    tracing::info!(%report, "collected");
    if firing.schedule.starts_with(crate::best_of::SCHEDULE_PREFIX) {
        if let Err(e) = engine
            .run_best_of_firing(store, &firing.schedule, firing.at)
            .await
        {
            tracing::error!(schedule = %firing.schedule, "best-of digests failed: {e:#}");
        }
        return;
    }
    if firing
        .schedule
        .starts_with(crate::ambassador_nudge::SCHEDULE_PREFIX)
    {
        if let Err(e) = engine.run_nudges(store, firing.at).await {
            tracing::error!(schedule = %firing.schedule, "ambassador nudges failed: {e:#}");
        }
        return;
    }
    let audience = Audience {
        schedule: Some(firing.schedule.clone()),
        ..Audience::default()
    };
    let _ = notifier.status(&format!("sending digests for {}", firing.schedule));
    if let Err(e) = engine.run(store, &audience, firing.at).await {
        tracing::error!(schedule = %firing.schedule, "digest cycle failed: {e:#}");
    }
    let _ = notifier.status(&next_digest_status(&engine.config));
}

/// Records the configured schedules as watched from now (those new to the store), so that a
/// firing missed during an outage is caught up, and none from before.
fn watch_schedules(store: &mut crate::store::Store, config: &Config) {
    let keys = crate::take_over::watched_schedules(config);
    if let Err(e) = store.watch_schedules(&keys, chrono::Utc::now()) {
        tracing::error!("recording the schedules watched failed: {e}");
    }
}

/// Waits until the next forum is due for a poll (forever when there are no forums).
async fn sleep_until_due(polls: &PollPlan) {
    match polls.next_due() {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Records each forum's poll in `polls` and logs a forum going down or coming back, once per
/// outage (not once per poll).
fn record_polls(
    polls: &mut PollPlan,
    outcomes: std::collections::BTreeMap<String, Result<(), String>>,
) {
    let now = chrono::Utc::now();
    for (forum, outcome) in outcomes {
        crate::metrics::METRICS.forum_poll(&forum, outcome.is_ok(), now);
        match polls.record(&forum, outcome, now) {
            Some(HealthChange::WentDown { error }) => {
                tracing::warn!(%forum, %error, "forum unreachable; its groups wait, the others go on (logged once per outage)")
            }
            Some(HealthChange::CameBack { failed_polls }) => {
                tracing::info!(%forum, failed_polls, "forum reachable again")
            }
            None => {}
        }
    }
}

/// Loads the config again and builds a new engine; the old one stays if anything is wrong.
fn reload(config_path: &Path) -> anyhow::Result<Engine> {
    let config =
        Config::load(config_path).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    Engine::new(config)
}

/// What a reload swaps: the engine (config, templates, transport), the schedules, the inbound
/// watcher, and the store's groups and people.
struct Live<'a> {
    engine: &'a mut Engine,
    scheduler: &'a mut Option<Scheduler>,
    inbound: &'a mut InboundWatcher,
    store: &'a mut crate::store::Store,
    webhooks: &'a crate::http::Webhooks,
    /// The preferences page's people, roles and locales.
    preferences: &'a crate::http::Preferences,
}

impl Live<'_> {
    /// SIGHUP: brings in the config on disk, or logs why not and keeps everything as it was.
    /// Never fails: a daemon that cannot reload keeps running on the old configuration.
    async fn reload(
        &mut self,
        config_path: &Path,
        fire_tx: &mpsc::Sender<Firing>,
        notifier: &Notifier,
    ) {
        let new_engine = match reload(config_path) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("reload refused, the previous configuration stays in force: {e:#}");
                return;
            }
        };
        if let Err(e) = sync_store(self.store, &new_engine.config) {
            tracing::error!("reload refused, storing the new groups and people failed; the previous configuration stays in force: {e:#}");
            if let Err(e) = sync_store(self.store, &self.engine.config) {
                tracing::error!("restoring the previous groups and people failed: {e:#}");
            }
            return;
        }
        if let Some(s) = self.scheduler.take() {
            s.shutdown().await;
        }
        match Scheduler::start(&new_engine.config, fire_tx.clone()).await {
            Ok(s) => *self.scheduler = Some(s),
            Err(e) => {
                tracing::error!(
                    "reload refused, the new schedules failed; keeping the old ones: {e:#}"
                );
                if let Err(e) = sync_store(self.store, &self.engine.config) {
                    tracing::error!("restoring the previous groups and people failed: {e:#}");
                }
                match Scheduler::start(&self.engine.config, fire_tx.clone()).await {
                    Ok(s) => *self.scheduler = Some(s),
                    Err(e) => tracing::error!("restarting the old schedules failed; no digest is scheduled until the next reload: {e:#}"),
                }
                return;
            }
        }
        new_engine.stop.store(false, Ordering::SeqCst);
        apply_daemon_settings(&new_engine.config);
        self.inbound.stop();
        *self.inbound = InboundWatcher::start(&new_engine.config);
        self.webhooks
            .replace(crate::http::WebhookTable::from_config(&new_engine.config));
        self.preferences
            .replace(&new_engine.config, new_engine.renderer.locales());
        let stop = self.engine.stop.clone();
        *self.engine = Engine {
            stop,
            notifier: notifier.clone(),
            ..new_engine
        };
        watch_schedules(self.store, &self.engine.config);
        tracing::info!("configuration reloaded");
    }
}

/// Brings the store's groups and people in line with `config`.
fn sync_store(store: &mut crate::store::Store, config: &Config) -> anyhow::Result<()> {
    store
        .sync_groups(&config.groups)
        .context("storing the groups")?;
    store
        .sync_people(&config.people)
        .context("storing the people")?;
    Ok(())
}

/// The inbound loop (Maildir / IMAP polling and retries of queued replies) on its own task.
struct InboundWatcher {
    stop: watch::Sender<bool>,
}

impl InboundWatcher {
    /// Starts the loop: the Maildir every `[daemon] inbound_poll_secs`, IMAP every
    /// `[inbound.imap] poll_seconds`.
    fn start(config: &Config) -> InboundWatcher {
        let (stop, stop_rx) = watch::channel(false);
        let every = Duration::from_secs(config.daemon.inbound_poll_secs.max(1));
        tokio::spawn(crate::inbound::watch_inbound(
            std::sync::Arc::new(config.clone()),
            every,
            stop_rx,
        ));
        InboundWatcher { stop }
    }

    /// Asks the loop to stop after its current round.
    fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Re-reads the people list before a digest run, so edits to people (inline or CSV) take effect
/// at the next digest without a restart or reload. Other changes wait for SIGHUP; an invalid
/// file leaves the loaded configuration in force.
fn refresh_people(config_path: &Path, engine: &mut Engine, store: &mut crate::store::Store) {
    match Config::load(config_path) {
        Ok(fresh) if fresh.people != engine.config.people => {
            if let Err(e) = store.sync_people(&fresh.people) {
                tracing::error!(error = %e, "storing the new people list failed; keeping the old one");
                return;
            }
            tracing::info!(
                people = fresh.people.len(),
                "people list changed on disk; using it from this digest on"
            );
            engine.config.people = fresh.people;
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!("configuration on disk is invalid, the loaded one stays in force:\n{e}")
        }
    }
}

/// Applies the `[daemon]` settings that take effect without a restart.
fn apply_daemon_settings(config: &Config) {
    crate::cli::apply_config_log_filter(&config.daemon.log_filter);
    SHUTDOWN_SECS.store(config.daemon.shutdown_timeout_secs, Ordering::SeqCst);
}

/// `STATUS=` text: when the next digest goes out.
fn next_digest_status(config: &Config) -> String {
    let now = chrono::Utc::now();
    let next = distinct_schedules(config)
        .iter()
        .filter_map(|s| next_fire(s, now).ok().flatten().map(|t| (t, s.key())))
        .min();
    match next {
        Some((at, key)) => format!("next digest {} ({key})", at.format("%Y-%m-%d %H:%M UTC")),
        None => "no digest scheduled".into(),
    }
}

/// Exits the process if a stop takes longer than `[daemon] shutdown_timeout_secs`. Safe: unsent digests are
/// pending in the store and resent at the next start.
fn arm_shutdown_bound() {
    std::thread::spawn(|| {
        let bound = Duration::from_secs(SHUTDOWN_SECS.load(Ordering::SeqCst));
        std::thread::sleep(bound);
        tracing::error!(
            ?bound,
            "stop took too long; exiting, unsent digests stay pending"
        );
        std::process::exit(0);
    });
}

/// Turns SIGTERM/SIGINT into Stop (and sets the engine's stop flag), SIGHUP into Reload.
async fn watch_signals(
    tx: watch::Sender<Control>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    notifier: Notifier,
) {
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    let mut reloads = 0u64;
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => {
                reloads += 1;
                tracing::info!("SIGHUP: reloading configuration and templates");
                let _ = tx.send(Control::Reload(reloads));
                continue;
            }
        };
        tracing::info!("{name}: finishing the message in flight, then stopping");
        stop.store(true, Ordering::SeqCst);
        let _ = notifier.stopping();
        arm_shutdown_bound();
        let _ = tx.send(Control::Stop);
        return;
    }
}
