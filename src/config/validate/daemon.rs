//! `[daemon]`: the log filter, the shutdown timeout, the inbound poll interval, the threads
//! of a digest run and the lease of a worker's claims.

use crate::config::DaemonConfig;

use toml::Spanned;

use crate::config::raw;

use super::*;

impl Validator<'_> {
    pub(super) fn daemon(&mut self, t: Option<&Spanned<raw::RawDaemon>>) -> DaemonConfig {
        let d = DaemonConfig::default();
        let Some(t) = t else { return d };
        let r = t.get_ref();
        let log_filter = match r.log_filter.as_ref() {
            None => d.log_filter,
            Some(f) => {
                let at = self.at(f, "daemon.log_filter".to_owned());
                if let Err(e) = crate::logging::parse_filter(&at.value) {
                    self.problem(
                        at.line,
                        &at.key,
                        format!(
                            "not a log filter (RUST_LOG syntax, e.g. \"info,digestd=debug\"): {e}"
                        ),
                    );
                }
                at.value
            }
        };
        DaemonConfig {
            log_filter,
            shutdown_timeout_secs: self.int(
                r.shutdown_timeout_secs.as_ref(),
                "daemon.shutdown_timeout_secs",
                d.shutdown_timeout_secs as i64,
                1,
                3600,
            ) as u64,
            inbound_poll_secs: self.int(
                r.inbound_poll_secs.as_ref(),
                "daemon.inbound_poll_secs",
                d.inbound_poll_secs as i64,
                1,
                86_400,
            ) as u64,
            threads: self.int(
                r.threads.as_ref(),
                "daemon.threads",
                d.threads as i64,
                1,
                1024,
            ) as usize,
            lease_seconds: self.int(
                r.lease_seconds.as_ref(),
                "daemon.lease_seconds",
                d.lease_seconds as i64,
                1,
                86_400,
            ) as u64,
        }
    }
}
