//! [`RequestState`]: what the layers keep for one request (the lazy session, the user and
//! permission caches, the CSRF secret, the queued messages), in the request's extensions.
//!
//! The layers fill it and the extractors read it; this module depends on neither, so the
//! request path has no import cycle: `layer` → `csrf`, `messages` → `state` → `config`.

use crate::config::Sesame;
use crate::error::SesameError;
use crate::security::RequestSecurity;
use sesame_core::auth::{User, UserPermissions};
use sesame_core::messages::Message;
use sesame_core::session::Session;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;

/// Per-request state, in the request's extensions (one allocation per request).
///
/// Handlers rarely need it: the extractors ([`SessionHandle`](crate::SessionHandle),
/// [`AuthContext`](crate::AuthContext), ...) read it. It is public for code that builds on
/// them, such as the ready-made site's views.
#[derive(Clone)]
pub struct RequestState(pub(crate) Arc<RequestInner>);

impl std::fmt::Debug for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The session and the CSRF secret are secrets: only where the request comes from.
        f.debug_struct("RequestState")
            .field("security", &self.0.security)
            .field("client_ip", &self.0.client_ip)
            .finish_non_exhaustive()
    }
}

pub(crate) struct RequestInner {
    pub(crate) sesame: Sesame,
    pub(crate) session: Mutex<Session>,
    pub(crate) user: RequestCache<Option<User>>,
    pub(crate) perms: RequestCache<UserPermissions>,
    pub(crate) csrf: std::sync::Mutex<CsrfState>,
    pub(crate) messages: std::sync::Mutex<MessageState>,
    /// Set by the CSRF and messages layers when they run: without them the token would
    /// never reach a cookie and queued messages would be lost, so their extractors refuse.
    pub(crate) csrf_layer: AtomicBool,
    pub(crate) messages_layer: AtomicBool,
    pub(crate) client_ip: Option<std::net::IpAddr>,
    pub(crate) raw_messages_cookie: Option<String>,
    pub(crate) security: RequestSecurity,
}

impl RequestState {
    pub(crate) fn new(inner: RequestInner) -> Self {
        Self(Arc::new(inner))
    }

    /// The request's state, or [`SesameError::MissingLayer`] without a session layer.
    pub(crate) fn from_parts(parts: &axum::http::request::Parts) -> Result<Self, SesameError> {
        parts
            .extensions
            .get::<RequestState>()
            .cloned()
            .ok_or(SesameError::MissingLayer)
    }

    /// The configuration.
    pub fn sesame(&self) -> &Sesame {
        &self.0.sesame
    }

    /// The request's validated host and scheme.
    pub fn security(&self) -> &RequestSecurity {
        &self.0.security
    }

    /// The client's address: the connection's, or the one the trusted proxy reported
    /// (`trusted_proxy_header`, `trusted_proxy_count`).
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.0.client_ip
    }

    pub(crate) fn csrf_enabled(&self) -> bool {
        self.0.csrf_layer.load(Ordering::Relaxed)
    }

    pub(crate) fn enable_csrf(&self) {
        self.0.csrf_layer.store(true, Ordering::Relaxed);
    }

    pub(crate) fn messages_enabled(&self) -> bool {
        self.0.messages_layer.load(Ordering::Relaxed)
    }

    pub(crate) fn enable_messages(&self) {
        self.0.messages_layer.store(true, Ordering::Relaxed);
    }
}

/// A per-request value made on first use (the user, their permissions), and replaced when a
/// login or logout in the same request changes whom the request is for.
pub(crate) struct RequestCache<T>(Mutex<Option<T>>);

impl<T> Default for RequestCache<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T: Clone> RequestCache<T> {
    /// The value, made by `make` the first time. The lock is held while it is made, so two
    /// extractors of one request never load it twice.
    pub(crate) async fn get_or_try_init<E, F>(&self, make: impl FnOnce() -> F) -> Result<T, E>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let mut slot = self.0.lock().await;
        if let Some(v) = slot.as_ref() {
            return Ok(v.clone());
        }
        let v = make().await?;
        *slot = Some(v.clone());
        Ok(v)
    }

    /// Replace the value.
    pub(crate) async fn set(&self, value: T) {
        *self.0.lock().await = Some(value);
    }

    /// Forget the value: the next use makes it again.
    pub(crate) async fn clear(&self) {
        *self.0.lock().await = None;
    }
}

/// The CSRF secret of one request (the logic, and a `Debug` that hides the secret, are in
/// [`crate::csrf`]).
#[derive(Default)]
pub(crate) struct CsrfState {
    /// The secret from the cookie (already unmasked), if it was valid.
    pub(crate) secret: Option<String>,
    /// `get_token()` was called or the token rotated: send the cookie.
    pub(crate) needs_cookie: bool,
}

/// The messages of one request (the logic is in [`crate::messages`]).
#[derive(Debug, Default)]
pub(crate) struct MessageState {
    pub(crate) queued: Vec<Message>,
    pub(crate) used: bool,
    /// What the cookie and the session held: `None` until read.
    pub(crate) loaded: Option<LoadedMessages>,
}

/// The messages a request arrived with.
#[derive(Debug, Default, Clone)]
pub(crate) struct LoadedMessages {
    pub(crate) cookie: Vec<Message>,
    pub(crate) session: Vec<Message>,
    pub(crate) had_cookie: bool,
}
