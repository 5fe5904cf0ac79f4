//! Confirmation by mail of what a mail without a token asked for (see
//! [`crate::inbound::confirm`]): asking the From address, and carrying the stored action out
//! once when that address replies in time.
//!
//! The request is stored before its mail goes out (and deleted again when the mail cannot be
//! sent); the action is carried out before the request is marked done, so a forum failure
//! leaves the reply queued and the retry carries it out (a new thread carries the original
//! message's idempotency key, so it is posted once however often that happens).

use chrono::Duration;
use mail_parser::MessageParser;

use super::decide::{idempotency_key, thread_title, Ctx};
use super::outcome::{backoff, ignored, Outcome};
use super::parse::Queued;
use super::{answering::AnswerFailure, InboundError, Pipeline};
use crate::inbound::address::{self, Sender};
use crate::inbound::answer::AnswerContext;
use crate::inbound::auth_results::{self, AuthPolicy};
use crate::inbound::authorise::Reason;
use crate::inbound::body;
use crate::inbound::confirm::{self, Confirmation, PendingAction, Verdict};
use crate::model::ReplyToken;
use crate::outbound::message::one_line;
use crate::outbound::SendError;
use crate::store::{ConfirmationRow, Store};

impl<'a> Pipeline<'a> {
    /// Which Authentication-Results count, as configured.
    pub(super) fn auth_policy(&self) -> AuthPolicy<'_> {
        AuthPolicy {
            trusted_ids: &self.config.inbound.trusted_authserv_ids,
            accept_spf: self.config.inbound.accept_spf,
        }
    }

    /// True when a trusted server vouches for the sender of the message in `c`.
    pub(super) fn authenticated(&self, c: &Ctx<'_>) -> bool {
        auth_results::authenticated(&c.facts.auth_results, &self.auth_policy(), &c.sender.email)
    }

    /// The token of a confirmation request named in the In-Reply-To/References of the message
    /// in `c`, if any (a reply that reached digestd without the `confirm+TOKEN@` address).
    pub(super) fn referenced_confirmation(&self, c: &Ctx<'_>) -> Option<ReplyToken> {
        let domain = &self.addresses.reply_domain;
        c.msg()
            .map(address::referenced_ids)
            .unwrap_or_default()
            .iter()
            .find_map(|id| confirm::token_in_message_id(id, domain))
    }

    /// Stores `action` as waiting for `to`'s confirmation and mails `to` the request (reply
    /// address `confirm+TOKEN@`), within the RFC 3834 limits and at most
    /// [`confirm::MAX_REQUESTS_PER_DAY`] a day.
    pub(super) fn request_confirmation(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        to: &Sender,
        action: PendingAction,
        mut actx: AnswerContext,
    ) -> Result<Outcome, InboundError> {
        let key = action.request_key();
        if let Some(why) = self.may_answer(c) {
            return Ok(ignored(&format!("{key} (not answered: {why})")));
        }
        let asked_today = store.confirmations_since(&to.email, c.now - Duration::days(1))?;
        if asked_today >= confirm::MAX_REQUESTS_PER_DAY {
            return Ok(ignored(&format!(
                "{key} (not asked: {asked_today} confirmation requests to this address today)"
            )));
        }
        let request = Confirmation::new(ReplyToken::generate(), &to.email, action, c.row.id, c.now);
        let (kind, detail) = request.action.to_parts();
        store.insert_confirmation(&ConfirmationRow {
            token: request.token.clone(),
            person_email: request.person_email.clone(),
            action: kind.to_string(),
            detail: detail.to_string(),
            inbound_id: request.inbound_id,
            created: request.created,
            expires: request.expires,
            done: None,
        })?;
        let domain = &self.addresses.reply_domain;
        let reply_to = confirm::reply_address(&request.token, domain);
        let message_id = confirm::message_id(&request.token, domain);
        actx.confirm_address = Some(reply_to.clone());
        let sent = self.send_mail_as(c, to, &key, actx, &message_id, Some(&reply_to));
        if sent.is_err() {
            store.delete_confirmation(&request.token)?;
        }
        Ok(match sent {
            Ok(()) => Outcome::Answered { reason: key },
            Err(AnswerFailure::NotBuilt(e)) => ignored(&format!("{key} (not built: {e})")),
            Err(AnswerFailure::Send(e @ SendError::Permanent(_))) => {
                ignored(&format!("{key} (refused: {e})"))
            }
            Err(AnswerFailure::Send(e)) => {
                tracing::warn!(id = c.row.id, "{key} not sent, retried later: {e}");
                Outcome::Deferred {
                    next_attempt: c.now + backoff(c.row.attempts),
                    error: format!("{key}: not sent: {e}"),
                }
            }
        })
    }

    /// The reply to a confirmation request: carries the stored action out when it comes from
    /// the address asked, in time, the first time; answers why not otherwise.
    pub(super) fn confirmed(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        token: &ReplyToken,
    ) -> Result<Outcome, InboundError> {
        let request = store.confirmation(token)?.and_then(|row| {
            let action = PendingAction::from_parts(&row.action, &row.detail)?;
            Some(Confirmation {
                token: row.token,
                person_email: row.person_email,
                action,
                inbound_id: row.inbound_id,
                created: row.created,
                expires: row.expires,
                done: row.done,
            })
        });
        let verdict = confirm::decide(request.as_ref(), token, &c.sender.email, c.now);
        let request = match (verdict, request) {
            (Verdict::Carry, Some(request)) => request,
            (Verdict::Unknown, _) | (Verdict::Carry, None) => {
                return Ok(ignored("confirmation address with an unknown token"))
            }
            (v, _) => {
                let key = v.answer_key().unwrap_or("confirm-unknown");
                return self.answer(store, c, c.sender, key, self.context(c));
            }
        };
        let outcome = match &request.action {
            PendingAction::Command(cmd) => {
                let person = self.person_sender(&request.person_email, c.sender);
                self.apply_command(store, c, &person, *cmd, self.context(c))?
            }
            PendingAction::NewThread { group } => {
                self.carry_new_thread(store, c, &request, group)?
            }
        };
        if !matches!(outcome, Outcome::Deferred { .. })
            && !store.mark_confirmation_done(&request.token, c.now)?
        {
            // Another process carried it out meanwhile (idempotently): still done once.
            tracing::info!(id = c.row.id, "confirmation carried out concurrently");
        }
        tracing::info!(id = c.row.id, action = ?request.action, "confirmed by mail");
        Ok(outcome)
    }

    /// Opens the thread the stored message `request.inbound_id` asked for in `group_id`, as
    /// the person confirming, with that message's idempotency key. The group and the
    /// person's membership are checked again (the config may have changed since).
    fn carry_new_thread(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        request: &Confirmation,
        group_id: &str,
    ) -> Result<Outcome, InboundError> {
        let mut actx = self.context(c);
        actx.group = Some(one_line(group_id));
        let Some(group) = self.config.group(group_id) else {
            return self.answer(store, c, c.sender, Reason::UnknownGroup.key(), actx);
        };
        actx.group_name = Some(one_line(&group.name));
        if !self.follows(&request.person_email, group_id) {
            return self.answer(store, c, c.sender, Reason::NotMember.key(), actx);
        }
        let Some(original) = store.inbound(request.inbound_id)? else {
            return Ok(ignored("confirmed message no longer stored"));
        };
        let Some(msg) = MessageParser::default().parse(&original.raw) else {
            return Ok(ignored("confirmed message not parseable"));
        };
        let text = body::reply_body(&msg, self.config.inbound.max_attachment_bytes);
        let title = thread_title(msg.subject(), &text);
        actx.subject = one_line(msg.subject().unwrap_or(""));
        actx.thread_title = Some(title.clone());
        let author = self.author(&request.person_email, c.sender);
        let key = idempotency_key(&Queued::of(&original));
        let result = self
            .forum
            .create_thread(group, &author, &title, &text.to_markdown(), &key);
        self.posted_or_not(store, c, &group.id, result, || actx)
    }

    /// True when the configured person `email` has a role that follows `group_id`.
    pub(super) fn follows(&self, email: &str, group_id: &str) -> bool {
        self.person(email).is_some_and(|p| {
            p.roles.iter().any(|r| {
                self.config
                    .role(r)
                    .is_some_and(|role| role.groups.iter().any(|g| g == group_id))
            })
        })
    }

    /// `email` as a [`Sender`], named as configured (else as `fallback` is).
    pub(super) fn person_sender(&self, email: &str, fallback: &Sender) -> Sender {
        Sender {
            name: self
                .person(email)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| fallback.name.clone()),
            email: email.to_string(),
        }
    }
}
