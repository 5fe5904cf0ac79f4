//! OAuth 2.0 access tokens for logging in to SMTP and IMAP (SASL XOAUTH2 / OAUTHBEARER), for
//! mail hosted on Microsoft 365 or Google Workspace, or behind any other identity provider.
//!
//! A server block's `oauth = { … }` ([`OAuthConfig`]) names where tokens come from:
//! - `microsoft`: the client credentials flow of the Microsoft identity platform
//!   ([`microsoft`]);
//! - `google`: a service account with domain-wide delegation, a signed JWT assertion
//!   ([`google`]);
//! - `token_command`: a command that prints a token ([`command`]).
//!
//! [`TokenSource`] puts a [`cache::TokenCache`] in front of one of those: a token is fetched once
//! and reused until shortly before it expires; a token the mail server refused is dropped
//! ([`TokenSource::refused`]) so the caller's one retry gets a fresh one. Sources are shared per
//! configuration in the process ([`TokenSource::shared`]), so every SMTP connection and every
//! IMAP poll uses the same cached token. Fetching blocks (HTTP, a child process): async callers
//! use `spawn_blocking`.
//!
//! `sasl` builds the initial client responses (pure); `login` presents a token to SMTP (AUTH
//! XOAUTH2) and IMAP (AUTHENTICATE XOAUTH2/OAUTHBEARER) for [`crate::mail_login`];
//! `endpoint` speaks the token endpoint's HTTP (RFC 6749 §5 answers); `error` says what went
//! wrong, naming the provider.

pub mod cache;
pub mod command;
mod endpoint;
pub mod error;
pub mod google;
pub mod login;
pub mod microsoft;
pub mod sasl;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub use cache::TokenCache;
pub use endpoint::check_token_url;
pub use error::OAuthError;

/// Where a server block's access tokens come from (`oauth = { … }`, validated).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OAuthConfig {
    /// Microsoft identity platform, client credentials flow.
    Microsoft {
        /// Directory (tenant) id or domain.
        tenant: String,
        /// Application (client) id of the app registration.
        client_id: String,
        /// File holding the client secret (read at each fetch, so it can be rotated).
        client_secret_file: PathBuf,
        /// Token endpoint override (sovereign clouds, tests); default
        /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
        token_url: Option<String>,
        /// Scope override (sovereign clouds whose Exchange resource differs); default
        /// [`microsoft::SCOPE`].
        scope: Option<String>,
    },
    /// Google service account with domain-wide delegation.
    Google {
        /// The service account's JSON key file.
        service_account_file: PathBuf,
        /// The mailbox to act as (`sub`); the server block's login user when absent.
        user: Option<String>,
        /// Token endpoint override; default the key file's `token_uri`.
        token_url: Option<String>,
    },
    /// A command printing an access token on its standard output.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
    },
}

impl OAuthConfig {
    /// The provider's name for messages: `microsoft`, `google` or `token_command`.
    pub fn provider(&self) -> &'static str {
        match self {
            OAuthConfig::Microsoft { .. } => "microsoft",
            OAuthConfig::Google { .. } => "google",
            OAuthConfig::Command { .. } => "token_command",
        }
    }
}

/// A login by OAuth: the SASL user and where its tokens come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OAuthLogin {
    /// The mailbox logging in (SASL `user=` / `a=`).
    pub user: String,
    /// The token source's configuration.
    pub config: OAuthConfig,
}

/// A cached source of access tokens for one configuration. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct TokenSource {
    login: OAuthLogin,
    cache: Mutex<TokenCache>,
}

/// Every source made in this process, one per distinct login.
static SOURCES: Mutex<Vec<Arc<TokenSource>>> = Mutex::new(Vec::new());

impl TokenSource {
    /// A source with an empty cache (tests and one-off checks); the daemon uses
    /// [`TokenSource::shared`].
    pub fn new(login: OAuthLogin) -> TokenSource {
        TokenSource {
            login,
            cache: Mutex::new(TokenCache::default()),
        }
    }

    /// The process's source for `login` (made on first use), so its token is cached across
    /// connections and polls.
    pub fn shared(login: &OAuthLogin) -> Arc<TokenSource> {
        let mut all = SOURCES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = all.iter().find(|s| s.login == *login) {
            return Arc::clone(found);
        }
        let made = Arc::new(TokenSource::new(login.clone()));
        all.push(Arc::clone(&made));
        made
    }

    /// The login this source serves.
    pub fn login(&self) -> &OAuthLogin {
        &self.login
    }

    /// A valid access token: the cached one, or a new one from the provider when there is
    /// none or it expires soon. Blocking.
    pub fn token(&self) -> Result<String, OAuthError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let now = unix_now();
        if let Some(token) = cache.get(now) {
            return Ok(token.to_string());
        }
        let fetched = fetch(&self.login)?;
        cache.put(fetched.access_token.clone(), fetched.expires_in, now);
        Ok(fetched.access_token)
    }

    /// The mail server refused `token`: forget it, so the next [`TokenSource::token`] fetches
    /// a new one.
    pub fn refused(&self, token: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.forget(token);
    }
}

/// A token as the provider gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The access token.
    pub access_token: String,
    /// Seconds it is valid for, when the provider said.
    pub expires_in: Option<u64>,
}

/// Asks the provider of `login` for a new token (no cache). Blocking.
pub fn fetch(login: &OAuthLogin) -> Result<Fetched, OAuthError> {
    match &login.config {
        OAuthConfig::Microsoft {
            tenant,
            client_id,
            client_secret_file,
            token_url,
            scope,
        } => microsoft::fetch(
            tenant,
            client_id,
            client_secret_file,
            token_url.as_deref(),
            scope.as_deref(),
        ),
        OAuthConfig::Google {
            service_account_file,
            user,
            token_url,
        } => google::fetch(
            service_account_file,
            user.as_deref().unwrap_or(&login.user),
            token_url.as_deref(),
            unix_now(),
        ),
        OAuthConfig::Command { argv } => command::fetch(argv),
    }
}

/// A digest of the secret `config` reads (client secret or key file; nothing for a command),
/// so a fixed file counts as changed settings (ending a back-off at once). In memory only.
pub fn secret_digest(config: &OAuthConfig) -> u64 {
    use std::hash::{Hash, Hasher};
    let file = match config {
        OAuthConfig::Microsoft {
            client_secret_file, ..
        } => client_secret_file,
        OAuthConfig::Google {
            service_account_file,
            ..
        } => service_account_file,
        OAuthConfig::Command { .. } => return 0,
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(file).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Seconds since the Unix epoch (the one clock reading of this module).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
