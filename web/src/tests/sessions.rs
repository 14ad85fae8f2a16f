//! Sessions (issue 14, finding 4): tokens stored hashed, logout, a supervisor's forced logout,
//! idle and absolute expiry.

use super::*;
use crate::auth::token_hash;
use actors::store::SessionRow;

async fn setup_with_store() -> (Router, Store) {
    let store = Store::memory();
    (app_with(Config::demo(), store.clone()).await.0, store)
}

#[tokio::test]
async fn the_store_keeps_the_token_hash_never_the_token() {
    let (app, store) = setup_with_store().await;
    let token = login(&app, "alice").await;
    assert!(store.find_session(&token).await.unwrap().is_none());
    let row = store.find_session(&token_hash(&token)).await.unwrap();
    assert_eq!(row.map(|r| r.username), Some("alice".to_owned()));
}

#[tokio::test]
async fn logout_ends_the_token_at_once() {
    let (app, _) = setup_with_store().await;
    let token = login(&app, "alice").await;
    let other = login(&app, "alice").await;
    let (s, _) = call(&app, Method::DELETE, "/api/v1/sessions", Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&app, Method::GET, "/api/v1/agents", Some(&token), None).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    // Only that session: the same user's other one goes on.
    let (s, _) = call(&app, Method::GET, "/api/v1/agents", Some(&other), None).await;
    assert_eq!(s, StatusCode::OK);
    // Logging out twice is refused like any unknown token.
    let (s, _) = call(&app, Method::DELETE, "/api/v1/sessions", Some(&token), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_supervisor_forces_an_agent_out() {
    let (app, _) = setup_with_store().await;
    let alice = login(&app, "alice").await;
    let alice2 = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let sam = login(&app, "sam").await;
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/v1/agents/alice/status",
        Some(&alice),
        Some(r#"{"status":"ready"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // An agent may not.
    let (s, v) = call(
        &app,
        Method::DELETE,
        "/api/v1/users/alice/sessions",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = call(
        &app,
        Method::DELETE,
        "/api/v1/users/nobody/sessions",
        Some(&sam),
        None,
    )
    .await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "no_such_user"));
    let (s, v) = call(
        &app,
        Method::DELETE,
        "/api/v1/users/alice/sessions",
        Some(&sam),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["agent_offline"], true, "{v}");
    for t in [&alice, &alice2] {
        let (s, _) = call(&app, Method::GET, "/api/v1/agents", Some(t), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (_, v) = call(&app, Method::GET, "/api/v1/agents/alice", Some(&sam), None).await;
    assert_eq!(v["status"], "offline", "{v}");
    // Others are untouched.
    let (s, _) = call(&app, Method::GET, "/api/v1/agents", Some(&bob), None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn idle_and_old_sessions_are_over() {
    let (app, store) = setup_with_store().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hour = 3_600_000;
    for (token, created, seen) in [
        ("idle", now - 2 * hour, now - 61 * 60_000),
        ("old", now - 12 * hour - 1, now - 60_000),
        ("fresh", now - 11 * hour, now - 59 * 60_000),
    ] {
        store
            .create_session(&SessionRow {
                token: token_hash(token),
                username: "alice".into(),
                created_at: created,
                last_seen_at: seen,
            })
            .await
            .unwrap();
    }
    for token in ["idle", "old"] {
        let (s, v) = call(&app, Method::GET, "/api/v1/agents", Some(token), None).await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::UNAUTHORIZED, "session_expired"),
            "{token}"
        );
        assert!(store
            .find_session(&token_hash(token))
            .await
            .unwrap()
            .is_none());
    }
    let (s, _) = call(&app, Method::GET, "/api/v1/agents", Some("fresh"), None).await;
    assert_eq!(s, StatusCode::OK);
    // Its use was recorded: it is no longer close to idle. (The engine's clock is the wall
    // clock at its start plus monotonic time since: it may differ from this test's reading
    // by a millisecond or so.)
    let row = store.find_session(&token_hash("fresh")).await.unwrap();
    let seen = row.map_or(0, |r| r.last_seen_at);
    assert!(seen >= now - 1_000, "last seen {seen}, before {now}");
}

/// Behind a trusted reverse proxy, the client is the one its `X-Forwarded-For` names: the
/// per-address login limit counts clients, not the proxy, and a forged header from anyone
/// else changes nothing; the metrics' loopback rule does not open to clients of a proxy
/// on loopback.
#[tokio::test]
async fn a_trusted_proxy_forwards_its_clients_addresses_and_nobody_else_does() {
    let toml = format!(
        "{}\n[security]\nlogins_per_minute_per_address = 1\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
        actors::config::DEMO_TOML
    );
    let (app, _) = app_with(Config::from_toml(&toml).unwrap(), Store::memory()).await;
    let send =
        |method: Method, path: &'static str, peer: &'static str, xff: Option<&'static str>| {
            let app = app.clone();
            async move {
                let mut req = Request::builder().method(method).uri(path);
                if let Some(x) = xff {
                    req = req.header("x-forwarded-for", x);
                }
                let body = json!({"username": "alice", "password": "wrong"}).to_string();
                let mut req = req
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap();
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo::<std::net::SocketAddr>(
                        peer.parse().unwrap(),
                    ));
                let res = app.oneshot(req).await.unwrap();
                let status = res.status();
                let bytes = res.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                )
            }
        };
    let login = |peer, xff| send(Method::POST, "/api/v1/sessions", peer, xff);
    // Two clients behind the proxy: one attempt each is theirs.
    let proxy = "127.0.0.1:40000";
    assert_eq!(
        login(proxy, Some("198.51.100.1")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(proxy, Some("198.51.100.2")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, v) = login(proxy, Some("198.51.100.1")).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_logins")
    );
    // A forged left part does not make a new client of the same one.
    let (s, _) = login(proxy, Some("6.6.6.6, 198.51.100.2")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // An untrusted peer's header is not believed: it is limited as itself.
    let outsider = "203.0.113.5:40000";
    assert_eq!(
        login(outsider, Some("198.51.100.3")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = login(outsider, Some("198.51.100.4")).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // Metrics: a client of the proxy on loopback is not on loopback.
    let metrics = |xff| send(Method::GET, "/metrics", proxy, xff);
    assert_eq!(metrics(None).await.0, StatusCode::OK);
    let (s, v) = metrics(Some("198.51.100.9")).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::FORBIDDEN, "metrics_forbidden")
    );
}

#[test]
fn the_session_cache_never_outlives_its_sessions() {
    let users = crate::auth::Users::from_config(&Config::demo()).unwrap();
    for (token, created_at, last_seen_at) in
        [("old", 0, 500), ("idle", 100, 50), ("live", 100, 200)]
    {
        users.remember(&SessionRow {
            token: token.into(),
            username: "alice".into(),
            created_at,
            last_seen_at,
        });
    }
    assert_eq!(users.cached_sessions(), 3);
    // What the hourly purge does with the store's expired sessions, it does with the cache's.
    users.forget_expired(50, 100);
    assert_eq!(users.cached_sessions(), 1, "only the live session is kept");
}
