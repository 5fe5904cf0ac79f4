//! `digestd bench inbound`: synthetic replies through the whole inbound path as a Maildir
//! drain runs it (batches of 1024: a helper thread takes the intake with SHA-256 and hands it
//! over; both threads parse, classify and trim it while this thread stores it, synced to disk,
//! then this thread authorises, posts into an in-memory forum and records the outcomes; the
//! WAL checkpointed beside the stream and at the end) against a temporary store, beside the
//! bare `mail-parser` parse rate of the same messages, which bounds what any pipeline over
//! that parser can do. The whole path's CPU time (all threads) is printed too, per message
//! and as the number of cores it kept busy.
//!
//! The parts are timed alone too, so a figure can be traced to its cause: the path without
//! the store, and the store without the path (insert with its fsync, finish, checkpoint).
//!
//! What it prints, each the best of five passes (each pass with messages of its own, on stores
//! kept from pass to pass as the daemon keeps its store): the whole path as the daemon's Maildir
//! drain runs it; the same path without the store; the store alone; and the bare `mail-parser`
//! rate of the same messages, with the ratio of each to it. A last line gives the median over
//! the passes of the whole path's ratio to the bare parse timed just before it, the steadier
//! figure on a machine whose speed drifts.
//!
//! The drain it measures works in batches of up to 1024 messages, overlapped: a helper thread
//! reads and hashes the next batch and hands it over unparsed; both threads then parse,
//! classify and trim it, each message once, by whichever thread takes it first (the main thread
//! whenever it would otherwise wait), and a parsed message is freed as soon as it is classified
//! and trimmed, only the facts the later steps need being kept (answers parse the bytes again).
//! The main thread stores a batch (128 Message-IDs looked up and 64 rows written to a
//! statement, `OR FAIL` so that SQLite needs no statement journal), hands the fsync of its
//! commit to a thread of its own, and meanwhile authorises, posts and records the batch stored
//! before it, whose fsync has returned (nothing is acted on before that); after each batch a
//! fourth thread, on a connection of its own, checkpoints the WAL. The binary uses mimalloc
//! (messages parsed on one thread are freed on the other), and the trimmer's patterns are
//! searched through a clone per thread (a `Regex` serves only its first thread on its fast
//! path).
//!
//! Where the time goes, on the 2-core development VM: 18–20 µs of CPU a message on 1.9 busy
//! cores: the parse 3.5, trimming and classifying 3.5, hashing and copying 1.5, storing 4.5,
//! recording 1.3, the checkpoint 1.6, authorising and posting 1, the rest freeing and handing
//! over. The path without the store runs at 0.40–0.45 of the bare parse; with the stores on
//! tmpfs (`TMPDIR=/dev/shm digestd bench inbound`), where an fsync costs nothing, the whole
//! path reaches 0.35–0.37.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Duration as Days, Utc};

use crate::config::{Config, DigestConfig, InboundConfig, MailConfig, TransportConfig};
use crate::forum::{Author, Cursor, FetchBatch, FetchedPost, Forum, ForumError, Posted};
use crate::inbound::address::Addresses;
use crate::inbound::answer::Answerer;
use crate::inbound::authorise::{authorise_reply, Decision, ReplyEvidence};
use crate::inbound::body::reply_body;
use crate::inbound::classify::{classify_with_sender, Class};
use crate::inbound::pipeline::{DiscardAnswers, Outcome, Pipeline};
use crate::inbound::receive::maildir::BATCH;
use crate::inbound::receive::{prepare_bytes, Intake};
use crate::model::{BodyFormat, Frequency, Group, Person, Post, ReplyGrant, ReplyToken, Thread};
use crate::store::inbound::{InboundEnd, NewInbound};
use crate::store::Store;

/// A forum in memory: posts are counted, idempotent on the key.
#[derive(Debug, Default)]
pub struct MemoryForum {
    /// Post number by idempotency key.
    posts: Mutex<HashMap<String, usize>>,
}

impl MemoryForum {
    /// A forum with room for `posts` posts before it grows.
    pub fn with_capacity(posts: usize) -> Self {
        MemoryForum {
            posts: Mutex::new(HashMap::with_capacity(posts)),
        }
    }

