//! The call actor's in-call control (C1–C3, D1–D4): each [`Control`] is checked by the
//! engine; transfers and consults that ring someone first reserve the agents (call → agent,
//! the one synchronous direction), so a refused step leaves no phone ringing.

use crate::call_actor::{CallActor, CallActorState};
use crate::config::DialStrategy;
use crate::context::ask;
use crate::error::ActorError;
use crate::queue_actor::QueueMsg;
use engine::call::{Call, Effects, RecordingAction, Target};
use engine::AgentId;
use rand::seq::SliceRandom;
use serde::Deserialize;

/// What the owner of a call does to it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub enum Control {
    /// Put the customer on hold.
    Hold,
    /// Take the customer off hold.
    Resume,
    /// Mute the agent's microphone.
    Mute,
    /// Unmute it.
    Unmute,
    /// Send DTMF digits.
    Dtmf(String),
    /// Start, stop, mask or unmask the recording.
    Recording(RecordingAction),
    /// Blind transfer.
    Transfer(Target),
    /// Take back a blind transfer nobody answered yet.
    TakeBack,
    /// Attended transfer: hold the customer and ring the target.
    Consult(Target),
    /// Hand the call to the consulted agent.
    ConsultComplete,
    /// Hang up the consult leg.
    ConsultCancel,
    /// Join the customer, the owner and the consulted party.
    ConsultConference,
    /// Replace the call's CRM data (G1): by its owner, or by its agent in wrap-up
    /// (`wrapping_up`, checked with the agent beforehand).
    Data {
        /// The new data.
        data: engine::call::CallData,
        /// The agent is wrapping this call up.
        wrapping_up: bool,
    },
    /// Set the CRM fields that travel with the call (D5).
    Crm {
        /// Name (who).
        who: Option<String>,
        /// Related To (what).
        what: Option<String>,
    },
}

impl CallActor {
    /// Applies one control step; on success the caller commits and carries out the effects.
    pub(crate) async fn control(
        &self,
        st: &mut CallActorState,
        agent: &AgentId,
        action: Control,
    ) -> Result<Effects, ActorError> {
        let now = self.ctx.clock.now();
        let call = &mut st.call;
        let timeout = self.ctx.setting(call.queue(), |s| s.offer_timeout);
        let none = Effects::default();
        let fx = match action {
            Control::Hold => call.hold(now, agent).map(|_| none)?,
            Control::Resume => call.resume(now, agent).map(|_| none)?,
            Control::Mute => call.set_muted(now, agent, true).map(|_| none)?,
            Control::Unmute => call.set_muted(now, agent, false).map(|_| none)?,
            Control::Dtmf(digits) => call.dtmf(now, agent, &digits).map(|_| none)?,
            Control::Recording(action) => call.record(now, agent, action).map(|_| none)?,
            Control::TakeBack => {
                // Checked on a copy first: the sender's agent is asked to take the call only
                // when the engine allows it, and the call changes only once the agent agreed.
                call.clone().take_back(now, agent)?;
                let r = self
                    .ctx
                    .agent(agent)
                    .ok_or_else(|| ActorError::UnknownAgent(agent.to_string()))?;
                let (id, queue) = (call.id().clone(), call.queue().clone());
                ask(&r, "agent", |reply| crate::agent_actor::AgentMsg::Take {
                    call: id,
                    queue,
                    reply,
                })
                .await??;
                call.take_back(now, agent)?
            }
            Control::Data { data, wrapping_up } => {
                let catalog = self.ctx.config.catalog(call.queue().as_str());
                call.set_data(now, agent, wrapping_up, data, &catalog)?;
                none
            }
            Control::Crm { who, what } => {
                // Name and Related To alone: the same rules and journey step as the rest.
                let catalog = self.ctx.config.catalog(call.queue().as_str());
                let data = engine::call::CallData {
                    who,
                    what,
                    ..call.data()
                };
                call.set_data(now, agent, false, data, &catalog)?;
                none
            }
            Control::ConsultComplete => call.complete_consult(now, agent)?,
            Control::ConsultCancel => call.cancel_consult(now, agent)?,
            Control::ConsultConference => call.start_conference(now, agent).map(|_| none)?,
            Control::Transfer(target) => {
                self.check_target(&target)?;
                call.check_can_transfer(agent, &target)?;
                let ring = match &target {
                    Target::Agent { id } => {
                        self.reserve_all(&st.call, std::slice::from_ref(id)).await
                    }
                    Target::Group { id } => self.pick_group(&st.call, id, &[], false).await,
                    Target::Queue { .. } | Target::Number { .. } => Vec::new(),
                };
                let outcome =
                    st.call
                        .blind_transfer(now, agent, target, ring.clone(), timeout, self.dials());
                if outcome.is_err() {
                    self.release(&st.call, ring);
                }
                outcome?
            }
            Control::Consult(target) => {
                self.check_target(&target)?;
                call.check_can_transfer(agent, &target)?;
                let consulted = match &target {
                    Target::Agent { id } => self
                        .reserve_all(&st.call, std::slice::from_ref(id))
                        .await
                        .pop(),
                    // A consult talks to one colleague, whatever the group's strategy.
                    Target::Group { id } => self.pick_group(&st.call, id, &[], true).await.pop(),
                    Target::Queue { id } => self.pick_from_queue(&st.call, id).await,
                    Target::Number { .. } => None,
                };
                let outcome = st.call.start_consult(
                    now,
                    agent,
                    target,
                    consulted.clone(),
                    timeout,
                    self.dials(),
                );
                if outcome.is_err() {
                    self.release(&st.call, consulted.into_iter().collect());
                }
                outcome.map(|_| none)?
            }
        };
        Ok(fx)
    }

