//! Unit tests of the claims several workers make on one store: slices of a firing, pending
//! deliveries and queued inbound messages, on both engines.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::store::test_support::each_store;
use crate::store::NewDelivery;

const SCHEDULE: &str = "0 0 7 * * *@UTC";

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 7, minute, 0)
        .single()
        .expect("valid instant")
}

fn delivery(person: &str, end: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        person_email: person.into(),
        schedule: SCHEDULE.into(),
        period_end: end,
        message_id: format!("<{person}.{}@x>", end.timestamp()),
        raw: format!("Subject: for {person}\r\n\r\nbody").into_bytes(),
        post_ids: vec![],
        grants: vec![],
        highlights: vec![],
    }
}

#[test]
fn a_firing_is_recorded_once_and_keeps_the_first_workers_slice_count() {
    each_store(|mut store| {
        let n = store
            .join_firing(SCHEDULE, at(0), 3, "a", at(0))
            .expect("join a");
        assert_eq!(n, 3);
        let n = store
            .join_firing(SCHEDULE, at(0), 7, "b", at(0))
            .expect("join b");
        assert_eq!(n, 3, "the second worker cuts the people as the first did");
        assert_eq!(
            store.firing_slices(SCHEDULE, at(0)).expect("slices").len(),
            3
        );
    });
}

#[test]
fn two_claimers_never_get_the_same_slice_and_a_done_slice_is_never_taken_again() {
    each_store(|mut store| {
        store
            .join_firing(SCHEDULE, at(0), 3, "a", at(0))
            .expect("join");
        let until = at(1);
        let a = store.claim_slice(SCHEDULE, at(0), "a", at(0), until);
        let b = store.claim_slice(SCHEDULE, at(0), "b", at(0), until);
        let c = store.claim_slice(SCHEDULE, at(0), "c", at(0), until);
        let (a, b, c) = (
            a.expect("a").expect("a slice"),
            b.expect("b").expect("b slice"),
            c.expect("c").expect("c slice"),
        );
        let mut got = vec![a, b, c];
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2], "three claimers, three different slices");
        assert_eq!(
            store
                .claim_slice(SCHEDULE, at(0), "d", at(0), until)
                .expect("d"),
            None,
            "every slice is held"
        );
        assert!(store
            .finish_slice(SCHEDULE, at(0), a, "a", at(0))
            .expect("done"));
        assert!(!store
            .finish_slice(SCHEDULE, at(0), a, "a", at(0))
            .expect("done twice"));
        // Long after every lease expired, only the slices not done are taken over.
        let later = at(30);
        let mut taken = Vec::new();
        while let Some(s) = store
            .claim_slice(SCHEDULE, at(0), "d", later, later + Duration::minutes(1))
            .expect("take over")
        {
            taken.push(s);
            assert!(taken.len() <= 3, "bounded");
        }
        taken.sort_unstable();
        let mut expected = vec![b, c];
        expected.sort_unstable();
        assert_eq!(taken, expected);
        let rows = store.firing_slices(SCHEDULE, at(0)).expect("rows");
        assert_eq!(rows[a as usize].claimed_by.as_deref(), Some("a"));
        assert!(rows[a as usize].done.is_some());
        assert!(rows
            .iter()
            .filter(|r| r.slice != a)
            .all(|r| r.claimed_by.as_deref() == Some("d")));
    });
}

#[test]
fn a_held_slice_is_renewed_only_by_its_holder_and_a_released_one_is_free_at_once() {
    each_store(|mut store| {
        store
            .join_firing(SCHEDULE, at(0), 1, "a", at(0))
            .expect("join");
        let s = store
            .claim_slice(SCHEDULE, at(0), "a", at(0), at(1))
            .expect("claim")
            .expect("slice");
        assert!(store
            .renew_slice(SCHEDULE, at(0), s, "a", at(5))
            .expect("renew"));
        assert!(!store
            .renew_slice(SCHEDULE, at(0), s, "b", at(9))
            .expect("not b's"));
        // Renewed to minute 5: at minute 3 it is still held.
        assert_eq!(
            store
                .claim_slice(SCHEDULE, at(0), "b", at(3), at(4))
                .expect("b"),
            None
        );
        assert_eq!(
            store.firings_to_take_over(at(3), at(0)).expect("open"),
            vec![]
        );
        assert_eq!(
            store.firings_to_take_over(at(6), at(0)).expect("open"),
            vec![(SCHEDULE.to_owned(), at(0))],
            "an expired lease makes the firing one to take over"
        );
        store
            .release_slice(SCHEDULE, at(0), s, "a")
            .expect("release");
        assert_eq!(
            store
                .claim_slice(SCHEDULE, at(0), "b", at(3), at(4))
                .expect("b"),
            Some(s)
        );
        assert!(!store
            .renew_slice(SCHEDULE, at(0), s, "a", at(9))
            .expect("a lost it"));
    });
}

