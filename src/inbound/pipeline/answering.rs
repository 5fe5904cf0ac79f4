//! Answers to the sender: within the RFC 3834 and once-a-day limits, rendered in their locale and
//! handed to the answer transport; confirmations of a post.

use super::decide::Ctx;
use super::outcome::{backoff, ignored, Outcome};
use super::{InboundError, Pipeline};
use crate::inbound::address::Sender;
use crate::inbound::answer::{self, AnswerContext};
use crate::outbound::message::one_line;
use crate::outbound::new_message_id;
use crate::outbound::SendError;
use crate::store::Store;

impl<'a> Pipeline<'a> {
    /// Sends the answer `key` to `to`, within the RFC 3834 and once-a-day limits.
    pub(super) fn answer(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        to: &Sender,
        key: &str,
        actx: AnswerContext,
    ) -> Result<Outcome, InboundError> {
        if let Some(why) = self.may_answer(c) {
            return Ok(ignored(&format!("{key} (not answered: {why})")));
        }
        if !store.record_answer(&to.email, key, c.now.date_naive())? {
            return Ok(ignored(&format!("{key} (already answered today)")));
        }
        match self.send_mail(c, to, key, actx) {
            Ok(()) => Ok(Outcome::Answered { reason: key.into() }),
            Err(AnswerFailure::NotBuilt(e)) => {
                Ok(ignored(&format!("{key} (answer not built: {e})")))
            }
            Err(AnswerFailure::Send(e @ SendError::Permanent(_))) => {
                store.release_answer(&to.email, key, c.now.date_naive())?;
                Ok(ignored(&format!("{key} (answer refused: {e})")))
            }
            Err(AnswerFailure::Send(e)) => {
                // The transport failed for now: the message stays queued and the day's slot is
                // given back, so the retry (with backoff) sends the answer.
                store.release_answer(&to.email, key, c.now.date_naive())?;
                tracing::warn!(id = c.row.id, "answer {key} not sent, retried later: {e}");
                Ok(Outcome::Deferred {
                    next_attempt: c.now + backoff(c.row.attempts),
                    error: format!("{key}: answer not sent: {e}"),
                })
            }
        }
    }

    /// `[inbound] confirm_posts`: tells the sender their reply was posted (the `posted` answer).
    /// Within the RFC 3834 limits but not the once-a-day one (each post is confirmed once); a
    /// confirmation that fails is logged, never retried: the post is what counts.
    pub(super) fn confirm(&self, c: &Ctx<'_>, actx: AnswerContext) {
        if let Some(why) = self.may_answer(c) {
            tracing::debug!(id = c.row.id, "post not confirmed: {why}");
            return;
        }
        if let Err(e) = self.send_mail(c, c.sender, "posted", actx) {
            tracing::warn!(id = c.row.id, "confirmation of a post not sent: {e}");
        }
    }

    /// Renders the answer `key` in `to`'s locale, builds it (null envelope sender,
    /// Auto-Submitted: auto-replied) and hands it to the answer transport.
    pub(super) fn send_mail(
        &self,
        c: &Ctx<'_>,
        to: &Sender,
        key: &str,
        actx: AnswerContext,
    ) -> Result<(), AnswerFailure> {
        let message_id = new_message_id(&self.addresses.reply_domain);
        self.send_mail_as(c, to, key, actx, &message_id, None)
    }

    /// [`Pipeline::send_mail`] with a given Message-ID and, when given, a Reply-To.
    pub(super) fn send_mail_as(
        &self,
        c: &Ctx<'_>,
        to: &Sender,
        key: &str,
        actx: AnswerContext,
        message_id: &str,
        reply_to: Option<&str>,
    ) -> Result<(), AnswerFailure> {
        let person = self.person(&to.email);
        let locale = person.map(|p| p.locale.as_str()).unwrap_or("en");
        let mut actx = actx;
        actx.name = person
            .map(|p| p.name.clone())
            .unwrap_or_else(|| to.name.clone());
        let msg = c
            .msg()
            .ok_or_else(|| AnswerFailure::NotBuilt("the message no longer parses".into()))?;
        let built = self
            .answerer
            .render(locale, key, &actx)
            .and_then(|text| {
                answer::build(&self.config.mail.from, to, &text, msg, message_id, reply_to)
            })
            .map_err(|e| AnswerFailure::NotBuilt(e.to_string()))?;
        self.answers
            .send_answer(&built)
            .map_err(AnswerFailure::Send)
    }

    pub(super) fn context(&self, c: &Ctx<'_>) -> AnswerContext {
        AnswerContext {
            name: c.sender.name.clone(),
            subject: one_line(c.facts.subject.as_deref().unwrap_or("")),
            organisation: one_line(&self.config.organisation),
            max_mb: self.config.inbound.max_message_bytes / (1024 * 1024),
            command_address: self.addresses.command_address(),
            forum_url: self.config.forum_url.clone(),
            ..Default::default()
        }
    }

    /// Why the message in `c` must not be answered (RFC 3834 and loops; see
    /// [`answer::may_answer`]), if so.
    pub(super) fn may_answer(&self, c: &Ctx<'_>) -> Option<&'static str> {
        match c.msg() {
            Some(msg) => answer::may_answer(msg, Some(c.sender), &self.addresses),
            None => Some("message not parseable"),
        }
    }
}

/// Why an answer mail did not go out.
#[derive(Debug, thiserror::Error)]
pub(super) enum AnswerFailure {
    /// Rendering or building failed.
    #[error("not built: {0}")]
    NotBuilt(String),
    /// The transport failed.
    #[error("not sent: {0}")]
    Send(SendError),
}
