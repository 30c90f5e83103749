//! # sesame-redis
//!
//! Sessions in Redis, in the formats of Django's `cache` and `cached_db` session engines on
//! Django's built-in Redis cache (`django.core.cache.backends.redis.RedisCache`), so that a
//! Django site and a Sesame service share their users' sessions.
//!
//! Use [`RedisSessionStore`] when sessions may be lost with the cache (a Redis restart logs
//! everyone out) in exchange for no database work per request; use [`CachedDbSessionStore`]
//! in front of a database store when sessions must survive Redis (reads come from Redis,
//! every write goes to both). [`RedisThrottleStore`] keeps the login throttle's counters in
//! the same Redis, so that every instance of a service sees the same failures, and
//! [`RedisCache`] is the small client underneath, for a service's own cached values in
//! Django's key format.
//!
//! | Django `SESSION_ENGINE` | Sesame store | Redis key (defaults `KEY_PREFIX` `""`, `VERSION` 1) |
//! |---|---|---|
//! | `django.contrib.sessions.backends.cache` | [`RedisSessionStore`] | `:1:django.contrib.sessions.cache<key>` |
//! | `django.contrib.sessions.backends.cached_db` | [`CachedDbSessionStore`] over a database store | `:1:django.contrib.sessions.cached_db<key>` |
//!
//! The value is the session dict pickled with protocol 5 (Django's `RedisSerializer`), read
//! by a decoder that knows only plain data and refuses anything else ([`pickle`]). The key's
//! TTL is the session's expiry age.
//!
//! The connection is one multiplexed connection with connect and response timeouts, which
//! reconnects by itself: while Redis is down the stores answer
//! [`StoreError::Unavailable`](sesame_core::session::StoreError::Unavailable) (503 in the web
//! layer), and once it is back they work again without a restart.
//!
//! ## Logouts and outages: what a 503 means
//!
//! A logout (`flush`), a login's key rotation (`cycle_key`) and a password change end a
//! session key. Whatever fails and in whichever order Redis and the database go down and come
//! back, an error (503) means nothing was changed (the session still works, and says so
//! honestly: the logout did not happen), and success means the key opens nothing any more,
//! in any process.
//!
//! - [`RedisSessionStore`]: the session is one key; `delete` is one `DEL`. (A reply lost after
//!   Redis ran it is reported as an error although the key is gone: the safe side.)
//! - [`CachedDbSessionStore`]: `delete` revokes the cached copy first (a marker that refuses
//!   later writes of the copy, and a `DEL`, in one atomic step), then deletes the database
//!   row, then deletes the copy again. A failure of either of the first two steps is the 503
//!   with nothing changed; once the row is gone the logout is done, and a failure of the last
//!   step only leaves this process distrusting that key's copy until it can delete it.
//!   Refills and saves of the copy never land after a logout (the marker refuses them). The
//!   details, and the one cross-process case this does not cover, are in the docs of
//!   [`CachedDbSessionStore`] and its module.
//! - The session layer keeps the session as it was when a store fails (no cookie is deleted on
//!   a 503), and `Auth::change_password` (sesame-core) stores the session's new key before the
//!   new password and deletes the old key after it.
//!
//! ```no_run
//! use sesame_redis::{CachedDbSessionStore, RedisConfig, RedisSessionStore};
//! use sesame_core::session::{MemorySessionStore, Session, SessionCodec, SessionConfig, SessionStore};
//! use std::sync::Arc;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // The same LOCATION and KEY_PREFIX as the Django site's CACHES["default"].
//! let config = RedisConfig::new("redis://127.0.0.1:6379/0").with_key_prefix("site");
//!
//! // SESSION_ENGINE = "django.contrib.sessions.backends.cache"
//! let cache_only = Arc::new(RedisSessionStore::connect(config.clone())?);
//! let mut session = Session::new(cache_only, SessionConfig::default(), None);
//! session.insert("theme", "dark".into()).await?;
//! session.save().await?; // SET :1:django.contrib.sessions.cache<key>, TTL = expiry age
//!
//! // SESSION_ENGINE = "django.contrib.sessions.backends.cached_db", over any database store
//! // (sesame-sql's SqlSessionStore in a real service).
//! let db: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new(SessionCodec::new("secret")));
//! let cached_db = CachedDbSessionStore::connect(config, db)?;
//! # Ok(()) }
//! ```

mod cache;
mod cached_db;
mod client;
mod config;
pub mod pickle;
mod throttle;

pub use cache::{CACHE_KEY_PREFIX, RedisSessionStore};
pub use cached_db::{
    CACHE_ERROR_TARGET, CACHED_DB_KEY_PREFIX, CachedDbSessionStore, DEFAULT_REVOCATION_TTL,
    MAX_UNTRUSTED_KEYS, REVOKED_KEY_PREFIX,
};
pub use client::{Condition, ConnectError, RedisCache, Written};
pub use config::{DEFAULT_POOL_SIZE, DEFAULT_URL, RedisConfig};
pub use throttle::{RedisThrottleStore, THROTTLE_KEY_PREFIX};
