//! Slots filled once each by whichever thread takes them first: two threads share the work
//! of one batch (parsing its messages) without splitting it up front, so neither waits while
//! the other still has work left.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// `len` slots, each made once: threads take the next untaken slot in turn
/// ([`SharedSlots::fill_next`]), and a thread that needs a given slot gets it made or waits
/// for the thread making it ([`SharedSlots::get_or_fill`]).
#[derive(Debug)]
pub struct SharedSlots<T> {
    /// Index of the first slot no thread has taken yet (may run past the end).
    next: AtomicUsize,
    /// The slots, each set once.
    slots: Vec<OnceLock<T>>,
}

impl<T> SharedSlots<T> {
    /// `len` empty slots.
    pub fn new(len: usize) -> Self {
        SharedSlots {
            next: AtomicUsize::new(0),
            slots: (0..len).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when there are no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Takes the next slot no thread has taken and fills it with `make(index)`, unless another
    /// thread filled it already through [`SharedSlots::get_or_fill`]. False once every slot
    /// was taken (nothing made).
    pub fn fill_next(&self, make: impl FnOnce(usize) -> T) -> bool {
        if self.next.load(Ordering::Relaxed) >= self.slots.len() {
            return false;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.slots.get(i) {
            Some(slot) => {
                slot.get_or_init(|| make(i));
                true
            }
            None => false,
        }
    }

    /// Fills slots with `make(index)` as [`SharedSlots::fill_next`] does until every slot
    /// was taken; returns how many this call took.
    pub fn fill_rest(&self, make: impl Fn(usize) -> T) -> usize {
        let mut taken = 0;
        while self.fill_next(&make) {
            taken += 1;
        }
        taken
    }

    /// Slot `i`: as filled, or being filled by another thread (this one waits for it), or
    /// filled here with `make()`. `None` past the end.
    pub fn get_or_fill(&self, i: usize, make: impl FnOnce() -> T) -> Option<&T> {
        self.slots.get(i).map(|slot| slot.get_or_init(make))
    }

    /// Slot `i` if it is filled.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i).and_then(OnceLock::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn two_threads_fill_every_slot_exactly_once() {
        let slots = SharedSlots::new(10_000);
        let made = AtomicUsize::new(0);
        let make = |i: usize| {
            made.fetch_add(1, Ordering::Relaxed);
            i * 2
        };
        let (a, b) = std::thread::scope(|s| {
            let other = s.spawn(|| slots.fill_rest(make));
            let here = slots.fill_rest(make);
            (here, other.join().unwrap_or(0))
        });
        assert_eq!(a + b, 10_000);
        assert_eq!(made.load(Ordering::Relaxed), 10_000);
        for i in 0..10_000 {
            assert_eq!(slots.get(i), Some(&(i * 2)));
        }
        assert!(!slots.fill_next(make), "nothing left to take");
    }

    #[test]
    fn a_slot_asked_for_is_made_once_whoever_asks_first() {
        let slots = SharedSlots::new(3);
        assert_eq!(slots.get(1), None);
        assert_eq!(slots.get_or_fill(1, || "asked"), Some(&"asked"));
        // Taking in turn skips nothing and does not remake the slot already made.
        let mut made = Vec::new();
        while slots.fill_next(|i| {
            made.push(i);
            "taken"
        }) {}
        assert_eq!(made, vec![0, 2]);
        assert_eq!(slots.get(1), Some(&"asked"));
        assert_eq!(slots.get_or_fill(3, || "past the end"), None);
        assert_eq!(slots.len(), 3);
        assert!(!slots.is_empty());
    }
}
