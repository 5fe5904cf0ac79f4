//! A real PostgreSQL server for tests, from Debian's packages (`.ci/install-deps` installs
//! `postgresql`; the server programs are in `/usr/lib/postgresql/<major>/bin`).
//!
//! `initdb` in a temporary directory owned by the `postgres` user (tests run as root, which
//! PostgreSQL refuses), a free loopback port on 127.0.0.1 with password authentication
//! (SCRAM; the user `postgres` has password [`PASSWORD`]), the unix socket in the temporary
//! directory (trust: how the test support itself runs psql), `fsync = off` for speed. [`PgServer::shared`] starts one
//! per test process (a watcher stops it when the process ends); [`PgServer::fresh_url`] makes
//! a new database in it for each test. Uses only std and tempfile, so the library's unit tests
//! include this file too.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running PostgreSQL; stopped when dropped (the shared one when its process ends).
#[derive(Debug)]
pub struct PgServer {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Server options beyond the defaults (`-c name=value ...`).
    options: String,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The password of the `postgres` user over TCP.
pub const PASSWORD: &str = "digestd-test-pw";

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

/// The newest installed server's `bin` directory.
fn server_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").is_file() && b.join("postgres").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// `program args…` as the `postgres` user when this process is root.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl PgServer {
    /// Initialises and starts a server; waits at most 30 s for it to accept connections.
    pub fn start() -> Result<PgServer, String> {
        PgServer::start_with(|_| Ok(String::new()))
    }

    /// [`PgServer::start`] with TLS on: `cert` and `key` (PEM) are copied into the server's
    /// directory, owned by the `postgres` user as the server demands.
    pub fn start_tls(cert: &Path, key: &Path) -> Result<PgServer, String> {
        PgServer::start_with(|root| {
            for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
                let to = root.join(name);
                std::fs::copy(from, &to).map_err(|e| format!("copying {name}: {e}"))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("chmod {name}: {e}"))?;
                if is_root() {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(&to);
                    run(c, "chown")?;
                }
            }
            Ok(format!(
                " -c ssl=on -c ssl_cert_file={0}/server.crt -c ssl_key_file={0}/server.key",
                root.display()
            ))
        })
    }

    /// Initialises and starts a server with the options `prepare` returns (given the server's
    /// directory).
    fn start_with(
        prepare: impl FnOnce(&Path) -> Result<String, String>,
    ) -> Result<PgServer, String> {
        let bin = server_bin().ok_or("no PostgreSQL server under /usr/lib/postgresql")?;
        let dir = tempfile::Builder::new()
            .prefix("digestd-pg-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let root = dir.path().to_path_buf();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(&root);
                    c
                },
                "chown",
            )?;
        }
        let data = root.join("data");
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["-E", "UTF8", "--locale=C"])
            .args(["--no-sync"]);
        run(initdb, "initdb")?;
        let options = prepare(&root)?;
        let server = PgServer {
            dir: Some(dir),
            root,
            bin,
            port: free_port(),
            options,
        };
        server.start_again()?;
        server.psql(
            "postgres",
            &format!("ALTER USER postgres PASSWORD '{PASSWORD}'"),
        )?;
        Ok(server)
    }

    /// Starts the server on its data directory (after [`PgServer::stop`]), waiting for it.
    pub fn start_again(&self) -> Result<(), String> {
        let mut ctl = as_postgres(&self.bin.join("pg_ctl"));
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB{}",
            self.port,
            self.root.display(),
            self.options
        );
        ctl.arg("-D")
            .arg(self.root.join("data"))
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-o", &options, "-w", "-t", "30", "start"]);
        run(ctl, "pg_ctl start").map_err(|e| format!("{e}\n{}", self.log()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.psql("postgres", "SELECT 1").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("PostgreSQL did not answer in 30 s\n{}", self.log()))
    }

    /// Stops the server at once (`immediate`: like a crash, recovery on the next start).
    pub fn stop(&self) {
        let mut ctl = as_postgres(&self.bin.join("pg_ctl"));
        ctl.arg("-D").arg(self.root.join("data")).args([
            "-m",
            "immediate",
            "-w",
            "-t",
            "30",
            "stop",
        ]);
        let _ = run(ctl, "pg_ctl stop");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
    }

    /// The server started once for this test process, stopped when the process ends; `None`
    /// (after a note) when it cannot start, and a panic then under CI.
    pub fn shared() -> Option<&'static PgServer> {
        static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
        let server = SHARED.get_or_init(|| {
            let mut server = PgServer::start()?;
            server.stop_when_process_ends();
            Ok(server)
        });
        match server {
            Ok(s) => Some(s),
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL could not start (see .ci/install-deps); under CI no test may \
                     skip: {e}"
                );
                eprintln!("note: skipped: PostgreSQL could not start: {e}");
                None
            }
        }
    }

    /// Leaves stopping (and removing the directory) to a watcher that outlives this process.
    fn stop_when_process_ends(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let root = dir.keep();
        let stop = format!(
            "{} {} -D {} -m immediate -w -t 30 stop",
            if is_root() {
                "runuser -u postgres --"
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            root.join("data").display()
        );
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {}",
            std::process::id(),
            root.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` as the `postgres` user, with its password.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// The URL of database `db` as the `postgres` user, without a password.
    pub fn url_without_password(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` in database `db` with psql; returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.root)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ]);
        run(c, "psql")
    }

    /// Creates a new empty database; returns its name.
    pub fn fresh_database(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        name
    }

    /// Creates a new empty database; returns its URL (with the password).
    pub fn fresh_url(&self) -> String {
        let name = self.fresh_database();
        self.url(&name)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.dir.is_some() {
            self.stop();
        }
    }
}
