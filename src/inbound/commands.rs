//! Email commands (`pause`, `resume`, `unsubscribe`, `daily`, `weekly`, `digest now`, in English
//! and Dutch) read from the subject or the first body line of a mail to `digest@<reply domain>`.
//!
//! **Invariant:** parsing is pure; applying a command is the store's job (see
//! [`crate::inbound::ports::InboundStore::apply_command`]).

use std::fmt;

/// A settings change asked for by email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Stop digests until `resume`.
    Pause,
    /// Start digests again after `pause`.
    Resume,
    /// Stop digests for good (frequency off).
    Unsubscribe,
    /// One digest per schedule firing.
    Daily,
    /// At most one digest a week.
    Weekly,
    /// Send a digest at the next opportunity.
    DigestNow,
}

impl Command {
    /// Stable key (template name `command-<key>`, log text).
    pub fn key(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Unsubscribe => "unsubscribe",
            Command::Daily => "daily",
            Command::Weekly => "weekly",
            Command::DigestNow => "digest-now",
        }
    }

    /// The command whose [`Command::key`] is `key`.
    pub fn from_key(key: &str) -> Option<Command> {
        ALL.iter().copied().find(|c| c.key() == key)
    }
}

/// Every command.
pub const ALL: &[Command] = &[
    Command::Pause,
    Command::Resume,
    Command::Unsubscribe,
    Command::Daily,
    Command::Weekly,
    Command::DigestNow,
];

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Words for each command (lower case, whole line after normalisation), en then nl.
const WORDS: &[(&str, Command)] = &[
    ("pause", Command::Pause),
    ("pause digest", Command::Pause),
    ("pauze", Command::Pause),
    ("pauzeer", Command::Pause),
    ("pauzeren", Command::Pause),
    ("resume", Command::Resume),
    ("unpause", Command::Resume),
    ("resume digest", Command::Resume),
    ("hervat", Command::Resume),
    ("hervatten", Command::Resume),
    ("unsubscribe", Command::Unsubscribe),
    ("stop", Command::Unsubscribe),
    ("afmelden", Command::Unsubscribe),
    ("uitschrijven", Command::Unsubscribe),
    ("daily", Command::Daily),
    ("dagelijks", Command::Daily),
    ("weekly", Command::Weekly),
    ("wekelijks", Command::Weekly),
    ("digest now", Command::DigestNow),
    ("send digest now", Command::DigestNow),
    ("digest nu", Command::DigestNow),
    ("nu", Command::DigestNow),
    ("now", Command::DigestNow),
];

/// The command in one line, if the whole line (minus `Re:`-style prefixes, punctuation and
/// case) is a command word.
pub fn parse_line(line: &str) -> Option<Command> {
    let mut s = line.trim().to_lowercase();
    loop {
        let stripped = ["re:", "aw:", "antw:", "fw:", "fwd:", "tr:", "wg:"]
            .iter()
            .find_map(|p| s.strip_prefix(p).map(|r| r.trim_start().to_string()));
        match stripped {
            Some(r) => s = r,
            None => break,
        }
    }
    let s: String = s
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    WORDS.iter().find(|(w, _)| *w == s).map(|(_, c)| *c)
}

/// The command in `subject`, else in the first non-blank line of `body`.
pub fn parse(subject: Option<&str>, body: &str) -> Option<Command> {
    subject.and_then(parse_line).or_else(|| {
        body.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .and_then(parse_line)
    })
}

/// An ambassador's command on an item's reply address: `Some(true)` for a body that is just
/// `highlight`, `Some(false)` for just `unhighlight` (any case, surrounding blank space
/// ignored), `None` for anything else (a reply to post).
pub fn highlight_command(body: &str) -> Option<bool> {
    let word = body.trim();
    if word.eq_ignore_ascii_case("highlight") {
        Some(true)
    } else if word.eq_ignore_ascii_case("unhighlight") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn highlight_is_the_whole_body_only() {
        use super::highlight_command;
        assert_eq!(highlight_command("  Highlight\n"), Some(true));
        assert_eq!(highlight_command("unhighlight"), Some(false));
        assert_eq!(highlight_command("highlight this please"), None);
        assert_eq!(highlight_command(""), None);
    }

    use super::*;

    #[test]
    fn subject_or_first_line_en_and_nl() {
        assert_eq!(parse(Some("Pause"), ""), Some(Command::Pause));
        assert_eq!(parse(Some("Re: Weekly!"), ""), Some(Command::Weekly));
        assert_eq!(
            parse(None, "\n\n  Digest now.\nthanks"),
            Some(Command::DigestNow)
        );
        assert_eq!(
            parse(Some("hallo"), "Afmelden\n"),
            Some(Command::Unsubscribe)
        );
        assert_eq!(parse(Some(""), "dagelijks"), Some(Command::Daily));
        assert_eq!(parse(None, "HERVAT"), Some(Command::Resume));
        assert_eq!(parse(Some("please pause my digest"), "thanks"), None);
    }
}
