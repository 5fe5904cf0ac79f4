//! Locale strings (`<templates>/i18n/<locale>.toml`, a flat `key = "text"` table) and the small
//! per-locale formatting digestd needs: placeholders, plurals, lists of names and dates.
//!
//! Every locale is merged over `en` when loaded, so a missing key falls back to English and a
//! lookup is a single map access. Strings are admin-written (trusted) and may hold `{{name}}`
//! placeholders filled from values that are escaped by the template that shows them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

use super::RenderError;

/// The fallback locale, which must exist.
pub const FALLBACK: &str = "en";

/// The strings of one locale, merged over the fallback.
#[derive(Debug, Clone, Default)]
pub struct LocaleTable {
    strings: HashMap<String, String>,
    weekdays: Vec<String>,
    months: Vec<String>,
}

impl LocaleTable {
    /// The string for `key`, if any locale (this one or the fallback) has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.strings.get(key).map(String::as_str)
    }

    /// The string for `key` with its `{{name}}` placeholders filled from `params`; `key` itself
    /// when no locale has it (visible, but not fatal). With a `count` parameter equal to 1, the
    /// key `<key>_one` is preferred when it exists.
    pub fn text(&self, key: &str, params: &[(&str, &str)]) -> String {
        let singular = params.iter().any(|(k, v)| *k == "count" && *v == "1");
        let template = singular
            .then(|| self.get(&format!("{key}_one")))
            .flatten()
            .or_else(|| self.get(key));
        match template {
            Some(t) => fill(t, |name| {
                params
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }),
            None => key.to_string(),
        }
    }

    /// `t` in zone `tz` written with this locale's `date_format` (placeholders `weekday`, `day`,
    /// `month`, `year`, `time`).
    pub fn date(&self, t: DateTime<Utc>, tz: Tz) -> String {
        self.format_date("date_format", t, tz)
    }

    /// `t` in zone `tz` written with this locale's `day_format` (a date without the time).
    pub fn day(&self, t: DateTime<Utc>, tz: Tz) -> String {
        self.format_date("day_format", t, tz)
    }

    /// A calendar month (`month` 1 to 12) written with this locale's `month_format` and its
    /// `months_long` names (the short `months` when there are none): "November 2026".
    pub fn month(&self, year: i32, month: u32) -> String {
        let index = month.saturating_sub(1) as usize;
        let name = self
            .get("months_long")
            .and_then(|names| names.split_whitespace().nth(index))
            .map(str::to_owned)
            .or_else(|| self.months.get(index).cloned())
            .unwrap_or_else(|| month.to_string());
        let pattern = self.get("month_format").unwrap_or("{{month}} {{year}}");
        fill(pattern, |key| match key {
            "month" => Some(name.clone()),
            "year" => Some(year.to_string()),
            _ => None,
        })
    }

    fn format_date(&self, key: &str, t: DateTime<Utc>, tz: Tz) -> String {
        let l = t.with_timezone(&tz);
        let weekday = self
            .weekdays
            .get(l.weekday().num_days_from_monday() as usize)
            .cloned()
            .unwrap_or_default();
        let month = self
            .months
            .get(l.month0() as usize)
            .cloned()
            .unwrap_or_else(|| l.month().to_string());
        let pattern = self
            .get(key)
            .unwrap_or("{{day}} {{month}} {{year}} {{time}}");
        fill(pattern, |name| match name {
            "weekday" => Some(weekday.clone()),
            "day" => Some(l.day().to_string()),
            "month" => Some(month.clone()),
            "year" => Some(l.year().to_string()),
            "time" => Some(format!("{:02}:{:02}", l.hour(), l.minute())),
            _ => None,
        })
    }

    /// Names as a list: "Ann", "Ann and Bob", "Ann, Bob and Cy", "Ann, Bob, Cy and 4 others".
    pub fn people(&self, names: &[String], max_named: usize) -> String {
        let and = self.get("list_and").unwrap_or("and");
        let max_named = max_named.max(1);
        match names.len() {
            0 => String::new(),
            1 => names[0].clone(),
            n if n <= max_named + 1 => {
                format!("{} {and} {}", names[..n - 1].join(", "), names[n - 1])
            }
            n => {
                let others = self.text("others", &[("count", &(n - max_named).to_string())]);
                format!("{} {and} {others}", names[..max_named].join(", "))
            }
        }
    }
}

/// Replaces each `{{ name }}` in `template` by `value(name)`; unknown names become empty.
pub fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                if let Some(v) = value(after[..close].trim()) {
                    out.push_str(&v);
                }
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// All locales found in a templates directory, each merged over [`FALLBACK`].
#[derive(Debug, Clone, Default)]
pub struct Locales {
    tables: HashMap<String, LocaleTable>,
}

