//! Pushed JSON → what the store keeps: parsing with the failing field named, the checks a
//! `digestd.post.v1` document must pass, and one [`FetchBatch`] per group. Pure.

use chrono::Utc;

use super::schema::{FormatV1, PostV1, POST_V1};
use crate::forum::{Cursor, FetchBatch, FetchedPost};
use crate::model::{BodyFormat, Post, Thread};

/// Most posts one request may carry.
pub const MAX_BATCH: usize = 500;
/// Longest id (group, thread, post) accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest thread title accepted, in characters.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Most tags one post may carry.
pub const MAX_TAGS: usize = 50;
/// The cursor of a pushed group: nothing to resume from, posts arrive by push.
pub const PUSH_CURSOR: &str = "push";

/// A document that is not a valid `digestd.post.v1` (or array of them): which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PayloadError {
    /// Path of the field (`post.created`, `[2].thread.id`; `.` for the document itself).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl PayloadError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> PayloadError {
        PayloadError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses and checks a request body: one post object or an array of 1..=[`MAX_BATCH`] posts.
pub fn parse_posts(body: &[u8]) -> Result<Vec<PostV1>, PayloadError> {
    let is_array = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    let posts: Vec<PostV1> = if is_array {
        deserialize(body)?
    } else {
        vec![deserialize(body)?]
    };
    if posts.is_empty() {
        return Err(PayloadError::new(
            ".",
            "an empty array: send at least one post",
        ));
    }
    if posts.len() > MAX_BATCH {
        return Err(PayloadError::new(
            ".",
            format!("{} posts; at most {MAX_BATCH} per request", posts.len()),
        ));
    }
    for (i, p) in posts.iter().enumerate() {
        let prefix = if is_array {
            format!("[{i}].")
        } else {
            String::new()
        };
        check(p).map_err(|e| PayloadError::new(format!("{prefix}{}", e.field), e.message))?;
    }
    Ok(posts)
}

/// serde_json with the path of the failing field; a missing field is named in full.
fn deserialize<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // "missing field `x`" is reported at the parent: name the field itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next());
        let field = match (missing, path.as_str()) {
            (Some(name), ".") => name.to_string(),
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, p) => p.to_string(),
        };
        PayloadError::new(field, message)
    })?;
    de.end()
        .map_err(|e| PayloadError::new(".", format!("trailing characters: {e}")))?;
    Ok(value)
}

