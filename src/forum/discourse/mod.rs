//! The Discourse connector (`kind = "discourse"`): a group is a category (slug or id),
//! optionally narrowed to topics carrying one of the group's tags.
//!
//! Collecting pages through the category's topic list (`GET /c/{slug}/{id}.json?order=activity`,
//! most recently bumped first) until a topic older than the cursor, opens each topic that may hold
//! new posts (`GET /t/{id}.json`, then `GET /t/{id}/posts.json?post_ids[]=…` for posts beyond
//! the first chunk) and keeps the posts above the cursor's post id. Authors become people by
//! their address ([`users`]). Replies go out as `POST /posts.json` with `Api-Username` set to
//! the person's own account; a person without one is refused with a message for them.
//!
//! Submodules: [`wire`] (the JSON shapes), [`map`] (pure decisions), [`client`] (HTTP, retries
//! and status mapping), [`users`] (address ↔ username).

pub mod client;
pub mod map;
pub mod users;
pub mod wire;

use std::sync::Mutex;

use chrono::{Duration, Utc};
use sha2::{Digest as _, Sha256};

use crate::forum::{Author, Cursor, FetchBatch, Forum, ForumError, Posted};
use crate::model::{Group, GroupSource};

use client::{encode, ApiError, Client, RetryPolicy};
use map::{PostCursor, Window};
use users::Users;
use wire::{
    Category, CategoryListResponse, CategoryTopicsResponse, CreatedPost, PostShow,
    TopicPostsResponse, TopicView, WirePost,
};

/// Topic-list pages read per fetch at most (30 topics each).
const MAX_LIST_PAGES: u32 = 50;
/// Post ids asked for per `GET /t/{id}/posts.json`.
const POSTS_PER_REQUEST: usize = 20;
/// How many of a topic's last posts are checked for an earlier attempt of the same reply.
const RECENT_POSTS_CHECKED: usize = 10;

/// How to reach a Discourse site.
#[derive(Debug, Clone)]
pub struct DiscourseOptions {
    /// Base URL, e.g. `https://forum.example.org`.
    pub url: String,
    /// The API key (read from `api_key_file`).
    pub api_key: String,
    /// The user the key reads as (`system` by default).
    pub api_username: String,
    /// Retries, waits and timeouts.
    pub policy: RetryPolicy,
}

/// A category as resolved from the site: id and slug.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CategoryRef {
    id: u64,
    slug: String,
}

/// The connector for one Discourse site.
#[derive(Debug)]
pub struct DiscourseForum {
    client: Client,
    users: Users,
    categories: Mutex<Option<Vec<CategoryRef>>>,
}

impl DiscourseForum {
    /// A connector for the site in `options` (nothing is contacted yet).
    pub fn new(options: DiscourseOptions) -> DiscourseForum {
        DiscourseForum {
            client: Client::new(
                &options.url,
                &options.api_key,
                &options.api_username,
                options.policy,
            ),
            users: Users::default(),
            categories: Mutex::new(None),
        }
    }

    /// The connector for `[forums.<name>]` of kind `discourse`; reads the key file.
    pub fn open(
        _config: &crate::config::Config,
        forum: &crate::config::ForumConfig,
    ) -> Result<DiscourseForum, ForumError> {
        let crate::config::ForumSettings::Discourse(s) = &forum.settings else {
            return Err(ForumError::Refused(format!(
                "forum {} is not a Discourse forum",
                forum.name
            )));
        };
        let api_key = std::fs::read_to_string(&s.api_key_file).map_err(|e| {
            ForumError::Refused(format!(
                "forum {}: reading api_key_file {}: {e}",
                forum.name,
                s.api_key_file.display()
            ))
        })?;
        Ok(DiscourseForum::new(DiscourseOptions {
            url: s.url.clone(),
            api_key: api_key.trim().to_string(),
            api_username: s.api_username.clone(),
            policy: RetryPolicy::default(),
        }))
    }

