//! The one plain answer mail digestd sends back to a person: why a reply was not posted and what
//! to do, the items of a digest answered as a whole, or the confirmation of a command.
//!
//! Texts come from Handlebars templates in `templates/answers/<locale>/<key>.txt.hbs` (first line
//! `Subject: ...`, a blank line, then the body); the en and nl texts are built in and a file in
//! the configured templates directory overrides them. Whether to answer at all ([`may_answer`])
//! follows RFC 3834 and is pure.

use std::path::Path;

use handlebars::Handlebars;
use mail_parser::Message;
use serde::Serialize;

use crate::inbound::address::{Addresses, Sender};
use crate::inbound::classify;
use crate::outbound::message::{build_plain_answer, BuiltMessage, MessageError, PlainAnswer};

/// Built-in templates: (locale, key, text).
const BUILTIN: &[(&str, &str, &str)] = &include!("answer_templates.rs");

/// Locales with built-in texts.
pub const LOCALES: &[&str] = &["en", "nl"];

/// Errors while preparing an answer.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    /// A template failed to render.
    #[error("answer template {key}: {message}")]
    Template {
        /// Template key.
        key: String,
        /// What went wrong.
        message: String,
    },
    /// The message could not be built.
    #[error(transparent)]
    Build(#[from] MessageError),
}

/// One digest item listed in an answer to a digest as a whole.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ItemLink {
    /// Thread title (one line).
    pub title: String,
    /// `reply+TOKEN@domain`.
    pub address: String,
}

/// What a template can use.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AnswerContext {
    /// Recipient's display name.
    pub name: String,
    /// Subject of the mail answered.
    pub subject: String,
    /// Organisation name.
    pub organisation: String,
    /// Thread title, when the answer is about one thread.
    pub thread_title: Option<String>,
    /// Group id, for group mail.
    pub group: Option<String>,
    /// Group name (as configured), for group mail.
    pub group_name: Option<String>,
    /// The address a confirmation request is answered at (`confirm+TOKEN@domain`).
    pub confirm_address: Option<String>,
    /// When `digest now` may be asked again (local time of the person, with the zone).
    pub again_at: Option<String>,
    /// Items of a digest answered as a whole.
    pub items: Vec<ItemLink>,
    /// Largest accepted size in MB.
    pub max_mb: usize,
    /// The command address (`digest@domain`).
    pub command_address: String,
    /// Forum URL.
    pub forum_url: String,
    /// Link to the thread, when the answer is about one thread.
    pub thread_url: Option<String>,
    /// The forum's own words when it refused a post (e.g. "you have no account there").
    pub reason: Option<String>,
}

/// An answer ready to build: subject and text, localised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerText {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// The answer templates, loaded once.
pub struct Answerer {
    hbs: Handlebars<'static>,
}

impl std::fmt::Debug for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answerer").finish_non_exhaustive()
    }
}

impl Answerer {
    /// Built-in texts, overridden by `<templates_dir>/answers/<locale>/<key>.txt.hbs` files when
    /// `templates_dir` is given. A file that does not compile is skipped (the built-in text stays)
    /// and logged.
    pub fn new(templates_dir: Option<&Path>) -> Self {
        let mut hbs = Handlebars::new();
        hbs.register_escape_fn(handlebars::no_escape);
        for (locale, key, text) in BUILTIN {
            if let Err(e) = hbs.register_template_string(&format!("{locale}/{key}"), *text) {
                tracing::error!("built-in answer template {locale}/{key}: {e}");
            }
        }
        if let Some(dir) = templates_dir {
            let root = dir.join("answers");
            if let Ok(locales) = std::fs::read_dir(&root) {
                for locale in locales.flatten() {
                    let Ok(files) = std::fs::read_dir(locale.path()) else {
                        continue;
                    };
                    let lname = locale.file_name().to_string_lossy().into_owned();
                    for f in files.flatten() {
                        let fname = f.file_name().to_string_lossy().into_owned();
                        let Some(key) = fname.strip_suffix(".txt.hbs") else {
                            continue;
                        };
                        match std::fs::read_to_string(f.path()) {
                            Ok(text) => {
                                if let Err(e) =
                                    hbs.register_template_string(&format!("{lname}/{key}"), text)
                                {
                                    tracing::warn!("answer template {}: {e}", f.path().display());
                                }
                            }
                            Err(e) => tracing::warn!("answer template {}: {e}", f.path().display()),
                        }
                    }
                }
            }
        }
        Answerer { hbs }
    }

    /// Renders template `key` in `locale` (falling back to `en`).
    pub fn render(
        &self,
        locale: &str,
        key: &str,
        ctx: &AnswerContext,
    ) -> Result<AnswerText, AnswerError> {
        let lang = locale
            .split(['-', '_'])
            .next()
            .unwrap_or("en")
            .to_lowercase();
        let name = [format!("{lang}/{key}"), format!("en/{key}")]
            .into_iter()
            .find(|n| self.hbs.has_template(n))
            .ok_or_else(|| AnswerError::Template {
                key: key.into(),
                message: "no such template".into(),
            })?;
        let out = self
            .hbs
            .render(&name, ctx)
            .map_err(|e| AnswerError::Template {
                key: key.into(),
                message: e.to_string(),
            })?;
        Ok(split_subject(&out, key))
    }
}

