//! Registered routing strategies through the public API: a queue may name one, a name that is
//! neither built in nor registered stops the start with a clear error, and a strategy that
//! panics never stops routing (its queue's fallback decides, call after call).

use actors::config::Config;
use actors::{ActorError, Switchyard};
use engine::agent::Status;
use engine::routing::{Candidate, RouteRequest, RoutingStrategy};
use engine::AgentId;

const CONFIG: &str = r#"
queues = [{ id = "support", strategy = "flaky", fallback_strategy = "sequential" }]
agents = [{ id = "a", queues = ["support"] }, { id = "b", queues = ["support"] }]
"#;

struct Flaky;

impl RoutingStrategy for Flaky {
    fn choose(&mut self, _: &RouteRequest<'_>, _: &[Candidate<'_>]) -> Vec<AgentId> {
        panic!("flaky always fails");
    }
}

#[tokio::test]
async fn a_strategy_no_one_registered_stops_the_start() {
    let config = Config::from_toml(CONFIG).unwrap();
    let Err(e) = Switchyard::builder(config).start().await else {
        panic!("started without the strategy");
    };
    assert!(matches!(e, ActorError::Config(_)), "{e}");
    assert!(e.to_string().contains("\"flaky\""), "{e}");
    assert!(
        e.to_string().contains("longest-idle, round-robin"),
        "lists the built-ins: {e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_strategy_never_stops_routing() {
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .strategy("flaky", |_| Flaky)
        .start()
        .await
        .unwrap();
    let mut events = yard.subscribe();
    for agent in ["a", "b"] {
        yard.set_status(agent, Some(Status::Ready), None)
            .await
            .unwrap();
    }
    // Two calls, each decided by the fallback (sequential: a, then b), the queue alive after.
    for expected in ["a", "b"] {
        let call = yard
            .create_call("+3225550001".into(), "support", 0, Default::default())
            .await
            .unwrap();
        let offered = loop {
            let next = tokio::time::timeout(std::time::Duration::from_secs(60), events.recv());
            let e = next.await.expect("an offer").unwrap().to_json();
            if e["type"] == "call.offered" && e["call_id"] == call.id().as_str() {
                break e;
            }
        };
        assert_eq!(offered["agent"], expected, "{offered}");
    }
    assert_eq!(
        yard.queues().await.unwrap().len(),
        1,
        "the queue still answers"
    );
}
