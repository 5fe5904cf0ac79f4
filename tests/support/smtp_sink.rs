//! Postfix's `smtp-sink` as a test SMTP server on 127.0.0.1.
//!
//! Started as `smtp-sink [-u nobody] -d DIR/%M. [options] 127.0.0.1:PORT BACKLOG`: every mail
//! transaction is dumped to its own file (smtp-sink's `X-Mail-Args`/`X-Rcpt-Args` lines give the
//! envelope; then the message, LF line endings, dot-unstuffed). Killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ensure_deps, find_program, free_port, is_root, open_up};

/// How to run smtp-sink.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Keep every mail (`-d`); without it mail is discarded (benchmarks).
    pub keep: bool,
    /// Wait this many seconds before answering DATA (`-w`), to slow a run down.
    pub data_delay_secs: Option<u32>,
    /// Commands answered with a 5xx (`-f`, e.g. `["RCPT"]`).
    pub hard_reject: Vec<String>,
    /// Commands answered with a 4xx (`-r`, e.g. `["RCPT"]`).
    pub soft_reject: Vec<String>,
    /// Further raw arguments, put before the address.
    pub extra_args: Vec<String>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            keep: true,
            data_delay_secs: None,
            hard_reject: Vec::new(),
            soft_reject: Vec::new(),
            extra_args: Vec::new(),
        }
    }
}

/// A running smtp-sink; killed when dropped.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// One mail transaction smtp-sink kept.
#[derive(Debug, Clone)]
pub struct SunkMessage {
    /// MAIL FROM address, without brackets (empty for the null sender).
    pub mail_from: String,
    /// RCPT TO addresses, without brackets, in order.
    pub rcpt_to: Vec<String>,
    /// The message as received (headers and body; LF line endings for smtp-sink).
    pub raw: Vec<u8>,
}

impl SunkMessage {
    /// The message parsed by mail-parser; panics when it does not parse.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("the received message parses")
    }
}

impl SmtpSink {
    /// smtp-sink keeping every mail.
    pub fn start() -> SmtpSink {
        SmtpSink::start_with(SinkOptions::default())
    }

    /// smtp-sink with `options`; waits (at most 5 s per try, 5 tries on a port race) until it
    /// accepts connections.
    pub fn start_with(options: SinkOptions) -> SmtpSink {
        ensure_deps();
        let program = find_program("smtp-sink").expect("smtp-sink is installed");
        let dir = tempfile::tempdir().expect("tempdir");
        open_up(dir.path());
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&program);
            if is_root() {
                cmd.args(["-u", "nobody"]);
            }
            if options.keep {
                cmd.arg("-d").arg(format!("{}/%M.", dir.path().display()));
            }
            if let Some(delay) = options.data_delay_secs {
                cmd.args(["-w", &delay.to_string()]);
            }
            if !options.hard_reject.is_empty() {
                cmd.args(["-f", &options.hard_reject.join(",")]);
            }
            if !options.soft_reject.is_empty() {
                cmd.args(["-r", &options.soft_reject.join(",")]);
            }
            cmd.args(&options.extra_args)
                .arg(format!("127.0.0.1:{port}"))
                .arg("256")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawning smtp-sink");
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    last_error = format!("smtp-sink exited with {status}: {err}");
                    break;
                }
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return SmtpSink { child, port, dir };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = "smtp-sink did not accept connections within 5 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start smtp-sink: {last_error}");
    }

    /// Always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory mail is dumped into.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every mail accepted so far, oldest file first. Transactions that never completed
    /// (refused, or cut off in DATA: smtp-sink opens the dump file at MAIL) are left out.
    pub fn messages(&self) -> Vec<SunkMessage> {
        dump_files(self.dir.path())
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .filter_map(|data| parse_dump(&data))
            .collect()
    }

    /// Waits until at least `count` mails were kept and the dump files stopped growing (at most
    /// `timeout`), then returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<SunkMessage> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            let files = dump_files(self.dir.path());
            let sizes: Vec<u64> = files
                .iter()
                .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .collect();
            if files.len() >= count && last.as_ref() == Some(&sizes) {
                let got = self.messages();
                if got.len() >= count {
                    return got;
                }
            }
            if Instant::now() > deadline {
                return self.messages();
            }
            last = Some(sizes);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dump_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .map(|e| {
                    let mtime = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    (mtime, e.path())
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// Splits smtp-sink's dump into envelope and message: its own header lines end with the
/// three-line `Received:` header it adds. `None` for an incomplete transaction: no message, or
/// not ended by the empty line smtp-sink writes after the final dot.
fn parse_dump(data: &[u8]) -> Option<SunkMessage> {
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut pos = 0;
    let mut in_received = false;
    while pos < data.len() {
        let end = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(data.len(), |i| pos + i + 1);
        let line = String::from_utf8_lossy(&data[pos..end]);
        let line = line.trim_end();
        if in_received {
            if !line.starts_with('\t') && !line.starts_with(' ') {
                break;
            }
        } else if let Some(v) = line.strip_prefix("X-Mail-Args:") {
            mail_from = first_path(v);
        } else if let Some(v) = line.strip_prefix("X-Rcpt-Args:") {
            rcpt_to.push(first_path(v));
        } else if line.starts_with("Received:") {
            in_received = true;
        }
        pos = end;
    }
    let mut raw = data[pos..].to_vec();
    // smtp-sink appends one empty line after the message.
    if !in_received || raw.is_empty() || !raw.ends_with(b"\n\n") {
        return None;
    }
    raw.pop();
    Some(SunkMessage {
        mail_from,
        rcpt_to,
        raw,
    })
}

fn first_path(args: &str) -> String {
    args.split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}
