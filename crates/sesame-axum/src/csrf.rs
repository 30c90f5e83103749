//! Django's `CsrfViewMiddleware`: the `csrftoken` cookie (or `CSRF_USE_SESSIONS`), the
//! `csrfmiddlewaretoken` form field and the `X-CSRFToken` header, Origin and Referer checks,
//! trusted origins, and a clear 403 page.

use crate::error::SesameError;
use crate::state::{CsrfState, RequestState};
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use sesame_core::csrf::{self, CSRF_SESSION_KEY};

/// Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`: the largest form body read for the token.
pub const MAX_FORM_BODY: usize = 2_621_440;

/// The request's CSRF state from its `csrftoken` cookie (the secret, if the cookie is valid).
pub(crate) fn state_from_cookie(cookie: Option<&str>) -> CsrfState {
    CsrfState {
        secret: cookie.and_then(|c| csrf::secret_from_cookie(c).ok()),
        needs_cookie: false,
    }
}

impl std::fmt::Debug for CsrfState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is what every masked token is derived from: never printed.
        f.debug_struct("CsrfState")
            .field("has_secret", &self.secret.is_some())
            .field("needs_cookie", &self.needs_cookie)
            .finish()
    }
}

fn lock(state: &RequestState) -> std::sync::MutexGuard<'_, CsrfState> {
    state.0.csrf.lock().unwrap_or_else(|e| e.into_inner())
}

/// The masked token for this request's forms (`{% csrf_token %}` / `get_token(request)`).
///
/// ```
/// use sesame_axum::CsrfToken;
/// async fn form(token: CsrfToken) -> String {
///     format!(r#"<input type="hidden" name="csrfmiddlewaretoken" value="{}">"#, token.0)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = RequestState::from_parts(parts)?;
        Ok(CsrfToken(get_token(&state).await?))
    }
}

/// `get_token(request)`: a fresh mask of the secret (creating the secret if needed).
///
/// Fails with [`SesameError::MissingLayer`] on a route without the CSRF layer, whose
/// response would never carry the cookie the token belongs to.
pub async fn get_token(state: &RequestState) -> Result<String, SesameError> {
    if !state.csrf_enabled() {
        return Err(SesameError::MissingLayer);
    }
    if state.sesame().settings().csrf.use_sessions {
        let mut session = state.0.session.lock().await;
        let secret = match session
            .get(CSRF_SESSION_KEY)
            .await?
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            Some(s) if csrf::check_token_format(&s).is_ok() => {
                csrf::secret_from_cookie(&s).unwrap_or(s)
            }
            _ => {
                let s = csrf::get_new_csrf_secret();
                session.insert(CSRF_SESSION_KEY, s.clone().into()).await?;
                s
            }
        };
        return Ok(csrf::mask_cipher_secret(&secret));
    }
    let mut st = lock(state);
    let secret = st
        .secret
        .get_or_insert_with(csrf::get_new_csrf_secret)
        .clone();
    st.needs_cookie = true;
    Ok(csrf::mask_cipher_secret(&secret))
}

/// `rotate_token(request)`, as `login()` does.
pub async fn rotate_token(state: &RequestState) -> Result<(), SesameError> {
    if state.sesame().settings().csrf.use_sessions {
        let mut session = state.0.session.lock().await;
        session
            .insert(CSRF_SESSION_KEY, csrf::get_new_csrf_secret().into())
            .await?;
        return Ok(());
    }
    let mut st = lock(state);
    st.secret = Some(csrf::get_new_csrf_secret());
    st.needs_cookie = true;
    Ok(())
}

pub(crate) fn set_cookie_if_needed(state: &RequestState, response: &mut Response<Body>) {
    let settings = state.sesame().settings();
    if settings.csrf.use_sessions {
        return;
    }
    let st = lock(state);
    let (true, Some(secret)) = (st.needs_cookie, st.secret.as_ref()) else {
        return;
    };
    let attrs = crate::cookies::CookieAttributes {
        domain: settings.csrf.cookie_domain.clone(),
        path: settings.csrf.cookie_path.clone(),
        secure: settings.csrf.cookie_secure,
        http_only: settings.csrf.cookie_httponly,
        same_site: settings.csrf.cookie_samesite.to_string(),
    };
    let value = crate::cookies::set_cookie(
        &settings.csrf.cookie_name,
        secret,
        Some(settings.csrf.cookie_age),
        chrono::Utc::now(),
        &attrs,
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, v);
        response
            .headers_mut()
            .append(axum::http::header::VARY, HeaderValue::from_static("Cookie"));
    }
}

