//! Login throttling state: counters of attempts under hashed keys, each with a cool-off
//! window, kept in a [`ThrottleStore`] that every instance of a site shares.
//!
//! The store's one essential operation is [`ThrottleStore::increment`]: add one and return
//! the new count, atomically. The web layer counts an attempt *before* the password is hashed
//! and refuses it when the count is over the limit, so the check and the count are one step
//! and fifty parallel guesses cannot all slip past a limit of five (as two separate steps,
//! "check" then "count the failure", let them).
//!
//! Keys are [`ThrottleKey`]s: a kind and the SHA-256 of the parts (a username, an address),
//! so that a key has the same small size whatever a client sends, and no store keeps a
//! username in clear.
//!
//! ```
//! use sesame_core::auth::throttle::{MemoryThrottleStore, ThrottleKey, ThrottleStore};
//! use std::time::Duration;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryThrottleStore::new(10_000);
//! let key = ThrottleKey::new("pair", &["alice", "203.0.113.9"]);
//! let window = Duration::from_secs(900);
//! assert_eq!(store.increment(&key, window).await.unwrap().count, 1);
//! assert_eq!(store.increment(&key, window).await.unwrap().count, 2);
//! store.reset(&key).await.unwrap();
//! assert!(store.get(&key).await.unwrap().is_none());
//! # });
//! ```
//!
//! # Implementing a store
//!
//! `increment` must be one atomic operation on the shared state (an upsert that adds one and
//! returns the row, `INCR` with its expiry in one script, `findAndModify` with `$inc`): a
//! read followed by a write loses counts under concurrency. A counter whose window has passed
//! starts again at 1, and every increment sets the window again from now, so a client that
//! keeps failing stays locked out (django-axes counts the cool-off from the last failure too).
//! `sesame_core::conformance::throttle_store_suite` (the `conformance` feature) checks all of
//! this.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::session::BoxError;

/// The `tracing` target of lockouts, in the style of Django's `django.security.*` loggers.
pub const LOCKOUT_TARGET: &str = "django.security.Lockout";

/// What a throttle store can report. The web layer answers 503 for both: a throttle that
/// cannot count refuses the attempt rather than let it through uncounted.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    /// The store cannot be reached; retrying later may succeed.
    #[error("the throttle store is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Any other failure (a missing table: run `sesame migrate`).
    #[error("the throttle store failed: {0}")]
    Backend(#[source] BoxError),
}

/// A counter key: a short kind (`pair`, `ip`, `user`, ...) and the hex SHA-256 of the parts.
/// At most 64 + 17 bytes whatever the input, so a megabyte username costs what a short one
/// does, and the clear text never reaches a store or a log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    /// The key of `kind` over `parts`. Each part is length-prefixed before hashing, so
    /// `("ab", "c")` and `("a", "bc")` never share a key. Only the first 16 bytes of `kind`
    /// are kept.
    pub fn new(kind: &str, parts: &[&str]) -> Self {
        let mut hash = Sha256::new();
        for p in parts {
            hash.update((p.len() as u64).to_be_bytes());
            hash.update(p.as_bytes());
        }
        let kind: String = kind
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        Self(format!("{kind}:{}", hex::encode(hash.finalize())))
    }

    /// The key as stored (and as logged: it names no username or address).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ThrottleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A counter after an attempt was counted, or as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Attempts counted in the current window.
    pub count: u64,
    /// Time until the window ends and the counter is forgotten.
    pub expires_in: Duration,
}

/// Where the counters live: the memory of one process, or a store every instance shares
/// (SQL table, Redis keys, MongoDB collection).
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// A short name for logs (`memory`, `sqlite`, `redis`, ...).
    fn name(&self) -> &'static str;

    /// Add one to the counter under `key` and return it, in one atomic step. A missing or
    /// expired counter starts at 1; the window is set to `window` from now on every call.
    async fn increment(&self, key: &ThrottleKey, window: Duration) -> Result<Count, ThrottleError>;

    /// The counter, if it exists and its window has not passed.
    async fn get(&self, key: &ThrottleKey) -> Result<Option<Count>, ThrottleError>;

    /// Forget the counter (a successful login clears its pair); a missing one is no error.
    async fn reset(&self, key: &ThrottleKey) -> Result<(), ThrottleError>;

    /// Remove the counters whose window has passed; returns how many went. Stores that
    /// expire keys themselves return 0.
    async fn clear_expired(&self) -> Result<u64, ThrottleError>;
}

/// One entry of `axes_lockout_parameters`: a parameter, or a combination counted together
/// (django-axes' `AXES_LOCKOUT_PARAMETERS = ["ip_address", ["username", "ip_address"]]`).
/// In the environment a combination is written with `+`: `username+ip_address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LockoutParameter {
    /// `"username"`, `"ip_address"`, or `"username+ip_address"`.
    One(String),
    /// `["username", "ip_address"]`.
    Combination(Vec<String>),
}

/// What a lockout counter is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockoutField {
    /// The normalised username.
    Username,
    /// The client address.
    IpAddress,
}

