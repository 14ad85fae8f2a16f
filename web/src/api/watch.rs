//! What a supervisor (or an out-of-process extension signed in as one) does about a queue
//! falling behind: `POST /api/v1/queues/{id}/alerts` raises a `queue.alert` on every
//! supervisor's view, and `PUT /api/v1/calls/{id}/skills` widens a waiting call's skill
//! requirements (lowered or dropped, never added or raised) so more agents may take it.

use super::{call_json, Body};
use crate::auth::Caller;
use crate::error::AppError;
use crate::AppState;
use actors::config::Role;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use engine::alerts::Severity;
use engine::routing::Skills;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertBody {
    /// What is wrong, in words: 1 to 500 characters, no control characters.
    text: String,
    /// `info`, `warning` (the default) or `critical`.
    #[serde(default)]
    severity: Option<String>,
}

/// `POST /api/v1/queues/{id}/alerts` (supervisor, admin): 204 once every supervisor's event
/// stream has it.
pub(crate) async fn alert(
    State(state): State<AppState>,
    c: Caller,
    Path(queue): Path<String>,
    Body(b): Body<AlertBody>,
) -> Result<StatusCode, AppError> {
    c.require(&[Role::Supervisor, Role::Admin])?;
    let severity = match b.severity.as_deref() {
        None | Some("warning") => Severity::Warning,
        Some("info") => Severity::Info,
        Some("critical") => Severity::Critical,
        Some(other) => {
            return Err(AppError::invalid(
                "invalid_alert",
                format!("unknown severity {other:?}; use info, warning or critical"),
            ))
        }
    };
    state
        .yard
        .alert_supervisors(&queue, severity, &b.text, &c.username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkillsBody {
    /// What the call requires now: skill → minimum level, each one it required before,
    /// at the same level or lower (`{}` drops every requirement).
    skills: Skills,
}

/// `PUT /api/v1/calls/{id}/skills` (supervisor, admin): the call, widened.
pub(crate) async fn widen(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<SkillsBody>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Supervisor, Role::Admin])?;
    let call = state.yard.widen_skills(&id, b.skills).await?;
    Ok(Json(call_json(&call)))
}
