//! How to reach Redis, and the parts of Django's `CACHES` entry that decide the keys.

use crate::pickle::Limits;
use std::time::Duration;

/// The URL used when none is given: a local server's default port, database 0.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// How many connections a store keeps by default.
pub const DEFAULT_POOL_SIZE: usize = 4;

/// A Redis cache as Django's `CACHES` entry describes it (`BACKEND` =
/// `django.core.cache.backends.redis.RedisCache`), plus the client's timeouts and limits.
///
/// ```
/// use sesame_redis::RedisConfig;
/// use std::time::Duration;
/// let config = RedisConfig::new("redis://127.0.0.1:6379/0")
///     .with_key_prefix("shop")
///     .with_timeouts(Duration::from_millis(500), Duration::from_secs(1));
/// assert_eq!(config.make_key("django.contrib.sessions.cacheabc"), "shop:1:django.contrib.sessions.cacheabc");
/// ```
///
/// `Debug` shows the URL without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `LOCATION`: `redis://[[user]:password@]host[:port][/db]` (no TLS).
    pub url: String,
    /// `KEY_PREFIX`, default empty.
    pub key_prefix: String,
    /// `VERSION`, default 1.
    pub version: i64,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How long one command may wait for its answer.
    pub response_timeout: Duration,
    /// After a lost connection, how many more connection attempts (with exponential backoff
    /// from 100 ms) the waiting commands sit through before they fail. The next command
    /// starts over, so the store recovers by itself whenever Redis is back.
    pub reconnect_retries: usize,
    /// How many connections the store keeps (at least one). Each is multiplexed, so one
    /// already carries any number of concurrent requests pipelined; more spread the load over
    /// several sockets, so that one large value in flight does not hold up the requests queued
    /// behind it, and a connection being re-established leaves the others serving.
    pub pool_size: usize,
    /// What a stored value may cost to decode (a value beyond them loads as no session).
    pub limits: Limits,
    /// Refuse to write pickles over this many bytes (`0` = no limit), like the other stores'
    /// `with_max_size`.
    pub max_size: usize,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &crate::client::redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .field("version", &self.version)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("reconnect_retries", &self.reconnect_retries)
            .field("pool_size", &self.pool_size)
            .field("limits", &self.limits)
            .field("max_size", &self.max_size)
            .finish()
    }
}

impl RedisConfig {
    /// Django's defaults (`KEY_PREFIX` `""`, `VERSION` 1) for the server at `url`; 1 s to
    /// connect, 1 s per answer, one reconnection retry, a pool of [`DEFAULT_POOL_SIZE`]
    /// connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: String::new(),
            version: 1,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            reconnect_retries: 1,
            pool_size: DEFAULT_POOL_SIZE,
            limits: Limits::default(),
            max_size: 0,
        }
    }

    /// Set `KEY_PREFIX`.
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Set `VERSION`.
    pub fn with_version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    /// Set the connect and response timeouts.
    pub fn with_timeouts(mut self, connect: Duration, response: Duration) -> Self {
        self.connect_timeout = connect;
        self.response_timeout = response;
        self
    }

    /// Set the number of reconnection retries.
    pub fn with_reconnect_retries(mut self, retries: usize) -> Self {
        self.reconnect_retries = retries;
        self
    }

    /// Set the number of pooled connections (`0` counts as one).
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Set the decoding limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Refuse pickles over `max_size` bytes (`0` = no limit).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// Django's default `KEY_FUNCTION`: `f"{KEY_PREFIX}:{VERSION}:{key}"`.
    pub fn make_key(&self, key: &str) -> String {
        format!("{}:{}:{key}", self.key_prefix, self.version)
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self::new(DEFAULT_URL)
    }
}
