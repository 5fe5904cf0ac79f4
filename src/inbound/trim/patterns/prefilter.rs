//! A cheap test run on a line before an anchored pattern joined from the tables: the literal
//! beginnings the pattern's alternatives can start with ("envoyé", "verzonden"), and the
//! endings of those that can start with anything ("…から送信"), both read off the fragments by `regex-syntax`'s literal extractor,
//! so the test follows the data without being written by hand.

use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Which lines may match an alternation of fragments anchored at the start of the line.
///
/// Both lists are grouped by the character a line is first looked up by (the first character
/// of a beginning, the last of an ending), so that a line costs one binary search on its first
/// and one on its last character, and compares only the few words of its own group.
///
/// Before either lookup, a line that starts (ends) with two ASCII characters is tested against
/// a table of the pairs the beginnings start (the endings end) with: most lines of a mail fail
/// there, at the cost of two table reads.
#[derive(Debug, Clone)]
pub struct FirstChars {
    /// Case-folded literal beginnings of the alternatives that start with one, grouped by their
    /// first character (sorted by it); one of them must begin the line.
    prefixes: Vec<(char, Vec<String>)>,
    /// Case-folded literal endings of the alternatives that do not, grouped by their last
    /// character (sorted by it).
    endings: Vec<(char, Vec<String>)>,
    /// True when some alternative has neither: every line must be tried.
    always: bool,
    /// The case-folded ASCII pairs the beginnings start with (see [`AsciiPairs`]).
    head_pairs: AsciiPairs,
    /// The case-folded ASCII pairs the endings end with, read from the end (last character,
    /// then the one before it).
    tail_pairs: AsciiPairs,
}

/// A set of pairs of ASCII characters: bit `second % 8` of byte `first * 16 + second / 8`.
#[derive(Debug, Clone)]
struct AsciiPairs(Box<[u8; 128 * 16]>);

impl AsciiPairs {
    /// The pairs the first two characters of `words` (already folded) make; a word of one
    /// character stands for every pair it starts. A word with a non-ASCII character among
    /// its first two can never match two ASCII characters, and is left out.
    fn of<'w>(words: impl IntoIterator<Item = impl Iterator<Item = char> + 'w>) -> Self {
        let mut bits = Box::new([0u8; 128 * 16]);
        for mut chars in words {
            let Some(first) = chars.next().filter(char::is_ascii) else {
                continue;
            };
            let row = &mut bits[first as usize * 16..][..16];
            match chars.next() {
                None => row.fill(u8::MAX),
                Some(second) if second.is_ascii() => {
                    row[second as usize / 8] |= 1 << (second as u32 % 8);
                }
                Some(_) => {}
            }
        }
        AsciiPairs(bits)
    }

    /// False when `first` and `second` are both ASCII (compared folded: an ASCII character
    /// folds to its lower case) and not a pair of the set; true otherwise (the set holds them,
    /// or cannot tell).
    #[inline]
    fn may_hold(&self, first: u8, second: u8) -> bool {
        if !(first.is_ascii() && second.is_ascii()) {
            return true;
        }
        let (first, second) = (first.to_ascii_lowercase(), second.to_ascii_lowercase());
        self.0[first as usize * 16 + second as usize / 8] & (1 << (second % 8)) != 0
    }
}

/// `words` grouped by the character `key` picks from each (words without one are dropped),
/// sorted by that character, each group sorted and without duplicates.
fn grouped(words: Vec<String>, key: fn(&str) -> Option<char>) -> Vec<(char, Vec<String>)> {
    let mut groups: Vec<(char, Vec<String>)> = Vec::new();
    for word in words {
        let Some(c) = key(&word) else { continue };
        match groups.binary_search_by(|(g, _)| g.cmp(&c)) {
            Ok(at) => groups[at].1.push(word),
            Err(at) => groups.insert(at, (c, vec![word])),
        }
    }
    for (_, words) in &mut groups {
        words.sort();
        words.dedup();
    }
    groups
}

/// The group of `c` in a list made by [`grouped`] (empty when there is none).
fn group_of(groups: &[(char, Vec<String>)], c: char) -> &[String] {
    groups
        .binary_search_by(|(g, _)| g.cmp(&c))
        .map_or(&[], |at| groups[at].1.as_slice())
}

