//! The "reply above this line" marker: a line framed by `##` that a sender puts at the top of
//! the mails it expects answers to (digestd's digests, Discourse, Zendesk). Everything from it
//! down is the quoted mail, whatever the client wrote above it. The marker texts of every
//! language are in the tables ([`super::patterns::Language::reply_above`]).

use std::sync::LazyLock;

use super::patterns;

/// The known marker texts, normalised (see [`normalise`]).
static MARKERS: LazyLock<Vec<String>> = LazyLock::new(|| {
    patterns::words(|l| l.reply_above)
        .into_iter()
        .map(normalise)
        .collect()
});

/// Lower case, one blank between words, without the frame's `#`, `-` and a final full stop.
fn normalise(text: &str) -> String {
    let inner = text.trim_matches(|c: char| c == '#' || c == '-' || c == '.' || c.is_whitespace());
    inner
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// True for a marker line, quoted or not ("## Type your reply above this line ##",
/// "> ##- Please type your reply above this line -##").
#[inline]
pub fn is_reply_above(line: &str) -> bool {
    // Every marker is framed by "##": a cheap test on the line's end (most lines end in a
    // letter or punctuation, without blanks after it) before anything is trimmed.
    match line.as_bytes().last() {
        Some(b'#') => {}
        Some(&b) if b.is_ascii() && !is_ascii_blank(b) => return false,
        None => return false,
        Some(_) => {}
    }
    is_framed_marker(line)
}

/// [`is_reply_above`] past its first test.
#[inline(never)]
fn is_framed_marker(line: &str) -> bool {
    let t = line.trim_end();
    if !t.ends_with("##") {
        return false;
    }
    let t = t.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    t.len() > 4 && t.starts_with("##") && MARKERS.iter().any(|m| *m == normalise(t))
}

/// True for the ASCII bytes `char::is_whitespace` counts as blanks (unlike
/// `u8::is_ascii_whitespace`, with the vertical tab).
fn is_ascii_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_in_their_frames() {
        assert!(is_reply_above("## Type your reply above this line ##"));
        assert!(is_reply_above("> ## Typ uw antwoord boven deze regel ##"));
        assert!(is_reply_above(
            "##- Please type your reply above this line -##"
        ));
        assert!(is_reply_above(
            "## Please type your reply above  this line. ##"
        ));
        assert!(!is_reply_above("Type your reply above this line"));
        assert!(!is_reply_above("## Heading ##"));
        assert!(!is_reply_above("####"));
        assert!(is_reply_above(
            "> ## Type your reply above this line ##\u{a0}\x0B\r"
        ));
        assert!(!is_reply_above(""));
        assert!(!is_reply_above("## Type your reply above this line ## x"));
    }
}
