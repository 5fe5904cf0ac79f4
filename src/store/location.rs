//! Where a store is: a SQLite file (`[store] path`) or a PostgreSQL database (`[store] url`,
//! with the password from `password_file` or the usual `PG*` variables), and how to connect.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use r2d2_postgres::postgres;

use super::pg_tls::{decide, split_ssl_params, PgTls};
use super::StoreError;

/// Where a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgSettings),
}

/// How to reach a PostgreSQL store.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// `postgres://user@host:port/db` (a password in it is allowed, but a file is better).
    pub url: String,
    /// A file whose first line is the password (`[store] password_file`).
    pub password_file: Option<PathBuf>,
    /// Most connections this process opens (`[store] pool_size`).
    pub pool_size: u32,
    /// Extra trusted certificates (PEM) for TLS to the server (`[store] ca_file`).
    pub ca_file: Option<PathBuf>,
}

/// What connecting takes: the `postgres` crate's settings, and how TLS is done.
#[derive(Debug, Clone)]
pub struct PgConnection {
    /// Host, port, user, database, password.
    pub config: postgres::Config,
    /// Whether TLS is used ([`super::pg_tls`]).
    pub tls: PgTls,
    /// Extra trusted certificates: `[store] ca_file`, else the URL's `sslrootcert`, else
    /// `PGSSLROOTCERT`.
    pub ca_file: Option<PathBuf>,
}

/// Connections a process opens by default: the daemon's loop, the inbound pipeline, the
/// HTTP endpoint and the local forum each hold one at a time.
pub const DEFAULT_POOL_SIZE: u32 = 4;

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &redact(&self.url))
            .field("password_file", &self.password_file)
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// `url` with any password in it replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl From<&Path> for StoreLocation {
    fn from(path: &Path) -> StoreLocation {
        StoreLocation::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for StoreLocation {
    fn from(path: &PathBuf) -> StoreLocation {
        StoreLocation::File(path.clone())
    }
}

impl From<&StoreLocation> for StoreLocation {
    fn from(location: &StoreLocation) -> StoreLocation {
        location.clone()
    }
}

impl StoreLocation {
    /// A command-line argument: a `postgres://` or `postgresql://` URL, else a SQLite file.
    pub fn parse_arg(arg: &str) -> StoreLocation {
        if is_postgres_url(arg) {
            StoreLocation::Postgres(PgSettings {
                url: arg.to_owned(),
                password_file: None,
                pool_size: DEFAULT_POOL_SIZE,
                ca_file: None,
            })
        } else {
            StoreLocation::File(PathBuf::from(arg))
        }
    }

    /// How it is shown to people: the file, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            StoreLocation::File(p) => p.display().to_string(),
            StoreLocation::Postgres(s) => redact(&s.url),
        }
    }
}

