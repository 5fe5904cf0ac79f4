//! `digestd run` as a child process, with a config written from a [`Spec`] (see
//! `support::config`), a real
//! `NOTIFY_SOCKET` datagram socket ([`NotifySocket`]) and its stderr collected on a thread (so a
//! chatty daemon never blocks on a full pipe). Every wait is bounded by a timeout.

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bin;
pub use super::config::Spec;

/// A bound notification socket, as systemd holds it.
pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds `dir/notify.sock`.
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        NotifySocket { socket, path }
    }

    /// The socket's path (the child's `NOTIFY_SOCKET`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Datagrams until one contains `needle` (returned last), within `timeout`; panics naming
    /// what was seen otherwise. At most 100 000 datagrams.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Vec<String> {
        match self.until(timeout, |m| m.contains(needle)) {
            Ok(seen) => seen,
            Err(seen) => panic!("no {needle:?} within {timeout:?}; got {seen:?}"),
        }
    }

    /// Everything received during `window`.
    pub fn collect_for(&self, window: Duration) -> Vec<String> {
        self.until(window, |_| false).unwrap_or_else(|seen| seen)
    }

    fn until(
        &self,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        for _ in 0..100_000 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.socket
                .set_read_timeout(Some(left.min(Duration::from_millis(200))))
                .expect("timeout");
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                let hit = done(&msg);
                seen.push(msg);
                if hit {
                    return Ok(seen);
                }
            }
        }
        Err(seen)
    }
}

/// A running `digestd run -c CONFIG`; killed on drop if still running.
pub struct Daemon {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts the daemon with extra environment variables (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `JOURNAL_STREAM`, …). `RUST_LOG` is cleared so the config's log filter applies.
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = Command::new(bin());
        cmd.args(["run", "-c"])
            .arg(config)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start daemon");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr piped");
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Daemon {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    /// Sends a signal (`"-HUP"`, `"-TERM"`).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the exit (at most `timeout`; then kills it and returns `None`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// Stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until stderr contains `needle` `count` times (at most `timeout`); returns whether it did.
    pub fn wait_log(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stderr().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `digestd ARGS -c CONFIG` to completion and returns its output (panics when it fails).
pub fn digestd(config: &Path, args: &[&str]) -> std::process::Output {
    let out = super::run_digestd(config, args, None);
    assert!(
        out.status.success(),
        "digestd {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One post line for `digestd import` in group `social-work`, thread `thread`.
pub fn post_line(thread: &str, title: &str, body: &str) -> String {
    post_line_in("social-work", thread, title, body)
}

/// One post line for `digestd import` in `group`, thread `thread`.
pub fn post_line_in(group: &str, thread: &str, title: &str, body: &str) -> String {
    format!(
        r#"{{"group":"{group}","thread":"{thread}","title":"{title}","author":"author@testdam.example","body":"{body}"}}"#
    )
}

/// Imports `lines` (JSON posts) into the built-in forum of `config`.
pub fn import_posts(config: &Path, lines: &[String]) {
    let file = config.with_file_name("posts.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("posts file");
    digestd(config, &["import", &file.to_string_lossy()]);
}

/// Starts `digestd run -c config` (stdin and stderr closed).
pub fn start_daemon(config: &Path) -> Child {
    Command::new(bin())
        .args(["run", "-c"])
        .arg(config)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon")
}

/// SIGTERM, then wait (bounded) for the exit status; `None` if it did not stop in time.
pub fn stop_daemon(daemon: &mut Child) -> Option<ExitStatus> {
    let pid = daemon.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = daemon.try_wait().expect("wait") {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = daemon.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `done` every `every` until it is true or `limit` has passed; true if it became true.
pub fn wait_until(limit: Duration, every: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}
