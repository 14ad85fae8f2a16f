//! CRM connectors (G3) over HTTP with `reqwest`: a Salesforce REST connector that writes the
//! call log as a Task, and a generic webhook that posts it as signed JSON. A delivery either
//! succeeds, fails for now (retried by the outbox), or fails for good (dead-lettered).

use crate::log::CallLog;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// One CRM to deliver call logs to (`[[cti.connectors]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectorConfig {
    /// Salesforce's REST API: the log becomes a Task (upserted by `CallObject`).
    Salesforce {
        /// A name for it (outbox rows and errors say which connector).
        name: String,
        /// `https://yourorg.my.salesforce.com`.
        instance_url: String,
        /// An OAuth bearer token.
        access_token: String,
        /// REST API version (default `v60.0`).
        #[serde(default = "default_api_version")]
        api_version: String,
    },
    /// Any HTTP endpoint: the log as JSON, signed with HMAC-SHA256.
    Webhook {
        /// A name for it.
        name: String,
        /// Where logs are posted.
        url: String,
        /// The shared secret of the signature.
        secret: String,
    },
}

fn default_api_version() -> String {
    "v60.0".into()
}

impl ConnectorConfig {
    /// The same connector with its token or secret replaced by `"<not stored>"`: what may be
    /// written anywhere but the configuration file.
    pub fn without_secret(&self) -> ConnectorConfig {
        let hidden = || "<not stored>".to_owned();
        match self.clone() {
            ConnectorConfig::Salesforce {
                name,
                instance_url,
                api_version,
                ..
            } => ConnectorConfig::Salesforce {
                name,
                instance_url,
                access_token: hidden(),
                api_version,
            },
            ConnectorConfig::Webhook { name, url, .. } => ConnectorConfig::Webhook {
                name,
                url,
                secret: hidden(),
            },
        }
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        match self {
            ConnectorConfig::Salesforce { name, .. } | ConnectorConfig::Webhook { name, .. } => {
                name
            }
        }
    }

    /// Checks the settings; the message names the connector and the field.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |what: &str| Err(format!("cti.connectors {:?}: {what}", self.name()));
        if self.name().trim().is_empty() {
            return Err("cti.connectors: every connector needs a name".into());
        }
        let url = match self {
            ConnectorConfig::Salesforce {
                instance_url,
                access_token,
                api_version,
                ..
            } => {
                if access_token.trim().is_empty() {
                    return bad("access_token is empty");
                }
                let v = api_version.strip_prefix('v').unwrap_or_default();
                if v.split('.').count() != 2 || !v.split('.').all(|p| p.parse::<u32>().is_ok()) {
                    return bad("api_version: give it as v60.0");
                }
                instance_url
            }
            ConnectorConfig::Webhook { url, secret, .. } => {
                if secret.len() < 16 {
                    return bad("secret: give at least 16 characters");
                }
                url
            }
        };
        match reqwest::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
            _ => bad(&format!("{url:?} is not an http(s) URL")),
        }
    }
}

/// Why a delivery failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The CRM is down, slow or busy: try again later.
    #[error("{0} (will retry)")]
    Retry(String),
    /// The CRM refused the log: retrying the same request cannot help.
    #[error("{0}")]
    Permanent(String),
}

/// The header carrying the webhook's signature: `sha256=<hex>` of `"<timestamp>.<body>"`.
pub const SIGNATURE_HEADER: &str = "x-switchyard-signature";
/// The header carrying the signing time (seconds since the epoch).
pub const TIMESTAMP_HEADER: &str = "x-switchyard-timestamp";
/// The header carrying the log's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The signature of a webhook body.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Checks a webhook's signature (for receivers, and tests): constant time.
pub fn verify(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let expected = sign(secret, timestamp, body);
    expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The most characters a Salesforce Task's Description holds.
pub const SALESFORCE_DESCRIPTION_MAX: usize = 32_000;

/// The Task a Salesforce connector writes for a log: its Description holds the notes, the tags
/// and the stored transcript, within [`SALESFORCE_DESCRIPTION_MAX`].
pub fn salesforce_task(log: &CallLog) -> Value {
    let date =
        time::OffsetDateTime::from_unix_timestamp(log.ended_at.unwrap_or(log.started_at) / 1_000)
            .map(|t| {
                let d = t.date();
                format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
            })
            .unwrap_or_default();
    json!({
        // A callback is dialed by us: outbound, like an agent's own call out.
        "Subject": format!("Call {} {}", if log.direction == "inbound" { "from" } else { "to" }, log.number),
        "CallType": if log.direction == "inbound" { "Inbound" } else { "Outbound" },
        "CallDisposition": log.data.disposition,
        "CallDurationInSeconds": log.duration_seconds,
        "CallObject": log.call_id,
        "WhoId": log.data.who,
        "WhatId": log.data.what,
        "Description": log.description_within(SALESFORCE_DESCRIPTION_MAX),
        "Status": "Completed",
        "ActivityDate": date,
    })
}

/// The JSON a webhook receives: the whole log, its transcript lines included.
pub fn webhook_body(log: &CallLog) -> Value {
    json!({
        "type": "call.log",
        "idempotency_key": log.idempotency_key(),
        "log": log,
    })
}

fn classify(status: reqwest::StatusCode, body: &str, what: &str) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    let msg = format!(
        "{what}: HTTP {status}: {}",
        body.chars().take(300).collect::<String>()
    );
    // 401: an expired token is renewed by an admin; the log waits for it rather than die.
    if status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::UNAUTHORIZED
    {
        Err(DeliveryError::Retry(msg))
    } else {
        Err(DeliveryError::Permanent(msg))
    }
}

