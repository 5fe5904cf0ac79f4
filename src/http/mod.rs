//! The optional HTTP endpoint (off by default, loopback unless configured): `/healthz`,
//! `/metrics` in Prometheus text format, RFC 8058 one-click unsubscribe at `/u/<token>`, and
//! posts pushed by webhook forums at `/hooks/<forum>/posts`.
//!
//! One file per concern: [`config`] (`[http]` settings and the signing key), [`token`] (signed
//! unsubscribe tokens, pure), [`metrics`] (counters the daemon bumps, rendered by hand),
//! [`ledger`] (the used-token table and the unsubscribe write), [`hooks`] (the signed webhook
//! route), [`server`] (axum routes).
//!
//! **Invariants:** a GET never changes anything; a POST unsubscribes only with a token whose
//! HMAC verifies, and each token works once (its nonce is recorded in the same transaction as
//! the unsubscribe).

pub mod config;
pub mod hooks;
pub mod ledger;
pub mod metrics;
pub mod server;
pub mod token;

pub use config::{HttpConfig, Secret};
pub use hooks::{WebhookTable, Webhooks};
pub use metrics::{FailureKind, Metrics, METRICS};
pub use server::{serve, HttpError, Server};
pub use token::{unsubscribe_url, LIST_UNSUBSCRIBE_POST};
