//! The two-party bridge (H2, H3): customer audio to the agent and agent audio to the
//! customer, following the call's state — on hold the customer hears hold music and the agent
//! hears nothing from the customer; muted, the agent's audio does not reach the customer.
//! Each leg's audio is also resampled to 16 kHz and offered to its fork, which never slows
//! the bridge.

use crate::media::fork::{ForkSender, Frame};
use crate::media::leg::{Leg, FRAME_SAMPLES};
use crate::media::resample::To16k;
use crate::media::tone::HoldMusic;
use crate::media::wav::Recorder;
use engine::call::Recording;
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
    /// The call's recording: off, on, or masked (silence in the file).
    pub recording: Recording,
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
/// A call recording file.
pub type RecordingFile = Recorder<std::io::BufWriter<std::fs::File>>;

/// Runs the bridge until both legs stop sending or `state` is dropped. With a recorder, both
/// parties are mixed into it every 20 ms under the call's recording state (the held
/// customer's microphone is left out), and the file is completed when the bridge ends.
pub fn spawn(
    customer: Side,
    agent: Side,
    mut state: watch::Receiver<BridgeState>,
    mut recorder: Option<RecordingFile>,
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
        let (mut heard_customer, mut heard_agent) = (Vec::<i16>::new(), Vec::<i16>::new());
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
                        if recorder.is_some() {
                            heard_customer.extend_from_slice(&frame);
                        }
                    }
                }
                frame = from_agent.recv() => {
                    let Some(frame) = frame else { break };
                    agent_fork.offer(&frame);
                    if !now.held && !now.muted {
                        let _ = customer_leg.send(&frame).await;
                    }
                    if recorder.is_some() && !now.muted {
                        heard_agent.extend_from_slice(&frame);
                    }
                }
                _ = tick.tick() => {
                    if now.held {
                        let _ = customer_leg.send(&music.take(FRAME_SAMPLES)).await;
                    }
                    if let Some(r) = recorder.as_mut() {
                        let c = take_frame(&mut heard_customer);
                        let a = take_frame(&mut heard_agent);
                        let mixed: Vec<i16> = c.iter().zip(&a).map(|(x, y)| x.saturating_add(*y)).collect();
                        if let Err(e) = r.write(&mixed, now.recording) {
                            tracing::error!(error = %e, "recording write failed; the recording stops");
                            recorder = None;
                        }
                    }
                }
                changed = state.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        if let Some(r) = recorder {
            if let Err(e) = r.finish() {
                tracing::error!(error = %e, "the recording could not be completed");
            }
        }
    })
}

/// The next 20 ms of what a party said (silence when it sent nothing), at most one frame of
/// backlog kept so that the recording stays in step with the call.
fn take_frame(buf: &mut Vec<i16>) -> Vec<i16> {
    let mut frame: Vec<i16> = buf.drain(..buf.len().min(FRAME_SAMPLES)).collect();
    frame.resize(FRAME_SAMPLES, 0);
    if buf.len() > FRAME_SAMPLES {
        let excess = buf.len() - FRAME_SAMPLES;
        buf.drain(..excess);
    }
    frame
}
