//! The durable CRM outbox (G3): every answered call's log, for every configured connector, is
//! a row in the database before anything is sent. A worker delivers due rows; a failure is
//! retried with exponential backoff and jitter, a permanent refusal or too many failures
//! dead-letters the row (visible and retryable through the API). Rows survive restarts and
//! CRM outages: nothing is lost, and the CRM can deduplicate by the log's idempotency key.
//!
//! Per call and connector, versions go out in order: a later version (a change made during
//! wrap-up) waits until the earlier one is delivered or dead.
//!
//! A log carries the call's stored transcript (queues with `store_transcript`). A leg's last
//! utterance is decoded after the call ends, so a log queued while the call's legs are still
//! flushing is held (due [`TRANSCRIPT_WAIT_MS`] later at most): when the last leg has stored
//! its last final, the held rows, never sent yet, are rewritten with the whole transcript and
//! made due. A log thus carries every final of its call, unless the transcriber took longer
//! than the wait (or the process stopped meanwhile): then it carries the finals stored by the
//! time it goes out.

use crate::clock::Clock;
use crate::config::HookConfig;
use crate::media::transcript::Flushing;
use crate::store::{OutboxRow, Store, StoreError};
use cti_adapter::backoff::Retry;
use cti_adapter::connector::{ConnectorConfig, DeliveryError};
use cti_adapter::log::{CallLog, TranscriptLine};
use engine::call::Call;
use engine::CallId;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The outbox: where logs are queued, and the worker that delivers them.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    clock: Clock,
    connectors: Arc<Vec<ConnectorConfig>>,
    retry: Retry,
    wake: Arc<Notify>,
    http: reqwest::Client,
    /// Calls whose legs may still store finals (none without transcription).
    flushing: Flushing,
    /// The event hooks whose rows it delivers too.
    hooks: Arc<Vec<HookConfig>>,
    /// How long a delivered or superseded row is kept (ms).
    retention_ms: i64,
}

/// Rows the worker reads at once (the heads of that many lines, soonest due first).
const PAGE: usize = 256;

/// How often the worker prunes rows past their retention.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Deliveries in flight at once.
const PARALLEL: usize = 8;

/// The longest the worker sleeps without looking (new rows wake it at once).
const IDLE: Duration = Duration::from_secs(5);

/// A later version (a change during wrap-up) waits this long before it is sent, so that a
/// burst of edits (the panel saves as the agent types) goes out as one log.
pub const SETTLE_MS: i64 = 3_000;

/// The longest a log waits for its call's last transcript finals.
pub const TRANSCRIPT_WAIT_MS: i64 = 30_000;

/// When a row is due unless held for a transcript: at once for the first version, after
/// [`SETTLE_MS`] for a later one.
fn usual_due(row: &OutboxRow) -> i64 {
    row.created_at + if row.version > 1 { SETTLE_MS } else { 0 }
}

/// Whether a row is held for its call's transcript (never attempted, due later than usual).
fn held(row: &OutboxRow) -> bool {
    row.state == "pending" && row.attempts == 0 && row.next_at > usual_due(row)
}

impl Outbox {
    /// An outbox for these connectors.
    pub fn new(store: Store, clock: Clock, connectors: Vec<ConnectorConfig>, retry: Retry) -> Self {
        Outbox {
            store,
            clock,
            connectors: Arc::new(connectors),
            retry,
            wake: Arc::new(Notify::new()),
            http: cti_adapter::connector::client(),
            flushing: Flushing::default(),
            hooks: Arc::default(),
            retention_ms: 30 * 86_400_000,
        }
    }

    /// Keeps delivered and superseded rows this many days, then prunes them (see
    /// [`Store::outbox_prune`]).
    pub fn with_retention(mut self, days: u32) -> Self {
        self.retention_ms = i64::from(days) * 86_400_000;
        self
    }

    /// Prunes the rows past their retention.
    pub async fn prune(&self) -> Result<(), StoreError> {
        let before = self.clock.now().0 - self.retention_ms;
        self.store.outbox_prune(before).await
    }

    /// Delivers these event hooks' rows too (see [`crate::hooks`]).
    pub(crate) fn with_hooks(mut self, hooks: Vec<HookConfig>) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Its clock.
    pub(crate) fn clock(&self) -> Clock {
        self.clock
    }

    /// Holds the logs of calls that `flushing` says still have finals to store.
    pub(crate) fn with_transcripts(mut self, flushing: Flushing) -> Self {
        self.flushing = flushing;
        self
    }

    /// Whether any connector is configured.
    pub fn active(&self) -> bool {
        !self.connectors.is_empty()
    }

