//! `[[hooks]]`: chosen events posted to a URL as they happen, signed like the CRM webhook and
//! delivered through the durable outbox (retried while the receiver is down, in order per
//! call, none lost across restarts).
//!
//! ```toml
//! [[hooks]]
//! name = "ops"                             # in the outbox and in logs
//! url = "https://ops.example.com/switchyard"
//! secret = "shared-secret"                 # signs each post (x-switchyard-signature)
//! events = ["call.ended", "call.failed"]   # event types, as the WebSocket names them
//! ```

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// An event hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// Its name: letters, digits, `-` and `_`.
    pub name: String,
    /// Where events are posted (`http://` or `https://`).
    pub url: String,
    /// The shared secret of the signature.
    pub secret: String,
    /// The event types it receives (`call.ended`, `agent.status`, …; `call.*` for every
    /// call event).
    pub events: Vec<String>,
}

impl HookConfig {
    /// Whether it receives events of this type.
    pub fn wants(&self, event_type: &str) -> bool {
        event_matches(&self.events, event_type)
    }

    /// The same hook with its secret replaced (for what is stored outside the file).
    pub fn without_secret(&self) -> HookConfig {
        HookConfig {
            secret: "<not stored>".into(),
            ..self.clone()
        }
    }
}

/// Whether an event type is one of `patterns` (`call.ended`, or `call.*` for every `call.`
/// type).
pub fn event_matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|e| {
        e == event_type
            || e.strip_suffix('*').is_some_and(|p| {
                event_type.len() > p.len() && event_type.starts_with(p) && p.ends_with('.')
            })
    })
}

/// Checks every hook: names unique and plain, URLs http(s), a secret, events named.
pub fn validate(hooks: &[HookConfig]) -> Result<(), String> {
    let mut names = HashSet::new();
    for h in hooks {
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if h.name.is_empty() || h.name.len() > 64 || !h.name.chars().all(plain) {
            return Err(format!(
                "hooks: {:?} is not a name (letters, digits, - and _)",
                h.name
            ));
        }
        if !names.insert(h.name.as_str()) {
            return Err(format!("hooks: {:?} appears twice", h.name));
        }
        if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
            return Err(format!(
                "hooks.{}.url: give an http:// or https:// URL",
                h.name
            ));
        }
        if h.secret.is_empty() {
            return Err(format!("hooks.{}.secret: give the shared secret", h.name));
        }
        let typed = |e: &String| {
            let mut parts = e.split('.');
            let (a, b) = (parts.next(), parts.next());
            parts.next().is_none()
                && a.is_some_and(|a| !a.is_empty())
                && b.is_some_and(|b| !b.is_empty())
        };
        if h.events.is_empty() || !h.events.iter().all(typed) {
            return Err(format!(
                "hooks.{}.events: give event types such as \"call.ended\" or \"call.*\"",
                h.name
            ));
        }
    }
    Ok(())
}
