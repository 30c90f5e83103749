//! Login state in the session (`django.contrib.auth.login`, `logout`, `get_user`,
//! `update_session_auth_hash`), independent of any web framework.

use super::User;
use super::backend::{AuthError, AuthenticationBackend, ModelBackend, UserPermissions};
use super::store::AuthStoreError;
use crate::crypto::{SaltedHmacSha256, constant_time_compare};
use crate::session::Session;
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;

/// `SESSION_KEY`: the user's primary key, always a string.
pub const SESSION_KEY: &str = "_auth_user_id";
/// `BACKEND_SESSION_KEY`: the dotted path of the backend that authenticated the user.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// `HASH_SESSION_KEY`: the session auth hash, 64 hex digits.
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";
/// Django's default backend path; Django accepts only sessions naming a backend it has.
pub const MODEL_BACKEND_PATH: &str = "django.contrib.auth.backends.ModelBackend";

/// Login, logout and the session user over a chain of backends
/// (`AUTHENTICATION_BACKENDS`), with the keys that sign the session auth hash.
#[derive(Clone)]
pub struct Auth {
    backends: Vec<Arc<dyn AuthenticationBackend>>,
    fallback_keys: Vec<String>,
    // The session auth hash under the secret key, its key derived once (it is checked on
    // every authenticated request).
    session_hash: SaltedHmacSha256,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths: Vec<&str> = self.backends.iter().map(|b| b.path()).collect();
        f.debug_struct("Auth").field("backends", &paths).finish()
    }
}

impl Auth {
    /// One `ModelBackend`; `backend_path` is what goes into `_auth_user_backend`.
    pub fn new(
        backend: ModelBackend,
        secret_key: String,
        fallback_keys: Vec<String>,
        backend_path: String,
    ) -> Self {
        Self::with_backends(
            vec![Arc::new(backend.with_path(backend_path))],
            secret_key,
            fallback_keys,
        )
    }

    /// One `ModelBackend`, with the keys and the backend path from the settings
    /// (`SECRET_KEY`, `SECRET_KEY_FALLBACKS`, `auth_backend_path`).
    ///
    /// ```
    /// use sesame_core::auth::{Auth, MemoryAuthStore, ModelBackend};
    /// use sesame_core::auth::hashers::{Hashers, PasswordHashing};
    /// use sesame_core::settings::Settings;
    /// use std::sync::Arc;
    ///
    /// let settings = Settings { secret_key: "s3cr3t".into(), ..Settings::default() };
    /// let hashing = PasswordHashing::new(Hashers::from_settings(&settings).unwrap(), 1);
    /// let auth = Auth::from_settings(ModelBackend::new(Arc::new(MemoryAuthStore::new()), hashing), &settings);
    /// assert_eq!(auth.backends().len(), 1);
    /// ```
    pub fn from_settings(backend: ModelBackend, settings: &crate::settings::Settings) -> Self {
        Self::new(
            backend,
            settings.secret_key.clone(),
            settings.secret_key_fallbacks.clone(),
            settings.auth.backend_path.clone(),
        )
    }

    /// A chain of backends, tried in order.
    pub fn with_backends(
        backends: Vec<Arc<dyn AuthenticationBackend>>,
        secret_key: String,
        fallback_keys: Vec<String>,
    ) -> Self {
        Self {
            session_hash: SaltedHmacSha256::new(super::user::SESSION_AUTH_HASH_SALT, &secret_key),
            backends,
            fallback_keys,
        }
    }

    /// The backends, in order.
    pub fn backends(&self) -> &[Arc<dyn AuthenticationBackend>] {
        &self.backends
    }

    fn backend_for(&self, user: &User) -> Option<&Arc<dyn AuthenticationBackend>> {
        match &user.backend {
            Some(path) => self.backends.iter().find(|b| b.path() == path),
            None => self.backends.first(),
        }
    }

