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

mod control;
pub(crate) mod cti;
pub(crate) mod transcript;
pub(crate) mod watch;
pub mod web_call;
mod work;
pub(crate) use control::*;
pub(crate) use work::*;

/// A JSON object body whose rejection is an [`AppError`] with the JSON error shape: 415
/// without a JSON content type, 400 for malformed JSON, 413 past the body limit (2 MB), 422
/// for a body that is not an object (serde would read `[]` as a struct with every field
/// absent, and a `PUT` would then clear them all) or does not fit the request's fields.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let Json(value) = Json::<Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(AppError::invalid(
                "not_an_object",
                "the body must be a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(Body)
            .map_err(|e| AppError::invalid("invalid_body", e.to_string()))
    }
}

/// A query string whose rejection is an [`AppError`].
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Q<T>(pub T);

// Keep the rejection types in use so a change of axum's names shows up here.
#[allow(dead_code)]
fn _rejections(_: JsonRejection, _: QueryRejection) {}

/// Refuses a signalling body that is not a usable offer, before anything is created: 422
/// `not_an_offer` or `invalid_sdp`.
pub(crate) fn check_offer(sdp: &actors::media::RTCSessionDescription) -> Result<(), AppError> {
    if sdp.sdp_type != actors::media::RTCSdpType::Offer {
        return Err(AppError::invalid(
            "not_an_offer",
            "send the offer; the answer comes back",
        ));
    }
    actors::media::check_offer(sdp).map_err(|m| AppError::invalid("invalid_sdp", m))
}

/// `GET /api/v1/health`
pub async fn health(State(state): State<AppState>) -> axum::response::Response {
    let store = state.yard.store().health().await;
    if store.ok {
        return Json(json!({"status": "ok", "store": store})).into_response();
    }
    // Not ready for work: 503, and when to look again.
    let body = json!({"status": "degraded", "store": store});
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(5u64),
    );
    response
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    username: String,
    password: String,
}

/// `POST /api/v1/sessions`: password checks go through the login gate ([`crate::login`]):
/// bounded in number, throttled per address and per account name, the same cost for unknown
/// names.
pub(crate) async fn login(
    State(state): State<AppState>,
    crate::login::ClientAddr(address): crate::login::ClientAddr,
    Body(login): Body<Login>,
) -> Result<axum::response::Response, AppError> {
    use crate::login::Refusal;
    let user = state.users.get(&login.username).cloned();
    let checked = state
        .users
        .gate
        .check(
            &login.username,
            user.as_ref().map(|u| u.password_hash.as_str()),
            login.password,
            address,
            state.yard.now(),
        )
        .await;
    let wait = |code: &'static str, message: String, after: std::time::Duration| {
        Ok(AppError::new(StatusCode::TOO_MANY_REQUESTS, code, message).retry_after(after))
    };
    let user = match (checked, user) {
        (Ok(true), Some(user)) => user,
        (Ok(_), _) => {
            return Err(AppError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "unknown user or wrong password",
            ))
        }
        (Err(Refusal::Address(after)), _) => {
            return wait(
                "too_many_logins",
                format!(
                    "too many login attempts from this address: retry in {} s",
                    after.as_secs().max(1)
                ),
                after,
            )
        }
        (Err(Refusal::Locked(after)), _) => {
            return wait(
                "login_locked",
                format!(
                    "too many failed logins for this name in a row: retry in {} s",
                    after.as_secs().max(1)
                ),
                after,
            )
        }
        (Err(Refusal::Busy), _) => {
            return wait(
                "busy",
                "every password check is busy: retry shortly".into(),
                std::time::Duration::from_secs(1),
            )
        }
    };
    let token = open_session(&state, &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "role": user.role, "agent_id": user.agent})),
    )
        .into_response())
}

