//! Read scope (issue 14, finding 3): an agent who was only offered a call reads nothing of it
//! afterwards; the one who took it does.

use super::*;

#[tokio::test]
async fn an_agent_only_offered_a_call_reads_nothing_of_it_afterwards() {
    let (app, mut events) = setup_with_events().await;
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
    let offered = offered_to(&app, &mut events, &alice, &id).await;
    assert_eq!(offered["offered"], json!(["alice"]), "{offered}");
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
    // alice is excluded for the no-answer delay: it rings for bob.
    let offered = offered_to(&app, &mut events, &bob, &id).await;
    assert_eq!(offered["offered"], json!(["bob"]), "{offered}");
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/api/v1/calls/{id}/accept"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
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

#[tokio::test]
async fn chats_are_read_and_linked_by_who_opened_them() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let chat = r#"{"kind":"chat","customer":"+15550777","subject":"card lost"}"#;
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/v1/transactions",
        Some(&alice),
        Some(chat),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/transactions/{id}");
    assert_eq!(
        call(&app, Method::GET, &path, Some(&alice), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::GET, &path, Some(&root), None).await.0,
        StatusCode::OK
    );
    let (s, v) = call(&app, Method::GET, &path, Some(&bob), None).await;
    assert_eq!((s, error_code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    // bob's own chat cannot be linked to alice's, by either of them.
    let (_, mine) = call(
        &app,
        Method::POST,
        "/api/v1/transactions",
        Some(&bob),
        Some(chat),
    )
    .await;
    let mine = mine["id"].as_str().unwrap().to_owned();
    let link = |other: &str| json!({ "other": other }).to_string();
    for (who, from, to) in [(&bob, &mine, &id), (&alice, &id, &mine)] {
        let (s, v) = call(
            &app,
            Method::POST,
            &format!("/api/v1/transactions/{from}/links"),
            Some(who),
            Some(&link(to)),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    }
    // A supervisor may; then each agent sees only the related items it may read.
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/api/v1/transactions/{id}/links"),
        Some(&root),
        Some(&link(&mine)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = call(&app, Method::GET, &path, Some(&alice), None).await;
    assert_eq!(v["related"], json!([]), "{v}");
    let (_, v) = call(&app, Method::GET, &path, Some(&root), None).await;
    assert_eq!(v["related"], json!([mine]), "{v}");
    // The customer journey lists only one's own chats.
    let (_, journey) = call(
        &app,
        Method::GET,
        "/api/v1/customers/%2B15550777/journey",
        Some(&bob),
        None,
    )
    .await;
    let listed = journey["activities"].as_array().unwrap().len();
    assert_eq!(listed, 1, "{journey}");
}
