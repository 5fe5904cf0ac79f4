//! The ambassadors' weekly nudge: each ambassador gets one mail listing their groups'
//! unanswered questions and newcomers' first posts, each with its reply link, on the
//! `[ambassadors]` schedule.
//!
//! It goes the digests' way: rendered from the `nudge` template pair in the person's locale,
//! built with the same headers, recorded in the deliveries ledger as pending before it is sent
//! (schedule key [`schedule_key`], period end the schedule's latest firing), so it is never
//! sent twice in one period and a crash loses none. Each item's reply token also records the
//! post it stands for, so a `highlight` reply nominates that post.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::{json, Value};

use crate::delivery_run::{Engine, RunReport};
use crate::digest::nudge::{self, NudgeGroup, NudgeItem};
use crate::model::{Person, ReplyGrant, ReplyToken, Schedule, Thread, ThreadId};
use crate::outbound;
use crate::render::content::{header_safe, post_excerpt, safe_url};
use crate::render::excerpt::excerpt_html;
use crate::render::reply_mailto;
use crate::store::{NewDelivery, Store};

/// Prefix of the nudge's schedule key in the ledger and in firings.
pub const SCHEDULE_PREFIX: &str = "ambassadors:";

/// How far back newcomers' first posts are listed (a week: the nudge is weekly).
const NEWCOMER_WINDOW: Duration = Duration::days(7);
/// How far back unanswered questions are looked for.
const QUESTION_WINDOW: Duration = Duration::days(30);

/// The template pair of the nudge.
pub const TEMPLATE: &str = "nudge";

/// The ledger's and the scheduler's key of the nudge schedule.
pub fn schedule_key(schedule: &Schedule) -> String {
    format!("{SCHEDULE_PREFIX}{}", schedule.key())
}

/// The period a nudge made at `now` belongs to: the schedule's latest firing at or before
/// `now` (or `now` when it cannot be worked out).
pub fn period_end(schedule: &Schedule, now: DateTime<Utc>) -> DateTime<Utc> {
    let Ok(cron) = crate::config::parse_cron(&schedule.cron) else {
        return now;
    };
    // Whole seconds: the search keeps the sub-second part of where it started.
    let now = now.with_nanosecond(0).unwrap_or(now);
    let local = now.with_timezone(&schedule.time_zone);
    cron.find_previous_occurrence(&local, true)
        .map(|t| t.with_timezone(&Utc))
        .map(|t| t.with_nanosecond(0).unwrap_or(t))
        .unwrap_or(now)
}

