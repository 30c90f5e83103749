//! The guards: Django's `login_required`, `permission_required` and `user_passes_test` as
//! extractors that refuse the request.

use crate::auth::{current_user, permissions};
use crate::error::SesameError;
use crate::redirect::login_url_with_next;
use crate::state::RequestState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sesame_core::auth::User;
use std::marker::PhantomData;

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
    if path.starts_with(state.sesame().api_prefix()) {
        return GuardRejection::Unauthorized;
    }
    let full = parts.uri.path_and_query().map_or(path, |pq| pq.as_str());
    GuardRejection::Redirect(login_url_with_next(
        &state.sesame().settings().auth.login_url,
        full,
    ))
}

/// `login_required`: the logged-in user, or a redirect to `LOGIN_URL?next=...` (401 JSON under
/// the API prefix).
///
/// # Examples
///
/// ```
/// use sesame_axum::LoginRequired;
/// async fn profile(LoginRequired(user): LoginRequired) -> String {
///     format!("Hello, {}", user.username)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LoginRequired(pub User);

impl<S: Send + Sync> FromRequestParts<S> for LoginRequired {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = RequestState::from_parts(parts)?;
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
#[derive(Debug)]
pub struct PermissionRequired<P: PermissionSet>(pub User, pub PhantomData<P>);

impl<S: Send + Sync, P: PermissionSet> FromRequestParts<S> for PermissionRequired<P> {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = RequestState::from_parts(parts)?;
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
///
/// # Examples
///
/// ```
/// use sesame_axum::{UserPassesTest, UserTest};
/// use sesame_core::auth::User;
///
/// struct IsStaff;
/// impl UserTest for IsStaff {
///     fn test(user: Option<&User>) -> bool {
///         user.is_some_and(|u| u.is_staff)
///     }
/// }
/// async fn dashboard(UserPassesTest(user, _): UserPassesTest<IsStaff>) -> String {
///     format!("{} is staff", user.map(|u| u.username).unwrap_or_default())
/// }
/// ```
pub trait UserTest: Send + Sync + 'static {
    /// Whether the user may pass.
    fn test(user: Option<&User>) -> bool;
}

/// `user_passes_test(test)`: redirects to the login page when the test fails (never 403, as
/// Django's decorator).
#[derive(Debug)]
pub struct UserPassesTest<T: UserTest>(pub Option<User>, pub PhantomData<T>);

impl<S: Send + Sync, T: UserTest> FromRequestParts<S> for UserPassesTest<T> {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = RequestState::from_parts(parts)?;
        let user = current_user(&state).await?;
        if T::test(user.as_ref()) {
            Ok(UserPassesTest(user, PhantomData))
        } else {
            Err(to_login(parts, &state))
        }
    }
}
