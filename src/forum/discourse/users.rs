//! Discourse users ↔ people, by email address, cached for the connector's lifetime.
//!
//! Authors: `GET /u/{username}/emails.json` (needs an admin key or one with the users scope).
//! Posting: `GET /admin/users/list/active.json?email=...&show_emails=true`, which finds the
//! active account with that address; a person without one is refused, never posted as someone
//! else. Only found accounts are cached, so an account created later is seen at the next try.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::forum::ForumError;
use crate::model::normalize_email;

use super::client::{encode, ApiError, Client};
use super::map::placeholder_email;
use super::wire::{AdminUser, UserEmails};

/// The two caches.
#[derive(Debug, Default)]
pub struct Users {
    emails: Mutex<HashMap<String, String>>,
    usernames: Mutex<HashMap<String, String>>,
}

impl Users {
    /// The address of `username` (lower case). A user Discourse has no address for (the
    /// `system` user, a deleted account) gets a placeholder that matches no person.
    pub fn email_of(&self, client: &Client, username: &str) -> Result<String, ForumError> {
        if let Some(e) = lock(&self.emails).get(username) {
            return Ok(e.clone());
        }
        let path = format!("/u/{}/emails.json", encode(username));
        let email = match client.get::<UserEmails>(&path) {
            // `system` and bots answer with a non-address such as "no_email".
            Ok(u) if u.email.contains('@') => normalize_email(&u.email),
            Ok(_) | Err(ApiError::NotFound(_)) => placeholder_email(username),
            Err(ApiError::Refused(m)) => {
                return Err(ForumError::Unavailable(format!(
                    "reading the address of Discourse user {username} was refused ({m}): the API \
                     key needs to be an admin key for all users (or have the users scope)"
                )))
            }
            Err(e) => return Err(ForumError::Unavailable(e.to_string())),
        };
        lock(&self.emails).insert(username.to_string(), email.clone());
        Ok(email)
    }

    /// The username of the active account with `email`, or `Refused` with a message for the
    /// person when there is none.
    pub fn username_of(&self, client: &Client, email: &str) -> Result<String, ForumError> {
        let email = normalize_email(email);
        if let Some(u) = lock(&self.usernames).get(&email) {
            return Ok(u.clone());
        }
        let path = format!(
            "/admin/users/list/active.json?email={}&show_emails=true",
            encode(&email)
        );
        let found: Vec<AdminUser> = client.get(&path).map_err(|e| match e {
            ApiError::Refused(m) => ForumError::Unavailable(format!(
                "looking up Discourse accounts by address was refused ({m}): the API key needs \
                 to be an admin key"
            )),
            other => ForumError::Unavailable(other.to_string()),
        })?;
        let account = found.into_iter().find(|u| {
            u.active
                && !u.staged
                && (u
                    .email
                    .as_deref()
                    .is_some_and(|e| normalize_email(e) == email)
                    || u.secondary_emails
                        .iter()
                        .any(|e| normalize_email(e) == email))
        });
        match account {
            Some(u) => {
                lock(&self.usernames).insert(email, u.username.clone());
                lock(&self.emails)
                    .entry(u.username.clone())
                    .or_insert_with(|| normalize_email(u.email.as_deref().unwrap_or_default()));
                Ok(u.username)
            }
            None => Err(ForumError::Refused(format!(
                "{email} has no account on the Discourse forum {}. Your message was not posted, \
                 and it will not be posted under another name. Ask the forum's administrators \
                 for an account with this address (or add it to your account there), then send \
                 your reply again.",
                client.base()
            ))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
