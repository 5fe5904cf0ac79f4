//! Issue #22, a firing missed while the database was unreachable: a `digestd run` worker on
//! one real PostgreSQL, the server stopped a few seconds before the schedule fires (once, at a
//! set second) and started again once the firing has failed. Once the database is back, the
//! take-over round finds the occurrence without a `firings` row and runs it late, together
//! with a second worker started then (which finds the same occurrence): everyone gets exactly
//! one digest, and the firing is recorded once, for its scheduled occurrence.
//!
//! On SQLite, one daemon: started for the first time ten minutes after a firing, it sends
//! nothing from before its first start; started after being stopped over a firing (its
//! schedule watched since an hour ago), it sends that firing late, once.

mod support;

use std::time::Duration;

use chrono::{Timelike, Utc};
use support::config::Spec;
use support::daemon::Daemon;
use support::postgres::PgServer;
use support::workers::{assert_one_digest_each_reader, import_two_threads};
use support::{ensure_deps, skip_unless_ci, wait_until, SmtpSink};

/// Readers; p0 writes the posts, so everyone else gets a digest.
const PEOPLE: usize = 40;

/// Both workers' logs, one after the other.
fn logs(workers: &[&Daemon]) -> String {
    workers
        .iter()
        .enumerate()
        .map(|(n, w)| format!("--- worker {n} ---\n{}\n", w.stderr()))
        .collect()
}

#[test]
fn a_firing_missed_while_the_database_was_down_is_sent_once_when_it_is_back() {
    ensure_deps();
    let pg = match PgServer::start() {
        Ok(pg) => pg,
        Err(e) => {
            skip_unless_ci(&format!("PostgreSQL ({e})"));
            return;
        }
    };
    let db = pg.fresh_database();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = |fires_at: chrono::DateTime<Utc>| Spec {
        store_pg: Some(format!("url = \"{}\"\npool_size = 3", pg.url(&db))),
        transport: Spec::smtp(sink.port()),
        // The config's time zone is Amsterdam.
        schedule: fires_at
            .with_timezone(&chrono_tz::Europe::Amsterdam)
            .format("%-S %-M %-H %-d %-m *")
            .to_string(),
        people: Spec::numbered_people(PEOPLE),
        // Short leases: the take-over round every second, an occurrence missed after 4 s.
        tail: "[daemon]\nlease_seconds = 2\nthreads = 1\n".into(),
        ..Spec::default()
    };
    let config = spec(Utc::now() + chrono::Duration::hours(2)).write_in(dir.path());
    import_two_threads(&config);
    // Once, at a whole second far enough ahead that the first worker is up 4 s before it
    // (it starts in about a second); the config written again with it.
    let fires_at = (Utc::now() + chrono::Duration::seconds(12))
        .with_nanosecond(0)
        .expect("a whole second");
    spec(fires_at).write_in(dir.path());

    let a = Daemon::start(&config, &[]);
    assert!(
        a.wait_log("digestd running", 1, Duration::from_secs(30)),
        "the worker started: {}",
        a.stderr()
    );
    let stop_at = fires_at - chrono::Duration::seconds(4);
    let lead = (stop_at - Utc::now()).to_std().unwrap_or_else(|_| {
        panic!("the worker must be up 4 s before the firing at {fires_at} (this machine took too long)")
    });
    std::thread::sleep(lead);
    pg.stop();

    // The firing comes and fails: nothing recorded, nothing sent.
    let failed = wait_until(Duration::from_secs(180), Duration::from_millis(100), || {
        a.stderr().contains("digest cycle failed")
    });
    assert!(
        failed,
        "the firing failed without the database\n{}",
        logs(&[&a])
    );
    assert_eq!(sink.messages().len(), 0, "no digest without the database");
    pg.start_again().expect("PostgreSQL starts again");
    // A second worker joins now: it finds the same missed occurrence, and the two share it.
    let b = Daemon::start(&config, &[]);

    assert_one_digest_each_reader(
        &sink,
        PEOPLE,
        Duration::from_secs(120),
        // Room for a duplicate (a second late run) to show up.
        Duration::from_secs(6),
        || logs(&[&a, &b]),
    );
    let log = logs(&[&a, &b]);
    assert!(
        log.contains("running a firing missed"),
        "a worker says it runs the missed firing:\n{log}"
    );

    // One firing, for the scheduled occurrence, all its slices done; one ledger row each.
    let ns = fires_at.timestamp() * 1_000_000_000;
    let firings = pg
        .psql(&db, "SELECT schedule, period_end FROM firings")
        .expect("psql");
    let rows: Vec<&str> = firings.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 1, "one firing: {firings}");
    assert!(rows[0].ends_with(&format!("|{ns}")), "{firings} at {ns}");
    let open = pg
        .psql(&db, "SELECT COUNT(*) FROM firing_slices WHERE done IS NULL")
        .expect("psql");
    assert_eq!(open.trim(), "0", "every slice done");
    let ledger = pg
        .psql(
            &db,
            "SELECT status, COUNT(*), COUNT(DISTINCT person_email) FROM deliveries GROUP BY status",
        )
        .expect("psql");
    assert_eq!(ledger.trim(), format!("sent|{n}|{n}", n = PEOPLE - 1));
    drop((a, b));
}

