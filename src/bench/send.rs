//! `digestd bench send`: real digests sent per second through the cycle's SMTP transport,
//! beside the limit.
//!
//! The digests are real: the synthetic organisation of `bench digest`
//! ([`super::digest::Synthetic`]: groups, roles, people, a week of posts in a temporary store),
//! each person's digest selected and turned into a complete message by the cycle's own
//! [`Engine::prepare`] (reply tokens, headers, both parts), up to [`DISTINCT`] different ones,
//! all made before the clock starts. They leave through the transport the cycle builds from
//! `[mail.transport] kind = "smtp"` ([`Outbound::from_config`]: lettre over a pool of
//! `TCP_NODELAY` connections, one per `mail.concurrency`), `concurrency` at a time, each to its
//! own recipient, into Postfix's `smtp-sink` on 127.0.0.1 (mail discarded). When more messages
//! are asked for than there are distinct digests, the digests go round again.
//!
//! The limit: Postfix's `smtp-source` against the same sink, same concurrency (`-s`), message
//! count (`-m`), reused connections (`-d`) and average message size: once with a digest of the
//! average size (`-F`), once with generated bodies of that size (`-l`); the faster one is the
//! limit. The figure that matters is the ratio (target ≥ 0.8).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::digest::{templates_dir, Synthetic};
use crate::config::{
    Config, DaemonConfig, DigestConfig, InboundConfig, MailConfig, TlsMode, TransportConfig,
};
use crate::delivery_run::Engine;
use crate::outbound::Outbound;
use crate::render::{ExcerptCache, DEFAULT_TEMPLATE};

/// At most this many distinct digests are made (and held in memory) for one run.
pub const DISTINCT: usize = 2_000;
/// Posts in the synthetic organisation (a week of them, 24 groups).
const POSTS: usize = 6_000;

/// The digests one run sends, and the engine (transport included) that made them.
pub(super) struct Batch {
    /// The cycle's engine (its config and transport).
    pub(super) engine: Engine,
    /// (recipient, complete message), all different.
    pub(super) digests: Vec<(String, Vec<u8>)>,
    /// Synthetic people whose digests were made (empty ones are not sent).
    pub(super) people: usize,
}

/// A config for the synthetic organisation, sending through SMTP on 127.0.0.1:`port`.
fn config(syn: &Synthetic, port: u16, concurrency: usize) -> Config {
    Config {
        source: PathBuf::from("bench-send.toml"),
        store_path: std::env::temp_dir().join("digestd-bench-send-unused.sqlite"),
        store_url: None,
        templates_dir: templates_dir(),
        organisation: "Gemeente Voorbeeld".into(),
        forum_url: "https://forum.example.org".into(),
        mail: MailConfig {
            from: "Gemeente Voorbeeld <digest@example.org>".into(),
            reply_domain: "reply.example.org".into(),
            list_id: "digest.example.org".into(),
            transport: TransportConfig::Smtp {
                host: "127.0.0.1".into(),
                port,
                tls: TlsMode::None,
                user: None,
                password: None,
                oauth: None,
                ca_file: None,
            },
            concurrency,
        },
        digest: DigestConfig::default(),
        inbound: InboundConfig::default(),
        daemon: DaemonConfig::default(),
        http: None,
        forums: vec![crate::config::ForumConfig::local()],
        groups: syn.org.groups.clone(),
        roles: syn.org.roles.clone(),
        people: syn.org.people.clone(),
        ambassadors: Default::default(),
    }
}

/// Up to `distinct` non-empty digests of a synthetic organisation of `distinct` people, made as
/// a cycle makes them, for sending to 127.0.0.1:`port`.
pub(super) fn prepare(distinct: usize, port: u16, concurrency: usize) -> anyhow::Result<Batch> {
    let syn = Synthetic::build(distinct.max(1), POSTS, 0x5e4d)?;
    let engine = Engine::new(config(&syn, port, concurrency))?;
    let key = syn.schedule_key();
    let excerpts = ExcerptCache::new();
    let mut digests = Vec::with_capacity(distinct);
    for person in &syn.org.people {
        let digest = syn.select(person, &key);
        if digest.is_empty() {
            continue;
        }
        let prepared =
            engine.prepare(&digest, DEFAULT_TEMPLATE, syn.period.end, Some(&excerpts))?;
        digests.push((person.email.clone(), prepared.delivery.raw));
    }
    if digests.is_empty() {
        bail!("the synthetic organisation produced no digest");
    }
    Ok(Batch {
        engine,
        digests,
        people: syn.org.people.len(),
    })
}

