//! `[security]`: limits on what one address or account name can start, session lifetimes and
//! the metrics token.

use serde::{Deserialize, Serialize};

/// Limits on logins (K3): password checks are bounded in number, and throttled per address
/// and per account name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Password checks running at once (each is an argon2 hash: about 19 MiB and 60 ms of a
    /// core with the default parameters).
    pub login_checks: usize,
    /// Checks waiting beyond which a login is answered 429 at once.
    pub login_queue: usize,
    /// Login attempts one address may make per minute (the same number at once).
    pub logins_per_minute_per_address: u32,
    /// Failed logins in a row an account name may have before it must wait.
    pub login_free_failures: u32,
    /// The first wait after those, doubled per further failure up to 15 minutes (ms).
    pub login_backoff_ms: u64,
    /// A session unused this long is over (an open event stream counts as use).
    pub session_idle_minutes: u64,
    /// A session is over this long after its login, used or not.
    pub session_max_hours: u64,
    /// Web calls one address may start per minute (the same number at once).
    pub web_calls_per_minute_per_address: u32,
    /// The bearer token `GET /metrics` asks for; without one, only clients on loopback may
    /// scrape. A secret: it stays in the configuration file.
    pub metrics_token: Option<String>,
    /// Reverse proxies (addresses or ranges, `10.0.0.0/8`) whose `X-Forwarded-For` names the
    /// client: per-address limits and the metrics' loopback rule then apply to the client,
    /// not to the proxy. Empty: the connection's peer is the client, whatever it claims.
    pub trusted_proxies: Vec<String>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            login_checks: 1,
            login_queue: 32,
            logins_per_minute_per_address: 60,
            login_free_failures: 5,
            login_backoff_ms: 1_000,
            session_idle_minutes: 60,
            session_max_hours: 12,
            web_calls_per_minute_per_address: 5,
            metrics_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl SecurityConfig {
    /// Checks the numbers.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=64).contains(&self.login_checks) {
            return Err("security.login_checks: give 1 to 64".into());
        }
        if !(1..=10_000).contains(&self.login_queue) {
            return Err("security.login_queue: give 1 to 10000".into());
        }
        if self.web_calls_per_minute_per_address == 0 {
            return Err("security.web_calls_per_minute_per_address: give at least 1".into());
        }
        if self.logins_per_minute_per_address == 0 {
            return Err("security.logins_per_minute_per_address: give at least 1".into());
        }
        if !(1..=3_600_000).contains(&self.login_backoff_ms) {
            return Err("security.login_backoff_ms: give 1 to 3600000".into());
        }
        if !(1..=30 * 24 * 60).contains(&self.session_idle_minutes) {
            return Err("security.session_idle_minutes: give 1 to 43200 (30 days)".into());
        }
        if !(1..=30 * 24).contains(&self.session_max_hours) {
            return Err("security.session_max_hours: give 1 to 720 (30 days)".into());
        }
        for p in &self.trusted_proxies {
            engine::net::Cidr::parse(p).map_err(|e| format!("security.trusted_proxies: {e}"))?;
        }
        Ok(())
    }

    /// The trusted proxies' ranges (checked by [`SecurityConfig::validate`]).
    pub fn trusted_proxies(&self) -> Vec<engine::net::Cidr> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| engine::net::Cidr::parse(p).ok())
            .collect()
    }

    /// The session lifetime rule.
    pub fn sessions(&self) -> engine::login::SessionPolicy {
        engine::login::SessionPolicy {
            idle_ms: self.session_idle_minutes * 60_000,
            max_ms: self.session_max_hours * 3_600_000,
        }
    }
}