#[test]
fn a_pending_delivery_is_claimed_by_one_worker_and_taken_over_when_its_lease_expires() {
    each_store(|mut store| {
        let now = Utc::now();
        // Recorded by this worker: leased to it for `[daemon] lease_seconds`.
        let id = store
            .insert_pending_delivery(&delivery("ann@x.example", at(0)))
            .expect("insert")
            .expect("new");
        let free = |store: &mut Store, worker: &str, t: DateTime<Utc>| {
            store
                .claim_pending_deliveries(
                    PendingClaim::Free,
                    0,
                    10,
                    worker,
                    t,
                    t + Duration::seconds(60),
                )
                .expect("claim")
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            free(&mut store, "b", now),
            Vec::<i64>::new(),
            "held by its sender"
        );
        let later = now + crate::worker::lease() + Duration::seconds(1);
        assert_eq!(free(&mut store, "b", later), vec![id], "taken over");
        assert_eq!(
            free(&mut store, "c", later),
            Vec::<i64>::new(),
            "b holds it now"
        );
        let taken = store
            .claim_pending_deliveries(
                PendingClaim::Orphaned,
                0,
                10,
                "c",
                later + Duration::seconds(61),
                later + Duration::seconds(120),
            )
            .expect("orphans");
        assert_eq!(taken.len(), 1);
        assert_eq!(
            taken[0].raw,
            delivery("ann@x.example", at(0)).raw,
            "byte for byte"
        );
        // A failed send gives the lease back: free for a cycle, not an orphan.
        store.bump_attempt(id).expect("bump");
        let orphans = store
            .claim_pending_deliveries(PendingClaim::Orphaned, 0, 10, "d", later, later)
            .expect("orphans");
        assert!(orphans.is_empty());
        assert_eq!(free(&mut store, "d", later), vec![id]);
        assert_eq!(
            store
                .renew_deliveries(&[id], "d", later + Duration::seconds(60))
                .expect("renew"),
            vec![id]
        );
        assert!(store
            .renew_deliveries(&[id], "e", later + Duration::seconds(60))
            .expect("not e's")
            .is_empty());
        assert_eq!(store.release_deliveries(&[id], "d").expect("release"), 1);
        store.mark_sent(id).expect("sent");
        assert_eq!(
            free(&mut store, "e", later),
            Vec::<i64>::new(),
            "sent: never again"
        );
    });
}

#[test]
fn two_workers_claiming_pending_deliveries_split_them() {
    each_store(|mut store| {
        for i in 0..10 {
            store
                .insert_pending_delivery(&delivery(&format!("p{i}@x.example"), at(0)))
                .expect("insert");
        }
        let t = Utc::now() + crate::worker::lease() + Duration::seconds(1);
        let until = t + Duration::seconds(60);
        let a = store
            .claim_pending_deliveries(PendingClaim::Free, 0, 4, "a", t, until)
            .expect("a");
        let b = store
            .claim_pending_deliveries(PendingClaim::Free, 0, 100, "b", t, until)
            .expect("b");
        assert_eq!((a.len(), b.len()), (4, 6));
        assert!(a.iter().all(|x| b.iter().all(|y| x.id != y.id)));
        let leases = store.live_leases(t).expect("leases");
        assert_eq!(leases["a"].deliveries, 4);
        assert_eq!(leases["b"].deliveries, 6);
    });
}

