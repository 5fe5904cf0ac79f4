//! `token_command = ["program", "arg", …]`: any other identity provider. The command runs
//! without a shell, with at most [`TIMEOUT`]; its standard output, trimmed, is the access token;
//! a failure carries its exit status and standard error.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Fetched, OAuthError};

/// Longest a token command may run before it is killed.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Most output read from the command (a token is a few KiB at most).
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `argv` and returns what it printed as the token. Blocking.
pub fn fetch(argv: &[String]) -> Result<Fetched, OAuthError> {
    fetch_within(argv, TIMEOUT)
}

/// [`fetch`] with a given time limit.
pub fn fetch_within(argv: &[String], limit: Duration) -> Result<Fetched, OAuthError> {
    let program = argv.first().cloned().unwrap_or_default();
    let fail = |reason: String| OAuthError::Command {
        program: program.clone(),
        reason,
    };
    if program.is_empty() {
        return Err(fail("empty command".into()));
    }
    let mut child = Command::new(&program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}")))?;
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "no token within {} s; killed",
                    limit.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(fail(format!("waiting for it: {e}"))),
        }
    };
    let out = stdout.map(join).unwrap_or_default();
    let err = stderr.map(join).unwrap_or_default();
    let err = String::from_utf8_lossy(&err).trim().to_string();
    if !status.success() {
        let said = if err.is_empty() {
            String::new()
        } else {
            format!(": {err}")
        };
        return Err(fail(format!("exited with {status}{said}")));
    }
    let token = String::from_utf8_lossy(&out).trim().to_string();
    if token.is_empty() {
        return Err(fail(format!("printed no token (stderr: {err:?})")));
    }
    if token.contains(|c: char| c.is_control() || c == ' ') {
        return Err(fail(
            "printed more than one token (spaces or several lines); print only the access token"
                .into(),
        ));
    }
    Ok(Fetched {
        access_token: token,
        expires_in: None,
    })
}

/// Reads a pipe to its end (up to [`MAX_OUTPUT`]) on its own thread.
fn reader<R: Read + Send + 'static>(pipe: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.take(MAX_OUTPUT).read_to_end(&mut buf);
        buf
    })
}

fn join(handle: std::thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn the_trimmed_standard_output_is_the_token() {
        let got = fetch(&sh("printf '  ya29.token-value\\n'")).expect("token");
        assert_eq!(got.access_token, "ya29.token-value");
        assert_eq!(got.expires_in, None);
    }

    #[test]
    fn a_failing_command_reports_its_status_and_stderr() {
        let e = fetch(&sh("echo 'refresh token expired' >&2; exit 3")).expect_err("fails");
        let text = e.to_string();
        assert!(text.contains("oauth token_command /bin/sh"), "{text}");
        assert!(text.contains("refresh token expired"), "{text}");
        assert!(text.contains('3'), "{text}");
    }

    #[test]
    fn empty_output_several_tokens_and_a_missing_program_are_errors() {
        let e = fetch(&sh("true")).expect_err("no output");
        assert!(e.to_string().contains("printed no token"), "{e}");
        let e = fetch(&sh("echo a; echo b")).expect_err("two lines");
        assert!(e.to_string().contains("more than one"), "{e}");
        let e = fetch(&["/nonexistent/token-helper".to_string()]).expect_err("missing");
        assert!(e.to_string().contains("cannot start"), "{e}");
    }

    #[test]
    fn a_hanging_command_is_killed_at_the_limit() {
        let started = Instant::now();
        let e = fetch_within(&sh("exec sleep 30"), Duration::from_millis(300)).expect_err("hangs");
        assert!(e.to_string().contains("killed"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
