//! Raw configuration → [`Config`]: defaults, relative paths, cross-references, and every problem
//! found, each with its file, line and key.
//!
//! Pure: file existence (templates, locale strings, password file) is not checked here but
//! returned as [`Requirement`]s for the caller to check, so this stays testable without a disk.

use crate::config::DaemonConfig;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono_tz::Tz;
use toml::Spanned;

use super::checks;
use super::doc::LineIndex;
use super::people_csv::{At, PersonIn};
use super::raw::{self, Int, RawConfig, Str, TransportKind};
use super::{
    Config, ConfigProblem, DigestConfig, InboundConfig, MailConfig, TlsMode, TransportConfig,
};
use crate::model::{self, Frequency, Group, Person, Role, Schedule};

/// Template used by a role without `template`.
pub const DEFAULT_TEMPLATE: &str = "digest";
/// `[digest] templates` when absent, relative to the config file's directory.
pub const DEFAULT_TEMPLATES_DIR: &str = "../templates";
/// `[mail.transport] command` for `kind = "sendmail"` when absent.
pub const DEFAULT_SENDMAIL: &str = "/usr/sbin/sendmail";

/// Where the TOML came from and how to read its spans.
pub(crate) struct Ctx<'a> {
    /// The TOML file (as given).
    pub file: &'a Path,
    /// Directory relative paths are resolved against.
    pub base_dir: &'a Path,
    /// Span → line of the TOML text.
    pub lines: &'a LineIndex,
    /// Keys whose wrong values were already reported (and removed) by the parser.
    pub removed: &'a HashSet<String>,
}

/// What kind of file a [`Requirement`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequirementKind {
    /// A Handlebars template (`<templates>/<name>.{html,txt}.hbs`).
    Template,
    /// A locale strings file (`<templates>/i18n/<locale>.toml`).
    Locale,
    /// `[mail.transport] password_file`, whose contents become the SMTP password.
    PasswordFile,
    /// A connector's secret (`[forums.<name>] *_file`): must be readable; the connector reads it.
    SecretFile,
}

/// A file the configuration needs, with where to point when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// What it is.
    pub kind: RequirementKind,
    /// The file.
    pub path: PathBuf,
    /// Problem location when it is missing.
    pub file: PathBuf,
    /// Problem line.
    pub line: usize,
    /// Problem key.
    pub key: String,
    /// Why it is needed (appended to the message).
    pub needed_by: String,
}

/// Outcome of [`validate`].
#[derive(Debug)]
pub(crate) struct Checked {
    /// The configuration, when no problem was found (SMTP password from a file not yet read).
    pub config: Option<Config>,
    /// The problems.
    pub problems: Vec<ConfigProblem>,
    /// Files to check before accepting `config`.
    pub requirements: Vec<Requirement>,
}

/// Validates `raw` plus the people read from CSV.
pub(crate) fn validate(raw: RawConfig, csv_people: Vec<PersonIn>, ctx: &Ctx<'_>) -> Checked {
    let mut v = Validator {
        ctx,
        problems: Vec::new(),
        requirements: Vec::new(),
    };
    let org = v.organisation(raw.organisation.as_ref());
    let store_path = v.store(raw.store.as_ref());
    let mail = v.mail(raw.mail.as_ref());
    let (digest, templates_dir) = v.digest(raw.digest.as_ref());
    let inbound = v.inbound(raw.inbound.as_ref());
    let daemon = v.daemon(raw.daemon.as_ref());
    let http = v.http(raw.http.as_ref());
    let defaults = v.defaults(raw.defaults.as_ref());
    let forums = v.forums(&raw.forums);
    let (groups, group_ids) = v.groups(&raw.groups, &forums, &raw.forums);
    let (roles, role_names) = v.roles(&raw.roles, &group_ids, &defaults, &templates_dir, &raw);
    let mut people_in: Vec<PersonIn> = raw
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| v.person_in(i, p))
        .collect();
    people_in.extend(csv_people);
    let people = v.people(people_in, &role_names, &defaults, &templates_dir);

    let config = match (org, store_path, mail) {
        (Some((organisation, forum_url)), Some(store_path), Some(mail))
            if v.problems.is_empty() =>
        {
            Some(Config {
                source: ctx.file.to_path_buf(),
                store_path,
                templates_dir,
                organisation,
                forum_url,
                mail,
                digest,
                inbound,
                daemon,
                http,
                forums,
                groups,
                roles,
                people,
            })
        }
        _ => None,
    };
    Checked {
        config,
        problems: v.problems,
        requirements: v.requirements,
    }
}

/// `[defaults]`, resolved.
struct Defaults {
    time_zone: Tz,
    locale: String,
    frequency: Frequency,
}

