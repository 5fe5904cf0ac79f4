//! A scheduled run shared by every worker on the database: the firing is recorded once per
//! (schedule, period end) ([`Store::join_firing`]), its people are cut into slices by a hash
//! of their address, and each worker claims a slice at a time, serves its people, and marks it
//! done, until no slice is left to claim. A slice whose worker died is taken over when its
//! lease expires (by a worker still in the run, or by the daemon's take-over round); the
//! ledger's unique (person, schedule, period end) keeps a digest from being recorded twice.
//! With one worker (SQLite, the default) it claims every slice in turn: the same digests as
//! one pass over everyone.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{Engine, RunReport, ScheduleRun};
use crate::model::Person;
use crate::store::Store;

/// People a slice holds at least (fewer slices for small organisations).
const SLICE_PEOPLE: usize = 100;
/// Slices a firing has at most.
const MAX_SLICES: usize = 1024;

/// This worker's claim on one slice of a firing, renewed while it works.
pub(crate) struct SliceLease {
    schedule: String,
    period_end: DateTime<Utc>,
    slice: u32,
    renewed: Instant,
}

impl SliceLease {
    /// Renews the lease when a third of it has passed. A lease lost meanwhile (this worker
    /// stalled past it and another took the slice) is logged; the work goes on, and the ledger
    /// keeps each digest to one.
    pub(crate) fn keep(&mut self, store: &Store) -> anyhow::Result<()> {
        if !crate::worker::renewal_due(self.renewed) {
            return Ok(());
        }
        let until = crate::worker::lease_until(Utc::now());
        let worker = crate::worker::id();
        if !store.renew_slice(&self.schedule, self.period_end, self.slice, worker, until)? {
            tracing::warn!(schedule = %self.schedule, slice = self.slice, %worker, "lease on a slice lost to another worker; the ledger keeps each digest to one");
        }
        self.renewed = Instant::now();
        Ok(())
    }
}

/// A firing this worker serves: joined once ([`Store::join_firing`]), then one slice at a
/// time, claimed, served, and marked done (or given back when the worker stops).
pub(crate) struct FiringSlices {
    schedule: String,
    period_end: DateTime<Utc>,
    slices: u32,
}

impl FiringSlices {
    /// Joins the firing of `schedule` for `period_end` over `people` people, cut for stretches
    /// of `stretch` (see [`slice_count`]; the first worker's count holds).
    pub(crate) fn join(
        store: &mut Store,
        schedule: &str,
        period_end: DateTime<Utc>,
        people: usize,
        stretch: usize,
    ) -> anyhow::Result<FiringSlices> {
        let wanted = slice_count(people, stretch);
        let worker = crate::worker::id();
        let slices = store.join_firing(schedule, period_end, wanted, worker, Utc::now())?;
        Ok(FiringSlices {
            schedule: schedule.to_owned(),
            period_end,
            slices,
        })
    }

    /// Claims a free slice for this worker (`None`: none is left).
    pub(crate) fn claim(&self, store: &mut Store) -> anyhow::Result<Option<SliceLease>> {
        let now = Utc::now();
        let worker = crate::worker::id();
        let until = crate::worker::lease_until(now);
        let claimed = store.claim_slice(&self.schedule, self.period_end, worker, now, until)?;
        Ok(claimed.map(|slice| {
            tracing::debug!(schedule = %self.schedule, slice, of = self.slices, %worker, "slice claimed");
            SliceLease {
                schedule: self.schedule.clone(),
                period_end: self.period_end,
                slice,
                renewed: Instant::now(),
            }
        }))
    }

    /// The people of `people` in the slice `lease` holds.
    pub(crate) fn people_of<'p>(
        &self,
        lease: &SliceLease,
        people: &[&'p Person],
    ) -> Vec<&'p Person> {
        people
            .iter()
            .copied()
            .filter(|p| slice_of(&p.email, self.slices) == lease.slice)
            .collect()
    }

    /// Serves the slice `first` holds, then every other slice this worker can claim, one at a
    /// time with `serve` (given a slice's people and its lease, to renew), until none is
    /// left or `stopping` says so; returns the slices' reports added up.
    pub(crate) async fn serve_all<'p>(
        &self,
        store: &mut Store,
        first: SliceLease,
        people: &[&'p Person],
        stopping: impl Fn() -> bool,
        mut serve: impl AsyncFnMut(
            &mut Store,
            &[&'p Person],
            &mut SliceLease,
        ) -> anyhow::Result<RunReport>,
    ) -> anyhow::Result<RunReport> {
        let mut report = RunReport::default();
        let mut next = Some(first);
        while let Some(mut lease) = next {
            let mine = self.people_of(&lease, people);
            let part = serve(store, &mine, &mut lease).await?;
            report.add(&part);
            let stop = stopping();
            self.end(store, lease, stop)?;
            if stop {
                break;
            }
            next = self.claim(store)?;
        }
        Ok(report)
    }

    /// Ends the work on `lease`'s slice: done, or, when the worker is `stopping`, given back
    /// for any worker (this one at its next start) to finish.
    pub(crate) fn end(
        &self,
        store: &Store,
        lease: SliceLease,
        stopping: bool,
    ) -> anyhow::Result<()> {
        let worker = crate::worker::id();
        if stopping {
            store.release_slice(&self.schedule, self.period_end, lease.slice, worker)?;
        } else {
            store.finish_slice(
                &self.schedule,
                self.period_end,
                lease.slice,
                worker,
                Utc::now(),
            )?;
        }
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
        let stretch = super::stretch_len(self.threads());
        let firing = FiringSlices::join(store, run.schedule_key, run.now, people.len(), stretch)?;
        let Some(first) = firing.claim(store)? else {
            return Ok(RunReport::default());
        };
        let data = self.load_run(store, run)?;
        firing
            .serve_all(
                store,
                first,
                people,
                || self.stopping(),
                async |store: &mut Store, mine: &[&Person], lease: &mut SliceLease| {
                    self.run_people(store, run, &data, mine, Some(lease)).await
                },
            )
            .await
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
