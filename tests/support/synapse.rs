//! A real Synapse for the Matrix tests ([`digestd::bench::synapse::Synapse`]: 127.0.0.1 only,
//! SQLite, rate limits off, an application service whose `as_token` the tests hand digestd),
//! plus a small client speaking the Matrix client-server API as the application service, for
//! what the tests do on the Matrix side (make rooms, post as people, read a room back).
//!
//! One instance per test binary ([`shared`]), started on first use and killed when the binary
//! exits; a test that stops the server starts its own ([`own`]; one at a time). Without the virtualenv
//! `.ci/install-deps` makes, [`shared`]/[`own`] run that script once; still missing, they panic
//! when `CI` is set and otherwise return `None` (the test says it skipped).

use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::time::Duration;

use digestd::bench::synapse::{find_venv, Synapse};
use serde_json::{json, Value};

use super::repo_root;

/// The shared Synapse of this test binary, or `None` (not installed, not on CI).
pub fn shared() -> Option<&'static Synapse> {
    static SHARED: OnceLock<Option<Synapse>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let venv = venv()?;
            Some(Synapse::start(&venv).unwrap_or_else(|e| panic!("starting Synapse: {e:#}")))
        })
        .as_ref()
}

/// A Synapse of the calling test's own (to stop and restart), or `None` as for [`shared`].
/// Tests holding one take turns (one such instance at a time besides the shared one), which
/// keeps memory and CPU modest.
pub fn own() -> Option<Own> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    let venv = venv()?;
    let synapse = Synapse::start(&venv).unwrap_or_else(|e| panic!("starting Synapse: {e:#}"));
    Some(Own {
        synapse,
        _turn: turn,
    })
}

/// A test's own Synapse and its turn (see [`own`]); dereferences to the [`Synapse`].
pub struct Own {
    synapse: Synapse,
    _turn: MutexGuard<'static, ()>,
}

impl std::ops::Deref for Own {
    type Target = Synapse;
    fn deref(&self) -> &Synapse {
        &self.synapse
    }
}

impl std::ops::DerefMut for Own {
    fn deref_mut(&mut self) -> &mut Synapse {
        &mut self.synapse
    }
}

fn venv() -> Option<std::path::PathBuf> {
    static INSTALL: Once = Once::new();
    if find_venv().is_none() {
        INSTALL.call_once(|| {
            let script = repo_root().join(".ci/install-deps");
            let out = std::process::Command::new("bash").arg(&script).output();
            if let Ok(out) = out {
                if !out.status.success() {
                    eprintln!(
                        "{} failed:\n{}",
                        script.display(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        });
    }
    let found = find_venv();
    if found.is_none() {
        super::skip_unless_ci("the Synapse virtualenv (run .ci/install-deps)");
    }
    found
}

/// Names unique within one test binary run (rooms, users), so tests sharing a server never
/// meet.
pub fn unique(prefix: &str) -> String {
    static COUNTER: Mutex<u32> = Mutex::new(0);
    let mut n = COUNTER.lock().unwrap_or_else(|p| p.into_inner());
    *n += 1;
    format!("{prefix}{}x{}", std::process::id(), *n)
}

/// The Matrix side of a test: the application service acting as any user of the server.
pub struct Hs<'a> {
    synapse: &'a Synapse,
    agent: ureq::Agent,
}

impl<'a> Hs<'a> {
    /// A client for `synapse`.
    pub fn new(synapse: &'a Synapse) -> Hs<'a> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Hs { synapse, agent }
    }

    /// `@localpart:server`.
    pub fn user_id(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.synapse.server_name())
    }

    /// Calls `method path` as `user` (`None`: the service's sender); panics on a non-2xx answer.
    pub fn call(&self, method: &str, path: &str, user: Option<&str>, body: Option<Value>) -> Value {
        let (status, v) = self.try_call(method, path, user, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path} as {user:?}: HTTP {status} {v}"
        );
        v
    }

    /// Calls `method path` as `user`; returns the status and the JSON answer.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut url = format!("{}/_matrix/client/v3{path}", self.synapse.base_url());
        if let Some(user) = user {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("user_id=");
            url.push_str(&enc(user));
        }
        let auth = format!("Bearer {}", self.synapse.as_token());
        let result = match method {
            "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
            "PUT" => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or_else(|| json!({}))),
            _ => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let v: Value = resp.body_mut().read_json().unwrap_or(Value::Null);
        (status, v)
    }

    /// Registers `localpart` (fine when it exists) and sets its display name.
    pub fn register(&self, localpart: &str, display_name: &str) -> String {
        let (status, v) = self.try_call(
            "POST",
            "/register",
            None,
            Some(json!({"type": "m.login.application_service", "username": localpart})),
        );
        assert!(
            status == 200 || v["errcode"] == "M_USER_IN_USE",
            "register {localpart}: {status} {v}"
        );
        let user = self.user_id(localpart);
        self.call(
            "PUT",
            &format!("/profile/{}/displayname", enc(&user)),
            Some(&user),
            Some(json!({ "displayname": display_name })),
        );
        user
    }

    /// `creator` makes a private room with alias `#alias:server`, inviting `invite`; returns the
    /// room id.
    pub fn create_room(&self, creator: &str, alias: &str, invite: &[&str]) -> String {
        let v = self.call(
            "POST",
            "/createRoom",
            Some(creator),
            Some(json!({"preset": "private_chat", "room_alias_name": alias,
                        "name": alias, "invite": invite})),
        );
        v["room_id"].as_str().expect("room_id").to_string()
    }

    /// `user` joins `room`.
    pub fn join(&self, user: &str, room: &str) {
        self.call("POST", &format!("/join/{}", enc(room)), Some(user), None);
    }

    /// `user` sends `content` as an `m.room.message`; returns the event id.
    pub fn send(&self, user: &str, room: &str, content: Value) -> String {
        let txn = unique("txn");
        let v = self.call(
            "PUT",
            &format!("/rooms/{}/send/m.room.message/{txn}", enc(room)),
            Some(user),
            Some(content),
        );
        v["event_id"].as_str().expect("event_id").to_string()
    }

    /// `user` posts plain `text`; returns the event id.
    pub fn say(&self, user: &str, room: &str, text: &str) -> String {
        self.send(user, room, json!({"msgtype": "m.text", "body": text}))
    }

    /// `user` replies `text` in the thread of `root`; returns the event id.
    pub fn reply_in_thread(&self, user: &str, room: &str, root: &str, text: &str) -> String {
        self.send(
            user,
            room,
            json!({"msgtype": "m.text", "body": text,
                   "m.relates_to": {"rel_type": "m.thread", "event_id": root,
                                    "is_falling_back": true,
                                    "m.in_reply_to": {"event_id": root}}}),
        )
    }

    /// Every `m.room.message` of `room` as `reader` sees it, oldest first (bounded: 50 pages).
    pub fn messages(&self, reader: &str, room: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..50 {
            let mut path = format!("/rooms/{}/messages?dir=f&limit=500", enc(room));
            if let Some(f) = &from {
                path.push_str("&from=");
                path.push_str(&enc(f));
            }
            let v = self.call("GET", &path, Some(reader), None);
            for e in v["chunk"].as_array().into_iter().flatten() {
                if e["type"] == "m.room.message" {
                    out.push(e.clone());
                }
            }
            match v["end"].as_str() {
                Some(end) if v["chunk"].as_array().is_some_and(|c| !c.is_empty()) => {
                    from = Some(end.to_string())
                }
                _ => break,
            }
        }
        out
    }
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    digestd::forum::matrix::events::percent_encode(s)
}
