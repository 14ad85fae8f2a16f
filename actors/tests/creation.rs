//! A new call is routed while its creation commits: its queue reserves an agent and the call
//! takes the offer meanwhile (the reservation's write and the offer's commit after the
//! creation's, the offer's carrying the call whole), but nothing of the call is published or
//! acknowledged before it is durable. A creation whose write fails alone is stored by the
//! offer's; one that fails with the offer's leaves nothing behind: not in its queue, no agent
//! held, no event, no row. An offer whose write fails after the creation committed lets its
//! agent go, and a reservation that fails is withdrawn from the offer at once.

mod common;

use actors::config::Config;
use actors::events::Event;
use actors::store::{Faults, Store};
use actors::{ActorError, Switchyard};
use engine::agent::Status;
use engine::call::{CallState, JourneyEvent};
use engine::routing::Skills;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

const CONFIG: &str = r#"
queues = [{ id = "support" }]
agents = [{ id = "alice", queues = ["support"] }]
"#;

async fn ready_alice(store: &Store) -> (Switchyard, Receiver<Event>) {
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .store(store.clone())
        .start()
        .await
        .unwrap();
    yard.set_status("alice", Some(Status::Ready), None)
        .await
        .unwrap();
    // From here on (her status was published before her change was answered).
    let events = yard.subscribe();
    (yard, events)
}

/// Receives events until one that `pred` takes (at most 10 s); the `(type, call_id)` of the
/// `call.*` events received on the way, that one included (an agent's status events may name
/// a call it was reserved for, which its failed creation then lets go).
async fn until_event(
    events: &mut Receiver<Event>,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let wait = async {
        loop {
            let e = events.recv().await.expect("the bus runs");
            let json = e.to_json();
            if let (true, Some(call)) =
                (e.type_name().starts_with("call."), json["call_id"].as_str())
            {
                seen.push((e.type_name().to_owned(), call.to_owned()));
            }
            if pred(&json) {
                return;
            }
        }
    };
    let got = tokio::time::timeout(Duration::from_secs(10), wait).await;
    assert!(got.is_ok(), "no {what} event within 10 s");
    seen
}

/// The types of the events published so far.
fn published(events: &mut Receiver<Event>) -> Vec<String> {
    std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.type_name().to_owned())
        .collect()
}

/// The queue has reserved alice: her actor handed her reservation to the writer (`before`:
/// agents' writes handed over until then).
async fn reserving(store: &Store, before: u64) {
    let faults = store.faults().expect("a SQL store");
    let reserved = faults.agent_writes_reach(before + 1, Duration::from_secs(10));
    assert!(reserved.await, "the queue never reserved alice");
}

/// The call's creation and its offer were handed to the writer (`before`: calls' writes
/// handed over until then).
async fn offer_handed(store: &Store, before: u64) {
    let faults = store.faults().expect("a SQL store");
    let handed = faults.call_writes_reach(before + 2, Duration::from_secs(10));
    assert!(handed.await, "the call never took its offer");
}

/// Creates a call while the store's commits are held and waits until the queue reserved alice
/// for it and the call took the offer, its creation still running; then `fault` is injected
/// and the commits let go. What the creator answers.
async fn offered_while_held(
    yard: &Switchyard,
    store: &Store,
    fault: impl FnOnce(&Faults),
) -> Created {
    let faults = store.faults().expect("a SQL store");
    faults.hold_commits(true);
    let (before, calls) = (faults.agent_writes(), faults.call_writes());
    let create = tokio::spawn({
        let yard = yard.clone();
        async move {
            yard.create_call("+3225550001".into(), "support", 0, Skills::new())
                .await
        }
    });
    reserving(store, before).await;
    offer_handed(store, calls).await;
    fault(faults);
    faults.hold_commits(false);
    create.await.unwrap()
}

/// Alice rings for the call `id`.
async fn alice_rings_for(yard: &Switchyard, id: &str) {
    let alice = yard.agent("alice").await.unwrap();
    assert_eq!(alice.call_id.as_ref().map(|c| c.as_str()), Some(id));
}

type Created = Result<std::sync::Arc<engine::call::Call>, ActorError>;

/// The offers of `call` to alice received until the `n`th (at most 10 s).
async fn offers_to_alice(events: &mut Receiver<Event>, call: &str, n: usize) {
    let seen = std::cell::Cell::new(0);
    until_event(events, "offer to alice", |e| {
        if e["type"] == "call.offered" && e["call_id"] == call && e["agent"] == "alice" {
            seen.set(seen.get() + 1);
        }
        seen.get() == n
    })
    .await;
}

