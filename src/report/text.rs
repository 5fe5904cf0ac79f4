//! The engagement report as a plain text table (one block per group and role) and as CSV
//! (one line per group or role and week).

use std::fmt::Write;

use super::{Report, WeekFigures};

/// The columns after the week, as headings (text) and as CSV names.
const COLUMNS: [(&str, &str); 8] = [
    ("posts", "posts"),
    ("threads", "new_threads"),
    ("by email", "replies_email"),
    ("on forum", "replies_forum"),
    ("unanswered", "unanswered"),
    ("oldest (d)", "oldest_unanswered_days"),
    ("unsubscribes", "unsubscribes"),
    ("pauses", "pauses"),
];

/// The figures of a week in column order (`None`: no value).
fn cells(f: &WeekFigures) -> [Option<i64>; 8] {
    let n = |v: usize| Some(v as i64);
    [
        n(f.posts),
        n(f.new_threads),
        n(f.replies_email),
        n(f.replies_forum),
        n(f.unanswered),
        f.oldest_unanswered_days,
        n(f.unsubscribes),
        n(f.pauses),
    ]
}

/// The report's first line: what it covers.
pub fn title(report: &Report) -> String {
    let first = report
        .weeks
        .first()
        .map(|w| w.to_string())
        .unwrap_or_default();
    format!(
        "Engagement report: {} week(s) from {first} to {} (weeks start Monday 00:00 UTC)",
        report.weeks.len(),
        report.now.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The plain text table: a block per group, then per role, a line per week.
pub fn to_text(report: &Report) -> String {
    let mut out = title(report);
    out.push_str("\n\"by email\" and \"on forum\" are replies; \"unanswered\": questions without an answer at the week's end, the oldest's age in days.\n");
    for row in &report.rows {
        let heading = if row.name == row.id {
            format!("{} {}", row.scope.as_str(), row.id)
        } else {
            format!("{} {} ({})", row.scope.as_str(), row.name, row.id)
        };
        let _ = write!(out, "\n{heading}\n{:<10}", "week");
        for (h, _) in COLUMNS {
            let _ = write!(out, "  {h:>w$}", w = h.len().max(5));
        }
        out.push('\n');
        for (week, f) in report.weeks.iter().zip(&row.weeks) {
            let _ = write!(out, "{:<10}", week.to_string());
            for ((h, _), cell) in COLUMNS.iter().zip(cells(f)) {
                let v = cell.map_or_else(|| "-".to_string(), |v| v.to_string());
                let _ = write!(out, "  {v:>w$}", w = h.len().max(5));
            }
            out.push('\n');
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV (RFC 4180, CRLF-free: one `\n` a line): a header, then one line per row and week; an
/// empty field where there is no value.
pub fn to_csv(report: &Report) -> String {
    let mut out = String::from("scope,id,name,week_start");
    for (_, name) in COLUMNS {
        out.push(',');
        out.push_str(name);
    }
    out.push('\n');
    for row in &report.rows {
        for (week, f) in report.weeks.iter().zip(&row.weeks) {
            let _ = write!(
                out,
                "{},{},{},{week}",
                row.scope.as_str(),
                csv_field(&row.id),
                csv_field(&row.name)
            );
            for cell in cells(f) {
                out.push(',');
                if let Some(v) = cell {
                    out.push_str(&v.to_string());
                }
            }
            out.push('\n');
        }
    }
    out
}
