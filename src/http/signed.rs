//! Signed claims, pure: the one place that seals newline-separated fields into a
//! `<payload>.<mac>` token (both base64url without padding) and opens one again. The MAC is
//! HMAC-SHA256 with the `[http]` key over a context string (one per kind of token, so no kind
//! verifies as another) and the payload as sent; it is checked in constant time.
//!
//! The unsubscribe tokens ([`super::token`]) and the preferences links
//! ([`super::prefs_token`]) are both made here; each keeps its own fields and errors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::config::Secret;

/// Longest token accepted (a longer one is not ours).
const MAX_TOKEN_LEN: usize = 2048;
/// How far in the future an issued-at may lie (clock skew between hosts).
const MAX_SKEW_SECS: i64 = 300;

/// Why a token did not open, or its issued-at did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not shaped like a token (or a field is not what it should be).
    #[error("malformed token")]
    Malformed,
    /// Shaped like one, but the MAC does not verify (forged, altered, or an old key).
    #[error("token signature does not verify")]
    BadSignature,
    /// Genuine but older than the maximum age.
    #[error("token expired")]
    Expired,
    /// Issued in the future (beyond clock skew).
    #[error("token issued in the future")]
    FromTheFuture,
}

/// HMAC-SHA256 keyed with `secret`, fed `context` then `data`.
pub fn keyed(secret: &Secret, context: &[u8], data: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(context);
    m.update(data.as_bytes());
    m
}

/// Seals `fields` (joined by line breaks; a line break inside a field becomes a space, since it
/// cannot occur in a valid value and would break the framing) into a token.
pub fn seal(secret: &Secret, context: &[u8], fields: &[&str]) -> String {
    let payload = fields
        .iter()
        .map(|f| f.replace(['\r', '\n'], " "))
        .collect::<Vec<_>>()
        .join("\n");
    let payload_b64 = URL_SAFE_NO_PAD.encode(payload);
    let tag = keyed(secret, context, &payload_b64).finalize().into_bytes();
    format!("{payload_b64}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Opens a token sealed with `context`: checks the MAC first (constant time), then returns its
/// fields. Only [`SealError::Malformed`] and [`SealError::BadSignature`] come from here.
pub fn open(secret: &Secret, context: &[u8], token: &str) -> Result<Vec<String>, SealError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(SealError::Malformed);
    }
    let (payload_b64, tag_b64) = token.split_once('.').ok_or(SealError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| SealError::Malformed)?;
    keyed(secret, context, payload_b64)
        .verify_slice(&tag)
        .map_err(|_| SealError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| SealError::Malformed)?;
    let payload = String::from_utf8(payload).map_err(|_| SealError::Malformed)?;
    Ok(payload.split('\n').map(str::to_string).collect())
}

/// An issued-at field (unix seconds) checked against `now`: not in the future beyond clock skew,
/// not older than `max_age`.
pub fn issued_within(
    issued: &str,
    now: DateTime<Utc>,
    max_age: Duration,
) -> Result<DateTime<Utc>, SealError> {
    let secs: i64 = issued.parse().map_err(|_| SealError::Malformed)?;
    let issued_at = DateTime::from_timestamp(secs, 0).ok_or(SealError::Malformed)?;
    if issued_at - now > Duration::seconds(MAX_SKEW_SECS) {
        return Err(SealError::FromTheFuture);
    }
    if now - issued_at > max_age {
        return Err(SealError::Expired);
    }
    Ok(issued_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Secret {
        Secret::new(vec![b; 32]).expect("32 bytes")
    }

    #[test]
    fn fields_round_trip_and_line_breaks_cannot_forge_a_field() {
        let t = seal(&key(1), b"ctx\n", &["v1", "a\nb", "3"]);
        assert_eq!(
            open(&key(1), b"ctx\n", &t),
            Ok(vec!["v1".into(), "a b".into(), "3".into()])
        );
    }

    #[test]
    fn another_context_or_key_does_not_open() {
        let t = seal(&key(1), b"one\n", &["x"]);
        assert_eq!(open(&key(1), b"two\n", &t), Err(SealError::BadSignature));
        assert_eq!(open(&key(2), b"one\n", &t), Err(SealError::BadSignature));
        assert_eq!(open(&key(1), b"one\n", "no-dot"), Err(SealError::Malformed));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(open(&key(1), b"one\n", &long), Err(SealError::Malformed));
    }

    #[test]
    fn issued_at_is_checked_both_ways() {
        let now = DateTime::from_timestamp(1_000_000, 0).expect("ts");
        let day = Duration::days(1);
        assert!(issued_within("999000", now, day).is_ok());
        assert_eq!(issued_within("900000", now, day), Err(SealError::Expired));
        assert_eq!(
            issued_within("1000400", now, day),
            Err(SealError::FromTheFuture)
        );
        assert_eq!(issued_within("x", now, day), Err(SealError::Malformed));
    }
}
