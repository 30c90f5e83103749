//! Login-throttle counters in Redis: one key per counter under the cache's `KEY_PREFIX` and
//! `VERSION`, counted by `INCR` and given its window by `PEXPIRE` in one Lua script, so the
//! count and the expiry are one atomic step and Redis forgets the key when the window ends.

use crate::RedisCache;
use async_trait::async_trait;
use sesame_core::auth::throttle::{Count, ThrottleError, ThrottleKey, ThrottleStore};
use sesame_core::session::StoreError;
use std::time::Duration;

/// The cache-key prefix of the counters (after `KEY_PREFIX:VERSION:`).
pub const THROTTLE_KEY_PREFIX: &str = "sesame.throttle.";

/// `INCR` and `PEXPIRE` together: a script runs atomically, so no other client sees the
/// count without its expiry (a crash between two separate commands would leave a counter
/// that never expires).
const INCREMENT: &str = "local n = redis.call('INCR', KEYS[1]) \
     redis.call('PEXPIRE', KEYS[1], ARGV[1]) return n";

/// The count and the time it has left, read together.
const GET: &str = "local v = redis.call('GET', KEYS[1]) if not v then return nil end \
     return {tonumber(v), redis.call('PTTL', KEYS[1])}";

/// Throttle counters in Redis, shared by every instance that uses the same server.
#[derive(Debug, Clone)]
pub struct RedisThrottleStore {
    cache: RedisCache,
}

impl RedisThrottleStore {
    /// Counters on `cache`'s server, under its prefix and version.
    pub fn new(cache: RedisCache) -> Self {
        Self { cache }
    }

    fn key(&self, key: &ThrottleKey) -> String {
        self.cache
            .make_key(&format!("{THROTTLE_KEY_PREFIX}{}", key.as_str()))
    }
}

fn err(e: StoreError) -> ThrottleError {
    match e {
        StoreError::Unavailable(e) => ThrottleError::Unavailable(e),
        other => ThrottleError::Backend(Box::new(other)),
    }
}

#[async_trait]
impl ThrottleStore for RedisThrottleStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn increment(&self, key: &ThrottleKey, window: Duration) -> Result<Count, ThrottleError> {
        let ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(INCREMENT).arg(1).arg(self.key(key)).arg(ms);
        // A reply lost to a dropped connection is retried once by the client, which may
        // count the attempt twice: the safe direction for a throttle.
        let n: i64 = self.cache.query(&cmd).await.map_err(err)?;
        Ok(Count {
            count: u64::try_from(n).unwrap_or(0),
            expires_in: window,
        })
    }

    async fn get(&self, key: &ThrottleKey) -> Result<Option<Count>, ThrottleError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(GET).arg(1).arg(self.key(key));
        let got: Option<(i64, i64)> = self.cache.query(&cmd).await.map_err(err)?;
        Ok(got.map(|(n, pttl)| Count {
            count: u64::try_from(n).unwrap_or(0),
            expires_in: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
        }))
    }

    async fn reset(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        let _: i64 = self.cache.query(&cmd).await.map_err(err)?;
        Ok(())
    }

    async fn clear_expired(&self) -> Result<u64, ThrottleError> {
        // Redis removes expired keys by itself.
        Ok(0)
    }
}
