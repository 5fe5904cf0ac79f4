//! `[mail]` and `[mail.transport]`: sender, reply domain, concurrency, and the transport (SMTP,
//! sendmail, Maildir) with its settings.

use std::path::PathBuf;
use std::str::FromStr;

use toml::Spanned;

use crate::config::checks;
use crate::config::raw::{self, TransportKind};
use crate::config::{MailConfig, TlsMode, TransportConfig};

use super::*;

impl Validator<'_> {
    pub(super) fn mail(&mut self, t: Option<&Spanned<raw::RawMail>>) -> Option<MailConfig> {
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

    pub(super) fn transport(&mut self, t: &Spanned<raw::RawTransport>) -> Option<TransportConfig> {
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
        let foreign: [(&str, Option<usize>, &[TransportKind]); 9] = [
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
            (
                "oauth",
                tr.oauth.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
            ),
            (
                "ca_file",
                tr.ca_file.as_ref().map(|s| self.line(s)),
                &[TransportKind::Smtp],
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

    pub(super) fn smtp(&mut self, tr: &raw::RawTransport, line: usize) -> Option<TransportConfig> {
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
        let oauth = match &tr.oauth {
            Some(o) => {
                let at = self.line(o);
                if has_secret {
                    ok = false;
                    self.problem(
                        at,
                        "mail.transport.oauth",
                        "give either a password (password, password_file) or oauth, not both",
                    );
                } else if user.is_none() {
                    ok = false;
                    self.problem(
                        at,
                        "mail.transport.user",
                        "oauth needs user: the mailbox that logs in",
                    );
                }
                let config = self.oauth(o, "mail.transport.oauth");
                ok &= config.is_some();
                config
            }
            None => None,
        };
        match (&user, has_secret || tr.oauth.is_some()) {
            (Some(u), false) => {
                ok = false;
                self.problem(
                    u.line,
                    &u.key,
                    "user needs password, password_file or oauth",
                );
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
        if tls == TlsMode::None && !crate::mail_tls::is_loopback(&host.value) {
            ok = false;
            let l = tr.tls.as_ref().map_or(host.line, |t| self.line(t));
            self.problem(
                l,
                "mail.transport.tls",
                format!(
                    "plain text (tls = \"none\", the default) is allowed only for a loopback relay, \
                     not {:?}: use tls = \"starttls\" or \"tls\"",
                    host.value
                ),
            );
        }
        let ca_file = tr.ca_file.as_ref().map(|p| self.path(p.get_ref()));
        ok.then(|| TransportConfig::Smtp {
            host: host.value,
            port,
            tls,
            user: user.map(|u| u.value),
            password,
            oauth,
            ca_file,
        })
    }
}
