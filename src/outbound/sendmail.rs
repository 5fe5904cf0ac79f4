//! The local `sendmail` binary, through lettre's `AsyncSendmailTransport` (`sendmail -i -f FROM
//! -- TO`, message on stdin).
//!
//! lettre keeps only sendmail's stderr, not its exit status, so EX_TEMPFAIL cannot be told from
//! a hard failure: every failure is [`SendError::Transient`] (the local MTA queues what it
//! accepts; a failure to hand over is about the local system, not the recipient). Addresses that
//! do not parse are permanent.

use std::path::{Path, PathBuf};

use lettre::{AsyncSendmailTransport, AsyncTransport, Tokio1Executor};

use super::error::SendError;
use super::smtp::envelope;

/// Hands messages to a sendmail-compatible command.
#[derive(Debug)]
pub struct SendmailOutbound {
    command: PathBuf,
    transport: AsyncSendmailTransport<Tokio1Executor>,
}

impl Clone for SendmailOutbound {
    fn clone(&self) -> Self {
        SendmailOutbound::new(&self.command)
    }
}

impl SendmailOutbound {
    /// A transport running `command` (e.g. `/usr/sbin/sendmail`).
    pub fn new(command: &Path) -> Self {
        SendmailOutbound {
            command: command.to_path_buf(),
            transport: AsyncSendmailTransport::<Tokio1Executor>::new_with_command(command),
        }
    }

    /// The command run for each message.
    pub fn command(&self) -> &Path {
        &self.command
    }

    /// Runs the command once for this message.
    pub async fn send(
        &self,
        envelope_from: &str,
        envelope_to: &str,
        raw: &[u8],
    ) -> Result<(), SendError> {
        let envelope = envelope(envelope_from, envelope_to)?;
        self.transport
            .send_raw(&envelope, raw)
            .await
            .map_err(|e| SendError::Transient(format!("{}: {e}", self.command.display())))
    }
}
