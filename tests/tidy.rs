//! Tidy checks, in the spirit of rust-analyzer's: the architecture's rules (ARCHITECTURE.md,
//! "Rules this repository checks") read from the source text, so a change that breaks one
//! fails here with the file and line to fix.
//!
//! 1. A pure module (`model`, `digest`, `render`, `inbound::trim`, `inbound::classify`,
//!    `inbound::authorise`) imports no edge (`store`, `outbound`, `http`, `forum`) and no I/O
//!    crate or module (`tokio`, `rusqlite`, `lettre`, `std::fs`, `std::net`). Its unit tests
//!    (a `tests.rs` file or a `#[cfg(test)]` module) may set up files.
//! 2. SQL statements (CREATE, INSERT, SELECT … FROM, UPDATE … SET, DELETE FROM in a string
//!    literal) appear only in `store/` and `forum::local`.
//! 3. Every source file starts with its `//!` doc (files pulled in with `include!` are
//!    expressions and cannot).
//! 4. No source file outside tests is longer than 800 lines.

use std::path::{Path, PathBuf};

/// Longest a source file outside tests may be.
const MAX_LINES: usize = 800;

/// Pure modules, as paths under `src/` (a directory covers everything below it).
const PURE: &[&str] = &[
    "model.rs",
    "digest",
    "render",
    "inbound/trim",
    "inbound/classify.rs",
    "inbound/authorise.rs",
    "inbound/auth_results.rs",
    "inbound/confirm.rs",
    "report",
];

/// What a pure module must not name.
const NOT_IN_PURE: &[&str] = &[
    "crate::store",
    "crate::outbound",
    "crate::http",
    "crate::forum",
    "tokio",
    "rusqlite",
    "lettre",
    "std::fs",
    "std::net",
];

/// Where SQL may be written, as paths under `src/`.
const SQL_HOMES: &[&str] = &["store", "forum/local.rs", "forum/local"];

/// Files allowed past [`MAX_LINES`] for now, each with the reason; empty when all hold.
const TOO_LONG_FOR_NOW: &[(&str, &str)] = &[];

