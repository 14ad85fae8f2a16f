//! REST handlers under `/api/v1`: each one checks the caller's role, translates the request
//! into a call on [`actors::Switchyard`], and the answer into JSON. No domain rule lives here.

use crate::auth::{open_session, Caller};
use crate::error::AppError;
use crate::AppState;
use actors::config::Role;
use actors::Sort;
use actors::{AgentView, Control};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use engine::agent::Status;
use engine::call::{Call, CallState, Party, RecordingAction, Target};
use engine::compliance::List;
use engine::routing::Skills;
use engine::QueueId;
use serde::Deserialize;
use serde_json::{json, Value};

/// A JSON body whose rejection is an [`AppError`] with the JSON error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Body<T>(pub T);

/// A query string whose rejection is an [`AppError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Q<T>(pub T);

// Keep the rejection types in use so a change of axum's names shows up here.
#[allow(dead_code)]
fn _rejections(_: JsonRejection, _: QueryRejection) {}

/// `GET /api/v1/health`
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    username: String,
    password: String,
}

/// `POST /api/v1/sessions`
pub(crate) async fn login(
    State(state): State<AppState>,
    Body(login): Body<Login>,
) -> Result<impl IntoResponse, AppError> {
    let users = state.users.clone();
    let (username, password) = (login.username, login.password);
    // argon2 is deliberately slow: keep it off the async workers.
    let user = tokio::task::spawn_blocking(move || users.verify(&username, &password).cloned())
        .await
        .map_err(|e| AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .ok_or_else(|| {
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "unknown user or wrong password",
            )
        })?;
    let token = open_session(&state, &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "role": user.role, "agent_id": user.agent})),
    ))
}

/// `GET /api/v1/agents`
pub(crate) async fn list_agents(
    State(state): State<AppState>,
    c: Caller,
) -> Result<Json<Value>, AppError> {
    let agents: Vec<AgentView> = state
        .yard
        .agents()
        .await?
        .into_iter()
        .map(|a| seen_by(&c, a))
        .collect();
    Ok(Json(json!({"agents": agents})))
}

/// Colleagues see each other's status (to pick a transfer target), not which calls they are
/// on: those ids are for the agent itself and supervisors.
fn seen_by(c: &Caller, mut a: AgentView) -> AgentView {
    if !c.is_supervisor() && c.agent.as_deref() != Some(a.id.as_str()) {
        a.call_id = None;
        a.held_calls.clear();
    }
    a
}

