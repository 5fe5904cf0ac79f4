//! Carrying out an email command for a person (once it is known to be theirs: a token, a
//! trusted server's pass, or their confirmation), and answering with what was done.
//! `digest now` is carried out at most once an hour per person
//! ([`crate::inbound::confirm::DIGEST_NOW_INTERVAL`]).

use chrono::{DateTime, Utc};

use super::decide::Ctx;
use super::outcome::Outcome;
use super::{InboundError, Pipeline};
use crate::inbound::address::Sender;
use crate::inbound::answer::AnswerContext;
use crate::inbound::commands::Command;
use crate::inbound::confirm;
use crate::model::Frequency;
use crate::store::Store;

impl<'a> Pipeline<'a> {
    /// Applies `cmd` to `person`'s settings and answers `person` with the command's
    /// confirmation (`command-<key>`), or, for a `digest now` asked again within the hour,
    /// with when it can be asked again (`command-digest-now-limited`).
    pub(super) fn apply_command(
        &self,
        store: &mut Store,
        c: &Ctx<'_>,
        person: &Sender,
        cmd: Command,
        mut actx: AnswerContext,
    ) -> Result<Outcome, InboundError> {
        let email = person.email.as_str();
        match cmd {
            Command::Pause => {
                store.set_paused(email, true)?;
            }
            Command::Resume => {
                store.set_paused(email, false)?;
                store.set_unsubscribed(email, false)?;
                store.clear_schedule_optouts(email)?;
            }
            Command::Unsubscribe => {
                store.set_unsubscribed(email, true)?;
            }
            Command::Daily => {
                store.set_frequency_override(email, Some(Frequency::Daily))?;
            }
            Command::Weekly => {
                store.set_frequency_override(email, Some(Frequency::Weekly))?;
            }
            Command::DigestNow => {
                if let Err(again) =
                    confirm::digest_now_allowed(store.last_digest_now(email)?, c.now)
                {
                    actx.again_at = Some(self.local_time(email, again));
                    tracing::info!(%email, "digest now asked again within the hour");
                    return self.answer(store, c, person, "command-digest-now-limited", actx);
                }
                store.record_digest_now(email, c.now)?;
                match self.digest_now {
                    Some(hook) => {
                        if let Err(e) = hook(email) {
                            tracing::warn!("digest now for {email}: {e}");
                        }
                    }
                    None => {
                        tracing::warn!("digest now for {email}: no sender wired in this process")
                    }
                }
            }
        }
        tracing::info!(%email, command = %cmd, "email command applied");
        let key = format!("command-{}", cmd.key());
        self.answer(store, c, person, &key, actx)
    }

    /// `at` in the configured person `email`'s time zone (UTC for anyone else), as
    /// `2026-01-31 14:05 (Europe/Amsterdam)`.
    fn local_time(&self, email: &str, at: DateTime<Utc>) -> String {
        match self.person(email) {
            Some(p) => format!(
                "{} ({})",
                at.with_timezone(&p.time_zone).format("%Y-%m-%d %H:%M"),
                p.time_zone.name()
            ),
            None => format!("{} (UTC)", at.format("%Y-%m-%d %H:%M")),
        }
    }
}
