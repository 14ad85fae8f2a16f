//! Actor tests on paused tokio time with the memory store: timers, rerouting, wrap-up,
//! overflow and supervision, observed through the event bus and the public API.

use crate::config::Config;
use crate::events::Event;
use crate::store::Store;
use crate::Switchyard;
use engine::agent::Status;
use engine::call::{CallResult, CallState, JourneyEvent, Party};
use engine::routing::Skills;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

pub(crate) fn config(strategy: &str, agents: usize, extra_queue: &str) -> Config {
    let mut toml = format!(
        "[[queues]]\nid = \"q\"\nstrategy = \"{strategy}\"\nwrap_up_limit_secs = 30\n{extra_queue}\n"
    );
    if extra_queue.contains("overflow") {
        toml.push_str("[[queues]]\nid = \"spill\"\n");
    }
    for i in 0..agents {
        toml.push_str(&format!("[[agents]]\nid = \"a{i}\"\nqueues = [\"q\"]\n"));
    }
    Config::from_toml(&toml).unwrap()
}

pub(crate) async fn wait_for(
    rx: &mut Receiver<Event>,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} event before the deadline"))
            .expect("bus open");
        let json = ev.to_json();
        if pred(&json) {
            return json;
        }
    }
}

pub(crate) fn is(ty: &'static str, call: &str, agent: &str) -> impl Fn(&serde_json::Value) -> bool {
    let (call, agent) = (call.to_owned(), agent.to_owned());
    move |e| e["type"] == ty && e["call_id"] == call.as_str() && e["agent"] == agent.as_str()
}

/// An engine on the memory store.
pub(crate) async fn engine_with(config: Config) -> Switchyard {
    Switchyard::start(config, Store::memory()).await.unwrap()
}

/// An engine with one agent, longest-idle, on an in-memory SQLite store whose faults a test
/// can inject (`Store::faults`: commits held, say).
pub(crate) async fn with_faults() -> (Switchyard, Store) {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let yard = Switchyard::start(config("longest-idle", 1, ""), store.clone())
        .await
        .unwrap();
    (yard, store)
}

/// A call from `from` into queue `q`.
pub(crate) async fn incoming(yard: &Switchyard, from: &str) -> std::sync::Arc<engine::call::Call> {
    yard.create_call(from.into(), "q", 0, Skills::new())
        .await
        .unwrap()
}

