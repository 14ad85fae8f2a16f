//! The OpenAPI document at `/api/v1/openapi.json`, generated from [`ROUTES`], the list every
//! served path must appear in (a test checks the router and this list agree).

use serde_json::{json, Map, Value};

/// One documented operation.
pub struct Route {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path with `{param}`s.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it (`public`, or roles).
    pub auth: &'static str,
    /// Success status.
    pub status: u16,
}

macro_rules! routes {
    ($(($m:literal, $p:literal, $s:literal, $a:literal, $st:literal)),* $(,)?) => {
        /// Every operation of the API.
        pub const ROUTES: &[Route] = &[$(Route { method: $m, path: $p, summary: $s, auth: $a, status: $st }),*];
    };
}

routes![
    ("get", "/api/v1/health", "Liveness check", "public", 200),
    (
        "get",
        "/api/v1/openapi.json",
        "This document",
        "public",
        200
    ),
    (
        "post",
        "/api/v1/sessions",
        "Log in: {username, password} → {token, role, agent_id}",
        "public",
        201
    ),
    (
        "get",
        "/api/v1/agents",
        "Every agent with status, since, lock and call",
        "any",
        200
    ),
    ("get", "/api/v1/agents/{id}", "One agent", "any", 200),
    (
        "put",
        "/api/v1/agents/{id}/status",
        "Choose a status and/or post-call status: {status?, post_call_status?}",
        "the agent itself, supervisor, admin",
        200
    ),
    (
        "put",
        "/api/v1/agents/{id}/lock",
        "Lock the agent in a status: {status}",
        "supervisor, admin",
        200
    ),
    (
        "delete",
        "/api/v1/agents/{id}/lock",
        "Lift the lock",
        "supervisor, admin",
        200
    ),
    (
        "post",
        "/api/v1/agents/{id}/wrap-up/end",
        "End the wrap-up",
        "the agent itself, supervisor, admin",
        200
    ),
    (
        "get",
        "/api/v1/agents/{id}/history",
        "Status history, oldest first (?limit=)",
        "the agent itself, supervisor, admin",
        200
    ),
    (
        "get",
        "/api/v1/queues",
        "Queues with live counters",
        "any",
        200
    ),
    (
        "post",
        "/api/v1/calls",
        "A call enters: {from, queue, priority?, skills?} → 201 call",
        "admin (telephony ingress)",
        201
    ),
    (
        "get",
        "/api/v1/calls",
        "Calls, newest first (?state=waiting|offering|connected|ended|failed&limit=)",
        "any (agents: their own)",
        200
    ),
    (
        "get",
        "/api/v1/calls/{id}",
        "One call with its journey",
        "any (agents: their own)",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/accept",
        "Answer the offered call",
        "agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/decline",
        "Decline the offered call",
        "agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/hangup",
        "Hang up; admin may send {party: customer}",
        "agent, admin",
        200
    ),
    (
        "get",
        "/api/v1/unassigned",
        "Waiting calls nobody is ringing for (?sort=newest|oldest)",
        "any (agents: their queues)",
        200
    ),
    (
        "post",
        "/api/v1/unassigned/{id}/take",
        "Take the call: connected at once",
        "agent",
        200
    ),
    (
        "post",
        "/api/v1/unassigned/{id}/assign",
        "Offer the call to a colleague: {agent_id}",
        "agent, supervisor, admin",
        200
    ),
    (
        "get",
        "/api/v1/events",
        "WebSocket event stream (?token=)",
        "any",
        101
    ),
];

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "description": format!("Who: {}.", r.auth),
            "parameters": params,
            "responses": {
                r.status.to_string(): {"description": "success"},
                "4XX": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if r.auth != "public" {
            op["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Switchyard", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
            }}}}
        }
    })
}
