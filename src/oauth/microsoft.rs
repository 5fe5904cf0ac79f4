//! Microsoft identity platform, OAuth 2.0 client credentials flow, for Exchange Online's IMAP
//! and SMTP AUTH as an application (Microsoft's "Authenticate an IMAP, POP or SMTP connection
//! using OAuth", section "Use client credentials grant flow to authenticate IMAP and POP
//! connections" and SMTP AUTH): POST `client_id`, `client_secret`, `grant_type =
//! client_credentials` and `scope = https://outlook.office365.com/.default` to
//! `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`. The same scope serves IMAP
//! and SMTP; what the token may do is the app's Exchange permissions (`IMAP.AccessAsApp`,
//! `SMTP.SendAsApp`) and the mailbox permissions granted to its service principal.

use std::path::Path;

use super::endpoint::post_form;
use super::{Fetched, OAuthError};

/// The scope of a client credentials token for Exchange Online's IMAP, POP and SMTP.
pub const SCOPE: &str = "https://outlook.office365.com/.default";

/// The token endpoint of `tenant` in the global cloud.
pub fn default_token_url(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
}

/// Fetches a token for the app `client_id` of `tenant` with the secret in
/// `client_secret_file` (first line), for `scope` (default [`SCOPE`]). Blocking.
pub fn fetch(
    tenant: &str,
    client_id: &str,
    client_secret_file: &Path,
    token_url: Option<&str>,
    scope: Option<&str>,
) -> Result<Fetched, OAuthError> {
    let secret = read_secret(client_secret_file)?;
    let url = token_url
        .map(str::to_string)
        .unwrap_or_else(|| default_token_url(tenant));
    post_form(
        "microsoft",
        &url,
        &[
            ("client_id", client_id),
            ("client_secret", &secret),
            ("scope", scope.unwrap_or(SCOPE)),
            ("grant_type", "client_credentials"),
        ],
    )
}

/// The secret: the file's first line, trimmed; an empty one is an error.
fn read_secret(path: &Path) -> Result<String, OAuthError> {
    let bad = |reason: String| OAuthError::LocalFile {
        provider: "microsoft",
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("cannot read the client secret: {e}")))?;
    let secret = text.lines().next().unwrap_or("").trim().to_string();
    if secret.is_empty() {
        return Err(bad("the client secret file is empty".into()));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_endpoint_is_the_tenants_v2_token_url() {
        assert_eq!(
            default_token_url("contoso.onmicrosoft.com"),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn a_missing_or_empty_secret_file_is_a_local_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let e =
            fetch("t", "c", &missing, Some("http://127.0.0.1:9/token"), None).expect_err("missing");
        assert!(matches!(e, OAuthError::LocalFile { .. }), "{e}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").expect("write");
        let e = fetch("t", "c", &empty, Some("http://127.0.0.1:9/token"), None).expect_err("empty");
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
