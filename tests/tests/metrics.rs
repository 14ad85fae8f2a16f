//! `GET /metrics` on the real program (issue 14, K7): Prometheus' text format, read back by a
//! parser of that format, with what the server did; the scrape token when one is configured.

use serde_json::json;
use std::time::Duration;
use tests::{start_server, Database};

async fn scrape(base: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scrape_in_prometheus_format_with_what_happened() {
    let db = Database::sqlite();
    let server = start_server!(&db, None).unwrap();
    let root = server.login("root", "demo").await.unwrap();
    let call = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": "+15550171", "queue": "support"}),
        )
        .await
        .unwrap();
    let id = call["id"].as_str().unwrap();
    server
        .post(
            &format!("/api/v1/calls/{id}/hangup"),
            &root,
            json!({"party": "customer"}),
        )
        .await
        .unwrap();
    let _ = server.get("/api/v1/calls/nope", &root).await;
    // One call answered in time: the queue's service level is 1.
    let alice = server.login("alice", "demo").await.unwrap();
    server
        .put(
            "/api/v1/agents/alice/status",
            &alice,
            json!({"status": "ready"}),
        )
        .await
        .unwrap();
    let answered = server
        .post(
            "/api/v1/calls",
            &root,
            json!({"from": "+15550172", "queue": "support"}),
        )
        .await
        .unwrap();
    let answered = answered["id"].as_str().unwrap().to_owned();
    tests::eventually(
        "the call rings for alice",
        Duration::from_secs(5),
        || async {
            let c = server
                .get(&format!("/api/v1/calls/{answered}"), &root)
                .await
                .ok()?;
            (c["state"] == "offering").then_some(())
        },
    )
    .await;
    server
        .post(
            &format!("/api/v1/calls/{answered}/accept"),
            &alice,
            json!({}),
        )
        .await
        .unwrap();
    // The end reaches the counters through the event stream: scrape until it shows.
    let (s, text) = tests::eventually("the ended call counted", Duration::from_secs(5), || async {
        let (status, kind, body) = scrape(&server.base, None).await;
        assert_eq!(status, 200, "{body}");
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
        let lines = body.lines().map(|l| Ok(l.to_owned()));
        let s = prometheus_parse::Scrape::parse(lines).expect("Prometheus' text format");
        value(&s, "switchyard_calls_ended_total", &[("queue", "support")]).map(|_| (s, body))
    })
    .await;
    assert_eq!(
        value(
            &s,
            "switchyard_calls_ended_total",
            &[("queue", "support"), ("result", "abandoned")]
        ),
        Some(1.0)
    );
    // Requests by route template (never the raw id), method and status.
    assert_eq!(
        value(
            &s,
            "switchyard_http_requests_total",
            &[
                ("route", "/api/v1/sessions"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &s,
            "switchyard_http_requests_total",
            &[
                ("route", "/api/v1/calls/:id"),
                ("method", "GET"),
                ("status", "404")
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(value(
        &s,
        "switchyard_http_request_seconds_count",
        &[("route", "/api/v1/calls")]
    )
    .is_some());
    // Live state.
    assert_eq!(
        value(&s, "switchyard_agents", &[("status", "offline")]),
        Some(2.0)
    );
    assert_eq!(
        value(&s, "switchyard_agents", &[("status", "in_service")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "switchyard_queue_waiting_calls",
            &[("queue", "support")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(&s, "switchyard_calls", &[("state", "waiting")]),
        Some(0.0)
    );
    assert_eq!(value(&s, "switchyard_login_checks", &[]), Some(2.0));
    assert_eq!(
        value(
            &s,
            "switchyard_queue_service_level_ratio",
            &[("queue", "support")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "switchyard_queue_service_level_ratio",
            &[("queue", "sales")]
        ),
        None,
        "no answer yet: no service level"
    );
    assert_eq!(
        value(&s, "switchyard_media_legs", &[("state", "all")]),
        Some(0.0)
    );
    server.kill();

    // With a scrape token, nobody scrapes without it, loopback or not.
    let config = format!(
        "{}\n[security]\nmetrics_token = \"scrape-me-0123456789\"\n",
        actors::config::DEMO_TOML
    );
    // Kept while the server runs: a temporary dropped with this statement deleted the database's
    // folder under the server, and its next connection could not open the file (a 503).
    let db = Database::sqlite();
    let server = start_server!(&db, Some(&config)).unwrap();
    let (status, _, body) = scrape(&server.base, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("metrics_forbidden"), "{body}");
    assert_eq!(scrape(&server.base, Some("wrong")).await.0, 403);
    let (status, _, body) = scrape(&server.base, Some("scrape-me-0123456789")).await;
    assert_eq!(status, 200, "{body}");
    server.kill();
}
