//! Routing under races (memory store, mostly on paused time): an agent steps away from a
//! ringing offer, declines into a status, loses a race to a hang-up; a transfer through a
//! queue's wrap-up; a new call's first event seen on another thread; a hang-up answered only
//! once its agent has taken it in, an answer that does not wait for a busy queue; a
//! reservation left unanswered; an agent counted on a call from her answer to a reservation;
//! an agent left ringing released by her watchdog.

use crate::tests::{
    all_ready, answered_by_a0, config, engine_with, eventually, incoming, is, offered_to_a0,
    wait_for, with_faults,
};
use crate::{ActorError, Control, Switchyard};
use engine::agent::Status;
use engine::call::{CallState, Party, Target};
use engine::AgentId;
use std::time::Duration;

fn at(e: &serde_json::Value) -> i64 {
    e["at"].as_i64().unwrap()
}

/// Whether an event is a0's status changing to `to`.
fn status(to: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |e| e["type"] == "agent.status" && e["agent"] == "a0" && e["to"] == to
}

#[tokio::test(start_paused = true)]
async fn an_agent_steps_away_while_ringing_and_the_call_moves_on_at_once() {
    let mut conf = config("sequential", 2, "");
    conf.custom_statuses = vec!["break".into()];
    let yard = Switchyard::start(conf, crate::store::Store::memory())
        .await
        .unwrap();
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    let id = incoming(&yard, "+15550001").await.id().to_string();
    wait_for(&mut rx, "offer to a0", is("call.offered", &id, "a0")).await;

    // One request: a0 is on its break at once (not busy, no no-answer delay)...
    let view = yard
        .set_status("a0", Some(Status::parse("break")), None)
        .await
        .unwrap();
    assert_eq!(view.status, Status::parse("break"));
    let away = wait_for(&mut rx, "step away", is("call.stepped_away", &id, "a0")).await;
    // ...and the call rings a1 at that same moment, not after the 18 s offer timeout.
    let next = wait_for(&mut rx, "offer to a1", is("call.offered", &id, "a1")).await;
    assert_eq!(at(&next), at(&away));
    assert!(yard.accept(&id, "a0").await.is_err(), "a0 no longer rings");
    yard.accept(&id, "a1").await.unwrap();
    let a0 = yard.agent("a0").await.unwrap();
    assert_eq!((a0.status, a0.call_id), (Status::parse("break"), None));
}

