//! When a failed delivery is tried again: exponential backoff with jitter, and when to give up.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The outbox's retry policy (`[cti] retry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retry {
    /// Tries before a log is dead-lettered.
    pub max_attempts: u32,
    /// The first wait (ms); each later wait doubles, up to `max_ms`.
    pub base_ms: u64,
    /// The longest wait (ms).
    pub max_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 10,
            base_ms: 1_000,
            max_ms: 300_000,
        }
    }
}

impl Retry {
    /// The wait after failed attempt number `attempt` (1 for the first), scaled by `jitter`
    /// in [0, 1): between half and all of the exponential step ("equal jitter"), so that
    /// logs failing together do not retry together.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base_ms
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(40))
            .min(self.max_ms);
        let jitter = jitter.clamp(0.0, 1.0);
        Duration::from_millis(exp / 2 + ((exp / 2) as f64 * jitter) as u64)
    }

    /// After failed attempt number `attempts`: the wait before the next, or `None` when the
    /// log is dead (a permanent refusal, or the attempts are spent).
    pub fn after_failure(&self, attempts: u32, permanent: bool, jitter: f64) -> Option<Duration> {
        (!permanent && !self.exhausted(attempts)).then(|| self.delay(attempts, jitter))
    }

    /// Whether a log that failed `attempts` times is dead.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }

    /// Checks the numbers.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err("cti.retry.max_attempts: give at least 1".into());
        }
        if self.base_ms < 10 || self.max_ms < self.base_ms {
            return Err("cti.retry: base_ms must be at least 10 and at most max_ms".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_up_to_the_cap_then_give_up() {
        let r = Retry {
            max_attempts: 5,
            base_ms: 100,
            max_ms: 1_000,
        };
        assert_eq!(r.delay(1, 0.0), Duration::from_millis(50));
        assert_eq!(r.delay(1, 0.999), Duration::from_millis(99));
        assert_eq!(r.delay(2, 0.0), Duration::from_millis(100));
        assert_eq!(r.delay(3, 1.0), Duration::from_millis(400));
        // Capped, and no overflow however many attempts.
        assert_eq!(r.delay(5, 1.0), Duration::from_millis(1_000));
        assert_eq!(r.delay(u32::MAX, 1.0), Duration::from_millis(1_000));
        assert!(!r.exhausted(4) && r.exhausted(5));
        assert_eq!(
            r.after_failure(1, false, 0.0),
            Some(Duration::from_millis(50))
        );
        assert_eq!(r.after_failure(1, true, 0.0), None);
        assert_eq!(r.after_failure(5, false, 0.0), None);
        assert!(r.validate().is_ok());
        assert!(Retry {
            max_attempts: 0,
            ..r.clone()
        }
        .validate()
        .is_err());
        assert!(Retry { max_ms: 10, ..r }.validate().is_err());
    }
}
