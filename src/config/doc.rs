//! TOML text → a raw serde struct, collecting *every* problem instead of stopping at the first.
//!
//! serde stops at the first error. To report them all, we parse the document into toml's spanned
//! tree ([`DeTable`]), deserialize, and on an error remove the offending entry (found by the
//! error's byte span) and try again, recording each removal as a problem. Pure: no I/O.

use std::collections::HashSet;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// Byte offset → 1-based line number.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub(crate) fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// A problem found while parsing, before it is tied to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocProblem {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// Dotted key, e.g. `roles[1].groups[0]`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Outcome of [`parse_document`].
#[derive(Debug)]
pub(crate) struct Parsed<T> {
    /// The raw value, when the document could be deserialized (possibly after removing entries).
    pub value: Option<T>,
    /// Everything wrong, in the order found.
    pub problems: Vec<DocProblem>,
    /// Keys removed because their value was wrong: a later "missing key" check must stay quiet.
    pub removed: HashSet<String>,
}

/// One step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Parses `text` and deserializes it into `T`, collecting all problems.
pub(crate) fn parse_document<T: DeserializeOwned>(text: &str, lines: &LineIndex) -> Parsed<T> {
    let mut parsed = Parsed {
        value: None,
        problems: Vec::new(),
        removed: HashSet::new(),
    };
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let line = e.span().map_or(0, |s| lines.line(s.start));
            parsed.problems.push(DocProblem {
                line,
                key: guess_key(text, line),
                message: format!("TOML syntax: {}", e.message().trim()),
            });
        }
        return parsed;
    }
    let span = table.span();
    let original = Spanned::new(span, DeValue::Table(table.into_inner()));
    let mut work = original.clone();
    // Each round removes one entry, so the loop ends; the bound is a safety net.
    for _ in 0..=count_nodes(original.get_ref()) + 1 {
        match T::deserialize(ValueDeserializer::from(work.clone())) {
            Ok(v) => {
                parsed.value = Some(v);
                return parsed;
            }
            Err(e) => {
                let message = tidy_message(e.message());
                let Some(span) = e.span() else {
                    if parsed.problems.is_empty() {
                        parsed.problems.push(DocProblem {
                            line: 0,
                            key: String::new(),
                            message,
                        });
                    }
                    return parsed;
                };
                let line = lines.line(span.start);
                let shown = deepest_entry(original.get_ref(), &span);
                let here = deepest_entry(work.get_ref(), &span);
                match (shown, here) {
                    (Some(shown), Some(here)) => {
                        let key = path_string(&shown);
                        let message = if key.ends_with(".people_csv") {
                            format!("{message} (people_csv must stand above the first [table])")
                        } else {
                            message
                        };
                        parsed.problems.push(DocProblem {
                            line,
                            key: key.clone(),
                            message,
                        });
                        parsed.removed.insert(key);
                        remove_at(work.get_mut(), &here);
                    }
                    _ => {
                        if parsed.problems.is_empty() {
                            parsed.problems.push(DocProblem {
                                line,
                                key: String::new(),
                                message,
                            });
                        }
                        return parsed;
                    }
                }
            }
        }
    }
    parsed
}

/// serde speaks of fields; an admin edits keys.
fn tidy_message(msg: &str) -> String {
    msg.trim()
        .replacen("unknown field", "unknown key", 1)
        .replacen("missing field", "missing key", 1)
}

