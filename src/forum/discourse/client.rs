//! HTTP to a Discourse site: the `Api-Key` / `Api-Username` headers, JSON in and out, and what
//! each status means: 429 waits for `Retry-After` (bounded), 5xx and network failures are
//! retried with backoff on reads, and everything ends as a transient or permanent [`ApiError`].
//!
//! A `POST` is sent once per call: when its answer is lost the post may exist, and only the
//! caller can check that (see `DiscourseForum::post_reply`). A 429 is the exception: Discourse
//! refused it before doing anything, so it is safe to send again.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::wire::ErrorBody;

/// Largest JSON answer read (a topic view with its first chunk of posts is well below).
const MAX_BODY: u64 = 32 * 1024 * 1024;

/// Failures of one API call, already sorted into "retry later" and "for good".
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The site could not be reached or failed for now (network, timeout, 5xx, 429 beyond the
    /// wait bound, malformed JSON, a key that is refused).
    #[error("{0}")]
    Transient(String),
    /// The resource does not exist (404).
    #[error("not found: {0}")]
    NotFound(String),
    /// Discourse refused the request for good; the message says why, in Discourse's words.
    #[error("{0}")]
    Refused(String),
}

/// How hard one call tries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per call (at least 1).
    pub attempts: u32,
    /// A `Retry-After` longer than this is not waited for: the call fails as transient.
    pub max_retry_after: Duration,
    /// First backoff after a 5xx or network failure; doubles per attempt.
    pub backoff: Duration,
    /// Bound on one request (connect, send and read).
    pub timeout: Duration,
    /// Bound on one call with its retries: no retry starts that would end after it.
    pub budget: Duration,
    /// After a call fails for want of the site (network, timeout, 5xx), further calls fail at
    /// once for this long: the other groups on a site that is down do not each wait for it.
    pub cool_down: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            max_retry_after: Duration::from_secs(30),
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(20),
            budget: Duration::from_secs(60),
            cool_down: Duration::from_secs(60),
        }
    }
}

/// A Discourse site and the key digestd uses on it.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    api_key: String,
    api_username: String,
    policy: RetryPolicy,
    /// Until when calls fail at once, and why (see [`RetryPolicy::cool_down`]).
    down: std::sync::Mutex<Option<(std::time::Instant, String)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("api_username", &self.api_username)
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Done(String),
    Retry { wait: Duration, why: String },
    Fail(ApiError),
}

