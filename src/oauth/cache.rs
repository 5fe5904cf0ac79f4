//! The in-memory token cache: keeps one access token and says whether it is still good at a
//! given moment. Pure: the clock is passed in (seconds since the epoch).
//!
//! A token is used until `margin` before it expires, so a login never presents a token that
//! runs out mid-handshake: the margin is a quarter of the token's lifetime, at most 5 minutes
//! (a usual one-hour token is renewed after 55 minutes; a 20-second test token after 15).
//! A token without an announced lifetime is kept for [`DEFAULT_LIFETIME`].

/// Lifetime assumed when the provider does not say (`expires_in` absent; `token_command`).
pub const DEFAULT_LIFETIME: u64 = 300;

/// Most a token is renewed ahead of its expiry.
pub const MAX_MARGIN: u64 = 300;

/// One cached token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCache {
    current: Option<Cached>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    token: String,
    /// Renew at or after this moment.
    renew_at: u64,
}

impl TokenCache {
    /// The cached token if it is still good at `now`.
    pub fn get(&self, now: u64) -> Option<&str> {
        self.current
            .as_ref()
            .filter(|c| now < c.renew_at)
            .map(|c| c.token.as_str())
    }

    /// Keeps `token`, fetched at `now` and valid for `expires_in` seconds.
    pub fn put(&mut self, token: String, expires_in: Option<u64>, now: u64) {
        let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME);
        let margin = (lifetime / 4).min(MAX_MARGIN);
        self.current = Some(Cached {
            token,
            renew_at: now.saturating_add(lifetime - margin),
        });
    }

    /// Drops `token` if it is the cached one (a server refused it); a newer token fetched
    /// meanwhile by another login stays.
    pub fn forget(&mut self, token: &str) {
        if self.current.as_ref().is_some_and(|c| c.token == token) {
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_token_is_reused_until_five_minutes_before_expiry() {
        let mut cache = TokenCache::default();
        assert_eq!(cache.get(1000), None, "empty");
        cache.put("t1".into(), Some(3600), 1000);
        assert_eq!(cache.get(1000), Some("t1"));
        assert_eq!(cache.get(1000 + 3600 - 301), Some("t1"));
        assert_eq!(cache.get(1000 + 3600 - 300), None, "renewed 5 min early");
    }

    #[test]
    fn a_short_token_is_renewed_a_quarter_of_its_life_early() {
        let mut cache = TokenCache::default();
        cache.put("t".into(), Some(20), 0);
        assert_eq!(cache.get(14), Some("t"));
        assert_eq!(cache.get(15), None);
        // A token that expires at once is never served from the cache.
        cache.put("z".into(), Some(0), 50);
        assert_eq!(cache.get(50), None);
    }

    #[test]
    fn without_a_lifetime_the_default_applies() {
        let mut cache = TokenCache::default();
        cache.put("t".into(), None, 0);
        assert_eq!(
            cache.get(DEFAULT_LIFETIME - DEFAULT_LIFETIME / 4 - 1),
            Some("t")
        );
        assert_eq!(cache.get(DEFAULT_LIFETIME), None);
    }

    #[test]
    fn forgetting_drops_only_the_refused_token() {
        let mut cache = TokenCache::default();
        cache.put("new".into(), Some(3600), 0);
        cache.forget("old");
        assert_eq!(cache.get(1), Some("new"), "a newer token stays");
        cache.forget("new");
        assert_eq!(cache.get(1), None);
    }
}
