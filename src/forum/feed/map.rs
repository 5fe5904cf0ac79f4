//! Pure part of the feed connector: the cursor (validators for conditional GET) and how the
//! entries of a parsed feed become threads and posts.
//!
//! An entry is a post. Its thread is the entry itself, or, with the group's `thread_pattern`,
//! the key captured (group 1) from the entry's link, so entries about one item share a thread.
//! Categories become tags, relative links are resolved against the feed's URL, titles are
//! flattened to plain text, and an entry listed twice is kept once.

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Feed, Text};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::forum::{Cursor, FetchBatch, FetchedPost};
use crate::html_escape::escape_html;
use crate::model::{normalize_email, BodyFormat, Post, Thread};

/// The validators of the last successful fetch, stored as the group's cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// `ETag` of the last 200 answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified` of the last 200 answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    /// The stored form (`feed:` and JSON).
    pub fn encode(&self) -> Cursor {
        Cursor(format!(
            "feed:{}",
            serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
        ))
    }

    /// Reads a stored cursor; anything else means "no validators" (an unconditional GET).
    pub fn decode(cursor: Option<&Cursor>) -> Validators {
        cursor
            .and_then(|c| c.0.strip_prefix("feed:"))
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }
}

/// Plain text of a feed text construct: HTML titles (`type="html"`, or markup in an RSS title)
/// are flattened, entities decoded, whitespace collapsed.
pub fn plain_text(text: &Text) -> String {
    let raw = text.content.as_str();
    let flat = if raw.contains('<') || raw.contains('&') {
        html2text::config::plain_no_decorate()
            .string_from_read(raw.as_bytes(), 10_000)
            .unwrap_or_else(|_| raw.to_string())
    } else {
        raw.to_string()
    };
    flat.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The entry's main link, resolved against the feed URL.
pub fn entry_link(entry: &Entry, feed_url: &str) -> Option<String> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())?;
    Some(resolve(&link.href, feed_url))
}

/// `href` made absolute against `base` (unchanged when it already is, or cannot be).
pub fn resolve(href: &str, base: &str) -> String {
    match url::Url::parse(base).and_then(|b| b.join(href.trim())) {
        Ok(u) => u.to_string(),
        Err(_) => href.trim().to_string(),
    }
}

/// The thread key of an entry: the pattern's first capture over its link, else the entry id.
pub fn thread_key(entry_id: &str, link: Option<&str>, pattern: Option<&Regex>) -> String {
    pattern
        .zip(link)
        .and_then(|(re, link)| re.captures(link))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| entry_id.to_string())
}

/// The body of an entry as HTML: its content, else its summary; plain text is escaped.
fn body_html(entry: &Entry) -> String {
    if let Some(body) = entry.content.as_ref().and_then(|c| {
        let plain = c.content_type.essence().to_string() == "text/plain";
        c.body
            .as_ref()
            .map(|b| if plain { escape_html(b) } else { b.clone() })
    }) {
        return body;
    }
    match &entry.summary {
        Some(s) if s.content_type.essence().to_string() == "text/plain" => escape_html(&s.content),
        Some(s) => s.content.clone(),
        None => String::new(),
    }
}

/// Author address and name: the entry's (or the feed's) first author; an author without an
/// address gets a placeholder at the feed's host that matches no person.
fn author_of(entry: &Entry, feed: &Feed, feed_url: &str) -> (String, String) {
    let person = entry.authors.first().or_else(|| feed.authors.first());
    let email = person
        .and_then(|p| p.email.as_deref())
        .map(str::trim)
        .filter(|e| e.contains('@'));
    // RSS 2.0 `<author>` is "address (Name)", which feed-rs keeps as the name.
    let from_name = person
        .and_then(|p| p.name.as_deref())
        .map(str::trim)
        .and_then(|n| n.split_whitespace().find(|w| w.contains('@')))
        .map(|w| w.trim_matches(|c: char| c == '<' || c == '>' || c == '(' || c == ')'));
    let name = person
        .and_then(|p| p.name.as_deref())
        .map(display_name)
        .filter(|n| !n.is_empty() && n != "unknown")
        .or_else(|| feed.title.as_ref().map(plain_text))
        .unwrap_or_else(|| "feed".to_string());
    let address = match email.or(from_name) {
        Some(e) => normalize_email(e),
        None => {
            let host = url::Url::parse(feed_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "feed".into());
            format!("feed@{host}.invalid")
        }
    };
    (address, name)
}

/// The name in an RSS `address (Name)` author, else the trimmed text.
fn display_name(raw: &str) -> String {
    let raw = raw.trim();
    match (raw.contains('@'), raw.find('('), raw.rfind(')')) {
        (true, Some(open), Some(close)) if open < close => raw[open + 1..close].trim().to_string(),
        _ => raw
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(raw)
            .trim()
            .to_string(),
    }
}

