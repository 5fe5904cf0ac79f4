//! Signed one-click unsubscribe tokens (RFC 8058), pure: no I/O, the clock and the nonce are
//! arguments where a test needs them fixed.
//!
//! A token is `<payload>.<mac>`, both base64url without padding. The payload is
//! `v1\n<email>\n<schedule>\n<issued-at unix seconds>\n<nonce hex>`; the mac is
//! HMAC-SHA256(secret, `digestd-unsubscribe\n` + payload-as-sent), made by [`super::signed`]. The payload is signed, not
//! encrypted: it names the address the link was mailed to, nothing more.

use chrono::{DateTime, Duration, Utc};

use super::config::Secret;
use super::signed::{self, SealError};

/// Value of the `List-Unsubscribe-Post` header that goes with the https link.
pub const LIST_UNSUBSCRIBE_POST: &str = "List-Unsubscribe=One-Click";

/// Domain separation of the MAC, so no other HMAC made with the same key verifies as a token.
const MAC_CONTEXT: &[u8] = b"digestd-unsubscribe\n";

/// What an unsubscribe token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeClaim {
    /// The recipient's address (normalised).
    pub email: String,
    /// Schedule key of the digest the link was in.
    pub schedule: String,
    /// When the link was made (whole seconds).
    pub issued_at: DateTime<Utc>,
    /// Random, 128 bits hex: makes each token unique, and is what the used-token ledger keys on.
    pub nonce: String,
}

impl UnsubscribeClaim {
    /// A claim for `email` and `schedule` issued now with a fresh nonce.
    pub fn new(email: &str, schedule: &str) -> UnsubscribeClaim {
        let nonce: [u8; 16] = rand::random();
        UnsubscribeClaim {
            email: crate::model::normalize_email(email),
            schedule: schedule.to_string(),
            issued_at: DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default(),
            nonce: hex::encode(nonce),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not shaped like a token at all.
    #[error("malformed unsubscribe token")]
    Malformed,
    /// Shaped like one, but the MAC does not verify (forged or altered).
    #[error("unsubscribe token signature does not verify")]
    BadSignature,
    /// Older than the configured maximum age.
    #[error("unsubscribe token expired")]
    Expired,
    /// Issued in the future (beyond clock skew).
    #[error("unsubscribe token issued in the future")]
    FromTheFuture,
}

impl From<SealError> for TokenError {
    fn from(e: SealError) -> TokenError {
        match e {
            SealError::Malformed => TokenError::Malformed,
            SealError::BadSignature => TokenError::BadSignature,
            SealError::Expired => TokenError::Expired,
            SealError::FromTheFuture => TokenError::FromTheFuture,
        }
    }
}

/// Signs a claim into a token. Line breaks in the email or schedule are replaced by spaces
/// (they cannot occur in valid values; this keeps the payload's framing intact).
pub fn sign(secret: &Secret, claim: &UnsubscribeClaim) -> String {
    let issued = claim.issued_at.timestamp().to_string();
    signed::seal(
        secret,
        MAC_CONTEXT,
        &["v1", &claim.email, &claim.schedule, &issued, &claim.nonce],
    )
}

/// Checks a token's MAC (constant time), then its age against `now` and `max_age`.
pub fn verify(
    secret: &Secret,
    token: &str,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<UnsubscribeClaim, TokenError> {
    let fields = signed::open(secret, MAC_CONTEXT, token)?;
    let [version, email, schedule, issued, nonce] = fields.as_slice() else {
        return Err(TokenError::Malformed);
    };
    if version != "v1" || email.is_empty() || nonce.is_empty() {
        return Err(TokenError::Malformed);
    }
    let issued_at = signed::issued_within(issued, now, max_age)?;
    Ok(UnsubscribeClaim {
        email: email.clone(),
        schedule: schedule.clone(),
        issued_at,
        nonce: nonce.clone(),
    })
}

/// The https link for a digest's `List-Unsubscribe` header: `<public_url>/u/<token>` with a
/// fresh token for (email, schedule). Pair it with `List-Unsubscribe-Post:`
/// [`LIST_UNSUBSCRIBE_POST`].
pub fn unsubscribe_url(public_url: &str, secret: &Secret, email: &str, schedule: &str) -> String {
    unsubscribe_url_for(public_url, secret, &UnsubscribeClaim::new(email, schedule))
}

/// [`unsubscribe_url`] for a given claim.
pub fn unsubscribe_url_for(public_url: &str, secret: &Secret, claim: &UnsubscribeClaim) -> String {
    format!(
        "{}/u/{}",
        public_url.trim_end_matches('/'),
        sign(secret, claim)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Secret {
        Secret::new(vec![b; 32]).expect("32 bytes")
    }

    fn claim() -> UnsubscribeClaim {
        UnsubscribeClaim {
            email: "ann@example.org".into(),
            schedule: "0 30 7 * * Mon-Fri@Europe/Amsterdam".into(),
            issued_at: DateTime::from_timestamp(1_700_000_000, 0).expect("ts"),
            nonce: "00112233445566778899aabbccddeeff".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_600, 0).expect("ts")
    }

    #[test]
    fn round_trip() {
        let t = sign(&key(1), &claim());
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        assert_eq!(verify(&key(1), &t, now(), Duration::days(1)), Ok(claim()));
    }

    #[test]
    fn another_key_or_an_edit_fails() {
        let t = sign(&key(1), &claim());
        assert_eq!(
            verify(&key(2), &t, now(), Duration::days(1)),
            Err(TokenError::BadSignature)
        );
        // Swap the payload for another person's, keep the MAC.
        let other = UnsubscribeClaim {
            email: "bob@example.org".into(),
            ..claim()
        };
        let forged = format!(
            "{}.{}",
            sign(&key(9), &other).split_once('.').expect("dot").0,
            t.split_once('.').expect("dot").1
        );
        assert_eq!(
            verify(&key(1), &forged, now(), Duration::days(1)),
            Err(TokenError::BadSignature)
        );
        for junk in ["", ".", "abc", "a.b.c", "!!.??"] {
            assert!(
                verify(&key(1), junk, now(), Duration::days(1)).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn age_is_checked() {
        let t = sign(&key(1), &claim());
        assert_eq!(
            verify(&key(1), &t, now(), Duration::seconds(60)),
            Err(TokenError::Expired)
        );
        let early = DateTime::from_timestamp(1_699_999_000, 0).expect("ts");
        assert_eq!(
            verify(&key(1), &t, early, Duration::days(1)),
            Err(TokenError::FromTheFuture)
        );
    }

    #[test]
    fn urls_are_distinct_per_call() {
        let a = unsubscribe_url("https://d.example.org/", &key(1), "Ann@Example.org", "s");
        let b = unsubscribe_url("https://d.example.org", &key(1), "ann@example.org", "s");
        assert!(a.starts_with("https://d.example.org/u/"));
        assert_ne!(a, b);
        let token = a.rsplit('/').next().expect("token");
        let c = verify(&key(1), token, Utc::now(), Duration::days(1)).expect("valid");
        assert_eq!(c.email, "ann@example.org");
    }
}
