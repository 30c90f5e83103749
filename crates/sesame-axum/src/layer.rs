//! The tower layers: Django's middlewares over a [`Sesame`] configuration.
//!
//! | layer | Django |
//! |---|---|
//! | [`SesameLayer`] ([`Sesame::layer`]) | all of the below, in Django's order, as one service |
//! | [`SessionLayer`] ([`Sesame::session_layer`]) | `SecurityMiddleware`, `SessionMiddleware`, `CommonMiddleware`'s host check, `AuthenticationMiddleware` |
//! | [`CsrfLayer`] ([`Sesame::csrf_layer`]) | `CsrfViewMiddleware` |
//! | [`MessagesLayer`] ([`Sesame::messages_layer`]) | `MessageMiddleware` |
//!
//! The CSRF and messages layers go inside a session layer, as in Django's `MIDDLEWARE`
//! list; axum applies the last `.layer(..)` outermost. Every layer makes the same service
//! type ([`SesameService`]), which runs the stages its layer asked for: the combined layer
//! costs one service per request, not four.

use crate::config::Sesame;
use crate::cookies::{MAX_COOKIE_HEADER, delete_cookie, parse_cookie, set_cookie};
use crate::error::SesameError;
use crate::state::{RequestInner, RequestState};
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::header::{COOKIE, SET_COOKIE, VARY};
use axum::http::{HeaderValue, Request, Response};
use axum::response::IntoResponse;
use chrono::Utc;
use sesame_core::session::Session;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::Mutex;

/// Which of Django's middlewares a [`SesameService`] runs.
#[derive(Debug, Clone, Copy)]
struct Stages {
    /// Security checks, the session and the user: makes the [`RequestState`].
    base: bool,
    csrf: bool,
    messages: bool,
}

macro_rules! sesame_layer {
    ($(#[$doc:meta])* $name:ident, $stages:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            sesame: Sesame,
        }

        impl $name {
            pub(crate) fn new(sesame: Sesame) -> Self {
                Self { sesame }
            }
        }

        impl<S> tower::Layer<S> for $name {
            type Service = SesameService<S>;

            fn layer(&self, inner: S) -> Self::Service {
                SesameService {
                    inner,
                    sesame: self.sesame.clone(),
                    stages: $stages,
                }
            }
        }
    };
}

sesame_layer!(
    /// Django's security, session, CSRF, authentication and messages middlewares at once
    /// (see [`Sesame::layer`]).
    SesameLayer,
    Stages { base: true, csrf: true, messages: true }
);
sesame_layer!(
    /// The security checks, the lazy session and the user (see [`Sesame::session_layer`]).
    SessionLayer,
    Stages { base: true, csrf: false, messages: false }
);
sesame_layer!(
    /// The CSRF check and cookie, inside a [`SessionLayer`] (see [`Sesame::csrf_layer`]).
    CsrfLayer,
    Stages { base: false, csrf: true, messages: false }
);
sesame_layer!(
    /// Messages kept across requests, inside a [`SessionLayer`] (see
    /// [`Sesame::messages_layer`]).
    MessagesLayer,
    Stages { base: false, csrf: false, messages: true }
);

/// The service every Sesame layer wraps around a router or a route.
#[derive(Debug, Clone)]
pub struct SesameService<S> {
    inner: S,
    sesame: Sesame,
    stages: Stages,
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
        let stages = self.stages;
        Box::pin(async move {
            let policy = &sesame.inner.security;
            let (state, had_cookie) = if stages.base {
                // Django's SecurityMiddleware and CommonMiddleware come first: a foreign Host
                // or a plain-HTTP request under SECURE_SSL_REDIRECT goes no further.
                match begin(&sesame, &mut req) {
                    Ok(begun) => begun,
                    Err(mut refused) => {
                        policy.finish_response(None, &mut refused);
                        return Ok(refused);
                    }
                }
            } else {
                match req.extensions().get::<RequestState>() {
                    Some(state) => (state.clone(), false),
                    // A CSRF or messages layer outside any session layer: a wiring bug.
                    None => return Ok(SesameError::MissingLayer.into_response()),
                }
            };
            if stages.messages {
                state.enable_messages();
            }
            let checked = if stages.csrf {
                state.enable_csrf();
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or(req.uri().path(), MatchedPath::as_str);
                if sesame.is_csrf_exempt(route) {
                    Ok(req)
                } else {
                    crate::csrf::check(&state, req).await
                }
            } else {
                Ok(req)
            };
            let mut response = match checked {
                Ok(req) => inner.call(req).await?,
                Err(rejection) => rejection,
            };
            // On the way out, innermost first, as Django runs `process_response`: messages
            // are stored before the session is saved (they may live in it).
            if stages.messages
                && let Err(e) = crate::messages::store(&state, &mut response).await
            {
                response = e.into_response();
            }
            if stages.csrf {
                crate::csrf::set_cookie_if_needed(&state, &mut response);
            }
            if stages.base {
                let mut response = finish(&state, had_cookie, response).await;
                policy.finish_response(Some(state.security()), &mut response);
                return Ok(response);
            }
            Ok(response)
        })
    }
}

/// `SecurityMiddleware.process_request` and `SessionMiddleware.process_request`: the
/// request's state, put in its extensions, and whether it came with a session cookie; or
/// the answer that refuses it.
// The refusal is the response itself, made once per refused request: boxing it would cost
// every accepted request an allocation for nothing.
#[allow(clippy::result_large_err)]
fn begin(sesame: &Sesame, req: &mut Request<Body>) -> Result<(RequestState, bool), Response<Body>> {
    let policy = &sesame.inner.security;
    let security = policy.check_request(req)?;
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
    let state = RequestState::new(RequestInner {
        sesame: sesame.clone(),
        session: Mutex::new(session),
        user: Default::default(),
        perms: Default::default(),
        csrf: std::sync::Mutex::new(crate::csrf::state_from_cookie(csrf_cookie.as_deref())),
        messages: Default::default(),
        csrf_layer: Default::default(),
        messages_layer: Default::default(),
        client_ip: policy.client_ip(req.headers(), connection_ip),
        raw_messages_cookie: cookie(sesame_core::messages::COOKIE_NAME),
        security: security.clone(),
    });
    req.extensions_mut().insert(state.clone());
    req.extensions_mut().insert(security);
    Ok((state, raw_key.is_some()))
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

/// Django's `SessionMiddleware.process_response`.
async fn finish(
    state: &RequestState,
    had_cookie: bool,
    mut response: Response<Body>,
) -> Response<Body> {
    let inner = &state.0.sesame.inner;
    let settings = &inner.settings;
    let mut session = state.0.session.lock().await;
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
            Err(e) => return SesameError::from(e).into_response(),
        };
        let max_age = if browser_close {
            None
        } else {
            match session.get_expiry_age().await {
                Ok(a) => Some(a),
                Err(e) => return SesameError::from(e).into_response(),
            }
        };
        if let Err(e) = session.save().await {
            return SesameError::from(e).into_response();
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
    if vary {
        add_vary_cookie(&mut response);
    }
    response
}