#[test]
fn pure_modules_import_no_edges_and_no_io() {
    let mut problems = Vec::new();
    for file in source_files("src") {
        let rel = relative(&file, "src");
        if !under(&rel, PURE) || is_test_file(&rel) {
            continue;
        }
        let code = without_test_module(&code_only(&read(&file)));
        for (n, line) in code.lines().enumerate() {
            for name in NOT_IN_PURE {
                if names(line, name) {
                    problems.push(format!("src/{rel}:{}: pure module names `{name}`", n + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn sql_is_written_only_in_the_store_and_the_local_forum() {
    let mut problems = Vec::new();
    for file in source_files("src") {
        let rel = relative(&file, "src");
        if under(&rel, SQL_HOMES) {
            continue;
        }
        for (line, literal) in string_literals(&read(&file)) {
            if let Some(statement) = sql_statement(&literal) {
                problems.push(format!(
                    "src/{rel}:{line}: SQL ({statement}) outside store/"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_source_file_has_its_module_doc() {
    let mut problems = Vec::new();
    for root in ["src", "tests"] {
        let included = included_files(root);
        for file in source_files(root) {
            if included.contains(&file) {
                continue;
            }
            let text = read(&file);
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if !first.starts_with("//!") {
                problems.push(format!(
                    "{}: no `//!` doc on its first line",
                    file.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_outside_tests_is_longer_than_800_lines() {
    let mut problems = Vec::new();
    for file in source_files("src") {
        let rel = relative(&file, "src");
        if is_test_file(&rel) || TOO_LONG_FOR_NOW.iter().any(|(f, _)| *f == rel) {
            continue;
        }
        let lines = read(&file).lines().count();
        if lines > MAX_LINES {
            problems.push(format!(
                "src/{rel}: {lines} lines (at most {MAX_LINES}): split it by job"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_see_what_they_look_for() {
    let code = code_only("use std::fs; // crate::store\nlet s = \"crate::http\";\n");
    assert!(names(&code, "std::fs"));
    assert!(!names(&code, "crate::store") && !names(&code, "crate::http"));
    assert!(!names("use tokio_like::x;", "tokio"));
    assert!(names("tokio::spawn(x)", "tokio"));
    let lits =
        string_literals("let a = r#\"SELECT x FROM t\"#; let c = '\"'; // \"DELETE FROM t\"");
    assert_eq!(lits, vec![(1, "SELECT x FROM t".to_string())]);
    assert_eq!(sql_statement("INSERT INTO t VALUES (1)"), Some("INSERT"));
    assert_eq!(sql_statement("UPDATE people SET x = 1"), Some("UPDATE"));
    assert_eq!(sql_statement("Select the digest FROM the list"), None);
    assert_eq!(sql_statement("CREATE INDEX i ON t(x)"), Some("CREATE"));
    assert_eq!(sql_statement("{{> footer}}"), None);
    let code = without_test_module("fn a() {}\n#[cfg(test)]\nmod tests {\n use std::fs;\n}\n");
    assert!(!names(&code, "std::fs"));
}

// ---- reading the tree ----

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` (relative to the crate root), sorted.
fn source_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "fixtures") {
                    continue;
                }
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    out.sort();
    assert!(!out.is_empty(), "no source files under {dir}");
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `path` relative to `root()/dir`, with `/` separators.
fn relative(path: &Path, dir: &str) -> String {
    let rel = path.strip_prefix(root().join(dir)).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// True when `rel` is one of `paths` or below one of them.
fn under(rel: &str, paths: &[&str]) -> bool {
    paths
        .iter()
        .any(|p| rel == *p || rel.starts_with(&format!("{}/", p.trim_end_matches(".rs"))))
}

/// Unit tests in a file of their own (`…/tests.rs`).
fn is_test_file(rel: &str) -> bool {
    rel == "tests.rs" || rel.ends_with("/tests.rs")
}

/// Files pulled into another with `include!("…")` (expressions, not modules).
fn included_files(dir: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in source_files(dir) {
        let text = read(&file);
        for (i, _) in text.match_indices("include!(\"") {
            let rest = &text[i + "include!(\"".len()..];
            if let Some(end) = rest.find('"') {
                let name = &rest[..end];
                if name.ends_with(".rs") {
                    if let Some(parent) = file.parent() {
                        out.push(parent.join(name));
                    }
                }
            }
        }
    }
    out
}

// ---- reading Rust text ----

/// `text` with comments and the contents of string and char literals blanked out (line
/// breaks kept, so line numbers still hold).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    scan(text, |piece| match piece {
        Piece::Code(c) => out.push(c),
        Piece::Other(c) => out.push(if c == '\n' { '\n' } else { ' ' }),
        Piece::Literal { .. } => {}
    });
    out
}

/// The contents of every string literal in `text`, with the line it starts on.
fn string_literals(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    scan(text, |piece| {
        if let Piece::Literal { line, text } = piece {
            out.push((line, text));
        }
    });
    out
}

enum Piece {
    /// A character of code.
    Code(char),
    /// A character of a comment or literal.
    Other(char),
    /// A whole string literal's contents (after its characters went out as `Other`).
    Literal { line: usize, text: String },
}

/// A small Rust lexer: enough to tell code from comments, strings, chars and lifetimes.
fn scan(text: &str, mut emit: impl FnMut(Piece)) {
    let chars: Vec<char> = text.chars().collect();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                emit(Piece::Other(chars[i]));
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    emit(Piece::Other('*'));
                    emit(Piece::Other('/'));
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                if chars[i] == '\n' {
                    line += 1;
                }
                emit(Piece::Other(chars[i]));
                i += 1;
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…" (not part of an identifier).
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let raw_start = if !ident_before && c == 'r' {
            Some(i + 1)
        } else if !ident_before && c == 'b' && at(i + 1) == 'r' {
            Some(i + 2)
        } else {
            None
        };
        if let Some(mut j) = raw_start {
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) == '"' {
                for &k in &chars[i..=j] {
                    emit(Piece::Other(k));
                }
                let start_line = line;
                let mut body = String::new();
                let mut k = j + 1;
                while k < chars.len() {
                    if chars[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#') {
                        break;
                    }
                    if chars[k] == '\n' {
                        line += 1;
                    }
                    body.push(chars[k]);
                    emit(Piece::Other(chars[k]));
                    k += 1;
                }
                emit(Piece::Literal {
                    line: start_line,
                    text: body,
                });
                i = k + 1 + hashes;
                continue;
            }
        }
        if c == '"' {
            emit(Piece::Other(c));
            let start_line = line;
            let mut body = String::new();
            let mut k = i + 1;
            while k < chars.len() && chars[k] != '"' {
                if chars[k] == '\\' {
                    body.push(chars[k]);
                    emit(Piece::Other(chars[k]));
                    k += 1;
                }
                if let Some(&ch) = chars.get(k) {
                    if ch == '\n' {
                        line += 1;
                    }
                    body.push(ch);
                    emit(Piece::Other(ch));
                }
                k += 1;
            }
            emit(Piece::Other('"'));
            emit(Piece::Literal {
                line: start_line,
                text: body,
            });
            i = k + 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{..}', '"'), else a lifetime or label.
            let end = if at(i + 1) == '\\' {
                (i + 2..chars.len().min(i + 12)).find(|&k| chars[k] == '\'')
            } else if at(i + 2) == '\'' {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                for &k in &chars[i..=end] {
                    emit(Piece::Other(k));
                }
                i = end + 1;
                continue;
            }
        }
        if c == '\n' {
            line += 1;
        }
        emit(Piece::Code(c));
        i += 1;
    }
}

/// True when `code` names the path or crate `name` (not as part of a longer identifier).
fn names(code: &str, name: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(name).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + name.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == ':') && !after.is_some_and(ident)
    })
}

/// `code` up to its `#[cfg(test)]` module (unit tests may set up files).
fn without_test_module(code: &str) -> String {
    match code.find("#[cfg(test)]\nmod tests") {
        Some(i) => code[..i].to_string(),
        None => code.to_string(),
    }
}

/// The statement keyword when `literal` holds an SQL statement (upper-case keywords, as
/// this code base writes them).
fn sql_statement(literal: &str) -> Option<&'static str> {
    let words: Vec<&str> = literal
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let has = |from: usize, w: &str| words[from..].contains(&w);
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        match *w {
            "CREATE"
                if matches!(
                    next,
                    "TABLE" | "INDEX" | "UNIQUE" | "VIEW" | "TRIGGER" | "TEMP"
                ) =>
            {
                return Some("CREATE")
            }
            "INSERT" if matches!(next, "INTO" | "OR") => return Some("INSERT"),
            "SELECT" if has(i + 1, "FROM") => return Some("SELECT"),
            "UPDATE" if has(i + 2, "SET") => return Some("UPDATE"),
            "DELETE" if next == "FROM" => return Some("DELETE"),
            _ => {}
        }
    }
    None
}
