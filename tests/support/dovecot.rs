//! A real Dovecot IMAP server on 127.0.0.1 for the tests: its own config, passwd-file, Maildirs,
//! sockets and log in a temp dir, plain-text login (loopback only, `ssl = no`), or with TLS
//! ([`Dovecot::start_tls`]: implicit TLS on a second port and STARTTLS on the first, with a
//! certificate for 127.0.0.1 signed by a throwaway CA made with `openssl`; [`Dovecot::start_with`]
//! takes any certificate of a [`TestCa`] and can also serve its auth service to Postfix as SASL,
//! [`Dovecot::auth_socket`]). Stopped (SIGTERM to the master, SIGKILL if it lingers) when
//! dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use digestd::bench::test_ca::{ServerCert, TestCa};

use super::{ensure_deps, find_program, free_port, is_root};

/// How [`Dovecot::start_with`] runs Dovecot.
#[derive(Debug, Clone, Default)]
pub struct DovecotOptions {
    /// TLS with this certificate, and the CA file clients should trust; `None`: `ssl = no`.
    pub tls: Option<(ServerCert, PathBuf)>,
    /// Also serve the auth service on a socket for Postfix (`smtpd_sasl_type = dovecot`).
    pub sasl_socket: bool,
    /// Appended to the config.
    pub extra: String,
    /// Take OAuth bearer tokens (an `oauth2` passdb ahead of the passwd-file) with these SASL
    /// mechanisms only.
    pub oauth: Option<OAuthOptions>,
}

/// The OAuth side of [`DovecotOptions`].
#[derive(Debug, Clone, Default)]
pub struct OAuthOptions {
    /// RFC 7662 introspection endpoint (`introspection_mode = post`).
    pub introspection_url: String,
    /// `auth_mechanisms`, e.g. `"xoauth2 oauthbearer"`.
    pub mechanisms: String,
}

/// A running Dovecot with one user.
pub struct Dovecot {
    child: Child,
    port: u16,
    tls: Option<TlsSetup>,
    dir: tempfile::TempDir,
    user: String,
    password: String,
    /// uid/gid owning the mail (nobody when the tests run as root, else the current user).
    owner: Option<(u32, u32)>,
    /// The test CA's directory, when [`Dovecot::start_tls`] made one.
    ca_dir: Option<tempfile::TempDir>,
}

/// The TLS side of a [`Dovecot::start_tls`] server.
struct TlsSetup {
    imaps_port: u16,
    ca_file: PathBuf,
}

impl Dovecot {
    /// Starts Dovecot with user `user` / `password`; waits (at most 10 s) until it accepts
    /// connections. Panics with the log when it does not come up.
    pub fn start(user: &str, password: &str) -> Dovecot {
        Dovecot::start_with(user, password, DovecotOptions::default())
    }

    /// [`Dovecot::start`], advertising no MOVE capability (as some older servers): clients
    /// move messages with `UID COPY` + `\Deleted` + `UID EXPUNGE` (UIDPLUS is advertised).
    pub fn start_without_move(user: &str, password: &str) -> Dovecot {
        Dovecot::start_with(
            user,
            password,
            DovecotOptions {
                extra: "imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE \
                        IDLE UIDPLUS"
                    .into(),
                ..DovecotOptions::default()
            },
        )
    }

    /// [`Dovecot::start`] with TLS: STARTTLS on [`Dovecot::port`], implicit TLS on
    /// [`Dovecot::imaps_port`]; clients trust [`Dovecot::ca_file`].
    pub fn start_tls(user: &str, password: &str) -> Dovecot {
        let ca_dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::create(ca_dir.path()).expect("test CA (openssl)");
        let mut d = Dovecot::start_with(
            user,
            password,
            DovecotOptions {
                tls: Some((ca.good.clone(), ca.ca_file.clone())),
                ..DovecotOptions::default()
            },
        );
        d.ca_dir = Some(ca_dir);
        d
    }

    /// [`Dovecot::start`] taking OAuth 2.0 bearer tokens instead of passwords: `mechanisms`
    /// (e.g. `"xoauth2 oauthbearer"`) through an `oauth2` passdb that asks `introspection_url`
    /// (RFC 7662, `introspection_mode = post`) whether a token is active and whose it is.
    pub fn start_oauth(user: &str, introspection_url: &str, mechanisms: &str) -> Dovecot {
        Dovecot::start_with(
            user,
            "no-password-login",
            DovecotOptions {
                oauth: Some(OAuthOptions {
                    introspection_url: introspection_url.into(),
                    mechanisms: mechanisms.into(),
                }),
                ..DovecotOptions::default()
            },
        )
    }

