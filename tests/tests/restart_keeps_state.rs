//! Kill the server process right after a call was accepted, restart it on the same database:
//! the call, its journey, the agent's status and status history, and the sessions are all
//! there, and the call carries on. Runs on SQLite, and on PostgreSQL when configured.

use serde_json::{json, Value};
use std::time::Duration;
use tests::{start_server, Database};

async fn scenario(db: Database) -> anyhow::Result<()> {
    let server = start_server!(&db, None)?;
    let root = server.login("root", "demo").await?;
    let alice = server.login("alice", "demo").await?;
    let mut events = server.events(&alice).await?;
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await?;
    let call = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": "+15551230001", "queue": "support"}),
        )
        .await?;
    let id = call["id"].as_str().unwrap().to_owned();
    let offer = events
        .next_matching(Duration::from_secs(10), |e| {
            e["type"] == "call.offered" && e["call_id"] == id.as_str()
        })
        .await?;
    assert_eq!(offer["agent"], "alice");
    let accepted = server
        .post(&format!("/api/v1/calls/{id}/accept"), &alice, json!({}))
        .await?;
    assert_eq!(accepted["state"], "connected");
    server.kill();

    let server = start_server!(&db, None)?;
    // The old session survives the restart.
    let call: Value = server.get(&format!("/api/v1/calls/{id}"), &alice).await?;
    assert_eq!(
        (call["state"].as_str(), call["agent"].as_str()),
        (Some("connected"), Some("alice"))
    );
    let steps: Vec<&str> = call["journey"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "initiated",
            "routed_to_queue",
            "offered_to",
            "answered_by",
            "recovered"
        ]
    );
    let agent = server.get("/api/v1/agents/alice", &alice).await?;
    assert_eq!(
        (agent["status"].as_str(), agent["call_id"].as_str()),
        (Some("in_service"), Some(id.as_str()))
    );
    let history = server.get("/api/v1/agents/alice/history", &alice).await?;
    let statuses: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ready", "offered", "in_service"]);

    // The call carries on: the customer hangs up, alice wraps up.
    let root = server.login("root", "demo").await?;
    let ended = server
        .post(
            &format!("/api/v1/calls/{id}/hangup"),
            &root,
            json!({"party": "customer"}),
        )
        .await?;
    assert_eq!(
        (
            ended["result"].as_str(),
            ended["ended_by"]["party"].as_str()
        ),
        (Some("answered"), Some("customer"))
    );
    assert!(ended["talk_seconds"].is_u64());
    let agent = server.get("/api/v1/agents/alice", &alice).await?;
    assert_eq!(agent["status"], "after_service");
    let done = server.get("/api/v1/calls?state=ended", &root).await?;
    assert_eq!(done["calls"].as_array().unwrap().len(), 1);
    Ok(())
}

#[tokio::test]
async fn sqlite_restart_after_kill_keeps_the_call_journey_and_history() {
    scenario(Database::sqlite()).await.unwrap();
}

#[tokio::test]
async fn postgres_restart_after_kill_keeps_the_call_journey_and_history() {
    if let Some(db) = Database::postgres() {
        scenario(db).await.unwrap();
    }
}
