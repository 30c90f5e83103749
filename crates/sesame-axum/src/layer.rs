//! [`Sesame`] (the shared configuration) and [`SesameLayer`], the tower layer that gives each
//! request a lazy session and applies Django's response rules on the way out.

use crate::cookies::{
    CookieAttributes, MAX_COOKIE_HEADER, delete_cookie, parse_cookie, set_cookie,
};
use crate::csrf::CsrfState;
use crate::error::SesameError;
use axum::body::Body;
use axum::http::header::{COOKIE, SET_COOKIE, VARY};
use axum::http::{HeaderValue, Request, Response};
use chrono::Utc;
use sesame_core::auth::{Auth, User, UserPermissions};
use sesame_core::session::{Session, SessionConfig, SessionStore};
use sesame_core::settings::Settings;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Mutex;

/// The configuration shared by every request: settings, the session store and, optionally,
/// authentication.
///
/// ```
/// use sesame_axum::Sesame;
/// use sesame_core::session::{MemorySessionStore, SessionCodec};
/// use sesame_core::settings::Settings;
/// use std::sync::Arc;
///
/// let settings = Settings { secret_key: "s3cr3t".into(), ..Settings::default() };
/// let store = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(&settings)));
/// let sesame = Sesame::new(settings, store);
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hi" }))
///     .layer(sesame.layer());
/// ```
#[derive(Clone)]
pub struct Sesame {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) settings: Settings,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) auth: Option<Auth>,
    pub(crate) session_config: SessionConfig,
    pub(crate) cookie: CookieAttributes,
    pub(crate) api_prefix: String,
    pub(crate) throttle: crate::throttle::Throttle,
    pub(crate) session_user: Option<Arc<dyn sesame_core::session::SessionUserStore>>,
    pub(crate) prefetch_permissions: bool,
    pub(crate) security: crate::security::SecurityPolicy,
}

impl Sesame {
    /// Sessions over `store`, with Django's settings.
    pub fn new(settings: Settings, store: Arc<dyn SessionStore>) -> Self {
        let cookie = CookieAttributes {
            domain: settings.session.cookie_domain.clone(),
            path: settings.session.cookie_path.clone(),
            secure: settings.session.cookie_secure,
            http_only: settings.session.cookie_httponly,
            same_site: settings.session.cookie_samesite.to_string(),
        };
        Self {
            inner: Arc::new(Inner {
                security: crate::security::SecurityPolicy::from_settings(&settings),
                session_config: SessionConfig::from_settings(&settings),
                throttle: default_throttle(&settings),
                settings,
                store,
                auth: None,
                cookie,
                api_prefix: "/api/".into(),
                session_user: None,
                prefetch_permissions: false,
            }),
        }
    }

    fn map(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                settings: shared.settings.clone(),
                store: shared.store.clone(),
                auth: shared.auth.clone(),
                session_config: shared.session_config,
                cookie: shared.cookie.clone(),
                api_prefix: shared.api_prefix.clone(),
                throttle: shared.throttle.clone(),
                session_user: shared.session_user.clone(),
                prefetch_permissions: shared.prefetch_permissions,
                security: shared.security.clone(),
            },
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Add authentication (the user, login, logout, guards).
    pub fn with_auth(self, auth: Auth) -> Self {
        self.map(|i| i.auth = Some(auth))
    }

    /// Load the session and its user in one round trip when a request needs both (e.g.
    /// `sesame_sql::SqlSessionWithUser` over the same database as the session store).
    pub fn with_session_user_store(
        self,
        store: Arc<dyn sesame_core::session::SessionUserStore>,
    ) -> Self {
        self.map(|i| i.session_user = Some(store))
    }

    /// With a session-user store: fetch the user's permissions in the same round trip as
    /// the session and the user, for apps whose pages nearly all look at permissions (the
    /// ready-made site's templates get `perms`, `/api/whoami` lists them). Off by default, as
    /// a request that never asks for permissions would pay for them. The permissions are used
    /// only for users of a backend with `ModelBackend`'s rule
    /// ([`AuthenticationBackend::prefetched_permissions`]).
    ///
    /// [`AuthenticationBackend::prefetched_permissions`]: sesame_core::auth::backend::AuthenticationBackend::prefetched_permissions
    pub fn with_prefetched_permissions(self, prefetch: bool) -> Self {
        self.map(|i| i.prefetch_permissions = prefetch)
    }

