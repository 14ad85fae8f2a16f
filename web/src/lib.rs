//! Switchyard's web layer: the REST API and WebSocket event stream over axum (K2, K3), and
//! the `switchyard` command line ([`cli`]).
//!
//! [`app`] builds the router over a running [`actors::Switchyard`]; [`serve`] runs it on a
//! listener until its shutdown future resolves. Handlers translate HTTP only: rules live in
//! `engine`, effects in `actors`.

#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod error;
pub mod idempotency;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod ws;

use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use std::future::Future;
use tokio::net::TcpListener;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The running engine.
    pub yard: actors::Switchyard,
    /// Who can log in.
    pub users: auth::Users,
    /// Customer tokens of web calls.
    pub web_calls: api::web_call::WebCallTokens,
    /// `GET /metrics`.
    pub metrics: std::sync::Arc<metrics::Metrics>,
    /// `Idempotency-Key`s whose first request is running.
    pub idempotency: std::sync::Arc<idempotency::InFlight>,
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/health", get(api::health))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/sessions", post(api::login).delete(api::logout))
        .route("/users/{username}/sessions", delete(api::force_logout))
        .route("/statuses", get(api::statuses))
        .route("/agents", get(api::list_agents))
        .route("/agents/{id}", get(api::get_agent))
        .route("/agents/{id}/status", put(api::set_status))
        .route("/agents/{id}/lock", put(api::lock).delete(api::unlock))
        .route("/agents/{id}/wrap-up/end", post(api::end_wrap_up))
        .route("/agents/{id}/history", get(api::history))
        .route("/queues", get(api::list_queues))
        .route("/queues/{id}/alerts", post(api::watch::alert))
        .route("/calls", post(api::create_call).get(api::list_calls))
        .route("/calls/outbound", post(api::outbound))
        .route("/calls/{id}", get(api::get_call))
        .route("/calls/{id}/connect", post(api::connect))
        .route("/calls/{id}/skills", put(api::watch::widen))
        .route("/calls/{id}/media", post(api::media).get(api::media_stats))
        .route("/calls/{id}/transcript", get(api::transcript::transcript))
        .route("/calls/{id}/cti", get(api::cti::get).put(api::cti::put))
        .route("/cti/outbox", get(api::cti::outbox))
        .route("/cti/outbox/{key}/retry", post(api::cti::retry))
        .route("/transcription", get(api::transcript::status))
        .route("/media-config", get(api::web_call::media_config))
        .route("/web-queues", get(api::web_call::web_queues))
        .route("/web-calls", post(api::web_call::create))
        .route("/web-calls/{id}", get(api::web_call::get))
        .route("/web-calls/{id}/hangup", post(api::web_call::hangup))
        .route("/callbacks", post(api::callback))
        .route("/schedules", post(api::schedule).get(api::schedules))
        .route("/transactions", post(api::create_txn))
        .route("/transactions/{id}", get(api::get_txn))
        .route("/transactions/{id}/links", post(api::link_txn))
        .route(
            "/compliance/{list}",
            get(api::compliance_get)
                .post(api::compliance_post)
                .delete(api::compliance_delete),
        )
        .route("/calls/{id}/accept", post(api::accept))
        .route("/calls/{id}/decline", post(api::decline))
        .route("/calls/{id}/hangup", post(api::hangup))
        .route("/calls/{id}/hold", post(api::hold))
        .route("/calls/{id}/resume", post(api::resume))
        .route("/calls/{id}/mute", post(api::mute))
        .route("/calls/{id}/unmute", post(api::unmute))
        .route("/calls/{id}/dtmf", post(api::dtmf))
        .route("/calls/{id}/recording", post(api::recording))
        .route("/calls/{id}/transfer", post(api::transfer))
        .route("/calls/{id}/take-back", post(api::take_back))
        .route("/calls/{id}/consult", post(api::consult))
        .route("/calls/{id}/consult/complete", post(api::consult_complete))
        .route("/calls/{id}/consult/cancel", post(api::consult_cancel))
        .route(
            "/calls/{id}/consult/conference",
            post(api::consult_conference),
        )
        .route("/calls/{id}/crm", put(api::crm))
        .route("/customers/{number}/journey", get(api::customer_journey))
        .route("/unassigned", get(api::unassigned))
        .route("/unassigned/{id}/take", post(api::take))
        .route("/unassigned/{id}/assign", post(api::assign))
        .route("/events", get(ws::events))
        .method_not_allowed_fallback(|| async {
            error::AppError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take that method; see /api/v1/openapi.json",
            )
        })
        .fallback(|| async {
            error::AppError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such API path; see /api/v1/openapi.json",
            )
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::layer,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));
    let pages = pages::routes().layer(axum::middleware::map_response_with_state(
        state.clone(),
        pages::frame_ancestors,
    ));
    Router::new()
        .route(metrics::PATH, get(metrics::metrics))
        .nest("/api/v1", v1)
        .merge(pages)
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests;
