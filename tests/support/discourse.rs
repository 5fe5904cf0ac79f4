//! A stand-in Discourse site on 127.0.0.1 (Discourse itself cannot be installed here).
//!
//! It answers the endpoints digestd uses with the JSON shapes of Discourse's published API
//! documentation: every answer is a fixture from `tests/fixtures/discourse/` (see its README for
//! where each shape comes from) with the fields digestd reads filled in from the fake's state.
//! It checks `Api-Key`, posts as the `Api-Username` given, records every request, and can be
//! told to misbehave on the next matching request: a status (429 with `Retry-After`, 500), a
//! malformed body, or a delay before (or after storing and before answering).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A category of the fake site.
#[derive(Debug, Clone)]
pub struct FakeCategory {
    /// Id.
    pub id: u64,
    /// Slug.
    pub slug: String,
}

/// A topic of the fake site.
#[derive(Debug, Clone)]
pub struct FakeTopic {
    /// Id.
    pub id: u64,
    /// Title.
    pub title: String,
    /// Category id.
    pub category_id: u64,
    /// Tag names.
    pub tags: Vec<String>,
    /// Pinned in its category.
    pub pinned: bool,
    /// Closed: replies get 422.
    pub closed: bool,
    /// `external_id` given at creation.
    pub external_id: Option<String>,
    /// Post number of the accepted answer (discourse-solved).
    pub accepted: Option<u32>,
    /// When it was opened.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A post of the fake site.
#[derive(Debug, Clone)]
pub struct FakePost {
    /// Site-wide id.
    pub id: u64,
    /// Topic id.
    pub topic_id: u64,
    /// Number in the topic.
    pub post_number: u32,
    /// Author.
    pub username: String,
    /// Markdown source.
    pub raw: String,
    /// Likes.
    pub likes: u32,
    /// Replies.
    pub reply_count: u32,
    /// 1 regular, 4 whisper, ...
    pub post_type: u32,
    /// When written.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A user of the fake site.
#[derive(Debug, Clone)]
pub struct FakeUser {
    /// Username.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Primary address.
    pub email: String,
}

/// Misbehaviour for one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, `Retry-After` and Discourse's error body.
    Status(u16, Option<u64>),
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Wait this long, then handle the request.
    DelayBefore(Duration),
    /// Handle the request (a post is stored), then wait this long before answering.
    DelayAfter(Duration),
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `Api-Username` header.
    pub api_username: Option<String>,
    /// JSON body of a POST.
    pub body: Option<Value>,
}

/// The fake's state, open to tests through [`FakeDiscourse::state`].
#[derive(Debug, Default)]
pub struct State {
    /// The only key accepted.
    pub api_key: String,
    /// Categories.
    pub categories: Vec<FakeCategory>,
    /// Topics.
    pub topics: Vec<FakeTopic>,
    /// Posts.
    pub posts: Vec<FakePost>,
    /// Users.
    pub users: Vec<FakeUser>,
    /// Topics per list page (Discourse: 30).
    pub per_page: usize,
    /// Posts in a topic view's first chunk (Discourse: 20).
    pub chunk_size: usize,
    /// Pending faults: (method, path prefix, fault), first match used once.
    pub faults: VecDeque<(String, String, Fault)>,
    /// Every request, in order.
    pub requests: Vec<Recorded>,
}

impl State {
    /// Adds a topic with its first post; returns the topic id.
    pub fn add_topic(&mut self, category_id: u64, title: &str, username: &str, raw: &str) -> u64 {
        let id = self.topics.iter().map(|t| t.id).max().unwrap_or(100) + 1;
        self.topics.push(FakeTopic {
            id,
            title: title.to_string(),
            category_id,
            tags: Vec::new(),
            pinned: false,
            closed: false,
            external_id: None,
            accepted: None,
            created_at: chrono::Utc::now(),
        });
        self.add_post(id, username, raw);
        id
    }