/// Runs the benchmark: `messages` digests over `concurrency` connections, then smtp-source with
/// the same parameters; prints both rates and their ratio.
pub fn run(messages: usize, concurrency: usize) -> anyhow::Result<()> {
    let messages = messages.max(1);
    let concurrency = concurrency.max(1);
    let sink = Sink::start()?;
    let made = Instant::now();
    let batch = prepare(messages.min(DISTINCT), sink.port, concurrency)?;
    let made = made.elapsed();
    let k = batch.digests.len();
    let sizes: Vec<usize> = (0..messages)
        .map(|i| batch.digests[i % k].1.len())
        .collect();
    let average = sizes.iter().sum::<usize>() / messages;
    let (min, max) = batch
        .digests
        .iter()
        .map(|(_, raw)| raw.len())
        .fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    // The digest closest to the average size stands for all of them in smtp-source -F.
    let typical = batch
        .digests
        .iter()
        .min_by_key(|(_, raw)| raw.len().abs_diff(average))
        .map(|(to, raw)| (to.clone(), raw.clone()))
        .context("a digest")?;
    println!(
        "bench send: {messages} digests ({k} distinct, of {} synthetic people; {average} bytes on \
         average, {min}..{max}), concurrency {concurrency}, smtp-sink on 127.0.0.1:{}",
        batch.people, sink.port
    );
    println!(
        "prepared in {:.2} s (select + render + build, as a cycle does; not timed below)",
        made.as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let from = batch.engine.envelope_from();
    let outbound = Arc::clone(&batch.engine.outbound);
    let digests = Arc::new(batch.digests);
    let ours = runtime.block_on(send_all(
        outbound,
        from.clone(),
        digests,
        messages,
        concurrency,
    ))?;
    let ours_rate = messages as f64 / ours.as_secs_f64();
    println!(
        "digestd (the cycle's Outbound::Smtp: lettre, pooled, TCP_NODELAY): {ours_rate:>9.0} msgs/s  ({:.2} s)",
        ours.as_secs_f64()
    );

    let limit_msg = (from, typical.0, typical.1);
    let same_file = smtp_source(
        sink.port,
        &limit_msg,
        messages,
        concurrency,
        Payload::SameMessage,
    )?;
    let same_size = smtp_source(
        sink.port,
        &limit_msg,
        messages,
        concurrency,
        Payload::SameSize,
    )?;
    for (label, t) in [
        ("-F a digest of average size", same_file),
        ("-l average size", same_size),
    ] {
        println!(
            "smtp-source -d {label:<28} {:>9.0} msgs/s  ({:.2} s)",
            messages as f64 / t.as_secs_f64(),
            t.as_secs_f64()
        );
    }
    let limit = same_file.min(same_size);
    let limit_rate = messages as f64 / limit.as_secs_f64();
    println!("limit (the faster smtp-source):                     {limit_rate:>9.0} msgs/s");
    println!(
        "ratio: {:.2} (target >= 0.80)",
        ours_rate / limit_rate.max(f64::MIN_POSITIVE)
    );
    Ok(())
}

/// Sends `n` messages, the digests in turn, with `concurrency` senders sharing `outbound` (as a
/// cycle's batch does); returns the wall time.
pub(super) async fn send_all(
    outbound: Arc<Outbound>,
    from: String,
    digests: Arc<Vec<(String, Vec<u8>)>>,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let from = Arc::new(from);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (outbound, digests, next, from) = (
            Arc::clone(&outbound),
            Arc::clone(&digests),
            Arc::clone(&next),
            Arc::clone(&from),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (to, raw) = &digests[i % digests.len()];
                outbound.send(&from, to, raw).await?;
            }
            Ok::<(), crate::outbound::SendError>(())
        }));
    }
    for t in tasks {
        t.await.context("sender task")?.context("sending")?;
    }
    let elapsed = start.elapsed();
    outbound.close().await;
    Ok(elapsed)
}

