//! Settings under Django's names, in lower case, read from `sesame.toml` and overridden by
//! `SESAME_<NAME>` environment variables.
//!
//! ```
//! use sesame_core::settings::Settings;
//! let s = Settings::from_toml_str(r#"secret_key = "s3cr3t"
//! session_cookie_age = 3600"#).unwrap();
//! assert_eq!(s.session_cookie_age, 3600);
//! assert_eq!(s.session_cookie_name, "sessionid");
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A problem with the configuration, naming the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file or an environment value is not valid for the setting.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// One entry of `AUTH_PASSWORD_VALIDATORS`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub struct ValidatorConfig {
    /// Django's dotted path, e.g. `django.contrib.auth.password_validation.MinimumLengthValidator`.
    pub name: String,
    /// The validator's options, e.g. `{ min_length = 12 }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, toml::Value>,
}

fn default_validators() -> Vec<ValidatorConfig> {
    [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    .into_iter()
    .map(|n| ValidatorConfig {
        name: format!("django.contrib.auth.password_validation.{n}"),
        options: BTreeMap::new(),
    })
    .collect()
}

/// Every setting Sesame reads. Defaults are Django's (`django/conf/global_settings.py`), and
/// where Django leaves the choice to `startproject`, the template's choice (the four password
/// validators).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `SECRET_KEY`. Empty means "not configured"; signing refuses to run without one.
    pub secret_key: String,
    /// `SECRET_KEY_FALLBACKS`: older keys that still verify (comma-separated in the environment).
    pub secret_key_fallbacks: Vec<String>,
    /// Which Django release's password defaults to follow: `"5.2"` (PBKDF2 1,000,000
    /// iterations) or `"6.0"` (1,200,000).
    pub django_version: String,
    /// `TIME_ZONE`: the zone of the password-reset token clock (Django's default).
    pub time_zone: String,
    /// `ALLOWED_HOSTS`: the host names this site answers for; any other `Host` gets a 400
    /// (Django's `DisallowedHost`). `.example.com` matches the domain and its subdomains, `*`
    /// matches everything. Empty (the default) means the local names Django allows with
    /// `DEBUG` on (`.localhost`, `127.0.0.1`, `[::1]`), and `sesame serve` warns at start-up.
    pub allowed_hosts: Vec<String>,
    /// `DEBUG`: with it on, an empty `ALLOWED_HOSTS` is not warned about. Sesame never shows
    /// tracebacks, whatever this says.
    pub debug: bool,
    /// `USE_X_FORWARDED_HOST`: take the host from `X-Forwarded-Host` (set only behind a
    /// proxy that sets it).
    pub use_x_forwarded_host: bool,
    /// `SECURE_PROXY_SSL_HEADER`: `[header, value]`, e.g. `["HTTP_X_FORWARDED_PROTO",
    /// "https"]` (Django's `META` name or the plain header name): a request is secure when the
    /// header's first value equals `value`. Empty: only the connection's scheme counts
    /// (plain HTTP for `sesame serve`).
    pub secure_proxy_ssl_header: Vec<String>,
    /// `SECURE_SSL_REDIRECT`: redirect (301) every plain-HTTP request to HTTPS.
    pub secure_ssl_redirect: bool,
    /// `SECURE_SSL_HOST`: the host of that redirect (default: the request's).
    pub secure_ssl_host: Option<String>,
    /// `SECURE_HSTS_SECONDS`: `Strict-Transport-Security: max-age=...` on secure responses
    /// (0 = none).
    pub secure_hsts_seconds: u64,
    /// `SECURE_HSTS_INCLUDE_SUBDOMAINS`.
    pub secure_hsts_include_subdomains: bool,
    /// `SECURE_HSTS_PRELOAD`.
    pub secure_hsts_preload: bool,
    /// `SECURE_CONTENT_TYPE_NOSNIFF`: `X-Content-Type-Options: nosniff`.
    pub secure_content_type_nosniff: bool,
    /// `SECURE_REFERRER_POLICY` (comma-separated policies; empty = no header).
    pub secure_referrer_policy: String,
    /// `SECURE_CROSS_ORIGIN_OPENER_POLICY` (empty = no header).
    pub secure_cross_origin_opener_policy: String,
    /// `X_FRAME_OPTIONS`: `DENY` or `SAMEORIGIN`.
    pub x_frame_options: String,
    /// `APPEND_SLASH`: a `GET` or `HEAD` that finds nothing at `/path` but would at `/path/`
    /// is redirected (301) there.
    pub append_slash: bool,
    /// The header a trusted reverse proxy puts the client's address in, e.g.
    /// `X-Forwarded-For` or `X-Real-IP` (empty, the default: the connection's address). Set
    /// it only when every request comes through that proxy.
    pub trusted_proxy_header: String,
    /// How many trusted proxies append to `trusted_proxy_header`: the client is the entry
    /// this far from the right (1: the address the nearest proxy saw).
    pub trusted_proxy_count: usize,

    /// `SESSION_ENGINE`: `db`, `cache`, `cached_db`, `signed_cookies` or `memory`.
    pub session_engine: String,
    /// `SESSION_COOKIE_NAME`.
    pub session_cookie_name: String,
    /// `SESSION_COOKIE_AGE` in seconds.
    pub session_cookie_age: i64,
    /// `SESSION_COOKIE_DOMAIN`.
    pub session_cookie_domain: Option<String>,
    /// `SESSION_COOKIE_PATH`.
    pub session_cookie_path: String,
    /// `SESSION_COOKIE_SECURE`.
    pub session_cookie_secure: bool,
    /// `SESSION_COOKIE_HTTPONLY`.
    pub session_cookie_httponly: bool,
    /// `SESSION_COOKIE_SAMESITE`: `Lax`, `Strict`, `None`, or empty to omit the attribute.
    pub session_cookie_samesite: String,
    /// `SESSION_SAVE_EVERY_REQUEST`.
    pub session_save_every_request: bool,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
    pub session_expire_at_browser_close: bool,
    /// The session codec's salt: `django.contrib.sessions.` + the store class's qualified name.
    /// Change it only to share sessions with a Django project that subclasses its store.
    pub session_key_salt: String,
    /// Largest encoded session accepted by a store, in bytes (0 = no limit).
    pub session_max_size: usize,
    /// Bytes of decoded sessions kept by their exact `session_data` text, so that a
    /// client's unchanged session is not verified and inflated again on every request
    /// (0 = off; the budget is approximate). The store is still asked on every request.
    pub session_decode_cache_bytes: usize,

    /// `PASSWORD_HASHERS`, by algorithm name or Django dotted path; the first is preferred.
    pub password_hashers: Vec<String>,
    /// `AUTH_PASSWORD_VALIDATORS`.
    pub auth_password_validators: Vec<ValidatorConfig>,
    /// `PASSWORD_RESET_TIMEOUT` in seconds.
    pub password_reset_timeout: i64,
    /// Threads that may hash passwords at once (0 = the number of CPUs).
    pub password_hashing_threads: usize,
    /// The hashing threads' `nice` value, 0 (the process's priority) to 19 (Linux only):
    /// requests beside logins go first where the two compete for a core.
    pub password_hashing_nice: i32,
    /// Whether the hashing threads use Linux's `SCHED_IDLE` policy, running only when a core
    /// has nothing else to do (default `true`); without it they run at
    /// `password_hashing_nice`.
    pub password_hashing_idle: bool,
    /// What goes into `_auth_user_backend`.
    pub auth_backend_path: String,
    /// `LOGIN_URL`.
    pub login_url: String,
    /// `LOGIN_REDIRECT_URL`.
    pub login_redirect_url: String,
    /// `LOGOUT_REDIRECT_URL`.
    pub logout_redirect_url: Option<String>,

    /// `CSRF_COOKIE_NAME`.
    pub csrf_cookie_name: String,
    /// `CSRF_COOKIE_AGE` in seconds.
    pub csrf_cookie_age: i64,
    /// `CSRF_COOKIE_DOMAIN`.
    pub csrf_cookie_domain: Option<String>,
    /// `CSRF_COOKIE_PATH`.
    pub csrf_cookie_path: String,
    /// `CSRF_COOKIE_SECURE`.
    pub csrf_cookie_secure: bool,
    /// `CSRF_COOKIE_HTTPONLY`.
    pub csrf_cookie_httponly: bool,
    /// `CSRF_COOKIE_SAMESITE`.
    pub csrf_cookie_samesite: String,
    /// `CSRF_HEADER_NAME`, as an HTTP header name.
    pub csrf_header_name: String,
    /// `CSRF_TRUSTED_ORIGINS`.
    pub csrf_trusted_origins: Vec<String>,
    /// `CSRF_USE_SESSIONS`.
    pub csrf_use_sessions: bool,

    /// `MESSAGE_LEVEL`.
    pub message_level: i32,
    /// `MESSAGE_TAGS`: level → tag overrides.
    pub message_tags: BTreeMap<String, String>,
    /// `SIGNED_COOKIE_LEGACY_SALT_FALLBACK`.
    pub signed_cookie_legacy_salt_fallback: bool,

    /// django-axes' `AXES_ENABLED`: throttle logins, signups and password-reset requests
    /// (see `docs/login-throttling.md`).
    pub axes_enabled: bool,
    /// django-axes' `AXES_FAILURE_LIMIT`: failed logins allowed per lockout key within the
    /// cool-off; the next attempt is refused (429) before any password is hashed. At least 1.
    pub axes_failure_limit: u32,
    /// django-axes' `AXES_COOLOFF_TIME`, in hours as in django-axes (`0.25` = 15 minutes):
    /// how long a lockout key is remembered after its last failure. Also the window of the
    /// address and username delays and of the signup and reset limits.
    pub axes_cooloff_time: f64,
    /// django-axes' `AXES_LOCKOUT_PARAMETERS`: what a lockout is keyed by, each entry
    /// `"username"`, `"ip_address"` or a combination (`["username", "ip_address"]`, in the
    /// environment `username+ip_address`). The default, the pair, never lets one address
    /// lock a user out elsewhere.
    pub axes_lockout_parameters: Vec<crate::auth::throttle::LockoutParameter>,
    /// Failed logins from one client address (over all usernames) within the cool-off after
    /// which each further login from it waits, growing from `login_delay_initial` to
    /// `login_delay_max` (0 = off). Slows credential stuffing without refusing every user
    /// behind a shared address.
    pub login_ip_delay_after: u32,
    /// Failed logins for one username (from every address) within the cool-off after which
    /// each further login for it waits (0 = off, the default: anyone who knows a username
    /// could otherwise slow its owner's logins).
    pub login_username_delay_after: u32,
    /// The first delay, in seconds; each further failure doubles it.
    pub login_delay_initial: f64,
    /// The longest delay, in seconds (at most 300).
    pub login_delay_max: f64,
    /// Counters kept at most by the in-memory throttle store (the `memory` session engine);
    /// the stalest go first when it is full.
    pub login_throttle_max_keys: usize,
    /// Signup requests allowed per client address within the cool-off (0 = no limit).
    pub signup_limit_per_ip: u32,
    /// Password-reset requests allowed per client address within the cool-off (0 = no limit).
    pub password_reset_limit_per_ip: u32,
    /// Password-reset requests allowed per e-mail address within the cool-off (0 = no limit).
    pub password_reset_limit_per_email: u32,

    /// Where users, groups, permissions and (with the `db` engine) sessions live.
    pub database_url: String,
    /// Redis for the `cache` and `cached_db` engines.
    pub cache_url: Option<String>,
    /// The cache's `KEY_PREFIX` (Django's `CACHES["default"]["KEY_PREFIX"]`), for the
    /// `cache` and `cached_db` engines.
    pub cache_key_prefix: String,
    /// The cache's `VERSION` (Django's `CACHES["default"]["VERSION"]`).
    pub cache_version: i64,
    /// MongoDB only: the kind of user `_id`, `objectid` (django-mongodb-backend's), `int`
    /// (from a counters collection) or `str` (chosen by the application, e.g. the e-mail).
    pub mongodb_user_id: crate::auth::IdKind,
    /// Seconds a database or cache operation may take before it fails with a typed error
    /// (MongoDB and Redis).
    pub database_timeout: f64,
    /// SQLite only: the read of every authenticated request (session, user, permissions) runs
    /// on the request's own thread rather than through the pool's worker threads, which is
    /// faster (default `true`); turn it off for a database on a slow or network disk.
    pub sqlite_inline_reads: bool,
    /// SQLite with inline reads: a request's read is answered from the last identical one
    /// while SQLite's `data_version` says that nothing was committed since, by any connection
    /// or process, and the session has not expired (default `true`).
    pub sqlite_unchanged_reads: bool,
    /// The address `sesame serve` listens on.
    pub bind: String,

    /// `EMAIL_BACKEND`: `console`, `file` (a directory outbox, `EMAIL_FILE_PATH`) or `smtp`
    /// (Django's dotted paths are accepted too).
    pub email_backend: String,
    /// `EMAIL_FILE_PATH`: the outbox directory of the `file` backend.
    pub email_file_path: String,
    /// `DEFAULT_FROM_EMAIL`.
    pub default_from_email: String,
    /// `EMAIL_HOST` (the `smtp` backend).
    pub email_host: String,
    /// `EMAIL_PORT`.
    pub email_port: u16,
    /// `EMAIL_HOST_USER` (empty: no authentication).
    pub email_host_user: String,
    /// `EMAIL_HOST_PASSWORD`.
    pub email_host_password: String,
    /// `EMAIL_USE_TLS`: STARTTLS.
    pub email_use_tls: bool,
    /// `EMAIL_USE_SSL`: implicit TLS.
    pub email_use_ssl: bool,
    /// A directory whose templates override the built-in ones of `sesame serve`
    /// (`registration/login.html`, ...).
    pub templates_dir: Option<String>,
    /// Where `sesame serve` keeps a generated `SECRET_KEY` (mode 0600) when none is configured.
    pub secret_key_file: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            secret_key: String::new(),
            secret_key_fallbacks: Vec::new(),
            django_version: "5.2".into(),
            time_zone: "America/Chicago".into(),
            allowed_hosts: Vec::new(),
            debug: false,
            use_x_forwarded_host: false,
            secure_proxy_ssl_header: Vec::new(),
            secure_ssl_redirect: false,
            secure_ssl_host: None,
            secure_hsts_seconds: 0,
            secure_hsts_include_subdomains: false,
            secure_hsts_preload: false,
            secure_content_type_nosniff: true,
            secure_referrer_policy: "same-origin".into(),
            secure_cross_origin_opener_policy: "same-origin".into(),
            x_frame_options: "DENY".into(),
            append_slash: true,
            trusted_proxy_header: String::new(),
            trusted_proxy_count: 1,
            session_engine: "db".into(),
            session_cookie_name: "sessionid".into(),
            session_cookie_age: 1_209_600,
            session_cookie_domain: None,
            session_cookie_path: "/".into(),
            session_cookie_secure: false,
            session_cookie_httponly: true,
            session_cookie_samesite: "Lax".into(),
            session_save_every_request: false,
            session_expire_at_browser_close: false,
            session_key_salt: crate::session::DEFAULT_KEY_SALT.into(),
            session_max_size: 0,
            session_decode_cache_bytes: crate::session::DEFAULT_DECODE_CACHE_BYTES,
            // Django's list, less the hashers this build leaves out (crate features), so that
            // the defaults work in any build.
            password_hashers: crate::auth::hashers::django_default_names()
                .into_iter()
                .map(String::from)
                .collect(),
            auth_password_validators: default_validators(),
            password_reset_timeout: 259_200,
            password_hashing_threads: 0,
            password_hashing_nice: crate::auth::hashers::DEFAULT_HASHING_NICE,
            password_hashing_idle: true,
            auth_backend_path: "django.contrib.auth.backends.ModelBackend".into(),
            login_url: "/accounts/login/".into(),
            login_redirect_url: "/accounts/profile/".into(),
            logout_redirect_url: None,
            csrf_cookie_name: "csrftoken".into(),
            csrf_cookie_age: 31_449_600,
            csrf_cookie_domain: None,
            csrf_cookie_path: "/".into(),
            csrf_cookie_secure: false,
            csrf_cookie_httponly: false,
            csrf_cookie_samesite: "Lax".into(),
            csrf_header_name: "X-CSRFToken".into(),
            csrf_trusted_origins: Vec::new(),
            csrf_use_sessions: false,
            message_level: 20,
            message_tags: BTreeMap::new(),
            signed_cookie_legacy_salt_fallback: true,
            axes_enabled: true,
            axes_failure_limit: 5,
            axes_cooloff_time: 0.25,
            axes_lockout_parameters: crate::auth::throttle::default_lockout_parameters(),
            login_ip_delay_after: 20,
            login_username_delay_after: 0,
            login_delay_initial: 1.0,
            login_delay_max: 30.0,
            login_throttle_max_keys: 100_000,
            signup_limit_per_ip: 20,
            password_reset_limit_per_ip: 20,
            password_reset_limit_per_email: 5,
            database_url: "sqlite://sesame.sqlite3".into(),
            cache_url: None,
            cache_key_prefix: String::new(),
            cache_version: 1,
            mongodb_user_id: crate::auth::IdKind::ObjectId,
            database_timeout: 5.0,
            sqlite_inline_reads: true,
            sqlite_unchanged_reads: true,
            bind: "127.0.0.1:8000".into(),
            email_backend: "console".into(),
            email_file_path: "sesame-outbox".into(),
            default_from_email: "webmaster@localhost".into(),
            email_host: "localhost".into(),
            email_port: 25,
            email_host_user: String::new(),
            email_host_password: String::new(),
            email_use_tls: false,
            email_use_ssl: false,
            templates_dir: None,
            secret_key_file: ".sesame-secret-key".into(),
        }
    }
}

