//! The core values of digestd, shared by every module.
//!
//! One meaning each, everywhere (code, config keys, templates, docs): [`Group`], [`Thread`],
//! [`Post`], [`Person`], [`Role`], [`Schedule`], [`Digest`], [`Highlight`], [`Delivery`],
//! [`ReplyToken`]. These are plain data: no I/O, no database handles.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Identifier of a group as written in config (`social-work`, `planning`).
pub type GroupId = String;
/// Store-assigned identifier of a thread (stable across runs).
pub type ThreadId = i64;
/// Store-assigned identifier of a post (stable across runs).
pub type PostId = i64;

/// Which kind of platform a forum is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ForumKind {
    /// The built-in forum in digestd's own SQLite file (the embedded default).
    #[default]
    Local,
    /// A Matrix homeserver: rooms are groups, `m.thread` relations are threads.
    Matrix,
    /// A Discourse forum: categories (optionally narrowed by tags) are groups.
    Discourse,
    /// An RSS or Atom feed per group (read-only).
    Feed,
    /// A bespoke platform that pushes posts by signed webhooks and takes replies the same way.
    Webhook,
}

impl ForumKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [ForumKind; 5] = [
        ForumKind::Local,
        ForumKind::Matrix,
        ForumKind::Discourse,
        ForumKind::Feed,
        ForumKind::Webhook,
    ];

    /// The name used in config (`kind = "..."`).
    pub fn as_str(self) -> &'static str {
        match self {
            ForumKind::Local => "local",
            ForumKind::Matrix => "matrix",
            ForumKind::Discourse => "discourse",
            ForumKind::Feed => "feed",
            ForumKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for ForumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name of the built-in forum instance, present in every config.
pub const LOCAL_FORUM: &str = "local";

/// Where a group lives on its platform: the platform's own address of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum GroupSource {
    /// The built-in forum (the group id is its address).
    #[default]
    Local,
    /// A Matrix room.
    Matrix {
        /// Room id (`!abc:example.org`) or alias (`#youth-care:example.org`).
        room: String,
    },
    /// A Discourse category, optionally narrowed by tags.
    Discourse {
        /// Category slug or numeric id.
        category: String,
        /// Only topics carrying one of these tags (empty: all topics of the category).
        tags: Vec<String>,
    },
    /// An RSS or Atom feed.
    Feed {
        /// The feed's URL.
        url: String,
        /// Regular expression over an entry's link whose first capture is the thread key
        /// (entries with the same key form one thread); `None`: each entry is a thread.
        thread_pattern: Option<String>,
    },
    /// A group of a bespoke platform connected by webhooks.
    Webhook {
        /// The platform's id of the group.
        remote_id: String,
    },
}

impl GroupSource {
    /// The kind of forum this address belongs to.
    pub fn kind(&self) -> ForumKind {
        match self {
            GroupSource::Local => ForumKind::Local,
            GroupSource::Matrix { .. } => ForumKind::Matrix,
            GroupSource::Discourse { .. } => ForumKind::Discourse,
            GroupSource::Feed { .. } => ForumKind::Feed,
            GroupSource::Webhook { .. } => ForumKind::Webhook,
        }
    }
}

/// A discussion group around a job function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Config identifier, also used in addresses (`group+<id>@reply-domain`).
    pub id: GroupId,
    /// Human name shown in digests.
    pub name: String,
    /// The kind of forum that holds this group.
    pub forum: ForumKind,
    /// Name of the forum instance (`[forums.<name>]`; [`LOCAL_FORUM`] for the built-in one).
    pub forum_name: String,
    /// The group's address on that forum.
    pub source: GroupSource,
}

impl Group {
    /// A group of the built-in forum.
    pub fn local(id: impl Into<String>, name: impl Into<String>) -> Group {
        Group {
            id: id.into(),
            name: name.into(),
            forum: ForumKind::Local,
            forum_name: LOCAL_FORUM.to_string(),
            source: GroupSource::Local,
        }
    }
}

