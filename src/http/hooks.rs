//! `POST /hooks/<forum>/posts`: posts pushed by a bespoke platform (`kind = "webhook"`).
//!
//! Checked in this order, each refusal logged and counted, nothing stored before every check
//! passed: the forum exists and is a webhook forum (404), its secret was readable (503), the
//! signature and timestamp verify (401, [`crate::forum::webhook::signature`]), the body is a
//! `digestd.post.v1` document or an array of them (400, naming the field), every group it names
//! is configured on that forum (404). Then the posts are stored through
//! [`crate::store::Store::store_batch`], idempotent on (group, post id): the same delivery twice
//! answers 200 both times, the second with `"result": "duplicate"`.
//!
//! The forums and groups follow the daemon's configuration: [`Webhooks::replace`] after a
//! reload.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::json;

use super::server::{with_store_mut, AppState};
use crate::config::{Config, ForumSettings};
use crate::forum::webhook::mapping::{batches, parse_posts};
use crate::forum::webhook::signature::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::forum::webhook::WebhookSecret;
use crate::model::{Group, GroupSource};

/// Largest pushed request body (a batch of posts).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What the route knows of one webhook forum.
#[derive(Debug)]
struct HookForum {
    /// The key, or why it could not be read.
    secret: Result<WebhookSecret, String>,
    /// Configured groups by the platform's id of them.
    groups: HashMap<String, Group>,
}

/// The webhook forums of one configuration.
#[derive(Debug, Default)]
pub struct WebhookTable {
    forums: HashMap<String, HookForum>,
}

impl WebhookTable {
    /// The webhook forums of `config` with their groups; reads each secret file.
    pub fn from_config(config: &Config) -> WebhookTable {
        let mut forums = HashMap::new();
        for fc in &config.forums {
            let ForumSettings::Webhook(settings) = &fc.settings else {
                continue;
            };
            let secret = WebhookSecret::from_file(&settings.secret_file).map_err(|e| {
                tracing::error!(forum = %fc.name, error = %e, "webhook forum cannot verify pushes");
                e.to_string()
            });
            let groups = config
                .groups
                .iter()
                .filter(|g| g.forum_name == fc.name)
                .filter_map(|g| match &g.source {
                    GroupSource::Webhook { remote_id } => Some((remote_id.clone(), g.clone())),
                    _ => None,
                })
                .collect();
            forums.insert(fc.name.clone(), HookForum { secret, groups });
        }
        WebhookTable { forums }
    }
}

/// The table the route reads, swappable while the server runs.
#[derive(Debug, Clone, Default)]
pub struct Webhooks(Arc<RwLock<Arc<WebhookTable>>>);

impl Webhooks {
    /// Serves `table`.
    pub fn new(table: WebhookTable) -> Webhooks {
        Webhooks(Arc::new(RwLock::new(Arc::new(table))))
    }

    /// Serves `table` from now on (after a configuration reload).
    pub fn replace(&self, table: WebhookTable) {
        match self.0.write() {
            Ok(mut t) => *t = Arc::new(table),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(table),
        }
    }

    fn current(&self) -> Arc<WebhookTable> {
        match self.0.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The route, with its own body limit.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/hooks/{forum}/posts", post(receive_posts))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A refusal: logged, counted, answered as JSON.
fn refuse(
    state: &AppState,
    forum: &str,
    status: StatusCode,
    error: &'static str,
    message: String,
    field: Option<String>,
) -> Response {
    tracing::warn!(forum, status = status.as_u16(), error, field = field.as_deref(), %message,
        "webhook push refused; nothing stored");
    state.metrics.webhook(forum, error, 0, 0);
    let mut body = json!({ "error": error, "message": message });
    if let Some(f) = field {
        body["field"] = json!(f);
    }
    reply(status, &body)
}

fn reply(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{body}\n"),
    )
        .into_response()
}

async fn receive_posts(
    State(state): State<AppState>,
    UrlPath(forum): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let table = state.webhooks.current();
    let Some(hook) = table.forums.get(&forum) else {
        return refuse(
            &state,
            "(unknown)",
            StatusCode::NOT_FOUND,
            "unknown_forum",
            format!("no webhook forum named {forum:?} is configured"),
            None,
        );
    };
    let secret = match &hook.secret {
        Ok(s) => s,
        Err(e) => {
            return refuse(
                &state,
                &forum,
                StatusCode::SERVICE_UNAVAILABLE,
                "secret_unreadable",
                format!("this forum's secret cannot be read ({e}); retry later"),
                None,
            )
        }
    };
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = verify(
        secret,
        header_str(TIMESTAMP_HEADER),
        header_str(SIGNATURE_HEADER),
        &body,
        now,
    ) {
        return refuse(
            &state,
            &forum,
            StatusCode::UNAUTHORIZED,
            e.label(),
            e.to_string(),
            None,
        );
    }
    let posts = match parse_posts(&body) {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                &state,
                &forum,
                StatusCode::BAD_REQUEST,
                "bad_json",
                e.message,
                Some(e.field),
            )
        }
    };
    let mut to_store = Vec::new();
    for gb in batches(&posts) {
        match hook.groups.get(&gb.remote_group) {
            Some(group) => to_store.push((group.clone(), gb.batch)),
            None => {
                return refuse(
                    &state,
                    &forum,
                    StatusCode::NOT_FOUND,
                    "unknown_group",
                    format!(
                        "no group with remote_id {:?} on forum {forum:?}",
                        gb.remote_group
                    ),
                    Some("group".into()),
                )
            }
        }
    }
    let total = posts.len();
    let stored = with_store_mut(&state, move |store| {
        let mut n = 0;
        for (group, batch) in &to_store {
            n += store.store_batch(group, batch)?;
        }
        Ok(n)
    })
    .await;
    match stored {
        Ok(stored) => {
            let duplicates = total.saturating_sub(stored);
            let result = if stored > 0 { "stored" } else { "duplicate" };
            tracing::info!(forum, stored, duplicates, "webhook posts received");
            state
                .metrics
                .webhook(&forum, result, stored as u64, duplicates as u64);
            reply(
                StatusCode::OK,
                &json!({ "result": result, "stored": stored, "duplicates": duplicates }),
            )
        }
        Err(e) => {
            tracing::error!(forum, error = %e, "storing webhook posts failed; nothing stored");
            state.metrics.webhook(&forum, "store_error", 0, 0);
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "error": "store_error", "message": "storing failed; retry later" }),
            )
        }
    }
}
