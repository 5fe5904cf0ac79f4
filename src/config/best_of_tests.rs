//! Tests of a role's `best_of` schedule (its monthly "best of" digest) and of its `title` as the
//! preferences page shows it: read in the role's time zone, a bad cron named by line and key.

use super::*;
use crate::http::prefs_form::PrefsOptions;

const BASE: &str = r#"
[organisation]
name = "Test"
forum_url = "https://forum.test.example/"

[store]
path = "state.sqlite"

[mail]
from = "digest@test.example"
reply_domain = "reply.test.example"

[mail.transport]
kind = "maildir"
path = "outbox"

[[groups]]
id = "general"
name = "General"

[[people]]
email = "ann@test.example"
name = "Ann"
roles = ["planner"]

[[roles]]
name = "planner"
title = { en = "Urban planner", nl = "Stedenbouwkundige" }
groups = ["general"]
schedule = "0 0 7 * * *"
time_zone = "Europe/Amsterdam"
"#;

/// A config directory with templates; `tail` is appended to the role.
fn load(tail: &str) -> (tempfile::TempDir, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for (path, text) in [
        ("templates/digest.html.hbs", "<p></p>"),
        ("templates/digest.txt.hbs", ""),
        ("templates/best_of.html.hbs", "<p></p>"),
        ("templates/best_of.txt.hbs", ""),
        ("templates/i18n/en.toml", ""),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    let path = root.join("config/digestd.toml");
    std::fs::create_dir_all(root.join("config")).expect("mkdir");
    std::fs::write(&path, format!("{BASE}{tail}")).expect("write");
    let result = Config::load(&path);
    (dir, result)
}

#[test]
fn best_of_is_read_in_the_roles_time_zone() {
    let (_dir, config) = load("best_of = \"0  0 8 1 * *\"\n");
    let config = config.expect("valid");
    let best_of = config.roles[0].best_of.as_ref().expect("best_of");
    assert_eq!(best_of.cron, "0 0 8 1 * *");
    assert_eq!(best_of.time_zone, chrono_tz::Europe::Amsterdam);
    let (_dir, config) = load("");
    assert_eq!(config.expect("valid").roles[0].best_of, None);
}

#[test]
fn a_bad_best_of_is_named_by_line_and_key() {
    let (_dir, result) = load("best_of = \"monthly\"\n");
    let problems = result.expect_err("refused").problems;
    let line = BASE.lines().count() + 1;
    assert!(
        problems
            .iter()
            .any(|p| p.line == line && p.key == "roles[0].best_of" && p.message.contains("cron")),
        "{problems:?}"
    );
}

#[test]
fn the_preferences_page_lists_a_roles_title_not_its_id() {
    let (_dir, config) = load("");
    let config = config.expect("valid");
    let options = PrefsOptions::for_person(&config, &config.people[0], vec!["en".into()]);
    let roles = &options.schedules[0].roles;
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].get("nl"), "Stedenbouwkundige");
    assert_eq!(roles[0].get("en"), "Urban planner");
}

#[test]
fn the_preferences_page_offers_the_best_of_as_a_schedule_of_its_own() {
    let (_dir, config) = load("best_of = \"0 0 8 1 * *\"\n");
    let config = config.expect("valid");
    let options = PrefsOptions::for_person(&config, &config.people[0], vec!["en".into()]);
    let keys: Vec<&str> = options.schedules.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "0 0 7 * * *@Europe/Amsterdam",
            "best-of:planner:0 0 8 1 * *@Europe/Amsterdam"
        ]
    );
    assert_eq!(options.schedules[1].roles[0].get("en"), "Urban planner");
    let (_dir, config) = load("");
    let config = config.expect("valid");
    let options = PrefsOptions::for_person(&config, &config.people[0], vec!["en".into()]);
    assert_eq!(options.schedules.len(), 1, "no best_of, no such choice");
}

#[test]
fn a_best_of_without_its_template_pair_is_named_by_line_and_key() {
    let (dir, _) = load("");
    std::fs::remove_file(dir.path().join("templates/best_of.txt.hbs")).expect("remove");
    let path = dir.path().join("config/digestd.toml");
    std::fs::write(&path, format!("{BASE}best_of = \"0 0 8 1 * *\"\n")).expect("write");
    let problems = Config::load(&path).expect_err("refused").problems;
    let line = BASE.lines().count() + 1;
    assert!(
        problems.iter().any(|p| p.line == line
            && p.key == "roles[0].best_of"
            && p.message.contains("best_of.txt.hbs")
            && p.message.contains("planner")),
        "{problems:?}"
    );
}
