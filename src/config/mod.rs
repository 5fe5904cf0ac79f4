//! Configuration: TOML (plus an optional people CSV) → a typed, validated [`Config`].
//!
//! Errors name the file, line and key, and every problem is reported at once. Paths in the file
//! are relative to the file's directory. The file format is documented by example in
//! `config/digestd.toml`.
//!
//! - `doc`: TOML text → raw structs, collecting all syntax/type/unknown-key problems;
//! - `raw`: the file as written (serde, spans);
//! - `people_csv`: the people CSV;
//! - `checks`: single-value checks (cron, time zone, domain, ...);
//! - `validate`: raw → [`Config`] with defaults and cross-references.
//!
//! Only this file touches the disk.

mod checks;
mod doc;
mod forums;
mod people_csv;
mod people_index;
mod raw;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::model::{Group, Person, Role};

pub use forums::{
    DiscourseSettings, FeedSettings, ForumConfig, ForumSettings, MatrixSettings, WebhookSettings,
    DEFAULT_DISCOURSE_USER, DEFAULT_MATRIX_USER_TEMPLATE, DEFAULT_POLL_SECONDS,
};
pub use people_index::PeopleIndex;

pub use checks::parse_cron;
pub use validate::{DEFAULT_SENDMAIL, DEFAULT_TEMPLATE, DEFAULT_TEMPLATES_DIR};

/// The annotated example configuration (`config/digestd.toml`), also the demo's configuration.
pub const EXAMPLE_TOML: &str = include_str!("../../config/digestd.toml");
/// The example people (`config/people.csv`) that [`EXAMPLE_TOML`] reads.
pub const EXAMPLE_PEOPLE_CSV: &str = include_str!("../../config/people.csv");

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub source: PathBuf,
    /// SQLite store path (`[store] path`; empty with `[store] url`).
    pub store_path: PathBuf,
    /// The PostgreSQL store (`[store] url`), instead of the SQLite file.
    pub store_url: Option<crate::store::PgSettings>,
    /// Directory holding the Handlebars templates (`[digest] templates`, default `../templates`).
    pub templates_dir: PathBuf,
    /// Organisation shown in digests (`[organisation] name`).
    pub organisation: String,
    /// Base URL of the forum's web interface, for links (`[organisation] forum_url`).
    pub forum_url: String,
    /// Mail settings.
    pub mail: MailConfig,
    /// Digest limits.
    pub digest: DigestConfig,
    /// Inbound (reply) settings.
    pub inbound: InboundConfig,
    /// `[daemon]`: logging and timing of `digestd run`, and the threads of digest runs.
    pub daemon: DaemonConfig,
    /// `[http]`: the optional endpoint (health, metrics, one-click unsubscribe); off when absent.
    pub http: Option<crate::http::HttpConfig>,
    /// Forum instances (`[forums.<name>]`), always including the built-in `local`.
    pub forums: Vec<ForumConfig>,
    /// Groups, in config order.
    pub groups: Vec<Group>,
    /// Roles, in config order.
    pub roles: Vec<Role>,
    /// People (inline and from `people_csv`), in order.
    pub people: Vec<Person>,
    /// Each group's ambassadors and when their weekly nudge goes out.
    pub ambassadors: AmbassadorConfig,
}

/// `[[groups]] ambassadors` and `[ambassadors]`: who looks after each group's newcomers and
/// unanswered questions, and when they are nudged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmbassadorConfig {
    /// When the nudge goes out (default Monday 09:00 in `[defaults] time_zone`).
    pub schedule: crate::model::Schedule,
    /// Group id → its ambassadors' addresses (normalised, each a configured person), in config
    /// order; groups without ambassadors are absent.
    pub by_group: std::collections::BTreeMap<String, Vec<String>>,
}

/// The nudge's schedule when `[ambassadors] schedule` is absent: Mondays at 09:00.
pub const DEFAULT_AMBASSADOR_SCHEDULE: &str = "0 0 9 * * Mon";

impl Default for AmbassadorConfig {
    fn default() -> Self {
        AmbassadorConfig {
            schedule: crate::model::Schedule {
                cron: DEFAULT_AMBASSADOR_SCHEDULE.into(),
                time_zone: chrono_tz::UTC,
            },
            by_group: Default::default(),
        }
    }
}

