//! Authentication and roles (K3): users from the configuration with argon2 password hashes,
//! bearer tokens kept in the store (so sessions survive a restart), and the [`Caller`]
//! extractor every protected handler takes.

use crate::error::AppError;
use crate::AppState;
use actors::config::{Config, Role, UserConfig};
use actors::store::SessionRow;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A user as the web layer keeps it.
#[derive(Clone, Debug)]
pub struct User {
    /// Login name.
    pub username: String,
    /// argon2 PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// The agent this user works as.
    pub agent: Option<String>,
}

/// Users by name, the gate their password checks go through, and a cache of sessions already
/// read from the store (by their token's hash).
#[derive(Clone)]
pub struct Users {
    by_name: Arc<HashMap<String, User>>,
    tokens: Arc<RwLock<HashMap<String, SessionRow>>>,
    sessions: engine::login::SessionPolicy,
    /// When expired sessions were last removed from the store (ms).
    purged_at: Arc<std::sync::atomic::AtomicI64>,
    /// Password checks, bounded and throttled.
    pub gate: Arc<crate::login::LoginGate>,
}

impl Users {
    /// Prepares the configured users, hashing plain passwords once.
    pub fn from_config(config: &Config) -> Result<Users, String> {
        let mut by_name = HashMap::new();
        for u in &config.users {
            by_name.insert(u.username.clone(), prepare(u)?);
        }
        let gate = crate::login::LoginGate::new(&config.security)
            .map_err(|e| format!("the login checks did not start: {e}"))?;
        Ok(Users {
            by_name: Arc::new(by_name),
            tokens: Arc::default(),
            sessions: config.security.sessions(),
            purged_at: Arc::default(),
            gate: Arc::new(gate),
        })
    }

    /// A user by login name.
    pub fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(username)
    }

    pub(crate) fn remember(&self, row: &SessionRow) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(row.token.clone(), row.clone());
    }

    fn cached(&self, hash: &str) -> Option<SessionRow> {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    /// Drops cached sessions created before `created_before` or last used before
    /// `seen_before` (expired: the store purges them too).
    pub(crate) fn forget_expired(&self, created_before: i64, seen_before: i64) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, s| s.created_at >= created_before && s.last_seen_at >= seen_before);
    }

    /// How many sessions the cache holds.
    pub fn cached_sessions(&self) -> usize {
        self.tokens.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn forget(&self, hash: Option<&str>, username: Option<&str>) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|t, s| Some(t.as_str()) != hash && Some(s.username.as_str()) != username);
    }
}

fn prepare(u: &UserConfig) -> Result<User, String> {
    let password_hash = match (&u.password_hash, &u.password) {
        (Some(h), _) => {
            PasswordHash::new(h).map_err(|e| {
                format!(
                    "user {}: password_hash is not a PHC string: {e}",
                    u.username
                )
            })?;
            h.clone()
        }
        (None, Some(p)) => Argon2::default()
            .hash_password(p.as_bytes(), &SaltString::generate(&mut OsRng))
            .map_err(|e| format!("user {}: {e}", u.username))?
            .to_string(),
        (None, None) => return Err(format!("user {} has no password", u.username)),
    };
    Ok(User {
        username: u.username.clone(),
        password_hash,
        role: u.role,
        agent: u.agent.clone(),
    })
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token: 32 bytes from the OS, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the store keeps of a token: its SHA-256, hex. A stolen database holds no usable token.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Use of a session is written to the store at most this often.
const SEEN_EVERY_MS: i64 = 60_000;

/// Creates and stores a session for a user; returns its token (the store keeps its hash).
pub async fn open_session(state: &AppState, user: &User) -> Result<String, AppError> {
    let token = new_token();
    let now = state.yard.now();
    let row = SessionRow {
        token: token_hash(&token),
        username: user.username.clone(),
        created_at: now.0,
        last_seen_at: now.0,
    };
    let store = state.yard.store();
    store
        .create_session(&row)
        .await
        .map_err(actors::ActorError::from)?;
    state.users.remember(&row);
    // Expired sessions are removed from the store now and then (at a login, at most hourly).
    let last = state
        .users
        .purged_at
        .load(std::sync::atomic::Ordering::Relaxed);
    if now.0 - last >= 3_600_000
        && state
            .users
            .purged_at
            .compare_exchange(
                last,
                now.0,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            )
            .is_ok()
    {
        let (created, seen) = state.users.sessions.valid_since(now);
        // The cache first: a session it holds never outlives the session.
        state.users.forget_expired(created.0, seen.0);
        if let Err(e) = store.purge_sessions(created.0, seen.0).await {
            tracing::warn!(error = %e, "expired sessions were not removed");
        }
    }
    Ok(token)
}

/// Ends sessions: one (by its token's hash) or every session of `username`. Their event
/// streams close within [`STREAM_RECHECK`].
pub async fn end_sessions(
    state: &AppState,
    hash: Option<&str>,
    username: Option<&str>,
) -> Result<(), AppError> {
    state.users.forget(hash, username);
    state
        .yard
        .store()
        .end_sessions(hash, username)
        .await
        .map_err(actors::ActorError::from)?;
    Ok(())
}

/// How often an open event stream checks that its session still holds (and counts as use).
pub const STREAM_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The agent this user works as.
    pub agent: Option<String>,
    /// The session's token hash.
    pub session: String,
}

