//! A queue: its waiting line, its members' availability, routing, skill escalation and
//! overflow (features B1–B4, A6).
//!
//! Invariants:
//! - A call is in exactly one of `waiting` (no agent ringing) or `offering` (agents ringing).
//! - The waiting line is ordered by call priority (higher first), then by the time the call
//!   entered the queue (older first). A call whose offer was missed goes back to its old place.
//! - A member reserved for an offer is not offered another call until its agent reports back.

use crate::agent::{Availability, Status};
use crate::routing::{meets, Builtin, Candidate, RouteRequest, RoutingStrategy, Skills, Strategy};
use crate::{AgentId, CallId, QueueId, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A queue's behaviour, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// How long an offer rings before it counts as missed (A3, default 18 s).
    pub offer_timeout: Duration,
    /// How long an agent who missed an offer stays Busy (A3, default 7 s).
    pub no_answer_delay: Duration,
    /// Wrap-up limit (A4); `None`: the agent ends wrap-up by hand.
    pub wrap_up_limit: Option<Duration>,
    /// Longest a call waits here before it overflows (B1); `None`: no limit.
    pub max_wait: Option<Duration>,
    /// Where a call goes after `max_wait`.
    pub overflow: Option<QueueId>,
    /// Calls answered within this wait count toward the service level.
    pub service_level: Duration,
    /// Skill escalation steps (B3), in order of `after`.
    pub escalation: Vec<Escalation>,
    /// Start recording every call when it connects (C2).
    #[serde(default)]
    pub record: bool,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            offer_timeout: Duration::from_secs(18),
            no_answer_delay: Duration::from_secs(7),
            wrap_up_limit: None,
            max_wait: None,
            overflow: None,
            service_level: Duration::from_secs(20),
            escalation: Vec::new(),
            record: false,
        }
    }
}

/// One widening step of a call's skill requirements after it has waited `after` (B3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Wait after which the step applies.
    pub after: Duration,
    /// Every required level is lowered by this much (a level at 0 drops the requirement).
    #[serde(default)]
    pub lower_levels_by: u8,
    /// Drop every skill requirement.
    #[serde(default)]
    pub drop_skills: bool,
}

/// A call waiting in a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingCall {
    /// The call.
    pub call: CallId,
    /// Higher is served first (B4).
    pub priority: i32,
    /// Required skills and minimum levels.
    pub skills: Skills,
    /// When the call entered this queue.
    pub enqueued_at: Timestamp,
    /// Agents who declined the call, not to be offered it again before the given moment.
    #[serde(default)]
    pub excluded: Vec<(AgentId, Timestamp)>,
}

impl WaitingCall {
    fn excludes(&self, agent: &AgentId, now: Timestamp) -> bool {
        self.excluded
            .iter()
            .any(|(a, until)| a == agent && now < *until)
    }
}

/// A decision of the queue: ring these agents for this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The call.
    pub call: CallId,
    /// The agents to ring (one, or all for ring-all).
    pub agents: Vec<AgentId>,
}

/// A call that waited longer than the queue's `max_wait`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overflow {
    /// The call, now removed from this queue.
    pub call: WaitingCall,
    /// The queue it moves to.
    pub to: QueueId,
}

/// How an offer made by this queue ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferEnd {
    /// An agent answered: the call leaves the queue.
    Answered,
    /// Nobody answered (declined, timed out): the call goes back to its place in line.
    Missed,
    /// The caller hung up: the call leaves the queue.
    Gone,
}

/// Live counters (A6, J1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Calls waiting for an agent, ringing ones included.
    pub waiting: usize,
    /// The longest current wait, in seconds.
    pub longest_wait_secs: u64,
    /// Members who are Ready.
    pub agents_ready: usize,
    /// Members ringing or on a call.
    pub agents_on_call: usize,
    /// Members in wrap-up.
    pub agents_wrap_up: usize,
    /// Members signed in (any status but Offline).
    pub agents_signed_in: usize,
    /// Calls answered through this queue.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_within_sl: u64,
}

#[derive(Clone, Debug)]
struct Member {
    agent: AgentId,
    skills: Skills,
    availability: Option<Availability>,
    reserved: bool,
}

type LineKey = (Reverse<i32>, Timestamp, u64);