    /// Routes under this prefix answer `401` JSON instead of redirecting to the login page.
    pub fn with_api_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.map(|i| i.api_prefix = prefix)
    }

    /// Login, signup and password-reset throttling: its limits and the store of its
    /// counters. Without this, the limits come from the settings and the counters live in
    /// this process's memory; an application with several instances gives them one shared
    /// store here (`sesame_sql::SqlThrottleStore`, `sesame_redis::RedisThrottleStore`,
    /// `sesame_mongodb::MongoThrottleStore`), as `sesame serve` does.
    pub fn with_throttle(self, throttle: crate::throttle::Throttle) -> Self {
        self.map(|i| i.throttle = throttle)
    }

    /// The login throttle (for views that throttle other requests, such as signup).
    pub fn throttle(&self) -> &crate::throttle::Throttle {
        &self.inner.throttle
    }

    /// The host, HTTPS and header rules of Django's `SecurityMiddleware` (from the settings).
    pub fn security_policy(&self) -> &crate::security::SecurityPolicy {
        &self.inner.security
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The session store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// Authentication, if configured.
    pub fn auth(&self) -> Option<&Auth> {
        self.inner.auth.as_ref()
    }

    /// The tower layer.
    pub fn layer(&self) -> SesameLayer {
        SesameLayer {
            sesame: self.clone(),
        }
    }
}

/// The throttle of [`Sesame::new`]: the settings' limits, in memory. Settings that cannot be
/// used are logged and the defaults stand in (a constructor that cannot fail cannot refuse
/// them); `sesame serve` checks them with `ThrottleConfig::from_settings` and refuses to
/// start instead.
fn default_throttle(settings: &Settings) -> crate::throttle::Throttle {
    let config = crate::throttle::ThrottleConfig::from_settings(settings).unwrap_or_else(|e| {
        tracing::error!(target: "sesame::throttle", error = %e, "throttle settings ignored; using the defaults");
        crate::throttle::ThrottleConfig::default()
    });
    crate::throttle::Throttle::in_memory(config)
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

/// Per-request state, in the request's extensions.
#[derive(Clone)]
pub struct RequestState {
    pub(crate) sesame: Sesame,
    pub(crate) session: Arc<Mutex<Session>>,
    pub(crate) user: Arc<RequestCache<Option<User>>>,
    pub(crate) perms: Arc<RequestCache<UserPermissions>>,
    pub(crate) csrf: Arc<std::sync::Mutex<CsrfState>>,
    pub(crate) messages: Arc<std::sync::Mutex<crate::messages::MessageState>>,
    pub(crate) client_ip: Option<std::net::IpAddr>,
    pub(crate) raw_messages_cookie: Option<String>,
    pub(crate) security: crate::security::RequestSecurity,
}

impl RequestState {
    /// The configuration.
    pub fn sesame(&self) -> &Sesame {
        &self.sesame
    }

    /// The request's validated host and scheme.
    pub fn security(&self) -> &crate::security::RequestSecurity {
        &self.security
    }

    /// The client's address: the connection's, or the one the trusted proxy reported
    /// (`trusted_proxy_header`, `trusted_proxy_count`).
    pub fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.client_ip
    }
}

/// The layer: a lazy session per request, and Django's `SessionMiddleware` rules on the way
/// out (see [`Sesame`]).
#[derive(Clone)]
pub struct SesameLayer {
    sesame: Sesame,
}

impl<S> tower::Layer<S> for SesameLayer {
    type Service = SesameService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SesameService {
            inner,
            sesame: self.sesame.clone(),
        }
    }
}

/// The service [`SesameLayer`] wraps around a router.
#[derive(Clone)]
pub struct SesameService<S> {
    inner: S,
    sesame: Sesame,
}

