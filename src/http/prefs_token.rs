//! Signed preferences links and their CSRF tokens, pure: no I/O, the clock is an argument.
//!
//! A link token is `<payload>.<mac>`, both base64url without padding. The payload is
//! `p1\n<email>\n<issued-at unix seconds>`; the mac is HMAC-SHA256 over the context string
//! `digestd-preferences\n` and the payload as sent, with the `[http]` key of the unsubscribe
//! tokens (another context string, so neither kind verifies as the other). No password: the link itself is the credential, as an
//! unsubscribe link is. Each digest carries a fresh link.
//!
//! **Expiry and rotation.** A link is refused once older than `[http]
//! preferences_link_days` (default 60; each digest brings a new one), or when issued in the
//! future beyond clock skew. Replacing the key file and restarting the daemon (or reloading it)
//! revokes every link out there, preferences and unsubscribe alike; the next digest carries links
//! made with the new key.
//!
//! **CSRF.** Every form on the page carries HMAC-SHA256 (same key) over
//! `digestd-preferences-csrf\n` and the link token: bound to the person and to the very link the page was opened with, unguessable
//! without the key, checked in constant time, and needing no server-side state.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::Mac;

use super::config::Secret;
use super::signed::{self, SealError};

/// Domain separation of the link MAC.
const LINK_CONTEXT: &[u8] = b"digestd-preferences\n";
/// Domain separation of the CSRF MAC.
const CSRF_CONTEXT: &[u8] = b"digestd-preferences-csrf\n";

/// What a preferences link says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefsClaim {
    /// The recipient's address (normalised).
    pub email: String,
    /// When the link was made (whole seconds).
    pub issued_at: DateTime<Utc>,
}

/// Why a preferences link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefsLinkError {
    /// Not shaped like a link token.
    #[error("malformed preferences link")]
    Malformed,
    /// Shaped like one, but the MAC does not verify (forged, altered, or an old key).
    #[error("preferences link signature does not verify")]
    BadSignature,
    /// Genuine but older than the maximum age; names whose it was, to answer in their language.
    #[error("preferences link expired")]
    Expired {
        /// The address the link was made for.
        email: String,
    },
    /// Issued in the future (beyond clock skew).
    #[error("preferences link issued in the future")]
    FromTheFuture,
}

/// Signs a claim into a link token. Line breaks in the email are replaced by spaces (they cannot
/// occur in a valid address; this keeps the payload's framing intact).
pub fn sign(secret: &Secret, claim: &PrefsClaim) -> String {
    let issued = claim.issued_at.timestamp().to_string();
    signed::seal(secret, LINK_CONTEXT, &["p1", &claim.email, &issued])
}

/// Checks a link token's MAC (constant time), then its age against `now` and `max_age`.
pub fn verify(
    secret: &Secret,
    token: &str,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<PrefsClaim, PrefsLinkError> {
    let fields = signed::open(secret, LINK_CONTEXT, token).map_err(|e| match e {
        SealError::BadSignature => PrefsLinkError::BadSignature,
        _ => PrefsLinkError::Malformed,
    })?;
    let [version, email, issued] = fields.as_slice() else {
        return Err(PrefsLinkError::Malformed);
    };
    if version != "p1" || email.is_empty() {
        return Err(PrefsLinkError::Malformed);
    }
    let issued_at = signed::issued_within(issued, now, max_age).map_err(|e| match e {
        SealError::Expired => PrefsLinkError::Expired {
            email: email.clone(),
        },
        SealError::FromTheFuture => PrefsLinkError::FromTheFuture,
        _ => PrefsLinkError::Malformed,
    })?;
    Ok(PrefsClaim {
        email: email.clone(),
        issued_at,
    })
}

/// The CSRF token of the page opened with `link_token`.
pub fn csrf_token(secret: &Secret, link_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        signed::keyed(secret, CSRF_CONTEXT, link_token)
            .finalize()
            .into_bytes(),
    )
}

/// True when `presented` is the CSRF token of `link_token` (compared in constant time).
pub fn csrf_matches(secret: &Secret, link_token: &str, presented: &str) -> bool {
    if presented.len() > 128 {
        return false;
    }
    let Ok(tag) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    signed::keyed(secret, CSRF_CONTEXT, link_token)
        .verify_slice(&tag)
        .is_ok()
}

