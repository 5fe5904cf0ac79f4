//! A small digestd world for the inbound tests: a config in a temp dir, a store with one thread
//! in the local forum (collected into the store), people ann (en) and bob (nl), and helpers to
//! grant tokens, load fixtures, run `digestd receive` and read the thread back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{Duration, Utc};
use digestd::config::Config;
use digestd::forum::local::LocalForum;
use digestd::forum::{Author, Forum};
use digestd::model::{ReplyGrant, ReplyToken, ThreadId};
use digestd::store::{InboundRow, InboundStatus, NewDelivery, Store};

use super::config::{GroupSpec, PersonSpec, RoleSpec, Spec};

/// The reply domain of the test config.
pub const REPLY_DOMAIN: &str = "reply.test.example";

/// How answers leave in a world.
pub enum Transport {
    /// SMTP to 127.0.0.1:port (smtp-sink).
    Smtp(u16),
    /// The Maildir `<dir>/outbox`.
    Maildir,
}

/// A temp-dir digestd installation.
pub struct World {
    /// Holds everything.
    pub dir: tempfile::TempDir,
    /// The config file.
    pub config_path: PathBuf,
    /// The loaded config.
    pub config: Config,
    /// Store id of the thread "Budget 2025" in group `general`.
    pub thread_id: ThreadId,
    /// The local forum's id of that thread.
    pub remote_thread: String,
}

