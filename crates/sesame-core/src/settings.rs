//! Settings under Django's names, in lower case, read from `sesame.toml` and overridden by
//! `SESAME_<NAME>` environment variables.
//!
//! In Rust the settings are grouped by concern ([`Settings::session`], [`Settings::csrf`],
//! ...), but each section is flattened: the TOML key and the environment variable stay
//! Django's (`session_cookie_age`, `SESAME_SESSION_COOKIE_AGE`).
//!
//! No configuration crate (figment, config) is used: neither reads comma-separated lists,
//! `yes`/`on` booleans or refuses an unknown key with the closest known one, so the few lines
//! below would stay and a dependency would be added.
//!
//! ```
//! use sesame_core::settings::{SameSite, Settings};
//! let s = Settings::from_toml_str(r#"secret_key = "s3cr3t"
//! session_cookie_age = 3600"#).unwrap();
//! assert_eq!(s.session.cookie_age, 3600);
//! assert_eq!(s.session.cookie_name, "sessionid");
//! assert_eq!(s.session.cookie_samesite, SameSite::Lax);
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

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

/// A value of one of the enumerated settings that is none of its accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {setting} {value:?}: expected one of {accepted}")]
pub struct UnknownValue {
    /// Django's name of the setting, e.g. `SESSION_ENGINE`.
    pub setting: &'static str,
    /// The value given.
    pub value: String,
    /// The accepted values, comma-separated.
    pub accepted: &'static str,
}

/// `Serialize`, `Deserialize` and `Display` through the canonical string and `FromStr`.
macro_rules! string_setting {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// `SESSION_ENGINE`: where sessions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SessionEngine {
    /// `db` (`django.contrib.sessions.backends.db`): the `django_session` table.
    #[default]
    Db,
    /// `cache` (`django.contrib.sessions.backends.cache`): Redis only (`cache_url`).
    Cache,
    /// `cached_db` (`django.contrib.sessions.backends.cached_db`): Redis in front of the
    /// database.
    CachedDb,
    /// `signed_cookies` (`django.contrib.sessions.backends.signed_cookies`): the session is
    /// the cookie.
    SignedCookies,
    /// `memory`: this process only (Sesame's own, for tests and demos).
    Memory,
}

impl SessionEngine {
    /// The canonical name, as in `sesame.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Db => "db",
            Self::Cache => "cache",
            Self::CachedDb => "cached_db",
            Self::SignedCookies => "signed_cookies",
            Self::Memory => "memory",
        }
    }
}

impl FromStr for SessionEngine {
    type Err = UnknownValue;
    /// The short name, or Django's dotted path for the engines Django has.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let short = s
            .strip_prefix("django.contrib.sessions.backends.")
            .filter(|name| *name != "memory")
            .unwrap_or(s);
        Ok(match short {
            "db" => Self::Db,
            "cache" => Self::Cache,
            "cached_db" => Self::CachedDb,
            "signed_cookies" => Self::SignedCookies,
            "memory" => Self::Memory,
            _ => {
                return Err(UnknownValue {
                    setting: "SESSION_ENGINE",
                    value: s.to_owned(),
                    accepted: "db, cache, cached_db, signed_cookies, memory \
                               (or django.contrib.sessions.backends.<name>)",
                });
            }
        })
    }
}

string_setting!(SessionEngine);

/// `SESSION_COOKIE_SAMESITE` and `CSRF_COOKIE_SAMESITE`: the cookie's `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SameSite {
    /// `Lax` (Django's default).
    #[default]
    Lax,
    /// `Strict`.
    Strict,
    /// `None`: sent cross-site too (browsers then require `Secure`).
    None,
    /// No attribute: Django's `False` (`false` in TOML, `""` or `False` as a string).
    Off,
}

impl SameSite {
    /// The attribute's value; empty for [`SameSite::Off`], which writes no attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
            Self::Off => "",
        }
    }
}

impl FromStr for SameSite {
    type Err = UnknownValue;
    /// Exactly `Lax`, `Strict`, `None`, or `""`/`False` for no attribute: Django compares
    /// case-sensitively, and a misspelling must not silently drop the protection.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "Lax" => Self::Lax,
            "Strict" => Self::Strict,
            "None" => Self::None,
            "" | "False" => Self::Off,
            _ => {
                return Err(UnknownValue {
                    setting: "SameSite",
                    value: s.to_owned(),
                    accepted: "Lax, Strict, None, or false/\"\" for no attribute",
                });
            }
        })
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SameSite {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SameSite {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SameSite;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"Lax\", \"Strict\", \"None\", or false")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SameSite, E> {
                v.parse().map_err(E::custom)
            }
            // Django's `SESSION_COOKIE_SAMESITE = False`.
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<SameSite, E> {
                if v {
                    Err(E::custom(
                        "SameSite cannot be true: use \"Lax\", \"Strict\", \"None\" or false",
                    ))
                } else {
                    Ok(SameSite::Off)
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `EMAIL_BACKEND`: how `sesame serve` sends its e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EmailBackend {
    /// `console`: printed on standard output (Django's console backend).
    #[default]
    Console,
    /// `file`: one `.eml` file per message in `EMAIL_FILE_PATH` (Django's `filebased`).
    File,
    /// `smtp`: through `EMAIL_HOST`.
    Smtp,
}

impl EmailBackend {
    /// The canonical name, as in `sesame.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::File => "file",
            Self::Smtp => "smtp",
        }
    }
}

impl FromStr for EmailBackend {
    type Err = UnknownValue;
    /// The short name, or a dotted path judged by its module, as Django's
    /// `django.core.mail.backends.smtp.EmailBackend`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let module = match s.rsplit('.').nth(1) {
            Some(module) => module,
            None => s,
        };
        Ok(match module {
            "console" => Self::Console,
            "file" | "filebased" | "directory" => Self::File,
            "smtp" => Self::Smtp,
            _ => {
                return Err(UnknownValue {
                    setting: "EMAIL_BACKEND",
                    value: s.to_owned(),
                    accepted: "console, file, smtp \
                               (or django.core.mail.backends.<name>.EmailBackend)",
                });
            }
        })
    }
}

