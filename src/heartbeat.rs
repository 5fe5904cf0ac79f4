//! The progress heartbeat behind systemd's watchdog.
//!
//! Work that makes progress calls [`beat`]: the daemon loop's tick, each digest send (start and
//! end, in a cycle and when resuming pending digests), each forum page collected. A separate
//! thread ([`spawn_watchdog`]) sends `WATCHDOG=1` every half interval, but only while the last
//! beat is younger than the whole interval (`WatchdogSec`). So a slow cycle (many digests, an
//! SMTP server that answers slowly) keeps the service alive, and a hung loop (nothing beats any
//! more) stops the pings and systemd restarts it.
//!
//! A send that is slow but still running beats while it waits ([`while_pending`]), for at most
//! [`MAX_PENDING_BEATS`]; the transport's own timeouts end a send well before that.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::systemd_notify::Notifier;

/// The longest a single in-flight operation keeps the heartbeat going by itself (connect and
/// send timeouts plus the retry budget stay well below this).
pub const MAX_PENDING_BEATS: Duration = Duration::from_secs(15 * 60);

/// How often an in-flight operation beats while it waits.
const PENDING_BEAT_EVERY: Duration = Duration::from_secs(1);

/// Milliseconds since [`epoch`] at the last beat.
static LAST_BEAT_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Records progress now.
pub fn beat() {
    LAST_BEAT_MS.fetch_max(now_ms(), Ordering::Relaxed);
}

/// Time since the last beat (since start when nothing has beaten yet).
pub fn since_last_beat() -> Duration {
    Duration::from_millis(now_ms().saturating_sub(LAST_BEAT_MS.load(Ordering::Relaxed)))
}

/// True when the watchdog should ping: the last beat is younger than `interval`.
pub fn is_alive(since_last: Duration, interval: Duration) -> bool {
    since_last < interval
}

/// Runs `fut`, beating every second while it is pending, for at most [`MAX_PENDING_BEATS`].
/// Beats once before and once after.
pub async fn while_pending<F: Future>(fut: F) -> F::Output {
    beat();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(PENDING_BEAT_EVERY);
    tokio::pin!(fut);
    let out = loop {
        tokio::select! {
            out = &mut fut => break out,
            _ = ticker.tick() => {
                if started.elapsed() < MAX_PENDING_BEATS {
                    beat();
                }
            }
        }
    };
    beat();
    out
}

/// Starts the watchdog thread when systemd asked for one (`interval` = `WATCHDOG_USEC`): every
/// `interval / 2` it sends `WATCHDOG=1` if [`is_alive`]. Runs until the process exits.
pub fn spawn_watchdog(notifier: Notifier, interval: Duration) -> std::io::Result<()> {
    beat();
    let every = (interval / 2).max(Duration::from_millis(10));
    std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut warned = false;
            loop {
                std::thread::sleep(every);
                let since = since_last_beat();
                if is_alive(since, interval) {
                    let _ = notifier.watchdog();
                    warned = false;
                } else if !warned {
                    warned = true;
                    tracing::error!(
                        ?since,
                        "no progress for longer than the watchdog interval; not pinging"
                    );
                }
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_keep_it_alive_and_silence_does_not() {
        let interval = Duration::from_secs(60);
        assert!(is_alive(Duration::from_secs(59), interval));
        assert!(!is_alive(Duration::from_secs(60), interval));
        beat();
        assert!(since_last_beat() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn pending_work_beats() {
        let v = while_pending(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            7
        })
        .await;
        assert_eq!(v, 7);
        assert!(since_last_beat() < Duration::from_secs(5));
    }
}