impl Settings {
    /// Parse a `sesame.toml` text (no environment overrides).
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        toml::from_str(text).map_err(|e| SettingsError::Invalid(e.to_string()))
    }

    /// Read `path` when it exists (defaults otherwise), then apply `SESAME_*` variables.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(SettingsError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        Self::from_toml_and_env(&text, std::env::vars())
    }

    /// Parse `text`, then apply `SESAME_<NAME>` overrides from `env`. Lists are
    /// comma-separated, booleans are `true`/`false`/`1`/`0`.
    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let defaults = toml::Table::try_from(Settings::default())
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        for (name, raw) in env {
            let Some(key) = name.strip_prefix("SESAME_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let bad =
                |what: &str| SettingsError::Invalid(format!("{name}={raw:?}: expected {what}"));
            let value = match defaults.get(&key) {
                Some(toml::Value::Array(_)) => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| toml::Value::String(s.to_owned()))
                        .collect(),
                ),
                Some(toml::Value::Integer(_)) => {
                    toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
                }
                Some(toml::Value::Float(_)) => {
                    toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
                }
                Some(toml::Value::Boolean(_)) => {
                    toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
                        "1" | "true" | "yes" | "on" => true,
                        "0" | "false" | "no" | "off" | "" => false,
                        _ => return Err(bad("true or false")),
                    })
                }
                Some(toml::Value::Table(_)) => {
                    return Err(SettingsError::Invalid(format!(
                        "{name} cannot be set from the environment; use sesame.toml"
                    )));
                }
                // Strings, and optional settings that are absent from the defaults.
                _ if is_known(&key) => toml::Value::String(raw),
                // Variables such as SESAME_SUPERUSER_PASSWORD are read by commands, not here.
                _ => continue,
            };
            table.insert(key, value);
        }
        let settings = Settings::deserialize(toml::Value::Table(table))
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuse values Django would refuse (its system checks and the values its middlewares
    /// understand), naming the setting, so that a typo never silently weakens a protection.
    ///
    /// ```
    /// use sesame_core::settings::Settings;
    /// let bad = Settings { x_frame_options: "ALLOW".into(), ..Settings::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("X_FRAME_OPTIONS"));
    /// assert!(Settings::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        if !matches!(self.secure_proxy_ssl_header.len(), 0 | 2) {
            return bad(format!(
                "SECURE_PROXY_SSL_HEADER must be two values, a header and the value that means \
                 HTTPS (e.g. [\"HTTP_X_FORWARDED_PROTO\", \"https\"]); got {:?}",
                self.secure_proxy_ssl_header
            ));
        }
        if let [name, value] = self.secure_proxy_ssl_header.as_slice() {
            if !is_header_name(name.strip_prefix("HTTP_").unwrap_or(name)) || value.is_empty() {
                return bad(format!(
                    "SECURE_PROXY_SSL_HEADER: {name:?} is not a header name or the value is empty"
                ));
            }
        }
        if !self.trusted_proxy_header.is_empty() {
            if !is_header_name(&self.trusted_proxy_header) {
                return bad(format!(
                    "TRUSTED_PROXY_HEADER: {:?} is not a header name",
                    self.trusted_proxy_header
                ));
            }
            if self.trusted_proxy_count == 0 {
                return bad("TRUSTED_PROXY_COUNT must be at least 1".into());
            }
        }
        if !["DENY", "SAMEORIGIN"].contains(&self.x_frame_options.to_ascii_uppercase().as_str()) {
            return bad(format!(
                "X_FRAME_OPTIONS must be DENY or SAMEORIGIN, not {:?}",
                self.x_frame_options
            ));
        }
        for policy in self.secure_referrer_policy.split(',').map(str::trim) {
            if !policy.is_empty() && !REFERRER_POLICIES.contains(&policy) {
                return bad(format!(
                    "SECURE_REFERRER_POLICY: {policy:?} is not one of {}",
                    REFERRER_POLICIES.join(", ")
                ));
            }
        }
        let coop = self.secure_cross_origin_opener_policy.as_str();
        if !coop.is_empty() && !CROSS_ORIGIN_OPENER_POLICIES.contains(&coop) {
            return bad(format!(
                "SECURE_CROSS_ORIGIN_OPENER_POLICY: {coop:?} is not one of {}",
                CROSS_ORIGIN_OPENER_POLICIES.join(", ")
            ));
        }
        if let Some(host) = self.allowed_hosts.iter().find(|h| h.trim().is_empty()) {
            return bad(format!("ALLOWED_HOSTS has an empty entry ({host:?})"));
        }
        for (name, value) in [
            ("SESSION_COOKIE_SAMESITE", &self.session_cookie_samesite),
            ("CSRF_COOKIE_SAMESITE", &self.csrf_cookie_samesite),
        ] {
            if !["", "Lax", "Strict", "None"].contains(&value.as_str()) {
                return bad(format!(
                    "{name} must be Lax, Strict, None or empty, not {value:?}"
                ));
            }
        }
        Ok(())
    }

    /// One warning per `SESAME_*` variable that is neither a setting nor read by a command,
    /// naming the closest setting: `SESAME_SECURE_HSTS_SECOND` would otherwise be ignored and
    /// the protection it meant left off.
    ///
    /// ```
    /// use sesame_core::settings::Settings;
    /// let env = [("SESAME_SECURE_HSTS_SECOND".to_owned(), "3600".to_owned())];
    /// let warnings = Settings::unknown_env_warnings(env);
    /// assert!(warnings[0].contains("SESAME_SECURE_HSTS_SECONDS"));
    /// ```
    pub fn unknown_env_warnings(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let Ok(defaults) = toml::Table::try_from(Settings::default()) else {
            return Vec::new();
        };
        let mut known: Vec<String> = defaults.keys().cloned().collect();
        known.extend(OPTIONAL_SETTINGS.iter().map(|k| (*k).to_owned()));
        let mut warnings = Vec::new();
        for (name, _) in env {
            let Some(key) = name.strip_prefix("SESAME_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if known.contains(&key)
                || COMMAND_VARIABLES.contains(&name.as_str())
                || TOOL_VARIABLE_PREFIXES.iter().any(|p| name.starts_with(p))
            {
                continue;
            }
            let closest = known
                .iter()
                .map(|k| (strsim::jaro_winkler(&key, k), k))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .filter(|(score, _)| *score > 0.8);
            warnings.push(match closest {
                Some((_, k)) => format!(
                    "{name} is not a Sesame setting and is ignored; did you mean SESAME_{}?",
                    k.to_ascii_uppercase()
                ),
                None => format!("{name} is not a Sesame setting and is ignored"),
            });
        }
        warnings
    }

    /// `[SECRET_KEY, *SECRET_KEY_FALLBACKS]`, the keys that verify.
    pub fn verification_keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.secret_key.as_str())
            .chain(self.secret_key_fallbacks.iter().map(String::as_str))
    }
}

