//! A queue: its waiting line, its members' availability, routing, skill escalation and
//! overflow (features B1–B4, A6).
//!
//! Invariants:
//! - A call is in exactly one of `waiting` (no agent ringing) or `offering` (agents ringing).
//! - The waiting line is ordered by call priority (higher first), then by the time the call
//!   entered the queue (older first). A call whose offer was missed goes back to its old place.
//! - A member reserved for an offer is not offered another call until its agent reports back:
//!   she is counted as offered (her agent's state once she takes it) until then, since the
//!   shell tells the call, not the queue, that a single agent took her reservation.
//! - A reservation is answered within [`RESERVATION_TIMEOUT`], or its silent agents count as
//!   having refused it ([`Queue::expired_reservations`]); for a single agent, whose yes goes to
//!   the call, the shell asks the call whether she rings before counting her silent.

mod moments;
mod reservations;

use crate::agent::{Availability, Status};
use crate::routing::{
    decide, meets, Attributes, Builtin, Candidate, RouteRequest, RoutingStrategy, Skills, Strategy,
};
use crate::{AgentId, CallId, IdMap, QueueId, Timestamp};
use moments::Moments;
use reservations::Offering;
pub use reservations::{CallReservations, RESERVATION_TIMEOUT};
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Unbounded};
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
    /// Who calls, for strategies.
    #[serde(default)]
    pub caller: std::sync::Arc<str>,
    /// Its custom attributes, for strategies.
    #[serde(default)]
    pub attributes: Attributes,
}

impl WaitingCall {
    fn excludes(&self, agent: &AgentId, now: Timestamp) -> bool {
        self.excluded
            .iter()
            .any(|(a, until)| a == agent && now < *until)
    }
}

/// A decision of the queue: reserve these agents for this call, then ring them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// The call.
    pub call: CallId,
    /// The agents to ring (one, or all for ring-all).
    pub agents: Vec<AgentId>,
    /// Which of the call's reservations this is: the answers name it
    /// ([`Queue::reservation_answered`]), so that an answer to an earlier one is told apart.
    pub attempt: u64,
}

/// What to do with the agents who took a reservation ([`Queue::reservation_answered`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservationAnswered {
    /// Ring these agents for the call.
    pub offer: Vec<AgentId>,
    /// Release these agents: nobody offers them the call.
    pub release: Vec<AgentId>,
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
    /// Calls waiting for an agent, with nobody ringing for them.
    pub waiting: usize,
    /// Calls ringing an agent (offered, not yet answered): still in the queue, not waiting.
    pub offering: usize,
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
    /// Members signed in but not taking calls now: on a break, busy after a missed offer, do
    /// not disturb, disconnected…
    pub agents_away: usize,
    /// Calls answered through this queue.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_within_sl: u64,
}

