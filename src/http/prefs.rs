//! `GET|POST /p/<token>`: the preferences page a digest's footer links to.
//!
//! The link is signed per person ([`super::prefs_token`]); no password. `GET` shows the page and
//! changes nothing. `POST` carries the form's CSRF token (bound to the person and the link,
//! checked in constant time) and then either saves the settings ([`decide`] checks every field
//! against what config offers this person, then [`crate::store::Store::save_preferences`] writes
//! them in one transaction), unsubscribes, or resubscribes; then it redirects back to the page
//! (`303`, `?saved=1`), so a reload posts nothing twice. A refused link, a missing or wrong CSRF
//! token and a bad field each get a clear page in the person's (or the browser's) language, and
//! change nothing. The digest run reads the store at its next cycle, so changes take effect at
//! the next digest.
//!
//! What a person may choose follows the daemon's configuration: [`Preferences::replace`] after a
//! reload.

use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use super::prefs_form::{decide, FormFields, PrefsAction, PrefsOptions};
use super::prefs_page::{message_page, page, PrefsView};
use super::prefs_token::{csrf_matches, csrf_token, verify, PrefsLinkError};
use super::server::{with_store, with_store_mut, AppState};
use crate::config::Config;
use crate::model::Person;
use crate::render::Locales;
use crate::store::StoredPreferences;

/// What the page needs from the configuration: people, roles, groups, and the templates'
/// locales (the page's strings are the `prefs_*` keys of `templates/i18n/<locale>.toml`).
#[derive(Debug)]
pub struct PrefsDirectory {
    config: Config,
    locales: Locales,
}

/// The directory the routes read, swappable while the server runs (empty: the page answers
/// 404, as without a key).
#[derive(Debug, Clone, Default)]
pub struct Preferences(Arc<RwLock<Option<Arc<PrefsDirectory>>>>);

impl Preferences {
    /// The page for `config`'s people, in `locales`.
    pub fn new(config: &Config, locales: &Locales) -> Preferences {
        let p = Preferences::default();
        p.replace(config, locales);
        p
    }

    /// Follows a reloaded configuration.
    pub fn replace(&self, config: &Config, locales: &Locales) {
        let dir = Arc::new(PrefsDirectory {
            config: config.clone(),
            locales: locales.clone(),
        });
        match self.0.write() {
            Ok(mut g) => *g = Some(dir),
            Err(poisoned) => *poisoned.into_inner() = Some(dir),
        }
    }

    fn current(&self) -> Option<Arc<PrefsDirectory>> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The routes of the page.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/p/{token}", get(show).post(submit))
        .layer(DefaultBodyLimit::max(16 * 1024))
}

/// A verified link's person with what the page shows.
struct Opened {
    dir: Arc<PrefsDirectory>,
    person: Person,
    stored: StoredPreferences,
    options: PrefsOptions,
    csrf: String,
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    saved: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    UrlPath(token): UrlPath<String>,
    Query(query): Query<ShowQuery>,
    headers: HeaderMap,
) -> Response {
    let opened = match open(&state, &token, &headers).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let notice = query.saved.map(|_| (false, "prefs_saved"));
    render(&opened, notice, StatusCode::OK)
}

async fn submit(
    State(state): State<AppState>,
    UrlPath(token): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let opened = match open(&state, &token, &headers).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let fields = FormFields::parse(&body);
    let genuine = state
        .secret
        .as_deref()
        .is_some_and(|s| csrf_matches(s, &token, fields.get("csrf").unwrap_or_default()));
    if !genuine {
        tracing::info!(person = %opened.person.email, "preferences form refused: CSRF token missing or wrong");
        return render(
            &opened,
            Some((true, "prefs_error_csrf")),
            StatusCode::FORBIDDEN,
        );
    }
    let action = match decide(&fields, &opened.options, Utc::now()) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(person = %opened.person.email, reason = %e, "preferences form refused");
            return render(
                &opened,
                Some((true, e.message_key())),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let email = opened.person.email.clone();
    let what = match &action {
        PrefsAction::Save(_) => "saved",
        PrefsAction::Unsubscribe => "unsubscribed",
        PrefsAction::Resubscribe => "resubscribed",
    };
    let written = with_store_mut(&state, move |s| match &action {
        PrefsAction::Save(change) => s.save_preferences(&email, change, Utc::now()),
        PrefsAction::Unsubscribe => s.set_unsubscribed(&email, true),
        PrefsAction::Resubscribe => s.set_unsubscribed(&email, false),
    })
    .await;
    match written {
        Ok(true) => {
            if what == "unsubscribed" {
                state.metrics.unsubscribed();
            }
            tracing::info!(person = %opened.person.email, change = what, "preferences changed on the page");
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("?saved=1"));
            with_page_headers(r)
        }
        Ok(false) => refusal(&opened.dir, lang_of(&opened), Refused::Unknown),
        Err(e) => {
            tracing::warn!(error = %e, "preferences: store failed");
            refusal(&opened.dir, lang_of(&opened), Refused::Unavailable)
        }
    }
}

