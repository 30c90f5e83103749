//! [`Sesame`], the configuration every request shares, and [`SesameBuilder`], the one way to
//! make it (in the manner of axum-login's `AuthManagerLayerBuilder` and actix-session's
//! `SessionMiddlewareBuilder`).

use crate::cookies::CookieAttributes;
use crate::layer::{CsrfLayer, MessagesLayer, SesameLayer, SessionLayer};
use crate::security::SecurityPolicy;
use crate::throttle::{Throttle, ThrottleConfig};
use sesame_core::auth::Auth;
use sesame_core::session::{SessionConfig, SessionStore, SessionUserStore};
use sesame_core::settings::Settings;
use std::sync::Arc;

/// The configuration shared by every request: settings, the session store and, optionally,
/// authentication. Cheap to clone (one `Arc`).
///
/// Made by [`Sesame::builder`] (or [`Sesame::new`] for sessions alone); its layers are
/// [`Sesame::layer`] (Django's four middlewares at once) or, to compose them yourself,
/// [`Sesame::session_layer`], [`Sesame::csrf_layer`] and [`Sesame::messages_layer`].
///
/// # Examples
///
/// ```
/// use sesame_axum::Sesame;
/// use sesame_core::session::{MemorySessionStore, SessionCodec};
/// use sesame_core::settings::Settings;
/// use std::sync::Arc;
///
/// let settings = Settings { secret_key: "s3cr3t".into(), ..Settings::default() };
/// let store = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(&settings)));
/// let sesame = Sesame::builder(settings, store)
///     .api_prefix("/api/")
///     .csrf_exempt("/hooks/payment")
///     .build();
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hi" }))
///     .layer(sesame.layer());
/// ```
#[derive(Clone)]
pub struct Sesame {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Sesame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings hold the secret key: only what identifies the configuration.
        f.debug_struct("Sesame")
            .field("store", &self.inner.store.name())
            .field("auth", &self.inner.auth)
            .field("api_prefix", &self.inner.api_prefix)
            .field("csrf_exempt", &self.inner.csrf_exempt)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) settings: Settings,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) auth: Option<Auth>,
    pub(crate) session_config: SessionConfig,
    pub(crate) cookie: CookieAttributes,
    pub(crate) api_prefix: String,
    pub(crate) throttle: Throttle,
    pub(crate) session_user: Option<Arc<dyn SessionUserStore>>,
    pub(crate) prefetch_permissions: bool,
    pub(crate) security: SecurityPolicy,
    pub(crate) csrf_exempt: Vec<String>,
}

impl Sesame {
    /// Sessions over `store`, with Django's settings, and nothing else configured: the same
    /// as `Sesame::builder(settings, store).build()`.
    pub fn new(settings: Settings, store: Arc<dyn SessionStore>) -> Self {
        Self::builder(settings, store).build()
    }

    /// A builder over the settings and the session store; authentication, the throttle and
    /// the rest are optional.
    pub fn builder(settings: Settings, store: Arc<dyn SessionStore>) -> SesameBuilder {
        SesameBuilder {
            settings,
            store,
            auth: None,
            session_user: None,
            prefetch_permissions: false,
            api_prefix: "/api/".into(),
            throttle: None,
            csrf_exempt: Vec::new(),
        }
    }

    /// The login throttle (for views that throttle other requests, such as signup).
    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// The host, HTTPS and header rules of Django's `SecurityMiddleware` (from the settings).
    pub fn security_policy(&self) -> &SecurityPolicy {
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

    /// Django's `SecurityMiddleware`, `SessionMiddleware`, `CsrfViewMiddleware`,
    /// `AuthenticationMiddleware` and `MessageMiddleware`, in Django's order, as one layer
    /// (one service per request, the fastest way to run them all).
    pub fn layer(&self) -> SesameLayer {
        SesameLayer::new(self.clone())
    }

    /// The base layer alone: security checks, the session and the user. Put
    /// [`csrf_layer`](Self::csrf_layer) and [`messages_layer`](Self::messages_layer) inside
    /// it (axum applies the last `.layer` outermost) where you want them.
    ///
    /// ```
    /// # use sesame_axum::Sesame;
    /// # use sesame_core::session::{MemorySessionStore, SessionCodec};
    /// # use sesame_core::settings::Settings;
    /// # use std::sync::Arc;
    /// # let settings = Settings { secret_key: "s3cr3t".into(), ..Settings::default() };
    /// # let store = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(&settings)));
    /// # let sesame = Sesame::new(settings, store);
    /// use axum::routing::{get, post};
    /// // Forms are CSRF-checked; the webhook, which a third party posts to, is not.
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/profile/", get(|| async { "form" }).post(|| async { "saved" }))
    ///     .route_layer(sesame.csrf_layer())
    ///     .route("/hooks/payment", post(|| async { "ok" }))
    ///     .layer(sesame.messages_layer())
    ///     .layer(sesame.session_layer());
    /// ```
    pub fn session_layer(&self) -> SessionLayer {
        SessionLayer::new(self.clone())
    }

    /// Django's `CsrfViewMiddleware` alone, inside a [`session_layer`](Self::session_layer).
    pub fn csrf_layer(&self) -> CsrfLayer {
        CsrfLayer::new(self.clone())
    }

    /// Django's `MessageMiddleware` alone, inside a [`session_layer`](Self::session_layer).
    pub fn messages_layer(&self) -> MessagesLayer {
        MessagesLayer::new(self.clone())
    }

    /// Whether the CSRF check skips this route: `route` is the matched route as written in
    /// `Router::route` when axum has matched one, else the request's path.
    pub(crate) fn is_csrf_exempt(&self, route: &str) -> bool {
        self.inner.csrf_exempt.iter().any(|r| r == route)
    }

    pub(crate) fn api_prefix(&self) -> &str {
        &self.inner.api_prefix
    }
}

/// Builds a [`Sesame`]: start with [`Sesame::builder`], finish with [`build`](Self::build).
///
/// ```
/// use sesame_axum::Sesame;
/// use sesame_core::auth::{Auth, ModelBackend, MemoryAuthStore};
/// use sesame_core::auth::hashers::{Hashers, PasswordHashing};
/// use sesame_core::session::{MemorySessionStore, SessionCodec};
/// use sesame_core::settings::Settings;
/// use std::sync::Arc;
///
/// let settings = Settings { secret_key: "s3cr3t".into(), ..Settings::default() };
/// let hashing = PasswordHashing::new(Hashers::from_settings(&settings).unwrap(), 1);
/// let backend = ModelBackend::new(Arc::new(MemoryAuthStore::new()), hashing);
/// let auth = Auth::from_settings(backend, &settings);
/// let store = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(&settings)));
/// let sesame = Sesame::builder(settings, store).auth(auth).build();
/// assert!(sesame.auth().is_some());
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct SesameBuilder {
    settings: Settings,
    store: Arc<dyn SessionStore>,
    auth: Option<Auth>,
    session_user: Option<Arc<dyn SessionUserStore>>,
    prefetch_permissions: bool,
    api_prefix: String,
    throttle: Option<Throttle>,
    csrf_exempt: Vec<String>,
}

impl std::fmt::Debug for SesameBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesameBuilder")
            .field("store", &self.store.name())
            .field("auth", &self.auth)
            .field("api_prefix", &self.api_prefix)
            .finish_non_exhaustive()
    }
}