string_setting!(EmailBackend);

/// Which Django release's password defaults to follow (the PBKDF2 iterations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DjangoVersion {
    /// `"4.2"`: 600,000 iterations.
    V4_2,
    /// `"5.0"`: 720,000 iterations.
    V5_0,
    /// `"5.1"`: 870,000 iterations.
    V5_1,
    /// `"5.2"`: 1,000,000 iterations (Sesame's default).
    #[default]
    V5_2,
    /// `"6.0"`: 1,200,000 iterations.
    V6_0,
    /// `"6.1"`: 1,500,000 iterations.
    V6_1,
}

impl DjangoVersion {
    /// The release, e.g. `"5.2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V4_2 => "4.2",
            Self::V5_0 => "5.0",
            Self::V5_1 => "5.1",
            Self::V5_2 => "5.2",
            Self::V6_0 => "6.0",
            Self::V6_1 => "6.1",
        }
    }

    /// The release's default PBKDF2 iterations (`PBKDF2PasswordHasher.iterations`).
    pub fn pbkdf2_iterations(self) -> u32 {
        match self {
            Self::V4_2 => 600_000,
            Self::V5_0 => 720_000,
            Self::V5_1 => 870_000,
            Self::V5_2 => 1_000_000,
            Self::V6_0 => 1_200_000,
            Self::V6_1 => 1_500_000,
        }
    }
}

impl FromStr for DjangoVersion {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "4.2" => Self::V4_2,
            "5.0" => Self::V5_0,
            "5.1" => Self::V5_1,
            "5.2" => Self::V5_2,
            "6.0" => Self::V6_0,
            "6.1" => Self::V6_1,
            _ => {
                return Err(UnknownValue {
                    setting: "django_version",
                    value: s.to_owned(),
                    accepted: "4.2, 5.0, 5.1, 5.2, 6.0, 6.1",
                });
            }
        })
    }
}

string_setting!(DjangoVersion);

/// Every setting Sesame reads. Defaults are Django's (`django/conf/global_settings.py`), and
/// where Django leaves the choice to `startproject`, the template's choice (the four password
/// validators).
///
/// Unknown keys are refused by [`Settings::from_toml_str`] and
/// [`Settings::from_toml_and_env`] (serde's `deny_unknown_fields` does not work with the
/// flattened sections).
///
/// `Debug` never shows the secret key, its fallbacks, the SMTP password or a password in a
/// database or cache URL: settings end up in logs.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `SECRET_KEY`. Empty means "not configured"; signing refuses to run without one.
    pub secret_key: String,
    /// `SECRET_KEY_FALLBACKS`: older keys that still verify (comma-separated in the environment).
    pub secret_key_fallbacks: Vec<String>,
    /// Which Django release's password defaults to follow: `"5.2"` (PBKDF2 1,000,000
    /// iterations), `"6.0"` (1,200,000), ...
    pub django_version: DjangoVersion,
    /// `TIME_ZONE`: the zone of the password-reset token clock (Django's default).
    pub time_zone: String,
    /// `DEBUG`: with it on, an empty `ALLOWED_HOSTS` is not warned about. Sesame never shows
    /// tracebacks, whatever this says.
    pub debug: bool,
    /// `SIGNED_COOKIE_LEGACY_SALT_FALLBACK`.
    pub signed_cookie_legacy_salt_fallback: bool,
    /// Hosts, HTTPS and the security headers.
    #[serde(flatten)]
    pub security: SecuritySettings,
    /// The session cookie and engine (`SESSION_*`).
    #[serde(flatten)]
    pub session: SessionSettings,
    /// The CSRF cookie and checks (`CSRF_*`).
    #[serde(flatten)]
    pub csrf: CsrfSettings,
    /// Passwords and logins.
    #[serde(flatten)]
    pub auth: AuthSettings,
    /// The messages framework (`MESSAGE_*`).
    #[serde(flatten)]
    pub messages: MessageSettings,
    /// The login, signup and reset throttle (django-axes' `AXES_*` and Sesame's own).
    #[serde(flatten)]
    pub throttle: ThrottleSettings,
    /// The database and the cache.
    #[serde(flatten)]
    pub database: DatabaseSettings,
    /// Sending e-mail (`EMAIL_*`).
    #[serde(flatten)]
    pub email: EmailSettings,
    /// `sesame serve` itself.
    #[serde(flatten)]
    pub serve: ServeSettings,
}

