//! The signing rule, both directions: `X-Digestd-Signature: sha256=<hex>` where `<hex>` is
//! HMAC-SHA256 with the shared secret over `<timestamp> "." <body bytes>`, and
//! `X-Digestd-Timestamp: <unix seconds>`. A request is accepted only when the signature matches
//! (compared in constant time) and the timestamp is within [`REPLAY_WINDOW_SECS`] of now, either
//! way. Pure: the caller passes the clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::secret::WebhookSecret;

/// Header carrying the signing time in unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Digestd-Timestamp";
/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Digestd-Signature";
/// How far (seconds) a timestamp may be from now, in the past or the future.
pub const REPLAY_WINDOW_SECS: i64 = 300;
/// The scheme prefix of the signature header's value.
pub const SCHEME: &str = "sha256=";

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No timestamp header.
    #[error("missing {TIMESTAMP_HEADER} header")]
    MissingTimestamp,
    /// The timestamp is not an integer.
    #[error("{TIMESTAMP_HEADER} is not unix seconds")]
    BadTimestamp,
    /// No signature header.
    #[error("missing {SIGNATURE_HEADER} header")]
    MissingSignature,
    /// The signature header is not `sha256=<64 hex digits>`.
    #[error("{SIGNATURE_HEADER} is not sha256=<64 hex digits>")]
    MalformedSignature,
    /// The signature does not match the body and timestamp.
    #[error("signature does not match")]
    Mismatch,
    /// The signature matches but the timestamp is outside the replay window.
    #[error("timestamp is {skew} s from now; allowed: {REPLAY_WINDOW_SECS} s")]
    Stale {
        /// Seconds between the timestamp and now (positive: in the past).
        skew: i64,
    },
}

impl SignatureError {
    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            SignatureError::Stale { .. } => "stale",
            _ => "bad_signature",
        }
    }
}

/// The raw MAC over `timestamp "." body`.
fn mac(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// The value of [`SIGNATURE_HEADER`] for `body` signed at `timestamp`.
pub fn sign(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    format!("{SCHEME}{}", hex::encode(mac(secret, timestamp, body)))
}

/// Checks the two headers' values against `body` at `now` (unix seconds).
pub fn verify(
    secret: &WebhookSecret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let signature = signature.ok_or(SignatureError::MissingSignature)?.trim();
    let presented = signature
        .strip_prefix(SCHEME)
        .and_then(|h| hex::decode(h).ok())
        .filter(|b| b.len() == 32)
        .ok_or(SignatureError::MalformedSignature)?;
    let expected = mac(secret, timestamp, body);
    if !bool::from(expected.ct_eq(presented.as_slice())) {
        return Err(SignatureError::Mismatch);
    }
    let skew = now.saturating_sub(timestamp);
    if skew.abs() > REPLAY_WINDOW_SECS {
        return Err(SignatureError::Stale { skew });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> WebhookSecret {
        WebhookSecret::new(b"0123456789abcdef0123456789abcdef").expect("32 bytes")
    }

    #[test]
    fn matches_the_openssl_command_in_the_docs() {
        // printf '%s' '1700000000.{"a":1}' \
        //   | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
        assert_eq!(
            sign(&secret(), 1_700_000_000, br#"{"a":1}"#),
            "sha256=f05f2539e3ae1c49aec5f8cfdad75ef6b06480b133973ffbb7ec9e18827af177"
        );
    }

    #[test]
    fn a_good_signature_verifies_within_the_window_either_way() {
        let body = br#"{"schema":"digestd.post.v1"}"#;
        let t = 1_700_000_000;
        let sig = sign(&secret(), t, body);
        for now in [t, t + 300, t - 300] {
            assert_eq!(
                verify(&secret(), Some(&t.to_string()), Some(&sig), body, now),
                Ok(())
            );
        }
        assert_eq!(
            verify(&secret(), Some(&t.to_string()), Some(&sig), body, t + 301),
            Err(SignatureError::Stale { skew: 301 })
        );
        assert_eq!(
            verify(&secret(), Some(&t.to_string()), Some(&sig), body, t - 301),
            Err(SignatureError::Stale { skew: -301 })
        );
    }

    #[test]
    fn every_bad_input_is_refused() {
        let body = b"{}";
        let t = 1_700_000_000;
        let sig = sign(&secret(), t, body);
        let ts = t.to_string();
        let v =
            |ts: Option<&str>, sig: Option<&str>, body: &[u8]| verify(&secret(), ts, sig, body, t);
        assert_eq!(
            v(None, Some(&sig), body),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            v(Some("soon"), Some(&sig), body),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            v(Some(&ts), None, body),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            v(Some(&ts), Some("md5=00"), body),
            Err(SignatureError::MalformedSignature)
        );
        assert_eq!(
            v(Some(&ts), Some("sha256=zz"), body),
            Err(SignatureError::MalformedSignature)
        );
        assert_eq!(
            v(Some(&ts), Some(&sig), b"{ }"),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed: moving it breaks the signature, not just the window.
        assert_eq!(
            v(Some("1700000001"), Some(&sig), body),
            Err(SignatureError::Mismatch)
        );
        let other = WebhookSecret::new(&[b'x'; 32]).expect("key");
        assert_eq!(
            verify(&other, Some(&ts), Some(&sig), body, t),
            Err(SignatureError::Mismatch)
        );
    }
}
