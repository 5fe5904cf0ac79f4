//! A tiny scripted SMTP responder on 127.0.0.1, in process, for the error-code tests only.
//!
//! smtp-sink refuses a command for every client or none; these tests need finer answers: refuse
//! one recipient but accept the next message, or fail the first N messages with a 4xx and then
//! accept, or hang after DATA. The responder speaks just enough SMTP for lettre (greeting, EHLO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT), one thread per session, and counts sessions and attempts. Everything else
//! in the tests talks to the real smtp-sink.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::SunkMessage;

/// What the responder refuses.
#[derive(Debug, Clone, Default)]
pub struct FakeRules {
    /// A RCPT whose address contains the first string is answered with the second (a full
    /// reply line such as `550 5.1.1 no such user`).
    pub rcpt_replies: Vec<(String, String)>,
    /// The first this-many messages are answered, after the final dot, with `fail_reply`.
    pub fail_first_messages: usize,
    /// The reply for those (default `451 4.3.0 try again later`).
    pub fail_reply: Option<String>,
    /// After a message's final dot, answer nothing for this long, then close the connection
    /// (a server that hangs in DATA).
    pub hang_after_data: Option<Duration>,
}

#[derive(Default)]
struct State {
    accepted: Mutex<Vec<SunkMessage>>,
    sessions: AtomicUsize,
    data_attempts: AtomicUsize,
    rcpt_attempts: Mutex<Vec<String>>,
    fail_left: AtomicUsize,
}

/// A running responder; stops when dropped.
pub struct FakeSmtp {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSmtp {
    /// Starts a responder following `rules`.
    pub fn start(rules: FakeRules) -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        state
            .fail_left
            .store(rules.fail_first_messages, Ordering::SeqCst);
        let stop = Arc::new(AtomicBool::new(false));
        let rules = Arc::new(rules);
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        st.sessions.fetch_add(1, Ordering::SeqCst);
                        let (st, rules) = (st.clone(), rules.clone());
                        std::thread::spawn(move || {
                            let _ = session(stream, &rules, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeSmtp {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Messages accepted (250 after the final dot).
    pub fn accepted(&self) -> Vec<SunkMessage> {
        self.state
            .accepted
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// TCP sessions opened so far.
    pub fn sessions(&self) -> usize {
        self.state.sessions.load(Ordering::SeqCst)
    }

    /// Messages sent up to the final dot (accepted or not).
    pub fn data_attempts(&self) -> usize {
        self.state.data_attempts.load(Ordering::SeqCst)
    }

    /// Every RCPT address received, in order.
    pub fn rcpt_attempts(&self) -> Vec<String> {
        self.state
            .rcpt_attempts
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn angle_arg(line: &str) -> String {
    let start = line.find('<').map_or(line.len(), |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}

fn session(stream: TcpStream, rules: &FakeRules, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 fake.test ESMTP\r\n")?;
    let mut from = None::<String>;
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let verb = cmd
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-fake.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "HELO" | "NOOP" => out.write_all(b"250 2.0.0 ok\r\n")?,
            "RSET" => {
                from = None;
                rcpts.clear();
                out.write_all(b"250 2.0.0 ok\r\n")?;
            }
            "MAIL" => {
                from = Some(angle_arg(&cmd));
                rcpts.clear();
                out.write_all(b"250 2.1.0 ok\r\n")?;
            }
            "RCPT" => {
                let addr = angle_arg(&cmd);
                if let Ok(mut v) = state.rcpt_attempts.lock() {
                    v.push(addr.clone());
                }
                match rules
                    .rcpt_replies
                    .iter()
                    .find(|(pat, _)| addr.contains(pat))
                {
                    Some((_, reply)) => out.write_all(format!("{reply}\r\n").as_bytes())?,
                    None if from.is_none() => out.write_all(b"503 5.5.1 MAIL first\r\n")?,
                    None => {
                        rcpts.push(addr);
                        out.write_all(b"250 2.1.5 ok\r\n")?;
                    }
                }
            }
            "DATA" => {
                if rcpts.is_empty() {
                    out.write_all(b"503 5.5.1 no valid recipients\r\n")?;
                    continue;
                }
                out.write_all(b"354 end with .\r\n")?;
                let mut raw = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if input.read_until(b'\n', &mut l)? == 0 {
                        return Ok(());
                    }
                    if l == b".\r\n" || l == b".\n" {
                        break;
                    }
                    let l = if l.starts_with(b"..") {
                        &l[1..]
                    } else {
                        &l[..]
                    };
                    raw.extend_from_slice(l);
                }
                state.data_attempts.fetch_add(1, Ordering::SeqCst);
                if let Some(hang) = rules.hang_after_data {
                    std::thread::sleep(hang);
                    return Ok(());
                }
                let fail = state
                    .fail_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if fail {
                    let reply = rules
                        .fail_reply
                        .clone()
                        .unwrap_or_else(|| "451 4.3.0 try again later".into());
                    out.write_all(format!("{reply}\r\n").as_bytes())?;
                } else {
                    if let Ok(mut v) = state.accepted.lock() {
                        v.push(SunkMessage {
                            mail_from: from.clone().unwrap_or_default(),
                            rcpt_to: rcpts.clone(),
                            raw,
                        });
                    }
                    out.write_all(b"250 2.0.0 queued\r\n")?;
                }
                from = None;
                rcpts.clear();
            }
            "QUIT" => {
                out.write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 5.5.2 not implemented\r\n")?,
        }
    }
}
