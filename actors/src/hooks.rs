//! Event hooks (`[[hooks]]`): each event a hook wants becomes a row of the durable outbox
//! before anything is sent (connector `hook:<name>`, the event's number as the row's version),
//! and the outbox's worker posts it, signed like the CRM webhook, retrying while the receiver
//! is down. A row's line is its call (or its agent), so a call's events reach a hook in the
//! order they happened, each once the one before it is delivered or dead.
//!
//! Nothing is lost across a restart: each hook's rows say which event it was last given, and
//! at start the events after that are replayed from the store's event log (it keeps the last
//! 100,000) before the live ones. A hook with no row yet starts with the events from then on.

use crate::config::HookConfig;
use crate::events::EventBus;
use crate::outbox::Outbox;
use crate::store::{OutboxRow, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use tokio::sync::broadcast::error::RecvError;

/// The outbox connector name of a hook's rows: `hook:<name>`.
pub(crate) const PREFIX: &str = "hook:";

/// Whether an outbox row is a hook's (not a CRM log).
pub(crate) fn is_hook(connector: &str) -> bool {
    connector.starts_with(PREFIX)
}

/// The rows event `seq` (its JSON as clients see it) makes: one per hook that wants it and
/// was not given it yet (`given`: the last event number each hook has a row for).
fn rows(
    hooks: &[HookConfig],
    given: &HashMap<String, u64>,
    seq: u64,
    event: &Value,
    now: i64,
) -> Vec<OutboxRow> {
    let kind = event["type"].as_str().unwrap_or_default();
    let line = match (event["call_id"].as_str(), event["agent"].as_str()) {
        (Some(call), _) => call.to_owned(),
        (None, Some(agent)) => format!("agent:{agent}"),
        _ => "events".to_owned(),
    };
    hooks
        .iter()
        .filter(|h| h.wants(kind) && given.get(&h.name).is_none_or(|&g| seq > g))
        .map(|h| {
            let connector = format!("{PREFIX}{}", h.name);
            OutboxRow {
                key: format!("{line}:e{seq}:{connector}"),
                call_id: line.clone(),
                version: i64::try_from(seq).unwrap_or(i64::MAX),
                connector,
                payload: event.to_string(),
                state: "pending".into(),
                attempts: 0,
                next_at: now,
                last_error: None,
                created_at: now,
                updated_at: now,
            }
        })
        .collect()
}

/// The last event each hook has a row for.
async fn given(store: &Store) -> Result<HashMap<String, u64>, StoreError> {
    Ok(store
        .outbox_latest(PREFIX)
        .await?
        .into_iter()
        .filter_map(|(connector, v)| {
            let name = connector.strip_prefix(PREFIX)?.to_owned();
            Some((name, u64::try_from(v).unwrap_or(0)))
        })
        .collect())
}

/// Starts queueing the hooks' events: the stored ones each hook missed, then the live ones.
/// The stream is subscribed before this returns, so no event of the engine it starts with
/// is missed.
pub(crate) async fn start(
    hooks: Vec<HookConfig>,
    bus: EventBus,
    store: Store,
    outbox: Outbox,
) -> Result<(), StoreError> {
    let (given, resume) = subscribe(&hooks, &bus, &store).await?;
    tokio::spawn(async move {
        if let Err(e) = run(&hooks, &bus, &store, &outbox, given, resume).await {
            tracing::error!(error = %e, "event hooks stopped: the store failed");
        }
    });
    Ok(())
}

/// The last event each hook was given, and the stream from the one furthest behind (a hook
/// with no row yet starts now).
async fn subscribe(
    hooks: &[HookConfig],
    bus: &EventBus,
    store: &Store,
) -> Result<(HashMap<String, u64>, crate::events::Resume), StoreError> {
    let mut given = given(store).await?;
    let since = hooks
        .iter()
        .filter_map(|h| given.get(&h.name).copied())
        .min();
    let resume = bus.resume(since).await;
    for h in hooks {
        given.entry(h.name.clone()).or_insert(resume.upto);
    }
    Ok((given, resume))
}

async fn run(
    hooks: &[HookConfig],
    bus: &EventBus,
    store: &Store,
    outbox: &Outbox,
    given: HashMap<String, u64>,
    mut resume: crate::events::Resume,
) -> Result<(), StoreError> {
    let clock = outbox.clock();
    match resume.missed.take() {
        Some(missed) => {
            for e in missed {
                let event: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                let seq = u64::try_from(e.seq).unwrap_or(0);
                queue(store, outbox, rows(hooks, &given, seq, &event, clock.now().0)).await?;
            }
        }
        None => tracing::error!(
            "event hooks: the events since the last one queued are no longer stored; some were not posted"
        ),
    }
    loop {
        match resume.rx.recv().await {
            Ok(e) if e.seq > resume.upto => {
                // Queued only once the event itself is stored (what a restart replays from).
                resume.stored(e.seq).await;
                let rows = rows(hooks, &given, e.seq, &e.to_json(), clock.now().0);
                queue(store, outbox, rows).await?;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                // Too far behind the live stream: read the rest back from the store.
                tracing::warn!(
                    missed = n,
                    "event hooks fell behind: replaying from the store"
                );
                let (given, resume) = subscribe(hooks, bus, store).await?;
                return Box::pin(run(hooks, bus, store, outbox, given, resume)).await;
            }
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}

async fn queue(store: &Store, outbox: &Outbox, rows: Vec<OutboxRow>) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    for r in &rows {
        store.outbox_put(r).await?;
    }
    outbox.wake();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hook(name: &str, events: &[&str]) -> HookConfig {
        HookConfig {
            name: name.into(),
            url: "http://127.0.0.1:9/".into(),
            secret: "s".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn an_event_is_a_row_per_hook_that_wants_it_and_was_not_given_it() {
        let hooks = [hook("ends", &["call.ended"]), hook("calls", &["call.*"])];
        let ended = json!({"type": "call.ended", "call_id": "c1", "seq": 7});
        let none = HashMap::new();
        let r = rows(&hooks, &none, 7, &ended, 1_000);
        let keys: Vec<&str> = r.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["c1:e7:hook:ends", "c1:e7:hook:calls"]);
        assert_eq!((r[0].call_id.as_str(), r[0].version), ("c1", 7));
        assert_eq!(serde_json::from_str::<Value>(&r[0].payload).unwrap(), ended);
        let status = json!({"type": "agent.status", "agent": "alice"});
        assert!(rows(&hooks, &none, 8, &status, 1_000).is_empty());
        let all = [hook("agents", &["agent.status"])];
        assert_eq!(
            rows(&all, &none, 8, &status, 1_000)[0].call_id,
            "agent:alice"
        );
        // Given already (a replay after a restart): not again.
        let given = HashMap::from([("ends".to_owned(), 7), ("calls".to_owned(), 6)]);
        let again = rows(&hooks, &given, 7, &ended, 2_000);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].connector, "hook:calls");
    }
}
