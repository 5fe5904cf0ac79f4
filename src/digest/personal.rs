//! What a person set on the preferences page, applied before selection. Pure: no I/O.
//!
//! Selection takes the person's roles; a group they left out is taken out of those roles here
//! (its threads and its training highlights alike), and a language they chose replaces the
//! config's locale on the person the digest is rendered for. A dated pause is a decision of its
//! own ([`paused_at`]).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::model::{GroupId, Person, Role};

/// `roles` without the groups in `excluded` (`None`: nothing excluded, use `roles` as they are).
pub fn without_groups(roles: &[&Role], excluded: &HashSet<GroupId>) -> Option<Vec<Role>> {
    if excluded.is_empty()
        || !roles
            .iter()
            .any(|r| r.groups.iter().any(|g| excluded.contains(g)))
    {
        return None;
    }
    Some(
        roles
            .iter()
            .map(|r| Role {
                groups: r
                    .groups
                    .iter()
                    .filter(|g| !excluded.contains(*g))
                    .cloned()
                    .collect(),
                ..(*r).clone()
            })
            .collect(),
    )
}

/// `person` speaking `locale` (`None` when no language was chosen or it is the config's).
pub fn with_locale(person: &Person, locale: Option<&str>) -> Option<Person> {
    let locale = locale.filter(|l| *l != person.locale)?;
    Some(Person {
        locale: locale.to_string(),
        ..person.clone()
    })
}

/// True while a pause ending at `until` runs at `now`.
pub fn paused_at(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    until.is_some_and(|u| now < u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Frequency, Schedule};

    fn role(name: &str, groups: &[&str]) -> Role {
        Role {
            name: name.into(),
            title: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            training_tags: vec!["training".into()],
            schedule: Schedule {
                cron: "0 0 7 * * *".into(),
                time_zone: chrono_tz::UTC,
            },
            best_of: None,
            template: None,
        }
    }

    #[test]
    fn excluded_groups_leave_every_role() {
        let (a, b) = (role("a", &["x", "y"]), role("b", &["y", "z"]));
        let excluded: HashSet<GroupId> = ["y".to_string()].into();
        let out = without_groups(&[&a, &b], &excluded).expect("changed");
        assert_eq!(out[0].groups, vec!["x"]);
        assert_eq!(out[1].groups, vec!["z"]);
        assert_eq!(out[1].training_tags, b.training_tags);
        assert_eq!(without_groups(&[&a], &HashSet::new()), None);
        let elsewhere: HashSet<GroupId> = ["q".to_string()].into();
        assert_eq!(without_groups(&[&a, &b], &elsewhere), None);
    }

    #[test]
    fn a_chosen_language_replaces_the_config_locale() {
        let p = Person {
            email: "a@x.org".into(),
            name: "A".into(),
            roles: vec![],
            time_zone: chrono_tz::UTC,
            locale: "en".into(),
            frequency: Frequency::Weekly,
            matrix_id: None,
        };
        assert_eq!(with_locale(&p, Some("nl")).expect("nl").locale, "nl");
        assert_eq!(with_locale(&p, Some("en")), None);
        assert_eq!(with_locale(&p, None), None);
    }

    #[test]
    fn a_pause_runs_until_its_end() {
        let t = DateTime::from_timestamp(1_000, 0).expect("ts");
        assert!(paused_at(Some(t), t - chrono::Duration::seconds(1)));
        assert!(!paused_at(Some(t), t));
        assert!(!paused_at(None, t));
    }
}
