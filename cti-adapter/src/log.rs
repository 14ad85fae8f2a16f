//! The call log a CRM receives: who called, when, how long, how it ended, the agent's data
//! (disposition, tags, notes, Name, Related To) and, for queues that keep transcripts, the
//! stored transcript (speaker-labelled lines in the order they were spoken). One per call and
//! version: a change made during wrap-up, after the first log left, is a new version of the
//! same log.
//!
//! Sizes are bounded: a log carries at most [`MAX_TRANSCRIPT_CHARS`] characters of transcript
//! (then `transcript_truncated`), and [`CallLog::description_within`] writes the free text of
//! a CRM field with a size limit (Salesforce's Task Description: 32,000 characters): the notes
//! first, then the transcript, cut at a line with a marker saying how many lines were left
//! out.

use engine::call::{Call, CallData, CallKind};
use serde::{Deserialize, Serialize};

/// A call's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLog {
    /// The call (Open CTI's `CallObject`).
    pub call_id: String,
    /// 1 for the log written when the call ended; +1 for each later change.
    pub version: u32,
    /// `inbound`, `outbound` or `callback`.
    pub direction: String,
    /// The customer's number.
    pub number: String,
    /// The queue.
    pub queue: String,
    /// The agent who had the call last.
    pub agent: Option<String>,
    /// When the call began (ms since the epoch).
    pub started_at: i64,
    /// When it ended (ms since the epoch).
    pub ended_at: Option<i64>,
    /// Talk time in seconds (0 when nobody answered).
    pub duration_seconds: u64,
    /// `answered`, `abandoned`, `not_answered`…
    pub result: Option<String>,
    /// The agent's data.
    pub data: CallData,
    /// The stored transcript's final segments, in the order they were spoken (empty when the
    /// queue keeps no transcript).
    #[serde(default)]
    pub transcript: Vec<TranscriptLine>,
    /// Lines were left out: the transcript is longer than [`MAX_TRANSCRIPT_CHARS`].
    #[serde(default)]
    pub transcript_truncated: bool,
}

/// One line of a call's transcript in its log: who said what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `agent` or `customer`.
    pub leg: String,
    /// The agent who spoke, on an agent leg.
    pub agent: Option<String>,
    /// When its first word was spoken (ms since the epoch, estimated).
    pub spoken_at: i64,
    /// The words.
    pub text: String,
}

impl TranscriptLine {
    /// Who spoke, for people: `Customer`, `Agent (alice)`.
    pub fn speaker(&self) -> String {
        match (self.leg.as_str(), &self.agent) {
            ("customer", _) => "Customer".to_owned(),
            (_, Some(agent)) => format!("Agent ({agent})"),
            (_, None) => "Agent".to_owned(),
        }
    }
}

/// The most transcript characters a log carries; later lines are left out.
pub const MAX_TRANSCRIPT_CHARS: usize = 100_000;

/// What ends notes cut to fit a field.
const NOTES_CUT: &str = "\n[notes truncated]";

fn lines_left_out(n: usize) -> String {
    format!(
        "[transcript truncated: {n} more line{}]",
        if n == 1 { "" } else { "s" }
    )
}

impl CallLog {
    /// The log of `call` at `version`.
    pub fn of(call: &Call, version: u32) -> CallLog {
        CallLog {
            call_id: call.id().to_string(),
            version,
            direction: match call.kind() {
                CallKind::Inbound => "inbound",
                CallKind::Outbound => "outbound",
                CallKind::Callback => "callback",
            }
            .to_owned(),
            number: call.from().to_owned(),
            queue: call.queue().to_string(),
            agent: call.agent().map(ToString::to_string),
            started_at: call.created_at().0,
            ended_at: call.ended_at().map(|t| t.0),
            duration_seconds: call.talk_duration().map_or(0, |d| d.as_secs()),
            result: call.result().map(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            }),
            data: call.data(),
            transcript: Vec::new(),
            transcript_truncated: false,
        }
    }

    /// The log with this transcript: put in the order spoken, and cut after
    /// [`MAX_TRANSCRIPT_CHARS`] characters of text.
    pub fn with_transcript(mut self, mut lines: Vec<TranscriptLine>) -> CallLog {
        lines.sort_by_key(|l| l.spoken_at);
        let mut chars = 0;
        let keep = lines
            .iter()
            .take_while(|l| {
                chars += l.text.chars().count();
                chars <= MAX_TRANSCRIPT_CHARS
            })
            .count();
        self.transcript_truncated = keep < lines.len();
        lines.truncate(keep);
        self.transcript = lines;
        self
    }

    /// The key a CRM deduplicates deliveries by: the same log and version is the same key,
    /// however often it is retried.
    pub fn idempotency_key(&self) -> String {
        format!("{}:v{}", self.call_id, self.version)
    }

    /// The log's free text for a CRM field of at most `max` characters: the notes and tags
    /// first, then the transcript (`Transcript:` and one `Speaker: words` line per segment).
    /// What does not fit is cut at a line, with a marker saying how many lines were left out;
    /// notes that alone do not fit are cut with a marker, and the transcript left out.
    pub fn description_within(&self, max: usize) -> String {
        let head = self.notes_and_tags();
        if self.transcript.is_empty() {
            return cut(head, max);
        }
        let mut out = head.clone();
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str("Transcript:");
        let mut used = out.chars().count();
        // Room for the longest marker is kept while lines remain, so one always fits.
        let marker_room = 1 + lines_left_out(self.transcript.len()).chars().count();
        if used + marker_room > max {
            return cut(head, max);
        }
        for (i, line) in self.transcript.iter().enumerate() {
            let text = format!("{}: {}", line.speaker(), line.text);
            let n = 1 + text.chars().count();
            let more = i + 1 < self.transcript.len() || self.transcript_truncated;
            if used + n + if more { marker_room } else { 0 } > max {
                out.push('\n');
                out.push_str(&lines_left_out(self.transcript.len() - i));
                return out;
            }
            out.push('\n');
            out.push_str(&text);
            used += n;
        }
        if self.transcript_truncated {
            out.push_str("\n[transcript truncated]");
        }
        out
    }

    /// The notes, then the tags.
    fn notes_and_tags(&self) -> String {
        let mut d = self.data.notes.clone();
        if !self.data.tags.is_empty() {
            if !d.is_empty() {
                d.push_str("\n\n");
            }
            d.push_str("Tags: ");
            d.push_str(
                &self
                    .data
                    .tags
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        d
    }
}

/// `text` if it has at most `max` characters, else its start and [`NOTES_CUT`] in `max`.
fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let keep = max.saturating_sub(NOTES_CUT.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    if out.chars().count() + NOTES_CUT.chars().count() <= max {
        out.push_str(NOTES_CUT);
    }
    out
}

#[cfg(test)]
mod tests;