/// A queue's routing state.
pub struct Queue {
    id: QueueId,
    settings: QueueSettings,
    members: Vec<Member>,
    member_index: HashMap<AgentId, usize>,
    line: BTreeMap<LineKey, WaitingCall>,
    line_keys: HashMap<CallId, LineKey>,
    offering: HashMap<CallId, (WaitingCall, Vec<AgentId>)>,
    strategy: Box<dyn RoutingStrategy>,
    seq: u64,
    answered: u64,
    answered_within_sl: u64,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("id", &self.id)
            .field("waiting", &self.line.len())
            .field("offering", &self.offering.len())
            .finish()
    }
}

impl Queue {
    /// A queue with a built-in strategy. `members` is the ordered member list (sequential and
    /// round-robin order) with each agent's skills.
    pub fn new(
        id: QueueId,
        settings: QueueSettings,
        strategy: Strategy,
        members: Vec<(AgentId, Skills)>,
    ) -> Self {
        let seed = id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Self::with_strategy(
            id,
            settings,
            Box::new(Builtin::new(strategy, seed)),
            members,
        )
    }

    /// A queue with a custom routing strategy.
    pub fn with_strategy(
        id: QueueId,
        settings: QueueSettings,
        strategy: Box<dyn RoutingStrategy>,
        members: Vec<(AgentId, Skills)>,
    ) -> Self {
        let member_index = members
            .iter()
            .enumerate()
            .map(|(i, (a, _))| (a.clone(), i))
            .collect();
        let members = members
            .into_iter()
            .map(|(agent, skills)| Member {
                agent,
                skills,
                availability: None,
                reserved: false,
            })
            .collect();
        Queue {
            id,
            settings,
            members,
            member_index,
            line: BTreeMap::new(),
            line_keys: HashMap::new(),
            offering: HashMap::new(),
            strategy,
            seq: 0,
            answered: 0,
            answered_within_sl: 0,
        }
    }

    /// The queue's id.
    pub fn id(&self) -> &QueueId {
        &self.id
    }

    /// The queue's settings.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Whether the agent is a member.
    pub fn has_member(&self, agent: &AgentId) -> bool {
        self.member_index.contains_key(agent)
    }

    /// A call enters the line (or comes back to its place: `enqueued_at` decides).
    pub fn enqueue(&mut self, call: WaitingCall) {
        self.remove(&call.call);
        self.seq += 1;
        let key = (Reverse(call.priority), call.enqueued_at, self.seq);
        self.line_keys.insert(call.call.clone(), key);
        self.line.insert(key, call);
    }

    /// A member's agent reports its availability.
    pub fn update_member(&mut self, agent: &AgentId, availability: Availability) {
        if let Some(&i) = self.member_index.get(agent) {
            let m = &mut self.members[i];
            m.reserved = false;
            m.availability = Some(availability);
        }
    }

