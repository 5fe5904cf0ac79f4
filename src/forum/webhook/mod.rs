//! Bespoke platforms connected by signed webhooks (`kind = "webhook"`).
//!
//! Posts arrive by push: the platform POSTs `digestd.post.v1` JSON to
//! `/hooks/<forum>/posts` on the `[http]` listener (handled in `crate::http::hooks`), signed
//! with the shared secret; replies and new threads go the other way, POSTed signed to the
//! forum's `post_url`. `docs/webhooks.md` is the integration guide for the platform's side.
//!
//! One file per job: [`schema`] (the JSON documents), [`signature`] (HMAC-SHA256 over
//! timestamp and body, the replay window), [`mapping`] (pushed JSON → store batches, with the
//! failing field named) are pure; [`secret`] reads the key file; [`client`] is the outbound
//! HTTP client and the [`crate::forum::Forum`] implementation.

pub mod client;
pub mod mapping;
pub mod schema;
pub mod secret;
pub mod signature;

pub use client::WebhookForum;
pub use mapping::{PayloadError, PUSH_CURSOR};
pub use secret::{SecretError, WebhookSecret};
