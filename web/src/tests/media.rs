//! Media over HTTP: WebRTC signalling, the customer's web call, and the pages.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_signalling_answers_the_calls_agent_and_the_ingress_only() {
    use actors::media::leg::Leg;
    let (app, mut events) = setup_with_events().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let id = alice_answers(&app, &mut events, (&root, &alice), "+15550123").await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opus_only_offer_is_answered_and_connects_and_one_without_our_codecs_is_refused() {
    use actors::config::MediaConfig;
    use actors::media::codec::Codec;
    use actors::media::leg::Leg;
    let (app, _events) = setup_with_events().await;
    let post = |sdp: Value| {
        let app = app.clone();
        async move {
            let body = json!({"queue": "support", "name": "Opus", "sdp": sdp});
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
    // What some WebRTC stacks send: Opus alone, at a dynamic payload type (was a 422).
    let (client, _rx) = Leg::with_codecs(&MediaConfig::default(), &[Codec::Opus])
        .await
        .unwrap();
    let offer = client.offer().await.unwrap();
    let m = offer
        .sdp
        .lines()
        .find(|l| l.starts_with("m=audio"))
        .unwrap();
    assert!(
        !m.split_whitespace().skip(3).any(|pt| pt == "0") && offer.sdp.contains("opus/48000"),
        "{m}"
    );
    let (s, v) = post(serde_json::to_value(&offer).unwrap()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    client
        .accept(serde_json::from_value(v["sdp"].clone()).unwrap())
        .await
        .unwrap();
    client
        .connected(std::time::Duration::from_secs(10))
        .await
        .unwrap();
    client.close().await;
    // Neither PCMU nor Opus: refused, naming what is missing.
    let pcma = offer.sdp.replace("opus/48000/2", "PCMA/8000");
    let (s, v) = post(json!({"type": "offer", "sdp": pcma})).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_sdp"),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("neither PCMU"),
        "{v}"
    );
}

#[tokio::test]
async fn the_pages_are_served() {
    let app = setup().await;
    for (path, kind, needle) in [
        ("/agent", "text/html", "/assets/agent.js"),
        ("/call", "text/html", "/assets/call.js"),
        ("/assets/agent.js", "text/javascript", "/api/v1"),
        ("/assets/call.js", "text/javascript", "web-calls"),
        ("/supervisor", "text/html", "/assets/supervisor.js"),
        ("/crm-demo", "text/html", "/cti/switchyard-host.js"),
        ("/assets/crm-demo.js", "text/javascript", "SwitchyardHost"),
        (
            "/cti/switchyard-host.js",
            "text/javascript",
            "SwitchyardHost",
        ),
        // The shim carries the configured host origins (none in the demo setup).
        (
            "/cti/opencti-shim.js",
            "text/javascript",
            "const ALLOWED_ORIGINS = [];",
        ),
        ("/assets/supervisor.js", "text/javascript", "TranscriptView"),
        (
            "/assets/transcript-view.js",
            "text/javascript",
            "transcript.partial",
        ),
        ("/assets/style.css", "text/css", "{"),
    ] {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        // Only the server itself (and configured CRM origins, none in the demo) may frame it.
        assert_eq!(
            res.headers()["content-security-policy"],
            "frame-ancestors 'self'",
            "{path}"
        );
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

#[tokio::test]
async fn without_a_model_transcription_is_off_and_transcripts_are_guarded() {
    let app = setup().await;
    let root = login(&app, "root").await;
    let alice = login(&app, "alice").await;
    let bob = login(&app, "bob").await;
    let (s, t) = call(
        &app,
        Method::GET,
        "/api/v1/transcription",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (t["enabled"].clone(), t["model"].clone()),
        (json!(false), json!(null))
    );
    // The demo's support queue asks for both legs, but without a model every queue is off.
    assert!(t["queues"]
        .as_array()
        .unwrap()
        .iter()
        .all(|q| q["mode"] == "off"));
    assert_eq!(
        call(&app, Method::GET, "/api/v1/transcription", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, c) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15550123","queue":"support"}"#),
    )
    .await;
    let path = format!("/api/v1/calls/{}/transcript", c["id"].as_str().unwrap());
    let (s, t) = call(&app, Method::GET, &path, Some(&root), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (t["stored"].clone(), t["segments"].clone()),
        (json!(false), json!([]))
    );
    // An agent not on the call may not read it; an unknown call is a 404 naming it.
    assert_eq!(
        refused(&app, Method::GET, &path, &bob, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, v) = call(
        &app,
        Method::GET,
        "/api/v1/calls/nope/transcript",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn a_calls_keyword_alerts_are_listed_with_its_transcript() {
    let store = Store::memory();
    let (app, _) = app_with(Config::demo(), store.clone()).await;
    let root = login(&app, "root").await;
    let (_, c) = call(
        &app,
        Method::POST,
        "/api/v1/calls",
        Some(&root),
        Some(r#"{"from":"+15550123","queue":"support"}"#),
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    // The demo's support queue does not keep transcripts: its alerts are kept without words.
    let alert = actors::store::AlertRow {
        call_id: id.clone(),
        queue: "support".into(),
        leg: "customer".into(),
        agent: None,
        phrase: "cancel my account".into(),
        severity: "warning".into(),
        text: None,
        start_ms: 1_000,
        end_ms: 2_500,
        spoken_at: 1_795_255_201_000,
        at: 1_795_255_203_000,
    };
    store.save_alert(&alert).await.unwrap();
    let (s, t) = call(
        &app,
        Method::GET,
        &format!("/api/v1/calls/{id}/transcript"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        (t["stored"].clone(), t["segments"].clone()),
        (json!(false), json!([]))
    );
    assert_eq!(t["alerts"], json!([alert]));
    assert_eq!(t["alerts"][0]["severity"], "warning");
    // The OpenAPI document describes the event and the field.
    let (_, doc) = call(&app, Method::GET, "/api/v1/openapi.json", None, None).await;
    let paths = &doc["paths"];
    let events = paths["/api/v1/events"]["get"]["summary"].as_str().unwrap();
    assert!(
        events.contains("transcript.alert {phrase, severity"),
        "{events}"
    );
    let transcript = paths["/api/v1/calls/{id}/transcript"]["get"]["summary"]
        .as_str()
        .unwrap();
    assert!(transcript.contains("alerts: [{"), "{transcript}");
}

/// Anonymous web calls are bounded (issue 14, finding 2): per address per minute, and per
/// queue while too many already wait; each refusal is JSON with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_calls_are_limited_per_address_and_per_queue() {
    use actors::media::leg::Leg;
    let toml = actors::config::DEMO_TOML.replacen(
        "web_calls = true\n",
        "web_calls = true\nweb_calls_max_waiting = 2\n",
        1,
    ) + "\n[security]\nweb_calls_per_minute_per_address = 3\n";
    let config = Config::from_toml(&toml).unwrap();
    let (app, _) = app_with(config, Store::memory()).await;
    let (client, _rx) = Leg::new().await.unwrap();
    let offer = serde_json::to_value(client.offer().await.unwrap()).unwrap();
    let body = json!({"queue": "support", "sdp": offer}).to_string();
    let post = |from: &'static str| {
        let (app, body) = (app.clone(), body.clone());
        async move {
            let addr: std::net::SocketAddr = from.parse().unwrap();
            let mut req = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/web-calls")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let retry = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            (status, retry, v)
        }
    };
    let hang_up = |v: Value| {
        let app = app.clone();
        async move {
            let (id, token) = (v["call_id"].as_str().unwrap(), v["token"].as_str().unwrap());
            let path = format!("/api/v1/web-calls/{id}/hangup");
            let (s, _) = call(&app, Method::POST, &path, Some(token), None).await;
            assert_eq!(s, StatusCode::OK);
        }
    };
    let a = "192.0.2.1:5000";
    let (s1, _, first) = post(a).await;
    let (s2, _, _) = post(a).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    // Two wait: the queue takes no more, from anyone.
    let (s, retry, v) = post("192.0.2.2:5000").await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "queue_full"),
        "{v}"
    );
    assert_eq!(retry.as_deref(), Some("30"));
    // One leaves: room again, and a third call from the same address goes through…
    hang_up(first).await;
    let (s, _, third) = post(a).await;
    assert_eq!(s, StatusCode::CREATED, "{third}");
    hang_up(third).await;
    // …but a fourth within the minute does not; another address still may.
    let (s, retry, v) = post(a).await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_web_calls"),
        "{v}"
    );
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    let (s, _, v) = post("192.0.2.3:5000").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    client.close().await;
}
