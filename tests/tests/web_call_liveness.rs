//! Web-call media liveness (issue 14) on the real program: anonymous web calls whose audio
//! never comes end as the customer's hang-up after `media.customer_silence_secs`, so 300 junk
//! calls leave nobody waiting; a customer who speaks stays, and is hung up once it falls
//! silent; after a `kill -9` restart, a web call whose leg died with the process ends too.

use actors::media::leg::Leg;
use serde_json::{json, Value};
use std::time::Duration;
use tests::{eventually, start_server, Database, Server};

fn config() -> String {
    format!(
        "{}\n[security]\nweb_calls_per_minute_per_address = 10000\n\n[media]\ncustomer_silence_secs = 2\n",
        actors::config::DEMO_TOML.replacen(
            "web_calls = true",
            "web_calls = true\nweb_calls_max_waiting = 1000",
            1
        )
    )
}

async fn web_call(server: &Server, offer: &Value) -> anyhow::Result<Value> {
    let (status, v) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/web-calls",
            None,
            Some(json!({"queue": "support", "sdp": offer})),
        )
        .await?;
    anyhow::ensure!(status == 201, "HTTP {status}: {v}");
    Ok(v)
}

fn journey(call: &Value) -> Vec<String> {
    call["journey"]
        .as_array()
        .map(|j| {
            j.iter()
                .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_junk_web_calls_leave_nobody_waiting() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let config = config();
    let server = start_server!(&db, Some(&config))?;
    let sam = server.login("sam", "demo").await?;
    // One offer, sent 300 times; the answers are never taken, so no audio ever comes.
    let (client, _rx) = Leg::new().await?;
    let offer = serde_json::to_value(client.offer().await?)?;
    let started = std::time::Instant::now();
    let mut ids = Vec::new();
    for chunk in 0..15 {
        let batch = (0..20).map(|_| web_call(&server, &offer));
        for v in futures::future::join_all(batch).await {
            let v = v.map_err(|e| anyhow::anyhow!("web call {}: {e}", chunk * 20))?;
            ids.push(v["call_id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 300);
    eprintln!("300 web calls answered in {:?}", started.elapsed());
    eventually(
        "no web call left waiting",
        Duration::from_secs(30),
        || async {
            let waiting = server
                .get("/api/v1/calls?state=waiting&limit=1000", &sam)
                .await
                .ok()?;
            let n = waiting
                .as_array()
                .or_else(|| waiting["calls"].as_array())
                .map_or(usize::MAX, Vec::len);
            (n == 0).then_some(())
        },
    )
    .await;
    // The queues' lines follow the calls' ends (each call tells its queue after saving its
    // end): nobody is left in them either.
    eventually(
        "no queue counting a web call",
        Duration::from_secs(10),
        || async {
            let queues = server.get("/api/v1/queues", &sam).await.ok()?;
            let all = queues["queues"].as_array()?.clone();
            all.iter()
                .all(|q| q["waiting"] == 0 && q["offering"] == 0)
                .then_some(())
        },
    )
    .await;
    let one = server
        .get(&format!("/api/v1/calls/{}", ids[150]), &sam)
        .await?;
    assert_eq!(one["state"], "ended", "{one}");
    assert_eq!(one["result"], "abandoned", "{one}");
    assert!(
        journey(&one).contains(&"customer_media_lost".to_owned()),
        "{one}"
    );
    client.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speaking_customer_stays_and_a_restart_ends_the_web_calls_it_cut() -> anyhow::Result<()> {
    let db = Database::sqlite();
    let config = config();
    let server = start_server!(&db, Some(&config))?;
    let sam = server.login("sam", "demo").await?;

    // A customer whose audio flows for 4 s (twice the silence limit) stays in the queue.
    let (customer, _rx) = Leg::new().await?;
    let offer = serde_json::to_value(customer.offer().await?)?;
    let created = web_call(&server, &offer).await?;
    let id = created["call_id"].as_str().unwrap().to_owned();
    customer
        .accept(serde_json::from_value(created["sdp"].clone())?)
        .await?;
    customer.connected(Duration::from_secs(10)).await?;
    let frame = vec![800i16; 160];
    // Paced like a microphone: a 20 ms frame every 20 ms.
    let mut every = tokio::time::interval(Duration::from_millis(20));
    for _ in 0..200 {
        every.tick().await;
        customer.send(&frame).await?;
    }
    let call = server.get(&format!("/api/v1/calls/{id}"), &sam).await?;
    assert_eq!(
        call["state"], "waiting",
        "a speaking customer was hung up: {call}"
    );
    // Silent from now on: hung up within the limit and a check.
    eventually(
        "the silent customer hung up",
        Duration::from_secs(6),
        || async {
            let c = server
                .get(&format!("/api/v1/calls/{id}"), &sam)
                .await
                .ok()?;
            (c["state"] == "ended").then_some(())
        },
    )
    .await;
    customer.close().await;

    // A web call cut by a kill -9: its leg is gone with the process, and the customer's token
    // with it, so the restarted server ends it at once.
    let (junk, _rx) = Leg::new().await?;
    let offer = serde_json::to_value(junk.offer().await?)?;
    let cut = web_call(&server, &offer).await?;
    let cut_id = cut["call_id"].as_str().unwrap().to_owned();
    server.kill();
    let server = start_server!(&db, Some(&config))?;
    let sam = server.login("sam", "demo").await?;
    let call = server.get(&format!("/api/v1/calls/{cut_id}"), &sam).await?;
    assert_eq!(
        (call["state"].as_str(), call["result"].as_str()),
        (Some("ended"), Some("abandoned")),
        "{call}"
    );
    let lost = call["journey"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "customer_media_lost")
        .cloned()
        .unwrap_or_default();
    assert_eq!(lost["reason"], "restart", "{call}");
    junk.close().await;
    Ok(())
}
