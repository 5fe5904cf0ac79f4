//! The optional HTTP endpoint (off by default, loopback unless configured): `/healthz`,
//! `/metrics` in Prometheus text format, RFC 8058 one-click unsubscribe at `/u/<token>`, and
//! posts pushed by webhook forums at `/hooks/<forum>/posts`, and the preferences page at
//! `/p/<token>` that every digest's footer links to.
//!
//! One file per concern: [`config`] (`[http]` settings and the signing key), [`token`] (signed
//! unsubscribe tokens, pure), [`metrics`] (the Prometheus rendering of [`crate::metrics`] and
//! of gauges read from the store), [`hooks`] (the signed webhook route), [`prefs_token`] (signed
//! preferences links and their CSRF tokens, pure), [`prefs_form`] (the form's choices and the
//! decision on a posted form, pure), [`prefs_page`] (its HTML, pure), [`prefs`] (its routes),
//! [`server`] (axum routes). The used tokens and the
//! unsubscribe write are the store's (`store::unsubscribes`).
//!
//! **Invariants:** a GET never changes anything; a POST unsubscribes only with a token whose
//! HMAC verifies, and each token works once (its nonce is recorded in the same transaction as
//! the unsubscribe).

pub mod config;
pub mod hooks;
pub mod metrics;
pub mod prefs;
pub mod prefs_form;
pub mod prefs_page;
pub mod prefs_token;
pub mod server;
pub mod signed;
pub mod token;

pub use config::{HttpConfig, Secret};
pub use hooks::{WebhookTable, Webhooks};
pub use prefs::Preferences;
pub use prefs_token::preferences_url;

pub use server::{serve, HttpError, Server};
pub use token::{unsubscribe_url, LIST_UNSUBSCRIBE_POST};
