//! The HTTP endpoint over real HTTP on 127.0.0.1: `/healthz`, `/metrics`, and RFC 8058 one-click
//! unsubscribe, including forged and replayed tokens (refused, nothing changed).
//!
//! The client is plain HTTP/1.1 over a `TcpStream` with timeouts, so the test sees exactly the
//! bytes a mail provider's unsubscribe POST would get.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use digestd::http::token::{sign, UnsubscribeClaim};
use digestd::http::{unsubscribe_url, HttpConfig, Secret, Server};
use digestd::metrics::{FailureKind, Metrics};
use digestd::model::{Frequency, Person};
use digestd::store::Store;

mod support;
use support::http_client::request;

const ANN: &str = "ann@example.org";
const SCHEDULE: &str = "0 30 7 * * Mon-Fri@Europe/Amsterdam";
const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// A running endpoint on an ephemeral loopback port, stopped on drop.
struct TestServer {
    addr: SocketAddr,
    store_path: PathBuf,
    secret: Secret,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    fn start(metrics: &'static Metrics) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let store_path = dir.path().join("digestd.sqlite");
        let mut store = Store::open(&store_path).expect("store");
        store
            .sync_people(&[Person {
                email: ANN.into(),
                name: "Ann".into(),
                roles: vec![],
                time_zone: chrono_tz::Europe::Amsterdam,
                locale: "en".into(),
                frequency: Frequency::Daily,
                matrix_id: None,
            }])
            .expect("people");
        drop(store);
        let secret_file = dir.path().join("http.key");
        std::fs::write(&secret_file, hex::encode([7u8; 32])).expect("key");
        let secret = Secret::from_file(&secret_file).expect("key");
        let config = HttpConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            secret_file: Some(secret_file),
            ..HttpConfig::default()
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let path = store_path.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let server = Server::bind(&config, &path, metrics).await.expect("bind");
                addr_tx
                    .send(server.local_addr().expect("addr"))
                    .expect("send");
                server
                    .run(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server up");
        TestServer {
            addr,
            store_path,
            secret,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn store(&self) -> Store {
        Store::open(&self.store_path).expect("store")
    }

    /// True when Ann is opted out of [`SCHEDULE`]; the link never unsubscribes her from
    /// everything.
    fn unsubscribed(&self) -> bool {
        let store = self.store();
        let state = store.person_state(ANN).expect("state").expect("ann exists");
        assert!(
            !state.unsubscribed,
            "one-click opts out of one schedule only"
        );
        let opted_out = store.schedule_optouts(SCHEDULE).expect("optouts");
        assert!(store
            .schedule_optouts("some other schedule")
            .expect("optouts")
            .is_empty());
        opted_out.contains(ANN)
    }

    fn sql(&self, statement: &str) {
        let conn = rusqlite::Connection::open(&self.store_path).expect("conn");
        conn.execute_batch(statement).expect("sql");
    }

    fn used_tokens(&self) -> i64 {
        let store = self.store();
        let path = store.path().to_path_buf();
        drop(store);
        let conn = rusqlite::Connection::open(path).expect("conn");
        conn.query_row("SELECT COUNT(*) FROM unsubscribe_tokens_used", [], |r| {
            r.get(0)
        })
        .expect("count")
    }

    fn token(&self, email: &str) -> String {
        sign(&self.secret, &UnsubscribeClaim::new(email, SCHEDULE))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn leak_metrics() -> &'static Metrics {
    Box::leak(Box::new(Metrics::new()))
}

#[test]
fn healthz_answers_ok_with_the_store_open() {
    let server = TestServer::start(leak_metrics());
    let r = request(server.addr, "GET", "/healthz", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "ok\n");
    assert_eq!(request(server.addr, "GET", "/nope", None).status, 404);
}

#[test]
fn metrics_are_prometheus_text() {
    let metrics = leak_metrics();
    metrics.digest_sent(Duration::from_millis(20));
    metrics.digest_sent(Duration::from_millis(300));
    metrics.digest_failed(Duration::from_millis(5), FailureKind::Permanent);
    metrics.inbound("posted");
    metrics.poll("social-work", true);
    let server = TestServer::start(metrics);
    let r = request(server.addr, "GET", "/metrics", None);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    for line in [
        "digestd_digests_sent_total 2",
        "digestd_digests_failed_total{kind=\"permanent\"} 1",
        "digestd_digests_failed_total{kind=\"transient\"} 0",
        "digestd_send_latency_seconds_bucket{le=\"0.025\"} 2",
        "digestd_send_latency_seconds_bucket{le=\"+Inf\"} 3",
        "digestd_send_latency_seconds_count 3",
        "digestd_inbound_messages_total{outcome=\"posted\"} 1",
        "digestd_forum_polls_total{group=\"social-work\",result=\"ok\"} 1",
        "digestd_inbound_queue_depth 0",
        "digestd_store_up 1",
    ] {
        assert!(
            r.body.lines().any(|l| l == line),
            "missing {line:?}:\n{}",
            r.body
        );
    }
    // Every sample line is `name{labels} value` with a numeric value, and has a TYPE line.
    for l in r.body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = l.rsplit_once(' ').expect("name value");
        assert!(value.parse::<f64>().is_ok(), "value in {l:?}");
        let base = name.split('{').next().expect("name");
        let family = base
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            r.body.contains(&format!("# TYPE {family} "))
                || r.body.contains(&format!("# TYPE {base} ")),
            "no TYPE for {base}"
        );
    }
}

#[test]
fn get_shows_a_confirmation_form_and_changes_nothing() {
    let server = TestServer::start(leak_metrics());
    let token = server.token(ANN);
    for _ in 0..2 {
        let r = request(server.addr, "GET", &format!("/u/{token}"), None);
        assert_eq!(r.status, 200);
        assert!(r.body.contains("<form method=\"post\""), "{}", r.body);
        assert!(r
            .body
            .contains("name=\"List-Unsubscribe\" value=\"One-Click\""));
        assert!(r.body.contains(ANN));
    }
    assert!(!server.unsubscribed());
    assert_eq!(server.used_tokens(), 0);
}

#[test]
fn one_click_post_unsubscribes_once_and_a_replay_is_refused() {
    let metrics = leak_metrics();
    let server = TestServer::start(metrics);
    let url = unsubscribe_url(
        &format!("http://{}", server.addr),
        &server.secret,
        ANN,
        SCHEDULE,
    );
    let path = url
        .strip_prefix(&format!("http://{}", server.addr))
        .expect("our url");
    assert!(!server.unsubscribed());

    let r = request(server.addr, "POST", path, Some(ONE_CLICK));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(server.unsubscribed());
    assert_eq!(server.used_tokens(), 1);

    // Resubscribe by hand, then replay the same token: refused, nothing changes.
    server.sql("DELETE FROM schedule_optouts");
    let r = request(server.addr, "POST", path, Some(ONE_CLICK));
    assert_eq!(r.status, 410, "{}", r.body);
    assert!(!server.unsubscribed());
    assert_eq!(server.used_tokens(), 1);
    // And the page says so.
    assert_eq!(request(server.addr, "GET", path, None).status, 410);

    let m = request(server.addr, "GET", "/metrics", None);
    assert!(m.body.lines().any(|l| l == "digestd_unsubscribes_total 1"));
}

#[test]
fn forged_and_malformed_tokens_are_refused_and_change_nothing() {
    let server = TestServer::start(leak_metrics());
    // Signed with another key.
    let forged = sign(&Secret::generate(), &UnsubscribeClaim::new(ANN, SCHEDULE));
    let r = request(
        server.addr,
        "POST",
        &format!("/u/{forged}"),
        Some(ONE_CLICK),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // A real token with its payload swapped for another address.
    let real = server.token("bob@example.org");
    let ann_payload = server.token(ANN);
    let spliced = format!(
        "{}.{}",
        ann_payload.split_once('.').expect("dot").0,
        real.split_once('.').expect("dot").1
    );
    let r = request(
        server.addr,
        "POST",
        &format!("/u/{spliced}"),
        Some(ONE_CLICK),
    );
    assert_eq!(r.status, 403);
    // Garbage.
    for junk in ["x", "abc.def", "%2e%2e"] {
        let r = request(server.addr, "POST", &format!("/u/{junk}"), Some(ONE_CLICK));
        assert!(matches!(r.status, 400 | 403), "{junk}: {}", r.status);
    }
    // A GET with a forged token shows no form.
    let r = request(server.addr, "GET", &format!("/u/{forged}"), None);
    assert_eq!(r.status, 403);
    assert!(!r.body.contains("<form"));
    // A valid token without the RFC 8058 body is refused too.
    let token = server.token(ANN);
    let r = request(server.addr, "POST", &format!("/u/{token}"), Some(""));
    assert_eq!(r.status, 400);
    assert!(!server.unsubscribed());
    assert_eq!(server.used_tokens(), 0);
}

#[test]
fn expired_and_unknown_person_tokens_change_nothing() {
    let server = TestServer::start(leak_metrics());
    let old = UnsubscribeClaim {
        issued_at: Utc::now() - chrono::Duration::days(400),
        ..UnsubscribeClaim::new(ANN, SCHEDULE)
    };
    let r = request(
        server.addr,
        "POST",
        &format!("/u/{}", sign(&server.secret, &old)),
        Some(ONE_CLICK),
    );
    assert_eq!(r.status, 410);
    let stranger = server.token("nobody@example.org");
    let r = request(
        server.addr,
        "POST",
        &format!("/u/{stranger}"),
        Some(ONE_CLICK),
    );
    assert_eq!(r.status, 404);
    assert!(!server.unsubscribed());
    assert_eq!(server.used_tokens(), 0);
}