fn count_nodes(v: &DeValue<'_>) -> usize {
    match v {
        DeValue::Table(t) => t.values().map(|v| 1 + count_nodes(v.get_ref())).sum(),
        DeValue::Array(a) => a.iter().map(|v| 1 + count_nodes(v.get_ref())).sum(),
        _ => 0,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// Path of the deepest entry (below the root) whose key or value span holds `span`.
fn deepest_entry(root: &DeValue<'_>, span: &Range<usize>) -> Option<Vec<Seg>> {
    fn walk(
        v: &DeValue<'_>,
        span: &Range<usize>,
        path: &mut Vec<Seg>,
        best: &mut Option<Vec<Seg>>,
    ) {
        let mut visit = |seg: Seg, key_span: Option<Range<usize>>, child: &Spanned<DeValue<'_>>| {
            path.push(seg);
            let hit = key_span.is_some_and(|k| contains(&k, span)) || contains(&child.span(), span);
            if hit && best.as_ref().is_none_or(|b| path.len() > b.len()) {
                *best = Some(path.clone());
            }
            walk(child.get_ref(), span, path, best);
            path.pop();
        };
        match v {
            DeValue::Table(t) => {
                for (k, child) in t.iter() {
                    visit(Seg::Key(k.get_ref().to_string()), Some(k.span()), child);
                }
            }
            DeValue::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    visit(Seg::Index(i), None, child);
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    walk(root, span, &mut Vec::new(), &mut best);
    best
}

/// Removes the entry at `path` (which [`deepest_entry`] found, so it exists).
fn remove_at(root: &mut DeValue<'_>, path: &[Seg]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for seg in parents {
        let next = match (node, seg) {
            (DeValue::Table(t), Seg::Key(k)) => t.get_mut(k.as_str()).map(|v| v.get_mut()),
            (DeValue::Array(a), Seg::Index(i)) => a.get_mut(*i).map(|v| v.get_mut()),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    match (node, last) {
        (DeValue::Table(t), Seg::Key(k)) => {
            t.remove(k.as_str());
        }
        (DeValue::Array(a), Seg::Index(i)) => {
            let mut kept = DeArray::new();
            for (j, item) in a.iter().enumerate() {
                if j != *i {
                    kept.push(item.clone());
                }
            }
            *a = kept;
        }
        _ => {}
    }
}

/// Best guess at the dotted key on a line with a syntax error: the enclosing `[table]` and the
/// text before `=`.
fn guess_key(text: &str, line: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let Some(this) = line.checked_sub(1).and_then(|i| all.get(i)) else {
        return "(syntax)".into();
    };
    let this = this.trim();
    if this.starts_with('[') {
        return this
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    let table = all[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| {
            l.split(']')
                .next()
                .unwrap_or("")
                .trim_start_matches('[')
                .trim()
                .to_string()
        });
    let key = this
        .split_once('=')
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (None, Some(k)) => k,
        (Some(t), None) => t,
        (None, None) => "(syntax)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        roles: Vec<Role>,
        mail: Option<Mail>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Role {
        name: Option<String>,
        #[serde(default)]
        groups: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Mail {
        from: Option<String>,
        port: Option<u16>,
    }

    fn parse(text: &str) -> Parsed<Doc> {
        parse_document(text, &LineIndex::new(text))
    }

    #[test]
    fn line_index_is_one_based() {
        let idx = LineIndex::new("a\nbb\n\nc");
        assert_eq!(idx.line(0), 1);
        assert_eq!(idx.line(1), 1);
        assert_eq!(idx.line(2), 2);
        assert_eq!(idx.line(5), 3);
        assert_eq!(idx.line(6), 4);
    }

    #[test]
    fn collects_every_problem_with_lines_and_keys() {
        let text = r#"
[[roles]]
name = "a"
groups = ["x", 3]

[[roles]]
name = "b"
bogus = 1
colour = "red"

[mail]
from = "x@y"
port = 70000
"#;
        let p = parse(text);
        let got: Vec<(usize, &str)> = p
            .problems
            .iter()
            .map(|p| (p.line, p.key.as_str()))
            .collect();
        assert!(got.contains(&(4, "roles[0].groups[1]")), "{got:?}");
        assert!(got.contains(&(8, "roles[1].bogus")), "{got:?}");
        assert!(got.contains(&(9, "roles[1].colour")), "{got:?}");
        assert!(got.contains(&(13, "mail.port")), "{got:?}");
        assert_eq!(p.problems.len(), 4, "{:?}", p.problems);
        let doc = p.value.expect("deserialized after removals");
        assert_eq!(doc.roles.len(), 2);
        assert_eq!(doc.roles[0].groups, vec!["x".to_string()]);
        assert_eq!(doc.roles[1].name.as_deref(), Some("b"));
        let mail = doc.mail.expect("mail kept");
        assert_eq!((mail.from.as_deref(), mail.port), (Some("x@y"), None));
        assert!(p.removed.contains("mail.port"));
        let bogus = p.problems.iter().find(|p| p.key == "roles[1].bogus");
        assert!(bogus.is_some_and(|p| p.message.starts_with("unknown key `bogus`")));
    }

    #[test]
    fn removed_array_elements_keep_original_indices() {
        let text = "[[roles]]\nname = 1\n[[roles]]\nname = 2\n";
        let p = parse(text);
        let keys: Vec<&str> = p.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, vec!["roles[0].name", "roles[1].name"]);
    }

    #[test]
    fn people_csv_below_a_table_gets_a_hint() {
        let p = parse("[mail]\nfrom = \"a@b\"\npeople_csv = \"p.csv\"\n");
        assert_eq!(p.problems[0].key, "mail.people_csv");
        assert!(p.problems[0].message.contains("above the first [table]"));
    }

    #[test]
    fn syntax_errors_name_line_and_key() {
        let text = "[mail]\nfrom = digest@example.org\n";
        let p = parse(text);
        assert!(p.value.is_none());
        assert_eq!(p.problems[0].line, 2);
        assert_eq!(p.problems[0].key, "mail.from");
        assert!(p.problems[0].message.starts_with("TOML syntax"));
    }
}
