//! Confirming by mail what a mail without a token asked for: a new thread, or a command to
//! `digest@`, when no trusted mail server vouches for its From address.
//!
//! digestd answers the From address with a confirmation request carrying a one-time token
//! (reply address `confirm+TOKEN@<reply domain>`, Message-ID `confirm.TOKEN@<reply domain>` so
//! a reply that lost the address still names it in In-Reply-To/References). The reply to it,
//! from that same address, within [`LIFETIME`], carries out the stored action once. A forged
//! From therefore reaches only the real person, who can ignore the request.
//!
//! Also here: the `digest now` rate limit ([`DIGEST_NOW_INTERVAL`]).
//!
//! **Invariant:** pure (the clock comes in as `now`); tokens are compared in constant time.

use chrono::{DateTime, Duration, Utc};

use crate::inbound::commands::Command;
use crate::model::{normalize_email, GroupId, ReplyToken};

/// How long a confirmation request can be answered.
pub const LIFETIME: Duration = Duration::hours(48);

/// At most this many confirmation requests go to one address in a day (a forger cannot flood
/// a colleague's mailbox; a genuine person rarely needs more).
pub const MAX_REQUESTS_PER_DAY: usize = 5;

/// `digest now` is carried out at most once in this interval per person.
pub const DIGEST_NOW_INTERVAL: Duration = Duration::hours(1);

/// Local-part tag of a confirmation address (`confirm+TOKEN@domain`).
pub const ADDRESS_TAG: &str = "confirm";

/// What a confirmation, once given, carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingAction {
    /// Open a thread in this group with the stored message (its subject and body).
    NewThread {
        /// The group id from `group+ID@`.
        group: GroupId,
    },
    /// Apply this command to the person's settings.
    Command(Command),
}

impl PendingAction {
    /// Stored form: (kind, detail).
    pub fn to_parts(&self) -> (&'static str, &str) {
        match self {
            PendingAction::NewThread { group } => ("new-thread", group),
            PendingAction::Command(c) => ("command", c.key()),
        }
    }

    /// From the stored form; `None` for anything this binary does not know.
    pub fn from_parts(kind: &str, detail: &str) -> Option<Self> {
        match kind {
            "new-thread" if !detail.is_empty() => Some(PendingAction::NewThread {
                group: detail.to_string(),
            }),
            "command" => Command::from_key(detail).map(PendingAction::Command),
            _ => None,
        }
    }

    /// The answer template asking to confirm this action (`confirm-new-thread`,
    /// `confirm-<command>`).
    pub fn request_key(&self) -> String {
        match self {
            PendingAction::NewThread { .. } => "confirm-new-thread".to_string(),
            PendingAction::Command(c) => format!("confirm-{}", c.key()),
        }
    }
}

/// A stored confirmation request.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The one-time token.
    pub token: ReplyToken,
    /// Who must answer (normalised address).
    pub person_email: String,
    /// What answering carries out.
    pub action: PendingAction,
    /// The stored inbound message that asked for it.
    pub inbound_id: i64,
    /// When the request was made.
    pub created: DateTime<Utc>,
    /// When it can no longer be answered.
    pub expires: DateTime<Utc>,
    /// When it was carried out, if it was.
    pub done: Option<DateTime<Utc>>,
}

impl Confirmation {
    /// A fresh request for `person_email` to confirm `action`, asked by message `inbound_id`.
    pub fn new(
        token: ReplyToken,
        person_email: &str,
        action: PendingAction,
        inbound_id: i64,
        now: DateTime<Utc>,
    ) -> Self {
        Confirmation {
            token,
            person_email: normalize_email(person_email),
            action,
            inbound_id,
            created: now,
            expires: now + LIFETIME,
            done: None,
        }
    }
}

/// What to do with a reply to a confirmation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Carry out the stored action (then mark it done).
    Carry,
    /// No such request (or another token): ignored.
    Unknown,
    /// From someone other than the address asked: refused.
    WrongSender,
    /// Already carried out: answered "already done".
    AlreadyDone,
    /// Too late: answered "expired, send again".
    Expired,
}

impl Verdict {
    /// The answer template for a verdict that is answered.
    pub fn answer_key(self) -> Option<&'static str> {
        match self {
            Verdict::WrongSender => Some("confirm-wrong-sender"),
            Verdict::AlreadyDone => Some("confirm-already-done"),
            Verdict::Expired => Some("confirm-expired"),
            Verdict::Carry | Verdict::Unknown => None,
        }
    }
}

/// Decides on a reply carrying `token` from `from` (normalised or not) at `now`, given the
/// stored request found for it. The sender is checked first, so nobody else learns whether a
/// request was used or has expired.
pub fn decide(
    found: Option<&Confirmation>,
    token: &ReplyToken,
    from: &str,
    now: DateTime<Utc>,
) -> Verdict {
    let Some(c) = found.filter(|c| c.token.ct_eq(token)) else {
        return Verdict::Unknown;
    };
    if normalize_email(from) != c.person_email {
        return Verdict::WrongSender;
    }
    if c.done.is_some() {
        return Verdict::AlreadyDone;
    }
    if c.expires <= now {
        return Verdict::Expired;
    }
    Verdict::Carry
}

