//! SMTP with OAuth 2.0 (AUTH XOAUTH2) against real servers on 127.0.0.1: Postfix's `smtpd`
//! (STARTTLS, AUTH through Dovecot's SASL) whose Dovecot takes bearer tokens through an
//! `oauth2` passdb asking the loopback introspection endpoint of `support::oauth_server`, with
//! tokens from its loopback token endpoint answering as the Microsoft identity platform does.
//!
//! `digestd send-now` sends a digest with a Microsoft-shaped token; a token the server stops
//! accepting is replaced by a fresh one on the next connection; a revoked client secret and an
//! unreachable token endpoint keep the digest pending with a clear error.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use digestd::config::TlsMode;
use digestd::mail_login::Credentials;
use digestd::oauth::{OAuthConfig, OAuthLogin};
use digestd::outbound::smtp::{SmtpOutbound, SmtpSettings};
use support::config::Spec;
use support::daemon::{import_posts, post_line};
use support::dovecot::OAuthOptions;
use support::mail_servers::{Cert, MailServers, USER};
use support::oauth_server::{MicrosoftApp, OAuthServer};
use support::run_digestd;

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "Qx~8Q~current-secret-value";

/// The token endpoint (app granted the sending mailbox `USER`) and the mail servers taking its
/// tokens; `None` when Postfix cannot run here (not on CI).
fn start() -> Option<(OAuthServer, MailServers)> {
    let server = OAuthServer::start();
    server.set_microsoft_app(MicrosoftApp {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        mailbox: USER.into(),
    });
    let servers = MailServers::start_with_oauth(
        Cert::Good,
        Some(OAuthOptions {
            introspection_url: server.introspection_url(),
            mechanisms: "xoauth2 oauthbearer".into(),
        }),
    )?;
    Some((server, servers))
}

fn secret_file(dir: &Path, secret: &str) -> PathBuf {
    let path = dir.join("client-secret");
    std::fs::write(&path, format!("{secret}\n")).expect("secret file");
    path
}

/// A config sending through the submission port (STARTTLS) as `USER` with OAuth.
fn config(dir: &Path, servers: &MailServers, secret: &Path, token_url: &str) -> PathBuf {
    let spec = Spec {
        transport: format!(
            "kind = \"smtp\"\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\n\
             ca_file = \"{}\"\nuser = \"{USER}\"\n\
             oauth = {{ provider = \"microsoft\", tenant = \"{TENANT}\", client_id = \"{CLIENT_ID}\", \
             client_secret_file = \"{}\", token_url = \"{token_url}\" }}",
            servers.postfix.submission_port(),
            servers.ca_file().display(),
            secret.display()
        ),
        ..Spec::default()
    };
    spec.write_in(dir)
}

fn pending(config: &Path) -> u64 {
    let out = run_digestd(config, &["status", "--json"], None);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    status["deliveries_pending"]
        .as_u64()
        .expect("deliveries_pending")
}

