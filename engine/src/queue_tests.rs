//! Tests of the queue state machine, in virtual time.

use super::*;

fn t(s: i64) -> Timestamp {
    Timestamp::from_millis(s * 1000)
}
fn avail(idle: i64) -> Availability {
    Availability {
        status: Status::Ready,
        available: true,
        idle_since: t(idle),
        calls_handled: 0,
        talk_time_ms: 0,
    }
}
fn busy() -> Availability {
    Availability {
        status: Status::InService,
        available: false,
        idle_since: t(0),
        calls_handled: 0,
        talk_time_ms: 0,
    }
}
fn call(id: &str, priority: i32, at: i64) -> WaitingCall {
    WaitingCall {
        call: id.into(),
        priority,
        skills: Skills::new(),
        enqueued_at: t(at),
        excluded: vec![],
        caller: format!("+{at}").into(),
        attributes: Default::default(),
    }
}
fn queue(strategy: Strategy, members: &[&str]) -> Queue {
    let members = members
        .iter()
        .map(|m| (AgentId::from(*m), Skills::new()))
        .collect();
    Queue::new(
        "support".into(),
        QueueSettings::default(),
        strategy,
        members,
    )
}
fn pairs(a: Vec<Assignment>) -> Vec<(String, Vec<String>)> {
    a.into_iter()
        .map(|a| {
            (
                a.call.to_string(),
                a.agents.into_iter().map(|x| x.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn higher_priority_jumps_the_line_and_equal_priority_is_oldest_first() {
    let mut q = queue(Strategy::Sequential, &["a"]);
    q.enqueue(call("old", 0, 1));
    q.enqueue(call("new", 0, 2));
    q.enqueue(call("vip", 5, 3));
    let order: Vec<_> = q.waiting().map(|c| c.call.to_string()).collect();
    assert_eq!(order, ["vip", "old", "new"]);
    q.update_member(&"a".into(), avail(0));
    assert_eq!(
        pairs(q.dispatch(t(4))),
        [("vip".to_string(), vec!["a".to_string()])]
    );
}

#[test]
fn a_missed_offer_returns_the_call_to_its_place_and_reroutes_it() {
    let mut q = queue(Strategy::LongestIdle, &["a", "b"]);
    q.update_member(&"a".into(), avail(0));
    q.update_member(&"b".into(), avail(5));
    q.enqueue(call("c1", 0, 10));
    assert_eq!(
        pairs(q.dispatch(t(10))),
        [("c1".to_string(), vec!["a".to_string()])]
    );
    q.enqueue(call("c2", 0, 11));
    assert_eq!(
        pairs(q.dispatch(t(11))),
        [("c2".to_string(), vec!["b".to_string()])]
    );
    // a misses c1 and goes Busy; c1 is back ahead of anything newer.
    q.update_member(
        &"a".into(),
        Availability {
            status: Status::Busy,
            available: false,
            ..avail(0)
        },
    );
    q.offer_ended(t(28), call("c1", 0, 10), OfferEnd::Missed);
    q.enqueue(call("c3", 0, 20));
    assert_eq!(q.waiting().next().unwrap().call.as_str(), "c1");
    assert!(q.dispatch(t(28)).is_empty(), "nobody free");
    q.update_member(&"a".into(), avail(35));
    assert_eq!(
        pairs(q.dispatch(t(35))),
        [("c1".to_string(), vec!["a".to_string()])]
    );
}

#[test]
fn reserved_members_are_not_offered_twice_and_a_refusal_requeues() {
    let mut q = queue(Strategy::Sequential, &["a"]);
    q.update_member(&"a".into(), avail(0));
    q.enqueue(call("c1", 0, 1));
    q.enqueue(call("c2", 0, 2));
    assert_eq!(q.dispatch(t(2)).len(), 1);
    assert!(q.dispatch(t(2)).is_empty());
    q.offer_refused(&"c1".into(), &"a".into());
    assert_eq!(q.waiting().count(), 2);
    assert!(
        q.dispatch(t(3)).is_empty(),
        "a refused: unavailable until it reports"
    );
}

/// A member reserved is counted as offered, not available, from the dispatch on: nothing else
/// tells the queue that she rings (a single agent's yes goes to the call). Once the offer ends
/// she is still not offered a call until she reports again.
#[test]
fn a_reserved_member_counts_as_offered_until_she_reports() {
    let mut q = queue(Strategy::Sequential, &["a"]);
    q.update_member(&"a".into(), avail(0));
    q.enqueue(call("c1", 0, 1));
    q.enqueue(call("c2", 0, 2));
    assert_eq!(q.counters(t(2)).agents_ready, 1);
    let first = q.dispatch(t(2));
    assert_eq!(
        pairs(first.clone()),
        [("c1".to_string(), vec!["a".to_string()])]
    );
    let counters = q.counters(t(2));
    assert_eq!((counters.agents_ready, counters.agents_on_call), (0, 1));
    q.offer_ended(t(3), call("c1", 0, 1), OfferEnd::Answered);
    assert!(
        q.dispatch(t(3)).is_empty(),
        "her offer ended, but she has not reported since"
    );
    q.update_member(&"a".into(), avail(4));
    assert_eq!(
        pairs(q.dispatch(t(5))),
        [("c2".to_string(), vec!["a".to_string()])]
    );
}

/// A queue numbered from a base numbers its reservations above it.
#[test]
fn a_queue_numbered_from_a_base_numbers_its_reservations_above_it() {
    let base = 7 << 40;
    let mut q = queue(Strategy::Sequential, &["a"]).numbered_from(base);
    q.update_member(&"a".into(), avail(0));
    q.enqueue(call("c1", 0, 1));
    let first = q.dispatch(t(2));
    assert_eq!(first.len(), 1);
    assert!(first[0].attempt > base, "{} above {base}", first[0].attempt);
}

#[test]
fn a_reservation_answer_counts_only_while_the_queue_awaits_it() {
    let mut q = queue(Strategy::Sequential, &["a", "b"]);
    q.update_member(&"a".into(), avail(0));
    q.update_member(&"b".into(), avail(0));
    q.enqueue(call("c1", 0, 1));
    let first = q.dispatch(t(2));
    assert_eq!(
        pairs(first.clone()),
        [("c1".to_string(), vec!["a".to_string()])]
    );
    assert!(q.awaits(&"c1".into(), &"a".into()));
    // The caller hangs up while `a` is asked: its answer is stale.
    q.remove(&"c1".into());
    assert!(!q.awaits(&"c1".into(), &"a".into()));
    // The same call back in line goes to `b` (`a` reported busy meanwhile); `a`'s late
    // refusal neither frees that offer nor marks `a` unavailable once it is Ready again.
    q.enqueue(call("c1", 0, 1));
    q.update_member(&"a".into(), busy());
    let second = q.dispatch(t(3));
    assert_eq!(
        pairs(second.clone()),
        [("c1".to_string(), vec!["b".to_string()])]
    );
    assert_ne!(first[0].attempt, second[0].attempt);
    q.update_member(&"a".into(), avail(0));
    q.offer_refused(&"c1".into(), &"a".into());
    assert!(
        q.awaits(&"c1".into(), &"b".into()),
        "the live offer is untouched"
    );
    // Answers as the shell reports them: `a`'s late yes (to the first reservation) releases
    // it, `b`'s yes rings it.
    assert_eq!(
        q.reservation_answered(&"c1".into(), first[0].attempt, vec![("a".into(), true)]),
        ReservationAnswered {
            offer: vec![],
            release: vec!["a".into()],
        }
    );
    assert_eq!(
        q.reservation_answered(&"c1".into(), second[0].attempt, vec![("b".into(), true)]),
        ReservationAnswered {
            offer: vec!["b".into()],
            release: vec![],
        }
    );
    // A stale no, through the same door, changes nothing either.
    assert_eq!(
        q.reservation_answered(&"c1".into(), first[0].attempt, vec![("a".into(), false)]),
        ReservationAnswered::default()
    );
    assert!(q.awaits(&"c1".into(), &"b".into()));
    assert_eq!(q.waiting().count(), 0);
    q.enqueue(call("c2", 0, 4));
    assert_eq!(
        pairs(q.dispatch(t(4))),
        [("c2".to_string(), vec!["a".to_string()])],
        "a stale refusal does not mark the agent unavailable"
    );
}

#[test]
fn skills_gate_calls_and_widen_after_waiting() {
    let members = vec![
        (
            AgentId::from("junior"),
            Skills::from([("fr".to_string(), 2)]),
        ),
        (AgentId::from("other"), Skills::new()),
    ];
    let settings = QueueSettings {
        escalation: vec![
            Escalation {
                after: Duration::from_secs(30),
                lower_levels_by: 3,
                drop_skills: false,
            },
            Escalation {
                after: Duration::from_secs(60),
                lower_levels_by: 0,
                drop_skills: true,
            },
        ],
        ..QueueSettings::default()
    };
    let mut q = Queue::new("q".into(), settings, Strategy::Sequential, members);
    q.update_member(&"other".into(), avail(0));
    let mut c = call("fr-call", 0, 0);
    c.skills = Skills::from([("fr".to_string(), 5)]);
    q.enqueue(c);
    assert!(q.dispatch(t(1)).is_empty());
    assert_eq!(q.poll_timeout(t(1)), Some(t(30)));
    q.update_member(&"junior".into(), avail(0));
    assert!(
        q.dispatch(t(29)).is_empty(),
        "level 2 < 5 before escalation"
    );
    assert_eq!(
        pairs(q.dispatch(t(30))),
        [("fr-call".to_string(), vec!["junior".to_string()])]
    );
    let mut back = call("fr-call", 0, 0);
    back.skills = Skills::from([("fr".to_string(), 5)]);
    q.offer_ended(t(48), back, OfferEnd::Missed);
    assert_eq!(
        q.poll_timeout(t(48)),
        Some(t(60)),
        "the step at 30 s is not due again; 60 s is"
    );
    q.update_member(&"junior".into(), busy());
    assert!(
        q.dispatch(t(59)).is_empty(),
        "other has no fr skill before the drop"
    );
    assert_eq!(
        pairs(q.dispatch(t(60))),
        [("fr-call".to_string(), vec!["other".to_string()])]
    );
}

#[test]
fn later_calls_are_served_when_the_head_needs_a_skill_nobody_free_has() {
    let members = vec![(AgentId::from("a"), Skills::new())];
    let mut q = Queue::new(
        "q".into(),
        QueueSettings::default(),
        Strategy::Sequential,
        members,
    );
    q.update_member(&"a".into(), avail(0));
    let mut head = call("head", 0, 0);
    head.skills = Skills::from([("de".to_string(), 1)]);
    q.enqueue(head);
    q.enqueue(call("next", 0, 1));
    assert_eq!(
        pairs(q.dispatch(t(2))),
        [("next".to_string(), vec!["a".to_string()])]
    );
}

#[test]
fn overflow_after_max_wait_moves_the_call_to_the_target_queue() {
    let settings = QueueSettings {
        max_wait: Some(Duration::from_secs(120)),
        overflow: Some("sales".into()),
        ..QueueSettings::default()
    };
    let mut q = Queue::new("support".into(), settings, Strategy::LongestIdle, vec![]);
    q.enqueue(call("c1", 0, 10));
    q.enqueue(call("c2", 0, 50));
    assert_eq!(q.poll_timeout(t(100)), Some(t(130)));
    assert!(q.handle_timeout(t(129)).is_empty());
    let out = q.handle_timeout(t(130));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].call.call.as_str(), out[0].to.as_str()),
        ("c1", "sales")
    );
    assert_eq!(q.poll_timeout(t(130)), Some(t(170)));
}

#[test]
fn an_agent_who_declined_is_skipped_for_that_call_until_its_exclusion_ends() {
    let mut q = queue(Strategy::Sequential, &["a", "b"]);
    q.update_member(&"a".into(), avail(0));
    let mut c = call("c1", 0, 0);
    c.excluded = vec![(AgentId::from("a"), t(7))];
    q.enqueue(c);
    assert!(q.dispatch(t(1)).is_empty(), "a declined, b is not free");
    assert_eq!(q.poll_timeout(t(1)), Some(t(7)));
    q.update_member(&"b".into(), avail(0));
    assert_eq!(
        pairs(q.dispatch(t(2))),
        [("c1".to_string(), vec!["b".to_string()])]
    );
    q.offer_ended(t(3), call("c1", 0, 0), OfferEnd::Missed);
    q.update_member(&"b".into(), busy());
    assert_eq!(
        pairs(q.dispatch(t(7))),
        [("c1".to_string(), vec!["a".to_string()])]
    );
}

#[test]
fn ring_all_reserves_every_free_member() {
    let mut q = queue(Strategy::RingAll, &["a", "b", "c"]);
    for m in ["a", "b", "c"] {
        q.update_member(&m.into(), avail(0));
    }
    q.update_member(&"b".into(), busy());
    q.enqueue(call("c1", 0, 0));
    q.enqueue(call("c2", 0, 1));
    assert_eq!(
        pairs(q.dispatch(t(1))),
        [("c1".to_string(), vec!["a".to_string(), "c".to_string()])]
    );
}

#[test]
fn counters_report_the_line_and_the_members() {
    let mut q = queue(Strategy::LongestIdle, &["a", "b", "c", "d"]);
    q.update_member(&"a".into(), avail(0));
    q.update_member(&"b".into(), busy());
    q.update_member(
        &"c".into(),
        Availability {
            status: Status::AfterService,
            available: false,
            ..avail(0)
        },
    );
    q.update_member(
        &"d".into(),
        Availability {
            status: Status::Disconnected,
            available: false,
            ..avail(0)
        },
    );
    q.enqueue(call("c1", 0, 10));
    q.enqueue(call("c2", 0, 40));
    let c = q.counters(t(70));
    assert_eq!((c.waiting, c.longest_wait_secs), (2, 60));
    assert_eq!(
        (
            c.agents_ready,
            c.agents_on_call,
            c.agents_wrap_up,
            c.agents_away,
            c.agents_signed_in
        ),
        (1, 1, 1, 1, 4)
    );
    assert_eq!(c.service_level(), None, "nothing answered yet");
    q.dispatch(t(70));
    let c = q.counters(t(70));
    assert_eq!(
        (c.waiting, c.offering, c.longest_wait_secs),
        (1, 1, 60),
        "the ringing call is offering, not waiting; its wait still counts"
    );
    q.offer_ended(t(75), call("c1", 0, 10), OfferEnd::Answered);
    let c = q.counters(t(75));
    assert_eq!((c.waiting, c.answered, c.answered_within_sl), (1, 1, 0));
    assert_eq!(c.service_level(), Some(0.0));
}

#[test]
fn escalation_lowers_levels_and_drops_exhausted_requirements() {
    let req = Skills::from([("fr".to_string(), 5), ("billing".to_string(), 2)]);
    let steps = vec![Escalation {
        after: Duration::from_secs(10),
        lower_levels_by: 2,
        drop_skills: false,
    }];
    assert_eq!(effective_skills(&req, Duration::from_secs(9), &steps), req);
    assert_eq!(
        effective_skills(&req, Duration::from_secs(10), &steps),
        Skills::from([("fr".to_string(), 3)])
    );
}

/// A custom strategy sees the call (its caller, priority, wait and attributes); when it
/// panics, that decision is the fallback's and the panic is kept for the shell to report,
/// and the next decision is its own again.
#[test]
fn a_custom_strategy_sees_the_call_and_its_panic_falls_back() {
    use crate::routing::{Candidate, RouteRequest, RoutingStrategy};
    use std::sync::{Arc, Mutex};
    struct Picky(Arc<Mutex<Vec<String>>>);
    impl RoutingStrategy for Picky {
        fn choose(&mut self, r: &RouteRequest<'_>, c: &[Candidate<'_>]) -> Vec<AgentId> {
            let tier = r.attributes.get("tier").cloned().unwrap_or_default();
            let seen = format!("{} {} {} {tier}", r.caller, r.priority, r.waiting_since.0);
            self.0.lock().unwrap().push(seen);
            if tier == "boom" {
                panic!("no rule for boom");
            }
            // The last member: never what longest-idle (the fallback) would pick first.
            c.iter()
                .max_by_key(|c| c.position)
                .map(|c| c.agent.clone())
                .into_iter()
                .collect()
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let members = ["a", "b", "c"]
        .map(|m| (AgentId::from(m), Skills::new()))
        .to_vec();
    let mut q = Queue::with_strategy(
        "q".into(),
        QueueSettings::default(),
        Box::new(Picky(seen.clone())),
        members,
    )
    .with_fallback(Strategy::Sequential);
    for (i, m) in ["a", "b", "c"].iter().enumerate() {
        q.update_member(&AgentId::from(*m), avail(10 - i as i64));
    }
    let mut boom = call("c1", 3, 100);
    boom.attributes.insert("tier".into(), "boom".into());
    q.enqueue(boom);
    let out = q.dispatch(t(200));
    assert_eq!(
        out[0].agents,
        [AgentId::from("a")],
        "the fallback (sequential) decided"
    );
    assert_eq!(q.take_strategy_failures(), ["no rule for boom"]);
    assert!(q.take_strategy_failures().is_empty(), "reported once");
    let mut vip = call("c2", 0, 150);
    vip.attributes.insert("tier".into(), "vip".into());
    q.enqueue(vip);
    let out = q.dispatch(t(300));
    assert_eq!(out[0].agents, [AgentId::from("c")], "its own choice again");
    assert_eq!(
        *seen.lock().unwrap(),
        ["+100 3 100000 boom", "+150 0 150000 vip"]
    );
}

#[test]
fn a_widened_call_keeps_its_place_and_reaches_agents_it_could_not_before() {
    let members = vec![(AgentId::from("generalist"), Skills::new())];
    let mut q = Queue::new(
        "q".into(),
        QueueSettings::default(),
        Strategy::Sequential,
        members,
    );
    let mut first = call("first", 0, 0);
    first.skills = Skills::from([("fr".to_string(), 5)]);
    q.enqueue(first);
    q.enqueue(call("second", 0, 1));
    assert!(q.set_skills(&"first".into(), Skills::new()));
    assert!(
        !q.set_skills(&"elsewhere".into(), Skills::new()),
        "not in this queue"
    );
    let line: Vec<&str> = q.waiting().map(|c| c.call.as_str()).collect();
    assert_eq!(line, ["first", "second"], "its place in line is kept");
    q.update_member(&"generalist".into(), avail(0));
    assert_eq!(
        pairs(q.dispatch(t(2))),
        [("first".to_string(), vec!["generalist".to_string()])],
        "the oldest call, widened, goes first to an agent without the skill"
    );
    // Widened while ringing: the offer stays; a miss brings it back with what it asks now.
    assert!(q.set_skills(&"first".into(), Skills::from([("any".to_string(), 1)])));
    assert_eq!(q.counters(t(3)).offering, 1);
}

/// The next timeout and the longest wait from the indexed moments are the ones a walk of the
/// whole line finds, and the free members kept in step are the ones a walk of the members
/// finds, through a long random run of enqueues, returns, removals, widenings, offers, their
/// refusals and their ends.
#[test]
fn indexed_timeouts_and_free_members_agree_with_walks() {
    fn walk(q: &Queue, now: Timestamp) -> Option<Timestamp> {
        let s = q.settings();
        let mut next: Option<Timestamp> = None;
        let mut consider = |t: Timestamp, only_future: bool| {
            if !only_future || t > now {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for c in q.waiting() {
            if let (Some(max), Some(_)) = (s.max_wait, &s.overflow) {
                consider(c.enqueued_at + max, false);
            }
            if !c.skills.is_empty() {
                for step in &s.escalation {
                    consider(c.enqueued_at + step.after, true);
                }
            }
            for (_, until) in &c.excluded {
                consider(*until, true);
            }
        }
        for o in q.offering.values() {
            if let Some(deadline) = o.deadline {
                consider(deadline, false);
            }
        }
        next
    }
    let settings = QueueSettings {
        max_wait: Some(Duration::from_secs(90)),
        overflow: Some("spill".into()),
        escalation: vec![
            Escalation {
                after: Duration::from_secs(20),
                lower_levels_by: 1,
                drop_skills: false,
            },
            Escalation {
                after: Duration::from_secs(45),
                lower_levels_by: 0,
                drop_skills: true,
            },
        ],
        ..QueueSettings::default()
    };
    let members: Vec<(AgentId, Skills)> = (0..4)
        .map(|i| (AgentId::from(format!("a{i}")), Skills::new()))
        .collect();
    let mut q = Queue::new("q".into(), settings, Strategy::LongestIdle, members);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut now = 0i64;
    for step in 0..3_000 {
        now += rand(3) as i64;
        let id = format!("c{}", rand(40));
        match rand(7) {
            0 | 1 => {
                let mut c = call(&id, rand(3) as i32, now - rand(60) as i64);
                if rand(2) == 0 {
                    c.skills = Skills::from([("fr".to_string(), 3)]);
                }
                if rand(4) == 0 {
                    c.excluded = vec![(AgentId::from("a1"), t(now + rand(30) as i64))];
                }
                q.enqueue(c);
            }
            2 => {
                q.remove(&id.as_str().into());
            }
            3 => {
                let skills = match rand(2) {
                    0 => Skills::new(),
                    _ => Skills::from([("fr".to_string(), 1)]),
                };
                q.set_skills(&id.as_str().into(), skills);
            }
            4 => {
                let a = AgentId::from(format!("a{}", rand(4)));
                let free = rand(2) == 0;
                q.update_member(&a, if free { avail(now) } else { busy() });
                for offer in q.dispatch(t(now)) {
                    if rand(3) == 0 {
                        continue; // still ringing
                    }
                    let back = call(offer.call.as_str(), 0, now - 10);
                    let end =
                        [OfferEnd::Missed, OfferEnd::Answered, OfferEnd::Gone][rand(3) as usize];
                    q.offer_ended(t(now), back, end);
                }
            }
            5 => {
                q.handle_timeout(t(now));
                // Some agents answer in time, the others are counted out at the deadline.
                for a in q.expired_reservations(t(now)) {
                    let answers = a.agents.iter().map(|x| (x.clone(), rand(2) == 0));
                    q.reservation_answered(&a.call, a.attempt, answers.collect());
                }
                if rand(2) == 0 {
                    let ids: BTreeSet<CallId> = q.offering.keys().cloned().collect();
                    for c in ids {
                        if let Some(attempt) = q.reservation(&c) {
                            let agents = q.offering[&c].agents.clone();
                            let answers = agents.into_iter().map(|x| (x, rand(3) != 0));
                            q.reservation_answered(&c, attempt, answers.collect());
                        }
                    }
                }
            }
            _ => {
                // An agent refuses the reservation of a call still ringing (the lowest id:
                // the map's order changes from run to run, the test's steps must not).
                let ringing = q.offering.iter().min_by(|a, b| a.0.cmp(b.0));
                if let Some((c, agent)) = ringing.map(|(c, o)| (c.clone(), o.agents[0].clone())) {
                    q.offer_refused(&c, &agent);
                }
            }
        }
        let walked: BTreeSet<usize> = (0..q.members.len()).filter(|&i| q.is_free(i)).collect();
        assert_eq!(q.free, walked, "free members at step {step}");
        assert_eq!(
            q.poll_timeout(t(now)),
            walk(&q, t(now)),
            "step {step} at {now} s"
        );
        let oldest = q
            .line
            .values()
            .chain(q.offering.values().map(|o| &o.call))
            .map(|c| c.enqueued_at)
            .min();
        let longest = oldest.map_or(0, |o| t(now).since(o).as_secs());
        assert_eq!(q.counters(t(now)).longest_wait_secs, longest, "step {step}");
    }
}

/// A reservation is awaited until its deadline ([`RESERVATION_TIMEOUT`] after the dispatch):
/// then the agent who has not answered counts as having refused (the call goes back to its
/// place, she is not offered calls until she reports again), and her answer, when it comes at
/// last, is stale: a yes releases her.
#[test]
fn a_reservation_not_answered_in_time_counts_as_refused() {
    let mut q = queue(Strategy::Sequential, &["a"]);
    q.update_member(&"a".into(), avail(0));
    q.enqueue(call("c1", 0, 1));
    let reserved = q.dispatch(t(2));
    let attempt = reserved[0].attempt;
    assert_eq!(q.reservation(&"c1".into()), Some(attempt));
    assert_eq!(q.poll_timeout(t(2)), Some(t(2) + RESERVATION_TIMEOUT));
    assert!(q.expired_reservations(t(6)).is_empty(), "not due yet");
    let due = q.expired_reservations(t(7));
    assert_eq!(pairs(due.clone()), pairs(reserved));
    assert_eq!(due[0].attempt, attempt);
    assert_eq!(q.reservation(&"c1".into()), None, "no longer awaited");
    assert_eq!(q.poll_timeout(t(7)), None, "its deadline is handled");
    assert!(q.expired_reservations(t(8)).is_empty(), "not due twice");
    // The shell reports the silent agent as a refusal.
    q.reservation_answered(&"c1".into(), attempt, vec![("a".into(), false)]);
    assert_eq!(q.waiting().count(), 1, "back in line");
    assert!(q.dispatch(t(8)).is_empty(), "a is out until she reports");
    // Her late yes is stale.
    assert_eq!(
        q.reservation_answered(&"c1".into(), attempt, vec![("a".into(), true)]),
        ReservationAnswered {
            offer: vec![],
            release: vec!["a".into()],
        }
    );
}

/// A ring-all reservation is answered by every agent at once: its deadline goes when the
/// answers are in; at the deadline, the agents who took it ring and the silent ones are out.
/// A call that leaves takes its deadline with it.
#[test]
fn a_group_reservation_rings_those_who_took_it_by_its_deadline() {
    let mut q = queue(Strategy::RingAll, &["a", "b"]);
    q.update_member(&"a".into(), avail(0));
    q.update_member(&"b".into(), avail(0));
    q.enqueue(call("c1", 0, 1));
    let attempt = q.dispatch(t(2))[0].attempt;
    let due = q.expired_reservations(t(7));
    assert_eq!(
        pairs(due),
        [("c1".to_string(), vec!["a".to_string(), "b".to_string()])]
    );
    assert_eq!(
        q.reservation_answered(
            &"c1".into(),
            attempt,
            vec![("a".into(), true), ("b".into(), false)]
        ),
        ReservationAnswered {
            offer: vec!["a".into()],
            release: vec![],
        }
    );
    assert!(q.awaits(&"c1".into(), &"a".into()));
    assert!(!q.awaits(&"c1".into(), &"b".into()));
    q.offer_ended(t(8), call("c1", 0, 1), OfferEnd::Answered);

    q.update_member(&"a".into(), avail(8));
    q.update_member(&"b".into(), avail(8));
    q.enqueue(call("c2", 0, 9));
    let attempt = q.dispatch(t(9))[0].attempt;
    let both = vec![("a".into(), true), ("b".into(), true)];
    assert_eq!(
        q.reservation_answered(&"c2".into(), attempt, both)
            .offer
            .len(),
        2
    );
    assert_eq!(q.poll_timeout(t(9)), None, "answered: no deadline");
    q.offer_ended(t(10), call("c2", 0, 9), OfferEnd::Gone);

    q.update_member(&"a".into(), avail(10));
    q.enqueue(call("c3", 0, 11));
    assert_eq!(q.dispatch(t(11)).len(), 1);
    q.remove(&"c3".into());
    assert_eq!(
        q.poll_timeout(t(11)),
        None,
        "the call left with its deadline"
    );
    assert!(q.expired_reservations(t(20)).is_empty());
}

/// A member's change is seen by a queue when she becomes free or stops being free, or moves
/// between its counters; ringing to talking (on a call both) is not, nor a change of her call
/// statistics while she is not free.
#[test]
fn a_queue_sees_a_change_of_freedom_or_of_counter_but_not_ringing_to_talking() {
    let with = |status: Status, available: bool, calls: u64| Availability {
        status,
        available,
        idle_since: t(0),
        calls_handled: calls,
        talk_time_ms: calls * 1000,
    };
    let ready = with(Status::Ready, true, 0);
    let ringing = with(Status::Offered, false, 0);
    let talking = with(Status::InService, false, 1);
    let wrap_up = with(Status::AfterService, false, 1);
    let dnd = with(Status::Dnd, false, 1);
    assert!(seen_by_queues(&ready, &ringing));
    assert!(!seen_by_queues(&ringing, &talking));
    assert!(seen_by_queues(&talking, &wrap_up));
    assert!(seen_by_queues(&wrap_up, &with(Status::Ready, true, 1)));
    assert!(seen_by_queues(&wrap_up, &dnd));
    assert!(!seen_by_queues(
        &dnd,
        &with(Status::parse("lunch"), false, 1)
    ));
    assert!(seen_by_queues(&dnd, &with(Status::Offline, false, 1)));
    // Ready with newer statistics: strategies read them.
    assert!(seen_by_queues(&ready, &with(Status::Ready, true, 5)));
}