    /// Matches waiting calls with available agents, in line order. Each returned assignment
    /// moves its call to `offering` and reserves its agents; the shell must then either
    /// confirm the offer with the agents or report [`Queue::offer_refused`].
    pub fn dispatch(&mut self, now: Timestamp) -> Vec<Assignment> {
        let mut out = Vec::new();
        let mut free: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.is_free(i))
            .collect();
        if free.is_empty() || self.line.is_empty() {
            return out;
        }
        let keys: Vec<LineKey> = self.line.keys().copied().collect();
        for key in keys {
            if free.is_empty() {
                break;
            }
            let call = &self.line[&key];
            let required = effective_skills(
                &call.skills,
                now.since(call.enqueued_at),
                &self.settings.escalation,
            );
            let candidates: Vec<Candidate> = free
                .iter()
                .filter(|&&i| meets(&self.members[i].skills, &required))
                .filter(|&&i| !call.excludes(&self.members[i].agent, now))
                .map(|&i| self.candidate(i))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let request = RouteRequest {
                call: &call.call,
                skills: &required,
                now,
            };
            let chosen: Vec<AgentId> = self
                .strategy
                .choose(&request, &candidates)
                .into_iter()
                .filter(|a| candidates.iter().any(|c| &c.agent == a))
                .collect();
            if chosen.is_empty() {
                continue;
            }
            for a in &chosen {
                let i = self.member_index[a];
                self.members[i].reserved = true;
                free.retain(|&f| f != i);
            }
            let call = self
                .line
                .remove(&key)
                .expect("key taken from the line above");
            self.line_keys.remove(&call.call);
            out.push(Assignment {
                call: call.call.clone(),
                agents: chosen.clone(),
            });
            self.offering.insert(call.call.clone(), (call, chosen));
        }
        out
    }

    /// Free members meeting `skills`, in the order this queue's strategy would choose them
    /// (for a consult to the queue, D2). Nothing is reserved: the caller reserves with the
    /// agents themselves.
    pub fn candidates(&mut self, now: Timestamp, skills: &Skills) -> Vec<AgentId> {
        let mut pool: Vec<Candidate> = (0..self.members.len())
            .filter(|&i| self.is_free(i) && meets(&self.members[i].skills, skills))
            .map(|i| self.candidate(i))
            .collect();
        let call = CallId::from("consult");
        let mut out = Vec::with_capacity(pool.len());
        while !pool.is_empty() {
            let request = RouteRequest {
                call: &call,
                skills,
                now,
            };
            let Some(next) = self.strategy.choose(&request, &pool).into_iter().next() else {
                break;
            };
            pool.retain(|c| c.agent != next);
            out.push(next);
        }
        out
    }

    /// An agent refused the reservation (it was no longer available). It is marked unavailable
    /// until it reports again; a call left with nobody ringing returns to its place in line.
    pub fn offer_refused(&mut self, call: &CallId, agent: &AgentId) {
        if let Some(&i) = self.member_index.get(agent) {
            self.members[i].reserved = false;
            if let Some(a) = &mut self.members[i].availability {
                a.available = false;
            }
        }
        if let Some((_, agents)) = self.offering.get_mut(call) {
            agents.retain(|a| a != agent);
            if agents.is_empty() {
                let (c, _) = self.offering.remove(call).expect("present: checked above");
                self.enqueue(c);
            }
        }
    }

    /// An offer of this queue ended. A missed call goes back to its place in line even if
    /// this queue no longer knew of the offer (it restarted meanwhile).
    pub fn offer_ended(&mut self, now: Timestamp, call: WaitingCall, end: OfferEnd) {
        if let Some((_, agents)) = self.offering.remove(&call.call) {
            for a in &agents {
                if let Some(&i) = self.member_index.get(a) {
                    self.members[i].reserved = false;
                }
            }
        }
        match end {
            OfferEnd::Answered => {
                self.remove(&call.call);
                self.answered += 1;
                if now.since(call.enqueued_at) <= self.settings.service_level {
                    self.answered_within_sl += 1;
                }
            }
            OfferEnd::Missed => self.enqueue(call),
            OfferEnd::Gone => {
                self.remove(&call.call);
            }
        }
    }

    /// Takes a call out of the queue, wherever it is (the caller hung up, an agent took it
    /// from the unassigned list). Returns it if it was here.
    pub fn remove(&mut self, call: &CallId) -> Option<WaitingCall> {
        if let Some(key) = self.line_keys.remove(call) {
            return self.line.remove(&key);
        }
        self.offering.remove(call).map(|(c, agents)| {
            for a in agents {
                if let Some(&i) = self.member_index.get(&a) {
                    self.members[i].reserved = false;
                }
            }
            c
        })
    }

    /// Waiting calls nobody is ringing for, in line order (B5's unassigned work).
    pub fn waiting(&self) -> impl Iterator<Item = &WaitingCall> {
        self.line.values()
    }

    /// The next moment after `now` something happens by itself: an overflow, an escalation
    /// step, or the end of an agent's exclusion from a call it declined. Moments already
    /// past are not returned again (an overdue overflow is handled by `handle_timeout`).
    pub fn poll_timeout(&self, now: Timestamp) -> Option<Timestamp> {
        let mut next: Option<Timestamp> = None;
        let mut consider = |t: Timestamp, only_future: bool| {
            if !only_future || t > now {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for c in self.line.values() {
            if let (Some(max), Some(_)) = (self.settings.max_wait, &self.settings.overflow) {
                consider(c.enqueued_at + max, false);
            }
            if !c.skills.is_empty() {
                for step in &self.settings.escalation {
                    consider(c.enqueued_at + step.after, true);
                }
            }
            for (_, until) in &c.excluded {
                consider(*until, true);
            }
        }
        next
    }

    /// Time passes: calls over `max_wait` leave for the overflow queue. Escalation needs no
    /// action here: the next [`Queue::dispatch`] applies the widened requirements.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Vec<Overflow> {
        let (Some(max), Some(to)) = (self.settings.max_wait, self.settings.overflow.clone()) else {
            return Vec::new();
        };
        let due: Vec<CallId> = self
            .line
            .values()
            .filter(|c| now.since(c.enqueued_at) >= max)
            .map(|c| c.call.clone())
            .collect();
        due.into_iter()
            .filter_map(|id| self.remove(&id))
            .map(|call| Overflow {
                call,
                to: to.clone(),
            })
            .collect()
    }

    /// Live counters.
    pub fn counters(&self, now: Timestamp) -> Counters {
        let oldest = self
            .line
            .values()
            .chain(self.offering.values().map(|(c, _)| c))
            .map(|c| c.enqueued_at)
            .min();
        let mut counters = Counters {
            waiting: self.line.len() + self.offering.len(),
            longest_wait_secs: oldest.map_or(0, |t| now.since(t).as_secs()),
            answered: self.answered,
            answered_within_sl: self.answered_within_sl,
            ..Counters::default()
        };
        for m in &self.members {
            let Some(a) = &m.availability else { continue };
            match a.status {
                Status::Ready => counters.agents_ready += 1,
                Status::Offered | Status::InService | Status::Dialing => {
                    counters.agents_on_call += 1
                }
                Status::AfterService => counters.agents_wrap_up += 1,
                _ => {}
            }
            if a.status != Status::Offline {
                counters.agents_signed_in += 1;
            }
        }
        counters
    }

    fn is_free(&self, i: usize) -> bool {
        let m = &self.members[i];
        !m.reserved && m.availability.as_ref().is_some_and(|a| a.available)
    }

    fn candidate(&self, i: usize) -> Candidate {
        let m = &self.members[i];
        let a = m
            .availability
            .as_ref()
            .expect("only free members, which have an availability, are candidates");
        Candidate {
            agent: m.agent.clone(),
            position: i,
            idle_since: a.idle_since,
            calls_handled: a.calls_handled,
            talk_time_ms: a.talk_time_ms,
            skills: m.skills.clone(),
        }
    }
}

