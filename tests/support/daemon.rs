//! Starting and stopping the real `digestd run` daemon from a test.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::bin;

/// Starts `digestd run -c config` (stdin and stderr closed).
pub fn start_daemon(config: &Path) -> Child {
    Command::new(bin())
        .args(["run", "-c"])
        .arg(config)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon")
}

/// SIGTERM, then wait (bounded) for the exit status; `None` if it did not stop in time.
pub fn stop_daemon(daemon: &mut Child) -> Option<ExitStatus> {
    let pid = daemon.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = daemon.try_wait().expect("wait") {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = daemon.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `done` every `every` until it is true or `limit` has passed; true if it became true.
pub fn wait_until(limit: Duration, every: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}
