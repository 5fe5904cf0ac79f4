//! The engagement report as one self-contained HTML page: a card per group and role with two
//! server-rendered SVG charts (posts by kind, week by week; unanswered questions) and the
//! figures as a table. No script, no external resources; the cards reflow to one column on a
//! phone and the charts scale with their card.

use std::fmt::Write;

use super::text::title;
use super::{Report, ReportRow, WeekFigures};
use crate::html_escape::escape_html as esc;

/// Colours of the series (threads, replies by email, replies on the forum, unanswered).
const THREADS: &str = "#5b7db1";
const EMAIL: &str = "#2e7d32";
const FORUM: &str = "#e0a020";
const UNANSWERED: &str = "#c62828";

/// Chart width, in SVG user units (about as many pixels: a chart is at most 400 px wide, the
/// two of a card side by side when it is wide enough).
const WIDTH: f64 = 360.0;
/// Heights of the posts chart and of the unanswered chart.
const POSTS_HEIGHT: f64 = 120.0;
const UNANSWERED_HEIGHT: f64 = 120.0;
/// Margins: left (y labels), right, top, bottom (week labels).
const LEFT: f64 = 30.0;
const RIGHT: f64 = 6.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 22.0;

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;padding:8px;font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;background:#f4f5f7}
h1{font-size:1.3em;margin:0 0 4px}
h2{font-size:1.05em;margin:0 0 2px}
h2 small{font-weight:normal;color:#5a6270}
p.note{margin:0 0 12px;color:#5a6270;font-size:.9em}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 12px;padding:0;list-style:none;font-size:.9em}
.legend span{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:4px;vertical-align:-1px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,420px),1fr));gap:12px}
section.card{background:#fff;border-radius:8px;padding:10px;box-shadow:0 1px 2px rgba(0,0,0,.12);min-width:0}
.summary{margin:0 0 6px;font-size:.9em;color:#333}
h3{font-size:.85em;margin:8px 0 0;color:#5a6270;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:0 16px}
.chart{flex:1 1 260px;max-width:400px}
svg{display:block;width:100%;height:auto}
svg text{font:13px system-ui,sans-serif;fill:#5a6270}
.table{overflow-x:auto;margin-top:6px}
table{border-collapse:collapse;font-size:.72em;width:100%}
th,td{padding:2px;text-align:right;white-space:nowrap;border-bottom:1px solid #e6e8eb}
abbr{text-decoration:none}
@media (max-width:420px){body{padding:4px}section.card{padding:8px}table{font-size:.68em}}
th:first-child,td:first-child{text-align:left}
";

/// The page.
pub fn to_html(report: &Report) -> String {
    let heading = title(report);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>Engagement report</h1>\
         <p class=\"note\">{t}. Replies are posts after a thread's first; unanswered: questions \
         nobody but their author had posted in by the week's end.</p>\
         <ul class=\"legend\">{}{}{}{}</ul>\n<div class=\"cards\">\n",
        legend(THREADS, "new threads"),
        legend(EMAIL, "replies by email"),
        legend(FORUM, "replies on the forum"),
        legend(UNANSWERED, "unanswered questions"),
        t = esc(&heading),
    );
    for row in &report.rows {
        card(&mut out, report, row);
    }
    out.push_str("</div>\n</body></html>\n");
    out
}

fn legend(colour: &str, label: &str) -> String {
    format!("<li><span style=\"background:{colour}\"></span>{label}</li>")
}

/// One group's or role's card.
fn card(out: &mut String, report: &Report, row: &ReportRow) {
    let scope = row.scope.as_str();
    let total = |f: fn(&WeekFigures) -> usize| row.weeks.iter().map(f).sum::<usize>();
    let replies_email = total(|f| f.replies_email);
    let replies = replies_email + total(|f| f.replies_forum);
    let share = match (replies_email * 100 + replies / 2).checked_div(replies) {
        Some(percent) => format!("{replies} replies, {percent}% by email"),
        None => String::from("no replies"),
    };
    let now = row.weeks.last().copied().unwrap_or_default();
    let open = match now.oldest_unanswered_days {
        Some(d) => format!(
            "{} unanswered now (oldest {d} day{})",
            now.unanswered,
            if d == 1 { "" } else { "s" }
        ),
        None => String::from("no unanswered questions now"),
    };
    let _ = writeln!(
        out,
        "<section class=\"card\" id=\"{scope}-{id}\"><h2>{name} <small>{scope}{idnote}</small></h2>\
         <p class=\"summary\">{posts} posts, {share}; {open}; {u} unsubscribes, {p} pauses.</p>",
        id = esc(&row.id),
        name = esc(&row.name),
        idnote = if row.name == row.id {
            String::new()
        } else {
            format!(" {}", esc(&row.id))
        },
        posts = total(|f| f.posts),
        u = total(|f| f.unsubscribes),
        p = total(|f| f.pauses),
    );
    out.push_str("<div class=\"charts\"><div class=\"chart\"><h3>Posts per week</h3>");
    let stacks: Vec<Vec<(usize, &str)>> = row
        .weeks
        .iter()
        .map(|f| {
            vec![
                (f.new_threads, THREADS),
                (f.replies_email, EMAIL),
                (f.replies_forum, FORUM),
            ]
        })
        .collect();
    let label = format!("Posts per week, {}", row.name);
    chart(out, report, &label, POSTS_HEIGHT, &stacks);
    out.push_str("</div><div class=\"chart\"><h3>Unanswered at each week's end</h3>");
    let stacks: Vec<Vec<(usize, &str)>> = row
        .weeks
        .iter()
        .map(|f| vec![(f.unanswered, UNANSWERED)])
        .collect();
    let label = format!("Unanswered questions, {}", row.name);
    chart(out, report, &label, UNANSWERED_HEIGHT, &stacks);
    out.push_str("</div></div>\n");
    table(out, report, row);
    out.push_str("</section>\n");
}

/// A stacked bar chart: one bar per week, each of `(value, colour)` segments bottom up.
fn chart(
    out: &mut String,
    report: &Report,
    label: &str,
    height: f64,
    stacks: &[Vec<(usize, &str)>],
) {
    let max = stacks
        .iter()
        .map(|s| s.iter().map(|(v, _)| v).sum::<usize>())
        .max()
        .unwrap_or(0);
    let top = nice_top(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = height - TOP - BOTTOM;
    let n = stacks.len().max(1);
    let slot = plot_w / n as f64;
    let bar = (slot * 0.7).max(1.0);
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{l}\"><title>{l}</title>",
        l = esc(label)
    );
    // Grid lines and y labels at 0, half and the top.
    for k in 0..=2 {
        let v = top * k / 2;
        let y = TOP + plot_h - plot_h * v as f64 / top as f64;
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{x2:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e6e8eb\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
            x2 = WIDTH - RIGHT,
            tx = LEFT - 4.0,
            ty = y + 3.0,
        );
    }
    // Week labels: at most about six, evenly spaced, always the last.
    let every = n.div_ceil(6);
    for (i, stack) in stacks.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let mut base = 0usize;
        for &(v, colour) in stack.iter().filter(|(v, _)| *v > 0) {
            let y0 = TOP + plot_h - plot_h * (base + v) as f64 / top as f64;
            let h = plot_h * v as f64 / top as f64;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y0:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{colour}\"/>"
            );
            base += v;
        }
        if (n - 1 - i) % every == 0 {
            if let Some(week) = report.weeks.get(i) {
                let _ = write!(
                    out,
                    "<text x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{d}</text>",
                    cx = x + bar / 2.0,
                    y = height - 7.0,
                    d = week.format("%d %b"),
                );
            }
        }
    }
    out.push_str("</svg>\n");
}

/// A round upper bound for the y axis: an even number (so half of it is whole), then 20, 50,
/// 100, 200, ...
pub(super) fn nice_top(max: usize) -> usize {
    let max = max.max(2);
    if max <= 10 {
        return max + max % 2;
    }
    let mut step = 10;
    loop {
        for m in [1, 2, 5] {
            if m * step >= max {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// The row's figures as a table (scrolls sideways on a narrow screen).
fn table(out: &mut String, report: &Report, row: &ReportRow) {
    out.push_str(
        "<div class=\"table\"><table><thead><tr><th>week</th><th>posts</th>\
         <th><abbr title=\"new threads\">new</abbr></th>\
         <th><abbr title=\"replies by email\">email</abbr></th>\
         <th><abbr title=\"replies on the forum\">forum</abbr></th>\
         <th><abbr title=\"unanswered questions at the week's end\">open</abbr></th>\
         <th><abbr title=\"age of the oldest unanswered question, days\">oldest</abbr></th>\
         <th><abbr title=\"unsubscribes\">unsub</abbr></th><th><abbr title=\"pauses\">pause</abbr></th></tr></thead><tbody>",
    );
    for (week, f) in report.weeks.iter().zip(&row.weeks) {
        let oldest = f
            .oldest_unanswered_days
            .map_or_else(|| "–".to_string(), |d| d.to_string());
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{oldest}</td><td>{}</td><td>{}</td></tr>",
            week.format("%d %b"),
            f.posts,
            f.new_threads,
            f.replies_email,
            f.replies_forum,
            f.unanswered,
            f.unsubscribes,
            f.pauses
        );
    }
    out.push_str("</tbody></table></div>\n");
}