/// True when `s` is a PostgreSQL URL.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl PgSettings {
    /// The connection settings: the URL, then for what it leaves out `PGHOST`, `PGPORT`,
    /// `PGUSER`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, and the password from
    /// `password_file`, else `PGPASSWORD`. An error when the URL or the TLS setting is refused.
    pub fn connection(&self) -> Result<PgConnection, StoreError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.connection_with(&env)
    }

    /// [`PgSettings::connection`]'s `postgres` settings alone.
    pub fn config(&self) -> Result<postgres::Config, StoreError> {
        self.connection().map(|c| c.config)
    }

    fn connection_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PgConnection, StoreError> {
        let ssl = split_ssl_params(&self.url);
        let mut c = self.config_with(&ssl.url, env)?;
        let hosts: Vec<(String, bool)> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => (name.clone(), false),
                postgres::config::Host::Unix(path) => (path.display().to_string(), true),
            })
            .collect();
        let mode = ssl.mode.or_else(|| env("PGSSLMODE"));
        let tls = decide(mode.as_deref(), &hosts)
            .map_err(|why| StoreError::BadUrl(format!("{}: {why}", redact(&ssl.url))))?;
        c.ssl_mode(match tls {
            PgTls::Off => postgres::config::SslMode::Disable,
            PgTls::Verified => postgres::config::SslMode::Require,
        });
        let ca_file = self
            .ca_file
            .clone()
            .or(ssl.root_cert)
            .or_else(|| env("PGSSLROOTCERT").map(PathBuf::from));
        Ok(PgConnection {
            config: c,
            tls,
            ca_file,
        })
    }

    fn config_with(
        &self,
        url: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<postgres::Config, StoreError> {
        let mut c = postgres::Config::from_str(url)
            .map_err(|e| StoreError::BadUrl(format!("{}: {e}", redact(url))))?;
        if c.get_hosts().is_empty() {
            match env("PGHOST") {
                Some(h) if h.starts_with('/') => c.host_path(Path::new(&h)),
                Some(h) => c.host(&h),
                None => c.host("localhost"),
            };
        }
        if c.get_ports().is_empty() {
            if let Some(p) = env("PGPORT").and_then(|p| p.parse::<u16>().ok()) {
                c.port(p);
            }
        }
        if c.get_user().is_none() {
            if let Some(u) = env("PGUSER") {
                c.user(&u);
            }
        }
        if c.get_dbname().is_none() {
            if let Some(d) = env("PGDATABASE") {
                c.dbname(&d);
            }
        }
        if let Some(path) = &self.password_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| StoreError::PasswordFile {
                    path: path.clone(),
                    source,
                })?;
            c.password(text.lines().next().unwrap_or_default().trim_end());
        } else if c.get_password().is_none() {
            if let Some(p) = env("PGPASSWORD") {
                c.password(&p);
            }
        }
        c.application_name("digestd");
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, password_file: Option<PathBuf>) -> PgSettings {
        PgSettings {
            url: url.into(),
            password_file,
            pool_size: 2,
            ca_file: None,
        }
    }

    #[test]
    fn urls_and_files_are_told_apart() {
        assert!(matches!(
            StoreLocation::parse_arg("postgres://u@127.0.0.1:5/db"),
            StoreLocation::Postgres(_)
        ));
        assert_eq!(
            StoreLocation::parse_arg("/var/lib/digestd/s.sqlite"),
            StoreLocation::File("/var/lib/digestd/s.sqlite".into())
        );
    }

    #[test]
    fn the_password_comes_from_the_file_then_the_environment_and_is_never_shown() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").expect("write");
        let env = |k: &str| match k {
            "PGPASSWORD" => Some("from-env".to_string()),
            "PGUSER" => Some("envuser".to_string()),
            _ => None,
        };
        let c = settings("postgres://127.0.0.1:5433/digestd", Some(file))
            .connection_with(&env)
            .map(|c| c.config)
            .expect("config");
        assert_eq!(c.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(c.get_user(), Some("envuser"));
        let c = settings("postgres://u@127.0.0.1/d", None)
            .connection_with(&env)
            .map(|c| c.config)
            .expect("config");
        assert_eq!(c.get_password(), Some(&b"from-env"[..]));
        let missing = settings("postgres://u@h/d", Some(dir.path().join("none")))
            .connection_with(&env)
            .map(|c| c.config)
            .expect_err("no file");
        assert!(missing.to_string().contains("none"), "{missing}");
        let shown = format!("{:?}", settings("postgres://u:hunter2@h/d", None));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    fn settings(url: &str) -> PgSettings {
        PgSettings {
            url: url.into(),
            password_file: None,
            pool_size: 2,
            ca_file: None,
        }
    }

    #[test]
    fn tls_follows_the_host_the_url_and_the_environment() {
        let none = |_: &str| None;
        let local = settings("postgres://u@127.0.0.1:5432/d").connection_with(&none);
        assert_eq!(local.expect("local").tls, PgTls::Off);
        let remote = settings("postgres://u@db.example.org/d?sslrootcert=/etc/pg-ca.pem")
            .connection_with(&none)
            .expect("remote");
        assert_eq!(remote.tls, PgTls::Verified);
        assert_eq!(remote.ca_file, Some(PathBuf::from("/etc/pg-ca.pem")));
        let asked = settings("postgres://u@127.0.0.1/d?sslmode=verify-full")
            .connection_with(&none)
            .expect("verify-full is understood");
        assert_eq!(asked.tls, PgTls::Verified);
        let env = |k: &str| (k == "PGSSLMODE").then(|| "disable".to_string());
        let refused = settings("postgres://u:pw@db.example.org/d")
            .connection_with(&env)
            .expect_err("clear text off this machine");
        let text = refused.to_string();
        assert!(text.contains("in clear") && !text.contains("pw@"), "{text}");
    }
}