/// A character in the form both sides are compared in: lower case, with the few characters
/// that case-insensitive matching folds onto an ASCII letter ('ſ' → 's', Kelvin sign → 'k').
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
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
        let mut prefixes = Vec::new();
        let mut endings = Vec::new();
        let mut always = false;
        for fragment in fragments {
            if let Some(beginnings) = literals(fragment, ExtractKind::Prefix) {
                prefixes.extend(beginnings);
            } else if let Some(suffixes) = literals(fragment, ExtractKind::Suffix) {
                endings.extend(suffixes);
            } else {
                always = true;
            }
        }
        FirstChars {
            head_pairs: AsciiPairs::of(prefixes.iter().map(|p| p.chars())),
            tail_pairs: AsciiPairs::of(endings.iter().map(|e| e.chars().rev())),
            prefixes: grouped(prefixes, |p| p.chars().next()),
            endings: grouped(endings, |e| e.chars().next_back()),
            always,
        }
    }

    /// True when `text` (the line after the marks the pattern allows before the words) may
    /// match: it starts with one of the beginnings or ends with one of the endings.
    #[inline]
    pub fn may_match(&self, text: &str) -> bool {
        if self.always {
            return true;
        }
        let bytes = text.as_bytes();
        let may_start = match *bytes {
            [first, second, ..] => self.head_pairs.may_hold(first, second),
            _ => true,
        };
        let may_end = !self.endings.is_empty()
            && match *bytes {
                [.., before, last] => self.tail_pairs.may_hold(last, before),
                _ => true,
            };
        (may_start && self.starts_with_one(text)) || (may_end && self.ends_with_one(text))
    }

    /// True when `text` starts with one of the beginnings.
    #[inline(never)]
    fn starts_with_one(&self, text: &str) -> bool {
        text.chars().next().is_some_and(|first| {
            group_of(&self.prefixes, fold(first))
                .iter()
                .any(|prefix| starts_with_folded(text, prefix))
        })
    }

    /// True when `text` ends with one of the endings.
    #[inline(never)]
    fn ends_with_one(&self, text: &str) -> bool {
        text.chars().next_back().is_some_and(|last| {
            group_of(&self.endings, fold(last))
                .iter()
                .any(|ending| ends_with_folded(text, ending))
        })
    }
}

/// The case-folded characters the alternatives of `fragments` can end with, sorted; `None`
/// when one of them has no literal ending (then every line must be tried).
pub fn last_chars<'a>(fragments: impl IntoIterator<Item = &'a str>) -> Option<Vec<char>> {
    let mut lasts = Vec::new();
    for fragment in fragments {
        for ending in literals(fragment, ExtractKind::Suffix)? {
            lasts.extend(ending.chars().last());
        }
    }
    lasts.sort_unstable();
    lasts.dedup();
    Some(lasts)
}

/// True when `text` ends with one of `lasts` (from [`last_chars`]), compared folded.
pub fn ends_with_one_of(text: &str, lasts: &Option<Vec<char>>) -> bool {
    match lasts {
        None => true,
        Some(lasts) => text
            .chars()
            .next_back()
            .is_some_and(|c| lasts.binary_search(&fold(c)).is_ok()),
    }
}

/// Which lines may end with a match of one of an alternation's fragments (an unanchored
/// alternation followed by `$`): the case-folded characters the fragments can end with
/// ([`last_chars`]), and before that the pairs of ASCII characters their literal endings end
/// with.
#[derive(Debug, Clone)]
pub struct Endings {
    /// From [`last_chars`] (`None`: every line must be tried).
    lasts: Option<Vec<char>>,
    /// The endings' last two characters, read from the end (`None` with `lasts`).
    pairs: Option<AsciiPairs>,
}

impl Endings {
    /// The test for the alternation of `fragments`.
    pub fn new(fragments: Vec<&str>) -> Self {
        let lasts = last_chars(fragments.iter().copied());
        let pairs = lasts.as_ref().and_then(|_| {
            let mut endings = Vec::new();
            for fragment in &fragments {
                endings.extend(literals(fragment, ExtractKind::Suffix)?);
            }
            Some(AsciiPairs::of(endings.iter().map(|e| e.chars().rev())))
        });
        Endings { lasts, pairs }
    }

