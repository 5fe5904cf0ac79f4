//! The one HTML escape of the crate: text made safe for HTML content and for quoted
//! attribute values (`&`, `<`, `>`, `"` and `'`), for the pages digestd serves, the
//! engagement report and plain-text feed entries turned into HTML bodies.

/// `text` with `&`, `<`, `>`, `"` and `'` written as character references.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped_and_the_rest_kept() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & Jerry's</a> café"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt; café"
        );
        assert_eq!(escape_html(""), "");
        assert_eq!(
            escape_html("&amp;"),
            "&amp;amp;",
            "escaped once more, never decoded"
        );
    }
}
