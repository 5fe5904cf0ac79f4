//! The daemon's take-over round, every half lease: the work other workers left, and the
//! firings nobody could record.
//!
//! 1. Pending digests whose worker died (their lease expired) are resent.
//! 2. Firings missed while the database was unreachable (or every daemon was stopped) are
//!    found ([`crate::schedule::missed_occurrence`] decides) and handed back to the daemon's
//!    loop, which runs each as its schedule's job would have: collect, record the firing,
//!    serve its slices. Every worker finds the same occurrence, so they share it as a firing
//!    on time, and the ledger keeps it to one digest per person.
//! 3. The firings of the last day with a slice nobody holds (a worker died in it, or stopped
//!    and gave it back) are finished.
//!
//! Both the roles' digest firings and their monthly best-of firings go through 2 and 3.
//!
//! Errors are logged; the loop goes on.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use crate::delivery_run::{Audience, Engine};
use crate::model::Schedule;
use crate::schedule::{best_of_schedules, distinct_schedules, missed_occurrence, CatchUp, Firing};
use crate::store::Store;

/// How far back the take-over round looks for firings left unfinished or missed.
const TAKE_OVER_WITHIN: chrono::Duration = chrono::Duration::days(1);

/// Leases after an occurrence before it counts as missed: until then the workers' own jobs
/// (which collect first) are left to run it.
const GRACE_LEASES: i32 = 2;

/// The bounds of catching up a missed firing at this worker's lease.
pub fn catch_up_bounds() -> CatchUp {
    CatchUp {
        lookback: TAKE_OVER_WITHIN,
        grace: crate::worker::lease() * GRACE_LEASES,
    }
}

/// The schedules whose firings are shared by slices, taken over and caught up, with their
/// keys: the roles' digests and their monthly best-of.
fn firing_schedules(config: &crate::config::Config) -> Vec<(String, Schedule)> {
    let digests = distinct_schedules(config).into_iter().map(|s| (s.key(), s));
    digests.chain(best_of_schedules(config)).collect()
}

/// The keys of the schedules whose missed firings are caught up (see [`firing_schedules`]).
pub fn watched_schedules(config: &crate::config::Config) -> Vec<String> {
    firing_schedules(config)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// True when a firing of `key` has people to serve (and so records itself).
fn has_people(engine: &Engine, key: &str) -> bool {
    if key.starts_with(crate::best_of::SCHEDULE_PREFIX) {
        let role = crate::best_of::role_of_key(&engine.config.roles, key);
        return role.is_some_and(|r| {
            engine
                .config
                .people
                .iter()
                .any(|p| p.roles.contains(&r.name))
        });
    }
    engine.schedule_has_people(key)
}

/// Steps 1 and 3 of the round (see the module doc); returns the firings of step 2 for the
/// daemon's loop to run.
pub async fn take_over(engine: &Engine, store: &mut Store) -> Vec<Firing> {
    match engine.resume_orphaned(store).await {
        Ok((sent, failed)) if sent + failed > 0 => {
            tracing::info!(sent, failed, worker = %crate::worker::id(), "resent digests a stopped worker left pending")
        }
        Ok(_) => {}
        Err(e) => {
            // Most likely the database is away: the rest waits for the next round.
            tracing::error!("resending digests other workers left failed: {e:#}");
            return Vec::new();
        }
    }
    let now = Utc::now();
    let missed = match missed_firings(engine, store, now) {
        Ok(missed) => missed,
        Err(e) => {
            tracing::error!("looking for firings missed during an outage failed: {e:#}");
            Vec::new()
        }
    };
    finish_open_firings(engine, store, now).await;
    missed
}

/// The firings of the configured schedules that passed without being recorded (step 2).
fn missed_firings(
    engine: &Engine,
    store: &mut Store,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Firing>> {
    let mut watches = store.schedule_watches()?;
    let unwatched: Vec<String> = watched_schedules(&engine.config)
        .into_iter()
        .filter(|k| !watches.contains_key(k))
        .collect();
    if !unwatched.is_empty() {
        // Recording them at the start failed (the database was away): watched from now.
        store.watch_schedules(&unwatched, now)?;
        watches = store.schedule_watches()?;
    }
    let bounds = catch_up_bounds();
    let mut out = Vec::new();
    for (key, schedule) in firing_schedules(&engine.config) {
        let Some(watch) = watches.get(&key) else {
            continue;
        };
        if !has_people(engine, &key) {
            // Nobody to serve: such a firing records nothing, so it would stay "missed".
            continue;
        }
        if let Some(at) = missed_occurrence(&schedule, watch.since, watch.last_firing, now, bounds)?
        {
            tracing::warn!(schedule = %key, occurrence = %at.format("%Y-%m-%dT%H:%M:%SZ"), worker = %crate::worker::id(), "running a firing missed while the database was unreachable or no daemon ran");
            out.push(Firing { schedule: key, at });
        }
    }
    Ok(out)
}

/// Finishes the firings of the last day that have a slice nobody holds (step 3).
async fn finish_open_firings(engine: &Engine, store: &mut Store, now: DateTime<Utc>) {
    let open = match store.firings_to_take_over(now, now - TAKE_OVER_WITHIN) {
        Ok(open) => open,
        Err(e) => {
            tracing::error!("reading the firings left unfinished failed: {e}");
            return;
        }
    };
    let known = watched_schedules(&engine.config);
    for (schedule, period_end) in open {
        if engine.stop.load(Ordering::SeqCst) {
            return;
        }
        if !known.contains(&schedule) {
            continue;
        }
        tracing::info!(%schedule, period_end = %period_end.format("%Y-%m-%dT%H:%M:%SZ"), worker = %crate::worker::id(), "taking over a digest run left unfinished");
        let finished = if schedule.starts_with(crate::best_of::SCHEDULE_PREFIX) {
            engine
                .run_best_of_firing(store, &schedule, period_end)
                .await
        } else {
            let audience = Audience {
                schedule: Some(schedule.clone()),
                ..Audience::default()
            };
            engine.run(store, &audience, period_end).await
        };
        if let Err(e) = finished {
            tracing::error!(%schedule, "finishing a digest run left unfinished failed: {e:#}");
        }
    }
}