#[tokio::test(start_paused = true)]
async fn a_lone_agent_stepping_away_puts_the_call_back_in_line_and_ready_changes_nothing() {
    let yard = engine_with(config("sequential", 1, "")).await;
    let mut rx = yard.subscribe();
    let id = offered_to_a0(&yard, &mut rx).await;
    // Ready while ringing: still ringing.
    yard.set_status("a0", Some(Status::Ready), None)
        .await
        .unwrap();
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::Offered);
    yard.set_status("a0", Some(Status::Dnd), None)
        .await
        .unwrap();
    eventually("the call waits again", async || {
        let c = yard.call(&id).await.unwrap();
        c.state() == CallState::Waiting && c.offered().is_empty()
    })
    .await;
    // Nothing rings out later, and a0 back to Ready gets the call again at once.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::Dnd);
    yard.set_status("a0", Some(Status::Ready), None)
        .await
        .unwrap();
    wait_for(&mut rx, "offer again", |e| {
        e["type"] == "call.offered" && e["call_id"] == id.as_str() && e["agent"] == "a0"
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_decline_into_a_status_is_one_step_and_the_call_rings_the_next_agent() {
    let mut conf = config("sequential", 2, "");
    conf.custom_statuses = vec!["break".into()];
    let yard = Switchyard::start(conf, crate::store::Store::memory())
        .await
        .unwrap();
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    // Two calls wait: after a plain decline the second would be offered to a0 at once.
    let first = incoming(&yard, "+15550001").await.id().to_string();
    let second = incoming(&yard, "+15550002").await.id().to_string();
    wait_for(&mut rx, "offer to a0", is("call.offered", &first, "a0")).await;
    wait_for(&mut rx, "offer to a1", is("call.offered", &second, "a1")).await;
    let c = yard
        .decline(&first, "a0", Some(Status::parse("break")))
        .await
        .unwrap();
    assert!(
        c.offered().is_empty(),
        "the decline is in: {:?}",
        c.offered()
    );
    wait_for(&mut rx, "declined", is("call.declined", &first, "a0")).await;
    assert_eq!(
        yard.agent("a0").await.unwrap().status,
        Status::parse("break")
    );
    // Not ringing for it: refused, and nothing changed.
    let e = yard
        .decline(&second, "a0", Some(Status::Dnd))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ActorError::Rule(engine::Error::NotOffered(..))),
        "{e:?}"
    );
    assert_eq!(
        yard.agent("a0").await.unwrap().status,
        Status::parse("break")
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_transfer_through_a_queue_each_agent_wraps_up_under_its_own_queue() {
    // q: 30 s of wrap-up; experts: 5 s.
    let mut conf = config(
        "sequential",
        2,
        "[[queues]]\nid = \"experts\"\nstrategy = \"sequential\"\nwrap_up_limit_secs = 5\n",
    );
    conf.agents[1].queues = vec!["experts".into()];
    let yard = Switchyard::start(conf, crate::store::Store::memory())
        .await
        .unwrap();
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    yard.set_status("a1", Some(Status::Ready), None)
        .await
        .unwrap();
    let consult = Control::Consult(Target::Queue {
        id: "experts".into(),
    });
    yard.control(&id, "a0", consult).await.unwrap();
    yard.accept(&id, "a1").await.unwrap();
    let c = yard
        .control(&id, "a0", Control::ConsultComplete)
        .await
        .unwrap();
    assert_eq!(c.queue().as_str(), "experts");
    // The sender files the disposition of the call it wraps up (before: 403 not_owner).
    let data = engine::call::CallData {
        notes: "passed to an expert".into(),
        ..Default::default()
    };
    let c = yard.set_call_data(&id, "a0", data).await.unwrap();
    assert_eq!(c.data().notes, "passed to an expert");
    let ended = wait_for(&mut rx, "a0's wrap-up limit", |e| {
        e["type"] == "agent.status" && e["agent"] == "a0" && e["reason"] == "wrap_up_limit"
    })
    .await;
    let hung_up = yard.hangup(&id, Party::Customer).await.unwrap();
    let a1 = wait_for(&mut rx, "a1's wrap-up limit", |e| {
        e["type"] == "agent.status" && e["agent"] == "a1" && e["reason"] == "wrap_up_limit"
    })
    .await;
    let started = at(&ended) - 30_000;
    assert!(started > 0, "a0 got q's 30 s");
    assert_eq!(at(&a1) - hung_up.ended_at().unwrap().as_millis(), 5_000);
}

#[tokio::test(start_paused = true)]
async fn an_accept_that_loses_to_the_hang_up_is_a_call_over_never_an_outage() {
    let yard = engine_with(config("ring-all", 1, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 1).await;
    for i in 0..20 {
        let id = incoming(&yard, &format!("+1555000{i:02}"))
            .await
            .id()
            .to_string();
        wait_for(&mut rx, "offer", is("call.offered", &id, "a0")).await;
        // Either request may reach the call first: the hang-up's sent first in odd rounds
        // (the accept then waits in the mailbox of an actor that stops).
        let (accept, hangup) = if i % 2 == 0 {
            tokio::join!(yard.accept(&id, "a0"), yard.hangup(&id, Party::Customer))
        } else {
            let (h, a) = tokio::join!(yard.hangup(&id, Party::Customer), yard.accept(&id, "a0"));
            (a, h)
        };
        hangup.unwrap();
        match accept {
            Ok(_) => yard
                .hangup(&id, Party::Customer)
                .await
                .map(|_| ())
                .unwrap_or(()),
            Err(ActorError::CallOver(_) | ActorError::Rule(_)) => {}
            Err(e) => panic!("round {i}: the loser got {e:?}"),
        }
        eventually("a0 free again", async || {
            let s = yard.agent("a0").await.unwrap().status;
            if s == Status::AfterService {
                yard.end_wrap_up("a0").await.unwrap();
            }
            s == Status::Ready
        })
        .await;
    }
}

/// Every offer a call shows is one its agent rings for, and every ringing agent rings for a
/// call that shows it (checked once nothing is in flight).
pub(crate) async fn offers_agree(yard: &Switchyard, agents: usize) -> Result<(), String> {
    let calls = yard.calls(None, 1000).await.unwrap();
    for c in calls.iter().filter(|c| !c.state().is_final()) {
        for a in c.offered() {
            let v = yard.agent(a.as_str()).await.unwrap();
            if v.status != Status::Offered || v.call_id.as_ref() != Some(c.id()) {
                let steps: Vec<_> = c
                    .journey()
                    .iter()
                    .map(|e| format!("{} {:?}", e.at.as_millis(), e.event))
                    .collect();
                return Err(format!(
                    "call {} ({:?}, timeout {:?}, now {}) shows an offer to {a}, who is {} with {:?} since {}; journey {steps:#?}",
                    c.id(),
                    c.state(),
                    c.poll_timeout(),
                    yard.now().as_millis(),
                    v.status,
                    v.call_id,
                    v.since.as_millis()
                ));
            }
        }
    }
    for i in 0..agents {
        let v = yard.agent(&format!("a{i}")).await.unwrap();
        if v.status != Status::Offered {
            continue;
        }
        let call = v.call_id.clone().expect("a ringing agent has its call");
        let c = yard.call(call.as_str()).await.unwrap();
        let rings = c.offered().contains(&v.id) || c.consult().is_some_and(|k| k.is_ringing(&v.id));
        if !rings {
            return Err(format!(
                "a{i} rings for {call}, which shows {:?}",
                c.offered()
            ));
        }
    }
    Ok(())
}

/// Waits (10 s at most) until `n` agents ring.
async fn ringing(yard: &Switchyard, n: usize) {
    eventually("agents ringing", async || {
        let agents = yard.agents().await.unwrap();
        agents
            .iter()
            .filter(|a| a.status == Status::Offered)
            .count()
            >= n
    })
    .await;
}

/// On two threads in real time: the startup's orderings vary as in the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_every_offer_is_rung_and_every_ringing_is_offered() {
    let store = crate::store::Store::memory();
    let agents = 3;
    let conf = || config("longest-idle", agents, "");
    let yard = Switchyard::start(conf(), store.clone()).await.unwrap();
    let clock = *yard.clock();
    all_ready(&yard, agents).await;
    let mut yard = Some(yard);
    for round in 0..40 {
        let y = yard.take().unwrap();
        // Calls keep waiting; an agent declines just before the stop, in some rounds.
        for i in 0..2 {
            incoming(&y, &format!("+1555{round:03}{i}")).await;
        }
        // Every call this round added waits or rings: as many agents ring as there are calls.
        let calls = 2 * (round + 1);
        ringing(&y, agents.min(calls)).await;
        if round % 2 == 1 {
            let v = y.agent("a0").await.unwrap();
            if let (Status::Offered, Some(c)) = (v.status, v.call_id) {
                let _ = y.decline(c.as_str(), "a0", None).await;
            }
        }
        y.shutdown().await;
        let opts = crate::StartOptions {
            clock: Some(clock),
            ..Default::default()
        };
        let y = Switchyard::start_with(conf(), store.clone(), opts)
            .await
            .unwrap();
        // Once the restart's offers are made (everyone who can ring rings), a disagreement
        // seen while one is still on its way clears within milliseconds; a phantom lasts
        // until its offer times out (18 s). So fail only on one still there 2 s later.
        ringing(&y, agents.min(calls)).await;
        let mut tries = 0;
        while let Err(e) = offers_agree(&y, agents).await {
            tries += 1;
            assert!(tries < 40, "round {round}: {e}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        yard = Some(y);
    }
}

/// Whoever reacts to a new call's first event on another thread (a trunk's dialer to
/// `call.dialed`) finds its actor: the actor used to register only after publishing, and CI
/// saw a dialer told that the call it was to dial "has ended".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_calls_actor_is_found_by_whoever_reacts_to_its_first_event() {
    const DIALS: usize = 200;
    let yard = engine_with(config("sequential", 1, "outbound = true")).await;
    let mut rx = yard.subscribe();
    let (told, mut results) = tokio::sync::mpsc::unbounded_channel();
    let dialer = yard.clone();
    tokio::spawn(async move {
        while let Ok(e) = rx.recv().await {
            let e = e.to_json();
            if e["type"] == "call.dialed" {
                let id = e["call_id"].as_str().unwrap().to_owned();
                let r = dialer
                    .remote_over(&id, engine::call::Unreached::Failed)
                    .await;
                let _ = told.send(r.map(|c| c.state()));
            }
        }
    });
    for _ in 0..DIALS {
        yard.set_status("a0", Some(Status::Ready), None)
            .await
            .unwrap();
        yard.dial("a0", "+3225551234", None, None).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), results.recv())
            .await
            .expect("the dialer reacted")
            .expect("the dialer runs");
        assert_eq!(r.unwrap(), CallState::Ended);
    }
}

/// Reserves a0 for a call no actor has (`c-nobody`, in queue `q`), as a call reserving a
/// consult's agent would: her answer goes to `reply`.
fn reserve_a0_for_nobody(
    yard: &Switchyard,
    reply: ractor::concurrency::OneshotSender<Option<crate::store::Saving>>,
) {
    yard.agent_ref("a0")
        .unwrap()
        .cast(crate::agent_actor::AgentMsg::Reserve {
            call: "c-nobody".into(),
            queue: "q".into(),
            reply: crate::agent_actor::ReserveReply::Ask(reply.into()),
        })
        .unwrap();
}

/// A queue that stopped waiting for an agent's answer to its reservation (the agent was slow:
/// its database, say) counted the agent as refused: the agent must not take the reservation
/// when it gets to it, or it would ring for a call nobody offers it.
#[tokio::test(start_paused = true)]
async fn a_reservation_nobody_waits_for_any_more_is_not_taken() {
    let yard = engine_with(config("longest-idle", 1, "")).await;
    yard.set_status("a0", Some(Status::Ready), None)
        .await
        .unwrap();
    let (reply, gave_up) = ractor::concurrency::oneshot();
    drop(gave_up);
    reserve_a0_for_nobody(&yard, reply);
    let view = yard.agent("a0").await.unwrap();
    assert_eq!(view.status, Status::Ready, "not ringing: {view:?}");
}

/// An agent left ringing for a call whose end she never heard of (here a reservation for a
/// call that has no actor) is released by her ringing watchdog once the ringing outlasts any
/// offer (the queue's 18 s offer timeout and 5 s of grace), not before: also when the watchdog
/// still held an earlier ring's wake-up, which wakes her early and is armed again.
#[tokio::test(start_paused = true)]
async fn an_agent_left_ringing_is_released_by_her_watchdog_once_the_ringing_outlasts_any_offer() {
    let yard = engine_with(config("longest-idle", 1, "")).await;
    let mut rx = yard.subscribe();
    // A first ring, answered at once: its wake-up (23 s after it) stays pending.
    let id = answered_by_a0(&yard, &mut rx).await;
    yard.hangup(&id, Party::Customer).await.unwrap();
    yard.end_wrap_up("a0").await.unwrap();
    wait_for(&mut rx, "a0 in wrap-up", status("after_service")).await;
    wait_for(&mut rx, "a0 ready again", status("ready")).await;
    // Five seconds on (paused time), she rings for a call nobody will end: her check is due
    // 23 s after this ring began, 5 s after the first ring's wake-up.
    tokio::time::advance(Duration::from_secs(5)).await;
    let (reply, _waiting) = ractor::concurrency::oneshot();
    reserve_a0_for_nobody(&yard, reply);
    let rings = wait_for(&mut rx, "a0 rings for c-nobody", status("offered")).await;
    let released = wait_for(&mut rx, "a0 released", status("ready")).await;
    let after = at(&released) - at(&rings);
    assert!(
        (23_000..23_100).contains(&after),
        "released {after} ms after she began ringing (18,000: at the first ring's wake-up)"
    );
    let view = yard.agent("a0").await.unwrap();
    assert_eq!((view.status, view.call_id), (Status::Ready, None));
}

/// A hang-up is answered once its agent has taken the call's end in (the notice carries its own
/// answer, see `call_effects::Notices`): with her commits held she is still writing her wrap-up
/// and the answer waits for her; let go, it comes with her in wrap-up.
#[tokio::test]
async fn a_hang_up_is_answered_once_its_agent_has_taken_it_in() {
    let (yard, store) = with_faults().await;
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    let faults = store.faults().unwrap();
    let written = faults.agent_writes();
    faults.hold_agent_commits(true);
    let hangup = tokio::spawn({
        let (yard, id) = (yard.clone(), id.clone());
        async move { yard.hangup(&id, Party::Customer).await }
    });
    // The call's end is committed (its write carries no agent's) and told to the agent, who
    // hands her wrap-up to the store and waits for its commit: the hang-up waits for her.
    assert!(
        faults
            .agent_writes_reach(written + 1, Duration::from_secs(5))
            .await
    );
    assert!(
        !hangup.is_finished(),
        "the hang-up was answered before its agent took it in"
    );
    faults.hold_agent_commits(false);
    let ended = hangup.await.unwrap().unwrap();
    assert_eq!(ended.state(), CallState::Ended);
    assert_eq!(yard.agent("a0").await.unwrap().status, Status::AfterService);
}

/// A hang-up whose agent's actor fails with the call's end unread is answered all the same, with
/// the saved call: the notice's share of the answer goes with her mailbox. Not before: the
/// answer waits for her (busy for a while first), not for a timer.
#[tokio::test(start_paused = true)]
async fn a_hang_up_is_answered_when_its_agent_fails_with_the_notice_unread() {
    let yard = engine_with(config("sequential", 1, "")).await;
    let mut rx = yard.subscribe();
    let id = answered_by_a0(&yard, &mut rx).await;
    let a0 = yard.agent_ref("a0").unwrap();
    let busy = Duration::from_secs(3);
    a0.cast(crate::agent_actor::AgentMsg::Stall(busy)).unwrap();
    a0.cast(crate::agent_actor::AgentMsg::Panic).unwrap();
    let start = tokio::time::Instant::now();
    let ended = yard.hangup(&id, Party::Customer).await.unwrap();
    assert_eq!(ended.state(), CallState::Ended);
    assert!(
        start.elapsed() >= busy,
        "answered before she got to it: {:?}",
        start.elapsed()
    );
    // Her actor did fail (the notice, behind the panic in her mailbox, went with it): another
    // one stands in for her.
    eventually("her actor is started again", async || {
        yard.agent_ref("a0")
            .is_ok_and(|r| r.get_id() != a0.get_id())
    })
    .await;
}

/// An answer is not held back for a queue: with the queue's actor busy, the answer of an offer
/// comes at once (no time passes), and the queue's counters, read after it, count the call
/// answered all the same (the read waits behind the notice in the queue's mailbox).
#[tokio::test(start_paused = true)]
async fn an_answer_does_not_wait_for_a_busy_queue_whose_counters_then_show_it() {
    let yard = engine_with(config("sequential", 1, "")).await;
    let mut rx = yard.subscribe();
    let id = offered_to_a0(&yard, &mut rx).await;
    // Busy for less than an ask waits (`ASK_TIMEOUT`), so that the read after it is answered.
    let busy = Duration::from_secs(3);
    yard.stall_queue("q", busy);
    let start = tokio::time::Instant::now();
    let answered = yard.accept(&id, "a0").await.unwrap();
    assert_eq!(answered.state(), CallState::Connected);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the answer waited for the queue"
    );
    let counters = yard.queues().await.unwrap()[0].counters.clone();
    assert!(start.elapsed() >= busy, "the read went past the busy queue");
    assert_eq!((counters.answered, counters.offering), (1, 0));
}

