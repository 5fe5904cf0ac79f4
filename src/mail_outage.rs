//! Outages of a mail server that cannot be used until someone acts: its certificate was refused
//! or it refused digestd's login. Retrying at once cannot help and would only fill the log, so
//! per server (a key such as `smtp user@host:port`) this remembers the reason, logs it once when
//! the outage begins (and again only if the reason changes), backs off (30 s, doubling, at most
//! 15 min) during which callers fail fast without connecting, and logs once when the server
//! works again. Process-wide: the daemon makes fresh transports each inbound round.
//!
//! Each call also passes a fingerprint of the settings used (TLS mode, `ca_file`, credentials:
//! see [`fingerprint`]): when it changes (the password file was fixed, the config reloaded),
//! the back-off is over and the next try goes ahead at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// First back-off after a refusal.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// Longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
struct Outage {
    fingerprint: u64,
    reason: String,
    failures: u32,
    retry_at: Instant,
}

static OUTAGES: Mutex<Option<HashMap<String, Outage>>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut HashMap<String, Outage>) -> R) -> R {
    let mut guard = OUTAGES.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

/// A fingerprint of the settings a try uses (`settings` as debug-printed, and the
/// credentials, secret included): hashed in memory, never logged or stored.
pub fn fingerprint(
    settings: &dyn std::fmt::Debug,
    credentials: Option<&crate::mail_login::Credentials>,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{settings:?}").hash(&mut h);
    credentials.hash(&mut h);
    h.finish()
}

/// While `key` is in an outage and backing off at `now` with the same settings
/// (`fingerprint`): its reason (fail fast, do not connect). `None`: go ahead and try.
pub fn backing_off(key: &str, fingerprint: u64, now: Instant) -> Option<String> {
    with(|m| {
        m.get(key)
            .filter(|o| o.fingerprint == fingerprint && now < o.retry_at)
            .map(|o| o.reason.clone())
    })
}

/// Records that `key` refused us for `reason` at `now`: logs it (error) when an outage begins or
/// its reason changes, and returns the back-off until the next try.
pub fn record_refusal(key: &str, fingerprint: u64, reason: &str, now: Instant) -> Duration {
    with(|m| {
        let entry = m.entry(key.to_string()).or_insert_with(|| Outage {
            fingerprint,
            reason: String::new(),
            failures: 0,
            retry_at: now,
        });
        if entry.fingerprint != fingerprint {
            entry.fingerprint = fingerprint;
            entry.failures = 0;
        }
        if entry.reason != reason {
            tracing::error!(
                server = %key,
                "{reason}; nothing goes through this server until that is fixed \
                 (messages wait; tried again with back-off, logged again only when it changes)"
            );
            entry.reason = reason.to_string();
        }
        entry.failures = entry.failures.saturating_add(1);
        let backoff = FIRST_BACKOFF
            .checked_mul(1u32 << (entry.failures - 1).min(10))
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF);
        entry.retry_at = now + backoff;
        backoff
    })
}

/// Records that `key` worked: ends its outage, if any, with one log line.
pub fn record_success(key: &str) {
    if let Some(o) = with(|m| m.remove(key)) {
        tracing::info!(server = %key, after = o.failures, "works again (was: {})", o.reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_backs_off_doubling_and_ends_on_success() {
        let key = "test imap u@h:1 (outage unit test)";
        let t0 = Instant::now();
        let one = crate::mail_login::Credentials::password("u", "password one");
        let two = crate::mail_login::Credentials::password("u", "password two");
        let f = fingerprint(&"tls", Some(&one));
        assert_eq!(backing_off(key, f, t0), None);
        assert_eq!(record_refusal(key, f, "login refused", t0), FIRST_BACKOFF);
        let later = t0 + Duration::from_secs(1);
        assert_eq!(backing_off(key, f, later).as_deref(), Some("login refused"));
        // Other settings (a fixed password): try again at once.
        assert_eq!(
            backing_off(key, fingerprint(&"tls", Some(&two)), later),
            None
        );
        assert_eq!(backing_off(key, f, t0 + FIRST_BACKOFF), None);
        let second = record_refusal(key, f, "login refused", t0 + FIRST_BACKOFF);
        assert_eq!(second, FIRST_BACKOFF * 2);
        for _ in 0..20 {
            assert!(record_refusal(key, f, "login refused", t0) <= MAX_BACKOFF);
        }
        record_success(key);
        assert_eq!(backing_off(key, f, t0), None);
    }
}