    /// `authenticate(username, password)`: the first backend that accepts wins, and the user
    /// remembers which one it was (Django's `user.backend`).
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AuthError> {
        for backend in &self.backends {
            if let Some(mut user) = backend.authenticate(username, password).await? {
                user.backend = Some(backend.path().to_owned());
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// The user's permissions, from the backend that authenticated them.
    pub async fn user_permissions(&self, user: &User) -> Result<UserPermissions, AuthError> {
        match self.backend_for(user) {
            Some(b) => b.user_permissions(user).await,
            None => Ok(UserPermissions::anonymous()),
        }
    }

    /// The user's permissions from a set fetched with the session, if the backend that
    /// authenticated the user follows the rule the set was fetched by (see
    /// [`AuthenticationBackend::prefetched_permissions`]); `None` means "ask
    /// [`Self::user_permissions`]".
    pub fn prefetched_permissions(
        &self,
        user: &User,
        prefetched: &std::collections::BTreeSet<String>,
    ) -> Option<UserPermissions> {
        self.backend_for(user)?
            .prefetched_permissions(user, prefetched)
    }

    /// `login(request, user)`: flush when another user (or a stale hash) was logged in, else
    /// cycle the key so that anonymous data survives under a new key; then store the three
    /// keys and update `last_login`. Rotating the CSRF token is the web layer's part.
    pub async fn login(&self, session: &mut Session, user: &mut User) -> Result<(), AuthError> {
        let hash = self.session_hash.hex(&user.password);
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
        let backend = self
            .backend_for(user)
            .ok_or_else(|| AuthError::UnknownBackend(user.backend.clone().unwrap_or_default()))?
            .clone();
        session
            .insert(SESSION_KEY, Value::from(user.id.to_string()))
            .await?;
        session
            .insert(BACKEND_SESSION_KEY, Value::from(backend.path().to_owned()))
            .await?;
        session.insert(HASH_SESSION_KEY, Value::from(hash)).await?;
        let now = Utc::now();
        backend.user_logged_in(user, now).await?;
        user.last_login = Some(now);
        user.backend = Some(backend.path().to_owned());
        Ok(())
    }

    /// `logout(request)`: flush the session.
    pub async fn logout(&self, session: &mut Session) -> Result<(), AuthError> {
        session.flush().await?;
        Ok(())
    }

    /// `get_user(request)` when a store already fetched the candidate user together with the
    /// session (one round trip): the same checks as [`Auth::get_user`] — backend path, active
    /// flag, session hash with fallbacks — but the user is not looked up again when it is the
    /// one the session names.
    pub async fn get_user_prefetched(
        &self,
        session: &mut Session,
        prefetched: Option<User>,
    ) -> Result<Option<User>, AuthError> {
        self.resolve_user(session, prefetched).await
    }

    /// `get_user(request)`: the logged-in user, or `None` (anonymous).
    ///
    /// A session naming another backend is anonymous and left alone. A missing or inactive
    /// user is anonymous. A hash made with a fallback key is accepted once: the key is
    /// cycled and the current hash stored. Any other mismatch flushes the session.
    pub async fn get_user(&self, session: &mut Session) -> Result<Option<User>, AuthError> {
        self.resolve_user(session, None).await
    }

    async fn resolve_user(
        &self,
        session: &mut Session,
        prefetched: Option<User>,
    ) -> Result<Option<User>, AuthError> {
        let (Some(id), Some(backend)) = (
            session.get(SESSION_KEY).await?,
            session.get(BACKEND_SESSION_KEY).await?,
        ) else {
            return Ok(None);
        };
        // A session naming a backend that is not configured is anonymous (and left alone).
        let Some(backend) = backend
            .as_str()
            .and_then(|path| self.backends.iter().find(|b| b.path() == path))
        else {
            return Ok(None);
        };
        let Some(id) = id.as_str() else {
            return Ok(None);
        };
        let found = match prefetched.filter(|u| u.id.to_string() == id) {
            // The prefetch is the stored row: apply the backend's rule for inactive users.
            Some(u) if u.is_active => Some(u),
            Some(_) => None,
            None => backend.get_user(id).await?,
        };
        let Some(mut user) = found else {
            return Ok(None);
        };
        user.backend = Some(backend.path().to_owned());
        let stored = session.get(HASH_SESSION_KEY).await?;
        let stored = stored.as_ref().and_then(Value::as_str).unwrap_or_default();
        if !stored.is_empty() && self.session_hash.matches_hex(&user.password, stored) {
            return Ok(Some(user));
        }
        let by_fallback = !stored.is_empty()
            && self.fallback_keys.iter().any(|k| {
                constant_time_compare(stored, User::session_auth_hash_for(&user.password, k))
            });
        if by_fallback {
            session.cycle_key().await?;
            let current = self.session_hash.hex(&user.password);
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
    ///
    /// The new hash goes into the dict before the key is cycled, so the record made under the
    /// new key is already the final one. When this session is the user's, a failure to delete
    /// the old record is only logged: the password is already changed, so the old record's
    /// hash no longer matches and it cannot authenticate (the first request that presents it
    /// flushes it). Answering an error here would report a change that was made as failed.
    /// Prefer [`Auth::change_password`], which also makes an outage before the password is
    /// saved change nothing.
    pub async fn update_session_auth_hash(
        &self,
        session: &mut Session,
        user: &User,
    ) -> Result<(), AuthError> {
        let checkpoint = session.checkpoint();
        self.stamp_hash(session, user).await?;
        let old = match session.rekey().await {
            Ok(old) => old,
            Err(e) => {
                session.restore(checkpoint);
                return Err(e.into());
            }
        };
        self.retire_old_record(session, old).await;
        Ok(())
    }

    /// A password change as Django's `PasswordChangeView` makes it (`user.set_password()`,
    /// `user.save()`, `update_session_auth_hash()`), ordered so that a failure anywhere leaves
    /// either nothing changed or everything done:
    ///
    /// 1. this session's dict, with the hash of `encoded`, is stored under a fresh key; the
    ///    old record stays. A failure here changes nothing.
    /// 2. `save_password` stores `encoded` (the commit point). If it fails, the session goes
    ///    back to its old key and dict and the new record is deleted (best effort: nobody has
    ///    its key, and its hash matches no password anyone can set, the salt being random).
    /// 3. the old record is deleted. Its failure is logged, not returned: the old record's
    ///    hash is that of the old password, so it can no longer authenticate, nor can any
    ///    other session of the user.
    ///
    /// On success `user.password` is `encoded`, and the session under its new key needs no
    /// further write (the layer only sends the cookie), so an outage after the commit point
    /// cannot turn the change into an error either.
    pub async fn change_password<F>(
        &self,
        session: &mut Session,
        user: &mut User,
        encoded: String,
        save_password: F,
    ) -> Result<(), AuthError>
    where
        F: std::future::Future<Output = Result<(), AuthStoreError>> + Send,
    {
        let checkpoint = session.checkpoint();
        let mut changed = user.clone();
        changed.password = encoded;
        if let Err(e) = self.stamp_hash(session, &changed).await {
            session.restore(checkpoint);
            return Err(e);
        }
        let old = match session.rekey().await {
            Ok(old) => old,
            Err(e) => {
                session.restore(checkpoint);
                return Err(e.into());
            }
        };
        if let Err(e) = save_password.await {
            session.abandon_rekey(checkpoint).await;
            return Err(e.into());
        }
        *user = changed;
        self.retire_old_record(session, old).await;
        Ok(())
    }

    /// Put the hash of `user`'s password into the session if the session is `user`'s.
    async fn stamp_hash(&self, session: &mut Session, user: &User) -> Result<(), AuthError> {
        let logged_in = session.get(SESSION_KEY).await?;
        if logged_in.as_ref().and_then(Value::as_str) == Some(user.id.to_string().as_str()) {
            session
                .insert(
                    HASH_SESSION_KEY,
                    Value::from(self.session_hash.hex(&user.password)),
                )
                .await?;
        }
        Ok(())
    }

    /// The last step of a key change after a password change: delete the record under the
    /// old key. A failure is logged, not returned, since the password is changed by now and an
    /// error would report it as not done. For the user's own session the old record cannot
    /// authenticate any more (its hash is the old password's); for anyone else's (an
    /// administrator changing another user's password) nothing else revokes it, so the old
    /// key stays usable until that record expires: a lost key rotation, not a lost logout.
    async fn retire_old_record(&self, session: &mut Session, old: Option<String>) {
        let Some(old) = old else {
            return;
        };
        if let Err(e) = session.store().delete(&old).await {
            tracing::warn!(
                target: "sesame",
                error = %e,
                "could not delete the session record of the old key after a password change"
            );
        }
    }
}
