//! `POST /queues/{id}/alerts` and `PUT /calls/{id}/skills`: supervisors only, bad input a
//! 422 naming the problem with nothing sent or changed, the alert on the event stream, the
//! widened call keeping its place.

use super::*;

#[tokio::test]
async fn a_supervisor_alerts_the_queue_and_bad_alerts_change_nothing() {
    let (app, mut events) = setup_with_events().await;
    let (sam, alice) = (login(&app, "sam").await, login(&app, "alice").await);
    let path = "/api/v1/queues/support/alerts";
    let body = r#"{"text":"longest wait 95 s","severity":"critical"}"#;
    let (s, _) = call(&app, Method::POST, path, Some(&alice), Some(body)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not raise alerts");
    for (path, body, code) in [
        (path, r#"{"text":"  "}"#, "invalid_alert"),
        (
            path,
            r#"{"text":"late","severity":"panic"}"#,
            "invalid_alert",
        ),
        (path, r#"{"text":"late","colour":"red"}"#, "invalid_body"),
        ("/api/v1/queues/nowhere/alerts", body, "unknown_queue"),
    ] {
        let (s, v) = call(&app, Method::POST, path, Some(&sam), Some(body)).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, code),
            "{body}"
        );
    }
    let (s, _) = call(&app, Method::POST, path, Some(&sam), Some(body)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let alert = loop {
        let e = events.recv().await.unwrap();
        if e.type_name() == "queue.alert" {
            break e.to_json();
        }
        assert!(
            e.type_name() == "agent.status",
            "only the alert was sent: {}",
            e.type_name()
        );
    };
    assert_eq!(alert["text"], "longest wait 95 s");
    assert_eq!(
        (alert["severity"].as_str(), alert["by"].as_str()),
        (Some("critical"), Some("sam"))
    );
}

#[tokio::test]
async fn a_supervisor_widens_a_waiting_call_and_only_a_widening() {
    let app = setup().await;
    let (root, sam, alice) = (
        login(&app, "root").await,
        login(&app, "sam").await,
        login(&app, "alice").await,
    );
    let new = r#"{"from":"+15550001","queue":"support","skills":{"french":4,"billing":2}}"#;
    let (s, v) = call(&app, Method::POST, "/api/v1/calls", Some(&root), Some(new)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["skills"], json!({"french": 4, "billing": 2}));
    let path = format!("/api/v1/calls/{}/skills", v["id"].as_str().unwrap());
    let lower = r#"{"skills":{"french":1}}"#;
    let (s, _) = call(&app, Method::PUT, &path, Some(&alice), Some(lower)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for bad in [r#"{"skills":{"french":5}}"#, r#"{"skills":{"spanish":1}}"#] {
        let (s, v) = call(&app, Method::PUT, &path, Some(&sam), Some(bad)).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "skills_not_wider")
        );
    }
    let (s, v) = call(&app, Method::PUT, &path, Some(&sam), Some(lower)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["skills"], json!({"french": 1}));
    assert_eq!(v["enqueued_at"], v["created_at"], "its place in line");
    let last = &v["journey"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "skills_widened", "{last}");
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v1/calls/nope/skills",
        Some(&sam),
        Some(lower),
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "unknown_call"));
}
