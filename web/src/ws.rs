//! `GET /api/v1/events`: the WebSocket event stream (token as `?token=`). Each event is sent
//! as JSON if the caller's role may see it: supervisors and admins everything; an agent its
//! own status changes and the calls offered to or handled by it.

use crate::auth::{caller_for_token, Caller};
use crate::error::AppError;
use crate::AppState;
use actors::events::Event;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use engine::AgentId;
use futures::{Sink, SinkExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// Upgrades after authenticating.
pub(crate) async fn events(
    State(state): State<AppState>,
    crate::api::Q(q): crate::api::Q<TokenQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let token = q.token.ok_or_else(AppError::unauthorized)?;
    let caller = caller_for_token(&state, &token).await?;
    let ws = ws.map_err(|r| {
        AppError::new(
            r.status(),
            "websocket_required",
            format!(
                "{}: open this path as a WebSocket (GET with Upgrade: websocket)",
                r.body_text()
            ),
        )
    })?;
    let rx = state.yard.subscribe();
    Ok(ws.on_upgrade(move |socket| async move {
        let (sink, mut stream) = futures::StreamExt::split(socket);
        let forward = forward(sink, rx, caller);
        // The client sends nothing we need; a close or error from it ends the stream.
        let watch = async move {
            while let Some(Ok(m)) = futures::StreamExt::next(&mut stream).await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        };
        // The session is checked again now and then (which also counts as its use): a
        // logout, a forced logout or expiry closes the stream.
        let recheck = async move {
            let mut every = tokio::time::interval(crate::auth::STREAM_RECHECK);
            every.tick().await;
            loop {
                every.tick().await;
                if caller_for_token(&state, &token).await.is_err() {
                    break;
                }
            }
        };
        tokio::select! { _ = forward => {}, _ = watch => {}, _ = recheck => {} }
    }))
}

/// Whether the caller may see the event.
pub fn visible_to(caller: &Caller, event: &Event) -> bool {
    caller.is_supervisor()
        || caller
            .agent
            .as_deref()
            .is_some_and(|a| event.concerns_agent(&AgentId::from(a)))
}

/// Sends every visible event to `sink` until it closes. Generic over the sink so that tests
/// can drive it without a socket.
pub async fn forward<S>(
    mut sink: S,
    mut rx: tokio::sync::broadcast::Receiver<Event>,
    caller: Caller,
) where
    S: Sink<Message> + Unpin,
{
    let hello =
        serde_json::json!({"type": "stream.hello", "user": caller.username, "role": caller.role});
    if sink
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let text = match rx.recv().await {
            Ok(ev) if visible_to(&caller, &ev) => ev.to_json().to_string(),
            Ok(_) => continue,
            Err(RecvError::Lagged(n)) => {
                serde_json::json!({"type": "stream.lagged", "missed": n}).to_string()
            }
            Err(RecvError::Closed) => return,
        };
        if sink.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}