impl AmbassadorConfig {
    /// True when `email` is an ambassador of `group`.
    pub fn is_ambassador(&self, group: &str, email: &str) -> bool {
        let email = crate::model::normalize_email(email);
        self.by_group.get(group).is_some_and(|a| a.contains(&email))
    }

    /// Every ambassador, each with the groups they look after (config order), by address.
    pub fn ambassadors(&self) -> std::collections::BTreeMap<&str, Vec<&str>> {
        let mut out: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (group, emails) in &self.by_group {
            for e in emails {
                out.entry(e.as_str()).or_default().push(group.as_str());
            }
        }
        out
    }
}

/// `[mail]`: addresses and the transport.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// From address of digests, e.g. `Digests <digest@example.org>`.
    pub from: String,
    /// Domain of reply addresses (`reply+TOKEN@<reply_domain>`).
    pub reply_domain: String,
    /// List-Id value, e.g. `digests.example.org`.
    pub list_id: String,
    /// How messages leave.
    pub transport: TransportConfig,
    /// SMTP connections used at once (pool size).
    pub concurrency: usize,
}

/// TLS mode of an SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (loopback relays only).
    #[default]
    None,
    /// STARTTLS upgrade, required.
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

/// `[mail.transport]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportConfig {
    /// An SMTP relay.
    Smtp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// TLS mode.
        tls: TlsMode,
        /// Login user, if the relay needs one.
        user: Option<String>,
        /// Password (inline or read from `password_file`); `None` with `oauth`.
        password: Option<String>,
        /// Where OAuth access tokens come from (SASL XOAUTH2 as `user`), instead of a password.
        oauth: Option<crate::oauth::OAuthConfig>,
        /// Extra PEM CA bundle trusted besides the system roots.
        ca_file: Option<PathBuf>,
    },
    /// The local `sendmail` binary.
    Sendmail {
        /// Path to the binary (default `/usr/sbin/sendmail`).
        command: PathBuf,
    },
    /// A Maildir directory (the demo's outbox).
    Maildir {
        /// Maildir root (holding `tmp/`, `new/`, `cur/`).
        path: PathBuf,
    },
}

/// `[digest]`: what goes into a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestConfig {
    /// At most this many threads, then "and N more" (default 10).
    pub max_threads: usize,
    /// At most this many training highlights (default 5).
    pub max_highlights: usize,
    /// Send a digest even when it has nothing in it (default false).
    pub send_empty: bool,
    /// Reply tokens expire after this many days (default 90).
    pub token_days: i64,
    /// Characters of excerpt per thread (default 280).
    pub excerpt_chars: usize,
    /// At most this many questions in "Can you help?" (default 5; 0: no such section).
    pub max_questions: usize,
    /// A question is unanswered when nobody but its author has posted this long after it was
    /// asked (`unanswered_after = "2d"`; default two days).
    pub unanswered_after: chrono::Duration,
    /// A post with at least this many likes is a training highlight candidate (default 10;
    /// 0: likes alone never make one).
    pub highlight_min_likes: u32,
    /// At most this many highlights in a role's monthly best-of digest (default 10).
    pub best_of_highlights: usize,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            max_threads: 10,
            max_highlights: 5,
            send_empty: false,
            token_days: 90,
            excerpt_chars: 280,
            max_questions: 5,
            unanswered_after: chrono::Duration::days(2),
            highlight_min_likes: 10,
            best_of_highlights: 10,
        }
    }
}

/// `[daemon]`: how `digestd run` logs and paces itself, and how many threads a digest run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Log filter in RUST_LOG syntax (default `info`); reloaded on SIGHUP.
    pub log_filter: String,
    /// SIGTERM exits within this many seconds even if a send hangs (default 30).
    pub shutdown_timeout_secs: u64,
    /// How often the inbound Maildir is drained and queued replies retried (default 30; IMAP
    /// follows `[inbound.imap] poll_seconds`).
    pub inbound_poll_secs: u64,
    /// Threads that select and render a run's digests (default: the cores this process may
    /// use, [`crate::parallel::available_threads`]). The ledger is still written by one thread.
    pub threads: usize,
    /// How long a worker's claim on a slice of a digest run, a pending digest or a queued
    /// reply holds before another worker may take it over (default 60; see
    /// [`crate::worker`]).
    pub lease_seconds: u64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            log_filter: "info".into(),
            shutdown_timeout_secs: 30,
            inbound_poll_secs: 30,
            threads: crate::parallel::available_threads(),
            lease_seconds: crate::worker::DEFAULT_LEASE_SECS,
        }
    }
}

