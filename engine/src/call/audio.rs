//! Who hears whom on a call (H2, H3, D3, D4): a pure reading of the call's state that the media
//! layer obeys. Media never decides anything about the call; it asks the call for its
//! [`AudioPlan`] after every step.
//!
//! Who speaks on a leg follows from the same model: every leg belongs to one [`Participant`]
//! for its whole life, so its live transcript is labelled with that party
//! ([`Participant::speaker`]). A party who joins (the agent who answers a blind transfer, a
//! consulted colleague, a conference's third) brings a leg of its own, and one who leaves
//! takes its leg away; a new offer from the same party replaces its leg under the same name.
//! [`AudioPlan::transcribed`] says which legs a queue's transcript mode covers now.

use super::{Call, CallState, Recording};
use crate::AgentId;
use serde::{Deserialize, Serialize};

/// A party with an audio leg: the customer, or an agent (the owner, a consulted colleague, a
/// conference's third party).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "party", rename_all = "snake_case")]
pub enum Participant {
    /// The caller.
    Customer,
    /// An agent.
    Agent {
        /// Which.
        agent: AgentId,
    },
    /// An external party reached through a trunk: a consult's or a conference's number, or the
    /// number a call was transferred out to. Never transcribed.
    External,
}

impl Participant {
    /// An agent participant.
    pub fn agent(id: &AgentId) -> Participant {
        Participant::Agent { agent: id.clone() }
    }

    /// The agent whose voice this party's leg carries, which labels its transcript; none for
    /// the customer. A leg never changes hands: after a transfer the new agent speaks on a
    /// leg of their own.
    pub fn speaker(&self) -> Option<&AgentId> {
        match self {
            Participant::Customer | Participant::External => None,
            Participant::Agent { agent } => Some(agent),
        }
    }
}

/// The audio routing of a call at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AudioPlan {
    /// Directed links `(from, to)`: `to` hears `from`. A party with several sources hears
    /// their mix (each conference party hears the other two).
    pub links: Vec<(Participant, Participant)>,
    /// Parties who hear hold music (the held customer; the customer waiting in a queue).
    pub music_to: Vec<Participant>,
    /// Whose audio goes into the call recording: the customer and what the customer hears.
    pub recorded: Vec<Participant>,
    /// Everyone on the call now, heard or not (a held customer, a colleague still ringing is
    /// not): the parties whose media legs are wanted.
    pub present: Vec<Participant>,
    /// The recording state (off, on, masked).
    pub recording: Recording,
    /// Why the call's live transcript is paused now, if it is (I3): it runs only while the
    /// parties are in conversation, neither held nor masked.
    pub transcript_pause: Option<TranscriptPause>,
}

/// Why a call's live transcript is paused (I3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptPause {
    /// The customer is on hold (a consult with a colleague included).
    Hold,
    /// The recording is masked: sensitive data is being given.
    Mask,
    /// Nobody is in conversation yet (waiting, ringing, dialing) or any more.
    NotConnected,
}

impl AudioPlan {
    /// Whose audio `to` hears.
    pub fn sources_of<'a>(&'a self, to: &'a Participant) -> impl Iterator<Item = &'a Participant> {
        self.links
            .iter()
            .filter(move |(_, t)| t == to)
            .map(|(f, _)| f)
    }

    /// Whether `to` hears `from`.
    pub fn hears(&self, to: &Participant, from: &Participant) -> bool {
        self.links.iter().any(|(f, t)| f == from && t == to)
    }

    /// The parties whose legs are transcribed now, given whether the call's queue transcribes
    /// the customer and the agents (its transcript mode, I3): the customer once, and every
    /// agent on the call — the owner, a consulted colleague who answered, a conference's
    /// third — each as a leg of its own, labelled with its own name. A party not present (a
    /// colleague still ringing, an agent who transferred the call away) has no transcript; a
    /// held customer stays covered (the transcript pauses, it does not end).
    pub fn transcribed(&self, customer: bool, agents: bool) -> Vec<Participant> {
        self.present
            .iter()
            .filter(|p| match p {
                Participant::Customer => customer,
                Participant::Agent { .. } => agents,
                Participant::External => false,
            })
            .cloned()
            .collect()
    }

