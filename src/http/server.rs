//! The axum service: routes, handlers, and the bind/run life cycle.
//!
//! The store handle is a separate SQLite connection (WAL lets it sit beside the daemon's),
//! used under a mutex from blocking tasks so SQLite never stalls the async workers.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::config::{HttpConfig, Secret, SecretError};
use super::hooks::Webhooks;
use super::metrics::{render, StoreGauges};
use super::prefs::Preferences;
use super::token::{self, TokenError, UnsubscribeClaim};
use crate::html_escape::escape_html;
use crate::metrics::Metrics;
use crate::store::{Redeemed, Store, StoreError, StoreLocation, UsedToken};

/// Errors of the HTTP endpoint's setup and run.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listen address could not be bound.
    #[error("binding the HTTP endpoint to {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened or prepared.
    #[error("HTTP endpoint store {}: {source}", .path.display())]
    Store {
        /// The store file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// The signing key could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Serving failed.
    #[error("HTTP endpoint: {0}")]
    Serve(std::io::Error),
}

/// What the handlers share.
#[derive(Clone)]
pub(super) struct AppState {
    store: Arc<Mutex<Store>>,
    pub(super) secret: Option<Arc<Secret>>,
    max_age: chrono::Duration,
    pub(super) prefs_max_age: chrono::Duration,
    pub(super) metrics: &'static Metrics,
    pub(super) webhooks: Webhooks,
    pub(super) preferences: Preferences,
}

/// A bound, not yet running endpoint (bind first to learn the port, then [`Server::run`]).
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .finish()
    }
}

impl Server {
    /// Opens the store at `store` (a SQLite file's path, or a [`StoreLocation`]), reads the
    /// key, binds `config.listen` (no webhook forums: `/hooks/...` answers 404).
    pub async fn bind(
        config: &HttpConfig,
        store: impl Into<StoreLocation>,
        metrics: &'static Metrics,
    ) -> Result<Server, HttpError> {
        Self::bind_with_webhooks(config, store, metrics, Webhooks::default()).await
    }

    /// [`Server::bind`] also taking pushes for the webhook forums in `webhooks`.
    pub async fn bind_with_webhooks(
        config: &HttpConfig,
        store: impl Into<StoreLocation>,
        metrics: &'static Metrics,
        webhooks: Webhooks,
    ) -> Result<Server, HttpError> {
        Self::bind_full(config, store, metrics, webhooks, Preferences::default()).await
    }

