//! digestd: brings an organisation's discussion groups to staff inboxes as personalised digests,
//! and their email replies back to the forum.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of modules and their invariants.

// Core: plain values, pure steps (selection, ranking, rendering) and the process counters.
pub mod digest;
pub mod html_escape;
pub mod metrics;
pub mod model;
pub mod render;
pub mod report;

// Edges: the SQLite store, forums, outbound mail, inbound mail, template files.
pub mod forum;
pub mod inbound;
pub mod mail_login;
pub mod mail_outage;
pub mod mail_tls;
pub mod oauth;
pub mod outbound;
pub mod store;
pub mod template_files;

// Drivers: configuration, collection, delivery runs (with `parallel`, their pure work on every
// core), the ambassadors' nudges, schedules and the daemon loop.
pub mod ambassador_nudge;
pub mod best_of;
pub mod best_of_run;
pub mod collect;
pub mod config;
pub mod daemon;
pub mod delivery_run;
pub mod parallel;
pub mod poll_plan;
pub mod run_activity;
pub mod schedule;
pub mod take_over;
pub mod worker;

// Operations: HTTP endpoint, systemd, logs, status, the engagement report and the online
// config check.
pub mod heartbeat;
pub mod http;
pub mod logging;
pub mod migrate;
pub mod online_check;
pub mod report_command;
pub mod status;
pub mod systemd_notify;

// Tools: the command line, the demo, the benchmarks.
pub mod bench;
pub mod cli;
pub mod cpd;
pub mod demo;