/// An agent who does not answer her reservation (her actor is busy elsewhere) counts as having
/// refused once the queue's deadline for it passes: the call rings the next agent then, not
/// when she gets to it, and her answer, when it comes at last, only releases her.
#[tokio::test(start_paused = true)]
async fn a_reservation_left_unanswered_is_given_up_and_the_call_rings_the_next_agent() {
    let yard = engine_with(config("sequential", 2, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    let stall = Duration::from_secs(60);
    let a0 = yard.agent_ref("a0").unwrap();
    a0.cast(crate::agent_actor::AgentMsg::Stall(stall)).unwrap();
    let start = tokio::time::Instant::now();
    let id = incoming(&yard, "+15550001").await.id().to_string();
    wait_for(&mut rx, "offer to a1", is("call.offered", &id, "a1")).await;
    let waited = start.elapsed();
    assert!(
        waited >= engine::queue::RESERVATION_TIMEOUT && waited < stall,
        "given up at the deadline, not before and not once a0 answered: {waited:?}"
    );
    // a0 gets to her reservation at last (she rings for it), the queue finds it stale and
    // releases her.
    wait_for(&mut rx, "a0 takes the reservation", status("offered")).await;
    wait_for(&mut rx, "a0 released", status("ready")).await;
    let a0 = yard.agent("a0").await.unwrap();
    assert_eq!((a0.status, a0.call_id), (Status::Ready, None));
    yard.accept(&id, "a1").await.unwrap();
}

/// An agent whose actor fails with a reservation unread still answers it: the answer, dropped
/// with her mailbox, says refused, so the call rings the next agent at once rather than at the
/// queue's deadline.
#[tokio::test(start_paused = true)]
async fn a_reservation_dropped_unread_with_a_failed_agent_is_refused_at_once() {
    let yard = engine_with(config("sequential", 2, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    let a0 = yard.agent_ref("a0").unwrap();
    // Busy while the reservation comes, then failing before she reads it.
    a0.cast(crate::agent_actor::AgentMsg::Stall(Duration::from_secs(1)))
        .unwrap();
    a0.cast(crate::agent_actor::AgentMsg::Panic).unwrap();
    let start = tokio::time::Instant::now();
    let id = incoming(&yard, "+15550001").await.id().to_string();
    wait_for(&mut rx, "offer to a1", is("call.offered", &id, "a1")).await;
    let waited = start.elapsed();
    assert!(
        waited < engine::queue::RESERVATION_TIMEOUT,
        "refused when her mailbox was dropped, not at the deadline: {waited:?}"
    );
}

/// A queue counts its member as ringing from the moment it reserves her: a single agent's yes
/// goes to the call, not to the queue, so its counters say so while her reservation is still
/// committing (before her own status event), not only once a member update follows it.
#[tokio::test]
async fn a_queue_counts_its_agent_on_a_call_from_her_answer_before_her_reservation_commits() {
    let (yard, store) = with_faults().await;
    all_ready(&yard, 1).await;
    let mut rx = yard.subscribe();
    let faults = store.faults().unwrap();
    faults.hold_agent_commits(true);
    let create = tokio::spawn({
        let yard = yard.clone();
        async move { incoming(&yard, "+15550001").await }
    });
    eventually("the queue counts her on a call", async || {
        let c = yard.queues().await.unwrap()[0].counters.clone();
        (c.offering, c.agents_ready, c.agents_on_call) == (1, 0, 1)
    })
    .await;
    while let Ok(e) = rx.try_recv() {
        let e = e.to_json();
        assert!(
            !(e["type"] == "agent.status" && e["to"] == "offered"),
            "her reservation was still to commit"
        );
    }
    faults.hold_agent_commits(false);
    let id = create.await.unwrap().id().to_string();
    wait_for(&mut rx, "the offer", is("call.offered", &id, "a0")).await;
}

/// A single agent's yes to her reservation goes to the call, so her queue does not hear that
/// she rings: when the reservation's deadline passes with the call ringing her (an offer rings
/// longer than the deadline), the call keeps ringing her, nobody else is reserved for it, and
/// she answers it.
#[tokio::test(start_paused = true)]
async fn a_call_ringing_past_its_reservations_deadline_keeps_ringing_its_agent() {
    let yard = engine_with(config("sequential", 2, "offer_timeout_secs = 30")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 2).await;
    let id = incoming(&yard, "+15550001").await.id().to_string();
    wait_for(&mut rx, "offer to a0", is("call.offered", &id, "a0")).await;
    // Past the deadline by steps, each letting whatever it set off run (a re-dispatch would
    // reserve a1 and ring her within a few messages).
    for _ in 0..30 {
        tokio::time::advance(engine::queue::RESERVATION_TIMEOUT / 10).await;
    }
    let call = yard.call(&id).await.unwrap();
    assert_eq!(call.offered(), [AgentId::from("a0")], "still ringing a0");
    let a1 = yard.agent("a1").await.unwrap();
    assert_eq!(
        (a1.status, a1.call_id),
        (Status::Ready, None),
        "a1 never reserved"
    );
    let c = yard.queues().await.unwrap()[0].counters.clone();
    assert_eq!((c.offering, c.waiting, c.agents_on_call), (1, 0, 1));
    yard.accept(&id, "a0").await.unwrap();
    while let Ok(e) = rx.try_recv() {
        let e = e.to_json();
        assert!(
            !(e["type"] == "agent.status" && e["agent"] == "a1" && e["to"] == "offered"),
            "a1 was offered the call: {e}"
        );
    }
}

/// A single agent's yes that comes after her reservation's deadline, with the call back in
/// line, is stale: the call refused the reservation for her at the deadline, so it does not
/// ring her from it (the queue would count the call waiting while it rang); she is released,
/// reports ready, and the queue reserves her again, and then the call rings her.
#[tokio::test(start_paused = true)]
async fn a_yes_after_the_reservations_deadline_is_stale_and_the_queue_reserves_her_again() {
    let yard = engine_with(config("sequential", 1, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 1).await;
    let a0 = yard.agent_ref("a0").unwrap();
    let stall = engine::queue::RESERVATION_TIMEOUT + Duration::from_secs(3);
    a0.cast(crate::agent_actor::AgentMsg::Stall(stall)).unwrap();
    let id = incoming(&yard, "+15550001").await.id().to_string();
    wait_for(&mut rx, "a0 takes the late reservation", status("offered")).await;
    let rung = is("call.offered", &id, "a0");
    let next = wait_for(&mut rx, "a0 released or rung", |e| {
        status("ready")(e) || rung(e)
    })
    .await;
    assert_eq!(
        next["type"], "agent.status",
        "her late yes rang her: {next}"
    );
    wait_for(&mut rx, "the offer to a0", rung).await;
    let c = yard.queues().await.unwrap()[0].counters.clone();
    assert_eq!(
        (c.offering, c.waiting),
        (1, 0),
        "the queue rings the call it offered"
    );
    yard.accept(&id, "a0").await.unwrap();
}

/// A queue restarted by its supervisor numbers its reservations apart from the queue it
/// replaces: a call keeps the reservations it refused for a silent agent as stale, and the new
/// queue's first reservation of the same agent for the same call (which a queue numbering from
/// zero again would number as the refused one) rings her as soon as she is back.
#[tokio::test(start_paused = true)]
async fn a_restarted_queue_never_reserves_under_a_number_its_call_refused() {
    let yard = engine_with(config("sequential", 1, "")).await;
    let mut rx = yard.subscribe();
    all_ready(&yard, 1).await;
    let stall = engine::queue::RESERVATION_TIMEOUT + Duration::from_secs(3);
    let start = tokio::time::Instant::now();
    let a0 = yard.agent_ref("a0").unwrap();
    a0.cast(crate::agent_actor::AgentMsg::Stall(stall)).unwrap();
    let id = incoming(&yard, "+15550001").await.id().to_string();
    // Her reservation lapses: the call refuses it for her and is back in line.
    eventually("the reservation lapsed", async || {
        let c = yard.queues().await.unwrap()[0].counters.clone();
        (c.waiting, c.offering) == (1, 0)
    })
    .await;
    let before = yard.inject_queue_panic("q").unwrap();
    eventually("queue actor replaced", async || {
        yard.actor_ids("a0", "q").1.is_some_and(|q| q != before)
    })
    .await;
    wait_for(&mut rx, "the offer to a0", is("call.offered", &id, "a0")).await;
    let waited = start.elapsed();
    assert!(
        waited < stall + engine::queue::RESERVATION_TIMEOUT,
        "rung once she was back, not after another deadline: {waited:?}"
    );
    yard.accept(&id, "a0").await.unwrap();
}
