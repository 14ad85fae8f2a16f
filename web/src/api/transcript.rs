//! Live transcripts (I1–I3, J2) over REST: whether transcription runs (the panel and the
//! supervisor view say so when it does not), and a call's stored transcript. The live
//! segments themselves travel on the event stream (`transcript.partial`, `transcript.final`,
//! `transcript.alert`).

use super::visible_call;
use crate::auth::Caller;
use crate::error::AppError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

/// `GET /api/v1/transcription`: on or off, the model, each queue's setting, the pool.
pub(crate) async fn status(State(state): State<AppState>, _c: Caller) -> Json<Value> {
    Json(json!(state.yard.transcription()))
}

/// `GET /api/v1/calls/{id}/transcript`: the stored finals of a call whose queue keeps them,
/// and the call's keyword alerts.
pub(crate) async fn transcript(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let call = visible_call(&state, &c, &id).await?;
    let t = state.yard.transcript(&call).await?;
    Ok(Json(json!({
        "call_id": id,
        "stored": t.stored,
        "segments": t.segments,
        "alerts": t.alerts,
    })))
}
