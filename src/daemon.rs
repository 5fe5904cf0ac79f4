//! The daemon: wiring, schedules, signals (SIGTERM finishes the message in flight).

use std::path::Path;

/// Runs until SIGTERM/SIGINT.
pub fn run(_config_path: &Path) -> anyhow::Result<()> {
    anyhow::bail!("the daemon is not implemented yet")
}
