//! Counters the daemon bumps as it works, and their Prometheus text rendering (format 0.0.4),
//! written by hand: a handful of atomics needs no metrics framework.
//!
//! Counters live in [`METRICS`] (a `static`, so deep code bumps them without plumbing); gauges
//! that the store knows better (inbound queue depth, last successful poll per forum, pending
//! deliveries, bouncing addresses) are read from the store at scrape time ([`StoreGauges`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::{Store, StoreError};

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

    fn render(&self, out: &mut String, name: &str) {
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
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
    webhook_requests: Mutex<BTreeMap<(String, String), u64>>,
    webhook_posts: Mutex<BTreeMap<(String, &'static str), u64>>,
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
                    *m.entry((forum.to_string(), kind)).or_insert(0) += n;
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

    /// The Prometheus text exposition of these counters plus `gauges`.
    pub fn render(&self, gauges: &StoreGauges) -> String {
        let mut out = String::with_capacity(4096);
        counter(
            &mut out,
            "digestd_digests_sent_total",
            "Digests accepted by the mail transport.",
            self.sent(),
        );
        header(
            &mut out,
            "digestd_digests_failed_total",
            "counter",
            "Failed sends of digests: kind=\"permanent\" refused for good (marked failed), \
             kind=\"transient\" failed for now (left pending, retried by a later cycle).",
        );
        for (kind, n) in [
            ("permanent", &self.digests_failed_permanent),
            ("transient", &self.digests_failed_transient),
        ] {
            let _ = writeln!(
                out,
                "digestd_digests_failed_total{{kind=\"{kind}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "digestd_send_latency_seconds",
            "histogram",
            "Time to hand one digest to the mail transport.",
        );
        self.send_latency
            .render(&mut out, "digestd_send_latency_seconds");
        counter(
            &mut out,
            "digestd_runs_total",
            "Digest runs finished.",
            self.runs.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "digestd_unsubscribes_total",
            "One-click unsubscribes accepted.",
            self.unsubscribes.load(Ordering::Relaxed),
        );
        header(
            &mut out,
            "digestd_inbound_messages_total",
            "counter",
            "Inbound messages by outcome.",
        );
        if let Ok(m) = self.inbound.lock() {
            for (outcome, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "digestd_inbound_messages_total{{outcome=\"{}\"}} {n}",
                    escape_label(outcome)
                );
            }
        }
        header(
            &mut out,
            "digestd_forum_polls_total",
            "counter",
            "Forum polls by group and result.",
        );
        if let Ok(m) = self.polls.lock() {
            for ((group, ok), n) in m.iter() {
                let result = if *ok { "ok" } else { "error" };
                let _ = writeln!(
                    out,
                    "digestd_forum_polls_total{{group=\"{}\",result=\"{result}\"}} {n}",
                    escape_label(group)
                );
            }
        }
        self.render_webhooks(&mut out);
        gauges.render(&mut out);
        out
    }

    fn render_webhooks(&self, out: &mut String) {
        header(
            out,
            "digestd_webhook_requests_total",
            "counter",
            "Pushes to /hooks/<forum>/posts by forum and result: stored, duplicate, or the \
             refusal (bad_signature, stale, bad_json, unknown_forum, unknown_group, ...).",
        );
        if let Ok(m) = self.webhook_requests.lock() {
            for ((forum, result), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "digestd_webhook_requests_total{{forum=\"{}\",result=\"{}\"}} {n}",
                    escape_label(forum),
                    escape_label(result)
                );
            }
        }
        header(
            out,
            "digestd_webhook_posts_total",
            "counter",
            "Posts pushed by webhook forums: result=\"stored\" new, \"duplicate\" already stored.",
        );
        if let Ok(m) = self.webhook_posts.lock() {
            for ((forum, result), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "digestd_webhook_posts_total{{forum=\"{}\",result=\"{result}\"}} {n}",
                    escape_label(forum)
                );
            }
        }
    }
}

/// Gauges read from the store at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreGauges {
    /// Inbound messages still queued.
    pub inbound_queue: u64,
    /// Inbound messages in the store per status, from every source (MTA pipe included).
    pub inbound_stored: Vec<(String, u64)>,
    /// When the oldest queued inbound message arrived.
    pub inbound_oldest: Option<DateTime<Utc>>,
    /// Digests written to the ledger but not yet sent.
    pub pending_deliveries: u64,
    /// Addresses marked bouncing.
    pub bouncing: u64,
    /// Last successful poll per group (`None`: never).
    pub last_poll: Vec<(String, Option<DateTime<Utc>>)>,
}