/// The preferences link of `email` made at `now`: `<public_base>/p/<token>`.
pub fn preferences_url(
    public_base: &str,
    secret: &Secret,
    email: &str,
    now: DateTime<Utc>,
) -> String {
    let claim = PrefsClaim {
        email: crate::model::normalize_email(email),
        issued_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or_default(),
    };
    format!(
        "{}/p/{}",
        public_base.trim_end_matches('/'),
        sign(secret, &claim)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Secret {
        Secret::new(vec![b; 32]).expect("32 bytes")
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("ts")
    }

    fn claim() -> PrefsClaim {
        PrefsClaim {
            email: "ann@example.org".into(),
            issued_at: at(1_700_000_000),
        }
    }

    fn day() -> Duration {
        Duration::days(1)
    }

    #[test]
    fn a_link_round_trips_and_is_url_safe() {
        let t = sign(&key(1), &claim());
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        assert_eq!(verify(&key(1), &t, at(1_700_000_600), day()), Ok(claim()));
    }

    #[test]
    fn another_key_an_edit_or_junk_is_refused() {
        let t = sign(&key(1), &claim());
        assert_eq!(
            verify(&key(2), &t, at(1_700_000_600), day()),
            Err(PrefsLinkError::BadSignature)
        );
        let bob = PrefsClaim {
            email: "bob@example.org".into(),
            ..claim()
        };
        let forged = format!(
            "{}.{}",
            sign(&key(9), &bob).split_once('.').expect("dot").0,
            t.split_once('.').expect("dot").1
        );
        assert_eq!(
            verify(&key(1), &forged, at(1_700_000_600), day()),
            Err(PrefsLinkError::BadSignature)
        );
        for junk in ["", ".", "abc", "a.b.c", "!!.??", &"a".repeat(3000)] {
            assert!(verify(&key(1), junk, at(1_700_000_600), day()).is_err());
        }
    }

    #[test]
    fn an_unsubscribe_token_is_not_a_preferences_link() {
        let unsub = super::super::token::sign(
            &key(1),
            &super::super::token::UnsubscribeClaim {
                email: "ann@example.org".into(),
                schedule: "s".into(),
                issued_at: at(1_700_000_000),
                nonce: "00".into(),
            },
        );
        assert_eq!(
            verify(&key(1), &unsub, at(1_700_000_600), day()),
            Err(PrefsLinkError::BadSignature)
        );
    }

    #[test]
    fn age_is_checked_and_an_expired_link_says_whose() {
        let t = sign(&key(1), &claim());
        assert_eq!(
            verify(&key(1), &t, at(1_700_000_000 + 86_401), day()),
            Err(PrefsLinkError::Expired {
                email: "ann@example.org".into()
            })
        );
        assert_eq!(
            verify(&key(1), &t, at(1_699_999_000), day()),
            Err(PrefsLinkError::FromTheFuture)
        );
        assert!(
            verify(&key(1), &t, at(1_699_999_800), day()).is_ok(),
            "skew"
        );
    }

    #[test]
    fn csrf_is_bound_to_the_link_and_the_key() {
        let link = sign(&key(1), &claim());
        let other_link = sign(
            &key(1),
            &PrefsClaim {
                issued_at: at(1_700_000_001),
                ..claim()
            },
        );
        let csrf = csrf_token(&key(1), &link);
        assert!(csrf_matches(&key(1), &link, &csrf));
        assert!(!csrf_matches(&key(1), &other_link, &csrf), "another link");
        assert!(!csrf_matches(&key(2), &link, &csrf), "another key");
        assert!(!csrf_matches(&key(1), &link, ""), "missing");
        assert!(!csrf_matches(&key(1), &link, &csrf[1..]), "cut");
        assert!(!csrf_matches(&key(1), &link, "!!"), "junk");
        assert!(!csrf_matches(&key(1), &link, &"A".repeat(500)), "long");
        assert_ne!(csrf, csrf_token(&key(1), &other_link));
    }

    #[test]
    fn urls_carry_a_normalised_address() {
        let u = preferences_url("https://d.example.org/", &key(1), "Ann@Example.org", at(5));
        let token = u.strip_prefix("https://d.example.org/p/").expect("prefix");
        let c = verify(&key(1), token, at(6), day()).expect("valid");
        assert_eq!(c.email, "ann@example.org");
        assert_eq!(c.issued_at, at(5));
    }
}
