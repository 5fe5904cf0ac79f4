//! Who is who on Matrix: people of the config ↔ Matrix user ids. Pure, no I/O.
//!
//! A person's Matrix user is their `matrix_id` (people CSV column / inline key) when set, else
//! the forum's `user_id_template` with `{localpart}` = the local part of their address, lower
//! case, and `{server_name}` = the forum's `server_name` (default template
//! `@{localpart}:{server_name}`: `Anna.de.Vries@city.example` → `@anna.de.vries:example.org`).
//! The same rule read backwards maps the sender of a collected event to a person, so a person's
//! own posts are known as theirs; a sender who is nobody in the config keeps their user id as
//! the post's author address (it matches no one) and their display name.

use std::collections::HashMap;

/// The template when none is configured.
pub const DEFAULT_TEMPLATE: &str = "@{localpart}:{server_name}";

/// Why no Matrix user id can be made for an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserIdError {
    /// The address has no local part.
    #[error("{0:?} has no local part to make a Matrix user id from")]
    NoLocalPart(String),
    /// The resulting id is not a valid Matrix user id.
    #[error("{0:?} is not a valid Matrix user id (localparts allow a-z, 0-9, . _ = - / +); set the person's matrix_id")]
    Invalid(String),
}

/// The Matrix user id the template gives `email`.
pub fn user_id_from_template(
    template: &str,
    server_name: &str,
    email: &str,
) -> Result<String, UserIdError> {
    let localpart = email
        .rsplit_once('@')
        .map_or(email, |(local, _)| local)
        .trim()
        .to_lowercase();
    if localpart.is_empty() {
        return Err(UserIdError::NoLocalPart(email.to_string()));
    }
    let id = template
        .replace("{localpart}", &localpart)
        .replace("{server_name}", server_name);
    check_user_id(&id)?;
    Ok(id)
}

/// Checks the shape of a user id: `@localpart:server`, localpart of the characters the spec
/// allows for new users.
pub fn check_user_id(id: &str) -> Result<(), UserIdError> {
    let bad = || UserIdError::Invalid(id.to_string());
    let rest = id.strip_prefix('@').ok_or_else(bad)?;
    let (local, server) = rest.split_once(':').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b));
    if !local_ok || server.is_empty() || server.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(())
}

/// The localpart of a user id (`@ann:x` → `ann`).
pub fn localpart(user_id: &str) -> &str {
    let rest = user_id.strip_prefix('@').unwrap_or(user_id);
    rest.split_once(':').map_or(rest, |(l, _)| l)
}

/// A person as the connector needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Normalised address.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// People by Matrix user id, and the rule for everyone else.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_user: HashMap<String, Member>,
    by_email: HashMap<String, String>,
    template: String,
    server_name: String,
}

impl Directory {
    /// Builds the directory from `(email, name, matrix_id)` of each person. A person whose
    /// address gives no valid id (and who has no `matrix_id`) is left out of the reverse map.
    pub fn new<'a, I>(template: &str, server_name: &str, people: I) -> Directory
    where
        I: IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
    {
        let mut dir = Directory {
            by_user: HashMap::new(),
            by_email: HashMap::new(),
            template: if template.trim().is_empty() {
                DEFAULT_TEMPLATE.to_string()
            } else {
                template.to_string()
            },
            server_name: server_name.to_string(),
        };
        for (email, name, matrix_id) in people {
            let email = crate::model::normalize_email(email);
            let id = match matrix_id.map(str::trim).filter(|m| !m.is_empty()) {
                Some(id) => id.to_string(),
                None => match user_id_from_template(&dir.template, server_name, &email) {
                    Ok(id) => id,
                    Err(_) => continue,
                },
            };
            dir.by_email.insert(email.clone(), id.clone());
            dir.by_user.insert(
                id,
                Member {
                    email,
                    name: name.to_string(),
                },
            );
        }
        dir
    }

    /// The Matrix user id digestd posts as for `email`.
    pub fn user_id_for(&self, email: &str) -> Result<String, UserIdError> {
        let email = crate::model::normalize_email(email);
        match self.by_email.get(&email) {
            Some(id) => Ok(id.clone()),
            None => user_id_from_template(&self.template, &self.server_name, &email),
        }
    }

    /// The person a sender is, if any.
    pub fn member(&self, user_id: &str) -> Option<&Member> {
        self.by_user.get(user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_uses_the_lowercased_local_part() {
        assert_eq!(
            user_id_from_template(
                DEFAULT_TEMPLATE,
                "example.org",
                "Anna.de.Vries@City.example"
            ),
            Ok("@anna.de.vries:example.org".into())
        );
        assert_eq!(
            user_id_from_template("@staff_{localpart}:{server_name}", "x.org", "bo@y"),
            Ok("@staff_bo:x.org".into())
        );
    }

    #[test]
    fn addresses_that_give_no_valid_id_are_refused_with_a_hint() {
        let e = user_id_from_template(DEFAULT_TEMPLATE, "x.org", "jöran@y").expect_err("invalid");
        assert!(e.to_string().contains("matrix_id"), "{e}");
        assert!(user_id_from_template(DEFAULT_TEMPLATE, "x.org", "@y").is_err());
        assert!(check_user_id("ann:x").is_err());
        assert!(check_user_id("@ann").is_err());
        assert!(check_user_id("@Ann:x").is_err());
    }

    #[test]
    fn the_directory_maps_both_ways_and_prefers_matrix_id() {
        let dir = Directory::new(
            "",
            "example.org",
            [
                ("Ann@City.example", "Ann", None),
                ("bob@city.example", "Bob", Some("@robert:other.org")),
            ],
        );
        assert_eq!(
            dir.user_id_for("ann@city.example"),
            Ok("@ann:example.org".into())
        );
        assert_eq!(
            dir.user_id_for("BOB@city.example"),
            Ok("@robert:other.org".into())
        );
        assert_eq!(
            dir.member("@robert:other.org").map(|m| m.email.as_str()),
            Some("bob@city.example")
        );
        assert_eq!(
            dir.member("@ann:example.org").map(|m| m.name.as_str()),
            Some("Ann")
        );
        assert!(dir.member("@bob:example.org").is_none());
        // Someone not in the config still gets the template's id.
        assert_eq!(
            dir.user_id_for("carl@city.example"),
            Ok("@carl:example.org".into())
        );
        assert_eq!(localpart("@carl:example.org"), "carl");
    }
}
