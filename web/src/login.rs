//! Bounded password checks (K3): what a flood of logins can cost.
//!
//! - **A fixed number of checks at once** (`security.login_checks`, default 1) on threads of
//!   their own, each with one argon2 work area allocated once and reused: a flood costs that
//!   memory and those cores, no more, and the async workers (and `/health`) are never starved.
//!   Checks waiting beyond `security.login_queue` are answered 429 `busy` at once.
//! - **Per address**: `security.logins_per_minute_per_address` attempts (a GCRA limiter from
//!   the `governor` crate), then 429 `too_many_logins` with `Retry-After`.
//! - **Per account name**: the back-off rule in [`engine::login`] (5 failures in a row free,
//!   then 1 s, doubling, up to 15 min), answered 429 `login_locked` with `Retry-After`, before
//!   any check runs.
//! - **Unknown names cost the same** as known ones: they are checked against a hash made at
//!   start with the same parameters, so the time taken does not tell which names exist.

use actors::config::SecurityConfig;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use engine::login::{LoginPolicy, LoginThrottle};
use engine::Timestamp;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Why a login was not checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This address made too many attempts; retry after this long.
    Address(Duration),
    /// This account name failed too often in a row; retry after this long.
    Locked(Duration),
    /// Every check is busy and the queue is full.
    Busy,
}

/// The gate's counters (`GET /api/v1/health` does not show them; tests and metrics do).
#[derive(Debug, Default)]
pub struct GateStats {
    /// Password checks run.
    pub checks: AtomicU64,
    /// Logins refused before any check.
    pub refused: AtomicU64,
}

struct Check {
    hash: Arc<str>,
    password: String,
    reply: oneshot::Sender<bool>,
}

/// The login gate. See the module docs.
pub struct LoginGate {
    queue: SyncSender<Check>,
    throttle: Mutex<LoginThrottle>,
    per_address: PerAddress,
    /// A hash no password matches, for unknown names.
    decoy: Arc<str>,
    /// Counters.
    pub stats: Arc<GateStats>,
}

