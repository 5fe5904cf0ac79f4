//! `digestd bench`: throughput figures for the hot paths, each beside the limit it is measured
//! against in the same run (bare Handlebars, Postfix's smtp-source, bare mail-parser, a forum's pages fetched unparsed).

pub mod collect;
pub mod digest;
pub mod inbound;
pub mod postfix;
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