    /// The rows that queue the call's log (its next version, with the transcript stored so
    /// far) for every connector; none for a call nobody answered. Written with the call's
    /// snapshot ([`Store::save_call_with_outbox`]), then [`Outbox::queued`]. The first version
    /// is due at once; a later one after [`SETTLE_MS`], and it supersedes earlier versions
    /// still waiting to be sent for the first time (never a version already attempted or
    /// delivered). While the call's legs are still flushing, the rows are held (see the
    /// module docs).
    ///
    /// Boxed where it has work to do: a call actor's commit awaits this at every step, and its
    /// future would otherwise carry this one's (872 bytes) whether or not a connector is
    /// configured (see `store::writer::hand_over` on moving futures).
    pub async fn rows_for(&self, call: &Call) -> Result<Vec<OutboxRow>, StoreError> {
        if !self.active() || call.answered_at().is_none() {
            return Ok(Vec::new());
        }
        Box::pin(self.next_rows(call)).await
    }

    /// [`Outbox::rows_for`] of an answered call, with connectors.
    async fn next_rows(&self, call: &Call) -> Result<Vec<OutboxRow>, StoreError> {
        let id = call.id().to_string();
        let version = self.store.outbox_version(&id).await? + 1;
        let log = CallLog::of(call, u32::try_from(version).unwrap_or(u32::MAX))
            .with_transcript(self.transcript(&id).await?);
        let payload = serde_json::to_string(&log).expect("a log serializes");
        let now = self.clock.now().0;
        let mut rows: Vec<OutboxRow> = Vec::new();
        if version > 1 {
            for mut older in self.store.outbox_of_call(&id).await? {
                let crm = !crate::hooks::is_hook(&older.connector);
                let waiting = older.state == "pending" && older.attempts == 0;
                if crm && waiting && older.next_at > now {
                    (older.state, older.updated_at) = ("superseded".into(), now);
                    older.last_error = Some(format!("replaced by version {version}"));
                    rows.push(older);
                }
            }
        }
        let mut due = if version > 1 { now + SETTLE_MS } else { now };
        if self.flushing.busy(call.id()) {
            due = due.max(now + TRANSCRIPT_WAIT_MS);
        }
        for c in self.connectors.iter() {
            rows.push(OutboxRow {
                key: format!("{id}:v{version}:{}", c.name()),
                call_id: id.clone(),
                version,
                connector: c.name().to_owned(),
                payload: payload.clone(),
                state: "pending".into(),
                attempts: 0,
                next_at: due,
                last_error: None,
                created_at: now,
                updated_at: now,
            });
        }
        Ok(rows)
    }

    /// Tells the worker new rows are in.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// After the call's rows from [`Outbox::rows_for`] were written: wakes the worker, and
    /// releases rows held for a transcript whose legs finished meanwhile (between the rows'
    /// making and their writing, when nothing else would).
    pub async fn queued(&self, call: &CallId, rows: &[OutboxRow]) {
        self.wake();
        if rows.iter().any(held) && !self.flushing.busy(call) {
            // Boxed: rare, and large (see `rows_for`).
            Box::pin(self.transcript_flushed(call)).await;
        }
    }

    /// The call's legs have stored their last finals: its held rows, never sent yet, get the
    /// whole transcript and are due now (a later version: at the end of its settling time).
    pub(crate) async fn transcript_flushed(&self, call: &CallId) {
        if let Err(e) = self.release(call).await {
            // The rows stay held until their deadline, with the transcript they have.
            tracing::error!(call = %call, error = %e, "CRM outbox: a held log was not released");
        }
    }

    async fn release(&self, call: &CallId) -> Result<(), StoreError> {
        let id = call.to_string();
        let rows: Vec<OutboxRow> = self
            .store
            .outbox_of_call(&id)
            .await?
            .into_iter()
            .filter(held)
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let lines = self.transcript(&id).await?;
        let now = self.clock.now().0;
        for row in rows {
            let Ok(log) = serde_json::from_str::<CallLog>(&row.payload) else {
                continue;
            };
            let payload = serde_json::to_string(&log.with_transcript(lines.clone()))
                .expect("a log serializes");
            let due = usual_due(&row).max(now);
            self.store
                .outbox_refresh(&row.key, &payload, due, now)
                .await?;
        }
        self.wake();
        Ok(())
    }

    /// The call's stored transcript, as log lines.
    async fn transcript(&self, call: &str) -> Result<Vec<TranscriptLine>, StoreError> {
        Ok(self
            .store
            .transcript(call)
            .await?
            .into_iter()
            .map(|r| TranscriptLine {
                leg: r.leg,
                agent: r.agent,
                spoken_at: r.spoken_at,
                text: r.text,
            })
            .collect())
    }

