//! `oauth = { … }` of a server block (`[mail.transport]`, `[inbound.imap]`): which provider,
//! its required keys, keys that belong to another provider, the token endpoint override, and
//! the secret files (their readability is a [`Requirement`]).

use toml::Spanned;

use crate::config::raw;
use crate::oauth::{check_token_url, OAuthConfig};

use super::*;

impl Validator<'_> {
    /// The token source `t` describes, under key `prefix` (e.g. `inbound.imap.oauth`).
    pub(super) fn oauth(
        &mut self,
        t: &Spanned<raw::RawOAuth>,
        prefix: &str,
    ) -> Option<OAuthConfig> {
        let line = self.line(t);
        let r = t.get_ref();
        let key = |k: &str| format!("{prefix}.{k}");
        let token_url = match &r.token_url {
            Some(u) => {
                let at = self.at(u, key("token_url"));
                match check_token_url(&at.value) {
                    Ok(()) => Some(Some(at.value)),
                    Err(e) => {
                        self.problem(at.line, &at.key, e);
                        None
                    }
                }
            }
            None => Some(None),
        };
        let provider = r.provider.as_ref().map(|p| self.at(p, key("provider")));
        // Which keys each way allows; the others are reported as foreign.
        let (kind, allowed): (&str, &[&str]) = match (&r.token_command, &provider) {
            (Some(_), Some(p)) => {
                self.problem(
                    p.line,
                    &p.key,
                    "give either provider or token_command, not both",
                );
                return None;
            }
            (Some(_), None) => ("token_command", &["token_command"]),
            (None, None) => {
                self.missing(
                    line,
                    &key("provider"),
                    "\"microsoft\" or \"google\", or give token_command = [\"program\", …]",
                );
                return None;
            }
            (None, Some(p)) => match p.value.as_str() {
                "microsoft" => (
                    "provider = \"microsoft\"",
                    &[
                        "provider",
                        "tenant",
                        "client_id",
                        "client_secret_file",
                        "token_url",
                        "scope",
                    ],
                ),
                "google" => (
                    "provider = \"google\"",
                    &["provider", "service_account_file", "user", "token_url"],
                ),
                other => {
                    self.problem(
                        p.line,
                        &p.key,
                        format!("unknown provider `{other}`: \"microsoft\" or \"google\" (or use token_command)"),
                    );
                    return None;
                }
            },
        };
        let present: [(&str, Option<usize>); 9] = [
            ("provider", r.provider.as_ref().map(|s| self.line(s))),
            ("tenant", r.tenant.as_ref().map(|s| self.line(s))),
            ("client_id", r.client_id.as_ref().map(|s| self.line(s))),
            (
                "client_secret_file",
                r.client_secret_file.as_ref().map(|s| self.line(s)),
            ),
            (
                "service_account_file",
                r.service_account_file.as_ref().map(|s| self.line(s)),
            ),
            ("user", r.user.as_ref().map(|s| self.line(s))),
            ("token_url", r.token_url.as_ref().map(|s| self.line(s))),
            ("scope", r.scope.as_ref().map(|s| self.line(s))),
            (
                "token_command",
                r.token_command.as_ref().map(|s| self.line(s)),
            ),
        ];
        let mut ok = token_url.is_some();
        for (k, at) in present {
            if let (Some(l), false) = (at, allowed.contains(&k)) {
                ok = false;
                self.problem(l, &key(k), format!("not used with {kind}"));
            }
        }
        let config = if let Some(cmd) = &r.token_command {
            self.token_command(cmd, &key("token_command"))
        } else if provider.as_ref().is_some_and(|p| p.value == "microsoft") {
            let tenant = self.required_str(
                r.tenant.as_ref(),
                line,
                &key("tenant"),
                "the directory (tenant) id or domain",
            );
            let client_id = self.required_str(
                r.client_id.as_ref(),
                line,
                &key("client_id"),
                "the application (client) id",
            );
            let secret = self.required_str(
                r.client_secret_file.as_ref(),
                line,
                &key("client_secret_file"),
                "a file holding the client secret",
            );
            let secret = secret.map(|s| self.oauth_secret_file(s));
            Some(OAuthConfig::Microsoft {
                tenant: tenant?.value,
                client_id: client_id?.value,
                client_secret_file: secret?,
                token_url: token_url.clone().flatten(),
                scope: r
                    .scope
                    .as_ref()
                    .map(|s| s.get_ref().trim().to_string())
                    .filter(|s| !s.is_empty()),
            })
        } else {
            let file = self.required_str(
                r.service_account_file.as_ref(),
                line,
                &key("service_account_file"),
                "the service account's JSON key file",
            );
            let file = file.map(|s| self.oauth_secret_file(s));
            let user = match &r.user {
                Some(u) => {
                    let at = self.at(u, key("user"));
                    if at.value.contains('@') {
                        Some(at.value)
                    } else {
                        self.problem(at.line, &at.key, "the mailbox to act as, an address");
                        ok = false;
                        None
                    }
                }
                None => None,
            };
            Some(OAuthConfig::Google {
                service_account_file: file?,
                user,
                token_url: token_url.clone().flatten(),
            })
        };
        config.filter(|_| ok)
    }

    /// `token_command = ["program", …]`: a non-empty list of non-empty strings.
    fn token_command(&mut self, cmd: &Spanned<Vec<raw::Str>>, key: &str) -> Option<OAuthConfig> {
        let line = self.line(cmd);
        let argv: Vec<String> = cmd.get_ref().iter().map(|a| a.get_ref().clone()).collect();
        if argv.is_empty() || argv[0].trim().is_empty() {
            self.problem(
                line,
                key,
                "give the program and its arguments, e.g. [\"/usr/local/bin/get-token\", \"imap\"]",
            );
            return None;
        }
        let mut argv = argv;
        if argv[0].contains('/') {
            argv[0] = self.path(&argv[0]).display().to_string();
        }
        Some(OAuthConfig::Command { argv })
    }

    /// A secret file's path, to be checked for readability when the config is loaded.
    fn oauth_secret_file(&mut self, at: At<String>) -> PathBuf {
        let path = self.path(&at.value);
        self.requirements.push(Requirement {
            kind: RequirementKind::SecretFile,
            path: path.clone(),
            file: self.ctx.file.to_path_buf(),
            line: at.line,
            key: at.key,
            needed_by: String::new(),
        });
        path
    }
}
