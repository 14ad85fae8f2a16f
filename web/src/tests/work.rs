//! Work around calls over HTTP: unassigned work, schedules, transactions and journeys.

use super::*;

#[tokio::test]
async fn unassigned_work_is_listed_taken_and_ended_once() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let carol = login(&app, "carol").await;
    let (_, waiting) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+1555000","queue":"sales"}"#),
    )
    .await;
    let wid = waiting["id"].as_str().unwrap();
    let (s, list) = call(
        &app,
        Method::GET,
        "/api/v1/unassigned?sort=newest",
        Some(&carol),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["calls"][0]["call_id"], wid);
    let (s, v) = call(
        &app,
        Method::GET,
        "/api/v1/unassigned?sort=sideways",
        Some(&carol),
        None,
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::BAD_REQUEST, "invalid_sort")
    );
    // alice is not in sales: she may not take its calls.
    let alice = login(&app, "alice").await;
    let take = format!("/api/v1/unassigned/{wid}/take");
    assert_eq!(
        refused(&app, Method::POST, &take, &alice, None).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    // carol signs in (not Ready: the call is not routed to her) and takes it.
    call(
        &app,
        Method::PUT,
        "/api/v1/agents/carol/status",
        Some(&carol),
        Some(r#"{"status":"dnd"}"#),
    )
    .await;
    let (s, taken) = call(
        &app,
        Method::POST,
        &format!("/api/v1/unassigned/{wid}/take"),
        Some(&carol),
        None,
    )
    .await;
    assert_eq!(
        (s, taken["state"].as_str(), taken["agent"].as_str()),
        (StatusCode::OK, Some("connected"), Some("carol"))
    );
    let (s, ended) = call(
        &app,
        Method::POST,
        &format!("/api/v1/calls/{wid}/hangup"),
        Some(&root),
        Some(r#"{"party":"customer"}"#),
    )
    .await;
    assert_eq!(
        (s, ended["result"].as_str()),
        (StatusCode::OK, Some("answered"))
    );
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("/api/v1/calls/{wid}/hangup"),
        Some(&root),
        Some(r#"{"party":"customer"}"#),
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::CONFLICT, "call_over"));
}

#[tokio::test]
async fn schedules_take_an_rfc3339_time_and_are_checked_for_compliance() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let body = r#"{"number":"+15550042","queue":"support","at":"2030-01-02T03:04:05Z"}"#;
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/v1/schedules",
        Some(&alice),
        Some(body),
    )
    .await;
    assert_eq!(
        (s, v["at"].as_i64(), v["state"].as_str(), v["by"].as_str()),
        (
            StatusCode::CREATED,
            Some(1_893_553_445_000),
            Some("pending"),
            Some("alice")
        )
    );
    let bad_time = r#"{"number":"+15550042","queue":"support","at":"tomorrow"}"#;
    assert_eq!(
        refused(
            &app,
            Method::POST,
            "/api/v1/schedules",
            &alice,
            Some(bad_time)
        )
        .await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_time".into())
    );
    call(
        &app,
        Method::POST,
        "/api/v1/compliance/dnc",
        Some(&root),
        Some(r#"{"value":"+15550043"}"#),
    )
    .await;
    let dnc = r#"{"number":"+15550043","queue":"support","at":"2030-01-02T03:04:05Z"}"#;
    assert_eq!(
        refused(&app, Method::POST, "/api/v1/schedules", &alice, Some(dnc)).await,
        (StatusCode::FORBIDDEN, "compliance_dnc".into())
    );
    let (_, list) = call(&app, Method::GET, "/api/v1/schedules", Some(&alice), None).await;
    assert_eq!(list["schedules"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_call_links_to_a_chat_and_the_customer_journey_lists_both() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let sam = login(&app, "sam").await;
    let chat_body = r#"{"kind":"chat","customer":"+15550777","subject":"invoice"}"#;
    let (s, chat) = call(
        &app,
        Method::POST,
        "/api/v1/transactions",
        Some(&root),
        Some(chat_body),
    )
    .await;
    assert_eq!(
        (s, chat["status"].as_str()),
        (StatusCode::CREATED, Some("waiting"))
    );
    let chat_id = chat["id"].as_str().unwrap();
    let (_, c) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15550777","queue":"sales"}"#),
    )
    .await;
    let call_id = c["id"].as_str().unwrap();
    let link = json!({"other": chat_id}).to_string();
    let (s, linked) = call(
        &app,
        Method::POST,
        &format!("/api/v1/transactions/{call_id}/links"),
        Some(&root),
        Some(&link),
    )
    .await;
    assert_eq!(
        (s, linked["related"].clone()),
        (StatusCode::OK, json!([chat_id]))
    );
    let (_, back) = call(
        &app,
        Method::GET,
        &format!("/api/v1/transactions/{chat_id}"),
        Some(&sam),
        None,
    )
    .await;
    assert_eq!(back["related"], json!([call_id]), "links go both ways");
    let nowhere = r#"{"other":"nope"}"#;
    let path = format!("/api/v1/transactions/{call_id}/links");
    assert_eq!(
        refused(&app, Method::POST, &path, &root, Some(nowhere)).await,
        (StatusCode::NOT_FOUND, "unknown_transaction".into())
    );

    let (s, journey) = call(
        &app,
        Method::GET,
        "/api/v1/customers/%2B15550777/journey",
        Some(&sam),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mut kinds: Vec<(&str, &str)> = journey["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["channel"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [("call", "waiting"), ("chat", "waiting")],
        "both channels, each with its status"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_data_is_edited_during_the_call_and_its_wrap_up_only() {
    let (app, mut events) = setup_with_events().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let id = alice_answers(&app, &mut events, (&root, &alice), "+15550123").await;
    let path = format!("/api/v1/calls/{id}/cti");

    let (s, v) = call(&app, Method::GET, &path, Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["catalog"]["dispositions"],
        json!(["resolved", "callback", "escalated"])
    );
    assert_eq!(v["catalog"]["tags"], json!(["billing", "vip", "complaint"]));
    let body =
        json!({"disposition": "callback", "tags": ["vip", "billing"], "notes": "wants a refund",
        "who": "003000000000001", "what": "500000000000042"})
        .to_string();
    let (s, v) = call(&app, Method::PUT, &path, Some(&alice), Some(&body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["tags"], json!(["billing", "vip"]));
    assert_eq!(v["data"]["who"], "003000000000001");
    // A value outside the lists, an unknown field, another agent: refused, nothing applied.
    let bad = json!({"disposition": "lost"}).to_string();
    let (s, e) = call(&app, Method::PUT, &path, Some(&alice), Some(&bad)).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_call_data")
    );
    assert!(
        e["error"]["message"].as_str().unwrap().contains("lost"),
        "{e}"
    );
    let unknown = json!({"mood": "happy"}).to_string();
    assert_eq!(
        call(&app, Method::PUT, &path, Some(&alice), Some(&unknown))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        refused(&app, Method::PUT, &path, &bob, Some(&body)).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, v) = call(&app, Method::GET, &path, Some(&root), None).await;
    assert_eq!(v["data"]["disposition"], "callback");

    // After the call: the agent edits during its wrap-up, then no more.
    call(
        &app,
        Method::POST,
        &format!("/api/v1/calls/{id}/hangup"),
        Some(&alice),
        None,
    )
    .await;
    let resolved =
        json!({"disposition": "resolved", "tags": ["vip"], "notes": "refund sent"}).to_string();
    let (s, v) = call(&app, Method::PUT, &path, Some(&alice), Some(&resolved)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["data"]["disposition"].clone(), v["data"]["who"].clone()),
        (json!("resolved"), json!(null))
    );
    call(
        &app,
        Method::POST,
        "/api/v1/agents/alice/wrap-up/end",
        Some(&alice),
        None,
    )
    .await;
    let (s, e) = call(&app, Method::PUT, &path, Some(&alice), Some(&body)).await;
    assert_eq!(
        (s, error_code(&e)),
        (StatusCode::CONFLICT, "not_in_wrap_up"),
        "{e}"
    );
    // Each change is a journey step.
    let (_, c) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}"),
        Some(&root),
        None,
    )
    .await;
    let changes: Vec<&Value> = c["journey"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "data_changed")
        .collect();
    assert_eq!(changes.len(), 2, "{c}");
    assert_eq!(
        changes[1]["fields"],
        json!(["disposition", "tags", "notes", "who", "what"])
    );
}

/// `POST /calls` takes custom attributes (for routing strategies and extensions): they come
/// back on the call; too many, or too long, are refused with 422 and make no call.
#[tokio::test]
async fn a_calls_attributes_are_kept_and_bounded() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let create = |from: &str, attributes: Value| {
        let body = json!({"from": from, "queue": "support", "attributes": attributes});
        let (app, root) = (app.clone(), root.clone());
        async move {
            let body = Some(body.to_string());
            call(
                &app,
                Method::POST,
                "/api/v1/calls",
                Some(&root),
                body.as_deref(),
            )
            .await
        }
    };
    let (s, v) = create("+15550007777", json!({"tier": "vip"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["attributes"], json!({"tier": "vip"}));
    let path = format!("/api/v1/calls/{}", v["id"].as_str().unwrap());
    let (_, again) = call(&app, Method::GET, &path, Some(&root), None).await;
    assert_eq!(again["attributes"]["tier"], "vip", "{again}");
    let many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("k{i}"), json!("v"))).collect();
    let long = json!({"note": "x".repeat(257)});
    for attributes in [json!(many), json!({"": "empty name"}), long] {
        let (s, v) = create("+15550008888", attributes).await;
        let refused = (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attributes");
        assert_eq!((s, error_code(&v)), refused, "{v}");
    }
    let (_, all) = call(&app, Method::GET, "/api/v1/calls", Some(&root), None).await;
    let calls = all["calls"].as_array().unwrap();
    let refused = calls.iter().filter(|c| c["from"] == "+15550008888");
    assert_eq!(refused.count(), 0, "no call from a refused request");
}