    /// Starts Dovecot as `options` say; waits (at most 10 s) until it accepts connections.
    pub fn start_with(user: &str, password: &str, options: DovecotOptions) -> Dovecot {
        let extra = options.extra.as_str();
        ensure_deps();
        let program = find_program("dovecot").expect("dovecot is installed (.ci/install-deps)");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mail = root.join("mail");
        std::fs::create_dir_all(&mail).expect("mail dir");
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let (owner, login_user, internal_user, mail_user) = if is_root() {
            (
                Some((65534, 65534)),
                "dovenull".to_string(),
                "dovecot".to_string(),
                "uid=65534 gid=65534".to_string(),
            )
        } else {
            let me = current_user();
            let ids = format!("uid={} gid={}", me.1, me.2);
            (None, me.0.clone(), me.0, ids)
        };
        let passwd = root.join("passwd");
        std::fs::write(&passwd, format!("{user}:{{PLAIN}}{password}::::::\n")).expect("passwd");
        std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let port = free_port();
        let ssl = match &options.tls {
            Some((cert, _)) => format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}",
                cert.cert.display(),
                cert.key.display()
            ),
            None => "ssl = no".to_string(),
        };
        let tls = options.tls.map(|(_, ca_file)| TlsSetup {
            imaps_port: free_port(),
            ca_file,
        });
        let sasl = if options.sasl_socket {
            format!(
                "service auth {{\n  unix_listener {}/auth-postfix {{\n    mode = 0666\n  }}\n}}",
                root.display()
            )
        } else {
            String::new()
        };
        let imaps_port = tls.as_ref().map_or(0, |t| t.imaps_port);
        let conf = root.join("dovecot.conf");
        let r = root.display();
        let (mechanisms, oauth_passdb) = match &options.oauth {
            Some(OAuthOptions {
                introspection_url: url,
                mechanisms: mechs,
            }) => {
                let ext = root.join("dovecot-oauth2.conf.ext");
                std::fs::write(
                    &ext,
                    format!(
                        "introspection_mode = post\nintrospection_url = {url}\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n"
                    ),
                )
                .expect("oauth2 conf");
                std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o644))
                    .expect("chmod");
                (
                    mechs.to_string(),
                    format!(
                        "passdb {{\n  driver = oauth2\n  mechanisms = {mechs}\n  args = {}\n}}\n",
                        ext.display()
                    ),
                )
            }
            None => ("plain login".to_string(), String::new()),
        };
        std::fs::write(
            &conf,
            format!(
                r#"protocols = imap
listen = 127.0.0.1
base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
info_log_path = {r}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 0
mail_location = maildir:{r}/mail/%u
mailbox_idle_check_interval = 1 secs
{oauth_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {r}/passwd
}}
userdb {{
  driver = static
  args = {mail_user} home={r}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
{sasl}
{extra}
"#
            ),
        )
        .expect("dovecot.conf");
        let child = Command::new(program)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dovecot");
        let mut d = Dovecot {
            child,
            port,
            tls,
            dir,
            user: user.into(),
            password: password.into(),
            owner,
            ca_dir: None,
        };
        let start = Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("dovecot exited ({status}):\n{}", d.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "dovecot did not listen on {port}:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    /// The IMAP port on 127.0.0.1 (STARTTLS offered when started with TLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The implicit-TLS (IMAPS) port of a [`Dovecot::start_tls`] server.
    pub fn imaps_port(&self) -> u16 {
        self.tls
            .as_ref()
            .map(|t| t.imaps_port)
            .expect("started with start_tls")
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.tls
            .as_ref()
            .map(|t| t.ca_file.clone())
            .expect("started with start_tls")
    }

    /// The auth socket for Postfix (`smtpd_sasl_path`), served with
    /// [`DovecotOptions::sasl_socket`].
    pub fn auth_socket(&self) -> PathBuf {
        self.dir.path().join("auth-postfix")
    }

    /// The user's login.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The user's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The user's Maildir root (INBOX); folders are `.<name>` inside it.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(&self.user)
    }

    /// Delivers `raw` into the user's INBOX (`new/`), as an MDA would.
    pub fn deliver(&self, name: &str, raw: &[u8]) {
        let md = self.maildir();
        for sub in ["", "tmp", "new", "cur"] {
            let d = md.join(sub);
            std::fs::create_dir_all(&d).expect("maildir");
            self.own(&d);
        }
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, raw).expect("write");
        self.own(&tmp);
        std::fs::rename(&tmp, md.join("new").join(name)).expect("rename");
    }

    /// Number of messages in folder `folder` (`""` for INBOX), new and cur, not flagged
    /// deleted (`T`).
    pub fn count(&self, folder: &str) -> usize {
        let md = if folder.is_empty() {
            self.maildir()
        } else {
            self.maildir().join(format!(".{folder}"))
        };
        ["new", "cur"]
            .iter()
            .filter_map(|s| std::fs::read_dir(md.join(s)).ok())
            .flat_map(|d| d.flatten())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                !n.rsplit_once(":2,").is_some_and(|(_, f)| f.contains('T'))
            })
            .count()
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    fn own(&self, path: &Path) {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL if it does not go within 5 s.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (name, uid, gid) of this process.
fn current_user() -> (String, u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| -> u32 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let uid = field("Uid:");
    let gid = field("Gid:");
    let name = std::env::var("USER").unwrap_or_else(|_| uid.to_string());
    (name, uid, gid)
}