/// `send-now`'s (stdout, stderr).
fn send_now(config: &Path) -> (String, String) {
    let out = run_digestd(config, &["send-now"], None);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn send_now_sends_the_digest_with_xoauth2_through_postfix() {
    let Some((server, servers)) = start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let config = config(
        dir.path(),
        &servers,
        &secret,
        &server.microsoft_token_url(TENANT),
    );
    import_posts(&config, &[post_line("t1", "Anyone?", "A question.")]);

    // check-config --online logs in with a token too.
    let out = run_digestd(&config, &["check-config", "--online"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}\n{}",
        servers.postfix.log()
    );

    let (stdout, stderr) = send_now(&config);
    assert!(
        stdout.contains("sent 1"),
        "{stdout}\n{stderr}\n{}",
        servers.postfix.log()
    );
    let got = servers.sink.wait_for(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1);
    assert_eq!(pending(&config), 0);
    let log = servers.postfix.log();
    assert!(log.contains("sasl_method=XOAUTH2"), "{log}");
    assert!(log.contains(&format!("sasl_username={USER}")), "{log}");
    assert!(
        server.introspections() >= 2,
        "Dovecot asked about each token"
    );
}

#[test]
fn a_token_the_relay_stops_accepting_is_replaced_on_the_next_connection() {
    let Some((server, servers)) = start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let mut s = SmtpSettings::new("localhost", servers.postfix.submission_port());
    s.tls = TlsMode::Starttls;
    s.ca_file = Some(servers.ca_file());
    s.connect_timeout = Duration::from_secs(20);
    s.credentials = Some(Credentials::oauth(OAuthLogin {
        user: USER.into(),
        config: OAuthConfig::Microsoft {
            tenant: TENANT.into(),
            client_id: CLIENT_ID.into(),
            client_secret_file: secret,
            token_url: Some(server.microsoft_token_url(TENANT)),
            scope: None,
        },
    }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let raw = |n: u32| format!("Subject: oauth {n}\r\nFrom: digest@example.org\r\n\r\nHello.\r\n");
    rt.block_on(async {
        let smtp = SmtpOutbound::new(s.clone()).expect("transport");
        smtp.send("digest@example.org", "a@example.net", raw(1).as_bytes())
            .await
            .unwrap_or_else(|e| panic!("first: {e}\n{}", servers.postfix.log()));
        smtp.close().await;
        // Revoked at the server: the cached token is refused at the next AUTH, dropped, and
        // the connection opened once more with a fresh one.
        server.revoke_tokens();
        let smtp = SmtpOutbound::new(s.clone()).expect("transport");
        smtp.send("digest@example.org", "a@example.net", raw(2).as_bytes())
            .await
            .unwrap_or_else(|e| panic!("second: {e}\n{}", servers.postfix.log()));
        smtp.close().await;
    });
    assert_eq!(servers.sink.wait_for(2, Duration::from_secs(30)).len(), 2);
    assert_eq!(
        server.tokens_issued("microsoft"),
        2,
        "fetched once more, not per message"
    );
}

#[test]
fn a_revoked_client_secret_keeps_the_digest_pending_and_says_why() {
    let Some((server, servers)) = start() else {
        return;
    };
    server.rotate_microsoft_secret("Qx~8Q~the-new-secret");
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let config = config(
        dir.path(),
        &servers,
        &secret,
        &server.microsoft_token_url(TENANT),
    );
    import_posts(&config, &[post_line("t1", "Anyone?", "A question.")]);
    let (stdout, stderr) = send_now(&config);
    assert!(stdout.contains("deferred 1"), "{stdout}\n{stderr}");
    assert!(stderr.contains("oauth microsoft"), "{stderr}");
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(stderr.contains("AADSTS7000215"), "{stderr}");
    assert_eq!(pending(&config), 1, "the digest waits");
    assert!(servers.sink.messages().is_empty());

    // The new secret in the file: the pending digest goes out, byte for byte the one recorded.
    secret_file(dir.path(), "Qx~8Q~the-new-secret");
    let (stdout, stderr) = send_now(&config);
    assert!(stdout.contains("resumed 1"), "{stdout}\n{stderr}");
    assert_eq!(servers.sink.wait_for(1, Duration::from_secs(30)).len(), 1);
    assert_eq!(pending(&config), 0);
}

#[test]
fn an_unreachable_token_endpoint_keeps_the_digest_pending() {
    let Some((_server, servers)) = start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let closed = support::free_port();
    let url = format!("http://127.0.0.1:{closed}/{TENANT}/oauth2/v2.0/token");
    let config = config(dir.path(), &servers, &secret, &url);
    import_posts(&config, &[post_line("t1", "Anyone?", "A question.")]);
    let (stdout, stderr) = send_now(&config);
    assert!(stdout.contains("deferred 1"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "oauth microsoft: token endpoint {url} unreachable"
        )),
        "{stderr}"
    );
    assert_eq!(pending(&config), 1);
    assert!(servers.sink.messages().is_empty());
}
