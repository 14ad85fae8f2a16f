//! Routing through a database outage: while every write fails, requests fail with a store
//! error and change nothing; an actor whose write failed waits for the database and comes
//! back by itself from what was saved; once the database is back, calls route, ring and are
//! answered again without a restart, and agents and calls agree.

mod common;

use actors::config::Config;
use actors::events::Event;
use actors::store::Store;
use actors::{ActorError, Switchyard};
use engine::agent::Status;
use engine::call::{Call, CallState, Party};
use engine::routing::Skills;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

const CONFIG: &str = r#"
queues = [{ id = "support" }]
agents = [{ id = "alice", queues = ["support"] }]
"#;

/// Retries `f` until it succeeds (an actor restarting after the outage), for at most 10 s.
async fn eventually<T, F: std::future::Future<Output = Result<T, ActorError>>>(
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "still failing: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (at most 10 s) for the event `kind` of call `id`.
async fn event(events: &mut Receiver<Event>, kind: &str, id: &str) {
    let wait = async {
        loop {
            let e = events.recv().await.expect("the bus runs");
            if e.type_name() == kind && e.to_json()["call_id"] == id {
                return;
            }
        }
    };
    let seen = tokio::time::timeout(Duration::from_secs(10), wait).await;
    assert!(seen.is_ok(), "no {kind} event for {id}");
}

#[tokio::test]
async fn routing_stops_cleanly_during_an_outage_and_resumes_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("yard.db").display());
    outage(Store::connect(&url).await.unwrap(), None).await;
}

#[tokio::test]
async fn on_postgres_too_and_connections_dropped_mid_call_cost_a_retry() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    outage(Store::connect(&url).await.unwrap(), Some(&url)).await;
}

/// The call, once it rings an agent (`events` subscribed before it could).
async fn ringing(
    yard: &Switchyard,
    events: &mut Receiver<Event>,
    id: &str,
) -> std::sync::Arc<Call> {
    event(events, "call.offered", id).await;
    yard.call(id).await.unwrap()
}

/// Ends every connection the store has to its PostgreSQL database (the server restarted, a
/// network cut): the pool's next use of each fails, and it connects again.
fn drop_connections(url: &str) {
    let (base, name) = url.rsplit_once('/').expect("URL ends with /database");
    let sql =
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'");
    let status = std::process::Command::new("psql")
        .args([&format!("{base}/postgres"), "-qAtc", &sql])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("psql runs");
    assert!(status.success());
}

/// The outage scenario on `store`; on PostgreSQL (`postgres` its URL) its connections are
/// also dropped while a call rings.
async fn outage(store: Store, postgres: Option<&str>) {
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .store(store.clone())
        .start()
        .await
        .unwrap();
    let mut events = yard.subscribe();
    yard.set_status("alice", Some(Status::Ready), None)
        .await
        .unwrap();
    let first = yard
        .create_call("+3225550001".into(), "support", 0, Skills::new())
        .await
        .unwrap();
    let first = first.id().as_str().to_owned();
    let offered = ringing(&yard, &mut events, &first).await;
    assert_eq!(offered.offered(), ["alice".into()]);
    if let Some(url) = postgres {
        // Connections dropped: whatever fails on a dead connection is retried by the actor
        // that failed, and the call still rings alice.
        drop_connections(url);
        let c = yard.call(&first).await.unwrap();
        assert_eq!(c.state(), CallState::Offering);
        // The pool tests a connection before it hands it out: the dead ones are replaced.
        let health = store.health().await;
        assert!(health.ok, "{health:?}");
    }

    // The outage: alice's answer and a new call both fail, with a store error.
    let faults = store.faults().unwrap();
    let before = faults.transactions();
    faults.set_down(true);
    let e = yard.accept(&first, "alice").await.unwrap_err();
    assert!(matches!(e, ActorError::Store(_)), "{e}");
    let e = yard
        .create_call("+3225550002".into(), "support", 0, Skills::new())
        .await
        .unwrap_err();
    assert!(matches!(e, ActorError::Store(_)), "{e}");
    // The actors whose writes failed try to restart, again and again (each try a transaction
    // refused): more tries than the 5 each after which they used to give up for good.
    let retried = faults.transactions_reach(before + 14, Duration::from_secs(10));
    assert!(retried.await, "no more restart tries");

    // Back: the call and alice return by themselves from what was saved (still ringing
    // her), her answer now works, and a new call routes.
    faults.set_down(false);
    // Alice's actor comes back on its own time (its restart's backoff) and says nothing when
    // it does: her answer is retried until it works.
    let answered = eventually(|| yard.accept(&first, "alice")).await;
    assert_eq!(answered.state(), CallState::Connected);
    assert_eq!(answered.agent(), Some(&"alice".into()));
    let alice = yard.agent("alice").await.unwrap();
    assert_eq!(alice.status, Status::InService, "agent and call agree");
    let ended = yard.hangup(&first, Party::Customer).await.unwrap();
    assert!(ended.state().is_final());
    yard.end_wrap_up("alice").await.unwrap();
    yard.set_status("alice", Some(Status::Ready), None)
        .await
        .unwrap();
    let second = yard
        .create_call("+3225550003".into(), "support", 0, Skills::new())
        .await
        .unwrap();
    let second = second.id().as_str().to_owned();
    let rung = ringing(&yard, &mut events, &second).await;
    assert_eq!(rung.offered(), ["alice".into()], "routing works again");
    // Alice's status history went on across her actor's restarts (each one starting from the
    // tail saved in her row): every change begins where the one before ended, and the answer
    // refused during the outage is not in it.
    let history = yard.status_history("alice", 100).await.unwrap();
    for pair in history.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "{history:#?}");
    }
    assert_eq!(history.first().map(|c| &c.from), Some(&Status::Offline));
    assert_eq!(history.last().map(|c| &c.to), Some(&Status::Offered));
    let answered = history.iter().filter(|c| c.to == Status::InService).count();
    assert_eq!(answered, 1, "{history:#?}");
    // Nothing of the refused call was kept.
    let calls = store.list_calls(None, 10).await.unwrap();
    assert_eq!(
        calls.len(),
        2,
        "the call refused during the outage was not stored"
    );
    yard.shutdown().await;
}

#[tokio::test]
async fn a_step_answered_late_is_pending_not_an_error_and_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("yard.db").display());
    let store = Store::connect(&url).await.unwrap();
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .store(store.clone())
        .start()
        .await
        .unwrap();
    let mut events = yard.subscribe();
    let call = yard
        .create_call("+3225550001".into(), "support", 0, Skills::new())
        .await
        .unwrap();
    let id = call.id().as_str().to_owned();
    // The database takes longer to commit than a caller waits for an answer (5 s).
    let faults = store.faults().unwrap();
    faults.hold_commits(true);
    let e = yard.hangup(&id, Party::Customer).await.unwrap_err();
    assert!(
        matches!(e, ActorError::Pending(_)),
        "not an error to retry: {e}"
    );
    faults.hold_commits(false);
    // And it was applied: the call ends once its commit is through.
    event(&mut events, "call.ended", &id).await;
    let ended = yard.call(&id).await.unwrap();
    assert_eq!(ended.ended_by(), Some(&Party::Customer));
    yard.shutdown().await;
}
