//! `digestd run`'s collection loop: each forum is polled on its own interval, a forum that is
//! down delays only its own groups and is logged once per outage, and `/metrics` shows each
//! forum's health.

mod support;

use std::time::Duration;

use support::config::GroupSpec;
use support::daemon::{digestd, Daemon, Spec};
use support::free_port;

#[test]
fn each_forum_on_its_interval_and_a_down_forum_is_logged_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("digestd.toml");
    // Nothing listens on `dead`: the feed forum is down for the whole test.
    let dead = free_port();
    let http = free_port();
    let spec = Spec {
        forums: "[forums.local]\nkind = \"local\"\npoll_seconds = 1\n\n\
                 [forums.intranet]\nkind = \"feed\"\npoll_seconds = 1\n"
            .into(),
        groups: vec![
            GroupSpec::new("social-work", "Social work"),
            GroupSpec::on(
                "news",
                "News",
                "intranet",
                &format!("feed_url = \"http://127.0.0.1:{dead}/news.atom\""),
            ),
        ],
        tail: format!("[daemon]\nlog_filter = \"info\"\n\n[http]\nlisten = \"127.0.0.1:{http}\"\n"),
        ..Spec::default()
    };
    spec.write(&config);
    let daemon = Daemon::start(&config, &[]);
    assert!(
        daemon.wait_log("digestd running", 1, Duration::from_secs(30)),
        "{}",
        daemon.stderr()
    );

    // A post on the built-in forum is collected within its interval, whatever the feed does.
    let post = support::run_digestd(
        &config,
        &[
            "post",
            "--group",
            "social-work",
            "--author",
            "alice@testdam.example",
        ],
        Some(b"Who has a template for a care plan?\n\nAnything will do."),
    );
    assert!(post.status.success(), "{post:?}");
    assert!(
        daemon.wait_log("collected 1 new posts", 1, Duration::from_secs(30)),
        "the local forum's post was not collected while the feed forum was down:\n{}",
        daemon.stderr()
    );

    // Several polls of the dead forum have happened by now; its outage is logged once.
    std::thread::sleep(Duration::from_secs(4));
    let log = daemon.stderr();
    assert_eq!(
        log.matches("forum unreachable").count(),
        1,
        "one line per outage, not per poll:\n{log}"
    );
    assert!(log.contains("intranet"), "{log}");

    let addr: std::net::SocketAddr = format!("127.0.0.1:{http}").parse().expect("addr");
    let metrics = support::http_client::request(addr, "GET", "/metrics", None).body;
    assert!(
        metrics.contains("digestd_forum_instance_up{forum=\"intranet\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("digestd_forum_instance_up{forum=\"local\"} 1"),
        "{metrics}"
    );
    drop(daemon);
    // The post is in the store exactly once.
    let out = digestd(&config, &["status"]);
    assert!(out.status.success());
}