/// `[inbound]`: how replies arrive and are checked.
#[derive(Debug, Clone, Default)]
pub struct InboundConfig {
    /// Maildir watched by the daemon, if any.
    pub maildir: Option<PathBuf>,
    /// Mail servers (authserv-ids, lower case) whose Authentication-Results count: a reply
    /// needs their aligned pass when this is not empty; a new thread or a command by mail
    /// without a token acts at once only with it, and otherwise waits for the person's
    /// confirmation (see `crate::inbound::auth_results`, `crate::inbound::confirm`).
    pub trusted_authserv_ids: Vec<String>,
    /// An aligned `spf=pass` from a trusted server counts as well as `dkim=pass` (default
    /// false: SPF vouches for the envelope, which a forwarder rewrites and a sender chooses).
    pub accept_spf: bool,
    /// Bounces before an address is marked bouncing (default 3).
    pub bounce_threshold: u32,
    /// Largest message accepted for posting, bytes (default 10 MiB).
    pub max_message_bytes: usize,
    /// Attachments (images, documents) above this many bytes are listed as not kept (default
    /// 10 MiB).
    pub max_attachment_bytes: usize,
    /// Send the person a confirmation mail when their reply was posted (default false).
    pub confirm_posts: bool,
    /// `[inbound.imap]`: a mailbox polled by the daemon, if any.
    pub imap: Option<ImapConfig>,
}

/// `[inbound.imap]`: an IMAP mailbox the daemon polls for replies (see
/// `crate::inbound::receive::imap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapConfig {
    /// Server host name (also the TLS server name).
    pub host: String,
    /// Port (default 993 with `tls`, else 143).
    pub port: u16,
    /// `none` (loopback only), `starttls`, or `tls` (the default).
    pub tls: TlsMode,
    /// Login user.
    pub user: String,
    /// File holding the password (read at each poll, so it can be rotated without a restart);
    /// `None` exactly when `oauth` is set.
    pub password_file: Option<PathBuf>,
    /// Where OAuth access tokens come from (SASL XOAUTH2 or OAUTHBEARER as `user`), instead of
    /// a password.
    pub oauth: Option<crate::oauth::OAuthConfig>,
    /// Folder polled (default `INBOX`).
    pub folder: String,
    /// Folder processed messages are moved to (default `Processed`; created when missing).
    pub processed_folder: String,
    /// Seconds between polls (default 60). With `idle`, the longest wait before a poll anyway.
    pub poll_seconds: u64,
    /// Also wait with IMAP IDLE (RFC 2177) and poll as soon as the server announces new mail.
    pub idle: bool,
    /// Extra PEM CA bundle trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
}

/// Why a configuration was refused: every problem found, each naming file, line and key.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

/// One problem in a configuration file.
///
/// Shown as `file:line: key: message`; `:line` is left out when the line is unknown (0) and
/// `key: ` when there is no key (an unreadable file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// File the problem is in.
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// Dotted key, e.g. `roles[2].schedule` (0-based index); for a CSV file, the column.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigProblem {}

impl ConfigError {
    fn single(file: &Path, message: String) -> Self {
        ConfigError {
            problems: vec![ConfigProblem {
                file: file.to_path_buf(),
                line: 0,
                key: String::new(),
                message,
            }],
        }
    }
}

impl Config {
    /// Where the store is: `[store] url` (PostgreSQL) when set, else `[store] path`.
    pub fn store_location(&self) -> crate::store::StoreLocation {
        match &self.store_url {
            Some(pg) => crate::store::StoreLocation::Postgres(pg.clone()),
            None => crate::store::StoreLocation::File(self.store_path.clone()),
        }
    }

