//! The preferences form, pure: what a person may choose ([`PrefsOptions`], from config), and
//! the decision a posted form makes ([`decide`]): a checked [`PreferenceChange`], an
//! unsubscribe, a resubscribe, or a [`FormError`] naming the field. The CSRF check comes first
//! and is the handler's (`prefs_token::csrf_matches`).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::model::{Frequency, GroupId, LocalText, Person};
use crate::store::PreferenceChange;

/// The longest pause the page accepts, in days from today.
pub const MAX_PAUSE_DAYS: i64 = 366;

/// One schedule a person's roles send on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleOption {
    /// The schedule key (`cron@zone`), as `schedule_optouts` stores it.
    pub key: String,
    /// The display names of this person's roles sending on it (config `title`, or the role's
    /// name when it has none), localised when the page is drawn.
    pub roles: Vec<LocalText>,
}

/// What one person may choose on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefsOptions {
    /// The schedules of their roles, in config order, each role's monthly best-of after it.
    pub schedules: Vec<ScheduleOption>,
    /// The groups their roles follow: (id, display name), in config order.
    pub groups: Vec<(GroupId, String)>,
    /// The locales the templates have, sorted.
    pub locales: Vec<String>,
    /// Their time zone (a pause ends at the start of the chosen day there).
    pub time_zone: Tz,
    /// The cadence config gives them.
    pub configured_frequency: Frequency,
}

impl PrefsOptions {
    /// The options of `person` under `config`, with the templates' `locales`.
    pub fn for_person(config: &Config, person: &Person, locales: Vec<String>) -> PrefsOptions {
        let mut schedules: Vec<ScheduleOption> = Vec::new();
        let mut group_ids: Vec<GroupId> = Vec::new();
        for role in config
            .roles
            .iter()
            .filter(|r| person.roles.contains(&r.name))
        {
            let key = role.schedule.key();
            let shown = role
                .title
                .clone()
                .unwrap_or_else(|| LocalText::plain(role.name.clone()));
            match schedules.iter_mut().find(|s| s.key == key) {
                Some(s) => s.roles.push(shown.clone()),
                None => schedules.push(ScheduleOption {
                    key,
                    roles: vec![shown.clone()],
                }),
            }
            // A role's monthly best-of is a schedule of its own, one per role.
            if let Some(best_of) = &role.best_of {
                schedules.push(ScheduleOption {
                    key: crate::best_of::schedule_key(role, best_of),
                    roles: vec![shown],
                });
            }
            for g in &role.groups {
                if !group_ids.contains(g) {
                    group_ids.push(g.clone());
                }
            }
        }
        let groups = group_ids
            .into_iter()
            .map(|id| {
                let name = config
                    .groups
                    .iter()
                    .find(|g| g.id == id)
                    .map_or_else(|| id.clone(), |g| g.name.clone());
                (id, name)
            })
            .collect();
        PrefsOptions {
            schedules,
            groups,
            locales,
            time_zone: person.time_zone,
            configured_frequency: person.frequency,
        }
    }

