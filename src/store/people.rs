//! People and their roles as the store keeps them, and each person's runtime state.
//!
//! **Invariant:** config is the source of truth for name, roles, locale, time zone and configured
//! frequency; [`Store::sync_people`] overwrites those. What people change by email (pause,
//! unsubscribe, daily/weekly) and what bounces do (bouncing) lives only here and survives a sync.
//! So do opt-outs of one schedule (`schedule_optouts`, from one-click unsubscribe links).

use std::collections::{HashMap, HashSet};

use super::db::{params, Exec, Row};
use super::{Store, StoreError};
use crate::model::{Frequency, Person};
use crate::report::facts::PersonEventKind;

/// Runtime state of a person, set by email commands and bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PersonState {
    /// Frequency chosen by email (`daily`, `weekly`), overriding config.
    pub frequency_override: Option<Frequency>,
    /// Digests paused (`pause`, until `resume`).
    pub paused: bool,
    /// Unsubscribed (`unsubscribe` or List-Unsubscribe).
    pub unsubscribed: bool,
    /// Marked bouncing after repeated bounces: gets no digests.
    pub bouncing: bool,
}

fn frequency_from_db(s: &str) -> Option<Frequency> {
    match s {
        "weekly" => Some(Frequency::Weekly),
        "daily" => Some(Frequency::Daily),
        "off" => Some(Frequency::Off),
        _ => None,
    }
}

fn state_from_row(r: &Row, first: usize) -> Result<PersonState, StoreError> {
    let f: Option<String> = r.get(first)?;
    Ok(PersonState {
        frequency_override: f.as_deref().and_then(frequency_from_db),
        paused: r.get(first + 1)?,
        unsubscribed: r.get(first + 2)?,
        bouncing: r.get(first + 3)?,
    })
}