    /// Reads and validates `path` (and the people CSV it names).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::single(path, format!("cannot read the file: {e}")))?;
        Config::from_toml_str(&text, path)
    }

    /// Validates `text` as if read from `source`: relative paths (store, templates, people CSV,
    /// ...) resolve against `source`'s directory, and the files they name are read or checked.
    pub fn from_toml_str(text: &str, source: &Path) -> Result<Config, ConfigError> {
        let to_problem = |file: &Path, p: doc::DocProblem| ConfigProblem {
            file: file.to_path_buf(),
            line: p.line,
            key: p.key,
            message: p.message,
        };
        let lines = doc::LineIndex::new(text);
        let parsed = doc::parse_document::<raw::RawConfig>(text, &lines);
        let mut problems: Vec<ConfigProblem> = parsed
            .problems
            .into_iter()
            .map(|p| to_problem(source, p))
            .collect();
        let Some(raw) = parsed.value else {
            return Err(ConfigError { problems });
        };
        let base_dir = match source.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };

        let mut csv_people = Vec::new();
        if let Some(csv) = &raw.people_csv {
            let csv_path = base_dir.join(csv.get_ref().trim());
            match std::fs::read_to_string(&csv_path) {
                Ok(csv_text) => {
                    let (people, csv_problems) =
                        people_csv::parse_people_csv(&csv_text, csv_path.clone());
                    csv_people = people;
                    problems.extend(csv_problems.into_iter().map(|p| to_problem(&csv_path, p)));
                }
                Err(e) => problems.push(ConfigProblem {
                    file: source.to_path_buf(),
                    line: lines.line(csv.span().start),
                    key: "people_csv".into(),
                    message: format!("cannot read {}: {e}", csv_path.display()),
                }),
            }
        }

        let ctx = validate::Ctx {
            file: source,
            base_dir: &base_dir,
            lines: &lines,
            removed: &parsed.removed,
        };
        let checked = validate::validate(raw, csv_people, &ctx);
        problems.extend(checked.problems);

        let mut password_from_file = None;
        for req in checked.requirements {
            let missing = |message: String| ConfigProblem {
                file: req.file.clone(),
                line: req.line,
                key: req.key.clone(),
                message,
            };
            match req.kind {
                validate::RequirementKind::Template | validate::RequirementKind::Locale => {
                    if !req.path.is_file() {
                        let what = if req.kind == validate::RequirementKind::Template {
                            "template file"
                        } else {
                            "locale strings file"
                        };
                        problems.push(missing(format!(
                            "{what} {} not found (needed by {})",
                            req.path.display(),
                            req.needed_by
                        )));
                    }
                }
                validate::RequirementKind::SecretFile => {
                    if let Err(e) = std::fs::File::open(&req.path) {
                        problems.push(missing(format!(
                            "cannot read secret file {}: {e}",
                            req.path.display()
                        )));
                    }
                }
                validate::RequirementKind::PasswordFile => {
                    match std::fs::read_to_string(&req.path) {
                        Ok(s) => {
                            password_from_file = Some(s.trim_end_matches(['\r', '\n']).to_string())
                        }
                        Err(e) => problems.push(missing(format!(
                            "cannot read password file {}: {e}",
                            req.path.display()
                        ))),
                    }
                }
            }
        }

        match checked.config {
            Some(mut config) if problems.is_empty() => {
                if let (Some(secret), TransportConfig::Smtp { password, .. }) =
                    (password_from_file, &mut config.mail.transport)
                {
                    *password = Some(secret);
                }
                Ok(config)
            }
            _ => {
                // File order: the TOML file first, then the CSV; by line within each.
                problems.sort_by_key(|p| (p.file != source, p.line));
                Err(ConfigError { problems })
            }
        }
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The forum instance named `name` (`[forums.<name>]`, or `local`).
    pub fn forum(&self, name: &str) -> Option<&ForumConfig> {
        self.forums.iter().find(|f| f.name == name)
    }

    /// The group with id `id`.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The person with address `email` (normalised comparison). A scan of every person: to
    /// look up many, build [`Config::people_index`] once.
    pub fn person(&self, email: &str) -> Option<&Person> {
        let email = crate::model::normalize_email(email);
        self.people.iter().find(|p| p.email == email)
    }

    /// The configured people indexed by address, finding whom [`Config::person`] would.
    pub fn people_index(&self) -> PeopleIndex<'_> {
        PeopleIndex::new(&self.people)
    }
}