impl<S> tower::Service<Request<Body>> for SesameService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The ready service handles this request; a fresh clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let sesame = self.sesame.clone();
        Box::pin(async move {
            let policy = &sesame.inner.security;
            // Django's SecurityMiddleware and CommonMiddleware come first: a foreign Host
            // or a plain-HTTP request under SECURE_SSL_REDIRECT goes no further.
            let security = match policy.check_request(&req) {
                Ok(s) => s,
                Err(mut refused) => {
                    policy.finish_response(None, &mut refused);
                    return Ok(refused);
                }
            };
            let settings = &sesame.inner.settings;
            let cookie_header: String = req
                .headers()
                .get_all(COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join("; ");
            let cookie_header = if cookie_header.len() > MAX_COOKIE_HEADER {
                String::new()
            } else {
                cookie_header
            };
            // Parsed once for the three cookies read here (each name appears once in it).
            let cookies = parse_cookie(&cookie_header);
            let cookie = |name: &str| {
                cookies
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            let raw_key = cookie(&settings.session.cookie_name);
            let session = Session::new(
                sesame.inner.store.clone(),
                sesame.inner.session_config,
                raw_key.as_deref(),
            );
            let csrf_cookie = cookie(&settings.csrf.cookie_name);
            let connection_ip = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let client_ip = policy.client_ip(req.headers(), connection_ip);
            let state = RequestState {
                sesame: sesame.clone(),
                session: Arc::new(Mutex::new(session)),
                user: Arc::default(),
                perms: Arc::default(),
                csrf: Arc::new(std::sync::Mutex::new(CsrfState::from_cookie(
                    csrf_cookie.as_deref(),
                ))),
                messages: Default::default(),
                client_ip,
                raw_messages_cookie: cookie(sesame_core::messages::COOKIE_NAME),
                security: security.clone(),
            };
            req.extensions_mut().insert(state.clone());
            req.extensions_mut().insert(security.clone());

            let response = match crate::csrf::check(&state, req).await {
                Ok(req) => inner.call(req).await?,
                Err(rejection) => rejection,
            };
            let mut response = finish(&state, raw_key.is_some(), response).await;
            policy.finish_response(Some(&security), &mut response);
            Ok(response)
        })
    }
}

fn add_vary_cookie(response: &mut Response<Body>) {
    let existing: Vec<String> = response
        .headers()
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()))
        .collect();
    if !existing
        .iter()
        .any(|v| v.eq_ignore_ascii_case("cookie") || v == "*")
    {
        response
            .headers_mut()
            .append(VARY, HeaderValue::from_static("Cookie"));
    }
}

fn push_cookie(response: &mut Response<Body>, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(SET_COOKIE, v);
    }
}

/// Django's `SessionMiddleware.process_response` (and the messages and CSRF cookies).
async fn finish(
    state: &RequestState,
    had_cookie: bool,
    mut response: Response<Body>,
) -> Response<Body> {
    let inner = &state.sesame.inner;
    let settings = &inner.settings;
    // Messages are stored before the session is saved (they may live in it).
    if let Err(e) = crate::messages::store(state, &mut response).await {
        return e.into_response_checked();
    }
    let mut session = state.session.lock().await;
    let accessed = session.accessed();
    let mut vary = accessed;
    if had_cookie && session.is_empty() {
        push_cookie(
            &mut response,
            delete_cookie(&settings.session.cookie_name, &inner.cookie),
        );
        vary = true;
    } else if (session.modified() || settings.session.save_every_request)
        && !session.is_empty()
        // On a 5xx response nothing is saved and no cookie is set, as in Django.
        && response.status().as_u16() < 500
    {
        let browser_close = match session.get_expire_at_browser_close().await {
            Ok(b) => b,
            Err(e) => return SesameError::from(e).into_response_checked(),
        };
        let max_age = if browser_close {
            None
        } else {
            match session.get_expiry_age().await {
                Ok(a) => Some(a),
                Err(e) => return SesameError::from(e).into_response_checked(),
            }
        };
        if let Err(e) = session.save().await {
            return SesameError::from(e).into_response_checked();
        }
        if let Some(key) = session.session_key() {
            push_cookie(
                &mut response,
                set_cookie(
                    &settings.session.cookie_name,
                    key,
                    max_age,
                    Utc::now(),
                    &inner.cookie,
                ),
            );
            vary = true;
        }
    }
    drop(session);
    crate::csrf::set_cookie_if_needed(state, &mut response);
    if vary {
        add_vary_cookie(&mut response);
    }
    response
}

trait IntoResponseChecked {
    fn into_response_checked(self) -> Response<Body>;
}

impl IntoResponseChecked for SesameError {
    fn into_response_checked(self) -> Response<Body> {
        axum::response::IntoResponse::into_response(self)
    }
}
