//! The connectors against real local HTTP servers that check what they receive.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use cti_adapter::connector::{
    client, verify, ConnectorConfig, DeliveryError, IDEMPOTENCY_HEADER, SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
};
use cti_adapter::log::CallLog;
use engine::call::{Call, CallData, Catalog, Party};
use engine::Timestamp;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A call from +15550123 on `support`, answered by alice at 10:00:05 UTC on 2026-11-21,
/// talked 95 s, with its data.
fn ended_call() -> Call {
    let t0 = 1_795_255_200_000; // 2026-11-21T10:00:00Z
    let t = |s: i64| Timestamp(t0 + s * 1_000);
    let mut c = Call::new(
        "c42".into(),
        t(0),
        "+15550123".into(),
        "support".into(),
        0,
        Default::default(),
    );
    let alice = "alice".into();
    c.offer(t(1), vec!["alice".into()], Duration::from_secs(18))
        .unwrap();
    c.accept(t(5), &alice).unwrap();
    let catalog = Catalog {
        dispositions: vec!["resolved".into()],
        tags: vec!["billing".into(), "vip".into()],
    };
    let data = CallData {
        disposition: Some("resolved".into()),
        tags: ["vip".to_string(), "billing".to_string()].into(),
        notes: "refund for invoice 42".into(),
        who: Some("003000000000001".into()),
        what: Some("500000000000042".into()),
    };
    c.set_data(t(6), &alice, false, data, &catalog).unwrap();
    c.hangup(t(100), Party::Customer).unwrap();
    c
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, HeaderMap, Value)>>>);

impl Seen {
    fn push(&self, what: String, headers: HeaderMap, body: Value) {
        self.0.lock().unwrap().push((what, headers, body));
    }
    fn all(&self) -> Vec<(String, HeaderMap, Value)> {
        self.0.lock().unwrap().clone()
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A Salesforce stand-in: the query finds a Task once one was created.
async fn salesforce() -> (String, Seen) {
    let seen = Seen::default();
    let created: Arc<Mutex<Option<String>>> = Arc::default();
    let app = Router::new()
        .route(
            "/services/data/v60.0/query",
            get({
                let (seen, created) = (seen.clone(), created.clone());
                move |headers: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                    seen.push(
                        format!("GET query {}", q.get("q").cloned().unwrap_or_default()),
                        headers,
                        Value::Null,
                    );
                    let records: Vec<Value> = created
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|id| json!({"Id": id}))
                        .collect();
                    Json(json!({"totalSize": records.len(), "done": true, "records": records}))
                }
            }),
        )
        .route(
            "/services/data/v60.0/sobjects/Task",
            post({
                let (seen, created) = (seen.clone(), created.clone());
                move |headers: HeaderMap, Json(body): Json<Value>| async move {
                    seen.push("POST Task".into(), headers, body);
                    *created.lock().unwrap() = Some("00T000000000001".into());
                    (
                        StatusCode::CREATED,
                        Json(json!({"id": "00T000000000001", "success": true, "errors": []})),
                    )
                }
            }),
        )
        .route(
            "/services/data/v60.0/sobjects/Task/{id}",
            patch({
                let seen = seen.clone();
                move |Path(id): Path<String>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    seen.push(format!("PATCH Task {id}"), headers, body);
                    StatusCode::NO_CONTENT
                }
            }),
        );
    (serve(app).await, seen)
}

fn sf(url: &str) -> ConnectorConfig {
    ConnectorConfig::Salesforce {
        name: "sf".into(),
        instance_url: url.into(),
        access_token: "00Dxx!token".into(),
        api_version: "v60.0".into(),
    }
}

#[tokio::test]
async fn salesforce_writes_the_log_as_a_task_then_updates_it() {
    let (url, seen) = salesforce().await;
    let http = client();
    let call = ended_call();
    sf(&url)
        .deliver(&http, &CallLog::of(&call, 1), 0)
        .await
        .unwrap();
    // A later version (a change during wrap-up) updates the same Task.
    sf(&url)
        .deliver(&http, &CallLog::of(&call, 2), 0)
        .await
        .unwrap();
    let seen = seen.all();
    let steps: Vec<&str> = seen.iter().map(|(w, _, _)| w.as_str()).collect();
    assert_eq!(
        steps,
        [
            "GET query SELECT Id FROM Task WHERE CallObject = 'c42' LIMIT 1",
            "POST Task",
            "GET query SELECT Id FROM Task WHERE CallObject = 'c42' LIMIT 1",
            "PATCH Task 00T000000000001",
        ]
    );
    for (_, headers, _) in &seen {
        assert_eq!(headers["authorization"], "Bearer 00Dxx!token");
    }
    let (_, headers, task) = &seen[1];
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        task,
        &json!({
            "Subject": "Call from +15550123",
            "CallType": "Inbound",
            "CallDisposition": "resolved",
            "CallDurationInSeconds": 95,
            "CallObject": "c42",
            "WhoId": "003000000000001",
            "WhatId": "500000000000042",
            "Description": "refund for invoice 42\n\nTags: billing, vip",
            "Status": "Completed",
            "ActivityDate": "2026-11-21",
        })
    );
    assert_eq!(seen[3].2, *task);
}

