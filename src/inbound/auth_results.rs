//! Reading `Authentication-Results` headers (RFC 8601) and deciding whether the receiving
//! mail server vouches for the From address.
//!
//! **Which headers count.** Only a header whose authserv-id (the first word of its value) is one
//! of `[inbound] trusted_authserv_ids` is read; every other one (another server's, or one with
//! no authserv-id at all, as Microsoft 365 writes them) is ignored. Anyone can write any header
//! into a mail, so this holds only when the trusted server removes headers claiming its own
//! authserv-id from the mail it receives, as RFC 8601 §5 requires of it (Gmail does; with
//! Postfix, a `header_checks` rule does it, since milters' headers are not subject to them).
//!
//! **What a trusted header must say.** `dkim=pass` with a `header.d` (or `header.i`) domain
//! aligned with the From domain; or, when [`AuthPolicy::accept_spf`] is set, `spf=pass` with an
//! aligned `smtp.mailfrom`. Alignment is relaxed and deliberately simple (no public-suffix list):
//! two domains are aligned when they are equal or one is a subdomain of the other
//! (`example.org` and `mail.example.org`), and both have at least two labels, so a bare
//! top-level domain never aligns with anything.
//!
//! **Invariant:** pure; no header, however malformed, makes this panic.

use crate::model::normalize_email;

/// Which Authentication-Results count, as configured in `[inbound]`.
#[derive(Debug, Clone, Copy)]
pub struct AuthPolicy<'a> {
    /// `trusted_authserv_ids` (lower case); empty: no header is trusted.
    pub trusted_ids: &'a [String],
    /// `accept_spf`: an aligned `spf=pass` is enough (otherwise only DKIM counts).
    pub accept_spf: bool,
}

/// One parsed Authentication-Results header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The authserv-id (lower case); `None` when the header has none (Microsoft 365 writes
    /// `Authentication-Results: spf=pass ...` without one).
    pub authserv_id: Option<String>,
    /// Each `method=result` with its properties, in header order.
    pub results: Vec<MethodResult>,
}

/// One `method=result ptype.property=value ...` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// `dkim`, `spf`, `dmarc`, ... (lower case, version suffix dropped).
    pub method: String,
    /// `pass`, `fail`, `none`, ... (lower case).
    pub result: String,
    /// `(ptype.property, value)` pairs, e.g. `("header.d", "example.org")`, lower case.
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    /// The value of property `key` (`header.d`, `smtp.mailfrom`, ...), the first if repeated.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A lexical item of a header value (comments already dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lex {
    /// `;`
    Semi,
    /// `=`
    Eq,
    /// A run of other characters, or a quoted string's content.
    Word(String),
}