    /// Adds a post to a topic; returns the post id.
    pub fn add_post(&mut self, topic_id: u64, username: &str, raw: &str) -> u64 {
        let id = self.posts.iter().map(|p| p.id).max().unwrap_or(1000) + 1;
        let number = self.posts.iter().filter(|p| p.topic_id == topic_id).count() as u32 + 1;
        self.posts.push(FakePost {
            id,
            topic_id,
            post_number: number,
            username: username.to_string(),
            raw: raw.to_string(),
            likes: 0,
            reply_count: 0,
            post_type: 1,
            created_at: chrono::Utc::now(),
        });
        id
    }

    /// Queues a fault for the next `method` request whose path starts with `prefix`.
    pub fn fail_next(&mut self, method: &str, prefix: &str, fault: Fault) {
        self.faults
            .push_back((method.to_string(), prefix.to_string(), fault));
    }

    /// Requests made with `method` whose path starts with `prefix`.
    pub fn requests_to(&self, method: &str, prefix: &str) -> Vec<Recorded> {
        self.requests
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .cloned()
            .collect()
    }
}

/// The running fake; stops when dropped.
pub struct FakeDiscourse {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDiscourse {
    /// Starts a site with categories `youth-care` (5) and `planning` (6), users anna and
    /// bert (`<name>@example.org`), and `key` as its API key.
    pub fn start(key: &str) -> FakeDiscourse {
        let state = Arc::new(Mutex::new(State {
            api_key: key.to_string(),
            categories: vec![
                FakeCategory {
                    id: 5,
                    slug: "youth-care".into(),
                },
                FakeCategory {
                    id: 6,
                    slug: "planning".into(),
                },
            ],
            users: ["anna", "bert"]
                .iter()
                .map(|u| FakeUser {
                    username: u.to_string(),
                    name: format!("{}{}", u[..1].to_uppercase(), &u[1..]),
                    email: format!("{u}@example.org"),
                })
                .collect(),
            per_page: 30,
            chunk_size: 20,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        listener.set_nonblocking(true).expect("nonblocking");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let state = shared.clone();
                        async move { handle(state, method, uri, headers, body).await }
                    },
                );
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        FakeDiscourse {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The state, locked.
    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FakeDiscourse {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/discourse")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    if let Some(o) = v.as_object_mut() {
        o.remove("_source");
    }
    v
}

/// Sets `fields` on a copy of `template`.
fn filled(template: &Value, fields: Value) -> Value {
    let mut out = template.clone();
    if let (Some(o), Some(f)) = (out.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            o.insert(k.clone(), v.clone());
        }
    }
    out
}

fn error(status: u16, message: &str, error_type: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [("content-type", "application/json")],
        json!({"errors": [message], "error_type": error_type}).to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let fault = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            api_username: header("api-username"),
            body: serde_json::from_slice(&body).ok(),
        });
        let at = s
            .faults
            .iter()
            .position(|(m, p, _)| *m == method.as_str() && path.starts_with(p.as_str()));
        at.and_then(|i| s.faults.remove(i)).map(|(_, _, f)| f)
    };
    match fault {
        Some(Fault::Status(code, retry_after)) => {
            let mut r = if code == 429 {
                let mut r = error(
                    429,
                    "You’ve performed this action too many times. Please wait a few seconds before trying again.",
                    "rate_limit",
                );
                *r.body_mut() = json!({"errors": ["You’ve performed this action too many times."], "error_type": "rate_limit", "extras": {"wait_seconds": retry_after.unwrap_or(1)}}).to_string().into();
                r
            } else {
                (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "<html><body><h1>Oops</h1></body></html>",
                )
                    .into_response()
            };
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().expect("header value"));
            }
            return r;
        }
        Some(Fault::Malformed) => {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"topic_list\": {\"topics\": [",
            )
                .into_response()
        }
        Some(Fault::DelayBefore(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let response = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        if header("api-key").as_deref() != Some(s.api_key.as_str()) {
            error(
                403,
                "You are not permitted to view the requested resource. The API username or key is invalid.",
                "invalid_access",
            )
        } else {
            route(&mut s, &method, &uri, header("api-username"), &body)
        }
    };
    if let Some(Fault::DelayAfter(d)) = fault {
        tokio::time::sleep(d).await;
    }
    response
}

