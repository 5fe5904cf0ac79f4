//! The built-in forum through the real binary: `post`, `import`, `collect`, `thread`.

mod support;

use support::config::{GroupSpec, PersonSpec, RoleSpec, Spec};

use std::path::{Path, PathBuf};
use std::process::Output;

/// A small configuration in a temp dir: two groups, one role, two people.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = |id: &str, name: &str| GroupSpec {
        extra: "forum = \"local\"".into(),
        ..GroupSpec::new(id, name)
    };
    let path = Spec {
        organisation: "Testdam".into(),
        forum_url: "https://forum.test.example".into(),
        store_path: "data/store.sqlite".into(),
        from: "Digests <digest@test.example>".into(),
        reply_domain: "reply.test.example".into(),
        groups: vec![local("planning", "Spatial planning"), local("hr", "HR")],
        roles: vec![RoleSpec::new(
            "planner",
            &["planning", "hr"],
            "0 0 8 * * Mon-Fri",
            "training_tags = [\"training\"]\ntime_zone = \"Europe/Amsterdam\"",
        )],
        people: Vec::new(),
        persons: vec![
            PersonSpec::new(
                "anna@test.example",
                "Anna de Vries",
                &["planner"],
                "locale = \"en\"",
            ),
            PersonSpec::new(
                "piet@test.example",
                "Piet Bakker",
                &["planner"],
                "locale = \"en\"",
            ),
        ],
        ..Spec::default()
    }
    .write_in(dir.path());
    (dir, path)
}

fn digestd(config: &Path, args: &[&str], stdin: &str) -> Output {
    support::run_digestd(config, args, Some(stdin.as_bytes()))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn post_then_thread_shows_it() {
    let (_dir, cfg) = setup();
    let out = digestd(
        &cfg,
        &[
            "post",
            "--group",
            "planning",
            "--author",
            "Anna@Test.example",
            "--tags",
            "Training,zoning",
        ],
        "# New zoning rules\n\nThe council adopted the **harbour** plan.\n",
    );
    assert_eq!(ok(&out), "posted 1 in thread 1\n");
    let out = digestd(
        &cfg,
        &[
            "post",
            "--group",
            "planning",
            "--author",
            "piet@test.example",
            "--thread",
            "1",
        ],
        "Thanks, I will read it.\n",
    );
    assert_eq!(ok(&out), "posted 2 in thread 1\n");

    let text = ok(&digestd(&cfg, &["thread", "1"], ""));
    assert!(text.starts_with("New zoning rules\n"), "{text}");
    assert!(text.contains("https://forum.test.example/t/1"), "{text}");
    assert!(
        text.contains("Anna de Vries <anna@test.example> · ")
            && text.contains(" · tags: training, zoning"),
        "{text}"
    );
    assert!(
        text.contains("The council adopted the **harbour** plan."),
        "{text}"
    );
    assert!(text.contains("Piet Bakker <piet@test.example>"), "{text}");
    assert!(text.contains("Thanks, I will read it."), "{text}");
    let anna = text.find("Anna de Vries").expect("anna");
    let piet = text.find("Piet Bakker").expect("piet");
    assert!(anna < piet, "oldest first");
}

#[test]
fn post_refuses_strangers_unknown_threads_and_empty_bodies() {
    let (_dir, cfg) = setup();
    let err = failed(&digestd(
        &cfg,
        &[
            "post",
            "--group",
            "planning",
            "--author",
            "mallory@evil.example",
        ],
        "spam",
    ));
    assert!(err.contains("not a configured person"), "{err}");
    let err = failed(&digestd(
        &cfg,
        &[
            "post",
            "--group",
            "finance",
            "--author",
            "anna@test.example",
        ],
        "hello",
    ));
    assert!(err.contains("unknown group"), "{err}");
    let err = failed(&digestd(
        &cfg,
        &[
            "post",
            "--group",
            "planning",
            "--author",
            "anna@test.example",
            "--thread",
            "7",
        ],
        "hello",
    ));
    assert!(err.contains("no thread 7 in group planning"), "{err}");
    let err = failed(&digestd(
        &cfg,
        &[
            "post",
            "--group",
            "planning",
            "--author",
            "anna@test.example",
        ],
        "  \n",
    ));
    assert!(err.contains("empty"), "{err}");
    let err = failed(&digestd(&cfg, &["thread", "1"], ""));
    assert!(err.contains("no thread 1"), "{err}");
}

#[test]
fn import_collect_thread() {
    let (_dir, cfg) = setup();
    let posts = fixture("posts.jsonl");
    let out = ok(&digestd(&cfg, &["import", &posts], ""));
    assert!(out.starts_with("imported 6 posts from "), "{out}");
    // The same file again adds nothing.
    let out = ok(&digestd(&cfg, &["import", &posts], ""));
    assert!(out.starts_with("imported 0 posts from "), "{out}");

    let out = ok(&digestd(&cfg, &["collect"], ""));
    assert_eq!(out, "collected 6 new posts from 2 groups (0 failed)\n");
    let out = ok(&digestd(&cfg, &["collect"], ""));
    assert_eq!(out, "collected 0 new posts from 2 groups (0 failed)\n");

    let text = ok(&digestd(&cfg, &["thread", "1"], ""));
    assert!(
        text.starts_with("New zoning plan for the harbour district\n"),
        "{text}"
    );
    assert!(
        text.contains("Anna de Vries <anna@test.example> · 2024-05-06 08:15 UTC · tags: zoning"),
        "{text}"
    );
    assert!(
        text.contains("Piet Bakker <piet@test.example> · 2024-05-06 09:40 UTC · 2 likes"),
        "{text}"
    );
    assert!(
        text.contains("Eva External <extern@partner.example> · 2024-05-06 11:05 UTC · tags: training, best-answer · 5 likes · best answer"),
        "{text}"
    );
    assert!(
        text.contains("1. download the counts\n2. rerun the model"),
        "{text}"
    );
    let hr = ok(&digestd(&cfg, &["thread", "3"], ""));
    assert!(hr.starts_with("Parental leave policy 2024\n"), "{hr}");
    assert!(hr.contains("thread 3 in group hr"), "{hr}");

    // A post made after the import is collected by the next pass, and only it.
    ok(&digestd(
        &cfg,
        &[
            "post",
            "--group",
            "hr",
            "--author",
            "anna@test.example",
            "--thread",
            "3",
        ],
        "Thank you!",
    ));
    let out = ok(&digestd(&cfg, &["collect"], ""));
    assert_eq!(out, "collected 1 new posts from 2 groups (0 failed)\n");
}

#[test]
fn a_bad_line_imports_nothing_and_names_the_line() {
    let (_dir, cfg) = setup();
    let err = failed(&digestd(&cfg, &["import", &fixture("posts_bad.jsonl")], ""));
    assert!(err.contains("line 3"), "{err}");
    let err2 = failed(&digestd(
        &cfg,
        &["import", &fixture("posts_unknown_group.jsonl")],
        "",
    ));
    assert!(
        err2.contains("line 2") && err2.contains("finance"),
        "{err2}"
    );
    // Nothing landed: no thread, nothing to collect.
    let err = failed(&digestd(&cfg, &["thread", "1"], ""));
    assert!(err.contains("no thread 1"), "{err}");
    let out = ok(&digestd(&cfg, &["collect"], ""));
    assert_eq!(out, "collected 0 new posts from 2 groups (0 failed)\n");
}
