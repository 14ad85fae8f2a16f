//! Copy-on-write values shared with their readers.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A value an actor owns and changes, whose snapshots it hands out without copying them: a
/// step's answer and the memory store hold the same [`Arc`] as the actor. Reading goes through
/// [`Deref`]; changing it through [`DerefMut`] copies it first only while a snapshot handed out
/// is still held ([`Arc::make_mut`]), so each snapshot stays as it was when it was taken.
#[derive(Debug)]
pub(crate) struct Shared<T: Clone>(Arc<T>);

impl<T: Clone> Shared<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        Shared(value)
    }

    /// A snapshot of the value as it is now (no copy).
    pub(crate) fn share(&self) -> Arc<T> {
        Arc::clone(&self.0)
    }
}

impl<T: Clone> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_stays_as_it_was_and_an_unshared_value_is_changed_in_place() {
        let mut v = Shared::new(Arc::new(vec![1]));
        let before = v.share();
        v.push(2);
        assert_eq!(*before, [1], "the snapshot taken before the change");
        assert_eq!(*v, [1, 2]);
        drop(before);
        let at = Arc::as_ptr(&v.share());
        v.push(3);
        assert_eq!(
            Arc::as_ptr(&v.share()),
            at,
            "no copy when nobody holds a snapshot"
        );
    }
}