fn query_values(uri: &Uri, key: &str) -> Vec<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn route(
    s: &mut State,
    method: &Method,
    uri: &Uri,
    username: Option<String>,
    body: &[u8],
) -> Response {
    let segs: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["categories.json"]) => categories(s),
        ("GET", ["c", _slug, id]) => match id.strip_suffix(".json").and_then(|i| i.parse().ok()) {
            Some(id) => topic_list(s, id, uri),
            None => error(
                404,
                "The requested URL or resource could not be found.",
                "not_found",
            ),
        },
        ("GET", ["t", "external_id", ext]) => {
            let ext = ext.trim_end_matches(".json");
            match s
                .topics
                .iter()
                .find(|t| t.external_id.as_deref() == Some(ext))
            {
                Some(t) => (
                    StatusCode::MOVED_PERMANENTLY,
                    [("location", format!("/t/{}.json", t.id))],
                )
                    .into_response(),
                None => error(
                    404,
                    "The requested URL or resource could not be found.",
                    "not_found",
                ),
            }
        }
        ("GET", ["t", id]) => match id.trim_end_matches(".json").parse() {
            Ok(id) => topic_view(s, id),
            Err(_) => error(
                404,
                "The requested URL or resource could not be found.",
                "not_found",
            ),
        },
        ("GET", ["t", id, "posts.json"]) => {
            let ids: Vec<u64> = query_values(uri, "post_ids[]")
                .iter()
                .filter_map(|v| v.parse().ok())
                .collect();
            let id: u64 = id.parse().unwrap_or(0);
            let template = fixture("topic_posts.json");
            let item = template["post_stream"]["posts"][0].clone();
            let posts: Vec<Value> = s
                .posts
                .iter()
                .filter(|p| p.topic_id == id && ids.contains(&p.id))
                .map(|p| post_json(s, &item, p))
                .collect();
            ok(filled(&template, json!({"post_stream": {"posts": posts}})))
        }
        ("GET", ["posts", id]) => {
            let id: u64 = id.trim_end_matches(".json").parse().unwrap_or(0);
            match s.posts.iter().find(|p| p.id == id) {
                Some(p) => ok(filled(
                    &fixture("post_show.json"),
                    json!({"id": p.id, "username": p.username, "raw": p.raw, "topic_id": p.topic_id,
                           "post_number": p.post_number, "created_at": p.created_at.to_rfc3339(),
                           "cooked": cooked(&p.raw)}),
                )),
                None => error(
                    404,
                    "The requested URL or resource could not be found.",
                    "not_found",
                ),
            }
        }
        ("GET", ["u", user, "emails.json"]) => match s.users.iter().find(|u| u.username == *user) {
            Some(u) => ok(filled(
                &fixture("user_emails.json"),
                json!({"email": u.email, "secondary_emails": [], "unconfirmed_emails": [], "associated_accounts": []}),
            )),
            None => error(
                404,
                "The requested URL or resource could not be found.",
                "not_found",
            ),
        },
        ("GET", ["admin", "users", "list", _flag]) => {
            let wanted = query_values(uri, "email").first().map(|e| e.to_lowercase());
            let template = fixture("admin_users_list.json");
            let item = template["body"][0].clone();
            let users: Vec<Value> = s
                .users
                .iter()
                .filter(|u| wanted.as_deref().is_none_or(|w| u.email.eq_ignore_ascii_case(w)))
                .enumerate()
                .map(|(i, u)| filled(&item, json!({"id": i + 1, "username": u.username, "name": u.name, "email": u.email, "active": true, "staged": false})))
                .collect();
            ok(Value::Array(users))
        }
        ("POST", ["posts.json"]) => create_post(s, username, body),
        _ => error(
            404,
            "The requested URL or resource could not be found.",
            "not_found",
        ),
    }
}

