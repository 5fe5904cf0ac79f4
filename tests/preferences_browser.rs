//! The preferences page in a real browser: `digestd run` serves `[http]` on 127.0.0.1, a real
//! digest (`send-now`, through smtp-sink) carries the signed link in its footer, and headless
//! Chromium (Debian's, driven over WebDriver by chromedriver) opens it, leaves a group out,
//! pauses until a date and picks Dutch. The store then holds exactly that, a digest run while
//! paused sends nothing, and once the pause is cleared on the page the next digest is Dutch and
//! lacks the left-out group's threads. At phone width (390 px) the form fits without sideways
//! scrolling; screenshots at 1200 and 390 px are written to the target's tmp dir. A forged link,
//! an expired link and a form without its CSRF token are refused and change nothing; over plain
//! HTTP, each bad field is refused by name, and unsubscribe and resubscribe work.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use digestd::http::prefs_token::{sign, PrefsClaim};
use digestd::http::Secret;
use digestd::store::Store;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::chromedriver::ChromeDriver;
use support::config::{GroupSpec, RoleSpec};
use support::daemon::{digestd, import_posts, post_line_in, Daemon, Spec};
use support::http_client::request;
use support::{free_port, wait_until, SmtpSink, SunkMessage};

const ALICE: &str = "alice@testdam.example";

fn write_config(dir: &Path, sink_port: u16, http_port: u16) -> PathBuf {
    std::fs::write(dir.join("http.key"), format!("{}\n", "7c".repeat(32))).expect("key");
    Spec {
        transport: Spec::smtp(sink_port),
        groups: vec![
            GroupSpec::new("social-work", "Social work"),
            GroupSpec::new("planning", "Planning"),
        ],
        // Never fires during the test: digests come from `send-now` only.
        roles: vec![RoleSpec::new(
            "social-worker",
            &["social-work", "planning"],
            "0 0 0 1 1 *",
            "time_zone = \"Europe/Amsterdam\"",
        )],
        tail: format!(
            "[http]\nlisten = \"127.0.0.1:{http_port}\"\nsecret_file = \"http.key\"\n\
             preferences_link_days = 30\n"
        ),
        ..Spec::default()
    }
    .write_in(dir)
}

/// The text part of a delivered digest.
fn text_of(m: &SunkMessage) -> String {
    m.parsed().body_text(0).unwrap_or_default().to_string()
}

/// The preferences link in a digest's text part.
fn preferences_link(m: &SunkMessage, base: &str) -> String {
    let text = text_of(m);
    let start = text
        .find(&format!("{base}/p/"))
        .unwrap_or_else(|| panic!("no preferences link in:\n{text}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// `send-now`, then the sink's messages once `count` arrived (bounded).
fn send_now(config: &Path, sink: &SmtpSink, count: usize) -> Vec<SunkMessage> {
    digestd(config, &["send-now"]);
    sink.wait_for(count, Duration::from_secs(20))
}

fn store_of(config: &Path) -> Store {
    Store::open(&config.with_file_name("digestd.sqlite")).expect("store")
}

async fn browser(driver: &ChromeDriver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        driver.chrome_options(1200, 900),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .unwrap_or_else(|e| panic!("WebDriver session: {e}\n{}", driver.log_text()))
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text")
}

/// Writes a screenshot at `width` px (the page as a person sees it) and checks that nothing
/// needs sideways scrolling there.
async fn look_at(c: &Client, width: u32, name: &str) -> PathBuf {
    // Tall enough for the whole form in one picture.
    c.set_window_size(width, 1700).await.expect("resize");
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth, \
             document.getElementById('save').getBoundingClientRect().right];",
            vec![],
        )
        .await
        .expect("measure");
    let w: Vec<f64> = serde_json::from_value(widths).expect("numbers");
    assert!(
        w[0] <= w[1] && w[2] <= w[1],
        "at {width} px the page scrolls sideways: scrollWidth {}, innerWidth {}, save button's right edge {}",
        w[0],
        w[1],
        w[2]
    );
    let png = c.screenshot().await.expect("screenshot");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, png).expect("writing the screenshot");
    eprintln!("screenshot at {width} px: {}", path.display());
    path
}

