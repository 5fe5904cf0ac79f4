//! `digestd preview`: one person's digest rendered as the next run would make it (their
//! preferences page settings applied), with nothing recorded or sent.

use std::collections::HashSet;

use anyhow::Context;
use chrono::Utc;

use super::{open_synced_store, period_for, Audience, Engine, HIGHLIGHT_LOOKBACK, MAX_PERIOD};
use crate::config::Config;
use crate::digest::personal;
use crate::digest::select::select;
use crate::model::{Frequency, Role};

/// Renders what `person` would get now (text, or HTML), recording and sending nothing. With
/// `include_sent`, as if nothing had been sent to them yet: their last frequency window, posts
/// already delivered included. Reply links in a preview carry tokens that are not stored, so they
/// do not work.
///
/// A person whose roles run on several schedules gets one digest per schedule: the text shows
/// each under a `== schedule … ==` line; `--html` (one document) needs `role` to pick the
/// schedule of one of their roles.
pub fn preview(
    config: &Config,
    person: &str,
    html: bool,
    include_sent: bool,
    role: Option<&str>,
) -> anyhow::Result<String> {
    let person = config
        .person(person)
        .with_context(|| format!("no person {person:?} in {}", config.source.display()))?;
    if let Some(role) = role {
        anyhow::ensure!(
            person.roles.iter().any(|r| r == role),
            "{} does not have the role {role:?} (their roles: {})",
            person.email,
            person.roles.join(", ")
        );
    }
    let engine = Engine::new(config.clone())?;
    // The whole digest of the chosen role's schedule: with the person's other roles on it.
    let mut schedules = engine.schedules(&Audience::default());
    schedules.retain(|(_, roles)| {
        roles.iter().any(|r| person.roles.contains(&r.name))
            && role.is_none_or(|chosen| roles.iter().any(|r| r.name == chosen))
    });
    anyhow::ensure!(
        !schedules.is_empty(),
        "no schedule sends digests to {} (their roles: {})",
        person.email,
        person.roles.join(", ")
    );
    if html && schedules.len() > 1 {
        let each: Vec<String> = schedules
            .iter()
            .map(|(key, roles)| {
                let mine: Vec<&str> = roles
                    .iter()
                    .filter(|r| person.roles.contains(&r.name))
                    .map(|r| r.name.as_str())
                    .collect();
                format!("{key:?} (role {})", mine.join(", "))
            })
            .collect();
        anyhow::bail!(
            "{} gets {} digests, one per schedule: {}; pass --role to pick one for --html",
            person.email,
            schedules.len(),
            each.join("; ")
        );
    }
    let several = schedules.len() > 1;
    let mut store = open_synced_store(config)?;
    crate::collect::collect_all(config, &mut store)?;
    let now = Utc::now();
    let mine = store.all_digest_overrides()?.remove(&person.email);
    let speaking = mine
        .as_ref()
        .and_then(|o| personal::with_locale(person, o.locale.as_deref()));
    let mut out = String::new();
    for (key, roles) in schedules {
        let person_roles: Vec<&Role> = roles
            .iter()
            .filter(|r| person.roles.contains(&r.name))
            .collect();
        let kept = mine
            .as_ref()
            .and_then(|o| personal::without_groups(&person_roles, &o.excluded_groups));
        let person_roles: Vec<&Role> = kept.as_ref().map_or(person_roles, |k| k.iter().collect());
        let last = if include_sent {
            None
        } else {
            store.last_sent(&person.email, &key)?
        };
        let frequency = if person.frequency == Frequency::Off {
            Frequency::Weekly
        } else {
            person.frequency
        };
        let period = period_for(frequency, last, now);
        let activity = crate::run_activity::load_activity(
            &store,
            config,
            &person_roles,
            period.start.min(now - MAX_PERIOD),
            now - HIGHLIGHT_LOOKBACK,
        )?;
        let delivered = if include_sent {
            HashSet::new()
        } else {
            store.delivered_posts(&person.email, now - HIGHLIGHT_LOOKBACK)?
        };
        let digest = select(
            speaking.as_ref().unwrap_or(person),
            &person_roles,
            &key,
            period,
            &activity,
            &delivered,
            &engine.limits(),
        );
        let template = person_roles
            .iter()
            .find_map(|r| r.template.clone())
            .unwrap_or_else(|| "digest".into());
        let prepared = engine.prepare(&digest, &template, now, None)?;
        if several {
            out.push_str(&format!("== schedule {key} ==\n"));
        }
        out.push_str(if html { &prepared.html } else { &prepared.text });
    }
    Ok(out)
}
