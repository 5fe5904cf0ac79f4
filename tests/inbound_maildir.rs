//! The daemon side of inbound mail: a real Maildir on disk drained into the local forum, the
//! retry queue when the forum is down, and `digestd run` killed (SIGKILL) in the middle of 500
//! replies.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use digestd::config::Config;
use digestd::forum::local::LocalForum;
use digestd::forum::{Author, Cursor, FetchBatch, Forum, ForumError, Posted};
use digestd::inbound::answer::Answerer;
use digestd::inbound::pipeline::{DiscardAnswers, Outcome, Pipeline};
use digestd::inbound::receive::maildir::drain_maildir;
use digestd::inbound::receive::prepare_bytes;
use digestd::model::{Group, ReplyToken};
use digestd::store::{InboundStatus, Store};
use support::inbound::{replace, simple_reply, Transport, World};
use support::{start_daemon, stop_daemon, wait_until};

/// Writes `raw` into `maildir/new` the way an MDA does (tmp/ then rename).
fn deliver(maildir: &Path, name: &str, raw: &[u8]) {
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir dirs");
    }
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, raw).expect("write tmp");
    std::fs::rename(&tmp, maildir.join("new").join(name)).expect("rename to new");
}

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn maildir_world() -> (World, PathBuf) {
    let world = World::new(Transport::Maildir, "maildir = \"replies\"");
    let md = world.dir.path().join("replies");
    (world, md)
}

#[test]
fn maildir_messages_are_posted_and_moved_to_cur_seen() {
    let (world, md) = maildir_world();
    let token = world.grant("ann@example.org", 90);
    deliver(
        &md,
        "1700000000.a.host",
        &simple_reply(
            &token,
            "Ann <ann@example.org>",
            "md-1@x",
            "From the Maildir.",
        ),
    );
    deliver(&md, "1700000001.b.host", b"not mail at all\n");
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();
    let report = drain_maildir(&md, &mut store, &pipeline, 100).expect("drain");
    assert_eq!(report.taken, 2);
    assert_eq!(report.processed.posted, 1);
    assert_eq!(
        report.processed.ignored, 1,
        "not mail: stored, ignored with a reason"
    );
    assert_eq!(count(&md.join("new")), 0);
    let cur: Vec<String> = std::fs::read_dir(md.join("cur"))
        .expect("cur")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cur.len(), 2);
    assert!(cur.iter().all(|n| n.ends_with(":2,S")), "{cur:?}");
    assert!(world.thread_text().contains("From the Maildir."));

    // The same message delivered again is one post still.
    deliver(
        &md,
        "1700000002.c.host",
        &simple_reply(
            &token,
            "Ann <ann@example.org>",
            "md-1@x",
            "From the Maildir.",
        ),
    );
    let again = drain_maildir(&md, &mut store, &pipeline, 100).expect("drain");
    assert_eq!((again.taken, again.duplicates), (1, 1));
    assert_eq!(world.posts_in_thread(), 2);
}

/// The local forum, switchable to "unavailable".
struct FlakyForum {
    inner: LocalForum,
    down: AtomicBool,
}

impl Forum for FlakyForum {
    fn fetch_since(
        &self,
        group: &Group,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<FetchBatch, ForumError> {
        self.inner.fetch_since(group, cursor, limit)
    }
    fn post_reply(
        &self,
        group: &Group,
        thread: &str,
        author: &Author,
        body: &str,
        key: &str,
    ) -> Result<Posted, ForumError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ForumError::Unavailable("connection refused".into()));
        }
        self.inner.post_reply(group, thread, author, body, key)
    }
    fn create_thread(
        &self,
        group: &Group,
        author: &Author,
        title: &str,
        body: &str,
        key: &str,
    ) -> Result<Posted, ForumError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ForumError::Unavailable("connection refused".into()));
        }
        self.inner.create_thread(group, author, title, body, key)
    }
}

