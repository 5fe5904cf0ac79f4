//! `[inbound]` and `[inbound.imap]`: where replies come from and how strictly they are checked.

use toml::Spanned;

use crate::config::raw;
use crate::config::{InboundConfig, TlsMode};

use super::*;

impl Validator<'_> {
    pub(super) fn inbound(&mut self, t: Option<&Spanned<raw::RawInbound>>) -> InboundConfig {
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

    pub(super) fn imap(&mut self, t: &Spanned<raw::RawImap>) -> Option<crate::config::ImapConfig> {
        let line = self.line(t);
        let r = t.get_ref();
        let host = self.required_str(
            r.host.as_ref(),
            line,
            "inbound.imap.host",
            "the IMAP server",
        );
        let user = self.required_str(r.user.as_ref(), line, "inbound.imap.user", "the login");
        // A password file or oauth, exactly one.
        let (password_file, oauth) = match (&r.password_file, &r.oauth) {
            (Some(pf), Some(o)) => {
                let l = self.line(o);
                self.problem(
                    l,
                    "inbound.imap.oauth",
                    format!(
                        "give either password_file (line {}) or oauth, not both",
                        self.line(pf)
                    ),
                );
                (None, None)
            }
            (None, Some(o)) => (Some(None), self.oauth(o, "inbound.imap.oauth").map(Some)),
            (pf, None) => {
                let pf = self.required_str(
                    pf.as_ref(),
                    line,
                    "inbound.imap.password_file",
                    "a file holding the password, or oauth = { … }",
                );
                (pf.map(|p| Some(self.path(&p.value))), Some(None))
            }
        };
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
        if let (Some(h), TlsMode::None) = (&host, tls) {
            if !crate::mail_tls::is_loopback(&h.value) {
                let l = r.tls.as_ref().map_or(h.line, |t| self.line(t));
                self.problem(
                    l,
                    "inbound.imap.tls",
                    format!(
                        "plain text (tls = \"none\") is allowed only for a loopback server, not \
                         {:?}: use tls = \"tls\" or \"starttls\"",
                        h.value
                    ),
                );
            }
        }
        let name = |v: Option<&raw::Str>, default: &str| {
            v.map(|s| s.get_ref().trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Some(crate::config::ImapConfig {
            host: host?.value,
            port,
            tls,
            user: user?.value,
            password_file: password_file?,
            oauth: oauth?,
            folder: name(r.folder.as_ref(), "INBOX"),
            processed_folder: name(r.processed_folder.as_ref(), "Processed"),
            poll_seconds,
            idle: r.idle.unwrap_or(false),
            ca_file: r.ca_file.as_ref().map(|p| self.path(p.get_ref())),
        })
    }
}
