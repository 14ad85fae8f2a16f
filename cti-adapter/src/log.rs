//! The call log a CRM receives: who called, when, how long, how it ended, and the agent's
//! data (disposition, tags, notes, Name, Related To). One per call and version: a change
//! made during wrap-up, after the first log left, is a new version of the same log.

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
        }
    }

    /// The key a CRM deduplicates deliveries by: the same log and version is the same key,
    /// however often it is retried.
    pub fn idempotency_key(&self) -> String {
        format!("{}:v{}", self.call_id, self.version)
    }

    /// The log's free text: the notes, then the tags.
    pub fn description(&self) -> String {
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
