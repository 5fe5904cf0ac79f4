//! The outbound half of a webhook forum: replies and new threads POSTed as signed JSON to the
//! platform's `post_url` with ureq, and the [`Forum`] implementation around it.
//!
//! Status codes decide what happens to the reply mail: 2xx with `{id, url}` → posted; 400,
//! 404, 409, 410, 413 and 422 (the platform says no: unknown user or thread, invalid) →
//! [`ForumError::Refused`] with the platform's message, so the person gets an answer; anything
//! else (5xx, 401/403 from a secret that does not match, 408, 429, a connection error, a
//! timeout, an unreadable answer) → [`ForumError::Unavailable`], so the reply stays queued and
//! is retried with backoff, carrying the same `idempotency_key`.

use std::time::Duration;

use super::mapping::PUSH_CURSOR;
use super::schema::{AuthorV1, NewThreadV1, PostedV1, ReplyV1, REPLY_V1, THREAD_V1};
use super::secret::WebhookSecret;
use super::signature::{sign, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::config::{Config, ForumConfig, ForumSettings};
use crate::forum::{Author, Cursor, FetchBatch, Forum, ForumError, Posted};
use crate::model::{Group, GroupSource};

/// Limit on a whole outbound call (connect, send, answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Limit on connecting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from the platform.
pub const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// Longest platform message quoted in a refusal.
const MAX_MESSAGE_CHARS: usize = 300;

/// A bespoke platform connected by signed webhooks.
pub struct WebhookForum {
    name: String,
    secret: WebhookSecret,
    secret_file: std::path::PathBuf,
    post_url: Option<String>,
    /// Whether the config has an `[http]` listener for the platform's pushes.
    push_listener: bool,
    agent: ureq::Agent,
}

impl std::fmt::Debug for WebhookForum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookForum")
            .field("name", &self.name)
            .field("post_url", &self.post_url)
            .finish_non_exhaustive()
    }
}

impl WebhookForum {
    /// Opens forum `fc` (kind `webhook`): reads its secret file.
    pub fn open(config: &Config, fc: &ForumConfig) -> Result<WebhookForum, ForumError> {
        let ForumSettings::Webhook(settings) = &fc.settings else {
            return Err(ForumError::Refused(format!(
                "forum `{}` is not a webhook forum",
                fc.name
            )));
        };
        let secret = WebhookSecret::from_file(&settings.secret_file)
            .map_err(|e| ForumError::Unavailable(e.to_string()))?;
        let mut forum = WebhookForum::new(
            &fc.name,
            secret,
            settings.secret_file.clone(),
            settings.post_url.clone(),
        );
        forum.push_listener = config.http.is_some();
        Ok(forum)
    }

    /// A forum named `name` signing with `secret` and posting to `post_url` (`None`:
    /// read-only).
    pub fn new(
        name: &str,
        secret: WebhookSecret,
        secret_file: std::path::PathBuf,
        post_url: Option<String>,
    ) -> WebhookForum {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .max_redirects(0)
            .user_agent(concat!("digestd/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        WebhookForum {
            name: name.to_string(),
            secret,
            secret_file,
            post_url,
            push_listener: true,
            agent,
        }
    }

    /// The platform's id of `group`.
    fn remote_group<'g>(&self, group: &'g Group) -> Result<&'g str, ForumError> {
        match &group.source {
            GroupSource::Webhook { remote_id } => Ok(remote_id),
            other => Err(ForumError::Refused(format!(
                "group `{}` is not on webhook forum `{}` ({:?})",
                group.id,
                self.name,
                other.kind()
            ))),
        }
    }

    /// Where to POST, or the refusal (shown to the person in their answer mail) of a
    /// read-only platform.
    fn post_url(&self, group: &Group) -> Result<&str, ForumError> {
        self.post_url.as_deref().ok_or_else(|| {
            ForumError::Refused(format!(
                "{} is read-only here: replies by email cannot be posted to it. Please respond \
                 on the platform itself.",
                group.name
            ))
        })
    }

    /// POSTs `doc` signed to the platform of `group` and reads its answer.
    fn send(&self, group: &Group, doc: &impl serde::Serialize) -> Result<PostedV1, ForumError> {
        let url = self.post_url(group)?;
        let body = serde_json::to_vec(doc)
            .map_err(|e| ForumError::Refused(format!("encoding the request: {e}")))?;
        let timestamp = chrono::Utc::now().timestamp();
        let signature = sign(&self.secret, timestamp, &body);
        let sent = self
            .agent
            .post(url)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .content_type("application/json")
            .send(&body[..]);
        let mut response = sent.map_err(|e| {
            ForumError::Unavailable(format!("forum `{}`: POST {url}: {e}", self.name))
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .unwrap_or_default();
        let decided = decide(status, &text);
        if let Err(e) = &decided {
            tracing::warn!(forum = %self.name, status, error = %e, "webhook post not accepted");
        }
        decided
    }
}

/// What an answer of the platform means (pure).
pub fn decide(status: u16, body: &str) -> Result<PostedV1, ForumError> {
    match status {
        200..=299 => serde_json::from_str::<PostedV1>(body).map_err(|e| {
            ForumError::Unavailable(format!(
                "HTTP {status} without a readable {{\"id\", \"url\"}} answer ({e}); \
                 retrying with the same idempotency_key"
            ))
        }),
        400 | 404 | 409 | 410 | 413 | 422 => Err(ForumError::Refused(format!(
            "the platform refused it: {} (HTTP {status})",
            platform_message(body)
        ))),
        _ => Err(ForumError::Unavailable(format!(
            "the platform answered {status}: {}",
            platform_message(body)
        ))),
    }
}

/// The platform's explanation: `error` or `message` of a JSON answer, else the text, shortened.
fn platform_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["message", "error"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_string))
        });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    if one_line.is_empty() {
        "(no message)".to_string()
    } else {
        one_line
    }
}

