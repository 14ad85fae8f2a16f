//! Logins and sessions (K3): how long an account name must wait before its next password
//! check, from its failed logins in a row ([`LoginThrottle`]), and when a session is over
//! ([`SessionPolicy`]).
//!
//! - The first [`LoginPolicy::free_failures`] failures in a row cost nothing; each one after
//!   them locks the name for [`LoginPolicy::backoff_ms`], doubled per further failure, up to
//!   [`LoginPolicy::max_backoff_ms`]. A success clears the name.
//! - A name that has been quiet for [`LoginPolicy::forget_ms`] starts over.
//! - Known and unknown names are treated alike, so the answers do not tell which names exist.
//! - At most [`LoginPolicy::max_names`] names are tracked: when full, the name locked for the
//!   shortest time is forgotten first, so a flood of invented names cannot grow memory without
//!   bound (nor free a name an attacker is hammering, whose lock is the longest).

use crate::Timestamp;
use std::collections::HashMap;
use std::time::Duration;

/// The back-off settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures in a row before the first lock.
    pub free_failures: u32,
    /// The first lock.
    pub backoff_ms: u64,
    /// The longest lock.
    pub max_backoff_ms: u64,
    /// Quiet time after which a name's failures are forgotten.
    pub forget_ms: u64,
    /// Names tracked at once.
    pub max_names: usize,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            free_failures: 5,
            backoff_ms: 1_000,
            max_backoff_ms: 15 * 60_000,
            forget_ms: 60 * 60_000,
            max_names: 10_000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Timestamp,
    locked_until: Timestamp,
}

/// Failed logins per account name.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: LoginPolicy,
    names: HashMap<String, Failures>,
}

impl LoginThrottle {
    /// An empty throttle.
    pub fn new(policy: LoginPolicy) -> Self {
        LoginThrottle {
            policy,
            names: HashMap::new(),
        }
    }

    /// How long `name` must still wait before its password may be checked (`None`: now).
    pub fn wait(&self, name: &str, now: Timestamp) -> Option<Duration> {
        let f = self.names.get(name)?;
        if now.since(f.last) >= Duration::from_millis(self.policy.forget_ms) {
            return None;
        }
        (f.locked_until > now).then(|| f.locked_until.since(now))
    }

    /// A wrong password (or an unknown name) for `name` at `now`; returns the lock it now has.
    pub fn failed(&mut self, name: &str, now: Timestamp) -> Option<Duration> {
        let forget = Duration::from_millis(self.policy.forget_ms);
        if !self.names.contains_key(name) && self.names.len() >= self.policy.max_names {
            self.make_room(now);
        }
        let f = self.names.entry(name.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: now,
        });
        if now.since(f.last) >= forget {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        let over = f.count.saturating_sub(self.policy.free_failures);
        if over == 0 {
            return None;
        }
        let lock = self
            .policy
            .backoff_ms
            .saturating_mul(1u64 << (over - 1).min(32))
            .min(self.policy.max_backoff_ms);
        f.locked_until = now + Duration::from_millis(lock);
        Some(Duration::from_millis(lock))
    }

    /// The right password for `name`: its failures are forgotten.
    pub fn succeeded(&mut self, name: &str) {
        self.names.remove(name);
    }

    /// Names tracked now.
    pub fn tracked(&self) -> usize {
        self.names.len()
    }

    /// Forgets quiet names; if none is quiet, the one whose lock ends first.
    fn make_room(&mut self, now: Timestamp) {
        let forget = Duration::from_millis(self.policy.forget_ms);
        self.names.retain(|_, f| now.since(f.last) < forget);
        if self.names.len() >= self.policy.max_names {
            if let Some(first) = self
                .names
                .iter()
                .min_by_key(|(_, f)| (f.locked_until, f.last))
                .map(|(name, _)| name.clone())
            {
                self.names.remove(&first);
            }
        }
    }
}

/// How long a session lasts: until it has not been used for `idle_ms`, and at most `max_ms`
/// after it began, whichever comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Unused this long, a session is over.
    pub idle_ms: u64,
    /// A session is over this long after it began, used or not.
    pub max_ms: u64,
}

