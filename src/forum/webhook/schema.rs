//! The JSON documents exchanged with a bespoke platform, versioned by their `schema` field
//! (published as JSON Schema in `docs/schemas/`, described in `docs/webhooks.md`):
//!
//! - platform → digestd: [`PostV1`] (`digestd.post.v1`), one object or an array of them;
//! - digestd → platform: [`ReplyV1`] (`digestd.reply.v1`) and [`NewThreadV1`]
//!   (`digestd.thread.v1`), answered with [`PostedV1`].
//!
//! Unknown fields are ignored, so a platform may send more than v1 defines. Ids may be JSON
//! strings or integers; digestd keeps them as strings.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// `schema` of an inbound post.
pub const POST_V1: &str = "digestd.post.v1";
/// `schema` of an outbound reply.
pub const REPLY_V1: &str = "digestd.reply.v1";
/// `schema` of an outbound new thread.
pub const THREAD_V1: &str = "digestd.thread.v1";

/// One post pushed by the platform (`POST /hooks/<forum>/posts`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PostV1 {
    /// Must be [`POST_V1`].
    pub schema: String,
    /// The platform's id of the group (a group's `remote_id` in digestd's config).
    #[serde(deserialize_with = "id_string")]
    pub group: String,
    /// The thread the post belongs to.
    pub thread: ThreadRefV1,
    /// The post itself.
    pub post: PostBodyV1,
}

/// The thread of a pushed post.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ThreadRefV1 {
    /// The platform's id of the thread (stable; replies are sent to it).
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// The thread's title (updates the stored title).
    pub title: String,
    /// Link to the thread.
    pub url: String,
}

/// The content of a pushed post.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PostBodyV1 {
    /// The platform's id of the post (unique within the group: a second push is a duplicate).
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// The author's address (people are matched by it).
    pub author_email: String,
    /// The author's display name.
    #[serde(default)]
    pub author_name: String,
    /// When it was written, RFC 3339 (`2026-03-02T09:30:00+01:00`).
    pub created: DateTime<FixedOffset>,
    /// The text, in `format`.
    pub body: String,
    /// How `body` is written (default Markdown).
    #[serde(default)]
    pub format: FormatV1,
    /// Tags (they feed training highlights).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Link to the post (default: the thread's link).
    #[serde(default)]
    pub url: Option<String>,
    /// Likes so far.
    #[serde(default)]
    pub likes: u32,
    /// Replies to it so far.
    #[serde(default)]
    pub reply_count: u32,
    /// Marked as the accepted answer of its thread.
    #[serde(default)]
    pub best_answer: bool,
}

/// How a pushed body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatV1 {
    /// CommonMark.
    #[default]
    Markdown,
    /// HTML (sanitised like every forum's HTML).
    Html,
    /// Plain text (stored as Markdown with every markup character escaped).
    Text,
}

/// Who writes an outbound reply or thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorV1<'a> {
    /// The person's address (the platform maps it to its user).
    pub email: &'a str,
    /// Their display name.
    pub name: &'a str,
}

/// A reply digestd asks the platform to post (`digestd.reply.v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyV1<'a> {
    /// [`REPLY_V1`].
    pub schema: &'static str,
    /// The platform's id of the group.
    pub group: &'a str,
    /// The platform's id of the thread replied to.
    pub thread: &'a str,
    /// Who replies.
    pub author: AuthorV1<'a>,
    /// The reply, Markdown.
    pub body: &'a str,
    /// Always `markdown`.
    pub format: &'static str,
    /// The same for every retry of one reply: the platform must post it once.
    pub idempotency_key: &'a str,
}

/// A new thread digestd asks the platform to open (`digestd.thread.v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewThreadV1<'a> {
    /// [`THREAD_V1`].
    pub schema: &'static str,
    /// The platform's id of the group.
    pub group: &'a str,
    /// The thread's title.
    pub title: &'a str,
    /// Who opens it.
    pub author: AuthorV1<'a>,
    /// Its first post, Markdown.
    pub body: &'a str,
    /// Always `markdown`.
    pub format: &'static str,
    /// The same for every retry of one thread: the platform must open it once.
    pub idempotency_key: &'a str,
}

/// The platform's 2xx answer to a reply or a new thread.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PostedV1 {
    /// The platform's id of the new post.
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    /// Link to the new post.
    pub url: String,
    /// The platform's id of the thread (required for a new thread; a reply defaults to the
    /// thread it answered).
    #[serde(default, deserialize_with = "opt_id_string")]
    pub thread: Option<String>,
}

/// An id written as a JSON string or integer, kept as a string.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(IdVisitor)
}

fn opt_id_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(OptIdVisitor)
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer id")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

struct OptIdVisitor;

impl<'de> Visitor<'de> for OptIdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer id, or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        id_string(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_may_be_strings_or_integers() {
        let p: PostedV1 =
            serde_json::from_str(r#"{"id": 42, "url": "https://p/42", "thread": "t-7"}"#)
                .expect("parses");
        assert_eq!(p.id, "42");
        assert_eq!(p.thread.as_deref(), Some("t-7"));
        let p: PostedV1 =
            serde_json::from_str(r#"{"id": "a", "url": "u", "thread": null}"#).expect("null");
        assert_eq!(p.thread, None);
        let p: PostedV1 = serde_json::from_str(r#"{"id": "a", "url": "u"}"#).expect("absent");
        assert_eq!(p.thread, None);
        assert!(serde_json::from_str::<PostedV1>(r#"{"id": 1.5, "url": "u"}"#).is_err());
    }

    #[test]
    fn outbound_documents_serialise_as_documented() {
        let r = ReplyV1 {
            schema: REPLY_V1,
            group: "hr",
            thread: "t-1",
            author: AuthorV1 {
                email: "ann@example.org",
                name: "Ann",
            },
            body: "Agreed.",
            format: "markdown",
            idempotency_key: "<m1@example.org>",
        };
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(v["schema"], "digestd.reply.v1");
        assert_eq!(v["author"]["email"], "ann@example.org");
        assert_eq!(v["idempotency_key"], "<m1@example.org>");
    }
}
