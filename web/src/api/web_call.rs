//! The customer's web call (H1): a website visitor calls a queue from the browser. No login:
//! the queue must be open to web calls (`web_calls = true`). The call is created through the
//! same ingress as `POST /api/v1/calls`, the customer's WebRTC offer is answered in the same
//! request, and the customer gets a token good for this one call only (its state and hang-up).

use super::Body;
use crate::error::AppError;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use engine::call::Party;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Customer tokens of live web calls, by call id, and how many web calls each address
/// started lately. Kept in memory: a web call's media does not survive a restart either, and
/// the page then shows the call as lost.
#[derive(Clone, Default)]
pub struct WebCallTokens {
    tokens: Arc<Mutex<HashMap<String, String>>>,
    /// Per address: `security.web_calls_per_minute_per_address` (made at first use).
    per_address: Arc<std::sync::OnceLock<crate::login::PerAddress>>,
}

impl WebCallTokens {
    fn insert(&self, call: &str, token: &str) {
        self.lock().insert(call.to_owned(), token.to_owned());
    }

    fn forget(&self, call: &str) {
        self.lock().remove(call);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A plain map: a poisoned lock still holds usable tokens.
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new web call from `address`; how long to wait when it has started too many.
    fn admit(&self, address: std::net::IpAddr, per_minute: u32) -> Result<(), std::time::Duration> {
        self.per_address
            .get_or_init(|| crate::login::PerAddress::per_minute(per_minute))
            .admit(address)
    }

    /// Checks the bearer token against the call's.
    fn check(&self, call: &str, headers: &HeaderMap) -> Result<(), AppError> {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(AppError::unauthorized)?;
        let known = self.lock().get(call).cloned();
        match known {
            Some(t) if crate::auth::constant_time_eq(t.as_bytes(), given.as_bytes()) => Ok(()),
            _ => Err(AppError::unauthorized()),
        }
    }
}

/// `GET /api/v1/media-config`: the STUN/TURN servers pages give their `RTCPeerConnection`.
pub(crate) async fn media_config(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"ice_servers": state.yard.config().media.ice_servers}))
}

/// `GET /api/v1/web-queues`: the queues a website visitor may call.
pub(crate) async fn web_queues(State(state): State<AppState>) -> Json<Value> {
    let queues: Vec<Value> = state
        .yard
        .config()
        .queues
        .iter()
        .filter(|q| q.web_calls)
        .map(
            |q| json!({"id": q.id, "name": q.name.as_deref().unwrap_or(&q.id), "colour": q.colour}),
        )
        .collect();
    Json(json!({"queues": queues}))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebCall {
    queue: String,
    name: Option<String>,
    #[schemars(with = "crate::openapi::SessionDescription")]
    sdp: actors::media::RTCSessionDescription,
}

/// `POST /api/v1/web-calls` `{"queue", "name"?, "sdp": offer}` → 201 `{"call_id", "token",
/// "sdp": answer}`. If the offer cannot be answered the call is ended at once (cancelled),
/// never left waiting without a customer.
///
/// Anonymous, so bounded: one address may start `security.web_calls_per_minute_per_address`
/// a minute (429 `too_many_web_calls`), and a queue with `web_calls_max_waiting` calls waiting
/// takes no more (503 `queue_full`); both with `Retry-After`.
pub(crate) async fn create(
    State(state): State<AppState>,
    crate::login::ClientAddr(address): crate::login::ClientAddr,
    Body(b): Body<NewWebCall>,
) -> Result<axum::response::Response, AppError> {
    let config = state.yard.config();
    let Some(queue) = config
        .queues
        .iter()
        .find(|q| q.id == b.queue && q.web_calls)
    else {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "web_calls_disabled",
            format!("queue {} does not take web calls", b.queue),
        ));
    };
    super::check_offer(&b.sdp)?;
    let waiting = state
        .yard
        .queues()
        .await?
        .into_iter()
        .find(|v| v.id.as_str() == queue.id)
        .map_or(0, |v| v.counters.waiting + v.counters.offering);
    if waiting >= queue.web_calls_max_waiting {
        let full = format!(
            "{waiting} callers are already waiting in {}: call back later",
            queue.id
        );
        return Ok(
            AppError::new(StatusCode::SERVICE_UNAVAILABLE, "queue_full", full)
                .retry_after(std::time::Duration::from_secs(30)),
        );
    }
    if let Some(ip) = address {
        let per_minute = config.security.web_calls_per_minute_per_address;
        if let Err(wait) = state.web_calls.admit(ip, per_minute) {
            let why = format!("this address started {per_minute} web calls in the last minute");
            return Ok(
                AppError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_web_calls", why)
                    .retry_after(wait),
            );
        }
    }
    let name = b.name.as_deref().map(str::trim).unwrap_or_default();
    if name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "invalid_name",
            "name must be at most 64 printable characters",
        ));
    }
    let from = if name.is_empty() {
        "web".to_owned()
    } else {
        format!("web:{name}")
    };
    let call = state
        .yard
        .create_call(from, &b.queue, 0, engine::routing::Skills::default())
        .await?;
    let id = call.id().to_string();
    let answer = match state
        .yard
        .media_answer(&id, engine::call::Participant::Customer, b.sdp)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            let _ = state.yard.hangup(&id, Party::Customer).await;
            return Err(e.into());
        }
    };
    let token = crate::auth::new_token();
    state.web_calls.insert(&id, &token);
    Ok((
        StatusCode::CREATED,
        Json(json!({"call_id": id, "token": token, "sdp": answer})),
    )
        .into_response())
}

fn status(call: &engine::call::Call) -> Value {
    json!({"call_id": call.id(), "state": call.state(), "held": call.held()})
}

/// `GET /api/v1/web-calls/{id}` with the customer's token.
pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    state.web_calls.check(&id, &headers)?;
    let call = state.yard.call(&id).await?;
    if call.state().is_final() {
        state.web_calls.forget(&id);
    }
    Ok(Json(status(&call)))
}

/// `POST /api/v1/web-calls/{id}/hangup` with the customer's token.
pub(crate) async fn hangup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    state.web_calls.check(&id, &headers)?;
    let call = state.yard.hangup(&id, Party::Customer).await?;
    if call.state().is_final() {
        state.web_calls.forget(&id);
    }
    Ok(Json(status(&call)))
}
