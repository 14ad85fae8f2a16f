//! Handler tests through `oneshot` on the real router over a real engine (memory store):
//! roles, bad input and its "nothing changed" guarantee, and the OpenAPI document; work around
//! calls in `work`, media signalling, web calls and pages in `media`.

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
    let (app, yard) = app_with(Config::demo(), Store::memory()).await;
    (app, yard.subscribe())
}

/// The app over `config` and `store`, and its engine.
async fn app_with(config: Config, store: Store) -> (Router, Switchyard) {
    let users = Users::from_config(&config).unwrap();
    let yard = Switchyard::start(config, store).await.unwrap();
    let state = AppState {
        yard: yard.clone(),
        users,
        web_calls: Default::default(),
        metrics: Default::default(),
        idempotency: Default::default(),
    };
    (app(state), yard)
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

/// alice gets Ready and answers a call from `from` on `support` that root creates; its id.
async fn alice_answers(
    app: &Router,
    events: &mut Events,
    (root, alice): (&str, &str),
    from: &str,
) -> String {
    call(
        app,
        Method::PUT,
        "/api/v1/agents/alice/status",
        Some(alice),
        Some(r#"{"status":"ready"}"#),
    )
    .await;
    let body = json!({"from": from, "queue": "support"}).to_string();
    let (_, c) = call(app, Method::POST, "/api/v1/calls", Some(root), Some(&body)).await;
    let id = c["id"].as_str().unwrap().to_owned();
    offered_to(app, events, alice, &id).await;
    let (s, v) = call(
        app,
        Method::POST,
        &format!("/api/v1/calls/{id}/accept"),
        Some(alice),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    id
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

/// A documented operation's method, and its path with sample parameters.
fn concrete(r: &openapi::Route) -> (Method, String) {
    let path = r
        .path
        .replace("{id}", "x")
        .replace("{number}", "x")
        .replace("{list}", "dnc")
        .replace("{key}", "x");
    let method = Method::from_bytes(r.method.to_uppercase().as_bytes()).unwrap();
    (method, path)
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
        let (method, path) = concrete(r);
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
    let source = include_str!("../lib.rs");
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
async fn the_document_describes_every_body_and_query_from_the_handlers_types() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let doc = openapi::document();
    // Every operation whose handler reads a JSON body (it refuses an unknown field) documents
    // that body, and no other does.
    for r in openapi::ROUTES
        .iter()
        .filter(|r| r.method == "post" || r.method == "put")
    {
        let (method, path) = concrete(r);
        let (_, v) = call(&app, method, &path, Some(&root), Some(r#"{"zzz": 1}"#)).await;
        let reads_a_body = v["error"]["code"] == "invalid_body"
            || v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("unknown field"));
        let documented = doc["paths"][r.path][r.method]["requestBody"].is_object();
        assert_eq!(
            reads_a_body, documented,
            "{} {}: reads a body: {reads_a_body}, documents one: {documented} ({v})",
            r.method, r.path
        );
    }
    let new_call = &doc["components"]["schemas"]["NewCall"];
    assert_eq!(new_call["additionalProperties"], false, "{new_call}");
    let mut required: Vec<&str> = new_call["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(required, ["from", "queue"]);
    let target = &doc["components"]["schemas"]["Target"];
    assert!(
        target["oneOf"].as_array().is_some_and(|v| v.len() == 4),
        "{target}"
    );
    let list = &doc["paths"]["/api/v1/calls"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limit", "state"]);
    // The public web call needs no token; the customer's own calls need its token.
    assert!(doc["paths"]["/api/v1/web-calls"]["post"]["security"].is_null());
    assert!(doc["paths"]["/api/v1/web-calls/{id}"]["get"]["security"].is_array());
    let wc = &doc["paths"]["/api/v1/web-calls"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(wc["$ref"], "#/components/schemas/NewWebCall");
    assert_eq!(
        doc["components"]["schemas"]["SessionDescription"]["required"],
        json!(["type", "sdp"])
    );
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
    // A hang-up body is an object or nothing: `[]` is not read as "no party".
    for (body, code) in [("[]", "not_an_object"), (r#"{"party":7}"#, "invalid_body")] {
        assert_eq!(
            refused(&app, Method::POST, &path("hangup"), &alice, Some(body)).await,
            (StatusCode::UNPROCESSABLE_ENTITY, code.into()),
            "{body}"
        );
    }
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

mod idempotency;
mod media;
mod scope;
mod sessions;
mod store_faults;
mod watch;
mod work;

/// Every refusal is the JSON error body (issue 14, finding 7): a body that is not an object, a
/// method a path does not take, a body over the limit, a plain GET of the event stream.
#[tokio::test]
async fn every_refusal_has_the_json_error_body() {
    let app = setup().await;
    let alice = login(&app, "alice").await;
    let root = login(&app, "root").await;
    // `[]` would have been read as "every field absent": refused, and nothing is cleared.
    let (_, created) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15550100","queue":"support"}"#),
    )
    .await;
    let id = created["id"].as_str().expect("a call id").to_owned();
    for body in ["[]", "[1]", "\"notes\"", "3", "null"] {
        assert_eq!(
            refused(
                &app,
                Method::PUT,
                &format!("/api/v1/calls/{id}/cti"),
                &alice,
                Some(body)
            )
            .await,
            (StatusCode::UNPROCESSABLE_ENTITY, "not_an_object".to_owned()),
            "{body}"
        );
    }
    assert_eq!(
        refused(&app, Method::DELETE, "/api/v1/health", &alice, None).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed".to_owned()
        )
    );
    assert_eq!(
        refused(&app, Method::PUT, "/api/v1/calls", &alice, Some("{}")).await,
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed".to_owned()
        )
    );
    let big = format!(
        r#"{{"username":"alice","password":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    assert_eq!(
        refused(&app, Method::POST, "/api/v1/sessions", &alice, Some(&big)).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large".to_owned()
        )
    );
    let (s, v) = call(
        &app,
        Method::GET,
        &format!("/api/v1/events?token={alice}"),
        None,
        None,
    )
    .await;
    assert!(s.is_client_error(), "{s}");
    assert_eq!(error_code(&v), "websocket_required", "{v}");
}

/// Custom statuses are shown as configured ("PTO", not "Pto"); without a label, capitalised.
#[tokio::test]
async fn custom_status_labels_are_as_configured() {
    let app = setup().await;
    let alice = login(&app, "alice").await;
    let (s, v) = call(&app, Method::GET, "/api/v1/statuses", Some(&alice), None).await;
    assert_eq!(s, StatusCode::OK);
    let label = |id: &str| {
        v["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| x["label"].as_str().unwrap().to_owned())
    };
    assert_eq!(label("pto").as_deref(), Some("PTO"));
    assert_eq!(label("break").as_deref(), Some("Break"));
    // A label for a status that is not configured is refused at load.
    let bad = "custom_statuses = [\"break\"]\nstatus_labels = { lunch = \"Lunch\" }\n";
    let err = Config::from_toml(bad).unwrap_err().to_string();
    assert!(err.contains("lunch"), "{err}");
}
