//! Django's `SecurityMiddleware`, `XFrameOptionsMiddleware` and the host and slash rules of
//! `CommonMiddleware`, applied by [`SesameLayer`](crate::SesameLayer) to every request, and
//! Django's `never_cache` for the routes that show or take credentials.
//!
//! | Django | here |
//! |---|---|
//! | `request.get_host()` with `ALLOWED_HOSTS`, `USE_X_FORWARDED_HOST`, `DisallowedHost` → 400 | [`SecurityPolicy::check_request`], [`RequestSecurity::host`] |
//! | `request.is_secure()` with `SECURE_PROXY_SSL_HEADER` | [`RequestSecurity::is_secure`] |
//! | `SECURE_SSL_REDIRECT`, `SECURE_SSL_HOST` | a 301 to `https://` before anything else runs |
//! | `SECURE_HSTS_*`, `SECURE_CONTENT_TYPE_NOSNIFF`, `SECURE_REFERRER_POLICY`, `SECURE_CROSS_ORIGIN_OPENER_POLICY` | [`SecurityPolicy::finish_response`] |
//! | `X_FRAME_OPTIONS`, `@xframe_options_exempt` | [`SecurityPolicy::finish_response`], [`XFrameOptionsExempt`] |
//! | `APPEND_SLASH` | [`append_slash`]: a router's fallback that retries a 404 `GET`/`HEAD` with a slash |
//! | `@never_cache` | [`never_cache`], [`add_never_cache_headers`] |
//!
//! ```
//! use sesame_axum::security::{split_domain_port, validate_host};
//! assert_eq!(split_domain_port("Example.COM:8000"), ("example.com".into(), "8000".into()));
//! assert!(validate_host("www.example.com", &[".example.com".into()]));
//! assert!(!validate_host("evil.example", &["example.com".into()]));
//! ```

use axum::body::Body;
use axum::http::header::{
    CACHE_CONTROL, EXPIRES, HOST, LOCATION, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use sesame_core::settings::Settings;
use std::net::IpAddr;

/// The names Django allows when `DEBUG` is on and `ALLOWED_HOSTS` is empty; Sesame allows them
/// whenever `ALLOWED_HOSTS` is empty, so that a first `sesame serve` works on the machine
/// itself and nowhere else.
pub const LOCAL_HOSTS: [&str; 3] = [".localhost", "127.0.0.1", "[::1]"];

/// The logger Django reports refused hosts to.
pub const DISALLOWED_HOST_TARGET: &str = "django.security.DisallowedHost";

/// Django's exact `Cache-Control` of `@never_cache`.
pub const NEVER_CACHE: &str = "max-age=0, no-cache, no-store, must-revalidate, private";

/// Put in a response's extensions to leave out `X-Frame-Options`, as Django's
/// `@xframe_options_exempt` does (for a page meant to be framed by other sites).
#[derive(Debug, Clone, Copy, Default)]
pub struct XFrameOptionsExempt;

/// What the layer learnt of a request: its validated host and whether it came over HTTPS.
#[derive(Debug, Clone, Default)]
pub struct RequestSecurity {
    // Shared: the layer hands the same value to the request state and the extensions.
    host: std::sync::Arc<str>,
    secure: bool,
}

impl RequestSecurity {
    /// The host the request was validated for, with its port if it had one (Django's
    /// `request.get_host()`): the only host to build absolute links and check `next` with.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether the request came over HTTPS (Django's `request.is_secure()`), through
    /// `SECURE_PROXY_SSL_HEADER` behind a proxy.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// `"https"` or `"http"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "https" } else { "http" }
    }
}

/// The settings of this module, parsed once.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    allowed_hosts: Vec<String>,
    use_x_forwarded_host: bool,
    ssl_header: Option<(HeaderName, String)>,
    ssl_redirect: bool,
    ssl_host: Option<String>,
    hsts: Option<HeaderValue>,
    nosniff: bool,
    referrer_policy: Option<HeaderValue>,
    cross_origin_opener_policy: Option<HeaderValue>,
    x_frame_options: Option<HeaderValue>,
    append_slash: bool,
    proxy_header: Option<HeaderName>,
    proxy_count: usize,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self::from_settings(&Settings::default())
    }
}

