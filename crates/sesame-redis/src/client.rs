//! Django's `RedisCache` backend, reduced to what the session engines use: keys made with
//! `KEY_PREFIX` and `VERSION`, values pickled, and `SET ... EX` for the expiry, over a small
//! pool of multiplexed connections that reconnect by themselves.

use crate::RedisConfig;
use crate::pickle;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError};
use sesame_core::session::{SUSPICIOUS_SESSION_TARGET, SessionData, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Why a cache could not be set up. Reaching the server is not checked here: the connection
/// is made on first use, so a service can start while Redis is down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a `redis://` URL the client understands.
    #[error("invalid Redis URL {url:?}: {source}")]
    InvalidUrl {
        /// The URL, with any password left out.
        url: String,
        /// The client's complaint.
        #[source]
        source: RedisError,
    },
    /// The connection manager could not be built.
    #[error("cannot set up the Redis connection: {0}")]
    Client(#[source] RedisError),
    /// Called outside a tokio runtime, where the connection's task cannot be spawned.
    #[error("the Redis store must be set up inside a tokio runtime")]
    NoRuntime,
}

/// What a write did, for the callers that care (`add` and "set if it exists").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The value was stored (or, for an expiry in the past, the key removed).
    Done,
    /// The condition failed: the key existed for an add, or was missing for a replace.
    ConditionFailed,
}

/// When a write stores only if the key is absent (`NX`) or present (`XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `cache.set`.
    Always,
    /// `cache.add`: only if absent.
    IfAbsent,
    /// Only if present (Django checks with a `get` first; `XX` does the same in one step).
    IfPresent,
}

/// A Redis server seen as a Django cache (`django.core.cache.backends.redis.RedisCache`).
///
/// Cheap to clone: clones share the connections. The session stores are built on it; use it
/// directly for health checks, or to look at the keys the Django site and Sesame share.
/// Creating it connects nothing: the first command does, so a service can start while Redis
/// is down, and every command of an unreachable server fails with
/// `StoreError::Unavailable` after the configured timeouts.
///
/// ```no_run
/// use sesame_redis::{RedisCache, RedisConfig};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = RedisCache::new(RedisConfig::new("redis://127.0.0.1:6379/0"))?;
/// cache.ping().await?; // e.g. in /healthz
/// assert_eq!(cache.make_key("greeting"), ":1:greeting");
/// if cache.has_key("greeting").await? {
///     cache.delete("greeting").await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCache {
    // redis-rs's `ConnectionManager` is the client's own reconnecting, multiplexed
    // connection; a pool of them, taken in turn, is all the pooling a multiplexed protocol
    // needs (a checkout pool such as bb8 or deadpool would hold one request per connection).
    pool: Arc<[ConnectionManager]>,
    next: Arc<AtomicUsize>,
    config: Arc<RedisConfig>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("url", &redact_url(&self.config.url))
            .field("key_prefix", &self.config.key_prefix)
            .field("version", &self.config.version)
            .finish()
    }
}

impl RedisCache {
    /// A cache for `config`. Connects lazily: nothing is sent before the first command. Must
    /// be called inside a tokio runtime (the connection's background task is spawned there).
    pub fn new(config: RedisConfig) -> Result<Self, ConnectError> {
        // The client spawns its connection task on the current runtime and would panic
        // without one.
        tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let client = redis::Client::open(config.url.as_str()).map_err(|source| {
            ConnectError::InvalidUrl {
                url: redact_url(&config.url),
                source,
            }
        })?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(config.reconnect_retries)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let pool = (0..config.pool_size.max(1))
            .map(|_| {
                ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())
                    .map_err(ConnectError::Client)
            })
            .collect::<Result<Arc<[_]>, _>>()?;
        Ok(Self {
            pool,
            next: Arc::new(AtomicUsize::new(0)),
            config: Arc::new(config),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The Redis key for a cache key: `KEY_PREFIX:VERSION:key`.
    pub fn make_key(&self, key: &str) -> String {
        self.config.make_key(key)
    }

    /// `PING`: whether the server answers (for health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.query::<String>(&redis::cmd("PING")).await.map(drop)
    }

    /// The raw value under the cache key `key`, read with `GETRANGE` so that a value longer
    /// than the decoding limit is never transferred in full: at most one byte more than the
    /// limit arrives, which is enough for the decoder to refuse it.
    pub async fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GETRANGE");
        cmd.arg(self.make_key(key))
            .arg(0)
            .arg(self.config.limits.max_input_bytes);
        let value: Vec<u8> = self.query(&cmd).await?;
        // GETRANGE answers "" for a missing key; an empty value is no pickle either.
        Ok((!value.is_empty()).then_some(value))
    }