/// Hosts, HTTPS and the security headers (Django's `SecurityMiddleware`, `CommonMiddleware`,
/// `XFrameOptionsMiddleware`) and the proxies in front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecuritySettings {
    /// `ALLOWED_HOSTS`: the host names this site answers for; any other `Host` gets a 400
    /// (Django's `DisallowedHost`). `.example.com` matches the domain and its subdomains, `*`
    /// matches everything. Empty (the default) means the local names Django allows with
    /// `DEBUG` on (`.localhost`, `127.0.0.1`, `[::1]`), and `sesame serve` warns at start-up.
    pub allowed_hosts: Vec<String>,
    /// `USE_X_FORWARDED_HOST`: take the host from `X-Forwarded-Host` (set only behind a
    /// proxy that sets it).
    pub use_x_forwarded_host: bool,
    /// `SECURE_PROXY_SSL_HEADER`: `[header, value]`, e.g. `["HTTP_X_FORWARDED_PROTO",
    /// "https"]` (Django's `META` name or the plain header name): a request is secure when the
    /// header's first value equals `value`. Empty: only the connection's scheme counts
    /// (plain HTTP for `sesame serve`).
    #[serde(rename = "secure_proxy_ssl_header")]
    pub proxy_ssl_header: Vec<String>,
    /// `SECURE_SSL_REDIRECT`: redirect (301) every plain-HTTP request to HTTPS.
    #[serde(rename = "secure_ssl_redirect")]
    pub ssl_redirect: bool,
    /// `SECURE_SSL_HOST`: the host of that redirect (default: the request's).
    #[serde(rename = "secure_ssl_host", skip_serializing_if = "Option::is_none")]
    pub ssl_host: Option<String>,
    /// `SECURE_HSTS_SECONDS`: `Strict-Transport-Security: max-age=...` on secure responses
    /// (0 = none).
    #[serde(rename = "secure_hsts_seconds")]
    pub hsts_seconds: u64,
    /// `SECURE_HSTS_INCLUDE_SUBDOMAINS`.
    #[serde(rename = "secure_hsts_include_subdomains")]
    pub hsts_include_subdomains: bool,
    /// `SECURE_HSTS_PRELOAD`.
    #[serde(rename = "secure_hsts_preload")]
    pub hsts_preload: bool,
    /// `SECURE_CONTENT_TYPE_NOSNIFF`: `X-Content-Type-Options: nosniff`.
    #[serde(rename = "secure_content_type_nosniff")]
    pub content_type_nosniff: bool,
    /// `SECURE_REFERRER_POLICY` (comma-separated policies; empty = no header).
    #[serde(rename = "secure_referrer_policy")]
    pub referrer_policy: String,
    /// `SECURE_CROSS_ORIGIN_OPENER_POLICY` (empty = no header).
    #[serde(rename = "secure_cross_origin_opener_policy")]
    pub cross_origin_opener_policy: String,
    /// `X_FRAME_OPTIONS`: `DENY` or `SAMEORIGIN`.
    pub x_frame_options: String,
    /// `APPEND_SLASH`: a `GET` or `HEAD` that finds nothing at `/path` but would at `/path/`
    /// is redirected (301) there.
    pub append_slash: bool,
    /// `trusted_proxy_header`: the header a trusted reverse proxy puts the client's address
    /// in, e.g. `X-Forwarded-For` or `X-Real-IP` (empty, the default: the connection's
    /// address). Set it only when every request comes through that proxy.
    pub trusted_proxy_header: String,
    /// `trusted_proxy_count`: how many trusted proxies append to `trusted_proxy_header`: the
    /// client is the entry this far from the right (1: the address the nearest proxy saw).
    pub trusted_proxy_count: usize,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            use_x_forwarded_host: false,
            proxy_ssl_header: Vec::new(),
            ssl_redirect: false,
            ssl_host: None,
            hsts_seconds: 0,
            hsts_include_subdomains: false,
            hsts_preload: false,
            content_type_nosniff: true,
            referrer_policy: "same-origin".into(),
            cross_origin_opener_policy: "same-origin".into(),
            x_frame_options: "DENY".into(),
            append_slash: true,
            trusted_proxy_header: String::new(),
            trusted_proxy_count: 1,
        }
    }
}

/// The session cookie and engine (Django's `SESSION_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    /// `SESSION_ENGINE`: `db`, `cache`, `cached_db`, `signed_cookies` or `memory` (Django's
    /// dotted paths are accepted too).
    #[serde(rename = "session_engine")]
    pub engine: SessionEngine,
    /// `SESSION_COOKIE_NAME`.
    #[serde(rename = "session_cookie_name")]
    pub cookie_name: String,
    /// `SESSION_COOKIE_AGE` in seconds.
    #[serde(rename = "session_cookie_age")]
    pub cookie_age: i64,
    /// `SESSION_COOKIE_DOMAIN`.
    #[serde(
        rename = "session_cookie_domain",
        skip_serializing_if = "Option::is_none"
    )]
    pub cookie_domain: Option<String>,
    /// `SESSION_COOKIE_PATH`.
    #[serde(rename = "session_cookie_path")]
    pub cookie_path: String,
    /// `SESSION_COOKIE_SECURE`.
    #[serde(rename = "session_cookie_secure")]
    pub cookie_secure: bool,
    /// `SESSION_COOKIE_HTTPONLY`.
    #[serde(rename = "session_cookie_httponly")]
    pub cookie_httponly: bool,
    /// `SESSION_COOKIE_SAMESITE`: `Lax`, `Strict`, `None`, or `false` to omit the attribute.
    #[serde(rename = "session_cookie_samesite")]
    pub cookie_samesite: SameSite,
    /// `SESSION_SAVE_EVERY_REQUEST`.
    #[serde(rename = "session_save_every_request")]
    pub save_every_request: bool,
    /// `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
    #[serde(rename = "session_expire_at_browser_close")]
    pub expire_at_browser_close: bool,
    /// `session_key_salt`: the session codec's salt, `django.contrib.sessions.` + the store
    /// class's qualified name. Change it only to share sessions with a Django project that
    /// subclasses its store.
    #[serde(rename = "session_key_salt")]
    pub key_salt: String,
    /// `session_max_size`: the largest encoded session accepted by a store, in bytes (0 = no
    /// limit).
    #[serde(rename = "session_max_size")]
    pub max_size: usize,
    /// `session_decode_cache_bytes`: bytes of decoded sessions kept by their exact
    /// `session_data` text, so that a client's unchanged session is not verified and inflated
    /// again on every request (0 = off; the budget is approximate). The store is still asked
    /// on every request.
    #[serde(rename = "session_decode_cache_bytes")]
    pub decode_cache_bytes: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            engine: SessionEngine::Db,
            cookie_name: "sessionid".into(),
            cookie_age: 1_209_600,
            cookie_domain: None,
            cookie_path: "/".into(),
            cookie_secure: false,
            cookie_httponly: true,
            cookie_samesite: SameSite::Lax,
            save_every_request: false,
            expire_at_browser_close: false,
            key_salt: crate::session::DEFAULT_KEY_SALT.into(),
            max_size: 0,
            decode_cache_bytes: crate::session::DEFAULT_DECODE_CACHE_BYTES,
        }
    }
}

