//! Tests of `oauth = { … }` in `[mail.transport]` and `[inbound.imap]`: each provider's keys,
//! the mistakes (missing keys, keys of another provider, oauth beside a password, an
//! unreadable secret file, plain-http token endpoints), each named by line and key.

use std::path::PathBuf;

use super::*;
use crate::oauth::OAuthConfig;

const BASE: &str = r#"
[organisation]
name = "Test"
forum_url = "https://forum.test.example/"

[store]
path = "state.sqlite"

[mail]
from = "digest@test.example"
reply_domain = "reply.test.example"

[[groups]]
id = "general"
name = "General"
"#;

/// A config directory with templates, a client secret and a key file; `tail` appended to BASE.
fn load(tail: &str) -> (tempfile::TempDir, Result<Config, ConfigError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for (path, text) in [
        ("templates/digest.html.hbs", "<p></p>"),
        ("templates/digest.txt.hbs", ""),
        ("templates/i18n/en.toml", ""),
        ("config/secret", "s3cret\n"),
        ("config/sa.json", "{}"),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    let text = format!("{BASE}{tail}");
    let path = root.join("config/digestd.toml");
    std::fs::write(&path, &text).expect("write");
    let result = Config::load(&path);
    (dir, result)
}

fn problems(tail: &str) -> Vec<(usize, String, String)> {
    let (_dir, result) = load(tail);
    result
        .expect_err("must be refused")
        .problems
        .into_iter()
        .map(|p| (p.line, p.key, p.message))
        .collect()
}

fn smtp(lines: &str) -> String {
    format!("\n[mail.transport]\nkind = \"smtp\"\nhost = \"smtp.office365.com\"\nport = 587\ntls = \"starttls\"\n{lines}\n")
}

const SENDMAIL: &str = "\n[mail.transport]\nkind = \"sendmail\"\n";

fn imap_block(lines: &str) -> String {
    format!("{SENDMAIL}\n[inbound.imap]\nhost = \"outlook.office365.com\"\nuser = \"replies@example.org\"\n{lines}\n")
}

#[test]
fn microsoft_on_smtp_and_google_on_imap_load() {
    let tail = format!(
        "{}\n[inbound.imap]\nhost = \"imap.gmail.com\"\nuser = \"replies@example.org\"\noauth = {{ provider = \"google\", service_account_file = \"sa.json\" }}\n",
        smtp("user = \"digest@example.org\"\noauth = { provider = \"microsoft\", tenant = \"contoso.onmicrosoft.com\", client_id = \"11111111-2222\", client_secret_file = \"secret\" }")
    );
    let (dir, result) = load(&tail);
    let cfg = result.unwrap_or_else(|e| panic!("{e}"));
    let TransportConfig::Smtp {
        user,
        password,
        oauth,
        ..
    } = &cfg.mail.transport
    else {
        panic!("smtp");
    };
    assert_eq!(user.as_deref(), Some("digest@example.org"));
    assert_eq!(*password, None);
    assert_eq!(
        *oauth,
        Some(OAuthConfig::Microsoft {
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-2222".into(),
            client_secret_file: dir.path().join("config/secret"),
            token_url: None,
            scope: None,
        })
    );
    let imap = cfg.inbound.imap.expect("imap");
    assert_eq!(imap.password_file, None);
    assert_eq!(
        imap.oauth,
        Some(OAuthConfig::Google {
            service_account_file: dir.path().join("config/sa.json"),
            user: None,
            token_url: None,
        })
    );
}

#[test]
fn token_command_and_a_loopback_token_url_load() {
    let (dir, result) = load(&imap_block(
        "oauth = { token_command = [\"./get-token\", \"--imap\"] }",
    ));
    let imap = result
        .unwrap_or_else(|e| panic!("{e}"))
        .inbound
        .imap
        .expect("imap");
    let program: PathBuf = dir.path().join("config/get-token");
    assert_eq!(
        imap.oauth,
        Some(OAuthConfig::Command {
            argv: vec![program.display().to_string(), "--imap".into()],
        })
    );
    let (_dir, result) = load(&imap_block(
        "oauth = { provider = \"microsoft\", tenant = \"t\", client_id = \"c\", client_secret_file = \"secret\", token_url = \"http://127.0.0.1:8080/t/token\", scope = \"https://outlook.office365.us/.default\" }",
    ));
    let imap = result
        .unwrap_or_else(|e| panic!("{e}"))
        .inbound
        .imap
        .expect("imap");
    let Some(OAuthConfig::Microsoft {
        token_url, scope, ..
    }) = imap.oauth
    else {
        panic!("microsoft");
    };
    assert_eq!(token_url.as_deref(), Some("http://127.0.0.1:8080/t/token"));
    assert_eq!(
        scope.as_deref(),
        Some("https://outlook.office365.us/.default")
    );
    let got = problems(&imap_block(
        "oauth = { provider = \"google\", service_account_file = \"sa.json\", scope = \"x\" }",
    ));
    assert!(
        got.iter().any(|(_, k, _)| k == "inbound.imap.oauth.scope"),
        "{got:?}"
    );
}

#[test]
fn missing_keys_are_named_with_their_line() {
    let got = problems(&imap_block(
        "oauth = { provider = \"microsoft\", tenant = \"t\" }",
    ));
    let keys: Vec<&str> = got.iter().map(|(_, k, _)| k.as_str()).collect();
    assert!(keys.contains(&"inbound.imap.oauth.client_id"), "{got:?}");
    assert!(
        keys.contains(&"inbound.imap.oauth.client_secret_file"),
        "{got:?}"
    );
    assert!(got.iter().all(|(line, _, _)| *line == 23), "{got:?}");
    let got = problems(&imap_block("oauth = { tenant = \"t\" }"));
    assert!(
        got.iter()
            .any(|(_, k, m)| k == "inbound.imap.oauth.provider" && m.contains("token_command")),
        "{got:?}"
    );
    let got = problems(&imap_block("oauth = { provider = \"google\" }"));
    assert!(
        got.iter()
            .any(|(_, k, _)| k == "inbound.imap.oauth.service_account_file"),
        "{got:?}"
    );
}

#[test]
fn keys_of_another_provider_and_unknown_providers_are_refused() {
    let got = problems(&imap_block(
        "oauth = { provider = \"google\", service_account_file = \"sa.json\", tenant = \"t\" }",
    ));
    assert!(
        got.iter().any(|(_, k, m)| k == "inbound.imap.oauth.tenant"
            && m.contains("not used with provider = \"google\"")),
        "{got:?}"
    );
    let got = problems(&imap_block("oauth = { provider = \"yahoo\" }"));
    assert!(
        got.iter()
            .any(|(_, _, m)| m.contains("unknown provider `yahoo`")),
        "{got:?}"
    );
    let got = problems(&imap_block(
        "oauth = { provider = \"google\", token_command = [\"x\"] }",
    ));
    assert!(
        got.iter().any(|(_, _, m)| m.contains("not both")),
        "{got:?}"
    );
    let got = problems(&imap_block("oauth = { token_command = [] }"));
    assert!(
        got.iter()
            .any(|(_, k, _)| k == "inbound.imap.oauth.token_command"),
        "{got:?}"
    );
}

#[test]
fn oauth_beside_a_password_is_refused() {
    let got = problems(&imap_block(
        "password_file = \"secret\"\noauth = { provider = \"google\", service_account_file = \"sa.json\" }",
    ));
    assert!(
        got.iter()
            .any(|(l, k, m)| *l == 24 && k == "inbound.imap.oauth" && m.contains("not both")),
        "{got:?}"
    );
    let got = problems(&smtp(
        "user = \"u@example.org\"\npassword = \"x\"\noauth = { provider = \"google\", service_account_file = \"sa.json\" }",
    ));
    assert!(
        got.iter()
            .any(|(_, k, m)| k == "mail.transport.oauth" && m.contains("not both")),
        "{got:?}"
    );
    let got = problems(&smtp(
        "oauth = { provider = \"google\", service_account_file = \"sa.json\" }",
    ));
    assert!(
        got.iter()
            .any(|(_, k, m)| k == "mail.transport.user" && m.contains("oauth needs user")),
        "{got:?}"
    );
    let got = problems(&format!(
        "{SENDMAIL}oauth = {{ provider = \"google\", service_account_file = \"sa.json\" }}\n"
    ));
    assert!(
        got.iter()
            .any(|(_, k, m)| k == "mail.transport.oauth" && m.contains("not used with kind")),
        "{got:?}"
    );
}

#[test]
fn an_unreadable_secret_file_and_a_plain_http_endpoint_are_refused() {
    let got = problems(&imap_block(
        "oauth = { provider = \"microsoft\", tenant = \"t\", client_id = \"c\", client_secret_file = \"missing-secret\" }",
    ));
    assert!(
        got.iter().any(|(l, k, m)| *l == 23
            && k == "inbound.imap.oauth.client_secret_file"
            && m.contains("cannot read secret file")),
        "{got:?}"
    );
    let got = problems(&imap_block(
        "oauth = { provider = \"google\", service_account_file = \"sa.json\", token_url = \"http://oauth2.example.org/token\" }",
    ));
    assert!(
        got.iter()
            .any(|(_, k, m)| k == "inbound.imap.oauth.token_url" && m.contains("loopback")),
        "{got:?}"
    );
}
