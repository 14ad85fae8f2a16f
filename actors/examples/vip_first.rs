//! A custom routing strategy (`cargo run -p actors --example vip_first`), registered by name:
//! callers whose `tier` attribute is `vip` ring the most skilled agent, others the longest idle.
use actors::{config::Config, Switchyard};
use engine::routing::{Candidate, RouteRequest, RoutingStrategy};
use engine::{agent::Status, AgentId};
struct VipFirst;
impl RoutingStrategy for VipFirst {
    fn choose(&mut self, call: &RouteRequest<'_>, candidates: &[Candidate<'_>]) -> Vec<AgentId> {
        let skill = |c: &&Candidate<'_>| c.skills.values().map(|&l| u32::from(l)).sum::<u32>();
        let best = match call.attributes.get("tier").map(String::as_str) {
            Some("vip") => candidates.iter().max_by_key(skill),
            _ => candidates.iter().min_by_key(|c| c.idle_since),
        };
        best.map(|c| c.agent.clone()).into_iter().collect()
    }
}

const CONFIG: &str = r#"
queues = [{ id = "support", strategy = "vip-first" }]
agents = [{ id = "junior", queues = ["support"], skills = { billing = 2 } },
          { id = "senior", queues = ["support"], skills = { billing = 9 } }]
"#;
/// A call of `tier` into support: the agent it rings (its offer withdrawn after).
async fn rings(yard: &Switchyard, tier: &str) -> anyhow::Result<String> {
    let mut events = yard.subscribe();
    let (from, tier) = ("+3225550001".into(), [("tier".into(), tier.into())].into());
    let call = yard
        .create_call_with(from, "support", 0, Default::default(), tier)
        .await?;
    let id = call.id().as_str();
    loop {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv());
        let e = next.await??.to_json();
        if e["type"] == "call.offered" && e["call_id"] == id {
            yard.hangup(id, engine::call::Party::Customer).await?;
            return Ok(e["agent"].as_str().unwrap_or_default().to_owned());
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let yard = Switchyard::builder(Config::from_toml(CONFIG)?)
        .strategy("vip-first", |_queue| VipFirst)
        .start()
        .await?;
    yard.set_status("junior", Some(Status::Ready), None).await?; // idle the longest
    yard.set_status("senior", Some(Status::Ready), None).await?;
    let (vip, regular) = (rings(&yard, "vip").await?, rings(&yard, "other").await?);
    println!("a VIP call rings {vip}; a regular one rings {regular}");
    assert_eq!((vip.as_str(), regular.as_str()), ("senior", "junior"));
    Ok(())
}

#[test]
fn vip_first_rings_the_most_skilled_for_vips_only() {
    main().expect("the example runs")
}