async fn save(c: &Client) {
    c.find(Locator::Id("save"))
        .await
        .expect("save button")
        .click()
        .await
        .expect("click save");
    let found = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#notice.ok"))
        .await;
    if let Err(e) = found {
        panic!(
            "no saved notice ({e}):\n{}",
            c.source().await.unwrap_or_default()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_changes_their_digest_in_chromium_and_the_next_digest_follows() {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let http_port = free_port();
    let base = format!("http://127.0.0.1:{http_port}");
    let addr = SocketAddr::from(([127, 0, 0, 1], http_port));
    let config = write_config(dir.path(), sink.port(), http_port);
    let secret = Secret::from_file(&dir.path().join("http.key")).expect("key");
    import_posts(
        &config,
        &[
            post_line_in("social-work", "t1", "Winter visits", "Checklist, anyone?"),
            post_line_in("planning", "t2", "Zoning map", "New draft attached."),
        ],
    );
    let daemon = Daemon::start(&config, &[]);
    assert!(
        wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
            std::net::TcpStream::connect(addr).is_ok()
                && request(addr, "GET", "/healthz", None).status == 200
        }),
        "the HTTP endpoint did not come up:\n{}",
        daemon.stderr()
    );

    // A real digest with both groups and the signed link in its footer.
    let first = send_now(&config, &sink, 1);
    assert_eq!(first.len(), 1, "one digest:\n{}", daemon.stderr());
    let text = text_of(&first[0]);
    assert!(
        text.contains("Winter visits") && text.contains("Zoning map"),
        "{text}"
    );
    assert!(text.contains("Change your preferences"), "{text}");
    let link = preferences_link(&first[0], &base);
    let html = first[0]
        .parsed()
        .body_html(0)
        .unwrap_or_default()
        .to_string();
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "the HTML part links too"
    );

    // Chromium opens the link from the mail.
    let c = browser(&driver).await;
    c.goto(&link).await.expect("open the link");
    let page = body_text(&c).await;
    assert!(page.contains("Your digest preferences"), "{page}");
    assert!(page.contains("Alice Aalders"), "{page}");
    look_at(&c, 1200, "preferences-1200.png").await;
    look_at(&c, 390, "preferences-390.png").await;
    c.set_window_size(1200, 900).await.expect("resize");

    // Leave Planning out, pause until a date, choose Dutch; save.
    let planning = c.find(Locator::Id("group-planning")).await.expect("group");
    assert!(
        planning.is_selected().await.expect("state"),
        "followed at first"
    );
    planning.click().await.expect("untick Planning");
    let pause_day = (Utc::now() + chrono::Duration::days(10)).date_naive();
    // The date picker's typing order depends on the browser's locale; set the value the picker
    // would (the form posts it as YYYY-MM-DD either way).
    c.execute(
        "document.getElementById('pause_until').value = arguments[0];",
        vec![json!(pause_day.format("%Y-%m-%d").to_string())],
    )
    .await
    .expect("set the date");
    c.find(Locator::Id("locale"))
        .await
        .expect("language")
        .select_by_value("nl")
        .await
        .expect("choose Dutch");
    save(&c).await;
    let page = body_text(&c).await;
    assert!(page.contains("Opgeslagen"), "the page is Dutch now: {page}");
    assert!(
        !c.find(Locator::Id("group-planning"))
            .await
            .expect("group")
            .is_selected()
            .await
            .expect("state"),
        "Planning stays left out"
    );
    let shown = c
        .find(Locator::Id("pause_until"))
        .await
        .expect("date")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(
        shown.as_deref(),
        Some(pause_day.format("%Y-%m-%d").to_string().as_str())
    );

    // The store holds it.
    let prefs = store_of(&config)
        .preferences(ALICE)
        .expect("read")
        .expect("Alice");
    assert_eq!(
        prefs.overrides.excluded_groups,
        ["planning".to_string()].into()
    );
    assert_eq!(prefs.overrides.locale.as_deref(), Some("nl"));
    let until = prefs.overrides.paused_until.expect("a dated pause");
    assert_eq!(
        until
            .with_timezone(&chrono_tz::Europe::Amsterdam)
            .date_naive(),
        pause_day
    );

    // New posts in both groups; while paused, a run sends nothing.
    import_posts(
        &config,
        &[
            post_line_in("social-work", "t3", "Holiday rota", "Who is on call?"),
            post_line_in("planning", "t4", "Hearing dates", "Next Tuesday."),
        ],
    );
    digestd(&config, &["send-now"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.messages().len(), 1, "paused: no digest");

    // Clear the pause on the page; the next digest is Dutch and lacks Planning.
    c.find(Locator::Id("pause_until"))
        .await
        .expect("date")
        .clear()
        .await
        .expect("clear the date");
    save(&c).await;
    assert_eq!(
        store_of(&config)
            .preferences(ALICE)
            .expect("read")
            .expect("Alice")
            .overrides
            .paused_until,
        None
    );
    let next = send_now(&config, &sink, 2);
    assert_eq!(next.len(), 2, "the next digest:\n{}", daemon.stderr());
    let text = text_of(&next[1]);
    assert!(text.contains("Holiday rota"), "{text}");
    assert!(
        !text.contains("Hearing dates"),
        "Planning left out:\n{text}"
    );
    assert!(!text.contains("Planning"), "Planning left out:\n{text}");
    assert!(text.contains("Beste Alice Aalders"), "in Dutch:\n{text}");
    assert!(text.contains("Uw voorkeuren wijzigen"), "{text}");
    let subject = next[1].parsed().subject().unwrap_or_default().to_string();
    assert!(subject.contains("uw groepen"), "Dutch subject: {subject}");

    // A forged link: a clear page, nothing shown of anyone.
    let forged = sign(
        &Secret::generate(),
        &PrefsClaim {
            email: ALICE.into(),
            issued_at: Utc::now(),
        },
    );
    c.goto(&format!("{base}/p/{forged}")).await.expect("forged");
    let page = body_text(&c).await;
    assert!(page.contains("Link not valid"), "{page}");
    assert!(!page.contains("Alice"), "{page}");
    c.close().await.expect("close the browser");

    // An expired link: 410, in Alice's language (her config's: English).
    let old = sign(
        &secret,
        &PrefsClaim {
            email: ALICE.into(),
            issued_at: Utc::now() - chrono::Duration::days(31),
        },
    );
    let r = request(addr, "GET", &format!("/p/{old}"), None);
    assert_eq!(r.status, 410, "{}", r.body);
    assert!(r.body.contains("Link expired"), "{}", r.body);
    let r = request(addr, "GET", &format!("/p/{forged}"), None);
    assert_eq!(r.status, 403, "{}", r.body);

    // The genuine link without (or with a wrong) CSRF token: refused, nothing changed.
    let path = link.strip_prefix(&base).expect("path").to_string();
    for body in ["action=unsubscribe", "action=unsubscribe&csrf=AAAA"] {
        let r = request(addr, "POST", &path, Some(body));
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("Er is niets gewijzigd"), "{}", r.body);
    }
    let state = store_of(&config)
        .person_state(ALICE)
        .expect("read")
        .expect("Alice");
    assert!(
        !state.unsubscribed,
        "a form without its CSRF token changes nothing"
    );
    drop(daemon);
}