impl Engine {
    /// Sends the nudge of the period holding `now` to every ambassador who has not had it yet
    /// and has something in it (paused, unsubscribed, bouncing or opted-out people are skipped).
    pub async fn run_nudges(
        &self,
        store: &mut Store,
        now: DateTime<Utc>,
    ) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        let cfg = &self.config;
        let ambassadors = cfg.ambassadors.ambassadors();
        if ambassadors.is_empty() {
            return Ok(report);
        }
        anyhow::ensure!(
            self.renderer.has_template(TEMPLATE),
            "no nudge template pair (nudge.html.hbs, nudge.txt.hbs) in {}",
            self.renderer.dir().display()
        );
        let key = schedule_key(&cfg.ambassadors.schedule);
        let end = period_end(&cfg.ambassadors.schedule, now);
        let groups: Vec<String> = cfg.ambassadors.by_group.keys().cloned().collect();
        let since = now - QUESTION_WINDOW;
        let (threads, posts) = store.load_activity(&groups, since, &[], now, u32::MAX)?;
        // Only threads opened in the window have all their posts loaded.
        let threads: Vec<Thread> = threads.into_iter().filter(|t| t.created > since).collect();
        let mut by_id: HashMap<ThreadId, Thread> =
            threads.iter().map(|t| (t.id, t.clone())).collect();
        let states = store.all_person_states()?;
        let opted_out = store.schedule_optouts(&key)?;
        let run_id = store.start_run(&key, end, crate::worker::id())?;
        let mut batch = Vec::new();
        for (email, their_groups) in ambassadors {
            report.people += 1;
            let Some(person) = cfg.person(email) else {
                report.skipped += 1;
                continue;
            };
            let state = states.get(email);
            if state.is_some_and(|s| s.paused || s.unsubscribed || s.bouncing)
                || opted_out.contains(email)
            {
                report.skipped += 1;
                continue;
            }
            let mut parts = Vec::new();
            for g in their_groups {
                let questions = nudge::unanswered_questions(g, &threads, &posts, email, now);
                let first = store.first_posts_in_group(g, now - NEWCOMER_WINDOW, now)?;
                for p in &first {
                    if !by_id.contains_key(&p.thread_id) {
                        if let Some(t) = store.thread(p.thread_id)? {
                            by_id.insert(t.id, t);
                        }
                    }
                }
                let mut newcomers = nudge::newcomers(&first, &by_id, email, now);
                // A newcomer's question is listed once, among the questions.
                newcomers.retain(|n| !questions.iter().any(|q| q.post.id == n.post.id));
                let (questions, more_questions) = nudge::capped(questions);
                let (newcomers, more_newcomers) = nudge::capped(newcomers);
                let part = NudgeGroup {
                    group_id: g.to_string(),
                    group_name: cfg
                        .group(g)
                        .map_or_else(|| g.to_string(), |x| x.name.clone()),
                    questions,
                    more_questions,
                    newcomers,
                    more_newcomers,
                };
                if !part.is_empty() {
                    parts.push(part);
                }
            }
            if parts.is_empty() {
                report.empty += 1;
                continue;
            }
            let (delivery, items) = self.prepare_nudge(person, &parts, &key, end, now)?;
            let Some(id) = store.insert_pending_delivery(&delivery)? else {
                // Already recorded for this period: never twice.
                report.skipped += 1;
                continue;
            };
            for (token, post) in items {
                store.set_token_post(&token, post)?;
            }
            batch.push((id, person.email.clone(), delivery.raw));
        }
        self.send_batch(store, &mut batch, &mut report).await?;
        store.finish_run(run_id, report.sent, report.failed)?;
        tracing::info!(
            run = run_id,
            schedule = %key,
            people = report.people,
            sent = report.sent,
            empty = report.empty,
            skipped = report.skipped,
            failed = report.failed,
            "ambassador nudges finished"
        );
        Ok(report)
    }

    /// Renders and builds one ambassador's nudge: the ledger row, and each item's token with
    /// the post it stands for.
    fn prepare_nudge(
        &self,
        person: &Person,
        parts: &[NudgeGroup],
        key: &str,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(NewDelivery, Vec<(ReplyToken, i64)>)> {
        let cfg = &self.config;
        let expires = now + Duration::days(cfg.digest.token_days);
        let locale = self.renderer.locales().resolve(&person.locale).to_string();
        let table = self.renderer.locales().table(&locale);
        let mut grants = Vec::new();
        let mut items = Vec::new();
        let mut item_value = |i: &NudgeItem, group: &str| -> Value {
            let token = ReplyToken::generate();
            grants.push(ReplyGrant {
                token: token.clone(),
                person_email: person.email.clone(),
                thread_id: Some(i.thread.id),
                expires,
            });
            let reply_url = reply_mailto(&token, &cfg.mail.reply_domain, &i.thread.title);
            items.push((token, i.post.id));
            json!({
                "group": header_safe(group),
                "title": header_safe(&i.thread.title),
                "author": header_safe(&i.post.author_name),
                "date": table.date(i.post.created, person.time_zone),
                "waiting_days": i.days,
                "excerpt": post_excerpt(&i.post, cfg.digest.excerpt_chars),
                "excerpt_html": excerpt_html(&i.post, cfg.digest.excerpt_chars),
                "url": safe_url(&i.post.url).or_else(|| safe_url(&i.thread.url)),
                "reply_url": reply_url,
            })
        };
        let mut count = 0;
        let groups: Vec<Value> = parts
            .iter()
            .map(|g| {
                count += g.questions.len() + g.more_questions;
                count += g.newcomers.len() + g.more_newcomers;
                let questions: Vec<Value> = g
                    .questions
                    .iter()
                    .map(|i| item_value(i, &g.group_name))
                    .collect();
                let newcomers: Vec<Value> = g
                    .newcomers
                    .iter()
                    .map(|i| item_value(i, &g.group_name))
                    .collect();
                json!({
                    "id": g.group_id,
                    "name": header_safe(&g.group_name),
                    "questions": questions,
                    "more_questions": g.more_questions,
                    "newcomers": newcomers,
                    "more_newcomers": g.more_newcomers,
                })
            })
            .collect();
        let value = json!({
            "locale": locale,
            "organisation": header_safe(&cfg.organisation),
            "name": header_safe(&person.name),
            "groups": groups,
        });
        let (text, html) = self
            .renderer
            .render_value(TEMPLATE, value)
            .context("rendering an ambassador's nudge")?;
        let count_text = count.to_string();
        let subject_key = if count == 1 {
            "nudge_subject_one"
        } else {
            "nudge_subject"
        };
        let subject = header_safe(&format!(
            "{}: {}",
            cfg.organisation,
            table.text(subject_key, &[("count", &count_text)])
        ));
        let command_token = ReplyToken::generate();
        grants.push(ReplyGrant {
            token: command_token.clone(),
            person_email: person.email.clone(),
            thread_id: None,
            expires,
        });
        let unsubscribe_address = format!(
            "unsubscribe+{}@{}",
            command_token.as_str(),
            cfg.mail.reply_domain
        );
        let one_click_url = self
            .one_click
            .as_ref()
            .map(|(base, secret)| crate::http::unsubscribe_url(base, secret, &person.email, key));
        let message_id = outbound::new_message_id(&cfg.mail.reply_domain);
        let reply_to = format!("digest@{}", cfg.mail.reply_domain);
        let built = outbound::build_digest(&outbound::DigestMessage {
            from: &cfg.mail.from,
            envelope_from: None,
            to_name: &person.name,
            to_email: &person.email,
            subject: &subject,
            text: &text,
            html: &html,
            message_id: &message_id,
            date: now,
            list_id: &cfg.mail.list_id,
            list_name: &cfg.organisation,
            list_unsubscribe_mailto: &unsubscribe_address,
            list_unsubscribe_url: one_click_url.as_deref(),
            reply_to: Some(&reply_to),
        })?;
        Ok((
            NewDelivery {
                person_email: person.email.clone(),
                schedule: key.to_string(),
                period_end: end,
                message_id: built.message_id,
                raw: built.raw,
                post_ids: Vec::new(),
                grants,
                highlights: Vec::new(),
            },
            items,
        ))
    }
}

/// `digestd nudge`: sends the nudges of the period holding `now` (collecting first).
pub fn nudge_now(config: &crate::config::Config, now: DateTime<Utc>) -> anyhow::Result<RunReport> {
    let mut store = crate::delivery_run::open_synced_store(config)?;
    crate::collect::collect_all(config, &mut store)?;
    let engine = Engine::new(config.clone())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        engine.resume_pending(&mut store).await?;
        engine.run_nudges(&mut store, now).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_the_latest_firing_in_the_schedules_zone() {
        let schedule = Schedule {
            cron: "0 0 9 * * Mon".into(),
            time_zone: chrono_tz::Europe::Amsterdam,
        };
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        let monday_nine = at("2026-11-30T08:00:00Z");
        assert_eq!(
            period_end(&schedule, at("2026-12-06T14:37:12.345Z")),
            monday_nine
        );
        assert_eq!(
            period_end(&schedule, at("2026-11-30T08:00:00Z")),
            monday_nine
        );
        assert_eq!(
            period_end(&schedule, at("2026-11-30T07:59:59Z")),
            at("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            schedule_key(&schedule),
            "ambassadors:0 0 9 * * Mon@Europe/Amsterdam"
        );
    }
}