fn split_subject(rendered: &str, key: &str) -> AnswerText {
    let rendered = rendered.trim_start_matches('\u{feff}');
    let (first, rest) = rendered.split_once('\n').unwrap_or((rendered, ""));
    match first.trim_end_matches('\r').strip_prefix("Subject:") {
        Some(s) => AnswerText {
            subject: s.trim().to_string(),
            text: rest.trim_start_matches(['\r', '\n']).to_string(),
        },
        None => AnswerText {
            subject: format!("digestd: {key}"),
            text: rendered.to_string(),
        },
    }
}

/// Why no answer may go to a sender (RFC 3834 §2), or `None` when one may.
pub fn may_answer(
    msg: &Message<'_>,
    sender: Option<&Sender>,
    addresses: &Addresses,
) -> Option<&'static str> {
    let Some(sender) = sender else {
        return Some("no sender");
    };
    if classify::return_path_is_null(msg) {
        return Some("null return path");
    }
    if classify::is_daemon_address(&sender.email) {
        return Some("mailer-daemon sender");
    }
    let local = sender.email.rsplit_once('@').map(|(l, _)| l).unwrap_or("");
    if local.ends_with("-request") || local.starts_with("owner-") || local.ends_with("-owner") {
        return Some("list address");
    }
    if addresses.is_own(&sender.email) {
        return Some("own address");
    }
    if classify::auto_reply(msg).is_some() {
        return Some("auto-reply");
    }
    None
}

/// Header-safe Message-IDs of the mail answered: (In-Reply-To, References).
pub fn threading(msg: &Message<'_>) -> (Option<String>, Vec<String>) {
    let ok = |id: &str| {
        id.len() <= 900
            && id
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\'))
            && matches!(id.split_once('@'), Some((l, r)) if !l.is_empty() && !r.is_empty() && !r.contains('@'))
    };
    let parent = msg
        .message_id()
        .map(|m| m.trim().trim_matches(['<', '>']).to_string())
        .filter(|m| ok(m));
    let mut refs: Vec<String> = match msg.references() {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    refs.retain(|r| ok(r));
    // Keep the header short: the last 10 are enough for threading.
    if refs.len() > 10 {
        refs.drain(..refs.len() - 10);
    }
    (parent, refs)
}

/// Builds the answer mail to `to` for the message `msg` (null envelope sender,
/// `Auto-Submitted: auto-replied`, threaded with In-Reply-To/References; replies go to
/// `reply_to` when given, else to `from`).
pub fn build(
    from: &str,
    to: &Sender,
    text: &AnswerText,
    msg: &Message<'_>,
    message_id: &str,
    reply_to: Option<&str>,
) -> Result<BuiltMessage, AnswerError> {
    let (parent, refs) = threading(msg);
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let name = if to.name == to.email { "" } else { &to.name };
    Ok(build_plain_answer(&PlainAnswer {
        from,
        to_name: name,
        to_email: &to.email,
        subject: &text.subject,
        text: &text.text,
        message_id,
        date: chrono::Utc::now(),
        in_reply_to: parent.as_deref(),
        references: &refs,
        reply_to,
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    #[test]
    fn every_builtin_renders_in_both_locales() {
        let a = Answerer::new(None);
        let ctx = AnswerContext {
            name: "Ann".into(),
            subject: "Re: Budget".into(),
            items: vec![ItemLink {
                title: "Budget".into(),
                address: "reply+x@r.example".into(),
            }],
            ..Default::default()
        };
        let keys: Vec<&str> = BUILTIN
            .iter()
            .filter(|(l, _, _)| *l == "en")
            .map(|(_, k, _)| *k)
            .collect();
        assert!(keys.len() >= 15);
        for key in keys {
            for locale in LOCALES {
                let t = a.render(locale, key, &ctx).expect("renders");
                assert!(!t.subject.is_empty(), "{locale}/{key}");
                assert!(t.text.len() > 20, "{locale}/{key}");
            }
        }
        let refused = AnswerContext {
            reason: Some("anna@example.org has no account on the forum.".into()),
            thread_url: Some("https://forum.example.org/t/rota/42".into()),
            ..ctx.clone()
        };
        for locale in LOCALES {
            let t = a
                .render(locale, "forum-refused", &refused)
                .expect("renders");
            assert!(
                t.text.contains("has no account on the forum."),
                "{locale}: {}",
                t.text
            );
            assert!(
                t.text.contains("https://forum.example.org/t/rota/42"),
                "{locale}"
            );
        }
        let nl = a.render("nl_NL", "expired", &ctx).expect("nl");
        let en = a.render("fr", "expired", &ctx).expect("fallback");
        assert_ne!(nl.subject, en.subject);
    }

    #[test]
    fn never_answers_machines_or_lists() {
        let addrs = Addresses::new("r.example", "digest@example.org");
        fn p(raw: &str) -> mail_parser::Message<'_> {
            MessageParser::default().parse(raw.as_bytes()).expect("p")
        }
        let s = |e: &str| Sender {
            email: e.into(),
            name: e.into(),
        };
        let plain = p("From: a@x.org\r\nSubject: hi\r\n\r\nx");
        assert_eq!(may_answer(&plain, Some(&s("a@x.org")), &addrs), None);
        for e in [
            "MAILER-DAEMON@x.org",
            "staff-request@x.org",
            "owner-staff@x.org",
            "digest@example.org",
        ] {
            assert!(may_answer(&plain, Some(&s(&e.to_lowercase())), &addrs).is_some());
        }
        let null = p("Return-Path: <>\r\nFrom: a@x.org\r\n\r\nx");
        assert!(may_answer(&null, Some(&s("a@x.org")), &addrs).is_some());
    }
}
