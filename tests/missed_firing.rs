//! Issue #22, a firing missed while the database was unreachable: a `digestd run` worker on
//! one real PostgreSQL, the server stopped a few seconds before the schedule fires (once, at a
//! set second) and started again once the firing has failed. Once the database is back, the
//! take-over round finds the occurrence without a `firings` row and runs it late, together
//! with a second worker started then (which finds the same occurrence): everyone gets exactly one digest, and the firing is recorded
//! once, for its scheduled occurrence.

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
    // Once, at a whole second far enough ahead that both workers are up before it.
    let fires_at = (Utc::now() + chrono::Duration::seconds(25))
        .with_nanosecond(0)
        .expect("a whole second");
    let config = Spec {
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
    }
    .write_in(dir.path());
    import_two_threads(&config);

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