/// A thread (topic) inside a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// Store identifier.
    pub id: ThreadId,
    /// Group the thread belongs to.
    pub group_id: GroupId,
    /// The forum's own identifier for the thread.
    pub remote_id: String,
    /// Title as written on the forum (untrusted text).
    pub title: String,
    /// Link to the thread on the forum.
    pub url: String,
    /// When the thread was opened.
    pub created: DateTime<Utc>,
}

/// How a post body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// CommonMark (the local forum's format).
    #[default]
    Markdown,
    /// HTML from a forum's API (untrusted; sanitised before rendering).
    Html,
}

/// One post in a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Store identifier.
    pub id: PostId,
    /// Thread the post belongs to.
    pub thread_id: ThreadId,
    /// Group of that thread (denormalised for selection).
    pub group_id: GroupId,
    /// The forum's own identifier for the post.
    pub remote_id: String,
    /// Author's email address, normalised (lower case).
    pub author_email: String,
    /// Author's display name.
    pub author_name: String,
    /// When the post was written.
    pub created: DateTime<Utc>,
    /// Body as written on the forum (untrusted).
    pub body: String,
    /// Format of [`Post::body`].
    pub body_format: BodyFormat,
    /// Tags, lower case (`training`, `best-answer`, ...).
    pub tags: Vec<String>,
    /// Likes on the forum.
    pub likes: u32,
    /// Replies to this post, as the forum counts them (0 when unknown).
    pub reply_count: u32,
    /// Marked as the thread's best answer / solution.
    pub best_answer: bool,
    /// Link to the post on the forum.
    pub url: String,
}

/// How often a person wants a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// At most one digest per week (the first schedule firing seven days after the last one).
    #[default]
    Weekly,
    /// Every firing of the role's schedule.
    Daily,
    /// No digests (opted out).
    Off,
}

impl Frequency {
    /// Length of the look-back window of a digest at this frequency.
    pub fn window(self) -> chrono::Duration {
        match self {
            Frequency::Daily => chrono::Duration::days(1),
            Frequency::Weekly | Frequency::Off => chrono::Duration::days(7),
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Frequency::Weekly => "weekly",
            Frequency::Daily => "daily",
            Frequency::Off => "off",
        })
    }
}

/// A member of staff who receives digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Address, normalised to lower case; the person's identity.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Names of the roles this person holds.
    pub roles: Vec<String>,
    /// Time zone used to show dates in their digest.
    pub time_zone: Tz,
    /// Locale of their templates (`en`, `nl`).
    pub locale: String,
    /// How often they want a digest.
    pub frequency: Frequency,
    /// Their Matrix user id (`@user:server`), when a Matrix forum's `user_id_template` would
    /// not give it (people CSV column / inline key `matrix_id`).
    #[serde(default)]
    pub matrix_id: Option<String>,
}

/// When digests go out: a cron expression (seconds first, as tokio-cron-scheduler reads it)
/// evaluated in a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schedule {
    /// Cron expression, e.g. `0 30 7 * * Mon-Fri`.
    pub cron: String,
    /// Zone the expression is evaluated in.
    pub time_zone: Tz,
}

impl Schedule {
    /// Stable key of this schedule: roles with the same cron and zone share one digest per person.
    pub fn key(&self) -> String {
        format!(
            "{}@{}",
            self.cron.split_whitespace().collect::<Vec<_>>().join(" "),
            self.time_zone
        )
    }
}

/// A text written once or once per locale: `title = "Social worker"` or
/// `title = { en = "Social worker", nl = "Maatschappelijk werker" }` in config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LocalText {
    /// The text for a locale without its own (`en`'s when given, else the first).
    pub default: String,
    /// Texts by locale (`en`, `nl`); empty for a plain string.
    pub by_locale: std::collections::BTreeMap<String, String>,
}