    /// The session dict under `key`. A value that is not a pickled dict of plain data is
    /// logged (`Session data corrupted`, as Django logs an unreadable session) and reads as
    /// no session, the way Django's cache engine treats a `get` that fails.
    pub async fn get_session(&self, key: &str) -> Result<Option<SessionData>, StoreError> {
        let Some(raw) = self.get_raw(key).await? else {
            return Ok(None);
        };
        match pickle::loads(&raw, &self.config.limits) {
            Ok(data) => Ok(Some(data)),
            Err(e) => {
                tracing::warn!(
                    target: SUSPICIOUS_SESSION_TARGET,
                    key = %redact_key(key),
                    error = %e,
                    "Session data corrupted: the cached session is not a plain pickled dict; \
                     treating it as no session"
                );
                Ok(None)
            }
        }
    }

    /// Store `data` under `key` until `expire_date`, as `cache.set`/`cache.add` do with
    /// `timeout = get_expiry_age()`. An expiry in the past removes the key instead (Django's
    /// Redis cache deletes on a timeout of 0 or less); an add then succeeds only if the key was
    /// absent, a replace only if it was present.
    pub async fn set_session(
        &self,
        key: &str,
        data: &SessionData,
        expire_date: DateTime<Utc>,
        condition: Condition,
    ) -> Result<Written, StoreError> {
        let value = self.pickle(data)?;
        let full_key = self.make_key(key);
        let Some(ttl_ms) = ttl_ms(expire_date) else {
            return self.expire_now(&full_key, condition).await;
        };
        let mut cmd = redis::cmd("SET");
        cmd.arg(&full_key).arg(value).arg("PX").arg(ttl_ms);
        match condition {
            Condition::Always => {}
            Condition::IfAbsent => {
                cmd.arg("NX");
            }
            Condition::IfPresent => {
                cmd.arg("XX");
            }
        }
        // "OK", or nil when NX/XX refused.
        let reply: Option<String> = self.query(&cmd).await?;
        Ok(if reply.is_some() {
            Written::Done
        } else {
            Written::ConditionFailed
        })
    }

    /// Store `data` under `key` until `expire_date` unless the cache key `marker` exists, in
    /// one atomic step: [`Written::ConditionFailed`] when the marker refused the write. This
    /// is how a copy read from the database before a logout is kept from landing in the cache
    /// after it (see [`revoke`](Self::revoke)).
    pub async fn set_session_unless(
        &self,
        key: &str,
        marker: &str,
        data: &SessionData,
        expire_date: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let value = self.pickle(data)?;
        let full_key = self.make_key(key);
        let Some(ttl_ms) = ttl_ms(expire_date) else {
            return self.expire_now(&full_key, Condition::Always).await;
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SET_UNLESS_MARKED)
            .arg(2)
            .arg(&full_key)
            .arg(self.make_key(marker))
            .arg(value)
            .arg(ttl_ms);
        let stored: i64 = self.query(&cmd).await?;
        Ok(if stored == 1 {
            Written::Done
        } else {
            Written::ConditionFailed
        })
    }

    /// Set the cache key `marker` for `ttl` and delete `key`, in one atomic step: from then
    /// on [`set_session_unless`](Self::set_session_unless) with this marker writes nothing
    /// until the marker expires. Returns whether `key` was there.
    pub async fn revoke(
        &self,
        key: &str,
        marker: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(REVOKE)
            .arg(2)
            .arg(self.make_key(key))
            .arg(self.make_key(marker))
            .arg(ttl_ms);
        let deleted: i64 = self.query(&cmd).await?;
        Ok(deleted > 0)
    }

