//! Collection: polls each group's forum into the store, with a cursor per group.
//!
//! **Invariant:** a page and the cursor after it are stored in one transaction
//! ([`Store::store_batch`]), so a crash never skips or doubles posts. A failing group is logged,
//! recorded ([`Store::record_poll_error`]) and counted, and never stops the others.

use std::collections::BTreeMap;
use std::fmt;

use crate::config::Config;
use crate::forum::{open_forums, Forum, ForumError, Forums};
use crate::model::Group;
use crate::store::{Store, StoreError};

/// Posts asked for per page.
pub const PAGE_SIZE: usize = 500;
/// Pages fetched per group per pass at most (a forum that always says "more" cannot loop us).
pub const MAX_PAGES: usize = 1_000;

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

/// Why polling one group failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The forum failed.
    #[error(transparent)]
    Forum(#[from] ForumError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Polls every configured group once (groups are synced into the store first).
pub fn collect_all(config: &Config, store: &mut Store) -> anyhow::Result<CollectReport> {
    let forums = open_forums(config);
    collect_with(config, store, &forums)
}

/// Polls every configured group once through `forums` (groups are synced into the store first).
pub fn collect_with(
    config: &Config,
    store: &mut Store,
    forums: &Forums,
) -> anyhow::Result<CollectReport> {
    store.sync_groups(&config.groups)?;
    let (report, outcomes) = collect_forums(config, store, forums, None);
    for (forum, outcome) in &outcomes {
        if let Err(error) = outcome {
            tracing::warn!(%forum, %error, "collecting from the forum failed");
        }
    }
    tracing::info!(
        posts = report.posts,
        groups_ok = report.groups_ok,
        groups_failed = report.groups_failed,
        "collection pass done"
    );
    Ok(report)
}

/// Polls the groups of the forums named in `only` (all forums: `None`) and says per forum
/// whether all its groups were polled (`Err`: the first group's error). The daemon's collection
/// loop calls this with the forums that are due; the store's groups must be synced already.
pub fn collect_forums(
    config: &Config,
    store: &mut Store,
    forums: &Forums,
    only: Option<&[String]>,
) -> (CollectReport, BTreeMap<String, Result<(), String>>) {
    let mut report = CollectReport::default();
    let mut outcomes: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    for group in &config.groups {
        if only.is_some_and(|names| !names.contains(&group.forum_name)) {
            continue;
        }
        let outcome = forums
            .get(&group.forum_name)
            .map_err(CollectError::from)
            .and_then(|f| collect_group(store, f, group));
        let entry = outcomes.entry(group.forum_name.clone()).or_insert(Ok(()));
        if let (Err(e), Ok(())) = (&outcome, &*entry) {
            *entry = Err(format!("group {}: {e}", group.id));
        }
        tally(store, group, outcome, &mut report);
    }
    (report, outcomes)
}

/// Polls the given groups, each on its forum; the testable core of [`collect_all`].
pub fn collect_groups(store: &mut Store, groups: &[(&Group, &dyn Forum)]) -> CollectReport {
    let mut report = CollectReport::default();
    for (group, forum) in groups {
        let outcome = collect_group(store, *forum, group);
        tally(store, group, outcome, &mut report);
    }
    report
}

fn tally(
    store: &Store,
    group: &Group,
    outcome: Result<usize, CollectError>,
    report: &mut CollectReport,
) {
    match outcome {
        Ok(n) => {
            crate::metrics::METRICS.poll(&group.id, true);
            report.groups_ok += 1;
            report.posts += n;
        }
        Err(e) => {
            crate::metrics::METRICS.poll(&group.id, false);
            tracing::debug!(group = %group.id, error = %e, "polling the group failed");
            report.groups_failed += 1;
            if let Err(e2) = store.record_poll_error(&group.id, &e.to_string()) {
                tracing::error!(group = %group.id, error = %e2, "recording the poll error failed");
            }
        }
    }
}

/// Fetches a group's new posts page by page (at most [`MAX_PAGES`]) and stores each page with
/// its cursor. Returns the number of new posts. Pages stored before a failure stay stored.
pub fn collect_group(
    store: &mut Store,
    forum: &dyn Forum,
    group: &Group,
) -> Result<usize, CollectError> {
    let mut cursor = store.cursor(&group.id)?;
    let mut new_posts = 0;
    for page in 0..MAX_PAGES {
        let batch = forum.fetch_since(group, cursor.as_ref(), PAGE_SIZE)?;
        new_posts += store.store_batch(group, &batch)?;
        crate::heartbeat::beat();
        if !batch.more {
            return Ok(new_posts);
        }
        if cursor.as_ref() == Some(&batch.next_cursor) {
            tracing::warn!(group = %group.id, page, "forum says more but the cursor did not move");
            return Ok(new_posts);
        }
        cursor = Some(batch.next_cursor);
    }
    tracing::warn!(group = %group.id, pages = MAX_PAGES, "page limit reached; continuing next pass");
    Ok(new_posts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forum::{Author, Cursor, FetchBatch, Posted};
    use crate::store::test_support::temp_store;
    use chrono::{Duration, Utc};

    struct Down;
    impl Forum for Down {
        fn fetch_since(
            &self,
            _: &Group,
            _: Option<&Cursor>,
            _: usize,
        ) -> Result<FetchBatch, ForumError> {
            Err(ForumError::Unavailable("connection refused".into()))
        }
        fn post_reply(
            &self,
            _: &Group,
            _: &str,
            _: &Author,
            _: &str,
            _: &str,
        ) -> Result<Posted, ForumError> {
            Err(ForumError::Unavailable("down".into()))
        }
        fn create_thread(
            &self,
            _: &Group,
            _: &Author,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Posted, ForumError> {
            Err(ForumError::Unavailable("down".into()))
        }
    }

    /// Always says "more" with the cursor moving: the page limit must stop it.
    struct Endless;
    impl Forum for Endless {
        fn fetch_since(
            &self,
            _: &Group,
            c: Option<&Cursor>,
            _: usize,
        ) -> Result<FetchBatch, ForumError> {
            let n: u64 = c.and_then(|c| c.0.parse().ok()).unwrap_or(0);
            Ok(FetchBatch {
                next_cursor: Cursor((n + 1).to_string()),
                more: true,
                ..Default::default()
            })
        }
        fn post_reply(
            &self,
            _: &Group,
            _: &str,
            _: &Author,
            _: &str,
            _: &str,
        ) -> Result<Posted, ForumError> {
            Err(ForumError::Refused("read only".into()))
        }
        fn create_thread(
            &self,
            _: &Group,
            _: &Author,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Posted, ForumError> {
            Err(ForumError::Refused("read only".into()))
        }
    }

    fn group(id: &str) -> Group {
        Group::local(id, id)
    }

    fn author() -> Author {
        Author {
            email: "anna@example.org".into(),
            name: "Anna".into(),
        }
    }

    #[test]
    fn collect_twice_stores_once_and_advances_the_cursor() {
        let (_d, mut store) = temp_store();
        let forum =
            crate::forum::local::LocalForum::open(store.path(), "https://forum.example.org/")
                .expect("forum");
        let (a, b) = (group("a"), group("b"));
        let first = forum
            .create_thread(&a, &author(), "Hello", "first post", "k1")
            .expect("thread");
        // 1,203 posts in a: three pages, then some in b.
        for i in 0..1_202 {
            forum
                .add_post(
                    "a",
                    first.remote_thread_id.parse().ok(),
                    "",
                    &author(),
                    &format!("reply {i}"),
                    &[],
                    Utc::now() - Duration::minutes(i),
                    None,
                )
                .expect("post");
        }
        forum
            .create_thread(&b, &author(), "Other", "in b", "k2")
            .expect("thread b");
        let down = Down;
        let groups: Vec<(&Group, &dyn Forum)> = vec![(&a, &forum), (&b, &forum)];
        let r = collect_groups(&mut store, &groups);
        assert_eq!((r.groups_ok, r.groups_failed, r.posts), (2, 0, 1_204));
        let r = collect_groups(&mut store, &groups);
        assert_eq!((r.groups_ok, r.posts), (2, 0));
        assert_eq!(store.post_count().expect("count"), 1_204);
        let last_a: i64 = store
            .cursor("a")
            .expect("c")
            .expect("some")
            .0
            .parse()
            .expect("n");
        assert_eq!(last_a, 1_203);

        // Thread 2 lives in b: replying to it through a is refused.
        let refused = forum.post_reply(&a, "2", &author(), "wrong group", "k4");
        assert!(matches!(refused, Err(ForumError::Refused(_))));
        let posted = forum
            .post_reply(&a, &first.remote_thread_id, &author(), "late", "k3")
            .expect("reply");
        let r = collect_groups(&mut store, &[(&a, &forum), (&b, &down)]);
        assert_eq!((r.groups_ok, r.groups_failed, r.posts), (1, 1, 1));
        assert_eq!(
            store.cursor("a").expect("c").map(|c| c.0),
            Some(posted.remote_post_id)
        );
        let states = store.poll_states().expect("states");
        let b_state = states.iter().find(|s| s.group_id == "b").expect("b");
        assert!(b_state
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("connection refused")));
        // The failing group kept its cursor.
        assert!(b_state.cursor.is_some());
    }

    #[test]
    fn an_endless_forum_is_bounded() {
        let (_d, mut store) = temp_store();
        let g = group("g");
        let n = collect_group(&mut store, &Endless, &g).expect("bounded");
        assert_eq!(n, 0);
        assert_eq!(
            store.cursor("g").expect("c"),
            Some(Cursor(MAX_PAGES.to_string()))
        );
    }
}
