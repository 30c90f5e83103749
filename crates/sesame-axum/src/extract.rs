//! Extractors: the session, the current user, the login/logout context, and the guards
//! (`login_required`, `permission_required`, `user_passes_test`).

use crate::error::SesameError;
use crate::layer::RequestState;
use crate::redirect::login_url_with_next;
use crate::throttle::retry_after;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sesame_core::auth::{User, UserPermissions};
use sesame_core::session::{Expiry, Session};
use std::marker::PhantomData;
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard};

fn state(parts: &Parts) -> Result<RequestState, SesameError> {
    parts
        .extensions
        .get::<RequestState>()
        .cloned()
        .ok_or(SesameError::MissingLayer)
}

/// The request's session. Nothing touches the store until a method is called.
///
/// ```
/// use sesame_axum::SessionHandle;
/// async fn visits(session: SessionHandle) -> Result<String, sesame_axum::SesameError> {
///     let n = session.get("visits").await?.and_then(|v| v.as_i64()).unwrap_or(0) + 1;
///     session.insert("visits", n.into()).await?;
///     Ok(format!("visit {n}"))
/// }
/// ```
#[derive(Clone)]
pub struct SessionHandle {
    inner: Arc<Mutex<Session>>,
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            inner: state(parts)?.session,
        })
    }
}

impl SessionHandle {
    /// Lock the session for several operations.
    pub async fn lock(&self) -> MutexGuard<'_, Session> {
        self.inner.lock().await
    }

    /// `session.get(key)`.
    pub async fn get(&self, key: &str) -> Result<Option<Value>, SesameError> {
        Ok(self.inner.lock().await.get(key).await?)
    }

    /// `session[key] = value`.
    pub async fn insert(&self, key: &str, value: Value) -> Result<Option<Value>, SesameError> {
        Ok(self.inner.lock().await.insert(key, value).await?)
    }

    /// `session.pop(key)`.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, SesameError> {
        Ok(self.inner.lock().await.remove(key).await?)
    }

    /// `session.set_expiry(...)`.
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), SesameError> {
        Ok(self.inner.lock().await.set_expiry(expiry).await?)
    }

    /// `session.cycle_key()`.
    pub async fn cycle_key(&self) -> Result<(), SesameError> {
        Ok(self.inner.lock().await.cycle_key().await?)
    }

    /// `session.flush()`.
    pub async fn flush(&self) -> Result<(), SesameError> {
        Ok(self.inner.lock().await.flush().await?)
    }
}

/// The current user, or `None` for the anonymous user (`request.user`). Loaded once per
/// request, on first use, with Django's checks (backend path, active flag, session hash with
/// fallback keys).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl CurrentUser {
    /// `user.is_authenticated`.
    pub fn is_authenticated(&self) -> bool {
        self.0.is_some()
    }
}

async fn current_user(state: &RequestState) -> Result<Option<User>, SesameError> {
    let Some(auth) = state.sesame.auth() else {
        return Ok(None);
    };
    let user = state
        .user
        .get_or_try_init(|| async {
            let mut session = state.session.lock().await;
            // One round trip for both when the store can, and the session is not loaded yet.
            if let (Some(loader), false, Some(key)) = (
                state.sesame.inner.session_user.as_ref(),
                session.is_loaded(),
                session.session_key().map(str::to_owned),
            ) {
                let (data, user, prefetched) = if state.sesame.inner.prefetch_permissions {
                    match loader.load_session_with_user_and_permissions(&key).await? {
                        Some(p) => (Some(p.data), p.user, p.permissions),
                        None => (None, None, None),
                    }
                } else {
                    match loader.load_session_with_user(&key).await? {
                        Some((d, u)) => (Some(d), u, None),
                        None => (None, None, None),
                    }
                };
                session.set_loaded(data);
                let user = auth.get_user_prefetched(&mut session, user).await?;
                // The permissions belong to the stored user the checks just accepted (the
                // same id); the request's permission cache starts with them.
                if let (Some(u), Some(perms)) = (&user, &prefetched)
                    && let Some(p) = auth.prefetched_permissions(u, perms)
                {
                    state.perms.set(p).await;
                }
                return Ok(user);
            }
            auth.get_user(&mut session).await.map_err(SesameError::from)
        })
        .await?;
    Ok(user)
}

async fn permissions(state: &RequestState, user: &User) -> Result<UserPermissions, SesameError> {
    let Some(auth) = state.sesame.auth() else {
        return Ok(UserPermissions::anonymous());
    };
    state
        .perms
        .get_or_try_init(|| async { auth.user_permissions(user).await.map_err(SesameError::from) })
        .await
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentUser(current_user(&state(parts)?).await?))
    }
}

/// Login, logout and the permission cache for handlers that change who is logged in.
#[derive(Clone)]
pub struct AuthContext {
    state: RequestState,
}