/// `GET /api/v1/agents/{id}`
pub(crate) async fn get_agent(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json!(seen_by(&c, state.yard.agent(&id).await?))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusBody {
    status: Option<String>,
    post_call_status: Option<String>,
}

/// `PUT /api/v1/agents/{id}/status`
pub(crate) async fn set_status(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<StatusBody>,
) -> Result<Json<Value>, AppError> {
    c.may_act_on_agent(&id)?;
    if b.status.is_none() && b.post_call_status.is_none() {
        return Err(AppError::invalid(
            "missing_status",
            "give status, post_call_status, or both",
        ));
    }
    let view = state
        .yard
        .set_status(
            &id,
            b.status.as_deref().map(Status::parse),
            b.post_call_status.as_deref().map(Status::parse),
        )
        .await?;
    Ok(Json(json!(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LockBody {
    status: String,
}

/// `PUT /api/v1/agents/{id}/lock`
pub(crate) async fn lock(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<LockBody>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Supervisor, Role::Admin])?;
    Ok(Json(json!(
        state.yard.lock(&id, Status::parse(&b.status)).await?
    )))
}

/// `DELETE /api/v1/agents/{id}/lock`
pub(crate) async fn unlock(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Supervisor, Role::Admin])?;
    Ok(Json(json!(state.yard.unlock(&id).await?)))
}

/// `POST /api/v1/agents/{id}/wrap-up/end`
pub(crate) async fn end_wrap_up(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    c.may_act_on_agent(&id)?;
    Ok(Json(json!(state.yard.end_wrap_up(&id).await?)))
}

#[derive(Deserialize)]
pub(crate) struct Limit {
    limit: Option<i64>,
}

/// `GET /api/v1/agents/{id}/history`
pub(crate) async fn history(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Q(q): Q<Limit>,
) -> Result<Json<Value>, AppError> {
    c.may_act_on_agent(&id)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(Json(
        json!({"history": state.yard.status_history(&id, limit).await?}),
    ))
}

/// `GET /api/v1/queues`
pub(crate) async fn list_queues(
    State(state): State<AppState>,
    _c: Caller,
) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({"queues": state.yard.queues().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCall {
    from: String,
    queue: String,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    skills: Skills,
}

/// `POST /api/v1/calls` (admin: stands in for a telephony ingress)
pub(crate) async fn create_call(
    State(state): State<AppState>,
    c: Caller,
    Body(b): Body<NewCall>,
) -> Result<impl IntoResponse, AppError> {
    c.require(&[Role::Admin])?;
    let from = b.from.trim();
    if from.is_empty() || from.len() > 64 {
        return Err(AppError::invalid(
            "invalid_number",
            "from must be a caller number of 1 to 64 characters",
        ));
    }
    let call = state
        .yard
        .create_call(from.to_owned(), &b.queue, b.priority, b.skills)
        .await?;
    Ok((StatusCode::CREATED, Json(call_json(&call))))
}

#[derive(Deserialize)]
pub(crate) struct CallFilter {
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/calls?state=…&limit=…`
pub(crate) async fn list_calls(
    State(state): State<AppState>,
    c: Caller,
    Q(f): Q<CallFilter>,
) -> Result<Json<Value>, AppError> {
    let filter = match f.state.as_deref() {
        None => None,
        Some(s) => Some(CallState::parse(s).ok_or_else(|| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                "invalid_state",
                format!(
                    "unknown call state {s}; use waiting, offering, connected, ended or failed"
                ),
            )
        })?),
    };
    let limit = f.limit.unwrap_or(100).clamp(1, 1_000);
    // An agent's own calls are a subset: look further back so that `limit` of them show.
    let scan = if c.is_supervisor() { limit } else { limit * 20 };
    let calls = state.yard.calls(filter, scan).await?;
    let visible: Vec<Value> = calls
        .iter()
        .filter(|call| may_see(&c, call))
        .take(limit as usize)
        .map(call_json)
        .collect();
    Ok(Json(json!({"calls": visible})))
}

/// `GET /api/v1/calls/{id}`
pub(crate) async fn get_call(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let call = state.yard.call(&id).await?;
    if !may_see(&c, &call) {
        return Err(AppError::forbidden("agents see only their own calls"));
    }
    Ok(Json(call_json(&call)))
}

/// `POST /api/v1/calls/{id}/accept`
pub(crate) async fn accept(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    Ok(Json(call_json(&state.yard.accept(&id, agent).await?)))
}

/// `POST /api/v1/calls/{id}/decline`
pub(crate) async fn decline(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    Ok(Json(call_json(&state.yard.decline(&id, agent).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HangupBody {
    party: Option<String>,
}

/// `POST /api/v1/calls/{id}/hangup`: an agent hangs up its own call; an admin may hang up
/// as the customer with `{"party":"customer"}` (telephony ingress).
pub(crate) async fn hangup(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    let party = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<HangupBody>(&body)
            .map_err(|e| {
                AppError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_json",
                    format!("hangup body: {e}"),
                )
            })?
            .party
    };
    let by = match (party.as_deref(), c.role) {
        (Some("customer"), Role::Admin) => Party::Customer,
        (Some("customer"), _) => {
            return Err(AppError::forbidden(
                "only the telephony ingress (admin) hangs up as the customer",
            ))
        }
        (Some("agent") | None, _) => Party::Agent {
            agent: c.own_agent()?.into(),
        },
        (Some(other), _) => {
            return Err(AppError::invalid(
                "invalid_party",
                format!("unknown party {other}; use customer or agent"),
            ))
        }
    };
    Ok(Json(call_json(&state.yard.hangup(&id, by).await?)))
}

#[derive(Deserialize)]
pub(crate) struct UnassignedQuery {
    sort: Option<String>,
}

/// `GET /api/v1/unassigned?sort=newest|oldest`: calls nobody is ringing for; an agent sees
/// those of its own queues.
pub(crate) async fn unassigned(
    State(state): State<AppState>,
    c: Caller,
    Q(q): Q<UnassignedQuery>,
) -> Result<Json<Value>, AppError> {
    let sort = match q.sort.as_deref() {
        None | Some("oldest") => Sort::Oldest,
        Some("newest") => Sort::Newest,
        Some(other) => {
            return Err(AppError::new(
                StatusCode::BAD_REQUEST,
                "invalid_sort",
                format!("unknown sort {other}; use newest or oldest"),
            ))
        }
    };
    let own: Option<Vec<QueueId>> = if c.is_supervisor() {
        None
    } else {
        let agent = state.yard.agent(c.own_agent()?).await?;
        Some(agent.queues)
    };
    let calls = state.yard.unassigned(own.as_deref(), sort).await?;
    Ok(Json(json!({"calls": calls})))
}

/// `POST /api/v1/unassigned/{call_id}/take`
pub(crate) async fn take(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    require_member(&state, &id, agent).await?;
    Ok(Json(call_json(&state.yard.take(&id, agent).await?)))
}

/// Unassigned work stays within a queue's members: the agent taking or receiving a call must
/// be one of its queue's agents.
async fn require_member(state: &AppState, call: &str, agent: &str) -> Result<(), AppError> {
    let queue = state.yard.call(call).await?.queue().clone();
    let member = state.yard.agent(agent).await?.queues.contains(&queue);
    if member {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "agent {agent} is not a member of queue {queue}"
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    agent_id: String,
}

/// `POST /api/v1/unassigned/{call_id}/assign` `{"agent_id"}`: offered to that colleague.
pub(crate) async fn assign(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<AssignBody>,
) -> Result<Json<Value>, AppError> {
    if !c.is_supervisor() {
        require_member(&state, &id, c.own_agent()?).await?;
    }
    require_member(&state, &id, &b.agent_id).await?;
    Ok(Json(call_json(&state.yard.assign(&id, &b.agent_id).await?)))
}

/// Applies an in-call action as the caller's own agent.
pub(crate) async fn act(
    state: &AppState,
    c: &Caller,
    id: &str,
    action: Control,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    Ok(Json(call_json(
        &state.yard.control(id, agent, action).await?,
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

#[derive(Deserialize)]
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

#[derive(Deserialize)]
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

#[derive(Deserialize)]
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

#[derive(Deserialize)]
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

/// `GET /api/v1/customers/{number}/journey`: every call of one customer, oldest first, each
/// with its status (waiting, assigning, assigned, transferring, ended, failed) and call log.
pub(crate) async fn customer_journey(
    State(state): State<AppState>,
    c: Caller,
    Path(number): Path<String>,
) -> Result<Json<Value>, AppError> {
    let calls = state.yard.customer_calls(&number).await?;
    let chats = state.yard.customer_chats(&number).await?;
    let activities: Vec<Value> = calls
        .iter()
        .filter(|call| may_see(&c, call))
        .map(|call| {
            let mut v = call_json(call);
            v["channel"] = json!("call");
            v
        })
        .chain(chats.iter().map(|t| {
            let mut v = json!(t);
            v["channel"] = json!("chat");
            v
        }))
        .collect();
    let mut activities = activities;
    activities.sort_by_key(|a| a["created_at"].as_i64().unwrap_or(0));
    Ok(Json(json!({"customer": number, "activities": activities})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboundBody {
    number: String,
    queue: Option<String>,
    pin: Option<String>,
}

/// `POST /api/v1/calls/outbound` `{"number", "queue"?, "pin"?}`: the agent dials out (E1),
/// after the compliance checks (E2).
pub(crate) async fn outbound(
    State(state): State<AppState>,
    c: Caller,
    Body(b): Body<OutboundBody>,
) -> Result<impl IntoResponse, AppError> {
    let agent = c.own_agent()?;
    let call = state
        .yard
        .dial(agent, b.number.trim(), b.queue.as_deref(), b.pin.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(call_json(&call))))
}

/// `POST /api/v1/calls/{id}/connect` (admin, telephony ingress): the customer answered an
/// outbound call or a callback.
pub(crate) async fn connect(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Admin])?;
    Ok(Json(call_json(&state.yard.remote_answered(&id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallbackBody {
    number: String,
    queue: String,
    txn: Option<String>,
}

/// `POST /api/v1/callbacks` `{"number", "queue", "txn"?}` (admin: the IVR or web form, or an
/// agent following up a transaction): 201 queued, 200 for a repeat (the first request is
/// kept), 201 with `missed_call_flow` when the queue's callbacks are at their limit.
pub(crate) async fn callback(
    State(state): State<AppState>,
    c: Caller,
    Body(b): Body<CallbackBody>,
) -> Result<impl IntoResponse, AppError> {
    if c.role == Role::Supervisor {
        return Err(AppError::forbidden(
            "callbacks are requested by the ingress (admin) or an agent",
        ));
    }
    let (admission, call) = state
        .yard
        .request_callback(b.number.trim(), &b.queue, b.txn)
        .await?;
    let (status, name) = match admission {
        actors::Admission::Queue => (StatusCode::CREATED, "queued"),
        actors::Admission::Duplicate(_) => (StatusCode::OK, "duplicate"),
        actors::Admission::MissedCallFlow => (StatusCode::CREATED, "missed_call_flow"),
    };
    Ok((
        status,
        Json(json!({"admission": name, "call": call_json(&call)})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryBody {
    value: String,
}

#[derive(Deserialize)]
pub(crate) struct EntryQuery {
    value: Option<String>,
}

/// The list and its owner: company lists are the admin's to change (supervisors read them);
/// `personal` is the calling agent's own.
fn compliance_scope(c: &Caller, list: &str, write: bool) -> Result<(List, String), AppError> {
    let list = List::parse(list).ok_or_else(|| {
        AppError::new(
            StatusCode::NOT_FOUND,
            "unknown_list",
            format!("unknown list {list}; use dnc, block, allow, countries or personal"),
        )
    })?;
    if list == List::Personal {
        return Ok((list, c.own_agent()?.to_owned()));
    }
    if write {
        c.require(&[Role::Admin])?;
    } else {
        c.require(&[Role::Admin, Role::Supervisor])?;
    }
    Ok((list, String::new()))
}

/// `GET /api/v1/compliance/{list}`
pub(crate) async fn compliance_get(
    State(state): State<AppState>,
    c: Caller,
    Path(list): Path<String>,
) -> Result<Json<Value>, AppError> {
    let (list, owner) = compliance_scope(&c, &list, false)?;
    Ok(Json(
        json!({"list": list, "entries": state.yard.compliance_list(list, &owner).await?}),
    ))
}

/// `POST /api/v1/compliance/{list}` `{"value"}`
pub(crate) async fn compliance_post(
    State(state): State<AppState>,
    c: Caller,
    Path(list): Path<String>,
    Body(b): Body<EntryBody>,
) -> Result<impl IntoResponse, AppError> {
    let (list, owner) = compliance_scope(&c, &list, true)?;
    state
        .yard
        .compliance_add(list, &owner, b.value.trim())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"list": list, "entries": state.yard.compliance_list(list, &owner).await?})),
    ))
}

/// `DELETE /api/v1/compliance/{list}?value=…`
pub(crate) async fn compliance_delete(
    State(state): State<AppState>,
    c: Caller,
    Path(list): Path<String>,
    Q(q): Q<EntryQuery>,
) -> Result<Json<Value>, AppError> {
    let (list, owner) = compliance_scope(&c, &list, true)?;
    let value = q.value.ok_or_else(|| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "missing_value",
            "give ?value= the entry to remove",
        )
    })?;
    state.yard.compliance_remove(list, &owner, &value).await?;
    Ok(Json(
        json!({"list": list, "entries": state.yard.compliance_list(list, &owner).await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleBody {
    number: String,
    queue: String,
    /// RFC 3339, e.g. `2026-11-24T09:30:00+01:00`.
    at: String,
}

/// `POST /api/v1/schedules` `{"number", "queue", "at"}`: a call to the customer at that date
/// and time (E5), checked for compliance now; it survives restarts and fires late if the
/// server was down at its time.
pub(crate) async fn schedule(
    State(state): State<AppState>,
    c: Caller,
    Body(b): Body<ScheduleBody>,
) -> Result<impl IntoResponse, AppError> {
    if c.role == Role::Supervisor {
        return Err(AppError::forbidden(
            "calls are scheduled by agents (or the admin)",
        ));
    }
    let at = time::OffsetDateTime::parse(&b.at, &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
            AppError::invalid(
                "invalid_time",
                format!("at must be an RFC 3339 date and time: {e}"),
            )
        })?;
    let at = engine::Timestamp((at.unix_timestamp_nanos() / 1_000_000) as i64);
    let by = c.agent.as_deref();
    let schedule = state
        .yard
        .schedule(b.number.trim(), &b.queue, at, by)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(schedule))))
}

/// `GET /api/v1/schedules`: supervisors and admins see all, agents their own.
pub(crate) async fn schedules(
    State(state): State<AppState>,
    c: Caller,
) -> Result<Json<Value>, AppError> {
    let all = state.yard.schedules().await?;
    let mine: Vec<_> = all
        .into_iter()
        .filter(|s| {
            c.is_supervisor()
                || (c.agent.is_some() && s.by.as_ref().map(|a| a.as_str()) == c.agent.as_deref())
        })
        .collect();
    Ok(Json(json!({"schedules": mine})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TxnBody {
    kind: String,
    customer: String,
    subject: Option<String>,
}

/// `POST /api/v1/transactions` `{"kind": "chat", "customer", "subject"?}`: a chat
/// transaction record calls can be linked to (calls are transactions by their own id).
pub(crate) async fn create_txn(
    State(state): State<AppState>,
    _c: Caller,
    Body(b): Body<TxnBody>,
) -> Result<impl IntoResponse, AppError> {
    if b.kind != "chat" {
        return Err(AppError::invalid(
            "invalid_kind",
            "only chat transactions are created here; calls are created by calls",
        ));
    }
    if b.customer.trim().is_empty() || b.customer.len() > 128 {
        return Err(AppError::invalid(
            "invalid_customer",
            "customer is a number or handle of 1 to 128 characters",
        ));
    }
    let txn = state.yard.create_chat(b.customer.trim(), b.subject).await?;
    Ok((StatusCode::CREATED, Json(json!(txn))))
}

/// `GET /api/v1/transactions/{id}`: a call or chat transaction with its related ones.
pub(crate) async fn get_txn(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let related = state.yard.related(&id).await?;
    let mut v = match state.yard.chat(&id).await? {
        Some(chat) => json!(chat),
        None => {
            let call = state.yard.call(&id).await?;
            if !may_see(&c, &call) {
                return Err(AppError::forbidden("agents see only their own calls"));
            }
            let mut v = call_json(&call);
            v["kind"] = json!("call");
            v
        }
    };
    v["related"] = json!(related);
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkBody {
    other: String,
}

/// `POST /api/v1/transactions/{id}/links` `{"other"}`: relates two transactions.
pub(crate) async fn link_txn(
    State(state): State<AppState>,
    _c: Caller,
    Path(id): Path<String>,
    Body(b): Body<LinkBody>,
) -> Result<Json<Value>, AppError> {
    state.yard.link(&id, &b.other).await?;
    Ok(Json(
        json!({"id": id, "related": state.yard.related(&id).await?}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaBody {
    party: actors::media::session::Party,
    sdp: actors::media::RTCSessionDescription,
}

/// `POST /api/v1/calls/{id}/media` `{"party": "customer"|"agent", "sdp": {"type": "offer",
/// "sdp": "…"}}`: WebRTC signalling (H1). Answers with the server's SDP (ICE candidates
/// included). The agent's leg is the call's agent's to open; the customer's the ingress's.
pub(crate) async fn media(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<MediaBody>,
) -> Result<Json<Value>, AppError> {
    use actors::media::session::Party as Leg;
    match b.party {
        Leg::Agent => {
            let call = state.yard.call(&id).await?;
            let me = c.own_agent()?;
            if call.agent().map(|a| a.as_str()) != Some(me) {
                return Err(AppError::forbidden(format!(
                    "agent {me} is not on call {id}"
                )));
            }
        }
        Leg::Customer => c.require(&[Role::Admin])?,
    }
    if b.sdp.sdp_type != actors::media::RTCSdpType::Offer {
        return Err(AppError::invalid(
            "not_an_offer",
            "send the offer; the answer comes back",
        ));
    }
    let answer = state.yard.media_answer(&id, b.party, b.sdp).await?;
    Ok(Json(json!(answer)))
}

fn may_see(c: &Caller, call: &Call) -> bool {
    if c.is_supervisor() {
        return true;
    }
    let Some(me) = c.agent.as_deref() else {
        return false;
    };
    call.agent().is_some_and(|a| a.as_str() == me)
        || call.offered().iter().any(|a| a.as_str() == me)
        || call.journey().iter().any(|e| {
            serde_json::to_value(&e.event)
                .ok()
                .and_then(|v| v.get("agent").and_then(|a| a.as_str().map(|a| a == me)))
                == Some(true)
        })
}

/// The JSON shape of a call, journey included (C4's sidebar fields at the top level).
pub fn call_json(call: &Call) -> Value {
    json!({
        "id": call.id(),
        "state": call.state(),
        "result": call.result(),
        "queue": call.queue(),
        "from": call.from(),
        "priority": call.priority(),
        "agent": call.agent(),
        "offered": call.offered(),
        "created_at": call.created_at(),
        "enqueued_at": call.enqueued_at(),
        "answered_at": call.answered_at(),
        "ended_at": call.ended_at(),
        "ended_by": call.ended_by(),
        "talk_seconds": call.talk_duration().map(|d| d.as_secs()),
        "status": call.journey_status(),
        "held": call.held(),
        "muted": call.muted(),
        "recording": call.recording(),
        "transfer": call.transfer(),
        "consult": call.consult(),
        "conference": call.conference(),
        "kind": call.kind(),
        "related": call.related(),
        "who": call.who(),
        "what": call.what(),
        "journey": call.journey(),
    })
}
