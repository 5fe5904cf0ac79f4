//! `digestd demo`: a sample municipality, one full cycle into a Maildir outbox.

pub mod content;

use std::path::Path;

/// Creates the demo organisation in `dir` and runs one cycle.
pub fn run(_dir: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the demo is not implemented yet")
}