/// Why a login attempt was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or inactive account: one answer for all.
    #[error(
        "Please enter a correct username and password. Note that both fields may be case-sensitive."
    )]
    InvalidLogin,
    /// Too many failed attempts: the wait, given in minutes to people and in seconds in
    /// `Retry-After`.
    #[error("Too many failed login attempts. Try again in {}.", crate::throttle::minutes_text(*.0))]
    Throttled(std::time::Duration),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] SesameError),
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        match self {
            LoginError::InvalidLogin => {
                (StatusCode::UNAUTHORIZED, self.to_string()).into_response()
            }
            LoginError::Throttled(d) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after(d))],
                self.to_string(),
            )
                .into_response(),
            LoginError::Store(e) => e.into_response(),
        }
    }
}

impl From<crate::throttle::ThrottleRefusal> for LoginError {
    fn from(r: crate::throttle::ThrottleRefusal) -> Self {
        match r {
            crate::throttle::ThrottleRefusal::Locked(d) => LoginError::Throttled(d),
            crate::throttle::ThrottleRefusal::Store(e) => LoginError::Store(e.into()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(AuthContext {
            state: state(parts)?,
        })
    }
}

impl AuthContext {
    /// The per-request state (for helpers that build on the other extractors).
    pub fn request_state(&self) -> &RequestState {
        &self.state
    }

    fn auth(&self) -> Result<&sesame_core::auth::Auth, SesameError> {
        self.state.sesame.auth().ok_or_else(|| {
            SesameError::Misconfigured(
                "authentication is not configured (Sesame::with_auth)".into(),
            )
        })
    }

    /// `authenticate(username, password)` with throttling: the attempt is counted before the
    /// hasher runs and refused over the limit (see [`crate::throttle`]), and unknown users
    /// cost the same as wrong passwords.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<User, LoginError> {
        let auth = self.auth()?;
        let throttle = &self.state.sesame.inner.throttle;
        let attempt = throttle
            .before_login(username, self.state.client_ip)
            .await?;
        match auth
            .authenticate(username, password)
            .await
            .map_err(SesameError::from)?
        {
            Some(user) => {
                throttle
                    .login_succeeded(&attempt)
                    .await
                    .map_err(SesameError::from)?;
                Ok(user)
            }
            None => {
                throttle
                    .login_failed(&attempt)
                    .await
                    .map_err(SesameError::from)?;
                Err(LoginError::InvalidLogin)
            }
        }
    }

    /// `login(request, user)`: cycle (or flush) the session, store the auth keys, update
    /// `last_login`, rotate the CSRF token.
    pub async fn login(&self, user: &mut User) -> Result<(), SesameError> {
        {
            let mut session = self.state.session.lock().await;
            self.auth()?.login(&mut session, user).await?;
        }
        crate::csrf::rotate_token(&self.state).await?;
        // From here on the request is for this user, with their permissions.
        self.state.user.set(Some(user.clone())).await;
        self.state.perms.clear().await;
        Ok(())
    }

    /// `logout(request)`: flush the session; the rest of the request is anonymous.
    pub async fn logout(&self) -> Result<(), SesameError> {
        {
            let mut session = self.state.session.lock().await;
            self.auth()?.logout(&mut session).await?;
        }
        self.state.user.set(None).await;
        self.state.perms.clear().await;
        Ok(())
    }

    /// `update_session_auth_hash(request, user)` after a password change.
    pub async fn update_session_auth_hash(&self, user: &User) -> Result<(), SesameError> {
        let mut session = self.state.session.lock().await;
        Ok(self
            .auth()?
            .update_session_auth_hash(&mut session, user)
            .await?)
    }

    /// A password change with this session kept (Django's `PasswordChangeView` after the form
    /// validates): `save_password` stores `encoded` (e.g. `users.set_password(&id, &encoded)`)
    /// between the session's two steps, so that an error (503) means the old password and
    /// this session are as they were, and success means the new password is saved and every
    /// other session of the user ends. See [`Auth::change_password`](sesame_core::auth::Auth::change_password).
    ///
    /// ```
    /// use sesame_axum::{AuthContext, LoginRequired, SesameError};
    /// use sesame_core::auth::store::AuthStore;
    /// use std::sync::Arc;
    /// async fn change(
    ///     auth: AuthContext,
    ///     LoginRequired(mut user): LoginRequired,
    ///     users: Arc<dyn AuthStore>,
    ///     encoded: String,
    /// ) -> Result<&'static str, SesameError> {
    ///     let id = user.id.clone();
    ///     let save = encoded.clone();
    ///     auth.change_password(&mut user, encoded, async move { users.set_password(&id, &save).await })
    ///         .await?;
    ///     Ok("changed")
    /// }
    /// ```
    pub async fn change_password<F>(
        &self,
        user: &mut User,
        encoded: String,
        save_password: F,
    ) -> Result<(), SesameError>
    where
        F: std::future::Future<Output = Result<(), sesame_core::auth::store::AuthStoreError>>
            + Send,
    {
        {
            let mut session = self.state.session.lock().await;
            self.auth()?
                .change_password(&mut session, user, encoded, save_password)
                .await?;
        }
        // The rest of the request sees the user with the new password.
        self.state.user.set(Some(user.clone())).await;
        Ok(())
    }

    /// The current user.
    pub async fn user(&self) -> Result<Option<User>, SesameError> {
        current_user(&self.state).await
    }

    /// The current user's permissions (loaded once per request).
    pub async fn permissions(&self) -> Result<UserPermissions, SesameError> {
        match current_user(&self.state).await? {
            Some(u) => permissions(&self.state, &u).await,
            None => Ok(UserPermissions::anonymous()),
        }
    }

    /// A safe `next` target, or `fallback`: Django's `url_has_allowed_host_and_scheme` with
    /// the request's validated host (`ALLOWED_HOSTS`) as the allowed host, and HTTPS
    /// required on a secure request.
    pub fn safe_next<'a>(&self, next: Option<&'a str>, fallback: &'a str) -> &'a str {
        let security = &self.state.security;
        crate::redirect::safe_next(next, security.host(), security.is_secure(), fallback)
    }
}

/// What a guard answers when it refuses: a redirect to the login page for pages, a 401 JSON
/// answer for routes under the API prefix, or a 403.
#[derive(Debug)]
pub enum GuardRejection {
    /// 302 to `LOGIN_URL?next=...`.
    Redirect(String),
    /// 401 `{"detail": "..."}`.
    Unauthorized,
    /// 403.
    Forbidden,
    /// A store failed or the layer is missing.
    Error(SesameError),
}

impl IntoResponse for GuardRejection {
    fn into_response(self) -> Response {
        match self {
            // Django's HttpResponseRedirect: 302 Found.
            GuardRejection::Redirect(to) => {
                (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
            }
            GuardRejection::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    serde_json::json!({"detail": "Authentication credentials were not provided."}),
                ),
            )
                .into_response(),
            GuardRejection::Forbidden => (
                StatusCode::FORBIDDEN,
                "403 Forbidden: you do not have permission to view this page.",
            )
                .into_response(),
            GuardRejection::Error(e) => e.into_response(),
        }
    }
}

