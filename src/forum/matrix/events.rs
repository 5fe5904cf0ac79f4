//! Matrix events as JSON, and what they mean to digestd: pure, no I/O.
//!
//! A room is a group. A thread is a root event and the events whose `m.relates_to` says
//! `rel_type: m.thread, event_id: <root>`; any other message (a plain one, or a rich reply outside
//! a thread) is the root of a thread of its own. Only `m.room.message` events with a text
//! `msgtype` (`m.text`, `m.notice`, `m.emote`) become posts; edits (`m.replace`), redacted events
//! (no body) and anything malformed are skipped. A formatted body (`format:
//! org.matrix.custom.html`) is kept as the post's HTML ([`BodyFormat::Html`], sanitised by the
//! renderer like every forum's HTML), else the plain `body` is the post's text. Reply fallbacks
//! (`<mx-reply>` and the quoted `> ` lines before a reply) are cut off.
//!
//! The other direction: [`message_content`] builds the content of a reply in a thread or of a
//! new thread's root, and [`txn_id`] the transaction id that makes a retried send land once.

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::model::BodyFormat;

/// The relation type of a reply in a thread.
pub const THREAD_REL: &str = "m.thread";
/// The `format` of an HTML `formatted_body`.
pub const HTML_FORMAT: &str = "org.matrix.custom.html";

/// One page of `GET /rooms/{roomId}/messages`.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesPage {
    /// The events, in the direction asked for.
    #[serde(default)]
    pub chunk: Vec<RoomEvent>,
    /// The token the page starts at.
    #[serde(default)]
    pub start: Option<String>,
    /// The token to continue from; absent when there is nothing further right now.
    #[serde(default)]
    pub end: Option<String>,
    /// Member events of the page's senders (when lazy-loading members).
    #[serde(default)]
    pub state: Vec<RoomEvent>,
}

/// A room event as the client-server API returns it (content left as JSON until classified, so
/// one malformed event does not fail its page).
#[derive(Debug, Clone, Deserialize)]
pub struct RoomEvent {
    /// Event type (`m.room.message`, `m.room.member`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's id (`$...`).
    pub event_id: String,
    /// Who sent it (`@user:server`).
    pub sender: String,
    /// When the sender's server received it, ms since the epoch.
    #[serde(default)]
    pub origin_server_ts: i64,
    /// The content.
    #[serde(default)]
    pub content: Value,
    /// For state events: the state key (a member event's user id).
    #[serde(default)]
    pub state_key: Option<String>,
    /// Server-added data (thread summary of a root).
    #[serde(default)]
    pub unsigned: Value,
}

#[derive(Debug, Deserialize)]
struct MessageContent {
    msgtype: Option<String>,
    body: Option<String>,
    format: Option<String>,
    formatted_body: Option<String>,
    #[serde(rename = "m.relates_to")]
    relates_to: Option<RelatesTo>,
}

#[derive(Debug, Deserialize)]
struct RelatesTo {
    rel_type: Option<String>,
    event_id: Option<String>,
    #[serde(rename = "m.in_reply_to")]
    in_reply_to: Option<Value>,
}

/// A message event worth a post.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Event id.
    pub event_id: String,
    /// Sender's user id.
    pub sender: String,
    /// When it was sent.
    pub created: DateTime<Utc>,
    /// The post body: HTML when the event has a formatted body, else the plain text.
    pub body: String,
    /// Which of the two [`Message::body`] is.
    pub format: BodyFormat,
    /// The plain-text body (for titles).
    pub plain: String,
    /// Replies in its thread as the server counts them (roots only; 0 when unknown).
    pub thread_replies: u32,
}

/// What an event is to digestd.
#[derive(Debug, Clone, PartialEq)]
pub enum Classified {
    /// A message that opens a thread (its own event id is the thread's id).
    Root(Message),
    /// A reply inside the thread of `root`.
    InThread {
        /// The thread root's event id.
        root: String,
        /// The reply.
        message: Message,
    },
    /// Not a post (state, reaction, edit, redacted, malformed, non-text).
    Skip,
}

/// Classifies one event.
pub fn classify(event: &RoomEvent) -> Classified {
    if event.kind != "m.room.message" {
        return Classified::Skip;
    }
    let Ok(content) = MessageContent::deserialize(&event.content) else {
        return Classified::Skip;
    };
    if !matches!(
        content.msgtype.as_deref(),
        Some("m.text" | "m.notice" | "m.emote")
    ) {
        return Classified::Skip;
    }
    let Some(body) = content.body.filter(|b| !b.trim().is_empty()) else {
        return Classified::Skip;
    };
    let relation = content.relates_to.as_ref();
    let rel_type = relation.and_then(|r| r.rel_type.as_deref());
    if rel_type == Some("m.replace") {
        return Classified::Skip;
    }
    let is_reply = relation.is_some_and(|r| r.in_reply_to.is_some());
    let plain = if is_reply {
        strip_plain_fallback(&body)
    } else {
        body
    };
    let html = match (content.format.as_deref(), content.formatted_body) {
        (Some(HTML_FORMAT), Some(html)) if !html.trim().is_empty() => {
            Some(strip_html_fallback(&html))
        }
        _ => None,
    };
    let (body, format) = match html {
        Some(html) => (html, BodyFormat::Html),
        None => (plain.clone(), BodyFormat::Markdown),
    };
    let message = Message {
        event_id: event.event_id.clone(),
        sender: event.sender.clone(),
        created: from_millis(event.origin_server_ts),
        body,
        format,
        plain,
        thread_replies: thread_count(&event.unsigned),
    };
    match (rel_type, relation.and_then(|r| r.event_id.as_deref())) {
        (Some(THREAD_REL), Some(root)) if !root.is_empty() => Classified::InThread {
            root: root.to_string(),
            message,
        },
        _ => Classified::Root(message),
    }
}

