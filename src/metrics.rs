//! Counters the daemon bumps as it works: digests sent and failed, send latency, runs,
//! one-click unsubscribes, inbound outcomes, forum polls, webhook pushes. A handful of atomics needs no
//! metrics framework.
//!
//! Counters live in [`METRICS`] (a `static`, so deep code bumps them without plumbing). The
//! core (the delivery run, collection, inbound) bumps them; the HTTP edge only reads a
//! [`Snapshot`] and renders it (`http::metrics`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The process-wide metrics the daemon updates and `/metrics` renders.
pub static METRICS: Metrics = Metrics::new();

/// Upper bounds (seconds) of the send latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram: per-bucket counts (not cumulative), sum in microseconds, count.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len()],
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The counts as they are now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
            count: self.count(),
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// Whether a failed send is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Refused for good (5xx): the digest is marked failed.
    Permanent,
    /// Failed for now (4xx, network, timeout): the digest stays pending.
    Transient,
}

/// Counters of one daemon process.
#[derive(Debug, Default)]
pub struct Metrics {
    digests_sent: AtomicU64,
    digests_failed_permanent: AtomicU64,
    digests_failed_transient: AtomicU64,
    send_latency: Histogram,
    runs: AtomicU64,
    unsubscribes: AtomicU64,
    inbound: Mutex<BTreeMap<String, u64>>,
    polls: Mutex<BTreeMap<(String, bool), u64>>,
    forums: Mutex<BTreeMap<String, ForumPollState>>,
    webhook_requests: Mutex<BTreeMap<(String, String), u64>>,
    webhook_posts: Mutex<BTreeMap<(String, String), u64>>,
}

/// The last polls of one forum instance (all its groups), as `/metrics` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForumPollState {
    /// Whether the last poll succeeded.
    pub up: bool,
    /// Unix time of the last successful poll (0: none yet).
    pub last_success: i64,
    /// Unix time of the last failed poll (0: none yet).
    pub last_error: i64,
}

impl Metrics {
    /// All zero.
    pub const fn new() -> Metrics {
        Metrics {
            digests_sent: AtomicU64::new(0),
            digests_failed_permanent: AtomicU64::new(0),
            digests_failed_transient: AtomicU64::new(0),
            send_latency: Histogram::new(),
            runs: AtomicU64::new(0),
            unsubscribes: AtomicU64::new(0),
            inbound: Mutex::new(BTreeMap::new()),
            polls: Mutex::new(BTreeMap::new()),
            forums: Mutex::new(BTreeMap::new()),
            webhook_requests: Mutex::new(BTreeMap::new()),
            webhook_posts: Mutex::new(BTreeMap::new()),
        }
    }

    /// A digest was accepted by the transport after `latency` (the SMTP call's duration).
    pub fn digest_sent(&self, latency: Duration) {
        self.digests_sent.fetch_add(1, Ordering::Relaxed);
        self.send_latency.observe(latency);
    }

    /// A send of a digest failed after `latency`: `kind` says whether for good (the digest is
    /// marked failed) or for now (it stays pending and is retried by a later cycle).
    pub fn digest_failed(&self, latency: Duration, kind: FailureKind) {
        match kind {
            FailureKind::Permanent => &self.digests_failed_permanent,
            FailureKind::Transient => &self.digests_failed_transient,
        }
        .fetch_add(1, Ordering::Relaxed);
        self.send_latency.observe(latency);
    }

    /// A digest run finished.
    pub fn run_finished(&self) {
        self.runs.fetch_add(1, Ordering::Relaxed);
    }

    /// An inbound message reached an outcome (`posted`, `answered`, `ignored`, `deferred`, ...).
    pub fn inbound(&self, outcome: &str) {
        self.inbound_n(outcome, 1);
    }

