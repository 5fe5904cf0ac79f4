//! The delivery run: drives one outbound digest run (a "cycle"): for each person due, select →
//! render → record → send. Selection and rendering run on `[daemon] threads` threads, a stretch
//! of people at a time ([`prepare_all`]); the ledger is written by the run's one thread, in the
//! people's order, so the number of threads changes nothing but the time taken.
//!
//! **Invariant:** a digest's Delivery row, holding the complete message, is written before the
//! transport is called and marked after. Every cycle first resends the pending rows an
//! interrupted cycle left behind, byte for byte, so a crash never loses a digest, and a row that
//! is marked sent is never sent again.
//!
//! Selection excludes posts already in a pending or sent delivery to that person, so a second
//! cycle over the same period finds nothing new for them and sends nothing.
//!
//! Several workers on one database share a scheduled run by slices of its people
//! (`slices.rs`), and send only the pending rows they hold a lease on (`sending.rs`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
use crate::digest::personal;
use crate::digest::select::SelectLimits;
use crate::model::{Digest, Frequency, Period, Person, ReplyGrant, ReplyToken, Role, ThreadId};
use crate::outbound::{self, Outbound, RetryPolicy};
use crate::render::{ExcerptCache, RenderContext, Renderer};
use crate::store::{NewDelivery, PersonState, Store};

mod prepare_all;
mod preview;
mod sending;
mod slices;

pub(crate) use slices::{FiringSlices, SliceLease};

pub use prepare_all::stretch_len;
use prepare_all::{Due, Made, Shared};
pub use preview::preview;

/// A weekly person is due again once this much time has passed since their last digest
/// (a little under seven days, so a schedule firing at the same hour each week always qualifies).
const WEEKLY_GAP: Duration = Duration::hours(6 * 24 + 12);
/// How far back training highlights reach (older tagged posts not yet sent to a person).
const HIGHLIGHT_LOOKBACK: Duration = Duration::days(30);
/// The longest period a digest covers (a person back after a long pause gets the last month).
const MAX_PERIOD: Duration = Duration::days(30);
/// Digests recorded as pending before their batch is sent (at least; a stretch of people is
/// selected and rendered on every core at once, at least 16 per thread).
const BATCH: usize = 64;

/// What one cycle did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// People considered.
    pub people: usize,
    /// Digests accepted by the transport.
    pub sent: usize,
    /// Pending digests from an interrupted run, resent.
    pub resumed: usize,
    /// Empty digests not sent.
    pub empty: usize,
    /// People skipped (opted out of everything or of this schedule, paused, bouncing, weekly
    /// and not due yet).
    pub skipped: usize,
    /// Digests refused for good.
    pub failed: usize,
    /// Digests left pending because the cycle was asked to stop (sent by the next cycle).
    pub deferred: usize,
}

impl RunReport {
    /// Adds the counts of `part` (another slice of the same run) to these.
    pub fn add(&mut self, part: &RunReport) {
        self.people += part.people;
        self.sent += part.sent;
        self.resumed += part.resumed;
        self.empty += part.empty;
        self.skipped += part.skipped;
        self.failed += part.failed;
        self.deferred += part.deferred;
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "people {}, sent {}, resumed {}, empty {}, skipped {}, failed {}, deferred {}",
            self.people,
            self.sent,
            self.resumed,
            self.empty,
            self.skipped,
            self.failed,
            self.deferred
        )
    }
}

/// Which people a cycle is for.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    /// Only people holding this role (and only its schedule).
    pub role: Option<String>,
    /// Only this person (weekly pacing ignored: asked for explicitly).
    pub person: Option<String>,
    /// Only this schedule key (a scheduled firing).
    pub schedule: Option<String>,
}

/// One schedule's part of a cycle: for whom, which schedule, and the period end.
struct ScheduleRun<'a> {
    audience: &'a Audience,
    schedule_key: &'a str,
    roles: &'a [Role],
    now: DateTime<Utc>,
}

