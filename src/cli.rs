//! Command line: argument parsing and dispatch to the module that does the work.
//!
//! Exit codes: 0 success, 1 error (message on stderr), 2 usage error (clap). `receive` uses
//! sysexits instead (0, 65, 75) because an MTA reads them.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::logging::LogFormat;

/// digestd: discussion-group digests by email, and replies back to the forum.
#[derive(Debug, Parser)]
#[command(name = "digestd", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (RUST_LOG syntax), e.g. `info` or `digestd=debug`.
    #[arg(long, global = true, env = "DIGESTD_LOG")]
    pub log: Option<String>,
    /// Log format: auto (journald-style under systemd, else pretty), journald, json, pretty.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The config file option shared by most commands.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Configuration file.
    #[arg(
        short = 'c',
        long = "config",
        env = "DIGESTD_CONFIG",
        default_value = "config/digestd.toml"
    )]
    pub config: PathBuf,
}

impl ConfigArg {
    /// Loads and validates the config, or explains why not; its `[daemon] lease_seconds`
    /// holds for the claims this process makes.
    pub fn load(&self) -> anyhow::Result<Config> {
        Config::load(&self.config)
            .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))
            .inspect(|c| crate::worker::set_lease_secs(c.daemon.lease_seconds))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a sample municipality in DIR, run one digest cycle into DIR/outbox (a Maildir).
    Demo {
        /// Where to create it.
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
    },
    /// Run the daemon: scheduled digests (and, when configured, inbound replies).
    Run(ConfigArg),
    /// Send digests now, for everyone due or for one role or person.
    SendNow {
        #[command(flatten)]
        config: ConfigArg,
        /// Only people holding this role.
        #[arg(long)]
        role: Option<String>,
        /// Only this person.
        #[arg(long)]
        person: Option<String>,
    },
    /// Print the digest a person would get now, without sending or recording anything.
    Preview {
        #[command(flatten)]
        config: ConfigArg,
        /// The person's address.
        #[arg(long)]
        person: String,
        /// Print the HTML part instead of the text part.
        #[arg(long)]
        html: bool,
        /// Show the person's last period (one day or week) as if nothing had been sent to them
        /// yet, posts already delivered included (e.g. right after `digestd demo`).
        #[arg(long)]
        include_sent: bool,
        /// Only the digest of this role's schedule (needed with `--html` when the person's
        /// roles run on several schedules).
        #[arg(long)]
        role: Option<String>,
    },
    /// Validate the configuration; exit 1 with file:line: key: problem lines on error.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
        /// Also reach every forum: credentials, and that each group exists there.
        #[arg(long)]
        online: bool,
    },
    /// Collect new posts from every group's forum into the store, once.
    Collect(ConfigArg),
    /// Add a post to the built-in forum (body on stdin, Markdown).
    Post {
        #[command(flatten)]
        config: ConfigArg,
        /// Group id.
        #[arg(long)]
        group: String,
        /// Author address.
        #[arg(long)]
        author: String,
        /// Existing thread (its id as `digestd thread` shows it); omit to open a new thread.
        #[arg(long)]
        thread: Option<String>,
        /// Title of a new thread (default: the body's first line).
        #[arg(long)]
        title: Option<String>,
        /// Comma-separated tags, e.g. `training,best-answer`.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
    },
    /// Bulk-load posts into the built-in forum from a JSON Lines file.
    Import {
        #[command(flatten)]
        config: ConfigArg,
        /// The file: one JSON object per line.
        file: PathBuf,
    },
    /// Print a thread of the built-in forum: author, time and body of each post.
    Thread {
        #[command(flatten)]
        config: ConfigArg,
        /// Thread id.
        id: String,
    },
    /// Print last and next runs, queue sizes, bouncing addresses and forum polls.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send the ambassadors' weekly nudge now (once per period of `[ambassadors] schedule`).
    Nudge {
        #[command(flatten)]
        config: ConfigArg,
        /// Send as if it were this instant (RFC 3339): for tests. Default: the clock.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Send a role's monthly "best of" digest now (once per person and month): the month's
    /// best training highlights of the role's groups.
    BestOf {
        #[command(flatten)]
        config: ConfigArg,
        /// The role (it needs a `best_of` schedule).
        #[arg(long)]
        role: String,
        /// The month, YYYY-MM (default: the month before this one, in the role's time zone).
        #[arg(long)]
        month: Option<String>,
    },
    /// The engagement report: per group and role, week by week, posts, replies by email versus
    /// on the forum, unanswered questions and their age, unsubscribes and pauses (a table on
    /// stdout by default).
    Report {
        #[command(flatten)]
        config: ConfigArg,
        /// Weeks covered, the current one included.
        #[arg(long, default_value_t = 4)]
        weeks: usize,
        /// CSV on stdout instead of the table.
        #[arg(long, conflicts_with = "html")]
        csv: bool,
        /// Write an HTML page with charts to this file instead.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Report as if it were this instant (RFC 3339): for tests and for looking back.
        /// Default: the clock.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A CPD record: training highlights delivered, threads replied to and questions answered,
    /// by date (readable text by default; `--all --csv` is the admin export for everyone).
    Cpd {
        #[command(flatten)]
        config: ConfigArg,
        /// The person's address.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        person: Option<String>,
        /// Everyone's records (the admin export).
        #[arg(long)]
        all: bool,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day, included (YYYY-MM-DD).
        #[arg(long)]
        to: chrono::NaiveDate,
        /// CSV instead of readable text.
        #[arg(long)]
        csv: bool,
    },
    /// Read one message on stdin as an MTA pipe (sysexits: 0 accepted, 65 not mail, 75 retry).
    Receive {
        #[command(flatten)]
        config: ConfigArg,
        /// Process the message as if it were this instant (RFC 3339, e.g.
        /// `2026-01-31T09:00:00Z`): for replaying old mail and for tests of expiry and rate
        /// limits. Default: the clock.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Move an installation between stores (a SQLite file or a postgres:// URL, either way):
    /// copies every table into a new, empty store and prints row counts and checksums of both.
    Migrate {
        /// The store now in use: a SQLite file or `postgres://user@host:port/db`.
        #[arg(long)]
        from: String,
        /// The new, empty store (a file is created; a database must exist and be empty).
        #[arg(long)]
        to: String,
    },
    /// Measure throughput (prints figures).
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        which: BenchCommand,
    },
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Select + render digests for a synthetic organisation, against bare Handlebars, on one
    /// thread and on every core.
    Digest {
        /// People in the organisation.
        #[arg(long, default_value_t = 10_000)]
        people: usize,
        /// Posts in the period.
        #[arg(long, default_value_t = 5_000)]
        posts: usize,
        /// Threads of the all-core pass (default: the cores this process may use).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        threads: Option<u16>,
    },
    /// Send real digests to smtp-sink on 127.0.0.1, against Postfix's smtp-source.
    Send {
        /// Digests to send (up to 2,000 distinct ones, then they go round again).
        #[arg(long, default_value_t = 2_000)]
        messages: usize,
        /// Connections used at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Instead: through a real Postfix smtpd on 127.0.0.1, with STARTTLS beside the same
        /// run without TLS (needs root and Postfix).
        #[arg(long)]
        tls: bool,
    },
    /// Digests per second of several `digestd run` workers sharing one run on one PostgreSQL
    /// database (each count in `--workers`), beside one worker on SQLite.
    Scale {
        /// Worker counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        workers: Vec<usize>,
        /// People in the organisation.
        #[arg(long, default_value_t = 20_000)]
        people: usize,
        /// A PostgreSQL server whose user may create databases (each round makes and drops its
        /// own `digestd_bench_scale_*`).
        #[arg(long)]
        url: Option<String>,
    },
    /// Score the reply trimmer on a corpus folder of `<id>.eml` + `<id>.expected.txt`.
    Trim {
        /// Corpus folder.
        #[arg(long)]
        corpus: Vec<PathBuf>,
        /// Print a diff of each miss.
        #[arg(long)]
        failures: bool,
    },
    /// Collect and store posts from a real forum server seeded with `posts` posts, against
    /// fetching the same pages unparsed (`--forum matrix`: a Synapse on 127.0.0.1).
    Collect {
        /// Which forum kind to measure (`matrix`).
        #[arg(long, default_value = "matrix")]
        forum: String,
        /// Posts to seed and collect.
        #[arg(long, default_value_t = 10_000)]
        posts: usize,
    },
    /// Receive → classify → trim → authorise against an in-memory forum, against bare parsing.
    Inbound {
        /// Messages to process.
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
    },
}

/// Parses arguments, runs, and returns the process exit code.
pub fn main_exit_code() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.log.as_deref(), &cli.command);
    if let Command::Receive { config, now } = &cli.command {
        return crate::inbound::receive_stdin_exit_code(&config.config, *now);
    }
    match try_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("digestd: error: {e:#}");
            1
        }
    }
}