    /// Posts accepted so far.
    pub fn len(&self) -> usize {
        self.posts.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// True when nothing was posted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn add(&self, thread: &str, key: &str) -> Result<Posted, ForumError> {
        let mut posts = self
            .posts
            .lock()
            .map_err(|_| ForumError::Unavailable("poisoned".into()))?;
        let n = match posts.get(key) {
            Some(&n) => n,
            None => {
                let n = posts.len();
                posts.insert(key.to_string(), n);
                n
            }
        };
        Ok(Posted {
            remote_post_id: n.to_string(),
            remote_thread_id: thread.to_string(),
            url: format!("memory://{thread}/{n}"),
        })
    }
}

impl Forum for MemoryForum {
    fn fetch_since(
        &self,
        _group: &Group,
        cursor: Option<&Cursor>,
        _limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        Ok(FetchBatch {
            next_cursor: cursor.cloned().unwrap_or_default(),
            ..FetchBatch::default()
        })
    }

    fn post_reply(
        &self,
        _group: &Group,
        thread_remote_id: &str,
        _author: &Author,
        _body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        self.add(thread_remote_id, idempotency_key)
    }

    fn create_thread(
        &self,
        _group: &Group,
        _author: &Author,
        title: &str,
        _body: &str,
        idempotency_key: &str,
    ) -> Result<Posted, ForumError> {
        self.add(title, idempotency_key)
    }
}

const PEOPLE: usize = 200;

fn config(store_path: PathBuf) -> Config {
    let people = (0..PEOPLE)
        .map(|i| Person {
            email: format!("person{i}@example.org"),
            name: format!("Person {i}"),
            roles: vec!["staff".into()],
            time_zone: chrono_tz::UTC,
            locale: if i % 2 == 0 { "en" } else { "nl" }.into(),
            frequency: Frequency::Weekly,
            matrix_id: None,
        })
        .collect();
    Config {
        source: PathBuf::from("bench.toml"),
        store_path,
        store_url: None,
        templates_dir: PathBuf::from("templates"),
        organisation: "Bench".into(),
        forum_url: "https://forum.bench.example".into(),
        mail: MailConfig {
            from: "Digests <digest@bench.example>".into(),
            reply_domain: "reply.bench.example".into(),
            list_id: "digest.bench.example".into(),
            transport: TransportConfig::Maildir {
                path: PathBuf::from("outbox"),
            },
            concurrency: 1,
        },
        digest: DigestConfig::default(),
        inbound: InboundConfig {
            maildir: None,
            trusted_authserv_ids: Vec::new(),
            accept_spf: false,
            bounce_threshold: 3,
            max_message_bytes: 10 * 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            confirm_posts: false,
            imap: None,
        },
        daemon: Default::default(),
        http: None,
        forums: vec![crate::config::ForumConfig::local()],
        groups: vec![Group::local("general", "General")],
        roles: Vec::new(),
        people,
        ambassadors: Default::default(),
    }
}

/// A Message-ID local part as mail clients make them: unique and in no order, so the
/// Message-ID index takes random inserts as it does in real traffic.
fn random_looking_id(i: usize) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(i.to_le_bytes());
    format!("CA{}", hex::encode(&hash[..18]))
}

/// One synthetic reply: plain text with a quoted digest, or Gmail-style multipart/alternative.
fn reply(i: usize, token: &ReplyToken) -> Vec<u8> {
    let person = i % PEOPLE;
    let quote: String = (0..12)
        .map(|l| format!("> Line {l} of the digest item, with the excerpt of what was said.\r\n"))
        .collect();
    let head = format!(
        "Return-Path: <person{person}@example.org>\r\nReceived: from mail.example.org by mx.bench.example; Mon, 23 Nov 2026 10:00:00 +0100\r\nFrom: \"Person {person}\" <Person{person}@Example.org>\r\nTo: reply+{}@reply.bench.example\r\nSubject: Re: Budget 2025\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{}@mail.example.org>\r\nIn-Reply-To: <digest-{person}@bench.example>\r\nMIME-Version: 1.0\r\n",
        token.as_str(),
        random_looking_id(i)
    );
    let text = format!(
        "Thanks for raising this. I think option {i} is the better one,\r\nbecause it keeps the budget within limits.\r\n\r\nOn Mon, 23 Nov 2026 at 07:30, Digests <digest@bench.example> wrote:\r\n{quote}\r\n-- \r\nPerson {person}\r\nTeam lead\r\n"
    );
    if i % 3 == 0 {
        let html = format!(
            "<div dir=\"ltr\">Thanks for raising this. I think option {i} is the better one,<br>because it keeps the budget within limits.</div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, 23 Nov 2026 at 07:30, Digests wrote:<br></div><blockquote class=\"gmail_quote\">{}</blockquote></div>",
            quote.replace("> ", "").replace("\r\n", "<br>")
        );
        format!(
            "{head}Content-Type: multipart/alternative; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n--b{i}\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n{html}\r\n--b{i}--\r\n"
        )
        .into_bytes()
    } else {
        format!("{head}Content-Type: text/plain; charset=UTF-8\r\n\r\n{text}").into_bytes()
    }
}

