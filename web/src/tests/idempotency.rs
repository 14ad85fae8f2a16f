//! `Idempotency-Key` (K8): a retried command is applied once and answered as the first time,
//! across a restart too; the same key with another body is refused; keys are the caller's own.

use super::*;

/// Sends a request with an `Idempotency-Key`; status, whether it was a replay, and body.
async fn keyed(
    app: &Router,
    method: Method,
    path: &str,
    token: &str,
    key: &str,
    body: &str,
) -> (StatusCode, bool, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let replayed = res.headers().contains_key("idempotent-replayed");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        replayed,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn calls_from(app: &Router, token: &str, number: &str) -> usize {
    let (s, v) = call(app, Method::GET, "/api/v1/calls", Some(token), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array()
        .or_else(|| v["calls"].as_array())
        .unwrap_or_else(|| panic!("no list: {v}"))
        .iter()
        .filter(|c| c["from"] == number)
        .count()
}

#[tokio::test]
async fn a_retried_command_is_applied_once_and_answered_the_same() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let body = json!({"from": "+15559990001", "queue": "support"}).to_string();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(
            keyed(
                &app,
                Method::POST,
                "/api/v1/calls",
                &root,
                "create-1",
                &body,
            )
            .await,
        );
    }
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].2);
    assert!(!answers[0].1, "the first answer is not a replay");
    for (status, replayed, v) in &answers[1..] {
        assert_eq!((*status, *replayed), (StatusCode::CREATED, true));
        assert_eq!(v["id"], answers[0].2["id"], "a retry made another call");
    }
    assert_eq!(calls_from(&app, &root, "+15559990001").await, 1);

    // The same key with another body: refused, nothing done.
    let other = json!({"from": "+15559990002", "queue": "support"}).to_string();
    let (s, _, v) = keyed(
        &app,
        Method::POST,
        "/api/v1/calls",
        &root,
        "create-1",
        &other,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_code(&v), "idempotency_key_reused");
    assert_eq!(calls_from(&app, &root, "+15559990002").await, 0);

    // Another session's key of the same name is its own.
    let other_session = login(&app, "root").await;
    let (s, replayed, v) = keyed(
        &app,
        Method::POST,
        "/api/v1/calls",
        &other_session,
        "create-1",
        &other,
    )
    .await;
    assert_eq!((s, replayed), (StatusCode::CREATED, false), "{v}");

    // A key that is not a key.
    let long = "k".repeat(256);
    let (s, _, v) = keyed(&app, Method::POST, "/api/v1/calls", &root, &long, &body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "bad_idempotency_key");
}

#[tokio::test]
async fn a_refusal_is_answered_again_and_a_state_change_is_not_repeated() {
    let app = setup().await;
    let alice = login(&app, "alice").await;
    let ready = r#"{"status":"ready"}"#;
    let path = "/api/v1/agents/alice/status";
    let (s, _, first) = keyed(&app, Method::PUT, path, &alice, "st-1", ready).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let (_, _, dnd) = keyed(
        &app,
        Method::PUT,
        path,
        &alice,
        "st-2",
        r#"{"status":"dnd"}"#,
    )
    .await;
    assert_eq!(dnd["status"], "dnd");
    // Retrying the first command answers as then, and does not make alice Ready again.
    let (s, replayed, again) = keyed(&app, Method::PUT, path, &alice, "st-1", ready).await;
    assert_eq!((s, replayed), (StatusCode::OK, true));
    assert_eq!(again["status"], "ready");
    let (_, now) = call(
        &app,
        Method::GET,
        "/api/v1/agents/alice",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(now["status"], "dnd");
    // A 4xx is an answer too.
    let bad = r#"{"status":"in_service"}"#;
    let (s1, _, _) = keyed(&app, Method::PUT, path, &alice, "st-3", bad).await;
    let (s2, replayed, v) = keyed(&app, Method::PUT, path, &alice, "st-3", bad).await;
    assert_eq!(
        (s1, s2, replayed),
        (StatusCode::UNPROCESSABLE_ENTITY, s1, true),
        "{v}"
    );
}

#[tokio::test]
async fn keys_are_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let body = json!({"from": "+15559990003", "queue": "support"}).to_string();
    let create = async |app: &Router, root: &str| {
        keyed(app, Method::POST, "/api/v1/calls", root, "k-restart", &body).await
    };
    let (app, yard) = app_with(Config::demo(), Store::connect(&url).await.unwrap()).await;
    let root = login(&app, "root").await;
    let (s, _, first) = create(&app, &root).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    yard.shutdown().await;
    drop(app);

    let (app, _yard) = app_with(Config::demo(), Store::connect(&url).await.unwrap()).await;
    let (s, replayed, again) = create(&app, &root).await;
    assert_eq!((s, replayed), (StatusCode::CREATED, true), "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(calls_from(&app, &root, "+15559990003").await, 1);
}

#[tokio::test]
async fn an_answer_carrying_a_token_is_never_kept() {
    let app = setup().await;
    let body = json!({"username": "alice", "password": "demo"}).to_string();
    let login_with_key = || {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/sessions")
            .header("content-type", "application/json")
            .header("idempotency-key", "login-1")
            .body(Body::from(body.clone()))
            .unwrap();
        app.clone().oneshot(req)
    };
    let first = login_with_key().await.unwrap();
    let again = login_with_key().await.unwrap();
    assert!(!again.headers().contains_key("idempotent-replayed"));
    let token = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap()["token"].clone();
    let a = first.into_body().collect().await.unwrap().to_bytes();
    let b = again.into_body().collect().await.unwrap().to_bytes();
    assert_ne!(token(&a), token(&b), "a new session, not a stored token");
}
