//! Stored transcripts (I3): the finals of calls whose queue keeps them, and the keyword alerts
//! (J4) of every call (their words only where the queue keeps transcripts).

use super::{lock, submit, Backend, Store, StoreError, Write};
use sqlx::Row;

/// A stored piece of a call's transcript (a final segment, I3), kept when the call's queue
/// says so.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TranscriptRow {
    /// The call.
    pub call_id: String,
    /// `agent` or `customer`.
    pub leg: String,
    /// The agent who spoke, on an agent leg.
    pub agent: Option<String>,
    /// Start, ms from the start of the leg.
    pub start_ms: i64,
    /// End, ms from the start of the leg.
    pub end_ms: i64,
    /// The words.
    pub text: String,
    /// When it was transcribed (ms since the epoch).
    pub at: i64,
    /// When its first word was spoken (ms since the epoch; estimated from when the leg's
    /// audio was heard): puts both legs' segments in one order, whenever each leg began.
    pub spoken_at: i64,
}

/// A keyword alert (J4): a phrase of the call's queue said in a final segment. Kept for every
/// call; the segment's words only when the queue keeps transcripts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertRow {
    /// The call.
    pub call_id: String,
    /// Its queue.
    pub queue: String,
    /// `agent` or `customer`.
    pub leg: String,
    /// The agent who spoke, on an agent leg.
    pub agent: Option<String>,
    /// The phrase, as configured.
    pub phrase: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// The final segment's words (absent when the queue does not keep transcripts).
    pub text: Option<String>,
    /// The segment's start, ms from the start of the leg.
    pub start_ms: i64,
    /// The segment's end, ms from the start of the leg.
    pub end_ms: i64,
    /// When the segment's first word was spoken (ms since the epoch, estimated).
    pub spoken_at: i64,
    /// When the alert was raised (ms since the epoch).
    pub at: i64,
}

impl Store {
    /// Keeps a final transcript segment.
    pub async fn save_transcript(&self, row: &TranscriptRow) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).transcripts.push(row.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => submit(writer, Write::Transcript(row.clone())).await,
        }
    }

    /// Keeps a keyword alert.
    pub async fn save_alert(&self, row: &AlertRow) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).alerts.push(row.clone());
                Ok(())
            }
            Backend::Sql(_, writer, _) => submit(writer, Write::Alert(row.clone())).await,
        }
    }

    /// A call's keyword alerts, in the order their words were spoken.
    pub async fn alerts(&self, call: &str) -> Result<Vec<AlertRow>, StoreError> {
        let mut rows = match &self.inner {
            Backend::Memory(m) => lock(m)
                .alerts
                .iter()
                .filter(|r| r.call_id == call)
                .cloned()
                .collect(),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(
                    "SELECT call_id, queue, leg, agent, phrase, severity, text, start_ms, end_ms,
                        spoken_at, at FROM transcript_alerts WHERE call_id = $1",
                )
                .bind(call.to_owned())
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| -> Result<AlertRow, sqlx::Error> {
                        Ok(AlertRow {
                            call_id: r.try_get("call_id")?,
                            queue: r.try_get("queue")?,
                            leg: r.try_get("leg")?,
                            agent: r.try_get("agent")?,
                            phrase: r.try_get("phrase")?,
                            severity: r.try_get("severity")?,
                            text: r.try_get("text")?,
                            start_ms: r.try_get("start_ms")?,
                            end_ms: r.try_get("end_ms")?,
                            spoken_at: r.try_get("spoken_at")?,
                            at: r.try_get("at")?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        rows.sort_by(|a, b| (a.spoken_at, a.at, &a.phrase).cmp(&(b.spoken_at, b.at, &b.phrase)));
        Ok(rows)
    }

    /// A call's stored transcript, in the order it was spoken (by when each segment was
    /// spoken, then by its place in its leg).
    pub async fn transcript(&self, call: &str) -> Result<Vec<TranscriptRow>, StoreError> {
        let mut rows = match &self.inner {
            Backend::Memory(m) => lock(m)
                .transcripts
                .iter()
                .filter(|r| r.call_id == call)
                .cloned()
                .collect(),
            Backend::Sql(pool, ..) => {
                let rows = sqlx::query(
                    "SELECT call_id, leg, agent, start_ms, end_ms, text, at,
                        COALESCE(spoken_at, at) AS spoken_at FROM transcripts WHERE call_id = $1",
                )
                .bind(call.to_owned())
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| -> Result<TranscriptRow, sqlx::Error> {
                        Ok(TranscriptRow {
                            call_id: r.try_get("call_id")?,
                            leg: r.try_get("leg")?,
                            agent: r.try_get("agent")?,
                            start_ms: r.try_get("start_ms")?,
                            end_ms: r.try_get("end_ms")?,
                            text: r.try_get("text")?,
                            at: r.try_get("at")?,
                            spoken_at: r.try_get("spoken_at")?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        rows.sort_by(|a, b| {
            (a.spoken_at, &a.leg, a.start_ms, a.at).cmp(&(b.spoken_at, &b.leg, b.start_ms, b.at))
        });
        Ok(rows)
    }
}
