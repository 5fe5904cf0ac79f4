//! `check-config --online`: reaches every configured forum, checks its credentials and that
//! each of its groups exists there, and says per forum exactly what failed; then logs in to the
//! configured mail servers (the SMTP relay, the IMAP mailbox) and says per server what failed:
//! unreachable, the certificate refused (and why), the login refused.

use std::fmt;

use crate::config::{Config, ImapConfig, TransportConfig};
use crate::forum::open_forums;
use crate::model::Group;

/// What checking one forum instance found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForumCheck {
    /// The forum's name (`[forums.<name>]`).
    pub forum: String,
    /// Its kind, as written in config.
    pub kind: String,
    /// How many groups live on it.
    pub groups: usize,
    /// `Err`: what failed (not opened, credentials refused, a group missing, unreachable).
    pub result: Result<(), String>,
}

impl fmt::Display for ForumCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "forum {} ({}, {} groups): ",
            self.forum, self.kind, self.groups
        )?;
        match &self.result {
            Ok(()) => f.write_str("ok"),
            Err(e) => write!(f, "FAILED: {e}"),
        }
    }
}

/// Checks every forum that has at least one group (the built-in one always passes).
pub fn check_online(config: &Config) -> Vec<ForumCheck> {
    let forums = open_forums(config);
    config
        .forums
        .iter()
        .filter_map(|fc| {
            let groups: Vec<&Group> = config
                .groups
                .iter()
                .filter(|g| g.forum_name == fc.name)
                .collect();
            if groups.is_empty() {
                return None;
            }
            let result = forums
                .get(&fc.name)
                .and_then(|f| f.check_online(&groups))
                .map_err(|e| e.to_string());
            Some(ForumCheck {
                forum: fc.name.clone(),
                kind: fc.kind.to_string(),
                groups: groups.len(),
                result,
            })
        })
        .collect()
}

/// What logging in to one mail server found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCheck {
    /// `smtp` or `imap`.
    pub protocol: &'static str,
    /// `host:port`.
    pub server: String,
    /// TLS mode and user, as configured (`starttls, user digest`).
    pub how: String,
    /// `Err`: what failed, in words.
    pub result: Result<(), String>,
}

impl fmt::Display for ServerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}): ", self.protocol, self.server, self.how)?;
        match &self.result {
            Ok(()) => f.write_str("ok"),
            Err(e) => write!(f, "FAILED: {e}"),
        }
    }
}

/// Logs in to the SMTP relay (`[mail.transport] kind = "smtp"`) and the IMAP mailbox
/// (`[inbound.imap]`), whichever are configured. Blocking.
pub fn check_mail_servers(config: &Config) -> Vec<ServerCheck> {
    let mut checks = Vec::new();
    if let TransportConfig::Smtp {
        host,
        port,
        tls,
        user,
        ..
    } = &config.mail.transport
    {
        checks.push(ServerCheck {
            protocol: "smtp",
            server: format!("{host}:{port}"),
            how: how(*tls, user.as_deref()),
            result: check_smtp(config),
        });
    }
    if let Some(imap) = &config.inbound.imap {
        checks.push(ServerCheck {
            protocol: "imap",
            server: format!("{}:{}", imap.host, imap.port),
            how: how(imap.tls, Some(&imap.user)),
            result: check_imap(imap),
        });
    }
    checks
}

fn how(tls: crate::config::TlsMode, user: Option<&str>) -> String {
    let tls = match tls {
        crate::config::TlsMode::None => "no TLS",
        crate::config::TlsMode::Starttls => "starttls",
        crate::config::TlsMode::Tls => "tls",
    };
    match user {
        Some(u) => format!("{tls}, user {u}"),
        None => format!("{tls}, no login"),
    }
}

fn check_smtp(config: &Config) -> Result<(), String> {
    let outbound =
        crate::outbound::Outbound::from_config(&config.mail).map_err(|e| e.reason().to_string())?;
    let crate::outbound::Outbound::Smtp(smtp) = outbound else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a runtime: {e}"))?;
    rt.block_on(smtp.check_login())
        .map_err(|e| e.reason().to_string())
}

fn check_imap(imap: &ImapConfig) -> Result<(), String> {
    crate::inbound::receive::imap::check_login(imap).map_err(|e| e.to_string())
}
