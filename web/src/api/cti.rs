//! The call's CRM data over REST (G1): `GET/PUT /api/v1/calls/{id}/cti`. The owner edits it
//! during the call, the agent who had it during its wrap-up; what it may hold (the queue's
//! dispositions, the tags) comes with it.

use super::{visible_call, Body};
use crate::auth::Caller;
use crate::error::AppError;
use crate::AppState;
use actors::config::Role;
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
    let call = visible_call(&state, &c, &id).await?;
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

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    state: Option<String>,
    /// Newest rows first, at most this many (default 100, at most 1000).
    limit: Option<usize>,
}

/// `GET /api/v1/cti/outbox?state=pending|delivered|dead|superseded|pruned`: the CRM outbox
/// (supervisors).
pub(crate) async fn outbox(
    State(state): State<AppState>,
    c: Caller,
    super::Q(q): super::Q<OutboxQuery>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Supervisor, Role::Admin])?;
    if let Some(s) = q.state.as_deref() {
        if !["pending", "delivered", "dead", "superseded", "pruned"].contains(&s) {
            return Err(AppError::invalid(
                "invalid_state",
                format!("state {s:?}: give pending, delivered, dead, superseded or pruned"),
            ));
        }
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(AppError::invalid("invalid_limit", "limit: give 1 to 1000"));
    }
    let (rows, total) = state.yard.outbox_page(q.state.as_deref(), limit).await?;
    Ok(Json(json!({ "rows": rows, "total": total })))
}

/// `POST /api/v1/cti/outbox/{key}/retry`: puts a row back in line, due now (admins).
pub(crate) async fn retry(
    State(state): State<AppState>,
    c: Caller,
    Path(key): Path<String>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Admin])?;
    match state.yard.outbox_retry(&key).await? {
        Some(row) => Ok(Json(json!(row))),
        None => Err(AppError::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_outbox_row",
            format!("no outbox row {key}"),
        )),
    }
}
