//! Routing strategies (B2, B3): which of the eligible agents a queue offers a call to.
//!
//! A strategy sees only candidates that are available and meet the call's skill requirements
//! (the queue filters them first); it returns the agents to ring, in order. Ring-all returns
//! every candidate, the others one. Developers plug their own rule in through
//! [`RoutingStrategy`].

use crate::{AgentId, CallId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Skill name → level (1–10 by convention; higher is better).
pub type Skills = BTreeMap<String, u8>;

/// A call's custom attributes (`POST /calls` `attributes`): name → value, for strategies and
/// extensions to read (`{"tier": "vip"}`).
pub type Attributes = BTreeMap<String, String>;

/// An agent a queue could offer the call to: a view of the queue's member, borrowed for the
/// one decision (nothing is copied per candidate, per call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The agent.
    pub agent: &'a AgentId,
    /// Its position in the queue's member list (sequential and round-robin order).
    pub position: usize,
    /// Since when it has been without a call.
    pub idle_since: Timestamp,
    /// Calls it answered.
    pub calls_handled: u64,
    /// Its total talking time, in milliseconds.
    pub talk_time_ms: u64,
    /// Its skills.
    pub skills: &'a Skills,
}

/// The call being routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRequest<'a> {
    /// The call.
    pub call: &'a CallId,
    /// Its skill requirements after escalation: skill → minimum level.
    pub skills: &'a Skills,
    /// Now.
    pub now: Timestamp,
    /// Its priority (higher is served first; the queue's line is already in this order).
    pub priority: i32,
    /// Who calls (the caller's number, or the web caller's name).
    pub caller: &'a str,
    /// Since when it has waited in this queue.
    pub waiting_since: Timestamp,
    /// Its custom attributes.
    pub attributes: &'a Attributes,
}

/// A routing rule: chooses whom to ring among eligible candidates (never empty).
///
/// It runs inside the queue's actor, on every routing pass, so it must not block; it sees only
/// candidates that are free, meet the call's skills and did not decline it. Agents it returns
/// that are not candidates are ignored. A panic in it fails that one decision: the queue
/// reports it and decides with its fallback built-in strategy instead.
///
/// ```
/// use engine::routing::{Candidate, RouteRequest, RoutingStrategy};
/// use engine::AgentId;
///
/// /// Calls whose `tier` attribute is `vip` go to the most skilled agent; others to the
/// /// longest idle.
/// struct VipFirst;
///
/// impl RoutingStrategy for VipFirst {
///     fn choose(&mut self, call: &RouteRequest<'_>, candidates: &[Candidate<'_>]) -> Vec<AgentId> {
///         let vip = call.attributes.get("tier").is_some_and(|t| t == "vip");
///         let best = if vip {
///             candidates.iter().max_by_key(|c| c.skills.values().map(|&l| u32::from(l)).sum::<u32>())
///         } else {
///             candidates.iter().min_by_key(|c| c.idle_since)
///         };
///         best.map(|c| c.agent.clone()).into_iter().collect()
///     }
/// }
/// ```
pub trait RoutingStrategy: Send + Sync {
    /// The agents to ring, best first. Returning nothing leaves the call waiting.
    fn choose(&mut self, request: &RouteRequest<'_>, candidates: &[Candidate<'_>]) -> Vec<AgentId>;
}

/// A queue's strategy as the configuration names it: a built-in one, or one an embedding
/// program registered under that name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StrategyName {
    /// A built-in strategy.
    Builtin(Strategy),
    /// A registered strategy's name.
    Custom(String),
}

impl Default for StrategyName {
    fn default() -> Self {
        StrategyName::Builtin(Strategy::LongestIdle)
    }
}

/// The built-in strategies, by their configuration names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The agent idle the longest.
    LongestIdle,
    /// The next agent in member order after the last one chosen.
    RoundRobin,
    /// Every available agent at once; the first to answer takes the call.
    RingAll,
    /// A random available agent.
    Random,
    /// The first available agent in the fixed member order.
    Sequential,
    /// The agent who answered the fewest calls.
    FewestCalls,
    /// The agent with the least talking time.
    LeastTalkTime,
    /// The best match on the call's skills (sum of levels), then the longest idle.
    SkillsBased,
}

