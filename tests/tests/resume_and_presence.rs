//! K8 and presence, end to end on the real program: a stream that drops and resumes with
//! `?since=` misses no event, across a `kill -9` restart too (numbers keep increasing); a
//! resume the server cannot serve says `stream.reset`; an agent whose panel (event stream)
//! has gone is Disconnected after the grace period, offered nothing, its ringing offer moves on
//! at once, and it is back where it was when the panel returns.

use serde_json::{json, Value};
use std::time::Duration;
use tests::{eventually, start_server, Database, Events, Server};

fn config() -> String {
    format!(
        "{}\n[presence]\ngrace_secs = 1\n",
        actors::config::DEMO_TOML
    )
}

async fn set_status(server: &Server, who: &str, token: &str, status: &str) -> anyhow::Result<()> {
    server
        .put(
            &format!("/api/v1/agents/{who}/status"),
            token,
            json!({ "status": status }),
        )
        .await?;
    Ok(())
}

/// The next `agent.status` event, skipping others.
async fn next_status(events: &mut Events) -> anyhow::Result<Value> {
    events
        .next_matching(Duration::from_secs(5), |e| e["type"] == "agent.status")
        .await
}

fn seq(e: &Value) -> u64 {
    e["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {e}"))
}

#[tokio::test]
async fn a_dropped_stream_resumes_without_a_gap_across_a_restart() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let config = config();
    let server = start_server!(&db, Some(&config))?;
    let sam = server.login("sam", "demo").await?;
    let bob = server.login("bob", "demo").await?;
    let (mut stream, _) = server.events_since(&sam, None).await?;
    set_status(&server, "bob", &bob, "ready").await?;
    let last_seen = seq(&next_status(&mut stream).await?);
    drop(stream);

    // Missed while away: two changes of bob's.
    set_status(&server, "bob", &bob, "dnd").await?;
    set_status(&server, "bob", &bob, "ready").await?;
    let (mut stream, hello) = server.events_since(&sam, Some(last_seen)).await?;
    assert!(seq(&hello) >= last_seen + 2, "{hello}");
    let first = next_status(&mut stream).await?;
    let second = next_status(&mut stream).await?;
    assert_eq!(
        (first["to"].as_str(), second["to"].as_str()),
        (Some("dnd"), Some("ready"))
    );
    assert!(last_seen < seq(&first) && seq(&first) < seq(&second));
    // And the live ones follow, once each.
    set_status(&server, "bob", &bob, "dnd").await?;
    let live = next_status(&mut stream).await?;
    assert_eq!(live["to"], "dnd");
    assert!(seq(&live) > seq(&second));
    let before_kill = seq(&live);

    // An agent's resume replays only what the agent may see: not bob's changes.
    let alice = server.login("alice", "demo").await?;
    let (mut mine, _) = server.events_since(&alice, Some(last_seen)).await?;
    set_status(&server, "alice", &alice, "ready").await?;
    let own = next_status(&mut mine).await?;
    assert_eq!(
        own["agent"], "alice",
        "alice saw another agent's status: {own}"
    );
    drop(mine);

    server.kill();
    let server = start_server!(&db, Some(&config))?;
    let (mut stream, hello) = server.events_since(&sam, Some(before_kill)).await?;
    // alice's change was seen, so it was stored: replayed after the restart.
    let replayed = next_status(&mut stream).await?;
    assert_eq!(
        (replayed["agent"].as_str(), replayed["to"].as_str()),
        (Some("alice"), Some("ready"))
    );
    assert!(seq(&hello) >= seq(&replayed));
    set_status(&server, "bob", &bob, "ready").await?;
    let after = next_status(&mut stream).await?;
    assert!(
        seq(&after) > seq(&replayed),
        "numbers went back after the restart: {after} after {replayed}"
    );

    // A position this server never handed out cannot be resumed: the client must reload.
    let (mut stream, _) = server
        .events_since(&sam, Some(seq(&after) + 1_000_000))
        .await?;
    let reset = stream
        .next_matching(Duration::from_secs(5), |e| e["type"] != "agent.status")
        .await?;
    assert_eq!(reset["type"], "stream.reset", "{reset}");
    Ok(())
}

#[tokio::test]
async fn an_agent_whose_panel_went_is_disconnected_and_its_offer_moves_on() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let config = config();
    let server = start_server!(&db, Some(&config))?;
    let root = server.login("root", "demo").await?;
    let sam = server.login("sam", "demo").await?;
    let alice = server.login("alice", "demo").await?;
    let bob = server.login("bob", "demo").await?;
    let mut watch = server.events(&sam).await?;
    let panel = server.events(&alice).await?;
    set_status(&server, "alice", &alice, "ready").await?;

    // A ringing offer: alice's panel goes; the call is offered elsewhere long before its 18 s
    // ring-out.
    let call = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": "+15550001111", "queue": "support"}),
        )
        .await?;
    let id = call["id"].as_str().unwrap().to_owned();
    watch
        .next_matching(Duration::from_secs(10), |e| {
            e["type"] == "call.offered" && e["call_id"] == id.as_str() && e["agent"] == "alice"
        })
        .await?;
    set_status(&server, "bob", &bob, "ready").await?;
    drop(panel);
    let moved = watch
        .next_matching(Duration::from_secs(6), |e| {
            e["type"] == "call.offered" && e["call_id"] == id.as_str() && e["agent"] == "bob"
        })
        .await?;
    assert_eq!(moved["agent"], "bob");
    let status = |who: &'static str| {
        let server = &server;
        let token = sam.clone();
        async move {
            let a = server.get(&format!("/api/v1/agents/{who}"), &token).await?;
            anyhow::Ok(a["status"].as_str().unwrap_or_default().to_owned())
        }
    };
    assert_eq!(status("alice").await?, "disconnected");
    server
        .post(&format!("/api/v1/calls/{id}/accept"), &bob, json!({}))
        .await?;

    // Disconnected, alice is offered nothing: the next call waits.
    let second = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": "+15550002222", "queue": "support"}),
        )
        .await?;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let waiting = server
        .get(&format!("/api/v1/calls/{second_id}"), &sam)
        .await?;
    assert_eq!(waiting["state"], "waiting", "{waiting}");

    // The panel is back: alice is Ready again and gets the waiting call, only then (the
    // stream is in order: her return comes before the offer, and no offer to her before it).
    let _panel = server.events(&alice).await?;
    let (before, _) = watch
        .until(Duration::from_secs(10), |e| {
            e["type"] == "call.offered"
                && e["call_id"] == second_id.as_str()
                && e["agent"] == "alice"
        })
        .await?;
    let back = before.iter().position(|e| {
        e["type"] == "agent.status" && e["agent"] == "alice" && e["reason"] == "panel_back"
    });
    assert!(
        back.is_some(),
        "offered before her panel was back: {before:?}"
    );
    assert!(
        !before
            .iter()
            .any(|e| e["type"] == "call.offered" && e["agent"] == "alice"),
        "alice was offered a call while disconnected: {before:?}"
    );
    // bob never opened a panel: REST alone never disconnects him.
    eventually("bob still in service", Duration::from_secs(3), || async {
        (status("bob").await.ok()? == "in_service").then_some(())
    })
    .await;
    Ok(())
}
