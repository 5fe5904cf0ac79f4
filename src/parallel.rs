//! Every core for pure work: [`map_ordered`] runs one function over a slice on several threads
//! and hands back the results in the slice's order, so the caller (the one thread that owns the
//! store) writes them exactly as a single thread would have.
//!
//! Threads are `std::thread::scope` threads, so the function may borrow the run's data (the
//! activity index, the renderer, the excerpt cache); the calling thread works too. Items are
//! claimed one at a time from a shared counter, so a slow item never leaves the other threads
//! idle behind it.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads a run uses when the configuration does not say: the cores this process
/// may run on (`std::thread::available_parallelism`, which follows CPU affinity and cgroup
/// quotas), or 1 when that cannot be known.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// `items.iter().map(f).collect()`, on up to `threads` threads (the calling one included).
///
/// The results are in the order of `items` whatever the number of threads. With `threads` ≤ 1
/// or fewer than two items nothing is spawned. A panic in `f` reaches the caller.
pub fn map_ordered<T, R, F>(items: &[T], threads: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, R)> = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let spawned: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut parts = vec![work()];
        for handle in spawned {
            match handle.join() {
                Ok(part) => parts.push(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        parts
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in parts.into_iter().flatten() {
        slots[i] = Some(r);
    }
    // Every index below `items.len()` was claimed exactly once by a thread that then returned.
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_on_any_number_of_threads() {
        let items: Vec<u64> = (0..1_000).collect();
        let one = map_ordered(&items, 1, |x| x * x);
        for threads in [2, 3, 8, 64, 5_000] {
            assert_eq!(map_ordered(&items, threads, |x| x * x), one, "{threads}");
        }
    }

    #[test]
    fn every_item_is_done_exactly_once() {
        let calls = AtomicUsize::new(0);
        let items: Vec<usize> = (0..500).collect();
        let out = map_ordered(&items, 4, |x| {
            calls.fetch_add(1, Ordering::Relaxed);
            *x
        });
        assert_eq!(calls.load(Ordering::Relaxed), 500);
        assert_eq!(out, items);
    }

    #[test]
    fn several_threads_really_run_and_borrow_the_callers_data() {
        use std::sync::Mutex;
        use std::time::{Duration, Instant};
        let shared = String::from("borrowed");
        let seen = Mutex::new(std::collections::HashSet::new());
        let items: Vec<usize> = (0..64).collect();
        let out = map_ordered(&items, 4, |x| {
            let me = std::thread::current().id();
            seen.lock().map(|mut s| s.insert(me)).ok();
            if *x == 0 {
                // Whoever took the first item holds it until another thread has done some work
                // (bounded: a lone thread gives up after 10 s and the test fails below).
                let deadline = Instant::now() + Duration::from_secs(10);
                while seen.lock().map_or(0, |s| s.len()) < 2 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            shared.len() + x
        });
        let threads = seen.lock().map_or(0, |s| s.len());
        assert!(threads > 1, "work spread over {threads} thread(s)");
        assert_eq!(out, (0..64).map(|x| x + shared.len()).collect::<Vec<_>>());
    }

    #[test]
    fn empty_and_single_inputs_spawn_nothing() {
        let none: Vec<u8> = Vec::new();
        assert!(map_ordered(&none, 8, |x| *x).is_empty());
        let caller = std::thread::current().id();
        assert_eq!(
            map_ordered(&[1], 8, |_| std::thread::current().id()),
            vec![caller]
        );
    }

    #[test]
    fn a_panic_in_the_function_reaches_the_caller() {
        let items: Vec<usize> = (0..100).collect();
        let result = std::panic::catch_unwind(|| {
            map_ordered(&items, 3, |x| {
                assert!(*x != 57, "item 57");
                *x
            })
        });
        assert!(result.is_err());
    }

    #[test]
    fn available_threads_is_at_least_one() {
        assert!(available_threads() >= 1);
    }
}