/// The CSRF cookie and checks (Django's `CSRF_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CsrfSettings {
    /// `CSRF_COOKIE_NAME`.
    #[serde(rename = "csrf_cookie_name")]
    pub cookie_name: String,
    /// `CSRF_COOKIE_AGE` in seconds.
    #[serde(rename = "csrf_cookie_age")]
    pub cookie_age: i64,
    /// `CSRF_COOKIE_DOMAIN`.
    #[serde(rename = "csrf_cookie_domain", skip_serializing_if = "Option::is_none")]
    pub cookie_domain: Option<String>,
    /// `CSRF_COOKIE_PATH`.
    #[serde(rename = "csrf_cookie_path")]
    pub cookie_path: String,
    /// `CSRF_COOKIE_SECURE`.
    #[serde(rename = "csrf_cookie_secure")]
    pub cookie_secure: bool,
    /// `CSRF_COOKIE_HTTPONLY`.
    #[serde(rename = "csrf_cookie_httponly")]
    pub cookie_httponly: bool,
    /// `CSRF_COOKIE_SAMESITE`.
    #[serde(rename = "csrf_cookie_samesite")]
    pub cookie_samesite: SameSite,
    /// `CSRF_HEADER_NAME`, as an HTTP header name.
    #[serde(rename = "csrf_header_name")]
    pub header_name: String,
    /// `CSRF_TRUSTED_ORIGINS`.
    #[serde(rename = "csrf_trusted_origins")]
    pub trusted_origins: Vec<String>,
    /// `CSRF_USE_SESSIONS`.
    #[serde(rename = "csrf_use_sessions")]
    pub use_sessions: bool,
}

impl Default for CsrfSettings {
    fn default() -> Self {
        Self {
            cookie_name: "csrftoken".into(),
            cookie_age: 31_449_600,
            cookie_domain: None,
            cookie_path: "/".into(),
            cookie_secure: false,
            cookie_httponly: false,
            cookie_samesite: SameSite::Lax,
            header_name: "X-CSRFToken".into(),
            trusted_origins: Vec::new(),
            use_sessions: false,
        }
    }
}

/// Passwords (hashers, validators, the hashing pool, resets) and the login views' URLs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// `PASSWORD_HASHERS`, by algorithm name or Django dotted path; the first is preferred.
    pub password_hashers: Vec<String>,
    /// `AUTH_PASSWORD_VALIDATORS`.
    #[serde(rename = "auth_password_validators")]
    pub password_validators: Vec<ValidatorConfig>,
    /// `PASSWORD_RESET_TIMEOUT` in seconds.
    pub password_reset_timeout: i64,
    /// `password_hashing_threads`: threads that may hash passwords at once (0 = the number
    /// of CPUs).
    #[serde(rename = "password_hashing_threads")]
    pub hashing_threads: usize,
    /// `password_hashing_nice`: the hashing threads' `nice` value, 0 (the process's
    /// priority) to 19 (Linux only): requests beside logins go first where the two compete
    /// for a core.
    #[serde(rename = "password_hashing_nice")]
    pub hashing_nice: i32,
    /// `password_hashing_idle`: whether the hashing threads use Linux's `SCHED_IDLE` policy,
    /// running only when a core has nothing else to do (default `true`); without it they run
    /// at `password_hashing_nice`.
    #[serde(rename = "password_hashing_idle")]
    pub hashing_idle: bool,
    /// `auth_backend_path`: what goes into `_auth_user_backend`.
    #[serde(rename = "auth_backend_path")]
    pub backend_path: String,
    /// `LOGIN_URL`.
    pub login_url: String,
    /// `LOGIN_REDIRECT_URL`.
    pub login_redirect_url: String,
    /// `LOGOUT_REDIRECT_URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logout_redirect_url: Option<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            // Django's list, less the hashers this build leaves out (crate features), so that
            // the defaults work in any build.
            password_hashers: crate::auth::hashers::django_default_names()
                .into_iter()
                .map(String::from)
                .collect(),
            password_validators: default_validators(),
            password_reset_timeout: 259_200,
            hashing_threads: 0,
            hashing_nice: crate::auth::hashers::DEFAULT_HASHING_NICE,
            hashing_idle: true,
            backend_path: "django.contrib.auth.backends.ModelBackend".into(),
            login_url: "/accounts/login/".into(),
            login_redirect_url: "/accounts/profile/".into(),
            logout_redirect_url: None,
        }
    }
}

/// The messages framework (Django's `MESSAGE_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageSettings {
    /// `MESSAGE_LEVEL`.
    #[serde(rename = "message_level")]
    pub level: i32,
    /// `MESSAGE_TAGS`: level → tag overrides.
    #[serde(rename = "message_tags")]
    pub tags: BTreeMap<String, String>,
}

impl Default for MessageSettings {
    fn default() -> Self {
        Self {
            level: 20,
            tags: BTreeMap::new(),
        }
    }
}

/// The throttle of logins, signups and password-reset requests (see
/// `docs/login-throttling.md`): django-axes' settings and Sesame's delays and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleSettings {
    /// django-axes' `AXES_ENABLED`: throttle logins, signups and password-reset requests.
    #[serde(rename = "axes_enabled")]
    pub enabled: bool,
    /// django-axes' `AXES_FAILURE_LIMIT`: failed logins allowed per lockout key within the
    /// cool-off; the next attempt is refused (429) before any password is hashed. At least 1.
    #[serde(rename = "axes_failure_limit")]
    pub failure_limit: u32,
    /// django-axes' `AXES_COOLOFF_TIME`, in hours as in django-axes (`0.25` = 15 minutes):
    /// how long a lockout key is remembered after its last failure. Also the window of the
    /// address and username delays and of the signup and reset limits.
    #[serde(rename = "axes_cooloff_time")]
    pub cooloff_time: f64,
    /// django-axes' `AXES_LOCKOUT_PARAMETERS`: what a lockout is keyed by, each entry
    /// `"username"`, `"ip_address"` or a combination (`["username", "ip_address"]`, in the
    /// environment `username+ip_address`). The default, the pair, never lets one address
    /// lock a user out elsewhere.
    #[serde(rename = "axes_lockout_parameters")]
    pub lockout_parameters: Vec<crate::auth::throttle::LockoutParameter>,
    /// `login_ip_delay_after`: failed logins from one client address (over all usernames)
    /// within the cool-off after which each further login from it waits, growing from
    /// `login_delay_initial` to `login_delay_max` (0 = off). Slows credential stuffing
    /// without refusing every user behind a shared address.
    #[serde(rename = "login_ip_delay_after")]
    pub ip_delay_after: u32,
    /// `login_username_delay_after`: failed logins for one username (from every address)
    /// within the cool-off after which each further login for it waits (0 = off, the
    /// default: anyone who knows a username could otherwise slow its owner's logins).
    #[serde(rename = "login_username_delay_after")]
    pub username_delay_after: u32,
    /// `login_delay_initial`: the first delay, in seconds; each further failure doubles it.
    #[serde(rename = "login_delay_initial")]
    pub delay_initial: f64,
    /// `login_delay_max`: the longest delay, in seconds (at most 300).
    #[serde(rename = "login_delay_max")]
    pub delay_max: f64,
    /// `login_throttle_max_keys`: counters kept at most by the in-memory throttle store (the
    /// `memory` session engine); the stalest go first when it is full.
    #[serde(rename = "login_throttle_max_keys")]
    pub max_keys: usize,
    /// `signup_limit_per_ip`: signup requests allowed per client address within the
    /// cool-off (0 = no limit).
    pub signup_limit_per_ip: u32,
    /// `password_reset_limit_per_ip`: password-reset requests allowed per client address
    /// within the cool-off (0 = no limit).
    pub password_reset_limit_per_ip: u32,
    /// `password_reset_limit_per_email`: password-reset requests allowed per e-mail address
    /// within the cool-off (0 = no limit).
    pub password_reset_limit_per_email: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            failure_limit: 5,
            cooloff_time: 0.25,
            lockout_parameters: crate::auth::throttle::default_lockout_parameters(),
            ip_delay_after: 20,
            username_delay_after: 0,
            delay_initial: 1.0,
            delay_max: 30.0,
            max_keys: 100_000,
            signup_limit_per_ip: 20,
            password_reset_limit_per_ip: 20,
            password_reset_limit_per_email: 5,
        }
    }
}