/// What a schedule's run reads from the store once ([`Engine::load_run`]).
struct RunData {
    states: HashMap<String, PersonState>,
    overrides: HashMap<String, crate::store::DigestOverrides>,
    opted_out: HashSet<String>,
    last_sent: HashMap<String, DateTime<Utc>>,
    activity: crate::digest::Activity,
    excerpts: ExcerptCache,
    delivered_all: HashMap<String, HashSet<crate::model::PostId>>,
}

/// Everything a cycle needs that lives longer than one cycle.
pub struct Engine {
    /// The configuration in force.
    pub config: Config,
    /// Templates, loaded once.
    pub renderer: Renderer,
    /// Where messages go.
    pub outbound: Arc<Outbound>,
    /// Retry policy for transient transport errors.
    pub retry: RetryPolicy,
    /// Set to stop after the messages in flight.
    pub stop: Arc<AtomicBool>,
    /// systemd notifications (the watchdog itself follows [`crate::heartbeat`], which every
    /// send beats).
    pub notifier: crate::systemd_notify::Notifier,
    /// One-click unsubscribe (RFC 8058): https base URL and signing key, when configured.
    pub one_click: Option<(String, Arc<crate::http::Secret>)>,
    /// The preferences page in the footer: `[http]` base URL and signing key, when configured.
    pub preferences: Option<(String, Arc<crate::http::Secret>)>,
}

impl Engine {
    /// Builds an engine from a loaded config (loads templates, prepares the transport).
    pub fn new(config: Config) -> anyhow::Result<Engine> {
        let renderer = Renderer::load(&config.templates_dir).with_context(|| {
            format!("loading templates from {}", config.templates_dir.display())
        })?;
        let outbound =
            Outbound::from_config(&config.mail).context("preparing the mail transport")?;
        let one_click = one_click_settings(&config)?;
        let preferences = preferences_settings(&config)?;
        crate::worker::set_lease_secs(config.daemon.lease_seconds);
        Ok(Engine {
            config,
            renderer,
            outbound: Arc::new(outbound),
            retry: RetryPolicy::default(),
            stop: Arc::new(AtomicBool::new(false)),
            notifier: crate::systemd_notify::Notifier::disabled(),
            one_click,
            preferences,
        })
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn envelope_from(&self) -> String {
        envelope_address(&self.config.mail.from)
    }

    /// Runs one cycle for `audience` with the period ending at `now`.
    pub async fn run(
        &self,
        store: &mut Store,
        audience: &Audience,
        now: DateTime<Utc>,
    ) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        let (resumed, resumed_failed) = self.resume_pending(store).await?;
        report.resumed = resumed;
        report.failed += resumed_failed;

        for (schedule_key, roles) in self.schedules(audience) {
            if self.stopping() {
                break;
            }
            let run_id = store.start_run(&schedule_key, now, crate::worker::id())?;
            let part = self
                .run_schedule(store, audience, &schedule_key, &roles, now)
                .await?;
            store.finish_run(run_id, part.sent, part.failed)?;
            // The one summary line per digest run: ids (run, schedule, period end) and counts.
            tracing::info!(
                run = run_id,
                worker = %crate::worker::id(),
                schedule = %schedule_key,
                period_end = %now.format("%Y-%m-%dT%H:%M:%SZ"),
                people = part.people,
                sent = part.sent,
                empty = part.empty,
                skipped = part.skipped,
                failed = part.failed,
                deferred = part.deferred,
                "digest run finished"
            );
            report.people += part.people;
            report.sent += part.sent;
            report.empty += part.empty;
            report.skipped += part.skipped;
            report.failed += part.failed;
            report.deferred += part.deferred;
        }
        crate::metrics::METRICS.run_finished();
        if resumed + resumed_failed > 0 {
            tracing::info!(
                resumed,
                failed = resumed_failed,
                "resent digests left pending by an interrupted run"
            );
        }
        // The per-run lines above are the summary; this total is for debugging.
        tracing::debug!(%report, "digest cycle finished");
        Ok(report)
    }

