//! The decision per message: by its class, a reply is authorised and posted, a new thread opened,
//! a command applied, a bounce counted, or the message ignored.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use mail_parser::{Message, MessageParser};

use super::outcome::{backoff, ignored, Outcome};
use super::parse::{MailFacts, Parsed, Prepared, Queued};
use super::{InboundError, Pipeline};
use crate::forum::Author;
use crate::inbound::address::{self, Sender};
use crate::inbound::answer::{AnswerContext, ItemLink};
use crate::inbound::authorise::{
    authorise_new_thread, authorise_reply, Decision, Reason, ReplyEvidence, ThreadEvidence,
};
use crate::inbound::body::{self, ReplyBody};
use crate::inbound::classify::Class;
use crate::inbound::commands::{self, Command};
use crate::inbound::confirm::PendingAction;
use crate::model::{normalize_email, Group, ReplyToken};
use crate::outbound::message::one_line;
use crate::store::{InboundRow, ReplyLookups, Store};

impl<'a> Pipeline<'a> {
    /// Parses and handles one queued message: where it ends (nothing recorded yet).
    pub(super) fn outcome(
        &self,
        store: &mut Store,
        row: &InboundRow,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let queued = Queued::of(row);
        let parsing = self.parse(&MessageParser::default(), &row.raw);
        let prepared = parsing.prepared(&queued, now);
        self.finish_prepared(store, &queued, prepared, &ReplyLookups::default(), now)
    }

    /// Handles a prepared message (see [`Parsing::prepared`]) and logs where it ended.
    pub(super) fn finish_prepared(
        &self,
        store: &mut Store,
        row: &Queued,
        prepared: Prepared<'_, '_>,
        lookups: &ReplyLookups,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let outcome = match prepared {
            Prepared::Done(o) => o,
            Prepared::Parsed(parsed) => self.handle(store, row, parsed, lookups, now)?,
        };
        tracing::info!(id = row.id, message_id = ?row.message_id, ?outcome, "inbound message processed");
        Ok(outcome)
    }

    pub(super) fn handle(
        &self,
        store: &mut Store,
        row: &Queued,
        parsed: &Parsed<'_>,
        lookups: &ReplyLookups,
        now: DateTime<Utc>,
    ) -> Result<Outcome, InboundError> {
        let Parsed {
            raw,
            facts,
            class,
            sender,
            body,
        } = parsed;
        let sender = match (&class, sender) {
            (Class::Loop, _) => return Ok(ignored("loop: sent from one of digestd's addresses")),
            (Class::AutoReply(r), _) => return Ok(ignored(&format!("auto-reply: {r}"))),
            (Class::Bounce { recipient }, _) => {
                return Ok(match recipient {
                    Some(r) => {
                        let bouncing =
                            store.record_bounce(r, self.config.inbound.bounce_threshold.max(1))?;
                        ignored(&format!(
                            "bounce for {r}{}",
                            if bouncing {
                                " (now marked bouncing)"
                            } else {
                                ""
                            }
                        ))
                    }
                    None => ignored("bounce (recipient unknown)"),
                })
            }
            (_, None) => return Ok(ignored("no usable From address")),
            (_, Some(s)) => s,
        };
        let ctx = Ctx {
            row,
            raw,
            reparsed: OnceCell::new(),
            facts,
            body,
            sender,
            now,
            lookups,
        };
        match class {
            Class::Confirm { token } => self.confirmed(store, &ctx, token),
            Class::Reply { token } => self.reply(store, &ctx, token),
            Class::NewThread { group } => self.new_thread(store, &ctx, group),
            Class::Command { token } => self.command(store, &ctx, token.as_ref()),
            Class::Unknown => self.unknown(store, &ctx),
            Class::Loop | Class::AutoReply(_) | Class::Bounce { .. } => {
                Ok(ignored("already classified"))
            }
        }
    }

    /// The trimmed body of the message in `c` (see [`body::reply_body`]).
    pub(super) fn body<'c>(&self, c: &'c Ctx<'_>) -> &'c ReplyBody {
        c.body.get_or_init(|| {
            c.msg()
                .map(|m| body::reply_body(m, self.config.inbound.max_attachment_bytes))
                .unwrap_or_default()
        })
    }

