//! One connector per configured forum instance, and dispatch by group: [`Forums`] is itself a
//! [`Forum`], so collection and the inbound pipeline keep talking to one `&dyn Forum` whatever
//! platforms the groups live on.
//!
//! A forum that cannot be opened (an unreadable secret, a connector this build lacks) does not
//! stop the others: its groups fail with [`ForumError::Unavailable`] and the reason, so replies to
//! them stay queued and collection retries on the next pass.

use std::collections::HashMap;

use super::local::LocalForum;
use super::{Author, Cursor, FetchBatch, Forum, ForumError, Posted};
use crate::config::{Config, ForumConfig};
use crate::model::{ForumKind, Group};

/// The opened forums of a config, by instance name.
#[derive(Default)]
pub struct Forums {
    open: HashMap<String, Box<dyn Forum>>,
    failed: HashMap<String, String>,
}

impl std::fmt::Debug for Forums {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.open.keys().collect();
        names.sort();
        f.debug_struct("Forums")
            .field("open", &names)
            .field("failed", &self.failed)
            .finish()
    }
}

/// Opens a connector for every forum instance in `config` (failures are kept per forum, see
/// [`Forums::get`]).
pub fn open_forums(config: &Config) -> Forums {
    let mut forums = Forums::default();
    for fc in &config.forums {
        match open_one(config, fc) {
            Ok(f) => forums.insert(&fc.name, f),
            Err(e) => {
                tracing::warn!(forum = %fc.name, kind = %fc.kind, error = %e, "forum not opened");
                forums.failed.insert(fc.name.clone(), e.to_string());
            }
        }
    }
    forums
}

/// The connector for one forum instance.
fn open_one(config: &Config, fc: &ForumConfig) -> Result<Box<dyn Forum>, ForumError> {
    match fc.kind {
        ForumKind::Local => {
            let local = LocalForum::open_at(&config.store_location(), &config.forum_url)
                .map_err(|e| ForumError::Unavailable(format!("opening the store: {e}")))?;
            Ok(Box::new(local))
        }
        ForumKind::Matrix => Ok(Box::new(super::matrix::MatrixForum::open(config, fc)?)),
        ForumKind::Discourse => Ok(Box::new(super::discourse::DiscourseForum::open(
            config, fc,
        )?)),
        ForumKind::Feed => Ok(Box::new(super::feed::FeedForum::open(config, fc)?)),
        ForumKind::Webhook => Ok(Box::new(super::webhook::WebhookForum::open(config, fc)?)),
    }
}

impl Forums {
    /// Adds (or replaces) the connector of forum `name`.
    pub fn insert(&mut self, name: &str, forum: Box<dyn Forum>) {
        self.failed.remove(name);
        self.open.insert(name.to_string(), forum);
    }

    /// The connector of forum `name`, or why there is none.
    pub fn get(&self, name: &str) -> Result<&dyn Forum, ForumError> {
        if let Some(f) = self.open.get(name) {
            return Ok(f.as_ref());
        }
        Err(match self.failed.get(name) {
            Some(why) => ForumError::Unavailable(format!("forum `{name}` is not open: {why}")),
            None => ForumError::Refused(format!("no forum named `{name}` is configured")),
        })
    }

    /// Names of the forums that would not open, with the reason.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.failed.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Forum for Forums {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        self.get(&group.forum_name)?
            .fetch_since(group, cursor, limit)
    }

    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        author: &Author,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        self.get(&group.forum_name)?.post_reply(
            group,
            thread_remote_id,
            author,
            body,
            idempotency_key,
        )
    }

    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        self.get(&group.forum_name)?
            .create_thread(group, author, title, body, idempotency_key)
    }

    fn check_online(&self, groups: &[&Group]) -> Result<(), ForumError> {
        let mut names: Vec<&str> = groups.iter().map(|g| g.forum_name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let of_forum: Vec<&Group> = groups
                .iter()
                .copied()
                .filter(|g| g.forum_name == name)
                .collect();
            self.get(name)?.check_online(&of_forum)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);

    impl Forum for Named {
        fn fetch_since(
            &self,
            _group: &Group,
            _cursor: Option<&Cursor>,
            _limit: usize,
        ) -> Result<FetchBatch, ForumError> {
            Ok(FetchBatch {
                next_cursor: Cursor(self.0.to_string()),
                ..Default::default()
            })
        }

        fn post_reply(
            &self,
            _group: &Group,
            _thread: &str,
            _author: &Author,
            _body: &str,
            _key: &str,
        ) -> Result<Posted, ForumError> {
            Err(ForumError::Refused(self.0.to_string()))
        }

        fn create_thread(
            &self,
            _group: &Group,
            _author: &Author,
            _title: &str,
            _body: &str,
            _key: &str,
        ) -> Result<Posted, ForumError> {
            Err(ForumError::Refused(self.0.to_string()))
        }
    }

    fn group_on(forum: &str) -> Group {
        let mut g = Group::local("g", "G");
        g.forum_name = forum.to_string();
        g
    }

    #[test]
    fn dispatches_by_forum_name() {
        let mut forums = Forums::default();
        forums.insert("a", Box::new(Named("a")));
        forums.insert("b", Box::new(Named("b")));
        let batch = forums.fetch_since(&group_on("b"), None, 10).expect("b");
        assert_eq!(batch.next_cursor.0, "b");
    }

    #[test]
    fn a_forum_that_failed_to_open_is_transient_and_an_unknown_one_is_refused() {
        let mut forums = Forums::default();
        forums
            .failed
            .insert("down".into(), "secret file unreadable".into());
        let e = forums.fetch_since(&group_on("down"), None, 10).unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains("secret file unreadable"), "{e}");
        let e = forums
            .fetch_since(&group_on("nowhere"), None, 10)
            .unwrap_err();
        assert!(!e.is_transient(), "{e}");
    }
}