#[test]
fn an_inbound_message_is_claimed_by_one_worker_until_its_lease_expires_or_it_is_deferred() {
    each_store(|mut store| {
        let one = store
            .insert_inbound(b"one", Some("<1@x>"), "h1", "stdin")
            .expect("1")
            .id;
        let two = store
            .insert_inbound(b"two", Some("<2@x>"), "h2", "stdin")
            .expect("2")
            .id;
        // Past the lease their storer (this worker) took: any worker may claim them.
        let base = Utc::now() + crate::worker::lease() + Duration::seconds(1);
        let at = |minute: i64| base + Duration::minutes(minute);
        let t = at(0);
        let until = at(1);
        assert_eq!(
            store.claim_inbound(&[one], "a", t, until).expect("a"),
            vec![one]
        );
        assert_eq!(
            store.claim_inbound(&[one, two], "b", t, until).expect("b"),
            vec![two],
            "b gets only what a does not hold"
        );
        assert_eq!(
            store.claim_inbound(&[one], "a", t, until).expect("again"),
            vec![one],
            "a holder claims its own row again"
        );
        assert_eq!(
            store.renew_inbound(&[one, two], "a", at(3)).expect("renew"),
            1
        );
        // Expired: taken over.
        assert_eq!(
            store.claim_inbound(&[one], "c", at(4), at(5)).expect("c"),
            vec![one]
        );
        // Deferred: the lease is given back.
        store
            .defer_inbound(one, at(4), "forum down")
            .expect("defer");
        assert_eq!(
            store.claim_inbound(&[one], "d", at(4), at(5)).expect("d"),
            vec![one]
        );
        // Done: never claimed again.
        store.set_inbound_posted(two, "9", "", "g").expect("posted");
        assert!(store
            .claim_inbound(&[two], "e", at(30), at(31))
            .expect("e")
            .is_empty());
    });
}

#[test]
fn a_freshly_stored_message_is_held_by_its_storer_until_its_lease_expires() {
    each_store(|mut store| {
        let me = crate::worker::id();
        let now = Utc::now();
        let stored = store
            .insert_inbound_batch(
                &[
                    crate::store::inbound::NewInbound {
                        raw: b"one",
                        message_id: Some("<fresh1@x>"),
                        sha256: "f1",
                    },
                    crate::store::inbound::NewInbound {
                        raw: b"two",
                        message_id: None,
                        sha256: "f2",
                    },
                ],
                "maildir",
            )
            .expect("stored");
        let ids: Vec<i64> = stored.iter().map(|s| s.id).collect();
        for &id in &ids {
            let row = store.inbound(id).expect("row").expect("stored");
            assert_eq!(row.claimed_by.as_deref(), Some(me), "held by its storer");
            let until = row.lease_until.expect("leased");
            assert!(until > now && until <= Utc::now() + crate::worker::lease());
            assert!(crate::worker::holds_fresh(
                row.claimed_by.as_deref(),
                row.lease_until,
                Utc::now()
            ));
        }
        assert_eq!(
            store.live_leases(Utc::now()).expect("leases")[me].inbound,
            2
        );
        // Another worker gets neither while the storer's lease lasts ...
        let t = Utc::now();
        assert!(store
            .claim_inbound(&ids, "other:1:0", t, t + Duration::seconds(60))
            .expect("other")
            .is_empty());
        // ... the storer claims its own again ...
        assert_eq!(
            store
                .claim_inbound(&ids, me, t, crate::worker::lease_until(t))
                .expect("own"),
            ids
        );
        // ... and once the lease has expired (the storer died), the other takes both over.
        let later = Utc::now() + crate::worker::lease() + Duration::seconds(1);
        assert_eq!(
            store
                .claim_inbound(&ids, "other:1:0", later, later + Duration::seconds(60))
                .expect("taken over"),
            ids
        );
        // A duplicate stored again is one row, still the other worker's.
        let again = store
            .insert_inbound(b"one", Some("<fresh1@x>"), "f1", "maildir")
            .expect("again");
        assert!(again.duplicate);
        let row = store.inbound(ids[0]).expect("row").expect("stored");
        assert_eq!(row.claimed_by.as_deref(), Some("other:1:0"));
    });
}

