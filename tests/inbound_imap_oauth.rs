//! IMAP with OAuth 2.0 against a real Dovecot on 127.0.0.1 (`auth_mechanisms = xoauth2
//! oauthbearer`, an `oauth2` passdb asking the loopback introspection endpoint of
//! `support::oauth_server`), with tokens from the loopback token endpoint answering as the
//! Microsoft identity platform and Google do. Most tests run `digestd run` and watch the
//! mailbox: mail is taken with a Microsoft-shaped and a Google-shaped token; a token revoked or
//! expiring mid-run is replaced and nothing is lost; a revoked client secret and an unreachable
//! token endpoint are clear errors and the mail stays in the mailbox.

mod support;

use std::path::Path;
use std::time::Duration;

use digestd::config::Config;
use digestd::forum::local::LocalForum;
use digestd::inbound::answer::Answerer;
use digestd::inbound::pipeline::{DiscardAnswers, Pipeline};
use digestd::inbound::receive::imap::poll_imap_once;
use support::daemon::Daemon;
use support::dovecot::Dovecot;
use support::inbound::{simple_reply, Transport, World};
use support::oauth_server::{make_service_account, MicrosoftApp, OAuthServer};
use support::wait_until;

/// One Dovecot at a time in this file (ports picked by `free_port` could race).
static ONE_DOVECOT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_dovecot() -> std::sync::MutexGuard<'static, ()> {
    ONE_DOVECOT.lock().unwrap_or_else(|e| e.into_inner())
}

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const SECRET: &str = "Qx~8Q~current-secret-value";

/// The token endpoint knowing the Microsoft app, whose granted mailbox is `mailbox`.
fn microsoft_server(mailbox: &str) -> OAuthServer {
    let server = OAuthServer::start();
    server.set_microsoft_app(MicrosoftApp {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        mailbox: mailbox.into(),
    });
    server
}

/// A world polling `dovecot` every 5 s as `user` with `oauth` (an inline table).
fn world_with_oauth(dovecot: &Dovecot, oauth: &str) -> World {
    World::new(
        Transport::Maildir,
        &format!(
            "\n[inbound.imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nuser = \"{}\"\npoll_seconds = 5\noauth = {oauth}\n",
            dovecot.port(),
            dovecot.user(),
        ),
    )
}

/// `oauth = { provider = "microsoft", … }` with the secret in `secret_file`.
fn microsoft_oauth(secret_file: &Path, token_url: &str) -> String {
    format!(
        "{{ provider = \"microsoft\", tenant = \"{TENANT}\", client_id = \"{CLIENT_ID}\", client_secret_file = \"{}\", token_url = \"{token_url}\" }}",
        secret_file.display()
    )
}

/// Writes `secret` into a file beside the world's config.
fn secret_file(dir: &Path, secret: &str) -> std::path::PathBuf {
    let path = dir.join("client-secret");
    std::fs::write(&path, format!("{secret}\n")).expect("secret file");
    path
}

/// Waits (at most 30 s) until the INBOX is empty and `processed` messages are in Processed.
fn wait_taken(dovecot: &Dovecot, daemon: &Daemon, processed: usize) {
    let done = wait_until(Duration::from_secs(30), Duration::from_millis(100), || {
        dovecot.count("") == 0 && dovecot.count("Processed") == processed
    });
    assert!(
        done,
        "INBOX {} / Processed {} (want 0 / {processed})\n--- digestd:\n{}\n--- dovecot:\n{}",
        dovecot.count(""),
        dovecot.count("Processed"),
        daemon.stderr(),
        dovecot.log()
    );
}

fn deliver_reply(world: &World, dovecot: &Dovecot, n: usize, body: &str) {
    let token = world.grant("ann@example.org", 90);
    dovecot.deliver(
        &format!("1700000000.{n}.host"),
        &simple_reply(&token, "ann@example.org", &format!("oauth-{n}@x"), body),
    );
}

