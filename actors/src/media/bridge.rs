//! The two-party bridge (H2, H3): customer audio to the agent and agent audio to the
//! customer, following the call's state — on hold the customer hears hold music and the agent
//! hears nothing from the customer; muted, the agent's audio does not reach the customer.
//! Each leg's audio is also resampled to 16 kHz and offered to its fork, which never slows
//! the bridge.

use crate::media::fork::{ForkSender, Frame};
use crate::media::leg::{Leg, FRAME_SAMPLES};
use crate::media::resample::To16k;
use crate::media::tone::HoldMusic;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The call state the bridge follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BridgeState {
    /// The customer is on hold.
    pub held: bool,
    /// The agent's microphone is muted.
    pub muted: bool,
}

/// One side of the bridge: its leg, what it receives, and its fork.
pub struct Side {
    /// The leg.
    pub leg: Arc<Leg>,
    /// Frames received from it (8 kHz).
    pub incoming: mpsc::Receiver<Vec<i16>>,
    /// Where its audio is offered at 16 kHz.
    pub fork: ForkSender,
}

struct Forking {
    fork: ForkSender,
    resample: To16k,
    at_ms: u64,
}

impl Forking {
    fn offer(&mut self, frame: &[i16]) {
        let samples = self.resample.process(frame);
        self.fork.send(Frame {
            at_ms: self.at_ms,
            samples,
        });
        self.at_ms += (frame.len() as u64 * 1000) / 8_000;
    }
}

/// Runs the bridge until both legs stop sending or `state` is dropped.
pub fn spawn(
    customer: Side,
    agent: Side,
    mut state: watch::Receiver<BridgeState>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Side {
            leg: customer_leg,
            incoming: mut from_customer,
            fork: customer_fork,
        } = customer;
        let Side {
            leg: agent_leg,
            incoming: mut from_agent,
            fork: agent_fork,
        } = agent;
        let resampler = || To16k::new(8_000).expect("8 kHz is supported");
        let mut customer_fork = Forking {
            fork: customer_fork,
            resample: resampler(),
            at_ms: 0,
        };
        let mut agent_fork = Forking {
            fork: agent_fork,
            resample: resampler(),
            at_ms: 0,
        };
        let mut music = HoldMusic::new(8_000);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let now = *state.borrow();
            tokio::select! {
                frame = from_customer.recv() => {
                    let Some(frame) = frame else { break };
                    customer_fork.offer(&frame);
                    if !now.held {
                        let _ = agent_leg.send(&frame).await;
                    }
                }
                frame = from_agent.recv() => {
                    let Some(frame) = frame else { break };
                    agent_fork.offer(&frame);
                    if !now.held && !now.muted {
                        let _ = customer_leg.send(&frame).await;
                    }
                }
                _ = tick.tick() => {
                    if now.held {
                        let _ = customer_leg.send(&music.take(FRAME_SAMPLES)).await;
                    }
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    })
}