impl Store {
    /// Makes people and roles follow config, keeping each person's runtime state. People gone
    /// from config keep their row (flagged `in_config = 0`, roles removed) so their history stays.
    pub fn sync_people(&mut self, people: &[Person]) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute("UPDATE people SET in_config = 0", params![])?;
            tx.execute("DELETE FROM person_roles", params![])?;
            for p in people {
                let email = crate::model::normalize_email(&p.email);
                tx.execute(
                    "INSERT INTO people (email, name, time_zone, locale, frequency, in_config)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1)
                     ON CONFLICT(email) DO UPDATE SET name = excluded.name,
                        time_zone = excluded.time_zone, locale = excluded.locale,
                        frequency = excluded.frequency, in_config = 1",
                    params![
                        email,
                        p.name,
                        p.time_zone.name(),
                        p.locale,
                        p.frequency.to_string()
                    ],
                )?;
                for r in &p.roles {
                    tx.execute(
                        "INSERT INTO person_roles (email, role) VALUES (?1, ?2)
                         ON CONFLICT DO NOTHING",
                        params![email, r],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Runtime state of one person (`None`: not in the store).
    pub fn person_state(&self, email: &str) -> Result<Option<PersonState>, StoreError> {
        let email = crate::model::normalize_email(email);
        self.db.query_opt(
            "SELECT frequency_override, paused, unsubscribed, bouncing
             FROM people WHERE email = ?1",
            params![email],
            |r| state_from_row(r, 0),
        )
    }

    /// Runtime state of everyone in the store, by normalised address.
    pub fn all_person_states(&self) -> Result<HashMap<String, PersonState>, StoreError> {
        let rows = self.db.query_map(
            "SELECT email, frequency_override, paused, unsubscribed, bouncing FROM people",
            params![],
            |r| Ok((r.get::<String>(0)?, state_from_row(r, 1)?)),
        )?;
        Ok(rows.into_iter().collect())
    }

    fn update_person(
        &self,
        sql: &str,
        email: &str,
        value: &dyn super::db::Param,
    ) -> Result<bool, StoreError> {
        let email = crate::model::normalize_email(email);
        Ok(self.db.execute(sql, &[&email, value])? > 0)
    }

    /// Pauses (or resumes) a person's digests, recording the change as a person event (for the
    /// engagement report); resuming also ends a pause with an end date (set on the preferences
    /// page). Returns false when the person is not in the store.
    pub fn set_paused(&self, email: &str, paused: bool) -> Result<bool, StoreError> {
        let kind = if paused {
            PersonEventKind::Pause
        } else {
            PersonEventKind::Resume
        };
        let known = self.set_flag_with_event("paused", email, paused, kind)?;
        if known && !paused {
            self.update_person(
                "UPDATE people SET paused_until = NULL WHERE email = ?1 AND ?2",
                email,
                &true,
            )?;
        }
        Ok(known)
    }

    /// Unsubscribes (or resubscribes) a person, recording the change as a person event.
    /// Returns false when the person is not in the store.
    pub fn set_unsubscribed(&self, email: &str, unsubscribed: bool) -> Result<bool, StoreError> {
        let kind = if unsubscribed {
            PersonEventKind::Unsubscribe
        } else {
            PersonEventKind::Resubscribe
        };
        self.set_flag_with_event("unsubscribed", email, unsubscribed, kind)
    }

    /// Sets the flag `column` (`paused` or `unsubscribed`) and, when it changes, records
    /// `kind`, in one transaction.
    fn set_flag_with_event(
        &self,
        column: &'static str,
        email: &str,
        value: bool,
        kind: PersonEventKind,
    ) -> Result<bool, StoreError> {
        let email = crate::model::normalize_email(email);
        self.db.write(|tx| {
            let before: Option<bool> = tx.query_opt(
                &format!("SELECT {column} FROM people WHERE email = ?1"),
                params![email],
                |r| r.get(0),
            )?;
            let Some(before) = before else {
                return Ok(false);
            };
            if before != value {
                tx.execute(
                    &format!("UPDATE people SET {column} = ?2 WHERE email = ?1"),
                    params![email, value],
                )?;
                super::engagement::record_person_event(tx, &email, kind, "")?;
            }
            Ok(true)
        })
    }

    /// Sets (or with `None` clears) the frequency chosen by email. Returns false when the person
    /// is not in the store.
    pub fn set_frequency_override(
        &self,
        email: &str,
        frequency: Option<Frequency>,
    ) -> Result<bool, StoreError> {
        let f = frequency.map(|f| f.to_string());
        self.update_person(
            "UPDATE people SET frequency_override = ?2 WHERE email = ?1",
            email,
            &f,
        )
    }

    /// Counts one bounce; marks the person bouncing once `threshold` bounces are counted.
    /// Returns whether the person is bouncing now (false for an address not in the store).
    pub fn record_bounce(&self, email: &str, threshold: u32) -> Result<bool, StoreError> {
        let email = crate::model::normalize_email(email);
        let bouncing: Option<bool> = self.db.query_opt(
            "UPDATE people SET bounce_count = bounce_count + 1,
                bouncing = CASE WHEN bouncing <> 0 OR bounce_count + 1 >= ?2 THEN 1 ELSE 0 END
             WHERE email = ?1 RETURNING bouncing",
            params![email, threshold.max(1)],
            |r| r.get(0),
        )?;
        Ok(bouncing.unwrap_or(false))
    }

    /// Clears the bounce count and the bouncing mark (the address works again).
    pub fn clear_bounces(&self, email: &str) -> Result<bool, StoreError> {
        self.update_person(
            "UPDATE people SET bounce_count = 0, bouncing = ?2 WHERE email = ?1",
            email,
            &false,
        )
    }

    /// Addresses currently marked bouncing, sorted.
    pub fn bouncing_addresses(&self) -> Result<Vec<String>, StoreError> {
        self.db.query_map(
            "SELECT email FROM people WHERE bouncing = 1 ORDER BY email",
            params![],
            |r| r.get(0),
        )
    }

    /// Opts a person out of one schedule (its digests only; other schedules keep coming), in the
    /// caller's transaction or on its own. Returns false when the person is not in the store.
    pub fn opt_out_of_schedule(
        conn: &mut impl Exec,
        email: &str,
        schedule: &str,
    ) -> Result<bool, StoreError> {
        let email = crate::model::normalize_email(email);
        let inserted = conn.execute(
            "INSERT INTO schedule_optouts (email, schedule, created)
             SELECT email, CAST(?2 AS TEXT), CAST(?3 AS BIGINT) FROM people WHERE email = ?1
             ON CONFLICT(email, schedule) DO NOTHING",
            params![
                email,
                schedule,
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
            ],
        )?;
        if inserted > 0 {
            super::engagement::record_person_event(
                conn,
                &email,
                PersonEventKind::ScheduleOptOut,
                schedule,
            )?;
            return Ok(true);
        }
        let known: Option<i64> = conn.query_opt(
            "SELECT 1 FROM people WHERE email = ?1",
            params![email],
            |r| r.get(0),
        )?;
        Ok(known.is_some())
    }

    /// Opts a person out of one schedule on its own (see [`Store::opt_out_of_schedule`]).
    pub fn opt_out(&self, email: &str, schedule: &str) -> Result<bool, StoreError> {
        Store::opt_out_of_schedule(&mut self.db.auto()?, email, schedule)
    }

    /// Takes back every schedule opt-out of a person (the `resume` command); the number removed.
    pub fn clear_schedule_optouts(&self, email: &str) -> Result<usize, StoreError> {
        let email = crate::model::normalize_email(email);
        self.db.execute(
            "DELETE FROM schedule_optouts WHERE email = ?1",
            params![email],
        )
    }

    /// Addresses opted out of `schedule`.
    pub fn schedule_optouts(&self, schedule: &str) -> Result<HashSet<String>, StoreError> {
        let rows: Vec<String> = self.db.query_map(
            "SELECT email FROM schedule_optouts WHERE schedule = ?1",
            params![schedule],
            |r| r.get(0),
        )?;
        Ok(rows.into_iter().collect())
    }

    /// Every (address, schedule) opt-out, sorted.
    pub fn all_schedule_optouts(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.db.query_map(
            "SELECT email, schedule FROM schedule_optouts ORDER BY email, schedule",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Roles the store holds for a person (as last synced from config), sorted.
    pub fn person_roles(&self, email: &str) -> Result<Vec<String>, StoreError> {
        let email = crate::model::normalize_email(email);
        self.db.query_map(
            "SELECT role FROM person_roles WHERE email = ?1 ORDER BY role",
            params![email],
            |r| r.get(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::each_store;

    fn person(email: &str, roles: &[&str]) -> Person {
        Person {
            email: email.into(),
            name: "Name".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            time_zone: chrono_tz::Europe::Amsterdam,
            locale: "nl".into(),
            frequency: Frequency::Weekly,
            matrix_id: None,
        }
    }

    #[test]
    fn runtime_state_survives_sync() {
        each_store(|mut store| {
            store
                .sync_people(&[person("a@x.org", &["hr"]), person("b@x.org", &["it"])])
                .expect("sync");
            assert!(store.set_paused("A@X.org", true).expect("pause"));
            assert!(store.set_unsubscribed("b@x.org", true).expect("unsub"));
            assert!(store
                .set_frequency_override("a@x.org", Some(Frequency::Daily))
                .expect("freq"));
            assert!(!store.set_paused("nobody@x.org", true).expect("none"));

            store
                .sync_people(&[person("a@x.org", &["hr", "it"]), person("b@x.org", &[])])
                .expect("resync");
            let a = store.person_state("a@x.org").expect("a").expect("exists");
            assert!(a.paused);
            assert_eq!(a.frequency_override, Some(Frequency::Daily));
            assert!(!a.unsubscribed);
            let all = store.all_person_states().expect("all");
            assert!(all["b@x.org"].unsubscribed);
            assert_eq!(
                store.person_roles("a@x.org").expect("roles"),
                vec!["hr", "it"]
            );
            assert!(store.person_roles("b@x.org").expect("roles").is_empty());
            assert_eq!(store.person_state("c@x.org").expect("c"), None);
        });
    }

    #[test]
    fn schedule_optouts_are_per_schedule() {
        each_store(|mut store| {
            store.sync_people(&[person("a@x.org", &[])]).expect("sync");
            assert!(
                Store::opt_out_of_schedule(&mut store.db.auto().expect("db"), "A@x.org", "s1")
                    .expect("opt out")
            );
            assert!(
                Store::opt_out_of_schedule(&mut store.db.auto().expect("db"), "a@x.org", "s1")
                    .expect("again")
            );
            assert!(!Store::opt_out_of_schedule(
                &mut store.db.auto().expect("db"),
                "b@x.org",
                "s1"
            )
            .expect("unknown"));
            assert!(store
                .schedule_optouts("s1")
                .expect("s1")
                .contains("a@x.org"));
            assert!(store.schedule_optouts("s2").expect("s2").is_empty());
            store
                .sync_people(&[person("a@x.org", &[])])
                .expect("resync");
            assert_eq!(
                store.all_schedule_optouts().expect("all"),
                vec![("a@x.org".to_string(), "s1".to_string())]
            );
            assert_eq!(store.clear_schedule_optouts("A@x.org").expect("clear"), 1);
            assert!(store.all_schedule_optouts().expect("all").is_empty());
        });
    }

    #[test]
    fn bounces_mark_after_threshold() {
        each_store(|mut store| {
            store.sync_people(&[person("a@x.org", &[])]).expect("sync");
            assert!(!store.record_bounce("a@x.org", 3).expect("1"));
            assert!(!store.record_bounce("a@x.org", 3).expect("2"));
            assert!(store.record_bounce("a@x.org", 3).expect("3"));
            assert_eq!(store.bouncing_addresses().expect("b"), vec!["a@x.org"]);
            assert!(!store.record_bounce("unknown@x.org", 1).expect("unknown"));
            store.clear_bounces("a@x.org").expect("clear");
            assert!(
                !store
                    .person_state("a@x.org")
                    .expect("s")
                    .expect("p")
                    .bouncing
            );
        });
    }
}