    /// The instant a pause chosen as `day` ends: the start of that day in the person's zone.
    pub fn pause_end(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        let midnight = day.and_hms_opt(0, 0, 0)?;
        self.time_zone
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The day a pause ending at `until` is shown as (`None` once it is over at `now`).
    pub fn pause_day(&self, until: DateTime<Utc>, now: DateTime<Utc>) -> Option<NaiveDate> {
        (until > now).then(|| until.with_timezone(&self.time_zone).date_naive())
    }
}

/// The fields of a posted form (`application/x-www-form-urlencoded`), repeated names kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// Parses a urlencoded body.
    pub fn parse(body: &[u8]) -> FormFields {
        FormFields(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> BTreeSet<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What a posted form asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefsAction {
    /// Save the settings.
    Save(PreferenceChange),
    /// Stop every digest.
    Unsubscribe,
    /// Take an unsubscribe back.
    Resubscribe,
}

/// Why a posted form was refused (nothing saved); each names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// `action` is missing or unknown.
    #[error("unknown form action")]
    UnknownAction,
    /// `frequency` is not one offered.
    #[error("unknown frequency")]
    BadFrequency,
    /// `pause_until` is not a date (YYYY-MM-DD).
    #[error("the pause date is not a date")]
    BadDate,
    /// `pause_until` is today or earlier.
    #[error("the pause date is not in the future")]
    DateNotInFuture,
    /// `pause_until` is more than [`MAX_PAUSE_DAYS`] away.
    #[error("the pause date is too far away")]
    DateTooFar,
    /// `locale` is not one the templates have.
    #[error("unknown language")]
    UnknownLocale,
    /// A `group` or `schedule` value is not one of the person's.
    #[error("unknown group or schedule")]
    UnknownChoice,
}

impl FormError {
    /// The locale key of the message shown above the form.
    pub fn message_key(&self) -> &'static str {
        match self {
            FormError::BadDate => "prefs_error_date",
            FormError::DateNotInFuture => "prefs_error_date_past",
            FormError::DateTooFar => "prefs_error_date_far",
            FormError::UnknownAction
            | FormError::BadFrequency
            | FormError::UnknownLocale
            | FormError::UnknownChoice => "prefs_error_form",
        }
    }
}

/// The decision on a posted form (CSRF already checked) for a person with `options`, at `now`.
pub fn decide(
    fields: &FormFields,
    options: &PrefsOptions,
    now: DateTime<Utc>,
) -> Result<PrefsAction, FormError> {
    match fields.get("action") {
        Some("save") => {}
        Some("unsubscribe") => return Ok(PrefsAction::Unsubscribe),
        Some("resubscribe") => return Ok(PrefsAction::Resubscribe),
        _ => return Err(FormError::UnknownAction),
    }
    let frequency = match fields.get("frequency").unwrap_or_default() {
        "" => None,
        "daily" => Some(Frequency::Daily),
        "weekly" => Some(Frequency::Weekly),
        _ => return Err(FormError::BadFrequency),
    };
    // The configured cadence chosen again is no override: a later config change still counts.
    let frequency = frequency.filter(|f| *f != options.configured_frequency);
    let paused_until = match fields.get("pause_until").map(str::trim).unwrap_or_default() {
        "" => None,
        text => {
            let day =
                NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| FormError::BadDate)?;
            let today = now.with_timezone(&options.time_zone).date_naive();
            if day <= today {
                return Err(FormError::DateNotInFuture);
            }
            if day > today + Duration::days(MAX_PAUSE_DAYS) {
                return Err(FormError::DateTooFar);
            }
            Some(options.pause_end(day).ok_or(FormError::BadDate)?)
        }
    };
    let locale = match fields.get("locale").unwrap_or_default() {
        "" => None,
        l if options.locales.iter().any(|k| k == l) => Some(l.to_string()),
        _ => return Err(FormError::UnknownLocale),
    };
    let kept_groups = fields.all("group");
    if kept_groups
        .iter()
        .any(|g| !options.groups.iter().any(|(id, _)| id == g))
    {
        return Err(FormError::UnknownChoice);
    }
    let kept_schedules = fields.all("schedule");
    if kept_schedules
        .iter()
        .any(|s| !options.schedules.iter().any(|o| o.key == *s))
    {
        return Err(FormError::UnknownChoice);
    }
    Ok(PrefsAction::Save(PreferenceChange {
        frequency,
        paused_until,
        resume: fields.get("resume") == Some("1"),
        locale,
        excluded_groups: options
            .groups
            .iter()
            .filter(|(id, _)| !kept_groups.contains(id.as_str()))
            .map(|(id, _)| id.clone())
            .collect(),
        offered_schedules: options.schedules.iter().map(|s| s.key.clone()).collect(),
        opted_out_schedules: options
            .schedules
            .iter()
            .filter(|s| !kept_schedules.contains(s.key.as_str()))
            .map(|s| s.key.clone())
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> PrefsOptions {
        PrefsOptions {
            schedules: vec![
                ScheduleOption {
                    key: "0 0 7 * * *@Europe/Amsterdam".into(),
                    roles: vec![LocalText::plain("hr")],
                },
                ScheduleOption {
                    key: "0 0 9 * * Mon@Europe/Amsterdam".into(),
                    roles: vec![LocalText::plain("it")],
                },
            ],
            groups: vec![
                ("hr-talk".into(), "HR".into()),
                ("it-talk".into(), "IT".into()),
            ],
            locales: vec!["en".into(), "nl".into()],
            time_zone: chrono_tz::Europe::Amsterdam,
            configured_frequency: Frequency::Weekly,
        }
    }

    /// 2026-03-10 12:00 UTC.
    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_773_144_000, 0).expect("ts")
    }

    fn save(body: &str) -> Result<PrefsAction, FormError> {
        decide(&FormFields::parse(body.as_bytes()), &options(), now())
    }

    #[test]
    fn a_full_form_becomes_a_change() {
        let body = "csrf=x&action=save&frequency=daily&schedule=0+0+7+*+*+*%40Europe%2FAmsterdam\
                    &pause_until=2026-04-01&group=it-talk&locale=nl&resume=1";
        let Ok(PrefsAction::Save(c)) = save(body) else {
            panic!("a change: {:?}", save(body))
        };
        assert_eq!(c.frequency, Some(Frequency::Daily));
        // Midnight in Amsterdam (summer time from 29 March): 22:00 UTC the day before.
        assert_eq!(
            c.paused_until,
            Some(
                DateTime::parse_from_rfc3339("2026-03-31T22:00:00Z")
                    .expect("t")
                    .to_utc()
            )
        );
        assert!(c.resume);
        assert_eq!(c.locale.as_deref(), Some("nl"));
        assert_eq!(c.excluded_groups, ["hr-talk".to_string()].into());
        assert_eq!(c.offered_schedules.len(), 2);
        assert_eq!(
            c.opted_out_schedules,
            ["0 0 9 * * Mon@Europe/Amsterdam".to_string()].into()
        );
        assert_eq!(
            options().pause_day(c.paused_until.expect("until"), now()),
            NaiveDate::from_ymd_opt(2026, 4, 1)
        );
    }

    #[test]
    fn defaults_mean_no_override() {
        let Ok(PrefsAction::Save(c)) = save("action=save&frequency=weekly&pause_until=&locale=")
        else {
            panic!("a change")
        };
        assert_eq!(c.frequency, None, "the configured cadence is no override");
        assert_eq!((c.paused_until, c.locale, c.resume), (None, None, false));
        assert_eq!(c.excluded_groups.len(), 2, "no group ticked: all left out");
    }

    #[test]
    fn other_actions() {
        assert_eq!(save("action=unsubscribe"), Ok(PrefsAction::Unsubscribe));
        assert_eq!(save("action=resubscribe"), Ok(PrefsAction::Resubscribe));
        assert_eq!(save(""), Err(FormError::UnknownAction));
        assert_eq!(save("action=drop"), Err(FormError::UnknownAction));
    }

    #[test]
    fn bad_input_names_the_field() {
        assert_eq!(
            save("action=save&frequency=hourly"),
            Err(FormError::BadFrequency)
        );
        assert_eq!(
            save("action=save&pause_until=1%2F4%2F2026"),
            Err(FormError::BadDate)
        );
        assert_eq!(
            save("action=save&pause_until=2026-03-10"),
            Err(FormError::DateNotInFuture)
        );
        assert_eq!(
            save("action=save&pause_until=2027-06-01"),
            Err(FormError::DateTooFar)
        );
        assert_eq!(save("action=save&locale=fr"), Err(FormError::UnknownLocale));
        assert_eq!(
            save("action=save&group=other"),
            Err(FormError::UnknownChoice)
        );
        assert_eq!(
            save("action=save&schedule=x"),
            Err(FormError::UnknownChoice)
        );
        assert_eq!(FormError::DateTooFar.message_key(), "prefs_error_date_far");
    }

    #[test]
    fn a_pause_that_is_over_shows_no_day() {
        let o = options();
        assert_eq!(o.pause_day(now() - Duration::hours(1), now()), None);
    }
}
