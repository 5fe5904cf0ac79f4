//! Log output: journald-friendly lines under systemd, human-friendly ones on a terminal, JSON for
//! log shippers, with a `RUST_LOG`-style filter that can be changed at run time (on reload).
//!
//! Under systemd (`JOURNAL_STREAM` or `INVOCATION_ID` set) stderr goes to the journal, which adds
//! its own timestamps and reads a `<N>` syslog level prefix at the start of each line
//! (sd-daemon(3)); so [`LogFormat::Journald`] writes no timestamps, no colours, and one prefix
//! per line, multi-line messages included.
//!
//! **Invariant:** logs go to stderr only; stdout belongs to the command's output.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// How log lines look.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// [`LogFormat::Journald`] under systemd, else [`LogFormat::Pretty`].
    #[default]
    Auto,
    /// `<N>`-prefixed lines without timestamps or colours, for the journal.
    Journald,
    /// One JSON object per line, for log shippers.
    Json,
    /// Timestamps, and colours on a terminal.
    Pretty,
}

impl LogFormat {
    /// Resolves [`LogFormat::Auto`] from the environment; other formats stay as they are.
    pub fn resolve(self) -> LogFormat {
        let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some()
            || std::env::var_os("INVOCATION_ID").is_some();
        self.resolve_with(under_systemd)
    }

    /// Pure part of [`LogFormat::resolve`].
    pub fn resolve_with(self, under_systemd: bool) -> LogFormat {
        match self {
            LogFormat::Auto if under_systemd => LogFormat::Journald,
            LogFormat::Auto => LogFormat::Pretty,
            other => other,
        }
    }
}

impl FromStr for LogFormat {
    type Err = LogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(LogFormat::Auto),
            "journald" | "journal" => Ok(LogFormat::Journald),
            "json" => Ok(LogFormat::Json),
            "pretty" | "text" => Ok(LogFormat::Pretty),
            _ => Err(LogError::UnknownFormat(s.to_string())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Auto => "auto",
            LogFormat::Journald => "journald",
            LogFormat::Json => "json",
            LogFormat::Pretty => "pretty",
        })
    }
}

/// Errors of log setup.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The filter string does not parse (`RUST_LOG` syntax).
    #[error("invalid log filter {filter:?}: {message}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// Why it does not parse.
        message: String,
    },
    /// Not one of auto, journald, json, pretty.
    #[error("unknown log format {0:?} (expected auto, journald, json or pretty)")]
    UnknownFormat(String),
    /// A global subscriber was already installed.
    #[error("logging already initialised: {0}")]
    AlreadyInitialised(String),
    /// The filter could not be swapped (the subscriber is gone).
    #[error("could not change the log filter: {0}")]
    Reload(String),
}

/// Parses a `RUST_LOG`-style filter (`info`, `digestd=debug,lettre=warn`).
pub fn parse_filter(filter: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::try_new(filter).map_err(|e| LogError::InvalidFilter {
        filter: filter.to_string(),
        message: e.to_string(),
    })
}

/// Changes the filter of the installed subscriber (on reload).
#[derive(Clone)]
pub struct LogHandle {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogHandle")
    }
}

impl LogHandle {
    /// Replaces the filter; the old one stays in force when `filter` does not parse.
    pub fn set_filter(&self, filter: &str) -> Result<(), LogError> {
        let parsed = parse_filter(filter)?;
        self.handle
            .reload(parsed)
            .map_err(|e| LogError::Reload(e.to_string()))
    }
}

/// Installs the global subscriber writing to stderr in `format` (Auto resolved from the
/// environment) with the `RUST_LOG`-style `filter`. Call once, early.
pub fn init(format: LogFormat, filter: &str) -> Result<LogHandle, LogError> {
    let env_filter = parse_filter(filter)?;
    let (filter_layer, handle) = reload::Layer::new(env_filter);
    let ansi = std::io::stderr().is_terminal();
    let output = output_layer(format.resolve(), std::io::stderr, ansi);
    tracing_subscriber::registry()
        .with(filter_layer)
        .with(output)
        .try_init()
        .map_err(|e| LogError::AlreadyInitialised(e.to_string()))?;
    Ok(LogHandle { handle })
}

