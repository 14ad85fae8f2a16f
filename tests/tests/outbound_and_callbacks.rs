//! E1–E4 through the HTTP API on the real program (demo setup): outbound calls pass the
//! compliance checks first (a refusal names its rule and creates nothing), and the callback
//! queue keeps a caller's first request and sends requests beyond its limit of 2 to the
//! missed-call flow.

use serde_json::{json, Value};
use std::time::Duration;
use tests::{start_server, Database};

#[tokio::test]
async fn outbound_calls_pass_compliance_first() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let server = start_server!(&db, None)?;
    let root = server.login("root", "demo").await?;
    let alice = server.login("alice", "demo").await?;
    let carol = server.login("carol", "demo").await?;
    server
        .post(
            "/api/v1/compliance/dnc",
            &root,
            json!({"value": "+15557770001"}),
        )
        .await?;
    let (s, v) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/compliance/dnc",
            Some(&alice),
            Some(json!({"value": "+1"})),
        )
        .await?;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "agents do not edit company lists"
    );
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "dnd"}),
        )
        .await?;

    let dial = |token: &str, body: Value| {
        let token = token.to_owned();
        let server = &server;
        async move {
            server
                .send(
                    reqwest::Method::POST,
                    "/api/v1/calls/outbound",
                    Some(&token),
                    Some(body),
                )
                .await
        }
    };
    let (s, v) = dial(&alice, json!({"number": "+15557770001"})).await?;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("compliance_dnc"))
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("compliance_dnc"));
    assert_eq!(
        server.get("/api/v1/agents/alice", &alice).await?["status"],
        "dnd",
        "nothing changed"
    );
    assert_eq!(
        server.get("/api/v1/calls", &root).await?["calls"],
        json!([]),
        "no call was created"
    );

    // Restricted destinations need the configured PIN; carol has two outbound queues.
    let (s, v) = dial(&alice, json!({"number": "+19005550000"})).await?;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("compliance_pin"))
    );
    let (s, v) = dial(&carol, json!({"number": "+15557770002"})).await?;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("queue_required"))
    );

    let (s, call) = dial(&alice, json!({"number": "+19005550000", "pin": "2468"})).await?;
    assert_eq!(
        (
            s,
            call["state"].as_str(),
            call["kind"].as_str(),
            call["queue"].as_str()
        ),
        (201, Some("dialing"), Some("outbound"), Some("support"))
    );
    assert_eq!(
        server.get("/api/v1/agents/alice", &alice).await?["status"],
        "dialing"
    );
    let id = call["id"].as_str().unwrap();
    let up = server
        .post(&format!("/api/v1/calls/{id}/connect"), &root, json!({}))
        .await?;
    assert_eq!(up["state"], "connected");
    assert_eq!(
        server.get("/api/v1/agents/alice", &alice).await?["status"],
        "in_service"
    );
    server
        .post(&format!("/api/v1/calls/{id}/hangup"), &alice, json!({}))
        .await?;
    assert_eq!(
        server.get("/api/v1/agents/alice", &alice).await?["status"],
        "after_service"
    );
    Ok(())
}