/// May `digest now` be carried out at `now`, the last one having been at `last`? `Err` holds
/// the instant from which it may be asked again.
pub fn digest_now_allowed(
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DateTime<Utc>> {
    match last {
        Some(t) if now < t + DIGEST_NOW_INTERVAL => Err(t + DIGEST_NOW_INTERVAL),
        _ => Ok(()),
    }
}

/// The address a reply to the request goes to: `confirm+TOKEN@domain`.
pub fn reply_address(token: &ReplyToken, reply_domain: &str) -> String {
    format!("{ADDRESS_TAG}+{}@{reply_domain}", token.as_str())
}

/// The request's Message-ID (without brackets): `confirm.TOKEN@domain`.
pub fn message_id(token: &ReplyToken, reply_domain: &str) -> String {
    format!("{ADDRESS_TAG}.{}@{reply_domain}", token.as_str())
}

/// The token in a Message-ID made by [`message_id`] for `reply_domain` (any case), if `id` is one.
pub fn token_in_message_id(id: &str, reply_domain: &str) -> Option<ReplyToken> {
    let id = id.trim().trim_matches(['<', '>']);
    let (local, domain) = id.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(reply_domain) {
        return None;
    }
    let (tag, token) = local.split_once('.')?;
    if !tag.eq_ignore_ascii_case(ADDRESS_TAG) {
        return None;
    }
    ReplyToken::parse(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(now: DateTime<Utc>) -> Confirmation {
        Confirmation::new(
            ReplyToken::generate(),
            "Ann@Example.org",
            PendingAction::Command(Command::Unsubscribe),
            7,
            now,
        )
    }

    #[test]
    fn verdicts_in_order_sender_done_expiry() {
        let now = Utc::now();
        let c = request(now);
        let t = c.token.clone();
        assert_eq!(decide(Some(&c), &t, "ann@example.org", now), Verdict::Carry);
        assert_eq!(decide(None, &t, "ann@example.org", now), Verdict::Unknown);
        let other = ReplyToken::generate();
        assert_eq!(
            decide(Some(&c), &other, "ann@example.org", now),
            Verdict::Unknown
        );
        assert_eq!(
            decide(Some(&c), &t, "mallory@example.org", now),
            Verdict::WrongSender
        );
        let late = now + LIFETIME;
        assert_eq!(
            decide(Some(&c), &t, "ANN@example.org", late),
            Verdict::Expired
        );
        assert_eq!(
            decide(Some(&c), &t, "ann@example.org", now + Duration::hours(47)),
            Verdict::Carry
        );
        let done = Confirmation {
            done: Some(now),
            ..c.clone()
        };
        assert_eq!(
            decide(Some(&done), &t, "ann@example.org", late),
            Verdict::AlreadyDone
        );
        assert_eq!(
            decide(Some(&done), &t, "mallory@example.org", now),
            Verdict::WrongSender
        );
        assert_eq!(Verdict::Expired.answer_key(), Some("confirm-expired"));
        assert_eq!(Verdict::Carry.answer_key(), None);
    }

    #[test]
    fn actions_round_trip_through_their_stored_form() {
        for a in [
            PendingAction::NewThread {
                group: "youth-care".into(),
            },
            PendingAction::Command(Command::Pause),
            PendingAction::Command(Command::DigestNow),
        ] {
            let (kind, detail) = a.to_parts();
            assert_eq!(PendingAction::from_parts(kind, detail), Some(a.clone()));
        }
        assert_eq!(PendingAction::from_parts("command", "format-disk"), None);
        assert_eq!(PendingAction::from_parts("new-thread", ""), None);
        assert_eq!(PendingAction::from_parts("other", "x"), None);
    }

    #[test]
    fn digest_now_once_an_hour() {
        let now = Utc::now();
        assert_eq!(digest_now_allowed(None, now), Ok(()));
        let last = now - Duration::minutes(20);
        assert_eq!(
            digest_now_allowed(Some(last), now),
            Err(last + Duration::hours(1))
        );
        assert_eq!(
            digest_now_allowed(Some(now - Duration::hours(1)), now),
            Ok(())
        );
    }

    #[test]
    fn address_and_message_id_carry_the_token() {
        let t = ReplyToken::generate();
        let mid = message_id(&t, "reply.example.org");
        let found = token_in_message_id(&format!("<{}>", mid.to_uppercase()), "Reply.Example.org");
        assert!(found.is_some_and(|f| f.ct_eq(&t)));
        assert_eq!(token_in_message_id(&mid, "evil.example"), None);
        assert_eq!(
            token_in_message_id("confirm.zz@reply.example.org", "reply.example.org"),
            None
        );
        assert_eq!(token_in_message_id("x@y", "y"), None);
        assert!(reply_address(&t, "r.example").starts_with("confirm+"));
    }
}
