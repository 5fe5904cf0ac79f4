//! `[organisation]` and `[store]`: the organisation's name and forum URL, the store's path.

use std::path::PathBuf;

use toml::Spanned;

use crate::config::checks;
use crate::config::raw;

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

    pub(super) fn store(&mut self, t: Option<&Spanned<raw::RawStore>>) -> Option<PathBuf> {
        let Some(t) = t else {
            self.table_missing("store");
            return None;
        };
        let line = self.line(t);
        let p = self.required_str(
            t.get_ref().path.as_ref(),
            line,
            "store.path",
            "the SQLite file, relative to this file",
        )?;
        Some(self.path(&p.value))
    }
}