#[tokio::test]
async fn failures_are_retried_or_permanent_by_their_kind() {
    let status = Arc::new(Mutex::new(StatusCode::SERVICE_UNAVAILABLE));
    let app = Router::new().fallback({
        let status = status.clone();
        move || async move { (*status.lock().unwrap(), "{\"message\":\"nope\"}") }
    });
    let url = serve(app).await;
    let (http, log) = (client(), CallLog::of(&ended_call(), 1));
    for (code, retry) in [
        (StatusCode::SERVICE_UNAVAILABLE, true),
        (StatusCode::TOO_MANY_REQUESTS, true),
        // An expired token: retried until an admin renews it (or the attempts run out).
        (StatusCode::UNAUTHORIZED, true),
        (StatusCode::FORBIDDEN, false),
        (StatusCode::BAD_REQUEST, false),
    ] {
        *status.lock().unwrap() = code;
        let err = sf(&url).deliver(&http, &log, 0).await.unwrap_err();
        assert_eq!(
            matches!(err, DeliveryError::Retry(_)),
            retry,
            "{code}: {err}"
        );
        assert!(err.to_string().contains(code.as_str()), "{err}");
    }
    // Nobody listening: retried.
    let gone = sf("http://127.0.0.1:9").deliver(&http, &log, 0).await;
    assert!(matches!(gone, Err(DeliveryError::Retry(_))), "{gone:?}");
}

#[tokio::test]
async fn the_webhook_is_signed_and_keyed() {
    let seen = Seen::default();
    let app = Router::new().route(
        "/hook",
        post({
            let seen = seen.clone();
            move |State(()): State<()>, headers: HeaderMap, body: axum::body::Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap();
                let ts: i64 = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
                let sig = headers[SIGNATURE_HEADER].to_str().unwrap().to_owned();
                let ok = verify("a-long-shared-secret", ts, &body, &sig);
                seen.push(format!("signature ok {ok}"), headers, v);
                StatusCode::OK
            }
        })
        .with_state(()),
    );
    let url = serve(app).await;
    let hook = ConnectorConfig::Webhook {
        name: "hook".into(),
        url: format!("{url}/hook"),
        secret: "a-long-shared-secret".into(),
    };
    assert!(hook.validate().is_ok());
    hook.deliver(&client(), &CallLog::of(&ended_call(), 3), 1_795_255_300)
        .await
        .unwrap();
    let seen = seen.all();
    assert_eq!(seen.len(), 1);
    let (what, headers, body) = &seen[0];
    assert_eq!(what, "signature ok true");
    assert_eq!(headers[TIMESTAMP_HEADER], "1795255300");
    assert_eq!(headers[IDEMPOTENCY_HEADER], "c42:v3");
    assert_eq!(body["type"], "call.log");
    assert_eq!(body["idempotency_key"], "c42:v3");
    assert_eq!(body["log"]["data"]["disposition"], "resolved");
    assert_eq!(body["log"]["duration_seconds"], 95);
    // A tampered body does not verify.
    assert!(!verify(
        "a-long-shared-secret",
        1_795_255_300,
        b"{}",
        headers[SIGNATURE_HEADER].to_str().unwrap()
    ));
}

#[test]
fn bad_settings_are_refused_with_the_connector_named() {
    let cases = [
        (
            ConnectorConfig::Webhook {
                name: "hook".into(),
                url: "ftp://example.org".into(),
                secret: "a-long-shared-secret".into(),
            },
            "not an http(s) URL",
        ),
        (
            ConnectorConfig::Webhook {
                name: "hook".into(),
                url: "https://example.org/hook".into(),
                secret: "short".into(),
            },
            "secret",
        ),
        (
            ConnectorConfig::Salesforce {
                name: "sf".into(),
                instance_url: "https://x.my.salesforce.com".into(),
                access_token: "t".into(),
                api_version: "60".into(),
            },
            "api_version",
        ),
    ];
    for (c, needle) in cases {
        let err = c.validate().unwrap_err();
        assert!(err.contains(needle) && err.contains(c.name()), "{err}");
    }
}
