//! The pages served beside the API: the agent's phone panel at `/agent` (fits a CRM phone
//! panel iframe, works stand-alone), the customer's web call at `/call` (a page a website
//! embeds) and the supervisor's live view at `/supervisor` (calls and their live transcripts). Plain HTML, CSS and JavaScript compiled into the binary: no build step, nothing
//! fetched from elsewhere. For work on the pages, `SWITCHYARD_ASSETS_DIR=web/assets` serves
//! them from that folder instead, read at each request.

use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The embedded files: name, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "agent.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/agent.js"),
    ),
    (
        "call.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/call.js"),
    ),
    (
        "transcript-view.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/transcript-view.js"),
    ),
    (
        "supervisor.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/supervisor.js"),
    ),
    (
        "crm-demo.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/crm-demo.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../assets/style.css"),
    ),
];

/// The file from `SWITCHYARD_ASSETS_DIR` when set (page development), else the embedded one.
fn content(name: &str, embedded: &'static str) -> std::borrow::Cow<'static, str> {
    match std::env::var_os("SWITCHYARD_ASSETS_DIR") {
        Some(dir) => std::fs::read_to_string(std::path::Path::new(&dir).join(name))
            .map(Into::into)
            .unwrap_or(embedded.into()),
        None => embedded.into(),
    }
}

fn html(name: &str, body: &'static str) -> Response {
    let body = content(name, body);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `/agent`, `/call`, `/supervisor` and `/assets/{file}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/agent",
            get(|| async { html("agent.html", include_str!("../assets/agent.html")) }),
        )
        .route(
            "/call",
            get(|| async { html("call.html", include_str!("../assets/call.html")) }),
        )
        .route(
            "/supervisor",
            get(|| async { html("supervisor.html", include_str!("../assets/supervisor.html")) }),
        )
        .route(
            "/crm-demo",
            get(|| async { html("crm-demo.html", include_str!("../assets/crm-demo.html")) }),
        )
        .route("/cti/opencti-shim.js", get(shim))
        .route(
            "/cti/switchyard-host.js",
            get(|| async {
                script(content(
                    "switchyard-host.js",
                    include_str!("../assets/switchyard-host.js"),
                ))
            }),
        )
        .route("/assets/{file}", get(asset))
}

fn script(body: std::borrow::Cow<'static, str>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Who may frame the pages (the panel lives in CRM pages' iframes): the server itself and
/// `[cti] allowed_origins`, nobody else (no clickjacking from other sites).
pub(crate) async fn frame_ancestors(State(state): State<AppState>, mut res: Response) -> Response {
    let mut policy = String::from("frame-ancestors 'self'");
    for o in &state.yard.config().cti.allowed_origins {
        policy.push(' ');
        policy.push_str(o);
    }
    if let Ok(v) = header::HeaderValue::from_str(&policy) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// `/cti/opencti-shim.js`: the Open CTI shim, with the configured host origins it accepts
/// messages from (`[cti] allowed_origins`; its own origin always).
async fn shim(State(state): State<AppState>) -> Response {
    let origins =
        serde_json::to_string(&state.yard.config().cti.allowed_origins).expect("strings serialize");
    let body = content("opencti-shim.js", include_str!("../assets/opencti-shim.js"))
        .replace("/*ALLOWED_ORIGINS*/[]", &origins);
    script(body.into())
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((name, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            content(name, body),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
