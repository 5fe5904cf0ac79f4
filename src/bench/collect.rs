//! `digestd bench collect --forum matrix`: posts collected and stored per second from a real
//! Synapse, beside the rate at which the same client fetches the same pages without parsing or
//! storing them (the limit).
//!
//! A fresh Synapse ([`super::synapse`]) on 127.0.0.1 gets one room and `posts` messages, sent
//! through the application service as [`AUTHORS`] different users (a root, then thread replies to
//! it, a new root every [`THREAD_LENGTH`] posts; every third one with an HTML body), from
//! [`SEND_THREADS`] threads at once, within [`SEED_DEADLINE`]. Then, [`PASSES`] times each:
//! - the path: the collection loop digestd runs ([`crate::collect::collect_group`]) with a fresh
//!   [`MatrixForum`] into a fresh store, until the room is drained; the pages' `from` tokens are
//!   recorded;
//! - the limit: the same pages (the recorded tokens, same page size, same user and filter) read
//!   through the same HTTP client and dropped unparsed.
//!
//! The best pass of each counts; the figure that matters is their ratio (target ≥ 0.7). The
//! homeserver is the bottleneck of both, so this shows what digestd adds to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::json;

use super::synapse::{find_venv, Synapse};
use crate::collect::{collect_group, PAGE_SIZE};
use crate::forum::matrix::client::Client;
use crate::forum::matrix::events::{message_content, txn_id};
use crate::forum::matrix::people::Directory;
use crate::forum::matrix::{Connection, MatrixForum};
use crate::forum::{Author, Cursor, FetchBatch, Forum, ForumError, Posted};
use crate::model::Group;
use crate::store::Store;

/// Distinct authors of the seeded posts.
pub const AUTHORS: usize = 20;
/// Posts per thread (a root and its replies).
pub const THREAD_LENGTH: usize = 10;
/// Threads sending the seed posts at once.
pub const SEND_THREADS: usize = 4;
/// Seeding gives up after this long.
pub const SEED_DEADLINE: Duration = Duration::from_secs(20 * 60);
/// Passes of each measurement; the best counts.
pub const PASSES: usize = 3;
/// The bot's localpart.
const BOT: &str = "digestd-bot";

/// Runs the benchmark against `forum` (only `matrix` is known) with `posts` posts.
pub fn run(forum: &str, posts: usize) -> anyhow::Result<()> {
    if forum != "matrix" {
        bail!("bench collect knows --forum matrix only, not {forum:?}");
    }
    let posts = posts.max(1);
    let venv = find_venv()
        .context("no Synapse virtualenv: run .ci/install-deps (or set DIGESTD_SYNAPSE_VENV)")?;
    let synapse = Synapse::start(&venv)?;
    println!(
        "Synapse on {} ({}); seeding {posts} posts ...",
        synapse.base_url(),
        synapse.dir().display()
    );
    let connection = Connection {
        homeserver: synapse.base_url(),
        server_name: synapse.server_name().to_string(),
        as_token: synapse.as_token().to_string(),
        bot_user: BOT.to_string(),
        user_id_template: String::new(),
    };
    let started = Instant::now();
    let room = seed(&connection, posts).context("seeding Synapse")?;
    let seeded = started.elapsed();
    println!(
        "seeded {posts} posts in {:.1} s ({:.0}/s)",
        seeded.as_secs_f64(),
        posts as f64 / seeded.as_secs_f64()
    );
    let group = bench_group(&room);
    let dir = tempfile::tempdir().context("bench directory")?;

    // A first pass warms Synapse's caches and records the pages' tokens.
    let (_, froms) = collect_pass(&connection, &group, &room, &dir.path().join("warm.sqlite"))?;
    let (mut best_path, mut best_limit) = (Duration::MAX, Duration::MAX);
    let mut stored = 0;
    let mut bytes = 0;
    for pass in 0..PASSES {
        let t = Instant::now();
        bytes = fetch_unparsed(&connection, &room, &froms)?;
        let limit = t.elapsed();
        let path = dir.path().join(format!("pass{pass}.sqlite"));
        let t = Instant::now();
        let (n, _) = collect_pass(&connection, &group, &room, &path)?;
        let whole = t.elapsed();
        stored = n;
        println!(
            "pass {}: collect+store {:.0} posts/s, fetch only {:.0} posts/s",
            pass + 1,
            n as f64 / whole.as_secs_f64(),
            posts as f64 / limit.as_secs_f64()
        );
        best_path = best_path.min(whole);
        best_limit = best_limit.min(limit);
    }
    if stored != posts {
        bail!("collected {stored} posts, seeded {posts}");
    }
    let rate = stored as f64 / best_path.as_secs_f64();
    let limit_rate = posts as f64 / best_limit.as_secs_f64();
    println!(
        "collect --forum matrix: {stored} posts in {} pages of {PAGE_SIZE} ({:.1} MB of JSON)",
        froms.len(),
        bytes as f64 / 1e6
    );
    println!("  collected and stored: {rate:.0} posts/s (best of {PASSES})");
    println!("  fetched, unparsed (limit): {limit_rate:.0} posts/s (best of {PASSES})");
    println!("  ratio: {:.2} (target >= 0.7)", rate / limit_rate);
    Ok(())
}

/// The group the bench collects: the seeded room.
fn bench_group(room: &str) -> Group {
    Group {
        id: "bench".into(),
        name: "Bench room".into(),
        forum: crate::model::ForumKind::Matrix,
        forum_name: "matrix".into(),
        source: crate::model::GroupSource::Matrix {
            room: room.to_string(),
        },
    }
}