/// The installed log filter's handle, and whether the command line or RUST_LOG chose the filter
/// (then the config's `[daemon] log_filter` does not override it).
static LOG: std::sync::OnceLock<(crate::logging::LogHandle, bool)> = std::sync::OnceLock::new();

/// Applies the config's `[daemon] log_filter` unless `--log`/`RUST_LOG` chose one.
pub fn apply_config_log_filter(filter: &str) {
    if let Some((handle, false)) = LOG.get() {
        if let Err(e) = handle.set_filter(filter) {
            tracing::error!(%filter, error = %e, "log filter from the config refused; keeping the current one");
        }
    }
}

/// Installs logging. Interactive one-shot commands log warnings only unless asked; the daemon,
/// the MTA pipe and send-now log at info.
fn init_logging(format: LogFormat, filter: Option<&str>, command: &Command) {
    let default = match command {
        Command::Run(_) | Command::Receive { .. } | Command::SendNow { .. } => "info",
        _ => "warn",
    };
    let explicit = filter
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok());
    let chosen = explicit.clone().unwrap_or_else(|| default.to_owned());
    let handle = match crate::logging::init(format, &chosen) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!("digestd: bad log filter {chosen:?} ({e}); logging at {default}");
            crate::logging::init(format, default).ok()
        }
    };
    if let Some(h) = handle {
        let _ = LOG.set((h, explicit.is_some()));
    }
}

