//! A scheduled run shared by every worker on the database: the firing is recorded once per
//! (schedule, period end) ([`Store::join_firing`]), its people are cut into slices by a hash
//! of their address, and each worker claims a slice at a time, serves its people, and marks it
//! done, until no slice is left to claim. A slice whose worker died is taken over when its
//! lease expires (by a worker still in the run, or by the daemon's take-over round); the
//! ledger's unique (person, schedule, period end) keeps a digest from being recorded twice.
//! With one worker (SQLite, the default) it claims every slice in turn: the same digests as
//! one pass over everyone.

use std::time::Instant;

use chrono::Utc;

use super::{Engine, RunReport, ScheduleRun};
use crate::model::Person;
use crate::store::Store;

/// People a slice holds at least (fewer slices for small organisations).
const SLICE_PEOPLE: usize = 100;
/// Slices a firing has at most.
const MAX_SLICES: usize = 1024;

/// This worker's claim on one slice of a firing, renewed while it works.
pub(super) struct SliceLease {
    slice: u32,
    renewed: Instant,
}

impl SliceLease {
    /// Renews the lease when a third of it has passed. A lease lost meanwhile (this worker
    /// stalled past it and another took the slice) is logged; the work goes on, and the ledger
    /// keeps each digest to one.
    pub(super) fn keep(&mut self, store: &Store, run: &ScheduleRun<'_>) -> anyhow::Result<()> {
        if !crate::worker::renewal_due(self.renewed) {
            return Ok(());
        }
        let until = crate::worker::lease_until(Utc::now());
        let worker = crate::worker::id();
        if !store.renew_slice(run.schedule_key, run.now, self.slice, worker, until)? {
            tracing::warn!(schedule = %run.schedule_key, slice = self.slice, %worker, "lease on a slice lost to another worker; the ledger keeps each digest to one");
        }
        self.renewed = Instant::now();
        Ok(())
    }
}

/// How many slices a firing over `people` people has, for a worker whose stretches of
/// selection hold `stretch` people (a slice holds about whole stretches, at least
/// [`SLICE_PEOPLE`] people).
pub fn slice_count(people: usize, stretch: usize) -> u32 {
    let stretch = stretch.max(1);
    let per_slice = SLICE_PEOPLE.div_ceil(stretch) * stretch;
    people.div_ceil(per_slice).clamp(1, MAX_SLICES) as u32
}

/// The slice of `slices` that holds the person with address `email` (FNV-1a: the same on
/// every worker and every release).
pub fn slice_of(email: &str, slices: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in email.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(slices.max(1))) as u32
}

impl Engine {
    /// Serves the slices of the firing `run` this worker can claim (see the module doc).
    pub(super) async fn run_slices(
        &self,
        store: &mut Store,
        run: &ScheduleRun<'_>,
        people: &[&Person],
    ) -> anyhow::Result<RunReport> {
        let worker = crate::worker::id();
        let wanted = slice_count(people.len(), super::stretch_len(self.threads()));
        let slices = store.join_firing(run.schedule_key, run.now, wanted, worker, Utc::now())?;
        let mut report = RunReport::default();
        let claim = |store: &mut Store| {
            let now = Utc::now();
            store.claim_slice(
                run.schedule_key,
                run.now,
                worker,
                now,
                crate::worker::lease_until(now),
            )
        };
        let Some(first) = claim(store)? else {
            return Ok(report);
        };
        let data = self.load_run(store, run)?;
        let mut next = Some(first);
        while let Some(slice) = next {
            tracing::debug!(schedule = %run.schedule_key, slice, of = slices, %worker, "slice claimed");
            let mine: Vec<&Person> = people
                .iter()
                .copied()
                .filter(|p| slice_of(&p.email, slices) == slice)
                .collect();
            let mut lease = SliceLease {
                slice,
                renewed: Instant::now(),
            };
            let part = self
                .run_people(store, run, &data, &mine, Some(&mut lease))
                .await?;
            report.add(&part);
            if self.stopping() {
                // Given back: any worker (this one at its next start) finishes it.
                store.release_slice(run.schedule_key, run.now, slice, worker)?;
                break;
            }
            store.finish_slice(run.schedule_key, run.now, slice, worker, Utc::now())?;
            next = claim(store)?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_person_falls_in_one_slice_and_the_slices_share_them() {
        let n = 4;
        let mut counts = vec![0usize; n as usize];
        for i in 0..1000 {
            let s = slice_of(&format!("p{i:05}@testdam.example"), n);
            assert!(s < n);
            counts[s as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (150..350).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(slice_of("ann@x.example", 7), slice_of("ann@x.example", 7));
        assert_eq!(slice_of("ann@x.example", 1), 0);
    }

    #[test]
    fn slices_hold_whole_stretches_and_are_bounded() {
        assert_eq!(slice_count(0, 32), 1);
        assert_eq!(slice_count(3, 32), 1);
        assert_eq!(slice_count(300, 32), 3, "128 a slice");
        assert_eq!(slice_count(400, 64), 4, "128 a slice");
        assert_eq!(slice_count(300, 256), 2);
        assert_eq!(slice_count(10_000_000, 32), MAX_SLICES as u32);
    }
}
