//! `digestd bench send`: digests sent per second through [`Outbound::Smtp`], beside the limit.
//!
//! Both sides talk to the same Postfix `smtp-sink` on 127.0.0.1 (mail discarded): first digestd's
//! pooled SMTP transport (pool = concurrency, one tokio task per connection), then Postfix's
//! `smtp-source` with the same concurrency (`-s`), message count (`-m`), the very same message
//! (`-F`) and reused connections (`-d`). smtp-source is the limit: a C client doing nothing but
//! SMTP. The figure that matters is the ratio (target ≥ 0.8).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::config::TlsMode;
use crate::outbound::smtp::{SmtpOutbound, SmtpSettings};
use crate::outbound::{build_digest, new_message_id, BuiltMessage, DigestMessage, Outbound};

/// Runs the benchmark: `messages` digests over `concurrency` connections, then smtp-source with
/// the same parameters; prints both rates and their ratio.
pub fn run(messages: usize, concurrency: usize) -> anyhow::Result<()> {
    let messages = messages.max(1);
    let concurrency = concurrency.max(1);
    let sink = Sink::start()?;
    let msg = sample_digest()?;
    println!(
        "bench send: {messages} messages of {} bytes, concurrency {concurrency}, smtp-sink on 127.0.0.1:{}",
        msg.raw.len(),
        sink.port
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let ours = runtime.block_on(send_all(sink.port, &msg, messages, concurrency))?;
    let ours_rate = messages as f64 / ours.as_secs_f64();
    println!(
        "digestd (lettre, pooled, TCP_NODELAY): {ours_rate:>9.0} msgs/s  ({:.2} s)",
        ours.as_secs_f64()
    );

    // Two runs of smtp-source: the very same message (-F) and a generated body of the same
    // size (-l). It writes -F files line by line, so -l is usually faster; the faster one is the
    // limit.
    let same_file = smtp_source(sink.port, &msg, messages, concurrency, Payload::SameMessage)?;
    let same_size = smtp_source(sink.port, &msg, messages, concurrency, Payload::SameSize)?;
    for (label, t) in [("-F same message", same_file), ("-l same size", same_size)] {
        println!(
            "smtp-source -d {label:<16} {:>9.0} msgs/s  ({:.2} s)",
            messages as f64 / t.as_secs_f64(),
            t.as_secs_f64()
        );
    }
    let limit = same_file.min(same_size);
    let limit_rate = messages as f64 / limit.as_secs_f64();
    println!("limit (the faster smtp-source):        {limit_rate:>9.0} msgs/s");
    println!(
        "ratio: {:.2} (target >= 0.80)",
        ours_rate / limit_rate.max(f64::MIN_POSITIVE)
    );
    Ok(())
}

/// Sends `n` copies of `msg` through a pool of `concurrency` connections; returns the wall time.
async fn send_all(
    port: u16,
    msg: &BuiltMessage,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let mut settings = SmtpSettings::new("127.0.0.1", port);
    settings.tls = TlsMode::None;
    settings.pool_size = concurrency;
    let outbound = Outbound::Smtp(SmtpOutbound::new(settings)?);
    let msg = Arc::new(msg.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (outbound, msg, next) = (outbound.clone(), msg.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                outbound
                    .send(&msg.envelope_from, &msg.envelope_to, &msg.raw)
                    .await?;
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
    /// The digest itself (`-F file`).
    SameMessage,
    /// A generated body of the digest's size (`-l bytes`).
    SameSize,
}

/// Runs smtp-source against the sink; returns the wall time.
fn smtp_source(
    port: u16,
    msg: &BuiltMessage,
    n: usize,
    concurrency: usize,
    payload: Payload,
) -> anyhow::Result<Duration> {
    let program = find_program("smtp-source")
        .context("smtp-source not found: install Postfix (.ci/install-deps)")?;
    // -F wants LF lines; it adds the CR and the dot-stuffing itself.
    let file = std::env::temp_dir().join(format!("digestd-bench-{}.eml", std::process::id()));
    let text = String::from_utf8_lossy(&msg.raw).replace("\r\n", "\n");
    std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    let mut cmd = Command::new(program);
    cmd.arg("-d")
        .args(["-s", &concurrency.to_string()])
        .args(["-m", &n.to_string()]);
    match payload {
        Payload::SameMessage => cmd.arg("-F").arg(&file),
        Payload::SameSize => cmd.args(["-l", &msg.raw.len().to_string()]),
    };
    let start = Instant::now();
    let out = cmd
        .args(["-f", &msg.envelope_from, "-t", &msg.envelope_to])
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

/// A realistic digest: about 20 KB, multipart/alternative, non-ASCII text.
fn sample_digest() -> anyhow::Result<BuiltMessage> {
    let mut text = String::from("Hello Ana,\n\nHere is what moved in your groups this week.\n\n");
    let mut html = String::from(
        "<html><body><table role=\"presentation\" width=\"100%\" style=\"font-family:Arial,sans-serif\">",
    );
    for i in 1..=15 {
        let title = format!("Wijkteam Noord — case review {i}: housing support after discharge");
        let excerpt = "We tried the new intake form with three families this week; the questions \
                       about income were clearer, but the section on debts still confuses people. \
                       Could someone from the financial team look at the wording before Friday?";
        text.push_str(&format!(
            "{i}. {title}\n   Social work · Joost, Priya, Émilie and 3 others\n   {excerpt}\n   \
             Read: https://forum.example.org/t/{i}\n   Reply: mailto:reply+{i:040x}@reply.example.org\n\n"
        ));
        html.push_str(&format!(
            "<tr><td style=\"padding:12px 0;border-bottom:1px solid #ddd\">\
             <div style=\"font-size:12px;color:#666\">Social work · Joost, Priya, Émilie and 3 others</div>\
             <div style=\"font-size:16px;font-weight:bold\"><a href=\"https://forum.example.org/t/{i}\" \
             style=\"color:#1a5fb4\">{title}</a></div><p style=\"margin:6px 0\">{excerpt}</p>\
             <a href=\"mailto:reply+{i:040x}@reply.example.org?subject=Re:%20{i}\" \
             style=\"color:#1a5fb4\">Reply by email</a></td></tr>"
        ));
    }
    html.push_str("</table></body></html>");
    let id = new_message_id("digests.example.org");
    build_digest(&DigestMessage {
        from: "Digests <digest@example.org>",
        envelope_from: None,
        to_name: "Ana de Vries",
        to_email: "ana@example.org",
        subject: "Your weekly digest: 15 threads, 2 training highlights",
        text: &text,
        html: &html,
        message_id: &id,
        date: chrono::Utc::now(),
        list_id: "digests.example.org",
        list_name: "Gemeente Example",
        list_unsubscribe_mailto: "unsubscribe@reply.example.org",
        list_unsubscribe_url: None,
        reply_to: None,
    })
    .context("building the sample digest")
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// smtp-sink discarding everything; killed on drop.
struct Sink {
    child: Child,
    port: u16,
}

impl Sink {
    fn start() -> anyhow::Result<Sink> {
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

fn is_root() -> bool {
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
    fn sample_digest_is_digest_sized_and_parses() {
        let msg = sample_digest().expect("builds");
        assert!(
            (15_000..40_000).contains(&msg.raw.len()),
            "{}",
            msg.raw.len()
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&msg.raw)
            .expect("parses");
        assert_eq!(parsed.text_body_count(), 1);
        assert_eq!(parsed.html_body_count(), 1);
    }
}