impl LocalText {
    /// The same text in every locale.
    pub fn plain(text: impl Into<String>) -> LocalText {
        LocalText {
            default: text.into(),
            by_locale: Default::default(),
        }
    }

    /// The text for `locale` (`nl-BE` falls back to `nl`, then to the default).
    pub fn get(&self, locale: &str) -> &str {
        let base = locale.split(['-', '_']).next().unwrap_or(locale);
        self.by_locale
            .get(locale)
            .or_else(|| self.by_locale.get(base))
            .unwrap_or(&self.default)
    }
}

/// A job function: the groups it follows, its training tags and its schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    /// Role name as written in config (`social-worker`).
    pub name: String,
    /// Display name shown in digests instead of `name` (config `title`, localisable).
    #[serde(default)]
    pub title: Option<LocalText>,
    /// Groups whose threads reach this role's digest.
    pub groups: Vec<GroupId>,
    /// Tags that make a post a training highlight for this role (lower case).
    pub training_tags: Vec<String>,
    /// When this role's digests go out.
    pub schedule: Schedule,
    /// When this role's monthly "best of" digest goes out (config `best_of`, the role's time
    /// zone); `None`: never.
    #[serde(default)]
    pub best_of: Option<Schedule>,
    /// Template name overriding `digest` (looked up as `<name>.html.hbs` / `<name>.txt.hbs`).
    pub template: Option<String>,
}

/// The time span a digest covers: posts created in `(start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Exclusive start.
    pub start: DateTime<Utc>,
    /// Inclusive end (the moment the schedule fired).
    pub end: DateTime<Utc>,
}

impl Period {
    /// True when `t` falls inside the period.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t > self.start && t <= self.end
    }
}

/// One thread in a digest, with the new posts that put it there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestThread {
    /// The thread (shared with the run's `Activity`, not copied per digest).
    #[serde(serialize_with = "shared::one")]
    pub thread: Arc<Thread>,
    /// New posts in the period, oldest first, none by the recipient, none already delivered
    /// (shared with the run's `Activity`).
    #[serde(serialize_with = "shared::many")]
    pub new_posts: Vec<Arc<Post>>,
    /// Distinct display names of everyone who posted in the period (recipient included).
    pub participants: Vec<String>,
    /// Activity score used for ranking (higher first).
    pub score: f64,
}

/// A post nominated as training material for one of the recipient's roles.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Highlight {
    /// The post (shared with the run's `Activity`).
    #[serde(serialize_with = "shared::one")]
    pub post: Arc<Post>,
    /// Its thread (shared with the run's `Activity`).
    #[serde(serialize_with = "shared::one")]
    pub thread: Arc<Thread>,
    /// The role whose training tags matched.
    pub role: String,
    /// The tag that matched (or `best-answer`).
    pub tag: String,
    /// Ranking score (higher first).
    pub score: f64,
}

/// A question in the recipient's groups that nobody has answered yet ("Can you help?").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// The question's thread (shared with the run's `Activity`).
    #[serde(serialize_with = "shared::one")]
    pub thread: Arc<Thread>,
    /// The opening post, which asks it (shared with the run's `Activity`).
    #[serde(serialize_with = "shared::one")]
    pub opener: Arc<Post>,
    /// Whole days it has been waiting at the digest's period end.
    pub waiting_days: i64,
    /// Ranking score (higher first): age times how well the group fits the person's roles.
    pub score: f64,
}

/// An ambassador's nomination of a post as training material for the roles that follow its
/// group (the `highlight` reply command writes one, `unhighlight` withdraws it).
///
/// Stored in the store's `highlight_nominations` table, one row per (post, nominator); a
/// withdrawn nomination keeps its row with `withdrawn` set, so the record says who did what when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HighlightNomination {
    /// The nominated post.
    pub post_id: PostId,
    /// The post's group (the roles following it get the highlight).
    pub group_id: GroupId,
    /// Who nominated it (normalised address).
    pub nominated_by: String,
    /// When it was nominated (the latest nomination when renewed).
    pub at: DateTime<Utc>,
    /// When it was withdrawn (`None`: in force).
    pub withdrawn: Option<DateTime<Utc>>,
}