impl LockoutParameter {
    /// The fields of this entry, checked: only `username` and `ip_address`, none twice.
    pub fn fields(&self) -> Result<Vec<LockoutField>, String> {
        let names: Vec<&str> = match self {
            LockoutParameter::One(s) => s.split('+').map(str::trim).collect(),
            LockoutParameter::Combination(v) => v.iter().map(|s| s.trim()).collect(),
        };
        let mut fields = Vec::new();
        for n in names {
            let f = match n {
                "username" => LockoutField::Username,
                "ip_address" => LockoutField::IpAddress,
                other => {
                    return Err(format!(
                        "unknown lockout parameter {other:?}: use \"username\", \"ip_address\" or both together"
                    ));
                }
            };
            if fields.contains(&f) {
                return Err(format!("lockout parameter {n:?} is named twice"));
            }
            fields.push(f);
        }
        if fields.is_empty() {
            return Err("an empty lockout parameter".into());
        }
        fields.sort();
        Ok(fields)
    }
}

/// The default `axes_lockout_parameters`: the pair, so that failures from one address never
/// lock the user out from another (django-axes' own default is the address alone, which
/// behind a proxy is everyone).
pub fn default_lockout_parameters() -> Vec<LockoutParameter> {
    vec![LockoutParameter::Combination(vec![
        "username".into(),
        "ip_address".into(),
    ])]
}

/// The key under which a username is counted: NFKC and lower case, so that `Alice`, `ALICE`
/// and `Ａｌｉｃｅ` share one counter even where the database compares case-insensitively
/// (MySQL's default collation logs `ALICE` in as `alice`).
pub fn normalize_throttle_username(username: &str) -> String {
    super::normalize_username(username.trim()).to_lowercase()
}

struct Entry {
    count: u64,
    expires: Instant,
}

/// Counters in this process's memory: for one instance, tests, and the `memory` session
/// engine. At most `max_keys` counters are kept; when full, the expired ones go, then the
/// tenth that would expire soonest (the least recently counted, as every count pushes the
/// expiry on), so memory stays bounded whatever clients send.
pub struct MemoryThrottleStore {
    max_keys: usize,
    map: Mutex<HashMap<ThrottleKey, Entry>>,
}

impl std::fmt::Debug for MemoryThrottleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryThrottleStore")
            .field("max_keys", &self.max_keys)
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryThrottleStore {
    /// An empty store keeping at most `max_keys` counters (at least 1).
    pub fn new(max_keys: usize) -> Self {
        Self {
            max_keys: max_keys.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThrottleKey, Entry>> {
        // A panic elsewhere while holding the lock leaves plain counters behind: still valid.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many counters are kept now (expired ones included until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no counter is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn make_room(map: &mut HashMap<ThrottleKey, Entry>, max_keys: usize, now: Instant) {
        if map.len() < max_keys {
            return;
        }
        map.retain(|_, e| e.expires > now);
        if map.len() < max_keys {
            return;
        }
        let mut expiries: Vec<Instant> = map.values().map(|e| e.expires).collect();
        let drop = (max_keys / 10).max(1).min(expiries.len());
        expiries.select_nth_unstable(drop - 1);
        let cutoff = expiries[drop - 1];
        let mut left = drop;
        map.retain(|_, e| {
            if left > 0 && e.expires <= cutoff {
                left -= 1;
                false
            } else {
                true
            }
        });
    }
}

#[async_trait]
impl ThrottleStore for MemoryThrottleStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn increment(&self, key: &ThrottleKey, window: Duration) -> Result<Count, ThrottleError> {
        let now = Instant::now();
        let mut map = self.lock();
        if !map.contains_key(key) {
            Self::make_room(&mut map, self.max_keys, now);
        }
        let e = map.entry(key.clone()).or_insert(Entry {
            count: 0,
            expires: now,
        });
        if e.expires <= now {
            e.count = 0;
        }
        e.count += 1;
        e.expires = now + window;
        Ok(Count {
            count: e.count,
            expires_in: window,
        })
    }

    async fn get(&self, key: &ThrottleKey) -> Result<Option<Count>, ThrottleError> {
        let now = Instant::now();
        Ok(self.lock().get(key).and_then(|e| {
            (e.expires > now).then(|| Count {
                count: e.count,
                expires_in: e.expires - now,
            })
        }))
    }

    async fn reset(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn clear_expired(&self) -> Result<u64, ThrottleError> {
        let now = Instant::now();
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| e.expires > now);
        Ok((before - map.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_whatever_the_input() {
        let huge = "x".repeat(2_000_000);
        let k = ThrottleKey::new("pair", &[&huge, "10.0.0.1"]);
        assert!(k.as_str().len() <= 81, "{}", k.as_str().len());
        assert!(!k.as_str().contains("xxxx"));
        assert_ne!(
            ThrottleKey::new("pair", &["ab", "c"]),
            ThrottleKey::new("pair", &["a", "bc"])
        );
    }

    #[test]
    fn lockout_parameters_parse() {
        let p = LockoutParameter::One("username+ip_address".into());
        assert_eq!(
            p.fields().unwrap(),
            [LockoutField::Username, LockoutField::IpAddress]
        );
        assert!(LockoutParameter::One("user_agent".into()).fields().is_err());
        assert!(
            LockoutParameter::Combination(vec!["username".into(), "username".into()])
                .fields()
                .is_err()
        );
        assert_eq!(normalize_throttle_username(" ALICE "), "alice");
    }

    #[tokio::test]
    async fn memory_store_is_bounded() {
        let store = MemoryThrottleStore::new(100);
        let w = Duration::from_secs(60);
        for i in 0..1000 {
            store
                .increment(&ThrottleKey::new("ip", &[&i.to_string()]), w)
                .await
                .unwrap();
            assert!(store.len() <= 100);
        }
        // The newest counters survive eviction.
        let last = ThrottleKey::new("ip", &["999"]);
        assert_eq!(store.get(&last).await.unwrap().unwrap().count, 1);
    }
}
