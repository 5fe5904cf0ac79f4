//! The run that sends a role's monthly "best of" digest ([`crate::best_of`] has its pure
//! parts): every person of the role gets the month's best training highlights of the role's
//! groups (tags, ambassadors' nominations, best answers, likes), ranked like a digest's and at
//! most `[digest] best_of_highlights`, from the `best_of` template pair.
//!
//! It reuses the digest's selection with the month as period but without the "already sent to
//! this person" filter (a best-of recaps the month, whatever the weekly digests showed), and
//! with no threads or questions. Each mail is recorded in the deliveries ledger under the role's
//! best-of schedule key with the month's end as period end before it is sent, so a person gets
//! it once per (role best-of, month), however often the schedule fires or an admin asks for it.
//! People who opted out of it, or of everything, who paused or whose address bounces get none;
//! a month without highlights sends nothing. A scheduled firing is shared by the workers on
//! one database like a digest firing (recorded once, its people cut into slices), so one a
//! worker left unfinished is taken over, and one missed in an outage is run late
//! ([`crate::take_over`]). The ledger row records no post and no highlight:
//! a recap delivers nothing new, so the CPD record does not count it twice.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::best_of;
use crate::delivery_run::{Engine, FiringSlices, RunReport, SliceLease};
use crate::digest::personal;
use crate::digest::select::{select, SelectLimits};
use crate::digest::Activity;
use crate::model::{Frequency, Period, Person, Role};
use crate::render::ExcerptCache;
use crate::store::{DigestOverrides, PersonState, Store};

/// What a best-of run reads once, whichever of its people this worker serves.
struct BestOfRun<'a> {
    role: &'a Role,
    key: String,
    month: Period,
    now: DateTime<Utc>,
    states: HashMap<String, PersonState>,
    overrides: HashMap<String, DigestOverrides>,
    opted_out: HashSet<String>,
    activity: Activity,
    excerpts: ExcerptCache,
}

