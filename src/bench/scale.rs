//! `digestd bench scale`: digests per second of real `digestd run` worker processes sharing one
//! run on one PostgreSQL database, for each worker count asked for, beside one worker on a
//! SQLite file, and the ratio of the most workers to one.
//!
//! Each round ([`super::scale_round`]) starts from a fresh store holding the synthetic
//! organisation of `bench digest` (24 groups, 12 roles, `people` weekly readers, a week of
//! posts ending now), starts the workers, lets one schedule fire once for everyone and times
//! the run from the firing to the last digest the ledger records as sent. Mail goes to Postfix's
//! smtp-sink on 127.0.0.1 (discarded), so SMTP is not the limit. The workers are processes, not
//! threads in this one: what is measured is what an installation of several `digestd run`
//! gets, connections, claims and all.

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::digest::organisation;
use super::scale_round::{round, Measured, Target};
use super::send::Sink;
use crate::store::location::DEFAULT_POOL_SIZE;
use crate::store::PgSettings;

/// Posts in the week the digests cover.
const POSTS: usize = 6_000;

/// Runs the benchmark and prints its table.
pub fn run(workers: &[usize], people: usize, url: Option<&str>) -> anyhow::Result<()> {
    let Some(url) = url else {
        bail!(
            "bench scale needs a PostgreSQL server: --url postgres://user@127.0.0.1:5432/postgres \
             (password in the URL or PGPASSWORD; the user needs CREATEDB: each round gets its \
             own scratch database named digestd_bench_scale_*, dropped afterwards)"
        );
    };
    let mut counts: Vec<usize> = workers.iter().copied().filter(|n| *n > 0).collect();
    counts.sort_unstable();
    counts.dedup();
    if counts.is_empty() {
        bail!("--workers needs at least one count above 0 (e.g. 1,2,3)");
    }
    if counts.iter().any(|n| *n > 64) {
        bail!("--workers: at most 64 worker processes");
    }
    let people = people.max(1);
    let settings = PgSettings {
        url: url.to_string(),
        password_file: None,
        pool_size: DEFAULT_POOL_SIZE,
        ca_file: None,
    };
    let sink = Sink::start()?;
    let mut rng = StdRng::seed_from_u64(0x5ca1e);
    let org = organisation(people, &mut rng);
    println!(
        "bench scale: {people} people (weekly), {} groups, {} roles, {POSTS} posts in the week; \
         workers are `digestd run` processes; smtp-sink on 127.0.0.1:{}; {} cores here",
        org.groups.len(),
        org.roles.len(),
        sink.port,
        crate::parallel::available_threads()
    );
    println!(
        "{:<12} {:>7} {:>8} {:>9} {:>11} {:>12}",
        "store", "workers", "digests", "seconds", "digests/s", "vs 1 worker"
    );
    let show = |store: &str, n: usize, m: &Measured, one: Option<f64>| {
        println!(
            "{store:<12} {n:>7} {:>8} {:>9.2} {:>11.0} {:>12}",
            m.sent,
            m.elapsed.as_secs_f64(),
            m.rate(),
            one.map_or("-".to_string(), |r| format!("{:.2}", m.rate() / r))
        );
    };
    let sqlite = round(Target::Sqlite, 1, &org, POSTS, sink.port).context("SQLite, 1 worker")?;
    show("sqlite", 1, &sqlite, None);
    let mut measured: Vec<(usize, Measured)> = Vec::new();
    for &n in &counts {
        let m = round(Target::Postgres(&settings), n, &org, POSTS, sink.port)
            .with_context(|| format!("PostgreSQL, {n} workers"))?;
        let one = measured
            .iter()
            .find(|(k, _)| *k == 1)
            .map(|(_, m)| m.rate());
        show("postgresql", n, &m, one);
        measured.push((n, m));
    }
    for (n, m) in &measured {
        if m.sent != sqlite.sent {
            println!(
                "warning: {n} workers sent {} digests, one worker on SQLite {}: {}",
                m.sent,
                sqlite.sent,
                if m.sent > sqlite.sent {
                    "some were sent more than once (the workers did not share the run)"
                } else {
                    "some were not sent"
                }
            );
        }
    }
    let one = measured.iter().find(|(k, _)| *k == 1);
    let most = measured.last();
    if let (Some((_, one)), Some((n, most))) = (one, most) {
        if *n > 1 {
            println!(
                "ratio {n} workers / 1 worker (PostgreSQL): {:.2}",
                most.rate() / one.rate().max(f64::MIN_POSITIVE)
            );
        }
    }
    Ok(())
}
