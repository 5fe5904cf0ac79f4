//! Fresh Message-IDs: the clock and the random generator, handed to the pure
//! [`message_id`](super::message::message_id).

use chrono::Utc;

use super::message::message_id;

/// A fresh Message-ID (without brackets): the time in milliseconds, 128 random bits, `@domain`
/// (see [`message_id`] for how `domain` is cleaned).
pub fn new_message_id(domain: &str) -> String {
    message_id(domain, Utc::now(), rand::random())
}