#[test]
fn claims_and_renewals_of_any_number_of_ids_take_exactly_those_ids() {
    // The id lists are padded to a few fixed lengths: every length in between, and more than
    // one statement's worth, claims and renews exactly what it names.
    each_store(|mut store| {
        let ids: Vec<i64> = (0..620)
            .map(|i| {
                store
                    .insert_inbound(b"x", Some(&format!("<n{i}@x>")), &format!("n{i}"), "t")
                    .expect("stored")
                    .id
            })
            .collect();
        let t = Utc::now() + crate::worker::lease() + Duration::seconds(1);
        let until = t + Duration::seconds(60);
        let mut start = 0;
        for n in [1, 2, 7, 8, 9, 63, 64, 65, 400] {
            let part = &ids[start..start + n];
            let got = store.claim_inbound(part, "w", t, until).expect("claim");
            assert_eq!(got, part, "{n} ids");
            assert_eq!(store.renew_inbound(part, "w", until).expect("renew"), n);
            start += n;
        }
        assert_eq!(start, 620 - 1);
        let leases = store.live_leases(t).expect("leases");
        assert_eq!(leases["w"].inbound, 619);
        let all = store.claim_inbound(&ids, "v", t, until).expect("the rest");
        assert_eq!(all, vec![ids[619]], "only the one nobody holds");
    });
}

#[test]
fn releasing_every_lease_frees_what_a_killed_process_held() {
    each_store(|mut store| {
        store
            .join_firing(SCHEDULE, at(0), 2, "a", at(0))
            .expect("join");
        store
            .claim_slice(SCHEDULE, at(0), "dead", at(0), at(59))
            .expect("claim");
        let id = store
            .insert_pending_delivery(&delivery("ann@x.example", at(0)))
            .expect("insert")
            .expect("new");
        store.release_all_leases().expect("release");
        let now = Utc::now();
        let got = store
            .claim_pending_deliveries(PendingClaim::Free, 0, 10, "b", now, now)
            .expect("claim");
        assert_eq!(got.iter().map(|d| d.id).collect::<Vec<_>>(), vec![id]);
        let mut slices = Vec::new();
        while let Some(s) = store
            .claim_slice(SCHEDULE, at(0), "b", at(1), at(2))
            .expect("slice")
        {
            slices.push(s);
            assert!(slices.len() <= 2, "bounded");
        }
        assert_eq!(slices.len(), 2);
    });
}

#[test]
fn the_messages_due_leave_out_those_another_worker_holds_and_those_not_due_yet() {
    each_store(|mut store| {
        let me = crate::worker::id();
        let id = |store: &mut Store, n: u32| {
            store
                .insert_inbound(b"x", Some(&format!("<due{n}@x>")), &format!("d{n}"), "t")
                .expect("stored")
                .id
        };
        let (free, later, theirs, mine, done) = (
            id(&mut store, 1),
            id(&mut store, 2),
            id(&mut store, 3),
            id(&mut store, 4),
            id(&mut store, 5),
        );
        let now = Utc::now();
        store.release_all_leases().expect("release");
        store
            .defer_inbound(later, now + Duration::minutes(5), "forum down")
            .expect("defer");
        let until = now + Duration::seconds(60);
        store
            .claim_inbound(&[theirs], "other:1:0", now, until)
            .expect("theirs");
        store.claim_inbound(&[mine], me, now, until).expect("mine");
        store
            .set_inbound_posted(done, "1", "", "g")
            .expect("posted");
        assert_eq!(
            store.due_inbound(now, me, now, 10).expect("due"),
            vec![free, mine]
        );
        assert_eq!(store.due_inbound(now, me, now, 1).expect("due"), vec![free]);
        assert_eq!(
            store
                .due_inbound(now + Duration::minutes(6), me, now, 10)
                .expect("due"),
            vec![free, later, mine],
            "its retry has come"
        );
        let expired = until + Duration::seconds(1);
        assert_eq!(
            store.due_inbound(now, me, expired, 10).expect("due"),
            vec![free, theirs, mine],
            "the other worker's lease expired"
        );
    });
}
