//! Switchyard's live transcription: the vocabulary shared by the media fork, the transcriber
//! and the supervisor's view — which leg of a call is speaking, which legs a queue transcribes,
//! and the partial and final segments a transcriber emits.
//!
//! - [`stream`]: one leg's streaming policy as a pure state machine (voice activity gate,
//!   re-decoded window, LocalAgreement-2 commit, pause on hold or mask).
//! - [`pool`]: the fixed pool of worker threads that decode, finals before partials.
//! - [`live`]: a leg driven by live audio and the pool, for one async task per leg.
//! - [`import`]: CTranslate2 (faster-whisper) models converted to whisper.cpp's ggml files.

#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

pub mod ggml;
pub mod import;
pub mod live;
pub mod pool;
pub mod service;
pub mod stream;
pub mod whisper;

/// One side of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// The agent's microphone.
    Agent,
    /// The caller.
    Customer,
}

/// Which legs a queue transcribes (I3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No transcription.
    #[default]
    Off,
    /// The agent's side only.
    Agent,
    /// The customer's side only.
    Customer,
    /// Both sides.
    Both,
}

impl Mode {
    /// Whether this mode transcribes `leg`.
    pub fn covers(self, leg: Leg) -> bool {
        matches!(
            (self, leg),
            (Mode::Both, _) | (Mode::Agent, Leg::Agent) | (Mode::Customer, Leg::Customer)
        )
    }
}

/// Whether a segment may still change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stability {
    /// The current best guess; a later segment of the same leg replaces it.
    Partial,
    /// Committed: it will not change.
    Final,
}

/// A piece of transcript.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Who spoke.
    pub leg: Leg,
    /// Start, in milliseconds from the start of the leg's audio.
    pub start_ms: u64,
    /// End, in milliseconds from the start of the leg's audio.
    pub end_ms: u64,
    /// The words.
    pub text: String,
    /// Partial or final.
    pub stability: Stability,
}

/// Why a segment is refused: its times run backwards or it carries no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// `end_ms` before `start_ms`.
    #[error("segment ends ({end} ms) before it starts ({start} ms)")]
    Backwards {
        /// Start.
        start: u64,
        /// End.
        end: u64,
    },
    /// Only white space.
    #[error("segment has no text")]
    Empty,
}

impl Segment {
    /// A checked segment.
    pub fn new(
        leg: Leg,
        start_ms: u64,
        end_ms: u64,
        text: &str,
        stability: Stability,
    ) -> Result<Segment, SegmentError> {
        if end_ms < start_ms {
            return Err(SegmentError::Backwards {
                start: start_ms,
                end: end_ms,
            });
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(SegmentError::Empty);
        }
        Ok(Segment {
            leg,
            start_ms,
            end_ms,
            text: text.to_owned(),
            stability,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_cover_their_legs() {
        assert!(Mode::Both.covers(Leg::Agent) && Mode::Both.covers(Leg::Customer));
        assert!(Mode::Agent.covers(Leg::Agent) && !Mode::Agent.covers(Leg::Customer));
        assert!(!Mode::Customer.covers(Leg::Agent) && Mode::Customer.covers(Leg::Customer));
        assert!(!Mode::Off.covers(Leg::Agent) && !Mode::Off.covers(Leg::Customer));
    }

    #[test]
    fn segments_are_checked_and_trimmed() {
        let s = Segment::new(
            Leg::Customer,
            100,
            900,
            "  my account number ",
            Stability::Partial,
        )
        .unwrap();
        assert_eq!(s.text, "my account number");
        assert_eq!(
            Segment::new(Leg::Agent, 5, 4, "x", Stability::Final),
            Err(SegmentError::Backwards { start: 5, end: 4 })
        );
        assert_eq!(
            Segment::new(Leg::Agent, 5, 5, " ", Stability::Final),
            Err(SegmentError::Empty)
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            (json["leg"].as_str(), json["stability"].as_str()),
            (Some("customer"), Some("partial"))
        );
    }
}
