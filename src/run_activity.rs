//! What a digest run (or a preview) loads from the store for selection: the posts and threads
//! of the roles' groups, the training highlight candidates, and the curation that ranks them
//! (ambassadors' nominations, the likes threshold), indexed as one [`Activity`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::digest::{Activity, Curation};
use crate::model::Role;
use crate::store::{Store, StoreError};

/// Loads the activity `roles` need: posts of their groups after `posts_since`, highlight
/// candidates after `highlights_since` (tags, best answers, likes) and nominated posts.
pub fn load_activity(
    store: &Store,
    config: &Config,
    roles: &[&Role],
    posts_since: DateTime<Utc>,
    highlights_since: DateTime<Utc>,
) -> Result<Activity, StoreError> {
    let mut groups: Vec<String> = roles
        .iter()
        .flat_map(|r| r.groups.iter().cloned())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    groups.sort();
    let mut tags: Vec<String> = roles
        .iter()
        .flat_map(|r| r.training_tags.iter().cloned())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    tags.sort();
    let min_likes = config.digest.highlight_min_likes;
    let (threads, posts) =
        store.load_activity(&groups, posts_since, &tags, highlights_since, min_likes)?;
    let curation = Curation {
        nominations: store.nomination_counts(&groups)?,
        min_likes,
    };
    Ok(Activity::with_curation(threads, posts, curation)
        .with_threads_complete_since(Some(posts_since)))
}