impl HighlightNomination {
    /// True when the nomination is in force (not withdrawn).
    pub fn is_active(&self) -> bool {
        self.withdrawn.is_none()
    }
}

/// Serializing shared values as the values themselves (without serde's `rc` feature).
mod shared {
    use std::sync::Arc;

    use serde::{Serialize, Serializer};

    pub(super) fn one<T: Serialize, S: Serializer>(v: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
        T::serialize(v, s)
    }

    pub(super) fn many<T: Serialize, S: Serializer>(v: &[Arc<T>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| &**x))
    }
}

/// What one person gets for one schedule and period. Built by `digest::select`, pure data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    /// Recipient.
    pub person: Person,
    /// Schedule key (see [`Schedule::key`]).
    pub schedule: String,
    /// Covered period.
    pub period: Period,
    /// Ranked threads, capped.
    pub threads: Vec<DigestThread>,
    /// Threads left out by the cap ("and N more").
    pub more_threads: usize,
    /// Ranked training highlights, capped.
    pub highlights: Vec<Highlight>,
    /// Highlights left out by the cap.
    pub more_highlights: usize,
    /// Unanswered questions in the person's groups, ranked, capped ("Can you help?").
    pub questions: Vec<Question>,
    /// Questions left out by the cap.
    pub more_questions: usize,
}

impl Digest {
    /// True when there is nothing new to tell the person. Unanswered questions alone do not
    /// make a digest worth sending: they stay until answered, and would otherwise bring the
    /// same digest again at every firing.
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty() && self.highlights.is_empty()
    }

    /// Every post id this digest delivers (threads' new posts and highlights).
    pub fn post_ids(&self) -> Vec<PostId> {
        let mut ids: Vec<PostId> = self
            .threads
            .iter()
            .flat_map(|t| t.new_posts.iter().map(|p| p.id))
            .chain(self.highlights.iter().map(|h| h.post.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// State of one digest in the deliveries ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Written before the SMTP call; resent as stored if a run finds it after a crash.
    Pending,
    /// Accepted by the transport.
    Sent,
    /// Refused for good (permanent SMTP error, bad address); the reason is kept.
    Failed,
}

impl DeliveryStatus {
    /// Text stored in SQLite.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One row of the deliveries ledger, keyed by (person, schedule, period).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Ledger row id.
    pub id: i64,
    /// Recipient address.
    pub person_email: String,
    /// Schedule key.
    pub schedule: String,
    /// Period end, the digest's identity together with person and schedule.
    pub period_end: DateTime<Utc>,
    /// The Message-ID (without angle brackets).
    pub message_id: String,
    /// The complete RFC 5322 message, stored before sending so a resend is byte-identical.
    pub raw: Vec<u8>,
    /// Ledger state.
    pub status: DeliveryStatus,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// A reply token: at least 128 random bits, hex encoded, bound to (person, thread, expiry).
///
/// A newtype so a token can never be confused with any other string; compare with
/// [`ReplyToken::ct_eq`] (constant time).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReplyToken(String);

impl ReplyToken {
    /// Number of random bytes in a token (160 bits).
    pub const BYTES: usize = 20;

    /// A fresh random token.
    pub fn generate() -> Self {
        let bytes: [u8; Self::BYTES] = rand::random();
        ReplyToken(hex::encode(bytes))
    }

    /// Parses a token found in an address; `None` unless it has the exact shape of one.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        (s.len() == Self::BYTES * 2 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then_some(ReplyToken(s))
    }

    /// The token text (lower-case hex).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison.
    pub fn ct_eq(&self, other: &ReplyToken) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for ReplyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: never print them whole.
        write!(f, "ReplyToken({}…)", &self.0[..6.min(self.0.len())])
    }
}

/// What a reply token grants: posting into one thread as one person until it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyGrant {
    /// The token.
    pub token: ReplyToken,
    /// Person allowed to use it.
    pub person_email: String,
    /// Thread it posts into (`None` for a list-unsubscribe / command token).
    pub thread_id: Option<ThreadId>,
    /// Expiry.
    pub expires: DateTime<Utc>,
}