/// Runs a parsed command line; returns the exit code on success.
pub fn try_main(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Demo { dir } => crate::demo::run(&dir).map(|()| 0),
        Command::Run(c) => crate::daemon::run(&c.config).map(|()| 0),
        Command::SendNow {
            config,
            role,
            person,
        } => {
            let cfg = config.load()?;
            let report = crate::delivery_run::send_now(&cfg, role.as_deref(), person.as_deref())?;
            println!("{report}");
            Ok(if report.failed > 0 { 1 } else { 0 })
        }
        Command::Preview {
            config,
            person,
            html,
            include_sent,
            role,
        } => {
            let cfg = config.load()?;
            let out =
                crate::delivery_run::preview(&cfg, &person, html, include_sent, role.as_deref())?;
            print!("{out}");
            Ok(0)
        }
        Command::CheckConfig { config: c, online } => match Config::load(&c.config) {
            Ok(cfg) => {
                println!(
                    "{}: ok ({} groups, {} roles, {} people)",
                    c.config.display(),
                    cfg.groups.len(),
                    cfg.roles.len(),
                    cfg.people.len()
                );
                if !online {
                    return Ok(0);
                }
                let checks = crate::online_check::check_online(&cfg);
                for check in &checks {
                    println!("{check}");
                }
                let servers = crate::online_check::check_mail_servers(&cfg);
                for check in &servers {
                    println!("{check}");
                }
                let all_ok = checks.iter().all(|c| c.result.is_ok())
                    && servers.iter().all(|c| c.result.is_ok());
                Ok(if all_ok { 0 } else { 1 })
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(1)
            }
        },
        Command::Collect(c) => {
            let cfg = c.load()?;
            let mut store =
                crate::store::Store::open_at(&cfg.store_location()).context("opening the store")?;
            let report = crate::collect::collect_all(&cfg, &mut store)?;
            println!("{report}");
            Ok(0)
        }
        Command::Post {
            config,
            group,
            author,
            thread,
            title,
            tags,
        } => {
            let cfg = config.load()?;
            let mut body = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut body)
                .context("reading the body from stdin")?;
            let req = crate::forum::local::NewPost {
                group,
                author,
                thread,
                title,
                tags,
                body,
            };
            let posted = crate::forum::local::post_command(&cfg, req)?;
            println!(
                "posted {} in thread {}",
                posted.remote_post_id, posted.remote_thread_id
            );
            Ok(0)
        }
        Command::Import { config, file } => {
            let cfg = config.load()?;
            let n = crate::forum::local::import_command(&cfg, &file)?;
            println!("imported {n} posts from {}", file.display());
            Ok(0)
        }
        Command::Thread { config, id } => {
            let cfg = config.load()?;
            print!("{}", crate::forum::local::thread_command(&cfg, &id)?);
            Ok(0)
        }
        Command::Status { config, json } => {
            let cfg = config.load()?;
            let store =
                crate::store::Store::open_at(&cfg.store_location()).context("opening the store")?;
            let status = crate::status::status(&cfg, &store)?;
            if json {
                println!("{}", status.to_json());
            } else {
                print!("{status}");
            }
            Ok(0)
        }
        Command::Nudge { config, now } => {
            let cfg = config.load()?;
            let now = now.unwrap_or_else(chrono::Utc::now);
            let report = crate::ambassador_nudge::nudge_now(&cfg, now)?;
            println!("{report}");
            Ok(if report.failed > 0 { 1 } else { 0 })
        }
        Command::BestOf {
            config,
            role,
            month,
        } => {
            let cfg = config.load()?;
            let month = month
                .as_deref()
                .map(crate::best_of::parse_month)
                .transpose()?;
            let report = crate::best_of_run::best_of_now(&cfg, &role, month, chrono::Utc::now())?;
            println!("{report}");
            Ok(if report.failed > 0 { 1 } else { 0 })
        }
        Command::Migrate { from, to } => {
            print!("{}", crate::migrate::run(&from, &to)?);
            Ok(0)
        }
        Command::Report {
            config,
            weeks,
            csv,
            html,
            now,
        } => {
            use crate::report_command::{report, write_page, ReportFormat};
            let cfg = config.load()?;
            let now = now.unwrap_or_else(chrono::Utc::now);
            let format = match (&html, csv) {
                (Some(_), _) => ReportFormat::Html,
                (None, true) => ReportFormat::Csv,
                (None, false) => ReportFormat::Text,
            };
            let out = report(&cfg, weeks, now, format)?;
            match html {
                Some(file) => {
                    write_page(&file, &out)?;
                    eprintln!("digestd: report written to {}", file.display());
                }
                None => print!("{out}"),
            }
            Ok(0)
        }
        Command::Cpd {
            config,
            person,
            all: _,
            from,
            to,
            csv,
        } => {
            let cfg = config.load()?;
            let req = crate::cpd::CpdRequest {
                person,
                from,
                to,
                csv,
            };
            print!("{}", crate::cpd::cpd(&cfg, &req)?);
            Ok(0)
        }
        Command::Receive { .. } => unreachable!("handled before try_main"),
        Command::Bench { which } => crate::bench::run(which).map(|()| 0),
    }
}