#[cfg(test)]
mod best_of_tests;
#[cfg(test)]
mod oauth_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Frequency;

    /// A directory with `config/`, `templates/` (digest, best-of, en/nl strings) and the given
    /// files.
    fn setup(toml: &str, extra: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for (path, text) in [
            ("templates/digest.html.hbs", "<p></p>"),
            ("templates/digest.txt.hbs", ""),
            ("templates/best_of.html.hbs", "<p></p>"),
            ("templates/best_of.txt.hbs", ""),
            ("templates/i18n/en.toml", ""),
            ("templates/i18n/nl.toml", ""),
            ("config/digestd.toml", toml),
        ]
        .iter()
        .chain(extra)
        {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, text).expect("write");
        }
        let cfg = root.join("config/digestd.toml");
        (dir, cfg)
    }

    const MINIMAL: &str = r#"
[organisation]
name = "Test"
forum_url = "https://forum.test.example/"

[store]
path = "../state/digestd.sqlite"

[mail]
from = "digest@test.example"
reply_domain = "Reply.Test.Example"

[mail.transport]
kind = "sendmail"

[[groups]]
id = "general"
name = "General"

[[roles]]
name = "staff"
groups = ["general", "general"]
training_tags = ["Training"]
schedule = "0  0 7 * * *"