fn network(what: &str, e: reqwest::Error) -> DeliveryError {
    // Without the URL: a webhook's URL may carry a token, and errors are shown to supervisors.
    DeliveryError::Retry(format!("{what}: {}", e.without_url()))
}

/// Posts a JSON `body` to `url` signed as webhooks are (the timestamp, the HMAC-SHA256
/// signature of `timestamp.body` under `secret`, an idempotency key), and classifies the
/// answer: 2xx delivered, 5xx, 408, 429, 401 and network errors retried, others permanent.
/// `what` names the receiver in errors.
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    now_secs: i64,
    body: Vec<u8>,
    idempotency_key: &str,
    what: &str,
) -> Result<(), DeliveryError> {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, now_secs.to_string())
        .header(SIGNATURE_HEADER, sign(secret, now_secs, &body))
        .header(IDEMPOTENCY_HEADER, idempotency_key)
        .body(body)
        .send()
        .await
        .map_err(|e| network(what, e))?;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    classify(status, &text, what)
}

/// An HTTP client for connectors: bounded time per request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("a TLS-capable client")
}

impl ConnectorConfig {
    /// Delivers one log; `now_secs` signs webhooks.
    pub async fn deliver(
        &self,
        http: &reqwest::Client,
        log: &CallLog,
        now_secs: i64,
    ) -> Result<(), DeliveryError> {
        match self {
            ConnectorConfig::Webhook { url, secret, .. } => {
                let body = serde_json::to_vec(&webhook_body(log)).expect("a log serializes");
                let key = log.idempotency_key();
                post_signed(http, url, secret, now_secs, body, &key, "webhook").await
            }
            ConnectorConfig::Salesforce {
                instance_url,
                access_token,
                api_version,
                ..
            } => {
                let base = format!(
                    "{}/services/data/{api_version}",
                    instance_url.trim_end_matches('/')
                );
                // Upsert by CallObject: a retry after a lost answer, or a later version of
                // the log, updates the Task instead of writing a second one.
                let soql = format!(
                    "SELECT Id FROM Task WHERE CallObject = '{}' LIMIT 1",
                    log.call_id.replace('\\', "\\\\").replace('\'', "\\'")
                );
                let r = http
                    .get(format!("{base}/query"))
                    .query(&[("q", soql)])
                    .bearer_auth(access_token)
                    .send()
                    .await
                    .map_err(|e| network("salesforce query", e))?;
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                classify(status, &text, "salesforce query")?;
                let existing = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["records"][0]["Id"].as_str().map(str::to_owned));
                let task = salesforce_task(log);
                let req = match &existing {
                    Some(id) => http.patch(format!("{base}/sobjects/Task/{id}")),
                    None => http.post(format!("{base}/sobjects/Task")),
                };
                let r = req
                    .bearer_auth(access_token)
                    .json(&task)
                    .send()
                    .await
                    .map_err(|e| network("salesforce task", e))?;
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                classify(status, &text, "salesforce task")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_description_carries_the_notes_then_the_transcript_within_its_size() {
        let mut log: CallLog = serde_json::from_value(json!({
            "call_id": "c1", "version": 1, "direction": "inbound", "number": "+15550123",
            "queue": "support", "agent": "alice", "started_at": 0, "ended_at": 60_000,
            "duration_seconds": 50, "result": "answered",
            "data": {"disposition": null, "tags": [], "notes": "called about a refund", "who": null, "what": null}
        }))
        .unwrap();
        let line = |leg: &str, at: i64, text: &str| crate::log::TranscriptLine {
            leg: leg.into(),
            agent: (leg == "agent").then(|| "alice".into()),
            spoken_at: at,
            text: text.into(),
        };
        log = log.with_transcript(vec![
            line("agent", 2, "How can I help?"),
            line("customer", 1, "Hello."),
        ]);
        assert_eq!(
            salesforce_task(&log)["Description"],
            "called about a refund\n\nTranscript:\nCustomer: Hello.\nAgent (alice): How can I help?"
        );
        log = log.with_transcript(
            (0..5_000)
                .map(|i| line("customer", i, "words words words"))
                .collect(),
        );
        let d = salesforce_task(&log)["Description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(d.chars().count() <= SALESFORCE_DESCRIPTION_MAX);
        assert!(d.starts_with("called about a refund\n\nTranscript:\n"));
        assert!(d.ends_with("more lines]"), "{}", &d[d.len() - 60..]);
        // The webhook gets the whole log, lines included.
        assert_eq!(
            webhook_body(&log)["log"]["transcript"]
                .as_array()
                .unwrap()
                .len(),
            5_000
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently (Python's hmac module).
        assert_eq!(
            sign("a-long-shared-secret", 1_795_255_300, br#"{"a":1}"#),
            "sha256=974d9064db159a826109facb04dd4d8dbd304aa2f8c2ca563853f2e046acbd70"
        );
        assert!(!verify(
            "another-secret-value",
            1_795_255_300,
            br#"{"a":1}"#,
            &sign("a-long-shared-secret", 1_795_255_300, br#"{"a":1}"#)
        ));
    }
}
