//! Untrusted forum content made safe for a mail: plain text and excerpts of post bodies,
//! header-safe text and link checks. (Sanitised HTML is in [`super::excerpt`].)
//!
//! Everything a forum sends (titles, bodies, names, links) is untrusted. The templates only ever
//! receive plain text (which Handlebars escapes in the HTML part), links that passed
//! [`safe_url`], and HTML excerpts cleaned by the sanitiser of [`super::excerpt`].

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::model::{BodyFormat, Post};

/// `s` without CR, LF or any other control character (tabs become spaces), trimmed, runs of
/// white space collapsed: safe for a mail header.
pub fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_control() || c.is_whitespace() || c == '\u{2028}' || c == '\u{2029}' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// `url` if it is an absolute `http`, `https` or `mailto` link without white space or control
/// characters; `None` otherwise (`javascript:`, `data:`, relative, garbage).
pub fn safe_url(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:"))
        .then_some(url)
}

/// Plain text of a post body, on one line (white space collapsed): Markdown reduced to its text,
/// HTML stripped of tags (and of script/style content) with entities decoded.
pub fn plain_text(body: &str, format: BodyFormat) -> String {
    let raw = match format {
        BodyFormat::Markdown => markdown_text(body),
        BodyFormat::Html => strip_html(body),
    };
    header_safe(&raw)
}

/// The first `max_chars` characters of `text`, cut on a word boundary, with "…" when cut.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return text.to_string();
    };
    let head = &text[..cut];
    // Back up to the last white space unless that loses more than a third of the excerpt.
    let end = match head.rfind(char::is_whitespace) {
        Some(i) if head[..i].chars().count() * 3 >= max_chars * 2 => i,
        _ => cut,
    };
    let mut out = head[..end]
        .trim_end_matches(|c: char| c.is_whitespace() || ",;:-–".contains(c))
        .to_string();
    out.push('…');
    out
}

/// Plain-text excerpt of a post's body in at most about `max_chars` characters.
pub fn post_excerpt(post: &Post, max_chars: usize) -> String {
    // Parsing is linear; only a generous head of a long body can reach the excerpt.
    let limit = max_chars.saturating_mul(8).max(1024);
    let body = match post.body.char_indices().nth(limit) {
        Some((i, _)) => &post.body[..i],
        None => post.body.as_str(),
    };
    excerpt(&plain_text(body, post.body_format), max_chars)
}

/// The body of `post` as plain text with its line structure (for a text part showing a whole
/// post): Markdown as written, HTML converted with `html2text`.
pub fn body_text(post: &Post, width: usize) -> String {
    match post.body_format {
        BodyFormat::Markdown => post.body.replace("\r\n", "\n"),
        BodyFormat::Html => html2text::from_read(post.body.as_bytes(), width.max(20))
            .unwrap_or_else(|_| strip_html(&post.body)),
    }
}

/// Markdown → its text (raw HTML in it reduced to its text too).
fn markdown_text(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    for e in Parser::new_ext(md, Options::ENABLE_STRIKETHROUGH) {
        match e {
            Event::Text(s) | Event::Code(s) => out.push_str(&s),
            Event::Html(s) | Event::InlineHtml(s) => out.push_str(&strip_html(&s)),
            Event::SoftBreak | Event::HardBreak | Event::Rule => out.push(' '),
            Event::Start(Tag::Item) => out.push_str(" • "),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::Item,
            ) => out.push(' '),
            _ => {}
        }
    }
    out
}