/// Registers the bot and the authors, makes the room, sends `posts` posts; returns the room id.
fn seed(connection: &Connection, posts: usize) -> anyhow::Result<String> {
    let client = Client::new(&connection.homeserver, &connection.as_token);
    let user = |i: usize| format!("@author{i}:{}", connection.server_name);
    let bot = format!("@{BOT}:{}", connection.server_name);
    client.register(BOT)?;
    for i in 0..AUTHORS {
        client.register(&format!("author{i}"))?;
    }
    let mut invite: Vec<String> = (1..AUTHORS).map(user).collect();
    invite.push(bot);
    let room = create_room(connection, &user(0), &invite)?;
    for i in 1..AUTHORS {
        client.join(&user(i), &room)?;
    }
    // Roots first (each thread's replies need their root's event id), then the replies.
    let threads = posts.div_ceil(THREAD_LENGTH);
    let deadline = Instant::now() + SEED_DEADLINE;
    let roots: Vec<String> = send_all(connection, &room, threads, deadline, |i| {
        (user(i % AUTHORS), format!("Thread {i}: question {i}"), None)
    })?;
    let replies = posts - threads;
    send_all(connection, &room, replies, deadline, |i| {
        let root = roots[i % threads].clone();
        (
            user((i * 7 + 1) % AUTHORS),
            format!("Reply {i}: an answer with some words in it, as people write them."),
            Some(root),
        )
    })?;
    Ok(room)
}

fn create_room(
    connection: &Connection,
    creator: &str,
    invite: &[String],
) -> anyhow::Result<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let url = format!(
        "{}/_matrix/client/v3/createRoom?user_id={}",
        connection.homeserver,
        crate::forum::matrix::events::percent_encode(creator)
    );
    let v: serde_json::Value = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", connection.as_token))
        .send_json(json!({"preset": "private_chat", "name": "Bench", "invite": invite}))
        .context("creating the bench room")?
        .body_mut()
        .read_json()
        .context("createRoom's answer")?;
    v["room_id"]
        .as_str()
        .map(str::to_string)
        .context("createRoom answered no room_id")
}

/// Sends `count` messages made by `make(i)` = (sender, text, thread root) from
/// [`SEND_THREADS`] threads; returns their event ids in `i` order.
fn send_all<F>(
    connection: &Connection,
    room: &str,
    count: usize,
    deadline: Instant,
    make: F,
) -> anyhow::Result<Vec<String>>
where
    F: Fn(usize) -> (String, String, Option<String>) + Sync,
{
    let next = AtomicUsize::new(0);
    let ids = Mutex::new(vec![String::new(); count]);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..SEND_THREADS {
            scope.spawn(|| {
                let client = Client::new(&connection.homeserver, &connection.as_token);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    if Instant::now() > deadline {
                        set_failure(
                            &failure,
                            anyhow::anyhow!("seeding took over {SEED_DEADLINE:?}"),
                        );
                        return;
                    }
                    let (sender, text, root) = make(i);
                    let html = if i % 3 == 0 {
                        format!("<p>{text} <b>bold</b></p>")
                    } else {
                        text.clone()
                    };
                    let content = message_content(&text, &html, root.as_deref());
                    let txn = txn_id(room, &format!("seed-{}-{i}", root.is_some()));
                    match client.send_message(&sender, room, &txn, &content) {
                        Ok(id) => {
                            if let Ok(mut ids) = ids.lock() {
                                ids[i] = id;
                            }
                        }
                        Err(e) => {
                            set_failure(&failure, e.into());
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or(None) {
        return Err(e);
    }
    ids.into_inner()
        .map_err(|_| anyhow::anyhow!("a sending thread panicked"))
}

fn set_failure(slot: &Mutex<Option<anyhow::Error>>, e: anyhow::Error) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(e);
    }
}

/// One collection of the whole room into a fresh store; returns the posts stored and the
/// `from` token of every page asked for.
fn collect_pass(
    connection: &Connection,
    group: &Group,
    room: &str,
    store_path: &std::path::Path,
) -> anyhow::Result<(usize, Vec<Option<String>>)> {
    let _ = std::fs::remove_file(store_path);
    let mut store = Store::open(store_path).context("bench store")?;
    let forum = Recording {
        forum: MatrixForum::new(connection, Directory::default()),
        room: room.to_string(),
        froms: Mutex::new(Vec::new()),
    };
    let n = collect_group(&mut store, &forum, group).context("collecting the room")?;
    let froms = forum.froms.into_inner().unwrap_or_default();
    Ok((n, froms))
}

/// The limit: the pages of `froms` through the same client, read and dropped. Returns bytes.
fn fetch_unparsed(
    connection: &Connection,
    room: &str,
    froms: &[Option<String>],
) -> anyhow::Result<usize> {
    let forum = MatrixForum::new(connection, Directory::default());
    let client = forum.client();
    let mut bytes = 0;
    for from in froms {
        bytes += client.messages_unparsed(forum.bot(), room, from.as_deref(), PAGE_SIZE)?;
    }
    Ok(bytes)
}

/// The connector for one room, recording the cursor each page is asked from.
struct Recording {
    forum: MatrixForum,
    room: String,
    froms: Mutex<Vec<Option<String>>>,
}

impl Forum for Recording {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        if let Ok(mut froms) = self.froms.lock() {
            froms.push(cursor.map(|c| c.0.clone()).filter(|c| !c.is_empty()));
        }
        self.forum.fetch_room(group, &self.room, cursor, limit)
    }

    fn post_reply(
        &self,
        _: &Group,
        _: &str,
        _: &Author,
        _: &str,
        _: &str,
    ) -> Result<Posted, ForumError> {
        Err(ForumError::Refused("the bench does not post".into()))
    }

    fn create_thread(
        &self,
        _: &Group,
        _: &Author,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Posted, ForumError> {
        Err(ForumError::Refused("the bench does not post".into()))
    }
}