impl Forum for WebhookForum {
    /// Posts arrive by push (`POST /hooks/<forum>/posts`): there is never anything to fetch.
    fn fetch_since(
        &self,
        _group: &Group,
        _cursor: Option<&Cursor>,
        _limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        Ok(FetchBatch {
            next_cursor: Cursor(PUSH_CURSOR.to_string()),
            ..FetchBatch::default()
        })
    }

    fn post_reply(
        &self,
        group: &Group,
        thread_remote_id: &str,
        author: &Author,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        let doc = ReplyV1 {
            schema: REPLY_V1,
            group: self.remote_group(group)?,
            thread: thread_remote_id,
            author: AuthorV1 {
                email: &author.email,
                name: &author.name,
            },
            body,
            format: "markdown",
            idempotency_key,
        };
        let posted = self.send(group, &doc)?;
        Ok(Posted {
            remote_thread_id: posted
                .thread
                .unwrap_or_else(|| thread_remote_id.to_string()),
            remote_post_id: posted.id,
            url: posted.url,
        })
    }

    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        let doc = NewThreadV1 {
            schema: THREAD_V1,
            group: self.remote_group(group)?,
            title,
            author: AuthorV1 {
                email: &author.email,
                name: &author.name,
            },
            body,
            format: "markdown",
            idempotency_key,
        };
        let posted = self.send(group, &doc)?;
        let thread = match posted.thread {
            Some(t) => t,
            None => {
                tracing::warn!(forum = %self.name, post = %posted.id,
                    "the platform named no thread for the new thread; using the post's id");
                posted.id.clone()
            }
        };
        Ok(Posted {
            remote_post_id: posted.id,
            remote_thread_id: thread,
            url: posted.url,
        })
    }

    /// There is an `[http]` listener for the pushes, the secret file still reads, and
    /// `post_url` (when set) answers: any answer but 404, 410 or 5xx to a HEAD counts (an
    /// endpoint that takes only POST says 405). Groups cannot be checked: the platform pushes
    /// them.
    fn check_online(&self, groups: &[&Group]) -> Result<(), ForumError> {
        for g in groups {
            self.remote_group(g)?;
        }
        if !self.push_listener {
            return Err(ForumError::Refused(format!(
                "no [http] section: the platform's pushes to /hooks/{}/posts have nowhere to arrive",
                self.name
            )));
        }
        WebhookSecret::from_file(&self.secret_file)
            .map_err(|e| ForumError::Unavailable(e.to_string()))?;
        let Some(url) = &self.post_url else {
            return Ok(());
        };
        let response = self.agent.head(url).call().map_err(|e| {
            ForumError::Unavailable(format!("forum `{}`: post_url {url}: {e}", self.name))
        })?;
        match response.status().as_u16() {
            s @ (404 | 410 | 500..=599) => Err(ForumError::Unavailable(format!(
                "forum `{}`: post_url {url} answered HEAD with {s}",
                self.name
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decide_posted_refused_or_retry() {
        let ok = decide(201, r#"{"id": 9, "url": "https://p/9"}"#).expect("posted");
        assert_eq!((ok.id.as_str(), ok.url.as_str()), ("9", "https://p/9"));
        for s in [400, 404, 409, 410, 413, 422] {
            let e = decide(s, r#"{"error": "no such user"}"#).unwrap_err();
            assert!(!e.is_transient(), "{s}: {e}");
            assert!(e.to_string().contains("no such user"), "{e}");
        }
        for s in [401, 403, 408, 429, 500, 502, 503] {
            assert!(decide(s, "").unwrap_err().is_transient(), "{s}");
        }
        assert!(decide(200, "<html>ok</html>").unwrap_err().is_transient());
        let e = decide(422, "line one\nline two").unwrap_err();
        assert!(
            e.to_string().contains("line one line two (HTTP 422)"),
            "{e}"
        );
    }

    #[test]
    fn a_platform_without_post_url_is_read_only() {
        let secret = WebhookSecret::new(&[b'k'; 32]).expect("key");
        let f = WebhookForum::new("hr", secret, "/nonexistent".into(), None);
        let mut g = Group::local("g", "G");
        g.source = GroupSource::Webhook {
            remote_id: "hr-g".into(),
        };
        let author = Author {
            email: "a@example.org".into(),
            name: "A".into(),
        };
        let e = f.post_reply(&g, "t", &author, "hi", "k").unwrap_err();
        assert!(!e.is_transient());
        assert!(e.to_string().contains("G is read-only here"), "{e}");
        let batch = f.fetch_since(&g, None, 10).expect("empty");
        assert!(batch.posts.is_empty() && !batch.more);
        let mut f = f;
        f.push_listener = false;
        let e = f.check_online(&[&g]).unwrap_err();
        assert!(e.to_string().contains("no [http] section"), "{e}");
    }
}