impl Caller {
    /// Supervisors and admins see and act on everyone.
    pub fn is_supervisor(&self) -> bool {
        matches!(self.role, Role::Supervisor | Role::Admin)
    }

    /// Requires one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                format!("role {:?} may not do this", self.role).to_lowercase(),
            ))
        }
    }

    /// The caller's own agent, for acting on calls as that agent.
    pub fn own_agent(&self) -> Result<&str, AppError> {
        self.agent
            .as_deref()
            .ok_or_else(|| AppError::forbidden(format!("user {} is not an agent", self.username)))
    }

    /// Agents act only on themselves; supervisors and admins on anyone.
    pub fn may_act_on_agent(&self, agent: &str) -> Result<(), AppError> {
        if self.is_supervisor() || self.agent.as_deref() == Some(agent) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "user {} may act only on its own agent",
                self.username
            )))
        }
    }
}

/// Resolves a token to its caller: a session that exists, has not expired (idle or too old:
/// 401 `session_expired`) and whose user is still configured. Its use is recorded.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let hash = token_hash(token);
    let store = state.yard.store();
    let row = match state.users.cached(&hash) {
        Some(row) => row,
        None => {
            let row = store
                .find_session(&hash)
                .await
                .map_err(actors::ActorError::from)?
                .ok_or_else(AppError::unauthorized)?;
            state.users.remember(&row);
            row
        }
    };
    let now = state.yard.now();
    let (created, seen) = (
        engine::Timestamp(row.created_at),
        engine::Timestamp(row.last_seen_at),
    );
    if let Some(why) = state.users.sessions.expired(created, seen, now) {
        end_sessions(state, Some(&hash), None).await?;
        let why = match why {
            engine::login::Expiry::Idle => "it was not used for too long",
            engine::login::Expiry::Absolute => "it reached its longest lifetime",
        };
        return Err(AppError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "session_expired",
            format!("the session is over ({why}): log in again (POST /api/v1/sessions)"),
        ));
    }
    if now.0 - row.last_seen_at >= SEEN_EVERY_MS {
        state.users.remember(&SessionRow {
            last_seen_at: now.0,
            ..row.clone()
        });
        // At most once a minute per session: a write the request can wait for.
        if let Err(e) = store.session_seen(&hash, now.0).await {
            tracing::warn!(error = %e, "a session's use was not recorded");
        }
    }
    let user = state
        .users
        .get(&row.username)
        .ok_or_else(AppError::unauthorized)?;
    Ok(Caller {
        username: user.username.clone(),
        role: user.role,
        agent: user.agent.clone(),
        session: hash,
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(AppError::unauthorized)?;
        caller_for_token(state, token.trim()).await
    }
}
