//! Issue #22 point 4: three `digestd run` workers on one real PostgreSQL share a run of 10,000
//! digests and 2,000 queued replies, and nothing is sent twice or lost when one worker is killed
//! with SIGKILL mid-run, or when the database server is restarted mid-run.
//!
//! The world: a real PostgreSQL (its own server per test, so it can be restarted on the same
//! port and data directory), Postfix's smtp-sink keeping every mail (`-d DIR/%M.`), 10,000
//! weekly readers of one group with one new thread, and 2,000 replies (one per reader p0…p1999,
//! each with its own reply token) dropped into the Maildir every worker watches, the way an MDA
//! delivers them. The one schedule fires once, a few seconds after the workers start (every
//! worker's scheduler fires it; the cluster runs it once); a second digest for anyone is a bug,
//! and so is a reader left without one: the run must be finished by the workers that remain. Every wait is bounded; the figures (digests and posts when the
//! interruption came, wall time) are printed with `--nocapture`.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use digestd::config::Config;
use digestd::forum::local::LocalForum;
use digestd::forum::{Author, Forum};
use digestd::model::{ReplyGrant, ReplyToken, ThreadId};
use digestd::store::{InboundStatus, Store};
use support::config::{PersonSpec, RoleSpec, Spec};
use support::daemon::Daemon;
use support::inbound::mail;
use support::postgres::PgServer;
use support::{ensure_deps, skip_unless_ci, wait_until, SmtpSink, SunkMessage};

/// Readers, each due one digest.
const PEOPLE: usize = 10_000;
/// Replies queued in the Maildir, one each from readers p0…p(REPLIES-1).
const REPLIES: usize = 2_000;
/// `digestd run` processes on the one database.
const WORKERS: usize = 3;
/// The reply domain of [`Spec`]'s default config.
const REPLY_DOMAIN: &str = "reply.testdam.example";
/// `[mail] concurrency` (the default): messages a worker has in flight at once.
const IN_FLIGHT: usize = 4;

impl Interruption {
    /// How many digests may go out twice as the same stored message: the RFC 1047 window (the
    /// relay said 250, then the worker died or lost its database before the ledger recorded
    /// it), at most the messages in flight of each worker cut off. A SIGKILL cuts one worker
    /// off once; a database restart cuts off all three, each possibly twice (when the server
    /// goes, and again when a statement meets a pooled connection that died with it).
    fn resent_at_most(self) -> usize {
        match self {
            Interruption::KillOneWorker => IN_FLIGHT,
            Interruption::RestartDatabase => 2 * IN_FLIGHT * WORKERS,
        }
    }
}

/// A test's installation: its own PostgreSQL, smtp-sink, config, Maildir and seeded thread.
struct Cluster {
    spec: Spec,
    pg: PgServer,
    sink: SmtpSink,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    config: Config,
    /// The local forum's id of the thread every reply answers.
    remote_thread: i64,
}

/// How a run is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    /// One worker gets SIGKILL; the other two finish its share once its leases expire.
    KillOneWorker,
    /// The PostgreSQL server stops at once (like a crash) and starts again a few seconds later
    /// on the same port and data directory; every worker rides it out.
    RestartDatabase,
}

