//! A multiset of moments: what a queue's wake-ups are computed from.

use crate::Timestamp;
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

/// A multiset of moments, for the earliest one (after a bound) in logarithmic time.
#[derive(Debug, Default)]
pub(super) struct Moments(BTreeMap<Timestamp, usize>);

impl Moments {
    pub(super) fn update(&mut self, t: Timestamp, add: bool) {
        if add {
            *self.0.entry(t).or_default() += 1;
        } else if let Some(n) = self.0.get_mut(&t) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&t);
            }
        }
    }

    pub(super) fn first(&self) -> Option<Timestamp> {
        self.0.keys().next().copied()
    }

    /// The earliest moment strictly after `bound`.
    pub(super) fn first_after(&self, bound: Timestamp) -> Option<Timestamp> {
        self.0
            .range((Excluded(bound), Unbounded))
            .map(|(t, _)| *t)
            .next()
    }
}
