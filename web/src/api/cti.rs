//! The call's CRM data over REST (G1): `GET/PUT /api/v1/calls/{id}/cti`. The owner edits it
//! during the call, the agent who had it during its wrap-up; what it may hold (the queue's
//! dispositions, the tags) comes with it.

use super::{may_see, Body};
use crate::auth::Caller;
use crate::error::AppError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use engine::call::{Call, CallData};
use serde_json::{json, Value};

fn cti_json(state: &AppState, call: &Call) -> Value {
    json!({
        "call_id": call.id(),
        "queue": call.queue(),
        "data": call.data(),
        "catalog": state.yard.catalog(call.queue().as_str()),
    })
}

/// `GET /api/v1/calls/{id}/cti`: the call's data and what it may hold.
pub(crate) async fn get(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let call = state.yard.call(&id).await?;
    if !may_see(&c, &call) {
        return Err(AppError::forbidden("agents see only their own calls"));
    }
    Ok(Json(cti_json(&state, &call)))
}

/// `PUT /api/v1/calls/{id}/cti` `{disposition?, tags?, notes?, who?, what?}`: replaces the
/// call's data (absent fields are cleared).
pub(crate) async fn put(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(data): Body<CallData>,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    let call = state.yard.set_call_data(&id, agent, data).await?;
    Ok(Json(cti_json(&state, &call)))
}