/// Turns a parsed feed into one batch for `group_id`: oldest entry first, at most `limit` (the
/// newest ones), each entry once. `fetched_at` dates entries without a date.
pub fn batch_of(
    feed: &Feed,
    group_id: &str,
    feed_url: &str,
    pattern: Option<&Regex>,
    limit: usize,
    fetched_at: DateTime<Utc>,
    next_cursor: Cursor,
) -> FetchBatch {
    let mut entries: Vec<(&Entry, DateTime<Utc>)> = Vec::new();
    for e in &feed.entries {
        if entries.iter().any(|(seen, _)| seen.id == e.id) {
            continue;
        }
        entries.push((e, e.published.or(e.updated).unwrap_or(fetched_at)));
    }
    entries.sort_by_key(|(_, at)| *at);
    let skip = entries.len().saturating_sub(limit.max(1));
    let mut threads: Vec<Thread> = Vec::new();
    let mut posts = Vec::new();
    for (entry, created) in entries.into_iter().skip(skip) {
        let link = entry_link(entry, feed_url);
        let title = entry
            .title
            .as_ref()
            .map(plain_text)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "(untitled)".to_string());
        let key = thread_key(&entry.id, link.as_deref(), pattern);
        let url = link.clone().unwrap_or_else(|| feed_url.to_string());
        if !threads.iter().any(|t| t.remote_id == key) {
            threads.push(Thread {
                id: 0,
                group_id: group_id.to_string(),
                remote_id: key.clone(),
                title: title.clone(),
                url: url.clone(),
                created,
            });
        }
        let (author_email, author_name) = author_of(entry, feed, feed_url);
        let mut tags: Vec<String> = entry
            .categories
            .iter()
            .map(|c| c.label.as_deref().unwrap_or(&c.term).trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        tags.sort();
        tags.dedup();
        posts.push(FetchedPost {
            thread_remote_id: key,
            post: Post {
                id: 0,
                thread_id: 0,
                group_id: group_id.to_string(),
                remote_id: entry.id.clone(),
                author_email,
                author_name,
                created,
                body: crate::forum::links::absolute_links(&body_html(entry), feed_url),
                body_format: BodyFormat::Html,
                tags,
                likes: 0,
                reply_count: 0,
                best_answer: false,
                url,
            },
        });
    }
    FetchBatch {
        threads,
        posts,
        next_cursor,
        more: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str, base: &str) -> Feed {
        feed_rs::parser::Builder::new()
            .base_uri(Some(base))
            .build()
            .parse(xml.as_bytes())
            .unwrap()
    }

    const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Intranet &amp; news</title><link>https://intra.example/</link>
<item><title>&lt;b&gt;Rota&lt;/b&gt; changes &amp;amp; more</title><link>/news/rota?id=7#c2</link>
<guid isPermaLink="false">a-1</guid><author>anna@example.org (Anna)</author>
<category>Training</category><category>HR</category>
<pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate><description>&lt;p&gt;New rota&lt;/p&gt;</description></item>
<item><title>Second</title><link>/news/rota?id=7#c3</link><guid isPermaLink="false">a-2</guid>
<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>plain</description></item>
<item><title>Second</title><link>/news/rota?id=7#c3</link><guid isPermaLink="false">a-2</guid>
<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>plain</description></item>
</channel></rss>"#;

    #[test]
    fn validators_round_trip_and_foreign_cursors_mean_none() {
        let v = Validators {
            etag: Some("\"abc\"".into()),
            last_modified: None,
        };
        assert_eq!(Validators::decode(Some(&v.encode())), v);
        assert_eq!(
            Validators::decode(Some(&Cursor("discourse:1:x".into()))),
            Validators::default()
        );
    }

    #[test]
    fn entries_become_posts_with_tags_links_flat_titles_and_no_duplicates() {
        let base = "https://intra.example/feeds/news.xml";
        let feed = parse(RSS, base);
        let b = batch_of(&feed, "g", base, None, 100, Utc::now(), Cursor::default());
        assert_eq!(b.posts.len(), 2, "the entry listed twice is kept once");
        let first = &b.posts[0].post;
        assert_eq!(first.remote_id, "a-1");
        assert_eq!(first.tags, vec!["hr", "training"]);
        assert_eq!(first.url, "https://intra.example/news/rota?id=7#c2");
        assert_eq!(first.author_email, "anna@example.org");
        assert_eq!(first.author_name, "Anna");
        assert_eq!(b.threads[0].title, "Rota changes & more");
        assert_eq!(b.threads.len(), 2);
    }

    #[test]
    fn a_thread_pattern_groups_entries_by_the_captured_key() {
        let base = "https://intra.example/feeds/news.xml";
        let feed = parse(RSS, base);
        let re = Regex::new(r"[?&]id=(\d+)").unwrap();
        let b = batch_of(
            &feed,
            "g",
            base,
            Some(&re),
            100,
            Utc::now(),
            Cursor::default(),
        );
        assert_eq!(b.threads.len(), 1);
        assert_eq!(b.threads[0].remote_id, "7");
        assert!(b.posts.iter().all(|p| p.thread_remote_id == "7"));
        let newest = batch_of(
            &feed,
            "g",
            base,
            Some(&re),
            1,
            Utc::now(),
            Cursor::default(),
        );
        assert_eq!(newest.posts.len(), 1);
        assert_eq!(newest.posts[0].post.remote_id, "a-2");
    }

    #[test]
    fn plain_text_bodies_are_escaped() {
        let feed = parse(RSS, "https://intra.example/");
        let b = batch_of(
            &feed,
            "g",
            "https://intra.example/",
            None,
            100,
            Utc::now(),
            Cursor::default(),
        );
        assert_eq!(b.posts[1].post.body, "plain");
        assert_eq!(b.posts[0].post.body, "<p>New rota</p>");
    }
}