#[test]
fn one_batch_of_copies_junk_and_earlier_messages_ends_each_once_in_input_order() {
    let world = World::new(Transport::Maildir, "");
    let ann = world.grant("ann@example.org", 90);
    let bob = world.grant("bob@example.org", 90);
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();

    // Before the batch: one reply posted, and one stored but never processed (as after a
    // crash between storing and processing).
    let done = simple_reply(
        &ann,
        "ann@example.org",
        "done@x",
        "Posted before the batch.",
    );
    let first = pipeline
        .receive_batch(
            &mut store,
            vec![prepare_bytes(done.clone())],
            "maildir",
            Utc::now(),
        )
        .expect("first batch");
    assert!(matches!(first[0].1, Outcome::Posted { .. }), "{first:?}");
    let queued = simple_reply(
        &bob,
        "bob@example.org",
        "queued@x",
        "Stored before the batch.",
    );
    store
        .insert_inbound_batch(&[prepare_bytes(queued.clone()).as_new_inbound()], "imap")
        .expect("stored");

    let new = simple_reply(&ann, "ann@example.org", "new@x", "Written for this batch.");
    // The Reply-All copy: the same Message-ID reaching another of digestd's addresses.
    let reply_all = replace(&new, b"To: ", b"Cc: digest@reply.test.example\r\nTo: ");
    // A redelivery of the queued message with different trace headers: the stored bytes count.
    let queued_again = replace(
        &queued,
        b"Stored before the batch.",
        b"Not these bytes: the stored ones are processed.",
    );
    let batch = vec![new.clone(), new, reply_all, Vec::new(), queued_again, done];
    let outcomes = pipeline
        .receive_batch(
            &mut store,
            batch.into_iter().map(prepare_bytes).collect(),
            "maildir",
            Utc::now(),
        )
        .expect("batch");
    let kinds: Vec<String> = outcomes
        .iter()
        .map(|(_, o)| match o {
            Outcome::Posted { .. } => "posted".to_string(),
            Outcome::AlreadyDone(s) => format!("already {}", s.as_str()),
            Outcome::Ignored { reason } => format!("ignored: {reason}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "posted",
            "already posted",
            "already posted",
            "ignored: not parseable as a mail message",
            "posted",
            "already posted",
        ],
        "{outcomes:?}"
    );
    assert_eq!(
        world.posts_in_thread(),
        4,
        "the seed, the earlier reply, the new one and the queued one"
    );
    let thread = world.thread_text();
    assert!(thread.contains("Stored before the batch."), "{thread}");
    assert!(!thread.contains("Not these bytes"), "{thread}");
    assert_eq!(
        world
            .inbound_rows()
            .iter()
            .filter(|r| r.status == InboundStatus::Queued)
            .count(),
        0,
        "nothing left queued"
    );
}

#[test]
fn forum_down_then_up_keeps_the_reply_queued_then_posts_it_once() {
    let (world, md) = maildir_world();
    let token = world.grant("ann@example.org", 90);
    let config = Config::load(&world.config_path).expect("config");
    let forum = FlakyForum {
        inner: LocalForum::open(&config.store_path, &config.forum_url).expect("forum"),
        down: AtomicBool::new(true),
    };
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();
    deliver(
        &md,
        "1700000000.a.host",
        &simple_reply(
            &token,
            "ann@example.org",
            "down@x",
            "Posted once the forum is back.",
        ),
    );
    let r = drain_maildir(&md, &mut store, &pipeline, 10).expect("drain");
    assert_eq!(r.processed.deferred, 1);
    assert_eq!(
        r.taken, 1,
        "stored, so it leaves new/ even though not posted yet"
    );
    let row = store.inbound(1).expect("row").expect("stored");
    assert_eq!(row.status, InboundStatus::Queued);
    let next = row.next_attempt.expect("backoff set");
    assert!(next > Utc::now());

    // Not due yet: nothing happens.
    let early = pipeline
        .process_queued(&mut store, Utc::now(), 10)
        .expect("early");
    assert_eq!(early.posted + early.deferred, 0);
    // Still down when due: deferred again, with a longer backoff.
    let r = pipeline
        .process_queued(&mut store, next, 10)
        .expect("still down");
    assert_eq!(r.deferred, 1);
    let row = store.inbound(1).expect("row").expect("stored");
    assert_eq!(row.attempts, 2);
    // Up again.
    forum.down.store(false, Ordering::SeqCst);
    let later = row.next_attempt.expect("next");
    let r = pipeline.process_queued(&mut store, later, 10).expect("up");
    assert_eq!(r.posted, 1);
    assert_eq!(
        pipeline.process(&mut store, 1, later).expect("again"),
        Outcome::AlreadyDone(InboundStatus::Posted)
    );
    assert_eq!(world.posts_in_thread(), 2);
    assert!(world
        .thread_text()
        .contains("Posted once the forum is back."));
}

/// Two workers on one store: a queued reply another worker holds (its lease live) is left to
/// it, by the retries and by a Maildir copy of it alike; once that worker's lease has expired
/// (it died), the reply is taken over and posted, once.
#[test]
fn a_reply_another_worker_holds_is_left_to_it_until_its_lease_expires() {
    let (world, md) = maildir_world();
    let token = world.grant("ann@example.org", 90);
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();
    let raw = simple_reply(&token, "ann@example.org", "held@x", "Posted by one worker.");
    let id = store
        .insert_inbound(&raw, Some("<held@x>"), "ab12", "stdin")
        .expect("stored")
        .id;
    // Stored here, it is held by this process; handed to the other worker as if that one had
    // stored it (the lease given back, then claimed by it).
    store.release_all_leases().expect("release");
    let now = Utc::now();
    let claimed = store
        .claim_inbound(
            &[id],
            "other-host:1:0",
            now,
            now + chrono::Duration::milliseconds(1500),
        )
        .expect("claim");
    assert_eq!(claimed, vec![id]);

    let r = pipeline
        .process_queued(&mut store, Utc::now(), 10)
        .expect("retries");
    assert_eq!(r.posted + r.deferred + r.answered + r.ignored, 0, "{r:?}");
    assert_eq!(
        pipeline.process(&mut store, id, Utc::now()).expect("one"),
        Outcome::AlreadyDone(InboundStatus::Queued)
    );
    deliver(&md, "1700000000.copy.host", &raw);
    let drained = drain_maildir(&md, &mut store, &pipeline, 10).expect("drain");
    assert_eq!(drained.processed.posted, 0, "{drained:?}");
    assert_eq!(world.posts_in_thread(), 1, "only the seed");
    assert_eq!(
        store.inbound(id).expect("row").expect("stored").status,
        InboundStatus::Queued
    );

    std::thread::sleep(Duration::from_millis(1600));
    let r = pipeline
        .process_queued(&mut store, Utc::now(), 10)
        .expect("take over");
    assert_eq!(r.posted, 1, "{r:?}");
    let r = pipeline
        .process_queued(&mut store, Utc::now(), 10)
        .expect("again");
    assert_eq!(r.posted, 0);
    assert_eq!(world.posts_in_thread(), 2, "posted once");
}

/// Posts in the seeded thread, read through `forum`, a connection of the test's own to the
/// SQLite file the daemon writes (opened once: polling stays cheap while the daemon works).
fn posts_now(forum: &LocalForum, world: &World) -> usize {
    forum
        .local_thread(world.remote_thread.parse().expect("id"))
        .ok()
        .flatten()
        .map_or(0, |t| t.posts.len())
}

#[test]
fn sigkill_of_the_daemon_during_500_replies_still_makes_exactly_one_post_each() {
    let world = World::new(
        Transport::Maildir,
        "maildir = \"replies\"\n\n[daemon]\ninbound_poll_secs = 1",
    );
    let md = world.dir.path().join("replies");
    let token = world.grant("ann@example.org", 90);
    // A long quoted digest under each reply gives the trimmer real work, so the kill lands
    // while the daemon is still working through the Maildir.
    let quote: String = (0..400)
        .map(|n| format!("> Line {n} of the digest this reply quotes.\r\n"))
        .collect();
    for i in 0..500 {
        deliver(
            &md,
            &format!("1700000000.{i:04}.host"),
            &simple_reply(
                &token,
                "ann@example.org",
                &format!("kill-{i}@x"),
                &format!("Reply number {i} of 500.\r\n\r\nOn Monday, digestd wrote:\r\n{quote}"),
            ),
        );
    }
    let reader = LocalForum::open(&world.config.store_path, &world.config.forum_url).expect("f");
    let mut daemon = start_daemon(&world.config_path);
    // Kill it once 10 replies are posted (plus the seed post), at most 60 s from now.
    let started = wait_until(Duration::from_secs(60), Duration::from_millis(2), || {
        posts_now(&reader, &world) > 10
    });
    daemon.kill().expect("SIGKILL"); // std's kill sends SIGKILL on Unix
    let status = daemon.wait().expect("wait");
    assert!(started, "the daemon posted nothing within 60 s");
    assert!(!status.success(), "killed, not exited");
    let at_kill = posts_now(&reader, &world) - 1;
    eprintln!("{at_kill} of 500 posted when the daemon was killed");
    assert!(
        at_kill < 500,
        "the kill came too late to test anything ({at_kill} posted)"
    );

    // Restart; it finishes the Maildir, then stops cleanly on SIGTERM.
    let mut daemon = start_daemon(&world.config_path);
    let drained = wait_until(Duration::from_secs(300), Duration::from_millis(100), || {
        count(&md.join("new")) == 0 && posts_now(&reader, &world) >= 501
    });
    let stopped = stop_daemon(&mut daemon);
    assert!(
        drained,
        "restarted daemon did not finish the Maildir in 300 s"
    );
    assert!(stopped.is_some_and(|s| s.success()), "{stopped:?}");
    assert_eq!(count(&md.join("cur")), 500);
    let forum = LocalForum::open(&world.config.store_path, &world.config.forum_url).expect("f");
    let thread = forum
        .local_thread(world.remote_thread.parse().expect("id"))
        .expect("thread")
        .expect("exists");
    assert_eq!(thread.posts.len(), 501, "seed + 500 replies, none twice");
    for i in 0..500 {
        let needle = format!("Reply number {i} of 500.");
        let n = thread
            .posts
            .iter()
            .filter(|p| p.body.contains(&needle))
            .count();
        assert_eq!(n, 1, "{needle}");
    }
    let rows = world.inbound_rows();
    assert_eq!(rows.len(), 500);
    assert!(rows.iter().all(|r| r.status == InboundStatus::Posted));
}

#[test]
fn a_drain_of_several_batches_stops_at_a_store_failure_and_the_next_drain_takes_the_rest() {
    let (world, md) = maildir_world();
    let token = world.grant("ann@example.org", 90);
    let batch = digestd::inbound::receive::maildir::BATCH;
    let total = batch + 80;
    for i in 0..total {
        // The last message is a copy (same Message-ID) of the first, one batch later.
        let id = if i == total - 1 { 0 } else { i };
        deliver(
            &md,
            &format!("1700000000.{i:05}.host"),
            &simple_reply(
                &token,
                "ann@example.org",
                &format!("many-{id}@x"),
                &format!("Reply {id}."),
            ),
        );
    }
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();

    // The store refuses every message after the first batch (as a full disk would).
    let sql = rusqlite::Connection::open(&config.store_path).expect("sqlite");
    sql.execute_batch(&format!(
        "CREATE TRIGGER refuse BEFORE INSERT ON inbound_raw
         WHEN (SELECT COUNT(*) FROM inbound_raw) >= {batch}
         BEGIN SELECT RAISE(ABORT, 'test: the store refuses'); END;"
    ))
    .expect("trigger");
    let err = drain_maildir(&md, &mut store, &pipeline, usize::MAX).expect_err("store refuses");
    assert!(err.to_string().contains("the store refuses"), "{err}");
    // The first batch was stored, posted and moved; the second, read while the first was being
    // stored, was rolled back and left in new/.
    assert_eq!(count(&md.join("cur")), batch);
    assert_eq!(count(&md.join("new")), total - batch);
    assert_eq!(world.inbound_rows().len(), batch);
    assert_eq!(world.posts_in_thread(), 1 + batch);

    sql.execute_batch("DROP TRIGGER refuse")
        .expect("drop trigger");
    let report = drain_maildir(&md, &mut store, &pipeline, usize::MAX).expect("drain");
    assert_eq!(report.taken, total - batch);
    assert_eq!(report.duplicates, 1, "the copy of the first message");
    assert_eq!(report.processed.posted, total - batch - 1);
    assert_eq!(count(&md.join("new")), 0);
    assert_eq!(count(&md.join("cur")), total);
    // One post per distinct message, the seed post besides.
    assert_eq!(world.posts_in_thread(), 1 + total - 1);
    assert!(world
        .inbound_rows()
        .iter()
        .all(|r| r.status == InboundStatus::Posted));
}

/// A world where ann holds a reply token, with what a pipeline over its store needs (the
/// config, the local forum, an answerer), for tests that drive a stream of batches directly.
fn stream_world() -> (World, ReplyToken, Config, LocalForum, Answerer) {
    let world = World::new(Transport::Maildir, "");
    let token = world.grant("ann@example.org", 90);
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    (world, token, config, forum, Answerer::new(None))
}

/// Runs `batches` through `pipeline` into `store`: the stream's result, and each batch reported
/// (its tag, how many results).
fn run_stream(
    pipeline: &Pipeline<'_>,
    store: &mut Store,
    batches: impl Iterator<Item = (i32, Vec<digestd::inbound::receive::Intake>)> + Send,
) -> (
    Result<(), digestd::inbound::pipeline::InboundError>,
    Vec<(i32, usize)>,
) {
    let mut seen = Vec::new();
    let result = pipeline.receive_batches(store, batches, "test", |tag, done| {
        seen.push((tag, done.len()))
    });
    (result, seen)
}

#[test]
fn a_stream_whose_reader_panics_keeps_what_it_stored_and_says_so() {
    let (world, token, config, forum, answerer) = stream_world();
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let mut store = world.store();
    let first = simple_reply(&token, "ann@example.org", "stream-1@x", "Before the bug.");
    let mut n = 0;
    let batches = std::iter::from_fn(|| {
        n += 1;
        match n {
            1 => Some((1, vec![prepare_bytes(first.clone())])),
            _ => panic!("test: a bug in the reader"),
        }
    });
    let (result, seen) = run_stream(&pipeline, &mut store, batches);
    let err = result.expect_err("the reader panicked");
    assert!(err.to_string().contains("panicked"), "{err}");
    assert_eq!(
        seen,
        vec![(1, 1)],
        "the batch read before the panic was handled"
    );
    assert_eq!(world.last_status().0, InboundStatus::Posted);
}

#[test]
fn a_stream_whose_commit_cannot_be_synced_acts_on_nothing_and_keeps_it_queued() {
    let (world, token, config, forum, answerer) = stream_world();
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    // A store whose directory is gone: SQLite still writes through its open files, but the
    // WAL can no longer be opened to be synced.
    let dir = tempfile::tempdir().expect("tempdir");
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).expect("dir");
    let mut store = Store::open(&gone.join("s.sqlite")).expect("open");
    std::fs::remove_dir_all(&gone).expect("removed");
    let reply = simple_reply(
        &token,
        "ann@example.org",
        "unsynced-1@x",
        "Not yet durable.",
    );
    let batches = std::iter::once((1, vec![prepare_bytes(reply)]));
    let (result, seen) = run_stream(&pipeline, &mut store, batches);
    let err = result.expect_err("the sync failed");
    assert!(err.to_string().contains("syncing"), "{err}");
    assert!(seen.is_empty(), "nothing reported: the source keeps it");
    assert_eq!(world.posts_in_thread(), 1, "nothing posted");
    let queued = store.queued_inbound().expect("queued");
    assert_eq!(queued.len(), 1, "stored, still queued for the next run");
}
