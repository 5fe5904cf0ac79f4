//! A feed publisher on 127.0.0.1: serves documents by path with `ETag` / `Last-Modified`,
//! answers `304 Not Modified` to a matching conditional GET like any web server, and records
//! the conditional headers of every request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One document and its validators.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The bytes served.
    pub body: String,
    /// `Content-Type`.
    pub content_type: String,
    /// `ETag`, when the publisher sends one.
    pub etag: Option<String>,
    /// `Last-Modified`, when the publisher sends one.
    pub last_modified: Option<String>,
    /// Status to answer instead (e.g. 500).
    pub status: u16,
    /// `Authorization` value required (401 without it), for feeds behind a login.
    pub authorization: Option<String>,
}

impl Doc {
    /// A 200 document with an ETag.
    pub fn xml(body: &str, etag: &str) -> Doc {
        Doc {
            body: body.to_string(),
            content_type: "application/rss+xml; charset=UTF-8".into(),
            etag: Some(etag.to_string()),
            last_modified: None,
            status: 200,
            authorization: None,
        }
    }
}

/// A request as the publisher saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path.
    pub path: String,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<String>,
    /// The status answered.
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    docs: HashMap<String, Doc>,
    seen: Vec<Seen>,
}

/// The running publisher; stops when dropped.
pub struct FeedServer {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FeedServer {
    /// Starts an empty publisher.
    pub fn start() -> FeedServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        listener.set_nonblocking(true).expect("nonblocking");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = inner.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
                    let inner = shared.clone();
                    async move { serve(inner, uri, headers) }
                });
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        FeedServer {
            addr,
            inner,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The URL of `path` (starting with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `doc` at `path` from now on.
    pub fn put(&self, path: &str, doc: Doc) {
        self.lock().docs.insert(path.to_string(), doc);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(inner: Arc<Mutex<Inner>>, uri: Uri, headers: HeaderMap) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut inner = inner.lock().unwrap_or_else(|p| p.into_inner());
    let path = uri.path().to_string();
    let doc = inner.docs.get(&path).cloned();
    let if_none_match = header("if-none-match");
    let if_modified_since = header("if-modified-since");
    let response = match doc {
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
        Some(d) if d.authorization.is_some() && d.authorization != header("authorization") => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"intranet\"")],
            "login required",
        )
            .into_response(),
        Some(d) if d.status != 200 => (
            StatusCode::from_u16(d.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "error",
        )
            .into_response(),
        Some(d) => {
            let unchanged = match (
                &d.etag,
                &if_none_match,
                &d.last_modified,
                &if_modified_since,
            ) {
                (Some(e), Some(inm), _, _) => e == inm,
                (_, None, Some(lm), Some(ims)) => lm == ims,
                _ => false,
            };
            let mut r = if unchanged {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                (
                    StatusCode::OK,
                    [("content-type", d.content_type.clone())],
                    d.body.clone(),
                )
                    .into_response()
            };
            if let Some(e) = &d.etag {
                r.headers_mut()
                    .insert("etag", e.parse().expect("etag header"));
            }
            if let Some(lm) = &d.last_modified {
                r.headers_mut()
                    .insert("last-modified", lm.parse().expect("last-modified header"));
            }
            r
        }
    };
    inner.seen.push(Seen {
        path,
        if_none_match,
        if_modified_since,
        status: response.status().as_u16(),
    });
    response
}