async fn routed_while_its_creation_commits(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    let faults = store.faults().expect("a SQL store");
    faults.hold_commits(true);
    let (before, calls) = (faults.agent_writes(), faults.call_writes());
    let create = tokio::spawn({
        let yard = yard.clone();
        async move {
            yard.create_call("+3225550001".into(), "support", 0, Skills::new())
                .await
        }
    });
    // The queue routed the call before its creation committed, and the call took the offer
    // before alice's reservation committed: its write was handed over behind both...
    reserving(&store, before).await;
    offer_handed(&store, calls).await;
    // ...but nothing of it was acknowledged or published.
    assert!(!create.is_finished(), "acknowledged before its commit");
    let early = published(&mut events);
    assert!(early.is_empty(), "published before its commit: {early:?}");
    faults.hold_commits(false);
    let call = create.await.unwrap().expect("created once committed");
    let id = call.id().as_str().to_owned();
    // Published in order: created first, then queued, then offered.
    let seen: Vec<String> = until_event(&mut events, "offer", |e| {
        e["type"] == "call.offered" && e["call_id"] == id.as_str()
    })
    .await
    .into_iter()
    .filter(|(_, c)| *c == id)
    .map(|(t, _)| t)
    .collect();
    let at = |t: &str| seen.iter().position(|s| s == t);
    assert_eq!(at("call.created"), Some(0), "{seen:?}");
    assert!(at("call.offered") > at("call.queued"), "{seen:?}");
    let stored = store.load_call(call.id()).await.unwrap().expect("stored");
    assert_eq!(stored.from(), "+3225550001");
    yard.shutdown().await;
}

/// The creation's write fails alone: the call's offer, whose write carries the call whole,
/// stored it, so the call is created, published and ringing alice.
async fn a_creation_that_fails_alone_is_stored_by_its_offer(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    // The creation's transaction fails and its retry alone too; the offer's commits.
    let call = offered_while_held(&yard, &store, |faults| {
        faults.fail_call_writes(2);
    })
    .await
    .expect("created by its offer's write");
    let id = call.id().as_str().to_owned();
    let seen: Vec<String> = until_event(&mut events, "offer", |e| {
        e["type"] == "call.offered" && e["call_id"] == id.as_str()
    })
    .await
    .into_iter()
    .map(|(t, _)| t)
    .collect();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("call.created"),
        "{seen:?}"
    );
    let stored = store.load_call(call.id()).await.unwrap().expect("stored");
    assert_eq!(stored.offered(), ["alice".into()]);
    // Its journey whole, from its first entry.
    let first = stored.journey().first().map(|e| &e.event);
    assert!(
        matches!(first, Some(JourneyEvent::Initiated { .. })),
        "{first:?}"
    );
    alice_rings_for(&yard, &id).await;
    yard.shutdown().await;
}

/// The creation's write and the offer's both fail: nothing is left of the call.
async fn a_creation_that_fails_leaves_nothing(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    // Every transaction that carries a call's write fails (alice's reservation, retried
    // alone, commits).
    let e = offered_while_held(&yard, &store, |faults| {
        faults.fail_call_writes(u32::MAX);
    })
    .await
    .unwrap_err();
    assert!(matches!(e, ActorError::Store(_)), "{e}");
    // Answered once the call left its queue.
    let c = yard.queues().await.unwrap()[0].counters.clone();
    assert_eq!(c.waiting, 0, "still waiting in its queue");
    // Alice is let go (not at her offer's watchdog, 18 s away).
    let seen = until_event(&mut events, "alice ready again", |e| {
        e["type"] == "agent.status" && e["agent"] == "alice" && e["to"] == "ready"
    })
    .await;
    let alice = yard.agent("alice").await.unwrap();
    assert_eq!((alice.status, alice.call_id), (Status::Ready, None));
    let c = yard.queues().await.unwrap()[0].counters.clone();
    assert_eq!((c.waiting, c.offering), (0, 0));
    assert!(store.list_calls(None, 10).await.unwrap().is_empty());
    // Routing goes on: the next call rings alice. Nothing of the first was ever published.
    store.faults().expect("a SQL store").fail_call_writes(0);
    let next = yard
        .create_call("+3225550002".into(), "support", 0, Skills::new())
        .await
        .unwrap();
    let next = next.id().as_str().to_owned();
    let mut seen = seen;
    seen.extend(
        until_event(&mut events, "the next call's offer", |e| {
            e["type"] == "call.offered" && e["call_id"] == next.as_str()
        })
        .await,
    );
    assert!(seen.iter().all(|(_, c)| *c == next), "{seen:?}");
    assert_eq!(store.list_calls(None, 10).await.unwrap().len(), 1);
    yard.shutdown().await;
}

