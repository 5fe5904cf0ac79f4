//! `[forums.<name>]` and each group's address on its forum: which platform instances digestd
//! talks to, and where each group lives there.
//!
//! One table per platform instance (`kind = "local" | "matrix" | "discourse" | "feed" |
//! "webhook"` plus that kind's keys); a group names its instance with `forum = "<name>"` and gives
//! the platform's own address of the group (`room`, `category` + `tags`, `feed_url` +
//! `thread_pattern`, `remote_id`). A `local` instance always exists, so a config that names no
//! forum keeps working on the built-in one. Secrets are read only from files (`*_file` keys),
//! checked for readability here and read by the connector when it opens.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::raw::{Int, RawGroup, Str};
use super::validate::{Requirement, RequirementKind, Validator};
use crate::model::{ForumKind, GroupSource, LOCAL_FORUM};

/// Seconds between two polls of a forum when `poll_seconds` is absent.
pub const DEFAULT_POLL_SECONDS: u64 = 60;
/// Matrix user id rule when `user_id_template` is absent.
pub const DEFAULT_MATRIX_USER_TEMPLATE: &str = "@{localpart}:{server_name}";
/// Discourse user digestd reads as when `api_username` is absent.
pub const DEFAULT_DISCOURSE_USER: &str = "system";

/// One platform instance (`[forums.<name>]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForumConfig {
    /// The table's name, which groups refer to with `forum = "<name>"`.
    pub name: String,
    /// What kind of platform it is.
    pub kind: ForumKind,
    /// Seconds between two polls of its groups by `digestd run`.
    pub poll_seconds: u64,
    /// The kind's own settings.
    pub settings: ForumSettings,
}

/// Settings of one kind of platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForumSettings {
    /// The built-in forum in the store file: nothing to set.
    Local,
    /// A Matrix homeserver reached as an application service.
    Matrix(MatrixSettings),
    /// A Discourse forum reached with an API key.
    Discourse(DiscourseSettings),
    /// RSS/Atom feeds (the URL is per group).
    Feed(FeedSettings),
    /// A bespoke platform connected by signed webhooks.
    Webhook(WebhookSettings),
}

/// `kind = "matrix"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixSettings {
    /// Base URL of the client-server API, e.g. `https://matrix.example.org`.
    pub homeserver: String,
    /// The homeserver's name, the part after `:` in user ids (`example.org`).
    pub server_name: String,
    /// File holding the application service's `as_token`.
    pub as_token_file: PathBuf,
    /// Localpart of the bot user that reads the rooms (within the appservice's namespace).
    pub bot_user: String,
    /// How a person's Matrix id is made when the people CSV gives none: `{localpart}` is the
    /// lower-cased local part of their address, `{server_name}` the setting above.
    pub user_id_template: String,
}

/// `kind = "discourse"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscourseSettings {
    /// Base URL of the forum, e.g. `https://forum.example.org`.
    pub url: String,
    /// File holding an all-users API key (`Api-Key`).
    pub api_key_file: PathBuf,
    /// User digestd reads as (`Api-Username` for collection).
    pub api_username: String,
}

/// `kind = "feed"` (each group names its feed URL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedSettings {
    /// File holding the value of an `Authorization` header sent with every request of this
    /// instance (`Basic …`, `Bearer …`), for feeds behind a login; `None`: public feeds.
    pub authorization_file: Option<PathBuf>,
}

/// `kind = "webhook"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// File holding the shared HMAC-SHA256 secret that signs both directions.
    pub secret_file: PathBuf,
    /// Where replies and new threads are POSTed; `None`: the platform is read-only.
    pub post_url: Option<String>,
}

/// `[forums.<name>]` as written: one flat table; which keys apply depends on `kind`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForum {
    pub kind: Option<Spanned<ForumKind>>,
    pub poll_seconds: Option<Int>,
    pub homeserver: Option<Str>,
    pub server_name: Option<Str>,
    pub as_token_file: Option<Str>,
    pub bot_user: Option<Str>,
    pub user_id_template: Option<Str>,
    pub url: Option<Str>,
    pub api_key_file: Option<Str>,
    pub api_username: Option<Str>,
    pub secret_file: Option<Str>,
    pub post_url: Option<Str>,
    pub authorization_file: Option<Str>,
}

