//! A real Postfix (`master` and its `smtpd`, `cleanup`, `qmgr`, `smtp`) on 127.0.0.1, for
//! `bench send --tls` and the mail TLS tests (`tests/support/postfix.rs` wraps it).
//!
//! Everything lives in a temporary directory: `main.cf` and `master.cf` (no chroot, no
//! systemd, no syslog: the log is the file [`Postfix::log`] reads), the queue and data
//! directories. Postfix runs as root with its own `postfix` user for the daemons, as a Debian
//! package installs it. Three `smtpd` listeners:
//! - [`Postfix::plain_port`]: no TLS offered, clients on 127.0.0.1 may relay (the comparison
//!   without TLS);
//! - [`Postfix::submission_port`]: STARTTLS required before MAIL (`smtpd_tls_security_level =
//!   encrypt`);
//! - [`Postfix::smtps_port`]: implicit TLS (`smtpd_tls_wrappermode = yes`).
//!
//! With a SASL socket ([`PostfixOptions::dovecot_auth`]), the two TLS listeners offer AUTH
//! (through Dovecot's auth service, `smtpd_sasl_type = dovecot`) only after TLS, and relay only
//! for an authenticated client. Everything accepted is relayed to `relay_port` on 127.0.0.1
//! (an smtp-sink, say), at once (`relayhost`).
//!
//! Startup waits at most 20 s for every listener; a dropped [`Postfix`] stops the master
//! (SIGTERM; it stops its children) and kills it if it lingers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::send::{find_program, is_root};
use super::test_ca::ServerCert;

/// What the Postfix instance should do.
#[derive(Debug, Clone)]
pub struct PostfixOptions {
    /// Where accepted mail goes: an SMTP server on 127.0.0.1 at this port.
    pub relay_port: u16,
    /// The certificate of the two TLS listeners; `None`: no TLS listener is usable.
    pub cert: Option<ServerCert>,
    /// Dovecot's auth socket (a `unix_listener` of its `auth` service): AUTH required on the
    /// TLS listeners.
    pub dovecot_auth: Option<PathBuf>,
}

/// A running Postfix; stopped when dropped.
pub struct Postfix {
    master: Child,
    dir: tempfile::TempDir,
    plain_port: u16,
    submission_port: u16,
    smtps_port: u16,
}

/// Postfix's daemons (`master`, `smtpd`, ...).
const DAEMON_DIR: &str = "/usr/lib/postfix/sbin";

impl Postfix {
    /// Writes the configuration, creates the queue (`postfix check`) and starts `master` in
    /// the foreground (`-d`); returns once all three listeners accept connections (at most
    /// 20 s). Needs root (Postfix's master does).
    pub fn start(options: &PostfixOptions) -> anyhow::Result<Postfix> {
        if !is_root() {
            bail!("Postfix's master must run as root");
        }
        let postfix = find_program("postfix").context("postfix is not installed")?;
        let master = Path::new(DAEMON_DIR).join("master");
        if !master.is_file() {
            bail!("{} is missing (install postfix)", master.display());
        }
        let dir = tempfile::tempdir().context("tempdir")?;
        set_mode(dir.path(), 0o755)?;
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf)?;
        std::fs::create_dir_all(dir.path().join("queue"))?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        let ports = [free_port()?, free_port()?, free_port()?];
        std::fs::write(conf.join("main.cf"), main_cf(dir.path(), options))?;
        std::fs::write(conf.join("master.cf"), master_cf(ports, options))?;
        let _ = Command::new("chown").arg("postfix").arg(&data).status();
        let check = Command::new(&postfix)
            .arg("-c")
            .arg(&conf)
            .arg("check")
            .stdin(Stdio::null())
            .output()
            .context("running postfix check")?;
        let log_path = dir.path().join("maillog");
        if !check.status.success() {
            bail!(
                "postfix check failed: {}{}",
                String::from_utf8_lossy(&check.stderr),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        let child = Command::new(&master)
            .arg("-c")
            .arg(&conf)
            .arg("-d")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning postfix master")?;
        let mut p = Postfix {
            master: child,
            dir,
            plain_port: ports[0],
            submission_port: ports[1],
            smtps_port: ports[2],
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in ports {
            loop {
                if let Ok(Some(status)) = p.master.try_wait() {
                    bail!("postfix master exited ({status}):\n{}", p.log());
                }
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("postfix did not listen on {port} within 20 s:\n{}", p.log());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(p)
    }

    /// The listener without TLS (relay allowed from 127.0.0.1, no AUTH).
    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// The listener requiring STARTTLS (and AUTH, with Dovecot).
    pub fn submission_port(&self) -> u16 {
        self.submission_port
    }

    /// The implicit TLS listener (AUTH required, with Dovecot).
    pub fn smtps_port(&self) -> u16 {
        self.smtps_port
    }

    /// Messages in Postfix's queue (accepted, not yet relayed).
    pub fn queued(&self) -> usize {
        let queue = self.dir.path().join("queue");
        ["maildrop", "incoming", "active", "deferred", "hold"]
            .iter()
            .map(|q| count_files(&queue.join(q)))
            .sum()
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // SIGTERM: the master stops its children, then exits.
        // SAFETY: plain kill(2) on our own child's pid.
        let pid = self.master.id() as libc::pid_t;
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.master.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

fn main_cf(dir: &Path, options: &PostfixOptions) -> String {
    let d = dir.display();
    let mut cf = format!(
        "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydomain = localdomain
mydestination =
relayhost = [127.0.0.1]:{relay}
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_tls_security_level = none
smtp_tls_security_level = none
smtpd_tls_loglevel = 1
",
        relay = options.relay_port
    );
    if let Some(cert) = &options.cert {
        cf.push_str(&format!(
            "smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n",
            cert.cert.display(),
            cert.key.display()
        ));
    }
    if let Some(socket) = &options.dovecot_auth {
        cf.push_str(&format!(
            "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = {}\n",
            socket.display()
        ));
    }
    cf
}

fn master_cf(ports: [u16; 3], options: &PostfixOptions) -> String {
    let tls_auth = if options.dovecot_auth.is_some() {
        " -o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes \
         -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
    } else {
        ""
    };
    let tls = options.cert.is_some();
    let submission = if tls {
        format!("-o smtpd_tls_security_level=encrypt{tls_auth}")
    } else {
        String::new()
    };
    let smtps = if tls {
        format!("-o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt{tls_auth}")
    } else {
        String::new()
    };
    format!(
        "127.0.0.1:{plain} inet n - n - - smtpd
127.0.0.1:{sub} inet n - n - - smtpd {submission}
127.0.0.1:{smtps_port} inet n - n - - smtpd {smtps}
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
",
        plain = ports[0],
        sub = ports[1],
        smtps_port = ports[2],
    )
}

/// Files under `dir`, at any depth (Postfix hashes queue files into subdirectories).
fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count_files(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}
