//! Forum connectors: where groups, threads and posts come from and where replies go.
//!
//! **Boundary:** only `forum::*` knows a forum's API. Everything else sees the [`Forum`] trait and
//! the plain values of [`crate::model`].

pub mod discourse;
pub mod feed;
pub mod links;
pub mod local;
pub mod matrix;
mod router;
pub mod webhook;

pub use router::{open_forums, Forums};

use crate::model::Group;

/// The page of activity a forum returns (plain values; defined in [`crate::model`] so that the
/// store, which keeps them, need not import the forum).
pub use crate::model::{Cursor, FetchBatch, FetchedPost};

/// Errors a forum connector reports.
#[derive(Debug, thiserror::Error)]
pub enum ForumError {
    /// The forum could not be reached or failed for now: retry later.
    #[error("forum unavailable: {0}")]
    Unavailable(String),
    /// The forum refused the request for good (unknown thread, author not allowed, ...).
    #[error("forum refused: {0}")]
    Refused(String),
    /// The embedded forum's database (the store) failed.
    #[error("forum database: {0}")]
    Database(#[from] crate::store::StoreError),
}

impl ForumError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ForumError::Unavailable(_) | ForumError::Database(_))
    }
}

/// Who writes a reply or a new thread.
#[derive(Debug, Clone)]
pub struct Author {
    /// Normalised address.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// What the forum answers after accepting a post.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The forum's id for the new post.
    pub remote_post_id: String,
    /// The forum's id for the thread (new or existing).
    pub remote_thread_id: String,
    /// Link to the new post.
    pub url: String,
}

/// A forum that digestd can read from and post into.
///
/// Implementations are synchronous; async callers use `spawn_blocking`.
pub trait Forum: Send + Sync {
    /// New activity in `group` after `cursor` (`None`: from the beginning), at most `limit` posts.
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError>;

    /// Posts `body` (Markdown) into the thread `thread_remote_id` of `group` as `author`.
    ///
    /// `idempotency_key` (the inbound Message-ID) lets a forum refuse a second identical post.
    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        author: &Author,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError>;

    /// Opens a new thread in `group` as `author`.
    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError>;

    /// Reaches the platform: the credentials work and every one of `groups` exists there and
    /// can be read (`check-config --online`). The built-in forum has nothing to reach.
    fn check_online(&self, groups: &[&Group]) -> Result<(), ForumError> {
        let _ = groups;
        Ok(())
    }
}
