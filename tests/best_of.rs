//! The monthly best-of digest end to end through the binary, into a real smtp-sink:
//! `digestd best-of --role R [--month YYYY-MM]` sends each person of the role the month's
//! training highlights (even one a weekly digest already showed them), nothing to another
//! role, nothing twice, nothing to people who opted out, paused or turned digests off, and
//! nothing for a month without highlights; and the daemon fires it on the role's `best_of`
//! schedule, still once per person and month, and takes over a best-of firing a stopped worker
//! left unfinished.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use digestd::store::Store;
use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};
use support::daemon::Daemon;
use support::{run_digestd, SmtpSink};

/// Staff's best-of key for a `best_of` cron in UTC.
fn staff_key(cron: &str) -> String {
    format!("best-of:staff:{cron}@UTC")
}

/// The first instant of the current month (UTC).
fn this_month() -> DateTime<Utc> {
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .expect("a month start")
}

/// When the month's highlight was written: the last hour of last month.
fn last_month_highlight_at() -> DateTime<Utc> {
    this_month() - Duration::hours(1)
}

/// Staff (group general, best-of on `best_of`) and planners (group other, their own best-of);
/// ann (en) and bob (nl) are staff, dora has digests off, paul paused, olga opted out of the
/// staff best-of; carl is a planner. Last month general had one training highlight and one
/// ordinary post; this month and two months ago it had others, and `other` had one too.
fn world(sink: &SmtpSink, best_of: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let role = |name: &str, group: &str| {
        RoleSpec::new(
            name,
            &[group],
            "0 0 7 * * *",
            &format!(
                "time_zone = \"UTC\"\ntraining_tags = [\"training\"]\nbest_of = \"{best_of}\""
            ),
        )
    };
    let person = |email: &str, name: &str, role: &str, extra: &str| {
        PersonSpec::new(email, name, &[role], extra)
    };
    let spec = Spec {
        transport: Spec::smtp(sink.port()),
        groups: vec![
            GroupSpec::new("general", "General"),
            GroupSpec::new("other", "Other"),
        ],
        roles: vec![role("staff", "general"), role("planner", "other")],
        people: Vec::new(),
        persons: vec![
            person("ann@example.org", "Ann Example", "staff", "locale = \"en\""),
            person(
                "bob@example.org",
                "Bob Voorbeeld",
                "staff",
                "locale = \"nl\"",
            ),
            person(
                "dora@example.org",
                "Dora Off",
                "staff",
                "frequency = \"off\"",
            ),
            person("paul@example.org", "Paul Paused", "staff", ""),
            person("olga@example.org", "Olga Optout", "staff", ""),
            person("carl@example.org", "Carl Planner", "planner", ""),
        ],
        ..Spec::default()
    };
    let config = spec.write_in(dir.path());
    let post = |group: &str, thread: &str, at: DateTime<Utc>, tags: &str| {
        format!(
            r#"{{"group":"{group}","thread":"{thread}","title":"{thread}","author":"eve@example.org","created":"{}","body":"About {thread}.","tags":[{tags}]}}"#,
            at.to_rfc3339()
        )
    };
    let last = last_month_highlight_at();
    let lines = [
        post("general", "Handover checklist", last, "\"training\""),
        post("general", "Coffee machine", last, ""),
        post("general", "Fresh tip", Utc::now(), "\"training\""),
        post(
            "general",
            "Older tip",
            this_month() - Duration::days(45),
            "\"training\"",
        ),
        post("other", "Planner tip", last, "\"training\""),
    ];
    let file = dir.path().join("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("posts");
    ok(&config, &["import", &file.to_string_lossy()]);
    let loaded = digestd::config::Config::load(&config).expect("a valid config");
    let mut store = store(&config);
    store.sync_people(&loaded.people).expect("people stored");
    assert!(store.set_paused("paul@example.org", true).expect("pause"));
    assert!(store
        .opt_out("olga@example.org", &staff_key(best_of))
        .expect("opt out"));
    (dir, config)
}

fn ok(config: &Path, args: &[&str]) -> String {
    let out = run_digestd(config, args, None);
    assert!(
        out.status.success(),
        "digestd {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn store(config: &Path) -> Store {
    Store::open(&config.with_file_name("digestd.sqlite")).expect("store")
}

/// Checks a best-of mail to `to`: headers, both parts, last month's highlight only; returns
/// (subject, text).
fn check_best_of(raw: &[u8], to: &str) -> (String, String) {
    let text_raw = String::from_utf8_lossy(raw);
    for header in ["List-Id:", "List-Unsubscribe:", "Reply-To: digest@"] {
        assert!(text_raw.contains(header), "{to}: {header}: {text_raw}");
    }
    let parsed = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a message");
    let html = parsed.body_html(0).expect("an HTML part").into_owned();
    assert_eq!(html.matches("id=\"best-of\"").count(), 1, "{to}: {html}");
    let text = parsed.body_text(0).expect("a text part").into_owned();
    assert!(text.contains("Handover checklist"), "{to}: {text}");
    for absent in ["Coffee machine", "Fresh tip", "Older tip", "Planner tip"] {
        assert!(!text.contains(absent), "{to}: {absent}: {text}");
    }
    (parsed.subject().unwrap_or_default().to_string(), text)
}

#[test]
fn a_best_of_sends_last_months_highlights_to_each_person_of_the_role_once() {
    let sink = SmtpSink::start();
    let cron = "0 0 8 1 * *";
    let (_dir, config) = world(&sink, cron);
    // The weekly digest may show the highlight first (when it is under 30 days old); the
    // best-of recaps the month all the same.
    let out = ok(&config, &["send-now", "--role", "staff"]);
    // Olga opted out of the best-of only: she gets her digest.
    let before = sink.wait_for(3, StdDuration::from_secs(10)).len();
    assert_eq!(before, 3, "ann's, bob's and olga's digests: {out}");

    let out = ok(&config, &["best-of", "--role", "staff"]);
    assert!(out.contains("sent 2"), "{out}");
    assert!(out.contains("skipped 3"), "dora, paul and olga: {out}");
    let got = sink.wait_for(before + 2, StdDuration::from_secs(10));
    let mut to: Vec<String> = got[before..]
        .iter()
        .flat_map(|m| m.rcpt_to.clone())
        .collect();
    to.sort();
    assert_eq!(to, ["ann@example.org", "bob@example.org"]);
    let month = this_month() - Duration::days(1);
    for m in &got[before..] {
        let (subject, text) = check_best_of(&m.raw, &m.rcpt_to[0]);
        if m.rcpt_to[0] == "ann@example.org" {
            let heading = format!("== Training highlights of {} ==", month.format("%B %Y"));
            assert!(text.contains(&heading), "{heading}: {text}");
            assert!(subject.starts_with("Best of "), "{subject}");
        } else {
            assert!(subject.starts_with("Het beste van "), "{subject}");
        }
    }

    // A second firing in the same month sends nothing more.
    let out = ok(&config, &["best-of", "--role", "staff"]);
    assert!(out.contains("sent 0"), "{out}");
    // Planners' best-of goes to carl only, with the planners' highlight.
    let out = ok(&config, &["best-of", "--role", "planner"]);
    assert!(out.contains("sent 1"), "{out}");
    let got = sink.wait_for(before + 3, StdDuration::from_secs(10));
    std::thread::sleep(StdDuration::from_millis(300));
    assert_eq!(sink.messages().len(), before + 3, "never twice");
    let carl = got.last().expect("carl's best-of");
    assert_eq!(carl.rcpt_to, ["carl@example.org"]);
    let text = String::from_utf8_lossy(&carl.raw);
    assert!(
        text.contains("Planner tip") && !text.contains("Handover"),
        "{text}"
    );
}

#[test]
fn a_month_without_highlights_sends_nothing_and_bad_requests_are_refused() {
    let sink = SmtpSink::start();
    let (_dir, config) = world(&sink, "0 0 8 1 * *");
    let out = ok(
        &config,
        &["best-of", "--role", "staff", "--month", "2020-01"],
    );
    assert!(out.contains("sent 0") && out.contains("empty 2"), "{out}");
    std::thread::sleep(StdDuration::from_millis(300));
    assert!(sink.messages().is_empty(), "no mail for an empty month");

    for (args, says) in [
        (vec!["--role", "staff", "--month", "2026-13"], "YYYY-MM"),
        (vec!["--role", "nobody"], "no role named \"nobody\""),
    ] {
        let mut all = vec!["best-of"];
        all.extend(args);
        let out = run_digestd(&config, &all, None);
        assert!(!out.status.success(), "{all:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }
}

#[test]
fn the_daemon_fires_the_best_of_on_its_schedule_and_sends_it_once_a_month() {
    let sink = SmtpSink::start();
    // Every second: many firings, one mail per person.
    let (_dir, config) = world(&sink, "* * * * * *");
    let mut daemon = Daemon::start(&config, &[]);
    assert!(
        daemon.wait_log("best-of run finished", 3, StdDuration::from_secs(30)),
        "{}",
        daemon.stderr()
    );
    daemon.signal("-TERM");
    daemon.wait_exit(StdDuration::from_secs(30));
    let got = sink.messages();
    let mut to: Vec<String> = got.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    // Each role's best-of, once: ann, bob (staff) and carl (planner); the role digests'
    // schedule does not fire in the test.
    assert_eq!(
        to,
        ["ann@example.org", "bob@example.org", "carl@example.org"],
        "{}",
        daemon.stderr()
    );
    for m in got.iter().filter(|m| m.rcpt_to[0] != "carl@example.org") {
        check_best_of(&m.raw, &m.rcpt_to[0]);
    }
}

#[test]
fn a_best_of_firing_a_stopped_worker_left_unfinished_is_taken_over_once() {
    let sink = SmtpSink::start();
    // A schedule that does not fire during the test: only the take-over round sends.
    let cron = "0 0 6 1 1 *";
    let (_dir, config) = world(&sink, cron);
    let key = staff_key(cron);
    // Collected before the dead worker's firing, as its firing did.
    ok(&config, &["collect"]);
    // The firing a worker began a minute ago and left: its one slice claimed, the lease long
    // expired, nothing sent.
    let now = Utc::now();
    let at = Utc
        .timestamp_opt((now - Duration::minutes(1)).timestamp(), 0)
        .single()
        .expect("an instant")
        .max(this_month());
    {
        let mut store = store(&config);
        assert_eq!(
            store
                .join_firing(&key, at, 1, "dead:1:aa", at)
                .expect("firing"),
            1
        );
        let claimed = store
            .claim_slice(&key, at, "dead:1:aa", at, at + Duration::seconds(1))
            .expect("claim");
        assert_eq!(claimed, Some(0));
    }
    let mut daemon = Daemon::start(&config, &[]);
    assert!(
        daemon.wait_log("best-of run finished", 1, StdDuration::from_secs(30)),
        "{}",
        daemon.stderr()
    );
    // A few more take-over rounds: a second run would send again.
    std::thread::sleep(StdDuration::from_secs(3));
    daemon.signal("-TERM");
    daemon.wait_exit(StdDuration::from_secs(30));
    let log = daemon.stderr();
    assert!(
        log.contains("taking over a digest run left unfinished"),
        "{log}"
    );
    let got = sink.messages();
    let mut to: Vec<String> = got.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    assert_eq!(to, ["ann@example.org", "bob@example.org"], "{log}");
    for m in &got {
        check_best_of(&m.raw, &m.rcpt_to[0]);
    }
    let slices = store(&config).firing_slices(&key, at).expect("slices");
    assert!(slices.iter().all(|s| s.done.is_some()), "{slices:?}");
}
