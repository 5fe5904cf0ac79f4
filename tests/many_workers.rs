//! Several `digestd run` processes on one PostgreSQL database (issue 22, "many workers"): a
//! schedule firing is one run cluster-wide, its people are shared between the workers by
//! slices, and everyone gets exactly one digest. Real PostgreSQL, real smtp-sink.

mod support;

use std::time::Duration;

use chrono::{Timelike, Utc};
use support::config::Spec;
use support::daemon::Daemon;
use support::postgres::{PgServer, PASSWORD};
use support::workers::{assert_one_digest_each_reader, import_two_threads};
use support::{ensure_deps, run_digestd, wait_until, SmtpSink};

const PEOPLE: usize = 400;

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The worker id a daemon's "digestd running" line names.
fn worker_id(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("digestd running"))?;
    let at = line.find("worker=")? + "worker=".len();
    Some(
        line[at..]
            .split_whitespace()
            .next()?
            .trim_matches('"')
            .to_owned(),
    )
}

#[test]
fn two_workers_on_one_postgresql_share_a_run_and_everyone_gets_exactly_one_digest() {
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.fresh_database();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pg-password"), format!("{PASSWORD}\n")).expect("password");
    // Once a minute, at a second far enough ahead that both workers are up when it fires.
    let fires_at = (Utc::now() + chrono::Duration::seconds(20)).with_nanosecond(0);
    let fires_at = fires_at.expect("a whole second");
    let second = fires_at.second();
    let config = Spec {
        store_pg: Some(format!(
            "url = \"{}\"\npassword_file = \"pg-password\"\npool_size = 3",
            server.url_without_password(&db)
        )),
        transport: Spec::smtp(sink.port()),
        schedule: format!("{second} * * * * *"),
        people: Spec::numbered_people(PEOPLE),
        tail: "[daemon]\nlease_seconds = 5\nthreads = 1\n".into(),
        ..Spec::default()
    }
    .write_in(dir.path());
    import_two_threads(&config);

    let a = Daemon::start(&config, &[]);
    let b = Daemon::start(&config, &[]);
    for d in [&a, &b] {
        assert!(
            d.wait_log("digestd running", 1, Duration::from_secs(30)),
            "a worker started: {}",
            d.stderr()
        );
    }
    assert!(
        Utc::now() < fires_at,
        "both workers must be up before the firing at {fires_at} (this machine took too long)"
    );
    // Everyone but p0, the author of both threads (nothing new for them); room for a
    // duplicate to show up.
    assert_one_digest_each_reader(
        &sink,
        PEOPLE,
        Duration::from_secs(120),
        Duration::from_secs(3),
        String::new,
    );

    // `digestd status` shows the firing as a whole: both workers' parts summed (once both
    // have logged the end of their part; before the schedule fires again, a minute on).
    let whole = format!("{} sent, 0 failed (2 workers)", PEOPLE - 1);
    let mut status = String::new();
    let shown = wait_until(Duration::from_secs(20), Duration::from_millis(250), || {
        status = ok(&run_digestd(&config, &["status"], None), "status");
        status.contains(&whole)
    });
    if Utc::now() < fires_at + chrono::Duration::seconds(55) {
        assert!(shown, "status shows {whole:?}:\n{status}");
    }

    // The first firing (one row, however many workers joined it) and its slices, all done,
    // shared by both workers, each named in its own log.
    const FIRST: &str = "period_end = (SELECT MIN(period_end) FROM firings)";
    let open = server
        .psql(
            &db,
            &format!("SELECT COUNT(*) FROM firing_slices WHERE done IS NULL AND {FIRST}"),
        )
        .expect("psql");
    assert_eq!(open.trim(), "0", "every slice done");
    let claimers = server
        .psql(
            &db,
            &format!(
                "SELECT DISTINCT claimed_by FROM firing_slices WHERE {FIRST} ORDER BY claimed_by"
            ),
        )
        .expect("psql");
    let claimers: Vec<&str> = claimers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let ids = [
        worker_id(&a.stderr()).expect("worker a's id in its log"),
        worker_id(&b.stderr()).expect("worker b's id in its log"),
    ];
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        assert!(
            claimers.contains(&id.as_str()),
            "both workers did part of the run: {id} not among {claimers:?}"
        );
    }
    let ledger = server
        .psql(
            &db,
            "SELECT status, COUNT(*), COUNT(DISTINCT person_email) FROM deliveries GROUP BY status",
        )
        .expect("psql");
    assert_eq!(
        ledger.trim(),
        format!("sent|{n}|{n}", n = PEOPLE - 1),
        "one ledger row each, all sent"
    );
    drop((a, b));
}

