//! Absolute links in HTML bodies from a platform: a digest is read in a mail client, where a
//! root-relative `href="/u/anna"` or `src="/uploads/x.png"` (as Discourse's cooked HTML and many
//! feeds' content have them) points nowhere. Such `href`/`src` values are prefixed with the
//! platform's origin; protocol-relative ones (`//cdn…`) get its scheme. Everything else is left
//! as it is (the sanitiser decides later what may stay).

use std::sync::OnceLock;

use regex::{Captures, Regex};

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"(?i)\b(href|src)\s*=\s*("/[^"]*"|'/[^']*')"#).expect("a valid pattern")
    })
}

/// `html` with its root- and protocol-relative `href`/`src` values made absolute against
/// `base` (any URL of the platform; only its scheme, host and port are used).
pub fn absolute_links(html: &str, base: &str) -> String {
    let Ok(base) = url::Url::parse(base) else {
        return html.to_string();
    };
    let origin = base.origin().ascii_serialization();
    if origin == "null" {
        return html.to_string();
    }
    pattern()
        .replace_all(html, |c: &Captures<'_>| {
            let quoted = &c[2];
            let quote = &quoted[..1];
            let value = &quoted[1..quoted.len() - 1];
            let absolute = if value.starts_with("//") {
                format!("{}:{value}", base.scheme())
            } else {
                format!("{origin}{value}")
            };
            format!("{}={quote}{absolute}{quote}", &c[1])
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::absolute_links;

    #[test]
    fn root_and_protocol_relative_links_get_the_platforms_origin() {
        let html = r##"<a class="mention" href="/u/anna">@anna</a> <img src='/uploads/a.png'> <a href="//cdn.example/x">x</a> <a href="https://other.example/y">y</a> <a href="#top">top</a>"##;
        let out = absolute_links(html, "https://forum.example.org/t/rota/42");
        assert!(
            out.contains(r#"href="https://forum.example.org/u/anna""#),
            "{out}"
        );
        assert!(
            out.contains(r#"src='https://forum.example.org/uploads/a.png'"#),
            "{out}"
        );
        assert!(out.contains(r#"href="https://cdn.example/x""#), "{out}");
        assert!(out.contains(r#"href="https://other.example/y""#), "{out}");
        assert!(out.contains("href=\"#top\""), "{out}");
        assert_eq!(absolute_links("<p>x</p>", "not a url"), "<p>x</p>");
    }
}