    pub(super) fn reply(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        token: &ReplyToken,
    ) -> Result<Outcome, InboundError> {
        let fetched_grant;
        let grant = match c.lookups.grant(token) {
            Some(found) => found,
            None => {
                fetched_grant = store.token(token)?;
                fetched_grant.as_ref()
            }
        };
        let body = self.body(c);
        let ar = &c.facts.auth_results;
        let decision = authorise_reply(&ReplyEvidence {
            token,
            grant,
            from: &c.sender.email,
            now: c.now,
            auth_results: ar,
            auth: self.auth_policy(),
            size: c.facts.original_size,
            max_size: self.config.inbound.max_message_bytes,
            empty_after_trim: body.is_empty(),
        });
        let (thread_id, author) = match decision {
            Decision::Post { thread, author } => (thread, author),
            Decision::Reject(reason) => {
                return self.answer(store, c, c.sender, reason.key(), self.context(c))
            }
        };
        let fetched_thread;
        let thread = match c.lookups.thread(thread_id) {
            Some(found) => found,
            None => {
                fetched_thread = store.thread(thread_id)?;
                fetched_thread.as_ref()
            }
        };
        let Some(thread) = thread else {
            let actx = self.context(c);
            return self.answer(store, c, c.sender, Reason::ForumRefused.key(), actx);
        };
        if let Some(on) = commands::highlight_command(&self.body(c).text) {
            return self.highlight(store, c, token, thread, &author, on);
        }
        let group = self.group(&thread.group_id);
        let author = self.author(&author, c.sender);
        let key = idempotency_key(c.row);
        let result = self.forum.post_reply(
            &group,
            &thread.remote_id,
            &author,
            &body.to_markdown(),
            &key,
        );
        // The answer context is built only when an answer or confirmation goes out.
        self.posted_or_not(store, c, &thread.group_id, result, || {
            let mut actx = self.context(c);
            actx.thread_title = Some(one_line(&thread.title));
            actx.thread_url = Some(one_line(&thread.url)).filter(|u| !u.is_empty());
            actx
        })
    }

    pub(super) fn new_thread(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        group_id: &str,
    ) -> Result<Outcome, InboundError> {
        let group = self.config.group(group_id);
        let member = self.follows(&c.sender.email, group_id);
        let body = self.body(c);
        let ar = &c.facts.auth_results;
        let mut actx = self.context(c);
        actx.group = Some(one_line(group_id));
        actx.group_name = group.map(|g| one_line(&g.name));
        match authorise_new_thread(&ThreadEvidence {
            group_known: group.is_some(),
            member,
            from: &c.sender.email,
            auth_results: ar,
            auth: self.auth_policy(),
            size: c.facts.original_size,
            max_size: self.config.inbound.max_message_bytes,
            empty_after_trim: body.is_empty(),
        }) {
            Ok(()) => {}
            Err(Reason::NotAuthenticated) => {
                let action = PendingAction::NewThread {
                    group: group_id.to_string(),
                };
                return self.request_confirmation(store, c, c.sender, action, actx);
            }
            Err(reason) => return self.answer(store, c, c.sender, reason.key(), actx),
        }
        let Some(group) = group else {
            return self.answer(store, c, c.sender, Reason::UnknownGroup.key(), actx);
        };
        let title = thread_title(c.facts.subject.as_deref(), body);
        actx.thread_title = Some(title.clone());
        let author = self.author(&c.sender.email, c.sender);
        let key = idempotency_key(c.row);
        let result = self
            .forum
            .create_thread(group, &author, &title, &body.to_markdown(), &key);
        self.posted_or_not(store, c, &group.id, result, || actx)
    }