/// `DELETE /api/v1/sessions`: logs the caller out; the token stops working at once (and its
/// event stream closes within half a minute).
pub(crate) async fn logout(
    State(state): State<AppState>,
    c: Caller,
) -> Result<StatusCode, AppError> {
    crate::auth::end_sessions(&state, Some(&c.session), None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/{username}/sessions` (supervisor, admin): a forced logout (J3). Every
/// session of the user ends; an agent who is not on a call is set Offline (on a call, the
/// status is left as it is, and the answer says so).
pub(crate) async fn force_logout(
    State(state): State<AppState>,
    c: Caller,
    Path(username): Path<String>,
) -> Result<Json<Value>, AppError> {
    c.require(&[Role::Supervisor, Role::Admin])?;
    let Some(user) = state.users.get(&username).cloned() else {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "no_such_user",
            format!("no user {username:?}"),
        ));
    };
    crate::auth::end_sessions(&state, None, Some(&username)).await?;
    let mut offline = Value::Null;
    if let Some(agent) = &user.agent {
        offline = match state
            .yard
            .set_status(agent, Some(Status::Offline), None)
            .await
        {
            Ok(_) => json!(true),
            Err(e) => json!(e.to_string()),
        };
    }
    Ok(Json(
        json!({"user": username, "sessions_ended": true, "agent_offline": offline}),
    ))
}

/// `GET /api/v1/statuses`: the statuses an agent may choose: the system's (ready, busy = not
/// ready, dnd, offline) and the configuration's custom ones, with display labels.
pub(crate) async fn statuses(State(state): State<AppState>, _c: Caller) -> Json<Value> {
    let mut list = vec![
        json!({"id": "ready", "label": "Ready", "custom": false}),
        json!({"id": "busy", "label": "Not ready", "custom": false}),
        json!({"id": "dnd", "label": "Do not disturb", "custom": false}),
    ];
    let config = state.yard.config();
    for s in &config.custom_statuses {
        let label = config.status_labels.get(s).cloned().unwrap_or_else(|| {
            let mut label: Vec<char> = s.replace('_', " ").chars().collect();
            if let Some(first) = label.first_mut() {
                *first = first.to_ascii_uppercase();
            }
            label.into_iter().collect()
        });
        list.push(json!({"id": s, "label": label, "custom": true}));
    }
    list.push(json!({"id": "offline", "label": "Offline", "custom": false}));
    Json(json!({"statuses": list}))
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

#[derive(Deserialize, schemars::JsonSchema)]
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

#[derive(Deserialize, schemars::JsonSchema)]
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

#[derive(Deserialize, schemars::JsonSchema)]
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCall {
    from: String,
    queue: String,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    skills: Skills,
    /// Custom attributes for routing strategies and extensions (at most 32, names of 1 to 64
    /// characters, values of at most 256).
    #[serde(default)]
    attributes: engine::routing::Attributes,
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
    let too_big = b.attributes.len() > 32
        || b.attributes
            .iter()
            .any(|(k, v)| k.is_empty() || k.chars().count() > 64 || v.chars().count() > 256);
    if too_big {
        return Err(AppError::invalid(
            "invalid_attributes",
            "attributes: at most 32, names of 1 to 64 characters, values of at most 256",
        ));
    }
    let call = state
        .yard
        .create_call_with(
            from.to_owned(),
            &b.queue,
            b.priority,
            b.skills,
            b.attributes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(call_json(&call))))
}

#[derive(Deserialize, schemars::JsonSchema)]
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
    Ok(Json(call_json(&*visible_call(&state, &c, &id).await?)))
}

/// The call, if the caller may see it (supervisors: any; agents: their own).
pub(crate) async fn visible_call(
    state: &AppState,
    c: &Caller,
    id: &str,
) -> Result<std::sync::Arc<Call>, AppError> {
    let call = state.yard.call(id).await?;
    if !may_see(c, &call) {
        return Err(AppError::forbidden("agents see only their own calls"));
    }
    Ok(call)
}

/// `POST /api/v1/calls/{id}/accept`
pub(crate) async fn accept(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let agent = c.own_agent()?;
    Ok(Json(call_json(&*state.yard.accept(&id, agent).await?)))
}

/// `POST /api/v1/calls/{id}/decline`
pub(crate) async fn decline(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    let then = optional_body::<DeclineBody>(&body, "decline")?.and_then(|b| b.status);
    let then = then.as_deref().map(Status::parse);
    let agent = c.own_agent()?;
    Ok(Json(call_json(
        &*state.yard.decline(&id, agent, then).await?,
    )))
}

/// `POST /api/v1/calls/{id}/decline` may name the status the agent goes to, in the same step
/// (no other call is offered in between); without it the agent is Ready again.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeclineBody {
    status: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HangupBody {
    party: Option<String>,
}

/// A body that may be left out (empty or whitespace: `None`); when sent it is a JSON object of
/// the operation's fields, as everywhere (`[]` is not "every field absent").
fn optional_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<Option<T>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("{what} body: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(AppError::invalid(
            "not_an_object",
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| AppError::invalid("invalid_body", format!("{what} body: {e}")))
}

/// `POST /api/v1/calls/{id}/hangup`: an agent hangs up its own call; an admin may hang up
/// as the customer with `{"party":"customer"}` (telephony ingress).
pub(crate) async fn hangup(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    let party = optional_body::<HangupBody>(&body, "hangup")?.and_then(|b| b.party);
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
    Ok(Json(call_json(&*state.yard.hangup(&id, by).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
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
    Ok(Json(call_json(&*state.yard.take(&id, agent).await?)))
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

#[derive(Deserialize, schemars::JsonSchema)]
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
    Ok(Json(call_json(
        &*state.yard.assign(&id, &b.agent_id).await?,
    )))
}

pub(crate) fn may_see(c: &Caller, call: &Call) -> bool {
    if c.is_supervisor() {
        return true;
    }
    let Some(me) = c.agent.as_deref() else {
        return false;
    };
    call.readable_by(&me.into())
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
        "skills": call.skills(),
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
        "bridged_to": call.bridged_to(),
        "kind": call.kind(),
        "related": call.related(),
        "who": call.who(),
        "what": call.what(),
        "data": call.data(),
        "attributes": call.attributes(),
        "journey": call.journey(),
    })
}
