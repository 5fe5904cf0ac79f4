//! The Matrix client-server API over HTTP (ureq, rustls), as an application service: every call
//! carries the `as_token` and, to act as one of the service's users, `?user_id=` (masquerading).
//!
//! Errors follow the [`ForumError`] contract: no connection, a timeout, HTTP 429 or 5xx are
//! [`ForumError::Unavailable`] (retry later); 401/403/404 and other 4xx are
//! [`ForumError::Refused`], with Synapse's `errcode` and message and what was being done.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::events::{percent_encode, MessagesPage, RoomEvent};
use crate::forum::ForumError;

/// The client API prefix.
const PREFIX: &str = "/_matrix/client/v3";

/// An application service's connection to one homeserver.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    as_token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

/// What to do: method, path below [`PREFIX`], the user to act as, query pairs, JSON body.
struct Call<'a> {
    method: &'static str,
    path: String,
    user: Option<&'a str>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    what: String,
}

impl Client {
    /// A client for the homeserver at `base` (e.g. `https://matrix.example.org`).
    pub fn new(base: &str, as_token: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(60)))
            .user_agent(concat!("digestd/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            as_token: as_token.trim().to_string(),
        }
    }

    /// The homeserver's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /account/whoami` as `user` (or the service's sender): the user id the token acts as.
    pub fn whoami(&self, user: Option<&str>) -> Result<String, ForumError> {
        let v: Value = self.call(Call {
            method: "GET",
            path: "/account/whoami".into(),
            user,
            query: vec![],
            body: None,
            what: "checking the application service token".into(),
        })?;
        Ok(v["user_id"].as_str().unwrap_or_default().to_string())
    }

    /// Resolves a room alias (`#name:server`) to its room id through the room directory.
    pub fn resolve_alias(&self, alias: &str) -> Result<String, ForumError> {
        let v: Value = self.call(Call {
            method: "GET",
            path: format!("/directory/room/{}", percent_encode(alias)),
            user: None,
            query: vec![],
            body: None,
            what: format!("resolving the room alias {alias}"),
        })?;
        v["room_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ForumError::Refused(format!("the alias {alias} resolves to no room")))
    }

    /// Registers `localpart` as a user of the application service (`m.login.application_service`);
    /// a user that exists already is fine. Returns true when it was new.
    pub fn register(&self, localpart: &str) -> Result<bool, ForumError> {
        let result: Result<Value, ForumError> = self.call(Call {
            method: "POST",
            path: "/register".into(),
            user: None,
            query: vec![("inhibit_login", "true".into())],
            body: Some(json!({"type": "m.login.application_service", "username": localpart})),
            what: format!("registering the user {localpart}"),
        });
        match result {
            Ok(_) => Ok(true),
            Err(ForumError::Refused(m)) if m.contains("M_USER_IN_USE") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets `user`'s display name.
    pub fn set_display_name(&self, user: &str, name: &str) -> Result<(), ForumError> {
        self.call::<Value>(Call {
            method: "PUT",
            path: format!("/profile/{}/displayname", percent_encode(user)),
            user: Some(user),
            query: vec![],
            body: Some(json!({ "displayname": name })),
            what: format!("setting the display name of {user}"),
        })
        .map(drop)
    }

    /// `user` joins `room` (id or alias); returns the room id.
    pub fn join(&self, user: &str, room: &str) -> Result<String, ForumError> {
        let v: Value = self.call(Call {
            method: "POST",
            path: format!("/join/{}", percent_encode(room)),
            user: Some(user),
            query: vec![],
            body: Some(json!({})),
            what: format!("joining {user} to {room}"),
        })?;
        Ok(v["room_id"].as_str().unwrap_or(room).to_string())
    }

    /// `by` invites `user` into `room`.
    pub fn invite(&self, by: &str, room: &str, user: &str) -> Result<(), ForumError> {
        self.call::<Value>(Call {
            method: "POST",
            path: format!("/rooms/{}/invite", percent_encode(room)),
            user: Some(by),
            query: vec![],
            body: Some(json!({ "user_id": user })),
            what: format!("inviting {user} into {room}"),
        })
        .map(drop)
    }

    /// The rooms `user` has joined.
    pub fn joined_rooms(&self, user: &str) -> Result<Vec<String>, ForumError> {
        let v: Value = self.call(Call {
            method: "GET",
            path: "/joined_rooms".into(),
            user: Some(user),
            query: vec![],
            body: None,
            what: format!("listing the rooms of {user}"),
        })?;
        Ok(v["joined_rooms"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// One page of `room`'s message events as `user`, forwards from `from` (the room's start
    /// when `None`), members of the page's senders lazy-loaded.
    pub fn messages(
        &self,
        user: &str,
        room: &str,
        from: Option<&str>,
        limit: usize,
    ) -> Result<MessagesPage, ForumError> {
        self.call(self.messages_call(user, room, from, limit))
    }

    /// The same request as [`Client::messages`], its body read and dropped unparsed (the
    /// benchmark's limit). Returns the body's length.
    pub fn messages_unparsed(
        &self,
        user: &str,
        room: &str,
        from: Option<&str>,
        limit: usize,
    ) -> Result<usize, ForumError> {
        let call = self.messages_call(user, room, from, limit);
        let (bytes, _) = self.call_bytes(call)?;
        Ok(bytes.len())
    }

    fn messages_call<'a>(
        &self,
        user: &'a str,
        room: &str,
        from: Option<&str>,
        limit: usize,
    ) -> Call<'a> {
        let mut query = vec![
            ("dir", "f".to_string()),
            ("limit", limit.clamp(1, 1000).to_string()),
            (
                "filter",
                r#"{"lazy_load_members":true,"types":["m.room.message"]}"#.to_string(),
            ),
        ];
        if let Some(from) = from {
            query.push(("from", from.to_string()));
        }
        Call {
            method: "GET",
            path: format!("/rooms/{}/messages", percent_encode(room)),
            user: Some(user),
            query,
            body: None,
            what: format!("reading the messages of {room}"),
        }
    }

    /// One event of `room`, as `user`.
    pub fn event(&self, user: &str, room: &str, event_id: &str) -> Result<RoomEvent, ForumError> {
        self.call(Call {
            method: "GET",
            path: format!(
                "/rooms/{}/event/{}",
                percent_encode(room),
                percent_encode(event_id)
            ),
            user: Some(user),
            query: vec![],
            body: None,
            what: format!("reading the event {event_id} of {room}"),
        })
    }

    /// Sends an `m.room.message` into `room` as `user` with transaction id `txn` (a retry with
    /// the same `txn` returns the first event). Returns the event id.
    pub fn send_message(
        &self,
        user: &str,
        room: &str,
        txn: &str,
        content: &Value,
    ) -> Result<String, ForumError> {
        let v: Value = self.call(Call {
            method: "PUT",
            path: format!(
                "/rooms/{}/send/m.room.message/{}",
                percent_encode(room),
                percent_encode(txn)
            ),
            user: Some(user),
            query: vec![],
            body: Some(content.clone()),
            what: format!("posting into {room} as {user}"),
        })?;
        v["event_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ForumError::Unavailable(format!("posting into {room}: no event id")))
    }

    fn send(&self, call: Call<'_>) -> Result<ureq::http::Response<ureq::Body>, ForumError> {
        let url = format!("{}{PREFIX}{}", self.base, call.path);
        let auth = format!("Bearer {}", self.as_token);
        let mut query = call.query;
        if let Some(user) = call.user {
            query.push(("user_id", user.to_string()));
        }
        let result = match call.method {
            "GET" => self
                .agent
                .get(&url)
                .header("Authorization", &auth)
                .query_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .call(),
            method => {
                let req = match method {
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                req.header("Authorization", &auth)
                    .query_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                    .send_json(call.body.unwrap_or_else(|| json!({})))
            }
        };
        result.map_err(|e| ForumError::Unavailable(format!("{}: {e}", call.what)))
    }

    /// Sends `call` and reads its body (at most [`MAX_BODY`]); a non-2xx answer is an error.
    /// Returns the body and what the call was doing, for messages.
    fn call_bytes(&self, call: Call<'_>) -> Result<(Vec<u8>, String), ForumError> {
        let what = call.what.clone();
        let mut resp = self.send(call)?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| ForumError::Unavailable(format!("{what}: reading the answer: {e}")))?;
        if status >= 300 {
            return Err(status_error(status, &bytes, &what));
        }
        Ok((bytes, what))
    }

    fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ForumError> {
        let (bytes, what) = self.call_bytes(call)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ForumError::Unavailable(format!(
                "{what}: the homeserver's answer is not the expected JSON: {e}"
            ))
        })
    }
}

/// The largest answer read (a page of 1,000 events is far below).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// A non-2xx answer as a [`ForumError`]: 429 and 5xx are transient, the rest refused.
fn status_error(status: u16, body: &[u8], what: &str) -> ForumError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let errcode = v["errcode"].as_str().unwrap_or("");
    let message = v["error"].as_str().unwrap_or("");
    let detail = format!("{what}: HTTP {status} {errcode} {message}")
        .trim_end()
        .to_string();
    match status {
        429 | 500..=599 => ForumError::Unavailable(detail),
        401 => ForumError::Refused(format!(
            "{detail} (is as_token_file the as_token of the homeserver's appservice registration?)"
        )),
        _ => ForumError::Refused(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_transient_or_refused() {
        let body = br#"{"errcode":"M_FORBIDDEN","error":"not in room"}"#;
        let e = status_error(403, body, "reading");
        assert!(!e.is_transient());
        assert!(e.to_string().contains("M_FORBIDDEN not in room"), "{e}");
        assert!(status_error(429, b"{}", "x").is_transient());
        assert!(status_error(502, b"<html>", "x").is_transient());
        assert!(!status_error(404, b"", "x").is_transient());
        assert!(status_error(401, b"{}", "x")
            .to_string()
            .contains("as_token_file"));
    }

    #[test]
    fn a_closed_port_is_transient() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let client = Client::new(&format!("http://127.0.0.1:{port}"), "t");
        let e = client.whoami(None).expect_err("nothing listens");
        assert!(e.is_transient(), "{e}");
    }
}
