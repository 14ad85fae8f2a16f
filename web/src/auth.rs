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

/// Users by name, the gate their password checks go through, and a cache of tokens already
/// checked against the store.
#[derive(Clone)]
pub struct Users {
    by_name: Arc<HashMap<String, User>>,
    tokens: Arc<RwLock<HashMap<String, String>>>,
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
            gate: Arc::new(gate),
        })
    }

    /// A user by login name.
    pub fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(username)
    }

    fn remember(&self, token: &str, username: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned(), username.to_owned());
    }

    fn cached(&self, token: &str) -> Option<String> {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
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

/// A new random token: 32 bytes from the OS, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates and stores a session token for a user.
pub async fn open_session(state: &AppState, user: &User) -> Result<String, AppError> {
    let token = new_token();
    let row = SessionRow {
        token: token.clone(),
        username: user.username.clone(),
        created_at: state.yard.now().0,
    };
    state
        .yard
        .store()
        .create_session(&row)
        .await
        .map_err(actors::ActorError::from)?;
    state.users.remember(&token, &user.username);
    Ok(token)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The agent this user works as.
    pub agent: Option<String>,
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

/// Resolves a token to its caller.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let username = match state.users.cached(token) {
        Some(u) => u,
        None => {
            let row = state
                .yard
                .store()
                .find_session(token)
                .await
                .map_err(actors::ActorError::from)?
                .ok_or_else(AppError::unauthorized)?;
            state.users.remember(token, &row.username);
            row.username
        }
    };
    let user = state
        .users
        .get(&username)
        .ok_or_else(AppError::unauthorized)?;
    Ok(Caller {
        username: user.username.clone(),
        role: user.role,
        agent: user.agent.clone(),
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
