//! Handler tests through `oneshot` on the real router over a real engine (memory store):
//! roles, bad input and its "nothing changed" guarantee, and the OpenAPI document.

use crate::{app, auth::Users, openapi, AppState};
use actors::config::Config;
use actors::store::Store;
use actors::Switchyard;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

type Events = tokio::sync::broadcast::Receiver<actors::events::Event>;

async fn setup() -> Router {
    setup_with_events().await.0
}

/// The app, and the engine's event stream from before any request.
async fn setup_with_events() -> (Router, Events) {
    let config = Config::demo();
    let users = Users::from_config(&config).unwrap();
    let yard = Switchyard::start(config, Store::memory()).await.unwrap();
    let events = yard.subscribe();
    (
        app(AppState {
            yard,
            users,
            web_calls: Default::default(),
        }),
        events,
    )
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn login(app: &Router, user: &str) -> String {
    let (s, v) = call(
        app,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(&json!({"username": user, "password": "demo"}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {v}"))
}

/// Waits until the call is offered (routing runs in the actors, after the 201).
async fn offered_to(app: &Router, events: &mut Events, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let e = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("call {id} was never offered"))
            .expect("event bus open");
        if e.type_name() == "call.offered" && e.to_json()["call_id"] == id {
            return call(
                app,
                Method::GET,
                &format!("/api/v1/calls/{id}"),
                Some(token),
                None,
            )
            .await
            .1;
        }
    }
}

#[tokio::test]
async fn every_documented_route_is_served_and_the_document_lists_them() {
    let app = setup().await;
    let doc = call(&app, Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .1;
    assert_eq!(doc["openapi"], "3.1.0");
    for r in openapi::ROUTES {
        assert!(
            doc["paths"][r.path][r.method].is_object(),
            "{} {} missing from the document",
            r.method,
            r.path
        );
        let path = r
            .path
            .replace("{id}", "x")
            .replace("{number}", "x")
            .replace("{list}", "dnc");
        let method = Method::from_bytes(r.method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = call(&app, method, &path, None, None).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            r.method,
            r.path
        );
        assert!(
            status != StatusCode::NOT_FOUND || body["error"]["code"] != "not_found",
            "{} {} is not routed",
            r.method,
            r.path
        );
    }
    // And the other way round: every route the router serves is in the document.
    let source = include_str!("lib.rs");
    for piece in source.split(".route(\"").skip(1) {
        let path = format!("/api/v1{}", &piece[..piece.find('"').unwrap()]);
        assert!(
            openapi::ROUTES.iter().any(|r| r.path == path),
            "{path} is served but not documented"
        );
    }
    let (s, v) = call(&app, Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn tokens_and_roles_are_enforced() {
    let app = setup().await;
    let (s, v) = call(&app, Method::GET, "/api/v1/agents", None, None).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (s, _) = call(&app, Method::GET, "/api/v1/agents", Some("forged"), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/v1/sessions",
        None,
        Some(r#"{"username":"alice","password":"nope"}"#),
    )
    .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );

    let alice = login(&app, "alice").await;
    let sam = login(&app, "sam").await;
    let (s, v) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&alice),
        Some(r#"{"from":"+1555","queue":"support"}"#),
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/v1/agents/bob/lock",
        Some(&alice),
        Some(r#"{"status":"dnd"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(
        &app,
        Method::PUT,
        "/api/v1/agents/bob/lock",
        Some(&sam),
        Some(r#"{"status":"dnd"}"#),
    )
    .await;
    assert_eq!(
        (s, v["locked"].as_str(), v["status"].as_str()),
        (StatusCode::OK, Some("dnd"), Some("dnd"))
    );
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/agents/bob/history",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// A request that must be refused: method, path, token, body, expected status and code.
type Refusal<'a> = (
    Method,
    &'a str,
    &'a str,
    Option<&'a str>,
    StatusCode,
    &'a str,
);

/// Sends a request that must be refused; returns its status and error code.
async fn refused(
    app: &Router,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (StatusCode, String) {
    let (s, v) = call(app, method, path, Some(token), body).await;
    (s, error_code(&v).to_owned())
}

#[tokio::test]
async fn bad_input_gets_its_4xx_and_changes_nothing() {
    let (app, mut events) = setup_with_events().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let sam = login(&app, "sam").await;

    // Unknown queue, malformed JSON, wrong types, unknown agent or status: each its 4xx…
    let put = Method::PUT;
    let cases: [Refusal; 7] = [
        (
            Method::POST,
            "/api/v1/calls",
            &root,
            Some(r#"{"from":"+1555","queue":"billing"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_queue",
        ),
        (
            Method::POST,
            "/api/v1/calls",
            &root,
            Some(r#"{"from":"+1555","queue":"#),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            Method::POST,
            "/api/v1/calls",
            &root,
            Some(r#"{"from":"+1555","queue":"support","priority":"high"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            Method::GET,
            "/api/v1/calls?state=ringing",
            &root,
            None,
            StatusCode::BAD_REQUEST,
            "invalid_state",
        ),
        (
            Method::GET,
            "/api/v1/agents/zed",
            &sam,
            None,
            StatusCode::NOT_FOUND,
            "unknown_agent",
        ),
        (
            put.clone(),
            "/api/v1/agents/zed/status",
            &sam,
            Some(r#"{"status":"ready"}"#),
            StatusCode::NOT_FOUND,
            "unknown_agent",
        ),
        (
            put,
            "/api/v1/agents/alice/status",
            &alice,
            Some(r#"{"status":"lunch"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_status",
        ),
    ];
    for (method, path, token, body, status, code) in cases {
        assert_eq!(
            refused(&app, method, path, token, body).await,
            (status, code.to_owned()),
            "{path} {body:?}"
        );
    }
    // …and nothing changed: no call exists, alice is still offline.
    let (_, calls) = call(&app, Method::GET, "/api/v1/calls", Some(&root), None).await;
    assert_eq!(calls["calls"], json!([]));
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v1/agents/alice",
            Some(&alice),
            None
        )
        .await
        .1["status"],
        "offline"
    );

    // An agent acting on another's call.
    call(
        &app,
        Method::PUT,
        "/api/v1/agents/alice/status",
        Some(&alice),
        Some(r#"{"status":"ready"}"#),
    )
    .await;
    let (s, c) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15551230001","queue":"support"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = c["id"].as_str().unwrap();
    assert_eq!(
        offered_to(&app, &mut events, &alice, id).await["offered"],
        json!(["alice"])
    );
    let path = |action: &str| format!("/api/v1/calls/{id}/{action}");
    assert_eq!(
        refused(&app, Method::POST, &path("accept"), &bob, None).await,
        (StatusCode::CONFLICT, "not_offered".into())
    );
    let (s, _) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}"),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "bob cannot even read alice's call"
    );
    let (s, _) = call(&app, Method::POST, &path("accept"), Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    let (_, seen_by_bob) = call(&app, Method::GET, "/api/v1/agents/alice", Some(&bob), None).await;
    let (_, seen_by_alice) = call(
        &app,
        Method::GET,
        "/api/v1/agents/alice",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(seen_by_bob["status"], "in_service");
    assert_eq!(
        (
            seen_by_bob["call_id"].as_str(),
            seen_by_alice["call_id"].as_str()
        ),
        (None, Some(id)),
        "colleagues see the status, not the call"
    );
    assert_eq!(
        refused(&app, Method::POST, &path("hangup"), &bob, None).await,
        (StatusCode::FORBIDDEN, "not_owner".into())
    );
    let as_customer = Some(r#"{"party":"customer"}"#);
    assert_eq!(
        refused(&app, Method::POST, &path("hangup"), &bob, as_customer).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    let (_, after) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(
        (after["state"].as_str(), after["agent"].as_str()),
        (Some("connected"), Some("alice"))
    );

    // A status change while locked.
    call(
        &app,
        Method::PUT,
        "/api/v1/agents/bob/lock",
        Some(&sam),
        Some(r#"{"status":"break"}"#),
    )
    .await;
    let ready = Some(r#"{"status":"ready"}"#);
    assert_eq!(
        refused(&app, Method::PUT, "/api/v1/agents/bob/status", &bob, ready).await,
        (StatusCode::CONFLICT, "locked".into())
    );
    let (_, b) = call(&app, Method::GET, "/api/v1/agents/bob", Some(&bob), None).await;
    assert_eq!(
        (b["status"].as_str(), b["locked"].as_str()),
        (Some("break"), Some("break"))
    );
    let (s, _) = call(
        &app,
        Method::DELETE,
        "/api/v1/agents/bob/lock",
        Some(&sam),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = call(
        &app,
        Method::PUT,
        "/api/v1/agents/bob/status",
        Some(&bob),
        ready,
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ready")));
}

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
async fn webrtc_signalling_answers_the_calls_agent_and_the_ingress_only() {
    use actors::media::leg::Leg;
    let (app, mut events) = setup_with_events().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    call(
        &app,
        Method::PUT,
        "/api/v1/agents/alice/status",
        Some(&alice),
        Some(r#"{"status":"ready"}"#),
    )
    .await;
    let (_, c) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15550123","queue":"support"}"#),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    offered_to(&app, &mut events, &alice, &id).await;
    call(
        &app,
        Method::POST,
        &format!("/api/v1/calls/{id}/accept"),
        Some(&alice),
        None,
    )
    .await;

    let path = format!("/api/v1/calls/{id}/media");
    let (client, _rx) = Leg::new().await.unwrap();
    let offer = serde_json::to_value(client.offer().await.unwrap()).unwrap();
    let body = |party: &str| json!({"party": party, "sdp": offer}).to_string();
    assert_eq!(
        refused(&app, Method::POST, &path, &bob, Some(&body("agent"))).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    assert_eq!(
        refused(&app, Method::POST, &path, &alice, Some(&body("customer"))).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    let (s, answer) = call(
        &app,
        Method::POST,
        &path,
        Some(&alice),
        Some(&body("agent")),
    )
    .await;
    assert_eq!(
        (s, answer["type"].as_str()),
        (StatusCode::OK, Some("answer"))
    );
    client
        .accept(serde_json::from_value(answer).unwrap())
        .await
        .unwrap();
    client
        .connected(std::time::Duration::from_secs(10))
        .await
        .unwrap();
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_website_visitor_calls_an_open_queue_with_a_token_for_that_call_only() {
    use actors::media::leg::Leg;
    let (app, mut events) = setup_with_events().await;
    let alice = login(&app, "alice").await;
    let (s, v) = call(&app, Method::GET, "/api/v1/web-queues", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["queues"],
        json!([{"id": "support", "name": "Support", "colour": "#2f80ed"}])
    );
    let (s, v) = call(&app, Method::GET, "/api/v1/media-config", None, None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"ice_servers": []})));

    let (client, _rx) = Leg::new().await.unwrap();
    let offer = serde_json::to_value(client.offer().await.unwrap()).unwrap();
    let post = |body: Value| {
        let app = app.clone();
        async move {
            call(
                &app,
                Method::POST,
                "/api/v1/web-calls",
                None,
                Some(&body.to_string()),
            )
            .await
        }
    };
    // Refusals first; none of them creates a call.
    let (s, v) = post(json!({"queue": "sales", "sdp": offer})).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::FORBIDDEN, "web_calls_disabled")
    );
    let mut answer_sdp = offer.clone();
    answer_sdp["type"] = json!("answer");
    let (s, v) = post(json!({"queue": "support", "sdp": answer_sdp})).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_an_offer")
    );
    let garbage = json!({"type": "offer", "sdp": "v=0\r\nthis is not sdp"});
    let (s, v) = post(json!({"queue": "support", "sdp": garbage})).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_sdp")
    );
    let (s, v) = post(json!({"queue": "support", "name": "x".repeat(65), "sdp": offer})).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name")
    );
    let root = login(&app, "root").await;
    let (_, calls) = call(&app, Method::GET, "/api/v1/calls", Some(&root), None).await;
    assert_eq!(calls["calls"], json!([]));

    call(
        &app,
        Method::PUT,
        "/api/v1/agents/alice/status",
        Some(&alice),
        Some(r#"{"status":"ready"}"#),
    )
    .await;
    let (s, v) = post(json!({"queue": "support", "name": "Jane", "sdp": offer})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["call_id"].as_str().unwrap().to_owned();
    let token = v["token"].as_str().unwrap().to_owned();
    client
        .accept(serde_json::from_value(v["sdp"].clone()).unwrap())
        .await
        .unwrap();
    client
        .connected(std::time::Duration::from_secs(10))
        .await
        .unwrap();
    offered_to(&app, &mut events, &alice, &id).await;
    let (_, c) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(c["from"], "web:Jane");

    // The customer's token reads and ends this call, and nothing else.
    let status = format!("/api/v1/web-calls/{id}");
    let (s, v) = call(&app, Method::GET, &status, Some(&token), None).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("offering")));
    for bad in [Some("forged"), Some(alice.as_str()), None] {
        let (s, _) = call(&app, Method::GET, &status, bad, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _) = call(&app, Method::GET, "/api/v1/agents", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "not a session token");
    let (s, v) = call(
        &app,
        Method::POST,
        &format!("{status}/hangup"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("ended")));
    let (_, c) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(c["ended_by"], json!({"party": "customer"}));
    client.close().await;
}

#[tokio::test]
async fn the_agent_panel_and_the_web_call_page_are_served() {
    let app = setup().await;
    for (path, kind, needle) in [
        ("/agent", "text/html", "/assets/agent.js"),
        ("/call", "text/html", "/assets/call.js"),
        ("/assets/agent.js", "text/javascript", "/api/v1"),
        ("/assets/call.js", "text/javascript", "web-calls"),
        ("/assets/style.css", "text/css", "{"),
    ] {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with(kind), "{path}: {ct}");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains(needle), "{path} mentions {needle}");
    }
    let req = Request::builder()
        .uri("/assets/../Cargo.toml")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
