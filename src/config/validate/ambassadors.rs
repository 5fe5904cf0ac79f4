//! `[[groups]] ambassadors` and `[ambassadors]`: each ambassador must be a configured person;
//! the nudge's schedule is a cron expression in a time zone (default Mondays 09:00 in
//! `[defaults] time_zone`).

use std::collections::BTreeMap;

use toml::Spanned;

use crate::config::raw::{self, RawAmbassadors};
use crate::config::{checks, AmbassadorConfig, DEFAULT_AMBASSADOR_SCHEDULE};
use crate::model::{normalize_email, Person, Schedule};

use super::*;

impl Validator<'_> {
    /// The ambassadors of every group and their schedule; problems name the file and line.
    pub(super) fn ambassadors(
        &mut self,
        groups: &[Spanned<raw::RawGroup>],
        section: Option<&Spanned<RawAmbassadors>>,
        people: &[Person],
        defaults: &Defaults,
    ) -> AmbassadorConfig {
        let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, g) in groups.iter().enumerate() {
            let r = g.get_ref();
            let (Some(id), Some(list)) = (&r.id, &r.ambassadors) else {
                continue;
            };
            let mut emails: Vec<String> = Vec::new();
            for (j, e) in list.get_ref().iter().enumerate() {
                let at = self.at(e, format!("groups[{i}].ambassadors[{j}]"));
                let email = normalize_email(&at.value);
                if !people.iter().any(|p| p.email == email) {
                    let msg = format!(
                        "ambassador `{}` is not a configured person (add them to [[people]] \
                         or the people CSV)",
                        at.value
                    );
                    self.problem(at.line, &at.key, msg);
                } else if !emails.contains(&email) {
                    emails.push(email);
                }
            }
            if !emails.is_empty() {
                by_group.insert(id.get_ref().trim().to_string(), emails);
            }
        }
        let mut schedule = Schedule {
            cron: DEFAULT_AMBASSADOR_SCHEDULE.into(),
            time_zone: defaults.time_zone,
        };
        if let Some(section) = section {
            let s = section.get_ref();
            if let Some(tz) = &s.time_zone {
                let at = self.at(tz, "ambassadors.time_zone".into());
                let file = self.ctx.file;
                if let Some(tz) = self.time_zone(file, &at) {
                    schedule.time_zone = tz;
                }
            }
            if let Some(cron) = &s.schedule {
                let at = self.at(cron, "ambassadors.schedule".into());
                match checks::check_cron(&at.value, schedule.time_zone) {
                    Ok(()) => {
                        schedule.cron = at.value.split_whitespace().collect::<Vec<_>>().join(" ")
                    }
                    Err(e) => self.problem(at.line, &at.key, e),
                }
            }
        }
        AmbassadorConfig { schedule, by_group }
    }
}
