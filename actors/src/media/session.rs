//! Media sessions: the audio side of each call. A session gathers the call's customer and
//! agent legs as their offers arrive, starts the bridge once both are up, and follows the
//! call's own events — hold and resume, mute and unmute, the end of the call — so that media
//! never decides anything about the call, it only obeys it.

use crate::events::{Event, EventKind};
use crate::media::bridge::{self, BridgeState, Side};
use crate::media::fork::{fork, ForkReceiver};
use crate::media::leg::{Leg, LegError};
use engine::call::JourneyEvent;
use engine::CallId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};
use webrtc::peer_connection::RTCSessionDescription;

/// Which side of the call a leg carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The caller.
    Customer,
    /// The call's agent.
    Agent,
}

/// Frames kept per fork subscriber before the oldest is dropped (10 s of 20 ms frames).
const FORK_FRAMES: usize = 500;

struct PendingLeg {
    leg: Arc<Leg>,
    incoming: mpsc::Receiver<Vec<i16>>,
}

#[derive(Default)]
struct Session {
    customer: Option<PendingLeg>,
    agent: Option<PendingLeg>,
    legs: Vec<Arc<Leg>>,
    forks: Option<(ForkReceiver, ForkReceiver)>,
    started: bool,
}

/// Every call's media session.
#[derive(Clone, Default)]
pub struct MediaSessions {
    sessions: Arc<Mutex<HashMap<CallId, Session>>>,
    ended: Arc<tokio::sync::Notify>,
    recordings: Option<Arc<std::path::PathBuf>>,
}

fn lock(
    m: &Mutex<HashMap<CallId, Session>>,
) -> std::sync::MutexGuard<'_, HashMap<CallId, Session>> {
    // Plain maps of legs: a poisoned lock still holds a usable registry.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MediaSessions {
    /// Sessions writing call recordings into `recordings_dir`, if given.
    pub fn new(recordings_dir: Option<std::path::PathBuf>) -> Self {
        MediaSessions {
            recordings: recordings_dir.map(Arc::new),
            ..Default::default()
        }
    }

    /// Where a call's recording is (or would be) written.
    pub fn recording_path(&self, call: &CallId) -> Option<std::path::PathBuf> {
        self.recordings
            .as_ref()
            .map(|d| d.join(format!("{call}.wav")))
    }

    fn open_recording(&self, call: &CallId) -> Option<bridge::RecordingFile> {
        let path = self.recording_path(call)?;
        let opened = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::File::create(&path))
            .and_then(|f| crate::media::wav::Recorder::new(std::io::BufWriter::new(f), 8_000));
        match opened {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot open the call recording");
                None
            }
        }
    }

    /// Answers a party's offer for `call` with a new leg; once both parties are connected,
    /// the bridge starts and follows the call's events from `events`.
    pub async fn answer(
        &self,
        call: &CallId,
        party: Party,
        offer: RTCSessionDescription,
        events: broadcast::Receiver<Event>,
        state_now: BridgeState,
    ) -> Result<RTCSessionDescription, LegError> {
        let (leg, incoming) = Leg::new().await?;
        let answer = leg.answer(offer).await?;
        let leg = Arc::new(leg);
        let ready = {
            let mut all = lock(&self.sessions);
            let s = all.entry(call.clone()).or_default();
            s.legs.push(leg.clone());
            let slot = match party {
                Party::Customer => &mut s.customer,
                Party::Agent => &mut s.agent,
            };
            *slot = Some(PendingLeg { leg, incoming });
            if s.customer.is_some() && s.agent.is_some() && !s.started {
                s.started = true;
                let customer = s.customer.take().expect("checked above");
                let agent = s.agent.take().expect("checked above");
                let (customer_fork, customer_out) = fork(FORK_FRAMES);
                let (agent_fork, agent_out) = fork(FORK_FRAMES);
                s.forks = Some((customer_out, agent_out));
                Some((
                    Side {
                        leg: customer.leg,
                        incoming: customer.incoming,
                        fork: customer_fork,
                    },
                    Side {
                        leg: agent.leg,
                        incoming: agent.incoming,
                        fork: agent_fork,
                    },
                ))
            } else {
                None
            }
        };
        if let Some((customer, agent)) = ready {
            let (state_tx, state) = watch::channel(state_now);
            let bridge = bridge::spawn(customer, agent, state, self.open_recording(call));
            tokio::spawn(follow(self.clone(), call.clone(), events, state_tx, bridge));
        }
        Ok(answer)
    }

    /// The 16 kHz forks of a call's customer and agent legs, once its bridge runs (for the
    /// transcriber; taken once).
    pub fn take_forks(&self, call: &CallId) -> Option<(ForkReceiver, ForkReceiver)> {
        lock(&self.sessions)
            .get_mut(call)
            .and_then(|s| s.forks.take())
    }

    /// Whether a call has a running bridge.
    pub fn is_bridged(&self, call: &CallId) -> bool {
        lock(&self.sessions).get(call).is_some_and(|s| s.started)
    }

    /// Waits until the call has no media session (it ended with the call).
    pub async fn ended(&self, call: &CallId) {
        loop {
            // Registered before the check, so an end between the check and the wait is seen.
            let notified = self.ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !lock(&self.sessions).contains_key(call) {
                return;
            }
            notified.await;
        }
    }

    async fn end(&self, call: &CallId) {
        let legs = lock(&self.sessions)
            .remove(call)
            .map(|s| s.legs)
            .unwrap_or_default();
        for leg in legs {
            leg.close().await;
        }
        self.ended.notify_waiters();
    }
}

/// Follows the call's events into the bridge's state, and ends the session with the call.
async fn follow(
    sessions: MediaSessions,
    call: CallId,
    mut events: broadcast::Receiver<Event>,
    state: watch::Sender<BridgeState>,
    bridge: tokio::task::JoinHandle<()>,
) {
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let EventKind::Call { call_id, entry, .. } = &event.kind else {
            continue;
        };
        if call_id != &call {
            continue;
        }
        let mut s = *state.borrow();
        match &entry.event {
            JourneyEvent::Held => s.held = true,
            JourneyEvent::Resumed => s.held = false,
            JourneyEvent::Muted => s.muted = true,
            JourneyEvent::Unmuted => s.muted = false,
            JourneyEvent::Recording { state } => s.recording = *state,
            JourneyEvent::Ended { .. }
            | JourneyEvent::Failed { .. }
            | JourneyEvent::TransferredOut { .. } => break,
            _ => continue,
        }
        let _ = state.send(s);
    }
    // Stopping the bridge completes the recording before the session is gone.
    drop(state);
    let _ = bridge.await;
    sessions.end(&call).await;
}