/// The formatting layer for a resolved `format` writing to `writer` (Auto counts as Pretty).
pub fn output_layer<S, W>(
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Journald => base.with_ansi(false).event_format(JournaldFormat).boxed(),
        LogFormat::Json => base
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty | LogFormat::Auto => base.with_ansi(ansi).boxed(),
    }
}

/// The sd-daemon(3) syslog priority prefix for a level.
pub fn syslog_prefix(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

/// Event formatter for the journal: `<N>target: span{fields}: message key=value`, every line
/// of a multi-line message prefixed, no timestamp, no colour.
#[derive(Debug, Clone, Copy, Default)]
pub struct JournaldFormat;

impl<S, N> FormatEvent<S, N> for JournaldFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = String::new();
        line.push_str(meta.target());
        line.push_str(": ");
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                line.push_str(span.name());
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        line.push('{');
                        line.push_str(fields);
                        line.push('}');
                    }
                }
                line.push_str(": ");
            }
        }
        ctx.field_format()
            .format_fields(Writer::new(&mut line), event)?;
        let prefix = syslog_prefix(*meta.level());
        for l in line.lines() {
            writeln!(writer, "{prefix}{l}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer collecting everything into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            self.0
                .lock()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
                .unwrap_or_default()
        }
    }

    fn capture(format: LogFormat, filter: &str, f: impl FnOnce()) -> String {
        let buf = Buffer::default();
        let subscriber = tracing_subscriber::registry()
            .with(parse_filter(filter).expect("filter"))
            .with(output_layer(format, buf.clone(), false));
        tracing::subscriber::with_default(subscriber, f);
        buf.text()
    }

    #[test]
    fn journald_lines_have_level_prefixes_and_no_timestamps() {
        let out = capture(LogFormat::Journald, "debug", || {
            let span = tracing::info_span!("run", schedule = "weekly");
            let _g = span.enter();
            tracing::info!(sent = 3, failed = 0, "digest run done");
            tracing::warn!("config invalid:\nfile.toml:3: roles: bad");
            tracing::error!("boom");
            tracing::debug!("detail");
            tracing::trace!("hidden by the filter");
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            vec![
                "<6>digestd::logging::tests: run{schedule=\"weekly\"}: digest run done sent=3 failed=0",
                "<4>digestd::logging::tests: run{schedule=\"weekly\"}: config invalid:",
                "<4>file.toml:3: roles: bad",
                "<3>digestd::logging::tests: run{schedule=\"weekly\"}: boom",
                "<7>digestd::logging::tests: run{schedule=\"weekly\"}: detail",
            ]
        );
        assert!(!out.contains('\u{1b}'), "no ANSI escapes");
    }

    #[test]
    fn json_lines_parse() {
        let out = capture(LogFormat::Json, "info", || {
            tracing::info!(sent = 3, "digest run done");
        });
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "digest run done");
        assert_eq!(v["sent"], 3);
        assert!(v["timestamp"].is_string());
    }

    #[test]
    fn auto_resolves_by_environment() {
        assert_eq!(LogFormat::Auto.resolve_with(true), LogFormat::Journald);
        assert_eq!(LogFormat::Auto.resolve_with(false), LogFormat::Pretty);
        assert_eq!(LogFormat::Json.resolve_with(true), LogFormat::Json);
    }

    #[test]
    fn formats_and_filters_parse() {
        assert_eq!("JSON".parse::<LogFormat>().ok(), Some(LogFormat::Json));
        assert!("xml".parse::<LogFormat>().is_err());
        assert!(parse_filter("digestd=debug,lettre=warn").is_ok());
        assert!(parse_filter("digestd=loud").is_err());
    }
}