/// A call's skill requirements after waiting `waited`, with every due escalation step applied.
pub fn effective_skills(required: &Skills, waited: Duration, steps: &[Escalation]) -> Skills {
    let mut lower: u16 = 0;
    for step in steps.iter().filter(|s| s.after <= waited) {
        if step.drop_skills {
            return Skills::new();
        }
        lower += u16::from(step.lower_levels_by);
    }
    required
        .iter()
        .filter_map(|(s, &l)| {
            let level = u16::from(l).saturating_sub(lower);
            (level > 0).then(|| (s.clone(), level as u8))
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
            .map(|a| (a.call.0, a.agents.into_iter().map(|x| x.0).collect()))
            .collect()
    }

    #[test]
    fn higher_priority_jumps_the_line_and_equal_priority_is_oldest_first() {
        let mut q = queue(Strategy::Sequential, &["a"]);
        q.enqueue(call("old", 0, 1));
        q.enqueue(call("new", 0, 2));
        q.enqueue(call("vip", 5, 3));
        let order: Vec<_> = q.waiting().map(|c| c.call.0.clone()).collect();
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
        assert_eq!(q.waiting().next().unwrap().call.0, "c1");
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
            (out[0].call.call.0.as_str(), out[0].to.0.as_str()),
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
        q.enqueue(call("c1", 0, 10));
        q.enqueue(call("c2", 0, 40));
        let c = q.counters(t(70));
        assert_eq!((c.waiting, c.longest_wait_secs), (2, 60));
        assert_eq!(
            (
                c.agents_ready,
                c.agents_on_call,
                c.agents_wrap_up,
                c.agents_signed_in
            ),
            (1, 1, 1, 3)
        );
        q.dispatch(t(70));
        q.offer_ended(t(75), call("c1", 0, 10), OfferEnd::Answered);
        let c = q.counters(t(75));
        assert_eq!((c.waiting, c.answered, c.answered_within_sl), (1, 1, 0));
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
}
