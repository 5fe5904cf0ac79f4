//! `digestd bench`: throughput figures for the hot paths, each beside the limit it is measured
//! against in the same run.

use crate::cli::BenchCommand;

/// Runs one benchmark and prints its figures.
pub fn run(which: BenchCommand) -> anyhow::Result<()> {
    anyhow::bail!("benchmark {which:?} is not implemented yet")
}