/// Runs `messages` replies through the inbound path and prints both rates and their ratio.
pub fn run(messages: usize) -> anyhow::Result<()> {
    let messages = messages.max(1);
    let dir = std::env::temp_dir().join(format!(
        "digestd-bench-inbound-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).context("bench directory")?;
    let result = run_in(&dir, messages);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Passes of each measurement; the best one counts (numerator and limit alike), so a pass
/// slowed by something else on the machine does not decide the ratio. Each pass also pairs
/// its whole path with the bare parse timed just before it, and the median of those paired
/// ratios is printed too: on a machine whose speed drifts, it is the steadier figure.
const PASSES: usize = 5;

/// A fresh store at `path` holding the bench's people, group, one thread and a grant per
/// person for `tokens`; returns it with the thread's id.
fn seeded_store(
    path: &std::path::Path,
    config: &Config,
    tokens: &[ReplyToken],
) -> anyhow::Result<(Store, i64)> {
    let _ = std::fs::remove_file(path);
    let mut store = Store::open(path).context("bench store")?;
    store.sync_people(&config.people)?;
    store.sync_groups(&config.groups)?;
    let group = &config.groups[0];
    let now = Utc::now();
    let thread = Thread {
        id: 0,
        group_id: group.id.clone(),
        remote_id: "t1".into(),
        title: "Budget 2025".into(),
        url: "https://forum.bench.example/t/1".into(),
        created: now - Days::days(1),
    };
    let seed = Post {
        id: 0,
        thread_id: 0,
        group_id: group.id.clone(),
        remote_id: "p1".into(),
        author_email: "person0@example.org".into(),
        author_name: "Person 0".into(),
        created: now - Days::days(1),
        body: "What do we think?".into(),
        body_format: BodyFormat::Markdown,
        tags: Vec::new(),
        likes: 0,
        reply_count: 0,
        best_answer: false,
        url: "https://forum.bench.example/t/1#p1".into(),
    };
    store.store_batch(
        group,
        &FetchBatch {
            threads: vec![thread],
            posts: vec![FetchedPost {
                thread_remote_id: "t1".into(),
                post: seed,
            }],
            next_cursor: Cursor("1".into()),
            more: false,
        },
    )?;
    let (threads, _) = store.load_activity(
        std::slice::from_ref(&group.id),
        now - Days::days(30),
        &[],
        now,
        0,
    )?;
    let thread_id = threads.first().context("seeded thread")?.id;
    for grant in grants(tokens, thread_id) {
        store.insert_grant(&grant)?;
    }
    Ok((store, thread_id))
}

/// One grant per person: `tokens[i]` lets person `i` answer thread `thread_id`.
fn grants(tokens: &[ReplyToken], thread_id: i64) -> Vec<ReplyGrant> {
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| ReplyGrant {
            token: token.clone(),
            person_email: format!("person{i}@example.org"),
            thread_id: Some(thread_id),
            expires: Utc::now() + Days::days(90),
        })
        .collect()
}

/// CPU time this process has used so far, on all its threads.
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes to it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// The whole path once on `store`: time taken, CPU time used (all threads) and messages
/// posted.
fn whole_path(
    config: &Config,
    store: &mut Store,
    mails: &[Vec<u8>],
) -> anyhow::Result<(Duration, Duration, usize)> {
    let forum = MemoryForum::with_capacity(mails.len());
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(config, &forum, &DiscardAnswers, &answerer);
    let cpu = process_cpu_time();
    let t = Instant::now();
    let mut posted = 0usize;
    // Received as a Maildir drain takes them: batches read (here: copied) and hashed on one
    // thread while the one before is stored in one transaction and processed on this one.
    let batches = mails
        .chunks(BATCH)
        .map(|chunk| ((), chunk.iter().cloned().map(prepare_bytes).collect()));
    pipeline.receive_batches(store, batches, "bench", |(), done| {
        posted += done
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Posted { .. }))
            .count();
    })?;
    // What the WAL holds reaches the database file within the time, as it would in a
    // running daemon (a commit checkpoints by itself every 32 MiB).
    store.checkpoint_wal()?;
    let took = t.elapsed();
    let cpu = process_cpu_time().saturating_sub(cpu);
    anyhow::ensure!(forum.len() == posted, "forum holds {}", forum.len());
    Ok((took, cpu, posted))
}

