//! Outbound mail: building digest messages and handing them to a transport.
//!
//! **Boundary:** only `outbound` knows SMTP. Message building ([`message`]) is pure (fresh Message-IDs
//! come from [`ids`]); the
//! transports ([`Outbound`]: SMTP with a pool of `TCP_NODELAY` connections, sendmail, Maildir)
//! do the I/O and classify failures as [`SendError::Transient`] (retry later) or
//! [`SendError::Permanent`] (record and move on); [`retry`] holds the backoff policy.

pub mod error;
pub mod ids;
pub mod maildir;
pub mod message;
pub mod retry;
pub mod sendmail;
pub mod smtp;
pub mod transport;

pub use error::SendError;
pub use ids::new_message_id;
pub use message::{
    build_digest, build_plain_answer, message_id, BuiltMessage, DigestMessage, MessageError,
    PlainAnswer,
};
pub use retry::RetryPolicy;
pub use transport::Outbound;