/// The checks serde cannot express.
fn check(p: &PostV1) -> Result<(), PayloadError> {
    if p.schema != POST_V1 {
        return Err(PayloadError::new(
            "schema",
            format!("expected \"{POST_V1}\", got {:?}", p.schema),
        ));
    }
    id("group", &p.group)?;
    id("thread.id", &p.thread.id)?;
    id("post.id", &p.post.id)?;
    let title = p.thread.title.trim();
    if title.is_empty() {
        return Err(PayloadError::new("thread.title", "is empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(PayloadError::new(
            "thread.title",
            format!("longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    http_url("thread.url", &p.thread.url)?;
    if let Some(u) = &p.post.url {
        http_url("post.url", u)?;
    }
    if !is_address(&p.post.author_email) {
        return Err(PayloadError::new(
            "post.author_email",
            format!("{:?} is not an email address", p.post.author_email),
        ));
    }
    if p.post.body.trim().is_empty() {
        return Err(PayloadError::new("post.body", "is empty"));
    }
    if p.post.tags.len() > MAX_TAGS {
        return Err(PayloadError::new(
            "post.tags",
            format!("{} tags; at most {MAX_TAGS}", p.post.tags.len()),
        ));
    }
    Ok(())
}

fn id(field: &str, v: &str) -> Result<(), PayloadError> {
    if v.trim().is_empty() {
        return Err(PayloadError::new(field, "is empty"));
    }
    if v.len() > MAX_ID_BYTES {
        return Err(PayloadError::new(
            field,
            format!("longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(PayloadError::new(field, "contains control characters"));
    }
    Ok(())
}

fn http_url(field: &str, v: &str) -> Result<(), PayloadError> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err(PayloadError::new(
            field,
            format!("scheme {:?}: only http and https links", u.scheme()),
        )),
        Err(e) => Err(PayloadError::new(field, format!("not a URL: {e}"))),
    }
}

fn is_address(v: &str) -> bool {
    let v = v.trim();
    match v.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// The posts of one platform group, as a page the store takes.
#[derive(Debug, Clone)]
pub struct GroupBatch {
    /// The platform's id of the group.
    pub remote_group: String,
    /// Its threads and posts (cursor [`PUSH_CURSOR`]).
    pub batch: FetchBatch,
}

/// Splits checked posts by group (in order of first appearance), each thread once.
pub fn batches(posts: &[PostV1]) -> Vec<GroupBatch> {
    let mut out: Vec<GroupBatch> = Vec::new();
    for p in posts {
        let at = match out.iter().position(|g| g.remote_group == p.group) {
            Some(i) => i,
            None => {
                out.push(GroupBatch {
                    remote_group: p.group.clone(),
                    batch: FetchBatch {
                        next_cursor: Cursor(PUSH_CURSOR.to_string()),
                        ..FetchBatch::default()
                    },
                });
                out.len() - 1
            }
        };
        let batch = &mut out[at].batch;
        let (thread, post) = fetched(p);
        match batch
            .threads
            .iter_mut()
            .find(|t| t.remote_id == thread.remote_id)
        {
            Some(t) => {
                t.title = thread.title;
                t.url = thread.url;
                t.created = t.created.min(thread.created);
            }
            None => batch.threads.push(thread),
        }
        batch.posts.push(post);
    }
    out
}

/// One checked post as the store's thread and post (store ids unset).
pub fn fetched(p: &PostV1) -> (Thread, FetchedPost) {
    let created = p.post.created.with_timezone(&Utc);
    let thread = Thread {
        id: 0,
        group_id: String::new(),
        remote_id: p.thread.id.clone(),
        title: p.thread.title.trim().to_string(),
        url: p.thread.url.clone(),
        created,
    };
    let (body, body_format) = match p.post.format {
        FormatV1::Markdown => (p.post.body.clone(), BodyFormat::Markdown),
        FormatV1::Html => (p.post.body.clone(), BodyFormat::Html),
        FormatV1::Text => (text_to_markdown(&p.post.body), BodyFormat::Markdown),
    };
    let author_email = p.post.author_email.trim().to_string();
    let author_name = match p.post.author_name.trim() {
        "" => author_email.clone(),
        name => name.to_string(),
    };
    let post = Post {
        id: 0,
        thread_id: 0,
        group_id: String::new(),
        remote_id: p.post.id.clone(),
        author_email,
        author_name,
        created,
        body,
        body_format,
        tags: p.post.tags.clone(),
        likes: p.post.likes,
        reply_count: p.post.reply_count,
        best_answer: p.post.best_answer,
        url: p.post.url.clone().unwrap_or_else(|| p.thread.url.clone()),
    };
    (
        thread,
        FetchedPost {
            thread_remote_id: p.thread.id.clone(),
            post,
        },
    )
}

/// Plain text as CommonMark that renders to the same text: every ASCII punctuation character
/// escaped (CommonMark lets a backslash escape any of them), leading blanks dropped (they would
/// make code blocks), and each line break kept as a hard break.
pub fn text_to_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines: Vec<&str> = text.lines().map(|l| l.trim()).collect();
    for (i, line) in lines.iter().enumerate() {
        for c in line.chars() {
            if c.is_ascii_punctuation() {
                out.push('\\');
            }
            out.push(c);
        }
        let next_is_text = lines.get(i + 1).is_some_and(|n| !n.is_empty());
        if !line.is_empty() && next_is_text {
            out.push('\\');
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(post_extra: &str) -> String {
        format!(
            r#"{{"schema":"digestd.post.v1","group":"hr","thread":{{"id":"t1","title":"Leave policy","url":"https://hr.example/t/1"}},"post":{{"id":17,"author_email":"Ann@Example.org","author_name":"Ann","created":"2026-03-02T09:30:00+01:00","body":"Hello"{post_extra}}}}}"#
        )
    }

    #[test]
    fn a_good_post_maps_to_a_thread_and_a_post() {
        let posts = parse_posts(doc(r#","tags":["Leave"],"likes":3"#).as_bytes()).expect("ok");
        let b = batches(&posts);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].remote_group, "hr");
        assert_eq!(b[0].batch.next_cursor.0, PUSH_CURSOR);
        let t = &b[0].batch.threads[0];
        assert_eq!(
            (t.remote_id.as_str(), t.title.as_str()),
            ("t1", "Leave policy")
        );
        let p = &b[0].batch.posts[0];
        assert_eq!(p.thread_remote_id, "t1");
        assert_eq!(p.post.remote_id, "17");
        assert_eq!(p.post.created.to_rfc3339(), "2026-03-02T08:30:00+00:00");
        assert_eq!(p.post.url, "https://hr.example/t/1");
        assert_eq!(p.post.likes, 3);
        assert_eq!(p.post.tags, vec!["Leave".to_string()]);
    }

    #[test]
    fn a_batch_splits_by_group_and_names_the_failing_item() {
        let one = doc("");
        let other = one.replace(r#""group":"hr""#, r#""group":"ops""#);
        let posts = parse_posts(format!("[{one},{other},{one}]").as_bytes()).expect("ok");
        let b = batches(&posts);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].batch.posts.len(), 2);
        assert_eq!(b[0].batch.threads.len(), 1);
        let bad = one.replace("2026-03-02T09:30:00+01:00", "yesterday");
        let e = parse_posts(format!("[{one},{bad}]").as_bytes()).unwrap_err();
        assert_eq!(e.field, "[1].post.created", "{e}");
        assert_eq!(parse_posts(b"[]").unwrap_err().field, ".");
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: [(String, &str); 9] = [
            (
                doc("").replace("digestd.post.v1", "digestd.post.v9"),
                "schema",
            ),
            (doc("").replace(r#""id":17,"#, ""), "post.id"),
            (doc("").replace(r#""id":17"#, r#""id":true"#), "post.id"),
            (doc(r#","format":"rtf""#), "post.format"),
            (
                doc("").replace("Ann@Example.org", "ann"),
                "post.author_email",
            ),
            (
                doc("").replace("https://hr.example/t/1", "javascript:x"),
                "thread.url",
            ),
            (doc("").replace(r#""Hello""#, r#""  ""#), "post.body"),
            (
                doc("").replace(r#""title":"Leave policy","#, ""),
                "thread.title",
            ),
            (doc(r#","tags":"a""#), "post.tags"),
        ];
        for (body, field) in cases {
            let e = parse_posts(body.as_bytes()).unwrap_err();
            assert_eq!(e.field, field, "{body}: {e}");
        }
        let e = parse_posts(b"{\"schema\": ").unwrap_err();
        assert!(e.message.contains("EOF"), "{e}");
        let e = parse_posts(format!("{} x", doc("")).as_bytes()).unwrap_err();
        assert_eq!(e.field, ".");
    }

    #[test]
    fn text_is_escaped_into_markdown_that_renders_the_same() {
        assert_eq!(
            text_to_markdown("*not bold* 1. <b>"),
            r"\*not bold\* 1\. \<b\>"
        );
        assert_eq!(text_to_markdown("a\nb\n\n    c"), "a\\\nb\n\nc");
        let md = text_to_markdown("# no heading\n- no list\n_x_ & y");
        let html = {
            let mut s = String::new();
            pulldown_cmark::html::push_html(&mut s, pulldown_cmark::Parser::new(&md));
            s
        };
        assert!(html.contains("# no heading<br />"), "{html}");
        assert!(html.contains("- no list<br />"), "{html}");
        assert!(html.contains("_x_ &amp; y"), "{html}");
        assert!(!html.contains("<h1>") && !html.contains("<li>") && !html.contains("<em>"));
    }
}