    /// Puts a dead (or delivered) row back in line, due now; refused when the call's log has a
    /// later version for the same connector.
    pub async fn retry_row(&self, key: &str) -> Result<Option<OutboxRow>, crate::ActorError> {
        let Some(mut row) = self.store.outbox_row(key).await? else {
            return Ok(None);
        };
        if row.state == "pruned" {
            return Err(crate::ActorError::Pruned(key.to_owned()));
        }
        // A later version carries the whole log: sending this one again would at best repeat
        // it and at worst overwrite what the later one delivered. Any state counts, so the
        // answer does not depend on whether the later one's delivery has been recorded yet.
        // (An event hook's later rows are other events: they carry nothing of this one.)
        let newer = !crate::hooks::is_hook(&row.connector)
            && self
                .store
                .outbox_of_call(&row.call_id)
                .await?
                .into_iter()
                .any(|r| r.connector == row.connector && r.version > row.version);
        if newer {
            return Err(crate::ActorError::Superseded(key.to_owned()));
        }
        let now = self.clock.now().0;
        (row.state, row.attempts, row.next_at, row.updated_at) = ("pending".into(), 0, now, now);
        self.store.outbox_put(&row).await?;
        self.wake.notify_one();
        Ok(Some(row))
    }

    /// Starts the worker.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut pruned_at: Option<tokio::time::Instant> = None;
            loop {
                if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                    match self.prune().await {
                        Ok(()) => pruned_at = Some(tokio::time::Instant::now()),
                        Err(e) => tracing::warn!(error = %e, "CRM outbox: pruning failed"),
                    }
                }
                let wait = match self.run_once().await {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::error!(error = %e, "CRM outbox: the store failed");
                        Some(Duration::from_secs(1))
                    }
                };
                let wait = wait.unwrap_or(IDLE).min(IDLE);
                let _ = tokio::time::timeout(wait, self.wake.notified()).await;
            }
        })
    }

    /// Delivers every due row once; returns how long until the next one is due.
    async fn run_once(&self) -> Result<Option<Duration>, StoreError> {
        // The head of each call+connector line (its lowest pending version), a page at a
        // time: what is due now comes first.
        let heads = self.store.outbox_heads(PAGE).await?;
        let now = self.clock.now().0;
        let mut next: Option<i64> = None;
        let (due, later): (Vec<OutboxRow>, Vec<OutboxRow>) =
            heads.into_iter().partition(|r| r.next_at <= now);
        for r in &later {
            next = Some(next.map_or(r.next_at, |n| n.min(r.next_at)));
        }
        // Lines (call and connector) are independent: deliver them side by side, so that one
        // slow or unreachable CRM does not hold up the others.
        let done: Vec<OutboxRow> = futures::stream::iter(due)
            .map(|mut row| async move {
                self.attempt(&mut row).await;
                row
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for row in done {
            self.store.outbox_put(&row).await?;
            if row.state == "pending" {
                next = Some(next.map_or(row.next_at, |n| n.min(row.next_at)));
            } else {
                // The next version of this call, if any, may be due now.
                next = Some(self.clock.now().0);
            }
        }
        let now = self.clock.now().0;
        Ok(next.map(|n| Duration::from_millis(n.saturating_sub(now).max(0) as u64)))
    }

    async fn attempt(&self, row: &mut OutboxRow) {
        let now = self.clock.now().0;
        row.updated_at = now;
        if let Some(name) = row.connector.strip_prefix(crate::hooks::PREFIX) {
            let Some(hook) = self.hooks.iter().find(|h| h.name == name) else {
                row.state = "dead".into();
                row.last_error = Some(format!("hook {name:?} is no longer configured"));
                return;
            };
            let body = row.payload.clone().into_bytes();
            let sent = cti_adapter::connector::post_signed(
                &self.http,
                &hook.url,
                &hook.secret,
                now / 1_000,
                body,
                &row.key,
                "hook",
            )
            .await;
            return self.settle(row, sent, now);
        }
        let Some(connector) = self.connectors.iter().find(|c| c.name() == row.connector) else {
            row.state = "dead".into();
            row.last_error = Some(format!(
                "connector {:?} is no longer configured",
                row.connector
            ));
            return;
        };
        let log: CallLog = match serde_json::from_str(&row.payload) {
            Ok(l) => l,
            Err(e) => {
                row.state = "dead".into();
                row.last_error = Some(format!("unreadable log: {e}"));
                return;
            }
        };
        let sent = connector.deliver(&self.http, &log, now / 1_000).await;
        self.settle(row, sent, now);
    }

    /// Records an attempt's outcome: delivered, due again after the backoff, or dead.
    fn settle(&self, row: &mut OutboxRow, sent: Result<(), DeliveryError>, now: i64) {
        match sent {
            Ok(()) => {
                row.state = "delivered".into();
                row.last_error = None;
            }
            Err(e) => {
                row.attempts += 1;
                row.last_error = Some(e.to_string());
                let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                let permanent = matches!(e, DeliveryError::Permanent(_));
                match self
                    .retry
                    .after_failure(attempts, permanent, rand::random::<f64>())
                {
                    Some(delay) => row.next_at = now + delay.as_millis() as i64,
                    None => {
                        row.state = "dead".into();
                        tracing::warn!(key = %row.key, error = %e, "outbox row dead-lettered");
                    }
                }
            }
        }
    }
}
