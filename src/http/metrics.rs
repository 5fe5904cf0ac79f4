//! The Prometheus text rendering (format 0.0.4) of the daemon's counters ([`crate::metrics`],
//! read through a snapshot) and of gauges that the store knows better (inbound queue depth,
//! last successful poll per forum, pending deliveries, bouncing addresses), read from the
//! store at scrape time ([`StoreGauges`]). Written by hand: a few lines of text need no
//! framework.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::metrics::{HistogramSnapshot, Metrics, LATENCY_BUCKETS};
use crate::store::{Store, StoreError};

/// The Prometheus text exposition of `metrics` plus `gauges`.
pub fn render(metrics: &Metrics, gauges: &StoreGauges) -> String {
    let m = metrics.snapshot();
    let mut out = String::with_capacity(4096);
    counter(
        &mut out,
        "digestd_digests_sent_total",
        "Digests accepted by the mail transport.",
        m.digests_sent,
    );
    header(
        &mut out,
        "digestd_digests_failed_total",
        "counter",
        "Failed sends of digests: kind=\"permanent\" refused for good (marked failed), \
         kind=\"transient\" failed for now (left pending, retried by a later cycle).",
    );
    for (kind, n) in [
        ("permanent", m.digests_failed_permanent),
        ("transient", m.digests_failed_transient),
    ] {
        let _ = writeln!(out, "digestd_digests_failed_total{{kind=\"{kind}\"}} {n}");
    }
    header(
        &mut out,
        "digestd_send_latency_seconds",
        "histogram",
        "Time to hand one digest to the mail transport.",
    );
    histogram(&mut out, "digestd_send_latency_seconds", &m.send_latency);
    counter(
        &mut out,
        "digestd_runs_total",
        "Digest runs finished.",
        m.runs,
    );
    counter(
        &mut out,
        "digestd_unsubscribes_total",
        "One-click unsubscribes accepted.",
        m.unsubscribes,
    );
    header(
        &mut out,
        "digestd_inbound_messages_total",
        "counter",
        "Inbound messages by outcome.",
    );
    for (outcome, n) in &m.inbound {
        let _ = writeln!(
            out,
            "digestd_inbound_messages_total{{outcome=\"{}\"}} {n}",
            escape_label(outcome)
        );
    }
    header(
        &mut out,
        "digestd_forum_polls_total",
        "counter",
        "Forum polls by group and result.",
    );
    for ((group, ok), n) in &m.polls {
        let result = if *ok { "ok" } else { "error" };
        let _ = writeln!(
            out,
            "digestd_forum_polls_total{{group=\"{}\",result=\"{result}\"}} {n}",
            escape_label(group)
        );
    }
    forum_states(&mut out, &m.forums);
    webhooks(&mut out, &m);
    gauges.render(&mut out);
    out
}

/// Pushes taken by `/hooks/<forum>/posts`: requests by result, posts stored or duplicate.
fn webhooks(out: &mut String, m: &crate::metrics::Snapshot) {
    header(
        out,
        "digestd_webhook_requests_total",
        "counter",
        "Pushes to /hooks/<forum>/posts by forum and result: stored, duplicate, or the refusal \
         (bad_signature, stale, bad_json, unknown_forum, unknown_group, ...).",
    );
    for ((forum, result), n) in &m.webhook_requests {
        let _ = writeln!(
            out,
            "digestd_webhook_requests_total{{forum=\"{}\",result=\"{}\"}} {n}",
            escape_label(forum),
            escape_label(result)
        );
    }
    header(
        out,
        "digestd_webhook_posts_total",
        "counter",
        "Posts pushed by webhook forums: result=\"stored\" new, \"duplicate\" already stored.",
    );
    for ((forum, result), n) in &m.webhook_posts {
        let _ = writeln!(
            out,
            "digestd_webhook_posts_total{{forum=\"{}\",result=\"{}\"}} {n}",
            escape_label(forum),
            escape_label(result)
        );
    }
}

/// Each forum instance's health: up, last success, last error.
fn forum_states(
    out: &mut String,
    forums: &std::collections::BTreeMap<String, crate::metrics::ForumPollState>,
) {
    type Field = fn(&crate::metrics::ForumPollState) -> i64;
    let series: [(&str, &str, Field); 3] = [
        (
            "digestd_forum_instance_up",
            "1 when the last poll of every group of the forum succeeded, else 0.",
            |s| i64::from(s.up),
        ),
        (
            "digestd_forum_instance_last_success_timestamp_seconds",
            "Time of the forum's last successful poll (0: none since start).",
            |s| s.last_success,
        ),
        (
            "digestd_forum_instance_last_error_timestamp_seconds",
            "Time of the forum's last failed poll (0: none since start).",
            |s| s.last_error,
        ),
    ];
    for (name, help, field) in series {
        header(out, name, "gauge", help);
        for (forum, state) in forums {
            let _ = writeln!(
                out,
                "{name}{{forum=\"{}\"}} {}",
                escape_label(forum),
                field(state)
            );
        }
    }
}

/// One histogram in the exposition format (cumulative buckets, `+Inf`, sum, count).
fn histogram(out: &mut String, name: &str, h: &HistogramSnapshot) {
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += h.buckets[i];
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let count = h.count;
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let sum = h.sum_micros as f64 / 1e6;
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {count}");
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
        let (queue, oldest) = store.inbound_queue_summary()?;
        let (pending, _, _) = store.delivery_counts()?;
        Ok(StoreGauges {
            inbound_queue: queue,
            inbound_stored: store.inbound_counts_by_status()?,
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
    use crate::metrics::FailureKind;
    use std::time::Duration;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::new();
        m.digest_sent(Duration::from_millis(3));
        m.digest_sent(Duration::from_millis(40));
        m.digest_failed(Duration::from_secs(100), FailureKind::Transient);
        m.inbound("posted");
        m.webhook("hr", "stored", 2, 1);
        m.webhook("hr", "bad_signature", 0, 0);
        m.inbound("posted");
        m.inbound("ign\"ored");
        m.poll("social-work", true);
        let out = render(
            &m,
            &StoreGauges {
                inbound_queue: 2,
                inbound_stored: vec![("posted".into(), 5), ("queued".into(), 2)],
                last_poll: vec![("social-work".into(), None)],
                ..StoreGauges::default()
            },
        );
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
            "digestd_webhook_requests_total{forum=\"hr\",result=\"stored\"} 1",
            "digestd_webhook_requests_total{forum=\"hr\",result=\"bad_signature\"} 1",
            "digestd_webhook_posts_total{forum=\"hr\",result=\"stored\"} 2",
            "digestd_webhook_posts_total{forum=\"hr\",result=\"duplicate\"} 1",
            "digestd_forum_polls_total{group=\"social-work\",result=\"ok\"} 1",
            "digestd_inbound_queue_depth 2",
            "digestd_inbound_stored{status=\"posted\"} 5",
            "digestd_inbound_stored{status=\"queued\"} 2",
            "digestd_forum_last_success_timestamp_seconds{group=\"social-work\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
    }
}