/// The display names a page's member events give (user id → name), for senders who are not
/// people of the config.
pub fn display_names(state: &[RoomEvent]) -> impl Iterator<Item = (&str, &str)> {
    state.iter().filter_map(|e| {
        if e.kind != "m.room.member" {
            return None;
        }
        let user = e.state_key.as_deref()?;
        let name = e.content.get("displayname")?.as_str()?.trim();
        (!name.is_empty()).then_some((user, name))
    })
}

fn thread_count(unsigned: &Value) -> u32 {
    unsigned
        .pointer("/m.relations/m.thread/count")
        .and_then(Value::as_u64)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Milliseconds since the epoch as a time (the epoch itself when out of range).
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// Drops a rich reply's quoted fallback: the leading `> ` lines and the blank line after them.
pub fn strip_plain_fallback(body: &str) -> String {
    if !body.starts_with("> ") {
        return body.to_string();
    }
    let mut lines = body.lines().skip_while(|l| l.starts_with('>'));
    let mut rest: Vec<&str> = Vec::new();
    if let Some(first) = lines.next() {
        if !first.trim().is_empty() {
            rest.push(first);
        }
    }
    rest.extend(lines);
    let rest = rest.join("\n");
    if rest.trim().is_empty() {
        body.to_string()
    } else {
        rest
    }
}

/// Drops a rich reply's `<mx-reply>…</mx-reply>` fallback from HTML.
pub fn strip_html_fallback(html: &str) -> String {
    const CLOSE: &str = "</mx-reply>";
    match (html.find("<mx-reply>"), html.find(CLOSE)) {
        (Some(start), Some(end)) if start < end => {
            let mut out = String::with_capacity(html.len());
            out.push_str(&html[..start]);
            out.push_str(&html[end + CLOSE.len()..]);
            out
        }
        _ => html.to_string(),
    }
}

/// The content of a message digestd sends: `body` as plain text (the Markdown as written),
/// `formatted_body` as its HTML rendering; in `thread_root`'s thread when given (`m.thread`
/// with the fallback reply to the root, as the spec asks of clients that send in threads).
pub fn message_content(body: &str, html: &str, thread_root: Option<&str>) -> Value {
    let mut content = json!({
        "msgtype": "m.text",
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": html,
    });
    if let Some(root) = thread_root {
        content["m.relates_to"] = json!({
            "rel_type": THREAD_REL,
            "event_id": root,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": root },
        });
    }
    content
}

/// Markdown as the HTML of a `formatted_body`: CommonMark (strikethrough too), with raw HTML in
/// the source shown as text, never passed on.
pub fn markdown_html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let events = Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|e| match e {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out.trim_end().to_string()
}

/// A thread's title from its root's plain text: the first non-empty line without Markdown
/// heading or emphasis marks, at most 200 characters.
pub fn title_of(plain: &str) -> String {
    let line = plain
        .lines()
        .map(|l| {
            l.trim()
                .trim_matches(|c| matches!(c, '#' | '*' | '_'))
                .trim()
        })
        .find(|l| !l.is_empty())
        .unwrap_or("(untitled)");
    line.chars().take(200).collect()
}

/// The transaction id of a send: a hash of the idempotency key and the room (URL-safe), so the
/// same reply sent twice (a retry) is the same transaction and Synapse stores it once.
pub fn txn_id(room_id: &str, idempotency_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(room_id.as_bytes());
    h.update([0]);
    h.update(idempotency_key.as_bytes());
    format!("digestd-{}", hex::encode(&h.finalize()[..16]))
}

/// A link to an event (`https://matrix.to/#/<room>/<event>`), what digests show.
pub fn event_link(room: &str, event_id: &str) -> String {
    format!(
        "https://matrix.to/#/{}/{}",
        percent_encode(room),
        percent_encode(event_id)
    )
}

/// Percent-encodes everything but unreserved characters (a path segment or query value).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(content: Value) -> RoomEvent {
        RoomEvent {
            kind: "m.room.message".into(),
            event_id: "$e1".into(),
            sender: "@ann:example.org".into(),
            origin_server_ts: 1_700_000_000_000,
            content,
            state_key: None,
            unsigned: Value::Null,
        }
    }

    #[test]
    fn a_plain_message_is_a_root_with_its_text() {
        let c = classify(&event(json!({"msgtype": "m.text", "body": "Hello"})));
        let Classified::Root(m) = c else {
            panic!("root expected: {c:?}")
        };
        assert_eq!(m.body, "Hello");
        assert_eq!(m.format, BodyFormat::Markdown);
        assert_eq!(m.created.timestamp(), 1_700_000_000);
    }

    #[test]
    fn a_thread_reply_names_its_root_and_keeps_html_without_fallback() {
        let c = classify(&event(json!({
            "msgtype": "m.text",
            "body": "> <@bob:x> quoted\n\nmy answer",
            "format": HTML_FORMAT,
            "formatted_body": "<mx-reply><blockquote>quoted</blockquote></mx-reply><b>my</b> answer",
            "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true,
                             "m.in_reply_to": {"event_id": "$root"}}
        })));
        let Classified::InThread { root, message } = c else {
            panic!("thread reply expected: {c:?}")
        };
        assert_eq!(root, "$root");
        assert_eq!(message.body, "<b>my</b> answer");
        assert_eq!(message.format, BodyFormat::Html);
        assert_eq!(message.plain, "my answer");
    }

    #[test]
    fn a_reply_outside_a_thread_is_a_thread_of_its_own() {
        let c = classify(&event(json!({
            "msgtype": "m.text", "body": "sure",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$other"}}
        })));
        assert!(matches!(c, Classified::Root(_)), "{c:?}");
    }

    #[test]
    fn edits_reactions_redactions_images_and_garbage_are_skipped() {
        let edit = json!({"msgtype": "m.text", "body": "* fixed",
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$e0"}});
        for content in [
            edit,
            json!({}),
            json!({"msgtype": "m.image", "body": "cat.png"}),
            json!({"msgtype": "m.text", "body": 42}),
            json!({"msgtype": "m.text", "body": "   "}),
        ] {
            assert_eq!(
                classify(&event(content.clone())),
                Classified::Skip,
                "{content}"
            );
        }
        let mut reaction = event(json!({"m.relates_to": {"rel_type": "m.annotation"}}));
        reaction.kind = "m.reaction".into();
        assert_eq!(classify(&reaction), Classified::Skip);
    }

    #[test]
    fn a_root_counts_its_thread_replies() {
        let mut e = event(json!({"msgtype": "m.text", "body": "q"}));
        e.unsigned = json!({"m.relations": {"m.thread": {"count": 3}}});
        let Classified::Root(m) = classify(&e) else {
            panic!("root")
        };
        assert_eq!(m.thread_replies, 3);
    }

    #[test]
    fn a_page_parses_with_missing_end_and_member_names() {
        let page: MessagesPage = serde_json::from_value(json!({
            "chunk": [],
            "start": "t1",
            "state": [{"type": "m.room.member", "event_id": "$m", "sender": "@a:x",
                       "state_key": "@a:x", "content": {"displayname": "Ann", "membership": "join"}}]
        }))
        .expect("parses");
        assert_eq!(page.end, None);
        let names: Vec<_> = display_names(&page.state).collect();
        assert_eq!(names, vec![("@a:x", "Ann")]);
    }

    #[test]
    fn reply_content_is_in_the_thread_with_a_fallback_reply() {
        let c = message_content("**hi**", "<p><strong>hi</strong></p>", Some("$root"));
        assert_eq!(c["m.relates_to"]["rel_type"], "m.thread");
        assert_eq!(c["m.relates_to"]["event_id"], "$root");
        assert_eq!(c["m.relates_to"]["is_falling_back"], true);
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$root");
        assert!(message_content("x", "x", None)
            .get("m.relates_to")
            .is_none());
    }

    #[test]
    fn txn_ids_are_stable_per_key_and_room_and_url_safe() {
        let a = txn_id("!r:x", "<m1@x>");
        assert_eq!(a, txn_id("!r:x", "<m1@x>"));
        assert_ne!(a, txn_id("!r:x", "<m2@x>"));
        assert_ne!(a, txn_id("!s:x", "<m1@x>"));
        assert_eq!(percent_encode(&a), a);
    }

    #[test]
    fn markdown_becomes_html_without_raw_html() {
        assert_eq!(markdown_html("**hi**"), "<p><strong>hi</strong></p>");
        let html = markdown_html("a <script>x</script> b");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn titles_are_the_first_line_without_marks() {
        assert_eq!(title_of("\n**Budget 2027**\n\nbody"), "Budget 2027");
        assert_eq!(title_of("# Heading"), "Heading");
        assert_eq!(title_of("  "), "(untitled)");
        assert_eq!(title_of(&"x".repeat(300)).len(), 200);
    }

    #[test]
    fn links_encode_room_and_event() {
        assert_eq!(
            event_link("!a:x.org", "$b/c"),
            "https://matrix.to/#/%21a%3Ax.org/%24b%2Fc"
        );
    }

    #[test]
    fn plain_fallback_stripping_keeps_text_that_is_only_a_quote() {
        assert_eq!(strip_plain_fallback("> a\n> b\n\nc\nd"), "c\nd");
        assert_eq!(strip_plain_fallback("> only"), "> only");
        assert_eq!(strip_plain_fallback("no quote"), "no quote");
    }
}
