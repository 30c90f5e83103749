//! `request.user` and Django's `authenticate`, `login`, `logout` and
//! `update_session_auth_hash`: [`CurrentUser`] and [`AuthContext`].

use crate::error::SesameError;
use crate::state::RequestState;
use crate::throttle::retry_after;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sesame_core::auth::{User, UserPermissions};

/// The current user, or `None` for the anonymous user (`request.user`). Loaded once per
/// request, on first use, with Django's checks (backend path, active flag, session hash with
/// fallback keys).
///
/// # Examples
///
/// ```
/// use sesame_axum::CurrentUser;
/// async fn greeting(CurrentUser(user): CurrentUser) -> String {
///     match user {
///         Some(u) => format!("Hello, {}", u.username),
///         None => "Hello, stranger".into(),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl CurrentUser {
    /// `user.is_authenticated`.
    pub fn is_authenticated(&self) -> bool {
        self.0.is_some()
    }
}

pub(crate) async fn current_user(state: &RequestState) -> Result<Option<User>, SesameError> {
    let Some(auth) = state.sesame().auth() else {
        return Ok(None);
    };
    let user = state
        .0
        .user
        .get_or_try_init(|| async {
            let mut session = state.0.session.lock().await;
            // One round trip for both when the store can, and the session is not loaded yet.
            if let (Some(loader), false, Some(key)) = (
                state.sesame().inner.session_user.as_ref(),
                session.is_loaded(),
                session.session_key().map(str::to_owned),
            ) {
                let (data, user, prefetched) = if state.sesame().inner.prefetch_permissions {
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
                    state.0.perms.set(p).await;
                }
                return Ok(user);
            }
            auth.get_user(&mut session).await.map_err(SesameError::from)
        })
        .await?;
    Ok(user)
}

pub(crate) async fn permissions(
    state: &RequestState,
    user: &User,
) -> Result<UserPermissions, SesameError> {
    let Some(auth) = state.sesame().auth() else {
        return Ok(UserPermissions::anonymous());
    };
    state
        .0
        .perms
        .get_or_try_init(|| async { auth.user_permissions(user).await.map_err(SesameError::from) })
        .await
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(CurrentUser(
            current_user(&RequestState::from_parts(parts)?).await?,
        ))
    }
}

/// Login, logout and the permission cache for handlers that change who is logged in.
///
/// # Examples
///
/// ```
/// use axum::response::Redirect;
/// use sesame_axum::{AuthContext, LoginError, SesameError};
///
/// async fn login(auth: AuthContext) -> Result<Redirect, LoginError> {
///     // Throttled, and the same answer for an unknown user and a wrong password.
///     let mut user = auth.authenticate("alice", "a long password").await?;
///     auth.login(&mut user).await?; // a new session key, a rotated CSRF token
///     Ok(Redirect::to("/accounts/profile/"))
/// }
///
/// async fn logout(auth: AuthContext) -> Result<Redirect, SesameError> {
///     auth.logout().await?;
///     Ok(Redirect::to("/"))
/// }
/// ```
#[derive(Clone, Debug)]
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
            state: RequestState::from_parts(parts)?,
        })
    }
}

impl AuthContext {
    /// The per-request state (for helpers that build on the other extractors).
    pub fn request_state(&self) -> &RequestState {
        &self.state
    }

    fn auth(&self) -> Result<&sesame_core::auth::Auth, SesameError> {
        self.state.sesame().auth().ok_or_else(|| {
            SesameError::Misconfigured(
                "authentication is not configured (SesameBuilder::auth)".into(),
            )
        })
    }

    /// `authenticate(username, password)` with throttling: the attempt is counted before the
    /// hasher runs and refused over the limit (see [`crate::throttle`]), and unknown users
    /// cost the same as wrong passwords.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<User, LoginError> {
        let auth = self.auth()?;
        let throttle = &self.state.sesame().inner.throttle;
        let attempt = throttle
            .before_login(username, self.state.client_ip())
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
            let mut session = self.state.0.session.lock().await;
            self.auth()?.login(&mut session, user).await?;
        }
        crate::csrf::rotate_token(&self.state).await?;
        // From here on the request is for this user, with their permissions.
        self.state.0.user.set(Some(user.clone())).await;
        self.state.0.perms.clear().await;
        Ok(())
    }

    /// `logout(request)`: flush the session; the rest of the request is anonymous.
    pub async fn logout(&self) -> Result<(), SesameError> {
        {
            let mut session = self.state.0.session.lock().await;
            self.auth()?.logout(&mut session).await?;
        }
        self.state.0.user.set(None).await;
        self.state.0.perms.clear().await;
        Ok(())
    }

    /// `update_session_auth_hash(request, user)` after a password change.
    pub async fn update_session_auth_hash(&self, user: &User) -> Result<(), SesameError> {
        let mut session = self.state.0.session.lock().await;
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
            let mut session = self.state.0.session.lock().await;
            self.auth()?
                .change_password(&mut session, user, encoded, save_password)
                .await?;
        }
        // The rest of the request sees the user with the new password.
        self.state.0.user.set(Some(user.clone())).await;
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
        let security = self.state.security();
        crate::redirect::safe_next(next, security.host(), security.is_secure(), fallback)
    }
}
