//! The RSS/Atom connector (`kind = "feed"`): read-only groups from feeds that intranets,
//! SharePoint, WordPress and many forums publish.
//!
//! Each poll is a conditional GET (`If-None-Match` / `If-Modified-Since` from the validators
//! kept in the group's cursor): 304 means nothing new; a 200 is parsed by feed-rs (Atom, RSS
//! 0.9x/1.0/2.0, JSON Feed) and mapped by [`map`]. Entries seen before are dropped by the store
//! (unique remote ids), so a feed that repeats its items stores them once. Replies and new
//! threads are refused with a message for the person that links the item.

pub mod map;

use std::time::Duration;

use chrono::Utc;
use regex::Regex;

use crate::forum::{Author, Cursor, FetchBatch, Forum, ForumError, Posted};
use crate::model::{Group, GroupSource};

use map::Validators;

/// Largest feed read.
const MAX_FEED_BYTES: u64 = 16 * 1024 * 1024;

/// The connector for one `[forums.<name>]` of kind `feed` (stateless: the cursor holds all).
pub struct FeedForum {
    agent: ureq::Agent,
    authorization: Option<String>,
}

impl std::fmt::Debug for FeedForum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedForum")
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "(set)"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for FeedForum {
    fn default() -> Self {
        FeedForum::new(Duration::from_secs(30))
    }
}

impl FeedForum {
    /// Sends `Authorization: <value>` with every request (feeds behind a login).
    pub fn with_authorization(mut self, value: &str) -> FeedForum {
        self.authorization = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        self
    }

    /// A connector whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> FeedForum {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("digestd/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        FeedForum {
            agent,
            authorization: None,
        }
    }

    /// The connector for `[forums.<name>]` of kind `feed`; reads `authorization_file`.
    pub fn open(
        _config: &crate::config::Config,
        forum: &crate::config::ForumConfig,
    ) -> Result<FeedForum, ForumError> {
        let crate::config::ForumSettings::Feed(settings) = &forum.settings else {
            return Err(ForumError::Refused(format!(
                "forum {} is not a feed forum",
                forum.name
            )));
        };
        let mut feed = FeedForum::default();
        if let Some(path) = &settings.authorization_file {
            let value = std::fs::read_to_string(path).map_err(|e| {
                ForumError::Unavailable(format!(
                    "forum {}: reading authorization_file {}: {e}",
                    forum.name,
                    path.display()
                ))
            })?;
            feed = feed.with_authorization(&value);
        }
        Ok(feed)
    }

    /// Fetches every group's feed once and checks that it parses.
    pub fn check_groups(&self, groups: &[&Group]) -> Result<(), ForumError> {
        let mut failed = Vec::new();
        for group in groups {
            let (url, pattern) = source(group)?;
            if let Err(e) = pattern_of(group, pattern) {
                failed.push(e.to_string());
                continue;
            }
            match self.get(url, &Validators::default()) {
                Ok(Fetched::Body { bytes, .. }) => {
                    if let Err(e) = parse(url, &bytes) {
                        failed.push(format!("group {}: {e}", group.id));
                    }
                }
                Ok(Fetched::NotModified) => {}
                Err(e) => failed.push(format!("group {}: {e}", group.id)),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(ForumError::Unavailable(failed.join("; ")))
        }
    }

    fn get(&self, url: &str, v: &Validators) -> Result<Fetched, ForumError> {
        let mut req = self.agent.get(url).header(
            "Accept",
            "application/atom+xml, application/rss+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1",
        );
        if let Some(auth) = &self.authorization {
            req = req.header("Authorization", auth);
        }
        if let Some(etag) = &v.etag {
            req = req.header("If-None-Match", etag);
        }
        if let Some(lm) = &v.last_modified {
            req = req.header("If-Modified-Since", lm);
        }
        let mut resp = req
            .call()
            .map_err(|e| ForumError::Unavailable(format!("fetching the feed {url}: {e}")))?;
        let status = resp.status().as_u16();
        match status {
            304 => return Ok(Fetched::NotModified),
            200..=299 => {}
            404 | 410 => {
                return Err(ForumError::Refused(format!(
                    "the feed {url} does not exist ({status})"
                )))
            }
            401 | 403 => {
                return Err(ForumError::Unavailable(format!(
                    "the feed {url} needs a login ({status}): set authorization_file on its forum"
                )))
            }
            _ => {
                return Err(ForumError::Unavailable(format!(
                    "the feed {url} answered {status}"
                )))
            }
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_FEED_BYTES)
            .read_to_vec()
            .map_err(|e| ForumError::Unavailable(format!("reading the feed {url}: {e}")))?;
        Ok(Fetched::Body { bytes, validators })
    }
}

enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

fn parse(url: &str, bytes: &[u8]) -> Result<feed_rs::model::Feed, ForumError> {
    feed_rs::parser::Builder::new()
        .base_uri(Some(url))
        .build()
        .parse(bytes)
        .map_err(|e| {
            ForumError::Unavailable(format!("the feed {url} is not valid RSS or Atom: {e}"))
        })
}

fn source(group: &Group) -> Result<(&str, Option<&str>), ForumError> {
    match &group.source {
        GroupSource::Feed {
            url,
            thread_pattern,
        } => Ok((url.as_str(), thread_pattern.as_deref())),
        _ => Err(ForumError::Refused(format!(
            "group {} is not a feed group",
            group.id
        ))),
    }
}

fn pattern_of(group: &Group, pattern: Option<&str>) -> Result<Option<Regex>, ForumError> {
    pattern
        .map(|p| {
            Regex::new(p).map_err(|e| {
                ForumError::Refused(format!("group {}: thread_pattern: {e}", group.id))
            })
        })
        .transpose()
}

/// The refusal for anything written to a feed group: the person reads it in their answer mail.
fn read_only(group: &Group, link: Option<&str>) -> ForumError {
    let (url, _) = source(group).unwrap_or(("", None));
    let place = match link {
        Some(l) if l.starts_with("http://") || l.starts_with("https://") => l.to_string(),
        _ => url.to_string(),
    };
    ForumError::Refused(format!(
        "{} comes from a read-only feed, so replies cannot be posted there by email. To respond, \
         open the item on its own site: {place}",
        group.name
    ))
}

impl Forum for FeedForum {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        let (url, pattern) = source(group)?;
        let pattern = pattern_of(group, pattern)?;
        let previous = Validators::decode(cursor);
        match self.get(url, &previous)? {
            Fetched::NotModified => Ok(FetchBatch {
                next_cursor: previous.encode(),
                ..FetchBatch::default()
            }),
            Fetched::Body { bytes, validators } => {
                let feed = parse(url, &bytes)?;
                Ok(map::batch_of(
                    &feed,
                    &group.id,
                    url,
                    pattern.as_ref(),
                    limit,
                    Utc::now(),
                    validators.encode(),
                ))
            }
        }
    }

    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        _author: &Author,
        _body: &str,
        _idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        Err(read_only(group, Some(thread_remote_id)))
    }

    fn check_online(&self, groups: &[&Group]) -> Result<(), ForumError> {
        self.check_groups(groups)
    }

    fn create_thread(
        &self,
        group: &Group,
        _author: &Author,
        _title: &str,
        _body: &str,
        _idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        Err(read_only(group, None))
    }
}