/// Why a session is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Unused for too long.
    Idle,
    /// Too old.
    Absolute,
}

impl SessionPolicy {
    /// Whether a session that began at `created` and was last used at `seen` is over at `now`.
    pub fn expired(&self, created: Timestamp, seen: Timestamp, now: Timestamp) -> Option<Expiry> {
        if now.since(created) >= Duration::from_millis(self.max_ms) {
            Some(Expiry::Absolute)
        } else if now.since(seen.max(created)) >= Duration::from_millis(self.idle_ms) {
            Some(Expiry::Idle)
        } else {
            None
        }
    }

    /// The oldest start and last use a session may have at `now` and still be valid.
    pub fn valid_since(&self, now: Timestamp) -> (Timestamp, Timestamp) {
        (
            now - Duration::from_millis(self.max_ms),
            now - Duration::from_millis(self.idle_ms),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_or_too_old() {
        let p = SessionPolicy {
            idle_ms: 60 * 60_000,
            max_ms: 12 * 3_600_000,
        };
        let start = at(0);
        assert_eq!(p.expired(start, start, at(59 * 60)), None);
        assert_eq!(p.expired(start, start, at(60 * 60)), Some(Expiry::Idle));
        // Used every half hour: valid until twelve hours after it began.
        assert_eq!(
            p.expired(start, at(11 * 3_600 + 1_800), at(12 * 3_600 - 1)),
            None
        );
        assert_eq!(
            p.expired(start, at(12 * 3_600 - 1), at(12 * 3_600)),
            Some(Expiry::Absolute)
        );
        let (created, seen) = p.valid_since(at(12 * 3_600));
        assert_eq!((created, seen), (at(0), at(11 * 3_600)));
    }

    fn at(s: i64) -> Timestamp {
        Timestamp(s * 1_000)
    }

    #[test]
    fn five_free_failures_then_a_doubling_lock_up_to_the_cap() {
        let mut t = LoginThrottle::new(LoginPolicy::default());
        for i in 0..5 {
            assert_eq!(t.wait("alice", at(i)), None);
            assert_eq!(t.failed("alice", at(i)), None);
        }
        assert_eq!(t.failed("alice", at(5)), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("alice", at(5)), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("alice", at(6)), None);
        assert_eq!(t.failed("alice", at(6)), Some(Duration::from_secs(2)));
        assert_eq!(t.failed("alice", at(8)), Some(Duration::from_secs(4)));
        // Other names are not affected.
        assert_eq!(t.wait("bob", at(8)), None);
        // Many more failures: the lock stops at 15 minutes.
        let mut now = at(20);
        for _ in 0..40 {
            t.failed("alice", now);
            now = now + Duration::from_secs(1);
        }
        assert_eq!(t.failed("alice", now), Some(Duration::from_secs(15 * 60)));
    }

    #[test]
    fn success_clears_and_quiet_forgets() {
        let mut t = LoginThrottle::new(LoginPolicy::default());
        for i in 0..6 {
            t.failed("alice", at(i));
        }
        t.succeeded("alice");
        assert_eq!(t.wait("alice", at(6)), None);
        assert_eq!(t.failed("alice", at(6)), None, "the count started over");
        for i in 7..12 {
            t.failed("alice", at(i));
        }
        assert!(t.wait("alice", at(11)).is_some());
        // An hour of quiet: the failures are forgotten.
        assert_eq!(t.wait("alice", at(11 + 3_600)), None);
        assert_eq!(t.failed("alice", at(11 + 3_600)), None);
    }

    #[test]
    fn invented_names_cannot_grow_memory_or_free_a_hammered_one() {
        let mut t = LoginThrottle::new(LoginPolicy {
            max_names: 100,
            ..LoginPolicy::default()
        });
        for i in 0..20 {
            t.failed("victim", at(i));
        }
        let locked = t.wait("victim", at(20)).expect("locked");
        for i in 0..1_000 {
            t.failed(&format!("invented-{i}"), at(20));
        }
        assert!(t.tracked() <= 100);
        assert_eq!(t.wait("victim", at(20)), Some(locked));
    }
}