/// `HTTP_X_FORWARDED_PROTO` (Django's `META` key) or `X-Forwarded-Proto` → the header name.
fn header_name(name: &str) -> Option<HeaderName> {
    let plain = name.strip_prefix("HTTP_").unwrap_or(name).replace('_', "-");
    HeaderName::from_bytes(plain.to_ascii_lowercase().as_bytes()).ok()
}

impl SecurityPolicy {
    /// The policy of these settings. Values that `Settings::validate` refuses are read the
    /// strict way here (an unknown `X_FRAME_OPTIONS` as `DENY`, an unusable proxy header as
    /// none), so a library user who skips validation is never less safe.
    pub fn from_settings(settings: &Settings) -> Self {
        let allowed_hosts = if settings.security.allowed_hosts.is_empty() {
            LOCAL_HOSTS.iter().map(|h| (*h).to_owned()).collect()
        } else {
            settings
                .security
                .allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect()
        };
        let ssl_header = match settings.security.proxy_ssl_header.as_slice() {
            [name, value] => header_name(name).map(|n| (n, value.clone())),
            _ => None,
        };
        let hsts = (settings.security.hsts_seconds > 0).then(|| {
            let mut v = format!("max-age={}", settings.security.hsts_seconds);
            if settings.security.hsts_include_subdomains {
                v.push_str("; includeSubDomains");
            }
            if settings.security.hsts_preload {
                v.push_str("; preload");
            }
            HeaderValue::from_str(&v).ok()
        });
        let policy_value = |v: &str| {
            let joined = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(",");
            (!joined.is_empty())
                .then(|| HeaderValue::from_str(&joined).ok())
                .flatten()
        };
        let x_frame = match settings
            .security
            .x_frame_options
            .to_ascii_uppercase()
            .as_str()
        {
            "SAMEORIGIN" => HeaderValue::from_static("SAMEORIGIN"),
            _ => HeaderValue::from_static("DENY"),
        };
        Self {
            allowed_hosts,
            use_x_forwarded_host: settings.security.use_x_forwarded_host,
            ssl_header,
            ssl_redirect: settings.security.ssl_redirect,
            ssl_host: settings.security.ssl_host.clone().filter(|h| !h.is_empty()),
            hsts: hsts.flatten(),
            nosniff: settings.security.content_type_nosniff,
            referrer_policy: policy_value(&settings.security.referrer_policy),
            cross_origin_opener_policy: policy_value(&settings.security.cross_origin_opener_policy),
            x_frame_options: Some(x_frame),
            append_slash: settings.security.append_slash,
            proxy_header: Some(settings.security.trusted_proxy_header.trim())
                .filter(|h| !h.is_empty())
                .and_then(header_name),
            proxy_count: settings.security.trusted_proxy_count.max(1),
        }
    }

    /// Whether `APPEND_SLASH` is on (see [`append_slash`]).
    pub fn append_slash(&self) -> bool {
        self.append_slash
    }

