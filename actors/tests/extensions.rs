//! Custom actors: one of the program's own, started beside the built-in ones, hears the events
//! it asked for, acts through the engine's API, and is restarted by its supervisor when it
//! fails, while everything else carries on.

use actors::config::Config;
use actors::events::Event;
use actors::Switchyard;
use engine::call::{CallResult, Party};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Hangs up every call from a number ending in 0 as soon as it is created (acting through the
/// API), counts the ended calls it hears, and panics on a call from +000. Its second start is
/// held at `gate` once counted (a slow restart).
struct Bouncer {
    ended: Arc<watch::Sender<u64>>,
    started: Arc<watch::Sender<u64>>,
    gate: Arc<Notify>,
}

impl Actor for Bouncer {
    type Msg = Event;
    type State = Switchyard;
    type Arguments = Switchyard;

    async fn pre_start(
        &self,
        _: ActorRef<Event>,
        yard: Switchyard,
    ) -> Result<Switchyard, ActorProcessingErr> {
        let mut second = false;
        self.started.send_modify(|n| {
            *n += 1;
            second = *n == 2;
        });
        if second {
            self.gate.notified().await;
        }
        Ok(yard)
    }

    async fn handle(
        &self,
        _: ActorRef<Event>,
        e: Event,
        yard: &mut Switchyard,
    ) -> Result<(), ActorProcessingErr> {
        let e = e.to_json();
        let (id, from) = (
            e["call_id"].as_str().unwrap_or(""),
            e["from"].as_str().unwrap_or(""),
        );
        match e["type"].as_str() {
            Some("call.created") if from == "+000" => panic!("no rule for +000"),
            Some("call.created") if from.ends_with('0') => {
                yard.hangup(id, Party::System).await?;
            }
            Some("call.ended") => {
                self.ended.send_modify(|n| *n += 1);
            }
            _ => {}
        }
        Ok(())
    }
}

/// The factory of a bouncer counting into `ended` and `started`.
fn bouncer(
    ended: &Arc<watch::Sender<u64>>,
    started: &Arc<watch::Sender<u64>>,
    gate: &Arc<Notify>,
) -> impl Fn() -> Bouncer + Send + Sync + 'static {
    let (ended, started, gate) = (ended.clone(), started.clone(), gate.clone());
    move || Bouncer {
        ended: ended.clone(),
        started: started.clone(),
        gate: gate.clone(),
    }
}

/// Waits until the count reaches `n`.
async fn until(what: &str, count: &watch::Sender<u64>, n: u64) {
    let mut rx = count.subscribe();
    let reached = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|c| *c >= n)).await;
    assert!(reached.is_ok(), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_actor_hears_acts_and_is_restarted_when_it_fails() {
    let (ended, started) = (Arc::new(watch::channel(0).0), Arc::new(watch::channel(0).0));
    let gate = Arc::new(Notify::new());
    let config = Config::from_toml(r#"queues = [{ id = "support" }]"#).unwrap();
    let yard = Switchyard::builder(config)
        .actor(
            "bouncer",
            &["call.created", "call.ended"],
            bouncer(&ended, &started, &gate),
        )
        .start()
        .await
        .unwrap();
    let create = |from: &str| yard.create_call(from.into(), "support", 0, Default::default());
    let bounced = create("+3225550010").await.unwrap();
    until("the bouncer's hang-up", &ended, 1).await;
    let call = yard.call(bounced.id().as_str()).await.unwrap();
    assert_eq!(
        call.ended_by(),
        Some(&Party::System),
        "it acted through the API"
    );
    assert_ne!(call.result(), Some(CallResult::Answered));
    // A panic in it: restarted from its factory, the engine unharmed; the events of its
    // restart are held for it, not lost.
    create("+000").await.unwrap();
    until("the restart", &started, 2).await;
    let kept = create("+3225550011").await.unwrap();
    create("+3225550020").await.unwrap();
    let mut events = yard.subscribe();
    let created = create("+3225550030").await.unwrap();
    while !matches!(events.recv().await, Ok(e) if e.to_json()["call_id"] == created.id().as_str()) {
    }
    gate.notify_one();
    until("the restarted bouncer at work", &ended, 3).await;
    let kept = yard.call(kept.id().as_str()).await.unwrap();
    assert!(!kept.state().is_final(), "a call it leaves alone waits on");
    yard.shutdown().await;
}

/// Fails on its first event, and cannot start a second time.
struct Brittle(Arc<watch::Sender<u64>>);

impl Actor for Brittle {
    type Msg = Event;
    type State = ();
    type Arguments = Switchyard;

    async fn pre_start(&self, _: ActorRef<Event>, _: Switchyard) -> Result<(), ActorProcessingErr> {
        let mut first = false;
        self.0.send_modify(|n| {
            first = *n == 0;
            *n += 1;
        });
        if first {
            Ok(())
        } else {
            Err("no second start".into())
        }
    }

    async fn handle(
        &self,
        _: ActorRef<Event>,
        _: Event,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        Err("fails on every event".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_actor_that_cannot_restart_is_left_down_and_the_others_carry_on() {
    let (ended, started, brittle) = (
        Arc::new(watch::channel(0).0),
        Arc::new(watch::channel(0).0),
        Arc::new(watch::channel(0).0),
    );
    let (b, gate) = (brittle.clone(), Arc::new(Notify::new()));
    let config = Config::from_toml(r#"queues = [{ id = "support" }]"#).unwrap();
    let yard = Switchyard::builder(config)
        .actor("brittle", &["call.created"], move || Brittle(b.clone()))
        .actor(
            "bouncer",
            &["call.created", "call.ended"],
            bouncer(&ended, &started, &gate),
        )
        .start()
        .await
        .unwrap();
    let create = |from: &str| yard.create_call(from.into(), "support", 0, Default::default());
    create("+3225550011").await.unwrap();
    until("the brittle actor's failed restart", &brittle, 2).await;
    create("+3225550010").await.unwrap();
    until("the bouncer still at work", &ended, 1).await;
    assert_eq!(*started.borrow(), 1, "the bouncer never failed");
    yard.shutdown().await;
}
