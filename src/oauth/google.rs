//! Google service account with domain-wide delegation (Google's "Using OAuth 2.0 for Server to
//! Server Applications", "Preparing to make an authorized API call" over HTTP/REST): a JWT
//! signed with RS256 by the key in the account's JSON key file, claims `iss` = `client_email`,
//! `sub` = the mailbox to act as, `scope` = `https://mail.google.com/` (IMAP and SMTP),
//! `aud` = the key file's `token_uri`, `iat` and `exp` (one hour later), sent as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>` to `token_uri`.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use super::endpoint::{check_token_url, post_form};
use super::{Fetched, OAuthError};

/// The scope for Gmail's IMAP and SMTP.
pub const SCOPE: &str = "https://mail.google.com/";

/// The grant type of a JWT bearer assertion (RFC 7523).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Lifetime asked for in the assertion (Google's maximum).
const ASSERTION_SECS: u64 = 3600;

/// The fields of a service account key file this flow uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    /// The account's address (`iss`).
    pub client_email: String,
    /// PKCS#8 RSA private key, PEM.
    pub private_key: String,
    /// Key id (the JWT header's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Token endpoint (`aud`).
    pub token_uri: String,
}

/// Reads and checks a key file: JSON with `client_email`, `private_key` (a PKCS#8 RSA key)
/// and an https `token_uri`.
pub fn read_key_file(
    path: &Path,
) -> Result<(ServiceAccount, ring::signature::RsaKeyPair), OAuthError> {
    let bad = |reason: String| OAuthError::LocalFile {
        provider: "google",
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| bad(format!("cannot read the key file: {e}")))?;
    let account: ServiceAccount = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("not a service account key file: {e}")))?;
    check_token_url(&account.token_uri).map_err(|e| bad(format!("token_uri: {e}")))?;
    let der = pem_body(&account.private_key, "PRIVATE KEY")
        .ok_or_else(|| bad("private_key is not a PEM \"PRIVATE KEY\" block".into()))?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| bad(format!("private_key is not a PKCS#8 RSA key: {e}")))?;
    Ok((account, key))
}

/// Fetches a token acting as `mailbox`, the assertion issued at `now`. Blocking.
pub fn fetch(
    key_file: &Path,
    mailbox: &str,
    token_url: Option<&str>,
    now: u64,
) -> Result<Fetched, OAuthError> {
    let (account, key) = read_key_file(key_file)?;
    let jwt = assertion(&account, &key, mailbox, now).map_err(|reason| OAuthError::LocalFile {
        provider: "google",
        path: key_file.display().to_string(),
        reason,
    })?;
    let url = token_url.unwrap_or(&account.token_uri);
    post_form(
        "google",
        url,
        &[("grant_type", GRANT_TYPE), ("assertion", &jwt)],
    )
}

/// The signed JWT: `base64url(header).base64url(claims).base64url(RS256 signature)`.
pub fn assertion(
    account: &ServiceAccount,
    key: &ring::signature::RsaKeyPair,
    mailbox: &str,
    now: u64,
) -> Result<String, String> {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &account.private_key_id {
        header["kid"] = serde_json::Value::String(kid.clone());
    }
    let claims = serde_json::json!({
        "iss": account.client_email,
        "sub": mailbox,
        "scope": SCOPE,
        "aud": account.token_uri,
        "iat": now,
        "exp": now + ASSERTION_SECS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing the assertion failed".to_string())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The DER bytes of the first PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_decoded_and_other_labels_ignored() {
        let pem = "junk\n-----BEGIN PRIVATE KEY-----\nAAEC\nAw==\n-----END PRIVATE KEY-----\n";
        assert_eq!(pem_body(pem, "PRIVATE KEY"), Some(vec![0, 1, 2, 3]));
        assert_eq!(pem_body(pem, "RSA PRIVATE KEY"), None);
    }

    #[test]
    fn a_bad_key_file_is_a_local_error_naming_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases = [
            ("not json", "not a service account key file"),
            (
                r#"{"client_email":"a@p.iam.gserviceaccount.com","private_key":"x","token_uri":"https://oauth2.googleapis.com/token"}"#,
                "PEM",
            ),
            (
                r#"{"client_email":"a@p","private_key":"-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----","token_uri":"https://oauth2.googleapis.com/token"}"#,
                "PKCS#8",
            ),
            (
                r#"{"client_email":"a@p","private_key":"","token_uri":"http://oauth2.example.org/token"}"#,
                "loopback",
            ),
        ];
        for (i, (text, needle)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("key{i}.json"));
            std::fs::write(&path, text).expect("write");
            let e = read_key_file(&path).expect_err("bad key file");
            assert!(matches!(e, OAuthError::LocalFile { .. }), "{e}");
            assert!(e.to_string().contains(needle), "{needle}: {e}");
        }
    }
}