    /// True when `text` may end with a match of one of the fragments.
    #[inline]
    pub fn may_end(&self, text: &str) -> bool {
        if let (Some(pairs), [.., before, last]) = (&self.pairs, text.as_bytes()) {
            if !pairs.may_hold(*last, *before) {
                return false;
            }
        }
        ends_with_one_of(text, &self.lasts)
    }
}

/// True when `text` starts with `prefix` (already folded), compared folded.
fn starts_with_folded(text: &str, prefix: &str) -> bool {
    // ASCII on both sides (the usual case): a byte comparison, as an ASCII character folds to
    // its lower case.
    if prefix.is_ascii() {
        if let Some(head) = text.as_bytes().get(..prefix.len()).filter(|h| h.is_ascii()) {
            return head.eq_ignore_ascii_case(prefix.as_bytes());
        }
    }
    let mut head = text.chars();
    prefix
        .chars()
        .all(|p| head.next().is_some_and(|c| fold(c) == p))
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
        assert!(
            !f.may_match("Every day"),
            "the first letter alone is not enough"
        );
        assert!(FirstChars::new([r"\S+\s+\S+"]).may_match("anything"));
    }

    #[test]
    fn last_characters_of_the_alternatives() {
        let lasts = last_chars([r"napisał\(a\)", "wrote", r"쓴\s*글"]);
        assert_eq!(lasts, Some(vec![')', 'e', '글']));
        assert!(ends_with_one_of("Ann WROTE", &lasts));
        assert!(!ends_with_one_of("Ann said.", &lasts));
    }

    /// The test without its pair tables: the groups alone.
    fn by_groups(f: &FirstChars, text: &str) -> bool {
        let starts = text.chars().next().is_some_and(|c| {
            group_of(&f.prefixes, fold(c))
                .iter()
                .any(|p| starts_with_folded(text, p))
        });
        let ends = text.chars().next_back().is_some_and(|c| {
            group_of(&f.endings, fold(c))
                .iter()
                .any(|e| ends_with_folded(text, e))
        });
        f.always || starts || ends
    }

    #[test]
    fn pair_tables_agree_with_the_groups() {
        let f = FirstChars::new([
            r"envoyé\s+de",
            r"(?:verzonden|verstuurd)\s+vanaf",
            r"\S+\s*から送信$",
            r"\S+\s+from\s+mobile$",
            "x",
            r"ſent",
            r"K\s+",
        ]);
        for text in [
            "",
            "e",
            "en",
            "EN",
            "Envoyé de mon iPhone",
            "envoye",
            "Verstuurd vanaf",
            "vx",
            "x",
            "xy",
            "X!",
            "Sent",
            "ſent",
            "SENT",
            "kk",
            "\u{212A} x",
            "k ",
            "iPhoneから送信",
            "Sent from mobile",
            "from MOBILE",
            "mobile",
            "e\u{301}",
            "é",
            "Thanks!",
            "Ok",
        ] {
            assert_eq!(f.may_match(text), by_groups(&f, text), "{text:?}");
        }
    }

    #[test]
    fn endings_agree_with_their_last_characters() {
        let fragments = vec![r"napisał\(a\)", "wrote", r"쓴\s*글", "x", "ſa"];
        let e = Endings::new(fragments.clone());
        let lasts = last_chars(fragments.iter().copied());
        let pattern = regex::Regex::new(r"(?i)(?:napisał\(a\)|wrote|쓴\s*글|x|ſa)$")
            .unwrap_or_else(|e| panic!("{e}"));
        for text in [
            "",
            "e",
            "Ann WROTE",
            "Ann wrote",
            "Ann write",
            "Ann said.",
            "napisał(a)",
            "(a)",
            "x",
            "yx",
            "Yx",
            "글",
            "쓴 글",
            "ſa",
            "SA",
            "sa",
            "a",
            "\u{17f}A",
        ] {
            let by_pattern = pattern.is_match(text);
            assert!(!by_pattern || e.may_end(text), "{text:?}");
            assert!(
                !e.may_end(text) || ends_with_one_of(text, &lasts),
                "{text:?}"
            );
        }
        // The last character alone would let it through; the last two do not.
        assert!(ends_with_one_of("Ann wrota", &lasts) && !e.may_end("Ann wrota"));
    }

    #[test]
    fn folding_matches_case_insensitive_regex() {
        let f = FirstChars::new(["sent"]);
        assert!(f.may_match("ſent"));
        assert!(f.may_match("SENT"));
    }
}