    /// Where a forum call for group `group_id` leaves the message; `actx` builds the answer
    /// context when an answer or a confirmation goes out.
    pub(super) fn posted_or_not(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        group_id: &str,
        result: Result<crate::forum::Posted, crate::forum::ForumError>,
        actx: impl FnOnce() -> AnswerContext,
    ) -> Result<Outcome, InboundError> {
        match result {
            Ok(p) => {
                if self.config.inbound.confirm_posts {
                    self.confirm(c, actx());
                }
                Ok(Outcome::Posted {
                    remote_post_id: p.remote_post_id,
                    url: p.url,
                    group_id: group_id.to_string(),
                })
            }
            Err(e) if e.is_transient() => Ok(Outcome::Deferred {
                next_attempt: c.now + backoff(c.row.attempts),
                error: e.to_string(),
            }),
            Err(e) => {
                tracing::warn!("forum refused inbound message {}: {e}", c.row.id);
                let mut actx = actx();
                if let crate::forum::ForumError::Refused(reason) = &e {
                    actx.reason = Some(one_line(reason)).filter(|r| !r.is_empty());
                }
                self.answer(store, c, c.sender, Reason::ForumRefused.key(), actx)
            }
        }
    }

    /// A mail to the command address. With a token (the List-Unsubscribe address) it acts at
    /// once for the token's person; without one, only when a trusted server vouches for the
    /// sender, and otherwise the sender is asked to confirm first.
    pub(super) fn command(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        token: Option<&ReplyToken>,
    ) -> Result<Outcome, InboundError> {
        if token.is_none() {
            // The reply to a confirmation request that lost its address on the way.
            if let Some(t) = self.referenced_confirmation(c) {
                return self.confirmed(store, c, &t);
            }
        }
        // Whose settings: the token's person (List-Unsubscribe address), else the sender.
        let email = match token {
            Some(t) => match store.token(t)? {
                Some(g) if g.token.ct_eq(t) => normalize_email(&g.person_email),
                _ => return Ok(ignored("command address with an unknown token")),
            },
            None => c.sender.email.clone(),
        };
        let known = self.person(&email).is_some() || store.person_state(&email)?.is_some();
        if !known {
            // No answer: mail to digest@ from strangers is mostly spam (no backscatter).
            return Ok(ignored("command from an address that gets no digest"));
        }
        let person = self.person_sender(&email, c.sender);
        let actx = self.context(c);
        let text = &self.body(c).text;
        let cmd = commands::parse(c.facts.subject.as_deref(), text)
            .or_else(|| token.map(|_| Command::Unsubscribe));
        let Some(cmd) = cmd else {
            // "Thanks!" to the command address in answer to a digest: list its items instead.
            if token.is_none() {
                if let Some(outcome) = self.digest_reply(store, c)? {
                    return Ok(outcome);
                }
            }
            return self.answer(store, c, &person, Reason::UnknownCommand.key(), actx);
        };
        if token.is_none() && !self.authenticated(c) {
            let action = PendingAction::Command(cmd);
            return self.request_confirmation(store, c, &person, action, actx);
        }
        self.apply_command(store, c, &person, cmd, actx)
    }

    pub(super) fn unknown(&self, store: &mut Store, c: &Ctx<'_>) -> Result<Outcome, InboundError> {
        if let Some(t) = self.referenced_confirmation(c) {
            return self.confirmed(store, c, &t);
        }
        Ok(self
            .digest_reply(store, c)?
            .unwrap_or_else(|| ignored("not addressed to any digestd address")))
    }

