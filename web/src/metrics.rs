//! `GET /metrics` (K7): the contact center in Prometheus' text format (OpenMetrics), through
//! `prometheus-client`, the Prometheus project's own Rust client.
//!
//! - **Live state, read at each scrape**: calls by state, waiting calls and the longest wait
//!   per queue, agents by status, the transcription pool, the CRM outbox by state, the login
//!   gate's checks and refusals.
//! - **Counted as it happens**: HTTP requests by route template (`/api/v1/calls/:id`), method
//!   and status with their latency; calls ended by queue and result; the time from an offer
//!   to its answer (from the engine's event stream).
//!
//! Who may scrape: a bearer token equal to `security.metrics_token`; without one configured,
//! clients on loopback only.

use crate::error::AppError;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    queue: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StabilityLabels {
    stability: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

fn lag_histogram() -> Histogram {
    // 50 ms to about 13 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.05, 2.0, 9,
    ))
}

fn answer_histogram() -> Histogram {
    // 0.5 s to about 2 min.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.5, 2.0, 9,
    ))
}

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    calls_ended: Family<EndLabels, Counter>,
    offer_to_answer: Histogram,
    calls: Family<StateLabels, Gauge>,
    queue_waiting: Family<QueueLabels, Gauge>,
    queue_offering: Family<QueueLabels, Gauge>,
    queue_longest_wait: Family<QueueLabels, Gauge>,
    queue_service_level: Family<QueueLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    media_legs: Family<StateLabels, Gauge>,
    media_packets: Family<StateLabels, Gauge>,
    transcription_lag: Family<StabilityLabels, Histogram, fn() -> Histogram>,
    agents: Family<StatusLabels, Gauge>,
    outbox: Family<StateLabels, Gauge>,
    transcription_queued: Gauge,
    transcription_decodes: Family<StateLabels, Gauge>,
    login_checks: Gauge,
    login_refused: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchyard");
        let m = Metrics {
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(latency_histogram),
            calls_ended: Family::default(),
            offer_to_answer: answer_histogram(),
            calls: Family::default(),
            queue_waiting: Family::default(),
            queue_offering: Family::default(),
            queue_longest_wait: Family::default(),
            queue_service_level: Family::default(),
            media_legs: Family::default(),
            media_packets: Family::default(),
            transcription_lag: Family::new_with_constructor(lag_histogram),
            agents: Family::default(),
            outbox: Family::default(),
            transcription_queued: Gauge::default(),
            transcription_decodes: Family::default(),
            login_checks: Gauge::default(),
            login_refused: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            m.http_requests.clone(),
        );
        r.register(
            "http_request_seconds",
            "HTTP request latency by route template and method",
            m.http_seconds.clone(),
        );
        r.register(
            "calls_ended",
            "Calls that ended, by queue and result",
            m.calls_ended.clone(),
        );
        r.register(
            "offer_to_answer_seconds",
            "From an offer ringing to its answer",
            m.offer_to_answer.clone(),
        );
        r.register(
            "calls",
            "Live calls by state (waiting, offering, connected)",
            m.calls.clone(),
        );
        r.register(
            "queue_waiting_calls",
            "Calls waiting in a queue with no agent ringing",
            m.queue_waiting.clone(),
        );
        r.register(
            "queue_offering_calls",
            "Calls of a queue ringing an agent, not yet answered",
            m.queue_offering.clone(),
        );
        r.register(
            "queue_longest_wait_seconds",
            "The longest current wait in a queue",
            m.queue_longest_wait.clone(),
        );
        r.register(
            "queue_service_level_ratio",
            "Share of a queue's answered calls answered within its service_level_secs (absent before the first answer)",
            m.queue_service_level.clone(),
        );
        r.register("agents", "Agents by status", m.agents.clone());
        r.register(
            "media_legs",
            "Live media legs (state: all, connected)",
            m.media_legs.clone(),
        );
        r.register(
            "media_packets",
            "RTP packets from the parties on live legs (state: received, lost, late)",
            m.media_packets.clone(),
        );
        r.register(
            "transcription_lag_seconds",
            "From a window's last audio entering the fork to its segment (partial or final)",
            m.transcription_lag.clone(),
        );
        r.register(
            "crm_outbox_rows",
            "CRM outbox rows by state (pending, dead)",
            m.outbox.clone(),
        );
        r.register(
            "transcription_queued_jobs",
            "Decodes waiting in the transcription pool",
            m.transcription_queued.clone(),
        );
        r.register(
            "transcription_decodes",
            "Decodes since start by kind (partial, final, skipped_partial)",
            m.transcription_decodes.clone(),
        );
        r.register(
            "login_checks",
            "Password checks run since start",
            m.login_checks.clone(),
        );
        r.register(
            "login_refusals",
            "Logins refused before any check since start (throttled or busy)",
            m.login_refused.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// Counts an HTTP request.
    fn http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.clone(),
                route: route.clone(),
                status,
            })
            .inc();
        self.http_seconds
            .get_or_create(&RouteLabels { method, route })
            .observe(seconds);
    }

    /// Reads the live state into the gauges and renders everything.
    async fn render(&self, state: &AppState) -> Result<String, AppError> {
        let yard = &state.yard;
        self.calls.clear();
        for s in [
            engine::call::CallState::Waiting,
            engine::call::CallState::Offering,
            engine::call::CallState::Connected,
        ] {
            // Bounded: at most 10,000 calls are read per state.
            let n = yard.calls(Some(s), 10_000).await?.len();
            self.calls
                .get_or_create(&StateLabels {
                    state: s.as_str().to_owned(),
                })
                .set(n as i64);
        }
        self.queue_waiting.clear();
        self.queue_offering.clear();
        self.queue_longest_wait.clear();
        self.queue_service_level.clear();
        for q in yard.queues().await? {
            let label = QueueLabels {
                queue: q.id.to_string(),
            };
            self.queue_waiting
                .get_or_create(&label)
                .set(q.counters.waiting as i64);
            self.queue_offering
                .get_or_create(&label)
                .set(q.counters.offering as i64);
            self.queue_longest_wait
                .get_or_create(&label)
                .set(q.counters.longest_wait_secs as i64);
            if let Some(sl) = q.service_level {
                self.queue_service_level.get_or_create(&label).set(sl);
            }
        }
        let media = yard.media_totals().await;
        self.media_legs.clear();
        self.media_packets.clear();
        for (family, state, n) in [
            (&self.media_legs, "all", media.legs),
            (&self.media_legs, "connected", media.connected),
            (&self.media_packets, "received", media.packets_received),
            (&self.media_packets, "lost", media.packets_lost),
            (&self.media_packets, "late", media.packets_late),
        ] {
            family
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(n as i64);
        }
        self.agents.clear();
        let mut by_status: HashMap<String, i64> = HashMap::new();
        for a in yard.agents().await? {
            *by_status.entry(a.status.as_str().to_owned()).or_default() += 1;
        }
        for (status, n) in by_status {
            self.agents.get_or_create(&StatusLabels { status }).set(n);
        }
        self.outbox.clear();
        let counts = yard.outbox_counts().await?;
        for s in ["pending", "dead"] {
            let n = counts.get(s).copied().unwrap_or(0);
            self.outbox
                .get_or_create(&StateLabels {
                    state: s.to_owned(),
                })
                .set(n as i64);
        }
        if let Some(pool) = yard.transcription().pool {
            self.transcription_queued.set(pool.queued as i64);
            for (kind, n) in [
                ("partial", pool.partials),
                ("final", pool.finals),
                ("skipped_partial", pool.skipped_partials),
            ] {
                self.transcription_decodes
                    .get_or_create(&StateLabels {
                        state: kind.to_owned(),
                    })
                    .set(n as i64);
            }
        }
        let gate = &state.users.gate.stats;
        self.login_checks
            .set(gate.checks.load(std::sync::atomic::Ordering::Relaxed) as i64);
        self.login_refused
            .set(gate.refused.load(std::sync::atomic::Ordering::Relaxed) as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).map_err(|e| {
            AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
        })?;
        Ok(out)
    }

    /// Counts calls' ends and offer-to-answer times from the engine's events, until the
    /// engine stops.
    pub fn follow(self: &Arc<Self>, yard: &actors::Switchyard) -> tokio::task::JoinHandle<()> {
        let mut rx = yard.subscribe();
        let metrics = self.clone();
        tokio::spawn(async move {
            // When each ringing offer began, by call (bounded: ended calls are removed).
            let mut ringing: HashMap<String, i64> = HashMap::new();
            loop {
                let event = match rx.recv().await {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let segment = match &*event.kind {
                    actors::events::EventKind::Transcript { what, .. } => Some(&**what),
                    _ => None,
                };
                if let Some(actors::events::TranscriptEvent::Segment {
                    lag_ms, stability, ..
                }) = segment
                {
                    let stability = match stability {
                        transcription::Stability::Partial => "partial",
                        transcription::Stability::Final => "final",
                    };
                    metrics
                        .transcription_lag
                        .get_or_create(&StabilityLabels {
                            stability: stability.to_owned(),
                        })
                        .observe(*lag_ms as f64 / 1_000.0);
                    continue;
                }
                let actors::events::EventKind::Call {
                    call_id,
                    queue,
                    entry,
                    ..
                } = &*event.kind
                else {
                    continue;
                };
                let id = call_id.to_string();
                match event.type_name() {
                    "call.offered" if ringing.len() < 100_000 => {
                        ringing.insert(id, entry.at.0);
                    }
                    "call.answered" => {
                        if let Some(at) = ringing.remove(&id) {
                            let secs = (entry.at.0 - at).max(0) as f64 / 1_000.0;
                            metrics.offer_to_answer.observe(secs);
                        }
                    }
                    "call.ended" | "call.failed" => {
                        ringing.remove(&id);
                        let v = event.to_json();
                        let result = v["result"]
                            .as_str()
                            .or_else(|| (event.type_name() == "call.failed").then_some("failed"))
                            .unwrap_or("ended")
                            .to_owned();
                        metrics
                            .calls_ended
                            .get_or_create(&EndLabels {
                                queue: queue.to_string(),
                                result,
                            })
                            .inc();
                    }
                    _ => {}
                }
            }
        })
    }
}

/// Counts every request by its route template (never the raw path: ids would make the label
/// set unbounded), method and status, with its latency.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // `/api/v1/calls/:id`: parameters in the `:name` style, since some parsers of the text
    // format stop at a brace inside a label value.
    let route = req.extensions().get::<MatchedPath>().map_or_else(
        || "unmatched".to_owned(),
        |p| p.as_str().replace('{', ":").replace('}', ""),
    );
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    state.metrics.http(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Where the metrics are served (outside `/api/v1`, where Prometheus looks by default).
pub const PATH: &str = "/metrics";

/// `GET /metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    crate::login::ClientAddr(address): crate::login::ClientAddr,
    headers: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match &state.yard.config().security.metrics_token {
        Some(token) => {
            given.is_some_and(|g| crate::auth::constant_time_eq(g.as_bytes(), token.as_bytes()))
        }
        None => address.is_none_or(|a| a.is_loopback()),
    };
    if !allowed {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "metrics_forbidden",
            "metrics need the bearer token of security.metrics_token (or, without one, a client on loopback)",
        ));
    }
    let body = state.metrics.render(&state).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}
