//! SMTP and IMAP over TLS, with passwords, against real servers on 127.0.0.1: Postfix's
//! `smtpd` (STARTTLS on the submission port, implicit TLS on the smtps port, AUTH through
//! Dovecot's SASL) relaying to an smtp-sink, and Dovecot for IMAP (TLS and STARTTLS), with
//! certificates from a test CA made with openssl (`support::mail_servers`).
//!
//! Good certificates work and are verified (the test CA only through `ca_file`); a wrong host
//! name, an expired certificate and an unknown CA each fail naming the host and the reason;
//! a wrong password is a clear error, logged once per outage by the daemon, and nothing is
//! lost: the digest stays pending, the reply stays in the mailbox.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use digestd::config::{ImapConfig, TlsMode};
use digestd::mail_login::Credentials;
use digestd::outbound::smtp::{SmtpOutbound, SmtpSettings};
use digestd::outbound::SendError;
use support::config::Spec;
use support::daemon::{import_posts, post_line, Daemon};
use support::mail_servers::{Cert, MailServers, PASSWORD, USER};
use support::run_digestd;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// SMTP settings for `port` on `localhost` with `tls`, trusting the test CA, logging in with
/// `password`.
fn smtp(servers: &MailServers, port: u16, tls: TlsMode, password: &str) -> SmtpOutbound {
    let mut s = SmtpSettings::new("localhost", port);
    s.tls = tls;
    s.ca_file = Some(servers.ca_file());
    s.credentials = Some(Credentials::password(USER, password));
    s.connect_timeout = Duration::from_secs(20);
    SmtpOutbound::new(s).expect("transport")
}

/// Sends one message; the result.
fn send_one(smtp: &SmtpOutbound, subject: &str) -> Result<(), SendError> {
    let raw = format!("Subject: {subject}\r\nFrom: digest@example.org\r\n\r\nHello.\r\n");
    rt().block_on(async {
        let r = smtp
            .send("digest@example.org", "someone@example.net", raw.as_bytes())
            .await;
        smtp.close().await;
        r
    })
}

/// IMAP settings for Dovecot on 127.0.0.1 with `tls`, trusting the test CA.
fn imap(servers: &MailServers, tls: TlsMode, password_file: &Path) -> ImapConfig {
    ImapConfig {
        host: "127.0.0.1".into(),
        port: match tls {
            TlsMode::Tls => servers.dovecot.imaps_port(),
            _ => servers.dovecot.port(),
        },
        tls,
        user: USER.into(),
        password_file: Some(password_file.to_path_buf()),
        oauth: None,
        folder: "INBOX".into(),
        processed_folder: "Processed".into(),
        poll_seconds: 5,
        idle: false,
        ca_file: Some(servers.ca_file()),
    }
}

fn password_file(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join("imap-password");
    std::fs::write(&path, format!("{password}\n")).expect("password file");
    path
}

#[test]
fn smtp_starttls_and_implicit_tls_log_in_and_the_mail_arrives() {
    let Some(servers) = MailServers::start(Cert::Good) else {
        return;
    };
    let p = &servers.postfix;
    send_one(
        &smtp(&servers, p.submission_port(), TlsMode::Starttls, PASSWORD),
        "over STARTTLS",
    )
    .unwrap_or_else(|e| panic!("STARTTLS: {e}\n{}", p.log()));
    send_one(
        &smtp(&servers, p.smtps_port(), TlsMode::Tls, PASSWORD),
        "over implicit TLS",
    )
    .unwrap_or_else(|e| panic!("TLS: {e}\n{}", p.log()));
    let got = servers.sink.wait_for(2, Duration::from_secs(30));
    let mut subjects: Vec<String> = got
        .iter()
        .map(|m| m.parsed().subject().unwrap_or_default().to_string())
        .collect();
    subjects.sort();
    assert_eq!(subjects, ["over STARTTLS", "over implicit TLS"]);
    assert!(got.iter().all(|m| m.rcpt_to == ["someone@example.net"]));
    let log = p.log();
    assert_eq!(
        log.matches(&format!("sasl_username={USER}")).count(),
        2,
        "{log}"
    );
    assert!(log.contains("TLS connection established"), "{log}");

    // Without the test CA in ca_file the same good certificate is from an unknown CA.
    let mut s = SmtpSettings::new("localhost", p.submission_port());
    s.tls = TlsMode::Starttls;
    s.credentials = Some(Credentials::password(USER, PASSWORD));
    let err = send_one(&SmtpOutbound::new(s).expect("transport"), "x").expect_err("untrusted");
    assert!(
        err.reason().contains("unknown certificate authority"),
        "{err}"
    );
}