    /// True when someone holds a role on the schedule `key` (a firing of it has people to
    /// serve and records itself).
    pub fn schedule_has_people(&self, key: &str) -> bool {
        let roles = self.schedules(&Audience {
            schedule: Some(key.to_owned()),
            ..Audience::default()
        });
        self.config.people.iter().any(|p| {
            roles
                .iter()
                .flat_map(|(_, rs)| rs)
                .any(|r| p.roles.contains(&r.name))
        })
    }

    /// The schedules this audience touches, each with the roles that share it.
    fn schedules(&self, audience: &Audience) -> Vec<(String, Vec<Role>)> {
        let mut by_key: Vec<(String, Vec<Role>)> = Vec::new();
        for role in &self.config.roles {
            if audience.role.as_deref().is_some_and(|r| r != role.name) {
                continue;
            }
            let key = role.schedule.key();
            if audience.schedule.as_deref().is_some_and(|s| s != key) {
                continue;
            }
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, roles)) => roles.push(role.clone()),
                None => by_key.push((key, vec![role.clone()])),
            }
        }
        by_key
    }

    async fn run_schedule(
        &self,
        store: &mut Store,
        audience: &Audience,
        schedule_key: &str,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> anyhow::Result<RunReport> {
        let role_names: HashSet<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        let wanted = audience
            .person
            .as_deref()
            .map(crate::model::normalize_email);
        let people: Vec<&Person> = self
            .config
            .people
            .iter()
            .filter(|p| wanted.as_deref().is_none_or(|w| p.email == w))
            .filter(|p| p.roles.iter().any(|r| role_names.contains(r.as_str())))
            .collect();
        if people.is_empty() {
            return Ok(RunReport::default());
        }
        let run = ScheduleRun {
            audience,
            schedule_key,
            roles,
            now,
        };
        if audience.person.is_some() {
            // One person asked for explicitly: no firing to share.
            let data = self.load_run(store, &run)?;
            return self.run_people(store, &run, &data, &people, None).await;
        }
        self.run_slices(store, &run, &people).await
    }

    /// What a schedule's run reads once, whichever of its people this worker serves.
    fn load_run(&self, store: &Store, run: &ScheduleRun<'_>) -> anyhow::Result<RunData> {
        let oldest = run.now - MAX_PERIOD;
        let all_roles: Vec<&Role> = run.roles.iter().collect();
        Ok(RunData {
            states: store.all_person_states()?,
            overrides: store.all_digest_overrides()?,
            opted_out: store.schedule_optouts(run.schedule_key)?,
            last_sent: store.last_sent_all(run.schedule_key)?,
            activity: crate::run_activity::load_activity(
                store,
                &self.config,
                &all_roles,
                oldest,
                run.now - HIGHLIGHT_LOOKBACK,
            )?,
            // Each post's excerpts are made once for the whole run, not once per person.
            excerpts: ExcerptCache::new(),
            delivered_all: store.delivered_posts_all(run.now - HIGHLIGHT_LOOKBACK)?,
        })
    }

    /// Selects, renders, records and sends the digests of `people` (a slice of the run's, or
    /// all of them), renewing this worker's lease on `slice` as it goes.
    async fn run_people(
        &self,
        store: &mut Store,
        run: &ScheduleRun<'_>,
        data: &RunData,
        people: &[&Person],
        mut slice: Option<&mut slices::SliceLease>,
    ) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        let (audience, roles, now) = (run.audience, run.roles, run.now);
        let empty_set = HashSet::new();
        let shared = Shared {
            schedule_key: run.schedule_key,
            activity: &data.activity,
            excerpts: &data.excerpts,
            now,
        };
        // Selection and rendering run on every core a stretch of people at a time; this thread
        // alone writes the ledger, in the people's order.
        let stretch = stretch_len(self.threads());
        let mut due: Vec<Due<'_>> = Vec::with_capacity(stretch);
        let mut batch: Vec<(i64, String, Vec<u8>)> = Vec::with_capacity(stretch);
        for &person in people {
            report.people += 1;
            if self.stopping() {
                break;
            }
            let state = data.states.get(&person.email);
            let mine = data.overrides.get(&person.email);
            let frequency = state
                .and_then(|s| s.frequency_override)
                .unwrap_or(person.frequency);
            if !is_reachable(frequency, state)
                || data.opted_out.contains(&person.email)
                || personal::paused_at(mine.and_then(|o| o.paused_until), now)
            {
                report.skipped += 1;
                continue;
            }
            let last = data.last_sent.get(&person.email).copied();
            if audience.person.is_none() && !is_due(frequency, last, now) {
                report.skipped += 1;
                continue;
            }
            let person_roles: Vec<&Role> = roles
                .iter()
                .filter(|r| person.roles.contains(&r.name))
                .collect();
            let template = person_roles
                .iter()
                .find_map(|r| r.template.clone())
                .unwrap_or_else(|| "digest".into());
            due.push(Due {
                person,
                roles: person_roles,
                period: period_for(frequency, last, now),
                delivered: data.delivered_all.get(&person.email).unwrap_or(&empty_set),
                template,
                excluded: mine.map(|o| &o.excluded_groups),
                locale: mine.and_then(|o| o.locale.as_deref()),
            });
            if due.len() >= stretch {
                self.record(store, &mut due, &shared, &mut batch, &mut report)?;
                if batch.len() >= BATCH {
                    self.send_batch(store, &mut batch, &mut report).await?;
                }
                if let Some(s) = slice.as_deref_mut() {
                    s.keep(store)?;
                }
            }
        }
        if !self.stopping() {
            self.record(store, &mut due, &shared, &mut batch, &mut report)?;
        }
        self.send_batch(store, &mut batch, &mut report).await?;
        Ok(report)
    }

    /// Selects and renders the digests of `due` (on every core), then records each in the ledger
    /// in order (this thread only) and queues it in `batch` for sending. A digest already
    /// recorded for its (person, schedule, period) is skipped: never twice.
    fn record(
        &self,
        store: &mut Store,
        due: &mut Vec<Due<'_>>,
        shared: &Shared<'_>,
        batch: &mut Vec<(i64, String, Vec<u8>)>,
        report: &mut RunReport,
    ) -> anyhow::Result<()> {
        let made = self.prepare_all(due, shared)?;
        let mut ready = Vec::with_capacity(made.len());
        for (d, made) in due.drain(..).zip(made) {
            match made {
                Made::Empty => report.empty += 1,
                Made::Ready(prepared) => ready.push((d.person.email.clone(), prepared.delivery)),
            }
        }
        // The stretch in one commit.
        let deliveries: Vec<&NewDelivery> = ready.iter().map(|(_, d)| d).collect();
        let ids = store.insert_pending_deliveries(&deliveries)?;
        for ((email, delivery), id) in ready.into_iter().zip(ids) {
            match id {
                Some(id) => batch.push((id, email, delivery.raw)),
                None => report.skipped += 1,
            }
        }
        Ok(())
    }

    fn limits(&self) -> SelectLimits {
        SelectLimits {
            max_threads: self.config.digest.max_threads,
            max_highlights: self.config.digest.max_highlights,
            max_questions: self.config.digest.max_questions,
            unanswered_after: self.config.digest.unanswered_after,
        }
    }

    /// Renders `digest` into a complete message with fresh reply tokens (nothing stored).
    /// `excerpts` is the run's excerpt cache (`None`: made for this digest only).
    pub fn prepare(
        &self,
        digest: &Digest,
        template: &str,
        now: DateTime<Utc>,
        excerpts: Option<&ExcerptCache>,
    ) -> anyhow::Result<Prepared> {
        let cfg = &self.config;
        let expires = now + Duration::days(cfg.digest.token_days);
        let mut reply_tokens: HashMap<ThreadId, ReplyToken> = HashMap::new();
        let mut grants = Vec::new();
        let thread_ids = digest
            .threads
            .iter()
            .map(|t| t.thread.id)
            .chain(digest.highlights.iter().map(|h| h.thread.id))
            .chain(digest.questions.iter().map(|q| q.thread.id));
        for thread_id in thread_ids {
            reply_tokens.entry(thread_id).or_insert_with(|| {
                let token = ReplyToken::generate();
                grants.push(ReplyGrant {
                    token: token.clone(),
                    person_email: digest.person.email.clone(),
                    thread_id: Some(thread_id),
                    expires,
                });
                token
            });
        }
        let command_token = ReplyToken::generate();
        grants.push(ReplyGrant {
            token: command_token.clone(),
            person_email: digest.person.email.clone(),
            thread_id: None,
            expires,
        });
        let unsubscribe_address = format!(
            "unsubscribe+{}@{}",
            command_token.as_str(),
            cfg.mail.reply_domain
        );
        let unsubscribe_mailto = format!("mailto:{unsubscribe_address}?subject=unsubscribe");
        let group_names: HashMap<String, String> = cfg
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.name.clone()))
            .collect();
        let preferences_url = self.preferences.as_ref().map(|(base, secret)| {
            crate::http::preferences_url(base, secret, &digest.person.email, now)
        });
        let role_titles: HashMap<String, crate::model::LocalText> = cfg
            .roles
            .iter()
            .filter_map(|r| Some((r.name.clone(), r.title.clone()?)))
            .collect();
        let ctx = RenderContext {
            organisation: &cfg.organisation,
            group_names: &group_names,
            reply_domain: &cfg.mail.reply_domain,
            reply_tokens: &reply_tokens,
            unsubscribe_mailto: &unsubscribe_mailto,
            excerpt_chars: cfg.digest.excerpt_chars,
            excerpts,
            template,
            preferences_url: preferences_url.as_deref(),
            role_titles: &role_titles,
        };
        let rendered = self.renderer.render(digest, &ctx)?;
        let one_click_url = self.one_click.as_ref().map(|(base, secret)| {
            crate::http::unsubscribe_url(base, secret, &digest.person.email, &digest.schedule)
        });
        let message_id = outbound::new_message_id(&cfg.mail.reply_domain);
        // A reply to the digest as a whole reaches digestd, which answers with the item links.
        let reply_to = format!("digest@{}", cfg.mail.reply_domain);
        let built = outbound::build_digest(&outbound::DigestMessage {
            from: &cfg.mail.from,
            envelope_from: None,
            to_name: &digest.person.name,
            to_email: &digest.person.email,
            subject: &rendered.subject,
            text: &rendered.text,
            html: &rendered.html,
            message_id: &message_id,
            date: now,
            list_id: &cfg.mail.list_id,
            list_name: &cfg.organisation,
            list_unsubscribe_mailto: &unsubscribe_address,
            list_unsubscribe_url: one_click_url.as_deref(),
            reply_to: Some(&reply_to),
        })?;
        Ok(Prepared {
            text: rendered.text,
            html: rendered.html,
            delivery: NewDelivery {
                person_email: digest.person.email.clone(),
                schedule: digest.schedule.clone(),
                period_end: digest.period.end,
                message_id: built.message_id,
                raw: built.raw,
                post_ids: digest.post_ids(),
                grants,
                highlights: digest
                    .highlights
                    .iter()
                    .map(|h| crate::store::SentHighlight {
                        post_id: h.post.id,
                        role: h.role.clone(),
                    })
                    .collect(),
            },
        })
    }
}

