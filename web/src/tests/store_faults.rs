//! A store that fails, seen over HTTP: `/health` says so (503, `Retry-After`), a request whose
//! write failed gets a 503 with `Retry-After` and changes nothing the API shows, and once the
//! database is back everything works again without a restart.

use super::*;

#[tokio::test]
async fn a_store_that_fails_gives_503s_changes_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let store = Store::connect(&url).await.unwrap();
    let (app, _yard) = app_with(Config::demo(), store.clone()).await;
    let (root, alice) = (login(&app, "root").await, login(&app, "alice").await);
    let (s, v) = call(&app, Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["store"]["backend"], "sqlite");
    assert_eq!(v["store"]["durability"], "power_loss");

    let faults = store.faults().unwrap();
    faults.set_down(true);
    let health = Request::get("/api/v1/health").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(health).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));

    let new_call = r#"{"from":"+15550001","queue":"support"}"#;
    let post = |body: &str| {
        Request::post("/api/v1/calls")
            .header("authorization", format!("Bearer {root}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let res = app.clone().oneshot(post(new_call)).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let ready = r#"{"status":"ready"}"#;
    let path = "/api/v1/agents/alice/status";
    let (s, v) = call(&app, Method::PUT, path, Some(&alice), Some(ready)).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "storage")
    );

    // Nothing of the refused requests shows: no call. Alice's actor failed with its write
    // and waits for the database to restart from what was saved: unavailable, not wrong.
    let (_, calls) = call(&app, Method::GET, "/api/v1/calls", Some(&root), None).await;
    assert_eq!(calls["calls"].as_array().map(Vec::len), Some(0), "{calls}");
    let (s, _) = call(&app, Method::GET, "/api/v1/agents/alice", Some(&root), None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    // Back: alice returns by herself as she was saved, and the same requests work, without
    // a restart of the program.
    faults.set_down(false);
    let (s, _) = call(&app, Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let alice_now = loop {
        let (s, a) = call(&app, Method::GET, "/api/v1/agents/alice", Some(&root), None).await;
        if s == StatusCode::OK {
            break a;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice did not come back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(alice_now["status"], "offline", "{alice_now}");
    let (s, v) = call(&app, Method::PUT, path, Some(&alice), Some(ready)).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("ready")),
        "{v}"
    );
    let res = app.clone().oneshot(post(new_call)).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, calls) = call(&app, Method::GET, "/api/v1/calls", Some(&root), None).await;
    assert_eq!(calls["calls"].as_array().map(Vec::len), Some(1), "{calls}");
}

#[tokio::test]
async fn a_pending_step_answers_202_with_what_to_do() {
    use axum::response::IntoResponse;
    let pending = crate::error::AppError::from(actors::ActorError::Pending("c1".into()));
    let res = pending.into_response();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (v["pending"].as_bool(), v["code"].as_str()),
        (Some(true), Some("pending"))
    );
    assert!(
        v["message"].as_str().unwrap().contains("read the call"),
        "{v}"
    );
}
