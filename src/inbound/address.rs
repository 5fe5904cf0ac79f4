//! digestd's own addresses in a message: which reply token, group or command address a mail was
//! sent to, and who sent it.
//!
//! **Invariant:** pure. Only addresses at the configured reply domain count; everything else in
//! To/Cc/Delivered-To/X-Original-To is somebody else's business.

use mail_parser::{Address, HeaderValue, Message};

use crate::inbound::raw_headers;
use crate::model::{normalize_email, GroupId, ReplyToken};

/// The addresses digestd owns, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// Reply domain, lower case (`reply+TOKEN@<reply_domain>`).
    pub reply_domain: String,
    /// Every address digestd sends from or receives on that is not plus-addressed (lower case):
    /// the digest From address and `digest@<reply_domain>`.
    pub own: Vec<String>,
}

impl Addresses {
    /// Local part of the command address (`digest@<reply domain>`).
    pub const COMMAND_LOCAL: &'static str = "digest";

    /// Builds the set from the reply domain and the digest From header value
    /// (`Digests <digest@example.org>` or a bare address).
    pub fn new(reply_domain: &str, from: &str) -> Self {
        let reply_domain = reply_domain.trim().trim_start_matches('@').to_lowercase();
        let mut own = vec![format!("{}@{}", Self::COMMAND_LOCAL, reply_domain)];
        if let Some(addr) = bare_address(from) {
            if !own.contains(&addr) {
                own.push(addr);
            }
        }
        Addresses { reply_domain, own }
    }

    /// From a loaded configuration.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::new(&config.mail.reply_domain, &config.mail.from)
    }

    /// The command address, `digest@<reply domain>`.
    pub fn command_address(&self) -> String {
        format!("{}@{}", Self::COMMAND_LOCAL, self.reply_domain)
    }

    /// True when `email` is one of digestd's addresses: an own address, or any address at the
    /// reply domain with a local part digestd hands out.
    pub fn is_own(&self, email: &str) -> bool {
        let email = normalize_email(email);
        if self.own.contains(&email) {
            return true;
        }
        self.target(&email).is_some()
    }

    /// What `email` addresses at digestd, if anything.
    pub fn target(&self, email: &str) -> Option<Target> {
        let email = normalize_email(email);
        let (local, domain) = email.rsplit_once('@')?;
        if domain != self.reply_domain {
            return None;
        }
        if local == Self::COMMAND_LOCAL {
            return Some(Target::Command(None));
        }
        let (tag, detail) = local.split_once('+')?;
        match tag {
            "reply" => ReplyToken::parse(detail).map(Target::Reply),
            crate::inbound::confirm::ADDRESS_TAG => ReplyToken::parse(detail).map(Target::Confirm),
            "group" if is_group_id(detail) => Some(Target::Group(detail.to_string())),
            "unsubscribe" | "digest" | "command" => {
                ReplyToken::parse(detail).map(|t| Target::Command(Some(t)))
            }
            _ => None,
        }
    }
}

/// What a recipient address of digestd means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `reply+TOKEN@domain`: a reply to one digest item.
    Reply(ReplyToken),
    /// `group+ID@domain`: a new thread in a group.
    Group(GroupId),
    /// `confirm+TOKEN@domain`: the reply to a confirmation request.
    Confirm(ReplyToken),
    /// `digest@domain`, or a command / List-Unsubscribe address carrying a token
    /// (`unsubscribe+TOKEN@domain`).
    Command(Option<ReplyToken>),
}

fn is_group_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The sender of a message: normalised address and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Lower-case address.
    pub email: String,
    /// Display name (the address when the header has none).
    pub name: String,
}

/// The From address, normalised (display name dropped, lower case). `None` when absent or unparsable.
pub fn sender(msg: &Message<'_>) -> Option<Sender> {
    let addr = msg.from()?.first()?;
    let email = normalize_email(addr.address.as_deref()?);
    if !email.contains('@') || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let name = addr
        .name
        .as_deref()
        .map(|n| n.trim().replace(['\r', '\n'], " "))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.clone());
    Some(Sender { email, name })
}