impl SesameBuilder {
    /// Authentication: the user, login, logout and the guards.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Load the session and its user in one round trip when a request needs both (e.g.
    /// `sesame_sql::SqlSessionWithUser` over the same database as the session store).
    pub fn session_user_store(mut self, store: Arc<dyn SessionUserStore>) -> Self {
        self.session_user = Some(store);
        self
    }

    /// With a session-user store: fetch the user's permissions in the same round trip as
    /// the session and the user, for apps whose pages nearly all look at permissions (the
    /// ready-made site's templates get `perms`, `/api/whoami` lists them). Off by default, as
    /// a request that never asks for permissions would pay for them. The permissions are used
    /// only for users of a backend with `ModelBackend`'s rule
    /// ([`AuthenticationBackend::prefetched_permissions`]).
    ///
    /// [`AuthenticationBackend::prefetched_permissions`]: sesame_core::auth::backend::AuthenticationBackend::prefetched_permissions
    pub fn prefetched_permissions(mut self, prefetch: bool) -> Self {
        self.prefetch_permissions = prefetch;
        self
    }

    /// Routes under this prefix answer `401` JSON instead of redirecting to the login page
    /// (default `/api/`).
    pub fn api_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.api_prefix = prefix.into();
        self
    }

    /// Login, signup and password-reset throttling: its limits and the store of its
    /// counters. Without this, the limits come from the settings and the counters live in
    /// this process's memory; an application with several instances gives them one shared
    /// store here (`sesame_sql::SqlThrottleStore`, `sesame_redis::RedisThrottleStore`,
    /// `sesame_mongodb::MongoThrottleStore`), as `sesame serve` does.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Skip the CSRF check for one route, as Django's `@csrf_exempt` does for one view (a
    /// webhook that a third party posts to, say). `route` is the path as written in
    /// `Router::route` (`/hooks/{provider}`); for routes without parameters, the request path.
    /// Everything else about the request (its session, its user) is unchanged.
    pub fn csrf_exempt(mut self, route: impl Into<String>) -> Self {
        self.csrf_exempt.push(route.into());
        self
    }

    /// The configuration.
    pub fn build(self) -> Sesame {
        let settings = self.settings;
        let cookie = CookieAttributes {
            domain: settings.session.cookie_domain.clone(),
            path: settings.session.cookie_path.clone(),
            secure: settings.session.cookie_secure,
            http_only: settings.session.cookie_httponly,
            same_site: settings.session.cookie_samesite.to_string(),
        };
        Sesame {
            inner: Arc::new(Inner {
                security: SecurityPolicy::from_settings(&settings),
                session_config: SessionConfig::from_settings(&settings),
                throttle: self.throttle.unwrap_or_else(|| default_throttle(&settings)),
                cookie,
                store: self.store,
                auth: self.auth,
                api_prefix: self.api_prefix,
                session_user: self.session_user,
                prefetch_permissions: self.prefetch_permissions,
                csrf_exempt: self.csrf_exempt,
                settings,
            }),
        }
    }
}

/// The throttle without [`SesameBuilder::throttle`]: the settings' limits, in memory.
/// Settings that cannot be used are logged and the defaults stand in (`build` cannot fail);
/// `sesame serve` and `sesame::from_settings` check them with `ThrottleConfig::from_settings`
/// and refuse to start instead.
fn default_throttle(settings: &Settings) -> Throttle {
    let config = ThrottleConfig::from_settings(settings).unwrap_or_else(|e| {
        tracing::error!(target: "sesame::throttle", error = %e, "throttle settings ignored; using the defaults");
        ThrottleConfig::default()
    });
    Throttle::in_memory(config)
}
