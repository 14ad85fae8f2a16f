//! The one error type at the web edge: a status code and a JSON body
//! `{"error": {"code", "message"}}` naming the problem.

use actors::ActorError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
}

impl AppError {
    /// An error with its status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401: no valid bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required (POST /api/v1/sessions)",
        )
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(why: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", why)
    }

    /// 422: a well-formed request whose content is wrong.
    pub fn invalid(code: &'static str, why: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, why)
    }

    /// The error as a response that says when to try again: `Retry-After` in whole seconds,
    /// rounded up, at least 1.
    pub fn retry_after(self, wait: std::time::Duration) -> Response {
        let secs = (wait.as_secs_f64().ceil() as u64).max(1);
        let mut response = self.into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = if self.status == StatusCode::ACCEPTED {
            // Not an error: a step taken, its outcome not known yet.
            json!({"pending": true, "code": self.code, "message": self.message})
        } else {
            json!({"error": {"code": self.code, "message": self.message}})
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 says when to try again (`retry_after` sets a longer wait).
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(2u64),
            );
        }
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is over the 2 MB limit",
            );
        }
        let code = match r {
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            _ => "invalid_body",
        };
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<ActorError> for AppError {
    fn from(e: ActorError) -> Self {
        use engine::Error as E;
        let message = e.to_string();
        let (status, code) = match &e {
            ActorError::Rule(rule) => {
                let status = match rule {
                    E::NotOwner(..) | E::Compliance(..) => StatusCode::FORBIDDEN,
                    r if r.is_invalid_input() => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::CONFLICT,
                };
                (status, rule.code())
            }
            ActorError::UnknownQueue(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_queue"),
            ActorError::UnknownAgent(_) => (StatusCode::NOT_FOUND, "unknown_agent"),
            ActorError::UnknownGroup(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_group"),
            ActorError::NotOutbound(_) => (StatusCode::UNPROCESSABLE_ENTITY, "not_outbound_queue"),
            ActorError::QueueRequired(_) => (StatusCode::UNPROCESSABLE_ENTITY, "queue_required"),
            ActorError::NotListed(_) => (StatusCode::NOT_FOUND, "not_listed"),
            ActorError::UnknownTxn(_) => (StatusCode::NOT_FOUND, "unknown_transaction"),
            ActorError::Media(_) => (StatusCode::BAD_GATEWAY, "media"),
            ActorError::UnknownCall(_) => (StatusCode::NOT_FOUND, "unknown_call"),
            ActorError::CallOver(_) => (StatusCode::CONFLICT, "call_over"),
            ActorError::Superseded(_) => (StatusCode::CONFLICT, "superseded"),
            ActorError::Pruned(_) => (StatusCode::GONE, "pruned"),
            ActorError::Pending(_) => (StatusCode::ACCEPTED, "pending"),
            // The database failed or is gone: nothing was applied; try again shortly.
            ActorError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage"),
            ActorError::NoAnswer(..) => (StatusCode::SERVICE_UNAVAILABLE, "engine_busy"),
            ActorError::Config(_) => (StatusCode::INTERNAL_SERVER_ERROR, "configuration"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        if status.is_server_error() {
            tracing::error!(error = %message, "request failed");
        }
        Self::new(status, code, message)
    }
}
