//! Stored transcripts (I3): the finals of calls whose queue keeps them.

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
}

impl Store {
    /// Keeps a final transcript segment.
    pub async fn save_transcript(&self, row: &TranscriptRow) -> Result<(), StoreError> {
        match &self.inner {
            Backend::Memory(m) => {
                lock(m).transcripts.push(row.clone());
                Ok(())
            }
            Backend::Sql(_, writer) => submit(writer, Write::Transcript(row.clone())).await,
        }
    }

    /// A call's stored transcript, in the order it was spoken (by start, then leg).
    pub async fn transcript(&self, call: &str) -> Result<Vec<TranscriptRow>, StoreError> {
        let mut rows = match &self.inner {
            Backend::Memory(m) => lock(m)
                .transcripts
                .iter()
                .filter(|r| r.call_id == call)
                .cloned()
                .collect(),
            Backend::Sql(pool, _) => {
                let rows = sqlx::query(
                    "SELECT call_id, leg, agent, start_ms, end_ms, text, at FROM transcripts
                     WHERE call_id = $1",
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
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        rows.sort_by(|a, b| {
            (a.start_ms, &a.leg, a.at, a.end_ms).cmp(&(b.start_ms, &b.leg, b.at, b.end_ms))
        });
        Ok(rows)
    }
}