/// A worker died in the middle of a run: one slice claimed with a lease that has expired, one
/// never claimed, and one of its digests recorded but not sent. A worker started later takes
/// the run over: the orphaned digest goes out byte for byte, everyone else of that firing gets
/// theirs with its period end, and nobody gets two.
#[test]
fn a_worker_started_later_takes_over_a_dead_workers_run_and_its_pending_digest() {
    use digestd::store::{NewDelivery, PgSettings, Store, StoreLocation};
    ensure_deps();
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.fresh_database();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pg-password"), format!("{PASSWORD}\n")).expect("password");
    const FEW: usize = 12;
    let spec = Spec {
        store_pg: Some(format!(
            "url = \"{}\"\npassword_file = \"pg-password\"\npool_size = 2",
            server.url_without_password(&db)
        )),
        transport: Spec::smtp(sink.port()),
        people: Spec::numbered_people(FEW),
        tail: "[daemon]\nlease_seconds = 2\n".into(),
        ..Spec::default()
    };
    let key = format!("{}@Europe/Amsterdam", spec.schedule);
    let config = spec.write_in(dir.path());
    import_two_threads(&config);
    // Collected before the dead worker's run, as its firing did.
    ok(&run_digestd(&config, &["collect"], None), "collect");

    // What the dead worker left, written with this process as that worker (its leases last a
    // second).
    digestd::worker::set_lease_secs(1);
    let period_end = (Utc::now() - chrono::Duration::minutes(10))
        .with_nanosecond(0)
        .expect("whole second");
    let mut store = Store::open_at(&StoreLocation::Postgres(PgSettings {
        url: server.url(&db),
        password_file: None,
        pool_size: 1,
        ca_file: None,
    }))
    .expect("store");
    let now = Utc::now();
    store
        .join_firing(&key, period_end, 2, "dead:1:0", now)
        .expect("firing");
    store
        .claim_slice(
            &key,
            period_end,
            "dead:1:0",
            now,
            now + chrono::Duration::seconds(1),
        )
        .expect("claim")
        .expect("a slice");
    let raw = b"From: digest@testdam.example\r\nTo: p5@testdam.example\r\nSubject: left pending by a dead worker\r\nMessage-ID: <orphan@testdam.example>\r\n\r\nbody\r\n".to_vec();
    store
        .insert_pending_delivery(&NewDelivery {
            person_email: "p5@testdam.example".into(),
            schedule: key.clone(),
            period_end,
            message_id: "<orphan@testdam.example>".into(),
            raw,
            post_ids: vec![],
            grants: vec![],
            highlights: vec![],
        })
        .expect("insert")
        .expect("new");
    drop(store);
    std::thread::sleep(Duration::from_millis(1100));

    let worker = Daemon::start(&config, &[]);
    // Everyone but p0 (the author): p5 the stored message, the others a digest.
    let messages = sink.wait_for(FEW - 1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(3));
    let messages = if sink.messages().len() > messages.len() {
        sink.messages()
    } else {
        messages
    };
    assert_eq!(
        messages.len(),
        FEW - 1,
        "one each, nobody twice: {}",
        worker.stderr()
    );
    let orphan: Vec<_> = messages
        .iter()
        .filter(|m| m.rcpt_to.contains(&"p5@testdam.example".to_string()))
        .collect();
    assert_eq!(orphan.len(), 1);
    assert!(
        String::from_utf8_lossy(&orphan[0].raw).contains("left pending by a dead worker"),
        "the pending digest is resent as stored"
    );
    let id = worker_id(&worker.stderr()).expect("the worker's id in its log");
    let slices = server
        .psql(
            &db,
            "SELECT slice, claimed_by, done IS NOT NULL FROM firing_slices ORDER BY slice",
        )
        .expect("psql");
    assert_eq!(
        slices.trim(),
        format!("0|{id}|t\n1|{id}|t"),
        "both slices taken over and done"
    );
    let ends = server
        .psql(
            &db,
            "SELECT COUNT(DISTINCT period_end), COUNT(*) FROM deliveries WHERE status = 'sent'",
        )
        .expect("psql");
    assert_eq!(
        ends.trim(),
        format!("1|{}", FEW - 1),
        "all of the dead worker's firing"
    );
    assert!(
        worker
            .stderr()
            .contains("taking over a digest run left unfinished"),
        "{}",
        worker.stderr()
    );
    drop(worker);
}

