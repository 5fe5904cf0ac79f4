//! Sending recorded digests: a run's batches, and the pending rows an interrupted run (or a
//! worker that died) left behind, resent byte for byte.
//!
//! Every row sent is leased to this worker (see [`crate::store::leases`]): recorded by it, or
//! claimed from the pending ones no live worker holds. The leases are renewed while the batch
//! is out, and the rows not attempted (stopping, or the relay unusable) are given back, so no
//! other worker sends a row this one is sending, and nothing waits for a lease to expire
//! unless its worker died.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use tokio::task::JoinSet;

use super::{Engine, RunReport, BATCH};
use crate::outbound::SendError;
use crate::store::leases::PendingClaim;
use crate::store::Store;

impl Engine {
    /// Resends every pending delivery no live worker holds (left by an interrupted cycle, or
    /// given back after a failed send). Returns (sent, failed).
    pub async fn resume_pending(&self, store: &mut Store) -> anyhow::Result<(usize, usize)> {
        self.resume(store, PendingClaim::Free).await
    }

    /// Resends the pending deliveries whose worker died (its lease expired); rows given back
    /// after a failed send wait for the next cycle. Returns (sent, failed).
    pub async fn resume_orphaned(&self, store: &mut Store) -> anyhow::Result<(usize, usize)> {
        self.resume(store, PendingClaim::Orphaned).await
    }

    /// Claims the pending rows `which` names, a batch at a time, and sends them.
    async fn resume(
        &self,
        store: &mut Store,
        which: PendingClaim,
    ) -> anyhow::Result<(usize, usize)> {
        let worker = crate::worker::id();
        let mut report = RunReport::default();
        let mut after = 0;
        while !self.stopping() {
            let now = Utc::now();
            let claimed = store
                .claim_pending_deliveries(
                    which,
                    after,
                    BATCH,
                    worker,
                    now,
                    crate::worker::lease_until(now),
                )
                .context("claiming pending deliveries")?;
            let Some(last) = claimed.last() else {
                break;
            };
            after = last.id;
            let mut batch: Vec<(i64, String, Vec<u8>)> = claimed
                .into_iter()
                .map(|d| (d.id, d.person_email, d.raw))
                .collect();
            if self.send_leased(store, &mut batch, &mut report).await? {
                break; // the relay is unusable: the rest wait for the next cycle
            }
        }
        Ok((report.sent, report.failed))
    }

    /// A permanent refusal counts as a bounce: after `[inbound] bounce_threshold` of them the
    /// address is marked bouncing and gets no more digests until it is fixed.
    pub(super) fn count_bounce(&self, store: &mut Store, email: &str) -> anyhow::Result<()> {
        if store.record_bounce(email, self.config.inbound.bounce_threshold)? {
            tracing::warn!(person = %email, "address marked bouncing: no more digests until it is fixed");
        }
        Ok(())
    }

    /// Sends the recorded batch with the transport's concurrency; marks each row as it
    /// completes, renews this worker's leases on the rest while it works, and gives back the
    /// rows it did not attempt.
    pub(crate) async fn send_batch(
        &self,
        store: &mut Store,
        batch: &mut Vec<(i64, String, Vec<u8>)>,
        report: &mut RunReport,
    ) -> anyhow::Result<()> {
        self.send_leased(store, batch, report).await.map(|_| ())
    }

