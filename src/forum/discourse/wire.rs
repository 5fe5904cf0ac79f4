//! The JSON shapes of Discourse's API that digestd reads (serde types only, no I/O).
//!
//! Field names follow Discourse's published API documentation (discourse/discourse_api_docs,
//! `openapi.json`) and the response schemas in discourse/discourse
//! (`spec/requests/api/schemas/json/*.json`). Every field digestd does not strictly need is
//! optional with a default, so an older or newer Discourse that adds or drops fields still
//! parses; plugin fields (`accepted_answer` from discourse-solved) and fields that appear only
//! when a feature is on (`tags` with tagging enabled, `count` in `actions_summary` once a post
//! has likes, `more_topics_url` when there is a next page) are optional too.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `GET /categories.json?include_subcategories=true`.
#[derive(Debug, Clone, Deserialize)]
pub struct CategoryListResponse {
    /// The list.
    pub category_list: CategoryList,
}

/// The `category_list` object.
#[derive(Debug, Clone, Deserialize)]
pub struct CategoryList {
    /// Top-level categories (each with its `subcategory_list` when asked for).
    pub categories: Vec<Category>,
}

/// One category.
#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    /// Numeric id.
    pub id: u64,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// Subcategories (with `include_subcategories=true`).
    #[serde(default)]
    pub subcategory_list: Vec<Category>,
}

/// `GET /c/{slug}/{id}.json` (topics of a category, `?page=N`).
#[derive(Debug, Clone, Deserialize)]
pub struct CategoryTopicsResponse {
    /// The page of topics.
    pub topic_list: TopicList,
}

/// The `topic_list` object.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicList {
    /// Topics, most recently bumped first (pinned ones may come first).
    pub topics: Vec<TopicSummary>,
    /// Present when another page follows.
    #[serde(default)]
    pub more_topics_url: Option<String>,
}

/// A tag as Discourse returns it: a plain name (before 3.4) or an object with a name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TagRef {
    /// `"training"`.
    Name(String),
    /// `{"id": 3, "name": "training", "slug": "training"}`.
    Object {
        /// The tag's name.
        name: String,
    },
}

impl TagRef {
    /// The tag's name.
    pub fn name(&self) -> &str {
        match self {
            TagRef::Name(n) | TagRef::Object { name: n } => n,
        }
    }
}

/// One topic in a topic list.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicSummary {
    /// Topic id.
    pub id: u64,
    /// Title (plain text).
    pub title: String,
    /// URL slug.
    #[serde(default)]
    pub slug: String,
    /// When the topic was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last bumped (new post); the list's order.
    pub bumped_at: Option<DateTime<Utc>>,
    /// When its last post was written.
    #[serde(default)]
    pub last_posted_at: Option<DateTime<Utc>>,
    /// Pinned in its category (listed first whatever its age).
    #[serde(default)]
    pub pinned: bool,
    /// Pinned site-wide.
    #[serde(default)]
    pub pinned_globally: bool,
    /// Tags (only with tagging enabled).
    #[serde(default)]
    pub tags: Vec<TagRef>,
}

/// `GET /t/{id}.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicView {
    /// Topic id.
    pub id: u64,
    /// Title (plain text).
    pub title: String,
    /// URL slug.
    #[serde(default)]
    pub slug: String,
    /// When the topic was opened.
    pub created_at: DateTime<Utc>,
    /// The category it is in.
    #[serde(default)]
    pub category_id: Option<u64>,
    /// Tags (only with tagging enabled).
    #[serde(default)]
    pub tags: Vec<TagRef>,
    /// The first chunk of posts and the ids of all.
    pub post_stream: PostStream,
    /// The solution (discourse-solved plugin), when one is accepted.
    #[serde(default)]
    pub accepted_answer: Option<AcceptedAnswer>,
    /// Who opened it, and more.
    #[serde(default)]
    pub details: Option<TopicDetails>,
}

/// `details` of a topic view.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicDetails {
    /// The topic's author.
    #[serde(default)]
    pub created_by: Option<UserRef>,
}

/// A user as embedded in topic details.
#[derive(Debug, Clone, Deserialize)]
pub struct UserRef {
    /// Username.
    pub username: String,
}

