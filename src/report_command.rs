//! `digestd report`: reads the store's facts for the engagement report (the edge), hands them
//! to the pure `report` module, and prints the table or CSV, or writes the HTML page.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::report::{self, ReportInput};
use crate::store::Store;

/// How the report comes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// A plain text table on stdout.
    Text,
    /// CSV on stdout.
    Csv,
    /// An HTML page, written to a file.
    Html,
}

/// Most weeks one report covers (ten years).
pub const MAX_WEEKS: usize = 520;

/// Builds the report of the last `weeks` weeks up to `now` from the store `config` names, in
/// `format` (the text or CSV; for HTML, the page).
pub fn report(
    config: &Config,
    weeks: usize,
    now: DateTime<Utc>,
    format: ReportFormat,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        (1..=MAX_WEEKS).contains(&weeks),
        "--weeks must be between 1 and {MAX_WEEKS}, not {weeks}"
    );
    let path = &config.store_path;
    anyhow::ensure!(
        path.exists(),
        "no store at {} yet: nothing to report (run `digestd collect` or the daemon first)",
        path.display()
    );
    let store =
        Store::open(path).with_context(|| format!("opening the store {}", path.display()))?;
    let posts = store
        .engagement_posts(now)
        .context("reading posts for the report")?;
    let events = store
        .person_events(report::report_start(now, weeks), now)
        .context("reading pauses and unsubscribes for the report")?;
    let built = report::build(&ReportInput {
        now,
        weeks,
        groups: &config.groups,
        roles: &config.roles,
        people: &config.people,
        posts: &posts,
        events: &events,
    });
    Ok(match format {
        ReportFormat::Text => report::text::to_text(&built),
        ReportFormat::Csv => report::text::to_csv(&built),
        ReportFormat::Html => report::html::to_html(&built),
    })
}

/// Writes the HTML page to `file` (through a temporary file beside it, renamed into place).
pub fn write_page(file: &Path, page: &str) -> anyhow::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, page).with_context(|| format!("writing {}", file.display()))?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}
