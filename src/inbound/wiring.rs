//! Builds what the inbound pipeline talks to from a config: the forum of the groups and the
//! transport answers go out through.
//!
//! **Boundary:** the only inbound file that names a concrete forum or transport.

use crate::config::Config;
use crate::forum::{open_forums, Forum};
use crate::inbound::pipeline::AnswerSink;
use crate::outbound::message::BuiltMessage;
use crate::outbound::{Outbound, SendError};

/// The forums replies are posted into: one connector per `[forums.<name>]`, chosen per group.
pub fn open_forum(config: &Config) -> anyhow::Result<Box<dyn Forum>> {
    Ok(Box::new(open_forums(config)))
}

/// Answers sent through the configured [`Outbound`] transport, with the null envelope sender.
///
/// `Outbound` is async; this sink blocks on it. Outside a tokio runtime it uses its own
/// current-thread runtime; inside one (a `spawn_blocking` thread) it uses that runtime's handle.
/// Never call it from async code directly.
pub struct OutboundAnswers {
    outbound: Outbound,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for OutboundAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundAnswers")
            .field("outbound", &self.outbound)
            .finish_non_exhaustive()
    }
}

impl OutboundAnswers {
    /// Wraps a transport.
    pub fn new(outbound: Outbound) -> std::io::Result<Self> {
        let rt = if tokio::runtime::Handle::try_current().is_ok() {
            None
        } else {
            Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            )
        };
        Ok(OutboundAnswers { outbound, rt })
    }

    /// The transport `[mail.transport]` describes.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Self::new(Outbound::from_config(&config.mail)?)?)
    }
}

impl AnswerSink for OutboundAnswers {
    fn send_answer(&self, msg: &BuiltMessage) -> Result<(), SendError> {
        let fut = self
            .outbound
            .send(&msg.envelope_from, &msg.envelope_to, &msg.raw);
        match &self.rt {
            Some(rt) => rt.block_on(fut),
            None => tokio::runtime::Handle::current().block_on(fut),
        }
    }
}
