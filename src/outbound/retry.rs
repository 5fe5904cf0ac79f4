//! Retry policy for transient send failures: bounded exponential backoff (pure).

use std::time::Duration;

/// How often and how long a transient failure is retried. Permanent failures are never
/// retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each further failure.
    pub initial_delay: Duration,
    /// Cap on one wait.
    pub max_delay: Duration,
    /// No retry is started when waiting would take the time spent past this budget.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, waiting 1 s, 2 s, 4 s between them, within 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(16),
            max_total: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before the next attempt after `failed` attempts have failed (`failed >= 1`) and
    /// `elapsed` has passed since the first one began; `None` when the policy says give up.
    pub fn delay_after(&self, failed: u32, elapsed: Duration) -> Option<Duration> {
        if failed == 0 || failed >= self.max_attempts {
            return None;
        }
        let factor = 1u32.checked_shl(failed - 1).unwrap_or(u32::MAX);
        let delay = self
            .initial_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        (elapsed.saturating_add(delay) <= self.max_total).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_waits_one_two_four_seconds_then_gives_up() {
        let p = RetryPolicy::default();
        let z = Duration::ZERO;
        assert_eq!(p.delay_after(1, z), Some(Duration::from_secs(1)));
        assert_eq!(p.delay_after(2, z), Some(Duration::from_secs(2)));
        assert_eq!(p.delay_after(3, z), Some(Duration::from_secs(4)));
        assert_eq!(p.delay_after(4, z), None);
        assert_eq!(p.delay_after(0, z), None);
    }

    #[test]
    fn delay_is_capped_and_budget_bounds_total_time() {
        let p = RetryPolicy {
            max_attempts: 50,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            max_total: Duration::from_millis(100),
        };
        assert_eq!(
            p.delay_after(40, Duration::ZERO),
            Some(Duration::from_millis(40))
        );
        assert_eq!(
            p.delay_after(3, Duration::from_millis(60)),
            Some(Duration::from_millis(40))
        );
        assert_eq!(p.delay_after(3, Duration::from_millis(61)), None);
    }

    #[test]
    fn no_retry_never_waits() {
        assert_eq!(RetryPolicy::no_retry().delay_after(1, Duration::ZERO), None);
    }
}