impl From<SesameError> for GuardRejection {
    fn from(e: SesameError) -> Self {
        GuardRejection::Error(e)
    }
}

fn to_login(parts: &Parts, state: &RequestState) -> GuardRejection {
    let path = parts.uri.path();
    if path.starts_with(&state.sesame.inner.api_prefix) {
        return GuardRejection::Unauthorized;
    }
    let full = parts.uri.path_and_query().map_or(path, |pq| pq.as_str());
    GuardRejection::Redirect(login_url_with_next(
        &state.sesame.settings().auth.login_url,
        full,
    ))
}

/// `login_required`: the logged-in user, or a redirect to `LOGIN_URL?next=...` (401 JSON under
/// the API prefix).
#[derive(Debug, Clone)]
pub struct LoginRequired(pub User);

impl<S: Send + Sync> FromRequestParts<S> for LoginRequired {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        match current_user(&state).await? {
            Some(u) => Ok(LoginRequired(u)),
            None => Err(to_login(parts, &state)),
        }
    }
}

/// A set of permissions a route requires, at the type level.
///
/// ```
/// use sesame_axum::{PermissionSet, PermissionRequired};
/// struct CanPublish;
/// impl PermissionSet for CanPublish {
///     const PERMISSIONS: &'static [&'static str] = &["blog.publish_post"];
/// }
/// async fn publish(PermissionRequired(user, _): PermissionRequired<CanPublish>) -> String {
///     format!("published by {}", user.username)
/// }
/// ```
pub trait PermissionSet: Send + Sync + 'static {
    /// `app_label.codename` strings; all are required.
    const PERMISSIONS: &'static [&'static str];
    /// Refuse logged-in users with 403 (Django's `raise_exception=True`); otherwise they are
    /// sent to the login page too, as Django's decorator does by default.
    const RAISE_EXCEPTION: bool = true;
}

/// `permission_required(PERMISSIONS)`: the user, if they have every permission (one
/// permission load per request).
pub struct PermissionRequired<P: PermissionSet>(pub User, pub PhantomData<P>);

impl<S: Send + Sync, P: PermissionSet> FromRequestParts<S> for PermissionRequired<P> {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        let Some(user) = current_user(&state).await? else {
            return Err(to_login(parts, &state));
        };
        if permissions(&state, &user).await?.has_perms(P::PERMISSIONS) {
            Ok(PermissionRequired(user, PhantomData))
        } else if P::RAISE_EXCEPTION {
            Err(GuardRejection::Forbidden)
        } else {
            Err(to_login(parts, &state))
        }
    }
}

/// A test on the user, at the type level (`user_passes_test`).
pub trait UserTest: Send + Sync + 'static {
    /// Whether the user may pass.
    fn test(user: Option<&User>) -> bool;
}

/// `user_passes_test(test)`: redirects to the login page when the test fails (never 403, as
/// Django's decorator).
pub struct UserPassesTest<T: UserTest>(pub Option<User>, pub PhantomData<T>);

impl<S: Send + Sync, T: UserTest> FromRequestParts<S> for UserPassesTest<T> {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        let user = current_user(&state).await?;
        if T::test(user.as_ref()) {
            Ok(UserPassesTest(user, PhantomData))
        } else {
            Err(to_login(parts, &state))
        }
    }
}