/// Splits `value` into words, `=` and `;`, dropping comments (nested, with `\` escapes) and
/// unquoting quoted strings; lower case.
fn lex(value: &str) -> Vec<Lex> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = value.chars();
    let flush = |word: &mut String, out: &mut Vec<Lex>| {
        if !word.is_empty() {
            out.push(Lex::Word(std::mem::take(word).to_lowercase()));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                let mut depth = 1usize;
                while depth > 0 {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('(') => depth += 1,
                        Some(')') => depth -= 1,
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                flush(&mut word, &mut out);
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => quoted.extend(chars.next()),
                        Some('"') | None => break,
                        Some(q) => quoted.push(q),
                    }
                }
                out.push(Lex::Word(quoted.to_lowercase()));
            }
            ';' => {
                flush(&mut word, &mut out);
                out.push(Lex::Semi);
            }
            '=' => {
                flush(&mut word, &mut out);
                out.push(Lex::Eq);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parses one Authentication-Results header value (RFC 8601 §2.2): the authserv-id with its
/// optional version, then `;`-separated results. Malformed clauses are skipped; `None` only
/// for a value with nothing in it.
pub fn parse_auth_results(value: &str) -> Option<AuthResults> {
    let lexed = lex(value);
    let mut clauses = lexed.split(|l| *l == Lex::Semi);
    let first = clauses.next().filter(|c| !c.is_empty())?;
    let mut results = Vec::new();
    // `id [version]`, or (no authserv-id) a first result.
    let authserv_id = match first {
        [Lex::Word(_), Lex::Eq, ..] => {
            results.extend(result_of(first));
            None
        }
        [Lex::Word(id), ..] => Some(id.clone()),
        _ => return None,
    };
    results.extend(clauses.filter_map(result_of));
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// One `method[/version] = result [reason=...] ptype.prop=value ...` clause; `None` for `none`
/// and anything not shaped like a result.
fn result_of(clause: &[Lex]) -> Option<MethodResult> {
    let [Lex::Word(method), Lex::Eq, Lex::Word(result), rest @ ..] = clause else {
        return None;
    };
    let method = method.split('/').next().unwrap_or(method).to_string();
    let mut props = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match &rest[i..] {
            [Lex::Word(key), Lex::Eq, Lex::Word(v), ..] => {
                if key.contains('.') {
                    props.push((key.clone(), v.clone()));
                }
                i += 3;
            }
            _ => i += 1,
        }
    }
    Some(MethodResult {
        method,
        result: result.clone(),
        props,
    })
}

/// True when one header (of `headers`, raw values) from a trusted authserv-id reports a
/// passing, aligned check for `from`'s domain, as [`AuthPolicy`] says (see the module doc).
pub fn authenticated<S: AsRef<str>>(headers: &[S], policy: &AuthPolicy<'_>, from: &str) -> bool {
    if policy.trusted_ids.is_empty() {
        return false;
    }
    let from = normalize_email(from);
    let Some((_, from_domain)) = from.rsplit_once('@') else {
        return false;
    };
    headers
        .iter()
        .filter_map(|h| parse_auth_results(h.as_ref()))
        .filter(|ar| {
            ar.authserv_id
                .as_deref()
                .is_some_and(|id| policy.trusted_ids.iter().any(|t| t == id))
        })
        .flat_map(|ar| ar.results)
        .any(|r| passes_aligned(&r, policy, from_domain))
}

/// True when `r` is a pass that vouches for `from_domain` under `policy`.
fn passes_aligned(r: &MethodResult, policy: &AuthPolicy<'_>, from_domain: &str) -> bool {
    if r.result != "pass" {
        return false;
    }
    let keys: &[&str] = match r.method.as_str() {
        "dkim" => &["header.d", "header.i"],
        "spf" if policy.accept_spf => &["smtp.mailfrom"],
        _ => return false,
    };
    r.props
        .iter()
        .any(|(k, v)| keys.contains(&k.as_str()) && aligned(domain_of(v), from_domain))
}

/// The domain of a property value: `@example.org`, `ann@example.org` or `example.org`.
fn domain_of(v: &str) -> &str {
    v.rsplit_once('@').map(|(_, d)| d).unwrap_or(v)
}

/// Relaxed alignment (see the module doc): equal, or one a subdomain of the other, both with
/// at least two labels.
pub fn aligned(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('.').to_ascii_lowercase();
    let b = b.trim_end_matches('.').to_ascii_lowercase();
    let two_labels =
        |d: &str| d.split('.').filter(|l| !l.is_empty()).count() >= 2 && !d.starts_with('.');
    if !two_labels(&a) || !two_labels(&b) {
        return false;
    }
    let sub = |x: &str, y: &str| {
        x.len() > y.len() && x.ends_with(y) && x[..x.len() - y.len()].ends_with('.')
    };
    a == b || sub(&a, &b) || sub(&b, &a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUSTED: &[&str] = &["mx.google.com", "mx.example.org", "mail.example.net"];

    fn trusted() -> Vec<String> {
        TRUSTED.iter().map(|s| s.to_string()).collect()
    }

    fn check(headers: &[&str], from: &str, accept_spf: bool) -> bool {
        let ids = trusted();
        authenticated(
            headers,
            &AuthPolicy {
                trusted_ids: &ids,
                accept_spf,
            },
            from,
        )
    }

    /// Gmail, as stamped on mail it receives (header.i with an empty local part, a comment in
    /// the spf result, dmarc with a parenthesised policy).
    const GMAIL: &str = "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=20230601 header.b=Xy1+abc/;\r\n       spf=pass (google.com: domain of ann@example.com designates 2001:db8::1 as permitted sender) smtp.mailfrom=ann@example.com;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com";

    /// Microsoft 365: no authserv-id, `action=` and `compauth=` extras.
    const M365: &str = "spf=pass (sender IP is 192.0.2.1)\r\n smtp.mailfrom=example.com; dkim=pass (signature was verified)\r\n header.d=example.com;dmarc=pass action=none\r\n header.from=example.com;compauth=pass reason=100";

    /// Postfix with OpenDKIM (a comment holding `;`, header.a and header.b).
    const OPENDKIM: &str = "mx.example.org;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.com header.i=@example.com header.a=rsa-sha256 header.s=mail header.b=AbCdEf12;\r\n\tdkim-atps=neutral";

    /// rspamd (dkim, dmarc with a policy comment, spf with a comment).
    const RSPAMD: &str = "mail.example.net;\r\n\tdkim=pass header.d=example.com header.s=dkim header.b=k3Jd9;\r\n\tdmarc=pass (policy=none) header.from=example.com;\r\n\tspf=pass (mail.example.net: domain of \"ann@example.com\" designates 192.0.2.1 as permitted sender) smtp.mailfrom=ann@example.com";

    #[test]
    fn gmail_dkim_with_header_i_passes() {
        let ar = parse_auth_results(GMAIL).expect("parses");
        assert_eq!(ar.authserv_id.as_deref(), Some("mx.google.com"));
        assert_eq!(ar.results.len(), 3);
        assert_eq!(ar.results[0].prop("header.i"), Some("@example.com"));
        assert_eq!(ar.results[1].prop("smtp.mailfrom"), Some("ann@example.com"));
        assert!(check(&[GMAIL], "Ann@Example.com", false));
        assert!(!check(&[GMAIL], "ann@example.org", true));
    }

    #[test]
    fn microsoft_365_has_no_authserv_id_and_never_counts() {
        let ar = parse_auth_results(M365).expect("parses");
        assert_eq!(ar.authserv_id, None);
        assert_eq!(ar.results.len(), 4);
        assert_eq!(ar.results[1].method, "dkim");
        assert_eq!(ar.results[1].prop("header.d"), Some("example.com"));
        assert!(!check(&[M365], "ann@example.com", true));
    }

    #[test]
    fn postfix_opendkim_comment_with_a_semicolon_stays_one_clause() {
        let ar = parse_auth_results(OPENDKIM).expect("parses");
        assert_eq!(ar.authserv_id.as_deref(), Some("mx.example.org"));
        assert_eq!(ar.results.len(), 2);
        assert_eq!(ar.results[0].prop("header.d"), Some("example.com"));
        assert_eq!(ar.results[1].method, "dkim-atps");
        assert!(check(&[OPENDKIM], "ann@example.com", false));
        // Relaxed alignment: a subdomain of the signing domain, and the other way round.
        assert!(check(&[OPENDKIM], "ann@lists.example.com", false));
    }

    #[test]
    fn rspamd_spf_counts_only_when_accepted() {
        let ids = trusted();
        let ar = parse_auth_results(RSPAMD).expect("parses");
        assert_eq!(ar.results.len(), 3);
        let spf_only = RSPAMD.replace("dkim=pass", "dkim=fail");
        assert!(check(&[RSPAMD], "ann@example.com", false));
        assert!(!check(&[spf_only.as_str()], "ann@example.com", false));
        assert!(check(&[spf_only.as_str()], "ann@example.com", true));
        // No trusted id configured: nothing counts.
        assert!(!authenticated(
            &[RSPAMD],
            &AuthPolicy {
                trusted_ids: &[],
                accept_spf: true
            },
            "ann@example.com"
        ));
        assert!(!ids.is_empty());
    }

    #[test]
    fn untrusted_forged_or_misaligned_headers_do_not_count() {
        // A forged header naming another server, or a server configured nowhere.
        let forged = "evil.example; dkim=pass header.d=example.com";
        assert!(!check(&[forged], "ann@example.com", true));
        // The id must be the whole first word, not a prefix or suffix of it.
        let lookalike = "mx.example.org.evil.example; dkim=pass header.d=example.com";
        assert!(!check(&[lookalike], "ann@example.com", true));
        // Trusted server, but the signature is someone else's domain.
        let other = "mx.example.org; dkim=pass header.d=evil.example";
        assert!(!check(&[other], "ann@example.com", true));
        // A look-alike domain is not a subdomain.
        let lookalike_d = "mx.example.org; dkim=pass header.d=badexample.com";
        assert!(!check(&[lookalike_d], "ann@example.com", true));
        // dkim=fail, neutral, none; and spf for the HELO name only.
        for h in [
            "mx.example.org; dkim=fail header.d=example.com",
            "mx.example.org; dkim=neutral header.d=example.com",
            "mx.example.org; none",
            "mx.example.org; spf=pass smtp.helo=example.com",
        ] {
            assert!(!check(&[h], "ann@example.com", true), "{h}");
        }
        // A pass for the TLD alone aligns with nothing.
        assert!(!check(
            &["mx.example.org; dkim=pass header.d=com"],
            "ann@example.com",
            false
        ));
        // One good header among bad ones is enough.
        assert!(check(&[forged, OPENDKIM], "ann@example.com", false));
    }

    #[test]
    fn rfc8601_examples_version_spaces_quotes_and_garbage() {
        let ar = parse_auth_results("example.com; none").expect("parses");
        assert_eq!(ar.authserv_id.as_deref(), Some("example.com"));
        assert!(ar.results.is_empty());
        // Appendix B.6: a version, a version on the method, a comment; spaces around `=`.
        let ar = parse_auth_results(
            "example.com 1; dkim/1 = pass (good signature) header.i=@mail-router.example.net; dkim=fail reason=\"bad; sig\" header.i=@newyork.example.com",
        )
        .expect("parses");
        assert_eq!(ar.authserv_id.as_deref(), Some("example.com"));
        assert_eq!(ar.results.len(), 2);
        assert_eq!(ar.results[0].method, "dkim");
        assert_eq!(ar.results[0].result, "pass");
        assert_eq!(ar.results[1].result, "fail");
        assert_eq!(ar.results[1].prop("header.i"), Some("@newyork.example.com"));
        // A quoted authserv-id.
        let ar = parse_auth_results("\"MX.Example.org\"; dkim=pass header.d=a.example").expect("q");
        assert_eq!(ar.authserv_id.as_deref(), Some("mx.example.org"));
        for junk in [
            "", " ", ";;;", "((((", "\"", "=;=", "a; =pass", "a; dkim=", "a (x",
        ] {
            let _ = parse_auth_results(junk);
            assert!(!check(&[junk], "ann@example.com", true), "{junk:?}");
        }
        assert_eq!(parse_auth_results(""), None);
    }

    #[test]
    fn alignment_rule() {
        assert!(aligned("example.org", "EXAMPLE.org."));
        assert!(aligned("mail.example.org", "example.org"));
        assert!(aligned("example.org", "a.b.example.org"));
        assert!(!aligned("example.org", "example.net"));
        assert!(!aligned("xample.org", "example.org"));
        assert!(!aligned("org", "example.org"));
        assert!(!aligned("", "example.org"));
        assert!(!aligned(".org", "example.org"));
    }
}
