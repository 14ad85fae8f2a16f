//! The shells' clock: wall-clock milliseconds that follow tokio's clock, so that tests on
//! paused time (`tokio::time::advance`) move engine time too.

use engine::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Wall-clock time anchored at creation and advanced by tokio's (possibly paused) clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base_ms: i64,
    base: Instant,
}

impl Clock {
    /// A clock anchored now.
    pub fn new() -> Self {
        let base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Clock {
            base_ms,
            base: Instant::now(),
        }
    }

    /// The current engine time.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.base_ms + self.base.elapsed().as_millis() as i64)
    }

    /// The tokio instant at which `t` falls.
    pub fn instant_at(&self, t: Timestamp) -> Instant {
        let offset = t.0.saturating_sub(self.base_ms).max(0) as u64;
        self.base + std::time::Duration::from_millis(offset)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
