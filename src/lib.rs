//! digestd: brings an organisation's discussion groups to staff inboxes as personalised digests,
//! and their email replies back to the forum.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of modules and their invariants.

pub mod bench;
pub mod cli;
pub mod collect;
pub mod config;
pub mod cycle;
pub mod daemon;
pub mod demo;
pub mod digest;
pub mod forum;
pub mod heartbeat;
pub mod http;
pub mod inbound;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod online_check;
pub mod outbound;
pub mod poll_plan;
pub mod render;
pub mod schedule;
pub mod status;
pub mod store;
