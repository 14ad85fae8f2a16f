//! `Idempotency-Key` on state-changing requests (K8): a client that retries a `POST`, `PUT`,
//! `PATCH` or `DELETE` with the same key (a timeout, a dropped connection) gets the first
//! answer again, with `Idempotent-Replayed: true`, and nothing is done twice. The same key
//! with another body is 422 `idempotency_key_reused`; while the first request with a key is
//! still running, a second one is 409 `idempotency_key_in_flight`.
//!
//! Keys belong to the caller (its bearer token, or its address on public paths) and the
//! operation (method and path), and are kept 24 hours in the store, across restarts. Answers
//! that carry a credential (`POST /sessions`, `POST /web-calls`) are never kept. Answers
//! with 5xx or 429 are not kept: the command did not happen, so a retry runs again. A crash
//! after the command was applied but before its answer was kept lets a retry apply it again.

use crate::auth::token_hash;
use crate::error::AppError;
use crate::AppState;
use actors::store::IdempotentRow;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::sync::Mutex;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// How long an answer is kept (ms).
pub const KEEP_MS: i64 = 24 * 3600 * 1000;

/// Largest body a keyed request may have (as everywhere: 2 MB).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// Keys whose first request is running now.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<String>>);

/// Holds a key in flight until dropped (also when the client leaves mid-request).
struct Claim<'a> {
    set: &'a InFlight,
    key: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Operations whose answer carries a credential (a session token, a web call's customer
/// token): never kept, since the store holds no usable token (K3). A retried login makes
/// another session and a retried web call another call; the key is ignored there.
/// (Paths as the API router sees them, its `/api/v1` prefix taken off by the nesting.)
const NOT_KEPT: &[&str] = &["/sessions", "/web-calls"];

/// The middleware.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let changes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && !(req.method() == Method::POST && {
        let path = req.uri().path();
        NOT_KEPT.contains(&path.strip_prefix("/api/v1").unwrap_or(path))
    });
    let Some(key) = req.headers().get(HEADER).filter(|_| changes) else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            k.to_owned()
        }
        _ => {
            return AppError::new(
                StatusCode::BAD_REQUEST,
                "bad_idempotency_key",
                "Idempotency-Key: give 1 to 255 visible ASCII characters",
            )
            .into_response()
        }
    };
    let owner = match req.headers().get(axum::http::header::AUTHORIZATION) {
        Some(auth) => format!("token:{}", token_hash(auth.to_str().unwrap_or_default())),
        None => {
            let addr = crate::login::client_ip(req.extensions(), req.headers(), &state)
                .map(|ip| ip.to_string())
                .unwrap_or_default();
            format!("address:{addr}")
        }
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is over the 2 MB limit",
            )
            .into_response()
        }
    };
    let path = parts.uri.path().to_owned();
    let stored_key = sha256_hex(&[
        owner.as_bytes(),
        parts.method.as_str().as_bytes(),
        path.as_bytes(),
        key.as_bytes(),
    ]);
    let fingerprint = sha256_hex(&[parts.uri.query().unwrap_or("").as_bytes(), &bytes]);
    let store = state.yard.store();
    let now = state.yard.now().0;
    let claim = {
        let mut set = state
            .idempotency
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !set.insert(stored_key.clone()) {
            return AppError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_flight",
                "a request with this Idempotency-Key is still running; retry when it is answered",
            )
            .into_response();
        }
        Claim {
            set: &state.idempotency,
            key: stored_key.clone(),
        }
    };
    match store.idempotent(&stored_key, now - KEEP_MS).await {
        Ok(Some(first)) if first.fingerprint == fingerprint => return replay(&first),
        Ok(Some(_)) => {
            return AppError::invalid(
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request body; use a new key",
            )
            .into_response()
        }
        Ok(None) => {}
        Err(e) => {
            return AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                format!("cannot check the Idempotency-Key: {e}"),
            )
            .into_response()
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    let (rparts, rbody) = response.into_parts();
    let Ok(rbytes) = axum::body::to_bytes(rbody, MAX_BODY).await else {
        return AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the answer could not be read",
        )
        .into_response();
    };
    let row = IdempotentRow {
        key: stored_key,
        fingerprint,
        status: status.as_u16() as i64,
        body: String::from_utf8_lossy(&rbytes).into_owned(),
        created_at: now,
    };
    if let Err(e) = store.remember_idempotent(&row, now - KEEP_MS).await {
        tracing::warn!("idempotency: the answer was not kept: {e}");
    }
    drop(claim);
    Response::from_parts(rparts, Body::from(rbytes))
}

/// The first answer, again.
fn replay(first: &IdempotentRow) -> Response {
    let status = StatusCode::from_u16(first.status as u16).unwrap_or(StatusCode::OK);
    let mut response = (status, first.body.clone()).into_response();
    let headers = response.headers_mut();
    if !first.body.is_empty() {
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
