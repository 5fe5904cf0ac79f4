//! `digestd cpd`: a person's CPD (continuing professional development) record, or everyone's
//! for an admin: training highlights delivered, threads replied to (by email or on the forum)
//! and questions answered, by date, as readable text or CSV.
//!
//! Days are whole days in the person's time zone (`--person`) or in UTC (`--all`), `--to`
//! included. The store gives the facts (`store::cpd`), [`record`] makes the entries.

pub mod record;

use std::collections::HashMap;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::model::normalize_email;
use crate::store::Store;
use record::{Entry, EntryKind};

/// Whose record, which days, which format.
#[derive(Debug, Clone)]
pub struct CpdRequest {
    /// One person's address; `None`: everyone (the admin export).
    pub person: Option<String>,
    /// First day.
    pub from: NaiveDate,
    /// Last day (included).
    pub to: NaiveDate,
    /// CSV instead of readable text.
    pub csv: bool,
}

/// The record asked for, ready to print.
pub fn cpd(config: &Config, req: &CpdRequest) -> anyhow::Result<String> {
    if req.to < req.from {
        bail!(
            "--to {} is before --from {}: give the first day, then the last",
            req.to,
            req.from
        );
    }
    let person = match &req.person {
        Some(email) => {
            let email = normalize_email(email);
            let p = config
                .people
                .iter()
                .find(|p| p.email == email)
                .with_context(|| format!("no person {email} in {}", config.source.display()))?;
            Some(p)
        }
        None => None,
    };
    let tz: Tz = person.map_or(chrono_tz::UTC, |p| p.time_zone);
    let from = day_start(req.from, tz)?;
    let to = day_start(
        req.to
            .succ_opt()
            .context("--to is the last day chrono knows")?,
        tz,
    )?;
    let store = Store::open(&config.store_path).context("opening the store")?;
    let who = person.map(|p| p.email.as_str());
    let posts = store.cpd_posts(who, from, to)?;
    let highlights = store.cpd_highlights(who, from, to)?;
    let entries = record::entries(&posts, &highlights);
    let names = Names::new(config);
    if req.csv {
        csv(&entries, &names)
    } else {
        let title = match person {
            Some(p) => format!("CPD record of {} <{}>", p.name, p.email),
            None => "CPD records of everyone".to_string(),
        };
        Ok(text(&title, config, req, tz, &entries, &names))
    }
}

/// Midnight starting `day` in `tz`, in UTC (the first instant of the day after a DST gap).
fn day_start(day: NaiveDate, tz: Tz) -> anyhow::Result<DateTime<Utc>> {
    let midnight = day.and_hms_opt(0, 0, 0).context("midnight")?;
    let local = tz
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .with_context(|| format!("{day} has no midnight in {tz}"))?;
    Ok(local.with_timezone(&Utc))
}

/// Display names of people, groups and roles from the config.
struct Names<'a> {
    people: HashMap<&'a str, (&'a str, Tz)>,
    groups: HashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    fn new(config: &'a Config) -> Names<'a> {
        Names {
            people: config
                .people
                .iter()
                .map(|p| (p.email.as_str(), (p.name.as_str(), p.time_zone)))
                .collect(),
            groups: config
                .groups
                .iter()
                .map(|g| (g.id.as_str(), g.name.as_str()))
                .collect(),
        }
    }

    fn person(&self, email: &'a str) -> &'a str {
        self.people.get(email).map_or(email, |p| p.0)
    }

    fn tz(&self, email: &str) -> Tz {
        self.people.get(email).map_or(chrono_tz::UTC, |p| p.1)
    }

    fn group(&self, id: &'a str) -> &'a str {
        self.groups.get(id).copied().unwrap_or(id)
    }
}

fn text(
    title: &str,
    config: &Config,
    req: &CpdRequest,
    tz: Tz,
    entries: &[Entry],
    names: &Names<'_>,
) -> String {
    let (highlights, replies, answers, by_email) = record::totals(entries);
    let mut out = format!(
        "{title}\n{} · {} to {} (days in {tz})\n\
         training highlights delivered: {highlights} · threads replied to: {} ({by_email} by email) \
         · questions answered: {answers}\n",
        config.organisation,
        req.from,
        req.to,
        replies + answers,
    );
    if entries.is_empty() {
        out.push_str("\nNothing recorded in these days.\n");
        return out;
    }
    out.push('\n');
    for e in entries {
        let day =
            e.at.with_timezone(&names.tz(&e.person_email))
                .format("%Y-%m-%d");
        let who = if req.person.is_none() {
            format!("{}  ", names.person(&e.person_email))
        } else {
            String::new()
        };
        let how = match e.kind {
            EntryKind::Highlight => format!("for role {}", e.detail),
            _ if e.detail == "email" => "by email".to_string(),
            _ => "on the forum".to_string(),
        };
        out.push_str(&format!(
            "{day}  {who}{:<20} {} · {} ({how})\n            {}\n",
            e.kind.label(),
            names.group(&e.group_id),
            one_line(&e.title),
            e.url
        ));
    }
    out
}

fn csv(entries: &[Entry], names: &Names<'_>) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "date", "email", "name", "kind", "group", "thread", "url", "via", "role", "posts",
    ])?;
    for e in entries {
        let day =
            e.at.with_timezone(&names.tz(&e.person_email))
                .format("%Y-%m-%d")
                .to_string();
        let (via, role) = match e.kind {
            EntryKind::Highlight => ("", e.detail.as_str()),
            _ => (e.detail.as_str(), ""),
        };
        w.write_record([
            day.as_str(),
            e.person_email.as_str(),
            names.person(&e.person_email),
            e.kind.as_str(),
            names.group(&e.group_id),
            one_line(&e.title).as_str(),
            e.url.as_str(),
            via,
            role,
            e.posts.to_string().as_str(),
        ])?;
    }
    let bytes = w.into_inner().context("writing the CSV")?;
    String::from_utf8(bytes).context("the CSV is not UTF-8")
}

/// `s` on one line (forum titles are untrusted text).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
