//! Classifies each line of a plain-text reply (text, quote, attribution, header block,
//! delimiter, signature, …) so the trimming rules can work on line kinds instead of text.
//! Lines inside Markdown code fences are always text.

use super::{headers, marker, quotes, signatures};

/// What one line (or one group of lines, for wrapped attributions and header blocks) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Blank (whitespace only).
    Empty,
    /// Something the person wrote.
    Text,
    /// A quoted line (`>`, `> >`, `SC>`).
    Quote,
    /// An attribution ("On … wrote:") spanning `lines` lines; `weak` when it is a bare
    /// "Name wrote:" that counts only when a quote follows.
    Attribution {
        /// Lines covered.
        lines: usize,
        /// True for a bare "Name wrote:".
        weak: bool,
    },
    /// An Outlook-style header block ("From:/Sent:/To:/Subject:") spanning `lines` lines.
    HeaderBlock {
        /// Lines covered.
        lines: usize,
    },
    /// "-----Original Message-----", "Begin forwarded message:".
    Forward,
    /// A separator made only of punctuation ("_____", "-----", "ᐧ").
    Delimiter,
    /// The `-- ` signature delimiter.
    SignatureDelimiter,
    /// "Sent from my iPhone" and friends.
    Signoff,
    /// First line of a confidentiality notice.
    Disclaimer,
    /// The "reply above this line" marker, quoted or not.
    ReplyAbove,
}

impl Kind {
    /// Number of source lines this classification covers.
    pub fn span(self) -> usize {
        match self {
            Kind::Attribution { lines, .. } | Kind::HeaderBlock { lines } => lines.max(1),
            _ => 1,
        }
    }
}

/// Characters a separator line may be made of.
fn is_delimiter(line: &str) -> bool {
    let t = line.trim();
    if t == "ᐧ" {
        return true;
    }
    // The border of an ASCII table ("+------+-----+") is part of the reply.
    if t.len() > 2 && t.starts_with('+') && t.ends_with('+') && t.contains(['-', '=']) {
        return false;
    }
    t.chars().count() >= 2
        && t.chars()
            .all(|c| matches!(c, '-' | '_' | '=' | '+' | '~' | '#' | '*' | '—' | '–' | 'ᐧ'))
}

/// True when the line opens or closes a Markdown code fence.
pub fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// Classifies `lines`; returns one entry per group: (first line index, kind).
pub fn classify(lines: &[&str]) -> Vec<(usize, Kind)> {
    let mut groups = Groups::new(lines);
    let mut g = 0;
    while groups.get(g).is_some() {
        g += 1;
    }
    groups.done
}

/// The groups of `lines`, classified on demand: the trimming rules stop at the first
/// signature or quoted mail, so the lines below it (often most of the message) are never
/// classified at all.
#[derive(Debug)]
pub struct Groups<'l, 'a> {
    lines: &'l [&'a str],
    next_line: usize,
    in_fence: bool,
    done: Vec<(usize, Kind)>,
}

impl<'l, 'a> Groups<'l, 'a> {
    /// Groups of `lines`, none classified yet.
    pub fn new(lines: &'l [&'a str]) -> Self {
        Groups {
            lines,
            next_line: 0,
            in_fence: false,
            done: Vec::new(),
        }
    }

    /// Group `g` (first line index, kind), classifying up to it; `None` past the end.
    pub fn get(&mut self, g: usize) -> Option<(usize, Kind)> {
        while self.done.len() <= g {
            let i = self.next_line;
            let line = *self.lines.get(i)?;
            let kind = if is_fence(line) {
                self.in_fence = !self.in_fence;
                Kind::Text
            } else if self.in_fence {
                Kind::Text
            } else {
                match classify_at(self.lines, i) {
                    Kind::Text if is_rewrapped_continuation(self.lines, i) => Kind::Quote,
                    kind => kind,
                }
            };
            self.done.push((i, kind));
            self.next_line = i + kind.span();
        }
        self.done.get(g).copied()
    }

    /// The source lines being classified.
    pub fn lines(&self) -> &'l [&'a str] {
        self.lines
    }

    /// The kind of the first group after `g` that is not blank.
    pub fn next_non_empty(&mut self, g: usize) -> Option<Kind> {
        let mut h = g + 1;
        while let Some((_, kind)) = self.get(h) {
            if kind != Kind::Empty {
                return Some(kind);
            }
            h += 1;
        }
        None
    }
}

