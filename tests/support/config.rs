//! The one config builder of the tests: [`Spec`] writes the test organisation's TOML
//! (Gemeente Testdam: one group `social-work`, one role `social-worker`, Alice) and every test
//! changes only what it needs: the transport, extra lines per section, other groups, roles and
//! people, raw tables at the end.

use std::path::{Path, PathBuf};

use super::repo_root;

/// A group in the config.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// Extra lines (`forum = "local"`).
    pub extra: String,
}

/// A role in the config.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// `name`.
    pub name: String,
    /// The group ids.
    pub groups: Vec<String>,
    /// The cron schedule (with seconds).
    pub schedule: String,
    /// Extra lines (`time_zone = …`, `training_tags = […]`).
    pub extra: String,
}

/// A person in the config.
#[derive(Debug, Clone)]
pub struct PersonSpec {
    /// `email`.
    pub email: String,
    /// `name`.
    pub name: String,
    /// The role names.
    pub roles: Vec<String>,
    /// Extra lines (`locale = "nl"`, `frequency = "off"`).
    pub extra: String,
}

impl GroupSpec {
    /// Group `id` named `name`.
    pub fn new(id: &str, name: &str) -> GroupSpec {
        GroupSpec {
            id: id.into(),
            name: name.into(),
            extra: String::new(),
        }
    }

    /// Group `id` named `name` on the forum `forum`, with its source keys in `source`
    /// (`room = "…"`, `category = "…"`, `feed_url = "…"`).
    pub fn on(id: &str, name: &str, forum: &str, source: &str) -> GroupSpec {
        GroupSpec {
            id: id.into(),
            name: name.into(),
            extra: format!("forum = \"{forum}\"\n{source}"),
        }
    }
}

impl RoleSpec {
    /// Role `name` over `groups` on `schedule`.
    pub fn new(name: &str, groups: &[&str], schedule: &str, extra: &str) -> RoleSpec {
        RoleSpec {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            schedule: schedule.into(),
            extra: extra.into(),
        }
    }
}

impl PersonSpec {
    /// `email` named `name` with `roles`, plus `extra` lines.
    pub fn new(email: &str, name: &str, roles: &[&str], extra: &str) -> PersonSpec {
        PersonSpec {
            email: email.into(),
            name: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            extra: extra.into(),
        }
    }
}

/// What goes into a test config; [`Spec::render`] writes the TOML.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `[organisation] name`.
    pub organisation: String,
    /// `[organisation] forum_url`.
    pub forum_url: String,
    /// `[store] path` (relative to the config file).
    pub store_path: String,
    /// `[store]` lines for PostgreSQL (`url = …`, `password_file = …`) instead of `path`.
    pub store_pg: Option<String>,
    /// `[mail] from`.
    pub from: String,
    /// `[mail] reply_domain`.
    pub reply_domain: String,
    /// The role's cron schedule (with seconds), for the default role.
    pub schedule: String,
    /// The default group's display name.
    pub group_name: String,
    /// The `[mail.transport]` body (default: a Maildir `outbox`).
    pub transport: String,
    /// Extra lines in `[mail]`.
    pub mail_extra: String,
    /// Extra lines in `[digest]`.
    pub digest_extra: String,
    /// The templates directory (default: the repository's `templates/`).
    pub templates: PathBuf,
    /// Raw `[forums.<name>]` tables (the platforms the groups live on; default: none, every
    /// group on the built-in forum).
    pub forums: String,
    /// The groups; empty: the one group `social-work` named [`Spec::group_name`].
    pub groups: Vec<GroupSpec>,
    /// The roles; empty: the one role `social-worker` over `social-work` on
    /// [`Spec::schedule`] in Europe/Amsterdam.
    pub roles: Vec<RoleSpec>,
    /// People: (email, name), all with [`Spec::person_roles`] and [`Spec::person_extra`].
    pub people: Vec<(String, String)>,
    /// The roles every person of [`Spec::people`] holds (default: `social-worker`).
    pub person_roles: Vec<String>,
    /// Extra lines for every person of [`Spec::people`] (default: `frequency = "daily"`).
    pub person_extra: String,
    /// More people, each given in full (after [`Spec::people`]).
    pub persons: Vec<PersonSpec>,
    /// Raw TOML appended at the end (e.g. `[daemon]`, `[http]`, `[inbound]` tables).
    pub tail: String,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            organisation: "Gemeente Testdam".into(),
            forum_url: "https://forum.testdam.example".into(),
            store_path: "digestd.sqlite".into(),
            store_pg: None,
            from: "Testdam Groups <digest@testdam.example>".into(),
            reply_domain: "reply.testdam.example".into(),
            schedule: "0 0 7 * * Mon-Fri".into(),
            group_name: "Social work".into(),
            transport: "kind = \"maildir\"\npath = \"outbox\"".into(),
            mail_extra: String::new(),
            digest_extra: String::new(),
            templates: repo_root().join("templates"),
            forums: String::new(),
            groups: Vec::new(),
            roles: Vec::new(),
            people: vec![("alice@testdam.example".into(), "Alice Aalders".into())],
            person_roles: vec!["social-worker".into()],
            person_extra: "frequency = \"daily\"".into(),
            persons: Vec::new(),
            tail: String::new(),
        }
    }
}