    /// The agents whom what is said on `speaker`'s leg concerns: the agents on the call now,
    /// and the speaker, who may have just left (a leg's last words are decoded after its
    /// party went, and are still that party's).
    pub fn transcript_audience(&self, speaker: &Participant) -> Vec<AgentId> {
        let mut agents: Vec<AgentId> = self
            .present
            .iter()
            .filter_map(Participant::speaker)
            .cloned()
            .collect();
        if let Some(a) = speaker.speaker().filter(|a| !agents.contains(a)) {
            agents.push(a.clone());
        }
        agents
    }
}

impl Call {
    /// Why the live transcript is paused now: not in conversation, held, or masked (in
    /// that order of precedence); `None` while the parties talk.
    pub fn transcript_pause(&self) -> Option<TranscriptPause> {
        if self.state() != CallState::Connected {
            Some(TranscriptPause::NotConnected)
        } else if self.held() && self.conference().is_none() {
            Some(TranscriptPause::Hold)
        } else if self.recording() == Recording::Masked {
            Some(TranscriptPause::Mask)
        } else {
            None
        }
    }

    /// Who hears whom now:
    /// - waiting or ringing in a queue, the customer hears music; dialing out, the agent
    ///   hears the customer's line (its ringback) one way;
    /// - connected, the customer and the owner hear each other; held, the customer hears
    ///   music and nobody hears the customer; muted, the owner's audio does not reach the
    ///   customer;
    /// - in an answered consult, the owner and the consulted colleague (or number) hear each
    ///   other; while a consulted number rings, the owner hears its line;
    /// - in a conference, every present party hears the other two;
    /// - transferred out through a trunk, the customer and the number hear each other.
    pub fn audio_plan(&self) -> AudioPlan {
        let mut plan = AudioPlan {
            recording: self.recording(),
            transcript_pause: self.transcript_pause(),
            ..AudioPlan::default()
        };
        let customer = Participant::Customer;
        match self.state() {
            CallState::Waiting | CallState::Offering => {
                plan.music_to.push(customer.clone());
                plan.present.push(customer);
                if self.external_dialing().is_some() {
                    // A blind transfer's number rings: its leg is up, nobody hears it yet.
                    plan.present.push(Participant::External);
                }
                return plan;
            }
            CallState::Connected => {}
            CallState::Dialing => {
                // The agent's leg may come up while the customer's phone rings, and the
                // network's leg to the customer is there before the answer: the agent hears
                // what it sends (ringback, an announcement: early media); the customer hears
                // nothing until it answers.
                plan.present.push(customer.clone());
                if let Some(agent) = self.agent().map(Participant::agent) {
                    plan.links.push((customer, agent.clone()));
                    plan.present.push(agent);
                }
                return plan;
            }
            CallState::Ended | CallState::Failed => return plan,
        }
        let external = Participant::External;
        if self.bridged_to().is_some() {
            // Transferred out: the customer and the number, nobody else, no recording.
            plan.present = vec![customer.clone(), external.clone()];
            plan.links = vec![(customer.clone(), external.clone()), (external, customer)];
            return plan;
        }
        let Some(owner) = self.agent().map(Participant::agent) else {
            return plan;
        };
        let mut talkers = Vec::new();
        if let Some(conf) = self.conference() {
            if conf.customer_present {
                talkers.push(customer.clone());
            }
            talkers.push(owner.clone());
            talkers.extend(conf.third_agent().map(Participant::agent));
            if self.external_party().is_some() {
                talkers.push(external.clone());
            }
        } else {
            if self.held() {
                plan.music_to.push(customer.clone());
            } else {
                talkers.push(customer.clone());
            }
            talkers.push(owner.clone());
            if let Some(c) = self.consult().filter(|c| c.answered) {
                talkers.extend(c.agent.as_ref().map(Participant::agent));
            }
            if self.external_party().is_some() {
                talkers.push(external.clone());
            }
        }
        plan.present = talkers.clone();
        if self.held() && self.conference().is_none() {
            plan.present.insert(0, customer.clone());
        }
        if self.consult().is_some_and(|c| c.dialed && !c.answered) {
            // The consulted number rings: the owner hears its line (the ringback).
            plan.present.push(external.clone());
            plan.links.push((external, owner.clone()));
        }
        for from in &talkers {
            for to in &talkers {
                let muted_to_customer = self.muted() && *from == owner && *to == customer;
                if from != to && !muted_to_customer {
                    plan.links.push((from.clone(), to.clone()));
                }
            }
        }
        if talkers.contains(&customer) {
            plan.recorded.push(customer.clone());
            let heard: Vec<Participant> = plan.sources_of(&customer).cloned().collect();
            plan.recorded.extend(heard);
        }
        plan
    }
}
