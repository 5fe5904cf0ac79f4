//! A loopback OAuth 2.0 authorization server for the tests, standing in for the Microsoft
//! identity platform's and Google's token endpoints (which cannot run here) and giving Dovecot's
//! `oauth2` passdb an RFC 7662 introspection endpoint. It answers in the documented shapes of
//! `tests/fixtures/oauth/` (see its README) and checks requests as the real services do:
//!
//! - `POST /{tenant}/oauth2/v2.0/token` (Microsoft client credentials): `grant_type =
//!   client_credentials`, the app's `client_id` and current `client_secret`, `scope =
//!   https://outlook.office365.com/.default`; a wrong secret is `invalid_client` (HTTP 401);
//! - `POST /google/token` (service account): `grant_type = urn:…:jwt-bearer` and an RS256 JWT
//!   `assertion` whose signature verifies with the account's public key, with `iss`, `sub`,
//!   `scope = https://mail.google.com/`, `aud` = this URL and an unexpired `exp`; otherwise
//!   `invalid_grant` (HTTP 400);
//! - `POST /introspect` (`token=…`): `{"active": true, "username": <mailbox>}` for a token it
//!   issued that is neither expired nor revoked, else `{"active": false}`.
//!
//! Every token it issues is random and lives `expires_in` seconds (settable, so a test can
//! make tokens expire mid-run); [`OAuthServer::revoke_tokens`] makes the issued ones inactive at
//! once, as a server-side revocation would. Stopped when dropped.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{find_program, repo_root};

/// The Microsoft app the endpoint knows.
#[derive(Debug, Clone)]
pub struct MicrosoftApp {
    /// Tenant in the URL path.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: String,
    /// The secret currently valid (change it to "revoke" the one digestd has).
    pub client_secret: String,
    /// The mailbox the app was granted (the introspection's `username`).
    pub mailbox: String,
}

/// A Google service account the endpoint knows.
#[derive(Debug, Clone)]
pub struct GoogleAccount {
    /// `client_email` (`iss`).
    pub client_email: String,
    /// Its public key, PKCS#1 RSAPublicKey DER (what ring verifies with).
    pub public_key_der: Vec<u8>,
}

#[derive(Debug)]
struct Issued {
    username: String,
    client_id: String,
    scope: String,
    expires_at: Instant,
    exp_unix: u64,
    revoked: bool,
}

#[derive(Debug, Default)]
struct State {
    microsoft: Option<MicrosoftApp>,
    google: Option<GoogleAccount>,
    expires_in: u64,
    tokens: HashMap<String, Issued>,
    token_requests: HashMap<&'static str, usize>,
    refused_requests: usize,
    introspections: usize,
}

/// The running server.
pub struct OAuthServer {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OAuthServer {
    /// Starts on a free 127.0.0.1 port; tokens live an hour unless [`OAuthServer::set_expires_in`].
    pub fn start() -> OAuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind oauth server");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            expires_in: 3599,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => serve(stream, &state, port),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        OAuthServer {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Microsoft's token URL for `tenant` on this server.
    pub fn microsoft_token_url(&self, tenant: &str) -> String {
        format!("http://127.0.0.1:{}/{tenant}/oauth2/v2.0/token", self.port)
    }

    /// Google's token URL on this server (the key file's `token_uri`).
    pub fn google_token_url(&self) -> String {
        format!("http://127.0.0.1:{}/google/token", self.port)
    }

    /// The introspection URL for Dovecot.
    pub fn introspection_url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    /// Registers (or replaces) the Microsoft app.
    pub fn set_microsoft_app(&self, app: MicrosoftApp) {
        self.lock().microsoft = Some(app);
    }

    /// Replaces the Microsoft app's valid secret (the old one is refused from now on).
    pub fn rotate_microsoft_secret(&self, secret: &str) {
        if let Some(app) = self.lock().microsoft.as_mut() {
            app.client_secret = secret.into();
        }
    }