    /// Whether numbers are dialed through a SIP trunk (else a transfer or consult to a
    /// number is taken as connected at once).
    fn dials(&self) -> bool {
        self.ctx.config.sip.outbound_trunk().is_some()
    }

    fn check_target(&self, target: &Target) -> Result<(), ActorError> {
        match target {
            Target::Agent { id } if self.ctx.agent(id).is_none() => {
                Err(ActorError::UnknownAgent(id.to_string()))
            }
            Target::Queue { id } if self.ctx.queue(id).is_none() => {
                Err(ActorError::UnknownQueue(id.to_string()))
            }
            Target::Group { id } if self.ctx.config.group(id).is_none() => {
                Err(ActorError::UnknownGroup(id.clone()))
            }
            _ => Ok(()),
        }
    }

    /// Reserves each agent; returns those who accepted.
    async fn reserve_all(&self, call: &Call, agents: &[AgentId]) -> Vec<AgentId> {
        let mut out = Vec::new();
        for a in agents {
            if self.reserve(call, a).await {
                out.push(a.clone());
            }
        }
        out
    }

    /// Lets go of agents reserved for a step that was then refused.
    fn release(&self, call: &Call, agents: Vec<AgentId>) {
        for a in agents {
            self.ctx.tell_agent(
                &a,
                crate::agent_actor::AgentMsg::OfferWithdrawn {
                    call: call.id().clone(),
                },
            );
        }
    }

    /// The members of a group to ring next, per its dial strategy, skipping those tried:
    /// all available ones (simultaneous), or the first available in member order
    /// (sequential) or in random order (random). Reserved.
    pub(crate) async fn pick_group(
        &self,
        call: &Call,
        group: &str,
        tried: &[AgentId],
        just_one: bool,
    ) -> Vec<AgentId> {
        let Some(g) = self.ctx.config.group(group) else {
            return Vec::new();
        };
        let mut candidates: Vec<AgentId> = g
            .members
            .iter()
            .map(|m| AgentId::from(m.as_str()))
            .filter(|m| !tried.contains(m))
            .collect();
        if g.strategy == DialStrategy::Random {
            candidates.shuffle(&mut rand::thread_rng());
        }
        let mut out = Vec::new();
        for a in candidates {
            if self.reserve(call, &a).await {
                out.push(a);
                if just_one || g.strategy != DialStrategy::Simultaneous {
                    break;
                }
            }
        }
        out
    }

    /// The next members of a group transfer, after the previous ones missed it.
    pub(crate) async fn redial_group(&self, call: &Call) -> Vec<AgentId> {
        match call.transfer() {
            Some(t) => match &t.target {
                Target::Group { id } => self.pick_group(call, id, &t.tried, false).await,
                _ => Vec::new(),
            },
            None => Vec::new(),
        }
    }

    /// One agent of a queue, chosen by the queue's own strategy, reserved for a consult.
    async fn pick_from_queue(&self, call: &Call, queue: &engine::QueueId) -> Option<AgentId> {
        let q = self.ctx.queue(queue)?;
        let skills = call.waiting_call().skills;
        let candidates = ask(&q, "queue", |reply| QueueMsg::Candidates { skills, reply })
            .await
            .ok()?;
        for a in candidates {
            if self.reserve(call, &a).await {
                return Some(a);
            }
        }
        None
    }
}