    /// Django's `get_host()` and `SecurityMiddleware.process_request`: the request's
    /// validated host and scheme, or the answer to send instead — 400 for a host not in
    /// `ALLOWED_HOSTS` (logged on `django.security.DisallowedHost`), 301 to HTTPS under
    /// `SECURE_SSL_REDIRECT`.
    #[allow(clippy::result_large_err)]
    pub fn check_request<B>(&self, req: &Request<B>) -> Result<RequestSecurity, Response<Body>> {
        let headers = req.headers();
        let forwarded = self
            .use_x_forwarded_host
            .then(|| headers.get("x-forwarded-host"))
            .flatten();
        let raw = match forwarded.or_else(|| headers.get(HOST)) {
            Some(v) => String::from_utf8_lossy(v.as_bytes()),
            None => std::borrow::Cow::Borrowed(req.uri().authority().map_or("", |a| a.as_str())),
        };
        // Lower-cased once: the validation and the host the request keeps use the same text.
        let host = raw.to_ascii_lowercase();
        let domain = split_lowercase(&host).map_or("", |(domain, _)| domain);
        if domain.is_empty() || !validate_host(domain, &self.allowed_hosts) {
            let shown: String = raw.chars().take(200).collect();
            let advice = if domain.is_empty() {
                " The domain name provided is not valid according to RFC 1034/1035.".to_owned()
            } else {
                format!(" You may need to add {domain:?} to ALLOWED_HOSTS.")
            };
            tracing::warn!(
                target: DISALLOWED_HOST_TARGET,
                "Invalid HTTP_HOST header: {shown:?}.{advice}"
            );
            return Err(bad_request());
        }
        let secure = match &self.ssl_header {
            Some((name, value)) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|v| v.trim() == value),
            None => req.uri().scheme_str() == Some("https"),
        };
        let security = RequestSecurity {
            host: host.into(),
            secure,
        };
        if self.ssl_redirect && !secure {
            let host = self.ssl_host.as_deref().unwrap_or(&security.host);
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            return Err(redirect(
                StatusCode::MOVED_PERMANENTLY,
                &format!("https://{host}{path}"),
            ));
        }
        Ok(security)
    }

    /// The client's address: the connection's, or with `trusted_proxy_header` set, the
    /// entry `trusted_proxy_count` places from the right of that header (each proxy appends
    /// the address it saw, so entries further left are the client's own claims). A missing
    /// or unreadable header falls back to the connection's address.
    pub fn client_ip(&self, headers: &HeaderMap, connection: Option<IpAddr>) -> Option<IpAddr> {
        let Some(name) = &self.proxy_header else {
            return connection;
        };
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .rev()
            .nth(self.proxy_count.saturating_sub(1))
            .and_then(parse_ip)
            .or(connection)
    }

    /// `SecurityMiddleware.process_response` and `XFrameOptionsMiddleware`: the headers a
    /// response does not already carry.
    pub fn finish_response(
        &self,
        security: Option<&RequestSecurity>,
        response: &mut Response<Body>,
    ) {
        let exempt = response.extensions().get::<XFrameOptionsExempt>().is_some();
        let headers = response.headers_mut();
        if let Some(hsts) = &self.hsts {
            if security.is_some_and(RequestSecurity::is_secure)
                && !headers.contains_key(STRICT_TRANSPORT_SECURITY)
            {
                headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
            }
        }
        if self.nosniff && !headers.contains_key(X_CONTENT_TYPE_OPTIONS) {
            headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        }
        if let Some(v) = &self.referrer_policy {
            if !headers.contains_key(REFERRER_POLICY) {
                headers.insert(REFERRER_POLICY, v.clone());
            }
        }
        if let Some(v) = &self.cross_origin_opener_policy {
            let name = HeaderName::from_static("cross-origin-opener-policy");
            if !headers.contains_key(&name) {
                headers.insert(name, v.clone());
            }
        }
        if let Some(v) = &self.x_frame_options {
            if !exempt && !headers.contains_key(X_FRAME_OPTIONS) {
                headers.insert(X_FRAME_OPTIONS, v.clone());
            }
        }
    }
}

/// An address from a proxy header entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:80`.
fn parse_ip(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse().ok())
}

/// Django's `split_domain_port`: the lower-cased domain (without a trailing dot) and the
/// port, or two empty strings when the host is not of `host_validation_re`'s shape.
pub fn split_domain_port(host: &str) -> (String, String) {
    let host = host.to_ascii_lowercase();
    split_lowercase(&host).map_or_else(Default::default, |(domain, port)| {
        (domain.to_owned(), port.to_owned())
    })
}

/// [`split_domain_port`] of a host already in lower case, borrowing from it; `None` for a
/// host not of `host_validation_re`'s shape.
fn split_lowercase(host: &str) -> Option<(&str, &str)> {
    if !host_shape_is_valid(host) {
        return None;
    }
    if host.ends_with(']') {
        return Some((host, ""));
    }
    let (domain, port) = host.rsplit_once(':').unwrap_or((host, ""));
    Some((domain.strip_suffix('.').unwrap_or(domain), port))
}