impl Engine {
    /// A best-of firing of schedule `key` at `at`: the best-of of the role whose key it is,
    /// for the calendar month before `at` in the role's time zone. The firing is recorded
    /// once cluster-wide and its people are shared by slices, like a digest firing's, so a
    /// firing a worker left unfinished is taken over (the daemon's take-over round).
    pub async fn run_best_of_firing(
        &self,
        store: &mut Store,
        key: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<RunReport> {
        let role = best_of::role_of_key(&self.config.roles, key)
            .with_context(|| format!("no role has the best-of schedule {key:?}"))?;
        let zone = role
            .best_of
            .as_ref()
            .map_or(role.schedule.time_zone, |s| s.time_zone);
        let month = best_of::period(zone, at);
        let name = role.name.clone();
        self.best_of(store, &name, month, at, Some(at)).await
    }

    /// Sends role `role`'s best-of of `month` (a calendar month, [`best_of::month_period`]) to
    /// every person of the role who has not had it and has highlights in it.
    pub async fn run_best_of(
        &self,
        store: &mut Store,
        role: &str,
        month: Period,
        now: DateTime<Utc>,
    ) -> anyhow::Result<RunReport> {
        self.best_of(store, role, month, now, None).await
    }

    /// [`Engine::run_best_of`], for everyone at once or, for a firing at `firing`, by slices.
    async fn best_of(
        &self,
        store: &mut Store,
        role: &str,
        month: Period,
        now: DateTime<Utc>,
        firing: Option<DateTime<Utc>>,
    ) -> anyhow::Result<RunReport> {
        let cfg = &self.config;
        let role: &Role = cfg
            .role(role)
            .with_context(|| format!("no role named {role:?} in {}", cfg.source.display()))?;
        let schedule = role.best_of.as_ref().with_context(|| {
            format!(
                "role {:?} has no best_of schedule in {}",
                role.name,
                cfg.source.display()
            )
        })?;
        anyhow::ensure!(
            self.renderer.has_template(best_of::TEMPLATE),
            "no best-of template pair (best_of.html.hbs, best_of.txt.hbs) in {}",
            self.renderer.dir().display()
        );
        let key = best_of::schedule_key(role, schedule);
        let people: Vec<&Person> = cfg
            .people
            .iter()
            .filter(|p| p.roles.contains(&role.name))
            .collect();
        let run_id = store.start_run(&key, month.end, crate::worker::id())?;
        let report = match firing {
            None => {
                let run = self.load_best_of(store, role, &key, month, now)?;
                self.serve_best_of(store, &run, &people, None).await?
            }
            Some(at) => {
                let sliced = FiringSlices::join(store, &key, at, people.len(), 1)?;
                match sliced.claim(store)? {
                    None => RunReport::default(),
                    Some(first) => {
                        let run = self.load_best_of(store, role, &key, month, now)?;
                        let stop = || self.stop.load(std::sync::atomic::Ordering::SeqCst);
                        sliced
                            .serve_all(
                                store,
                                first,
                                &people,
                                stop,
                                async |store: &mut Store, mine: &[&Person], lease| {
                                    self.serve_best_of(store, &run, mine, Some(lease)).await
                                },
                            )
                            .await?
                    }
                }
            }
        };
        store.finish_run(run_id, report.sent, report.failed)?;
        tracing::info!(
            run = run_id,
            worker = %crate::worker::id(),
            schedule = %key,
            month_end = %month.end.format("%Y-%m-%dT%H:%M:%SZ"),
            people = report.people,
            sent = report.sent,
            empty = report.empty,
            skipped = report.skipped,
            failed = report.failed,
            deferred = report.deferred,
            "best-of run finished"
        );
        Ok(report)
    }

    /// What a best-of run of `role` reads once.
    fn load_best_of<'a>(
        &self,
        store: &Store,
        role: &'a Role,
        key: &str,
        month: Period,
        now: DateTime<Utc>,
    ) -> anyhow::Result<BestOfRun<'a>> {
        Ok(BestOfRun {
            role,
            key: key.to_owned(),
            month,
            now,
            states: store.all_person_states()?,
            overrides: store.all_digest_overrides()?,
            opted_out: store.schedule_optouts(key)?,
            // Only highlight candidates are needed: no thread section, so no recent posts.
            activity: crate::run_activity::load_activity(
                store,
                &self.config,
                &[role],
                now,
                month.start,
            )?,
            excerpts: ExcerptCache::new(),
        })
    }

    /// Selects, renders, records and sends the best-of of each of `people` (a slice of a
    /// firing's, whose lease it renews as it goes, or all of them).
    async fn serve_best_of(
        &self,
        store: &mut Store,
        run: &BestOfRun<'_>,
        people: &[&Person],
        mut slice: Option<&mut SliceLease>,
    ) -> anyhow::Result<RunReport> {
        let cfg = &self.config;
        let (role, key, month, now) = (run.role, run.key.as_str(), run.month, run.now);
        let limits = SelectLimits {
            max_threads: 0,
            max_highlights: usize::MAX,
            max_questions: 0,
            unanswered_after: cfg.digest.unanswered_after,
        };
        // A recap: whatever a digest already delivered may be in it.
        let nothing_delivered = HashSet::new();
        let mut report = RunReport::default();
        let mut batch = Vec::new();
        for &person in people {
            report.people += 1;
            if self.stop.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let state = run.states.get(&person.email);
            let mine = run.overrides.get(&person.email);
            let frequency = state
                .and_then(|s| s.frequency_override)
                .unwrap_or(person.frequency);
            if frequency == Frequency::Off
                || state.is_some_and(|s| s.paused || s.unsubscribed || s.bouncing)
                || run.opted_out.contains(&person.email)
                || personal::paused_at(mine.and_then(|o| o.paused_until), now)
            {
                report.skipped += 1;
                continue;
            }
            let kept = mine
                .map(|o| &o.excluded_groups)
                .and_then(|ex| personal::without_groups(&[role], ex));
            let roles: Vec<&Role> = kept
                .as_ref()
                .map_or_else(|| vec![role], |k| k.iter().collect());
            let speaking = personal::with_locale(person, mine.and_then(|o| o.locale.as_deref()));
            let digest = select(
                speaking.as_ref().unwrap_or(person),
                &roles,
                key,
                month,
                &run.activity,
                &nothing_delivered,
                &limits,
            );
            let digest = best_of::month_highlights(digest, month, cfg.digest.best_of_highlights);
            if digest.highlights.is_empty() {
                report.empty += 1;
                continue;
            }
            let mut prepared = self
                .prepare(&digest, best_of::TEMPLATE, now, Some(&run.excerpts))
                .with_context(|| format!("rendering the best-of of {}", person.email))?;
            prepared.delivery.post_ids.clear();
            prepared.delivery.highlights.clear();
            let Some(id) = store.insert_pending_delivery(&prepared.delivery)? else {
                // Already recorded for this month: never twice.
                report.skipped += 1;
                continue;
            };
            batch.push((id, person.email.clone(), prepared.delivery.raw));
            if let Some(lease) = slice.as_deref_mut() {
                lease.keep(store)?;
            }
        }
        self.send_batch(store, &mut batch, &mut report).await?;
        Ok(report)
    }
}

/// `digestd best-of`: sends role `role`'s best-of of `month` (year, month; default the
/// calendar month before `now` in the role's time zone), collecting first.
pub fn best_of_now(
    config: &crate::config::Config,
    role: &str,
    month: Option<(i32, u32)>,
    now: DateTime<Utc>,
) -> anyhow::Result<RunReport> {
    let r = config
        .role(role)
        .with_context(|| format!("no role named {role:?} in {}", config.source.display()))?;
    let schedule = r.best_of.as_ref().with_context(|| {
        format!(
            "role {role:?} has no best_of schedule in {}",
            config.source.display()
        )
    })?;
    let period = match month {
        Some((y, m)) => best_of::month_period(schedule.time_zone, y, m)
            .with_context(|| format!("no month {y}-{m:02}"))?,
        None => best_of::period(schedule.time_zone, now),
    };
    let mut store = crate::delivery_run::open_synced_store(config)?;
    crate::collect::collect_all(config, &mut store)?;
    let engine = Engine::new(config.clone())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        engine.resume_pending(&mut store).await?;
        engine.run_best_of(&mut store, role, period, now).await
    })
}
