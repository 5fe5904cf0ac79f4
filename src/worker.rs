//! This process as one worker of several sharing one database (`digestd run` on PostgreSQL):
//! its id, `host:pid:random`, written into the rows it claims and into its logs, and how long
//! a claim (a lease) holds before another worker may take the row over (`[daemon]
//! lease_seconds`). A worker renews the leases of the work it is doing; a worker that dies
//! leaves leases that expire.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};

/// The default of `[daemon] lease_seconds`.
pub const DEFAULT_LEASE_SECS: u64 = 60;

static LEASE_SECS: AtomicU64 = AtomicU64::new(DEFAULT_LEASE_SECS);
static ID: OnceLock<String> = OnceLock::new();

/// This process's worker id: host name, process id and 32 random bits (`host:1234:9f3a0c1e`),
/// fixed for the life of the process.
pub fn id() -> &'static str {
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let random: u32 = rand::random();
        format!("{host}:{}:{random:08x}", std::process::id())
    })
}

/// Sets how long leases taken from now on hold (at least one second).
pub fn set_lease_secs(secs: u64) {
    LEASE_SECS.store(secs.max(1), Ordering::SeqCst);
}

/// How long a lease holds.
pub fn lease() -> Duration {
    Duration::seconds(LEASE_SECS.load(Ordering::SeqCst) as i64)
}

/// How long a lease holds, for timers.
pub fn lease_std() -> std::time::Duration {
    std::time::Duration::from_secs(LEASE_SECS.load(Ordering::SeqCst))
}

/// When a lease taken at `now` expires.
pub fn lease_until(now: DateTime<Utc>) -> DateTime<Utc> {
    now + lease()
}

/// True when a lease taken at `taken` should be renewed at `now` (a third of it has passed).
pub fn renewal_due(taken: std::time::Instant) -> bool {
    taken.elapsed() >= lease_std() / 3
}

/// True when a row this worker leased (`claimed_by`, `lease_until`, as stored) is held by it
/// at `now` with at least two thirds of a lease left: it may be worked on without a new
/// claim (a row it stored itself, say). False for another worker's row, an expired lease, or
/// one that [`renewal_due`] would renew.
pub fn holds_fresh(
    claimed_by: Option<&str>,
    lease_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    claimed_by == Some(id()) && lease_until.is_some_and(|until| until - now >= lease() * 2 / 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_names_host_and_process_and_stays_the_same() {
        let id = id();
        let parts: Vec<&str> = id.rsplitn(3, ':').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[0].len(), 8);
        assert_eq!(id, super::id());
    }

    #[test]
    fn a_row_is_held_fresh_only_by_this_worker_with_two_thirds_of_a_lease_left() {
        let now = Utc::now();
        let full = Some(now + lease());
        assert!(holds_fresh(Some(id()), full, now));
        assert!(holds_fresh(Some(id()), Some(now + lease() * 2 / 3), now));
        assert!(
            !holds_fresh(Some(id()), Some(now + lease() / 2), now),
            "renew first"
        );
        assert!(
            !holds_fresh(Some(id()), Some(now - lease()), now),
            "expired"
        );
        assert!(!holds_fresh(Some(id()), None, now), "given back");
        assert!(
            !holds_fresh(Some("other:1:0"), full, now),
            "another worker's"
        );
        assert!(!holds_fresh(None, full, now));
    }
}