/// `^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9\.:]+\])(:[0-9]+)?$`, Django's `host_validation_re`,
/// written out because it is the only regular expression the crate needs.
fn host_shape_is_valid(host: &str) -> bool {
    let (name, rest) = if let Some(inner) = host.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return false;
        };
        let (addr, rest) = (&inner[..close], &inner[close + 1..]);
        // `[a-f0-9]*:[a-f0-9\.:]+`: a colon with at least one more character after it.
        let Some(colon) = addr.find(':') else {
            return false;
        };
        let ok = addr[..colon].bytes().all(|b| b.is_ascii_hexdigit())
            && addr.len() > colon + 1
            && addr[colon + 1..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
        if !ok {
            return false;
        }
        (true, rest)
    } else {
        let end = host.find(':').unwrap_or(host.len());
        let name = &host[..end];
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        (ok, &host[end..])
    };
    if !name {
        return false;
    }
    match rest.strip_prefix(':') {
        None => rest.is_empty(),
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Django's `validate_host`: `*` matches anything, `.example.com` the domain and its
/// subdomains, anything else exactly (case-insensitively).
pub fn validate_host(domain: &str, allowed_hosts: &[String]) -> bool {
    allowed_hosts
        .iter()
        .any(|pattern| pattern == "*" || is_same_domain(domain, pattern))
}

/// Django's `is_same_domain`.
fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix('.') {
        Some(bare) => host.ends_with(&pattern) || host == bare,
        None => host == pattern,
    }
}

/// Django's `escape_leading_slashes`: `//evil.example/` as a path must not become a
/// protocol-relative redirect.
pub fn escape_leading_slashes(path: &str) -> String {
    match path.strip_prefix("//") {
        Some(rest) => format!("/%2F{rest}"),
        None => path.to_owned(),
    }
}

/// The `APPEND_SLASH` target of a path and query, if the path lacks its slash.
pub(crate) fn with_slash(path: &str, query: Option<&str>) -> Option<String> {
    if path.ends_with('/') {
        return None;
    }
    let mut to = escape_leading_slashes(&format!("{path}/"));
    if let Some(q) = query {
        to.push('?');
        to.push_str(q);
    }
    Some(to)
}

/// Django's `APPEND_SLASH` for an axum router: a `GET` or `HEAD` that no route answers is
/// redirected (301) to the same path with a slash when a route answers that one. Django asks
/// its URL resolver; axum has none to ask, so the fallback sends a `HEAD` of the slashed path
/// through a copy of the router (only 404s pay for it). Call it on the finished router,
/// before [`Sesame::layer`](crate::Sesame::layer), as axum applies a router's layers to
/// each route and to the fallback separately. `APPEND_SLASH = false` turns it off.
///
/// ```
/// use axum::{Router, routing::get};
/// let app: Router = sesame_axum::security::append_slash(
///     Router::new().route("/accounts/login/", get(|| async { "login" })),
/// );
/// ```
pub fn append_slash(router: axum::Router) -> axum::Router {
    let probe = router.clone();
    router.fallback(move |req: Request<Body>| {
        let probe = probe.clone();
        async move { append_slash_fallback(probe, req).await }
    })
}

async fn append_slash_fallback(probe: axum::Router, req: Request<Body>) -> Response<Body> {
    let not_found = || {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    };
    let state = req.extensions().get::<crate::RequestState>().cloned();
    let enabled = state
        .as_ref()
        .is_none_or(|s| s.sesame().security_policy().append_slash());
    if !enabled
        || !matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        )
    {
        return not_found();
    }
    let Some(to) = with_slash(req.uri().path(), req.uri().query()) else {
        return not_found();
    };
    let Ok(mut head) = Request::builder()
        .method(axum::http::Method::HEAD)
        .uri(&to)
        .body(Body::empty())
    else {
        return not_found();
    };
    // The request's layer state goes along, so routes that read the session or the user
    // answer as they would (a redirect to the login page still means "the route exists").
    if let Some(state) = state {
        head.extensions_mut().insert(state.security().clone());
        head.extensions_mut().insert(state);
    }
    let exists = match tower::ServiceExt::oneshot(probe, head).await {
        Ok(r) => r.status() != StatusCode::NOT_FOUND,
        Err(never) => match never {},
    };
    if exists {
        redirect(StatusCode::MOVED_PERMANENTLY, &to)
    } else {
        not_found()
    }
}