/// Shortest quoted line (with its marker) a client re-wraps: mail is wrapped near 72–78
/// characters, and a quoted line lengthened by its `> ` goes over.
const MIN_REWRAPPED_QUOTE: usize = 60;

/// True when the unquoted line at `i` is the end of the quoted line above it, which the
/// replying client re-wrapped without repeating the `>`: the quoted line is long, and the
/// line continues it (a lower-case start, after an unfinished sentence or before more quote)
/// or sits between two quoted lines after an unfinished sentence.
fn is_rewrapped_continuation(lines: &[&str], i: usize) -> bool {
    let Some(prev) = i.checked_sub(1).and_then(|p| lines.get(p)) else {
        return false;
    };
    let prev = prev.trim_end();
    if prev.len() < MIN_REWRAPPED_QUOTE
        || !quotes::is_quote(prev)
        || prev.chars().count() < MIN_REWRAPPED_QUOTE
    {
        return false;
    }
    let Some(first) = lines[i].trim_start().chars().next() else {
        return false;
    };
    let open = !prev.ends_with(['.', '!', '?', ':', '。', '！', '？']);
    let before_quote = lines.get(i + 1).is_some_and(|n| quotes::is_quote(n));
    let continues = first.is_lowercase()
        || first.is_ascii_digit()
        || matches!(first, ',' | '.' | ';' | ')' | '"' | '\'' | '»' | '”' | '’');
    (continues && (open || before_quote)) || (open && before_quote)
}

/// Classifies the line at `i` (outside code fences).
fn classify_at(lines: &[&str], i: usize) -> Kind {
    let line = lines[i];
    if line.trim().is_empty() {
        return Kind::Empty;
    }
    if marker::is_reply_above(line) {
        return Kind::ReplyAbove;
    }
    if quotes::is_quote(line) {
        return Kind::Quote;
    }
    if signatures::is_signature_delimiter(line) {
        return Kind::SignatureDelimiter;
    }
    if headers::is_forward_marker(line) {
        return Kind::Forward;
    }
    if is_delimiter(line) {
        return Kind::Delimiter;
    }
    if signatures::is_signoff(line) {
        return Kind::Signoff;
    }
    if let Some(a) = headers::find_attribution(lines, i) {
        return Kind::Attribution {
            lines: a.lines,
            weak: a.strength == headers::Strength::Weak,
        };
    }
    if let Some(n) = headers::find_header_block(lines, i) {
        return Kind::HeaderBlock { lines: n };
    }
    if signatures::is_disclaimer(line) {
        return Kind::Disclaimer;
    }
    Kind::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        let lines: Vec<&str> = text.split('\n').collect();
        classify(&lines).into_iter().map(|(_, k)| k).collect()
    }

    #[test]
    fn basic_kinds() {
        assert_eq!(
            kinds("Hi\n\n> quoted\n-- \n____\nSent from my iPhone"),
            vec![
                Kind::Text,
                Kind::Empty,
                Kind::Quote,
                Kind::SignatureDelimiter,
                Kind::Delimiter,
                Kind::Signoff
            ]
        );
    }

    #[test]
    fn code_fences_are_text() {
        assert_eq!(
            kinds("```\n####\n-- \n```"),
            vec![Kind::Text, Kind::Text, Kind::Text, Kind::Text]
        );
    }

    #[test]
    fn rewrapped_quote_lines_stay_in_the_quote() {
        let long = "> Can we move the team meeting to Thursday afternoon, because on Wednesday the";
        assert_eq!(
            kinds(&format!(
                "{long}\nroom is booked by the youth team?\n\nYes."
            )),
            vec![Kind::Quote, Kind::Quote, Kind::Empty, Kind::Text]
        );
        assert_eq!(
            kinds("> Can you come on Friday?\nyes I can."),
            vec![Kind::Quote, Kind::Text]
        );
        assert_eq!(
            kinds(&format!("{long}?\nIt is.")),
            vec![Kind::Quote, Kind::Text]
        );
    }

    #[test]
    fn table_borders_are_not_delimiters() {
        assert_eq!(kinds("+-----+----+"), vec![Kind::Text]);
        assert_eq!(kinds("++++++++"), vec![Kind::Delimiter]);
    }

    #[test]
    fn lone_dash_is_not_a_delimiter() {
        assert_eq!(kinds("-"), vec![Kind::Text]);
        assert_eq!(kinds("ᐧ"), vec![Kind::Delimiter]);
    }
}