pub(crate) async fn all_ready(yard: &Switchyard, n: usize) {
    for i in 0..n {
        yard.set_status(&format!("a{i}"), Some(Status::Ready), None)
            .await
            .unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn unanswered_offer_is_rerouted_and_returns_to_the_first_agent_after_its_delay() {
    let yard = engine_with(config("sequential", 2, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    let call = incoming(&yard, "+15550001").await;
    let id = call.id().as_str();
    let first = wait_for(&mut rx, "offer to a0", is("call.offered", id, "a0")).await;

    let timed_out = wait_for(&mut rx, "timeout", is("call.offer_timed_out", id, "a0")).await;
    assert_eq!(
        timed_out["at"].as_i64().unwrap() - first["at"].as_i64().unwrap(),
        18_000
    );
    wait_for(&mut rx, "offer to a1", is("call.offered", id, "a1")).await;
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::Busy);

    // a1 declines (no delay for a decline) and signs off; a0 is still in its 7 s delay, so
    // the call waits, then goes back to a0.
    yard.decline(id, "a1", None).await.unwrap();
    assert_eq!(yard.agent("a1").await.unwrap().status, Status::Ready);
    yard.set_status("a1", Some(Status::Offline), None)
        .await
        .unwrap();
    let again = wait_for(&mut rx, "second offer to a0", is("call.offered", id, "a0")).await;
    assert_eq!(
        again["at"].as_i64().unwrap() - timed_out["at"].as_i64().unwrap(),
        7_000
    );
    let c = yard.accept(id, "a0").await.unwrap();
    assert_eq!(c.state(), CallState::Connected);
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::InService);
}

#[tokio::test(start_paused = true)]
async fn wrap_up_limit_moves_the_agent_to_its_post_call_status() {
    let mut conf = config("longest-idle", 1, "");
    conf.custom_statuses = vec!["break".into()];
    let yard = Switchyard::start(conf, Store::memory()).await.unwrap();
    let mut rx = yard.subscribe();
    all_ready(&yard, 1).await;
    let call = incoming(&yard, "+15550001").await;
    let id = call.id().as_str().to_owned();
    wait_for(&mut rx, "offer", is("call.offered", &id, "a0")).await;
    yard.accept(&id, "a0").await.unwrap();
    yard.set_status("a0", None, Some(Status::parse("break")))
        .await
        .unwrap();
    yard.hangup(&id, Party::Customer).await.unwrap();
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::AfterService);
    let ended = wait_for(&mut rx, "wrap-up end", |e| {
        e["type"] == "agent.status" && e["reason"] == "wrap_up_limit"
    })
    .await;
    assert_eq!(ended["to"], "break");
    let history = yard.status_history("a0", 100).await.unwrap();
    let statuses: Vec<_> = history.iter().map(|c| c.to.to_string()).collect();
    assert_eq!(
        statuses,
        ["ready", "offered", "in_service", "after_service", "break"]
    );
    assert_eq!(history[4].at.0 - history[3].at.0, 30_000);
}

#[tokio::test(start_paused = true)]
async fn a_call_overflows_after_its_queue_max_wait() {
    let yard = Switchyard::start(
        config(
            "longest-idle",
            1,
            "max_wait_secs = 60\noverflow = \"spill\"",
        ),
        Store::memory(),
    )
    .await
    .unwrap();
    let mut rx = yard.subscribe();
    let call = incoming(&yard, "+15550001").await;
    let id = call.id().as_str().to_owned();
    let ev = wait_for(&mut rx, "overflow", |e| e["type"] == "call.overflowed").await;
    assert_eq!(
        (ev["from"].as_str(), ev["to"].as_str()),
        (Some("q"), Some("spill"))
    );
    assert_eq!(yard.call(&id).await.unwrap().queue().as_str(), "spill");
    let unassigned = yard.unassigned(None, crate::Sort::Oldest).await.unwrap();
    assert_eq!(unassigned.len(), 1);
    assert_eq!(unassigned[0].queue.as_str(), "spill");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_call_actor_restarts_where_it_was_and_fifty_others_finish() {
    let n = 51;
    let yard = engine_with(config("sequential", n, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, n).await;
    let mut calls = Vec::new();
    for i in 0..n {
        calls.push(
            yard.create_call(format!("+1555{i:04}"), "q", 0, Skills::new())
                .await
                .unwrap()
                .id()
                .clone(),
        );
    }
    let mut owner = std::collections::HashMap::new();
    for _ in 0..n {
        let ev = wait_for(&mut rx, "offer", |e| e["type"] == "call.offered").await;
        owner.insert(
            ev["call_id"].as_str().unwrap().to_owned(),
            ev["agent"].as_str().unwrap().to_owned(),
        );
    }
    for c in &calls {
        yard.accept(c.as_str(), &owner[c.as_str()]).await.unwrap();
    }

    let victim = calls[0].as_str();
    let before = yard.call_actor_id(victim).unwrap();
    assert!(yard.inject_panic(victim));
    wait_for(&mut rx, "recovery", |e| {
        e["type"] == "call.recovered" && e["call_id"] == victim
    })
    .await;
    assert_ne!(
        yard.call_actor_id(victim).unwrap(),
        before,
        "a new actor carries the call"
    );

    for c in &calls[1..] {
        let done = yard.hangup(c.as_str(), Party::Customer).await.unwrap();
        assert_eq!(done.result(), Some(CallResult::Answered));
    }
    let victim_call = yard.call(victim).await.unwrap();
    assert_eq!(
        victim_call.state(),
        CallState::Connected,
        "the call carried on where it was"
    );
    assert_eq!(
        yard.agent(&owner[victim]).await.unwrap().status,
        Status::InService
    );
    let agent = Party::Agent {
        agent: owner[victim].as_str().into(),
    };
    let ended = yard.hangup(victim, agent).await.unwrap();
    assert_eq!(ended.result(), Some(CallResult::Answered));
    assert!(ended
        .journey()
        .iter()
        .any(|e| e.event == JourneyEvent::Recovered));
    assert_eq!(
        yard.agent(&owner[victim]).await.unwrap().status,
        Status::AfterService
    );
    assert_eq!(
        yard.calls(Some(CallState::Ended), 100).await.unwrap().len(),
        n
    );
}

#[tokio::test(start_paused = true)]
async fn ring_all_rings_everyone_and_the_first_answer_withdraws_the_rest() {
    let yard = engine_with(config("ring-all", 3, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 3).await;
    let call = incoming(&yard, "+15550001").await;
    let id = call.id().as_str().to_owned();
    for a in ["a0", "a1", "a2"] {
        wait_for(&mut rx, "offer", is("call.offered", &id, a)).await;
    }
    yard.accept(&id, "a1").await.unwrap();
    assert!(
        yard.accept(&id, "a2").await.is_err(),
        "too late: a1 answered"
    );
    for a in ["a0", "a2"] {
        wait_for(&mut rx, "withdraw", |e| {
            e["type"] == "agent.status" && e["agent"] == a && e["to"] == "ready"
        })
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn take_and_assign_unassigned_calls() {
    let yard = engine_with(config("longest-idle", 2, "")).await;
    let mut rx = yard.subscribe();
    let c1 = incoming(&yard, "+15550001").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    // Nobody has French: c2 waits even with a1 Ready, until someone assigns it.
    let french = Skills::from([("fr".to_string(), 5)]);
    let c2 = yard
        .create_call("+15550002".into(), "q", 0, french)
        .await
        .unwrap();
    let newest = yard.unassigned(None, crate::Sort::Newest).await.unwrap();
    let ids: Vec<_> = newest.iter().map(|u| u.call_id.clone()).collect();
    assert_eq!(ids, [c2.id().clone(), c1.id().clone()]);

    // An offline agent cannot take work; signed in (Dnd) it can, without being Ready.
    assert!(matches!(
        yard.take(c1.id().as_str(), "a0").await,
        Err(crate::ActorError::Rule(engine::Error::Unavailable(_)))
    ));
    yard.set_status("a0", Some(Status::Dnd), None)
        .await
        .unwrap();
    let taken = yard.take(c1.id().as_str(), "a0").await.unwrap();
    assert_eq!(
        (taken.state(), taken.agent().map(|a| a.as_str())),
        (CallState::Connected, Some("a0"))
    );

    // Assigning rings the chosen colleague, who must be available.
    assert!(matches!(
        yard.assign(c2.id().as_str(), "a1").await,
        Err(crate::ActorError::Rule(engine::Error::Unavailable(_)))
    ));
    yard.set_status("a1", Some(Status::Ready), None)
        .await
        .unwrap();
    let assigned = yard.assign(c2.id().as_str(), "a1").await.unwrap();
    assert_eq!(assigned.offered(), [engine::AgentId::from("a1")]);
    wait_for(
        &mut rx,
        "offer of c2",
        is("call.offered", c2.id().as_str(), "a1"),
    )
    .await;
    assert!(yard
        .unassigned(None, crate::Sort::Oldest)
        .await
        .unwrap()
        .is_empty());
    let answered = yard.accept(c2.id().as_str(), "a1").await.unwrap();
    assert_eq!(answered.state(), CallState::Connected);
}

/// Polls (in paused time, so instantly) until `f` holds.
pub(crate) async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..1000 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_agent_actor_restarts_with_its_status_and_its_call() {
    let yard = engine_with(config("longest-idle", 2, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    let call = incoming(&yard, "+15550001").await;
    let id = call.id().as_str().to_owned();
    let offer = wait_for(&mut rx, "offer", |e| e["type"] == "call.offered").await;
    let agent = offer["agent"].as_str().unwrap().to_owned();
    yard.accept(&id, &agent).await.unwrap();

    let before = yard.inject_agent_panic(&agent).unwrap();
    eventually("agent actor replaced", async || {
        yard.actor_ids(&agent, "q").0.is_some_and(|a| a != before)
    })
    .await;
    let view = yard.agent(&agent).await.unwrap();
    assert_eq!(
        (view.status, view.call_id.as_ref().map(|c| c.as_str())),
        (Status::InService, Some(id.as_str()))
    );
    // The call carries on with the new actor: hang-up sends it to wrap-up.
    yard.hangup(
        &id,
        Party::Agent {
            agent: agent.as_str().into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        yard.agent(&agent).await.unwrap().status,
        Status::AfterService
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_queue_actor_is_rebuilt_from_the_waiting_calls() {
    let yard = engine_with(config("longest-idle", 1, "")).await;
    let mut rx = yard.subscribe();
    let c1 = incoming(&yard, "+15550001").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let c2 = yard
        .create_call("+15550002".into(), "q", 0, Skills::new())
        .await
        .unwrap();
    let before = yard.inject_queue_panic("q").unwrap();
    eventually("queue actor replaced", async || {
        yard.actor_ids("a0", "q").1.is_some_and(|q| q != before)
    })
    .await;
    eventually("line rebuilt", async || {
        yard.unassigned(None, crate::Sort::Oldest)
            .await
            .unwrap()
            .len()
            == 2
    })
    .await;
    // Routing works again: the agent becomes ready and gets the older call.
    yard.set_status("a0", Some(Status::Ready), None)
        .await
        .unwrap();
    let offer = wait_for(&mut rx, "offer", |e| e["type"] == "call.offered").await;
    assert_eq!(offer["call_id"], c1.id().as_str());
    let queues = yard.queues().await.unwrap();
    assert_eq!(
        (
            queues[0].counters.waiting,
            queues[0].counters.offering,
            queues[0].counters.agents_on_call
        ),
        (1, 1, 1)
    );
    assert_ne!(c1.id(), c2.id());
}

/// A queue that restarts while an agent saves its reservation never offers that call: the
/// reservation must be let go at once, not left until the agent's watchdog (the offer timeout
/// and a grace), and the new queue routes the call to the agent.
#[tokio::test]
async fn a_reservation_in_flight_when_its_queue_restarts_frees_the_agent_for_the_new_queue() {
    let (yard, store) = with_faults().await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 1).await;
    let faults = store.faults().unwrap();
    faults.hold_agent_commits(true);
    // The call's creation commits with the agent's reservation (it is enqueued while its
    // creation commits): it is acknowledged once the commits are let go.
    let create = tokio::spawn({
        let yard = yard.clone();
        async move { incoming(&yard, "+15550001").await }
    });
    // The queue reserved the agent, whose step waits on its commit.
    eventually("the call reserved", async || {
        yard.queues().await.unwrap()[0].counters.offering == 1
    })
    .await;
    let before = yard.inject_queue_panic("q").unwrap();
    eventually("queue actor replaced", async || {
        yard.actor_ids("a0", "q").1.is_some_and(|q| q != before)
    })
    .await;
    faults.hold_agent_commits(false);
    let id = create.await.unwrap().id().as_str().to_owned();
    let offered = tokio::time::timeout(
        Duration::from_secs(5),
        wait_for(&mut rx, "offer", is("call.offered", &id, "a0")),
    )
    .await;
    assert!(offered.is_ok(), "the agent was not freed for the new queue");
    let view = yard.agent("a0").await.unwrap();
    assert_eq!(
        (view.status, view.call_id.as_ref().map(|c| c.as_str())),
        (Status::Offered, Some(id.as_str()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_call_fires_at_its_time_as_a_callback_in_its_queue() {
    let yard = engine_with(config("longest-idle", 1, "")).await;
    let mut rx = yard.subscribe();
    let at = yard.now() + Duration::from_secs(300);
    let s = yard
        .schedule("+15550042", "q", at, Some("a0"))
        .await
        .unwrap();
    let created = wait_for(&mut rx, "scheduled call", |e| {
        e["type"] == "call.created" && e["from"] == "+15550042"
    })
    .await;
    assert_eq!(created["at"].as_i64().unwrap(), at.0, "fired on time");
    let call = yard
        .call(created["call_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (call.kind(), call.related()),
        (
            engine::call::CallKind::Callback,
            &[format!("schedule:{}", s.id)][..]
        )
    );
    let all = yard.schedules().await.unwrap();
    assert!(
        matches!(&all[0].state, engine::schedule::ScheduleState::Fired { call: c, .. } if c == call.id())
    );
}

#[tokio::test(start_paused = true)]
async fn a_schedule_due_while_the_server_was_down_fires_on_start() {
    let store = Store::memory();
    let yard = Switchyard::start(config("longest-idle", 1, ""), store.clone())
        .await
        .unwrap();
    let clock = *yard.clock();
    let at = yard.now() + Duration::from_secs(60);
    yard.schedule("+15550043", "q", at, None).await.unwrap();
    yard.shutdown().await;
    // Down for two minutes: the schedule's time passes with nobody running.
    tokio::time::advance(Duration::from_secs(120)).await;
    assert_eq!(
        store.schedules(true).await.unwrap().len(),
        1,
        "still pending in the store"
    );
    let same_clock = crate::StartOptions {
        clock: Some(clock),
        ..Default::default()
    };
    let yard = Switchyard::start_with(config("longest-idle", 1, ""), store.clone(), same_clock)
        .await
        .unwrap();
    eventually("fired on start", async || {
        store.schedules(true).await.unwrap().is_empty()
    })
    .await;
    let waiting = yard.unassigned(None, crate::Sort::Oldest).await.unwrap();
    let fired = yard.call(waiting[0].call_id.as_str()).await.unwrap();
    assert_eq!(fired.from(), "+15550043");
    assert!(fired.created_at() > at, "it fired late, at start");
}

fn config_with_group(strategy: &str) -> Config {
    let mut c = config("longest-idle", 4, "");
    c.groups = vec![crate::config::GroupConfig {
        id: "billing".into(),
        name: None,
        strategy: serde_json::from_value(serde_json::json!(strategy)).unwrap(),
        members: vec!["a1".into(), "a2".into(), "a3".into()],
    }];
    c
}

/// A call answered by a0 while everyone else is offline.
pub(crate) async fn answered_by_a0(yard: &Switchyard, rx: &mut Receiver<Event>) -> String {
    let id = offered_to_a0(yard, rx).await;
    yard.accept(&id, "a0").await.unwrap();
    id
}

/// a0 Ready, a call comes in and rings her: its id.
pub(crate) async fn offered_to_a0(yard: &Switchyard, rx: &mut Receiver<Event>) -> String {
    all_ready(yard, 1).await;
    let id = incoming(yard, "+15550001").await.id().to_string();
    wait_for(rx, "offer to a0", is("call.offered", &id, "a0")).await;
    id
}

#[tokio::test(start_paused = true)]
async fn a_sequential_group_transfer_rings_members_in_turn_then_falls_back_to_the_queue() {
    use crate::Control;
    use engine::call::Target;
    let yard = Switchyard::start(config_with_group("sequential"), Store::memory())
        .await
        .unwrap();
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    for a in ["a1", "a2"] {
        yard.set_status(a, Some(Status::Ready), None).await.unwrap();
    }
    let group = Target::Group {
        id: "billing".into(),
    };
    let c = yard
        .control(&id, "a0", Control::Transfer(group))
        .await
        .unwrap();
    assert_eq!(
        c.offered(),
        [engine::AgentId::from("a1")],
        "sequential: the first available member"
    );
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::AfterService);
    wait_for(
        &mut rx,
        "a1 rings out",
        is("call.offer_timed_out", &id, "a1"),
    )
    .await;
    wait_for(&mut rx, "then a2", is("call.offered", &id, "a2")).await;
    yard.decline(&id, "a2", None).await.unwrap();
    // a3 is offline: nobody left in the group; the call goes to its queue, not back to a0.
    wait_for(&mut rx, "fallback", |e| {
        e["type"] == "call.transfer_failed" && e["call_id"] == id.as_str()
    })
    .await;
    let c = yard.call(&id).await.unwrap();
    assert_eq!((c.state(), c.agent()), (CallState::Waiting, None));
    assert_eq!(
        yard.unassigned(None, crate::Sort::Oldest)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_sender_takes_back_a_ringing_transfer() {
    use crate::Control;
    use engine::call::Target;
    let yard = Switchyard::start(config_with_group("simultaneous"), Store::memory())
        .await
        .unwrap();
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    for a in ["a1", "a2"] {
        yard.set_status(a, Some(Status::Ready), None).await.unwrap();
    }
    let c = yard
        .control(
            &id,
            "a0",
            Control::Transfer(Target::Group {
                id: "billing".into(),
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        c.offered().len(),
        2,
        "simultaneous: every available member rings"
    );
    let back = yard.control(&id, "a0", Control::TakeBack).await.unwrap();
    assert_eq!(
        (back.state(), back.agent().map(|a| a.as_str())),
        (CallState::Connected, Some("a0"))
    );
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::InService);
    for a in ["a1", "a2"] {
        wait_for(&mut rx, "withdrawn", |e| {
            e["type"] == "agent.status" && e["agent"] == a && e["to"] == "ready"
        })
        .await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_consult_to_a_queue_rings_the_agent_its_strategy_picks() {
    use crate::Control;
    use engine::call::Target;
    let mut conf = config(
        "sequential",
        3,
        "[[queues]]\nid = \"experts\"\nstrategy = \"sequential\"\n",
    );
    conf.agents[2].queues.push("experts".into());
    conf.agents[1].queues.push("experts".into());
    let yard = Switchyard::start(conf, Store::memory()).await.unwrap();
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    yard.set_status("a2", Some(Status::Ready), None)
        .await
        .unwrap();
    let c = yard
        .control(
            &id,
            "a0",
            Control::Consult(Target::Queue {
                id: "experts".into(),
            }),
        )
        .await
        .unwrap();
    assert!(c.held());
    assert_eq!(
        c.consult().unwrap().agent.as_ref().map(|a| a.as_str()),
        Some("a2"),
        "a1 is offline"
    );
    // Unanswered, the consult rings out; the customer stays held for a0 to resume.
    wait_for(&mut rx, "consult rings out", |e| {
        e["type"] == "call.consult_ended" && e["reason"] == "not_answered"
    })
    .await;
    let c = yard.call(&id).await.unwrap();
    assert!(c.held() && c.consult().is_none());
    yard.control(&id, "a0", Control::Resume).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_consult_to_a_group_rings_one_member_whatever_its_strategy() {
    use crate::Control;
    use engine::call::Target;
    let yard = Switchyard::start(config_with_group("simultaneous"), Store::memory())
        .await
        .unwrap();
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    for a in ["a1", "a2", "a3"] {
        yard.set_status(a, Some(Status::Ready), None).await.unwrap();
    }
    let c = yard
        .control(
            &id,
            "a0",
            Control::Consult(Target::Group {
                id: "billing".into(),
            }),
        )
        .await
        .unwrap();
    let consulted = c.consult().unwrap().agent.clone().unwrap();
    let ringing: Vec<_> = yard
        .agents()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.status == Status::Offered)
        .map(|a| a.id)
        .collect();
    assert_eq!(ringing, [consulted], "only the consulted member rings");
}

#[tokio::test(start_paused = true)]
async fn a_schedule_whose_number_went_on_the_do_not_call_list_is_refused_when_due() {
    let yard = engine_with(config("longest-idle", 1, "")).await;
    let at = yard.now() + Duration::from_secs(60);
    let s = yard.schedule("+15550044", "q", at, None).await.unwrap();
    yard.compliance_add(engine::compliance::List::Dnc, "", "+15550044")
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(61)).await;
    eventually("refused when due", async || {
        let all = yard.schedules().await.unwrap();
        matches!(&all[0].state, engine::schedule::ScheduleState::Refused { reason } if reason == "compliance_dnc")
    })
    .await;
    assert!(
        yard.calls(None, 10).await.unwrap().is_empty(),
        "no call was made for {}",
        s.id
    );
}

#[tokio::test]
async fn the_stored_configuration_holds_no_password_or_secret() {
    let toml = format!(
        "{}\n[[users]]\nusername = \"zed\"\npassword = \"plain-pass-123\"\nrole = \"admin\"\n",
        crate::config::DEMO_TOML.replacen(
            "[cti]\n",
            "[cti]\nconnectors = [{ kind = \"webhook\", name = \"hook\", url = \"https://crm.example/hook\", secret = \"hook-secret-4567890123\" }, { kind = \"salesforce\", name = \"sf\", instance_url = \"https://x.my.salesforce.com\", access_token = \"sf-token-789\" }]\n",
            1,
        )
    );
    let config = Config::from_toml(&toml).unwrap();
    let store = Store::memory();
    let yard = Switchyard::start(config, store.clone()).await.unwrap();
    let stored = store.load_config().await.unwrap().expect("stored");
    for secret in [
        "plain-pass-123",
        "hook-secret-4567890123",
        "sf-token-789",
        "\"demo\"",
    ] {
        assert!(!stored.contains(secret), "{secret} is in {stored}");
    }
    // What is kept still names everything else.
    assert!(stored.contains("https://crm.example/hook") && stored.contains("zed"));
    drop(yard);
}

/// A call's id is written as `format!` would write it: `c`, the milliseconds in hex, then 16 hex
/// digits, whatever the values' widths.
#[test]
fn a_call_id_is_the_time_and_the_chance_in_hex() {
    for (now, r) in [
        (0, 0),
        (1, 0xf),
        (0x18f_a3c4_e2d1, u64::MAX),
        (u64::MAX, 0x0123_4567),
    ] {
        let text = crate::switchyard::call_id_text(now, r);
        assert_eq!(text, format!("c{now:x}{r:016x}"));
    }
}
