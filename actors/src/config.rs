//! The configuration (K4): queues, agents with their skills and queues, custom statuses and
//! users, read from a TOML file; with no file, the embedded demo setup.
//!
//! [`Config::validate`] checks every cross-reference (an agent's queue exists, an overflow
//! target exists, a user's agent exists…) so that a bad file is refused at startup with a
//! message naming the problem, never half-loaded.

use engine::queue::{Escalation, QueueSettings};
use engine::routing::{Skills, Strategy};
use engine::{AgentId, QueueId};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

mod hooks;
mod index;
mod security;
mod sip;
pub use hooks::{event_matches, HookConfig};
pub use security::SecurityConfig;
pub use sip::{OutboundTrunk, RouteConfig, SipConfig, SipTransport, TrunkConfig};

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Admin-defined agent statuses (Break, Training, PTO…), by name.
    #[serde(default)]
    pub custom_statuses: Vec<String>,
    /// How custom statuses are shown, by status (`pto = "PTO"`); without one, the status with
    /// its first letter capitalised and `_` as spaces.
    #[serde(default)]
    pub status_labels: std::collections::BTreeMap<String, String>,
    /// The queues.
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    /// The agents.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Who can log in.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Groups of agents a call can be transferred to (D1).
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// Outbound compliance settings (E2).
    #[serde(default)]
    pub compliance: ComplianceConfig,
    /// Where media (WebRTC) binds and which STUN/TURN servers it uses (H1).
    #[serde(default)]
    pub media: MediaConfig,
    /// CTI: the tags agents put on calls (G1).
    #[serde(default)]
    pub cti: CtiConfig,
    /// The whisper model and the transcription workers (I1, I4); without a model, live
    /// transcripts are off.
    #[serde(default)]
    pub transcription: transcription::service::TranscriptionConfig,
    /// Limits on what one address or account name can start (K3).
    #[serde(default)]
    pub security: SecurityConfig,
    /// When an agent whose panel has gone is Disconnected.
    #[serde(default)]
    pub presence: PresenceConfig,
    /// SIP trunks and the numbers they bring calls to (H4); without `listen`, no SIP.
    #[serde(default)]
    pub sip: SipConfig,
    /// Event hooks: chosen events posted to URLs through the durable outbox.
    #[serde(default)]
    pub hooks: Vec<HookConfig>,
    /// Agents and queues by id, for lookups that do not walk the lists (made at the first
    /// lookup; checked against the lists, which stay the truth).
    #[serde(skip)]
    index: index::Index,
}

/// Presence (`[presence]`): an agent whose panel's event stream closed and did not come back
/// within `grace_secs` is `disconnected`: offered nothing (a ringing offer moves on at once)
/// until a panel is back. Only agents that have used a panel are watched, so an integration
/// that drives an agent over REST alone is never disconnected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    /// How long a panel may be gone (a reload, a network blip, a restart) before the agent is
    /// disconnected.
    pub grace_secs: u64,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig { grace_secs: 15 }
    }
}

impl PresenceConfig {
    /// The grace period.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_secs)
    }
}

/// Media settings (H1): the local UDP addresses legs bind, and the STUN/TURN servers both the
/// server's legs and the browser pages use (`GET /api/v1/media-config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Local addresses for legs' UDP sockets; port 0 picks a free port per leg. Default
    /// `["127.0.0.1:0"]` (host candidates on loopback); a deployment names its public interface.
    #[serde(default = "default_udp_addrs")]
    pub udp_addrs: Vec<String>,
    /// STUN and TURN servers.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// A customer whose audio leg (a web call) has sent nothing for this long, from its
    /// start or its last packet, has hung up (default 20 s).
    #[serde(default = "default_customer_silence_secs")]
    pub customer_silence_secs: u64,
}

fn default_customer_silence_secs() -> u64 {
    20
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            udp_addrs: default_udp_addrs(),
            ice_servers: Vec::new(),
            customer_silence_secs: default_customer_silence_secs(),
        }
    }
}

fn default_web_calls_max_waiting() -> usize {
    20
}

fn default_udp_addrs() -> Vec<String> {
    vec!["127.0.0.1:0".to_owned()]
}