/// A rendered digest ready to record and send.
pub struct Prepared {
    /// The text part (for preview).
    pub text: String,
    /// The HTML part (for preview).
    pub html: String,
    /// The ledger row to write before sending.
    pub delivery: NewDelivery,
}

/// The one-click unsubscribe base URL and key, when `[http]` has an https `public_url` and a
/// `secret_file` (RFC 8058 requires https; without them digests carry only the mailto).
fn one_click_settings(
    config: &Config,
) -> anyhow::Result<Option<(String, Arc<crate::http::Secret>)>> {
    let Some(http) = &config.http else {
        return Ok(None);
    };
    let Some(secret) = http.load_secret().context("reading [http] secret_file")? else {
        return Ok(None);
    };
    let base = http.public_base();
    if !base.starts_with("https://") {
        tracing::warn!(%base, "[http] public_url is not https: digests carry only the mailto unsubscribe");
        return Ok(None);
    }
    Ok(Some((base, Arc::new(secret))))
}

/// The preferences link's base URL and key, when `[http]` has a `secret_file` (the page works
/// over plain http on loopback too; in production `public_url` is the https proxy in front).
fn preferences_settings(
    config: &Config,
) -> anyhow::Result<Option<(String, Arc<crate::http::Secret>)>> {
    let Some(http) = &config.http else {
        return Ok(None);
    };
    let secret = http.load_secret().context("reading [http] secret_file")?;
    Ok(secret.map(|s| (http.public_base(), Arc::new(s))))
}