impl Counters {
    /// The service level: the share of answered calls answered within the queue's threshold
    /// (`None` before the first answer).
    pub fn service_level(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.answered_within_sl as f64 / self.answered as f64)
    }
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
    member_index: IdMap<AgentId, usize>,
    /// Positions of the members free to be offered a call (available, not reserved), kept in
    /// step with every change of either ([`Queue::change_member`]): dispatch touches only
    /// them, not every member at every message.
    free: BTreeSet<usize>,
    line: BTreeMap<LineKey, WaitingCall>,
    line_keys: IdMap<CallId, LineKey>,
    /// When the calls in line entered it (a multiset), so that the next overflow or
    /// escalation is found without a walk of the line.
    ages: Moments,
    /// The same, of the calls in line that require skills (only they escalate).
    skilled_ages: Moments,
    /// Until when calls in line exclude agents who declined them.
    exclusions: Moments,
    /// Calls reserved or ringing for agents: out of the line, not out of the queue.
    offering: IdMap<CallId, Offering>,
    /// Until when the reservations not answered yet are awaited.
    deadlines: Moments,
    strategy: Box<dyn RoutingStrategy>,
    /// Decides when `strategy` panics.
    fallback: Builtin,
    /// What the strategy's panics said, until the shell takes them to report.
    failures: Vec<String>,
    /// Numbers the line's places and the reservations ([`Assignment::attempt`]).
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
        let seed = seed_of(&id);
        Self::with_strategy(
            id,
            settings,
            Box::new(Builtin::new(strategy, seed)),
            members,
        )
    }

    /// A queue with a custom routing strategy (its fallback: longest idle; see
    /// [`Queue::with_fallback`]).
    pub fn with_strategy(
        id: QueueId,
        settings: QueueSettings,
        strategy: Box<dyn RoutingStrategy>,
        members: Vec<(AgentId, Skills)>,
    ) -> Self {
        let seed = seed_of(&id);
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
            free: BTreeSet::new(),
            line: BTreeMap::new(),
            line_keys: IdMap::default(),
            ages: Moments::default(),
            skilled_ages: Moments::default(),
            exclusions: Moments::default(),
            offering: IdMap::default(),
            deadlines: Moments::default(),
            fallback: Builtin::new(Strategy::LongestIdle, seed),
            strategy,
            failures: Vec::new(),
            seq: 0,
            answered: 0,
            answered_within_sl: 0,
        }
    }

    /// The built-in strategy that decides when the queue's own panics (default longest
    /// idle).
    pub fn with_fallback(mut self, fallback: Strategy) -> Self {
        self.fallback = Builtin::new(fallback, seed_of(&self.id));
        self
    }

    /// Numbers this queue's reservations ([`Assignment::attempt`]) above `first`. A shell that
    /// rebuilds a queue (its actor restarted) starts each incarnation from a base of its own,
    /// so that a reservation of the new one never bears the number of an earlier one's, which
    /// a call may still hold as stale.
    pub fn numbered_from(mut self, first: u64) -> Self {
        self.seq = first;
        self
    }

    /// What the strategy's panics since the last call said (the shell reports them).
    pub fn take_strategy_failures(&mut self) -> Vec<String> {
        std::mem::take(&mut self.failures)
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
        self.put_in_line(key, call);
    }

    /// Puts a call in line at `key`.
    fn put_in_line(&mut self, key: LineKey, call: WaitingCall) {
        self.line_keys.insert(call.call.clone(), key);
        self.index(&call, true);
        self.line.insert(key, call);
    }

    /// Takes the call at `key` out of the line.
    fn take_from_line(&mut self, key: &LineKey) -> Option<WaitingCall> {
        let call = self.line.remove(key)?;
        self.line_keys.remove(&call.call);
        self.index(&call, false);
        Some(call)
    }

    /// Counts a call in line into (or out of) the moments [`Queue::poll_timeout`] looks at.
    fn index(&mut self, call: &WaitingCall, add: bool) {
        self.ages.update(call.enqueued_at, add);
        if !call.skills.is_empty() {
            self.skilled_ages.update(call.enqueued_at, add);
        }
        for (_, until) in &call.excluded {
            self.exclusions.update(*until, add);
        }
    }

    /// A member's agent reports its availability.
    pub fn update_member(&mut self, agent: &AgentId, availability: Availability) {
        if let Some(&i) = self.member_index.get(agent) {
            self.change_member(i, |m| {
                m.reserved = false;
                m.availability = Some(availability);
            });
        }
    }

    /// Matches waiting calls with available agents, in line order. Each returned assignment
    /// moves its call to `offering` and reserves its agents; the shell then asks the agents to
    /// take their reservations and reports their answers ([`Queue::reservation_answered`]),
    /// within [`RESERVATION_TIMEOUT`] ([`Queue::expired_reservations`]).
    pub fn dispatch(&mut self, now: Timestamp) -> Vec<Assignment> {
        let mut out = Vec::new();
        if self.free.is_empty() || self.line.is_empty() {
            return out;
        }
        // In line order, from a cursor (calls taken out of the line as it goes), while anyone
        // is free (a reserved member leaves `free` as it is reserved).
        let mut cursor: Option<LineKey> = None;
        while !self.free.is_empty() {
            let next = match cursor {
                None => self.line.keys().next(),
                Some(k) => self
                    .line
                    .range((Excluded(k), Unbounded))
                    .map(|(k, _)| k)
                    .next(),
            };
            let Some(&key) = next else { break };
            cursor = Some(key);
            let call = &self.line[&key];
            let required = effective_skills(
                &call.skills,
                now.since(call.enqueued_at),
                &self.settings.escalation,
            );
            let members = &self.members;
            let candidates: Vec<Candidate<'_>> = self
                .free
                .iter()
                .filter(|&&i| meets(&members[i].skills, &required))
                .filter(|&&i| !call.excludes(&members[i].agent, now))
                .map(|&i| candidate(members, i))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let request = RouteRequest {
                call: &call.call,
                skills: &required,
                now,
                priority: call.priority,
                caller: &call.caller,
                waiting_since: call.enqueued_at,
                attributes: &call.attributes,
            };
            let chosen: Vec<AgentId> = decide(
                &mut self.strategy,
                &mut self.fallback,
                &mut self.failures,
                &request,
                &candidates,
            )
            .into_iter()
            .filter(|a| candidates.iter().any(|c| c.agent == a))
            .collect();
            if chosen.is_empty() {
                continue;
            }
            for a in &chosen {
                let i = self.member_index[a];
                self.change_member(i, reserve);
            }
            let call = self
                .take_from_line(&key)
                .expect("key taken from the line above");
            self.seq += 1;
            out.push(Assignment {
                call: call.call.clone(),
                agents: chosen.clone(),
                attempt: self.seq,
            });
            let deadline = now + RESERVATION_TIMEOUT;
            self.deadlines.update(deadline, true);
            let offering = Offering {
                call,
                agents: chosen,
                attempt: self.seq,
                deadline: Some(deadline),
            };
            self.offering.insert(offering.call.call.clone(), offering);
        }
        out
    }

    /// Free members meeting `skills`, in the order this queue's strategy would choose them
    /// (for a consult to the queue, D2). Nothing is reserved: the caller reserves with the
    /// agents themselves.
    pub fn candidates(&mut self, now: Timestamp, skills: &Skills) -> Vec<AgentId> {
        let members = &self.members;
        let mut pool: Vec<Candidate<'_>> = self
            .free
            .iter()
            .filter(|&&i| meets(&members[i].skills, skills))
            .map(|&i| candidate(members, i))
            .collect();
        let call = CallId::from("consult");
        let attributes = Attributes::new();
        let mut out = Vec::with_capacity(pool.len());
        while !pool.is_empty() {
            let request = RouteRequest {
                call: &call,
                skills,
                now,
                priority: 0,
                caller: "",
                waiting_since: now,
                attributes: &attributes,
            };
            let chosen = decide(
                &mut self.strategy,
                &mut self.fallback,
                &mut self.failures,
                &request,
                &pool,
            );
            let Some(next) = chosen
                .into_iter()
                .find(|a| pool.iter().any(|c| c.agent == a))
            else {
                break;
            };
            pool.retain(|c| *c.agent != next);
            out.push(next);
        }
        out
    }

    /// An offer of this queue ended. A missed call goes back to its place in line even if
    /// this queue no longer knew of the offer (it restarted meanwhile).
    pub fn offer_ended(&mut self, now: Timestamp, call: WaitingCall, end: OfferEnd) {
        self.take_offering(&call.call);
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
        if let Some(key) = self.line_keys.get(call).copied() {
            return self.take_from_line(&key);
        }
        self.take_offering(call)
    }

    /// A call's skill requirements changed (widened while it waits): it keeps its place in
    /// line, or its offer if agents ring for it. Returns whether the call was here.
    pub fn set_skills(&mut self, call: &CallId, skills: Skills) -> bool {
        if let Some(key) = self.line_keys.get(call).copied() {
            // Out and in again at the same key: its place is kept, its moments recounted.
            let mut c = self
                .take_from_line(&key)
                .expect("indexed calls are in line");
            c.skills = skills;
            self.put_in_line(key, c);
            return true;
        }
        self.offering
            .get_mut(call)
            .map(|o| o.call.skills = skills)
            .is_some()
    }

    /// Waiting calls nobody is ringing for, in line order (B5's unassigned work).
    pub fn waiting(&self) -> impl Iterator<Item = &WaitingCall> {
        self.line.values()
    }

    /// The next moment after `now` something happens by itself: an overflow, an escalation
    /// step, the end of an agent's exclusion from a call it declined, or a reservation's
    /// deadline. Moments already past are not returned again (an overdue overflow is handled
    /// by `handle_timeout`), except a deadline not handled yet.
    pub fn poll_timeout(&self, now: Timestamp) -> Option<Timestamp> {
        // From the indexed moments: the work does not grow with the line.
        let mut next: Option<Timestamp> = None;
        let mut consider = |t: Timestamp| next = Some(next.map_or(t, |n| n.min(t)));
        if let (Some(max), Some(_)) = (self.settings.max_wait, &self.settings.overflow) {
            if let Some(oldest) = self.ages.first() {
                consider(oldest + max);
            }
        }
        for step in &self.settings.escalation {
            // The oldest call whose step is still ahead: it entered after `now - after`.
            let after = i64::try_from(step.after.as_millis()).unwrap_or(i64::MAX);
            if let Some(t) = self
                .skilled_ages
                .first_after(Timestamp(now.0.saturating_sub(after)))
            {
                consider(t + step.after);
            }
        }
        if let Some(until) = self.exclusions.first_after(now) {
            consider(until);
        }
        // Until handled ([`Queue::expired_reservations`]), even if past.
        if let Some(deadline) = self.deadlines.first() {
            consider(deadline);
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
        // The line's oldest from its indexed moments (no walk of the line); the calls ringing
        // are few.
        let ringing = self.offering.values().map(|o| o.call.enqueued_at).min();
        let oldest = match (self.ages.first(), ringing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut counters = Counters {
            waiting: self.line.len(),
            offering: self.offering.len(),
            longest_wait_secs: oldest.map_or(0, |t| now.since(t).as_secs()),
            answered: self.answered,
            answered_within_sl: self.answered_within_sl,
            ..Counters::default()
        };
        for m in &self.members {
            let Some(a) = &m.availability else { continue };
            match Counted::of(&a.status) {
                Counted::Ready => counters.agents_ready += 1,
                Counted::OnCall => counters.agents_on_call += 1,
                Counted::WrapUp => counters.agents_wrap_up += 1,
                Counted::Away | Counted::Offline => {}
            }
            if a.status != Status::Offline {
                counters.agents_signed_in += 1;
            }
        }
        counters.agents_away = counters.agents_signed_in
            - counters.agents_ready
            - counters.agents_on_call
            - counters.agents_wrap_up;
        counters
    }

    /// Changes member `i` and keeps [`Queue::free`] in step with it.
    fn change_member(&mut self, i: usize, change: impl FnOnce(&mut Member)) {
        change(&mut self.members[i]);
        if self.is_free(i) {
            self.free.insert(i);
        } else {
            self.free.remove(&i);
        }
    }

    fn is_free(&self, i: usize) -> bool {
        let m = &self.members[i];
        !m.reserved && m.availability.as_ref().is_some_and(|a| a.available)
    }
}

/// Reserves a member for an offer. She is counted as offered, not available, until she reports
/// again: her agent takes the reservation in the same state (`Agent::offer`), and a single
/// agent's answer goes to the call, not to the queue (the shell's protocol), so nothing else
/// tells this queue that she rings; a refusal brings her availability back with it.
fn reserve(m: &mut Member) {
    m.reserved = true;
    if let Some(a) = &mut m.availability {
        a.available = false;
        a.status = Status::Offered;
    }
}

/// The view of member `i` a strategy sees (only free members, which have an availability).
fn candidate(members: &[Member], i: usize) -> Candidate<'_> {
    let m = &members[i];
    let a = m
        .availability
        .as_ref()
        .expect("only free members, which have an availability, are candidates");
    Candidate {
        agent: &m.agent,
        position: i,
        idle_since: a.idle_since,
        calls_handled: a.calls_handled,
        talk_time_ms: a.talk_time_ms,
        skills: &m.skills,
    }
}

/// Where a member's status counts in a queue's [`Counters`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    Ready,
    OnCall,
    WrapUp,
    /// Signed in, not taking calls (a break, do not disturb…).
    Away,
    Offline,
}

impl Counted {
    fn of(status: &Status) -> Counted {
        match status {
            Status::Ready => Counted::Ready,
            Status::Offered | Status::InService | Status::Dialing => Counted::OnCall,
            Status::AfterService => Counted::WrapUp,
            Status::Offline => Counted::Offline,
            _ => Counted::Away,
        }
    }
}

/// Whether a queue would see a member's change of availability from `old` to `new`: she
/// becomes free or stops being free, or counts elsewhere in its [`Counters`]. A change it would
/// not see (ringing to talking: on a call either way) need not be told to her queues; her
/// queues keep the older one, whose call statistics strategies never read while she is not
/// free (she tells them fresh ones when she is free again).
pub fn seen_by_queues(old: &Availability, new: &Availability) -> bool {
    old.available || new.available || Counted::of(&old.status) != Counted::of(&new.status)
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
#[path = "queue_tests.rs"]
mod tests;

/// A seed for a queue's random strategy, from its id: routing stays reproducible.
fn seed_of(id: &QueueId) -> u64 {
    id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