[[people]]
email = " Anna@Test.Example "
name = "Anna"
roles = ["staff"]
"#;

    #[test]
    fn example_config_and_people_load() {
        let (_dir, path) = setup(EXAMPLE_TOML, &[("config/people.csv", EXAMPLE_PEOPLE_CSV)]);
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.organisation, "Gemeente Demodam");
        assert_eq!(cfg.groups.len(), 7);
        assert!(cfg.roles.len() >= 4);
        assert_eq!(cfg.people.len(), 20);
        assert!(cfg
            .roles
            .iter()
            .all(|r| r.groups.contains(&"all-staff".into())));
        let base = path.parent().expect("config dir");
        assert_eq!(
            cfg.store_path,
            validate::lexical_normalize(&base.join("../digestd.sqlite"))
        );
        assert_eq!(
            cfg.templates_dir,
            validate::lexical_normalize(&base.join("../templates"))
        );
        assert_eq!(
            cfg.mail.transport,
            TransportConfig::Maildir {
                path: validate::lexical_normalize(&base.join("../outbox"))
            }
        );
        let anna = cfg.person("A.Jansen@demodam.example").expect("anna");
        assert_eq!(anna.frequency, Frequency::Daily);
        assert_eq!(anna.time_zone, chrono_tz::Europe::Amsterdam);
        assert!(cfg.people.iter().any(|p| p.frequency == Frequency::Off));
        assert!(cfg.people.iter().any(|p| p.locale == "en"));
        assert!(cfg.role("social-worker").is_some());
        assert!(cfg.group("all-staff").is_some());
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let (_dir, path) = setup(MINIMAL, &[]);
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.forum_url, "https://forum.test.example");
        assert_eq!(cfg.mail.reply_domain, "reply.test.example");
        assert_eq!(cfg.mail.list_id, "digest.reply.test.example");
        assert_eq!(cfg.mail.concurrency, 4);
        assert_eq!(
            cfg.mail.transport,
            TransportConfig::Sendmail {
                command: PathBuf::from(DEFAULT_SENDMAIL)
            }
        );
        assert_eq!(cfg.digest, DigestConfig::default());
        assert_eq!(cfg.inbound.bounce_threshold, 3);
        assert_eq!(cfg.inbound.max_message_bytes, 10 * 1024 * 1024);
        assert_eq!(cfg.inbound.max_attachment_bytes, 10 * 1024 * 1024);
        assert!(!cfg.inbound.confirm_posts);
        let role = &cfg.roles[0];
        assert_eq!(role.groups, vec!["general".to_string()]);
        assert_eq!(role.training_tags, vec!["training".to_string()]);
        assert_eq!(role.schedule.cron, "0 0 7 * * *");
        assert_eq!(role.schedule.time_zone, chrono_tz::UTC);
        assert_eq!(role.template, None);
        let p = &cfg.people[0];
        assert_eq!(p.email, "anna@test.example");
        assert_eq!((p.locale.as_str(), p.frequency), ("en", Frequency::Weekly));
        assert_eq!(cfg.groups[0].forum, crate::model::ForumKind::Local);
    }

    #[test]
    fn smtp_password_comes_from_its_file_and_tls_changes_the_port() {
        let toml = MINIMAL.replace(
            "kind = \"sendmail\"",
            "kind = \"smtp\"\nhost = \"127.0.0.1\"\ntls = \"tls\"\nuser = \"u\"\npassword_file = \"secret\"",
        );
        let (_dir, path) = setup(&toml, &[("config/secret", "s3cret\n")]);
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.mail.transport,
            TransportConfig::Smtp {
                host: "127.0.0.1".into(),
                port: 465,
                tls: TlsMode::Tls,
                user: Some("u".into()),
                password: Some("s3cret".into()),
                oauth: None,
                ca_file: None,
            }
        );
    }

    #[test]
    fn plain_text_is_refused_off_loopback_and_ca_file_is_read() {
        let toml = MINIMAL.replace(
            "kind = \"sendmail\"",
            "kind = \"smtp\"\nhost = \"smtp.example.org\"\ntls = \"none\"",
        );
        let (_dir, path) = setup(&toml, &[]);
        let err = Config::load(&path).expect_err("plain text to a remote relay");
        let p = &err.problems[0];
        assert_eq!(p.key, "mail.transport.tls");
        assert!(p.message.contains("loopback"), "{}", p.message);
        assert!(p.line > 0);
        let toml = MINIMAL.replace(
            "kind = \"sendmail\"",
            "kind = \"smtp\"\nhost = \"smtp.example.org\"\ntls = \"starttls\"\nca_file = \"ca.pem\"",
        );
        let (dir, path) = setup(&toml, &[]);
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let TransportConfig::Smtp { ca_file, port, .. } = cfg.mail.transport else {
            panic!("smtp")
        };
        assert_eq!(port, 25);
        assert_eq!(ca_file, Some(dir.path().join("config").join("ca.pem")));
    }

    #[test]
    fn keys_of_another_transport_kind_are_refused() {
        let toml = MINIMAL.replace(
            "kind = \"sendmail\"",
            "kind = \"maildir\"\npath = \"out\"\nhost = \"x\"",
        );
        let (_dir, path) = setup(&toml, &[]);
        let err = Config::load(&path).expect_err("host with maildir");
        let p = &err.problems[0];
        assert_eq!(p.key, "mail.transport.host");
        assert!(p.message.contains("kind = \"maildir\""), "{}", p.message);
    }

    #[test]
    fn csv_people_merge_with_inline_and_duplicates_point_back() {
        let toml = format!("people_csv = \"people.csv\"\n{MINIMAL}");
        let csv = "email,name,roles,time_zone,locale,frequency\n\
                   b@test.example,B,staff,Europe/Amsterdam,nl,daily\n\
                   ANNA@test.example,Anna twice,staff,,,\n";
        let (_dir, path) = setup(&toml, &[("config/people.csv", csv)]);
        let err = Config::load(&path).expect_err("duplicate");
        assert_eq!(err.problems.len(), 1, "{err}");
        let p = &err.problems[0];
        assert!(p.file.ends_with("people.csv"));
        assert_eq!((p.line, p.key.as_str()), (3, "email"));
        assert!(p.message.contains("digestd.toml:28"), "{}", p.message);
    }

    #[test]
    fn missing_sections_and_keys_are_named() {
        let (_dir, path) = setup("[[groups]]\nid = \"g\"\n", &[]);
        let err = Config::load(&path).expect_err("incomplete");
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            vec!["organisation", "store", "mail", "groups[0].name"]
        );
        let shown = err.to_string();
        assert!(
            shown.contains("digestd.toml: organisation: missing table [organisation]"),
            "{shown}"
        );
        assert!(
            shown.contains("digestd.toml:1: groups[0].name: missing key"),
            "{shown}"
        );
    }

    #[test]
    fn a_wrong_type_is_reported_once_not_again_as_missing() {
        let toml = MINIMAL.replace("name = \"Anna\"", "name = 42");
        let (_dir, path) = setup(&toml, &[]);
        let err = Config::load(&path).expect_err("bad type");
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].key, "people[0].name");
        assert_eq!(err.problems[0].line, 28);
    }

    #[test]
    fn problem_display_is_file_line_key_message() {
        let p = ConfigProblem {
            file: PathBuf::from("c.toml"),
            line: 3,
            key: "mail.from".into(),
            message: "bad".into(),
        };
        assert_eq!(p.to_string(), "c.toml:3: mail.from: bad");
    }
}
