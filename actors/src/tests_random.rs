//! A randomized routing test (paused time, memory store): statuses, calls, accepts,
//! declines, hang-ups, wrap-ups, time passing and process restarts in a seeded random order,
//! with the routing invariants checked after every step.

use crate::tests::{config, incoming};
use crate::tests_routing::offers_agree;
use crate::{StartOptions, Switchyard};
use engine::agent::Status;
use engine::call::{CallState, Party};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::Duration;

const AGENTS: usize = 4;
const STEPS: usize = 250;

fn agent(i: usize) -> String {
    format!("a{i}")
}

/// What the test knows: the status each agent last chose, the calls it created.
struct Model {
    chosen: HashMap<String, Status>,
    calls: Vec<String>,
}

/// The invariants: every offer is rung and every ringing offered; no agent on two calls; no
/// call lost (each open call is waiting in its line, ringing, or with its agent); every agent
/// is in the status it last chose or one a rule put it in.
///
/// The reads are not one snapshot: a timer due at this very instant may fire between two of
/// them. A broken invariant is one still broken a moment later (a phantom offer would last
/// until its offer timeout).
async fn check(yard: &Switchyard, m: &Model, step: usize, what: &str) {
    if let Err(first) = invariants(yard, m).await {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if let Err(e) = invariants(yard, m).await {
            panic!("step {step} ({what}): {e}\n(first seen as: {first})");
        }
    }
}

async fn invariants(yard: &Switchyard, m: &Model) -> Result<(), String> {
    offers_agree(yard, AGENTS).await?;
    let waiting: Vec<String> = yard
        .unassigned(None, crate::Sort::Oldest)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.call_id.to_string())
        .collect();
    let mut owners: HashMap<String, String> = HashMap::new();
    for id in &m.calls {
        let c = yard.call(id).await.unwrap();
        match c.state() {
            CallState::Waiting if !waiting.contains(id) => {
                return Err(format!("{id} waits but is in no line"));
            }
            CallState::Connected => {
                let a = c
                    .agent()
                    .expect("a connected call has its agent")
                    .to_string();
                if let Some(other) = owners.insert(a.clone(), id.clone()) {
                    return Err(format!("{a} is on {other} and {id}"));
                }
                let v = yard.agent(&a).await.unwrap();
                if v.call_id.as_ref() != Some(c.id()) || v.status != Status::InService {
                    return Err(format!(
                        "{id} is with {a}, who is {} on {:?}",
                        v.status, v.call_id
                    ));
                }
            }
            _ => {}
        }
    }
    for (a, chosen) in &m.chosen {
        let v = yard.agent(a).await.unwrap();
        let by_rule = matches!(
            v.status,
            Status::Offered | Status::InService | Status::AfterService | Status::Busy
        ) || (v.status == Status::Ready && *chosen == Status::Ready);
        if !by_rule && v.status != *chosen {
            return Err(format!("{a} chose {chosen} but is {}", v.status));
        }
    }
    Ok(())
}

async fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let store = crate::store::Store::memory();
    let conf = || {
        let mut c = config("longest-idle", AGENTS, "");
        c.custom_statuses = vec!["break".into()];
        c
    };
    let mut yard = Switchyard::start(conf(), store.clone()).await.unwrap();
    let clock = *yard.clock();
    let mut m = Model {
        chosen: (0..AGENTS).map(|i| (agent(i), Status::Offline)).collect(),
        calls: Vec::new(),
    };
    let choices = [
        Status::Ready,
        Status::Ready,
        Status::Dnd,
        Status::parse("break"),
    ];
    for step in 0..STEPS {
        let a = agent(rng.gen_range(0..AGENTS));
        let view = yard.agent(&a).await.unwrap();
        let what = match rng.gen_range(0..10) {
            0 | 1 => {
                let s = choices[rng.gen_range(0..choices.len())].clone();
                if yard.set_status(&a, Some(s.clone()), None).await.is_ok() {
                    m.chosen.insert(a.clone(), s);
                }
                "status"
            }
            2 => {
                let c = incoming(&yard, &format!("+1555{seed:02}{step:04}")).await;
                m.calls.push(c.id().to_string());
                "call"
            }
            3 | 4 => {
                if let (Status::Offered, Some(c)) = (&view.status, &view.call_id) {
                    let _ = yard.accept(c.as_str(), &a).await;
                }
                "accept"
            }
            5 => {
                if let (Status::Offered, Some(c)) = (&view.status, &view.call_id) {
                    let then = rng.gen_bool(0.5).then(|| Status::parse("break"));
                    if yard.decline(c.as_str(), &a, then.clone()).await.is_ok() {
                        if let Some(s) = then {
                            m.chosen.insert(a.clone(), s);
                        }
                    }
                }
                "decline"
            }
            6 => {
                if let Some(id) = m.calls.get(rng.gen_range(0..m.calls.len().max(1))) {
                    let by = if rng.gen_bool(0.5) {
                        Party::Customer
                    } else {
                        Party::Agent {
                            agent: a.as_str().into(),
                        }
                    };
                    let _ = yard.hangup(id, by).await;
                }
                "hang-up"
            }
            7 => {
                if view.status == Status::AfterService {
                    yard.end_wrap_up(&a).await.unwrap();
                }
                "end wrap-up"
            }
            8 => {
                tokio::time::sleep(Duration::from_secs(rng.gen_range(1..25))).await;
                "time passes"
            }
            _ => {
                if rng.gen_bool(0.3) {
                    yard.shutdown().await;
                    let opts = StartOptions {
                        clock: Some(clock),
                        ..Default::default()
                    };
                    yard = Switchyard::start_with(conf(), store.clone(), opts)
                        .await
                        .unwrap();
                    "restart"
                } else {
                    "nothing"
                }
            }
        };
        // Whatever is in flight lands (no offer rings out in 50 ms).
        tokio::time::sleep(Duration::from_millis(50)).await;
        check(&yard, &m, step, what).await;
    }
}

#[tokio::test(start_paused = true)]
async fn routing_invariants_hold_through_random_statuses_calls_races_and_restarts() {
    for seed in 1..=6 {
        run(seed).await;
    }
}