/// A STUN or TURN server, as WebRTC's `RTCIceServer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:…`.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// CTI settings (G1–G4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtiConfig {
    /// The tags agents may put on a call (several per call).
    #[serde(default)]
    pub tags: Vec<String>,
    /// The CRMs each answered call's log is delivered to, through the durable outbox (G3).
    #[serde(default)]
    pub connectors: Vec<cti_adapter::connector::ConnectorConfig>,
    /// How failed deliveries are retried.
    #[serde(default)]
    pub retry: cti_adapter::backoff::Retry,
    /// Origins of CRM pages that may host the phone panel and talk to its Open CTI shim
    /// (`https://crm.example.org`); the server's own origin always may.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Days a delivered (or superseded) outbox row is kept before it is pruned (default 30;
    /// 1 to 3,650). Pending and dead rows are never pruned.
    #[serde(default = "default_outbox_retention_days")]
    pub outbox_retention_days: u32,
}

fn default_outbox_retention_days() -> u32 {
    30
}

impl Default for CtiConfig {
    fn default() -> Self {
        CtiConfig {
            tags: Vec::new(),
            connectors: Vec::new(),
            retry: Default::default(),
            allowed_origins: Vec::new(),
            outbox_retention_days: default_outbox_retention_days(),
        }
    }
}

impl CtiConfig {
    /// Checks the connectors (unique names, URLs, secrets), the retry policy and the outbox
    /// retention.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3_650).contains(&self.outbox_retention_days) {
            return Err(format!(
                "cti.outbox_retention_days: {} (give 1 to 3650)",
                self.outbox_retention_days
            ));
        }
        let mut names = HashSet::new();
        for c in &self.connectors {
            c.validate()?;
            if !names.insert(c.name()) {
                return Err(format!(
                    "cti.connectors: two connectors are named {:?}",
                    c.name()
                ));
            }
        }
        for o in &self.allowed_origins {
            let ok = reqwest::Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && !o.ends_with('/')
            });
            if !ok {
                return Err(format!(
                    "cti.allowed_origins: {o:?} is not an origin (scheme://host[:port], no path)"
                ));
            }
        }
        self.retry.validate()
    }
}

/// A group of agents with its dial strategy (D1, B2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Its id (`billing`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// How a transfer to the group rings its members.
    #[serde(default)]
    pub strategy: DialStrategy,
    /// The members, in sequential order.
    pub members: Vec<String>,
}

/// How a group transfer rings (D1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialStrategy {
    /// Every available member at once; the first to answer takes the call.
    #[default]
    Simultaneous,
    /// One random available member at a time.
    Random,
    /// The available members one after another, in member order.
    Sequential,
}

/// A queue (B1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Its id, used in the API (`support`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Display colour (the offer banner shows it).
    #[serde(default = "default_colour")]
    pub colour: String,
    /// Routing strategy: a built-in one (`longest-idle`, `round-robin`, `ring-all`, `random`,
    /// `sequential`, `fewest-calls`, `least-talk-time`, `skills-based`) or the name of one
    /// registered by an embedding program ([`crate::SwitchyardBuilder::strategy`]).
    #[serde(default = "default_strategy")]
    pub strategy: engine::routing::StrategyName,
    /// The built-in strategy that decides when a registered one panics (default
    /// `longest-idle`).
    #[serde(default = "default_fallback_strategy")]
    pub fallback_strategy: Strategy,
    /// Offer timeout in seconds (default 18).
    #[serde(default = "default_offer_timeout")]
    pub offer_timeout_secs: u64,
    /// No-answer delay in seconds (default 7).
    #[serde(default = "default_no_answer_delay")]
    pub no_answer_delay_secs: u64,
    /// Wrap-up limit in seconds; absent: wrap-up ends by hand.
    #[serde(default)]
    pub wrap_up_limit_secs: Option<u64>,
    /// Longest wait before overflow, in seconds.
    #[serde(default)]
    pub max_wait_secs: Option<u64>,
    /// The queue a call overflows to after `max_wait_secs`.
    #[serde(default)]
    pub overflow: Option<String>,
    /// Service-level threshold in seconds (default 20).
    #[serde(default = "default_service_level")]
    pub service_level_secs: u64,
    /// Skill escalation steps.
    #[serde(default)]
    pub escalation: Vec<EscalationConfig>,
    /// Record every call from the moment it connects (C2).
    #[serde(default)]
    pub record: bool,
    /// Agents may dial out on this queue (E1).
    #[serde(default)]
    pub outbound: bool,
    /// The number customers see when an agent dials out on this queue (the From of the
    /// trunk's INVITE; `anonymous` without one).
    #[serde(default)]
    pub caller_id: Option<String>,
    /// The SIP trunk (`[[sip.trunks]]` id, one with `outbound`) this queue's calls are placed
    /// through; the first trunk with `outbound` without it.
    #[serde(default)]
    pub trunk: Option<String>,
    /// How long a customer we dial through a SIP trunk may ring before the call ends as `not
    /// answered` (default 30).
    #[serde(default = "default_dial_timeout")]
    pub dial_timeout_secs: u64,
    /// Callbacks open at once on this queue (E4); more go to the missed-call flow.
    #[serde(default = "default_callback_max")]
    pub callback_max_concurrent: usize,
    /// Customers may call this queue from the web call page (`/call`, H1) without logging in.
    #[serde(default)]
    pub web_calls: bool,
    /// A web call is refused (503 `queue_full`) while this many calls already wait in the
    /// queue, so anonymous callers cannot fill it.
    #[serde(default = "default_web_calls_max_waiting")]
    pub web_calls_max_waiting: usize,
    /// Hold music for this queue's held and waiting customers: a 16-bit mono WAV (8, 16 or
    /// 48 kHz), read at start; without it, a generated tone sequence.
    #[serde(default)]
    pub hold_music: Option<std::path::PathBuf>,
    /// The dispositions agents choose from on this queue's calls (G1).
    #[serde(default)]
    pub dispositions: Vec<String>,
    /// Live transcript of this queue's calls (I3): `off`, `agent`, `customer` or `both`.
    #[serde(default)]
    pub transcript: transcription::Mode,
    /// Keep the final transcript with the call's record (`GET /calls/{id}/transcript`);
    /// otherwise it lives only while the call does.
    #[serde(default)]
    pub store_transcript: bool,
    /// Keyword alerts (J4): phrases watched for in this queue's final transcript segments
    /// (`[[queues.alerts]]` with `phrase` and `severity`); needs `transcript` on.
    #[serde(default)]
    pub alerts: Vec<engine::alerts::AlertRule>,
}

