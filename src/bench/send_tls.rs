//! `digestd bench send --tls`: what STARTTLS costs. The real digests of `bench send`
//! ([`super::send::prepare`]) go through the cycle's SMTP transport into a real Postfix `smtpd`
//! on 127.0.0.1 ([`super::postfix::Postfix`], relaying to an smtp-sink that discards), once on
//! its plain port and once on its submission port with STARTTLS (a certificate from a test CA
//! made with openssl, [`super::test_ca::TestCa`], trusted through `ca_file`, so verified as in
//! production). Rounds alternate (plain, STARTTLS, plain, STARTTLS) and each mode's best round
//! counts; between rounds Postfix's queue is left to drain so one run does not pay for the
//! other's relaying.
//!
//! Connections are pooled and reused (`mail.concurrency` of them), so the TLS handshake is paid
//! once per connection, not per message: the figure that matters is the ratio STARTTLS / plain
//! (target ≥ 0.8).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::postfix::{Postfix, PostfixOptions};
use super::send::{prepare, send_all, Sink, DISTINCT};
use super::test_ca::TestCa;
use crate::config::{MailConfig, TlsMode, TransportConfig};
use crate::outbound::Outbound;

/// Rounds per mode (alternating).
const ROUNDS: usize = 2;

/// Runs the benchmark and prints both rates and their ratio.
pub fn run(messages: usize, concurrency: usize) -> anyhow::Result<()> {
    let messages = messages.max(1);
    let concurrency = concurrency.max(1);
    let sink = Sink::start()?;
    let ca_dir = tempfile::tempdir().context("tempdir")?;
    let ca = TestCa::create(ca_dir.path())?;
    let postfix = Postfix::start(&PostfixOptions {
        relay_port: sink.port,
        cert: Some(ca.good.clone()),
        dovecot_auth: None,
    })
    .context("starting Postfix (bench send --tls needs root and Postfix)")?;
    let batch = prepare(messages.min(DISTINCT), postfix.plain_port(), concurrency)?;
    let average = batch.digests.iter().map(|(_, r)| r.len()).sum::<usize>() / batch.digests.len();
    println!(
        "bench send --tls: {messages} digests ({} distinct, {average} bytes on average), \
         concurrency {concurrency}, Postfix smtpd on 127.0.0.1 (plain :{}, STARTTLS :{}) \
         relaying to smtp-sink",
        batch.digests.len(),
        postfix.plain_port(),
        postfix.submission_port()
    );
    let modes = [
        ("plain", postfix.plain_port(), TlsMode::None),
        ("STARTTLS", postfix.submission_port(), TlsMode::Starttls),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let from = batch.engine.envelope_from();
    let digests = Arc::new(batch.digests);
    let mut best = [Duration::MAX, Duration::MAX];
    for round in 0..ROUNDS {
        for (i, (label, port, tls)) in modes.into_iter().enumerate() {
            wait_for_empty_queue(&postfix);
            // A fresh pool per round (send_all closes it): each round pays its handshakes.
            let ca_file = (tls != TlsMode::None).then_some(ca.ca_file.as_path());
            let fresh = Arc::new(outbound(&batch.engine.config.mail, port, tls, ca_file)?);
            let took = runtime.block_on(send_all(
                fresh,
                from.clone(),
                Arc::clone(&digests),
                messages,
                concurrency,
            ))?;
            println!(
                "round {}: {label:<9} {:>9.0} msgs/s  ({:.2} s)",
                round + 1,
                messages as f64 / took.as_secs_f64(),
                took.as_secs_f64()
            );
            best[i] = best[i].min(took);
        }
    }
    let rate = |d: Duration| messages as f64 / d.as_secs_f64();
    let (plain_rate, tls_rate) = (rate(best[0]), rate(best[1]));
    println!("plain (best round):    {plain_rate:>9.0} msgs/s");
    println!("STARTTLS (best round): {tls_rate:>9.0} msgs/s");
    println!(
        "ratio: {:.2} (target >= 0.80)",
        tls_rate / plain_rate.max(f64::MIN_POSITIVE)
    );
    Ok(())
}

/// The cycle's transport for `mail`, sent to 127.0.0.1:`port` (`localhost` with TLS, the
/// name the test certificate is for).
fn outbound(
    mail: &MailConfig,
    port: u16,
    tls: TlsMode,
    ca_file: Option<&Path>,
) -> anyhow::Result<Outbound> {
    let mut mail = mail.clone();
    mail.transport = TransportConfig::Smtp {
        host: if tls == TlsMode::None {
            "127.0.0.1".into()
        } else {
            "localhost".into()
        },
        port,
        tls,
        user: None,
        password: None,
        oauth: None,
        ca_file: ca_file.map(Path::to_path_buf),
    };
    Outbound::from_config(&mail).context("building the transport")
}

/// Waits (at most 60 s) until Postfix has relayed everything it accepted.
fn wait_for_empty_queue(postfix: &Postfix) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while postfix.queued() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}