/// One daemon on a SQLite store whose only schedule fired ten minutes ago (daily), with
/// short leases (an occurrence counts as missed after 2 s); `watched_since`, when given, is
/// recorded as the first start of a daemon with that schedule before this one starts.
fn sqlite_daemon_after_a_firing(
    dir: &std::path::Path,
    sink: &SmtpSink,
    watched_since: Option<chrono::DateTime<Utc>>,
) -> Daemon {
    let fired =
        (Utc::now() - chrono::Duration::minutes(10)).with_timezone(&chrono_tz::Europe::Amsterdam);
    let spec = Spec {
        transport: Spec::smtp(sink.port()),
        schedule: fired.format("%-S %-M %-H * * *").to_string(),
        people: Spec::numbered_people(SQLITE_PEOPLE),
        tail: "[daemon]\nlease_seconds = 1\n".into(),
        ..Spec::default()
    };
    let key = format!("{}@Europe/Amsterdam", spec.schedule);
    let config = spec.write_in(dir);
    import_two_threads(&config);
    if let Some(since) = watched_since {
        let loaded = digestd::config::Config::load(&config).expect("config");
        let mut store = digestd::store::Store::open_at(&loaded.store_location()).expect("store");
        store.watch_schedules(&[key], since).expect("watched");
    }
    let daemon = Daemon::start(&config, &[]);
    assert!(
        daemon.wait_log("digestd running", 1, Duration::from_secs(30)),
        "{}",
        daemon.stderr()
    );
    daemon
}

/// Readers of the SQLite tests (p0 wrote the posts).
const SQLITE_PEOPLE: usize = 5;

#[test]
fn a_new_installation_sends_no_firing_from_before_its_first_start() {
    ensure_deps();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut daemon = sqlite_daemon_after_a_firing(dir.path(), &sink, None);
    // Several take-over rounds (every half second), well past the 2 s grace.
    std::thread::sleep(Duration::from_secs(5));
    daemon.signal("-TERM");
    daemon.wait_exit(Duration::from_secs(30));
    let log = daemon.stderr();
    assert!(!log.contains("running a firing missed"), "{log}");
    assert_eq!(
        sink.messages().len(),
        0,
        "nothing from before the first start\n{log}"
    );
}

#[test]
fn a_daemon_stopped_over_a_firing_sends_it_late_and_once_at_its_start() {
    ensure_deps();
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    let mut daemon = sqlite_daemon_after_a_firing(dir.path(), &sink, Some(an_hour_ago));
    assert_one_digest_each_reader(
        &sink,
        SQLITE_PEOPLE,
        Duration::from_secs(60),
        // Several more take-over rounds: a second late run would send again.
        Duration::from_secs(4),
        || daemon.stderr(),
    );
    daemon.signal("-TERM");
    daemon.wait_exit(Duration::from_secs(30));
    let log = daemon.stderr();
    assert_eq!(log.matches("running a firing missed").count(), 1, "{log}");
}
