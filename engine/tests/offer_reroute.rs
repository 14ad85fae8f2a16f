//! The A3 scenario across the three state machines, wired by hand the way the actors wire
//! them: an 18 s offer rings out, the call is rerouted to the next agent, the first agent is
//! Busy for 7 s, and when it is alone the call is offered to it again after that delay.

use engine::agent::{Agent, Status};
use engine::call::{Call, CallState};
use engine::queue::{OfferEnd, Queue, QueueSettings};
use engine::routing::{Skills, Strategy};
use engine::{AgentId, Timestamp};

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn ready(name: &str) -> Agent {
    let mut a = Agent::new(name.into(), t(0));
    a.set_status(t(0), Some(Status::Ready), None, &[]).unwrap();
    a
}

/// Routes one step: dispatches the queue, offers to the chosen agent, returns whom.
fn route(q: &mut Queue, call: &mut Call, agents: &mut [Agent], now: Timestamp) -> Option<AgentId> {
    for a in agents.iter() {
        q.update_member(a.id(), a.availability());
    }
    let assignment = q.dispatch(now).pop()?;
    let chosen = assignment.agents[0].clone();
    let agent = agents.iter_mut().find(|a| a.id() == &chosen).unwrap();
    agent.offer(now, call.id().clone(), q.id().clone()).unwrap();
    call.offer(now, assignment.agents, q.settings().offer_timeout)
        .unwrap();
    Some(chosen)
}

fn ring_out(q: &mut Queue, call: &mut Call, agents: &mut [Agent], now: Timestamp) -> AgentId {
    assert_eq!(call.poll_timeout(), Some(now));
    let missed = call.handle_timeout(now).missed.pop().unwrap();
    let agent = agents.iter_mut().find(|a| a.id() == &missed).unwrap();
    agent
        .offer_missed(now, call.id(), q.settings().no_answer_delay)
        .unwrap();
    q.offer_ended(now, call.waiting_call(), OfferEnd::Missed);
    missed
}

#[test]
fn unanswered_offer_reroutes_then_returns_to_the_lone_agent_after_the_delay() {
    let members = vec![
        ("alice".into(), Skills::new()),
        ("bob".into(), Skills::new()),
    ];
    let mut q = Queue::new(
        "support".into(),
        QueueSettings::default(),
        Strategy::Sequential,
        members,
    );
    let mut agents = vec![ready("alice"), ready("bob")];
    let mut call = Call::new(
        "c1".into(),
        t(1_000),
        "+15551230001".into(),
        "support".into(),
        0,
        Skills::new(),
    );
    q.enqueue(call.waiting_call());

    assert_eq!(
        route(&mut q, &mut call, &mut agents, t(1_000))
            .unwrap()
            .as_str(),
        "alice"
    );
    // 18 s later alice has not answered: she is Busy for 7 s and bob gets the call.
    assert_eq!(
        ring_out(&mut q, &mut call, &mut agents, t(19_000)).as_str(),
        "alice"
    );
    assert_eq!(agents[0].status(), &Status::Busy);
    assert_eq!(
        route(&mut q, &mut call, &mut agents, t(19_000))
            .unwrap()
            .as_str(),
        "bob"
    );

    // bob lets it ring out too, and goes offline: alice is alone.
    ring_out(&mut q, &mut call, &mut agents, t(37_000));
    agents[1].handle_timeout(t(44_000));
    agents[1]
        .set_status(t(44_000), Some(Status::Offline), None, &[])
        .unwrap();
    agents[0].handle_timeout(t(25_999));
    assert_eq!(
        agents[0].status(),
        &Status::Busy,
        "still inside the 7 s delay"
    );
    agents[0].handle_timeout(t(26_000));
    assert_eq!(agents[0].status(), &Status::Ready);
    assert_eq!(
        route(&mut q, &mut call, &mut agents, t(44_000))
            .unwrap()
            .as_str(),
        "alice"
    );

    agents[0].answered(t(45_000), call.id()).unwrap();
    call.accept(t(45_000), &"alice".into()).unwrap();
    assert_eq!(call.state(), CallState::Connected);
}

#[test]
fn alone_agent_is_offered_the_same_call_again_exactly_when_the_delay_ends() {
    let members = vec![("alice".into(), Skills::new())];
    let mut q = Queue::new(
        "support".into(),
        QueueSettings::default(),
        Strategy::LongestIdle,
        members,
    );
    let mut agents = vec![ready("alice")];
    let mut call = Call::new(
        "c1".into(),
        t(0),
        "+15551230001".into(),
        "support".into(),
        0,
        Skills::new(),
    );
    q.enqueue(call.waiting_call());
    route(&mut q, &mut call, &mut agents, t(0)).unwrap();
    ring_out(&mut q, &mut call, &mut agents, t(18_000));
    assert!(
        route(&mut q, &mut call, &mut agents, t(18_000)).is_none(),
        "nobody else is free"
    );
    assert_eq!(agents[0].poll_timeout().unwrap().0, t(25_000));
    agents[0].handle_timeout(t(25_000));
    assert_eq!(
        route(&mut q, &mut call, &mut agents, t(25_000))
            .unwrap()
            .as_str(),
        "alice"
    );
}