impl Spec {
    /// `[mail.transport]` for an SMTP server on 127.0.0.1 without TLS.
    pub fn smtp(port: u16) -> String {
        format!("kind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"")
    }

    /// `count` people `p0@testdam.example` …
    pub fn numbered_people(count: usize) -> Vec<(String, String)> {
        (0..count)
            .map(|i| (format!("p{i}@testdam.example"), format!("Person {i}")))
            .collect()
    }

    /// The config text.
    pub fn render(&self) -> String {
        let list = |items: &[String]| {
            items
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = format!(
            r#"
[organisation]
name = "{organisation}"
forum_url = "{forum_url}"

[store]
{store}

[mail]
from = "{from}"
reply_domain = "{reply_domain}"
{mail_extra}

[mail.transport]
{transport}

[digest]
templates = "{templates}"
{digest_extra}
"#,
            organisation = self.organisation,
            forum_url = self.forum_url,
            store = match &self.store_pg {
                Some(lines) => lines.clone(),
                None => format!("path = \"{}\"", self.store_path),
            },
            from = self.from,
            reply_domain = self.reply_domain,
            mail_extra = self.mail_extra,
            transport = self.transport,
            templates = self.templates.display(),
            digest_extra = self.digest_extra,
        );
        out.push_str(&self.forums);
        out.push('\n');
        let default_group = [GroupSpec::new("social-work", &self.group_name)];
        let groups = if self.groups.is_empty() {
            &default_group[..]
        } else {
            &self.groups[..]
        };
        for g in groups {
            out.push_str(&format!(
                "\n[[groups]]\nid = \"{}\"\nname = \"{}\"\n{}\n",
                g.id, g.name, g.extra
            ));
        }
        let default_role = [RoleSpec::new(
            "social-worker",
            &["social-work"],
            &self.schedule,
            "time_zone = \"Europe/Amsterdam\"",
        )];
        let roles = if self.roles.is_empty() {
            &default_role[..]
        } else {
            &self.roles[..]
        };
        for r in roles {
            out.push_str(&format!(
                "\n[[roles]]\nname = \"{}\"\ngroups = [{}]\nschedule = \"{}\"\n{}\n",
                r.name,
                list(&r.groups),
                r.schedule,
                r.extra
            ));
        }
        let roles = list(&self.person_roles);
        for (email, name) in &self.people {
            out.push_str(&format!(
                "\n[[people]]\nemail = \"{email}\"\nname = \"{name}\"\nroles = [{roles}]\n{}\n",
                self.person_extra
            ));
        }
        for p in &self.persons {
            out.push_str(&format!(
                "\n[[people]]\nemail = \"{}\"\nname = \"{}\"\nroles = [{}]\n{}\n",
                p.email,
                p.name,
                list(&p.roles),
                p.extra
            ));
        }
        out.push('\n');
        out.push_str(&self.tail);
        out
    }

    /// Writes the config to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.render()).expect("writing the config");
    }

    /// Writes the config to `dir/digestd.toml` and returns that path.
    pub fn write_in(&self, dir: &Path) -> PathBuf {
        let path = dir.join("digestd.toml");
        self.write(&path);
        path
    }
}