    /// `n` inbound messages reached `outcome` (nothing recorded for 0).
    pub fn inbound_n(&self, outcome: &str, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut m) = self.inbound.lock() {
            *m.entry(outcome.to_string()).or_insert(0) += n;
        }
    }

    /// A forum poll of `group` ended, successfully or not.
    pub fn poll(&self, group: &str, ok: bool) {
        if let Ok(mut m) = self.polls.lock() {
            *m.entry((group.to_string(), ok)).or_insert(0) += 1;
        }
    }

    /// A poll of all the groups of forum instance `forum` ended at `at`: `ok` when every group
    /// was polled.
    pub fn forum_poll(&self, forum: &str, ok: bool, at: chrono::DateTime<chrono::Utc>) {
        if let Ok(mut m) = self.forums.lock() {
            let st = m.entry(forum.to_string()).or_default();
            st.up = ok;
            if ok {
                st.last_success = at.timestamp();
            } else {
                st.last_error = at.timestamp();
            }
        }
    }

    /// A push to `/hooks/<forum>/posts` ended with `result` (`stored`, `duplicate`, or why it
    /// was refused), storing `stored` posts and finding `duplicates` already stored.
    pub fn webhook(&self, forum: &str, result: &str, stored: u64, duplicates: u64) {
        if let Ok(mut m) = self.webhook_requests.lock() {
            *m.entry((forum.to_string(), result.to_string()))
                .or_insert(0) += 1;
        }
        if let Ok(mut m) = self.webhook_posts.lock() {
            for (kind, n) in [("stored", stored), ("duplicate", duplicates)] {
                if n > 0 {
                    *m.entry((forum.to_string(), kind.to_string())).or_insert(0) += n;
                }
            }
        }
    }

    /// Someone unsubscribed through the one-click link.
    pub fn unsubscribed(&self) {
        self.unsubscribes.fetch_add(1, Ordering::Relaxed);
    }

    /// Digests sent so far.
    pub fn sent(&self) -> u64 {
        self.digests_sent.load(Ordering::Relaxed)
    }

    /// Failed sends of digests so far (both kinds).
    pub fn failed(&self) -> u64 {
        self.digests_failed_permanent.load(Ordering::Relaxed)
            + self.digests_failed_transient.load(Ordering::Relaxed)
    }

    /// Every counter as it is now, for the HTTP edge to render.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            digests_sent: self.sent(),
            digests_failed_permanent: self.digests_failed_permanent.load(Ordering::Relaxed),
            digests_failed_transient: self.digests_failed_transient.load(Ordering::Relaxed),
            send_latency: self.send_latency.snapshot(),
            runs: self.runs.load(Ordering::Relaxed),
            unsubscribes: self.unsubscribes.load(Ordering::Relaxed),
            inbound: self.inbound.lock().map(|m| m.clone()).unwrap_or_default(),
            polls: self.polls.lock().map(|m| m.clone()).unwrap_or_default(),
            forums: self.forums.lock().map(|m| m.clone()).unwrap_or_default(),
            webhook_requests: self
                .webhook_requests
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
            webhook_posts: self
                .webhook_posts
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
        }
    }
}

/// A histogram's counts at one instant: per-bucket counts (not cumulative), sum, count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Observations per bucket of [`LATENCY_BUCKETS`] (not cumulative).
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    /// Sum of the observations in microseconds.
    pub sum_micros: u64,
    /// Observations (also those above the last bucket).
    pub count: u64,
}

/// Every counter of [`Metrics`] at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Digests accepted by the transport.
    pub digests_sent: u64,
    /// Sends refused for good.
    pub digests_failed_permanent: u64,
    /// Sends failed for now.
    pub digests_failed_transient: u64,
    /// Time to hand one digest to the transport.
    pub send_latency: HistogramSnapshot,
    /// Digest runs finished.
    pub runs: u64,
    /// One-click unsubscribes accepted.
    pub unsubscribes: u64,
    /// Inbound messages by outcome.
    pub inbound: BTreeMap<String, u64>,
    /// Forum polls by (group, succeeded).
    pub polls: BTreeMap<(String, bool), u64>,
    /// Last polls per forum instance (only those `digestd run` has polled).
    pub forums: BTreeMap<String, ForumPollState>,
    /// Pushes to `/hooks/<forum>/posts` by (forum, result).
    pub webhook_requests: BTreeMap<(String, String), u64>,
    /// Pushed posts by (forum, `stored` | `duplicate`).
    pub webhook_posts: BTreeMap<(String, String), u64>,
}