#[test]
fn the_daemon_logs_in_with_a_microsoft_token_and_a_revoked_token_is_replaced() {
    let _serial = one_dovecot();
    let server = microsoft_server("replies");
    let dovecot = Dovecot::start_oauth(
        "replies",
        &server.introspection_url(),
        "xoauth2 oauthbearer",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let world = world_with_oauth(
        &dovecot,
        &microsoft_oauth(&secret, &server.microsoft_token_url(TENANT)),
    );
    deliver_reply(
        &world,
        &dovecot,
        1,
        "First reply through Exchange-style OAuth.",
    );

    let daemon = Daemon::start(&world.config_path, &[]);
    wait_taken(&dovecot, &daemon, 1);
    assert_eq!(server.tokens_issued("microsoft"), 1);
    assert!(world
        .thread_text()
        .contains("First reply through Exchange-style OAuth."));

    // The server revokes every token mid-run: the next login is refused, the token dropped,
    // a new one fetched, and the mail taken all the same.
    server.revoke_tokens();
    deliver_reply(
        &world,
        &dovecot,
        2,
        "Second reply after the token was revoked.",
    );
    wait_taken(&dovecot, &daemon, 2);
    assert_eq!(server.tokens_issued("microsoft"), 2, "{}", daemon.stderr());
    assert!(world
        .thread_text()
        .contains("Second reply after the token was revoked."));
    assert!(
        !daemon.stderr().contains("WARN"),
        "a refused token that a fresh one replaces is no warning:\n{}",
        daemon.stderr()
    );
}

#[test]
fn tokens_expiring_mid_run_are_renewed_before_they_expire() {
    let _serial = one_dovecot();
    let server = microsoft_server("replies");
    // 6-second tokens: renewed after 5 s (a quarter of the life early, rounded down to 1 s).
    server.set_expires_in(6);
    let dovecot = Dovecot::start_oauth("replies", &server.introspection_url(), "xoauth2");
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let world = world_with_oauth(
        &dovecot,
        &microsoft_oauth(&secret, &server.microsoft_token_url(TENANT)),
    );
    deliver_reply(&world, &dovecot, 1, "Reply before the first token expires.");
    let daemon = Daemon::start(&world.config_path, &[]);
    wait_taken(&dovecot, &daemon, 1);
    // Past the first token's life: the next polls use a renewed token.
    std::thread::sleep(Duration::from_secs(7));
    deliver_reply(&world, &dovecot, 2, "Reply after the first token expired.");
    wait_taken(&dovecot, &daemon, 2);
    assert!(server.tokens_issued("microsoft") >= 2, "renewed");
    assert!(world
        .thread_text()
        .contains("Reply after the first token expired."));
    assert!(
        !daemon.stderr().contains("WARN"),
        "no login failed:\n{}",
        daemon.stderr()
    );
}

#[test]
fn the_daemon_logs_in_with_a_google_service_account_token() {
    let _serial = one_dovecot();
    let server = OAuthServer::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_file, account) = make_service_account(
        dir.path(),
        "digestd@digestd-test.iam.gserviceaccount.com",
        &server.google_token_url(),
    );
    server.set_google_account(account);
    let dovecot = Dovecot::start_oauth(
        "replies@example.org",
        &server.introspection_url(),
        "xoauth2 oauthbearer",
    );
    let world = world_with_oauth(
        &dovecot,
        &format!(
            "{{ provider = \"google\", service_account_file = \"{}\" }}",
            key_file.display()
        ),
    );
    deliver_reply(
        &world,
        &dovecot,
        1,
        "Reply through a Workspace-style mailbox.",
    );
    // check-config --online logs in with a token and touches no message.
    let out = support::run_digestd(&world.config_path, &["check-config", "--online"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}\n{}", dovecot.log());
    assert_eq!(dovecot.count(""), 1);
    let daemon = Daemon::start(&world.config_path, &[]);
    wait_taken(&dovecot, &daemon, 1);
    assert_eq!(
        server.tokens_issued("google"),
        2,
        "one for the check, one for the daemon"
    );
    assert!(world
        .thread_text()
        .contains("Reply through a Workspace-style mailbox."));
}

#[test]
fn a_revoked_client_secret_is_a_clear_error_and_the_mail_stays_until_it_is_fixed() {
    let _serial = one_dovecot();
    let server = microsoft_server("replies");
    // The admin (or an expiry) replaced the secret in Entra; digestd still has the old one.
    server.rotate_microsoft_secret("Qx~8Q~the-new-secret");
    let dovecot = Dovecot::start_oauth("replies", &server.introspection_url(), "xoauth2");
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let world = world_with_oauth(
        &dovecot,
        &microsoft_oauth(&secret, &server.microsoft_token_url(TENANT)),
    );
    deliver_reply(&world, &dovecot, 1, "Reply waiting for a good secret.");
    let daemon = Daemon::start(&world.config_path, &[]);
    assert!(
        daemon.wait_log("invalid_client", 1, Duration::from_secs(20)),
        "{}",
        daemon.stderr()
    );
    let log = daemon.stderr();
    assert!(log.contains("oauth microsoft"), "{log}");
    assert!(log.contains("AADSTS7000215"), "{log}");
    assert!(log.contains("revoked"), "{log}");
    assert_eq!(dovecot.count(""), 1, "the mail stays in the mailbox");
    assert!(world.inbound_rows().is_empty(), "nothing fetched");
    assert_eq!(server.tokens_issued("microsoft"), 0);

    // The admin puts the new secret in the file (read at each fetch): the next poll takes it.
    secret_file(dir.path(), "Qx~8Q~the-new-secret");
    wait_taken(&dovecot, &daemon, 1);
    assert!(world
        .thread_text()
        .contains("Reply waiting for a good secret."));
}

#[test]
fn an_unreachable_token_endpoint_is_a_clear_error_and_the_mail_stays() {
    let _serial = one_dovecot();
    let server = microsoft_server("replies");
    let dovecot = Dovecot::start_oauth("replies", &server.introspection_url(), "xoauth2");
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_file(dir.path(), SECRET);
    let closed = support::free_port();
    let url = format!("http://127.0.0.1:{closed}/{TENANT}/oauth2/v2.0/token");
    let world = world_with_oauth(&dovecot, &microsoft_oauth(&secret, &url));
    deliver_reply(
        &world,
        &dovecot,
        1,
        "Reply while the identity platform is down.",
    );
    let daemon = Daemon::start(&world.config_path, &[]);
    assert!(
        daemon.wait_log("unreachable", 1, Duration::from_secs(20)),
        "{}",
        daemon.stderr()
    );
    let log = daemon.stderr();
    assert!(
        log.contains(&format!(
            "oauth microsoft: token endpoint {url} unreachable"
        )),
        "{log}"
    );
    assert_eq!(dovecot.count(""), 1, "the mail stays in the mailbox");
    assert!(world.inbound_rows().is_empty());
}

#[test]
fn oauthbearer_is_used_when_the_server_offers_only_that_and_token_command_supplies_the_token() {
    let _serial = one_dovecot();
    let server = OAuthServer::start();
    let dovecot = Dovecot::start_oauth("replies", &server.introspection_url(), "oauthbearer");
    let token = server.issue("replies");
    let world = world_with_oauth(
        &dovecot,
        &format!("{{ token_command = [\"/bin/sh\", \"-c\", \"echo {token}\"] }}"),
    );
    deliver_reply(
        &world,
        &dovecot,
        1,
        "Reply with a token from a helper command.",
    );
    let config = Config::load(&world.config_path).expect("config");
    let forum = LocalForum::open(&config.store_path, &config.forum_url).expect("forum");
    let answerer = Answerer::new(None);
    let pipeline = Pipeline::new(&config, &forum, &DiscardAnswers, &answerer);
    let imap = config.inbound.imap.as_ref().expect("imap");
    let report = poll_imap_once(imap, &mut world.store(), &pipeline)
        .unwrap_or_else(|e| panic!("poll: {e}\n{}", dovecot.log()));
    assert_eq!((report.stored, report.moved), (1, 1), "{report:?}");
    assert!(
        server.introspections() >= 1,
        "Dovecot asked the introspection endpoint"
    );

    // A token the server does not know: refused, the command run once more, still refused:
    // an error naming the mechanism, the mail left in place.
    let world2 = world_with_oauth(
        &dovecot,
        "{ token_command = [\"/bin/sh\", \"-c\", \"echo not-a-known-token\"] }",
    );
    deliver_reply(&world2, &dovecot, 2, "Reply that waits.");
    let config2 = Config::load(&world2.config_path).expect("config");
    let forum2 = LocalForum::open(&config2.store_path, &config2.forum_url).expect("forum");
    let pipeline2 = Pipeline::new(&config2, &forum2, &DiscardAnswers, &answerer);
    let err = poll_imap_once(
        config2.inbound.imap.as_ref().expect("imap"),
        &mut world2.store(),
        &pipeline2,
    )
    .expect_err("unknown token");
    let text = err.to_string();
    assert!(text.contains("AUTHENTICATE OAUTHBEARER"), "{text}");
    assert!(text.contains("refused too"), "{text}");
    assert_eq!(dovecot.count(""), 1, "the mail stays");
}