impl Client {
    /// A client for the site at `base` (e.g. `https://forum.example.org`).
    pub fn new(base: &str, api_key: &str, api_username: &str, policy: RetryPolicy) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(policy.timeout))
            .user_agent(concat!("digestd/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            api_key: api_key.trim().to_string(),
            api_username: api_username.to_string(),
            policy,
            down: std::sync::Mutex::new(None),
        }
    }

    /// The site's base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET <base><path>` as the API user, retried per the policy, parsed as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let body = self.run(path, None, None, true)?;
        parse(path, &body)
    }

    /// `POST <base><path>` with a JSON body as `as_user`, sent once (429 aside), parsed as `T`.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        as_user: &str,
        json: &serde_json::Value,
    ) -> Result<T, ApiError> {
        let body = self.run(path, Some(as_user), Some(json), false)?;
        parse(path, &body)
    }

    fn run(
        &self,
        path: &str,
        as_user: Option<&str>,
        json: Option<&serde_json::Value>,
        retry_failures: bool,
    ) -> Result<String, ApiError> {
        if let Some(why) = self.still_down() {
            return Err(ApiError::Transient(why));
        }
        let attempts = self.policy.attempts.max(1);
        let started = std::time::Instant::now();
        let mut backoff = self.policy.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            let outcome = self.once(path, as_user, json);
            // Progress for the daemon's watchdog: each wait here is bounded.
            crate::heartbeat::beat();
            match outcome {
                Outcome::Done(body) => {
                    *self.down_lock() = None;
                    return Ok(body);
                }
                Outcome::Fail(e) => return Err(e),
                Outcome::Retry { wait, why } => {
                    let rate_limited = why.starts_with("rate limited");
                    let wait = if rate_limited { wait } else { backoff };
                    let over_budget =
                        started.elapsed() + wait + self.policy.timeout > self.policy.budget;
                    if !(retry_failures || rate_limited) || attempt == attempts || over_budget {
                        if !rate_limited {
                            self.mark_down(&why);
                        }
                        last = why;
                        break;
                    }
                    tracing::debug!(path, attempt, ?wait, %why, "retrying a Discourse request");
                    std::thread::sleep(wait);
                    backoff = backoff.saturating_mul(2);
                    last = why;
                }
            }
        }
        Err(ApiError::Transient(last))
    }

    fn down_lock(&self) -> std::sync::MutexGuard<'_, Option<(std::time::Instant, String)>> {
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mark_down(&self, why: &str) {
        if !self.policy.cool_down.is_zero() {
            let until = std::time::Instant::now() + self.policy.cool_down;
            *self.down_lock() = Some((until, why.to_string()));
        }
    }

    /// Why calls fail at once for now, if they do.
    fn still_down(&self) -> Option<String> {
        let guard = self.down_lock();
        let (until, why) = guard.as_ref()?;
        let left = until.checked_duration_since(std::time::Instant::now())?;
        Some(format!(
            "{why} (not tried again for another {} s)",
            left.as_secs().max(1)
        ))
    }

    fn once(&self, path: &str, as_user: Option<&str>, json: Option<&serde_json::Value>) -> Outcome {
        let url = format!("{}{path}", self.base);
        let user = as_user.unwrap_or(&self.api_username);
        let result = match json {
            None => self
                .agent
                .get(&url)
                .header("Api-Key", &self.api_key)
                .header("Api-Username", user)
                .header("Accept", "application/json")
                .call(),
            Some(v) => self
                .agent
                .post(&url)
                .header("Api-Key", &self.api_key)
                .header("Api-Username", user)
                .header("Accept", "application/json")
                .send_json(v),
        };
        let mut response = match result {
            Ok(r) => r,
            Err(ureq::Error::BadUri(e)) => {
                return Outcome::Fail(ApiError::Refused(format!("bad URL {url}: {e}")))
            }
            Err(e) => {
                return Outcome::Retry {
                    wait: Duration::ZERO,
                    why: format!("{url}: {e}"),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = match response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
        {
            Ok(b) => b,
            Err(e) => {
                return Outcome::Retry {
                    wait: Duration::ZERO,
                    why: format!("{url}: reading the answer: {e}"),
                }
            }
        };
        classify(&url, status, retry_after, body, self.policy.max_retry_after)
    }
}

/// What a status means (pure, unit-tested).
fn classify(
    url: &str,
    status: u16,
    retry_after: Option<u64>,
    body: String,
    max_wait: Duration,
) -> Outcome {
    let errors = || {
        let parsed: ErrorBody = serde_json::from_str(&body).unwrap_or_default();
        let text = parsed.errors.join("; ");
        (parsed, text)
    };
    match status {
        200..=299 => Outcome::Done(body),
        429 => {
            let (parsed, _) = errors();
            let secs = retry_after
                .or(parsed.extras.and_then(|e| e.wait_seconds))
                .unwrap_or(5);
            let wait = Duration::from_secs(secs);
            if wait > max_wait {
                Outcome::Fail(ApiError::Transient(format!(
                    "rate limited by Discourse for {secs} s at {url}"
                )))
            } else {
                Outcome::Retry {
                    wait,
                    why: format!("rate limited by Discourse at {url} (retry after {secs} s)"),
                }
            }
        }
        500..=599 => Outcome::Retry {
            wait: Duration::ZERO,
            why: format!("Discourse answered {status} at {url}"),
        },
        404 => Outcome::Fail(ApiError::NotFound(url.to_string())),
        401 | 403 => {
            let (parsed, text) = errors();
            if status == 401
                || parsed.error_type.as_deref() == Some("invalid_access")
                    && text.contains("API username or key is invalid")
            {
                // An admin fixes the key; whatever waits stays queued meanwhile.
                Outcome::Fail(ApiError::Transient(format!(
                    "Discourse refused the API key at {url} ({status}{})",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    }
                )))
            } else {
                Outcome::Fail(ApiError::Refused(if text.is_empty() {
                    format!("Discourse did not allow this ({status} at {url})")
                } else {
                    text
                }))
            }
        }
        _ => {
            let (_, text) = errors();
            Outcome::Fail(ApiError::Refused(if text.is_empty() {
                format!("Discourse answered {status} at {url}")
            } else {
                text
            }))
        }
    }
}

fn parse<T: DeserializeOwned>(path: &str, body: &str) -> Result<T, ApiError> {
    serde_json::from_str(body)
        .map_err(|e| ApiError::Transient(format!("malformed JSON from Discourse at {path}: {e}")))
}

/// Percent-encodes one path segment or query value.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: u16, retry_after: Option<u64>, body: &str) -> Outcome {
        classify(
            "u",
            status,
            retry_after,
            body.into(),
            Duration::from_secs(10),
        )
    }

    #[test]
    fn statuses_sort_into_retry_transient_and_refused() {
        assert!(matches!(outcome(200, None, "{}"), Outcome::Done(_)));
        match outcome(429, Some(2), "") {
            Outcome::Retry { wait, .. } => assert_eq!(wait, Duration::from_secs(2)),
            _ => panic!("429 is retried"),
        }
        let body =
            r#"{"errors":["slow down"],"error_type":"rate_limit","extras":{"wait_seconds":3}}"#;
        match outcome(429, None, body) {
            Outcome::Retry { wait, .. } => assert_eq!(wait, Duration::from_secs(3)),
            _ => panic!("429 without header uses wait_seconds"),
        }
        assert!(matches!(
            outcome(429, Some(3600), ""),
            Outcome::Fail(ApiError::Transient(_))
        ));
        assert!(matches!(outcome(502, None, ""), Outcome::Retry { .. }));
        assert!(matches!(
            outcome(404, None, ""),
            Outcome::Fail(ApiError::NotFound(_))
        ));
        let closed = r#"{"errors":["This topic is closed"],"error_type":"invalid_parameters"}"#;
        match outcome(422, None, closed) {
            Outcome::Fail(ApiError::Refused(m)) => assert_eq!(m, "This topic is closed"),
            _ => panic!("422 is refused"),
        }
        let bad_key = r#"{"errors":["You are not permitted to view the requested resource. The API username or key is invalid."],"error_type":"invalid_access"}"#;
        assert!(matches!(
            outcome(403, None, bad_key),
            Outcome::Fail(ApiError::Transient(_))
        ));
        let forbidden = r#"{"errors":["You are not permitted to view the requested resource."],"error_type":"invalid_access"}"#;
        assert!(matches!(
            outcome(403, None, forbidden),
            Outcome::Fail(ApiError::Refused(_))
        ));
    }

    #[test]
    fn malformed_json_is_transient() {
        let r: Result<serde_json::Value, _> = parse("/x.json", "<html>oops");
        assert!(matches!(r, Err(ApiError::Transient(m)) if m.contains("malformed JSON")));
    }
}