impl RawForum {
    /// Every key that was written, with its line, and the kinds it belongs to.
    fn written(&self) -> Vec<(&'static str, &Str, &'static [ForumKind])> {
        use ForumKind::*;
        let keys: [(&'static str, &Option<Str>, &'static [ForumKind]); 11] = [
            ("homeserver", &self.homeserver, &[Matrix]),
            ("server_name", &self.server_name, &[Matrix]),
            ("as_token_file", &self.as_token_file, &[Matrix]),
            ("bot_user", &self.bot_user, &[Matrix]),
            ("user_id_template", &self.user_id_template, &[Matrix]),
            ("url", &self.url, &[Discourse]),
            ("api_key_file", &self.api_key_file, &[Discourse]),
            ("api_username", &self.api_username, &[Discourse]),
            ("secret_file", &self.secret_file, &[Webhook]),
            ("post_url", &self.post_url, &[Webhook]),
            ("authorization_file", &self.authorization_file, &[Feed]),
        ];
        keys.into_iter()
            .filter_map(|(k, v, kinds)| v.as_ref().map(|v| (k, v, kinds)))
            .collect()
    }
}

impl ForumConfig {
    /// The built-in forum, present in every config.
    pub fn local() -> ForumConfig {
        ForumConfig {
            name: LOCAL_FORUM.to_string(),
            kind: ForumKind::Local,
            poll_seconds: DEFAULT_POLL_SECONDS,
            settings: ForumSettings::Local,
        }
    }
}

/// True when `s` is an absolute `http://` or `https://` URL with a host.
fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .unwrap_or(false)
}

