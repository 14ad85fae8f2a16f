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

/// Customer tokens of live web calls, by call id. Kept in memory: a web call's media does
/// not survive a restart either, and the page then shows the call as lost.
#[derive(Clone, Default)]
pub struct WebCallTokens(Arc<Mutex<HashMap<String, String>>>);

impl WebCallTokens {
    fn insert(&self, call: &str, token: &str) {
        self.lock().insert(call.to_owned(), token.to_owned());
    }

    fn forget(&self, call: &str) {
        self.lock().remove(call);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A plain map: a poisoned lock still holds usable tokens.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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
            Some(t) if constant_time_eq(t.as_bytes(), given.as_bytes()) => Ok(()),
            _ => Err(AppError::unauthorized()),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebCall {
    queue: String,
    name: Option<String>,
    sdp: actors::media::RTCSessionDescription,
}

/// `POST /api/v1/web-calls` `{"queue", "name"?, "sdp": offer}` → 201 `{"call_id", "token",
/// "sdp": answer}`. If the offer cannot be answered the call is ended at once (cancelled),
/// never left waiting without a customer.
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(b): Body<NewWebCall>,
) -> Result<impl IntoResponse, AppError> {
    let open = state
        .yard
        .config()
        .queues
        .iter()
        .any(|q| q.id == b.queue && q.web_calls);
    if !open {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "web_calls_disabled",
            format!("queue {} does not take web calls", b.queue),
        ));
    }
    super::check_offer(&b.sdp)?;
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
    ))
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
