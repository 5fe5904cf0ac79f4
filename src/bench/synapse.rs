//! A real Synapse (the Matrix homeserver) on 127.0.0.1, for `bench collect --forum matrix` and
//! the Matrix tests (`tests/support/synapse.rs` wraps it).
//!
//! Synapse runs from the virtualenv `.ci/install-deps` creates ([`find_venv`]), with a config
//! written here (not `--generate-config`, whose output has no trailing newline and also listens
//! on `::1`): one HTTP listener on 127.0.0.1 only (client API), SQLite in a temporary directory
//! (on `/dev/shm` when there is one),
//! every rate limit raised out of reach, and one application service ([`AS_ID`]) whose
//! registration gives digestd its `as_token` and an exclusive namespace over every user of the
//! server, so digestd can register and masquerade as anyone (`?user_id=`). Its sender
//! ([`SENDER_LOCALPART`]) is not used for reading: Synapse answers HTTP 500 to `/sync` for it.
//!
//! The process is started from one long-lived thread with `PR_SET_PDEATHSIG`, so it dies with the
//! process that started it even when nobody drops the handle (a test binary's shared instance);
//! a dropped [`Synapse`] is killed at once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine as _;
use rand::RngCore as _;

/// The application service's id in its registration file.
pub const AS_ID: &str = "digestd";
/// Localpart of the application service's own sender (not used to read: `/sync` fails for it).
pub const SENDER_LOCALPART: &str = "digestd-as";
/// The server name of every test homeserver.
pub const SERVER_NAME: &str = "digestd.test";
/// How long Synapse may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// Environment variable naming the virtualenv, overriding the default places.
pub const VENV_ENV: &str = "DIGESTD_SYNAPSE_VENV";

/// Where `.ci/install-deps` puts the virtualenv: `$DIGESTD_SYNAPSE_VENV`, else
/// `/var/cache/digestd-test/synapse-venv` (root), else `$HOME/.cache/digestd/synapse-venv`.
/// Returns the first of these whose Python exists.
pub fn find_venv() -> Option<PathBuf> {
    let mut places = Vec::new();
    if let Some(v) = std::env::var_os(VENV_ENV) {
        places.push(PathBuf::from(v));
    }
    places.push(PathBuf::from("/var/cache/digestd-test/synapse-venv"));
    if let Some(home) = std::env::var_os("HOME") {
        places.push(PathBuf::from(home).join(".cache/digestd/synapse-venv"));
    }
    places.into_iter().find(|p| p.join("bin/python").is_file())
}

/// A running Synapse; killed when dropped.
pub struct Synapse {
    child: Option<Child>,
    dir: tempfile::TempDir,
    venv: PathBuf,
    port: u16,
    as_token: String,
}

impl std::fmt::Debug for Synapse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synapse")
            .field("port", &self.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Synapse {
    /// Writes a fresh config into a temporary directory and starts Synapse from `venv`, waiting
    /// (bounded) until it answers. A port taken meanwhile is retried on another port (3 tries).
    pub fn start(venv: &Path) -> anyhow::Result<Synapse> {
        // In memory when the machine has a tmpfs: Synapse's SQLite commits then cost no disk
        // flush (the database lives as long as the test or benchmark anyway).
        // Named after this process, so a later start can remove what a process that never
        // dropped its instance (a test binary's shared one) left behind.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            remove_orphans(shm);
            tempfile::Builder::new()
                .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
                .tempdir_in(shm)
                .or_else(|_| tempfile::tempdir())
        } else {
            tempfile::tempdir()
        }
        .context("creating Synapse's directory")?;
        let as_token = random_token();
        let hs_token = random_token();
        write_file(
            &dir.path().join("appservice.yaml"),
            &appservice_yaml(&as_token, &hs_token),
        )?;
        write_file(&dir.path().join("log.config"), &log_config(dir.path()))?;
        write_file(&dir.path().join("signing.key"), &signing_key())?;
        let mut synapse = Synapse {
            child: None,
            dir,
            venv: venv.to_path_buf(),
            port: 0,
            as_token,
        };
        let mut last = None;
        for _ in 0..3 {
            synapse.port = free_port()?;
            match synapse.launch() {
                Ok(()) => return Ok(synapse),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("Synapse did not start")))
    }

    /// Starts Synapse again after [`Synapse::stop`], same port, config and database.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.launch()
    }

    /// Kills Synapse (SIGKILL) and waits for it; requests fail with "connection refused" after.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Base URL of the client API, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The application service token (what digestd's `as_token_file` holds).
    pub fn as_token(&self) -> &str {
        &self.as_token
    }

    /// The server name (`@user:<server_name>`).
    pub fn server_name(&self) -> &str {
        SERVER_NAME
    }

    /// The temporary directory holding config, database and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of Synapse's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("homeserver.log")).unwrap_or_default();
        let out = std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().chain(out.lines()).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let dir = self.dir.path();
        write_file(
            &dir.join("homeserver.yaml"),
            &homeserver_yaml(dir, self.port),
        )?;
        let stderr = std::fs::File::create(dir.join("stderr.log")).context("Synapse's stderr")?;
        let mut cmd = Command::new(self.venv.join("bin/python"));
        cmd.args(["-m", "synapse.app.homeserver", "-c"])
            .arg(dir.join("homeserver.yaml"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = spawn_tied_to_process(cmd).context("spawning Synapse")?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let url = format!("{}/_matrix/client/versions", self.base_url());
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    bail!(
                        "Synapse exited ({status}) while starting:\n{}",
                        self.log_tail()
                    );
                }
            }
            if agent.get(&url).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
        bail!(
            "Synapse did not answer on 127.0.0.1:{} within {:?}:\n{}",
            self.port,
            READY_TIMEOUT,
            self.log_tail()
        )
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawns `cmd` from one thread that lives as long as the process, with `PR_SET_PDEATHSIG`
/// (SIGKILL): the child dies with this process however it ends (the signal follows the thread
/// that forked, hence the one long-lived spawner rather than the caller's thread).
fn spawn_tied_to_process(cmd: Command) -> std::io::Result<Child> {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("synapse-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(spawn_with_death_signal(&mut cmd));
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::warn!(error = %e, "no spawner thread"));
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .map_err(|_| std::io::Error::other("spawner lock poisoned"))?
        .send((cmd, reply_tx))
        .map_err(|_| std::io::Error::other("spawner thread gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread gone"))?
}