/// Normalises an email address for comparison: trimmed, lower case.
pub fn normalize_email(addr: &str) -> String {
    addr.trim()
        .trim_matches(|c| c == '<' || c == '>')
        .to_lowercase()
}

/// A post with `body` in `format` and fixed everything else, for tests of rendering.
#[cfg(test)]
pub(crate) fn sample_post(body: &str, format: BodyFormat) -> Post {
    Post {
        id: 1,
        thread_id: 1,
        group_id: "g".into(),
        remote_id: "1".into(),
        author_email: "a@example.org".into(),
        author_name: "A".into(),
        created: chrono::DateTime::UNIX_EPOCH,
        body: body.into(),
        body_format: format,
        tags: Vec::new(),
        likes: 0,
        reply_count: 0,
        best_answer: false,
        url: "https://f.example/p/1".into(),
    }
}

// A page of activity from a forum, as the `forum::Forum` connectors return it and the store
// keeps it.

/// Opaque per-group position in a forum's stream of posts (the forum decides what it means).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub String);

/// One page of new activity from a group.
#[derive(Debug, Clone, Default)]
pub struct FetchBatch {
    /// Threads that the posts belong to (new or updated). `id` fields are ignored by the store,
    /// which keys threads by (group, remote_id).
    pub threads: Vec<Thread>,
    /// New posts, oldest first. `id`/`thread_id` are ignored by the store, which resolves them
    /// from `remote_id` and the thread's `remote_id` in [`FetchedPost::thread_remote_id`].
    pub posts: Vec<FetchedPost>,
    /// Where to continue next time.
    pub next_cursor: Cursor,
    /// True when more pages are waiting right now.
    pub more: bool,
}

/// A post as a forum returns it, with the remote id of its thread.
#[derive(Debug, Clone)]
pub struct FetchedPost {
    /// The thread's remote id.
    pub thread_remote_id: String,
    /// The post (store ids unset: 0).
    pub post: Post,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip_and_shape() {
        let t = ReplyToken::generate();
        assert_eq!(t.as_str().len(), 40);
        let parsed = ReplyToken::parse(&t.as_str().to_uppercase()).expect("parses");
        assert!(parsed.ct_eq(&t));
        assert!(ReplyToken::parse("abc").is_none());
        assert!(ReplyToken::parse(&"g".repeat(40)).is_none());
    }

    #[test]
    fn schedule_key_ignores_spacing() {
        let a = Schedule {
            cron: "0 0  7 * * Mon".into(),
            time_zone: chrono_tz::Europe::Amsterdam,
        };
        let b = Schedule {
            cron: "0 0 7 * * Mon".into(),
            time_zone: chrono_tz::Europe::Amsterdam,
        };
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn local_text_falls_back_from_region_to_language_to_default() {
        let t = LocalText {
            default: "Social worker".into(),
            by_locale: [("nl".to_string(), "Maatschappelijk werker".to_string())]
                .into_iter()
                .collect(),
        };
        assert_eq!(t.get("nl"), "Maatschappelijk werker");
        assert_eq!(t.get("nl-BE"), "Maatschappelijk werker");
        assert_eq!(t.get("de"), "Social worker");
        assert_eq!(LocalText::plain("X").get("nl"), "X");
    }

    #[test]
    fn period_is_half_open() {
        let end = Utc::now();
        let p = Period {
            start: end - chrono::Duration::days(1),
            end,
        };
        assert!(p.contains(end));
        assert!(!p.contains(p.start));
    }
}
