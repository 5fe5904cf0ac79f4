//! Inbound replies: receive (stdin | maildir | imap) → classify → trim → authorise → post.

pub mod trim;

use std::path::Path;

/// `digestd receive`: reads one message on stdin; returns a sysexits code (0, 65, 75). Never panics.
pub fn receive_stdin_exit_code(_config_path: &Path) -> i32 {
    eprintln!("digestd receive: not implemented yet");
    75
}
