//! Shared helpers for the integration tests: real servers on 127.0.0.1 and the binary's path.
//!
//! Use from a test file with `mod support;`. What is here:
//! - [`ensure_deps`]: installs Postfix/Dovecot through `.ci/install-deps` once when smtp-sink is
//!   missing, so `cargo test` works on a fresh machine;
//! - [`bin`]: path of the `digestd` binary Cargo built for this test run; [`run_digestd`]
//!   runs it to completion (the one runner);
//! - [`SmtpSink`]: Postfix's `smtp-sink`, keeping every mail it receives (or slowing DATA, or
//!   refusing commands) — the real SMTP server of the tests;
//! - [`FakeSmtp`]: a tiny scripted in-process SMTP responder, only for the error-code tests that
//!   smtp-sink cannot express (refuse one recipient, fail the first N messages then accept);
//! - [`config`]: [`Spec`](config::Spec), the one config builder (the test organisation's TOML);
//! - [`daemon`]: `digestd run` as a child with a written config, a real `NOTIFY_SOCKET` and
//!   its stderr collected; also [`start_daemon`] / [`stop_daemon`] (SIGTERM, bounded) for tests
//!   that need no notify socket;
//! - [`wait_until`]: a bounded poll; [`skip_unless_ci`]: the one way a test skips (it fails
//!   under CI);
//! - [`http_client`]: one HTTP/1.1 request over a bounded `TcpStream`;
//! - [`inbound`]: a small world for the inbound tests (config, store, one thread, tokens,
//!   `digestd receive`);
//! - [`oauth_server`]: a loopback token endpoint in Microsoft's and Google's documented shapes and
//!   an RFC 7662 introspection endpoint for Dovecot's `oauth2` passdb;
//! - [`webhook_platform`]: a bespoke platform's receiving end that checks digestd's signed
//!   replies and records them;
//! - [`postgres`]: a real PostgreSQL server (one per test process, a database per test);
//! - [`chromedriver`]: Debian's chromedriver on a loopback port driving headless Chromium, for
//!   the browser tests;
//! - [`mail_servers`]: a test CA, Postfix's `smtpd` (STARTTLS, implicit TLS, plain; AUTH
//!   through Dovecot's SASL) relaying to an smtp-sink, and Dovecot for IMAP: one set per test;
//! - [`workers`]: what the tests of several workers on one database share;
//! - [`free_port`].
#![allow(dead_code, unused_imports)]

pub mod chromedriver;
pub mod config;
pub mod daemon;
pub mod discourse;
pub mod dovecot;
mod fake_smtp;
pub mod feed_server;
pub mod http_client;
pub mod inbound;
pub mod mail_servers;
pub mod oauth_server;
pub mod postgres;
mod smtp_sink;
pub mod synapse;
pub mod webhook_platform;
pub mod workers;

use std::path::{Path, PathBuf};
use std::sync::Once;

pub use daemon::{start_daemon, stop_daemon, wait_until};
pub use fake_smtp::{FakeRules, FakeSmtp};
pub use smtp_sink::{SinkOptions, SmtpSink, SunkMessage};

/// Path of the `digestd` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_digestd"))
}

/// Runs `digestd ARGS -c CONFIG` to completion with `stdin` on its standard input (`None`:
/// closed) and returns its output, whatever the exit status. The environment's
/// `DIGESTD_CONFIG` and `RUST_LOG` are not passed on, so only `config` and the defaults count.
/// The one runner of the binary for every test.
pub fn run_digestd(config: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .args(args)
        .arg("-c")
        .arg(config)
        .env_remove("DIGESTD_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running digestd {args:?}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The process may exit before reading everything (say, not mail): a broken pipe is fine.
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().expect("waiting for digestd")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Finds a system binary in `PATH`, `/usr/sbin` or `/usr/bin`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Runs `.ci/install-deps` once per test process when `smtp-sink` is not installed. Panics with
/// the script's output when that fails (a test cannot run without its servers).
pub fn ensure_deps() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if find_program("smtp-sink").is_some() && find_program("smtp-source").is_some() {
            return;
        }
        let script = repo_root().join(".ci/install-deps");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed:\n{}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Says that a test skips because `what` (a server, a tool, a corpus) is missing, and fails
/// instead when env `CI` is set: CI must run every test. Call it, then return.
pub fn skip_unless_ci(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing (see .ci/install-deps); under CI no test may skip"
    );
    eprintln!("note: skipped: {what} is missing");
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// True when this process runs as root (smtp-sink then needs `-u nobody`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Makes `dir` writable by everyone (smtp-sink writes as `nobody` when the tests run as root).
pub fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.display()));
}
