//! When the daemon's inbound loop works: the Maildir and the retry queue every `[daemon]
//! inbound_poll_secs`, the IMAP folder every `[inbound.imap] poll_seconds`.
//!
//! **Invariant:** pure: instants in, decisions out (the loop in [`super::watch_inbound`] sleeps
//! and does the I/O).

use std::time::{Duration, Instant};

/// What one round of the inbound loop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Drain the Maildir and retry queued messages.
    pub local: bool,
    /// Poll the IMAP folder.
    pub imap: bool,
}

impl Due {
    /// Everything (one-off runs and tests).
    pub const ALL: Due = Due {
        local: true,
        imap: true,
    };
}

/// The two timers of the inbound loop.
#[derive(Debug, Clone)]
pub struct Cadence {
    local_every: Duration,
    imap_every: Option<Duration>,
    next_local: Instant,
    next_imap: Instant,
}

impl Cadence {
    /// Local work every `local_every`, IMAP every `imap_every` (none: no IMAP); both are due at
    /// `now`. Zero intervals count as one second.
    pub fn new(local_every: Duration, imap_every: Option<Duration>, now: Instant) -> Cadence {
        let at_least_a_second = |d: Duration| d.max(Duration::from_secs(1));
        Cadence {
            local_every: at_least_a_second(local_every),
            imap_every: imap_every.map(at_least_a_second),
            next_local: now,
            next_imap: now,
        }
    }

    /// What is due at `now`; each due timer is set to its next time.
    pub fn take_due(&mut self, now: Instant) -> Due {
        let local = now >= self.next_local;
        if local {
            self.next_local = now + self.local_every;
        }
        let imap = match self.imap_every {
            Some(every) if now >= self.next_imap => {
                self.next_imap = now + every;
                true
            }
            _ => false,
        };
        Due { local, imap }
    }

    /// Makes the IMAP poll due at `now` (the server announced new mail over IDLE); its regular
    /// interval starts again from that poll.
    pub fn imap_due_now(&mut self, now: Instant) {
        if self.imap_every.is_some() {
            self.next_imap = self.next_imap.min(now);
        }
    }

    /// When the next timer is due.
    pub fn next_wake(&self) -> Instant {
        match self.imap_every {
            Some(_) => self.next_local.min(self.next_imap),
            None => self.next_local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_wake_makes_only_imap_due_and_restarts_its_interval() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = Cadence::new(s(30), Some(s(600)), t0);
        c.take_due(t0);
        c.imap_due_now(t0 + s(5));
        assert_eq!(c.next_wake(), t0 + s(5));
        assert_eq!(
            c.take_due(t0 + s(5)),
            Due {
                local: false,
                imap: true
            }
        );
        assert_eq!(c.next_wake(), t0 + s(30));
        let mut none = Cadence::new(s(30), None, t0);
        none.take_due(t0);
        none.imap_due_now(t0 + s(1));
        assert_eq!(
            none.next_wake(),
            t0 + s(30),
            "no IMAP configured: nothing changes"
        );
    }

    #[test]
    fn imap_keeps_its_own_interval_beside_the_maildir() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut c = Cadence::new(s(30), Some(s(60)), t0);
        assert_eq!(c.take_due(t0), Due::ALL);
        assert_eq!(c.next_wake(), t0 + s(30));
        assert_eq!(
            c.take_due(t0 + s(30)),
            Due {
                local: true,
                imap: false
            }
        );
        assert_eq!(c.next_wake(), t0 + s(60));
        assert_eq!(c.take_due(t0 + s(60)), Due::ALL);

        // A quicker IMAP interval wakes the loop more often, the Maildir stays at its own.
        let mut c = Cadence::new(s(30), Some(s(10)), t0);
        c.take_due(t0);
        assert_eq!(c.next_wake(), t0 + s(10));
        assert_eq!(
            c.take_due(t0 + s(10)),
            Due {
                local: false,
                imap: true
            }
        );

        // No IMAP: never due; zero intervals are one second.
        let mut c = Cadence::new(s(0), None, t0);
        assert!(!c.take_due(t0).imap);
        assert_eq!(c.next_wake(), t0 + s(1));
    }
}
