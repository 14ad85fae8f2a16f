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
        "/metrics",
        "Prometheus metrics (OpenMetrics text): calls, queues, agents, transcription, CRM outbox, logins, HTTP requests; the bearer token of security.metrics_token, or without one a client on loopback",
        "metrics token",
        200
    ),
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
        "Log in: {username, password} → {token, role, agent_id}; 401 bad_credentials; 429 with Retry-After: login_locked (a name failed too often in a row), too_many_logins (this address), busy (every password check busy)",
        "public",
        201
    ),
    (
        "delete",
        "/api/v1/sessions",
        "Log out: the caller's token stops working at once (its event stream closes within 30 s)",
        "any",
        204
    ),
    (
        "delete",
        "/api/v1/users/{username}/sessions",
        "Force a user's logout (J3): every session ends; an agent not on a call goes Offline → {user, sessions_ended, agent_offline}",
        "supervisor, admin",
        200
    ),
    (
        "get",
        "/api/v1/statuses",
        "Statuses an agent may choose: {statuses: [{id, label, custom}]}",
        "any",
        200
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
        "WebSocket event stream (?token=, and ?since=N to resume: what the caller may see after event N is replayed first, or stream.reset says to reload when it cannot be): stream.hello {seq: the last number handed out}, then {seq, type, at, …}, seq increasing across restarts. call.* (the journey's steps) and agent.status; the live transcript (supervisors, and the agents on the call), each with call_id, queue, agents, leg: agent|customer and agent (on an agent leg): transcript.partial and transcript.final {start_ms, end_ms, text, lag_ms, heard_at, spoken_at}, transcript.paused {reason: hold|mask|not_connected}, transcript.resumed, and transcript.alert {phrase, severity: info|warning|critical, text, start_ms, end_ms, spoken_at}, a keyword alert of the call's queue said in the final just sent",
        "any",
        101
    ),
    (
        "post",
        "/api/v1/calls/{id}/hold",
        "Put the customer on hold (not in a conference)",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/resume",
        "Take the customer off hold",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/mute",
        "Mute the agent's microphone",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/unmute",
        "Unmute it",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/dtmf",
        "Send DTMF: {digits} (0-9 * # A-D; not held, not in a conference)",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/recording",
        "Recording: {action: start|stop|mask|unmask}",
        "the call's agent",
        200
    ),
    (
        "put",
        "/api/v1/calls/{id}/crm",
        "Name (who) and Related To (what): {who?, what?}",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/transfer",
        "Blind transfer: {target: {type: agent|queue|group|number, id?, number?}}",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/take-back",
        "Take back a blind transfer nobody answered yet",
        "the sender",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/consult",
        "Attended transfer: hold the customer and ring {target}",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/consult/complete",
        "Hand the call to the consulted agent",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/consult/cancel",
        "Hang up the consult leg",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/consult/conference",
        "Three-way conference",
        "the call's agent",
        200
    ),
    (
        "post",
        "/api/v1/calls/outbound",
        "Dial out: {number, queue?, pin?}; compliance first",
        "agent",
        201
    ),
    (
        "post",
        "/api/v1/calls/{id}/connect",
        "The customer answered an outbound call or callback",
        "admin (telephony ingress)",
        200
    ),
    (
        "post",
        "/api/v1/callbacks",
        "Callback request: {number, queue, txn?} -> {admission, call}",
        "admin, agent",
        201
    ),
    (
        "post",
        "/api/v1/schedules",
        "Schedule a call: {number, queue, at (RFC 3339)}",
        "agent, admin",
        201
    ),
    (
        "get",
        "/api/v1/schedules",
        "Scheduled calls (agents: their own)",
        "any",
        200
    ),
    (
        "get",
        "/api/v1/compliance/{list}",
        "Entries of dnc, block, allow, countries (personal: your own)",
        "supervisor, admin; agents: personal",
        200
    ),
    (
        "post",
        "/api/v1/compliance/{list}",
        "Add an entry: {value}",
        "admin; agents: personal",
        201
    ),
    (
        "delete",
        "/api/v1/compliance/{list}",
        "Remove an entry: ?value=",
        "admin; agents: personal",
        200
    ),
    (
        "post",
        "/api/v1/transactions",
        "Record a chat transaction: {kind: chat, customer, subject?}",
        "any",
        201
    ),
    (
        "get",
        "/api/v1/transactions/{id}",
        "A call or chat transaction with its related transactions",
        "any (agents: their calls)",
        200
    ),
    (
        "post",
        "/api/v1/transactions/{id}/links",
        "Relate two transactions: {other}",
        "any",
        200
    ),
    (
        "get",
        "/api/v1/customers/{number}/journey",
        "Every call and chat of one customer with its status and log",
        "any (agents: their calls)",
        200
    ),
    (
        "post",
        "/api/v1/calls/{id}/media",
        "WebRTC signalling: {party: customer|agent, sdp: offer} -> answer; a new offer from the same party replaces its leg",
        "an agent on the call (owner, consulted colleague, conference third); admin for the customer",
        200
    ),
    (
        "get",
        "/api/v1/calls/{id}/media",
        "Each media leg's counters: {bridged, legs: {customer, agent}, participants}",
        "an agent on the call, supervisor, admin",
        200
    ),
    (
        "get",
        "/api/v1/calls/{id}/cti",
        "The call's CRM data {data: {disposition, tags, notes, who, what}, catalog: {dispositions, tags}}",
        "any (agents: their calls)",
        200
    ),
    (
        "put",
        "/api/v1/calls/{id}/cti",
        "Replace the call's CRM data {disposition?, tags?, notes?, who?, what?} (absent fields are cleared): the owner during the call, its agent during wrap-up; 422 invalid_call_data names the field",
        "agent (owner, or in wrap-up of the call)",
        200
    ),
    (
        "get",
        "/api/v1/cti/outbox",
        "The CRM outbox, newest first: {total, rows: [{key, call_id, version, connector, state: pending|delivered|dead|superseded, attempts, next_at, last_error, …}]} (?state= filters, ?limit= 1-1000, default 100)",
        "supervisor, admin",
        200
    ),
    (
        "post",
        "/api/v1/cti/outbox/{key}/retry",
        "Put an outbox row (a dead letter) back in line, due now",
        "admin",
        200
    ),
    (
        "get",
        "/api/v1/calls/{id}/transcript",
        "The call's stored transcript and keyword alerts: {stored, segments: [{leg, agent, start_ms, end_ms, text, at, spoken_at}] (finals only, when the queue has store_transcript), alerts: [{leg, agent, queue, phrase, severity: info|warning|critical, text (when the queue has store_transcript), start_ms, end_ms, spoken_at, at}] (always)}",
        "any (agents: their calls)",
        200
    ),
    (
        "get",
        "/api/v1/transcription",
        "Live transcription: {enabled, model, queues: [{queue, mode, stored}], pool}; off when no whisper model is configured",
        "any",
        200
    ),
    (
        "get",
        "/api/v1/media-config",
        "STUN/TURN servers for RTCPeerConnection: {ice_servers}",
        "public",
        200
    ),
    (
        "get",
        "/api/v1/web-queues",
        "Queues open to web calls: {queues: [{id, name, colour}]}",
        "public",
        200
    ),
    (
        "post",
        "/api/v1/web-calls",
        "A website visitor calls a queue: {queue, name?, sdp: offer} -> {call_id, token, sdp: answer}",
        "public (queues with web_calls = true)",
        201
    ),
    (
        "get",
        "/api/v1/web-calls/{id}",
        "The web call's state: {call_id, state, held}",
        "the call's customer token",
        200
    ),
    (
        "post",
        "/api/v1/web-calls/{id}/hangup",
        "The customer hangs up",
        "the call's customer token",
        200
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