/// Optional settings, absent from the serialised defaults when unset.
const OPTIONAL_SETTINGS: [&str; 6] = [
    "session_cookie_domain",
    "logout_redirect_url",
    "csrf_cookie_domain",
    "cache_url",
    "templates_dir",
    "secure_ssl_host",
];

/// `SESAME_*` variables that commands and the project's own scripts read, not settings.
const COMMAND_VARIABLES: [&str; 9] = [
    "SESAME_LOG",
    "SESAME_CONFIG",
    "SESAME_SUPERUSER_PASSWORD",
    "SESAME_USER_PASSWORD",
    "SESAME_BIN",
    "SESAME_WITH_MONGO",
    "SESAME_POSTGRES_URL",
    "SESAME_MYSQL_URL",
    "SESAME_REDIS_URL",
];

/// Prefixes of the variables the project's own scripts, tests and benchmarks read.
const TOOL_VARIABLE_PREFIXES: [&str; 4] = [
    "SESAME_BENCH_",
    "SESAME_LOAD_",
    "SESAME_TEST_",
    "SESAME_MONGO_",
];

/// The values of `Referrer-Policy` (Django's `REFERRER_POLICY_VALUES`).
const REFERRER_POLICIES: [&str; 8] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// The values of `Cross-Origin-Opener-Policy` (Django's `CROSS_ORIGIN_OPENER_POLICY_VALUES`).
const CROSS_ORIGIN_OPENER_POLICIES: [&str; 3] =
    ["same-origin", "same-origin-allow-popups", "unsafe-none"];

