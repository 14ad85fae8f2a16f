//! Callback admission (E4): whether a customer's callback request joins the queue.
//!
//! Requests queue by request time like any call. A caller who asks again while an earlier
//! request of theirs is still open keeps the first one. At most `max_concurrent` callbacks
//! (default 2, per queue, the extension's concurrent-call limit) may be open at once; a
//! request beyond that goes to the missed-call flow instead.

use super::{Call, CallKind};
use crate::CallId;

/// What happens to a callback request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It joins the queue.
    Queue,
    /// The caller already has an open request: that one is kept.
    Duplicate(CallId),
    /// The queue's callbacks are at their limit: the missed-call flow takes it.
    MissedCallFlow,
}

/// Decides on a request from `number`, given the queue's calls that are still open.
pub fn admit<'a>(
    open: impl IntoIterator<Item = &'a Call>,
    number: &str,
    max_concurrent: usize,
) -> Admission {
    let callbacks: Vec<&Call> = open
        .into_iter()
        .filter(|c| c.kind() == CallKind::Callback && !c.state().is_final())
        .collect();
    if let Some(first) = callbacks
        .iter()
        .filter(|c| c.from() == number)
        .min_by_key(|c| c.created_at())
    {
        return Admission::Duplicate(first.id().clone());
    }
    if callbacks.len() >= max_concurrent {
        return Admission::MissedCallFlow;
    }
    Admission::Queue
}
