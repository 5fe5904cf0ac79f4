//! Wrapping the text part at 72 columns without breaking links.

/// Wraps every line of `text` longer than `width` characters on spaces, continuing with the
/// line's own indentation. Words longer than the width (links) stay whole on a line of their own.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    for line in text.split('\n') {
        // The signature separator keeps its trailing space.
        let line = if line == "-- " {
            line
        } else {
            line.trim_end_matches([' ', '\r', '\t'])
        };
        if line.len() <= width || line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let indent_len = line.len() - line.trim_start_matches(' ').len();
        let indent = &line[..indent_len];
        let mut current = String::from(indent);
        let mut current_len = indent_len;
        for word in line[indent_len..].split(' ').filter(|w| !w.is_empty()) {
            let wlen = word.chars().count();
            if current_len > indent_len && current_len + 1 + wlen > width {
                out.push_str(&current);
                out.push('\n');
                current.clear();
                current.push_str(indent);
                current_len = indent_len;
            }
            if current_len > indent_len {
                current.push(' ');
                current_len += 1;
            }
            current.push_str(word);
            current_len += wlen;
        }
        out.push_str(&current);
        out.push('\n');
    }
    // `split` yields one more piece than there are newlines.
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_long_lines_keeping_indent() {
        let w = wrap(
            "  one two three four five six seven eight nine ten eleven twelve",
            20,
        );
        for l in w.lines() {
            assert!(l.chars().count() <= 20, "{l:?}");
            assert!(l.starts_with("  "), "{l:?}");
        }
        assert_eq!(
            w.split_whitespace().count(),
            12,
            "no word lost or added: {w}"
        );
    }

    #[test]
    fn links_stay_whole() {
        let url = format!("https://example.org/{}", "x".repeat(80));
        let w = wrap(&format!("see {url} now"), 72);
        assert_eq!(w, format!("see\n{url}\nnow"));
    }

    #[test]
    fn short_lines_and_blank_lines_unchanged() {
        assert_eq!(wrap("a\n\nb\n", 72), "a\n\nb\n");
        assert_eq!(wrap("x  \n-- \ny", 72), "x\n-- \ny");
    }
}
