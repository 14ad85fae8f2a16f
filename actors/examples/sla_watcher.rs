//! A custom actor (`cargo run -p actors --example sla_watcher`): a call waiting past its queue's
//! service level while asking for skills is reported to the supervisors and its skills dropped.
use actors::{config::Config, events::Event, Sort, Switchyard};
use engine::{agent::Status, alerts::Severity, call::Party, routing::Skills};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::Duration;
type Me = ActorRef<Option<Event>>; // hears a call queued, or `None`: the timer's tick
type Done<T> = Result<T, ActorProcessingErr>;
struct SlaWatcher;
impl Actor for SlaWatcher {
    type Msg = Option<Event>;
    type State = Switchyard;
    type Arguments = Switchyard;
    async fn pre_start(&self, me: Me, yard: Switchyard) -> Done<Switchyard> {
        me.send_interval(Duration::from_secs(1), || None);
        Ok(yard)
    }
    async fn handle(&self, _: Me, _: Option<Event>, yard: &mut Switchyard) -> Done<()> {
        for w in yard.unassigned(None, Sort::Oldest).await? {
            let (id, queue) = (w.call_id.as_str(), w.queue.as_str());
            let (limit, waited) = (yard.config().queue(queue), yard.now().since(w.enqueued_at));
            let picky = yard.call(id).await.is_ok_and(|c| !c.skills().is_empty());
            if picky && limit.is_some_and(|q| waited.as_secs() >= q.service_level_secs) {
                let text = format!("call {id} waited {}s: anyone may take it", waited.as_secs());
                let sev = Severity::Critical;
                yard.alert_supervisors(queue, sev, &text, "sla").await?;
                let _ = yard.widen_skills(id, Skills::new()).await;
            }
        }
        Ok(())
    }
}
const CONFIG: &str = r#"queues = [{ id = "support", service_level_secs = 2 }]
agents = [{ id = "sam", queues = ["support"] }] # no skills"#;
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let yard = Switchyard::builder(Config::from_toml(CONFIG)?);
    let yard = yard.actor("sla_watcher", &["call.queued"], || SlaWatcher);
    let yard = yard.start().await?;
    let mut events = yard.subscribe_where(|e| e.type_name() != "agent.status");
    yard.set_status("sam", Some(Status::Ready), None).await?;
    let (from, french) = ("+3225550001".into(), Skills::from([("french".into(), 5)]));
    let call = yard.create_call(from, "support", 0, french).await?;
    let mut seen = Vec::new();
    while seen.last().is_none_or(|t| *t != "call.offered") {
        let e = tokio::time::timeout(Duration::from_secs(10), events.recv()).await?;
        let e = e.expect("the engine runs")?;
        println!("{} {}", e.type_name(), e.to_json()["text"]);
        seen.push(e.type_name());
    }
    let last = &seen[seen.len() - 3..];
    assert_eq!(last, ["queue.alert", "call.skills_widened", "call.offered"]);
    yard.hangup(call.id().as_str(), Party::Customer).await?;
    Ok(())
}
#[test]
fn sla_watcher_alerts_then_widens_the_waiting_call_to_an_agent_without_the_skill() {
    main().expect("the example runs")
}
