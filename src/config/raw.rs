//! The configuration file exactly as written: serde structs with spans, every key optional.
//!
//! Keeping "what the admin wrote" apart from [`super::Config`] lets validation name the line of
//! each value and report a missing key itself, in its own words, instead of serde's first error.

use serde::Deserialize;
use toml::Spanned;

use super::TlsMode;

/// A string value with its span.
pub(crate) type Str = Spanned<String>;
/// An integer value with its span (range-checked later, with a clear message).
pub(crate) type Int = Spanned<i64>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub people_csv: Option<Str>,
    pub organisation: Option<Spanned<RawOrganisation>>,
    pub store: Option<Spanned<RawStore>>,
    pub mail: Option<Spanned<RawMail>>,
    pub digest: Option<Spanned<RawDigest>>,
    pub inbound: Option<Spanned<RawInbound>>,
    pub defaults: Option<Spanned<RawDefaults>>,
    pub daemon: Option<Spanned<RawDaemon>>,
    pub http: Option<Spanned<crate::http::HttpConfig>>,
    pub ambassadors: Option<Spanned<RawAmbassadors>>,
    #[serde(default)]
    pub forums: std::collections::BTreeMap<String, Spanned<super::forums::RawForum>>,
    #[serde(default)]
    pub groups: Vec<Spanned<RawGroup>>,
    #[serde(default)]
    pub roles: Vec<Spanned<RawRole>>,
    #[serde(default)]
    pub people: Vec<Spanned<RawPerson>>,
}

/// `[daemon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    pub log_filter: Option<Str>,
    pub shutdown_timeout_secs: Option<Int>,
    pub inbound_poll_secs: Option<Int>,
    pub threads: Option<Int>,
    pub lease_seconds: Option<Int>,
}

/// `[organisation]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrganisation {
    pub name: Option<Str>,
    pub forum_url: Option<Str>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub path: Option<Str>,
    pub url: Option<Str>,
    pub password_file: Option<Str>,
    pub pool_size: Option<Int>,
    pub ca_file: Option<Str>,
}

/// `[mail]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMail {
    pub from: Option<Str>,
    pub reply_domain: Option<Str>,
    pub list_id: Option<Str>,
    pub concurrency: Option<Int>,
    pub transport: Option<Spanned<RawTransport>>,
}

/// `[mail.transport] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TransportKind {
    Smtp,
    Sendmail,
    Maildir,
}

/// `[mail.transport]`: one flat table; which keys apply depends on `kind`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransport {
    pub kind: Option<Spanned<TransportKind>>,
    pub path: Option<Str>,
    pub host: Option<Str>,
    pub port: Option<Int>,
    pub tls: Option<Spanned<TlsMode>>,
    pub user: Option<Str>,
    pub password: Option<Str>,
    pub password_file: Option<Str>,
    pub command: Option<Str>,
    pub oauth: Option<Spanned<RawOAuth>>,
    pub ca_file: Option<Str>,
}

/// `[digest]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDigest {
    pub templates: Option<Str>,
    pub max_threads: Option<Int>,
    pub max_highlights: Option<Int>,
    pub send_empty: Option<bool>,
    pub token_days: Option<Int>,
    pub excerpt_chars: Option<Int>,
    pub max_questions: Option<Int>,
    pub unanswered_after: Option<Str>,
    pub highlight_min_likes: Option<Int>,
    pub best_of_highlights: Option<Int>,
}

/// `[inbound]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInbound {
    pub maildir: Option<Str>,
    #[serde(default)]
    pub trusted_authserv_ids: Vec<Str>,
    pub accept_spf: Option<bool>,
    pub bounce_threshold: Option<Int>,
    pub max_message_bytes: Option<Int>,
    pub max_attachment_bytes: Option<Int>,
    pub confirm_posts: Option<bool>,
    pub imap: Option<Spanned<RawImap>>,
}

/// `[inbound.imap]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImap {
    pub host: Option<Str>,
    pub port: Option<Int>,
    pub tls: Option<Spanned<TlsMode>>,
    pub user: Option<Str>,
    pub password_file: Option<Str>,
    pub folder: Option<Str>,
    pub processed_folder: Option<Str>,
    pub poll_seconds: Option<Int>,
    pub idle: Option<bool>,
    pub ca_file: Option<Str>,
    pub oauth: Option<Spanned<RawOAuth>>,
}

/// `oauth = { … }` in `[mail.transport]` or `[inbound.imap]`: one flat table; which keys apply
/// depends on `provider` (or `token_command`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth {
    pub provider: Option<Str>,
    pub tenant: Option<Str>,
    pub client_id: Option<Str>,
    pub client_secret_file: Option<Str>,
    pub service_account_file: Option<Str>,
    pub user: Option<Str>,
    pub token_url: Option<Str>,
    pub scope: Option<Str>,
    pub token_command: Option<Spanned<Vec<Str>>>,
}

/// `[defaults]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub time_zone: Option<Str>,
    pub locale: Option<Str>,
    pub frequency: Option<Str>,
}

/// `[[groups]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub id: Option<Str>,
    pub name: Option<Str>,
    /// Name of a `[forums.<name>]` table (absent: the built-in `local` forum).
    pub forum: Option<Str>,
    /// Matrix room id or alias.
    pub room: Option<Str>,
    /// Discourse category slug or id.
    pub category: Option<Str>,
    /// Discourse tags narrowing the category.
    pub tags: Option<Spanned<Vec<Str>>>,
    /// Feed URL.
    pub feed_url: Option<Str>,
    /// Feed: regex over an entry's link, capture 1 = thread key.
    pub thread_pattern: Option<Str>,
    /// Webhook platform's id of the group.
    pub remote_id: Option<Str>,
    /// People (addresses) who look after newcomers and unanswered questions of this group.
    pub ambassadors: Option<Spanned<Vec<Str>>>,
}

/// `[ambassadors]`: when the ambassadors' weekly nudge goes out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAmbassadors {
    pub schedule: Option<Str>,
    pub time_zone: Option<Str>,
}

/// `[[roles]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub name: Option<Str>,
    pub title: Option<Spanned<RawLocalText>>,
    pub groups: Option<Spanned<Vec<Str>>>,
    #[serde(default)]
    pub training_tags: Vec<Str>,
    pub schedule: Option<Str>,
    pub best_of: Option<Str>,
    pub time_zone: Option<Str>,
    pub template: Option<Str>,
}

/// A text written once (`"..."`) or per locale (`{ en = "...", nl = "..." }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawLocalText {
    Plain(String),
    ByLocale(std::collections::BTreeMap<String, String>),
}

/// `[[people]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPerson {
    pub email: Option<Str>,
    pub name: Option<Str>,
    pub roles: Option<Spanned<Vec<Str>>>,
    pub time_zone: Option<Str>,
    pub locale: Option<Str>,
    pub frequency: Option<Str>,
    pub matrix_id: Option<Str>,
}
