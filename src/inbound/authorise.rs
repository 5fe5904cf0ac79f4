//! Deciding whether a reply may be posted: the token's grant, the sender, the clock, and
//! (optionally) the receiving MTA's Authentication-Results.
//!
//! **Invariant:** pure; a reply is posted only when its token exists, is unexpired, and is bound
//! to the sender's address. Tokens are compared in constant time.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::model::{normalize_email, ReplyGrant, ReplyToken, ThreadId};

/// Why a message was not posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No grant for the token.
    UnknownToken,
    /// The grant expired.
    Expired,
    /// From is not the token's person.
    WrongSender,
    /// Strict mode: no dkim=pass / spf=pass from a trusted authserv-id.
    NotAuthenticated,
    /// Nothing left after trimming quotes and signatures.
    EmptyAfterTrim,
    /// Larger than `[inbound] max_message_bytes`.
    TooLarge,
    /// New thread: the sender's roles do not follow the group (or the sender is unknown).
    NotMember,
    /// New thread: no such group.
    UnknownGroup,
    /// The token grants no thread (a command token used as a reply address).
    NoThread,
    /// The forum refused the post for good.
    ForumRefused,
    /// A reply to a digest as a whole (no item token).
    DigestAsWhole,
    /// A command mail with no command the parser knows.
    UnknownCommand,
    /// A command from an address that is not a known person.
    UnknownPerson,
}

impl Reason {
    /// Stable key: template name in `templates/answers/<locale>/`, and the `answers_sent` reason.
    pub fn key(self) -> &'static str {
        match self {
            Reason::UnknownToken => "unknown-token",
            Reason::Expired => "expired",
            Reason::WrongSender => "wrong-sender",
            Reason::NotAuthenticated => "not-authenticated",
            Reason::EmptyAfterTrim => "empty",
            Reason::TooLarge => "too-large",
            Reason::NotMember => "not-member",
            Reason::UnknownGroup => "unknown-group",
            Reason::NoThread => "no-thread",
            Reason::ForumRefused => "forum-refused",
            Reason::DigestAsWhole => "digest-as-whole",
            Reason::UnknownCommand => "unknown-command",
            Reason::UnknownPerson => "unknown-person",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The outcome of authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Post into `thread` as `author` (normalised address).
    Post {
        /// Store id of the thread.
        thread: ThreadId,
        /// Author address (the grant's person).
        author: String,
    },
    /// Do not post, for this reason.
    Reject(Reason),
}

/// Everything authorisation looks at, as values.
#[derive(Debug, Clone)]
pub struct ReplyEvidence<'a> {
    /// Token found in the recipient addresses.
    pub token: &'a ReplyToken,
    /// The store's grant for that token, if any.
    pub grant: Option<&'a ReplyGrant>,
    /// Normalised From address.
    pub from: &'a str,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Raw Authentication-Results header values, top first.
    pub auth_results: &'a [String],
    /// Trusted authserv-ids (empty: authentication not required).
    pub trusted_authserv_ids: &'a [String],
    /// Size of the raw message in bytes.
    pub size: usize,
    /// Largest size accepted.
    pub max_size: usize,
    /// True when trimming left nothing.
    pub empty_after_trim: bool,
}

/// Decides whether the reply described by `ev` may be posted.
pub fn authorise_reply(ev: &ReplyEvidence<'_>) -> Decision {
    let Some(grant) = ev.grant.filter(|g| g.token.ct_eq(ev.token)) else {
        return Decision::Reject(Reason::UnknownToken);
    };
    if grant.expires <= ev.now {
        return Decision::Reject(Reason::Expired);
    }
    let person = normalize_email(&grant.person_email);
    if person != normalize_email(ev.from) {
        return Decision::Reject(Reason::WrongSender);
    }
    if !ev.trusted_authserv_ids.is_empty()
        && !authenticated(ev.auth_results, ev.trusted_authserv_ids, ev.from)
    {
        return Decision::Reject(Reason::NotAuthenticated);
    }
    let Some(thread) = grant.thread_id else {
        return Decision::Reject(Reason::NoThread);
    };
    if ev.size > ev.max_size {
        return Decision::Reject(Reason::TooLarge);
    }
    if ev.empty_after_trim {
        return Decision::Reject(Reason::EmptyAfterTrim);
    }
    Decision::Post {
        thread,
        author: person,
    }
}

