//! `GET /api/v1/events`: the WebSocket event stream (token as `?token=`). Each event is sent
//! as JSON if the caller's role may see it: supervisors and admins everything; an agent its
//! own status changes and the calls offered to or handled by it.

use crate::auth::{caller_for_token, Caller};
use crate::error::AppError;
use crate::AppState;
use actors::events::{Event, Resume};
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use engine::AgentId;
use futures::{Sink, SinkExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

#[derive(Deserialize, schemars::JsonSchema)]
pub(crate) struct TokenQuery {
    token: Option<String>,
    /// The last event's `seq` the client saw: what it may see after it is replayed first.
    since: Option<u64>,
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
    let resume = state.yard.resume_events(q.since).await;
    Ok(ws.on_upgrade(move |socket| async move {
        // An agent's open stream is its panel's presence: while none is open past the grace
        // period, the agent is offered nothing.
        let _panel = caller
            .agent
            .clone()
            .map(|agent| Panel::open(state.yard.clone(), agent));
        let (sink, mut stream) = futures::StreamExt::split(socket);
        let forward = forward(sink, resume, caller);
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

/// An agent's panel while its stream is open; closing it (dropping this) starts the grace
/// period.
struct Panel {
    yard: actors::Switchyard,
    agent: String,
}

impl Panel {
    fn open(yard: actors::Switchyard, agent: String) -> Self {
        yard.panel_opened(&agent);
        Panel { yard, agent }
    }
}

impl Drop for Panel {
    fn drop(&mut self) {
        self.yard.panel_closed(&self.agent);
    }
}

/// Whether the caller may see the event.
pub fn visible_to(caller: &Caller, event: &Event) -> bool {
    caller.is_supervisor()
        || caller
            .agent
            .as_deref()
            .is_some_and(|a| event.concerns_agent(&AgentId::from(a)))
}

/// Sends `stream.hello` (with the last `seq` handed out), then what the caller missed (or
/// `stream.reset` when that cannot be replayed: reload), then every visible event until the
/// sink closes. Generic over the sink so that tests can drive it without a socket.
pub async fn forward<S>(mut sink: S, resume: Resume, caller: Caller)
where
    S: Sink<Message> + Unpin,
{
    let mut resume = resume;
    let upto = resume.upto;
    let missed = resume.missed.take();
    let hello = serde_json::json!({
        "type": "stream.hello",
        "user": caller.username,
        "role": caller.role,
        "seq": upto,
    });
    let mut first = vec![hello.to_string()];
    match missed {
        Some(rows) => first.extend(
            rows.into_iter()
                .filter(|r| {
                    caller.is_supervisor()
                        || caller.agent.as_ref().is_some_and(|a| r.agents.contains(a))
                })
                .map(|r| r.body),
        ),
        None => first.push(
            serde_json::json!({"type": "stream.reset", "seq": upto, "reason":
                "the events since the given seq cannot be replayed (too old, trimmed, or from \
                 another server): reload the state"})
            .to_string(),
        ),
    }
    for text in first {
        if sink.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    loop {
        let text = match resume.rx.recv().await {
            Ok(ev) if ev.seq <= upto => continue,
            Ok(ev) if visible_to(&caller, &ev) => {
                // Only what is stored is shown: what a client saw, it can resume from.
                resume.stored(ev.seq).await;
                ev.to_json_text()
            }
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
