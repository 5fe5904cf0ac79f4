//! Patterns compiled once per process and searched through a clone per thread.
//!
//! A [`Regex`] keeps the scratch space of its searches in a pool that serves the first thread
//! to search on a fast path and every other thread through a lock: about 17 ns a search on
//! the inbound pipeline's threads, which are never that first thread, and the trimmer runs a
//! few patterns on every line. A clone shares the compiled program and has a pool of its
//! own; a [`LocalRegex`] hands each thread its own clone, whose pool that thread owns.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};

use regex::Regex;

/// Slots handed out so far, one per [`LocalRegex`] that was searched.
static SLOTS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's clones, by slot.
    static CLONES: RefCell<Vec<Option<Regex>>> = const { RefCell::new(Vec::new()) };
}

/// A pattern compiled on first use, searched through this thread's own clone of it.
pub struct LocalRegex {
    /// The compiled pattern, shared by the clones.
    shared: LazyLock<Regex>,
    /// Index of this pattern's clone in each thread's list, given on first use.
    slot: OnceLock<usize>,
}

impl LocalRegex {
    /// A pattern `compile` makes on first use (a `static` holds it).
    pub const fn new(compile: fn() -> Regex) -> Self {
        LocalRegex {
            shared: LazyLock::new(compile),
            slot: OnceLock::new(),
        }
    }

    /// `search` run with this thread's clone (with the shared pattern when a search nested
    /// in another one's `search` needs a clone made: the list is borrowed then).
    pub fn with<R>(&self, search: impl FnOnce(&Regex) -> R) -> R {
        let slot = *self
            .slot
            .get_or_init(|| SLOTS.fetch_add(1, Ordering::Relaxed));
        CLONES.with(|clones| {
            if let Some(Some(own)) = clones.borrow().get(slot) {
                return search(own);
            }
            if let Ok(mut clones) = clones.try_borrow_mut() {
                if clones.len() <= slot {
                    clones.resize_with(slot + 1, || None);
                }
                clones[slot] = Some(Regex::clone(&self.shared));
            }
            match clones.borrow().get(slot) {
                Some(Some(own)) => search(own),
                _ => search(&self.shared),
            }
        })
    }

    /// True when the pattern matches somewhere in `haystack`.
    pub fn is_match(&self, haystack: &str) -> bool {
        self.with(|regex| regex.is_match(haystack))
    }
}

impl std::fmt::Debug for LocalRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRegex")
            .field("pattern", &self.shared.as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DIGITS: LocalRegex =
        LocalRegex::new(|| Regex::new(r"^\d+$").unwrap_or_else(|e| panic!("{e}")));
    static WORD: LocalRegex =
        LocalRegex::new(|| Regex::new(r"\bword\b").unwrap_or_else(|e| panic!("{e}")));

    #[test]
    fn each_thread_searches_its_own_clone_of_the_same_pattern() {
        assert!(DIGITS.is_match("123"));
        assert!(!DIGITS.is_match("12a"));
        let here = DIGITS.with(|r| r as *const Regex as usize);
        assert_eq!(
            here,
            DIGITS.with(|r| r as *const Regex as usize),
            "one clone a thread"
        );
        let other = std::thread::spawn(|| {
            (
                DIGITS.is_match("456"),
                WORD.is_match("a word here"),
                WORD.with(|r| r.find("no words").is_none()),
            )
        })
        .join()
        .unwrap_or_default();
        assert_eq!(other, (true, true, true));
    }

    #[test]
    fn a_search_nested_in_another_still_finds() {
        static NESTED: LocalRegex =
            LocalRegex::new(|| Regex::new("nested").unwrap_or_else(|e| panic!("{e}")));
        let found = WORD.with(|outer| outer.is_match("word") && NESTED.is_match("nested"));
        assert!(found);
        assert!(NESTED.is_match("nested, now with a clone of its own"));
    }
}
