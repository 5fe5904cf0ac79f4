//! Single-value checks (cron, time zone, domain, identifiers), each returning a message an admin
//! can act on. Pure functions, shared by the TOML and CSV paths.

use std::str::FromStr;

use chrono::TimeZone;
use chrono_tz::Tz;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

use crate::model::Frequency;

/// Parses a cron expression exactly as tokio-cron-scheduler 0.15 does in `Job::new_tz` /
/// `Job::new_async_tz`: seconds field required (six fields, optional seventh for the year),
/// day-of-month AND day-of-week both must match when both are given, `0`/`7` = Sunday.
pub fn parse_cron(expr: &str) -> Result<Cron, CronError> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
}

/// Checks a role's schedule: it parses and fires at least once (from 2025-01-01 on, in `tz`).
pub(crate) fn check_cron(expr: &str, tz: Tz) -> Result<(), String> {
    let cron = parse_cron(expr).map_err(|e| {
        format!(
            "invalid cron expression `{expr}`: {e} (six fields: sec min hour day month weekday, \
             e.g. \"0 30 7 * * Mon-Fri\")"
        )
    })?;
    let start = tz
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .earliest()
        .ok_or_else(|| "cannot evaluate the schedule in this time zone".to_string())?;
    cron.find_next_occurrence(&start, false)
        .map(|_| ())
        .map_err(|_| format!("cron expression `{expr}` never fires"))
}

/// Parses an IANA time zone name (`Europe/Amsterdam`), suggesting the right spelling.
pub(crate) fn parse_time_zone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name.trim()).map_err(|_| {
        let lower = name.trim().to_ascii_lowercase();
        match chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().to_ascii_lowercase() == lower)
        {
            Some(tz) => format!("unknown time zone `{name}`; did you mean `{}`?", tz.name()),
            None => format!("unknown time zone `{name}` (use an IANA name like Europe/Amsterdam)"),
        }
    })
}

/// Parses `weekly`, `daily` or `off` (any case).
pub(crate) fn parse_frequency(s: &str) -> Result<Frequency, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "weekly" => Ok(Frequency::Weekly),
        "daily" => Ok(Frequency::Daily),
        "off" => Ok(Frequency::Off),
        _ => Err(format!(
            "unknown frequency `{s}`, expected weekly, daily or off"
        )),
    }
}