/// Django's `HttpResponseBadRequest` page for a refused host.
fn bad_request() -> Response<Body> {
    let mut r = Response::new(Body::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Bad Request (400)</title>\n</head>\n<body>\n  <h1>Bad Request (400)</h1><p></p>\n</body>\n</html>\n",
    ));
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// A redirect whose `Location` is always a valid header: `to` goes through
/// [`iri_to_uri`](crate::redirect::iri_to_uri) first, as Django's `HttpResponseRedirect`
/// does, so a tab or newline reaches the browser as `%09`/`%0A`, never as a character it
/// would drop.
pub fn redirect(status: StatusCode, to: &str) -> Response<Body> {
    let uri = crate::redirect::iri_to_uri(to);
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    match HeaderValue::from_str(&uri) {
        Ok(v) => {
            r.headers_mut().insert(LOCATION, v);
        }
        // iri_to_uri leaves only visible ASCII; this cannot happen, and if it did the
        // safe answer is the site's root.
        Err(_) => {
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/"));
        }
    }
    r
}

/// Django's `add_never_cache_headers`: `Cache-Control: max-age=0, no-cache, no-store,
/// must-revalidate, private` and an `Expires` of now (kept if the response set one).
pub fn add_never_cache_headers(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(NEVER_CACHE));
    if !headers.contains_key(EXPIRES) {
        let now = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        if let Ok(v) = HeaderValue::from_str(&now) {
            headers.insert(EXPIRES, v);
        }
    }
}

/// The layer [`never_cache`] returns.
pub type NeverCacheLayer = axum::middleware::MapResponseLayer<
    fn(Response<Body>) -> std::future::Ready<Response<Body>>,
    (),
    (),
>;

