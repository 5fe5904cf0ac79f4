//! What a person sets on the preferences page (`http::prefs`), as the store keeps it: a pause
//! that ends on a date (`people.paused_until`), a language over the config's
//! (`people.locale_override`), the groups of their roles they leave out (`group_exclusions`),
//! and, through the tables that already hold them, their cadence (`frequency_override`) and the
//! schedules they opted out of (`schedule_optouts`).
//!
//! Like the email commands' state, all of it survives [`Store::sync_people`]: config stays the
//! source of truth for roles and groups, and an exclusion of a group a person's roles no longer
//! follow simply has nothing left to exclude.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::db::{params, Exec};
use super::engagement::record_person_event;
use super::{Store, StoreError};
use crate::model::{normalize_email, Frequency, GroupId};
use crate::report::facts::PersonEventKind;

/// The per-person settings the digest run applies on top of config (everyone's are loaded once
/// per run with [`Store::all_digest_overrides`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DigestOverrides {
    /// No digests before this instant.
    pub paused_until: Option<DateTime<Utc>>,
    /// Locale chosen on the page, over the config's.
    pub locale: Option<String>,
    /// Groups left out of this person's digests.
    pub excluded_groups: HashSet<GroupId>,
}

/// Everything the preferences page shows of one person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredPreferences {
    /// Cadence chosen (by email or on the page), over the config's.
    pub frequency_override: Option<Frequency>,
    /// Paused by the `pause` command (until `resume`).
    pub paused: bool,
    /// Unsubscribed from everything.
    pub unsubscribed: bool,
    /// The overrides the digest run applies.
    pub overrides: DigestOverrides,
    /// Schedule keys this person opted out of.
    pub opted_out_schedules: BTreeSet<String>,
}

/// One save of the preferences form, already checked against what the person may choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceChange {
    /// The cadence (`None`: the config's).
    pub frequency: Option<Frequency>,
    /// Pause until this instant (`None`: no dated pause).
    pub paused_until: Option<DateTime<Utc>>,
    /// Also end a `pause` command's open-ended pause.
    pub resume: bool,
    /// The language (`None`: the config's).
    pub locale: Option<String>,
    /// Groups to leave out (replaces the person's exclusions).
    pub excluded_groups: BTreeSet<GroupId>,
    /// The schedules the form offered (opt-outs of other schedules are left as they are).
    pub offered_schedules: BTreeSet<String>,
    /// Of those, the ones the person does not want.
    pub opted_out_schedules: BTreeSet<String>,
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn from_nanos(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}

impl Store {
    /// What the preferences page shows of `email` (`None`: not in the store).
    pub fn preferences(&self, email: &str) -> Result<Option<StoredPreferences>, StoreError> {
        let email = normalize_email(email);
        self.db.read(|db| {
            let row = db.query_opt(
                "SELECT frequency_override, paused, unsubscribed, paused_until, locale_override
                 FROM people WHERE email = ?1",
                params![email],
                |r| {
                    Ok((
                        r.get::<Option<String>>(0)?,
                        r.get::<bool>(1)?,
                        r.get::<bool>(2)?,
                        r.get::<Option<i64>>(3)?,
                        r.get::<Option<String>>(4)?,
                    ))
                },
            )?;
            let Some((frequency, paused, unsubscribed, paused_until, locale)) = row else {
                return Ok(None);
            };
            let excluded_groups: HashSet<String> = db
                .query_map(
                    "SELECT group_id FROM group_exclusions WHERE email = ?1",
                    params![email],
                    |r| r.get(0),
                )?
                .into_iter()
                .collect();
            let opted_out_schedules: BTreeSet<String> = db
                .query_map(
                    "SELECT schedule FROM schedule_optouts WHERE email = ?1",
                    params![email],
                    |r| r.get(0),
                )?
                .into_iter()
                .collect();
            Ok(Some(StoredPreferences {
                frequency_override: frequency.as_deref().and_then(parse_frequency),
                paused,
                unsubscribed,
                overrides: DigestOverrides {
                    paused_until: paused_until.map(from_nanos),
                    locale,
                    excluded_groups,
                },
                opted_out_schedules,
            }))
        })
    }

