//! `check-config --online`: reaches every configured forum, checks its credentials and that
//! each of its groups exists there, and says per forum exactly what failed.

use std::fmt;

use crate::config::Config;
use crate::forum::open_forums;
use crate::model::Group;

/// What checking one forum instance found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForumCheck {
    /// The forum's name (`[forums.<name>]`).
    pub forum: String,
    /// Its kind, as written in config.
    pub kind: String,
    /// How many groups live on it.
    pub groups: usize,
    /// `Err`: what failed (not opened, credentials refused, a group missing, unreachable).
    pub result: Result<(), String>,
}

impl fmt::Display for ForumCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "forum {} ({}, {} groups): ",
            self.forum, self.kind, self.groups
        )?;
        match &self.result {
            Ok(()) => f.write_str("ok"),
            Err(e) => write!(f, "FAILED: {e}"),
        }
    }
}

/// Checks every forum that has at least one group (the built-in one always passes).
pub fn check_online(config: &Config) -> Vec<ForumCheck> {
    let forums = open_forums(config);
    config
        .forums
        .iter()
        .filter_map(|fc| {
            let groups: Vec<&Group> = config
                .groups
                .iter()
                .filter(|g| g.forum_name == fc.name)
                .collect();
            if groups.is_empty() {
                return None;
            }
            let result = forums
                .get(&fc.name)
                .and_then(|f| f.check_online(&groups))
                .map_err(|e| e.to_string());
            Some(ForumCheck {
                forum: fc.name.clone(),
                kind: fc.kind.to_string(),
                groups: groups.len(),
                result,
            })
        })
        .collect()
}
