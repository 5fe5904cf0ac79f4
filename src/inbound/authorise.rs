//! Deciding whether a reply may be posted (the token's grant, the sender, the clock, and,
//! when trusted servers are configured, the receiving MTA's Authentication-Results), and
//! whether a mail to a group address may open a thread at once.
//!
//! **Invariant:** pure; a reply is posted only when its token exists, is unexpired, and is bound
//! to the sender's address. Tokens are compared in constant time. A new thread is opened at
//! once only for mail a trusted server vouches for ([`crate::inbound::auth_results`]); otherwise
//! the answer is [`Reason::NotAuthenticated`], and the pipeline asks the person to confirm.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::inbound::auth_results::{authenticated, AuthPolicy};
use crate::model::{normalize_email, ReplyGrant, ReplyToken, ThreadId};

/// Why a message was not posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No grant for the token.
    UnknownToken,
    /// The grant expired.
    Expired,
    /// From is not the token's person.
    WrongSender,
    /// No aligned pass from a trusted authserv-id: a reply is refused (when trusted servers
    /// are configured); a new thread waits for the person's confirmation.
    NotAuthenticated,
    /// Nothing left after trimming quotes and signatures.
    EmptyAfterTrim,
    /// Larger than `[inbound] max_message_bytes`.
    TooLarge,
    /// New thread: the sender's roles do not follow the group (or the sender is unknown).
    NotMember,
    /// New thread: no such group.
    UnknownGroup,
    /// The token grants no thread (a command token used as a reply address).
    NoThread,
    /// The forum refused the post for good.
    ForumRefused,
    /// A reply to a digest as a whole (no item token).
    DigestAsWhole,
    /// A command mail with no command the parser knows.
    UnknownCommand,
    /// A command from an address that is not a known person.
    UnknownPerson,
}

impl Reason {
    /// Stable key: template name in `templates/answers/<locale>/`, and the `answers_sent` reason.
    pub fn key(self) -> &'static str {
        match self {
            Reason::UnknownToken => "unknown-token",
            Reason::Expired => "expired",
            Reason::WrongSender => "wrong-sender",
            Reason::NotAuthenticated => "not-authenticated",
            Reason::EmptyAfterTrim => "empty",
            Reason::TooLarge => "too-large",
            Reason::NotMember => "not-member",
            Reason::UnknownGroup => "unknown-group",
            Reason::NoThread => "no-thread",
            Reason::ForumRefused => "forum-refused",
            Reason::DigestAsWhole => "digest-as-whole",
            Reason::UnknownCommand => "unknown-command",
            Reason::UnknownPerson => "unknown-person",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The outcome of authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Post into `thread` as `author` (normalised address).
    Post {
        /// Store id of the thread.
        thread: ThreadId,
        /// Author address (the grant's person).
        author: String,
    },
    /// Do not post, for this reason.
    Reject(Reason),
}

/// Everything authorisation looks at, as values.
#[derive(Debug, Clone)]
pub struct ReplyEvidence<'a> {
    /// Token found in the recipient addresses.
    pub token: &'a ReplyToken,
    /// The store's grant for that token, if any.
    pub grant: Option<&'a ReplyGrant>,
    /// Normalised From address.
    pub from: &'a str,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Raw Authentication-Results header values, top first.
    pub auth_results: &'a [String],
    /// Which of them count (no trusted id: authentication not required for a reply).
    pub auth: AuthPolicy<'a>,
    /// Size of the raw message in bytes.
    pub size: usize,
    /// Largest size accepted.
    pub max_size: usize,
    /// True when trimming left nothing.
    pub empty_after_trim: bool,
}

/// Decides whether the reply described by `ev` may be posted.
pub fn authorise_reply(ev: &ReplyEvidence<'_>) -> Decision {
    let Some(grant) = ev.grant.filter(|g| g.token.ct_eq(ev.token)) else {
        return Decision::Reject(Reason::UnknownToken);
    };
    if grant.expires <= ev.now {
        return Decision::Reject(Reason::Expired);
    }
    let person = normalize_email(&grant.person_email);
    if person != normalize_email(ev.from) {
        return Decision::Reject(Reason::WrongSender);
    }
    if !ev.auth.trusted_ids.is_empty() && !authenticated(ev.auth_results, &ev.auth, ev.from) {
        return Decision::Reject(Reason::NotAuthenticated);
    }
    let Some(thread) = grant.thread_id else {
        return Decision::Reject(Reason::NoThread);
    };
    if ev.size > ev.max_size {
        return Decision::Reject(Reason::TooLarge);
    }
    if ev.empty_after_trim {
        return Decision::Reject(Reason::EmptyAfterTrim);
    }
    Decision::Post {
        thread,
        author: person,
    }
}

/// Everything deciding on a new thread by mail looks at.
#[derive(Debug, Clone)]
pub struct ThreadEvidence<'a> {
    /// The group id exists in config.
    pub group_known: bool,
    /// The sender is a known person whose roles follow the group.
    pub member: bool,
    /// Normalised From address.
    pub from: &'a str,
    /// Raw Authentication-Results header values.
    pub auth_results: &'a [String],
    /// Which of them count (no trusted id: none does).
    pub auth: AuthPolicy<'a>,
    /// Size of the raw message in bytes.
    pub size: usize,
    /// Largest size accepted.
    pub max_size: usize,
    /// True when trimming left nothing.
    pub empty_after_trim: bool,
}

