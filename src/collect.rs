//! Collection: polls each group's forum into the store, with a cursor per group.

use std::fmt;

use crate::config::Config;
use crate::store::Store;

/// What one collection pass did.
#[derive(Debug, Default, Clone)]
pub struct CollectReport {
    /// Groups polled successfully.
    pub groups_ok: usize,
    /// Groups whose forum failed (kept for the next pass).
    pub groups_failed: usize,
    /// New posts stored.
    pub posts: usize,
}

impl fmt::Display for CollectReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "collected {} new posts from {} groups ({} failed)",
            self.posts, self.groups_ok, self.groups_failed
        )
    }
}

/// Polls every configured group once.
pub fn collect_all(_config: &Config, _store: &mut Store) -> anyhow::Result<CollectReport> {
    anyhow::bail!("collection is not implemented yet")
}
