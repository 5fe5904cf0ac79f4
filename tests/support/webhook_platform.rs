//! A bespoke platform's receiving end, as `docs/webhooks.md` tells one to build it: a small
//! HTTP/1.1 server on 127.0.0.1 that checks each request's `X-Digestd-Signature` with its own
//! HMAC-SHA256 (computed here, not with digestd's code), records every request, answers from a
//! script first (e.g. one 500), then posts each `idempotency_key` once and answers
//! `{"id", "url", "thread"}` (the same answer for a repeated key).
//!
//! Every socket operation has a timeout and the accept loop ends when the value is dropped (or
//! after 10 minutes at most).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request as the platform saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method (`POST`, `HEAD`).
    pub method: String,
    /// True when the signature matched the body and timestamp with the shared secret and the
    /// timestamp was within 5 minutes of now.
    pub verified: bool,
    /// The JSON body (`Null` when there was none or it did not parse).
    pub json: serde_json::Value,
    /// The status the platform answered.
    pub answered: u16,
}

#[derive(Default)]
struct State {
    script: Vec<(u16, String)>,
    received: Vec<Received>,
    posted: HashMap<String, serde_json::Value>,
}

/// The running platform; stops when dropped.
pub struct Platform {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Platform {
    /// Starts on a free port with `secret` (the key text), answering `script` (status, body)
    /// to the first requests in order, then accepting.
    pub fn start(secret: &str, script: &[(u16, &str)]) -> Platform {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind platform");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            script: script
                .iter()
                .map(|(s, b)| (*s, b.to_string()))
                .rev()
                .collect(),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp, key) = (state.clone(), stop.clone(), secret.as_bytes().to_vec());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(600);
            while !sp.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &st, &key);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Platform {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The `post_url` to configure.
    pub fn url(&self) -> String {
        format!("http://{}/digestd/posts", self.addr)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    /// Posts made so far (one per idempotency key), as the bodies digestd sent.
    pub fn posts(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST" && (200..300).contains(&r.answered))
            .map(|r| r.json)
            .fold(Vec::new(), |mut acc, j| {
                if !acc
                    .iter()
                    .any(|a: &serde_json::Value| a["idempotency_key"] == j["idempotency_key"])
                {
                    acc.push(j);
                }
                acc
            })
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// HMAC-SHA256 over `timestamp "." body`, hex.
pub fn hmac_hex(key: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

fn serve(stream: TcpStream, state: &Mutex<State>, key: &[u8]) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let method = line.split(' ').next().unwrap_or_default().to_string();
    let mut headers: HashMap<String, String> = HashMap::new();
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let ts = headers
        .get("x-digestd-timestamp")
        .cloned()
        .unwrap_or_default();
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    let verified = fresh
        && headers.get("x-digestd-signature").map(String::as_str)
            == Some(format!("sha256={}", hmac_hex(key, &ts, &body)).as_str());
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let (status, answer) = {
        let mut st = state.lock().expect("state");
        let decided = if method != "POST" {
            (405, String::new())
        } else if !verified {
            (401, r#"{"error":"bad signature"}"#.to_string())
        } else if let Some(scripted) = st.script.pop() {
            scripted
        } else {
            let key = json["idempotency_key"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let n = st.posted.len() + 1;
            let thread = json["thread"]
                .as_str()
                .map_or_else(|| format!("new-{n}"), str::to_string);
            let answer = st
                .posted
                .entry(key)
                .or_insert_with(|| {
                    serde_json::json!({
                        "id": format!("p-{n}"),
                        "url": format!("https://platform.test/t/{thread}#p-{n}"),
                        "thread": thread,
                    })
                })
                .to_string();
            (201, answer)
        };
        st.received.push(Received {
            method,
            verified,
            json,
            answered: decided.0,
        });
        decided
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    out.flush()
}