/// A DNS domain name: dot-separated labels of letters, digits and inner hyphens.
pub(crate) fn check_domain(s: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{s}` is not a domain name: {why}"));
    if s.is_empty() {
        return bad("it is empty");
    }
    if s.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("each dot-separated part must have 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("use only letters, digits, hyphens and dots");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a part cannot start or end with a hyphen");
        }
    }
    Ok(())
}

/// A group id: `[a-z0-9-]+` (it appears in addresses).
pub(crate) fn check_group_id(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "group id `{s}` must be lower-case letters, digits and hyphens ([a-z0-9-]+)"
        ))
    }
}

/// A role name: non-empty, no `;` or `,` (CSV separators), no surrounding spaces.
pub(crate) fn check_role_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.trim() != s || s.contains([';', ',']) {
        Err(format!(
            "role name `{s}` must be non-empty, without `;`, `,` or surrounding spaces"
        ))
    } else {
        Ok(())
    }
}

/// A locale tag used as a file name: `en`, `nl`, `pt-br` (letters, digits, hyphens).
pub(crate) fn check_locale(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.len() <= 35
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
    {
        Ok(())
    } else {
        Err(format!(
            "locale `{s}` must be a language tag like en, nl or pt-br"
        ))
    }
}

/// A template name: a plain file stem (no path separators, no leading dot).
pub(crate) fn check_template_name(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        Ok(())
    } else {
        Err(format!(
            "template name `{s}` must be a file stem like `digest` (letters, digits, - _ .)"
        ))
    }
}

/// An http(s) URL with a host; returned without a trailing `/`.
pub(crate) fn check_http_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("`{s}` must start with https:// or http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || s.chars().any(char::is_whitespace) {
        return Err(format!("`{s}` is not a URL with a host name"));
    }
    Ok(s.trim_end_matches('/').to_string())
}

/// A span of time written as a number and a unit: `90m`, `36h`, `2d`, `1w` (at least a minute).
pub(crate) fn parse_span(s: &str) -> Result<chrono::Duration, String> {
    let t = s.trim();
    let hint =
        "write a number and a unit: m (minutes), h (hours), d (days) or w (weeks), e.g. \"2d\"";
    let Some(unit) = t.chars().last() else {
        return Err(format!("empty time span: {hint}"));
    };
    let n: i64 = t[..t.len() - unit.len_utf8()]
        .trim()
        .parse()
        .map_err(|_| format!("`{t}` is not a time span: {hint}"))?;
    let minutes = match unit.to_ascii_lowercase() {
        'm' => Some(n),
        'h' => n.checked_mul(60),
        'd' => n.checked_mul(24 * 60),
        'w' => n.checked_mul(7 * 24 * 60),
        _ => None,
    }
    .ok_or_else(|| format!("`{t}` is not a time span: {hint}"))?;
    if !(1..=366 * 24 * 60).contains(&minutes) {
        return Err(format!("`{t}` is out of range: from 1m to 366d"));
    }
    Ok(chrono::Duration::minutes(minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_needs_seconds_like_the_scheduler() {
        let ams = chrono_tz::Europe::Amsterdam;
        assert!(check_cron("0 30 7 * * Mon-Fri", ams).is_ok());
        assert!(check_cron("0 0 8 * * *", ams).is_ok());
        assert!(check_cron("0 0 8 * * Mon 2030", ams).is_ok());
        assert!(check_cron("30 7 * * Mon-Fri", ams).is_err(), "five fields");
        assert!(check_cron("0 61 7 * * *", ams).is_err());
        assert!(check_cron("0 30 7 * * Funday", ams).is_err());
        assert!(check_cron("", ams).is_err());
        let never = check_cron("0 0 0 31 2 *", ams).unwrap_err();
        assert!(never.contains("never fires"), "{never}");
    }

    #[test]
    fn time_zone_suggests_spelling() {
        assert!(parse_time_zone("Europe/Amsterdam").is_ok());
        let e = parse_time_zone("europe/amsterdam").unwrap_err();
        assert!(e.contains("did you mean `Europe/Amsterdam`"), "{e}");
        assert!(parse_time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn domains_ids_locales_urls() {
        assert!(check_domain("reply.demodam.example").is_ok());
        assert!(check_domain("localhost").is_ok());
        assert!(check_domain("reply..example").is_err());
        assert!(check_domain("-bad.example").is_err());
        assert!(check_domain("with space.example").is_err());
        assert!(check_domain("a@b").is_err());
        assert!(check_group_id("all-staff").is_ok());
        assert!(check_group_id("All_Staff").is_err());
        assert!(check_role_name("social-worker").is_ok());
        assert!(check_role_name("a;b").is_err());
        assert!(check_locale("nl").is_ok());
        assert!(check_locale("../etc").is_err());
        assert!(check_template_name("digest").is_ok());
        assert!(check_template_name("../x").is_err());
        assert_eq!(
            check_http_url("https://forum.example/").as_deref(),
            Ok("https://forum.example")
        );
        assert!(check_http_url("forum.example").is_err());
        assert_eq!(parse_frequency("Daily"), Ok(Frequency::Daily));
        assert!(parse_frequency("hourly").is_err());
    }

    #[test]
    fn spans_parse_with_units_and_refuse_the_rest() {
        assert_eq!(parse_span("2d"), Ok(chrono::Duration::days(2)));
        assert_eq!(parse_span(" 36h "), Ok(chrono::Duration::hours(36)));
        assert_eq!(parse_span("90m"), Ok(chrono::Duration::minutes(90)));
        assert_eq!(parse_span("1W"), Ok(chrono::Duration::weeks(1)));
        for bad in ["", "d", "2", "2x", "-1d", "0h", "999d", "twod"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
    }
}
