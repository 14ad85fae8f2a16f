//! A new call is routed while its creation commits: its queue may reserve an agent meanwhile
//! (the agent's write commits with the call's or after it), but nothing of the call is
//! published, offered or acknowledged before its creation is durable, and a creation that
//! fails leaves nothing behind: not in its queue, no agent held, no event, no row.

mod common;

use actors::config::Config;
use actors::events::Event;
use actors::store::Store;
use actors::{ActorError, Switchyard};
use engine::agent::Status;
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

async fn routed_while_its_creation_commits(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    let faults = store.faults().expect("a SQL store");
    faults.hold_commits(true);
    let before = faults.agent_writes();
    let create = tokio::spawn({
        let yard = yard.clone();
        async move {
            yard.create_call("+3225550001".into(), "support", 0, Skills::new())
                .await
        }
    });
    // The queue routed the call before its creation committed...
    reserving(&store, before).await;
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

async fn a_creation_that_fails_leaves_nothing(store: Store) {
    let (yard, mut events) = ready_alice(&store).await;
    let faults = store.faults().expect("a SQL store");
    faults.hold_commits(true);
    let before = faults.agent_writes();
    let create = tokio::spawn({
        let yard = yard.clone();
        async move {
            yard.create_call("+3225550001".into(), "support", 0, Skills::new())
                .await
        }
    });
    // The queue reserves alice while the call's creation is held; then the creation's
    // transaction fails (its retry alone too), and alice's reservation commits after it.
    reserving(&store, before).await;
    faults.fail_call_writes(2);
    faults.hold_commits(false);
    let e = create.await.unwrap().unwrap_err();
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

async fn sqlite_file() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("yard.db").display());
    let store = Store::connect(&url).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn a_call_is_routed_while_its_creation_commits_and_published_once_it_did() {
    let (_dir, store) = sqlite_file().await;
    routed_while_its_creation_commits(store).await;
}

#[tokio::test]
async fn a_call_is_routed_while_its_creation_commits_postgres() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    routed_while_its_creation_commits(Store::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn a_call_whose_creation_fails_is_undone_and_its_agent_freed() {
    let (_dir, store) = sqlite_file().await;
    a_creation_that_fails_leaves_nothing(store).await;
}

#[tokio::test]
async fn a_call_whose_creation_fails_is_undone_postgres() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    a_creation_that_fails_leaves_nothing(Store::connect(&url).await.unwrap()).await;
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
