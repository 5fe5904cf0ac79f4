//! TLS to the PostgreSQL store: when it is used, and against which certificates.
//!
//! The policy follows the mail servers' ([`crate::mail_tls`]): a server on this machine (a
//! loopback address or a unix socket) is reached in plain text unless the URL asks for TLS; a
//! server anywhere else is reached over TLS, always verified (system roots plus `[store]
//! ca_file`, the URL's `sslrootcert` or `PGSSLROOTCERT`), and a URL that would send the
//! password and the data over the network in clear (`sslmode=disable` or `allow`) is refused.
//! `sslmode=prefer`, `require`, `verify-ca` and `verify-full` all mean verified TLS here:
//! no setting turns certificate checks off.
//!
//! The libpq parameters `sslmode` and `sslrootcert` are read from the URL (and from `PGSSLMODE`
//! and `PGSSLROOTCERT`) and taken out of it before the `postgres` crate parses it, which knows
//! neither `verify-full` nor `sslrootcert`. [`decide`] is pure.

use std::path::PathBuf;

/// How digestd talks to a PostgreSQL server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgTls {
    /// Plain text (a server on this machine, and no TLS asked for).
    Off,
    /// TLS with the server's certificate verified.
    Verified,
}

/// The TLS parameters a URL carried, and the URL without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslParams {
    /// The URL with `sslmode` and `sslrootcert` taken out.
    pub url: String,
    /// `sslmode`, when the URL set it.
    pub mode: Option<String>,
    /// `sslrootcert`, when the URL set it.
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL's query.
pub fn split_ssl_params(url: &str) -> SslParams {
    let mut out = SslParams {
        url: url.to_owned(),
        mode: None,
        root_cert: None,
    };
    let Some((base, query)) = url.split_once('?') else {
        return out;
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "sslmode" => out.mode = Some(value),
            "sslrootcert" => out.root_cert = Some(PathBuf::from(value)),
            _ => kept.push(pair),
        }
    }
    out.url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    out
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Whether TLS is used for a server reached at `hosts` (`true`: a unix socket) with `mode` (the
/// URL's or `PGSSLMODE`; `None` when neither set it). An error says why the setting is refused.
pub fn decide(mode: Option<&str>, hosts: &[(String, bool)]) -> Result<PgTls, String> {
    let local = hosts
        .iter()
        .all(|(h, socket)| *socket || crate::mail_tls::is_loopback(h));
    let remote: Vec<&str> = hosts
        .iter()
        .filter(|(h, socket)| !*socket && !crate::mail_tls::is_loopback(h))
        .map(|(h, _)| h.as_str())
        .collect();
    match mode.map(str::trim) {
        None => Ok(if local { PgTls::Off } else { PgTls::Verified }),
        Some("prefer" | "require" | "verify-ca" | "verify-full") => Ok(PgTls::Verified),
        Some("disable" | "allow") if local => Ok(PgTls::Off),
        Some(m @ ("disable" | "allow")) => Err(format!(
            "sslmode={m} would send the password and the data to {} in clear; digestd reaches \
             a PostgreSQL server that is not on this machine only over verified TLS (leave \
             sslmode out, and set [store] ca_file if the server's certificate is from a private CA)",
            remote.join(", ")
        )),
        Some(other) => Err(format!(
            "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(h: &str) -> (String, bool) {
        (h.to_owned(), false)
    }

    #[test]
    fn ssl_parameters_are_taken_out_of_the_url() {
        let p = split_ssl_params(
            "postgres://u@db.example.org:5432/d?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(
            p.url,
            "postgres://u@db.example.org:5432/d?application_name=x"
        );
        assert_eq!(p.mode.as_deref(), Some("verify-full"));
        assert_eq!(p.root_cert, Some(PathBuf::from("/etc/ca.pem")));
        let plain = split_ssl_params("postgres://u@127.0.0.1/d");
        assert_eq!(plain.url, "postgres://u@127.0.0.1/d");
        assert_eq!(plain.mode, None);
        assert_eq!(
            split_ssl_params("postgres://h/d?sslmode=require").url,
            "postgres://h/d"
        );
    }

    #[test]
    fn a_local_server_is_plain_unless_tls_is_asked_for() {
        let local = [tcp("127.0.0.1"), ("/run/postgresql".to_owned(), true)];
        assert_eq!(decide(None, &local), Ok(PgTls::Off));
        assert_eq!(decide(Some("disable"), &local), Ok(PgTls::Off));
        assert_eq!(decide(Some("require"), &local), Ok(PgTls::Verified));
        assert_eq!(decide(None, &[tcp("localhost")]), Ok(PgTls::Off));
    }

    #[test]
    fn a_remote_server_is_always_verified_tls_and_clear_text_is_refused() {
        let remote = [tcp("db.example.org")];
        assert_eq!(decide(None, &remote), Ok(PgTls::Verified));
        assert_eq!(decide(Some("prefer"), &remote), Ok(PgTls::Verified));
        assert_eq!(decide(Some("verify-ca"), &remote), Ok(PgTls::Verified));
        let refused = decide(Some("disable"), &remote).expect_err("clear text");
        assert!(
            refused.contains("db.example.org") && refused.contains("in clear"),
            "{refused}"
        );
        let mixed = [tcp("127.0.0.1"), tcp("10.0.0.5")];
        assert!(decide(Some("allow"), &mixed).is_err());
        let typo = decide(Some("verify_full"), &remote).expect_err("unknown");
        assert!(typo.contains("verify_full"), "{typo}");
    }
}
