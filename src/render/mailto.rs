//! `mailto:` links (RFC 6068) for replying to a thread and for email commands.

use crate::model::ReplyToken;

use super::content::header_safe;

/// Percent-encodes `s` for a `mailto:` header field value: everything but unreserved characters
/// and `:` is encoded, UTF-8 first (RFC 6068 section 2).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `domain` reduced to the characters a domain name may hold.
fn clean_domain(domain: &str) -> String {
    domain
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect()
}

/// The reply link of a thread item: `mailto:reply+TOKEN@domain?subject=Re:%20<title>`, the title
/// made header-safe and percent-encoded.
pub fn reply_mailto(token: &ReplyToken, domain: &str, title: &str) -> String {
    format!(
        "mailto:reply+{}@{}?subject={}",
        token.as_str(),
        clean_domain(domain),
        percent_encode(&format!("Re: {}", header_safe(title)))
    )
}

/// An email command link: `mailto:digest@domain?subject=<command>`.
pub fn command_mailto(domain: &str, command: &str) -> String {
    format!(
        "mailto:digest@{}?subject={}",
        clean_domain(domain),
        percent_encode(command)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_link_shape_and_encoding() {
        let token = ReplyToken::parse(&"ab".repeat(20)).unwrap_or_else(ReplyToken::generate);
        let link = reply_mailto(
            &token,
            "replies.example.org",
            "Budget & plans?\r\nBcc: x@evil.example #2 — café",
        );
        assert_eq!(
            link,
            format!(
                "mailto:reply+{}@replies.example.org?subject=Re:%20Budget%20%26%20plans%3F%20Bcc:%20x%40evil.example%20%232%20%E2%80%94%20caf%C3%A9",
                "ab".repeat(20)
            )
        );
        assert!(!link.contains('\r') && !link.contains('\n') && !link.contains(' '));
    }

    #[test]
    fn domain_is_cleaned() {
        let token = ReplyToken::generate();
        let link = reply_mailto(&token, "ex ample.org?x=<y>", "t");
        assert!(link.contains("@example.orgxy?subject="), "{link}");
    }

    #[test]
    fn command_link() {
        assert_eq!(
            command_mailto("r.example", "weekly"),
            "mailto:digest@r.example?subject=weekly"
        );
    }
}