/// Verifies the link and loads the person, or answers with the page saying why not.
async fn open(state: &AppState, token: &str, headers: &HeaderMap) -> Result<Opened, Response> {
    let browser_lang = accept_language(headers);
    let (Some(secret), Some(dir)) = (state.secret.clone(), state.preferences.current()) else {
        return Err(plain_refusal(StatusCode::NOT_FOUND));
    };
    let claim = match verify(&secret, token, Utc::now(), state.prefs_max_age) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(reason = %e, "preferences link refused");
            let (lang, why) = match &e {
                PrefsLinkError::Expired { email } => (
                    dir.config
                        .person(email)
                        .map_or(browser_lang.clone(), |p| p.locale.clone()),
                    Refused::Expired,
                ),
                PrefsLinkError::FromTheFuture => (browser_lang, Refused::Expired),
                PrefsLinkError::Malformed | PrefsLinkError::BadSignature => {
                    (browser_lang, Refused::Invalid)
                }
            };
            return Err(refusal(&dir, lang, why));
        }
    };
    let Some(person) = dir.config.person(&claim.email).cloned() else {
        return Err(refusal(&dir, browser_lang, Refused::Unknown));
    };
    let email = person.email.clone();
    let stored = match with_store(state, move |s| s.preferences(&email)).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(refusal(&dir, person.locale.clone(), Refused::Unknown)),
        Err(e) => {
            tracing::warn!(error = %e, "preferences: store failed");
            return Err(refusal(&dir, person.locale.clone(), Refused::Unavailable));
        }
    };
    let options = PrefsOptions::for_person(&dir.config, &person, dir.locales.names());
    Ok(Opened {
        csrf: csrf_token(&secret, token),
        dir,
        person,
        stored,
        options,
    })
}

/// The language the page of `opened` is shown in: the chosen one, else the config's.
fn lang_of(opened: &Opened) -> String {
    opened
        .stored
        .overrides
        .locale
        .clone()
        .unwrap_or_else(|| opened.person.locale.clone())
}

fn render(opened: &Opened, notice: Option<(bool, &'static str)>, status: StatusCode) -> Response {
    let locales = &opened.dir.locales;
    let lang = locales.resolve(&lang_of(opened));
    let stored = &opened.stored;
    let view = PrefsView {
        name: &opened.person.name,
        email: &opened.person.email,
        options: &opened.options,
        frequency: stored.frequency_override.unwrap_or(opened.person.frequency),
        opted_out: &stored.opted_out_schedules,
        excluded: &stored.overrides.excluded_groups,
        pause_day: stored
            .overrides
            .paused_until
            .and_then(|u| opened.options.pause_day(u, Utc::now())),
        paused_by_mail: stored.paused,
        unsubscribed: stored.unsubscribed,
        locale_override: stored.overrides.locale.as_deref(),
        configured_locale: locales.resolve(&opened.person.locale),
        csrf: &opened.csrf,
        notice,
    };
    let html = page(&view, locales.table(lang), lang, locales);
    with_page_headers((status, Html(html)).into_response())
}

/// Why the page is not shown.
#[derive(Debug, Clone, Copy)]
enum Refused {
    Invalid,
    Expired,
    Unknown,
    Unavailable,
}

fn refusal(dir: &PrefsDirectory, lang: String, why: Refused) -> Response {
    let lang = dir.locales.resolve(&lang);
    let t = dir.locales.table(lang);
    let (status, title, text) = match why {
        Refused::Invalid => (
            StatusCode::FORBIDDEN,
            "prefs_link_invalid_title",
            "prefs_link_invalid",
        ),
        Refused::Expired => (
            StatusCode::GONE,
            "prefs_link_expired_title",
            "prefs_link_expired",
        ),
        Refused::Unknown => (StatusCode::NOT_FOUND, "prefs_title", "prefs_unknown"),
        Refused::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "prefs_title",
            "prefs_unavailable",
        ),
    };
    let html = message_page(lang, &t.text(title, &[]), &t.text(text, &[]));
    with_page_headers((status, Html(html)).into_response())
}

/// Without a key (or a configuration) the page does not exist.
fn plain_refusal(status: StatusCode) -> Response {
    let html = message_page(
        "en",
        "Not available",
        "The preferences page is not configured here. Reply to a digest with a command instead.",
    );
    with_page_headers((status, Html(html)).into_response())
}

/// The first language of an `Accept-Language` header (`en` without one).
fn accept_language(headers: &HeaderMap) -> String {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|tag| tag.split(';').next().unwrap_or_default().trim().to_string())
        .filter(|tag| !tag.is_empty() && tag.len() < 36)
        .unwrap_or_else(|| "en".into())
}

/// The link is a credential: never cached, never sent on as a referrer, never framed; the page
/// loads nothing and runs no script.
fn with_page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_is_its_first_tag() {
        let mut h = HeaderMap::new();
        assert_eq!(accept_language(&h), "en");
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("nl-BE;q=0.9, en;q=0.5"),
        );
        assert_eq!(accept_language(&h), "nl-BE");
    }
}
