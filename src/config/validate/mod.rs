//! Raw configuration → [`Config`]: defaults, relative paths, cross-references, and every problem
//! found, each with its file, line and key.
//!
//! One file per section of `raw.rs`, each an `impl Validator` block: `organisation`
//! (`[organisation]`, `[store]`), `mail` (`[mail]`, `[mail.transport]`), `digest`,
//! `inbound` (`[inbound]`, `[inbound.imap]`), `oauth` (a server block's `oauth = { … }`),
//! `daemon`, `http`, `defaults`, `groups`, `roles`, `people`, `ambassadors` (`[[groups]]
//! ambassadors`, `[ambassadors]`); `[forums.<name>]` is `config::forums`. This file holds the shared
//! helpers (lines, problems, required values) and [`validate`], which runs the sections in order.
//!
//! Pure: file existence (templates, locale strings, password file) is not checked here but
//! returned as [`Requirement`]s for the caller to check, so this stays testable without a disk.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::doc::LineIndex;
use super::people_csv::{At, PersonIn};
use super::raw::{Int, RawConfig, Str};
use super::{Config, ConfigProblem};

mod ambassadors;
mod daemon;
mod defaults;
mod digest;
mod groups;
mod http;
mod inbound;
mod mail;
mod oauth;
mod organisation;
mod people;
mod roles;

use defaults::Defaults;

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
    let ambassadors = v.ambassadors(&raw.groups, raw.ambassadors.as_ref(), &people, &defaults);

    let config = match (org, store_path, mail) {
        (Some((organisation, forum_url)), Some((store_path, store_url)), Some(mail))
            if v.problems.is_empty() =>
        {
            Some(Config {
                source: ctx.file.to_path_buf(),
                store_path,
                store_url,
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
                ambassadors,
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