impl Cluster {
    /// Starts PostgreSQL and smtp-sink, writes the config, seeds the thread, grants the reply
    /// tokens and fills the Maildir. `None` (after a note, a failure under CI) without
    /// PostgreSQL.
    fn build() -> Option<Cluster> {
        ensure_deps();
        let pg = match PgServer::start() {
            Ok(pg) => pg,
            Err(e) => {
                skip_unless_ci(&format!("PostgreSQL ({e})"));
                return None;
            }
        };
        let db = pg.fresh_database();
        let sink = SmtpSink::start();
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = Spec {
            store_pg: Some(format!("url = \"{}\"\npool_size = 4", pg.url(&db))),
            transport: Spec::smtp(sink.port()),
            roles: vec![RoleSpec::new(
                "social-worker",
                &["social-work"],
                NEVER_BEFORE_THE_TEST_SETS_IT,
                "time_zone = \"UTC\"",
            )],
            people: Spec::numbered_people(PEOPLE),
            person_extra: "frequency = \"weekly\"".into(),
            persons: vec![PersonSpec::new(
                "author@testdam.example",
                "Ann Author",
                &["social-worker"],
                "frequency = \"off\"",
            )],
            tail: format!("[inbound]\nmaildir = \"replies\"\n\n[daemon]\n{DAEMON_SETTINGS}\n"),
            ..Spec::default()
        };
        let config_path = spec.write_in(dir.path());
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("config: {e}"));
        let (thread_id, remote_thread) = seed_thread(&config);
        grant_and_queue_replies(&config, dir.path(), thread_id);
        Some(Cluster {
            spec,
            pg,
            sink,
            dir,
            config_path,
            config,
            remote_thread,
        })
    }

    /// Rewrites the config so that its schedule fires once, `lead` from now (to the second).
    fn fire_in(&mut self, lead: Duration) {
        let at = Utc::now()
            + chrono::Duration::from_std(lead).expect("lead")
            + chrono::Duration::seconds(1);
        let cron = at.format("%-S %-M %-H %-d %-m *").to_string();
        for role in &mut self.spec.roles {
            role.schedule = cron.clone();
        }
        self.spec.write(&self.config_path);
    }

    fn store(&self) -> Store {
        Store::open_at(&self.config.store_location()).expect("store")
    }

    /// Posts in the replied thread (the seed post included); 0 while the database is away.
    fn posts(&self, forum: &LocalForum) -> usize {
        forum
            .local_thread(self.remote_thread)
            .ok()
            .flatten()
            .map_or(0, |t| t.posts.len())
    }

    /// Files smtp-sink has begun (a cheap progress gauge; a file is a complete mail a moment
    /// later).
    fn mails_begun(&self) -> usize {
        std::fs::read_dir(self.sink.dir()).map_or(0, |rd| rd.count())
    }
}

/// How long after the workers' start the schedule fires.
const FIRING_LEAD: Duration = Duration::from_secs(15);

/// The schedule until [`Cluster::fire_in`] sets the real one: midnight on New Year's Day.
const NEVER_BEFORE_THE_TEST_SETS_IT: &str = "0 0 0 1 1 *";

/// `[daemon]` lines of every worker: the inbound Maildir polled every second, and a short
/// lease, so a killed worker's share is taken over within seconds.
const DAEMON_SETTINGS: &str = "inbound_poll_secs = 1\nlease_seconds = 5";

/// Creates the thread the replies answer (by the author, who reads nothing) in the local forum
/// and collects it: (store id, local forum id).
fn seed_thread(config: &Config) -> (ThreadId, i64) {
    let location = config.store_location();
    let forum = LocalForum::open_at(&location, &config.forum_url).expect("forum");
    let group = config.group("social-work").expect("group").clone();
    let posted = forum
        .create_thread(
            &group,
            &Author {
                email: "author@testdam.example".into(),
                name: "Ann Author".into(),
            },
            "Budget 2025",
            "What do we think of the proposal?",
            "seed-thread",
        )
        .expect("seed thread");
    let mut store = Store::open_at(&location).expect("store");
    store.sync_people(&config.people).expect("sync people");
    digestd::collect::collect_all(config, &mut store).expect("collect");
    let epoch = Utc::now() - chrono::Duration::days(3650);
    let (threads, _) = store
        .load_activity(&["social-work".to_string()], epoch, &[], epoch, 0)
        .expect("activity");
    let thread = threads
        .iter()
        .find(|t| t.remote_id == posted.remote_thread_id)
        .expect("collected thread");
    let local: i64 = posted.remote_thread_id.parse().expect("local id");
    (thread.id, local)
}