/// Decides whether a mail to a group address may open a thread at once. Everything that
/// would refuse the thread anyway comes first, so a person is asked to confirm
/// ([`Reason::NotAuthenticated`]) only what would then be posted.
pub fn authorise_new_thread(ev: &ThreadEvidence<'_>) -> Result<(), Reason> {
    if !ev.group_known {
        return Err(Reason::UnknownGroup);
    }
    if !ev.member {
        return Err(Reason::NotMember);
    }
    if ev.size > ev.max_size {
        return Err(Reason::TooLarge);
    }
    if ev.empty_after_trim {
        return Err(Reason::EmptyAfterTrim);
    }
    if !authenticated(ev.auth_results, &ev.auth, ev.from) {
        return Err(Reason::NotAuthenticated);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(token: &ReplyToken, email: &str, days: i64) -> ReplyGrant {
        ReplyGrant {
            token: token.clone(),
            person_email: email.into(),
            thread_id: Some(7),
            expires: Utc::now() + chrono::Duration::days(days),
        }
    }

    fn ev<'a>(
        token: &'a ReplyToken,
        grant: Option<&'a ReplyGrant>,
        from: &'a str,
        ar: &'a [String],
        trusted: &'a [String],
    ) -> ReplyEvidence<'a> {
        ev_spf(token, grant, from, ar, trusted, false)
    }

    fn ev_spf<'a>(
        token: &'a ReplyToken,
        grant: Option<&'a ReplyGrant>,
        from: &'a str,
        ar: &'a [String],
        trusted: &'a [String],
        accept_spf: bool,
    ) -> ReplyEvidence<'a> {
        ReplyEvidence {
            token,
            grant,
            from,
            now: Utc::now(),
            auth_results: ar,
            auth: AuthPolicy {
                trusted_ids: trusted,
                accept_spf,
            },
            size: 100,
            max_size: 1000,
            empty_after_trim: false,
        }
    }

    #[test]
    fn decisions() {
        let t = ReplyToken::generate();
        let g = grant(&t, "ann@example.org", 1);
        assert_eq!(
            authorise_reply(&ev(&t, Some(&g), "ANN@example.org", &[], &[])),
            Decision::Post {
                thread: 7,
                author: "ann@example.org".into()
            }
        );
        assert_eq!(
            authorise_reply(&ev(&t, None, "ann@example.org", &[], &[])),
            Decision::Reject(Reason::UnknownToken)
        );
        let other = ReplyToken::generate();
        assert_eq!(
            authorise_reply(&ev(&other, Some(&g), "ann@example.org", &[], &[])),
            Decision::Reject(Reason::UnknownToken)
        );
        assert_eq!(
            authorise_reply(&ev(&t, Some(&g), "mallory@example.org", &[], &[])),
            Decision::Reject(Reason::WrongSender)
        );
        let old = grant(&t, "ann@example.org", -1);
        assert_eq!(
            authorise_reply(&ev(&t, Some(&old), "ann@example.org", &[], &[])),
            Decision::Reject(Reason::Expired)
        );
    }

    #[test]
    fn strict_mode_needs_aligned_pass_from_trusted_id() {
        let t = ReplyToken::generate();
        let g = grant(&t, "ann@example.org", 1);
        let trusted = vec!["mx.example.org".to_string()];
        let good = vec!["mx.example.org (Postfix); dkim=pass (2048-bit key) header.d=example.org header.s=s1; spf=fail smtp.mailfrom=x@evil.test".to_string()];
        let foreign_id = vec!["evil.test; dkim=pass header.d=example.org".to_string()];
        let misaligned = vec!["mx.example.org; dkim=pass header.d=evil.test".to_string()];
        let spf = vec!["MX.example.org 1; spf=pass smtp.mailfrom=ann@mail.example.org".to_string()];
        assert!(matches!(
            authorise_reply(&ev(&t, Some(&g), "ann@example.org", &good, &trusted)),
            Decision::Post { .. }
        ));
        assert!(matches!(
            authorise_reply(&ev_spf(
                &t,
                Some(&g),
                "ann@example.org",
                &spf,
                &trusted,
                true
            )),
            Decision::Post { .. }
        ));
        for ar in [&foreign_id, &misaligned, &vec![], &spf] {
            assert_eq!(
                authorise_reply(&ev(&t, Some(&g), "ann@example.org", ar, &trusted)),
                Decision::Reject(Reason::NotAuthenticated)
            );
        }
    }

    #[test]
    fn a_new_thread_needs_a_trusted_pass_after_every_other_check() {
        let trusted = vec!["mx.example.org".to_string()];
        let good = vec!["mx.example.org; dkim=pass header.d=example.org".to_string()];
        let ev = |ar: &'static [String], trusted: &'static [String]| ThreadEvidence {
            group_known: true,
            member: true,
            from: "ann@example.org",
            auth_results: ar,
            auth: AuthPolicy {
                trusted_ids: trusted,
                accept_spf: false,
            },
            size: 10,
            max_size: 100,
            empty_after_trim: false,
        };
        let good: &'static [String] = Vec::leak(good);
        let trusted: &'static [String] = Vec::leak(trusted);
        assert_eq!(authorise_new_thread(&ev(good, trusted)), Ok(()));
        // No trusted server configured: never at once.
        assert_eq!(
            authorise_new_thread(&ev(good, &[])),
            Err(Reason::NotAuthenticated)
        );
        assert_eq!(
            authorise_new_thread(&ev(&[], trusted)),
            Err(Reason::NotAuthenticated)
        );
        // What would be refused anyway is refused before any confirmation is asked.
        let mut e = ev(&[], trusted);
        e.empty_after_trim = true;
        assert_eq!(authorise_new_thread(&e), Err(Reason::EmptyAfterTrim));
        e.member = false;
        assert_eq!(authorise_new_thread(&e), Err(Reason::NotMember));
        e.group_known = false;
        assert_eq!(authorise_new_thread(&e), Err(Reason::UnknownGroup));
    }
}