fn categories(s: &State) -> Response {
    let template = fixture("categories.json");
    let item = template["category_list"]["categories"][0].clone();
    let cats: Vec<Value> = s
        .categories
        .iter()
        .map(|c| {
            filled(
                &item,
                json!({"id": c.id, "slug": c.slug, "name": c.slug, "subcategory_list": []}),
            )
        })
        .collect();
    let mut v = template;
    v["category_list"]["categories"] = Value::Array(cats);
    ok(v)
}

fn bumped(s: &State, topic: &FakeTopic) -> chrono::DateTime<chrono::Utc> {
    s.posts
        .iter()
        .filter(|p| p.topic_id == topic.id)
        .map(|p| p.created_at)
        .max()
        .unwrap_or(topic.created_at)
}

fn slug(title: &str) -> String {
    title
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

fn tag_objects(tags: &[String]) -> Value {
    Value::Array(
        tags.iter()
            .enumerate()
            .map(|(i, t)| json!({"id": i + 1, "name": t, "slug": t}))
            .collect(),
    )
}

fn topic_list(s: &State, category_id: u64, uri: &Uri) -> Response {
    let Some(cat) = s.categories.iter().find(|c| c.id == category_id) else {
        return error(
            404,
            "The requested URL or resource could not be found.",
            "not_found",
        );
    };
    let page: usize = query_values(uri, "page")
        .first()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mut topics: Vec<&FakeTopic> = s
        .topics
        .iter()
        .filter(|t| t.category_id == category_id)
        .collect();
    topics.sort_by_key(|t| (!t.pinned, std::cmp::Reverse(bumped(s, t))));
    let template = fixture("category_topics.json");
    let item = template["topic_list"]["topics"][0].clone();
    let per_page = s.per_page.max(1);
    let chunk: Vec<Value> = topics
        .iter()
        .skip(page * per_page)
        .take(per_page)
        .map(|t| {
            let count = s.posts.iter().filter(|p| p.topic_id == t.id).count();
            // Topic lists carry tag names (objects since Discourse 3.4; names before).
            filled(&item, json!({"id": t.id, "title": t.title, "fancy_title": t.title, "slug": slug(&t.title),
                "posts_count": count, "highest_post_number": count, "created_at": t.created_at.to_rfc3339(),
                "last_posted_at": bumped(s, t).to_rfc3339(), "bumped_at": bumped(s, t).to_rfc3339(),
                "pinned": t.pinned, "closed": t.closed, "category_id": t.category_id, "tags": t.tags}))
        })
        .collect();
    let mut v = template;
    v["topic_list"]["topics"] = Value::Array(chunk);
    v["topic_list"]["per_page"] = json!(per_page);
    if topics.len() > (page + 1) * per_page {
        v["topic_list"]["more_topics_url"] =
            json!(format!("/c/{}/{}?page={}", cat.slug, cat.id, page + 1));
    }
    ok(v)
}

fn cooked(raw: &str) -> String {
    format!(
        "<p>{}</p>",
        raw.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    )
}

fn post_json(s: &State, item: &Value, p: &FakePost) -> Value {
    let topic = s.topics.iter().find(|t| t.id == p.topic_id);
    let name = s
        .users
        .iter()
        .find(|u| u.username == p.username)
        .map(|u| u.name.clone());
    let mut actions = vec![json!({"id": 2, "can_act": true})];
    if p.likes > 0 {
        actions[0] = json!({"id": 2, "count": p.likes, "can_act": true});
    }
    let accepted = topic.and_then(|t| t.accepted) == Some(p.post_number);
    filled(
        item,
        json!({"id": p.id, "name": name, "username": p.username, "created_at": p.created_at.to_rfc3339(),
        "cooked": cooked(&p.raw), "post_number": p.post_number, "post_type": p.post_type,
        "reply_count": p.reply_count, "topic_id": p.topic_id,
        "topic_slug": topic.map(|t| slug(&t.title)).unwrap_or_default(),
        "actions_summary": actions, "accepted_answer": accepted, "can_accept_answer": false}),
    )
}

fn topic_view(s: &State, id: u64) -> Response {
    let Some(t) = s.topics.iter().find(|t| t.id == id) else {
        return error(
            404,
            "The requested URL or resource could not be found.",
            "not_found",
        );
    };
    let template = fixture("topic.json");
    let item = template["post_stream"]["posts"][0].clone();
    let mut posts: Vec<&FakePost> = s.posts.iter().filter(|p| p.topic_id == id).collect();
    posts.sort_by_key(|p| p.post_number);
    let stream: Vec<u64> = posts.iter().map(|p| p.id).collect();
    let first: Vec<Value> = posts
        .iter()
        .take(s.chunk_size.max(1))
        .map(|p| post_json(s, &item, p))
        .collect();
    let creator = posts
        .first()
        .map(|p| p.username.clone())
        .unwrap_or_default();
    let mut v = filled(
        &template,
        json!({"id": t.id, "title": t.title, "fancy_title": t.title, "slug": slug(&t.title),
        "created_at": t.created_at.to_rfc3339(), "category_id": t.category_id, "tags": tag_objects(&t.tags),
        "posts_count": posts.len(), "highest_post_number": posts.len(), "closed": t.closed,
        "last_posted_at": bumped(s, t).to_rfc3339()}),
    );
    v["post_stream"] = json!({"posts": first, "stream": stream});
    v["details"]["created_by"]["username"] = json!(creator);
    if let Some(n) = t.accepted {
        v["accepted_answer"] = json!({"post_number": n, "username": creator, "excerpt": ""});
    }
    ok(v)
}

fn create_post(s: &mut State, username: Option<String>, body: &[u8]) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(
            400,
            "param is missing or the value is empty: raw",
            "invalid_parameters",
        );
    };
    let Some(user) = username.filter(|u| s.users.iter().any(|x| x.username == *u)) else {
        return error(403, "You are not permitted to view the requested resource. The API username or key is invalid.", "invalid_access");
    };
    let raw = req["raw"].as_str().unwrap_or_default().to_string();
    if raw.trim().is_empty() {
        return error(
            422,
            "Body is too short (minimum is 1 character)",
            "invalid_parameters",
        );
    }
    let topic_id = if let Some(tid) = req["topic_id"].as_u64() {
        match s.topics.iter().find(|t| t.id == tid) {
            None => {
                return error(
                    404,
                    "The requested URL or resource could not be found.",
                    "not_found",
                )
            }
            Some(t) if t.closed => {
                return error(
                    422,
                    "This topic is closed; you cannot reply to it.",
                    "invalid_parameters",
                )
            }
            Some(_) => tid,
        }
    } else {
        let title = req["title"].as_str().unwrap_or_default();
        let Some(cat) = req["category"].as_u64() else {
            return error(422, "Category can't be blank", "invalid_parameters");
        };
        let id = s.add_topic(cat, title, &user, &raw);
        let t = s
            .topics
            .iter_mut()
            .find(|t| t.id == id)
            .expect("just added");
        t.external_id = req["external_id"].as_str().map(str::to_string);
        t.tags = req["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let post = s.posts.last().cloned().expect("first post");
        return created(s, &post);
    };
    let id = s.add_post(topic_id, &user, &raw);
    let post = s
        .posts
        .iter()
        .find(|p| p.id == id)
        .cloned()
        .expect("just added");
    created(s, &post)
}

fn created(s: &State, p: &FakePost) -> Response {
    let topic = s.topics.iter().find(|t| t.id == p.topic_id);
    ok(filled(
        &fixture("post_created.json"),
        json!({"id": p.id, "username": p.username, "raw": p.raw, "cooked": cooked(&p.raw),
               "post_number": p.post_number, "topic_id": p.topic_id,
               "topic_slug": topic.map(|t| slug(&t.title)).unwrap_or_default(),
               "created_at": p.created_at.to_rfc3339()}),
    ))
}
