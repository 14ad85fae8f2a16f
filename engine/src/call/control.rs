//! In-call control by the call's owner (C1–C3): hold and resume, mute and unmute, DTMF, and
//! recording with its mask. A consulted colleague sees the call but cannot act on it (D3); a
//! conference cannot be held, masked or sent DTMF (D4).

use super::{Call, CallState, JourneyEvent};
use crate::{AgentId, Error, Timestamp};
use serde::{Deserialize, Serialize};

/// The recording of a call (C2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recording {
    /// Not recording.
    #[default]
    Off,
    /// Recording.
    On,
    /// Recording paused for sensitive data: the stretch is silence in the file.
    Masked,
}

/// The longest DTMF string accepted in one request.
pub const MAX_DTMF_DIGITS: usize = 32;

impl Call {
    /// Checks that `agent` owns the connected call.
    pub(super) fn check_owner(&self, agent: &AgentId) -> Result<(), Error> {
        if self.state != CallState::Connected {
            return Err(Error::CallState(
                self.id.clone(),
                self.state.as_str().into(),
                "be controlled",
            ));
        }
        if self.agent.as_ref() != Some(agent) {
            return Err(Error::NotOwner(self.id.clone(), agent.clone()));
        }
        Ok(())
    }

    /// The owner puts the customer on hold (the customer hears hold music).
    pub fn hold(&mut self, now: Timestamp, agent: &AgentId) -> Result<(), Error> {
        self.check_owner(agent)?;
        if self.conference.is_some() {
            return Err(Error::ConferenceNoHold(self.id.clone()));
        }
        if self.held {
            return Err(Error::AlreadyHeld(self.id.clone()));
        }
        self.held = true;
        self.log(now, JourneyEvent::Held);
        Ok(())
    }

    /// The owner takes the customer off hold. Not during a consult: complete, cancel or
    /// conference it first.
    pub fn resume(&mut self, now: Timestamp, agent: &AgentId) -> Result<(), Error> {
        self.check_owner(agent)?;
        if !self.held {
            return Err(Error::NotHeld(self.id.clone()));
        }
        if self.consult.is_some() {
            return Err(Error::ConsultInProgress(self.id.clone()));
        }
        self.held = false;
        self.log(now, JourneyEvent::Resumed);
        Ok(())
    }

    /// The owner mutes (`true`) or unmutes its microphone.
    pub fn set_muted(&mut self, now: Timestamp, agent: &AgentId, muted: bool) -> Result<(), Error> {
        self.check_owner(agent)?;
        if self.muted == muted {
            return Err(if muted {
                Error::AlreadyMuted(self.id.clone())
            } else {
                Error::NotMuted(self.id.clone())
            });
        }
        self.muted = muted;
        self.log(
            now,
            if muted {
                JourneyEvent::Muted
            } else {
                JourneyEvent::Unmuted
            },
        );
        Ok(())
    }

    /// The owner sends DTMF digits (`0-9`, `*`, `#`, `A-D`) to the customer.
    pub fn dtmf(&mut self, now: Timestamp, agent: &AgentId, digits: &str) -> Result<(), Error> {
        self.check_owner(agent)?;
        let valid = |c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D');
        if digits.is_empty() || digits.len() > MAX_DTMF_DIGITS || !digits.chars().all(valid) {
            return Err(Error::InvalidDigits(
                digits.chars().take(MAX_DTMF_DIGITS + 1).collect(),
            ));
        }
        if self.conference.is_some() {
            return Err(Error::ConferenceNoDtmf(self.id.clone()));
        }
        if self.held {
            return Err(Error::HeldNoDtmf(self.id.clone()));
        }
        self.log(
            now,
            JourneyEvent::Dtmf {
                digits: digits.to_owned(),
            },
        );
        Ok(())
    }

    /// The owner starts, stops, masks or unmasks the recording.
    pub fn record(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        action: RecordingAction,
    ) -> Result<(), Error> {
        self.check_owner(agent)?;
        let id = self.id.clone();
        let next = match (action, self.recording) {
            (RecordingAction::Start, Recording::Off) => Recording::On,
            (RecordingAction::Start, _) => return Err(Error::RecordingAlreadyOn(id)),
            (RecordingAction::Stop, Recording::Off) => return Err(Error::RecordingOff(id)),
            (RecordingAction::Stop, _) => Recording::Off,
            (RecordingAction::Mask, _) if self.conference.is_some() => {
                return Err(Error::ConferenceNoMask(id))
            }
            (RecordingAction::Mask, Recording::On) => Recording::Masked,
            (RecordingAction::Mask, Recording::Off) => return Err(Error::RecordingOff(id)),
            (RecordingAction::Mask, Recording::Masked) => return Err(Error::AlreadyMasked(id)),
            (RecordingAction::Unmask, Recording::Masked) => Recording::On,
            (RecordingAction::Unmask, _) => return Err(Error::NotMasked(id)),
        };
        self.recording = next;
        self.log(now, JourneyEvent::Recording { state: next });
        Ok(())
    }

    /// Starts the recording when the call connects, for queues that record every call (C2).
    pub fn start_recording_on_connect(&mut self, now: Timestamp) {
        if self.state == CallState::Connected && self.recording == Recording::Off {
            self.recording = Recording::On;
            self.log(
                now,
                JourneyEvent::Recording {
                    state: Recording::On,
                },
            );
        }
    }
}

/// What the owner does to the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecordingAction {
    /// Start (or restart) recording.
    Start,
    /// Stop recording.
    Stop,
    /// Pause for sensitive data.
    Mask,
    /// Resume after a mask.
    Unmask,
}