/// `accepted_answer` of a topic view (discourse-solved).
#[derive(Debug, Clone, Deserialize)]
pub struct AcceptedAnswer {
    /// Post number of the solution.
    pub post_number: u32,
}

/// `post_stream` of a topic view.
#[derive(Debug, Clone, Deserialize)]
pub struct PostStream {
    /// Loaded posts (the first chunk, 20 by default).
    pub posts: Vec<WirePost>,
    /// Ids of every post of the topic, in order.
    #[serde(default)]
    pub stream: Vec<u64>,
}

/// `GET /t/{id}/posts.json?post_ids[]=...`.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicPostsResponse {
    /// The posts asked for.
    pub post_stream: PostStream,
}

/// `post_type` of an ordinary post (others: moderator action, small action, whisper).
pub const POST_TYPE_REGULAR: u32 = 1;
/// `actions_summary` id of a like.
pub const ACTION_LIKE: u32 = 2;

/// A post as a topic view returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct WirePost {
    /// Post id (site-wide, increasing).
    pub id: u64,
    /// Author's display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Author's username.
    pub username: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Rendered HTML.
    #[serde(default)]
    pub cooked: String,
    /// Position in the topic (1 = opening post).
    pub post_number: u32,
    /// 1 regular, 2 moderator action, 3 small action, 4 whisper.
    #[serde(default = "regular")]
    pub post_type: u32,
    /// Direct replies to it.
    #[serde(default)]
    pub reply_count: u32,
    /// Its topic.
    #[serde(default)]
    pub topic_id: u64,
    /// Reactions: `{"id": 2, "count": 3}` is three likes.
    #[serde(default)]
    pub actions_summary: Vec<ActionSummary>,
    /// The accepted answer of its topic (discourse-solved).
    #[serde(default)]
    pub accepted_answer: bool,
    /// Hidden by flags.
    #[serde(default)]
    pub hidden: bool,
    /// Set when deleted (visible to staff).
    #[serde(default)]
    pub deleted_at: Option<String>,
}

fn regular() -> u32 {
    POST_TYPE_REGULAR
}

/// One entry of `actions_summary`.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionSummary {
    /// Action type (2 = like).
    pub id: u32,
    /// How many (absent when none).
    #[serde(default)]
    pub count: Option<u32>,
}

/// `POST /posts.json` answer (the new post).
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedPost {
    /// Post id.
    pub id: u64,
    /// Its topic (new or existing).
    pub topic_id: u64,
    /// The topic's slug.
    #[serde(default)]
    pub topic_slug: String,
    /// Position in the topic.
    pub post_number: u32,
}

/// `GET /posts/{id}.json` (includes the Markdown source).
#[derive(Debug, Clone, Deserialize)]
pub struct PostShow {
    /// Post id.
    pub id: u64,
    /// Author's username.
    pub username: String,
    /// Markdown source.
    #[serde(default)]
    pub raw: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// Position in the topic.
    pub post_number: u32,
}

/// `GET /u/{username}/emails.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserEmails {
    /// Primary address.
    pub email: String,
}

/// One user of `GET /admin/users/list/active.json?email=...&show_emails=true`.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminUser {
    /// Username.
    pub username: String,
    /// Primary address (with `show_emails=true`).
    #[serde(default)]
    pub email: Option<String>,
    /// Other addresses.
    #[serde(default)]
    pub secondary_emails: Vec<String>,
    /// Active account.
    #[serde(default = "yes")]
    pub active: bool,
    /// Placeholder account made by incoming mail, not a real one.
    #[serde(default)]
    pub staged: bool,
}

fn yes() -> bool {
    true
}

/// The error body Discourse sends with 4xx answers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// Human-readable messages.
    #[serde(default)]
    pub errors: Vec<String>,
    /// `invalid_access`, `rate_limit`, `not_found`, ...
    #[serde(default)]
    pub error_type: Option<String>,
    /// `{"wait_seconds": 5}` with rate limits.
    #[serde(default)]
    pub extras: Option<ErrorExtras>,
}

/// `extras` of an error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorExtras {
    /// Seconds to wait before retrying (rate limits).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}