#[test]
fn imap_tls_and_starttls_log_in_and_a_wrong_password_is_refused() {
    let Some(servers) = MailServers::start(Cert::Good) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let good = password_file(dir.path(), PASSWORD);
    for tls in [TlsMode::Tls, TlsMode::Starttls] {
        digestd::inbound::receive::imap::check_login(&imap(&servers, tls, &good))
            .unwrap_or_else(|e| panic!("{tls:?}: {e}\n{}", servers.dovecot.log()));
    }
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not the password\n").expect("write");
    let err = digestd::inbound::receive::imap::check_login(&imap(&servers, TlsMode::Tls, &wrong))
        .expect_err("wrong password");
    assert!(err.is_unusable(), "{err}");
    assert!(err.to_string().contains("login refused"), "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[test]
fn smtp_wrong_password_is_a_clear_error_and_backs_off_without_connecting() {
    let Some(servers) = MailServers::start(Cert::Good) else {
        return;
    };
    let p = &servers.postfix;
    let bad = smtp(&servers, p.submission_port(), TlsMode::Starttls, "wrong");
    let err = send_one(&bad, "never").expect_err("refused");
    assert!(matches!(err, SendError::Unusable(_)), "{err}");
    assert!(err.reason().contains("login refused"), "{err}");
    assert!(err.reason().contains("localhost"), "{err}");
    // Backing off: the next sends fail at once, without another login attempt.
    for _ in 0..3 {
        let bad = smtp(&servers, p.submission_port(), TlsMode::Starttls, "wrong");
        let again = send_one(&bad, "never").expect_err("backing off");
        assert!(matches!(again, SendError::Unusable(_)), "{again}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = p.log();
    assert_eq!(log.matches("authentication failed").count(), 1, "{log}");
    assert!(servers.sink.messages().is_empty());
    // The right password is other settings: tried at once, and it works.
    send_one(
        &smtp(&servers, p.submission_port(), TlsMode::Starttls, PASSWORD),
        "ok",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// Each bad certificate fails SMTP (STARTTLS, TLS) and IMAP (TLS, STARTTLS) naming the host
/// and the reason.
#[test]
fn bad_certificates_fail_naming_the_host_and_the_reason() {
    let cases = [
        (Cert::WrongHost, "not valid for the name"),
        (Cert::Expired, "has expired"),
        (Cert::UnknownCa, "unknown certificate authority"),
    ];
    for (cert, words) in cases {
        let Some(servers) = MailServers::start(cert) else {
            return;
        };
        let p = &servers.postfix;
        for (port, tls) in [
            (p.submission_port(), TlsMode::Starttls),
            (p.smtps_port(), TlsMode::Tls),
        ] {
            let err = send_one(&smtp(&servers, port, tls, PASSWORD), "never")
                .expect_err("certificate refused");
            let why = err.reason();
            assert!(
                matches!(err, SendError::Unusable(_)),
                "{cert:?} {tls:?}: {err}"
            );
            assert!(
                why.contains(words) && why.contains("localhost"),
                "{cert:?} {tls:?}: {why}"
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let pw = password_file(dir.path(), PASSWORD);
        for tls in [TlsMode::Tls, TlsMode::Starttls] {
            let err = digestd::inbound::receive::imap::check_login(&imap(&servers, tls, &pw))
                .expect_err("certificate refused");
            let why = err.to_string();
            assert!(err.is_unusable(), "{cert:?} {tls:?}: {why}");
            assert!(
                why.contains(words) && why.contains("127.0.0.1"),
                "{cert:?} {tls:?}: {why}"
            );
        }
        assert!(servers.sink.messages().is_empty());
    }
}

/// A config sending through the servers' submission port (STARTTLS, AUTH) and polling their
/// IMAP mailbox (implicit TLS), with `smtp_password` / the IMAP password file.
fn daemon_config(
    dir: &Path,
    servers: &MailServers,
    smtp_password: &str,
    imap_pw: &Path,
) -> PathBuf {
    let spec = Spec {
        transport: format!(
            "kind = \"smtp\"\nhost = \"localhost\"\nport = {}\ntls = \"starttls\"\n\
             ca_file = \"{}\"\nuser = \"{USER}\"\npassword = \"{smtp_password}\"",
            servers.postfix.submission_port(),
            servers.ca_file().display()
        ),
        tail: format!(
            "[inbound.imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"tls\"\nuser = \"{USER}\"\n\
             password_file = \"{}\"\nca_file = \"{}\"\npoll_seconds = 5\n",
            servers.dovecot.imaps_port(),
            imap_pw.display(),
            servers.ca_file().display()
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

#[test]
fn send_now_with_an_expired_certificate_keeps_the_digest_pending() {
    let Some(servers) = MailServers::start(Cert::Expired) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = password_file(dir.path(), PASSWORD);
    let config = daemon_config(dir.path(), &servers, PASSWORD, &pw);
    import_posts(&config, &[post_line("t1", "Anyone?", "A question.")]);
    let out = run_digestd(&config, &["send-now"], None);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("deferred 1"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the certificate of localhost has expired"),
        "{stderr}"
    );
    assert_eq!(pending(&config), 1);

    // check-config --online says the same per server.
    let out = run_digestd(&config, &["check-config", "--online"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("smtp localhost:") && said.contains("has expired"),
        "{said}"
    );
    assert!(
        said.contains("imap 127.0.0.1:")
            && said.contains("the certificate of 127.0.0.1 has expired"),
        "{said}"
    );
}

#[test]
fn check_config_online_logs_in_to_both_servers_and_names_what_failed() {
    let Some(servers) = MailServers::start(Cert::Good) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = password_file(dir.path(), PASSWORD);
    let config = daemon_config(dir.path(), &servers, PASSWORD, &pw);
    let out = run_digestd(&config, &["check-config", "--online"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains(&format!("user {USER}): ok")), "{said}");
    assert_eq!(
        said.matches("): ok").count(),
        3,
        "forum, smtp, imap: {said}"
    );

    let wrong = password_file(dir.path(), "wrong");
    let config = daemon_config(dir.path(), &servers, "wrong", &wrong);
    let out = run_digestd(&config, &["check-config", "--online"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert_eq!(said.matches("login refused").count(), 2, "{said}");

    // Nothing listening: unreachable (the CA file kept, so only the servers are gone).
    let kept_ca = dir.path().join("ca.pem");
    std::fs::copy(servers.ca_file(), &kept_ca).expect("copy the CA");
    let text = std::fs::read_to_string(&config).expect("config");
    let ca = servers.ca_file().display().to_string();
    std::fs::write(&config, text.replace(&ca, &kept_ca.display().to_string())).expect("config");
    drop(servers);
    let out = run_digestd(&config, &["check-config", "--online"], None);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("smtp localhost:") && said.contains("connect"),
        "{said}"
    );
    assert!(said.matches("FAILED").count() >= 2, "{said}");
}

#[test]
fn a_daemon_with_wrong_passwords_logs_each_once_and_loses_nothing() {
    let Some(servers) = MailServers::start(Cert::Good) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = password_file(dir.path(), "wrong");
    let config = daemon_config(dir.path(), &servers, "wrong", &wrong);
    import_posts(&config, &[post_line("t1", "Anyone?", "A question.")]);
    // send-now: refused login, digest pending.
    let out = run_digestd(&config, &["send-now"], None);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("deferred 1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    servers
        .dovecot
        .deliver("1700000000.1.host", b"Subject: a reply\r\n\r\nHello.\r\n");

    // The daemon resumes the pending digest at start and polls IMAP every 5 s: each refusal is
    // logged once, then backed off (30 s), not retried every poll or every message.
    let daemon = Daemon::start(&config, &[]);
    assert!(
        daemon.wait_log("LOGIN: login refused", 1, Duration::from_secs(30)),
        "{}",
        daemon.stderr()
    );
    assert!(
        daemon.wait_log("AUTH: login refused", 1, Duration::from_secs(30)),
        "{}",
        daemon.stderr()
    );
    std::thread::sleep(Duration::from_secs(12));
    let log = daemon.stderr();
    assert_eq!(log.matches("LOGIN: login refused").count(), 1, "{log}");
    assert_eq!(log.matches("AUTH: login refused").count(), 1, "{log}");
    // One IMAP login attempt; two SMTP ones (send-now's and the daemon's).
    let dovecot = servers.dovecot.log();
    let imap_failures = dovecot
        .lines()
        .filter(|l| l.contains("imap-login") && l.contains("auth failed"))
        .count();
    assert_eq!(imap_failures, 1, "{dovecot}");
    let postfix = servers.postfix.log();
    assert_eq!(
        postfix.matches("authentication failed").count(),
        2,
        "{postfix}"
    );

    // Nothing lost: the digest is pending, the reply still in the mailbox.
    assert_eq!(pending(&config), 1);
    assert_eq!(servers.dovecot.count(""), 1);
    assert!(servers.sink.messages().is_empty());

    // The password file fixed: other settings, so the next poll (within 5 s) tries at once
    // instead of waiting out the back-off, takes the reply, and says the outage is over.
    password_file(dir.path(), PASSWORD);
    assert!(
        daemon.wait_log("works again", 1, Duration::from_secs(20)),
        "{}",
        daemon.stderr()
    );
    assert!(
        support::wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
            servers.dovecot.count("") == 0
        }),
        "the reply left the inbox: {}",
        daemon.stderr()
    );
    daemon.signal("-TERM");
}

#[test]
fn bench_send_tls_prints_both_rates_and_the_ratio() {
    support::ensure_deps();
    if !support::is_root() || support::find_program("postfix").is_none() {
        support::skip_unless_ci("root and Postfix (bench send --tls)");
        return;
    }
    let out = std::process::Command::new(support::bin())
        .args([
            "bench",
            "send",
            "--tls",
            "--messages",
            "40",
            "--concurrency",
            "2",
        ])
        .output()
        .expect("run digestd bench");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    for needle in ["plain (best round)", "STARTTLS (best round)", "ratio: "] {
        assert!(said.contains(needle), "{needle}: {said}");
    }
}