impl StoreGauges {
    /// Reads the gauges (small aggregate queries; never loads message bodies).
    pub fn read(store: &Store) -> Result<StoreGauges, StoreError> {
        let (queue, oldest) = crate::status::inbound_queue(store)?;
        let (pending, _, _) = store.delivery_counts()?;
        Ok(StoreGauges {
            inbound_queue: queue,
            inbound_stored: crate::status::inbound_by_status(store)?,
            inbound_oldest: oldest,
            pending_deliveries: pending,
            bouncing: store.bouncing_addresses()?.len() as u64,
            last_poll: store
                .poll_states()?
                .into_iter()
                .map(|p| (p.group_id, p.last_success))
                .collect(),
        })
    }

    fn render(&self, out: &mut String) {
        gauge(
            out,
            "digestd_inbound_queue_depth",
            "Inbound messages waiting to be processed.",
            self.inbound_queue as f64,
        );
        header(
            out,
            "digestd_inbound_stored",
            "gauge",
            "Inbound messages in the store by status, from every source (MTA pipe, Maildir, IMAP).",
        );
        for (status, n) in &self.inbound_stored {
            let _ = writeln!(
                out,
                "digestd_inbound_stored{{status=\"{}\"}} {n}",
                escape_label(status)
            );
        }
        if let Some(t) = self.inbound_oldest {
            gauge(
                out,
                "digestd_inbound_queue_oldest_timestamp_seconds",
                "Arrival time of the oldest queued inbound message.",
                t.timestamp() as f64,
            );
        }
        gauge(
            out,
            "digestd_deliveries_pending",
            "Digests in the ledger not yet sent.",
            self.pending_deliveries as f64,
        );
        gauge(
            out,
            "digestd_bouncing_addresses",
            "Addresses marked bouncing (they get no digests).",
            self.bouncing as f64,
        );
        header(
            out,
            "digestd_forum_last_success_timestamp_seconds",
            "gauge",
            "Time of the last successful poll per group (0: never).",
        );
        for (group, t) in &self.last_poll {
            let _ = writeln!(
                out,
                "digestd_forum_last_success_timestamp_seconds{{group=\"{}\"}} {}",
                escape_label(group),
                t.map_or(0, |t| t.timestamp())
            );
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {v}");
}

fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {v}");
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::new();
        m.digest_sent(Duration::from_millis(3));
        m.digest_sent(Duration::from_millis(40));
        m.digest_failed(Duration::from_secs(100), FailureKind::Transient);
        m.inbound("posted");
        m.inbound("posted");
        m.inbound("ign\"ored");
        m.poll("social-work", true);
        m.webhook("hr", "stored", 2, 1);
        m.webhook("hr", "bad_signature", 0, 0);
        let out = m.render(&StoreGauges {
            inbound_queue: 2,
            inbound_stored: vec![("posted".into(), 5), ("queued".into(), 2)],
            last_poll: vec![("social-work".into(), None)],
            ..StoreGauges::default()
        });
        for line in [
            "digestd_digests_sent_total 2",
            "digestd_digests_failed_total{kind=\"permanent\"} 0",
            "digestd_digests_failed_total{kind=\"transient\"} 1",
            "digestd_send_latency_seconds_bucket{le=\"0.005\"} 1",
            "digestd_send_latency_seconds_bucket{le=\"0.025\"} 1",
            "digestd_send_latency_seconds_bucket{le=\"0.05\"} 2",
            "digestd_send_latency_seconds_bucket{le=\"30\"} 2",
            "digestd_send_latency_seconds_bucket{le=\"+Inf\"} 3",
            "digestd_send_latency_seconds_count 3",
            "digestd_send_latency_seconds_sum 100.043",
            "digestd_inbound_messages_total{outcome=\"posted\"} 2",
            "digestd_inbound_messages_total{outcome=\"ign\\\"ored\"} 1",
            "digestd_forum_polls_total{group=\"social-work\",result=\"ok\"} 1",
            "digestd_webhook_requests_total{forum=\"hr\",result=\"stored\"} 1",
            "digestd_webhook_requests_total{forum=\"hr\",result=\"bad_signature\"} 1",
            "digestd_webhook_posts_total{forum=\"hr\",result=\"stored\"} 2",
            "digestd_webhook_posts_total{forum=\"hr\",result=\"duplicate\"} 1",
            "digestd_inbound_queue_depth 2",
            "digestd_inbound_stored{status=\"posted\"} 5",
            "digestd_inbound_stored{status=\"queued\"} 2",
            "digestd_forum_last_success_timestamp_seconds{group=\"social-work\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }
}
