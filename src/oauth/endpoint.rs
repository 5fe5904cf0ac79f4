//! A token endpoint over HTTP: POST a form, read the RFC 6749 answer — §5.1 on success
//! (`access_token`, `token_type`, `expires_in`), §5.2 on failure (`error`,
//! `error_description`). Microsoft's and Google's endpoints both answer in these shapes.

use std::time::Duration;

use super::error::{hint_for, OAuthError};
use super::Fetched;

/// Limit on one call to a token endpoint (connect, send, answer).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest answer read from a token endpoint.
const MAX_ANSWER: u64 = 256 * 1024;

/// Checks a token endpoint URL: `https://`, or `http://` only to a loopback address (tests,
/// a local proxy). `Err` says why not.
pub fn check_token_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "`{url}`: plain http is allowed only to a loopback address; use https"
                ))
            }
        }
        other => Err(format!("`{url}`: scheme `{other}` is not https")),
    }
}

/// POSTs `form` to `url` and reads the token from the answer. Blocking.
pub(crate) fn post_form(
    provider: &'static str,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Fetched, OAuthError> {
    check_token_url(url).map_err(|reason| OAuthError::Malformed {
        provider,
        url: url.to_string(),
        reason,
    })?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(CALL_TIMEOUT))
        .user_agent(concat!("digestd/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut answer = agent
        .post(url)
        .header("Accept", "application/json")
        .send_form(form.iter().copied())
        .map_err(|e| OAuthError::Unreachable {
            provider,
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    let status = answer.status().as_u16();
    let body = answer
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| OAuthError::Unreachable {
            provider,
            url: url.to_string(),
            reason: format!("reading the answer: {e}"),
        })?;
    parse_answer(provider, url, status, &body)
}

/// The token in an endpoint's answer (`status`, `body`), or the error it holds. Pure.
pub(crate) fn parse_answer(
    provider: &'static str,
    url: &str,
    status: u16,
    body: &[u8],
) -> Result<Fetched, OAuthError> {
    let malformed = |reason: String| OAuthError::Malformed {
        provider,
        url: url.to_string(),
        reason,
    };
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("HTTP {status}, not JSON ({e}): {}", preview(body))))?;
    if let Some(code) = json.get("error").and_then(|e| e.as_str()) {
        let description = json
            .get("error_description")
            .and_then(|d| d.as_str())
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        return Err(OAuthError::Refused {
            provider,
            code: code.to_string(),
            description,
            hint: hint_for(code).to_string(),
        });
    }
    if !(200..300).contains(&status) {
        return Err(malformed(format!("HTTP {status}: {}", preview(body))));
    }
    let token = json
        .get("access_token")
        .and_then(|t| t.as_str())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("no access_token in the answer".into()))?;
    if token.contains(|c: char| c.is_control() || c == ' ') {
        return Err(malformed(
            "the access_token holds spaces or control characters".into(),
        ));
    }
    if let Some(kind) = json.get("token_type").and_then(|t| t.as_str()) {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(malformed(format!("token_type `{kind}` is not Bearer")));
        }
    }
    // Microsoft and Google send a number; some servers send a string.
    let expires_in = match json.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(Fetched {
        access_token: token.to_string(),
        expires_in,
    })
}

/// The start of a body, for messages.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_urls_must_be_https_unless_loopback() {
        assert!(check_token_url("https://login.microsoftonline.us/t/oauth2/v2.0/token").is_ok());
        assert!(check_token_url("http://127.0.0.1:8080/token").is_ok());
        assert!(check_token_url("http://[::1]:8080/token").is_ok());
        assert!(check_token_url("http://localhost/token").is_ok());
        let e = check_token_url("http://login.example.org/token").expect_err("plain http");
        assert!(e.contains("loopback"), "{e}");
        assert!(check_token_url("ftp://x/y").is_err());
        assert!(check_token_url("not a url").is_err());
    }

    #[test]
    fn a_success_answer_gives_the_token_and_its_lifetime() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eX.abc"}"#;
        let got = parse_answer("microsoft", "u", 200, body).expect("token");
        assert_eq!(got.access_token, "eyJ0eX.abc");
        assert_eq!(got.expires_in, Some(3599));
        let s = parse_answer("x", "u", 200, br#"{"access_token":"t","expires_in":"60"}"#)
            .expect("string lifetime");
        assert_eq!(s.expires_in, Some(60));
    }

    #[test]
    fn an_error_answer_names_the_code_and_a_hint() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}"#;
        let e = parse_answer("microsoft", "u", 401, body).expect_err("refused");
        let text = e.to_string();
        assert!(text.contains("oauth microsoft"), "{text}");
        assert!(text.contains("invalid_client: AADSTS7000215"), "{text}");
        assert!(!text.contains("Trace ID"), "first line only: {text}");
        assert!(text.contains("revoked"), "{text}");
        assert!(e.needs_admin());
    }

    #[test]
    fn malformed_answers_are_named() {
        for (status, body, needle) in [
            (502, &b"<html>Bad gateway</html>"[..], "not JSON"),
            (200, br#"{"token_type":"Bearer"}"#, "no access_token"),
            (500, br#"{"message":"oops"}"#, "HTTP 500"),
            (200, br#"{"access_token":"a b"}"#, "spaces"),
            (
                200,
                br#"{"access_token":"t","token_type":"mac"}"#,
                "not Bearer",
            ),
        ] {
            let e = parse_answer(
                "google",
                "https://oauth2.googleapis.com/token",
                status,
                body,
            )
            .expect_err("malformed");
            assert!(matches!(e, OAuthError::Malformed { .. }), "{e}");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(!e.needs_admin());
        }
    }
}