/// One reply token per replying reader (what their digest would carry), and their replies in
/// `replies/new`, written the way an MDA does (tmp/, then rename).
fn grant_and_queue_replies(config: &Config, dir: &Path, thread: ThreadId) {
    let store = Store::open_at(&config.store_location()).expect("store");
    let maildir = dir.join("replies");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let expires = Utc::now() + chrono::Duration::days(90);
    for i in 0..REPLIES {
        let token = ReplyToken::generate();
        let email = format!("p{i}@testdam.example");
        store
            .insert_grant(&ReplyGrant {
                token: token.clone(),
                person_email: email.clone(),
                thread_id: Some(thread),
                expires,
            })
            .expect("grant");
        let raw = mail(
            &email,
            &format!("reply+{}@{REPLY_DOMAIN}", token.as_str()),
            "Re: Budget 2025",
            &format!("reply-{i}@testdam.example"),
            "",
            &format!("Reply number {i} of {REPLIES}."),
        );
        let name = format!("1700000000.{i:05}.mda");
        std::fs::write(maildir.join("tmp").join(&name), raw).expect("tmp");
        // Delivered (renamed into new/) once the run has begun: see deliver_replies.
    }
}

/// Moves every reply from the Maildir's `tmp/` to `new/`, as an MDA finishes a delivery.
fn deliver_replies(dir: &Path) {
    let maildir = dir.join("replies");
    for e in std::fs::read_dir(maildir.join("tmp"))
        .expect("tmp")
        .flatten()
    {
        std::fs::rename(e.path(), maildir.join("new").join(e.file_name())).expect("new");
    }
}

/// The unfolded value of the first header `name` of a kept mail.
fn header(m: &SunkMessage, name: &str) -> String {
    let text = String::from_utf8_lossy(&m.raw);
    let head = text.split("\n\n").next().unwrap_or_default();
    let mut value: Option<String> = None;
    for line in head.lines() {
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line.trim_end()),
            Some(_) => break,
            None => {
                if let Some((n, v)) = line.split_once(':') {
                    if n.eq_ignore_ascii_case(name) {
                        value = Some(v.trim().to_string());
                    }
                }
            }
        }
    }
    value.unwrap_or_default()
}