/// Collects the problems and file requirements while turning raw sections into config values;
/// each section's checks are an `impl Validator` block (this file, and `forums.rs`).
pub(crate) struct Validator<'a> {
    pub(super) ctx: &'a Ctx<'a>,
    pub(super) problems: Vec<ConfigProblem>,
    pub(super) requirements: Vec<Requirement>,
}

/// `prefix.key`, or `key` when there is no prefix.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Validator<'_> {
    pub(super) fn line<T>(&self, s: &Spanned<T>) -> usize {
        self.ctx.lines.line(s.span().start)
    }

    pub(super) fn at(&self, s: &Str, key: String) -> At<String> {
        At {
            value: s.get_ref().trim().to_string(),
            line: self.line(s),
            key,
        }
    }

    fn problem_in(&mut self, file: &Path, line: usize, key: &str, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: file.to_path_buf(),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }

    pub(super) fn problem(&mut self, line: usize, key: &str, message: impl Into<String>) {
        let file = self.ctx.file;
        self.problem_in(file, line, key, message);
    }

    /// Reports a missing required key unless its wrong value was already reported.
    fn missing_in(&mut self, file: &Path, line: usize, key: &str, hint: &str) {
        if !self.ctx.removed.contains(key) {
            let msg = if hint.is_empty() {
                "missing key".to_string()
            } else {
                format!("missing key ({hint})")
            };
            self.problem_in(file, line, key, msg);
        }
    }

    pub(super) fn missing(&mut self, line: usize, key: &str, hint: &str) {
        let file = self.ctx.file;
        self.missing_in(file, line, key, hint);
    }

    /// A required non-empty string.
    pub(super) fn required_str(
        &mut self,
        v: Option<&Str>,
        table_line: usize,
        key: &str,
        hint: &str,
    ) -> Option<At<String>> {
        match v {
            Some(s) if !s.get_ref().trim().is_empty() => Some(self.at(s, key.to_string())),
            Some(s) => {
                let line = self.line(s);
                self.problem(line, key, "must not be empty");
                None
            }
            None => {
                self.missing(table_line, key, hint);
                None
            }
        }
    }

    /// An optional integer within `min..=max`.
    pub(super) fn int(
        &mut self,
        v: Option<&Int>,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> i64 {
        match v {
            None => default,
            Some(n) if (min..=max).contains(n.get_ref()) => *n.get_ref(),
            Some(n) => {
                let line = self.line(n);
                let msg = if max == i64::MAX {
                    format!("{} is out of range: must be at least {min}", n.get_ref())
                } else {
                    format!("{} is out of range: must be {min} to {max}", n.get_ref())
                };
                self.problem(line, key, msg);
                default
            }
        }
    }

    pub(super) fn path(&self, s: &str) -> PathBuf {
        lexical_normalize(&self.ctx.base_dir.join(s.trim()))
    }

    fn table_missing(&mut self, key: &str) {
        if !self.ctx.removed.contains(key) {
            self.problem(0, key, format!("missing table [{key}]"));
        }
    }

    fn organisation(
        &mut self,
        t: Option<&Spanned<raw::RawOrganisation>>,
    ) -> Option<(String, String)> {
        let Some(t) = t else {
            self.table_missing("organisation");
            return None;
        };
        let line = self.line(t);
        let name = self.required_str(t.get_ref().name.as_ref(), line, "organisation.name", "");
        let url = self.required_str(
            t.get_ref().forum_url.as_ref(),
            line,
            "organisation.forum_url",
            "base URL of the forum, for links",
        );
        let url = url.and_then(|u| match checks::check_http_url(&u.value) {
            Ok(u) => Some(u),
            Err(e) => {
                self.problem(u.line, &u.key, e);
                None
            }
        });
        Some((name?.value, url?))
    }

    fn store(&mut self, t: Option<&Spanned<raw::RawStore>>) -> Option<PathBuf> {
        let Some(t) = t else {
            self.table_missing("store");
            return None;
        };
        let line = self.line(t);
        let p = self.required_str(
            t.get_ref().path.as_ref(),
            line,
            "store.path",
            "the SQLite file, relative to this file",
        )?;
        Some(self.path(&p.value))
    }

    fn mail(&mut self, t: Option<&Spanned<raw::RawMail>>) -> Option<MailConfig> {
        let Some(t) = t else {
            self.table_missing("mail");
            return None;
        };
        let line = self.line(t);
        let m = t.get_ref();
        let from = self.required_str(
            m.from.as_ref(),
            line,
            "mail.from",
            "e.g. \"Groups <digest@example.org>\"",
        );
        let from = from.and_then(|f| match lettre::message::Mailbox::from_str(&f.value) {
            Ok(_) => Some(f.value),
            Err(e) => {
                self.problem(
                    f.line,
                    &f.key,
                    format!("`{}` is not a valid address: {e}", f.value),
                );
                None
            }
        });
        let reply_domain = self.required_str(
            m.reply_domain.as_ref(),
            line,
            "mail.reply_domain",
            "domain of reply addresses",
        );
        let reply_domain = reply_domain.and_then(|d| {
            let value = d.value.to_ascii_lowercase();
            let sample = format!("reply+{}@{value}", "0".repeat(40));
            match checks::check_domain(&value) {
                Err(e) => {
                    self.problem(d.line, &d.key, e);
                    None
                }
                Ok(()) if lettre::Address::from_str(&sample).is_err() => {
                    self.problem(
                        d.line,
                        &d.key,
                        format!("`{value}` cannot be used in an address"),
                    );
                    None
                }
                Ok(()) => Some(value),
            }
        });
        let list_id = match (&m.list_id, &reply_domain) {
            (Some(l), _) => {
                let l = self.at(l, "mail.list_id".into());
                match checks::check_domain(&l.value) {
                    Ok(()) => Some(l.value),
                    Err(e) => {
                        self.problem(l.line, &l.key, e);
                        None
                    }
                }
            }
            (None, Some(d)) => Some(format!("digest.{d}")),
            (None, None) => None,
        };
        let concurrency = self.int(m.concurrency.as_ref(), "mail.concurrency", 4, 1, 64) as usize;
        let transport = match &m.transport {
            Some(tr) => self.transport(tr),
            None => {
                self.missing(line, "mail.transport", "add a [mail.transport] table");
                None
            }
        };
        Some(MailConfig {
            from: from?,
            reply_domain: reply_domain?,
            list_id: list_id?,
            transport: transport?,
            concurrency,
        })
    }

    fn transport(&mut self, t: &Spanned<raw::RawTransport>) -> Option<TransportConfig> {
        let line = self.line(t);
        let tr = t.get_ref();
        let Some(kind) = &tr.kind else {
            self.missing(line, "mail.transport.kind", "maildir, smtp or sendmail");
            return None;
        };
        let kind_name = match kind.get_ref() {
            TransportKind::Smtp => "smtp",
            TransportKind::Sendmail => "sendmail",
            TransportKind::Maildir => "maildir",
        };
        // Keys that belong to another kind are mistakes (a forgotten `kind` change, a typo).
        let foreign: [(&str, Option<usize>, &[TransportKind]); 7] = [
            (
                "path",
                tr.path.as_ref().map(|s| self.line(s)),
                &[TransportKind::Maildir],
            ),
            (
                "host",
                tr.host.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
            ),
            (
                "port",
                tr.port.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
            ),
            (
                "tls",
                tr.tls.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
            ),
            (
                "user",
                tr.user.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
            ),
            (
                "password",
                tr.password.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
            ),
            (
                "command",
                tr.command.as_ref().map(|s| self.line(s)),
                &[TransportKind::Sendmail],
            ),
        ];
        let mut ok = true;
        for (key, at, kinds) in foreign {
            if let Some(l) = at {
                if !kinds.contains(kind.get_ref()) {
                    ok = false;
                    self.problem(
                        l,
                        &format!("mail.transport.{key}"),
                        format!("not used with kind = \"{kind_name}\""),
                    );
                }
            }
        }
        if let (Some(pf), false) = (&tr.password_file, *kind.get_ref() == TransportKind::Smtp) {
            ok = false;
            let l = self.line(pf);
            self.problem(
                l,
                "mail.transport.password_file",
                format!("not used with kind = \"{kind_name}\""),
            );
        }
        let result = match kind.get_ref() {
            TransportKind::Maildir => {
                let p = self.required_str(
                    tr.path.as_ref(),
                    line,
                    "mail.transport.path",
                    "the Maildir root folder",
                )?;
                TransportConfig::Maildir {
                    path: self.path(&p.value),
                }
            }
            TransportKind::Sendmail => {
                let command = match &tr.command {
                    Some(c) if c.get_ref().contains('/') => self.path(c.get_ref()),
                    Some(c) => PathBuf::from(c.get_ref().trim()),
                    None => PathBuf::from(DEFAULT_SENDMAIL),
                };
                TransportConfig::Sendmail { command }
            }
            TransportKind::Smtp => self.smtp(tr, line)?,
        };
        ok.then_some(result)
    }

    fn smtp(&mut self, tr: &raw::RawTransport, line: usize) -> Option<TransportConfig> {
        let host = self.required_str(
            tr.host.as_ref(),
            line,
            "mail.transport.host",
            "the SMTP relay's host name",
        );
        let tls = tr.tls.as_ref().map(|t| *t.get_ref()).unwrap_or_default();
        let default_port = if tls == TlsMode::Tls { 465 } else { 25 };
        let port = self.int(
            tr.port.as_ref(),
            "mail.transport.port",
            default_port,
            1,
            65535,
        ) as u16;
        let user = tr
            .user
            .as_ref()
            .map(|u| self.at(u, "mail.transport.user".into()));
        let password = tr.password.as_ref().map(|p| p.get_ref().clone());
        let has_secret = tr.password.is_some() || tr.password_file.is_some();
        let mut ok = true;
        if let (Some(p), Some(pf)) = (&tr.password, &tr.password_file) {
            ok = false;
            let (l1, l2) = (self.line(p), self.line(pf));
            self.problem(
                l2,
                "mail.transport.password_file",
                format!("give either password (line {l1}) or password_file, not both"),
            );
        }
        match (&user, has_secret) {
            (Some(u), false) => {
                ok = false;
                self.problem(u.line, &u.key, "user needs password or password_file");
            }
            (None, true) => {
                ok = false;
                let l = tr
                    .password
                    .as_ref()
                    .or(tr.password_file.as_ref())
                    .map_or(line, |s| self.line(s));
                self.problem(l, "mail.transport.user", "a password is set but no user");
            }
            _ => {}
        }
        if let Some(pf) = &tr.password_file {
            let at = self.at(pf, "mail.transport.password_file".into());
            self.requirements.push(Requirement {
                kind: RequirementKind::PasswordFile,
                path: self.path(&at.value),
                file: self.ctx.file.to_path_buf(),
                line: at.line,
                key: at.key,
                needed_by: String::new(),
            });
        }
        let host = host?;
        ok.then(|| TransportConfig::Smtp {
            host: host.value,
            port,
            tls,
            user: user.map(|u| u.value),
            password,
        })
    }

    fn digest(&mut self, t: Option<&Spanned<raw::RawDigest>>) -> (DigestConfig, PathBuf) {
        let d = DigestConfig::default();
        let Some(t) = t else {
            return (d, self.path(DEFAULT_TEMPLATES_DIR));
        };
        let r = t.get_ref();
        let templates = match &r.templates {
            Some(p) => self.path(p.get_ref()),
            None => self.path(DEFAULT_TEMPLATES_DIR),
        };
        let cfg = DigestConfig {
            max_threads: self.int(
                r.max_threads.as_ref(),
                "digest.max_threads",
                d.max_threads as i64,
                1,
                1000,
            ) as usize,
            max_highlights: self.int(
                r.max_highlights.as_ref(),
                "digest.max_highlights",
                d.max_highlights as i64,
                0,
                1000,
            ) as usize,
            send_empty: r.send_empty.unwrap_or(d.send_empty),
            token_days: self.int(
                r.token_days.as_ref(),
                "digest.token_days",
                d.token_days,
                1,
                3650,
            ),
            excerpt_chars: self.int(
                r.excerpt_chars.as_ref(),
                "digest.excerpt_chars",
                d.excerpt_chars as i64,
                1,
                100_000,
            ) as usize,
        };
        (cfg, templates)
    }

    fn daemon(&mut self, t: Option<&Spanned<raw::RawDaemon>>) -> DaemonConfig {
        let d = DaemonConfig::default();
        let Some(t) = t else { return d };
        let r = t.get_ref();
        let log_filter = match r.log_filter.as_ref() {
            None => d.log_filter,
            Some(f) => {
                let at = self.at(f, "daemon.log_filter".to_owned());
                if let Err(e) = crate::logging::parse_filter(&at.value) {
                    self.problem(
                        at.line,
                        &at.key,
                        format!(
                            "not a log filter (RUST_LOG syntax, e.g. \"info,digestd=debug\"): {e}"
                        ),
                    );
                }
                at.value
            }
        };
        DaemonConfig {
            log_filter,
            shutdown_timeout_secs: self.int(
                r.shutdown_timeout_secs.as_ref(),
                "daemon.shutdown_timeout_secs",
                d.shutdown_timeout_secs as i64,
                1,
                3600,
            ) as u64,
            inbound_poll_secs: self.int(
                r.inbound_poll_secs.as_ref(),
                "daemon.inbound_poll_secs",
                d.inbound_poll_secs as i64,
                1,
                86_400,
            ) as u64,
        }
    }

    fn http(
        &mut self,
        t: Option<&Spanned<crate::http::HttpConfig>>,
    ) -> Option<crate::http::HttpConfig> {
        let t = t?;
        let mut h = t.get_ref().clone();
        h.resolve_paths(self.ctx.base_dir);
        if let Some(secret) = &h.secret_file {
            if !secret.is_file() {
                let line = self.line(t);
                self.problem(
                    line,
                    "http.secret_file",
                    format!(
                        "{} does not exist (create it: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {0})",
                        secret.display()
                    ),
                );
            }
        }
        if let Some(url) = &h.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                let line = self.line(t);
                self.problem(
                    line,
                    "http.public_url",
                    "must start with https:// (or http:// for tests)",
                );
            }
        }
        Some(h)
    }

    fn inbound(&mut self, t: Option<&Spanned<raw::RawInbound>>) -> InboundConfig {
        let (threshold, max_bytes) = (3, 10 * 1024 * 1024);
        let Some(t) = t else {
            return InboundConfig {
                maildir: None,
                trusted_authserv_ids: Vec::new(),
                accept_spf: false,
                bounce_threshold: threshold,
                max_message_bytes: max_bytes,
                max_attachment_bytes: max_bytes,
                confirm_posts: false,
                imap: None,
            };
        };
        let r = t.get_ref();
        let mut ids = Vec::new();
        for (i, id) in r.trusted_authserv_ids.iter().enumerate() {
            let at = self.at(id, format!("inbound.trusted_authserv_ids[{i}]"));
            if at.value.is_empty() || at.value.contains(char::is_whitespace) {
                self.problem(
                    at.line,
                    &at.key,
                    "an authserv-id is a host name like mx.example.org",
                );
            } else {
                ids.push(at.value.to_ascii_lowercase());
            }
        }
        InboundConfig {
            maildir: r.maildir.as_ref().map(|p| self.path(p.get_ref())),
            trusted_authserv_ids: ids,
            accept_spf: r.accept_spf.unwrap_or(false),
            bounce_threshold: self.int(
                r.bounce_threshold.as_ref(),
                "inbound.bounce_threshold",
                threshold as i64,
                1,
                1000,
            ) as u32,
            max_message_bytes: self.int(
                r.max_message_bytes.as_ref(),
                "inbound.max_message_bytes",
                max_bytes as i64,
                1024,
                1 << 30,
            ) as usize,
            max_attachment_bytes: self.int(
                r.max_attachment_bytes.as_ref(),
                "inbound.max_attachment_bytes",
                max_bytes as i64,
                1024,
                1 << 30,
            ) as usize,
            confirm_posts: r.confirm_posts.unwrap_or(false),
            imap: r.imap.as_ref().and_then(|i| self.imap(i)),
        }
    }

    fn imap(&mut self, t: &Spanned<raw::RawImap>) -> Option<super::ImapConfig> {
        let line = self.line(t);
        let r = t.get_ref();
        let host = self.required_str(
            r.host.as_ref(),
            line,
            "inbound.imap.host",
            "the IMAP server",
        );
        let user = self.required_str(r.user.as_ref(), line, "inbound.imap.user", "the login");
        let password_file = self.required_str(
            r.password_file.as_ref(),
            line,
            "inbound.imap.password_file",
            "a file holding the password",
        );
        let tls = r.tls.as_ref().map(|t| *t.get_ref()).unwrap_or(TlsMode::Tls);
        let default_port = if tls == TlsMode::Tls { 993 } else { 143 };
        let port = self.int(r.port.as_ref(), "inbound.imap.port", default_port, 1, 65535) as u16;
        let poll_seconds = self.int(
            r.poll_seconds.as_ref(),
            "inbound.imap.poll_seconds",
            60,
            5,
            86_400,
        ) as u64;
        let name = |v: Option<&raw::Str>, default: &str| {
            v.map(|s| s.get_ref().trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Some(super::ImapConfig {
            host: host?.value,
            port,
            tls,
            user: user?.value,
            password_file: self.path(&password_file?.value),
            folder: name(r.folder.as_ref(), "INBOX"),
            processed_folder: name(r.processed_folder.as_ref(), "Processed"),
            poll_seconds,
            idle: r.idle.unwrap_or(false),
            ca_file: r.ca_file.as_ref().map(|p| self.path(p.get_ref())),
        })
    }

    fn time_zone(&mut self, file: &Path, at: &At<String>) -> Option<Tz> {
        match checks::parse_time_zone(&at.value) {
            Ok(tz) => Some(tz),
            Err(e) => {
                self.problem_in(file, at.line, &at.key, e);
                None
            }
        }
    }

    fn locale(&mut self, file: &Path, at: &At<String>) -> Option<String> {
        match checks::check_locale(&at.value) {
            Ok(()) => Some(at.value.to_ascii_lowercase()),
            Err(e) => {
                self.problem_in(file, at.line, &at.key, e);
                None
            }
        }
    }

    fn frequency(&mut self, file: &Path, at: &At<String>) -> Option<Frequency> {
        match checks::parse_frequency(&at.value) {
            Ok(f) => Some(f),
            Err(e) => {
                self.problem_in(file, at.line, &at.key, e);
                None
            }
        }
    }

    fn defaults(&mut self, t: Option<&Spanned<raw::RawDefaults>>) -> Defaults {
        let mut d = Defaults {
            time_zone: chrono_tz::UTC,
            locale: "en".into(),
            frequency: Frequency::Weekly,
        };
        let file = self.ctx.file;
        if let Some(t) = t {
            let r = t.get_ref();
            if let Some(tz) = &r.time_zone {
                let at = self.at(tz, "defaults.time_zone".into());
                d.time_zone = self.time_zone(file, &at).unwrap_or(d.time_zone);
            }
            if let Some(l) = &r.locale {
                let at = self.at(l, "defaults.locale".into());
                d.locale = self.locale(file, &at).unwrap_or(d.locale);
            }
            if let Some(f) = &r.frequency {
                let at = self.at(f, "defaults.frequency".into());
                d.frequency = self.frequency(file, &at).unwrap_or(d.frequency);
            }
        }
        d
    }

    /// Valid groups, and every id written (so one bad group does not make roles fail too).
    fn groups(
        &mut self,
        raw: &[Spanned<raw::RawGroup>],
        forums: &[super::ForumConfig],
        written_forums: &BTreeMap<String, Spanned<super::forums::RawForum>>,
    ) -> (Vec<Group>, HashSet<String>) {
        let mut groups = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut ids = HashSet::new();
        for (i, g) in raw.iter().enumerate() {
            let line = self.line(g);
            let r = g.get_ref();
            let p = format!("groups[{i}]");
            let id = self.required_str(r.id.as_ref(), line, &join(&p, "id"), "[a-z0-9-]+");
            let name =
                self.required_str(r.name.as_ref(), line, &join(&p, "name"), "shown in digests");
            let Some(id) = id else { continue };
            ids.insert(id.value.clone());
            if let Err(e) = checks::check_group_id(&id.value) {
                self.problem(id.line, &id.key, e);
            }
            let lower = id.value.to_ascii_lowercase();
            if let Some(first) = seen.get(&lower) {
                let msg = format!(
                    "duplicate group id `{}` (first defined on line {first})",
                    id.value
                );
                self.problem(id.line, &id.key, msg);
                continue;
            }
            seen.insert(lower, id.line);
            let Some((forum_name, forum, source)) =
                self.group_source(&p, line, r, forums, written_forums)
            else {
                continue;
            };
            groups.push(Group {
                id: id.value,
                name: name.map(|n| n.value).unwrap_or_default(),
                forum,
                forum_name,
                source,
            });
        }
        (groups, ids)
    }

    /// Valid roles, and every role name written.
    fn roles(
        &mut self,
        raw: &[Spanned<raw::RawRole>],
        group_ids: &HashSet<String>,
        defaults: &Defaults,
        templates_dir: &Path,
        config: &RawConfig,
    ) -> (Vec<Role>, HashSet<String>) {
        let mut roles = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        // template name → (line, key, role names)
        let mut templates: BTreeMap<String, (usize, String, Vec<String>)> = BTreeMap::new();
        for (i, role) in raw.iter().enumerate() {
            let line = self.line(role);
            let r = role.get_ref();
            let p = format!("roles[{i}]");
            let name = self.required_str(
                r.name.as_ref(),
                line,
                &join(&p, "name"),
                "e.g. social-worker",
            );
            if let Some(n) = &name {
                if let Err(e) = checks::check_role_name(&n.value) {
                    self.problem(n.line, &n.key, e);
                }
                let lower = n.value.to_lowercase();
                if let Some(first) = seen.get(&lower) {
                    let msg = format!(
                        "duplicate role name `{}` (first defined on line {first})",
                        n.value
                    );
                    self.problem(n.line, &n.key, msg);
                } else {
                    seen.insert(lower, n.line);
                }
            }
            let mut groups = Vec::new();
            match &r.groups {
                None => self.missing(line, &join(&p, "groups"), "the group ids this role follows"),
                Some(g) if g.get_ref().is_empty() => {
                    let l = self.line(g);
                    self.problem(l, &join(&p, "groups"), "a role needs at least one group");
                }
                Some(g) => {
                    for (j, gid) in g.get_ref().iter().enumerate() {
                        let at = self.at(gid, format!("{p}.groups[{j}]"));
                        if !group_ids.contains(&at.value) {
                            let mut known: Vec<&str> =
                                group_ids.iter().map(String::as_str).collect();
                            known.sort_unstable();
                            let msg = format!(
                                "unknown group `{}` (groups: {})",
                                at.value,
                                known.join(", ")
                            );
                            self.problem(at.line, &at.key, msg);
                        } else if !groups.contains(&at.value) {
                            groups.push(at.value);
                        }
                    }
                }
            }
            let training_tags: Vec<String> = r
                .training_tags
                .iter()
                .map(|t| t.get_ref().trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            let time_zone = match &r.time_zone {
                Some(tz) => {
                    let at = self.at(tz, join(&p, "time_zone"));
                    let file = self.ctx.file;
                    self.time_zone(file, &at)
                }
                None => Some(defaults.time_zone),
            };
            let cron = self.required_str(
                r.schedule.as_ref(),
                line,
                &join(&p, "schedule"),
                "cron with seconds, e.g. \"0 30 7 * * Mon-Fri\"",
            );
            let cron = match (cron, time_zone) {
                (Some(c), Some(tz)) => match checks::check_cron(&c.value, tz) {
                    Ok(()) => Some(c.value.split_whitespace().collect::<Vec<_>>().join(" ")),
                    Err(e) => {
                        self.problem(c.line, &c.key, e);
                        None
                    }
                },
                _ => None,
            };
            let template = match &r.template {
                Some(t) => {
                    let at = self.at(t, join(&p, "template"));
                    match checks::check_template_name(&at.value) {
                        Ok(()) => Some(at),
                        Err(e) => {
                            self.problem(at.line, &at.key, e);
                            None
                        }
                    }
                }
                None => None,
            };
            let (tpl_name, tpl_line, tpl_key) = match &template {
                Some(t) => (t.value.clone(), t.line, t.key.clone()),
                None => match config
                    .digest
                    .as_ref()
                    .and_then(|d| d.get_ref().templates.as_ref())
                {
                    Some(dir) => (
                        DEFAULT_TEMPLATE.to_string(),
                        self.line(dir),
                        "digest.templates".to_string(),
                    ),
                    None => (DEFAULT_TEMPLATE.to_string(), line, join(&p, "template")),
                },
            };
            let role_name = name.as_ref().map_or_else(|| p.clone(), |n| n.value.clone());
            templates
                .entry(tpl_name)
                .or_insert((tpl_line, tpl_key, Vec::new()))
                .2
                .push(role_name);
            if let (Some(name), Some(cron), Some(tz)) = (name, cron, time_zone) {
                roles.push(Role {
                    name: name.value,
                    groups,
                    training_tags,
                    schedule: Schedule {
                        cron,
                        time_zone: tz,
                    },
                    template: template.map(|t| t.value),
                });
            }
        }
        for (name, (line, key, users)) in templates {
            for ext in ["html", "txt"] {
                self.requirements.push(Requirement {
                    kind: RequirementKind::Template,
                    path: templates_dir.join(format!("{name}.{ext}.hbs")),
                    file: self.ctx.file.to_path_buf(),
                    line,
                    key: key.clone(),
                    needed_by: format!(
                        "template `{name}` of {} {}",
                        if users.len() == 1 { "role" } else { "roles" },
                        users.join(", ")
                    ),
                });
            }
        }
        // Keep exact names for lookups; duplicates were reported above.
        let names = raw
            .iter()
            .filter_map(|r| {
                r.get_ref()
                    .name
                    .as_ref()
                    .map(|n| n.get_ref().trim().to_string())
            })
            .collect();
        (roles, names)
    }

    fn person_in(&self, i: usize, p: &Spanned<raw::RawPerson>) -> PersonIn {
        let r = p.get_ref();
        let k = format!("people[{i}]");
        let opt = |s: &Option<Str>, key: &str| s.as_ref().map(|s| self.at(s, join(&k, key)));
        PersonIn {
            file: self.ctx.file.to_path_buf(),
            line: self.line(p),
            key: k.clone(),
            email: opt(&r.email, "email"),
            name: opt(&r.name, "name"),
            roles: r.roles.as_ref().map(|roles| At {
                value: roles
                    .get_ref()
                    .iter()
                    .enumerate()
                    .map(|(j, s)| self.at(s, format!("{k}.roles[{j}]")))
                    .collect(),
                line: self.line(roles),
                key: join(&k, "roles"),
            }),
            time_zone: opt(&r.time_zone, "time_zone"),
            locale: opt(&r.locale, "locale"),
            frequency: opt(&r.frequency, "frequency"),
            matrix_id: opt(&r.matrix_id, "matrix_id"),
        }
    }

    fn people(
        &mut self,
        input: Vec<PersonIn>,
        role_names: &HashSet<String>,
        defaults: &Defaults,
        templates_dir: &Path,
    ) -> Vec<Person> {
        let mut people = Vec::new();
        let mut seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
        // locale → (file, line, key, count)
        let mut locales: BTreeMap<String, (PathBuf, usize, String, usize)> = BTreeMap::new();
        for p in input {
            let file = p.file.as_path();
            let email = match &p.email {
                Some(e) if !e.value.is_empty() => {
                    let norm = model::normalize_email(&e.value);
                    if let Err(err) = lettre::Address::from_str(&norm) {
                        self.problem_in(
                            file,
                            e.line,
                            &e.key,
                            format!("`{}` is not a valid address: {err}", e.value),
                        );
                        None
                    } else if let Some((f, l)) = seen.get(&norm) {
                        let msg =
                            format!("duplicate person `{norm}` (first at {}:{l})", f.display());
                        self.problem_in(file, e.line, &e.key, msg);
                        None
                    } else {
                        seen.insert(norm.clone(), (file.to_path_buf(), e.line));
                        Some(norm)
                    }
                }
                _ => {
                    self.missing_in(file, p.line, &join(&p.key, "email"), "");
                    None
                }
            };
            let name = match &p.name {
                Some(n) if !n.value.is_empty() => Some(n.value.clone()),
                _ => {
                    self.missing_in(
                        file,
                        p.line,
                        &join(&p.key, "name"),
                        "the person's display name",
                    );
                    None
                }
            };
            let mut roles = Vec::new();
            match &p.roles {
                None => self.missing_in(
                    file,
                    p.line,
                    &join(&p.key, "roles"),
                    "the role names this person holds",
                ),
                Some(rs) if rs.value.is_empty() => {
                    self.problem_in(file, rs.line, &rs.key, "a person needs at least one role");
                }
                Some(rs) => {
                    for r in &rs.value {
                        if role_names.contains(&r.value) {
                            if !roles.contains(&r.value) {
                                roles.push(r.value.clone());
                            }
                        } else {
                            let mut known: Vec<&str> =
                                role_names.iter().map(String::as_str).collect();
                            known.sort_unstable();
                            let msg =
                                format!("unknown role `{}` (roles: {})", r.value, known.join(", "));
                            self.problem_in(file, r.line, &r.key, msg);
                        }
                    }
                }
            }
            let time_zone = match &p.time_zone {
                Some(tz) => self.time_zone(file, tz),
                None => Some(defaults.time_zone),
            };
            let (locale, locale_at) = match &p.locale {
                Some(l) => (self.locale(file, l), (l.line, l.key.clone())),
                None => (
                    Some(defaults.locale.clone()),
                    (p.line, join(&p.key, "locale")),
                ),
            };
            if let Some(l) = &locale {
                locales
                    .entry(l.clone())
                    .or_insert((file.to_path_buf(), locale_at.0, locale_at.1, 0))
                    .3 += 1;
            }
            let frequency = match &p.frequency {
                Some(f) => self.frequency(file, f),
                None => Some(defaults.frequency),
            };
            let matrix_id = match &p.matrix_id {
                Some(m) => match crate::forum::matrix::people::check_user_id(&m.value) {
                    Ok(()) => Some(Some(m.value.clone())),
                    Err(e) => {
                        self.problem_in(file, m.line, &m.key, e.to_string());
                        None
                    }
                },
                None => Some(None),
            };
            if let (
                Some(email),
                Some(name),
                Some(time_zone),
                Some(locale),
                Some(frequency),
                Some(matrix_id),
            ) = (email, name, time_zone, locale, frequency, matrix_id)
            {
                people.push(Person {
                    email,
                    name,
                    roles,
                    time_zone,
                    locale,
                    frequency,
                    matrix_id,
                });
            }
        }
        for (locale, (file, line, key, count)) in locales {
            self.requirements.push(Requirement {
                kind: RequirementKind::Locale,
                path: templates_dir.join("i18n").join(format!("{locale}.toml")),
                file,
                line,
                key,
                needed_by: format!(
                    "locale `{locale}` of {count} {}",
                    if count == 1 { "person" } else { "people" }
                ),
            });
        }
        people
    }
}

/// `a/config/../outbox` → `a/outbox`, without touching the file system (the path may not exist
/// yet). A leading `..` that cannot be resolved is kept.
pub fn lexical_normalize(path: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod normalize_tests {
    use super::lexical_normalize;
    use std::path::Path;

    #[test]
    fn parent_components_are_resolved_lexically() {
        assert_eq!(
            lexical_normalize(Path::new("/a/config/../outbox")),
            Path::new("/a/outbox")
        );
        assert_eq!(
            lexical_normalize(Path::new("config/./../x")),
            Path::new("x")
        );
        assert_eq!(lexical_normalize(Path::new("../x")), Path::new("../x"));
    }
}