    /// The pickle of `data`, refused over `max_size`.
    fn pickle(&self, data: &SessionData) -> Result<Vec<u8>, StoreError> {
        let value = pickle::dumps(data).map_err(|e| StoreError::Backend(Box::new(e)))?;
        if self.config.max_size > 0 && value.len() > self.config.max_size {
            return Err(StoreError::TooLarge {
                size: value.len(),
                limit: self.config.max_size,
            });
        }
        Ok(value)
    }

    /// A write whose expiry has already passed.
    async fn expire_now(
        &self,
        full_key: &str,
        condition: Condition,
    ) -> Result<Written, StoreError> {
        match condition {
            // Django sets with NX and deletes at once; nothing is written here, the answer
            // is the same: whether the key was free.
            Condition::IfAbsent => {
                let exists: bool = self.query(redis::cmd("EXISTS").arg(full_key)).await?;
                Ok(if exists {
                    Written::ConditionFailed
                } else {
                    Written::Done
                })
            }
            Condition::Always | Condition::IfPresent => {
                let deleted: i64 = self.query(redis::cmd("DEL").arg(full_key)).await?;
                Ok(if condition == Condition::IfPresent && deleted == 0 {
                    Written::ConditionFailed
                } else {
                    Written::Done
                })
            }
        }
    }

    /// `cache.delete(key)`; whether a key was removed.
    pub async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .query(redis::cmd("DEL").arg(self.make_key(key)))
            .await?;
        Ok(n > 0)
    }

    /// `key in cache`.
    pub async fn has_key(&self, key: &str) -> Result<bool, StoreError> {
        self.query(redis::cmd("EXISTS").arg(self.make_key(key)))
            .await
    }

    /// Run one command. A command that finds the connection lost is tried once more: the
    /// manager has started reconnecting by then, and the second try waits for that, so a
    /// restart of Redis while the service was idle costs no error at all. Repeating is safe for
    /// every command used here: a `SET NX` whose first reply was lost answers "exists" the
    /// second time, and the session retries with a new key, leaving a record that expires.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        let mut conn = self.pool[turn].clone();
        match cmd.query_async(&mut conn).await {
            Err(e) if e.is_connection_dropped() || e.is_connection_refusal() => {
                tracing::debug!(error = %e, "Redis connection lost; retrying once");
                cmd.query_async(&mut conn).await.map_err(store_error)
            }
            other => other.map_err(store_error),
        }
    }
}

/// `SET KEYS[1] ARGV[1] PX ARGV[2]` unless `KEYS[2]` exists; 1 if written. One script, so
/// that no revocation can fall between the check and the write.
const SET_UNLESS_MARKED: &str = "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end \
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1";

/// Mark `KEYS[2]` for `ARGV[1]` ms and delete `KEYS[1]`; the number of keys deleted.
const REVOKE: &str = "redis.call('SET', KEYS[2], '1', 'PX', ARGV[1]) \
return redis.call('DEL', KEYS[1])";

/// Milliseconds until `expire_date`, or `None` once it has passed. Milliseconds rather than
/// Django's whole seconds, so the key goes at the record's expiry date itself and not up to
/// a second later.
fn ttl_ms(expire_date: DateTime<Utc>) -> Option<i64> {
    let ms = (expire_date - Utc::now()).num_milliseconds();
    (ms > 0).then_some(ms)
}

/// Outages become [`StoreError::Unavailable`], anything else [`StoreError::Backend`]; the web
/// layer answers 503 to both.
pub(crate) fn store_error(e: RedisError) -> StoreError {
    use redis::{ErrorKind, ServerErrorKind};
    let outage = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
            )
        );
    if outage {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}

/// A session key is a bearer credential: logs show only its start.
pub(crate) fn redact_key(key: &str) -> String {
    let start: String = key.chars().take(6).collect();
    format!("{start}…")
}

pub(crate) use sesame_core::settings::redact_url;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_never_show_passwords() {
        assert_eq!(
            redact_url("redis://user:secret@host:6379/1"),
            "redis://user:***@host:6379/1"
        );
        assert_eq!(redact_url("redis://:secret@host"), "redis://:***@host");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_key("0123456789abcdef"), "012345…");
        let config = crate::RedisConfig::new("redis://user:secret@host:6379/1");
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("redis://user:***@host:6379/1"), "{debug}");
    }
}