/// An HTTP token (RFC 9110 `tchar`s), as a header name must be.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_known(key: &str) -> bool {
    OPTIONAL_SETTINGS.contains(&key)
        || toml::Table::try_from(Settings::default()).is_ok_and(|t| t.contains_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides() {
        let env = [
            ("SESAME_SECRET_KEY", "k"),
            ("SESAME_SECRET_KEY_FALLBACKS", "a, b"),
            ("SESAME_SESSION_COOKIE_AGE", "60"),
            ("SESAME_SESSION_COOKIE_SECURE", "true"),
            ("SESAME_CACHE_URL", "redis://x"),
            ("SESAME_MONGODB_USER_ID", "int"),
            ("SESAME_DATABASE_TIMEOUT", "2.5"),
            ("SESAME_SUPERUSER_PASSWORD", "ignored"),
            ("PATH", "/bin"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let s = Settings::from_toml_and_env("session_cookie_age = 5", env).unwrap();
        assert_eq!(s.secret_key, "k");
        assert_eq!(s.secret_key_fallbacks, ["a", "b"]);
        assert_eq!(s.session_cookie_age, 60);
        assert!(s.session_cookie_secure);
        assert_eq!(s.cache_url.as_deref(), Some("redis://x"));
        assert_eq!(s.mongodb_user_id, crate::auth::IdKind::Int);
        assert_eq!(s.database_timeout, 2.5);
    }

    #[test]
    fn bad_values_are_named() {
        let env = [("SESAME_SESSION_COOKIE_AGE".to_owned(), "soon".to_owned())];
        let err = Settings::from_toml_and_env("", env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("SESAME_SESSION_COOKIE_AGE"), "{err}");
        assert!(Settings::from_toml_str("no_such_setting = 1").is_err());
    }

    #[test]
    fn security_settings_from_the_environment() {
        let env = [
            ("SESAME_ALLOWED_HOSTS", "example.com, .example.org"),
            (
                "SESAME_SECURE_PROXY_SSL_HEADER",
                "HTTP_X_FORWARDED_PROTO,https",
            ),
            ("SESAME_SECURE_HSTS_SECONDS", "3600"),
            ("SESAME_SECURE_SSL_HOST", "secure.example.com"),
            ("SESAME_X_FRAME_OPTIONS", "SAMEORIGIN"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let s = Settings::from_toml_and_env("", env).unwrap();
        assert_eq!(s.allowed_hosts, ["example.com", ".example.org"]);
        assert_eq!(
            s.secure_proxy_ssl_header,
            ["HTTP_X_FORWARDED_PROTO", "https"]
        );
        assert_eq!(s.secure_hsts_seconds, 3600);
        assert_eq!(s.secure_ssl_host.as_deref(), Some("secure.example.com"));
        assert_eq!(s.x_frame_options, "SAMEORIGIN");
    }

    #[test]
    fn invalid_security_settings_are_refused_at_start_up() {
        for (name, value) in [
            ("SESAME_SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO"),
            ("SESAME_X_FRAME_OPTIONS", "ALLOWALL"),
            ("SESAME_SECURE_REFERRER_POLICY", "same-origin, nope"),
            ("SESAME_SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-site"),
            ("SESAME_SESSION_COOKIE_SAMESITE", "lax"),
            ("SESAME_TRUSTED_PROXY_HEADER", "X Forwarded For"),
            ("SESAME_SECURE_HSTS_SECONDS", "-1"),
        ] {
            let env = [(name.to_owned(), value.to_owned())];
            let err = Settings::from_toml_and_env("", env);
            assert!(err.is_err(), "{name}={value} was accepted");
        }
    }

    #[test]
    fn unknown_environment_variables_are_named_with_the_closest_setting() {
        let env = [
            ("SESAME_SECURE_HSTS_SECOND", "3600"),
            ("SESAME_ALLOWED_HOST", "example.com"),
            ("SESAME_SECRET_KEY", "k"),
            ("SESAME_LOG", "debug"),
            ("SESAME_BENCH_USERS", "10"),
            ("SESAME_ZZZZZZZZZZZZ", "1"),
            ("PATH", "/bin"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let w = Settings::unknown_env_warnings(env);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("did you mean SESAME_SECURE_HSTS_SECONDS?"),
            "{w:?}"
        );
        assert!(w[1].contains("did you mean SESAME_ALLOWED_HOSTS?"), "{w:?}");
        assert!(w[2].ends_with("is ignored"), "{w:?}");
    }

    #[test]
    fn validators_table() {
        let s = Settings::from_toml_str(
            r#"[[auth_password_validators]]
NAME = "django.contrib.auth.password_validation.MinimumLengthValidator"
OPTIONS = { min_length = 12 }"#,
        )
        .unwrap();
        assert_eq!(s.auth_password_validators.len(), 1);
    }
}
