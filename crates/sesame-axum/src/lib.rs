//! # sesame-axum
//!
//! Django's sessions, authentication, CSRF protection and messages for axum: add one layer,
//! then take what a handler needs as arguments.
//!
//! Use it in an axum application, with any store: the memory stores of `sesame-core` for
//! tests, `sesame-sql`, `sesame-redis` or `sesame-mongodb` in production. The layer reads the
//! session cookie, enforces Django's security middleware rules (allowed hosts, HTTPS
//! redirects, CSRF on unsafe methods) and writes the cookie back; handlers never touch
//! cookies themselves. A store that cannot be reached becomes a 503 ([`SesameError`]), and
//! a guard that refuses becomes a redirect to the login page or a 403 ([`GuardRejection`]).
//! For ready-made login and password pages, add `sesame-site`'s router.
//!
//! | Django | Sesame |
//! |---|---|
//! | `SecurityMiddleware`, `SessionMiddleware`, `AuthenticationMiddleware`, `CsrfViewMiddleware`, `MessageMiddleware` | [`SesameLayer`] (from [`Sesame::layer`]), or one by one: [`SessionLayer`], [`CsrfLayer`], [`MessagesLayer`] (see [`layer`]) |
//! | `@csrf_exempt` | [`SesameBuilder::csrf_exempt`], or a route outside the [`CsrfLayer`] |
//! | `request.session` | [`SessionHandle`] (`get`/`insert` of JSON values, `get_as`/`insert_as` of your types) |
//! | `request.user` | [`CurrentUser`] |
//! | `authenticate`, `login`, `logout`, `update_session_auth_hash` | [`AuthContext`] |
//! | `@login_required` | [`LoginRequired`] |
//! | `@permission_required` | [`PermissionRequired`] with a [`PermissionSet`] |
//! | `@user_passes_test` | [`UserPassesTest`] with a [`UserTest`] |
//! | `{% csrf_token %}` | [`CsrfToken`] |
//! | `messages.*` | [`Messages`] |
//!
//! ```
//! use axum::{Router, routing::get};
//! use sesame_axum::{LoginRequired, Sesame};
//! use sesame_core::session::{MemorySessionStore, SessionCodec};
//! use sesame_core::settings::Settings;
//! use std::sync::Arc;
//!
//! async fn profile(LoginRequired(user): LoginRequired) -> String {
//!     format!("Hello, {}", user.username)
//! }
//!
//! let settings = Settings { secret_key: "change me".into(), ..Settings::default() };
//! let store = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(&settings)));
//! let app: Router = Router::new()
//!     .route("/accounts/profile/", get(profile))
//!     .layer(Sesame::new(settings, store).layer());
//! ```
//!
//! The layer touches no store for a request whose handler never uses the session or the user.

mod auth;
mod config;
pub mod cookies;
mod csrf;
mod error;
mod guards;
pub mod layer;
mod messages;
pub mod redirect;
pub mod security;
mod session;
mod state;
pub mod throttle;

pub use auth::{AuthContext, CurrentUser, LoginError};
pub use config::{Sesame, SesameBuilder};
pub use csrf::{
    CsrfToken, MAX_FORM_BODY, forbidden as csrf_failure, form_field, get_token, rotate_token,
};
pub use error::{BoxError, SesameError};
pub use guards::{
    GuardRejection, LoginRequired, PermissionRequired, PermissionSet, UserPassesTest, UserTest,
};
pub use layer::{CsrfLayer, MessagesLayer, SesameLayer, SesameService, SessionLayer};
pub use messages::Messages;
pub use session::SessionHandle;
pub use state::RequestState;