    /// Saves one preferences form in one transaction. Returns false (nothing changed) when the
    /// person is not in the store.
    pub fn save_preferences(
        &mut self,
        email: &str,
        change: &PreferenceChange,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let email = normalize_email(email);
        self.db.write(|tx| {
            let before: Option<(bool, Option<i64>)> = tx.query_opt(
                "SELECT paused, paused_until FROM people WHERE email = ?1",
                params![email],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some((was_paused, was_until)) = before else {
                return Ok(false);
            };
            let was_dated = was_until.is_some_and(|u| from_nanos(u) > now);
            let updated = tx.execute(
                "UPDATE people SET frequency_override = ?2, paused_until = ?3,
                    locale_override = ?4,
                    paused = CASE WHEN ?5 = 1 THEN 0 ELSE paused END
                 WHERE email = ?1",
                params![
                    email,
                    change.frequency.map(|f| f.to_string()),
                    change.paused_until.map(nanos),
                    change.locale,
                    change.resume
                ],
            )?;
            if updated == 0 {
                return Ok(false);
            }
            // The engagement report counts pauses: a dated pause begun or ended here is one too.
            if let Some(until) = change.paused_until.filter(|_| !was_dated) {
                let detail = format!("until {}", until.format("%Y-%m-%dT%H:%M:%SZ"));
                record_person_event(tx, &email, PersonEventKind::Pause, &detail)?;
            } else if (was_dated && change.paused_until.is_none()) || (was_paused && change.resume)
            {
                record_person_event(tx, &email, PersonEventKind::Resume, "")?;
            }
            tx.execute(
                "DELETE FROM group_exclusions WHERE email = ?1",
                params![email],
            )?;
            for g in &change.excluded_groups {
                tx.execute(
                    "INSERT INTO group_exclusions (email, group_id, created) VALUES (?1, ?2, ?3)",
                    params![email, g, nanos(now)],
                )?;
            }
            for s in &change.offered_schedules {
                if change.opted_out_schedules.contains(s) {
                    Store::opt_out_of_schedule(tx, &email, s)?;
                } else {
                    tx.execute(
                        "DELETE FROM schedule_optouts WHERE email = ?1 AND schedule = ?2",
                        params![email, s],
                    )?;
                }
            }
            Ok(true)
        })
    }

    /// Everyone's [`DigestOverrides`] that differ from the default, by normalised address.
    pub fn all_digest_overrides(&self) -> Result<HashMap<String, DigestOverrides>, StoreError> {
        self.db.read(|db| {
            let mut out: HashMap<String, DigestOverrides> = HashMap::new();
            let rows = db.query_map(
                "SELECT email, paused_until, locale_override FROM people
                 WHERE paused_until IS NOT NULL OR locale_override IS NOT NULL",
                params![],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<Option<i64>>(1)?,
                        r.get::<Option<String>>(2)?,
                    ))
                },
            )?;
            for (email, paused_until, locale) in rows {
                let o = out.entry(email).or_default();
                o.paused_until = paused_until.map(from_nanos);
                o.locale = locale;
            }
            let rows = db.query_map(
                "SELECT email, group_id FROM group_exclusions",
                params![],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?;
            for (email, group) in rows {
                out.entry(email).or_default().excluded_groups.insert(group);
            }
            Ok(out)
        })
    }
}

