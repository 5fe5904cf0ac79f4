//! The sd_notify protocol: tells systemd (a `Type=notify` unit) that digestd is ready,
//! reloading or stopping, what it is doing (`STATUS=`), and that its loop is alive (`WATCHDOG=1`).
//!
//! Written by hand (one datagram per call to the socket named by `NOTIFY_SOCKET`, see
//! sd_notify(3)) so the socket is resolved once and a test can aim a [`Notifier`] at its own
//! socket. Without `NOTIFY_SOCKET` (not started by systemd) every call is a no-op.
//!
//! **Invariant:** a notifier never blocks the caller for long: the socket is non-blocking and a
//! full queue is reported as an error, never waited on.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

/// Errors of the notify protocol.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `NOTIFY_SOCKET` names something that is not a Unix socket path or an abstract (`@`) name.
    #[error("unsupported NOTIFY_SOCKET address {0:?}")]
    UnsupportedAddress(String),
    /// Creating or sending on the socket failed.
    #[error("notify socket {address}: {source}")]
    Io {
        /// The socket address as given.
        address: String,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

/// Where notifications go.
#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// The address as given, for error messages.
    display: String,
}

/// A handle on systemd's notification socket; cheap to clone, a no-op when disabled.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Option<Arc<Target>>,
}

impl Notifier {
    /// The notifier systemd asked for through `NOTIFY_SOCKET`; disabled when it is unset or empty.
    pub fn from_env() -> Result<Notifier, NotifyError> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(addr) if !addr.is_empty() => Notifier::connect(&addr.to_string_lossy()),
            _ => Ok(Notifier::disabled()),
        }
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Notifier {
        Notifier { target: None }
    }

    /// A notifier sending to `address`: an absolute or relative socket path, or `@name` for a
    /// Linux abstract socket.
    pub fn connect(address: &str) -> Result<Notifier, NotifyError> {
        let io_err = |source| NotifyError::Io {
            address: address.to_string(),
            source,
        };
        let addr = parse_address(address)?.map_err(io_err)?;
        let socket = UnixDatagram::unbound().map_err(io_err)?;
        socket.set_nonblocking(true).map_err(io_err)?;
        Ok(Notifier {
            target: Some(Arc::new(Target {
                socket,
                addr,
                display: address.to_string(),
            })),
        })
    }

    /// True when notifications are actually sent.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one raw notification (newline-separated `KEY=value` assignments).
    pub fn send(&self, message: &str) -> Result<(), NotifyError> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        target
            .socket
            .send_to_addr(message.as_bytes(), &target.addr)
            .map(|_| ())
            .map_err(|source| NotifyError::Io {
                address: target.display.clone(),
                source,
            })
    }

    /// `READY=1`: the store is open and the jobs are scheduled.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send("READY=1")
    }

    /// `READY=1` together with a `STATUS=` line, in one datagram.
    pub fn ready_with_status(&self, status: &str) -> Result<(), NotifyError> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// `STOPPING=1`: shutdown has begun.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.send("STOPPING=1")
    }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (required by `Type=notify-reload`, harmless
    /// otherwise). Send [`Notifier::ready`] when the reload is done.
    pub fn reloading(&self) -> Result<(), NotifyError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let now =
            sd_notify::NotifyState::monotonic_usec_now().map_err(|source| NotifyError::Io {
                address: "CLOCK_MONOTONIC".into(),
                source,
            })?;
        self.send(&format!("RELOADING=1\n{now}"))
    }

    /// `STATUS=<text>`: one line shown by `systemctl status` (newlines become spaces).
    pub fn status(&self, text: &str) -> Result<(), NotifyError> {
        self.send(&format!("STATUS={}", one_line(text)))
    }

    /// `WATCHDOG=1`: the scheduler loop is alive.
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.send("WATCHDOG=1")
    }

    /// `EXTEND_TIMEOUT_USEC=`: asks for more time for the current start, reload or stop.
    pub fn extend_timeout(&self, by: Duration) -> Result<(), NotifyError> {
        self.send(&format!("EXTEND_TIMEOUT_USEC={}", by.as_micros()))
    }
}

/// Resolves a `NOTIFY_SOCKET` value; the outer error is a refused address, the inner one a
/// name the OS refused (too long, NUL byte).
fn parse_address(address: &str) -> Result<io::Result<SocketAddr>, NotifyError> {
    if let Some(name) = address.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        return Ok(SocketAddr::from_abstract_name(name.as_bytes()));
    }
    if address.is_empty() || address.contains(':') && !address.contains('/') {
        // `vsock:CID:PORT` and friends (systemd ≥ 254 inside VMs) are not supported.
        return Err(NotifyError::UnsupportedAddress(address.to_string()));
    }
    Ok(SocketAddr::from_pathname(address))
}

/// Replaces line breaks so a value stays one assignment.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The watchdog interval systemd expects pings within (`WATCHDOG_USEC`), when the watchdog is
/// on and meant for this process (`WATCHDOG_PID`, when set, is our pid). Ping at half of it.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    parse_watchdog(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// Pure part of [`watchdog_interval`]: `None` when unset, malformed, zero, or for another pid.
pub fn parse_watchdog(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_needs_a_positive_interval_for_this_pid() {
        assert_eq!(
            parse_watchdog(Some("30000000"), None, 7),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_watchdog(Some("30000000"), Some("7"), 7),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_watchdog(Some("30000000"), Some("8"), 7), None);
        assert_eq!(parse_watchdog(Some("30000000"), Some("x"), 7), None);
        assert_eq!(parse_watchdog(Some("0"), None, 7), None);
        assert_eq!(parse_watchdog(Some("-5"), None, 7), None);
        assert_eq!(parse_watchdog(None, Some("7"), 7), None);
    }

    #[test]
    fn addresses() {
        assert!(matches!(parse_address("/run/systemd/notify"), Ok(Ok(_))));
        assert!(matches!(
            parse_address("@/org/freedesktop/systemd1/notify"),
            Ok(Ok(_))
        ));
        assert!(matches!(
            parse_address("vsock:2:1234"),
            Err(NotifyError::UnsupportedAddress(_))
        ));
        assert!(matches!(parse_address("/a\0b"), Ok(Err(_))));
    }

    #[test]
    fn disabled_is_a_no_op() {
        let n = Notifier::disabled();
        assert!(!n.is_enabled());
        assert!(n.ready().is_ok());
        assert!(n.reloading().is_ok());
        assert!(n.status("x").is_ok());
    }

    #[test]
    fn status_is_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }
}
