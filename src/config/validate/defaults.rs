//! `[defaults]` and the values it defaults: time zone, locale, frequency.

use std::path::Path;

use chrono_tz::Tz;
use toml::Spanned;

use crate::config::checks;
use crate::config::people_csv::At;
use crate::config::raw;
use crate::model::Frequency;

use super::*;

/// `[defaults]`, resolved.
pub(super) struct Defaults {
    pub(super) time_zone: Tz,
    pub(super) locale: String,
    pub(super) frequency: Frequency,
}
impl Validator<'_> {
    pub(super) fn time_zone(&mut self, file: &Path, at: &At<String>) -> Option<Tz> {
        match checks::parse_time_zone(&at.value) {
            Ok(tz) => Some(tz),
            Err(e) => {
                self.problem_in(file, at.line, &at.key, e);
                None
            }
        }
    }

    pub(super) fn locale(&mut self, file: &Path, at: &At<String>) -> Option<String> {
        match checks::check_locale(&at.value) {
            Ok(()) => Some(at.value.to_ascii_lowercase()),
            Err(e) => {
                self.problem_in(file, at.line, &at.key, e);
                None
            }
        }
    }

    pub(super) fn frequency(&mut self, file: &Path, at: &At<String>) -> Option<Frequency> {
        match checks::parse_frequency(&at.value) {
            Ok(f) => Some(f),
            Err(e) => {
                self.problem_in(file, at.line, &at.key, e);
                None
            }
        }
    }

    pub(super) fn defaults(&mut self, t: Option<&Spanned<raw::RawDefaults>>) -> Defaults {
        let mut d = Defaults {
            time_zone: chrono_tz::UTC,
            locale: "en".into(),
            frequency: Frequency::Weekly,
        };
        let file = self.ctx.file;
        if let Some(t) = t {
            let r = t.get_ref();
            if let Some(tz) = &r.time_zone {
                let at = self.at(tz, "defaults.time_zone".into());
                d.time_zone = self.time_zone(file, &at).unwrap_or(d.time_zone);
            }
            if let Some(l) = &r.locale {
                let at = self.at(l, "defaults.locale".into());
                d.locale = self.locale(file, &at).unwrap_or(d.locale);
            }
            if let Some(f) = &r.frequency {
                let at = self.at(f, "defaults.frequency".into());
                d.frequency = self.frequency(file, &at).unwrap_or(d.frequency);
            }
        }
        d
    }
}