/// What smtp-source sends.
#[derive(Debug, Clone, Copy)]
enum Payload {
    /// A digest of the average size (`-F file`).
    SameMessage,
    /// A generated body of the average size (`-l bytes`).
    SameSize,
}

/// Runs smtp-source against the sink; returns the wall time.
/// `msg` is (envelope from, envelope to, message).
fn smtp_source(
    port: u16,
    msg: &(String, String, Vec<u8>),
    n: usize,
    concurrency: usize,
    payload: Payload,
) -> anyhow::Result<Duration> {
    let (from, to, raw) = msg;
    let program = find_program("smtp-source")
        .context("smtp-source not found: install Postfix (.ci/install-deps)")?;
    // -F wants LF lines; it adds the CR and the dot-stuffing itself.
    let file = std::env::temp_dir().join(format!("digestd-bench-{}.eml", std::process::id()));
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    let mut cmd = Command::new(program);
    cmd.arg("-d")
        .args(["-s", &concurrency.to_string()])
        .args(["-m", &n.to_string()]);
    match payload {
        Payload::SameMessage => cmd.arg("-F").arg(&file),
        Payload::SameSize => cmd.args(["-l", &raw.len().to_string()]),
    };
    let start = Instant::now();
    let out = cmd
        .args(["-f", from.as_str(), "-t", to.as_str()])
        .arg(format!("127.0.0.1:{port}"))
        .output();
    let elapsed = start.elapsed();
    let _ = std::fs::remove_file(&file);
    let out = out.context("running smtp-source")?;
    if !out.status.success() {
        bail!(
            "smtp-source failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(elapsed)
}

/// A system program in `PATH`, `/usr/sbin`, `/usr/bin` or `/sbin`.
pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// smtp-sink discarding everything; killed on drop.
pub(super) struct Sink {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(super) port: u16,
}

impl Sink {
    /// Starts one on a free port (a few tries on a port race).
    pub(super) fn start() -> anyhow::Result<Sink> {
        let program = find_program("smtp-sink")
            .context("smtp-sink not found: install Postfix (.ci/install-deps)")?;
        let root = is_root();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let mut child = spawn_sink(&program, root, port)?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    break;
                }
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(Sink { child, port });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("smtp-sink did not start on 127.0.0.1")
    }
}

fn spawn_sink(program: &Path, root: bool, port: u16) -> anyhow::Result<Child> {
    let mut cmd = Command::new(program);
    if root {
        cmd.args(["-u", "nobody"]);
    }
    cmd.arg(format!("127.0.0.1:{port}"))
        .arg("1024")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().context("spawning smtp-sink")
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when this process runs as root (its effective uid is 0).
pub(super) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digests_are_distinct_real_digests() {
        // Port 9: building the transport opens no connection.
        let batch = prepare(40, 9, 2).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(batch.digests.len() >= 30, "{}", batch.digests.len());
        let mut recipients = std::collections::HashSet::new();
        let mut bodies = std::collections::HashSet::new();
        for (to, raw) in &batch.digests {
            let m = mail_parser::MessageParser::default()
                .parse(raw)
                .expect("parses");
            assert_eq!(
                m.to().and_then(|a| a.first()).and_then(|a| a.address()),
                Some(to.as_str())
            );
            assert_eq!(m.text_body_count(), 1);
            assert_eq!(m.html_body_count(), 1);
            assert!(m.header("List-Unsubscribe").is_some());
            assert!(raw.len() > 5_000, "a digest-sized message: {}", raw.len());
            recipients.insert(to.clone());
            bodies.insert(m.body_text(0).unwrap_or_default().to_string());
        }
        assert_eq!(recipients.len(), batch.digests.len(), "one per person");
        assert!(bodies.len() > batch.digests.len() / 2, "different contents");
        assert!(matches!(*batch.engine.outbound, Outbound::Smtp(_)));
    }

    /// The whole benchmark, small, when Postfix's smtp-sink and smtp-source are installed
    /// (`.ci/install-deps`).
    #[test]
    fn small_run_completes() {
        if find_program("smtp-sink").is_none() || find_program("smtp-source").is_none() {
            eprintln!("skipped: smtp-sink / smtp-source not installed");
            return;
        }
        run(60, 2).unwrap_or_else(|e| panic!("{e:#}"));
    }
}
