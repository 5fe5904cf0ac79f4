//! The built-in forum (`forum = local`): groups, threads and posts in digestd's own SQLite file.

use std::path::Path;

use crate::config::Config;
use crate::forum::Posted;

/// A post to add through `digestd post`.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// Group id.
    pub group: String,
    /// Author address.
    pub author: String,
    /// Existing thread id, or `None` for a new thread.
    pub thread: Option<String>,
    /// Title of a new thread.
    pub title: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Markdown body.
    pub body: String,
}

/// `digestd post`.
pub fn post_command(_config: &Config, _post: NewPost) -> anyhow::Result<Posted> {
    anyhow::bail!("post is not implemented yet")
}

/// `digestd import`: returns the number of posts loaded.
pub fn import_command(_config: &Config, _file: &Path) -> anyhow::Result<usize> {
    anyhow::bail!("import is not implemented yet")
}

/// `digestd thread`: the thread's posts as text.
pub fn thread_command(_config: &Config, _id: &str) -> anyhow::Result<String> {
    anyhow::bail!("thread is not implemented yet")
}