impl Validator<'_> {
    /// The forum instances: every `[forums.<name>]` that is valid, plus `local` when not written.
    /// A forum written but invalid is reported here and left out; groups naming it are then not
    /// reported again (see [`Validator::group_source`]'s `written`).
    pub(super) fn forums(&mut self, raw: &BTreeMap<String, Spanned<RawForum>>) -> Vec<ForumConfig> {
        let mut forums = Vec::new();
        for (name, table) in raw {
            if let Some(f) = self.forum(name, table) {
                forums.push(f);
            }
        }
        if !raw.contains_key(LOCAL_FORUM) {
            forums.insert(0, ForumConfig::local());
        }
        forums
    }

    fn forum(&mut self, name: &str, table: &Spanned<RawForum>) -> Option<ForumConfig> {
        let line = self.line(table);
        let r = table.get_ref();
        let p = format!("forums.{name}");
        if let Err(e) = super::checks::check_group_id(name) {
            self.problem(line, &p, format!("forum name: {e}"));
        }
        let Some(kind) = r.kind.as_ref().map(|k| *k.get_ref()) else {
            let kinds: Vec<&str> = ForumKind::ALL.iter().map(|k| k.as_str()).collect();
            self.missing(line, &format!("{p}.kind"), &kinds.join(" | "));
            return None;
        };
        if name == LOCAL_FORUM && kind != ForumKind::Local {
            let l = r.kind.as_ref().map_or(line, |k| self.line(k));
            self.problem(
                l,
                &format!("{p}.kind"),
                "the name `local` is kept for the built-in forum; give this forum another name",
            );
            return None;
        }
        let mut ok = true;
        for (key, value, kinds) in r.written() {
            if !kinds.contains(&kind) {
                let l = self.line(value);
                self.problem(
                    l,
                    &format!("{p}.{key}"),
                    format!("`{key}` does not apply to a forum of kind `{kind}`"),
                );
                ok = false;
            }
        }
        let poll_seconds = self.int(
            r.poll_seconds.as_ref(),
            &format!("{p}.poll_seconds"),
            DEFAULT_POLL_SECONDS as i64,
            1,
            86_400,
        ) as u64;
        let settings = match kind {
            ForumKind::Local => Some(ForumSettings::Local),
            ForumKind::Matrix => self.matrix(&p, line, r).map(ForumSettings::Matrix),
            ForumKind::Discourse => self.discourse(&p, line, r).map(ForumSettings::Discourse),
            ForumKind::Feed => self.feed(&p, line, r).map(ForumSettings::Feed),
            ForumKind::Webhook => self.webhook(&p, line, r).map(ForumSettings::Webhook),
        };
        let settings = settings.filter(|_| ok)?;
        Some(ForumConfig {
            name: name.to_string(),
            kind,
            poll_seconds,
            settings,
        })
    }

    /// A required `http(s)://` URL, without a trailing slash.
    fn url_key(&mut self, v: Option<&Str>, line: usize, key: &str, hint: &str) -> Option<String> {
        let at = self.required_str(v, line, key, hint)?;
        if !is_http_url(&at.value) {
            self.problem(
                at.line,
                key,
                format!("`{}` is not an http:// or https:// URL", at.value),
            );
            return None;
        }
        Some(at.value.trim_end_matches('/').to_string())
    }

    /// A required `*_file` key naming a secret: must be a readable file (checked after
    /// validation, with the other files).
    fn secret_file(&mut self, v: Option<&Str>, line: usize, key: &str) -> Option<PathBuf> {
        let at = self.required_str(v, line, key, "a file holding the secret")?;
        let path = self.path(&at.value);
        self.requirements.push(Requirement {
            kind: RequirementKind::SecretFile,
            path: path.clone(),
            file: self.ctx.file.to_path_buf(),
            line: at.line,
            key: at.key,
            needed_by: String::new(),
        });
        Some(path)
    }

    fn matrix(&mut self, p: &str, line: usize, r: &RawForum) -> Option<MatrixSettings> {
        let homeserver = self.url_key(
            r.homeserver.as_ref(),
            line,
            &format!("{p}.homeserver"),
            "the client-server API's base URL",
        );
        let server_name = self.required_str(
            r.server_name.as_ref(),
            line,
            &format!("{p}.server_name"),
            "the part after `:` in user ids",
        );
        let token = self.secret_file(
            r.as_token_file.as_ref(),
            line,
            &format!("{p}.as_token_file"),
        );
        let bot_user = self.required_str(
            r.bot_user.as_ref(),
            line,
            &format!("{p}.bot_user"),
            "localpart of the bot that reads the rooms",
        );
        if let Some(b) = &bot_user {
            if !is_matrix_localpart(&b.value) {
                self.problem(
                    b.line,
                    &b.key,
                    "a localpart: lower-case letters, digits and ._=-/ only, without @ or :",
                );
            }
        }
        let template = match &r.user_id_template {
            Some(t) => {
                let at = self.at(t, format!("{p}.user_id_template"));
                if !at.value.starts_with('@') || !at.value.contains("{localpart}") {
                    self.problem(
                        at.line,
                        &at.key,
                        "must start with `@` and contain `{localpart}`, e.g. `@{localpart}:{server_name}`",
                    );
                }
                at.value
            }
            None => DEFAULT_MATRIX_USER_TEMPLATE.to_string(),
        };
        Some(MatrixSettings {
            homeserver: homeserver?,
            server_name: server_name?.value,
            as_token_file: token?,
            bot_user: bot_user.filter(|b| is_matrix_localpart(&b.value))?.value,
            user_id_template: template,
        })
    }

    fn discourse(&mut self, p: &str, line: usize, r: &RawForum) -> Option<DiscourseSettings> {
        let url = self.url_key(
            r.url.as_ref(),
            line,
            &format!("{p}.url"),
            "the forum's base URL",
        );
        let key = self.secret_file(r.api_key_file.as_ref(), line, &format!("{p}.api_key_file"));
        let user = r
            .api_username
            .as_ref()
            .map(|u| u.get_ref().trim().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_DISCOURSE_USER.to_string());
        Some(DiscourseSettings {
            url: url?,
            api_key_file: key?,
            api_username: user,
        })
    }

    fn feed(&mut self, p: &str, line: usize, r: &RawForum) -> Option<FeedSettings> {
        let authorization_file = match &r.authorization_file {
            Some(f) => Some(self.secret_file(Some(f), line, &format!("{p}.authorization_file"))?),
            None => None,
        };
        Some(FeedSettings { authorization_file })
    }

    fn webhook(&mut self, p: &str, line: usize, r: &RawForum) -> Option<WebhookSettings> {
        let secret = self.secret_file(r.secret_file.as_ref(), line, &format!("{p}.secret_file"));
        let post_url = match &r.post_url {
            Some(u) => Some(self.url_key(Some(u), line, &format!("{p}.post_url"), "")?),
            None => None,
        };
        Some(WebhookSettings {
            secret_file: secret?,
            post_url,
        })
    }

    /// The forum instance and address of group `p` (`groups[i]`), checked against its forum's
    /// kind; `None` after reporting a problem.
    pub(super) fn group_source(
        &mut self,
        p: &str,
        line: usize,
        r: &RawGroup,
        forums: &[ForumConfig],
        written: &BTreeMap<String, Spanned<RawForum>>,
    ) -> Option<(String, ForumKind, GroupSource)> {
        let (forum_name, kind) = match &r.forum {
            None => (LOCAL_FORUM.to_string(), ForumKind::Local),
            Some(f) => {
                let at = self.at(f, format!("{p}.forum"));
                match forums.iter().find(|c| c.name == at.value) {
                    Some(c) => (c.name.clone(), c.kind),
                    // Its own problems are already reported.
                    None if written.contains_key(&at.value) => return None,
                    None => {
                        let mut names: Vec<&str> = written.keys().map(String::as_str).collect();
                        if !written.contains_key(LOCAL_FORUM) {
                            names.insert(0, LOCAL_FORUM);
                        }
                        self.problem(
                            at.line,
                            &at.key,
                            format!(
                                "unknown forum `{}` (forums: {}; add a [forums.{}] table)",
                                at.value,
                                names.join(", "),
                                at.value
                            ),
                        );
                        return None;
                    }
                }
            }
        };
        use ForumKind::*;
        let keys: [(&str, Option<&Str>, ForumKind); 5] = [
            ("room", r.room.as_ref(), Matrix),
            ("category", r.category.as_ref(), Discourse),
            ("feed_url", r.feed_url.as_ref(), Feed),
            ("thread_pattern", r.thread_pattern.as_ref(), Feed),
            ("remote_id", r.remote_id.as_ref(), Webhook),
        ];
        let mut ok = true;
        for (key, value, owner) in keys {
            if let Some(v) = value {
                if owner != kind {
                    let l = self.line(v);
                    self.problem(
                        l,
                        &format!("{p}.{key}"),
                        format!("`{key}` is for {owner} forums; forum `{forum_name}` is {kind}"),
                    );
                    ok = false;
                }
            }
        }
        if let Some(t) = r.tags.as_ref().filter(|_| kind != Discourse) {
            let l = self.line(t);
            self.problem(
                l,
                &format!("{p}.tags"),
                format!("`tags` is for discourse forums; forum `{forum_name}` is {kind}"),
            );
            ok = false;
        }
        let source = match kind {
            Local => Some(GroupSource::Local),
            Matrix => {
                let room = self.required_str(
                    r.room.as_ref(),
                    line,
                    &format!("{p}.room"),
                    "the room id `!…:server` or alias `#…:server`",
                );
                room.and_then(|room| {
                    if is_matrix_room(&room.value) {
                        Some(GroupSource::Matrix { room: room.value })
                    } else {
                        self.problem(
                            room.line,
                            &room.key,
                            format!(
                                "`{}` is neither a room id (`!…:server`) nor an alias (`#…:server`)",
                                room.value
                            ),
                        );
                        None
                    }
                })
            }
            Discourse => {
                let category = self.required_str(
                    r.category.as_ref(),
                    line,
                    &format!("{p}.category"),
                    "the category's slug or numeric id",
                );
                let tags = r
                    .tags
                    .as_ref()
                    .map(|t| {
                        t.get_ref()
                            .iter()
                            .map(|s| s.get_ref().trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                category.map(|c| GroupSource::Discourse {
                    category: c.value,
                    tags,
                })
            }
            Feed => {
                // Kept as written: a feed's `/feed/` and `/feed` are different URLs.
                let url = self
                    .url_key(
                        r.feed_url.as_ref(),
                        line,
                        &format!("{p}.feed_url"),
                        "the feed's URL",
                    )
                    .and(r.feed_url.as_ref().map(|u| u.get_ref().trim().to_string()));
                let pattern = match &r.thread_pattern {
                    None => Some(None),
                    Some(t) => {
                        let at = self.at(t, format!("{p}.thread_pattern"));
                        match regex::Regex::new(&at.value) {
                            Ok(re) if re.captures_len() >= 2 => Some(Some(at.value)),
                            Ok(_) => {
                                self.problem(
                                    at.line,
                                    &at.key,
                                    "needs a capture group `( … )`: its text is the thread key",
                                );
                                None
                            }
                            Err(e) => {
                                self.problem(at.line, &at.key, format!("not a valid regex: {e}"));
                                None
                            }
                        }
                    }
                };
                match (url, pattern) {
                    (Some(url), Some(thread_pattern)) => Some(GroupSource::Feed {
                        url,
                        thread_pattern,
                    }),
                    _ => None,
                }
            }
            Webhook => {
                let remote_id = match &r.remote_id {
                    Some(v) => self.at(v, format!("{p}.remote_id")).value,
                    None => {
                        r.id.as_ref()
                            .map(|i| i.get_ref().trim().to_string())
                            .unwrap_or_default()
                    }
                };
                Some(GroupSource::Webhook { remote_id })
            }
        };
        let source = source.filter(|_| ok)?;
        Some((forum_name, kind, source))
    }
}

/// A Matrix user localpart as the spec's historical grammar allows (lower case).
fn is_matrix_localpart(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b))
}

/// A room id (`!opaque:server`) or alias (`#name:server`).
fn is_matrix_room(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('!' | '#'))
        && s.find(':').is_some_and(|i| i > 1 && i + 1 < s.len())
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_addresses() {
        assert!(is_matrix_room("!abc:example.org"));
        assert!(is_matrix_room("#youth-care:example.org"));
        assert!(!is_matrix_room("youth-care"));
        assert!(!is_matrix_room("#:example.org"));
        assert!(!is_matrix_room("#a:"));
    }

    #[test]
    fn localparts() {
        assert!(is_matrix_localpart("digestd"));
        assert!(is_matrix_localpart("a.jansen"));
        assert!(!is_matrix_localpart("@digestd"));
        assert!(!is_matrix_localpart("Bot"));
        assert!(!is_matrix_localpart(""));
    }

    #[test]
    fn urls() {
        assert!(is_http_url("https://forum.example.org"));
        assert!(is_http_url("http://127.0.0.1:8008/"));
        assert!(!is_http_url("forum.example.org"));
        assert!(!is_http_url("ftp://x.example.org"));
    }
}
