//! The sd_notify protocol against a real datagram socket given as `NOTIFY_SOCKET`.
//!
//! [`NotifyListener`] is the helper an end-to-end test of `digestd run` can copy: bind it, pass
//! [`NotifyListener::env_value`] as the child's `NOTIFY_SOCKET`, then wait for messages with a
//! bounded timeout.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use digestd::systemd_notify::{watchdog_interval, Notifier};

/// A bound notification socket, as systemd holds it (copy this into other tests as needed).
struct NotifyListener {
    socket: UnixDatagram,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl NotifyListener {
    /// Binds a fresh socket in a temporary directory.
    fn bind() -> NotifyListener {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        NotifyListener {
            socket,
            path,
            _dir: dir,
        }
    }

    /// The value to put in `NOTIFY_SOCKET`.
    fn env_value(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// The next datagram, or `None` after `timeout`.
    fn recv(&self, timeout: Duration) -> Option<String> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
            .expect("set timeout");
        let mut buf = vec![0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => None,
        }
    }

    /// Datagrams until one satisfies `done` (returned last) or `timeout` passes in total
    /// (`Err` with everything seen). Bounded: at most 10 000 datagrams.
    fn recv_until(
        &self,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.recv(left) {
                Some(msg) => {
                    let hit = done(&msg);
                    seen.push(msg);
                    if hit {
                        return Ok(seen);
                    }
                }
                None => break,
            }
        }
        Err(seen)
    }
}

/// `NOTIFY_SOCKET` and the watchdog variables are process-wide: tests touching them take turns.
static ENV: Mutex<()> = Mutex::new(());

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn lifecycle_datagrams_reach_the_socket_named_by_notify_socket() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let listener = NotifyListener::bind();
    std::env::set_var("NOTIFY_SOCKET", listener.env_value());
    let notifier = Notifier::from_env().expect("notifier from env");
    std::env::remove_var("NOTIFY_SOCKET");
    assert!(notifier.is_enabled());

    notifier
        .ready_with_status("next digest 07:30")
        .expect("ready");
    assert_eq!(
        listener.recv(WAIT).as_deref(),
        Some("READY=1\nSTATUS=next digest 07:30")
    );

    notifier.status("sending\n12 digests").expect("status");
    assert_eq!(
        listener.recv(WAIT).as_deref(),
        Some("STATUS=sending 12 digests")
    );

    notifier.reloading().expect("reloading");
    let msg = listener.recv(WAIT).expect("reloading datagram");
    let mut lines = msg.lines();
    assert_eq!(lines.next(), Some("RELOADING=1"));
    let usec = lines
        .next()
        .and_then(|l| l.strip_prefix("MONOTONIC_USEC="))
        .expect("MONOTONIC_USEC line");
    assert!(usec.parse::<u64>().expect("a number") > 0);

    notifier.ready().expect("ready after reload");
    assert_eq!(listener.recv(WAIT).as_deref(), Some("READY=1"));

    for _ in 0..3 {
        notifier.watchdog().expect("watchdog");
    }
    for _ in 0..3 {
        assert_eq!(listener.recv(WAIT).as_deref(), Some("WATCHDOG=1"));
    }

    notifier
        .extend_timeout(Duration::from_secs(10))
        .expect("extend");
    assert_eq!(
        listener.recv(WAIT).as_deref(),
        Some("EXTEND_TIMEOUT_USEC=10000000")
    );

    notifier.stopping().expect("stopping");
    let seen = listener
        .recv_until(WAIT, |m| m == "STOPPING=1")
        .expect("STOPPING=1 arrives");
    assert_eq!(seen, vec!["STOPPING=1".to_string()]);
    assert_eq!(listener.recv(Duration::from_millis(50)), None);
}

#[test]
fn clones_share_the_socket_and_survive_threads() {
    let listener = NotifyListener::bind();
    let notifier = Notifier::connect(&listener.env_value()).expect("connect");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let n = notifier.clone();
            std::thread::spawn(move || n.watchdog().expect("watchdog"))
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    let seen = (0..4)
        .filter_map(|_| listener.recv(WAIT))
        .collect::<Vec<_>>();
    assert_eq!(seen, vec!["WATCHDOG=1"; 4]);
}

#[test]
fn abstract_socket_addresses_work() {
    let name = format!(
        "digestd-test-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    );
    let addr = {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name")
    };
    let socket = UnixDatagram::bind_addr(&addr).expect("bind abstract");
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    let notifier = Notifier::connect(&format!("@{name}")).expect("connect");
    notifier.ready().expect("ready");
    let mut buf = [0u8; 64];
    let n = socket.recv(&mut buf).expect("datagram");
    assert_eq!(&buf[..n], b"READY=1");
}

#[test]
fn without_notify_socket_everything_is_a_no_op() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::remove_var("NOTIFY_SOCKET");
    let notifier = Notifier::from_env().expect("no-op notifier");
    assert!(!notifier.is_enabled());
    notifier.ready().expect("no-op");
    notifier.watchdog().expect("no-op");
    notifier.stopping().expect("no-op");
}

#[test]
fn a_vanished_socket_is_an_error_not_a_panic() {
    let listener = NotifyListener::bind();
    let notifier = Notifier::connect(&listener.env_value()).expect("connect");
    let path = listener.path.clone();
    drop(listener);
    assert!(!path.exists());
    assert!(notifier.ready().is_err());
}

#[test]
fn watchdog_interval_follows_watchdog_usec_and_pid() {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("WATCHDOG_USEC", "2000000");
    std::env::remove_var("WATCHDOG_PID");
    assert_eq!(watchdog_interval(), Some(Duration::from_secs(2)));
    std::env::set_var("WATCHDOG_PID", std::process::id().to_string());
    assert_eq!(watchdog_interval(), Some(Duration::from_secs(2)));
    std::env::set_var("WATCHDOG_PID", "1");
    assert_eq!(watchdog_interval(), None);
    std::env::remove_var("WATCHDOG_PID");
    std::env::remove_var("WATCHDOG_USEC");
    assert_eq!(watchdog_interval(), None);
}