/// Where users, groups, permissions and sessions are stored: the database and the cache.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `database_url`: where users, groups, permissions and (with the `db` engine) sessions
    /// live.
    #[serde(rename = "database_url")]
    pub url: String,
    /// `cache_url`: Redis for the `cache` and `cached_db` engines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_url: Option<String>,
    /// `cache_key_prefix`: the cache's `KEY_PREFIX` (Django's
    /// `CACHES["default"]["KEY_PREFIX"]`), for the `cache` and `cached_db` engines.
    pub cache_key_prefix: String,
    /// `cache_version`: the cache's `VERSION` (Django's `CACHES["default"]["VERSION"]`).
    pub cache_version: i64,
    /// `mongodb_user_id`, MongoDB only: the kind of user `_id`, `objectid`
    /// (django-mongodb-backend's), `int` (from a counters collection) or `str` (chosen by the
    /// application, e.g. the e-mail).
    pub mongodb_user_id: crate::auth::IdKind,
    /// `database_timeout`: seconds a database or cache operation may take before it fails
    /// with a typed error (MongoDB and Redis).
    #[serde(rename = "database_timeout")]
    pub timeout: f64,
    /// `sqlite_inline_reads`, SQLite only: the read of every authenticated request (session,
    /// user, permissions) runs on the request's own thread rather than through the pool's
    /// worker threads, which is faster (default `true`); turn it off for a database on a slow
    /// or network disk.
    pub sqlite_inline_reads: bool,
    /// `sqlite_unchanged_reads`, SQLite with inline reads: a request's read is answered from
    /// the last identical one while SQLite's `data_version` says that nothing was committed
    /// since, by any connection or process, and the session has not expired (default `true`).
    pub sqlite_unchanged_reads: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://sesame.sqlite3".into(),
            cache_url: None,
            cache_key_prefix: String::new(),
            cache_version: 1,
            mongodb_user_id: crate::auth::IdKind::ObjectId,
            timeout: 5.0,
            sqlite_inline_reads: true,
            sqlite_unchanged_reads: true,
        }
    }
}

/// Sending e-mail (Django's `EMAIL_*` and `DEFAULT_FROM_EMAIL`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    /// `EMAIL_BACKEND`: `console`, `file` (a directory outbox, `EMAIL_FILE_PATH`) or `smtp`
    /// (Django's dotted paths are accepted too).
    #[serde(rename = "email_backend")]
    pub backend: EmailBackend,
    /// `EMAIL_FILE_PATH`: the outbox directory of the `file` backend.
    #[serde(rename = "email_file_path")]
    pub file_path: String,
    /// `DEFAULT_FROM_EMAIL`.
    #[serde(rename = "default_from_email")]
    pub default_from: String,
    /// `EMAIL_HOST` (the `smtp` backend).
    #[serde(rename = "email_host")]
    pub host: String,
    /// `EMAIL_PORT`.
    #[serde(rename = "email_port")]
    pub port: u16,
    /// `EMAIL_HOST_USER` (empty: no authentication).
    #[serde(rename = "email_host_user")]
    pub host_user: String,
    /// `EMAIL_HOST_PASSWORD`.
    #[serde(rename = "email_host_password")]
    pub host_password: String,
    /// `EMAIL_USE_TLS`: STARTTLS.
    #[serde(rename = "email_use_tls")]
    pub use_tls: bool,
    /// `EMAIL_USE_SSL`: implicit TLS.
    #[serde(rename = "email_use_ssl")]
    pub use_ssl: bool,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            backend: EmailBackend::Console,
            file_path: "sesame-outbox".into(),
            default_from: "webmaster@localhost".into(),
            host: "localhost".into(),
            port: 25,
            host_user: String::new(),
            host_password: String::new(),
            use_tls: false,
            use_ssl: false,
        }
    }
}

/// `sesame serve` itself: its address, templates and generated key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServeSettings {
    /// `bind`: the address `sesame serve` listens on.
    pub bind: String,
    /// `templates_dir`: a directory whose templates override the built-in ones of `sesame
    /// serve` (`registration/login.html`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<String>,
    /// `secret_key_file`: where `sesame serve` keeps a generated `SECRET_KEY` (mode 0600)
    /// when none is configured.
    pub secret_key_file: String,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            templates_dir: None,
            secret_key_file: ".sesame-secret-key".into(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            secret_key: String::new(),
            secret_key_fallbacks: Vec::new(),
            django_version: DjangoVersion::V5_2,
            time_zone: "America/Chicago".into(),
            debug: false,
            signed_cookie_legacy_salt_fallback: true,
            security: SecuritySettings::default(),
            session: SessionSettings::default(),
            csrf: CsrfSettings::default(),
            auth: AuthSettings::default(),
            messages: MessageSettings::default(),
            throttle: ThrottleSettings::default(),
            database: DatabaseSettings::default(),
            email: EmailSettings::default(),
            serve: ServeSettings::default(),
        }
    }
}