fn parse_frequency(s: &str) -> Option<Frequency> {
    match s {
        "daily" => Some(Frequency::Daily),
        "weekly" => Some(Frequency::Weekly),
        "off" => Some(Frequency::Off),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Person;
    use crate::store::test_support::temp_store;

    fn person(email: &str) -> Person {
        Person {
            email: email.into(),
            name: "Name".into(),
            roles: vec!["hr".into()],
            time_zone: chrono_tz::Europe::Amsterdam,
            locale: "en".into(),
            frequency: Frequency::Weekly,
            matrix_id: None,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("ts")
    }

    fn change() -> PreferenceChange {
        PreferenceChange {
            frequency: Some(Frequency::Daily),
            paused_until: Some(at(1_800_000_000)),
            resume: false,
            locale: Some("nl".into()),
            excluded_groups: ["it".to_string()].into(),
            offered_schedules: ["s1".to_string(), "s2".to_string()].into(),
            opted_out_schedules: ["s2".to_string()].into(),
        }
    }

    #[test]
    fn a_saved_form_reads_back_and_survives_a_sync() {
        let (_d, mut store) = temp_store();
        store.sync_people(&[person("a@x.org")]).expect("sync");
        assert!(store.set_paused("a@x.org", true).expect("pause"));
        Store::opt_out_of_schedule(&mut store.db.auto().expect("db"), "a@x.org", "s1")
            .expect("opt out");
        Store::opt_out_of_schedule(&mut store.db.auto().expect("db"), "a@x.org", "other")
            .expect("opt out");
        assert!(store
            .save_preferences("A@x.org", &change(), at(1_700_000_000))
            .expect("save"));
        store.sync_people(&[person("a@x.org")]).expect("resync");
        let p = store.preferences("a@x.org").expect("read").expect("known");
        assert_eq!(p.frequency_override, Some(Frequency::Daily));
        assert!(p.paused, "the pause command's pause stays without resume");
        assert_eq!(p.overrides.paused_until, Some(at(1_800_000_000)));
        assert_eq!(p.overrides.locale.as_deref(), Some("nl"));
        assert_eq!(p.overrides.excluded_groups, ["it".to_string()].into());
        // s1 taken back, s2 added, a schedule the form did not offer left alone.
        assert_eq!(
            p.opted_out_schedules,
            ["other".to_string(), "s2".to_string()].into()
        );
        let all = store.all_digest_overrides().expect("all");
        assert_eq!(all["a@x.org"], p.overrides);
        assert_eq!(
            pause_events(&store),
            (2, 0),
            "the command's pause and the dated one"
        );

        let cleared = PreferenceChange {
            frequency: None,
            paused_until: None,
            resume: true,
            locale: None,
            excluded_groups: BTreeSet::new(),
            ..change()
        };
        store
            .save_preferences("a@x.org", &cleared, at(1_700_000_000))
            .expect("save");
        let p = store.preferences("a@x.org").expect("read").expect("known");
        assert!(!p.paused);
        assert_eq!(pause_events(&store), (2, 1));
        assert_eq!(p.overrides, DigestOverrides::default());
        assert!(store.all_digest_overrides().expect("all").is_empty());
    }

    /// (pause, resume) events recorded for the engagement report.
    fn pause_events(store: &Store) -> (i64, i64) {
        let count = |kind: &str| -> i64 {
            store
                .db
                .query_row(
                    "SELECT COUNT(*) FROM person_events WHERE kind = ?1",
                    params![kind],
                    |r| r.get(0),
                )
                .expect("count")
        };
        (count("pause"), count("resume"))
    }

    #[test]
    fn an_unknown_person_changes_nothing() {
        let (_d, mut store) = temp_store();
        assert!(!store
            .save_preferences("nobody@x.org", &change(), at(1_700_000_000))
            .expect("save"));
        assert_eq!(store.preferences("nobody@x.org").expect("read"), None);
        assert!(store.all_digest_overrides().expect("all").is_empty());
    }

    #[test]
    fn resume_by_email_ends_a_dated_pause_too() {
        let (_d, mut store) = temp_store();
        store.sync_people(&[person("a@x.org")]).expect("sync");
        store
            .save_preferences("a@x.org", &change(), at(1_700_000_000))
            .expect("save");
        store.set_paused("a@x.org", false).expect("resume");
        let p = store.preferences("a@x.org").expect("read").expect("known");
        assert_eq!(p.overrides.paused_until, None);
    }
}