/// Every recipient address in To, Cc, Delivered-To, X-Original-To and Envelope-To (Exim's
/// `envelope_to_add`), normalised, in that order, without duplicates.
pub fn recipients(msg: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |a: &str| {
        let a = normalize_email(a);
        if !a.is_empty() && !out.contains(&a) {
            out.push(a);
        }
    };
    for list in msg.all_to().chain(msg.all_cc()) {
        push_address_list(list, &mut push);
    }
    for header in msg.headers() {
        let name = header.name.as_str();
        if name.eq_ignore_ascii_case("Delivered-To")
            || name.eq_ignore_ascii_case("X-Original-To")
            || name.eq_ignore_ascii_case("Envelope-To")
        {
            for part in raw_headers::value(msg, header).unwrap_or("").split(',') {
                push(part.trim());
            }
        }
    }
    out
}

fn push_address_list(list: &Address<'_>, push: &mut impl FnMut(&str)) {
    for addr in list.iter() {
        if let Some(a) = addr.address.as_deref() {
            push(a);
        }
    }
}

/// What the message was addressed to at digestd, in recipient order, without duplicates.
pub fn targets(addresses: &Addresses, msg: &Message<'_>) -> Vec<Target> {
    let mut out = Vec::new();
    for r in recipients(msg) {
        if let Some(t) = addresses.target(&r) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// Message-IDs in In-Reply-To then References (angle brackets stripped), without duplicates.
pub fn referenced_ids(msg: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in [msg.in_reply_to(), msg.references()] {
        let ids: Vec<&str> = match value {
            HeaderValue::Text(t) => vec![t.as_ref()],
            HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
            _ => Vec::new(),
        };
        for id in ids {
            let id = id.trim().trim_matches(|c| c == '<' || c == '>').to_string();
            if !id.is_empty() && !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The bare address in a header value like `Name <a@b>` or `a@b`, lower case.
pub fn bare_address(value: &str) -> Option<String> {
    let inner = match (value.rfind('<'), value.rfind('>')) {
        (Some(s), Some(e)) if s < e => &value[s + 1..e],
        _ => value,
    };
    let a = normalize_email(inner);
    a.contains('@').then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";

    fn addrs() -> Addresses {
        Addresses::new("Reply.Example.org", "Digests <digest@example.org>")
    }

    #[test]
    fn finds_token_case_insensitively_only_at_reply_domain() {
        let a = addrs();
        let upper = format!("REPLY+{}@REPLY.EXAMPLE.ORG", TOKEN.to_uppercase());
        assert!(matches!(a.target(&upper), Some(Target::Reply(_))));
        assert_eq!(a.target(&format!("reply+{TOKEN}@evil.example")), None);
        assert_eq!(a.target("reply+short@reply.example.org"), None);
        assert_eq!(
            a.target("group+social-work@reply.example.org"),
            Some(Target::Group("social-work".into()))
        );
        assert_eq!(
            a.target("digest@reply.example.org"),
            Some(Target::Command(None))
        );
        assert!(matches!(
            a.target(&format!("Confirm+{TOKEN}@reply.example.org")),
            Some(Target::Confirm(_))
        ));
        assert_eq!(a.target("confirm+nope@reply.example.org"), None);
        assert!(a.is_own("Digest@Example.org"));
        assert!(!a.is_own("someone@example.org"));
    }

    #[test]
    fn reads_all_recipient_headers_and_sender() {
        let raw = format!(
            "From: \"Ann Example\" <Ann@Example.ORG>\r\nTo: someone@x.org\r\nCc: group+planning@reply.example.org\r\nDelivered-To: reply+{TOKEN}@reply.example.org\r\nX-Original-To: other@x.org\r\nEnvelope-To: digest@reply.example.org\r\nSubject: hi\r\n\r\nbody\r\n"
        );
        let msg = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        let s = sender(&msg).expect("sender");
        assert_eq!(s.email, "ann@example.org");
        assert_eq!(s.name, "Ann Example");
        let t = targets(&addrs(), &msg);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0], Target::Group("planning".into()));
        assert!(matches!(t[1], Target::Reply(_)));
        assert_eq!(t[2], Target::Command(None));
    }

    #[test]
    fn references_in_order() {
        let raw = "From: a@b.c\r\nIn-Reply-To: <x@d>\r\nReferences: <w@d> <x@d>\r\n\r\nhi\r\n";
        let msg = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        assert_eq!(
            referenced_ids(&msg),
            vec!["x@d".to_string(), "w@d".to_string()]
        );
    }
}