fn spawn_with_death_signal(cmd: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Prefix of Synapse's directories, followed by the owning process id and `-`.
const DIR_PREFIX: &str = "digestd-synapse-";

/// Removes the Synapse directories in `parent` whose owning process is gone.
fn remove_orphans(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An ed25519 signing key in Synapse's file format (`ed25519 <version> <unpadded base64 seed>`).
fn signing_key() -> String {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    format!(
        "ed25519 a_dgst {}\n",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed)
    )
}

/// The application service registration: every user of the server is in its exclusive
/// namespace (digestd registers and masquerades as staff and its bot), aliases too (not
/// exclusive), no URL (Synapse pushes nothing), not rate limited.
fn appservice_yaml(as_token: &str, hs_token: &str) -> String {
    let server = regex_escape(SERVER_NAME);
    format!(
        "id: {AS_ID}\n\
         url: null\n\
         as_token: \"{as_token}\"\n\
         hs_token: \"{hs_token}\"\n\
         sender_localpart: {SENDER_LOCALPART}\n\
         rate_limited: false\n\
         namespaces:\n\
         \x20 users:\n\
         \x20   - exclusive: true\n\
         \x20     regex: \"@.*:{server}\"\n\
         \x20 aliases:\n\
         \x20   - exclusive: false\n\
         \x20     regex: \"#.*:{server}\"\n\
         \x20 rooms: []\n"
    )
}

/// `.` escaped for a regex inside a double-quoted YAML string.
fn regex_escape(s: &str) -> String {
    s.replace('.', "\\\\.")
}

fn log_config(dir: &Path) -> String {
    format!(
        "version: 1\n\
         formatters:\n\
         \x20 precise:\n\
         \x20   format: '%(asctime)s - %(name)s - %(levelname)s - %(message)s'\n\
         handlers:\n\
         \x20 file:\n\
         \x20   class: logging.FileHandler\n\
         \x20   formatter: precise\n\
         \x20   filename: {}\n\
         root:\n\
         \x20 level: WARNING\n\
         \x20 handlers: [file]\n\
         disable_existing_loggers: false\n",
        dir.join("homeserver.log").display()
    )
}

/// The homeserver config: client API on 127.0.0.1 only, SQLite, no federation key servers, no
/// presence or previews, and every rate limit out of reach.
fn homeserver_yaml(dir: &Path, port: u16) -> String {
    let d = dir.display();
    let mut y = String::new();
    let _ = write!(
        y,
        "server_name: \"{SERVER_NAME}\"\n\
         pid_file: {d}/homeserver.pid\n\
         listeners:\n\
         \x20 - port: {port}\n\
         \x20   bind_addresses: [\"127.0.0.1\"]\n\
         \x20   type: http\n\
         \x20   tls: false\n\
         \x20   x_forwarded: false\n\
         \x20   resources:\n\
         \x20     - names: [client]\n\
         \x20       compress: false\n\
         database:\n\
         \x20 name: sqlite3\n\
         \x20 args:\n\
         \x20   database: {d}/homeserver.db\n\
         log_config: {d}/log.config\n\
         media_store_path: {d}/media_store\n\
         signing_key_path: {d}/signing.key\n\
         report_stats: false\n\
         trusted_key_servers: []\n\
         suppress_key_server_warning: true\n\
         macaroon_secret_key: \"{}\"\n\
         form_secret: \"{}\"\n\
         app_service_config_files: [\"{d}/appservice.yaml\"]\n\
         enable_metrics: false\n\
         presence:\n\
         \x20 enabled: false\n\
         url_preview_enabled: false\n",
        random_token(),
        random_token(),
    );
    let unlimited = "{per_second: 1000000, burst_count: 1000000}";
    for key in [
        "rc_message",
        "rc_registration",
        "rc_joins_per_room",
        "rc_admin_redaction",
    ] {
        let _ = writeln!(y, "{key}: {unlimited}");
    }
    for (key, subs) in [
        ("rc_login", &["address", "account", "failed_attempts"][..]),
        ("rc_joins", &["local", "remote"][..]),
        ("rc_invites", &["per_room", "per_user", "per_issuer"][..]),
    ] {
        let _ = writeln!(y, "{key}:");
        for sub in subs {
            let _ = writeln!(y, "  {sub}: {unlimited}");
        }
    }
    y
}