#[tokio::test]
async fn the_callback_queue_keeps_the_first_request_and_holds_two_at_most() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let server = start_server!(&db, None)?;
    let root = server.login("root", "demo").await?;
    let alice = server.login("alice", "demo").await?;
    let mut events = server.events(&alice).await?;
    let request = |number: &str| {
        let body = json!({"number": number, "queue": "support", "txn": "TXN-42"});
        let (server, root) = (&server, root.clone());
        async move {
            server
                .send(
                    reqwest::Method::POST,
                    "/api/v1/callbacks",
                    Some(&root),
                    Some(body),
                )
                .await
        }
    };
    let (s, first) = request("+15558880001").await?;
    assert_eq!(
        (
            s,
            first["admission"].as_str(),
            first["call"]["related"][0].as_str()
        ),
        (201, Some("queued"), Some("TXN-42"))
    );
    let first_id = first["call"]["id"].as_str().unwrap().to_owned();
    let (s, again) = request("+15558880001").await?;
    assert_eq!(
        (s, again["admission"].as_str(), again["call"]["id"].as_str()),
        (200, Some("duplicate"), Some(first_id.as_str()))
    );
    let (s, second) = request("+15558880002").await?;
    assert_eq!((s, second["admission"].as_str()), (201, Some("queued")));
    let (s, third) = request("+15558880003").await?;
    assert_eq!(
        (
            s,
            third["admission"].as_str(),
            third["call"]["result"].as_str()
        ),
        (201, Some("missed_call_flow"), Some("not_answered"))
    );

    // The oldest request is served first: the agent hears that it is a callback, then the
    // customer is dialed.
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await?;
    let offer = events
        .next_matching(Duration::from_secs(10), |e| e["type"] == "call.offered")
        .await?;
    assert_eq!(offer["call_id"], first_id.as_str());
    let accepted = server
        .post(
            &format!("/api/v1/calls/{first_id}/accept"),
            &alice,
            json!({}),
        )
        .await?;
    assert_eq!(accepted["state"], "dialing");
    let note = events
        .next_matching(Duration::from_secs(10), |e| {
            e["type"] == "call.callback_announced"
        })
        .await?;
    assert!(note["message"]
        .as_str()
        .unwrap()
        .starts_with("This is the callback call"));
    server
        .post(
            &format!("/api/v1/calls/{first_id}/connect"),
            &root,
            json!({}),
        )
        .await?;
    server
        .post(
            &format!("/api/v1/calls/{first_id}/hangup"),
            &alice,
            json!({}),
        )
        .await?;

    // Its slot is free again.
    let (s, fourth) = request("+15558880004").await?;
    assert_eq!((s, fourth["admission"].as_str()), (201, Some("queued")));
    Ok(())
}

#[tokio::test]
async fn a_second_call_starts_only_once_the_first_is_held() -> anyhow::Result<()> {
    let db = Database::sqlite();
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
    let first = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": "+15551110000", "queue": "support"}),
        )
        .await?;
    let first = first["id"].as_str().unwrap().to_owned();
    events
        .next_matching(Duration::from_secs(10), |e| e["type"] == "call.offered")
        .await?;
    server
        .post(&format!("/api/v1/calls/{first}/accept"), &alice, json!({}))
        .await?;

    let second = json!({"number": "+15551110001"});
    let (s, v) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/calls/outbound",
            Some(&alice),
            Some(second.clone()),
        )
        .await?;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("hold_first")));
    server
        .post(&format!("/api/v1/calls/{first}/hold"), &alice, json!({}))
        .await?;
    let (s, v) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/calls/outbound",
            Some(&alice),
            Some(second),
        )
        .await?;
    assert_eq!(s, 201, "{v}");
    let out = v["id"].as_str().unwrap().to_owned();
    let me = server.get("/api/v1/agents/alice", &alice).await?;
    assert_eq!(
        (me["status"].as_str(), me["held_calls"][0].as_str()),
        (Some("dialing"), Some(first.as_str()))
    );
    // The held call cannot be dropped from the session (C3).
    let (s, v) = server
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/calls/{first}/hangup"),
            Some(&alice),
            None,
        )
        .await?;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("held_no_hangup"))
    );

    // Nor taken off hold while the second call is live: two live calls at once.
    let resume = format!("/api/v1/calls/{first}/resume");
    let (s, v) = server
        .send(reqwest::Method::POST, &resume, Some(&alice), None)
        .await?;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("hold_first")));
    server
        .post(&format!("/api/v1/calls/{out}/connect"), &root, json!({}))
        .await?;
    server
        .post(&format!("/api/v1/calls/{out}/hangup"), &alice, json!({}))
        .await?;
    let me = server.get("/api/v1/agents/alice", &alice).await?;
    assert_eq!(
        (me["status"].as_str(), me["call_id"].as_str()),
        (Some("in_service"), Some(first.as_str())),
        "back to the held call, no wrap-up"
    );
    server
        .post(&format!("/api/v1/calls/{first}/resume"), &alice, json!({}))
        .await?;
    server
        .post(&format!("/api/v1/calls/{first}/hangup"), &alice, json!({}))
        .await?;
    assert_eq!(
        server.get("/api/v1/agents/alice", &alice).await?["status"],
        "after_service"
    );
    Ok(())
}