/// The same path without the store: parse → classify → trim → authorise → post into a forum
/// in memory. Time taken, time in trimming, messages allowed.
fn without_store(
    config: &Config,
    tokens: &[ReplyToken],
    mails: &[Vec<u8>],
) -> anyhow::Result<(Duration, Duration, usize)> {
    let parser = mail_parser::MessageParser::default();
    let addresses = Addresses::from_config(config);
    let grants: HashMap<String, ReplyGrant> = grants(tokens, 1)
        .into_iter()
        .map(|g| (g.token.as_str().to_string(), g))
        .collect();
    let group = &config.groups[0];
    let memory = MemoryForum::with_capacity(mails.len());
    let now = Utc::now();
    let t = Instant::now();
    let mut trim_time = Duration::ZERO;
    let mut allowed = 0usize;
    for m in mails {
        let Some(msg) = parser.parse(m) else { continue };
        let (Class::Reply { token }, sender) = classify_with_sender(&msg, &addresses) else {
            continue;
        };
        let tt = Instant::now();
        let body = reply_body(&msg, config.inbound.max_attachment_bytes);
        trim_time += tt.elapsed();
        let decision = authorise_reply(&ReplyEvidence {
            token: &token,
            grant: grants.get(token.as_str()),
            from: sender.as_ref().map(|s| s.email.as_str()).unwrap_or(""),
            now,
            auth_results: &[],
            auth: crate::inbound::auth_results::AuthPolicy {
                trusted_ids: &[],
                accept_spf: false,
            },
            size: m.len(),
            max_size: config.inbound.max_message_bytes,
            empty_after_trim: body.is_empty(),
        });
        if let Decision::Post { author, .. } = decision {
            let author = Author {
                name: sender.map(|s| s.name).unwrap_or_default(),
                email: author,
            };
            let key = msg.message_id().unwrap_or_default();
            memory.post_reply(group, "t1", &author, &body.to_markdown(), key)?;
            allowed += 1;
        }
    }
    Ok((t.elapsed(), trim_time, allowed))
}

/// The store's share alone: the messages stored and finished in batches on `own`, then the
/// WAL checkpointed. Time in inserts, in finishing and in the last checkpoint.
fn store_alone(
    own: &mut Store,
    mails: &[Vec<u8>],
) -> anyhow::Result<(Duration, Duration, Duration)> {
    let intakes: Vec<_> = mails.iter().cloned().map(prepare_bytes).collect();
    let (mut store_time, mut finish_time) = Default::default();
    for chunk in intakes.chunks(BATCH) {
        let new: Vec<NewInbound<'_>> = chunk.iter().map(Intake::as_new_inbound).collect();
        let t = Instant::now();
        let ins = own.insert_inbound_batch(&new, "bench")?;
        store_time += t.elapsed();
        let ends: Vec<_> = ins
            .iter()
            .map(|i| (i.id, InboundEnd::Posted("1", "", "general")))
            .collect();
        let t = Instant::now();
        own.finish_inbound_batch(&ends)?;
        finish_time += t.elapsed();
    }
    let t = Instant::now();
    own.checkpoint_wal()?;
    Ok((store_time, finish_time, t.elapsed()))
}