fn default_dial_timeout() -> u64 {
    30
}

fn default_callback_max() -> usize {
    2
}

/// Outbound compliance settings from the configuration (the lists live in the database).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceConfig {
    /// Destination prefixes that need the PIN (premium numbers…).
    #[serde(default)]
    pub restricted: Vec<String>,
    /// The PIN for restricted destinations; without it they cannot be called.
    #[serde(default)]
    pub pin: Option<String>,
}

/// One escalation step (B3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Wait in seconds after which it applies.
    pub after_secs: u64,
    /// Lower every required level by this much.
    #[serde(default)]
    pub lower_levels_by: u8,
    /// Drop every requirement.
    #[serde(default)]
    pub drop_skills: bool,
}

/// An agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Its id (`alice`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The queues it answers, in the order it should be listed.
    #[serde(default)]
    pub queues: Vec<String>,
    /// Skill → level.
    #[serde(default)]
    pub skills: Skills,
}

/// A role (K3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Acts on itself and its own calls.
    Agent,
    /// Watches everything, locks agents' statuses.
    Supervisor,
    /// Everything, including call ingress.
    Admin,
}

/// Someone who can log in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// A plain password (fine for demos; prefer `password_hash`).
    #[serde(default)]
    pub password: Option<String>,
    /// An argon2 PHC hash (`$argon2id$…`).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Role.
    pub role: Role,
    /// The agent this user works as (agents: required; others: optional).
    #[serde(default)]
    pub agent: Option<String>,
}

/// A configuration that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not valid TOML, or a field of the wrong type or name.
    #[error("configuration is not valid TOML for Switchyard: {0}")]
    Parse(#[from] toml::de::Error),
    /// A rule broken.
    #[error("configuration: {0}")]
    Invalid(String),
}

fn default_colour() -> String {
    "#2f80ed".into()
}
fn default_strategy() -> engine::routing::StrategyName {
    engine::routing::StrategyName::Builtin(Strategy::LongestIdle)
}
fn default_fallback_strategy() -> Strategy {
    Strategy::LongestIdle
}
fn default_offer_timeout() -> u64 {
    18
}
fn default_no_answer_delay() -> u64 {
    7
}
fn default_service_level() -> u64 {
    20
}

/// The embedded demo setup: queues `support` and `sales`; agents alice, bob (support) and
/// carol (support, sales); supervisor sam; admin root; every password `demo`.
pub const DEMO_TOML: &str = include_str!("demo.toml");