/// The `csrf` value of the first form on a page.
fn csrf_in(page: &str) -> String {
    let start = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in:\n{page}"))
        + "name=\"csrf\" value=\"".len();
    page[start..].chars().take_while(|c| *c != '"').collect()
}

#[test]
fn bad_fields_are_refused_by_name_and_unsubscribe_and_resubscribe_work_over_http() {
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let http_port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], http_port));
    let config = write_config(dir.path(), sink.port(), http_port);
    let secret = Secret::from_file(&dir.path().join("http.key")).expect("key");
    let daemon = Daemon::start(&config, &[]);
    assert!(
        wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
            std::net::TcpStream::connect(addr).is_ok()
                && request(addr, "GET", "/healthz", None).status == 200
        }),
        "the HTTP endpoint did not come up:\n{}",
        daemon.stderr()
    );
    let claim = |secs_ago: i64| PrefsClaim {
        email: ALICE.into(),
        issued_at: Utc::now() - chrono::Duration::seconds(secs_ago),
    };
    let path = format!("/p/{}", sign(&secret, &claim(0)));
    let page = request(addr, "GET", &path, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page
        .header("content-security-policy")
        .is_some_and(|c| c.contains("default-src 'none'")));
    let csrf = csrf_in(&page.body);
    let untouched = || {
        let store = store_of(&config);
        let p = store.preferences(ALICE).expect("read").expect("Alice");
        p.overrides == Default::default() && !p.unsubscribed && p.frequency_override.is_none()
    };
    assert!(untouched(), "a GET changes nothing");

    // Each bad field: 400, a message naming what to fix, nothing stored.
    for (body, says) in [
        ("pause_until=2020-01-01", "must be after today"),
        ("pause_until=31-12-2099", "is not a date"),
        ("group=elsewhere", "could not be saved"),
        ("locale=xx", "could not be saved"),
        ("frequency=hourly", "could not be saved"),
    ] {
        let r = request(
            addr,
            "POST",
            &path,
            // The first value of a field counts: the bad one comes first.
            Some(&format!("csrf={csrf}&action=save&{body}&frequency=daily")),
        );
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains(says), "{body}: {}", r.body);
        assert!(untouched(), "{body} stored nothing");
    }
    // The CSRF token of another link of the same person does not do.
    let other = csrf_in(
        &request(
            addr,
            "GET",
            &format!("/p/{}", sign(&secret, &claim(60))),
            None,
        )
        .body,
    );
    assert_ne!(other, csrf);
    let r = request(
        addr,
        "POST",
        &path,
        Some(&format!("csrf={other}&action=unsubscribe")),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(untouched());

    // Unsubscribe, then subscribe again: each a 303 back to the page.
    let r = request(
        addr,
        "POST",
        &path,
        Some(&format!("csrf={csrf}&action=unsubscribe")),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("?saved=1"));
    let state = || {
        store_of(&config)
            .person_state(ALICE)
            .expect("read")
            .expect("Alice")
    };
    assert!(state().unsubscribed);
    let page = request(addr, "GET", &format!("{path}?saved=1"), None);
    assert!(page.body.contains("You are unsubscribed"), "{}", page.body);
    assert!(page.body.contains("id=\"resubscribe\""), "{}", page.body);
    let r = request(
        addr,
        "POST",
        &path,
        Some(&format!("csrf={csrf}&action=resubscribe")),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(!state().unsubscribed);

    // A link for an address that gets no digests: a clear page, nothing else.
    let stranger = sign(
        &secret,
        &PrefsClaim {
            email: "mallory@testdam.example".into(),
            issued_at: Utc::now(),
        },
    );
    let r = request(addr, "GET", &format!("/p/{stranger}"), None);
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("does not receive digests"), "{}", r.body);
    drop(daemon);
}