impl Locales {
    /// The locales of the `(path, text)` of each `<dir>/<locale>.toml` (read by
    /// `template_files`); `en.toml` must be among them.
    pub fn from_files(dir: &Path, files: &[(PathBuf, String)]) -> Result<Locales, RenderError> {
        let mut raw: HashMap<String, HashMap<String, String>> = HashMap::new();
        for (path, text) in files {
            let Some(locale) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let table: HashMap<String, String> =
                toml::from_str(text).map_err(|e| RenderError::Locale {
                    path: path.clone(),
                    message: format!(
                        "{} (expected a flat table of key = \"text\")",
                        e.to_string().trim()
                    ),
                })?;
            raw.insert(locale.to_ascii_lowercase(), table);
        }
        let Some(fallback) = raw.get(FALLBACK).cloned() else {
            return Err(RenderError::Locale {
                path: dir.join(format!("{FALLBACK}.toml")),
                message: "the fallback locale file is missing".into(),
            });
        };
        let tables = raw
            .into_iter()
            .map(|(locale, own)| {
                let mut strings = fallback.clone();
                strings.extend(own);
                let split = |key: &str| -> Vec<String> {
                    strings
                        .get(key)
                        .map(|s| s.split_whitespace().map(str::to_string).collect())
                        .unwrap_or_default()
                };
                let weekdays = split("weekdays");
                let months = split("months");
                (
                    locale,
                    LocaleTable {
                        strings,
                        weekdays,
                        months,
                    },
                )
            })
            .collect();
        Ok(Locales { tables })
    }

    /// The locale key used for `wanted`: itself (`nl-be`), its language (`nl`), or `en`.
    pub fn resolve<'a>(&'a self, wanted: &str) -> &'a str {
        let wanted = wanted.trim().to_ascii_lowercase().replace('_', "-");
        let lang = wanted.split('-').next().unwrap_or_default();
        for candidate in [wanted.as_str(), lang] {
            if let Some((k, _)) = self.tables.get_key_value(candidate) {
                return k;
            }
        }
        self.tables
            .get_key_value(FALLBACK)
            .map_or(FALLBACK, |(k, _)| k.as_str())
    }

    /// The table of `wanted`, resolved as [`Locales::resolve`] does.
    pub fn table(&self, wanted: &str) -> &LocaleTable {
        static EMPTY: std::sync::OnceLock<LocaleTable> = std::sync::OnceLock::new();
        self.tables
            .get(self.resolve(wanted))
            .unwrap_or_else(|| EMPTY.get_or_init(LocaleTable::default))
    }

    /// Locale keys available, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tables.keys().cloned().collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn locales() -> Locales {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("en.toml"),
            r#"
subject = "{{count}} active threads"
subject_one = "1 active thread"
only_en = "English"
list_and = "and"
others = "{{count}} others"
weekdays = "Mon Tue Wed Thu Fri Sat Sun"
months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
date_format = "{{weekday}} {{day}} {{month}}, {{time}}"
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("nl.toml"),
            r#"
subject = "{{count}} actieve discussies"
list_and = "en"
weekdays = "ma di wo do vr za zo"
months = "jan feb mrt apr mei jun jul aug sep okt nov dec"
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Locales::load(dir.path()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn fallback_and_resolution() {
        let l = locales();
        assert_eq!(l.resolve("nl"), "nl");
        assert_eq!(l.resolve("NL_be"), "nl");
        assert_eq!(l.resolve("fr"), "en");
        assert_eq!(l.table("nl").get("only_en"), Some("English"));
        assert_eq!(
            l.table("nl").text("subject", &[("count", "3")]),
            "3 actieve discussies"
        );
        assert_eq!(
            l.table("en").text("subject", &[("count", "1")]),
            "1 active thread"
        );
        assert_eq!(l.table("en").text("nope", &[]), "nope");
        assert_eq!(l.names(), vec!["en".to_string(), "nl".to_string()]);
    }

    #[test]
    fn dates_per_locale_and_zone() {
        let l = locales();
        let t = Utc
            .with_ymd_and_hms(2025, 3, 3, 13, 5, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(
            l.table("en").date(t, chrono_tz::Europe::Amsterdam),
            "Mon 3 Mar, 14:05"
        );
        assert_eq!(
            l.table("nl").date(t, chrono_tz::Europe::Amsterdam),
            "ma 3 mrt, 14:05"
        );
        assert_eq!(
            l.table("en").date(t, chrono_tz::America::New_York),
            "Mon 3 Mar, 08:05"
        );
    }

    #[test]
    fn people_lists() {
        let l = locales();
        let names: Vec<String> = ["Ann", "Bob", "Cy", "Dee", "Eve"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(l.table("en").people(&names[..1], 3), "Ann");
        assert_eq!(l.table("nl").people(&names[..2], 3), "Ann en Bob");
        assert_eq!(l.table("en").people(&names[..4], 3), "Ann, Bob, Cy and Dee");
        assert_eq!(l.table("en").people(&names, 3), "Ann, Bob, Cy and 2 others");
    }

    #[test]
    fn missing_fallback_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("nl.toml"), "a = \"b\"").unwrap_or_else(|e| panic!("{e}"));
        let e = Locales::load(dir.path()).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("en.toml")));
    }

    #[test]
    fn bad_toml_names_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("en.toml"), "a = [1]").unwrap_or_else(|e| panic!("{e}"));
        let e = Locales::load(dir.path()).err().map(|e| e.to_string());
        assert!(e.as_ref().is_some_and(|e| e.contains("en.toml")), "{e:?}");
    }
}
