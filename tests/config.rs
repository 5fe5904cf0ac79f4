//! `digestd check-config`: exit 0 on a good file; exit 1 with `file:line: key: message` on stderr
//! for each kind of mistake an admin can make. One small fixture per rule in
//! `tests/fixtures/config/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn check_config(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digestd"))
        .args(["check-config", "-c"])
        .arg(path)
        .env_remove("DIGESTD_CONFIG")
        .output()
        .expect("run digestd")
}

#[test]
fn good_file_passes() {
    let out = check_config(&fixture("good.toml"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok (1 groups, 1 roles, 3 people)"),
        "{stdout}"
    );
}

#[test]
fn shipped_example_passes() {
    let out = check_config(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/digestd.toml"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("20 people"), "{stdout}");
}

/// (fixture, file the problem is in, line, key, words in the message)
const CASES: &[(&str, &str, usize, &str, &str)] = &[
    ("syntax.toml", "syntax.toml", 9, "mail.from", "TOML syntax"),
    (
        "unknown-key.toml",
        "unknown-key.toml",
        18,
        "digest.max_thread",
        "unknown key `max_thread`",
    ),
    (
        "bad-cron.toml",
        "bad-cron.toml",
        26,
        "roles[0].schedule",
        "invalid cron expression",
    ),
    (
        "bad-time-zone.toml",
        "bad-time-zone.toml",
        27,
        "roles[0].time_zone",
        "unknown time zone `Europe/Amsterdamm`",
    ),
    (
        "unknown-group.toml",
        "unknown-group.toml",
        25,
        "roles[0].groups[1]",
        "unknown group `planing`",
    ),
    (
        "unknown-role.toml",
        "unknown-role.toml",
        32,
        "people[0].roles[0]",
        "unknown role `staf`",
    ),
    (
        "duplicate-group.toml",
        "duplicate-group.toml",
        24,
        "groups[1].id",
        "duplicate group id `general`",
    ),
    (
        "duplicate-role.toml",
        "duplicate-role.toml",
        35,
        "roles[1].name",
        "duplicate role name `Staff`",
    ),
    (
        "duplicate-email.toml",
        "duplicate-email.toml",
        35,
        "people[1].email",
        "duplicate person `a@test.example`",
    ),
    (
        "bad-address.toml",
        "bad-address.toml",
        30,
        "people[0].email",
        "not a valid address",
    ),
    (
        "bad-from.toml",
        "bad-from.toml",
        9,
        "mail.from",
        "not a valid address",
    ),
    (
        "bad-reply-domain.toml",
        "bad-reply-domain.toml",
        10,
        "mail.reply_domain",
        "not a domain name",
    ),
    (
        "smtp-without-host.toml",
        "smtp-without-host.toml",
        12,
        "mail.transport.host",
        "missing key",
    ),
    (
        "missing-password-file.toml",
        "missing-password-file.toml",
        16,
        "mail.transport.password_file",
        "cannot read password file",
    ),
    (
        "missing-template.toml",
        "missing-template.toml",
        28,
        "roles[0].template",
        "fancy.html.hbs not found",
    ),
    (
        "missing-locale.toml",
        "missing-locale.toml",
        33,
        "people[0].locale",
        "i18n/de.toml not found",
    ),
    (
        "max-threads-zero.toml",
        "max-threads-zero.toml",
        18,
        "digest.max_threads",
        "out of range",
    ),
    (
        "attachment-cap-too-small.toml",
        "attachment-cap-too-small.toml",
        21,
        "inbound.max_attachment_bytes",
        "out of range: must be 1024 to",
    ),
    (
        "concurrency-zero.toml",
        "concurrency-zero.toml",
        11,
        "mail.concurrency",
        "out of range",
    ),
    (
        "threads-zero.toml",
        "threads-zero.toml",
        20,
        "daemon.threads",
        "out of range: must be 1 to 1024",
    ),
    (
        "role-without-groups.toml",
        "role-without-groups.toml",
        25,
        "roles[0].groups",
        "at least one group",
    ),
    (
        "bad-ambassadors.toml",
        "bad-ambassadors.toml",
        25,
        "groups[0].ambassadors[1]",
        "ambassador `nobody@test.example` is not a configured person",
    ),
    (
        "bad-ambassadors.toml",
        "bad-ambassadors.toml",
        28,
        "ambassadors.schedule",
        "invalid cron expression",
    ),
    (
        "csv-unknown-role.toml",
        "bad-people.csv",
        3,
        "roles",
        "unknown role `janitor`",
    ),
];

#[test]
fn each_broken_file_names_file_line_and_key() {
    let mut failures = Vec::new();
    for (name, in_file, line, key, words) in CASES {
        let out = check_config(&fixture(name));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = format!("{}:{line}: {key}: ", fixture(in_file).display());
        let found = stderr
            .lines()
            .any(|l| l.starts_with(&expected) && l.contains(words));
        if out.status.code() != Some(1) || !found {
            failures.push(format!(
                "{name}: exit {:?}, wanted a line starting `{expected}` containing `{words}`, got:\n{stderr}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let out = check_config(&fixture("many-problems.toml"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let keys: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .collect();
    assert_eq!(
        keys,
        vec![
            "digest.max_threads",
            "digest.colour",
            "roles[0].schedule",
            "people[0].roles[0]"
        ],
        "{stderr}"
    );
}

#[test]
fn unreadable_file_is_an_error_not_a_panic() {
    let out = check_config(&fixture("does-not-exist.toml"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does-not-exist.toml: cannot read the file"),
        "{stderr}"
    );
}

#[test]
fn forums_of_every_kind_and_their_groups_pass() {
    let out = check_config(&fixture("forums.toml"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok (5 groups"), "{stdout}");
}

#[test]
fn forum_mistakes_name_file_line_and_key() {
    let out = check_config(&fixture("forums-bad.toml"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (line, key, words) in [
        (
            24,
            "forums.city-matrix.homeserver",
            "not an http:// or https:// URL",
        ),
        (
            26,
            "forums.city-matrix.as_token_file",
            "cannot read secret file",
        ),
        (27, "forums.city-matrix.bot_user", "a localpart"),
        (
            28,
            "forums.city-matrix.url",
            "does not apply to a forum of kind `matrix`",
        ),
        (31, "forums.local.kind", "kept for the built-in forum"),
        (33, "forums.noname.kind", "missing key"),
        (46, "groups[0].forum", "unknown forum `nowhere`"),
        (52, "groups[1].room", "neither a room id"),
        (53, "groups[1].category", "is for discourse forums"),
    ] {
        let want = format!("forums-bad.toml:{line}: {key}: ");
        let hit = stderr
            .lines()
            .find(|l| l.contains(&want))
            .unwrap_or_else(|| panic!("no `{want}` in:\n{stderr}"));
        assert!(hit.contains(words), "{hit}");
    }
    // The group on the broken forum is not reported twice (its forum's problems say it all).
    assert!(!stderr.contains("unknown forum `city-matrix`"), "{stderr}");
}

#[test]
fn online_check_names_the_forum_that_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = std::fs::read_to_string(fixture("good.toml")).expect("good.toml");
    // A port nothing listens on: the feed forum is unreachable.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let text = good.replace("people_csv = \"good-people.csv\"\n", "").replace(
        "[[groups]]\nid = \"general\"\nname = \"General\"\n",
        &format!(
            "[forums.intranet]\nkind = \"feed\"\n\n[[groups]]\nid = \"general\"\nname = \"General\"\n\n\
             [[groups]]\nid = \"news\"\nname = \"News\"\nforum = \"intranet\"\n\
             feed_url = \"http://127.0.0.1:{dead}/feed.xml\"\n"
        ),
    );
    let templates = fixture("templates");
    let text = text.replace(
        "templates = \"templates\"",
        &format!("templates = \"{}\"", templates.display()),
    );
    let path = dir.path().join("digestd.toml");
    std::fs::write(&path, text).expect("write");

    let offline = check_config(&path);
    assert_eq!(offline.status.code(), Some(0), "{offline:?}");

    let out = Command::new(env!("CARGO_BIN_EXE_digestd"))
        .args(["check-config", "--online", "-c"])
        .arg(&path)
        .output()
        .expect("run digestd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("forum local (local, 1 groups): ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains("forum intranet (feed, 1 groups): FAILED: "),
        "{stdout}"
    );
}
