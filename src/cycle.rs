//! One digest cycle: collect, then for each person due select → render → record → send.
//!
//! **Invariant:** a digest's Delivery row (with the complete message) is written before the
//! transport is called and marked after; pending rows found by a later cycle are resent as stored.

use std::fmt;

use crate::config::Config;

/// What one cycle did.
#[derive(Debug, Default, Clone)]
pub struct RunReport {
    /// People considered.
    pub people: usize,
    /// Digests accepted by the transport.
    pub sent: usize,
    /// Pending digests from an interrupted run, resent.
    pub resumed: usize,
    /// Empty digests not sent.
    pub empty: usize,
    /// People skipped (opted out, not due, bouncing).
    pub skipped: usize,
    /// Digests refused for good.
    pub failed: usize,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "people {}, sent {}, resumed {}, empty {}, skipped {}, failed {}",
            self.people, self.sent, self.resumed, self.empty, self.skipped, self.failed
        )
    }
}

/// Runs one cycle now for everyone due (or one role / one person).
pub fn send_now(
    _config: &Config,
    _role: Option<&str>,
    _person: Option<&str>,
) -> anyhow::Result<RunReport> {
    anyhow::bail!("send-now is not implemented yet")
}

/// Renders what `person` would get now (text, or HTML), recording nothing.
pub fn preview(_config: &Config, _person: &str, _html: bool) -> anyhow::Result<String> {
    anyhow::bail!("preview is not implemented yet")
}