/// Django's `@never_cache` as a layer for a router or route: pages that show or take
/// credentials, or are personal, must never be kept by a browser or a shared cache.
///
/// ```
/// use axum::{Router, routing::get};
/// let app: Router = Router::new()
///     .route("/accounts/profile/", get(|| async { "mine" }))
///     .route_layer(sesame_axum::security::never_cache());
/// ```
pub fn never_cache() -> NeverCacheLayer {
    fn apply(mut response: Response<Body>) -> std::future::Ready<Response<Body>> {
        add_never_cache_headers(response.headers_mut());
        std::future::ready(response)
    }
    axum::middleware::map_response(apply as fn(_) -> _)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(f: impl FnOnce(&mut Settings)) -> SecurityPolicy {
        let mut s = Settings::default();
        f(&mut s);
        SecurityPolicy::from_settings(&s)
    }

    fn get(host: &str) -> Request<Body> {
        Request::builder()
            .uri("/accounts/login/?next=/x")
            .header(HOST, host)
            .body(Body::empty())
            .unwrap()
    }

    /// Django's `tests/requests_tests/tests.py::HostValidationTests::test_http_get_host`
    /// cases, on the hosts `ALLOWED_HOSTS = ['forward.com', 'example.com', 'internal.com',
    /// '12.34.56.78', '[2001:19f0:feee::dead:beef:cafe]', 'xn--4ca9at.com', '.multitenant.com',
    /// 'INSENSITIVE.com', '[::ffff:169.254.169.254]']`.
    #[test]
    fn test_host_validation() {
        let p = policy(|s| {
            s.security.allowed_hosts = [
                "forward.com",
                "example.com",
                "internal.com",
                "12.34.56.78",
                "[2001:19f0:feee::dead:beef:cafe]",
                "xn--4ca9at.com",
                ".multitenant.com",
                "INSENSITIVE.com",
                "[::ffff:169.254.169.254]",
            ]
            .map(String::from)
            .to_vec()
        });
        for good in [
            "example.com",
            "example.com:80",
            "12.34.56.78",
            "12.34.56.78:443",
            "[2001:19f0:feee::dead:beef:cafe]",
            "[2001:19f0:feee::dead:beef:cafe]:8080",
            "xn--4ca9at.com",
            "anything.multitenant.com",
            "multitenant.com",
            "insensitive.com",
            "example.com.",
            "example.com.:80",
            "[::ffff:169.254.169.254]",
        ] {
            assert!(p.check_request(&get(good)).is_ok(), "{good}");
        }
        for bad in [
            "example.com@evil.tld",
            "example.com:dr.frankenstein@evil.tld",
            "example.com:dr.frankenstein@evil.tld:80",
            "example.com:80/badpath",
            "example.com: recovermypassword.com",
            "other.com",
            "evil.example",
            "evil.example/steal?x=",
            "",
            "[2001:19f0:feee::dead:beef:cafe",
            "example.com:",
        ] {
            let r = p.check_request(&get(bad));
            assert_eq!(
                r.err().map(|r| r.status()),
                Some(StatusCode::BAD_REQUEST),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_allowed_hosts_means_the_local_names_only() {
        let p = policy(|_| {});
        for good in [
            "localhost",
            "localhost:8000",
            "app.localhost",
            "127.0.0.1:8000",
            "[::1]:8000",
        ] {
            assert!(p.check_request(&get(good)).is_ok(), "{good}");
        }
        for bad in ["evil.example", "10.0.0.1", "localhost.evil.example"] {
            assert!(p.check_request(&get(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn x_forwarded_host_only_when_enabled() {
        let req = || {
            Request::builder()
                .uri("/")
                .header(HOST, "localhost")
                .header("x-forwarded-host", "evil.example")
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            policy(|_| {}).check_request(&req()).unwrap().host(),
            "localhost"
        );
        assert!(
            policy(|s| s.security.use_x_forwarded_host = true)
                .check_request(&req())
                .is_err()
        );
        let ok = policy(|s| {
            s.security.use_x_forwarded_host = true;
            s.security.allowed_hosts = vec!["evil.example".into()];
        });
        assert_eq!(ok.check_request(&req()).unwrap().host(), "evil.example");
    }

    #[test]
    fn secure_proxy_ssl_header() {
        let p = policy(|s| {
            s.security.proxy_ssl_header = vec!["HTTP_X_FORWARDED_PROTO".into(), "https".into()]
        });
        let req = |proto: Option<&str>| {
            let mut b = Request::builder().uri("/").header(HOST, "localhost");
            if let Some(p) = proto {
                b = b.header("x-forwarded-proto", p);
            }
            b.body(Body::empty()).unwrap()
        };
        assert!(p.check_request(&req(Some("https"))).unwrap().is_secure());
        assert!(
            p.check_request(&req(Some("https, http")))
                .unwrap()
                .is_secure()
        );
        assert!(!p.check_request(&req(Some("http"))).unwrap().is_secure());
        assert!(!p.check_request(&req(None)).unwrap().is_secure());
        // Without the setting, a client's header means nothing.
        assert!(
            !policy(|_| {})
                .check_request(&req(Some("https")))
                .unwrap()
                .is_secure()
        );
    }

    #[test]
    fn ssl_redirect() {
        let p = policy(|s| s.security.ssl_redirect = true);
        let r = p.check_request(&get("localhost:8000")).unwrap_err();
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            r.headers()[LOCATION],
            "https://localhost:8000/accounts/login/?next=/x"
        );
        let p = policy(|s| {
            s.security.ssl_redirect = true;
            s.security.ssl_host = Some("secure.localhost".into());
        });
        let r = p.check_request(&get("localhost")).unwrap_err();
        assert_eq!(
            r.headers()[LOCATION],
            "https://secure.localhost/accounts/login/?next=/x"
        );
    }

    /// Django's `tests/middleware/test_security.py` and `tests/middleware/tests.py`
    /// (`XFrameOptionsMiddlewareTest`) in one: defaults, settings, and headers a view set.
    #[test]
    fn test_security_middleware() {
        let secure = RequestSecurity {
            host: "localhost".into(),
            secure: true,
        };
        let plain = RequestSecurity {
            host: "localhost".into(),
            secure: false,
        };
        let run = |p: &SecurityPolicy, sec: &RequestSecurity, pre: &[(&str, &str)]| {
            let mut r = Response::new(Body::empty());
            for (k, v) in pre {
                r.headers_mut().insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            p.finish_response(Some(sec), &mut r);
            r.headers().clone()
        };
        let defaults = policy(|_| {});
        let h = run(&defaults, &plain, &[]);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(!h.contains_key("strict-transport-security"));

        let hsts = policy(|s| {
            s.security.hsts_seconds = 3600;
            s.security.hsts_include_subdomains = true;
            s.security.hsts_preload = true;
        });
        assert_eq!(
            run(&hsts, &secure, &[])["strict-transport-security"],
            "max-age=3600; includeSubDomains; preload"
        );
        // HSTS only over HTTPS, as browsers ignore it otherwise and Django sends none.
        assert!(!run(&hsts, &plain, &[]).contains_key("strict-transport-security"));
        // A view's own headers are kept.
        let h = run(
            &hsts,
            &secure,
            &[
                ("strict-transport-security", "max-age=1"),
                ("x-frame-options", "SAMEORIGIN"),
                ("referrer-policy", "no-referrer"),
            ],
        );
        assert_eq!(h["strict-transport-security"], "max-age=1");
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");
        assert_eq!(h["referrer-policy"], "no-referrer");

        let custom = policy(|s| {
            s.security.referrer_policy = "no-referrer, strict-origin-when-cross-origin".into();
            s.security.cross_origin_opener_policy = String::new();
            s.security.content_type_nosniff = false;
            s.security.x_frame_options = "sameorigin".into();
        });
        let h = run(&custom, &plain, &[]);
        assert_eq!(
            h["referrer-policy"],
            "no-referrer,strict-origin-when-cross-origin"
        );
        assert!(!h.contains_key("cross-origin-opener-policy"));
        assert!(!h.contains_key("x-content-type-options"));
        assert_eq!(h["x-frame-options"], "SAMEORIGIN");

        let mut r = Response::new(Body::empty());
        r.extensions_mut().insert(XFrameOptionsExempt);
        defaults.finish_response(Some(&plain), &mut r);
        assert!(!r.headers().contains_key("x-frame-options"));
    }

    #[test]
    fn client_ip_through_trusted_proxies() {
        let conn: IpAddr = "10.0.0.9".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.0.0.2"),
        );
        assert_eq!(policy(|_| {}).client_ip(&h, Some(conn)), Some(conn));
        let one = policy(|s| s.security.trusted_proxy_header = "X-Forwarded-For".into());
        assert_eq!(one.client_ip(&h, Some(conn)), "10.0.0.2".parse().ok());
        let two = policy(|s| {
            s.security.trusted_proxy_header = "X-Forwarded-For".into();
            s.security.trusted_proxy_count = 2;
        });
        assert_eq!(two.client_ip(&h, Some(conn)), "1.2.3.4".parse().ok());
        let four = policy(|s| {
            s.security.trusted_proxy_header = "X-Forwarded-For".into();
            s.security.trusted_proxy_count = 4;
        });
        assert_eq!(four.client_ip(&h, Some(conn)), Some(conn));
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("[2001:db8::1]:443"),
        );
        assert_eq!(one.client_ip(&h, Some(conn)), "2001:db8::1".parse().ok());
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(one.client_ip(&h, Some(conn)), Some(conn));
    }

    #[test]
    fn append_slash_never_makes_a_protocol_relative_url() {
        assert_eq!(
            with_slash("/accounts/login", None).as_deref(),
            Some("/accounts/login/")
        );
        assert_eq!(
            with_slash("/a", Some("next=/b")).as_deref(),
            Some("/a/?next=/b")
        );
        assert_eq!(
            with_slash("//evil.example", None).as_deref(),
            Some("/%2Fevil.example/")
        );
        assert_eq!(with_slash("/a/", None), None);
    }

    proptest::proptest! {
        /// Any Host header: no panic, and a host that passes is one of `ALLOWED_HOSTS`'s
        /// shapes, with nothing after the port that a link built from it could carry.
        #[test]
        fn host_header_parsing_never_lets_a_foreign_host_through(host in "\\PC{0,40}|[a-z0-9.:@/?#\\[\\]-]{0,40}") {
            let p = policy(|s| s.security.allowed_hosts = vec!["example.com".into(), ".example.org".into()]);
            let req = Request::builder().uri("/").header(HOST, host.as_str()).body(Body::empty());
            if let Ok(req) = req {
                if let Ok(sec) = p.check_request(&req) {
                    let (domain, port) = split_domain_port(sec.host());
                    proptest::prop_assert!(domain == "example.com" || domain == "example.org" || domain.ends_with(".example.org"), "{host:?}");
                    proptest::prop_assert!(port.bytes().all(|b| b.is_ascii_digit()), "{host:?}");
                    proptest::prop_assert!(!sec.host().contains(['/', '@', '?', '#', ' ']), "{host:?}");
                }
            }
        }
    }

    #[test]
    fn never_cache_headers_are_djangos() {
        let mut h = HeaderMap::new();
        add_never_cache_headers(&mut h);
        assert_eq!(h[CACHE_CONTROL], NEVER_CACHE);
        assert!(h[EXPIRES].to_str().unwrap().ends_with(" GMT"));
    }
}
