//! Login throttling: failed attempts counted per username and per client address within a
//! window; over the limit, further attempts are refused until the window passes, before any
//! password is hashed. The answer is the same for unknown users and wrong passwords.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed attempts allowed per username in a window.
    pub per_username: u32,
    /// Failed attempts allowed per client address in a window.
    pub per_address: u32,
    /// The window (and cool-off) length.
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            per_username: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

/// Counters in memory (per process).
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    config: ThrottleConfig,
    counts: Arc<Mutex<HashMap<Key, (u32, Instant)>>>,
}

impl Throttle {
    /// Counters with these limits.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            counts: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u32, Instant)>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(username: &str, addr: Option<IpAddr>) -> Vec<(Key, bool)> {
        let mut k = vec![(Key::User(username.to_owned()), true)];
        if let Some(a) = addr {
            k.push((Key::Addr(a), false));
        }
        k
    }

    /// `Err(retry_after)` when this username or address is over its limit.
    pub fn check(&self, username: &str, addr: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, (_, start)| now.duration_since(*start) < self.config.window);
        for (key, is_user) in Self::keys(username, addr) {
            let limit = if is_user {
                self.config.per_username
            } else {
                self.config.per_address
            };
            if let Some((n, start)) = map.get(&key) {
                if *n >= limit {
                    return Err(self
                        .config
                        .window
                        .saturating_sub(now.duration_since(*start)));
                }
            }
        }
        Ok(())
    }

    /// Count a failed attempt.
    pub fn failed(&self, username: &str, addr: Option<IpAddr>) {
        let now = Instant::now();
        let mut map = self.lock();
        for (key, _) in Self::keys(username, addr) {
            let e = map.entry(key).or_insert((0, now));
            e.0 += 1;
        }
    }

    /// A successful login clears the username's count.
    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&Key::User(username.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let t = Throttle::new(ThrottleConfig {
            per_username: 2,
            per_address: 3,
            window: Duration::from_secs(60),
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(t.check("a", Some(ip)).is_ok());
        t.failed("a", Some(ip));
        t.failed("a", Some(ip));
        assert!(t.check("a", Some(ip)).is_err());
        assert!(t.check("b", Some(ip)).is_ok());
        t.failed("b", Some(ip));
        assert!(
            t.check("c", Some(ip)).is_err(),
            "the address is over its limit"
        );
        t.succeeded("a");
        assert!(t.check("a", None).is_ok());
    }
}