/// The 403 answer, with Django's reason texts.
pub fn forbidden(reason: &str) -> Response<Body> {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>403 Forbidden</title></head>\
         <body><h1>Forbidden <span>(403)</span></h1><p>CSRF verification failed. Request aborted.</p>\
         <p>Reason given for failure:</p><pre>{}</pre></body></html>",
        html_escape(reason)
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

fn header<'a>(req: &'a Request<Body>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `https://*.example.com` matches `https://a.example.com`; other entries match exactly.
fn origin_trusted(origin: &str, trusted: &[String]) -> bool {
    trusted.iter().any(|t| {
        if t == origin {
            return true;
        }
        match (t.split_once("://*."), origin.split_once("://")) {
            (Some((scheme, domain)), Some((oscheme, ohost))) => {
                scheme == oscheme && (ohost == domain || ohost.ends_with(&format!(".{domain}")))
            }
            _ => false,
        }
    })
}

/// The checks of `CsrfViewMiddleware.process_view`. Returns the request (its form body
/// buffered and put back) or the 403 answer.
pub(crate) async fn check(
    state: &RequestState,
    req: Request<Body>,
) -> Result<Request<Body>, Response<Body>> {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(req);
    }
    let settings = state.sesame().settings();
    // The host validated against ALLOWED_HOSTS, and HTTPS as SECURE_PROXY_SSL_HEADER says:
    // behind a TLS-terminating proxy the Referer check runs, as in Django.
    let secure = state.security().is_secure();
    let host = state.security().host();
    if let Some(origin) = header(&req, "origin") {
        let scheme = if secure { "https" } else { "http" };
        if origin != format!("{scheme}://{host}")
            && !origin_trusted(origin, &settings.csrf.trusted_origins)
        {
            return Err(forbidden(&format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            )));
        }
    } else if secure {
        let Some(referer) = header(&req, "referer") else {
            return Err(forbidden("Referer checking failed - no Referer."));
        };
        let Some(rest) = referer.strip_prefix("https://") else {
            return Err(forbidden(
                "Referer checking failed - Referer is insecure while host is secure.",
            ));
        };
        let ref_host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let trusted_host = settings.csrf.trusted_origins.iter().any(|t| {
            t.split_once("://").is_some_and(|(_, h)| {
                h == ref_host || (h.starts_with("*.") && ref_host.ends_with(&h[1..]))
            })
        });
        let cookie_domain = if settings.csrf.use_sessions {
            &settings.session.cookie_domain
        } else {
            &settings.csrf.cookie_domain
        };
        let domain_ok = cookie_domain.as_deref().is_some_and(|d| {
            let d = d.trim_start_matches('.');
            ref_host == d || ref_host.ends_with(&format!(".{d}"))
        });
        if !(ref_host == host || trusted_host || domain_ok) {
            return Err(forbidden(&format!(
                "Referer checking failed - {referer} does not match any trusted origins."
            )));
        }
    }

    let secret = if settings.csrf.use_sessions {
        let mut session = state.0.session.lock().await;
        match session.get(CSRF_SESSION_KEY).await {
            Ok(v) => v.and_then(|v| v.as_str().and_then(|s| csrf::secret_from_cookie(s).ok())),
            Err(e) => {
                return Err(axum::response::IntoResponse::into_response(
                    SesameError::from(e),
                ));
            }
        }
    } else {
        lock(state).secret.clone()
    };
    let Some(secret) = secret else {
        return Err(forbidden(if settings.csrf.use_sessions {
            "CSRF token missing."
        } else {
            "CSRF cookie not set."
        }));
    };

    let header_name = settings.csrf.header_name.clone();
    let (req, token, source) = match header(&req, &header_name).map(str::to_owned) {
        Some(t) => (req, Some(t), format!("the '{header_name}' HTTP header")),
        None => {
            let is_form = header(&req, "content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                (req, None, "POST".to_owned())
            } else {
                let (parts, body) = req.into_parts();
                let bytes = match axum::body::to_bytes(body, MAX_FORM_BODY).await {
                    Ok(b) => b,
                    Err(_) => {
                        let mut r = Response::new(Body::from(
                            "Request body exceeded the maximum size of 2.5 MB.",
                        ));
                        *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                        return Err(r);
                    }
                };
                let token = form_field(&bytes, "csrfmiddlewaretoken");
                (
                    Request::from_parts(parts, Body::from(bytes)),
                    token,
                    "POST".to_owned(),
                )
            }
        }
    };
    let Some(token) = token else {
        return Err(forbidden("CSRF token missing."));
    };
    if let Err(e) = csrf::check_token_format(&token) {
        return Err(forbidden(&format!("CSRF token from {source} {e}.")));
    }
    if !csrf::does_token_match(&token, &secret) {
        return Err(forbidden(&format!("CSRF token from {source} incorrect.")));
    }
    Ok(req)
}

/// One field of an `application/x-www-form-urlencoded` body (the last occurrence, as
/// Django's `QueryDict.get`).
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}
