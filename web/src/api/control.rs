//! In-call control handlers: hold, mute, DTMF, recording, CRM fields, transfers, consults.

use super::*;

/// Applies an in-call action as the caller's own agent.
pub(crate) async fn act(
    state: &AppState,
    c: &Caller,
    id: &str,
    action: Control,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    Ok(Json(call_json(
        &*state.yard.control(id, agent, action).await?,
    )))
}

macro_rules! plain_action {
    ($(#[$doc:meta])* $name:ident, $action:expr) => {
        $(#[$doc])*
        pub(crate) async fn $name(State(state): State<AppState>, c: Caller, Path(id): Path<String>) -> Result<Json<Value>, AppError> {
            act(&state, &c, &id, $action).await
        }
    };
}

plain_action!(
    /// `POST /api/v1/calls/{id}/hold`
    hold, Control::Hold
);
plain_action!(
    /// `POST /api/v1/calls/{id}/resume`
    resume, Control::Resume
);
plain_action!(
    /// `POST /api/v1/calls/{id}/mute`
    mute, Control::Mute
);
plain_action!(
    /// `POST /api/v1/calls/{id}/unmute`
    unmute, Control::Unmute
);
plain_action!(
    /// `POST /api/v1/calls/{id}/take-back`
    take_back, Control::TakeBack
);
plain_action!(
    /// `POST /api/v1/calls/{id}/consult/complete`
    consult_complete, Control::ConsultComplete
);
plain_action!(
    /// `POST /api/v1/calls/{id}/consult/cancel`
    consult_cancel, Control::ConsultCancel
);
plain_action!(
    /// `POST /api/v1/calls/{id}/consult/conference`
    consult_conference, Control::ConsultConference
);

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DtmfBody {
    digits: String,
}

/// `POST /api/v1/calls/{id}/dtmf` `{"digits"}`
pub(crate) async fn dtmf(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<DtmfBody>,
) -> Result<Json<Value>, AppError> {
    act(&state, &c, &id, Control::Dtmf(b.digits)).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingBody {
    action: RecordingAction,
}

/// `POST /api/v1/calls/{id}/recording` `{"action": "start"|"stop"|"mask"|"unmask"}`
pub(crate) async fn recording(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<RecordingBody>,
) -> Result<Json<Value>, AppError> {
    act(&state, &c, &id, Control::Recording(b.action)).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetBody {
    target: Target,
}

/// `POST /api/v1/calls/{id}/transfer` `{"target": {"type", "id"?, "number"?}}` (blind)
pub(crate) async fn transfer(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<TargetBody>,
) -> Result<Json<Value>, AppError> {
    act(&state, &c, &id, Control::Transfer(b.target)).await
}

/// `POST /api/v1/calls/{id}/consult` `{"target"}` (attended; the customer is held)
pub(crate) async fn consult(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<TargetBody>,
) -> Result<Json<Value>, AppError> {
    act(&state, &c, &id, Control::Consult(b.target)).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrmBody {
    who: Option<String>,
    what: Option<String>,
}

/// `PUT /api/v1/calls/{id}/crm` `{"who"?, "what"?}`: Name and Related To, which travel with
/// the call through transfers.
pub(crate) async fn crm(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<CrmBody>,
) -> Result<Json<Value>, AppError> {
    let too_long = |v: &Option<String>| v.as_ref().is_some_and(|s| s.len() > 255);
    if too_long(&b.who) || too_long(&b.what) {
        return Err(AppError::invalid(
            "invalid_crm",
            "who and what are CRM ids of at most 255 characters",
        ));
    }
    act(
        &state,
        &c,
        &id,
        Control::Crm {
            who: b.who,
            what: b.what,
        },
    )
    .await
}