impl Settings {
    /// Parse a `sesame.toml` text (no environment overrides). Unknown keys are refused,
    /// naming the closest setting.
    ///
    /// ```
    /// use sesame_core::settings::Settings;
    /// let err = Settings::from_toml_str("session_cookie_agee = 60").unwrap_err();
    /// assert!(err.to_string().contains("did you mean session_cookie_age?"));
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| SettingsError::Invalid(e.to_string()))?;
        Self::from_table(table)
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
        let defaults = default_table()?;
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
                _ if defaults.contains_key(&key) || OPTIONAL_SETTINGS.contains(&key.as_str()) => {
                    toml::Value::String(raw)
                }
                // Variables such as SESAME_SUPERUSER_PASSWORD are read by commands, not here.
                _ => continue,
            };
            table.insert(key, value);
        }
        let settings = Self::from_table(table)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings of a parsed file. `deny_unknown_fields` does not work with the flattened
    /// sections, so the keys are checked here; and since a flattened section's error does not
    /// say which key it came from, the key at fault is found by reading each on its own.
    fn from_table(table: toml::Table) -> Result<Self, SettingsError> {
        let known = known_keys()?;
        for key in table.keys() {
            if !known.contains(key) {
                let closest = closest(key, &known)
                    .map(|k| format!("; did you mean {k}?"))
                    .unwrap_or_default();
                return Err(SettingsError::Invalid(format!(
                    "unknown setting `{key}`{closest}"
                )));
            }
        }
        Settings::deserialize(toml::Value::Table(table.clone())).map_err(|whole| {
            let culprit = table.into_iter().find_map(|(key, value)| {
                let alone = toml::Table::from_iter([(key.clone(), value)]);
                let e = Settings::deserialize(toml::Value::Table(alone)).err()?;
                // toml names the top-level keys itself, not those of the sections.
                let e = e.to_string();
                Some(if e.contains(&format!("`{key}`")) {
                    e
                } else {
                    format!("{key}: {e}")
                })
            });
            SettingsError::Invalid(culprit.unwrap_or_else(|| whole.to_string()))
        })
    }

    /// Refuse values Django would refuse (its system checks and the values its middlewares
    /// understand), naming the setting, so that a typo never silently weakens a protection.
    ///
    /// ```
    /// use sesame_core::settings::Settings;
    /// let mut bad = Settings::default();
    /// bad.security.x_frame_options = "ALLOW".into();
    /// assert!(bad.validate().unwrap_err().to_string().contains("X_FRAME_OPTIONS"));
    /// assert!(Settings::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |m: String| Err(SettingsError::Invalid(m));
        let security = &self.security;
        if !matches!(security.proxy_ssl_header.len(), 0 | 2) {
            return bad(format!(
                "SECURE_PROXY_SSL_HEADER must be two values, a header and the value that means \
                 HTTPS (e.g. [\"HTTP_X_FORWARDED_PROTO\", \"https\"]); got {:?}",
                security.proxy_ssl_header
            ));
        }
        if let [name, value] = security.proxy_ssl_header.as_slice() {
            if !is_header_name(name.strip_prefix("HTTP_").unwrap_or(name)) || value.is_empty() {
                return bad(format!(
                    "SECURE_PROXY_SSL_HEADER: {name:?} is not a header name or the value is empty"
                ));
            }
        }
        if !security.trusted_proxy_header.is_empty() {
            if !is_header_name(&security.trusted_proxy_header) {
                return bad(format!(
                    "TRUSTED_PROXY_HEADER: {:?} is not a header name",
                    security.trusted_proxy_header
                ));
            }
            if security.trusted_proxy_count == 0 {
                return bad("TRUSTED_PROXY_COUNT must be at least 1".into());
            }
        }
        if !["DENY", "SAMEORIGIN"].contains(&security.x_frame_options.to_ascii_uppercase().as_str())
        {
            return bad(format!(
                "X_FRAME_OPTIONS must be DENY or SAMEORIGIN, not {:?}",
                security.x_frame_options
            ));
        }
        for policy in security.referrer_policy.split(',').map(str::trim) {
            if !policy.is_empty() && !REFERRER_POLICIES.contains(&policy) {
                return bad(format!(
                    "SECURE_REFERRER_POLICY: {policy:?} is not one of {}",
                    REFERRER_POLICIES.join(", ")
                ));
            }
        }
        let coop = security.cross_origin_opener_policy.as_str();
        if !coop.is_empty() && !CROSS_ORIGIN_OPENER_POLICIES.contains(&coop) {
            return bad(format!(
                "SECURE_CROSS_ORIGIN_OPENER_POLICY: {coop:?} is not one of {}",
                CROSS_ORIGIN_OPENER_POLICIES.join(", ")
            ));
        }
        if let Some(host) = security.allowed_hosts.iter().find(|h| h.trim().is_empty()) {
            return bad(format!("ALLOWED_HOSTS has an empty entry ({host:?})"));
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
        let Ok(known) = known_keys() else {
            return Vec::new();
        };
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
            warnings.push(match closest(&key, &known) {
                Some(k) => format!(
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

/// The defaults as the flat table of `sesame.toml` keys (optional settings left out).
fn default_table() -> Result<toml::Table, SettingsError> {
    toml::Table::try_from(Settings::default()).map_err(|e| SettingsError::Invalid(e.to_string()))
}

/// Every `sesame.toml` key, in the file's (and Django's) names.
fn known_keys() -> Result<Vec<String>, SettingsError> {
    let mut known: Vec<String> = default_table()?.keys().cloned().collect();
    known.extend(OPTIONAL_SETTINGS.iter().map(|k| (*k).to_owned()));
    Ok(known)
}

/// The known key most like `key`, when one is close enough to be a likely typo.
fn closest<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), k))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8)
        .map(|(_, k)| k.as_str())
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
        assert_eq!(s.session.cookie_age, 60);
        assert!(s.session.cookie_secure);
        assert_eq!(s.database.cache_url.as_deref(), Some("redis://x"));
        assert_eq!(s.database.mongodb_user_id, crate::auth::IdKind::Int);
        assert_eq!(s.database.timeout, 2.5);
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
        assert_eq!(s.security.allowed_hosts, ["example.com", ".example.org"]);
        assert_eq!(
            s.security.proxy_ssl_header,
            ["HTTP_X_FORWARDED_PROTO", "https"]
        );
        assert_eq!(s.security.hsts_seconds, 3600);
        assert_eq!(s.security.ssl_host.as_deref(), Some("secure.example.com"));
        assert_eq!(s.security.x_frame_options, "SAMEORIGIN");
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
        assert_eq!(s.auth.password_validators.len(), 1);
    }

    #[test]
    fn one_key_of_every_section_reaches_its_typed_field() {
        let s = Settings::from_toml_str(
            r#"
django_version = "6.0"
secure_hsts_seconds = 60
session_engine = "django.contrib.sessions.backends.cached_db"
session_cookie_samesite = false
csrf_cookie_samesite = "Strict"
auth_password_validators = []
password_hashing_threads = 3
message_tags = { "40" = "danger" }
axes_cooloff_time = 1
login_throttle_max_keys = 500
database_timeout = 0.5
cache_url = "redis://127.0.0.1/1"
email_backend = "django.core.mail.backends.smtp.EmailBackend"
default_from_email = "site@example.com"
bind = "0.0.0.0:9000"
templates_dir = "templates"
"#,
        )
        .unwrap();
        assert_eq!(s.django_version, DjangoVersion::V6_0);
        assert_eq!(s.security.hsts_seconds, 60);
        assert_eq!(s.session.engine, SessionEngine::CachedDb);
        assert_eq!(s.session.cookie_samesite, SameSite::Off);
        assert_eq!(s.csrf.cookie_samesite, SameSite::Strict);
        assert!(s.auth.password_validators.is_empty());
        assert_eq!(s.auth.hashing_threads, 3);
        assert_eq!(s.messages.tags["40"], "danger");
        assert_eq!(s.throttle.cooloff_time, 1.0);
        assert_eq!(s.throttle.max_keys, 500);
        assert_eq!(s.database.timeout, 0.5);
        assert_eq!(s.database.cache_url.as_deref(), Some("redis://127.0.0.1/1"));
        assert_eq!(s.email.backend, EmailBackend::Smtp);
        assert_eq!(s.email.default_from, "site@example.com");
        assert_eq!(s.serve.bind, "0.0.0.0:9000");
        assert_eq!(s.serve.templates_dir.as_deref(), Some("templates"));
        // Everything else keeps its default.
        assert_eq!(s.session.cookie_name, "sessionid");
        assert_eq!(s.csrf.cookie_name, "csrftoken");
        assert_eq!(s.email.port, 25);
    }

    #[test]
    fn environment_overrides_reach_nested_fields() {
        let env = [
            ("SESAME_SESSION_ENGINE", "signed_cookies"),
            ("SESAME_CSRF_COOKIE_SAMESITE", "None"),
            ("SESAME_SESSION_COOKIE_SAMESITE", "False"),
            ("SESAME_EMAIL_BACKEND", "file"),
            ("SESAME_EMAIL_USE_TLS", "yes"),
            ("SESAME_DJANGO_VERSION", "6.1"),
            ("SESAME_AXES_FAILURE_LIMIT", "7"),
            ("SESAME_PASSWORD_HASHERS", "argon2, pbkdf2_sha256"),
            ("SESAME_TEMPLATES_DIR", "t"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let s = Settings::from_toml_and_env("session_engine = \"memory\"", env).unwrap();
        assert_eq!(s.session.engine, SessionEngine::SignedCookies);
        assert_eq!(s.csrf.cookie_samesite, SameSite::None);
        assert_eq!(s.session.cookie_samesite, SameSite::Off);
        assert_eq!(s.email.backend, EmailBackend::File);
        assert!(s.email.use_tls);
        assert_eq!(s.django_version, DjangoVersion::V6_1);
        assert_eq!(s.throttle.failure_limit, 7);
        assert_eq!(s.auth.password_hashers, ["argon2", "pbkdf2_sha256"]);
        assert_eq!(s.serve.templates_dir.as_deref(), Some("t"));
    }

    #[test]
    fn unknown_keys_are_refused_with_the_closest_setting() {
        let err = Settings::from_toml_str("secure_hsts_second = 60")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`secure_hsts_second`"), "{err}");
        assert!(err.contains("did you mean secure_hsts_seconds?"), "{err}");
        let err = Settings::from_toml_and_env("zzzzzzzzzz = 1", [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown setting `zzzzzzzzzz`"), "{err}");
        assert!(!err.contains("did you mean"), "{err}");
        // The Rust names of the sections are not keys.
        assert!(Settings::from_toml_str("session = {}").is_err());
        assert!(Settings::from_toml_str("cookie_age = 1").is_err());
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Settings::from_toml_str("session_cookie_age = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("session_cookie_age:"), "{err}");
        let err = Settings::from_toml_str("email_port = 70000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("email_port:"), "{err}");
        // A top-level key is named by toml itself, once.
        let err = Settings::from_toml_str("django_version = \"7.0\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`django_version`"), "{err}");
        assert!(!err.contains("django_version: "), "{err}");
    }

    #[test]
    fn unknown_enum_values_list_the_accepted_ones() {
        for (toml, setting, accepted) in [
            (
                "session_engine = \"file\"",
                "SESSION_ENGINE",
                "signed_cookies",
            ),
            (
                "session_engine = \"django.contrib.sessions.backends.memory\"",
                "SESSION_ENGINE",
                "cached_db",
            ),
            ("session_cookie_samesite = \"lax\"", "SameSite", "Strict"),
            ("csrf_cookie_samesite = true", "SameSite", "Strict"),
            ("email_backend = \"locmem\"", "EMAIL_BACKEND", "smtp"),
            (
                "email_backend = \"django.core.mail.backends.locmem.EmailBackend\"",
                "EMAIL_BACKEND",
                "console",
            ),
            ("django_version = \"5.3\"", "django_version", "6.0"),
        ] {
            let err = Settings::from_toml_str(toml).unwrap_err().to_string();
            assert!(
                err.contains(setting) && err.contains(accepted),
                "{toml}: {err}"
            );
        }
    }

    #[test]
    fn enum_spellings_and_their_canonical_names() {
        for (text, engine) in [
            ("db", SessionEngine::Db),
            ("django.contrib.sessions.backends.db", SessionEngine::Db),
            ("cache", SessionEngine::Cache),
            (
                "django.contrib.sessions.backends.cache",
                SessionEngine::Cache,
            ),
            ("cached_db", SessionEngine::CachedDb),
            ("signed_cookies", SessionEngine::SignedCookies),
            (
                "django.contrib.sessions.backends.signed_cookies",
                SessionEngine::SignedCookies,
            ),
            ("memory", SessionEngine::Memory),
        ] {
            assert_eq!(text.parse::<SessionEngine>(), Ok(engine));
            assert_eq!(engine.to_string().parse::<SessionEngine>(), Ok(engine));
        }
        assert_eq!(SessionEngine::CachedDb.to_string(), "cached_db");
        for (text, backend) in [
            ("console", EmailBackend::Console),
            (
                "django.core.mail.backends.console.EmailBackend",
                EmailBackend::Console,
            ),
            ("file", EmailBackend::File),
            ("filebased", EmailBackend::File),
            ("directory", EmailBackend::File),
            (
                "django.core.mail.backends.filebased.EmailBackend",
                EmailBackend::File,
            ),
            ("smtp", EmailBackend::Smtp),
        ] {
            assert_eq!(text.parse::<EmailBackend>(), Ok(backend));
        }
        assert_eq!(EmailBackend::File.to_string(), "file");
        assert_eq!(SameSite::Off.to_string(), "");
        assert_eq!(SameSite::None.to_string(), "None");
        assert_eq!("".parse::<SameSite>(), Ok(SameSite::Off));
        assert_eq!(DjangoVersion::V6_0.to_string(), "6.0");
        assert_eq!(DjangoVersion::V6_0.pbkdf2_iterations(), 1_200_000);
        assert_eq!(DjangoVersion::default().pbkdf2_iterations(), 1_000_000);
    }

    #[test]
    fn every_setting_round_trips_through_its_toml_key() {
        let mut s = Settings::default();
        s.session.cookie_domain = Some(".example.com".into());
        s.csrf.cookie_domain = Some(".example.com".into());
        s.auth.logout_redirect_url = Some("/".into());
        s.database.cache_url = Some("redis://x".into());
        s.serve.templates_dir = Some("t".into());
        s.security.ssl_host = Some("secure.example.com".into());
        s.session.cookie_samesite = SameSite::Off;
        s.email.backend = EmailBackend::Smtp;
        let table = toml::Table::try_from(&s).unwrap();
        // With every optional setting set, the keys are exactly the known ones: the list of
        // optional settings misses none.
        let mut keys: Vec<&String> = table.keys().collect();
        let known = known_keys().unwrap();
        let mut known: Vec<&String> = known.iter().collect();
        keys.sort();
        known.sort();
        assert_eq!(keys, known);
        assert_eq!(Settings::from_table(table).unwrap(), s);
    }
}

/// `scheme://user:password@host/...` as `scheme://user:***@host/...`, for logs, errors and
/// `Debug` (database, cache and MongoDB URLs carry their password).
///
/// ```
/// use sesame_core::settings::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cr3t@db/app"), "postgres://app:***@db/app");
/// assert_eq!(redact_url("sqlite:sesame.sqlite3"), "sqlite:sesame.sqlite3");
/// ```
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = |v: &str| if v.is_empty() { "" } else { "***" };
        f.debug_struct("Settings")
            .field("secret_key", &mask(&self.secret_key))
            .field("secret_key_fallbacks", &self.secret_key_fallbacks.len())
            .field("django_version", &self.django_version)
            .field("time_zone", &self.time_zone)
            .field("debug", &self.debug)
            .field(
                "signed_cookie_legacy_salt_fallback",
                &self.signed_cookie_legacy_salt_fallback,
            )
            .field("security", &self.security)
            .field("session", &self.session)
            .field("csrf", &self.csrf)
            .field("auth", &self.auth)
            .field("messages", &self.messages)
            .field("throttle", &self.throttle)
            .field("database", &self.database)
            .field("email", &self.email)
            .field("serve", &self.serve)
            .finish()
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("cache_url", &self.cache_url.as_deref().map(redact_url))
            .field("cache_key_prefix", &self.cache_key_prefix)
            .field("cache_version", &self.cache_version)
            .field("mongodb_user_id", &self.mongodb_user_id)
            .field("timeout", &self.timeout)
            .field("sqlite_inline_reads", &self.sqlite_inline_reads)
            .field("sqlite_unchanged_reads", &self.sqlite_unchanged_reads)
            .finish()
    }
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("backend", &self.backend)
            .field("file_path", &self.file_path)
            .field("default_from", &self.default_from)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("host_user", &self.host_user)
            .field(
                "host_password",
                &if self.host_password.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .field("use_tls", &self.use_tls)
            .field("use_ssl", &self.use_ssl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    /// Settings end up in logs: their `Debug` must not carry the secrets.
    #[test]
    fn debug_never_shows_secrets() {
        let mut s = Settings {
            secret_key: "the-secret-key".into(),
            secret_key_fallbacks: vec!["the-old-key".into()],
            ..Settings::default()
        };
        s.email.host_password = "smtp-pass".into();
        s.database.url = "postgres://app:db-pass@localhost/test".into();
        s.database.cache_url = Some("redis://:cache-pass@localhost:6379/0".into());
        let shown = format!("{s:?}");
        for secret in [
            "the-secret-key",
            "the-old-key",
            "smtp-pass",
            "db-pass",
            "cache-pass",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("postgres://app:***@localhost/test"));
    }
}