    /// Registers the Google service account.
    pub fn set_google_account(&self, account: GoogleAccount) {
        self.lock().google = Some(account);
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.lock().expires_in = secs;
    }

    /// Makes every token issued so far inactive.
    pub fn revoke_tokens(&self) {
        for t in self.lock().tokens.values_mut() {
            t.revoked = true;
        }
    }

    /// Issues a token for `username` directly (what another identity provider would hand a
    /// `token_command`).
    pub fn issue(&self, username: &str) -> String {
        issue(
            &mut self.lock(),
            username,
            "direct",
            "https://mail.example/.default",
        )
    }

    /// Tokens issued to `provider` (`"microsoft"`, `"google"`) so far.
    pub fn tokens_issued(&self, provider: &str) -> usize {
        self.lock()
            .token_requests
            .get(provider)
            .copied()
            .unwrap_or(0)
    }

    /// Token requests refused so far.
    pub fn refused_requests(&self) -> usize {
        self.lock().refused_requests
    }

    /// Introspection requests so far.
    pub fn introspections(&self) -> usize {
        self.lock().introspections
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A fixture from `tests/fixtures/oauth/` with its `{{name}}` placeholders filled.
pub fn fixture(name: &str, values: &[(&str, &str)]) -> String {
    let path = repo_root().join("tests/fixtures/oauth").join(name);
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    for (k, v) in values {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    text
}

/// Makes a Google service account key file in `dir` (a fresh 2048-bit RSA key from `openssl`,
/// PKCS#8 PEM, in Google's JSON key file layout) whose `token_uri` is `token_uri`; returns its
/// path and the account to register with [`OAuthServer::set_google_account`].
pub fn make_service_account(
    dir: &Path,
    client_email: &str,
    token_uri: &str,
) -> (PathBuf, GoogleAccount) {
    let openssl = find_program("openssl").expect("openssl is installed (.ci/install-deps)");
    let run = |args: &[&str]| {
        let out = Command::new(&openssl)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "sa-key.pem",
    ]);
    run(&[
        "rsa",
        "-in",
        "sa-key.pem",
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        "sa-pub.der",
    ]);
    let pem = std::fs::read_to_string(dir.join("sa-key.pem")).expect("key pem");
    assert!(pem.contains("BEGIN PRIVATE KEY"), "PKCS#8 expected");
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "digestd-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com"
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json).expect("json")).expect("key file");
    let public_key_der = std::fs::read(dir.join("sa-pub.der")).expect("public key");
    (
        path,
        GoogleAccount {
            client_email: client_email.into(),
            public_key_der,
        },
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn issue(state: &mut State, username: &str, client_id: &str, scope: &str) -> String {
    let token = format!("tok-{}", hex::encode(rand::random::<[u8; 16]>()));
    state.tokens.insert(
        token.clone(),
        Issued {
            username: username.into(),
            client_id: client_id.into(),
            scope: scope.into(),
            expires_at: Instant::now() + Duration::from_secs(state.expires_in),
            exp_unix: unix_now() + state.expires_in,
            revoked: false,
        },
    );
    token
}

/// One request, one answer, then the connection is closed.
fn serve(mut stream: TcpStream, state: &Mutex<State>, port: u16) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some((method, path, body)) = read_request(&mut stream) else {
        return;
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let (status, json) = match (method.as_str(), path.as_str()) {
        ("POST", "/introspect") => {
            st.introspections += 1;
            introspect(&st, form.get("token").map(String::as_str).unwrap_or(""))
        }
        ("POST", "/google/token") => google_token(&mut st, &form, port),
        ("POST", p) if p.ends_with("/oauth2/v2.0/token") => {
            let tenant = p
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            microsoft_token(&mut st, &tenant, &form)
        }
        _ => (404, r#"{"error":"not_found"}"#.to_string()),
    };
    drop(st);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        _ => "Not Found",
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = stream.write_all(answer.as_bytes());
    let _ = stream.flush();
}

/// Method, path and body of one HTTP/1.1 request (bounded).
fn read_request(stream: &mut TcpStream) -> Option<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.split('?').next()?.to_string();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length.min(1 << 20) {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((method, path, body))
}

fn introspect(st: &State, token: &str) -> (u16, String) {
    match st.tokens.get(token) {
        Some(t) if !t.revoked && Instant::now() < t.expires_at => (
            200,
            fixture(
                "introspection_active.json",
                &[
                    ("scope", &t.scope),
                    ("client_id", &t.client_id),
                    ("username", &t.username),
                    ("exp", &t.exp_unix.to_string()),
                ],
            ),
        ),
        _ => (200, fixture("introspection_inactive.json", &[])),
    }
}

fn microsoft_token(st: &mut State, tenant: &str, form: &HashMap<String, String>) -> (u16, String) {
    let Some(app) = st.microsoft.clone() else {
        return (
            400,
            r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant not found."}"#
                .into(),
        );
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if tenant != app.tenant {
        st.refused_requests += 1;
        return (
            400,
            format!(
                r#"{{"error":"invalid_request","error_description":"AADSTS90002: Tenant '{tenant}' not found."}}"#
            ),
        );
    }
    if field("grant_type") != "client_credentials"
        || field("scope") != "https://outlook.office365.com/.default"
    {
        st.refused_requests += 1;
        return (400, r#"{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid."}"#.into());
    }
    if field("client_id") != app.client_id || field("client_secret") != app.client_secret {
        st.refused_requests += 1;
        return (
            401,
            fixture(
                "microsoft_invalid_client.json",
                &[("client_id", &app.client_id)],
            ),
        );
    }
    *st.token_requests.entry("microsoft").or_default() += 1;
    let token = issue(
        st,
        &app.mailbox,
        &app.client_id,
        "https://outlook.office365.com/.default",
    );
    let expires_in = st.expires_in.to_string();
    (
        200,
        fixture(
            "microsoft_token.json",
            &[("access_token", &token), ("expires_in", &expires_in)],
        ),
    )
}

fn google_token(st: &mut State, form: &HashMap<String, String>, port: u16) -> (u16, String) {
    let refuse = |st: &mut State, reason: &str| {
        st.refused_requests += 1;
        (
            400,
            fixture("google_invalid_grant.json", &[("reason", reason)]),
        )
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse(st, "Invalid grant_type");
    }
    let Some(account) = st.google.clone() else {
        return refuse(st, "Invalid JWT Signature.");
    };
    let jwt = form.get("assertion").cloned().unwrap_or_default();
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return refuse(
            st,
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe",
        );
    }
    let signed = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &account.public_key_der,
    );
    if key.verify(signed.as_bytes(), &signature).is_err() {
        return refuse(st, "Invalid JWT Signature.");
    }
    let decode = |p: &str| -> serde_json::Value {
        URL_SAFE_NO_PAD
            .decode(p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    let now = unix_now();
    let aud = format!("http://127.0.0.1:{port}/google/token");
    let exp = claims["exp"].as_u64().unwrap_or(0);
    let iat = claims["iat"].as_u64().unwrap_or(0);
    if header["alg"] != "RS256"
        || claims["iss"].as_str() != Some(account.client_email.as_str())
        || claims["aud"].as_str() != Some(aud.as_str())
        || exp <= now
        || exp > iat + 3600
        || iat > now + 60
    {
        return refuse(st, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    if claims["scope"].as_str() != Some("https://mail.google.com/") {
        st.refused_requests += 1;
        return (401, fixture("google_unauthorized_client.json", &[]));
    }
    let Some(sub) = claims["sub"].as_str().filter(|s| s.contains('@')) else {
        return refuse(st, "Invalid email or User ID");
    };
    let sub = sub.to_string();
    *st.token_requests.entry("google").or_default() += 1;
    let token = issue(st, &sub, &account.client_email, "https://mail.google.com/");
    let expires_in = st.expires_in.to_string();
    (
        200,
        fixture(
            "google_token.json",
            &[("access_token", &token), ("expires_in", &expires_in)],
        ),
    )
}