impl LoginGate {
    /// Starts `config.login_checks` checking threads.
    pub fn new(config: &SecurityConfig) -> std::io::Result<LoginGate> {
        let (queue, jobs) = mpsc::sync_channel::<Check>(config.login_queue);
        let jobs = Arc::new(Mutex::new(jobs));
        let stats = Arc::new(GateStats::default());
        for i in 0..config.login_checks.max(1) {
            let (jobs, stats) = (jobs.clone(), stats.clone());
            std::thread::Builder::new()
                .name(format!("login-check-{i}"))
                .spawn(move || check_loop(&jobs, &stats))?;
        }
        let mut random = [0u8; 16];
        rand::RngCore::fill_bytes(&mut argon2::password_hash::rand_core::OsRng, &mut random);
        let decoy = Argon2::default()
            .hash_password(
                &random,
                &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .to_string();
        Ok(LoginGate {
            queue,
            throttle: Mutex::new(LoginThrottle::new(LoginPolicy {
                free_failures: config.login_free_failures,
                backoff_ms: config.login_backoff_ms,
                ..LoginPolicy::default()
            })),
            per_address: PerAddress::per_minute(config.logins_per_minute_per_address),
            decoy: decoy.into(),
            stats,
        })
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, LoginThrottle> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `password` for `name` (whose hash is `hash`, `None` for an unknown name) from
    /// `address` at `now`: whether it matches, or why it was not checked.
    pub async fn check(
        &self,
        name: &str,
        hash: Option<&str>,
        password: String,
        address: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<bool, Refusal> {
        let refuse = |r: Refusal| {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            Err(r)
        };
        if let Some(wait) = address.and_then(|ip| self.per_address.admit(ip).err()) {
            return refuse(Refusal::Address(wait.max(Duration::from_secs(1))));
        }
        if let Some(wait) = self.throttle().wait(name, now) {
            return refuse(Refusal::Locked(wait));
        }
        let (reply, answer) = oneshot::channel();
        let check = Check {
            hash: hash.map_or_else(|| self.decoy.clone(), Arc::from),
            password,
            reply,
        };
        match self.queue.try_send(check) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                return refuse(Refusal::Busy)
            }
        }
        let matched = answer.await.unwrap_or(false) && hash.is_some();
        let mut throttle = self.throttle();
        if matched {
            throttle.succeeded(name);
        } else {
            throttle.failed(name, now);
        }
        Ok(matched)
    }
}

/// One checking thread: takes checks until the gate is gone, with one work area for all.
fn check_loop(jobs: &Mutex<Receiver<Check>>, stats: &GateStats) {
    let mut blocks: Vec<Block> = Vec::new();
    loop {
        let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(check) = next else { return };
        let ok = verify(&check.hash, check.password.as_bytes(), &mut blocks);
        stats.checks.fetch_add(1, Ordering::Relaxed);
        let _ = check.reply.send(ok);
    }
}

/// Whether `password` matches the PHC string `hash`, computed in `blocks` (grown to the hash's
/// memory cost once and kept).
fn verify(hash: &str, password: &[u8], blocks: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    if argon
        .hash_password_into_with_memory(
            password,
            salt,
            &mut out,
            &mut blocks[..params.block_count()],
        )
        .is_err()
    {
        return false;
    }
    // Output's equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// So many attempts a minute per client address (the `governor` crate's GCRA, keyed by
/// address; the same number may come at once).
pub struct PerAddress(DefaultKeyedRateLimiter<IpAddr>);

impl PerAddress {
    /// `n` a minute (at least 1).
    pub fn per_minute(n: u32) -> PerAddress {
        let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        PerAddress(RateLimiter::keyed(Quota::per_minute(n)))
    }

    /// Counts an attempt from `ip`; how long to wait when it has made too many.
    pub fn admit(&self, ip: IpAddr) -> Result<(), Duration> {
        // Addresses quiet long enough to be full again are forgotten: the map stays bounded.
        if self.0.len() > 10_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&ip).map_err(|not_until| {
            not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
        })
    }
}

/// The client's address, where the server was started with connection info (as `serve`
/// and the `switchyard` binary do): the connection's peer, or, when that peer is one of
/// `[security] trusted_proxies`, the client its `X-Forwarded-For` names
/// ([`engine::net::client_address`]).
pub struct ClientAddr(pub Option<IpAddr>);

/// The client's address of a request (see [`ClientAddr`]).
pub fn client_ip(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
    state: &crate::AppState,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip();
    let trusted = state.yard.config().security.trusted_proxies();
    if trusted.is_empty() {
        return Some(peer);
    }
    // Several X-Forwarded-For headers read as one list, in order.
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let hops = hops.join(",");
    Some(engine::net::client_address(
        peer,
        (!hops.is_empty()).then_some(hops.as_str()),
        &trusted,
    ))
}

impl axum::extract::FromRequestParts<crate::AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_ip(
            &parts.extensions,
            &parts.headers,
            state,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(password: &str) -> String {
        Argon2::default()
            .hash_password(
                password.as_bytes(),
                &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
            )
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_reused_work_area_verifies_like_argon2_does() {
        let h = hash("demo");
        let mut blocks = Vec::new();
        assert!(verify(&h, b"demo", &mut blocks));
        assert!(!verify(&h, b"Demo", &mut blocks));
        assert!(!verify("not a hash", b"demo", &mut blocks));
        // Other parameters in the same work area.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 2, 1, None).unwrap(),
        )
        .hash_password(
            b"pw",
            &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
        )
        .unwrap()
        .to_string();
        assert!(verify(&small, b"pw", &mut blocks));
        assert!(verify(&h, b"demo", &mut blocks));
    }

    #[tokio::test]
    async fn unknown_names_are_checked_too_and_failures_lock_the_name() {
        let gate = LoginGate::new(&SecurityConfig::default()).unwrap();
        let h = hash("demo");
        let now = Timestamp(0);
        assert_eq!(
            gate.check("alice", Some(&h), "demo".into(), None, now)
                .await,
            Ok(true)
        );
        assert_eq!(
            gate.check("ghost", None, "demo".into(), None, now).await,
            Ok(false)
        );
        assert_eq!(
            gate.stats.checks.load(Ordering::Relaxed),
            2,
            "the unknown name was checked"
        );
        for _ in 0..5 {
            assert_eq!(
                gate.check("alice", Some(&h), "x".into(), None, now).await,
                Ok(false)
            );
        }
        assert_eq!(
            gate.check("alice", Some(&h), "x".into(), None, now).await,
            Ok(false),
            "the sixth failure is checked, then the name waits"
        );
        assert_eq!(
            gate.check("alice", Some(&h), "demo".into(), None, now)
                .await,
            Err(Refusal::Locked(Duration::from_secs(1)))
        );
        assert_eq!(gate.stats.checks.load(Ordering::Relaxed), 8);
        let later = Timestamp(1_000);
        assert_eq!(
            gate.check("alice", Some(&h), "demo".into(), None, later)
                .await,
            Ok(true)
        );
    }

    #[tokio::test]
    async fn one_address_is_limited_per_minute() {
        let gate = LoginGate::new(&SecurityConfig {
            logins_per_minute_per_address: 3,
            ..SecurityConfig::default()
        })
        .unwrap();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        for i in 0..3 {
            let name = format!("n{i}");
            assert_eq!(
                gate.check(&name, None, "x".into(), Some(ip), Timestamp(0))
                    .await,
                Ok(false)
            );
        }
        let refused = gate
            .check("n9", None, "x".into(), Some(ip), Timestamp(0))
            .await;
        assert!(
            matches!(refused, Err(Refusal::Address(w)) if w >= Duration::from_secs(1) && w <= Duration::from_secs(20)),
            "{refused:?}"
        );
        assert_eq!(
            gate.check("n9", None, "x".into(), Some(other), Timestamp(0))
                .await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn a_full_queue_is_answered_busy_at_once() {
        let gate = Arc::new(
            LoginGate::new(&SecurityConfig {
                login_checks: 1,
                login_queue: 2,
                ..SecurityConfig::default()
            })
            .unwrap(),
        );
        let h: Arc<str> = hash("demo").into();
        let tries: Vec<_> = (0..12)
            .map(|i| {
                let (gate, h) = (gate.clone(), h.clone());
                tokio::spawn(async move {
                    gate.check(&format!("u{i}"), Some(&h), "x".into(), None, Timestamp(0))
                        .await
                })
            })
            .collect();
        let mut busy = 0;
        for t in tries {
            if t.await.unwrap() == Err(Refusal::Busy) {
                busy += 1;
            }
        }
        // One running and two waiting at most when the burst came: most are refused.
        assert!(busy >= 8, "{busy} of 12 refused");
        assert_eq!(
            gate.stats.checks.load(Ordering::Relaxed) as usize,
            12 - busy
        );
    }
}
