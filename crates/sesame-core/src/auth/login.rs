//! Login state in the session (`django.contrib.auth.login`, `logout`, `get_user`,
//! `update_session_auth_hash`), independent of any web framework.

use super::backend::{AuthError, ModelBackend};
use super::{Id, User};
use crate::crypto::constant_time_compare;
use crate::session::Session;
use chrono::Utc;
use serde_json::Value;

/// `SESSION_KEY`: the user's primary key, always a string.
pub const SESSION_KEY: &str = "_auth_user_id";
/// `BACKEND_SESSION_KEY`: the dotted path of the backend that authenticated the user.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// `HASH_SESSION_KEY`: the session auth hash, 64 hex digits.
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";
/// Django's default backend path; Django accepts only sessions naming a backend it has.
pub const MODEL_BACKEND_PATH: &str = "django.contrib.auth.backends.ModelBackend";

/// Login, logout and the session user, with the keys that sign the session auth hash.
#[derive(Debug, Clone)]
pub struct Auth {
    backend: ModelBackend,
    secret_key: String,
    fallback_keys: Vec<String>,
    backend_path: String,
}

impl Auth {
    /// `backend_path` is what goes into `_auth_user_backend` (and the only path accepted).
    pub fn new(
        backend: ModelBackend,
        secret_key: String,
        fallback_keys: Vec<String>,
        backend_path: String,
    ) -> Self {
        Self {
            backend,
            secret_key,
            fallback_keys,
            backend_path,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &ModelBackend {
        &self.backend
    }

    /// `authenticate(username, password)`.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AuthError> {
        self.backend.authenticate(username, password).await
    }

    /// `login(request, user)`: flush when another user (or a stale hash) was logged in, else
    /// cycle the key so that anonymous data survives under a new key; then store the three
    /// keys and update `last_login`. Rotating the CSRF token is the web layer's part.
    pub async fn login(&self, session: &mut Session, user: &mut User) -> Result<(), AuthError> {
        let hash = user.get_session_auth_hash(&self.secret_key);
        let current_id = session.get(SESSION_KEY).await?;
        let same_user = match current_id {
            None => None,
            Some(id) => {
                let stored_hash = session.get(HASH_SESSION_KEY).await?;
                let hash_matches = stored_hash
                    .as_ref()
                    .and_then(Value::as_str)
                    .is_some_and(|h| constant_time_compare(h, &hash));
                Some(id.as_str() == Some(user.id.to_string().as_str()) && hash_matches)
            }
        };
        match same_user {
            Some(false) => session.flush().await?,
            Some(true) => {}
            None => session.cycle_key().await?,
        }
        session
            .insert(SESSION_KEY, Value::from(user.id.to_string()))
            .await?;
        session
            .insert(BACKEND_SESSION_KEY, Value::from(self.backend_path.clone()))
            .await?;
        session.insert(HASH_SESSION_KEY, Value::from(hash)).await?;
        let now = Utc::now();
        self.backend
            .store()
            .update_last_login(&user.id, now)
            .await?;
        user.last_login = Some(now);
        Ok(())
    }

    /// `logout(request)`: flush the session.
    pub async fn logout(&self, session: &mut Session) -> Result<(), AuthError> {
        session.flush().await?;
        Ok(())
    }

    /// `get_user(request)`: the logged-in user, or `None` (anonymous).
    ///
    /// A session naming another backend is anonymous and left alone. A missing or inactive
    /// user is anonymous. A hash made with a fallback key is accepted once: the key is
    /// cycled and the current hash stored. Any other mismatch flushes the session.
    pub async fn get_user(&self, session: &mut Session) -> Result<Option<User>, AuthError> {
        let (Some(id), Some(backend)) = (
            session.get(SESSION_KEY).await?,
            session.get(BACKEND_SESSION_KEY).await?,
        ) else {
            return Ok(None);
        };
        if backend.as_str() != Some(self.backend_path.as_str()) {
            return Ok(None);
        }
        let Some(id) = id
            .as_str()
            .and_then(|s| Id::parse(s, self.backend.store().user_id_kind()).ok())
        else {
            return Ok(None);
        };
        let Some(user) = self.backend.get_user(&id).await? else {
            return Ok(None);
        };
        let stored = session.get(HASH_SESSION_KEY).await?;
        let stored = stored.as_ref().and_then(Value::as_str).unwrap_or_default();
        let current = user.get_session_auth_hash(&self.secret_key);
        if !stored.is_empty() && constant_time_compare(stored, &current) {
            return Ok(Some(user));
        }
        let by_fallback = !stored.is_empty()
            && self.fallback_keys.iter().any(|k| {
                constant_time_compare(stored, User::session_auth_hash_for(&user.password, k))
            });
        if by_fallback {
            session.cycle_key().await?;
            session
                .insert(HASH_SESSION_KEY, Value::from(current))
                .await?;
            return Ok(Some(user));
        }
        session.flush().await?;
        Ok(None)
    }

    /// `update_session_auth_hash(request, user)` after a password change: keep this session
    /// (with a new key) while every other session of the user ends.
    pub async fn update_session_auth_hash(
        &self,
        session: &mut Session,
        user: &User,
    ) -> Result<(), AuthError> {
        session.cycle_key().await?;
        let logged_in = session.get(SESSION_KEY).await?;
        if logged_in.as_ref().and_then(Value::as_str) == Some(user.id.to_string().as_str()) {
            session
                .insert(
                    HASH_SESSION_KEY,
                    Value::from(user.get_session_auth_hash(&self.secret_key)),
                )
                .await?;
        }
        Ok(())
    }
}