/// Runs the three workers over the world, interrupts the run once it is well under way, and
/// checks that everyone got exactly one digest and every reply became exactly one post.
fn three_workers_finish_the_run(interruption: Interruption) {
    // One test at a time: two clusters of three workers at once would starve a 2-core machine.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let started = Instant::now();
    let Some(mut cluster) = Cluster::build() else {
        return;
    };
    // The firing: once most workers have had time to start (each loads and syncs 10,000 people,
    // one after another; a late one joins the run through the take-over round).
    cluster.fire_in(FIRING_LEAD);
    eprintln!("world built in {:?}", started.elapsed());
    let reader = LocalForum::open_at(&cluster.config.store_location(), &cluster.config.forum_url)
        .expect("forum");
    let mut workers: Vec<Daemon> = (0..WORKERS)
        .map(|_| Daemon::start(&cluster.config_path, &[]))
        .collect();

    let fires = Instant::now() + FIRING_LEAD;
    let running = wait_until(Duration::from_secs(90), Duration::from_millis(100), || {
        workers
            .iter()
            .all(|w| w.stderr().contains("digestd running"))
    });
    assert!(
        running,
        "the workers did not all start within 90 s\n{}",
        logs(&workers)
    );
    let now = Instant::now();
    eprintln!(
        "workers all running {} the firing",
        if now <= fires {
            format!("{:?} before", fires - now)
        } else {
            format!("{:?} after (the late ones joined the run)", now - fires)
        }
    );

    // The replies arrive once the firing has collected the thread (so the digests do not carry
    // 2,000 new posts each) and are processed while the digests go out.
    let fired = wait_until(Duration::from_secs(90), Duration::from_millis(50), || {
        workers
            .iter()
            .any(|w| w.stderr().contains("schedule fired"))
    });
    assert!(fired, "the schedule did not fire\n{}", logs(&workers));
    std::thread::sleep(Duration::from_secs(2));
    deliver_replies(cluster.dir.path());

    // Interrupt once a fifth of the digests went out (at most 240 s after the firing).
    let under_way = wait_until(
        FIRING_LEAD + Duration::from_secs(240),
        Duration::from_millis(20),
        || cluster.mails_begun() >= PEOPLE / 5,
    );
    let (mails, posts) = (cluster.mails_begun(), cluster.posts(&reader));
    if !under_way {
        save_logs(&workers, interruption);
    }
    assert!(
        under_way,
        "the workers sent {mails} of {PEOPLE} digests within 240 s of the firing\n{}",
        logs(&workers)
    );
    match interruption {
        Interruption::KillOneWorker => {
            workers[0].signal("-KILL");
            let status = workers[0].wait_exit(Duration::from_secs(10));
            assert!(status.is_some_and(|s| !s.success()), "killed: {status:?}");
        }
        Interruption::RestartDatabase => {
            cluster.pg.stop();
            std::thread::sleep(Duration::from_secs(3));
            cluster.pg.start_again().expect("PostgreSQL starts again");
        }
    }
    eprintln!(
        "{interruption:?} at {:?}: {mails} of {PEOPLE} digests, {} of {REPLIES} replies posted",
        started.elapsed(),
        posts.saturating_sub(1)
    );
    assert!(
        mails < PEOPLE,
        "the interruption came too late to test anything"
    );

    // The survivors finish: every reply is posted and the mail has stopped coming after at
    // least one per reader (quiet for 12 s, more than a firing: room for a duplicate to show up);
    // at most 300 s.
    let mut last = (0, Instant::now());
    let finished = wait_until(Duration::from_secs(300), Duration::from_millis(250), || {
        let mails = cluster.mails_begun();
        if mails != last.0 {
            last = (mails, Instant::now());
        }
        mails >= PEOPLE
            && last.1.elapsed() > Duration::from_secs(12)
            && cluster.posts(&reader) > REPLIES
    });
    let messages = cluster.sink.wait_for(PEOPLE, Duration::from_secs(10));
    let posts = cluster.posts(&reader).saturating_sub(1);
    eprintln!(
        "finished at {:?}: {} mails kept, {posts} replies posted",
        started.elapsed(),
        messages.len()
    );
    if !finished {
        save_logs(&workers, interruption);
    }
    let alive = match interruption {
        Interruption::KillOneWorker => &mut workers[1..],
        Interruption::RestartDatabase => &mut workers[..],
    };
    for (n, w) in alive.iter_mut().enumerate() {
        assert!(
            w.is_running(),
            "worker {n} rode out the {interruption:?}:\n{}",
            w.stderr()
        );
    }
    assert!(
        finished,
        "not finished in 300 s: {} of {PEOPLE} digests, {posts} of {REPLIES} replies\n{}",
        messages.len(),
        logs(&workers)
    );
    for w in alive.iter_mut() {
        let status = {
            w.signal("-TERM");
            w.wait_exit(Duration::from_secs(30))
        };
        assert!(
            status.is_some_and(|s| s.success()),
            "SIGTERM stops a worker with exit 0: {status:?}\n{}",
            w.stderr()
        );
    }

    assert_one_digest_each(&messages, interruption.resent_at_most());
    assert_one_post_per_reply(&cluster, &reader);
    if interruption == Interruption::RestartDatabase {
        let log = logs(&workers);
        assert!(
            log.contains("WARN") || log.contains("ERROR"),
            "the outage is in the workers' logs:\n{log}"
        );
    }
    eprintln!("{interruption:?}: done in {:?}", started.elapsed());
    drop(cluster.dir);
}