/// A worker's inbound loop keeps one store from round to round (one "store opened" line over
/// many rounds), and when the database goes away for longer than its pool waits and comes
/// back, it opens the store again and posts what arrived meanwhile, once.
#[test]
fn the_inbound_loop_keeps_its_store_and_opens_it_again_after_a_database_restart() {
    use digestd::config::Config;
    use digestd::forum::local::LocalForum;
    use digestd::forum::{Author, Forum};
    use digestd::model::{ReplyGrant, ReplyToken};
    use digestd::store::Store;
    ensure_deps();
    // A server of its own: it is stopped and started again.
    let server = match PgServer::start() {
        Ok(s) => s,
        Err(e) => {
            support::skip_unless_ci(&format!("PostgreSQL ({e})"));
            return;
        }
    };
    let db = server.fresh_database();
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = Spec {
        store_pg: Some(format!("url = \"{}\"\npool_size = 2", server.url(&db))),
        people: Spec::numbered_people(3),
        tail: "[inbound]\nmaildir = \"replies\"\n\n[daemon]\ninbound_poll_secs = 1\n".into(),
        ..Spec::default()
    }
    .write_in(dir.path());
    let config = Config::load(&config_path).expect("config");
    let location = config.store_location();

    // A thread by p0 in the built-in forum, collected, and a reply token for each of p1, p2.
    let forum = LocalForum::open_at(&location, &config.forum_url).expect("forum");
    let group = config.group("social-work").expect("group").clone();
    let author = Author {
        email: "p0@testdam.example".into(),
        name: "Person 0".into(),
    };
    let posted = forum
        .create_thread(&group, &author, "Rota", "Who takes Friday?", "seed")
        .expect("thread");
    let mut store = Store::open_at(&location).expect("store");
    store.sync_people(&config.people).expect("people");
    digestd::collect::collect_all(&config, &mut store).expect("collect");
    let epoch = Utc::now() - chrono::Duration::days(3650);
    let (threads, _) = store
        .load_activity(&["social-work".to_string()], epoch, &[], epoch, 0)
        .expect("activity");
    let thread = threads
        .iter()
        .find(|t| t.remote_id == posted.remote_thread_id)
        .expect("collected");
    let local: i64 = posted.remote_thread_id.parse().expect("local id");
    let maildir = dir.path().join("replies");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    let reply = |i: usize| {
        let token = ReplyToken::generate();
        let email = format!("p{i}@testdam.example");
        store
            .insert_grant(&ReplyGrant {
                token: token.clone(),
                person_email: email.clone(),
                thread_id: Some(thread.id),
                expires: Utc::now() + chrono::Duration::days(90),
            })
            .expect("grant");
        support::inbound::mail(
            &email,
            &format!("reply+{}@reply.testdam.example", token.as_str()),
            "Re: Rota",
            &format!("rota-{i}@testdam.example"),
            "",
            &format!("Reply {i}: I can."),
        )
    };
    let (first, second) = (reply(1), reply(2));
    drop(store);
    let deliver = |name: &str, raw: &[u8]| {
        std::fs::write(maildir.join("tmp").join(name), raw).expect("tmp");
        std::fs::rename(
            maildir.join("tmp").join(name),
            maildir.join("new").join(name),
        )
        .expect("new");
    };
    // Posts in the thread (the seed included); 0 while the database is away.
    let posts = || {
        forum
            .local_thread(local)
            .ok()
            .flatten()
            .map_or(0, |t| t.posts.len())
    };

    let mut daemon = Daemon::start(&config_path, &[]);
    assert!(
        daemon.wait_log("digestd running", 1, Duration::from_secs(30)),
        "started: {}",
        daemon.stderr()
    );
    deliver("1700000000.1.mda", &first);
    assert!(
        support::wait_until(Duration::from_secs(30), Duration::from_millis(100), || {
            posts() == 2
        }),
        "the first reply is posted: {}",
        daemon.stderr()
    );
    // Several more rounds (one a second) on the same store.
    std::thread::sleep(Duration::from_secs(4));
    let log = daemon.stderr();
    assert_eq!(
        log.matches("inbound: store opened").count(),
        1,
        "one store for every round so far:\n{log}"
    );

    // Away for longer than the pool waits for a connection (5 s): the round storing the
    // reply fails, and the loop lets its store go.
    server.stop();
    deliver("1700000000.2.mda", &second);
    std::thread::sleep(Duration::from_secs(8));
    server.start_again().expect("PostgreSQL starts again");
    // Posted at the next round (or, had it been stored and its post refused, at its retry a
    // minute later).
    assert!(
        support::wait_until(Duration::from_secs(90), Duration::from_millis(200), || {
            posts() == 3
        }),
        "the reply that came during the outage is posted once the database is back: {}",
        daemon.stderr()
    );
    let log = daemon.stderr();
    assert!(
        log.contains("inbound: store opened again after a round whose store failed"),
        "the failed store was let go and opened again:\n{log}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(posts(), 3, "each reply posted once");
    assert_eq!(
        std::fs::read_dir(maildir.join("new")).map_or(0, |d| d.count()),
        0,
        "the Maildir is drained"
    );
    daemon.signal("-TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}
