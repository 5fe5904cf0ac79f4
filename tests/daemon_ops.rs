//! `digestd run` as systemd runs it: the notify protocol on a real datagram socket
//! (READY=1, WATCHDOG=1 at the configured interval, RELOADING/READY on SIGHUP, STOPPING=1),
//! SIGHUP with a valid and with a broken config, SIGTERM → exit 0.

mod support;

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::bin;

fn config_text(schedule: &str, group_name: &str) -> String {
    format!(
        r#"
[organisation]
name = "Gemeente Testdam"
forum_url = "https://forum.testdam.example"

[store]
path = "digestd.sqlite"

[mail]
from = "Testdam Groups <digest@testdam.example>"
reply_domain = "reply.testdam.example"

[mail.transport]
kind = "maildir"
path = "outbox"

[digest]
templates = "{templates}"

[[groups]]
id = "social-work"
name = "{group_name}"

[[roles]]
name = "social-worker"
groups = ["social-work"]
schedule = "{schedule}"
time_zone = "Europe/Amsterdam"

[[people]]
email = "alice@testdam.example"
name = "Alice Aalders"
roles = ["social-worker"]
"#,
        templates = support::repo_root().join("templates").display(),
    )
}

/// Reads datagrams until one contains `needle` (bounded by `timeout`); returns all read.
fn wait_for(sock: &UnixDatagram, needle: &str, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            let hit = msg.contains(needle);
            seen.push(msg);
            if hit {
                return seen;
            }
        }
    }
    panic!("no {needle:?} within {timeout:?}; got {seen:?}");
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn notify_protocol_reload_and_clean_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("digestd.toml");
    std::fs::write(&config, config_text("0 0 7 * * Mon-Fri", "Social work")).expect("config");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");

    let mut child = Command::new(bin())
        .args(["run", "-c"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start daemon");

    let seen = wait_for(&sock, "READY=1", Duration::from_secs(20));
    let ready = seen.last().expect("ready");
    assert!(
        ready.contains("STATUS=next digest"),
        "READY carries the next digest time: {ready}"
    );

    // Two watchdog pings within about one interval each (400 ms; pings at half of it).
    wait_for(&sock, "WATCHDOG=1", Duration::from_secs(3));
    wait_for(&sock, "WATCHDOG=1", Duration::from_secs(3));

    // SIGHUP with a valid new config: RELOADING=1, then READY=1 again.
    std::fs::write(
        &config,
        config_text("0 0 8 * * Mon-Fri", "Social work and care"),
    )
    .expect("config");
    signal(&child, "-HUP");
    wait_for(&sock, "RELOADING=1", Duration::from_secs(10));
    wait_for(&sock, "READY=1", Duration::from_secs(10));

    // SIGHUP with a broken config: the daemon keeps running on the old one.
    std::fs::write(&config, "[organisation\nname = ").expect("broken config");
    signal(&child, "-HUP");
    wait_for(&sock, "RELOADING=1", Duration::from_secs(10));
    wait_for(&sock, "READY=1", Duration::from_secs(10));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still running after a broken reload"
    );
    wait_for(&sock, "WATCHDOG=1", Duration::from_secs(3));

    // SIGTERM: STOPPING=1 and exit 0.
    signal(&child, "-TERM");
    wait_for(&sock, "STOPPING=1", Duration::from_secs(10));
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 on SIGTERM: {status:?}\n{stderr}"
    );
    assert!(
        stderr.contains("reload refused"),
        "the broken reload is logged:\n{stderr}"
    );
    assert!(
        stderr.contains("digestd.toml:"),
        "with file and line:\n{stderr}"
    );
}

#[test]
fn run_with_a_broken_config_exits_1_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("digestd.toml");
    std::fs::write(&config, config_text("not a cron", "Social work")).expect("config");
    let out = Command::new(bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("schedule") && stderr.contains("digestd.toml:"),
        "{stderr}"
    );
}

/// Editing the people list takes effect at the next digest, without a restart or SIGHUP.
#[test]
fn people_added_on_disk_get_the_next_digest_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("digestd.toml");
    std::fs::write(&config, config_text("* * * * * *", "Social work")).expect("config");
    let posts = dir.path().join("posts.jsonl");
    std::fs::write(
        &posts,
        r#"{"group":"social-work","thread":"t","title":"Winter visits","author":"author@testdam.example","body":"Checklist, anyone?"}"#,
    )
    .expect("posts");
    let out = Command::new(bin())
        .args(["import", "-c"])
        .arg(&config)
        .arg(&posts)
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut child = Command::new(bin())
        .args(["run", "-c"])
        .arg(&config)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon");
    let outbox = dir.path().join("outbox/new");
    let digests_to = |who: &str| -> usize {
        std::fs::read_dir(&outbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        std::fs::read_to_string(e.path())
                            .is_ok_and(|t| t.contains(&format!("<{who}>")))
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while digests_to("alice@testdam.example") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(digests_to("alice@testdam.example"), 1, "Alice's digest");

    let with_carol = format!(
        "{}\n[[people]]\nemail = \"carol@testdam.example\"\nname = \"Carol Claes\"\nroles = [\"social-worker\"]\n",
        config_text("* * * * * *", "Social work")
    );
    std::fs::write(&config, with_carol).expect("config with Carol");
    let deadline = Instant::now() + Duration::from_secs(30);
    while digests_to("carol@testdam.example") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(
        digests_to("carol@testdam.example"),
        1,
        "Carol, added on disk, got the next digest"
    );
    assert_eq!(
        digests_to("alice@testdam.example"),
        1,
        "Alice still has exactly one"
    );
    assert!(status.is_some_and(|s| s.success()));
}
