//! Handlers for work around calls: customer journeys, outbound calls, callbacks, schedules,
//! compliance lists, transactions and media signalling.

use super::*;
use engine::call::Participant;

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
        .chain(chats.iter().filter(|t| may_read_chat(&c, t)).map(|t| {
            let mut v = json!(t);
            v["channel"] = json!("chat");
            v
        }))
        .collect();
    let mut activities = activities;
    activities.sort_by_key(|a| a["created_at"].as_i64().unwrap_or(0));
    Ok(Json(json!({"customer": number, "activities": activities})))
}

#[derive(Deserialize, schemars::JsonSchema)]
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
    Ok(Json(call_json(&*state.yard.remote_answered(&id).await?)))
}

#[derive(Deserialize, schemars::JsonSchema)]
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

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryBody {
    value: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
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

#[derive(Deserialize, schemars::JsonSchema)]
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

#[derive(Deserialize, schemars::JsonSchema)]
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
    c: Caller,
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
    let txn = state
        .yard
        .create_chat(b.customer.trim(), b.subject, &c.username)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(txn))))
}

/// `GET /api/v1/transactions/{id}`: a call or chat transaction with its related ones.
pub(crate) async fn get_txn(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let mut v = readable_txn(&state, &c, &id).await?;
    v["related"] = json!(readable_related(&state, &c, &id).await?);
    Ok(Json(v))
}

/// Whether the caller reads this chat: supervisors all, others the chats they opened.
pub(crate) fn may_read_chat(c: &Caller, chat: &actors::store::Txn) -> bool {
    c.is_supervisor() || chat.created_by.as_deref() == Some(c.username.as_str())
}

/// A transaction (chat or call) the caller may read, as JSON; 403 otherwise.
async fn readable_txn(state: &AppState, c: &Caller, id: &str) -> Result<Value, AppError> {
    match state.yard.chat(id).await? {
        Some(chat) if may_read_chat(c, &chat) => Ok(json!(chat)),
        Some(_) => Err(AppError::forbidden("agents see only the chats they opened")),
        None => {
            let call = state.yard.call(id).await.map_err(|e| match e {
                actors::ActorError::UnknownCall(_) => actors::ActorError::UnknownTxn(id.to_owned()),
                e => e,
            })?;
            if !may_see(c, &call) {
                return Err(AppError::forbidden("agents see only their own calls"));
            }
            let mut v = call_json(&call);
            v["kind"] = json!("call");
            Ok(v)
        }
    }
}

/// The transactions related to `id` that the caller may read.
async fn readable_related(state: &AppState, c: &Caller, id: &str) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for other in state.yard.related(id).await? {
        if readable_txn(state, c, &other).await.is_ok() {
            out.push(other);
        }
    }
    Ok(out)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkBody {
    other: String,
}

/// `POST /api/v1/transactions/{id}/links` `{"other"}`: relates two transactions.
///
/// Only between items the caller may read (its own calls and chats; supervisors any).
pub(crate) async fn link_txn(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<LinkBody>,
) -> Result<Json<Value>, AppError> {
    readable_txn(&state, &c, &id).await?;
    readable_txn(&state, &c, &b.other).await?;
    state.yard.link(&id, &b.other).await?;
    Ok(Json(
        json!({"id": id, "related": readable_related(&state, &c, &id).await?}),
    ))
}

/// Which side of a call a WebRTC leg carries, as signalling names it.
#[derive(Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MediaParty {
    /// The caller (the ingress opens it).
    Customer,
    /// The agent signalling: the call's owner, a consulted colleague or a conference's third.
    Agent,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MediaBody {
    party: MediaParty,
    #[schemars(with = "crate::openapi::SessionDescription")]
    sdp: actors::media::RTCSessionDescription,
}

/// `POST /api/v1/calls/{id}/media` `{"party": "customer"|"agent", "sdp": {"type": "offer",
/// "sdp": "…"}}`: WebRTC signalling (H1). Answers with the server's SDP (ICE candidates
/// included). An agent opens its own leg on a call it is on (owner, consulted colleague,
/// conference third); the customer's leg is the ingress's (admin). A second offer from the
/// same party replaces its leg (a reloaded panel reconnects).
pub(crate) async fn media(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    Body(b): Body<MediaBody>,
) -> Result<Json<Value>, AppError> {
    let who = match b.party {
        MediaParty::Agent => {
            let call = state.yard.call(&id).await?;
            let me = c.own_agent()?;
            // Who may have a leg is the call's rule: the parties its audio plan has present.
            let who = Participant::agent(&me.into());
            if !call.audio_plan().present.contains(&who) {
                return Err(AppError::forbidden(format!(
                    "agent {me} is not on call {id}"
                )));
            }
            who
        }
        MediaParty::Customer => {
            c.require(&[Role::Admin])?;
            Participant::Customer
        }
    };
    check_offer(&b.sdp)?;
    let answer = state.yard.media_answer(&id, who, b.sdp).await?;
    Ok(Json(json!(answer)))
}

/// `GET /api/v1/calls/{id}/media`: each leg's counters (the server's own view of the audio):
/// `legs.customer` and `legs.agent` (the call's owner), and every leg in `participants`.
pub(crate) async fn media_stats(
    State(state): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let call = state.yard.call(&id).await?;
    if !c.is_supervisor() {
        let me = c.own_agent()?;
        if !call.agents_involved().iter().any(|a| a.as_str() == me) {
            return Err(AppError::forbidden(format!(
                "agent {me} is not on call {id}"
            )));
        }
    }
    let stats = state.yard.media_stats(&id).await?;
    let owner = call.agent().map(Participant::agent);
    let find = |who: Option<&Participant>| {
        who.and_then(|w| stats.iter().find(|(p, _)| p == w))
            .map(|(_, s)| json!(s))
    };
    let participants: Vec<Value> = stats
        .iter()
        .map(|(p, s)| {
            let mut v = json!(p);
            v["stats"] = json!(s);
            v
        })
        .collect();
    Ok(Json(json!({
        "call_id": id,
        "bridged": stats.len() >= 2 && stats.iter().all(|(_, s)| s.connected),
        "legs": {
            "customer": find(Some(&Participant::Customer)),
            "agent": find(owner.as_ref()),
            "external": find(Some(&Participant::External)),
        },
        "participants": participants,
    })))
}
