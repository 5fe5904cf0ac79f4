//! Tells a ruler inside the reply (a section break, a heading's underline, a table's rule)
//! from the separator a client or a mailing list puts above a signature, a footer or a
//! quoted mail. A separator followed by anything but text stays a separator; followed by
//! text, it is part of the reply when it underlines the line above it, or when what follows
//! (up to anything but text and further rulers) reads like more of the reply (several
//! paragraphs, one of them a sentence; or one sentence after an earlier ruler of the reply)
//! rather than a signature block.

use super::headers;
use super::lines::{is_fence, Groups, Kind};
use super::quotes;

/// Fewest words a line needs to count as a sentence of the reply.
const SENTENCE_WORDS: usize = 5;

/// Most groups looked at after the ruler.
const MAX_LOOKAHEAD: usize = 200;

/// True when the separator group `g` is a ruler inside the reply, not the start of a
/// signature, footer or quoted mail. `after_ruler` is true when an earlier separator of the
/// same reply was found to be a ruler: then one sentence after this one is enough.
pub fn inside_reply(groups: &mut Groups<'_, '_>, g: usize, after_ruler: bool) -> bool {
    let Some((start, _)) = groups.get(g) else {
        return false;
    };
    let lines = groups.lines();
    let ruler = lines[start].trim();
    let underlined = start
        .checked_sub(1)
        .and_then(|p| lines.get(p))
        .is_some_and(|prev| underlines(ruler, prev));
    // Unless it underlines a line, a ruler is part of the reply only when a sentence of text
    // follows it: when no line below it reads like one (a mailing list's or a signature's
    // footer), the lines need not be classified to know.
    if !underlined && !lines[start + 1..].iter().any(|l| is_sentence(l)) {
        return false;
    }
    // A quote or an Outlook header block on the next line with text is not text of the reply:
    // cheap tests before classifying that line with every rule.
    if let Some(at) = (start + 1..lines.len()).find(|&i| !lines[i].trim().is_empty()) {
        let next = lines[at];
        if !is_fence(next)
            && (quotes::is_quote(next) || headers::find_header_block(lines, at).is_some())
        {
            return false;
        }
    }
    if groups.next_non_empty(g) != Some(Kind::Text) {
        return false;
    }
    if underlined {
        return true;
    }
    let (mut paragraphs, mut in_paragraph, mut sentence) = (0, false, false);
    for h in g + 1..g + 1 + MAX_LOOKAHEAD {
        let Some((at, kind)) = groups.get(h) else {
            break;
        };
        match kind {
            // Further rulers only separate more paragraphs.
            Kind::Empty | Kind::Delimiter => in_paragraph = false,
            Kind::Text => {
                if !in_paragraph {
                    paragraphs += 1;
                    in_paragraph = true;
                }
                sentence |= is_sentence(lines[at]);
            }
            _ => break,
        }
        // Nothing further down can undo it: the lines need not be classified on.
        if sentence && (paragraphs >= 2 || after_ruler) {
            return true;
        }
    }
    false
}

/// True when `line` reads like a sentence of the reply: it ends like one (blanks aside) and
/// has enough words.
fn is_sentence(line: &str) -> bool {
    line.trim_end().ends_with(['.', '?', '!', ':'])
        && line.split_whitespace().count() >= SENTENCE_WORDS
}

/// True when `ruler` (made of `-` or `=`) underlines `prev`, a line of text about as long:
/// a Markdown heading or the head of a table.
fn underlines(ruler: &str, prev: &str) -> bool {
    let prev = prev.trim();
    if prev.is_empty() || quotes::is_quote(prev) || !ruler.chars().all(|c| c == '-' || c == '=') {
        return false;
    }
    let (r, p) = (ruler.chars().count(), prev.chars().count());
    r * 2 >= p && r <= p * 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underlines_are_about_as_long_as_their_line() {
        assert!(underlines("=======", "Minutes"));
        assert!(underlines("-----------------", "Group     Members"));
        assert!(!underlines("_______________", "John"));
        assert!(!underlines("--------------------------------", "Bob"));
        assert!(!underlines("-------", ""));
    }
}