impl MediaConfig {
    /// Checks the addresses and the ICE server URLs (a TURN server needs its credentials).
    pub fn validate(&self) -> Result<(), String> {
        if self.udp_addrs.is_empty() {
            return Err("media.udp_addrs: give at least one address".into());
        }
        if !(1..=3_600).contains(&self.customer_silence_secs) {
            return Err("media.customer_silence_secs: give 1 to 3600".into());
        }
        for a in &self.udp_addrs {
            if a.parse::<std::net::SocketAddr>().is_err() {
                return Err(format!("media.udp_addrs: {a:?} is not an ip:port address"));
            }
        }
        for server in &self.ice_servers {
            if server.urls.is_empty() {
                return Err("media.ice_servers: a server has no urls".into());
            }
            for url in &server.urls {
                let scheme = url.split(':').next().unwrap_or_default();
                match scheme {
                    "stun" | "stuns" => {}
                    "turn" | "turns" => {
                        if server.username.as_deref().unwrap_or_default().is_empty()
                            || server.credential.as_deref().unwrap_or_default().is_empty()
                        {
                            return Err(format!(
                                "media.ice_servers: {url} needs username and credential"
                            ));
                        }
                    }
                    _ => {
                        return Err(format!(
                            "media.ice_servers: {url:?} is not a stun:, stuns:, turn: or turns: URL"
                        ))
                    }
                }
                if url.len() <= scheme.len() + 1 {
                    return Err(format!("media.ice_servers: {url:?} names no host"));
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as it may be stored (the database's `config` table): plain passwords
    /// and connector tokens and secrets replaced by `"<not stored>"`; password hashes kept.
    pub fn without_secrets(&self) -> Config {
        let mut c = self.clone();
        for u in &mut c.users {
            if u.password.is_some() {
                u.password = Some("<not stored>".into());
            }
        }
        for k in &mut c.cti.connectors {
            *k = k.without_secret();
        }
        for h in &mut c.hooks {
            *h = h.without_secret();
        }
        if c.security.metrics_token.is_some() {
            c.security.metrics_token = Some("<not stored>".into());
        }
        c
    }

    /// The embedded demo setup.
    pub fn demo() -> Config {
        Config::from_toml(DEMO_TOML).expect("the embedded demo configuration is valid: tested")
    }

    /// Checks every rule and cross-reference.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let queues: HashSet<&str> = self.queues.iter().map(|q| q.id.as_str()).collect();
        if queues.len() != self.queues.len() {
            return bad("two queues share an id".into());
        }
        for q in &self.queues {
            if q.id.is_empty() {
                return bad("a queue has an empty id".into());
            }
            if let Some(o) = &q.overflow {
                if !queues.contains(o.as_str()) || o == &q.id {
                    return bad(format!(
                        "queue {}: overflow target {o} is not another configured queue",
                        q.id
                    ));
                }
                if q.max_wait_secs.is_none() {
                    return bad(format!("queue {}: overflow needs max_wait_secs", q.id));
                }
            }
            if q.offer_timeout_secs == 0 {
                return bad(format!(
                    "queue {}: offer_timeout_secs must be at least 1",
                    q.id
                ));
            }
            if !(1..=600).contains(&q.dial_timeout_secs) {
                return bad(format!("queue {}: dial_timeout_secs: give 1 to 600", q.id));
            }
            if let Err(e) = engine::alerts::Alerts::new(&q.alerts) {
                return bad(format!("queue {}: alerts: {e}", q.id));
            }
            if !q.alerts.is_empty() && q.transcript == transcription::Mode::Off {
                return bad(format!(
                    "queue {}: alerts need a live transcript (transcript = \"agent\", \"customer\" or \"both\")",
                    q.id
                ));
            }
        }
        let system = [
            "offline",
            "ready",
            "offered",
            "dialing",
            "in_service",
            "after_service",
            "busy",
            "dnd",
        ];
        for s in &self.custom_statuses {
            if s.is_empty() || system.contains(&s.as_str()) {
                return bad(format!("custom status {s:?} is empty or a system status"));
            }
        }
        for (status, label) in &self.status_labels {
            if !self.custom_statuses.contains(status) {
                return bad(format!(
                    "status_labels: {status:?} is not one of custom_statuses"
                ));
            }
            if label.trim().is_empty() || label.chars().count() > 32 {
                return bad(format!(
                    "status_labels.{status}: give a label of 1 to 32 characters"
                ));
            }
        }
        let agents: HashSet<&str> = self.agents.iter().map(|a| a.id.as_str()).collect();
        if agents.len() != self.agents.len() {
            return bad("two agents share an id".into());
        }
        for a in &self.agents {
            for q in &a.queues {
                if !queues.contains(q.as_str()) {
                    return bad(format!("agent {}: unknown queue {q}", a.id));
                }
            }
        }
        let mut groups = HashSet::new();
        for g in &self.groups {
            if !groups.insert(g.id.as_str()) {
                return bad(format!("group {} appears twice", g.id));
            }
            if let Some(m) = g.members.iter().find(|m| !agents.contains(m.as_str())) {
                return bad(format!("group {}: unknown agent {m}", g.id));
            }
        }
        self.media.validate().map_err(ConfigError::Invalid)?;
        self.transcription
            .validate()
            .map_err(ConfigError::Invalid)?;
        self.cti.validate().map_err(ConfigError::Invalid)?;
        self.security.validate().map_err(ConfigError::Invalid)?;
        self.sip.validate(&queues).map_err(ConfigError::Invalid)?;
        hooks::validate(&self.hooks).map_err(ConfigError::Invalid)?;
        let outbound = self.sip.outbound_trunks();
        for q in &self.queues {
            if let Some(t) = &q.trunk {
                if !outbound.iter().any(|(id, _)| id == t) {
                    return bad(format!(
                        "queue {}: trunk {t:?} is not a configured sip.trunks id with outbound",
                        q.id
                    ));
                }
            }
        }
        if !(1..=3_600).contains(&self.presence.grace_secs) {
            return Err(ConfigError::Invalid(
                "presence.grace_secs: give 1 to 3600".into(),
            ));
        }
        let mut users = HashSet::new();
        for u in &self.users {
            if !users.insert(u.username.as_str()) {
                return bad(format!("user {} appears twice", u.username));
            }
            if u.password.is_none() == u.password_hash.is_none() {
                return bad(format!(
                    "user {}: give exactly one of password, password_hash",
                    u.username
                ));
            }
            match (&u.agent, u.role) {
                (Some(a), _) if !agents.contains(a.as_str()) => {
                    return bad(format!("user {}: unknown agent {a}", u.username));
                }
                (None, Role::Agent) => {
                    return bad(format!("user {}: an agent user needs `agent`", u.username))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether every user of this configuration is the demo's (passwords known to everyone).
    pub fn is_demo(&self) -> bool {
        self == &Config::demo()
    }

    /// What a call of `queue` may carry as data: the queue's dispositions and the tags.
    pub fn catalog(&self, queue: &str) -> engine::call::Catalog {
        engine::call::Catalog {
            dispositions: self
                .queues
                .iter()
                .find(|q| q.id == queue)
                .map(|q| q.dispositions.clone())
                .unwrap_or_default(),
            tags: self.cti.tags.clone(),
        }
    }

    /// A queue's engine settings.
    pub fn queue_settings(q: &QueueConfig) -> QueueSettings {
        QueueSettings {
            offer_timeout: Duration::from_secs(q.offer_timeout_secs),
            no_answer_delay: Duration::from_secs(q.no_answer_delay_secs),
            wrap_up_limit: q.wrap_up_limit_secs.map(Duration::from_secs),
            max_wait: q.max_wait_secs.map(Duration::from_secs),
            overflow: q.overflow.as_deref().map(QueueId::from),
            service_level: Duration::from_secs(q.service_level_secs),
            escalation: q
                .escalation
                .iter()
                .map(|e| Escalation {
                    after: Duration::from_secs(e.after_secs),
                    lower_levels_by: e.lower_levels_by,
                    drop_skills: e.drop_skills,
                })
                .collect(),
            record: q.record,
        }
    }

    /// A queue's members in configuration order, with their skills.
    pub fn members(&self, queue: &str) -> Vec<(AgentId, Skills)> {
        self.agents
            .iter()
            .filter(|a| a.queues.iter().any(|q| q == queue))
            .map(|a| (AgentId::from(a.id.as_str()), a.skills.clone()))
            .collect()
    }

    /// A queue by id.
    pub fn queue(&self, id: &str) -> Option<&QueueConfig> {
        index::find(&self.queues, &self.index.queues, |q| q.id.as_str(), id)
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The outbound queues an agent may dial out on, in configuration order.
    pub fn outbound_queues(&self, agent: &str) -> Vec<&QueueConfig> {
        let Some(a) = self.agent(agent) else {
            return Vec::new();
        };
        self.queues
            .iter()
            .filter(|q| q.outbound && a.queues.contains(&q.id))
            .collect()
    }

    /// An agent by id.
    pub fn agent(&self, id: &str) -> Option<&AgentConfig> {
        index::find(&self.agents, &self.index.agents, |a| a.id.as_str(), id)
    }
}

#[cfg(test)]
mod tests;