    /// A reply without a token in its recipients whose In-Reply-To/References name a digest
    /// digestd sent. A digest of exactly one thread item stands for that item: its token is
    /// used, and the normal checks (sender, expiry) apply. A digest of several items is a reply
    /// to the digest as a whole: the answer lists its items with their reply addresses. `None`
    /// when no digest is referenced.
    pub(super) fn digest_reply(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
    ) -> Result<Option<Outcome>, InboundError> {
        let referenced = c.msg().map(address::referenced_ids).unwrap_or_default();
        for mid in referenced {
            let Some(delivery) = store.delivery_by_message_id(&mid)? else {
                continue;
            };
            let grants = store.grants_of_delivery(delivery.id)?;
            if let [only] = grants
                .iter()
                .filter(|g| g.thread_id.is_some())
                .collect::<Vec<_>>()
                .as_slice()
            {
                return self.reply(store, c, &only.token).map(Some);
            }
            if normalize_email(&delivery.person_email) != c.sender.email {
                return Ok(Some(ignored("reply to a digest sent to someone else")));
            }
            let mut items = Vec::new();
            for g in grants {
                let (Some(tid), true) = (g.thread_id, g.expires > c.now) else {
                    continue;
                };
                if let Some(t) = store.thread(tid)? {
                    items.push(ItemLink {
                        title: one_line(&t.title),
                        address: format!(
                            "reply+{}@{}",
                            g.token.as_str(),
                            self.addresses.reply_domain
                        ),
                    });
                }
            }
            let mut actx = self.context(c);
            actx.items = items;
            return self
                .answer(store, c, c.sender, Reason::DigestAsWhole.key(), actx)
                .map(Some);
        }
        Ok(None)
    }

    /// The configured group `id`, borrowed; a stand-in named after the id when the config no
    /// longer has it (a thread of a group since removed).
    pub(super) fn group(&self, id: &str) -> Cow<'_, Group> {
        match self.config.group(id) {
            Some(group) => Cow::Borrowed(group),
            None => Cow::Owned(Group::local(id, id)),
        }
    }

    pub(super) fn author(&self, email: &str, sender: &Sender) -> Author {
        let name = self
            .person(email)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| sender.name.clone());
        Author {
            email: normalize_email(email),
            name: one_line(&name),
        }
    }
}

/// Per-message values handed between the steps.
pub(super) struct Ctx<'m> {
    pub(super) row: &'m Queued,
    /// The message's bytes.
    pub(super) raw: &'m [u8],
    /// The message parsed again, for the rarer steps that need more of it than its facts
    /// (answers, replies to a digest as a whole): made when first needed.
    pub(super) reparsed: OnceCell<Option<Message<'m>>>,
    /// What the common steps need of the parsed message.
    pub(super) facts: &'m MailFacts,
    /// What the person wrote, trimmed: made once, when first needed (or already while the
    /// batch was being stored).
    pub(super) body: &'m OnceLock<ReplyBody>,
    pub(super) sender: &'m Sender,
    pub(super) now: DateTime<Utc>,
    pub(super) lookups: &'m ReplyLookups,
}

impl<'m> Ctx<'m> {
    /// The message parsed (again: what parsing made first was freed at once); `None` only
    /// for bytes that do not parse, which never reach a `Ctx`.
    pub(super) fn msg(&self) -> Option<&Message<'m>> {
        self.reparsed
            .get_or_init(|| MessageParser::default().parse(self.raw))
            .as_ref()
    }
}

/// The idempotency key handed to the forum: the Message-ID, or the SHA-256 when there is none.
pub(super) fn idempotency_key(row: &Queued) -> String {
    match &row.message_id {
        Some(m) if !m.is_empty() => m.clone(),
        _ => format!("sha256:{}", row.sha256),
    }
}

/// Title of a thread opened by mail: the subject without `Fwd:`-style prefixes, else the first
/// line of the body, at most 120 characters.
pub fn thread_title(subject: Option<&str>, body: &ReplyBody) -> String {
    let mut s = one_line(subject.unwrap_or(""));
    loop {
        let lower = s.to_lowercase();
        let cut = ["fwd:", "fw:", "re:", "tr:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start().to_string(),
            None => break,
        }
    }
    if s.is_empty() {
        s = one_line(
            body.text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(""),
        );
    }
    if s.is_empty() {
        s = "(no subject)".into();
    }
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_titles_drop_forward_prefixes_and_fall_back_to_the_body() {
        let body = ReplyBody {
            text: "\n  First line here\nsecond".into(),
            attachments: vec![],
        };
        assert_eq!(thread_title(Some("Fwd: RE: Parking\r\n"), &body), "Parking");
        assert_eq!(thread_title(Some("  "), &body), "First line here");
        assert_eq!(thread_title(None, &ReplyBody::default()), "(no subject)");
        assert_eq!(thread_title(Some(&"x".repeat(300)), &body).len(), 120);
    }
}
