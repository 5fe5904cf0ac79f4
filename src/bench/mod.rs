//! `digestd bench`: throughput figures for the hot paths, each beside the limit it is measured
//! against in the same run (bare Handlebars, Postfix's smtp-source, bare mail-parser, a forum's pages fetched unparsed).

pub mod collect;
pub mod digest;
pub mod inbound;
pub mod postfix;
pub mod scale;
mod scale_round;
pub mod send;
pub mod send_tls;
pub mod synapse;
pub mod test_ca;
pub mod trim;

use crate::cli::BenchCommand;

/// Runs one benchmark and prints its figures.
pub fn run(which: BenchCommand) -> anyhow::Result<()> {
    match which {
        BenchCommand::Send {
            messages,
            concurrency,
            tls: false,
        } => send::run(messages, concurrency),
        BenchCommand::Send {
            messages,
            concurrency,
            tls: true,
        } => send_tls::run(messages, concurrency),
        BenchCommand::Trim { corpus, failures } => trim::run(&corpus, failures),
        BenchCommand::Inbound { messages } => inbound::run(messages),
        BenchCommand::Collect { forum, posts } => collect::run(&forum, posts),
        BenchCommand::Scale {
            workers,
            people,
            url,
        } => scale::run(&workers, people, url.as_deref()),
        BenchCommand::Digest {
            people,
            posts,
            threads,
        } => digest::run(
            people,
            posts,
            threads.map_or_else(crate::parallel::available_threads, usize::from),
        ),
    }
}

/// CPU time this process has used so far, on all its threads.
pub(crate) fn process_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes to it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