/// Everything deciding on a new thread by mail looks at.
#[derive(Debug, Clone)]
pub struct ThreadEvidence<'a> {
    /// The group id exists in config.
    pub group_known: bool,
    /// The sender is a known person whose roles follow the group.
    pub member: bool,
    /// Normalised From address.
    pub from: &'a str,
    /// Raw Authentication-Results header values.
    pub auth_results: &'a [String],
    /// Trusted authserv-ids (empty: authentication not required).
    pub trusted_authserv_ids: &'a [String],
    /// Size of the raw message in bytes.
    pub size: usize,
    /// Largest size accepted.
    pub max_size: usize,
    /// True when trimming left nothing.
    pub empty_after_trim: bool,
}

/// Decides whether a mail to a group address may open a thread.
pub fn authorise_new_thread(ev: &ThreadEvidence<'_>) -> Result<(), Reason> {
    if !ev.group_known {
        return Err(Reason::UnknownGroup);
    }
    if !ev.member {
        return Err(Reason::NotMember);
    }
    if !ev.trusted_authserv_ids.is_empty()
        && !authenticated(ev.auth_results, ev.trusted_authserv_ids, ev.from)
    {
        return Err(Reason::NotAuthenticated);
    }
    if ev.size > ev.max_size {
        return Err(Reason::TooLarge);
    }
    if ev.empty_after_trim {
        return Err(Reason::EmptyAfterTrim);
    }
    Ok(())
}

/// One parsed Authentication-Results header (RFC 8601, minimally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The authserv-id (lower case).
    pub authserv_id: String,
    /// Each `method=result` with its properties (`header.d`, `smtp.mailfrom`, ...), lower case.
    pub results: Vec<MethodResult>,
}

/// One `method=result ptype.property=value ...` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// `dkim`, `spf`, `dmarc`, ... (version suffix dropped).
    pub method: String,
    /// `pass`, `fail`, `none`, ...
    pub result: String,
    /// `(ptype.property, value)` pairs, e.g. `("header.d", "example.org")`.
    pub props: Vec<(String, String)>,
}

/// Parses one Authentication-Results header value. `None` when it has no authserv-id.
pub fn parse_auth_results(value: &str) -> Option<AuthResults> {
    let cleaned = strip_comments(value).to_ascii_lowercase();
    let mut parts = cleaned.split(';');
    let authserv_id = parts.next()?.split_whitespace().next()?.to_string();
    let mut results = Vec::new();
    for clause in parts {
        let mut words = clause.split_whitespace();
        let Some(first) = words.next() else { continue };
        let Some((method, result)) = first.split_once('=') else {
            continue; // `none`
        };
        let method = method.split('/').next().unwrap_or(method).to_string();
        let props = words
            .filter_map(|w| w.split_once('='))
            .filter(|(k, _)| k.contains('.'))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        results.push(MethodResult {
            method,
            result: result.to_string(),
            props,
        });
    }
    Some(AuthResults {
        authserv_id,
        results,
    })
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// True when one header from a trusted authserv-id says `dkim=pass` with a `header.d`/`header.i`
/// aligned to the From domain, or `spf=pass` with an aligned `smtp.mailfrom`/`smtp.helo`.
/// Alignment is relaxed: equal domains, or one a subdomain of the other.
pub fn authenticated(headers: &[String], trusted: &[String], from: &str) -> bool {
    let from_domain = match normalize_email(from).rsplit_once('@') {
        Some((_, d)) => d.to_string(),
        None => return false,
    };
    headers
        .iter()
        .filter_map(|h| parse_auth_results(h))
        .filter(|ar| {
            trusted
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&ar.authserv_id))
        })
        .flat_map(|ar| ar.results)
        .any(|r| {
            let keys: &[&str] = match r.method.as_str() {
                "dkim" => &["header.d", "header.i"],
                "spf" => &["smtp.mailfrom", "smtp.helo"],
                _ => return false,
            };
            r.result == "pass"
                && r.props
                    .iter()
                    .any(|(k, v)| keys.contains(&k.as_str()) && aligned(domain_of(v), &from_domain))
        })
}

