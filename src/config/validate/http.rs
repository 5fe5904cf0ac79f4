//! `[http]`: the optional HTTP endpoint.

use toml::Spanned;

use super::*;

impl Validator<'_> {
    pub(super) fn http(
        &mut self,
        t: Option<&Spanned<crate::http::HttpConfig>>,
    ) -> Option<crate::http::HttpConfig> {
        let t = t?;
        let mut h = t.get_ref().clone();
        h.resolve_paths(self.ctx.base_dir);
        if let Some(secret) = &h.secret_file {
            if !secret.is_file() {
                let line = self.line(t);
                self.problem(
                    line,
                    "http.secret_file",
                    format!(
                        "{} does not exist (create it: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > {0})",
                        secret.display()
                    ),
                );
            }
        }
        if let Some(url) = &h.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                let line = self.line(t);
                self.problem(
                    line,
                    "http.public_url",
                    "must start with https:// (or http:// for tests)",
                );
            }
        }
        Some(h)
    }
}