/// Every reader has digests of exactly one Message-ID; a second copy is the same stored bytes
/// (the RFC 1047 window), and there are few of those; nobody else got mail.
fn assert_one_digest_each(messages: &[SunkMessage], resent_at_most: usize) {
    let mut by: HashMap<String, Vec<&SunkMessage>> = HashMap::new();
    for m in messages {
        for r in &m.rcpt_to {
            by.entry(r.to_lowercase()).or_default().push(m);
        }
    }
    let mut resent = 0;
    let mut wrong = Vec::new();
    for i in 0..PEOPLE {
        let to = format!("p{i}@testdam.example");
        let got = by.remove(&to).unwrap_or_default();
        let first = got.first().map(|m| (header(m, "Message-ID"), &m.raw));
        let same = got
            .iter()
            .all(|m| Some((header(m, "Message-ID"), &m.raw)) == first);
        if got.is_empty() || !same || first.is_some_and(|(id, _)| id.is_empty()) {
            let ids: Vec<String> = got.iter().map(|m| header(m, "Message-ID")).collect();
            wrong.push(format!("{to}: {ids:?}"));
        }
        resent += got.len().saturating_sub(1);
    }
    assert!(
        wrong.is_empty(),
        "{} readers without exactly one digest, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert!(by.is_empty(), "mail to non-readers: {:?}", by.keys());
    eprintln!("{resent} digests resent as the same stored message (RFC 1047 window)");
    assert!(
        resent <= resent_at_most,
        "{resent} resent copies: more than the in-flight messages of the cut-off workers"
    );
}

/// The thread holds the seed and each reply exactly once; every stored message ended posted.
fn assert_one_post_per_reply(cluster: &Cluster, reader: &LocalForum) {
    let thread = reader
        .local_thread(cluster.remote_thread)
        .expect("thread")
        .expect("exists");
    let mut seen: HashMap<usize, usize> = HashMap::new();
    for p in &thread.posts {
        if let Some(n) = p
            .body
            .split("Reply number ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            *seen.entry(n).or_default() += 1;
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    let missing: Vec<usize> = (0..REPLIES).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        twice.is_empty() && missing.is_empty(),
        "posted twice: {twice:?}; missing: {:?}",
        &missing[..missing.len().min(10)]
    );
    assert_eq!(thread.posts.len(), REPLIES + 1, "seed + one post per reply");
    let store = cluster.store();
    let rows: Vec<_> = (1..=REPLIES as i64 + 10)
        .map_while(|id| store.inbound(id).expect("inbound"))
        .collect();
    assert_eq!(rows.len(), REPLIES, "each reply stored once");
    let not_posted: Vec<_> = rows
        .iter()
        // A row whose post was made while the database went away may still wait for its retry
        // (queued, with a next attempt): the forum's idempotency key makes that retry find the
        // post made (the thread above holds each reply once), not post it again.
        .filter(|r| {
            r.status != InboundStatus::Posted
                && !(r.status == InboundStatus::Queued && r.next_attempt.is_some())
        })
        .map(|r| (r.id, r.status, r.reason.clone()))
        .collect();
    assert!(not_posted.is_empty(), "not posted: {not_posted:?}");
    let new = std::fs::read_dir(cluster.dir.path().join("replies/new")).map_or(0, |d| d.count());
    assert_eq!(new, 0, "the Maildir is drained");
}

/// Writes every worker's whole log to the temporary directory, and says where.
fn save_logs(workers: &[Daemon], interruption: Interruption) {
    for (n, w) in workers.iter().enumerate() {
        let path = std::env::temp_dir().join(format!(
            "cluster_workers-{interruption:?}-{}-worker-{n}.log",
            std::process::id()
        ));
        if std::fs::write(&path, w.stderr()).is_ok() {
            eprintln!("worker {n}'s log: {}", path.display());
        }
    }
}

/// The end of every worker's log, one after another.
fn logs(workers: &[Daemon]) -> String {
    workers
        .iter()
        .enumerate()
        .map(|(n, w)| {
            let log = w.stderr();
            let tail = log
                .char_indices()
                .rev()
                .nth(4000)
                .map_or(&log[..], |(i, _)| &log[i..]);
            format!("--- worker {n} (last lines) ---\n{tail}\n")
        })
        .collect()
}

#[test]
fn three_workers_one_killed_mid_run_everyone_gets_one_digest_and_every_reply_one_post() {
    three_workers_finish_the_run(Interruption::KillOneWorker);
}

#[test]
fn three_workers_ride_out_a_database_restart_mid_run_and_finish_it() {
    three_workers_finish_the_run(Interruption::RestartDatabase);
}