    /// Checks that the key works, may read addresses, and that every group's category exists.
    pub fn check_groups(&self, groups: &[&Group]) -> Result<(), ForumError> {
        let categories = self.load_categories()?;
        self.client
            .get::<serde_json::Value>(
                "/admin/users/list/active.json?email=digestd-check%40example.invalid&show_emails=true",
            )
            .map_err(|e| {
                ForumError::Refused(format!(
                    "the API key cannot look up users by address ({e}): create it in Admin → \
                     API as a key for all users with global scope (or the users scopes)"
                ))
            })?;
        let mut missing = Vec::new();
        for group in groups {
            let (wanted, _) = source(group)?;
            if find_category(&categories, wanted).is_none() {
                missing.push(format!("group {}: category {wanted:?}", group.id));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let known: Vec<String> = categories
            .iter()
            .map(|c| format!("{} ({})", c.slug, c.id))
            .collect();
        Err(ForumError::Refused(format!(
            "not found on {}: {}; categories there: {}",
            self.client.base(),
            missing.join(", "),
            known.join(", ")
        )))
    }

    fn load_categories(&self) -> Result<Vec<CategoryRef>, ForumError> {
        let list: CategoryListResponse = self
            .client
            .get("/categories.json?include_subcategories=true")
            .map_err(unavailable)?;
        let mut flat = Vec::new();
        flatten(&list.category_list.categories, &mut flat);
        *lock(&self.categories) = Some(flat.clone());
        Ok(flat)
    }

    /// The group's category, from the cached list (read once, again when a name is unknown).
    fn category(&self, wanted: &str) -> Result<CategoryRef, ForumError> {
        if let Some(list) = lock(&self.categories).as_ref() {
            if let Some(c) = find_category(list, wanted) {
                return Ok(c);
            }
        }
        find_category(&self.load_categories()?, wanted).ok_or_else(|| {
            ForumError::Refused(format!(
                "category {wanted:?} does not exist on {} (or the API user cannot see it)",
                self.client.base()
            ))
        })
    }

    fn topic(&self, topic_id: u64) -> Result<Option<TopicView>, ForumError> {
        match self.client.get(&format!("/t/{topic_id}.json")) {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn posts_by_id(&self, topic_id: u64, ids: &[u64]) -> Result<Vec<WirePost>, ForumError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(POSTS_PER_REQUEST) {
            let query: Vec<String> = chunk.iter().map(|id| format!("post_ids[]={id}")).collect();
            let path = format!("/t/{topic_id}/posts.json?{}", query.join("&"));
            match self.client.get::<TopicPostsResponse>(&path) {
                Ok(r) => out.extend(r.post_stream.posts),
                Err(ApiError::NotFound(_)) => return Ok(out),
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(out)
    }

    /// Ids of the topics in the category that may hold posts inside `window`.
    fn candidate_topics(
        &self,
        cat: &CategoryRef,
        window: &Window,
        tags: &[String],
    ) -> Result<Vec<u64>, ForumError> {
        let mut candidates: Vec<u64> = Vec::new();
        for page in 0..MAX_LIST_PAGES {
            // Most recently bumped first whatever the category's own sort order
            // (`order=activity` is `bumped_at`, descending).
            let mut path = format!("/c/{}/{}.json?order=activity", encode(&cat.slug), cat.id);
            if page > 0 {
                path.push_str(&format!("&page={page}"));
            }
            let list: CategoryTopicsResponse = self.client.get(&path).map_err(unavailable)?;
            let scan = map::scan_page(&list.topic_list.topics, window, tags);
            for id in scan.candidates {
                if !candidates.contains(&id) {
                    candidates.push(id);
                }
            }
            if scan.reached_end
                || list.topic_list.topics.is_empty()
                || list.topic_list.more_topics_url.is_none()
            {
                break;
            }
        }
        Ok(candidates)
    }

    /// An earlier attempt of this reply: a recent post by `username` in the topic with the same
    /// Markdown source (the answer to a `POST` can be lost after Discourse stored it).
    fn earlier_reply(
        &self,
        topic_id: u64,
        username: &str,
        body: &str,
    ) -> Result<Option<Posted>, ForumError> {
        let Some(view) = self.topic(topic_id)? else {
            return Ok(None);
        };
        let stream = &view.post_stream.stream;
        let tail: Vec<u64> = stream[stream.len().saturating_sub(RECENT_POSTS_CHECKED)..].to_vec();
        let (mut loaded, missing): (Vec<WirePost>, Vec<u64>) = {
            let loaded: Vec<WirePost> = view
                .post_stream
                .posts
                .iter()
                .filter(|p| tail.contains(&p.id))
                .cloned()
                .collect();
            let missing = tail
                .iter()
                .copied()
                .filter(|id| !loaded.iter().any(|p| p.id == *id))
                .collect();
            (loaded, missing)
        };
        loaded.extend(self.posts_by_id(topic_id, &missing)?);
        let recent = Utc::now() - Duration::days(7);
        for p in loaded
            .iter()
            .filter(|p| p.username.eq_ignore_ascii_case(username) && p.created_at > recent)
        {
            let shown: PostShow = match self.client.get(&format!("/posts/{}.json", p.id)) {
                Ok(s) => s,
                Err(ApiError::NotFound(_)) => continue,
                Err(e) => return Err(unavailable(e)),
            };
            if shown.raw.trim() == body.trim() {
                return Ok(Some(Posted {
                    remote_post_id: shown.id.to_string(),
                    remote_thread_id: topic_id.to_string(),
                    url: map::post_url(self.client.base(), &view.slug, topic_id, shown.post_number),
                }));
            }
        }
        Ok(None)
    }

    fn posted(&self, created: CreatedPost) -> Posted {
        Posted {
            remote_post_id: created.id.to_string(),
            remote_thread_id: created.topic_id.to_string(),
            url: map::post_url(
                self.client.base(),
                &created.topic_slug,
                created.topic_id,
                created.post_number,
            ),
        }
    }
}

impl Forum for DiscourseForum {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        let (wanted, tags) = source(group)?;
        let cat = self.category(wanted)?;
        let previous = cursor.filter(|c| !c.0.is_empty()).and_then(|c| {
            let decoded = PostCursor::decode(c);
            if decoded.is_none() {
                tracing::warn!(group = %group.id, cursor = %c.0, "not a Discourse cursor; collecting the backfill window again");
            }
            decoded
        });
        let window = Window::new(previous, Utc::now());
        let base = self.client.base();
        let mut found = Vec::new();
        for topic_id in self.candidate_topics(&cat, &window, tags)? {
            let Some(view) = self.topic(topic_id)? else {
                continue;
            };
            let mut posts: Vec<WirePost> = view
                .post_stream
                .posts
                .iter()
                .filter(|p| map::is_new_post(p, &window))
                .cloned()
                .collect();
            let missing = map::missing_post_ids(&view, &window);
            posts.extend(
                self.posts_by_id(topic_id, &missing)?
                    .into_iter()
                    .filter(|p| map::is_new_post(p, &window)),
            );
            let thread = map::thread_of(&group.id, base, &view);
            for p in &posts {
                let email = self.users.email_of(&self.client, &p.username)?;
                found.push((
                    thread.clone(),
                    map::post_of(&group.id, base, &view, p, &email),
                    p.created_at,
                    p.id,
                ));
            }
        }
        Ok(map::assemble(found, limit, previous))
    }

    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        author: &Author,
        body: &str,
        _idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        source(group)?;
        let topic_id: u64 = thread_remote_id.parse().map_err(|_| {
            ForumError::Refused(format!("{thread_remote_id:?} is not a Discourse topic id"))
        })?;
        let username = self.users.username_of(&self.client, &author.email)?;
        if let Some(earlier) = self.earlier_reply(topic_id, &username, body)? {
            tracing::info!(topic_id, post = %earlier.remote_post_id, "reply already posted by an earlier attempt");
            return Ok(earlier);
        }
        let json = serde_json::json!({ "topic_id": topic_id, "raw": body });
        match self
            .client
            .post::<CreatedPost>("/posts.json", &username, &json)
        {
            Ok(created) => Ok(self.posted(created)),
            Err(e) => Err(refused_as(e, &username, "your reply")),
        }
    }

    fn check_online(&self, groups: &[&Group]) -> Result<(), ForumError> {
        self.check_groups(groups)
    }

    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        let (wanted, tags) = source(group)?;
        let cat = self.category(wanted)?;
        let username = self.users.username_of(&self.client, &author.email)?;
        let external_id = external_id(idempotency_key);
        match self
            .client
            .get::<TopicView>(&format!("/t/external_id/{external_id}.json"))
        {
            Ok(view) => {
                let first = view.post_stream.posts.first();
                return Ok(Posted {
                    remote_post_id: first.map(|p| p.id.to_string()).unwrap_or_default(),
                    remote_thread_id: view.id.to_string(),
                    url: map::topic_url(self.client.base(), &view.slug, view.id),
                });
            }
            Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let mut json = serde_json::json!({
            "title": title,
            "raw": body,
            "category": cat.id,
            "external_id": external_id,
        });
        if !tags.is_empty() {
            json["tags"] = serde_json::json!(tags);
        }
        match self
            .client
            .post::<CreatedPost>("/posts.json", &username, &json)
        {
            Ok(created) => Ok(self.posted(created)),
            Err(e) => Err(refused_as(e, &username, "your new topic")),
        }
    }
}

/// The category and tags of a Discourse group.
fn source(group: &Group) -> Result<(&str, &[String]), ForumError> {
    match &group.source {
        GroupSource::Discourse { category, tags } => Ok((category.as_str(), tags.as_slice())),
        _ => Err(ForumError::Refused(format!(
            "group {} is not a Discourse group",
            group.id
        ))),
    }
}

/// The topic `external_id` for an idempotency key (Discourse allows 50 characters).
fn external_id(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("digestd-{}", &hex::encode(digest)[..32])
}

fn flatten(categories: &[Category], out: &mut Vec<CategoryRef>) {
    for c in categories {
        out.push(CategoryRef {
            id: c.id,
            slug: c.slug.clone(),
        });
        flatten(&c.subcategory_list, out);
    }
}

fn find_category(list: &[CategoryRef], wanted: &str) -> Option<CategoryRef> {
    let wanted = wanted.trim();
    list.iter()
        .find(|c| c.slug.eq_ignore_ascii_case(wanted) || c.id.to_string() == wanted)
        .cloned()
}

fn unavailable(e: ApiError) -> ForumError {
    match e {
        ApiError::Refused(m) => ForumError::Refused(m),
        other => ForumError::Unavailable(other.to_string()),
    }
}

/// A failed post: transient stays transient; anything else is refused with Discourse's reason.
fn refused_as(e: ApiError, username: &str, what: &str) -> ForumError {
    match e {
        ApiError::Transient(m) => ForumError::Unavailable(m),
        ApiError::NotFound(_) => ForumError::Refused(format!(
            "the Discourse topic no longer exists, so {what} was not posted"
        )),
        ApiError::Refused(m) => ForumError::Refused(format!(
            "Discourse did not accept {what} as {username}: {m}"
        )),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