fn domain_of(v: &str) -> &str {
    v.rsplit_once('@').map(|(_, d)| d).unwrap_or(v)
}

fn aligned(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
    !a.is_empty()
        && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
        && a.contains('.')
        && b.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(token: &ReplyToken, email: &str, days: i64) -> ReplyGrant {
        ReplyGrant {
            token: token.clone(),
            person_email: email.into(),
            thread_id: Some(7),
            expires: Utc::now() + chrono::Duration::days(days),
        }
    }

    fn ev<'a>(
        token: &'a ReplyToken,
        grant: Option<&'a ReplyGrant>,
        from: &'a str,
        ar: &'a [String],
        trusted: &'a [String],
    ) -> ReplyEvidence<'a> {
        ReplyEvidence {
            token,
            grant,
            from,
            now: Utc::now(),
            auth_results: ar,
            trusted_authserv_ids: trusted,
            size: 100,
            max_size: 1000,
            empty_after_trim: false,
        }
    }

    #[test]
    fn decisions() {
        let t = ReplyToken::generate();
        let g = grant(&t, "ann@example.org", 1);
        assert_eq!(
            authorise_reply(&ev(&t, Some(&g), "ANN@example.org", &[], &[])),
            Decision::Post {
                thread: 7,
                author: "ann@example.org".into()
            }
        );
        assert_eq!(
            authorise_reply(&ev(&t, None, "ann@example.org", &[], &[])),
            Decision::Reject(Reason::UnknownToken)
        );
        let other = ReplyToken::generate();
        assert_eq!(
            authorise_reply(&ev(&other, Some(&g), "ann@example.org", &[], &[])),
            Decision::Reject(Reason::UnknownToken)
        );
        assert_eq!(
            authorise_reply(&ev(&t, Some(&g), "mallory@example.org", &[], &[])),
            Decision::Reject(Reason::WrongSender)
        );
        let old = grant(&t, "ann@example.org", -1);
        assert_eq!(
            authorise_reply(&ev(&t, Some(&old), "ann@example.org", &[], &[])),
            Decision::Reject(Reason::Expired)
        );
    }

    #[test]
    fn strict_mode_needs_aligned_pass_from_trusted_id() {
        let t = ReplyToken::generate();
        let g = grant(&t, "ann@example.org", 1);
        let trusted = vec!["mx.example.org".to_string()];
        let good = vec!["mx.example.org (Postfix); dkim=pass (2048-bit key) header.d=example.org header.s=s1; spf=fail smtp.mailfrom=x@evil.test".to_string()];
        let foreign_id = vec!["evil.test; dkim=pass header.d=example.org".to_string()];
        let misaligned = vec!["mx.example.org; dkim=pass header.d=evil.test".to_string()];
        let spf = vec!["MX.example.org 1; spf=pass smtp.mailfrom=ann@mail.example.org".to_string()];
        assert!(matches!(
            authorise_reply(&ev(&t, Some(&g), "ann@example.org", &good, &trusted)),
            Decision::Post { .. }
        ));
        assert!(matches!(
            authorise_reply(&ev(&t, Some(&g), "ann@example.org", &spf, &trusted)),
            Decision::Post { .. }
        ));
        for ar in [&foreign_id, &misaligned, &vec![]] {
            assert_eq!(
                authorise_reply(&ev(&t, Some(&g), "ann@example.org", ar, &trusted)),
                Decision::Reject(Reason::NotAuthenticated)
            );
        }
    }

    #[test]
    fn parses_rfc8601_examples() {
        let ar = parse_auth_results("example.com; none").expect("parses");
        assert_eq!(ar.authserv_id, "example.com");
        assert!(ar.results.is_empty());
        let ar = parse_auth_results(
            "example.com; dkim/1=pass (good sig) header.i=@mail-router.example.net; spf=pass smtp.mailfrom=example.net",
        )
        .expect("parses");
        assert_eq!(ar.results.len(), 2);
        assert_eq!(ar.results[0].method, "dkim");
        assert_eq!(ar.results[0].props[0].1, "@mail-router.example.net");
    }
}