fn run_in(dir: &std::path::Path, messages: usize) -> anyhow::Result<()> {
    let config = config(dir.join("bench.sqlite"));
    let tokens: Vec<ReplyToken> = (0..PEOPLE).map(|_| ReplyToken::generate()).collect();
    // Each pass gets messages of its own (new Message-IDs), and the stores are kept from
    // pass to pass, as a running daemon keeps its store: the first pass starts on new files.
    let pass_mails = |pass: usize| -> Vec<Vec<u8>> {
        (0..messages)
            .map(|i| pass * messages + i)
            .map(|n| reply(n, &tokens[n % PEOPLE]))
            .collect()
    };
    let (mut store, _) = seeded_store(&config.store_path, &config, &tokens)?;
    let own_path = dir.join("store-only.sqlite");
    let _ = std::fs::remove_file(&own_path);
    let mut own = Store::open(&own_path).context("store-only store")?;
    let mut bytes = 0;

    let parser = mail_parser::MessageParser::default();
    let (mut bare, mut whole, mut pure, mut trim) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut insert, mut finish, mut checkpoint) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut parsed, mut posted, mut allowed) = (0, 0, 0);
    let mut whole_cpu = Duration::ZERO;
    let mut paired: Vec<f64> = Vec::with_capacity(PASSES);
    for pass in 0..PASSES {
        let mails = pass_mails(pass);
        bytes = mails.iter().map(Vec::len).sum();
        // The limit: bare parsing of the same messages.
        let t = Instant::now();
        parsed = mails.iter().filter(|m| parser.parse(m).is_some()).count();
        let bare_pass = t.elapsed();
        bare = bare.min(bare_pass);

        let (took, cpu, n) = whole_path(&config, &mut store, &mails)?;
        if took < whole {
            whole_cpu = cpu;
        }
        (whole, posted) = (whole.min(took), n);
        paired.push(bare_pass.as_secs_f64() / took.as_secs_f64().max(1e-9));

        let (took, in_trim, n) = without_store(&config, &tokens, &mails)?;
        (pure, trim, allowed) = (pure.min(took), trim.min(in_trim), n);

        let (ins, fin, ck) = store_alone(&mut own, &mails)?;
        (insert, finish, checkpoint) = (insert.min(ins), finish.min(fin), checkpoint.min(ck));
    }

    let rate = |d: Duration| messages as f64 / d.as_secs_f64().max(1e-9);
    let bare_rate = rate(bare);
    let ratio = |d: Duration| rate(d) / bare_rate.max(1e-9);
    println!(
        "inbound: {messages} messages ({:.1} KiB average), {posted} posted, {parsed} parsed; best of {PASSES} passes each; stores in {} (set TMPDIR to move them)",
        bytes as f64 / messages as f64 / 1024.0,
        dir.display()
    );
    println!(
        "  whole path: receive → store → classify → trim → authorise → post (→ WAL checkpoint): {:>8.0} msg/s ({:.3} s; {:.1} µs of CPU a message, {:.2} cores busy)",
        rate(whole),
        whole.as_secs_f64(),
        whole_cpu.as_secs_f64() * 1e6 / messages as f64,
        whole_cpu.as_secs_f64() / whole.as_secs_f64().max(1e-9)
    );
    println!(
        "  the path without the store (parse → classify → trim → authorise → post in memory): {:.0} msg/s; trim alone {:.0} msg/s ({allowed} allowed)",
        rate(pure),
        rate(trim)
    );
    println!(
        "  the store alone (batches of {BATCH}, SQLite WAL, 16 KiB pages): insert {:.0} msg/s, finish {:.0} msg/s, checkpoint {:.0} msg/s",
        rate(insert),
        rate(finish),
        rate(checkpoint)
    );
    println!(
        "  bare mail-parser parse (the limit):                               {bare_rate:>8.0} msg/s ({:.3} s)",
        bare.as_secs_f64()
    );
    println!(
        "  ratio, whole path: {:.2} (target ≥ 0.30); without the store: {:.2}; the store's insert alone: {:.2} (one fsync per batch)",
        ratio(whole),
        ratio(pure),
        ratio(insert)
    );
    paired.sort_by(f64::total_cmp);
    println!(
        "  ratio, whole path, median of {PASSES} passes each paired with the parse timed just before it: {:.2} (from {:.2} to {:.2})",
        paired[paired.len() / 2],
        paired[0],
        paired[paired.len() - 1]
    );
    anyhow::ensure!(posted == messages, "only {posted} of {messages} posted");
    Ok(())
}
