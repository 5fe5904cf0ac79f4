//! The daemon: wiring, schedules and signals.
//!
//! One loop owns the store and runs one thing at a time: a schedule firing (collect, then a digest
//! cycle), a reload, or stopping. Signals are watched on their own task so that SIGTERM can stop a
//! cycle between messages: the message in flight finishes and is recorded, the rest stays pending
//! for the next start.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::cycle::{open_synced_store, Audience, Engine};
use crate::schedule::{Firing, Scheduler};

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
    let mut store = open_synced_store(&config)?;
    let mut engine = Engine::new(config)?;

    let (control_tx, mut control_rx) = watch::channel(Control::Run);
    let stop_flag = engine.stop.clone();
    tokio::spawn(watch_signals(control_tx, stop_flag));

    let (fire_tx, mut fire_rx) = mpsc::channel::<Firing>(16);
    let mut scheduler = Some(Scheduler::start(&engine.config, fire_tx.clone()).await?);
    tracing::info!(config = %config_path.display(), "digestd running");

    // A crash may have left digests recorded but unsent: send them before anything else.
    let (resumed, failed) = engine.resume_pending(&mut store).await?;
    if resumed + failed > 0 {
        tracing::info!(
            resumed,
            failed,
            "resumed digests left pending by an interrupted run"
        );
    }

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
                        match reload(&config_path, &engine) {
                            Ok(new_engine) => {
                                if let Some(s) = scheduler.take() { s.shutdown().await; }
                                match Scheduler::start(&new_engine.config, fire_tx.clone()).await {
                                    Ok(s) => {
                                        scheduler = Some(s);
                                        new_engine.stop.store(false, Ordering::SeqCst);
                                        store.sync_groups(&new_engine.config.groups)?;
                                        store.sync_people(&new_engine.config.people)?;
                                        engine = Engine { stop: engine.stop.clone(), ..new_engine };
                                        tracing::info!("configuration reloaded");
                                    }
                                    Err(e) => {
                                        tracing::error!(error = %e, "new schedules failed; keeping the old ones");
                                        scheduler = Some(Scheduler::start(&engine.config, fire_tx.clone()).await?);
                                    }
                                }
                            }
                            Err(e) => tracing::error!("reload refused, the previous configuration stays in force: {e:#}"),
                        }
                    }
                    _ => {}
                }
            }
            Some(firing) = fire_rx.recv() => {
                tracing::info!(schedule = %firing.schedule, at = %firing.at, "schedule fired");
                match crate::collect::collect_all(&engine.config, &mut store) {
                    Ok(report) => tracing::info!(%report, "collected"),
                    Err(e) => tracing::error!("collection failed, digests use what the store has: {e:#}"),
                }
                let audience = Audience { schedule: Some(firing.schedule.clone()), ..Audience::default() };
                if let Err(e) = engine.run(&mut store, &audience, firing.at).await {
                    tracing::error!(schedule = %firing.schedule, "digest cycle failed: {e:#}");
                }
            }
        }
    }
    tracing::info!("stopping");
    if let Some(s) = scheduler.take() {
        s.shutdown().await;
    }
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

/// Loads the config again and builds a new engine; the old one stays if anything is wrong.
fn reload(config_path: &Path, _old: &Engine) -> anyhow::Result<Engine> {
    let config =
        Config::load(config_path).map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    Engine::new(config)
}

/// Turns SIGTERM/SIGINT into Stop (and sets the engine's stop flag), SIGHUP into Reload.
async fn watch_signals(
    tx: watch::Sender<Control>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
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
        tokio::select! {
            _ = term.recv() => { stop.store(true, Ordering::SeqCst); let _ = tx.send(Control::Stop); tracing::info!("SIGTERM: finishing the message in flight"); }
            _ = int.recv() => { stop.store(true, Ordering::SeqCst); let _ = tx.send(Control::Stop); tracing::info!("SIGINT: finishing the message in flight"); }
            _ = hup.recv() => { reloads += 1; let _ = tx.send(Control::Reload(reloads)); tracing::info!("SIGHUP: reloading"); }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
