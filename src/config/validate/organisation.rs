//! `[organisation]` and `[store]`: the organisation's name and forum URL, where the store is
//! (a SQLite `path` or a PostgreSQL `url`).

use std::path::PathBuf;

use toml::Spanned;

use crate::config::checks;
use crate::config::raw;
use crate::store::location::is_postgres_url;
use crate::store::PgSettings;

use super::*;

impl Validator<'_> {
    pub(super) fn organisation(
        &mut self,
        t: Option<&Spanned<raw::RawOrganisation>>,
    ) -> Option<(String, String)> {
        let Some(t) = t else {
            self.table_missing("organisation");
            return None;
        };
        let line = self.line(t);
        let name = self.required_str(t.get_ref().name.as_ref(), line, "organisation.name", "");
        let url = self.required_str(
            t.get_ref().forum_url.as_ref(),
            line,
            "organisation.forum_url",
            "base URL of the forum, for links",
        );
        let url = url.and_then(|u| match checks::check_http_url(&u.value) {
            Ok(u) => Some(u),
            Err(e) => {
                self.problem(u.line, &u.key, e);
                None
            }
        });
        Some((name?.value, url?))
    }

    /// `[store]`: `path` (SQLite) or `url` (PostgreSQL, with `password_file` and
    /// `pool_size`), exactly one of them.
    pub(super) fn store(
        &mut self,
        t: Option<&Spanned<raw::RawStore>>,
    ) -> Option<(PathBuf, Option<PgSettings>)> {
        let Some(t) = t else {
            self.table_missing("store");
            return None;
        };
        let line = self.line(t);
        let raw = t.get_ref();
        let Some(url) = raw.url.as_ref() else {
            for (key, v) in [("store.password_file", &raw.password_file)] {
                if let Some(v) = v {
                    let l = self.line(v);
                    self.problem(l, key, "only with `url` (a PostgreSQL store)");
                }
            }
            let p = self.required_str(
                raw.path.as_ref(),
                line,
                "store.path",
                "the SQLite file, relative to this file; or `url` for PostgreSQL",
            )?;
            return Some((self.path(&p.value), None));
        };
        if let Some(p) = raw.path.as_ref() {
            let l = self.line(p);
            self.problem(
                l,
                "store.path",
                "set either `path` (SQLite) or `url` (PostgreSQL)",
            );
            return None;
        }
        let u = self.required_str(Some(url), line, "store.url", "")?;
        if !is_postgres_url(&u.value) {
            self.problem(
                u.line,
                "store.url",
                "must be a postgres://user@host:port/database URL",
            );
            return None;
        }
        let pool_size = self.int(raw.pool_size.as_ref(), "store.pool_size", 4, 1, 200);
        let settings = PgSettings {
            url: u.value.clone(),
            password_file: raw.password_file.as_ref().map(|f| self.path(f.get_ref())),
            pool_size: pool_size as u32,
            ca_file: raw.ca_file.as_ref().map(|f| self.path(f.get_ref())),
        };
        if let Err(e) = settings.config() {
            if !matches!(e, crate::store::StoreError::PasswordFile { .. }) {
                self.problem(u.line, "store.url", e.to_string());
                return None;
            }
        }
        Some((PathBuf::new(), Some(settings)))
    }
}
