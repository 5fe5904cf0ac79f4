//! A cheap test run on a line before an anchored pattern joined from the tables: the letters
//! the pattern's alternatives can start with, and the endings of those that can start with
//! anything ("…から送信"), both read off the fragments by `regex-syntax`'s literal extractor,
//! so the test follows the data without being written by hand.

use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Which lines may match an alternation of fragments anchored at the start of the line.
#[derive(Debug, Clone, Default)]
pub struct FirstChars {
    /// Case-folded first characters of the alternatives that start with a literal.
    firsts: Vec<char>,
    /// Case-folded literal endings of the alternatives that do not.
    endings: Vec<String>,
    /// True when some alternative has neither: every line must be tried.
    always: bool,
}

/// A character in the form both sides are compared in: lower case, with the few characters
/// that case-insensitive matching folds onto an ASCII letter ('ſ' → 's', Kelvin sign → 'k').
fn fold(c: char) -> char {
    match c {
        'ſ' => 's',
        '\u{212A}' => 'k',
        '\u{212B}' => 'å',
        _ => c.to_lowercase().next().unwrap_or(c),
    }
}

/// The literal alternatives of `fragment` at one end, or `None` when one of them is empty,
/// unknown, or cut inside a character.
fn literals(fragment: &str, kind: ExtractKind) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(fragment)
        .ok()?;
    let seq = Extractor::new().kind(kind).extract(&hir);
    let lits = seq.literals()?;
    let mut out = Vec::with_capacity(lits.len());
    for lit in lits {
        let text = std::str::from_utf8(lit.as_bytes()).ok()?;
        if text.is_empty() {
            return None;
        }
        out.push(text.chars().map(fold).collect());
    }
    Some(out)
}

impl FirstChars {
    /// The test for an alternation of `fragments`.
    pub fn new<'a>(fragments: impl IntoIterator<Item = &'a str>) -> Self {
        let mut me = FirstChars::default();
        for fragment in fragments {
            if let Some(prefixes) = literals(fragment, ExtractKind::Prefix) {
                me.firsts
                    .extend(prefixes.iter().filter_map(|p| p.chars().next()));
            } else if let Some(suffixes) = literals(fragment, ExtractKind::Suffix) {
                me.endings.extend(suffixes);
            } else {
                me.always = true;
            }
        }
        me.firsts.sort_unstable();
        me.firsts.dedup();
        me.endings.sort();
        me.endings.dedup();
        me
    }

    /// True when `text` (the line after the marks the pattern allows before the words) may
    /// match: it starts with one of the first letters or ends with one of the endings.
    pub fn may_match(&self, text: &str) -> bool {
        if self.always {
            return true;
        }
        if text
            .chars()
            .next()
            .is_some_and(|c| self.firsts.binary_search(&fold(c)).is_ok())
        {
            return true;
        }
        self.endings
            .iter()
            .any(|ending| ends_with_folded(text, ending))
    }
}

/// True when `text` ends with `ending` (already folded), compared folded.
fn ends_with_folded(text: &str, ending: &str) -> bool {
    let mut tail = text.chars().rev();
    ending
        .chars()
        .rev()
        .all(|e| tail.next().is_some_and(|c| fold(c) == e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_letters_and_endings_come_from_the_fragments() {
        let f = FirstChars::new([
            r"envoyé\s+de",
            r"(?:verzonden|verstuurd)\s+vanaf",
            r"\S+\s*から送信$",
        ]);
        assert!(f.may_match("Envoyé de mon iPhone"));
        assert!(f.may_match("verstuurd vanaf mijn iPad"));
        assert!(f.may_match("iPhoneから送信"));
        assert!(!f.may_match("Thanks for the report"));
        assert!(FirstChars::new([r"\S+\s+\S+"]).may_match("anything"));
    }

    #[test]
    fn folding_matches_case_insensitive_regex() {
        let f = FirstChars::new(["sent"]);
        assert!(f.may_match("ſent"));
        assert!(f.may_match("SENT"));
    }
}
