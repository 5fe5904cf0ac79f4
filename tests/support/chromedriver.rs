//! Debian's `chromedriver` on a loopback port, driving Debian's `chromium` headless, for the
//! browser tests (WebDriver, spoken by the `fantoccini` dev-dependency in the test itself).
//!
//! [`ChromeDriver::start`] finds both programs (`.ci/install-deps` installs them), starts the
//! driver on a free 127.0.0.1 port, and waits (bounded) until it listens; a missing
//! program skips the test through [`super::skip_unless_ci`], which fails under env `CI`.
//! [`ChromeDriver::chrome_options`] is the `goog:chromeOptions` capability: headless,
//! `--no-sandbox` (the tests run as root), a fresh temporary profile, no first-run or network
//! extras. The driver is killed on drop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{find_program, free_port, skip_unless_ci, wait_until};

/// A running chromedriver.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
    profile: tempfile::TempDir,
    log: PathBuf,
}

impl ChromeDriver {
    /// Starts chromedriver, or says the test skips (`None`; a failure under CI).
    pub fn start() -> Option<ChromeDriver> {
        let (Some(driver), Some(chromium)) = (
            find_program("chromedriver"),
            find_program("chromium").or_else(|| find_program("chromium-browser")),
        ) else {
            skip_unless_ci("chromium and chromedriver");
            return None;
        };
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let mut d = ChromeDriver {
            child,
            port,
            chromium,
            profile,
            log,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // chromedriver listens once it is ready (it keeps HTTP connections open, so a TCP
        // connect is the probe, not a read of /status to EOF).
        let ready = wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        });
        assert!(
            ready,
            "chromedriver did not become ready on {addr} within 20 s (exited: {:?}); log:\n{}",
            d.child.try_wait().ok().flatten(),
            d.log_text()
        );
        Some(d)
    }

    /// The WebDriver URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `goog:chromeOptions` capability value for a headless Chromium of `width`×`height`.
    pub fn chrome_options(&self, width: u32, height: u32) -> serde_json::Value {
        serde_json::json!({
            "binary": self.chromium.to_string_lossy(),
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-sync",
                "--lang=en-US",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", self.profile.path().join("chrome").display()),
            ],
        })
    }

    /// The driver's log so far (for a failure message).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
