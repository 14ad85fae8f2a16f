//! What an extension watching the queues acts through: widening a waiting call's skill
//! requirements (it keeps its place in line, the change is kept across a restart, only a
//! widening is accepted) and alerting the supervisors (`queue.alert`, bad alerts refused).

use actors::config::Config;
use actors::store::Store;
use actors::{ActorError, Switchyard};
use engine::agent::Status;
use engine::alerts::Severity;
use engine::call::{JourneyEvent, Party};
use engine::routing::Skills;
use std::time::Duration;

const CONFIG: &str = r#"
queues = [{ id = "support" }]
agents = [{ id = "any", queues = ["support"] }]
"#;

fn skills(list: &[(&str, u8)]) -> Skills {
    list.iter().map(|(s, l)| (s.to_string(), *l)).collect()
}

fn code(e: ActorError) -> &'static str {
    match e {
        ActorError::Rule(rule) => rule.code(),
        other => panic!("not a rule's refusal: {other}"),
    }
}

async fn start(url: &str) -> Switchyard {
    let store = Store::connect(url).await.unwrap();
    Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .store(store)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_widened_call_keeps_its_place_in_line_and_its_new_requirements_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("yard.db").display());
    let yard = start(&url).await;
    let mut events = yard.subscribe();
    let french = skills(&[("french", 5), ("billing", 2)]);
    let first = yard
        .create_call("+3225550001".into(), "support", 0, french)
        .await
        .unwrap();
    let first = first.id().as_str().to_owned();
    let second = yard
        .create_call("+3225550002".into(), "support", 0, Skills::new())
        .await
        .unwrap();
    // Raising or adding a requirement is refused and changes nothing.
    for wider in [skills(&[("french", 6)]), skills(&[("german", 1)])] {
        let e = yard.widen_skills(&first, wider).await.unwrap_err();
        assert_eq!(code(e), "skills_not_wider");
    }
    let widened = yard
        .widen_skills(&first, skills(&[("billing", 1)]))
        .await
        .unwrap();
    assert_eq!(widened.skills(), &skills(&[("billing", 1)]));
    assert!(matches!(
        &widened.journey().last().unwrap().event,
        JourneyEvent::SkillsWidened { from, to } if from.len() == 2 && to.len() == 1
    ));
    let widened = yard.widen_skills(&first, Skills::new()).await.unwrap();
    assert!(widened.skills().is_empty());

    // The agent without skills is offered the first call, widened, before the second.
    yard.set_status("any", Some(Status::Ready), None)
        .await
        .unwrap();
    let offered = loop {
        let next = tokio::time::timeout(Duration::from_secs(10), events.recv());
        let e = next.await.expect("an offer").unwrap().to_json();
        if e["type"] == "call.offered" {
            break e["call_id"].as_str().unwrap().to_owned();
        }
    };
    assert_eq!(offered, first, "the widened call kept its place");
    yard.hangup(second.id().as_str(), Party::Customer)
        .await
        .unwrap();
    yard.shutdown().await;

    let again = start(&url).await;
    let call = again.call(&first).await.unwrap();
    assert!(call.skills().is_empty(), "the widening was kept");
    let steps = call.journey().iter();
    assert_eq!(
        steps
            .filter(|s| matches!(s.event, JourneyEvent::SkillsWidened { .. }))
            .count(),
        2
    );
    again.hangup(&first, Party::Customer).await.unwrap();
    // An ended call is not widened.
    assert!(again.widen_skills(&first, Skills::new()).await.is_err());
    again.shutdown().await;
}

#[tokio::test]
async fn an_alert_reaches_the_supervisors_and_a_bad_one_is_refused() {
    let yard = Switchyard::builder(Config::from_toml(CONFIG).unwrap())
        .start()
        .await
        .unwrap();
    let mut events = yard.subscribe();
    yard.alert_supervisors("support", Severity::Critical, "  95 s wait \n", "sla")
        .await
        .unwrap();
    let e = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(e.agents().is_empty(), "for supervisors only");
    let json = e.to_json();
    assert_eq!(json["type"], "queue.alert");
    assert_eq!(json["queue"], "support");
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["text"], "95 s wait");
    assert_eq!(json["by"], "sla");
    assert!(json["seq"].as_u64().unwrap() > 0);

    let e = yard
        .alert_supervisors("sales", Severity::Info, "late", "sla")
        .await
        .unwrap_err();
    assert!(matches!(e, ActorError::UnknownQueue(_)), "{e}");
    let e = yard
        .alert_supervisors("support", Severity::Info, " \t", "sla")
        .await
        .unwrap_err();
    assert_eq!(code(e), "invalid_alert");
    assert!(
        events.try_recv().is_err(),
        "nothing was sent for the refused alerts"
    );
    yard.shutdown().await;
}