impl World {
    /// A world whose answers go through `transport`; `extra_inbound` is added to `[inbound]`.
    pub fn new(transport: Transport, extra_inbound: &str) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let transport = match transport {
            Transport::Smtp(port) => Spec::smtp(port),
            Transport::Maildir => "kind = \"maildir\"\npath = \"outbox\"".to_string(),
        };
        let spec = Spec {
            organisation: "Test".into(),
            forum_url: "https://forum.test.example".into(),
            from: "Digests <digest@test.example>".into(),
            reply_domain: REPLY_DOMAIN.into(),
            transport,
            groups: vec![
                GroupSpec::new("general", "General"),
                GroupSpec::new("secret", "Board only"),
            ],
            roles: vec![RoleSpec::new(
                "staff",
                &["general"],
                "0 0 7 * * *",
                "time_zone = \"Europe/Amsterdam\"",
            )],
            people: Vec::new(),
            persons: vec![
                PersonSpec::new(
                    "ann@example.org",
                    "Ann Example",
                    &["staff"],
                    "locale = \"en\"",
                ),
                PersonSpec::new(
                    "bob@example.org",
                    "Bob Voorbeeld",
                    &["staff"],
                    "locale = \"nl\"",
                ),
            ],
            tail: format!("[inbound]\n{extra_inbound}\n"),
            ..Spec::default()
        };
        let config_path = spec.write_in(dir.path());
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("config: {e}"));
        let mut store = Store::open(&config.store_path).expect("store");
        store.sync_people(&config.people).expect("sync people");
        drop(store);
        let (thread_id, remote_thread) = seed_thread(&config, "Budget 2025", "seed-thread");
        World {
            thread_id,
            remote_thread,
            dir,
            config_path,
            config,
        }
    }

    /// Another thread in group `general` (started by bob, collected into the store).
    pub fn add_thread(&self, title: &str) -> ThreadId {
        seed_thread(&self.config, title, &format!("seed-{title}")).0
    }

    /// Records a digest sent to ann with Message-ID `message_id`, carrying one reply token per
    /// thread in `threads` (in order), and returns those tokens.
    pub fn digest_sent(&self, message_id: &str, threads: &[ThreadId]) -> Vec<ReplyToken> {
        let grants: Vec<ReplyGrant> = threads
            .iter()
            .map(|t| ReplyGrant {
                token: ReplyToken::generate(),
                person_email: "ann@example.org".into(),
                thread_id: Some(*t),
                expires: Utc::now() + Duration::days(90),
            })
            .collect();
        self.store()
            .insert_pending_delivery(&NewDelivery {
                person_email: "ann@example.org".into(),
                schedule: "0 0 7 * * *@Europe/Amsterdam".into(),
                period_end: Utc::now(),
                message_id: message_id.into(),
                raw: b"Subject: digest\r\n\r\n...".to_vec(),
                post_ids: vec![],
                grants: grants.clone(),
                highlights: vec![],
            })
            .expect("delivery");
        grants.into_iter().map(|g| g.token).collect()
    }

    /// Opens the store.
    pub fn store(&self) -> Store {
        Store::open(&self.config.store_path).expect("store")
    }

    /// A token for `email` in the seeded thread, expiring in `days` (negative: expired).
    pub fn grant(&self, email: &str, days: i64) -> ReplyToken {
        let token = ReplyToken::generate();
        self.store()
            .insert_grant(&ReplyGrant {
                token: token.clone(),
                person_email: email.into(),
                thread_id: Some(self.thread_id),
                expires: Utc::now() + Duration::days(days),
            })
            .expect("grant");
        token
    }

    /// A command token for `email` (no thread: what a digest's List-Unsubscribe address
    /// carries), expiring in 90 days.
    pub fn command_grant(&self, email: &str) -> ReplyToken {
        let token = ReplyToken::generate();
        self.store()
            .insert_grant(&ReplyGrant {
                token: token.clone(),
                person_email: email.into(),
                thread_id: None,
                expires: Utc::now() + Duration::days(90),
            })
            .expect("grant");
        token
    }

    /// Where the last stored message ended: (status, reason).
    pub fn last_status(&self) -> (InboundStatus, Option<String>) {
        let rows = self.inbound_rows();
        let row = rows.last().expect("a stored message");
        (row.status, row.reason.clone())
    }

    /// Runs `digestd receive -c CONFIG` with `raw` on stdin: (exit code, stderr).
    pub fn receive(&self, raw: &[u8]) -> (i32, String) {
        receive_with(&self.config_path, raw)
    }

    /// Runs `digestd receive -c CONFIG --now NOW` with `raw` on stdin: (exit code, stderr).
    pub fn receive_at(&self, raw: &[u8], now: chrono::DateTime<Utc>) -> (i32, String) {
        receive_with_args(&self.config_path, raw, &["--now", &now.to_rfc3339()])
    }

    /// Number of threads in the local forum (the seeded ones included).
    pub fn local_thread_count(&self) -> usize {
        let forum =
            LocalForum::open(&self.config.store_path, &self.config.forum_url).expect("forum");
        (1..1000)
            .take_while(|id| forum.local_thread(*id).expect("thread").is_some())
            .count()
    }

    /// `digestd thread -c CONFIG <seeded thread>`.
    pub fn thread_text(&self) -> String {
        let out = super::run_digestd(&self.config_path, &["thread", &self.remote_thread], None);
        assert!(
            out.status.success(),
            "digestd thread: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every stored inbound message, by id.
    pub fn inbound_rows(&self) -> Vec<InboundRow> {
        let store = self.store();
        (1..10_000)
            .map_while(|id| store.inbound(id).expect("inbound"))
            .collect()
    }

    /// Number of posts in the seeded thread (the seed post included).
    pub fn posts_in_thread(&self) -> usize {
        let forum =
            LocalForum::open(&self.config.store_path, &self.config.forum_url).expect("forum");
        let id: i64 = self.remote_thread.parse().expect("local id");
        forum
            .local_thread(id)
            .expect("thread")
            .map(|t| t.posts.len())
            .unwrap_or(0)
    }
}

/// Creates a thread `title` in group `general` of the local forum (bob's post, idempotency key
/// `key`) and collects it: (store id, forum id).
fn seed_thread(config: &Config, title: &str, key: &str) -> (ThreadId, String) {
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let group = config.group("general").expect("group").clone();
    let posted = forum
        .create_thread(
            &group,
            &Author {
                email: "bob@example.org".into(),
                name: "Bob Voorbeeld".into(),
            },
            title,
            "What do we think of the proposal?",
            key,
        )
        .expect("seed thread");
    let mut store = Store::open(&config.store_path).expect("store");
    digestd::collect::collect_all(config, &mut store).expect("collect");
    let epoch = Utc::now() - Duration::days(3650);
    let (threads, _) = store
        .load_activity(&["general".to_string()], epoch, &[], epoch, 0)
        .expect("activity");
    let thread = threads
        .iter()
        .find(|t| t.remote_id == posted.remote_thread_id)
        .expect("collected thread");
    (thread.id, posted.remote_thread_id)
}

/// Runs `digestd receive -c config` with `raw` on stdin: (exit code, stderr).
pub fn receive_with(config: &Path, raw: &[u8]) -> (i32, String) {
    receive_with_args(config, raw, &[])
}

/// Runs `digestd receive -c config ARGS` with `raw` on stdin: (exit code, stderr).
pub fn receive_with_args(config: &Path, raw: &[u8], args: &[&str]) -> (i32, String) {
    let args: Vec<&str> = std::iter::once("receive")
        .chain(args.iter().copied())
        .collect();
    let out = super::run_digestd(config, &args, Some(raw));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fixture from `tests/fixtures/inbound/` with `@TOKEN@` replaced.
pub fn fixture(name: &str, token: Option<&ReplyToken>) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inbound")
        .join(name);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    replace(
        &raw,
        b"@TOKEN@",
        token.map(|t| t.as_str()).unwrap_or("").as_bytes(),
    )
}

/// Replaces every `from` in `raw` with `to` (bytes; fixtures need not be UTF-8).
pub fn replace(raw: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// A plain reply from `from` to `reply+token@`, with `message_id` and `body`.
pub fn simple_reply(token: &ReplyToken, from: &str, message_id: &str, body: &str) -> Vec<u8> {
    let to = format!("reply+{}@{REPLY_DOMAIN}", token.as_str());
    mail(from, &to, "Re: Budget 2025", message_id, "", body)
}

/// A mail from `from` to `to` with `subject`, Message-ID `<message_id>`, `headers` (each line
/// ending in CRLF) and `body`.
pub fn mail(
    from: &str,
    to: &str,
    subject: &str,
    message_id: &str,
    headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n{headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}
