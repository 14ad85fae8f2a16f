//! Read scope (issue 14, finding 3): an agent who was only offered a call reads nothing of it
//! afterwards; the one who took it does.

use super::*;

#[tokio::test]
async fn an_agent_only_offered_a_call_reads_nothing_of_it_afterwards() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let ready = r#"{"status":"ready"}"#;
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/v1/agents/alice/status",
        Some(&alice),
        Some(ready),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, created) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15550142","queue":"support"}"#),
    )
    .await;
    let id = created["id"].as_str().expect("a call id").to_owned();
    // Only alice is ready: it rings for her, and she may see the offer.
    let mut seen = false;
    for _ in 0..100 {
        let path = format!("/api/v1/calls/{id}");
        let (s, v) = call(&app, Method::GET, &path, Some(&alice), None).await;
        if s == StatusCode::OK && v["offered"] == json!(["alice"]) {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen, "the call rang for alice, and she saw the offer");
    let (s, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/calls/{id}/decline"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // bob takes it and writes notes.
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/v1/agents/bob/status",
        Some(&bob),
        Some(ready),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut accepted = false;
    for _ in 0..100 {
        let (s, _) = call(
            &app,
            Method::POST,
            &format!("/api/v1/calls/{id}/accept"),
            Some(&bob),
            None,
        )
        .await;
        if s == StatusCode::OK {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(accepted, "bob got the call");
    let (s, v) = call(
        &app,
        Method::PUT,
        &format!("/api/v1/calls/{id}/cti"),
        Some(&bob),
        Some(r#"{"notes":"customer's card ends 4242"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // alice: nothing of it, by any path.
    for path in [
        format!("/api/v1/calls/{id}"),
        format!("/api/v1/calls/{id}/cti"),
        format!("/api/v1/calls/{id}/transcript"),
    ] {
        let (s, v) = call(&app, Method::GET, &path, Some(&alice), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
    }
    let (_, list) = call(&app, Method::GET, "/api/v1/calls", Some(&alice), None).await;
    assert!(!list.to_string().contains(&id), "{list}");
    let (_, journey) = call(
        &app,
        Method::GET,
        "/api/v1/customers/%2B15550142/journey",
        Some(&alice),
        None,
    )
    .await;
    assert!(
        !journey.to_string().contains("4242") && !journey.to_string().contains(&id),
        "{journey}"
    );
    // bob reads it all.
    let (s, v) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}/cti"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["notes"], "customer's card ends 4242");
    let (_, list) = call(&app, Method::GET, "/api/v1/calls", Some(&bob), None).await;
    assert!(list.to_string().contains(&id), "{list}");
}
