//! The inbound benchmarks run and report their figures: `digestd bench trim --failures` on one
//! shared corpus prints an accuracy percentage, `digestd bench inbound` (small, debug build)
//! prints messages per second and the ratio to bare parsing. No figure is asserted: speed is
//! the benchmark's business, not a test's.

mod support;

use std::process::Command;

use support::{bin, repo_root};

fn run(args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run digestd bench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "digestd {args:?}: {text}");
    text
}

#[test]
fn bench_trim_prints_accuracy_and_the_misses() {
    let corpus = repo_root().join("../shared/corpora/talon-html-replies");
    if !corpus.is_dir() {
        support::skip_unless_ci(&format!("the corpus {}", corpus.display()));
        return;
    }
    let corpus = corpus.to_string_lossy().into_owned();
    let text = run(&["bench", "trim", "--corpus", &corpus, "--failures"]);
    let accuracy = regex::Regex::new(r"accuracy (\d+(?:\.\d+)?)%")
        .expect("regex")
        .captures(&text)
        .and_then(|c| c[1].parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no accuracy percentage in:\n{text}"));
    assert!((0.0..=100.0).contains(&accuracy), "{text}");
    assert!(text.contains("messages/s"), "{text}");
    if accuracy < 100.0 {
        assert!(
            text.contains("--- miss "),
            "--failures shows each miss:\n{text}"
        );
    }
}

#[test]
fn bench_inbound_prints_its_rate_and_the_ratio_to_bare_parsing() {
    let text = run(&["bench", "inbound", "--messages", "200"]);
    assert!(text.contains("200 messages"), "{text}");
    assert!(text.contains("msg/s"), "{text}");
    assert!(text.contains("the store alone"), "{text}");
    for label in [
        "whole path",
        "without the store",
        "the store's insert alone",
    ] {
        let ratio = regex::Regex::new(&format!(r"{label}: (\d+(?:\.\d+)?)"))
            .expect("regex")
            .captures(&text)
            .and_then(|c| c[1].parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no ratio '{label}' in:\n{text}"));
        assert!(ratio > 0.0, "{label}: {text}");
    }
}

#[test]
fn bench_scale_without_a_postgresql_url_says_what_it_needs() {
    let out = Command::new(bin())
        .args(["bench", "scale", "--workers", "1"])
        .output()
        .expect("run digestd bench scale");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "refused without --url");
    assert!(
        err.contains("--url") && err.contains("CREATEDB"),
        "says what it needs: {err}"
    );
}

/// Small and in a debug build: the table is printed, each digest once in every round (no
/// "warning:" line), the ratio at the end. No figure is asserted.
#[test]
fn bench_scale_prints_digests_per_second_per_worker_count_and_the_ratio() {
    support::ensure_deps();
    let Some(pg) = support::postgres::PgServer::shared() else {
        return;
    };
    let url = pg.url("postgres");
    let text = run(&[
        "bench",
        "scale",
        "--workers",
        "1,2",
        "--people",
        "60",
        "--url",
        &url,
    ]);
    for needle in [
        "digests/s",
        "\nsqlite ",
        "\npostgresql ",
        "ratio 2 workers / 1 worker",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
    assert!(!text.contains("warning:"), "every digest once:\n{text}");
}
