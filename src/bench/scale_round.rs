//! One measured round of `digestd bench scale`: a fresh store (a scratch PostgreSQL database or
//! a SQLite file) holding the synthetic organisation and a week of posts, a config whose one
//! schedule fires once at a set instant, `workers` real `digestd run` processes on it, and the
//! ledger watched until every digest is sent.
//!
//! The clock runs from the firing instant to the last digest the ledger records as sent; the
//! workers' start (config, store, people) is before it and not measured.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant, SystemTime};

use anyhow::{bail, Context};
use chrono::{DateTime, Timelike, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::digest::{fill_store, templates_dir, Org};
use crate::store::{PgSettings, Store, StoreLocation};

/// Where a round's store lives.
pub(super) enum Target<'a> {
    /// A SQLite file in the round's directory.
    Sqlite,
    /// A scratch database on the PostgreSQL server of these settings.
    Postgres(&'a PgSettings),
}

/// What a round measured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Measured {
    /// Digests the ledger holds as sent.
    pub(super) sent: u64,
    /// From the firing to the last digest recorded as sent.
    pub(super) elapsed: StdDuration,
}

impl Measured {
    /// Digests per second.
    pub(super) fn rate(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The ledger must be still this long (and nothing pending) for the run to count as done.
const SETTLED: StdDuration = StdDuration::from_secs(3);
/// The longest a run may take before the round fails.
const RUN_LIMIT: StdDuration = StdDuration::from_secs(1800);

/// Runs one round: `workers` processes over `org` and `posts` posts, mail to 127.0.0.1:`port`.
pub(super) fn round(
    target: Target<'_>,
    workers: usize,
    org: &Org,
    posts: usize,
    port: u16,
) -> anyhow::Result<Measured> {
    let dir = tempfile::Builder::new()
        .prefix("digestd-bench-scale-")
        .tempdir()
        .context("temporary directory")?;
    let scratch = match target {
        Target::Sqlite => None,
        Target::Postgres(settings) => Some(
            crate::store::scratch_pg::create(
                settings,
                &format!("{}_{workers}", std::process::id()),
            )
            .context("creating a scratch database (the URL's user needs CREATEDB)")?,
        ),
    };
    let location = match (&scratch, target) {
        (Some(db), Target::Postgres(settings)) => StoreLocation::Postgres(PgSettings {
            url: db.url.clone(),
            ..settings.clone()
        }),
        _ => StoreLocation::File(dir.path().join("bench.sqlite")),
    };
    let result = fill(&location, org, posts).and_then(|()| {
        let lead = StdDuration::from_secs(8 + 2 * workers as u64 + org.people.len() as u64 / 5000);
        let fires = Utc::now() + chrono::Duration::from_std(lead)?;
        let fires = fires.with_nanosecond(0).unwrap_or(fires) + chrono::Duration::seconds(1);
        let config = write_config(dir.path(), &location, org, port, fires)?;
        let mut procs = Workers::start(&config, workers, dir.path())?;
        let measured = procs.measure(&location, fires);
        procs.stop();
        measured
    });
    if let Some(db) = scratch {
        if let Err(e) = db.drop_database() {
            eprintln!("note: scratch database {} left behind: {e}", db.name);
        }
    }
    result
}

/// Writes the organisation's groups and people and a week of posts (ending now) into the store.
fn fill(location: &StoreLocation, org: &Org, posts: usize) -> anyhow::Result<()> {
    let mut store = Store::open_at(location).context("opening the round's store")?;
    store.sync_groups(&org.groups)?;
    store.sync_people(&org.people)?;
    let mut rng = StdRng::seed_from_u64(0x5ca1e);
    fill_store(&mut store, org, posts, Utc::now(), &mut rng)?;
    Ok(())
}

/// The round's config (and its people CSV): every role on one schedule firing once, at `fires`.
fn write_config(
    dir: &Path,
    location: &StoreLocation,
    org: &Org,
    port: u16,
    fires: DateTime<Utc>,
) -> anyhow::Result<PathBuf> {
    let store = match location {
        StoreLocation::File(path) => format!("path = {:?}", path.display().to_string()),
        StoreLocation::Postgres(pg) => format!("url = {:?}\npool_size = {}", pg.url, pg.pool_size),
    };
    let cron = fires.format("%-S %-M %-H %-d %-m *").to_string();
    let mut toml = format!(
        "people_csv = \"people.csv\"\n\n[organisation]\nname = \"Gemeente Voorbeeld\"\n\
         forum_url = \"https://forum.example.org\"\n\n[store]\n{store}\n\n[mail]\n\
         from = \"Gemeente Voorbeeld <digest@example.org>\"\nreply_domain = \"reply.example.org\"\n\n\
         [mail.transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\n\
         [digest]\ntemplates = {:?}\n\n[daemon]\ninbound_poll_secs = 86400\n",
        std::path::absolute(templates_dir())?.display().to_string()
    );
    for g in &org.groups {
        write!(toml, "\n[[groups]]\nid = {:?}\nname = {:?}\n", g.id, g.name)?;
    }
    for r in &org.roles {
        write!(
            toml,
            "\n[[roles]]\nname = {:?}\ngroups = {:?}\nschedule = {cron:?}\ntime_zone = \"UTC\"\n\
             training_tags = {:?}\n",
            r.name, r.groups, r.training_tags
        )?;
    }
    let mut csv = String::from("email,name,roles,time_zone,locale,frequency\n");
    for p in &org.people {
        writeln!(
            csv,
            "{},{},{},{},{},{}",
            p.email,
            p.name,
            p.roles.join(";"),
            p.time_zone,
            p.locale,
            p.frequency
        )?;
    }
    std::fs::write(dir.join("people.csv"), csv).context("writing people.csv")?;
    let path = dir.join("digestd.toml");
    std::fs::write(&path, toml).context("writing the config")?;
    Ok(path)
}

/// The round's `digestd run` processes, each logging to its own file.
struct Workers {
    children: Vec<Child>,
    logs: Vec<PathBuf>,
}

impl Workers {
    fn start(config: &Path, count: usize, dir: &Path) -> anyhow::Result<Workers> {
        let exe = std::env::current_exe().context("the digestd binary")?;
        let mut workers = Workers {
            children: Vec::new(),
            logs: Vec::new(),
        };
        for i in 0..count {
            let log = dir.join(format!("worker-{i}.log"));
            let file = std::fs::File::create(&log).context("worker log")?;
            let child = Command::new(&exe)
                .args(["run", "-c"])
                .arg(config)
                .env_remove("RUST_LOG")
                .env_remove("NOTIFY_SOCKET")
                .env_remove("WATCHDOG_USEC")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file)
                .spawn()
                .context("starting a worker")?;
            workers.children.push(child);
            workers.logs.push(log);
        }
        Ok(workers)
    }

    /// Waits for every worker to be running before `fires`, then for the ledger to settle.
    fn measure(
        &mut self,
        location: &StoreLocation,
        fires: DateTime<Utc>,
    ) -> anyhow::Result<Measured> {
        let fire_at = instant_of(fires);
        while !self
            .logs
            .iter()
            .all(|l| log_of(l).contains("digestd running"))
        {
            if let Some(i) = self
                .children
                .iter_mut()
                .position(|c| matches!(c.try_wait(), Ok(Some(_))))
            {
                bail!("worker {i} exited before the run:\n{}", self.tails());
            }
            if Instant::now() >= fire_at {
                bail!(
                    "the workers were not all running when the schedule fired (slow start?):\n{}",
                    self.tails()
                );
            }
            std::thread::sleep(StdDuration::from_millis(50));
        }
        let store = Store::open_at(location).context("opening the store to watch the ledger")?;
        let mut last = (0u64, Instant::now());
        loop {
            std::thread::sleep(StdDuration::from_millis(100));
            let now = Instant::now();
            if now < fire_at {
                continue;
            }
            let (pending, sent, _failed) = store.delivery_counts()?;
            if sent != last.0 {
                last = (sent, now);
            }
            if sent > 0 && pending == 0 && now.duration_since(last.1) >= SETTLED {
                return Ok(Measured {
                    sent,
                    elapsed: last.1.saturating_duration_since(fire_at),
                });
            }
            if now.duration_since(fire_at) > RUN_LIMIT {
                bail!(
                    "the run did not finish in {RUN_LIMIT:?} ({sent} sent, {pending} pending):\n{}",
                    self.tails()
                );
            }
        }
    }

    /// SIGTERM to every worker, then (after at most 30 s) SIGKILL to any still running.
    fn stop(&mut self) {
        for c in &self.children {
            if let Ok(pid) = i32::try_from(c.id()) {
                // SAFETY: kill(2) on our own child's pid; it only sends a signal.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
        let deadline = Instant::now() + StdDuration::from_secs(30);
        for c in &mut self.children {
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(StdDuration::from_millis(50));
            }
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }

    /// The last lines of every worker's log.
    fn tails(&self) -> String {
        self.logs
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let text = log_of(l);
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!(
                    "--- worker {i} ({}) ---\n{}\n",
                    l.display(),
                    tail.join("\n")
                )
            })
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.children {
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The monotonic instant of a wall-clock time (now, when it has passed).
fn instant_of(at: DateTime<Utc>) -> Instant {
    let wall: SystemTime = at.into();
    match wall.duration_since(SystemTime::now()) {
        Ok(ahead) => Instant::now() + ahead,
        Err(_) => Instant::now(),
    }
}