    /// [`Server::bind_with_webhooks`] also serving the preferences page of `preferences` (at
    /// `/p/<token>`, when a key is configured).
    pub async fn bind_full(
        config: &HttpConfig,
        store: impl Into<StoreLocation>,
        metrics: &'static Metrics,
        webhooks: Webhooks,
        preferences: Preferences,
    ) -> Result<Server, HttpError> {
        let location: StoreLocation = store.into();
        let store_err = |source| HttpError::Store {
            path: location.display().into(),
            source,
        };
        let store = Store::open_at(&location).map_err(store_err)?;
        let secret = config.load_secret()?.map(Arc::new);
        let state = AppState {
            store: Arc::new(Mutex::new(store)),
            secret,
            max_age: chrono::Duration::days(i64::from(config.token_max_age_days)),
            prefs_max_age: chrono::Duration::days(i64::from(config.preferences_link_days)),
            metrics,
            webhooks,
            preferences,
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| HttpError::Bind {
                addr: config.listen,
                source,
            })?;
        Ok(Server {
            listener,
            router: router(state),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, HttpError> {
        self.listener.local_addr().map_err(HttpError::Serve)
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HttpError> {
        tracing::info!(addr = ?self.listener.local_addr().ok(), "HTTP endpoint listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(HttpError::Serve)
    }
}

/// Binds and serves the endpoint until `shutdown` completes.
pub async fn serve(
    config: &HttpConfig,
    store: impl Into<StoreLocation>,
    metrics: &'static Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    Server::bind(config, store, metrics)
        .await?
        .run(shutdown)
        .await
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe_post))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .merge(super::hooks::routes())
        .merge(super::prefs::routes())
        .with_state(state)
}

/// Runs `f` on the store in a blocking task.
pub(super) async fn with_store<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let guard = store
            .lock()
            .map_err(|_| "store lock poisoned".to_string())?;
        f(&guard).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Runs `f` on the store, mutably, in a blocking task.
pub(super) async fn with_store_mut<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store
            .lock()
            .map_err(|_| "store lock poisoned".to_string())?;
        f(&mut guard).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn healthz(State(state): State<AppState>) -> Response {
    match with_store(&state, |s| s.schema_version()).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "healthz: store check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let (gauges, up) = match with_store(&state, StoreGauges::read).await {
        Ok(g) => (g, 1),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: store gauges unavailable");
            (StoreGauges::default(), 0)
        }
    };
    let mut body = render(state.metrics, &gauges);
    body.push_str("# HELP digestd_store_up Whether the store answered this scrape.\n");
    body.push_str("# TYPE digestd_store_up gauge\n");
    body.push_str(&format!("digestd_store_up {up}\n"));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Why a token was refused, as the page to show.
struct Refusal {
    status: StatusCode,
    title: &'static str,
    text: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        page(self.status, self.title, self.text)
    }
}

/// Verifies a token or says why not.
fn check_token(state: &AppState, token: &str) -> Result<UnsubscribeClaim, Refusal> {
    let Some(secret) = &state.secret else {
        return Err(Refusal {
            status: StatusCode::NOT_FOUND,
            title: "Not available",
            text: "One-click unsubscribe is not configured here. Reply to a digest with \
             <code>unsubscribe</code> instead.",
        });
    };
    token::verify(secret, token, chrono::Utc::now(), state.max_age).map_err(|e| {
        let (status, text) = match e {
            TokenError::Malformed => (StatusCode::BAD_REQUEST, "This link is not valid."),
            TokenError::BadSignature => (StatusCode::FORBIDDEN, "This link is not valid."),
            TokenError::Expired | TokenError::FromTheFuture => (
                StatusCode::GONE,
                "This link has expired. Reply to a recent digest with <code>unsubscribe</code> \
                 instead.",
            ),
        };
        tracing::info!(reason = %e, "unsubscribe link refused");
        Refusal {
            status,
            title: "Link not valid",
            text,
        }
    })
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    UrlPath(token): UrlPath<String>,
) -> Response {
    let claim = match check_token(&state, &token) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let nonce = claim.nonce.clone();
    match with_store(&state, move |s| s.unsubscribe_token_used(&nonce)).await {
        Ok(true) => page(
            StatusCode::GONE,
            "Already used",
            "This link has already been used: you are unsubscribed from these digests.",
        ),
        Ok(false) => page(
            StatusCode::OK,
            "Unsubscribe",
            &format!(
                "Stop sending these digests (<code>{}</code>) to <strong>{}</strong>? \
                 Digests on other schedules keep coming.\
                 <form method=\"post\" action=\"\">\
                 <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\">Unsubscribe</button></form>",
                escape_html(&claim.schedule),
                escape_html(&claim.email)
            ),
        ),
        Err(e) => store_failure(&e),
    }
}

async fn unsubscribe_post(
    State(state): State<AppState>,
    UrlPath(token): UrlPath<String>,
    body: Bytes,
) -> Response {
    if !is_one_click(&body) {
        return page(
            StatusCode::BAD_REQUEST,
            "Bad request",
            "Expected the body <code>List-Unsubscribe=One-Click</code> (RFC 8058).",
        );
    }
    let claim = match check_token(&state, &token) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let for_store = claim.clone();
    match with_store(&state, move |s| {
        let used = UsedToken {
            nonce: &for_store.nonce,
            email: &for_store.email,
            schedule: &for_store.schedule,
            issued_at: for_store.issued_at,
        };
        s.redeem_unsubscribe(&used, chrono::Utc::now())
    })
    .await
    {
        Ok(Redeemed::Unsubscribed) => {
            state.metrics.unsubscribed();
            tracing::info!(
                person = %claim.email,
                schedule = %claim.schedule,
                "unsubscribed by one-click link"
            );
            page(
                StatusCode::OK,
                "Unsubscribed",
                &format!(
                    "<strong>{}</strong> will get no more of these digests (<code>{}</code>).",
                    escape_html(&claim.email),
                    escape_html(&claim.schedule)
                ),
            )
        }
        Ok(Redeemed::AlreadyUsed) => page(
            StatusCode::GONE,
            "Already used",
            "This link has already been used.",
        ),
        Ok(Redeemed::UnknownPerson) => page(
            StatusCode::NOT_FOUND,
            "Unknown address",
            "This address does not receive digests.",
        ),
        Err(e) => store_failure(&e),
    }
}

fn store_failure(e: &str) -> Response {
    tracing::warn!(error = %e, "unsubscribe: store failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        "Something went wrong on our side; nothing was changed. Please try again later.",
    )
}

/// True when an RFC 8058 body says `List-Unsubscribe=One-Click` (urlencoded or multipart).
fn is_one_click(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    if text
        .trim()
        .split('&')
        .any(|pair| pair == token::LIST_UNSUBSCRIBE_POST)
    {
        return true;
    }
    // multipart/form-data: a part named List-Unsubscribe whose value is One-Click.
    text.split("name=\"List-Unsubscribe\"")
        .nth(1)
        .and_then(|rest| rest.split("\r\n\r\n").nth(1).or(rest.split("\n\n").nth(1)))
        .is_some_and(|value| value.trim_start().starts_with("One-Click"))
}

fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"robots\" content=\"noindex\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">\
         <h1>{t}</h1><p>{body_html}</p></body></html>\n",
        t = escape_html(title)
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_click_bodies() {
        assert!(is_one_click(b"List-Unsubscribe=One-Click"));
        assert!(is_one_click(b"a=b&List-Unsubscribe=One-Click\r\n"));
        assert!(is_one_click(
            b"--XX\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XX--\r\n"
        ));
        assert!(!is_one_click(b""));
        assert!(!is_one_click(b"List-Unsubscribe=Other"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