/// The call took its offer before alice's reservation committed; the reservation then fails
/// (her actor restarts from her last saved state, Ready) and the offer commits: she is
/// withdrawn from it at once (not at the offer's 18 s timeout) and the call, back in its
/// queue, rings her again.
async fn a_reservation_that_fails_is_withdrawn_from_its_offer(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    // The transaction of alice's reservation and the offer fails, her retry alone too; the
    // offer's retry commits.
    let call = offered_while_held(&yard, &store, |faults| {
        faults.fail_agent_writes(2);
    })
    .await
    .expect("created");
    let id = call.id().as_str().to_owned();
    offers_to_alice(&mut events, &id, 2).await;
    alice_rings_for(&yard, &id).await;
    let stored = store.load_call(call.id()).await.unwrap().expect("stored");
    assert_eq!(stored.offered(), ["alice".into()]);
    yard.shutdown().await;
}

/// The creation commits and the offer's write fails: the call is published as created (once,
/// before anything else of it), alice is let go at once (not at her ringing's watchdog, 18 s
/// away), and the call's actor, restarted from the creation, has her rung again.
async fn an_offer_that_fails_after_its_creation_lets_its_agent_go(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    // The transaction with the offer's write fails, and its retry alone too; the creation's
    // commits (before it, or alone in the retry of a transaction that carried both).
    let call = offered_while_held(&yard, &store, |faults| {
        faults.fail_call_writes_in(CallState::Offering, 2);
    })
    .await
    .expect("created");
    let id = call.id().as_str().to_owned();
    let seen = std::cell::RefCell::new(Vec::new());
    until_event(&mut events, "alice rung again", |e| {
        if e["call_id"] == id.as_str() {
            seen.borrow_mut()
                .push(e["type"].as_str().unwrap_or("").to_owned());
        }
        e["type"] == "call.offered" && e["call_id"] == id.as_str() && e["agent"] == "alice"
    })
    .await;
    let seen = seen.into_inner();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("call.created"),
        "{seen:?}"
    );
    let created = seen.iter().filter(|t| *t == "call.created").count();
    assert_eq!(created, 1, "{seen:?}");
    alice_rings_for(&yard, &id).await;
    yard.shutdown().await;
}

async fn sqlite_file() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("yard.db").display());
    let store = Store::connect(&url).await.unwrap();
    (dir, store)
}

/// Each scenario on a SQLite file and, when a server is named, on PostgreSQL: a test of its
/// own on each store, named here.
macro_rules! on_both_stores {
    ($($scenario:ident: $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test]
        async fn $sqlite() {
            let (_dir, store) = sqlite_file().await;
            $scenario(store).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(url) = common::postgres_url() else {
                return;
            };
            $scenario(Store::connect(&url).await.unwrap()).await;
        }
    )*};
}

on_both_stores! {
    routed_while_its_creation_commits:
        a_call_is_routed_while_its_creation_commits_and_published_once_it_did,
        a_call_is_routed_while_its_creation_commits_postgres;
    a_creation_that_fails_alone_is_stored_by_its_offer:
        a_call_whose_creation_fails_alone_is_stored_by_its_offer,
        a_call_whose_creation_fails_alone_is_stored_by_its_offer_postgres;
    a_reservation_that_fails_is_withdrawn_from_its_offer:
        a_reservation_that_fails_is_withdrawn_from_its_offer_and_rung_again,
        a_reservation_that_fails_is_withdrawn_from_its_offer_postgres;
    an_offer_that_fails_after_its_creation_lets_its_agent_go:
        an_offer_that_fails_after_its_creation_lets_its_agent_go_and_rings_her_again,
        an_offer_that_fails_after_its_creation_lets_its_agent_go_postgres;
    a_creation_that_fails_leaves_nothing:
        a_call_whose_creation_fails_is_undone_and_its_agent_freed,
        a_call_whose_creation_fails_is_undone_postgres;
}

/// With nobody to route it to, a call whose creation fails leaves its queue at once (it does
/// not wait there for an agent to find its actor gone).
#[tokio::test]
async fn a_call_whose_creation_fails_leaves_a_queue_with_nobody_ready() {
    let (_dir, store) = sqlite_file().await;
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .store(store.clone())
        .start()
        .await
        .unwrap();
    store.faults().expect("a SQL store").fail_call_writes(2);
    let e = yard
        .create_call("+3225550001".into(), "support", 0, Skills::new())
        .await
        .unwrap_err();
    assert!(matches!(e, ActorError::Store(_)), "{e}");
    // Answered once the call left its queue.
    assert_eq!(yard.queues().await.unwrap()[0].counters.waiting, 0);
    assert!(yard.calls(None, 10).await.unwrap().is_empty());
    yard.shutdown().await;
}