impl Strategy {
    /// Its configuration name (`longest-idle`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::RingAll => "ring-all",
            Strategy::Random => "random",
            Strategy::Sequential => "sequential",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::LeastTalkTime => "least-talk-time",
            Strategy::SkillsBased => "skills-based",
        }
    }

    /// Every built-in strategy.
    pub const ALL: [Strategy; 8] = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::RingAll,
        Strategy::Random,
        Strategy::Sequential,
        Strategy::FewestCalls,
        Strategy::LeastTalkTime,
        Strategy::SkillsBased,
    ];
}

/// A built-in strategy with the little state some need (round-robin's cursor, random's
/// generator). The generator is a seeded SplitMix64: routing stays reproducible in tests.
#[derive(Clone, Debug)]
pub struct Builtin {
    strategy: Strategy,
    last_position: Option<usize>,
    rng: u64,
}

impl Builtin {
    /// A strategy; `seed` feeds the random one.
    pub fn new(strategy: Strategy, seed: u64) -> Self {
        Builtin {
            strategy,
            last_position: None,
            rng: seed,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn longest_idle_key(c: &Candidate<'_>) -> (Timestamp, usize) {
    (c.idle_since, c.position)
}

impl RoutingStrategy for Builtin {
    fn choose(&mut self, request: &RouteRequest<'_>, candidates: &[Candidate<'_>]) -> Vec<AgentId> {
        let pick = match self.strategy {
            Strategy::RingAll => {
                let mut all: Vec<&Candidate<'_>> = candidates.iter().collect();
                all.sort_by_key(|c| c.position);
                return all.into_iter().map(|c| c.agent.clone()).collect();
            }
            Strategy::LongestIdle => candidates.iter().min_by_key(|c| longest_idle_key(c)),
            Strategy::Sequential => candidates.iter().min_by_key(|c| c.position),
            Strategy::RoundRobin => {
                let after = self.last_position;
                // The first position after the last chosen, wrapping around.
                candidates.iter().min_by_key(|c| match after {
                    Some(last) if c.position > last => (0, c.position),
                    Some(_) => (1, c.position),
                    None => (0, c.position),
                })
            }
            Strategy::Random => {
                let n = candidates.len() as u64;
                let i = if n == 0 {
                    0
                } else {
                    (self.next_random() % n) as usize
                };
                candidates.get(i)
            }
            Strategy::FewestCalls => candidates
                .iter()
                .min_by_key(|c| (c.calls_handled, longest_idle_key(c))),
            Strategy::LeastTalkTime => candidates
                .iter()
                .min_by_key(|c| (c.talk_time_ms, longest_idle_key(c))),
            Strategy::SkillsBased => candidates.iter().min_by_key(|c| {
                let score: u32 = request
                    .skills
                    .keys()
                    .map(|s| u32::from(c.skills.get(s).copied().unwrap_or(0)))
                    .sum();
                (std::cmp::Reverse(score), longest_idle_key(c))
            }),
        };
        match pick {
            Some(c) => {
                self.last_position = Some(c.position);
                vec![c.agent.clone()]
            }
            None => Vec::new(),
        }
    }
}

/// Whether an agent's skills meet every requirement (skill → minimum level).
pub fn meets(agent: &Skills, required: &Skills) -> bool {
    required
        .iter()
        .all(|(skill, min)| agent.get(skill).is_some_and(|level| level >= min))
}

/// The strategy's choice; if it panics, the fallback's, and what the panic said is kept to
/// report. The queue's own state is untouched by a strategy (it sees the members only through
/// shared borrows), so going on after its panic is sound.
pub(crate) fn decide(
    strategy: &mut Box<dyn RoutingStrategy>,
    fallback: &mut Builtin,
    failures: &mut Vec<String>,
    request: &RouteRequest<'_>,
    candidates: &[Candidate<'_>],
) -> Vec<AgentId> {
    let chosen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        strategy.choose(request, candidates)
    }));
    match chosen {
        Ok(agents) => agents,
        Err(panic) => {
            let said = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            if failures.len() < 16 {
                failures.push(said);
            }
            fallback.choose(request, candidates)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue member as the tests own it; [`Member::candidate`] is the view a strategy sees.
    struct Member {
        agent: AgentId,
        position: usize,
        idle: i64,
        calls: u64,
        talk: u64,
        skills: Skills,
    }

    impl Member {
        fn candidate(&self) -> Candidate<'_> {
            Candidate {
                agent: &self.agent,
                position: self.position,
                idle_since: Timestamp(self.idle),
                calls_handled: self.calls,
                talk_time_ms: self.talk,
                skills: &self.skills,
            }
        }
    }

    fn member(name: &str, position: usize, idle: i64, calls: u64, talk: u64, fr: u8) -> Member {
        Member {
            agent: name.into(),
            position,
            idle,
            calls,
            talk,
            skills: [("fr".to_string(), fr)].into(),
        }
    }

    fn pool() -> Vec<Member> {
        vec![
            member("a", 0, 300, 5, 9_000, 2),
            member("b", 1, 100, 7, 1_000, 5),
            member("c", 2, 200, 1, 5_000, 9),
        ]
    }

    fn choose(s: &mut Builtin, skills: &Skills, members: &[Member]) -> Vec<String> {
        let c: Vec<Candidate<'_>> = members.iter().map(Member::candidate).collect();
        let call = CallId::from("c1");
        let attributes = Attributes::new();
        let req = RouteRequest {
            call: &call,
            skills,
            now: Timestamp(1_000),
            priority: 0,
            caller: "+3225550100",
            waiting_since: Timestamp(900),
            attributes: &attributes,
        };
        s.choose(&req, &c)
            .into_iter()
            .map(|a| a.to_string())
            .collect()
    }

    #[test]
    fn each_strategy_is_named_as_the_configuration_names_it() {
        for s in Strategy::ALL {
            let read: StrategyName = serde_json::from_value(serde_json::json!(s.name())).unwrap();
            assert_eq!(read, StrategyName::Builtin(s));
        }
        let custom: StrategyName = serde_json::from_value(serde_json::json!("vip-first")).unwrap();
        assert_eq!(custom, StrategyName::Custom("vip-first".into()));
    }

    #[test]
    fn each_strategy_picks_in_its_own_order() {
        let none = Skills::new();
        let fr: Skills = [("fr".to_string(), 1)].into();
        let p = pool();
        let one = |st, skills: &Skills| choose(&mut Builtin::new(st, 1), skills, &p);
        assert_eq!(one(Strategy::LongestIdle, &none), ["b"]);
        assert_eq!(one(Strategy::Sequential, &none), ["a"]);
        assert_eq!(one(Strategy::FewestCalls, &none), ["c"]);
        assert_eq!(one(Strategy::LeastTalkTime, &none), ["b"]);
        assert_eq!(one(Strategy::SkillsBased, &fr), ["c"]);
        assert_eq!(
            one(Strategy::SkillsBased, &none),
            ["b"],
            "no requirement: longest idle"
        );
        assert_eq!(one(Strategy::RingAll, &none), ["a", "b", "c"]);
    }

    #[test]
    fn round_robin_continues_after_the_last_chosen_and_wraps() {
        let p = pool();
        let mut rr = Builtin::new(Strategy::RoundRobin, 0);
        let none = Skills::new();
        let picks: Vec<_> = (0..4)
            .map(|_| choose(&mut rr, &none, &p)[0].clone())
            .collect();
        assert_eq!(picks, ["a", "b", "c", "a"]);
        // b is busy: after a comes c.
        let without_b: Vec<_> = p.into_iter().filter(|m| m.agent.as_str() != "b").collect();
        assert_eq!(choose(&mut rr, &none, &without_b), ["c"]);
    }

    #[test]
    fn random_spreads_over_every_candidate_and_is_reproducible() {
        let p = pool();
        let none = Skills::new();
        let mut r1 = Builtin::new(Strategy::Random, 42);
        let mut r2 = Builtin::new(Strategy::Random, 42);
        let a: Vec<_> = (0..60)
            .map(|_| choose(&mut r1, &none, &p)[0].clone())
            .collect();
        let b: Vec<_> = (0..60)
            .map(|_| choose(&mut r2, &none, &p)[0].clone())
            .collect();
        assert_eq!(a, b);
        for name in ["a", "b", "c"] {
            assert!(
                a.iter().filter(|x| *x == name).count() >= 5,
                "{name} chosen too rarely: {a:?}"
            );
        }
    }

    #[test]
    fn skill_requirements_need_every_skill_at_its_level() {
        let agent: Skills = [("fr".to_string(), 5), ("billing".to_string(), 2)].into();
        assert!(meets(&agent, &[("fr".to_string(), 5)].into()));
        assert!(!meets(&agent, &[("fr".to_string(), 6)].into()));
        assert!(!meets(&agent, &[("de".to_string(), 1)].into()));
        assert!(meets(&agent, &Skills::new()));
    }
}