/// HTML → text: tags dropped, `script`/`style`/comments dropped whole, entities decoded,
/// block ends as spaces. Good enough for excerpts; the result is escaped again when shown.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        decode_entities_into(&rest[..lt], &mut out);
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |e| &rest[e + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            // An unclosed tag: drop the rest.
            rest = "";
            break;
        };
        let closing = rest[1..gt].starts_with('/');
        let tag = rest[1..gt].trim_start_matches('/').to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &rest[gt + 1..];
        if (name == "script" || name == "style") && !closing {
            let close = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&close) {
                Some(i) => rest[i..].find('>').map_or("", |e| &rest[i + e + 1..]),
                None => "",
            };
            continue;
        }
        if matches!(
            name.as_str(),
            "p" | "br" | "div" | "li" | "tr" | "td" | "h1" | "h2" | "h3" | "h4" | "blockquote"
        ) {
            out.push(' ');
        }
    }
    decode_entities_into(rest, &mut out);
    out
}

fn decode_entities_into(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let head = rest
            .char_indices()
            .nth(12)
            .map_or(rest, |(i, _)| &rest[..i]);
        let semi = head.find(';');
        let decoded = semi.and_then(|semi| {
            let name = &rest[1..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::sample_post as post;

    #[test]
    fn header_safe_strips_crlf_and_controls() {
        assert_eq!(
            header_safe("Hello\r\nBcc: evil@example.org\u{0}\t x"),
            "Hello Bcc: evil@example.org x"
        );
        assert_eq!(header_safe("  \r\n "), "");
        assert_eq!(header_safe("a\u{2028}b"), "a b");
    }

    #[test]
    fn safe_url_allows_only_web_and_mailto() {
        assert_eq!(safe_url("https://x.example/a"), Some("https://x.example/a"));
        assert_eq!(safe_url(" HTTP://x.example "), Some("HTTP://x.example"));
        assert_eq!(safe_url("mailto:a@b.example"), Some("mailto:a@b.example"));
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(safe_url("JaVaScRiPt:alert(1)"), None);
        assert_eq!(safe_url("data:text/html,<script>"), None);
        assert_eq!(safe_url("/relative"), None);
        assert_eq!(safe_url("https://x.example/\"onmouseover=\"a b"), None);
    }

    #[test]
    fn excerpt_cuts_on_words() {
        assert_eq!(excerpt("short text", 50), "short text");
        assert_eq!(
            excerpt("the quick brown fox jumps over", 18),
            "the quick brown…"
        );
        // No white space at all: hard cut.
        assert_eq!(excerpt("abcdefghij", 4), "abcd…");
        // Multi-byte characters are counted as characters.
        assert_eq!(excerpt("ééé ééé ééé", 9), "ééé ééé…");
    }

    #[test]
    fn a_list_item_ends_in_a_space_before_the_next_paragraph() {
        let t = plain_text(
            "Check:\n\n- Is the heating on?\n- Who checks in?\n\nPlease add yours.",
            BodyFormat::Markdown,
        );
        assert_eq!(
            t,
            "Check: • Is the heating on? • Who checks in? Please add yours."
        );
    }

    #[test]
    fn markdown_to_text_drops_markup_and_raw_html() {
        let t = plain_text(
            "# Title\n\nSome **bold** and [a link](https://x.example).\n\n<script>alert(1)</script>\n\n- one\n- two",
            BodyFormat::Markdown,
        );
        assert_eq!(t, "Title Some bold and a link. • one • two");
    }

    #[test]
    fn html_to_text_drops_scripts_and_decodes() {
        let t = plain_text(
            "<p>Caf&eacute; &amp; <b>tea</b></p><script>alert('x')</script><style>p{}</style><img src=x onerror=alert(1)>done &#39;ok&#x27;",
            BodyFormat::Html,
        );
        assert_eq!(t, "Caf&eacute; & tea done 'ok'");
    }

    #[test]
    fn post_excerpt_of_long_body() {
        let p = post(&"word ".repeat(10_000), BodyFormat::Markdown);
        let e = post_excerpt(&p, 100);
        assert!(e.chars().count() <= 101);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn body_text_of_html() {
        let t = body_text(&post("<p>Hello <b>world</b></p>", BodyFormat::Html), 72);
        assert!(t.contains("Hello"), "{t}");
        assert!(!t.contains("<p>"));
    }
}