    /// [`Engine::send_batch`]; true when the relay turned out unusable.
    async fn send_leased(
        &self,
        store: &mut Store,
        batch: &mut Vec<(i64, String, Vec<u8>)>,
        report: &mut RunReport,
    ) -> anyhow::Result<bool> {
        // The pending rows must outlive a power cut before their mail leaves: a digest sent but
        // forgotten would be built and sent again.
        if !batch.is_empty() {
            store
                .sync_commits()
                .context("syncing the pending digests to disk before sending them")?;
        }
        let worker = crate::worker::id();
        // Still this worker's (a row recorded a while ago whose lease expired may have been
        // taken over by another worker, which sends it): renewed for the batch.
        if !batch.is_empty() {
            let ids: Vec<i64> = batch.iter().map(|(id, _, _)| *id).collect();
            let held: HashSet<i64> = store
                .renew_deliveries(&ids, worker, crate::worker::lease_until(Utc::now()))?
                .into_iter()
                .collect();
            if held.len() < ids.len() {
                tracing::warn!(
                    lost = ids.len() - held.len(),
                    %worker,
                    "pending digests taken over by another worker before they were sent; left to it"
                );
                batch.retain(|(id, _, _)| held.contains(id));
            }
        }
        let mut outstanding: HashSet<i64> = batch.iter().map(|(id, _, _)| *id).collect();
        let mut lost: HashSet<i64> = HashSet::new();
        let mut renewed = std::time::Instant::now();
        let mut tasks = JoinSet::new();
        let concurrency = self.config.mail.concurrency.max(1);
        let from = self.envelope_from();
        let mut queue = std::mem::take(batch).into_iter();
        let mut unusable = false;
        loop {
            while tasks.len() < concurrency && !self.stopping() && !unusable {
                let Some((id, to, raw)) = queue.next() else {
                    break;
                };
                if lost.contains(&id) {
                    continue;
                }
                let outbound = Arc::clone(&self.outbound);
                let retry = self.retry.clone();
                let from = from.clone();
                tasks.spawn(async move {
                    let result =
                        send_observed(outbound.send_with_retry(&from, &to, &raw, &retry)).await;
                    (id, to, result)
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (id, to, result) = joined.context("a send task failed")?;
            outstanding.remove(&id);
            // The mail has gone (or been refused): its mark is retried through a short store
            // outage (a database restart), as a mark lost would send the digest again.
            match result {
                Ok(()) => {
                    ledger(store, |s| Ok(s.mark_sent(id)?)).await?;
                    report.sent += 1;
                }
                Err(SendError::Permanent(e)) => {
                    tracing::warn!(person = %to, error = %e, "digest refused for good");
                    ledger(store, |s| Ok(s.mark_failed(id, &e)?)).await?;
                    self.count_bounce(store, &to)?;
                    report.failed += 1;
                }
                Err(e) => {
                    if let SendError::Unusable(_) = e {
                        unusable = true; // logged once by the transport; the rest would fail alike
                    } else {
                        tracing::warn!(person = %to, error = %e, "digest not sent; left pending for the next cycle");
                    }
                    ledger(store, |s| Ok(s.bump_attempt(id)?)).await?;
                    report.deferred += 1;
                }
            }
            if crate::worker::renewal_due(renewed) && !outstanding.is_empty() {
                let ids: Vec<i64> = outstanding.iter().copied().collect();
                let held: HashSet<i64> = store
                    .renew_deliveries(&ids, worker, crate::worker::lease_until(Utc::now()))?
                    .into_iter()
                    .collect();
                lost.extend(ids.into_iter().filter(|id| !held.contains(id)));
                renewed = std::time::Instant::now();
            }
        }
        let left: Vec<i64> = queue
            .map(|(id, _, _)| id)
            .filter(|id| !lost.contains(id))
            .collect();
        report.deferred += left.len();
        if !left.is_empty() {
            store.release_deliveries(&left, worker)?;
        }
        crate::heartbeat::beat();
        Ok(unusable)
    }
}

/// How long a ledger mark after a send is retried while the store fails.
const MARK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs `mark` on the store, retrying (every 0.25 s to 1 s, at most [`MARK_PATIENCE`]) while
/// it fails: the mail it records has left already.
async fn ledger<T>(
    store: &mut Store,
    mut mark: impl FnMut(&mut Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match mark(store) {
            Ok(v) => return Ok(v),
            Err(e) if started.elapsed() < MARK_PATIENCE => {
                if pause == std::time::Duration::from_millis(250) {
                    tracing::warn!(error = %e, "recording a sent digest failed; retrying");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(1));
                crate::heartbeat::beat();
            }
            Err(e) => return Err(e.context("recording a sent digest in the ledger")),
        }
    }
}

/// Runs one send (with its retries) as progress for the watchdog, and counts it in the metrics:
/// sent, or failed permanently or transiently, with its latency.
async fn send_observed(
    sending: impl std::future::Future<Output = Result<(), SendError>>,
) -> Result<(), SendError> {
    use crate::metrics::{FailureKind, METRICS};
    let started = std::time::Instant::now();
    let result = crate::heartbeat::while_pending(sending).await;
    let took = started.elapsed();
    match &result {
        Ok(()) => METRICS.digest_sent(took),
        Err(SendError::Permanent(_)) => METRICS.digest_failed(took, FailureKind::Permanent),
        Err(_) => METRICS.digest_failed(took, FailureKind::Transient),
    }
    result
}
