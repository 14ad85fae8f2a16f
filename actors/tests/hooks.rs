//! In-process event hooks: a subscription with a filter sees exactly the events it asked
//! for, in order, and says when it fell behind instead of silently skipping.

use actors::config::Config;
use actors::{StartOptions, Switchyard};
use engine::call::Party;
use std::time::Duration;

const CONFIG: &str = r#"queues = [{ id = "support" }, { id = "sales" }]"#;

async fn next(sub: &mut actors::subscription::Subscription) -> serde_json::Value {
    let got = tokio::time::timeout(Duration::from_secs(30), sub.recv()).await;
    got.expect("an event in time")
        .expect("the engine runs")
        .expect("none missed")
        .to_json()
}

#[tokio::test(start_paused = true)]
async fn a_filtered_subscription_sees_only_what_it_asked_for() {
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .start()
        .await
        .unwrap();
    let mut ended = yard.subscribe_to(&["call.ended"]);
    let mut sales = yard.subscribe_where(|e| e.to_json()["queue"] == "sales");
    for queue in ["support", "sales"] {
        let call = yard
            .create_call("+3225550001".into(), queue, 0, Default::default())
            .await
            .unwrap();
        yard.hangup(call.id().as_str(), Party::Customer)
            .await
            .unwrap();
    }
    let (first, second) = (next(&mut ended).await, next(&mut ended).await);
    assert_eq!(
        (first["type"].as_str(), first["queue"].as_str()),
        (Some("call.ended"), Some("support"))
    );
    assert_eq!(
        (second["type"].as_str(), second["queue"].as_str()),
        (Some("call.ended"), Some("sales"))
    );
    let created = next(&mut sales).await;
    assert_eq!(
        (created["type"].as_str(), created["queue"].as_str()),
        (Some("call.created"), Some("sales"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_falls_behind_is_told_how_much_it_missed() {
    let options = StartOptions {
        event_buffer: 4,
        ..Default::default()
    };
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .options(options)
        .start()
        .await
        .unwrap();
    let mut all = yard.subscribe_where(|_| true);
    for _ in 0..5 {
        let call = yard
            .create_call("+3225550001".into(), "support", 0, Default::default())
            .await
            .unwrap();
        yard.hangup(call.id().as_str(), Party::Customer)
            .await
            .unwrap();
    }
    let missed = all
        .recv()
        .await
        .expect("the engine runs")
        .expect_err("it fell behind");
    assert!(missed.0 > 0, "{missed:?}");
}