/// The bare address of a mailbox such as `Digests <digest@example.org>` (envelope sender).
fn envelope_address(mailbox: &str) -> String {
    mailbox
        .parse::<lettre::message::Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_else(|_| mailbox.trim().to_owned())
}

/// False when the person opted out, paused, or their address bounces.
fn is_reachable(frequency: Frequency, state: Option<&PersonState>) -> bool {
    frequency != Frequency::Off && !state.is_some_and(|s| s.paused || s.unsubscribed || s.bouncing)
}

/// True when a person at `frequency`, last served at `last`, is due at `now`.
pub fn is_due(frequency: Frequency, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match (frequency, last) {
        (Frequency::Off, _) => false,
        (_, None) | (Frequency::Daily, _) => true,
        (Frequency::Weekly, Some(last)) => now - last >= WEEKLY_GAP,
    }
}

/// The period a digest covers: back to the last digest or one frequency window, whichever is
/// earlier, so posts collected late (a forum that was down) are still found. Posts already
/// delivered are excluded by selection, so a long period never repeats anything.
pub fn period_for(frequency: Frequency, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Period {
    let window_start = now - frequency.window();
    let start = last.map_or(window_start, |l| l.min(window_start).max(now - MAX_PERIOD));
    Period { start, end: now }
}

/// Runs one cycle now for everyone due (or one role / one person), collecting first.
pub fn send_now(
    config: &Config,
    role: Option<&str>,
    person: Option<&str>,
) -> anyhow::Result<RunReport> {
    if let Some(r) = role {
        anyhow::ensure!(
            config.role(r).is_some(),
            "no role named {r:?} in {}",
            config.source.display()
        );
    }
    if let Some(p) = person {
        anyhow::ensure!(
            config.person(p).is_some(),
            "no person {p:?} in {}",
            config.source.display()
        );
    }
    let mut store = open_synced_store(config)?;
    let collected = crate::collect::collect_all(config, &mut store)?;
    tracing::info!(%collected, "collected");
    let engine = Engine::new(config.clone())?;
    let audience = Audience {
        role: role.map(str::to_owned),
        person: person.map(str::to_owned),
        schedule: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(engine.run(&mut store, &audience, Utc::now()))
}

/// Opens the store and brings its groups and people in line with the config.
pub fn open_synced_store(config: &Config) -> anyhow::Result<Store> {
    let mut store = Store::open_at(&config.store_location())
        .with_context(|| format!("opening the store {}", config.store_location().display()))?;
    store.sync_groups(&config.groups)?;
    store.sync_people(&config.people)?;
    Ok(store)
}
