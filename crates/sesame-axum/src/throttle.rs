//! Login throttling in the manner of django-axes and OWASP's authentication cheat sheet:
//!
//! - **Lockout per (username, client address)** by default (`axes_lockout_parameters`): each
//!   attempt is counted *before* the password is hashed, in one atomic store operation, and
//!   an attempt whose count is over `axes_failure_limit` is refused with 429 and
//!   `Retry-After`. Parallel guesses therefore cannot outrun the limit, and failures from one
//!   address never lock the user out from another. A successful login clears its pair.
//! - **Growing delays per address** over all usernames (`login_ip_delay_after`): credential
//!   stuffing from one address is slowed (1 s, 2 s, 4 s, ... up to `login_delay_max`), but
//!   never refused, since behind a proxy or a NAT one address is many users.
//! - **Optional growing delays per username** from every address
//!   (`login_username_delay_after`, off by default) against distributed guessing.
//! - **Signup and password-reset requests** are limited per address (and per e-mail for
//!   resets), as signup answers "already exists" and a reset mails someone.
//!
//! The counters live in a [`ThrottleStore`] (memory, SQL, Redis or MongoDB) that every
//! instance shares. When the store fails, the attempt is refused with 503 (fail closed): an
//! attacker who can make the store fail must not get unlimited guesses, and the store is
//! normally the users' own database, without which no login could succeed anyway.
//!
//! Every lockout is logged on [`LOCKOUT_TARGET`] with the hashed key and the address, never
//! the username or the password.

use sesame_core::auth::throttle::{
    Count, LOCKOUT_TARGET, LockoutField, MemoryThrottleStore, ThrottleError, ThrottleKey,
    ThrottleStore, normalize_throttle_username,
};
use sesame_core::settings::Settings;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The longest delay a setting may ask for: a delay holds a connection open, so it must stay
/// short enough that waiting clients cannot pile up without end.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

/// Sweep expired counters out of the store once every this many counted attempts.
const SWEEP_EVERY: u64 = 1024;

/// The limits, read from [`Settings`] by [`ThrottleConfig::from_settings`].
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleConfig {
    /// `axes_enabled`.
    pub enabled: bool,
    /// `axes_failure_limit`.
    pub failure_limit: u64,
    /// `axes_cooloff_time`, as a duration.
    pub cooloff: Duration,
    /// `axes_lockout_parameters`: the fields of each lockout counter.
    pub lockout: Vec<Vec<LockoutField>>,
    /// `login_ip_delay_after` (0 = off).
    pub ip_delay_after: u64,
    /// `login_username_delay_after` (0 = off).
    pub username_delay_after: u64,
    /// `login_delay_initial`.
    pub delay_initial: Duration,
    /// `login_delay_max`.
    pub delay_max: Duration,
    /// `login_throttle_max_keys`.
    pub max_keys: usize,
    /// `signup_limit_per_ip` (0 = no limit).
    pub signup_per_ip: u64,
    /// `password_reset_limit_per_ip` (0 = no limit).
    pub reset_per_ip: u64,
    /// `password_reset_limit_per_email` (0 = no limit).
    pub reset_per_email: u64,
}

/// A throttle setting that cannot be used, named.
#[derive(Debug, thiserror::Error)]
#[error("invalid {setting}: {reason}")]
pub struct ThrottleConfigError {
    /// The setting, as in `sesame.toml`.
    pub setting: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn seconds(setting: &'static str, value: f64) -> Result<Duration, ThrottleConfigError> {
    if !value.is_finite() || value < 0.0 || value > MAX_DELAY.as_secs_f64() {
        return Err(ThrottleConfigError {
            setting,
            reason: format!(
                "{value} is not a number of seconds from 0 to {}",
                MAX_DELAY.as_secs()
            ),
        });
    }
    Ok(Duration::from_secs_f64(value))
}

impl ThrottleConfig {
    /// The limits of these settings, or the first setting that cannot be used. `sesame serve`
    /// refuses to start on an error; applications should do the same.
    pub fn from_settings(s: &Settings) -> Result<Self, ThrottleConfigError> {
        if s.throttle.failure_limit == 0 {
            return Err(ThrottleConfigError {
                setting: "axes_failure_limit",
                reason:
                    "0 would refuse every login; to turn throttling off set axes_enabled = false"
                        .into(),
            });
        }
        // A year at most: a longer cool-off is a permanent lockout in all but name.
        if !s.throttle.cooloff_time.is_finite()
            || s.throttle.cooloff_time <= 0.0
            || s.throttle.cooloff_time > 8760.0
        {
            return Err(ThrottleConfigError {
                setting: "axes_cooloff_time",
                reason: format!(
                    "{} is not a number of hours above 0 and at most 8760 (0.25 = 15 minutes)",
                    s.throttle.cooloff_time
                ),
            });
        }
        if s.throttle.lockout_parameters.is_empty() {
            return Err(ThrottleConfigError {
                setting: "axes_lockout_parameters",
                reason: "empty; the default is [[\"username\", \"ip_address\"]]".into(),
            });
        }
        let mut lockout = Vec::new();
        for p in &s.throttle.lockout_parameters {
            let fields = p.fields().map_err(|reason| ThrottleConfigError {
                setting: "axes_lockout_parameters",
                reason,
            })?;
            if !lockout.contains(&fields) {
                lockout.push(fields);
            }
        }
        let delay_initial = seconds("login_delay_initial", s.throttle.delay_initial)?;
        let delay_max = seconds("login_delay_max", s.throttle.delay_max)?;
        if delay_initial > delay_max {
            return Err(ThrottleConfigError {
                setting: "login_delay_initial",
                reason: format!(
                    "{} s is longer than login_delay_max ({} s)",
                    s.throttle.delay_initial, s.throttle.delay_max
                ),
            });
        }
        if s.throttle.max_keys < 100 {
            return Err(ThrottleConfigError {
                setting: "login_throttle_max_keys",
                reason: format!(
                    "{} is too few counters to throttle anything; use at least 100",
                    s.throttle.max_keys
                ),
            });
        }
        Ok(Self {
            enabled: s.throttle.enabled,
            failure_limit: u64::from(s.throttle.failure_limit),
            cooloff: Duration::from_secs_f64(s.throttle.cooloff_time * 3600.0),
            lockout,
            ip_delay_after: u64::from(s.throttle.ip_delay_after),
            username_delay_after: u64::from(s.throttle.username_delay_after),
            delay_initial,
            delay_max,
            max_keys: s.throttle.max_keys,
            signup_per_ip: u64::from(s.throttle.signup_limit_per_ip),
            reset_per_ip: u64::from(s.throttle.password_reset_limit_per_ip),
            reset_per_email: u64::from(s.throttle.password_reset_limit_per_email),
        })
    }

    /// The delay before the attempt that follows `count` failures when delays begin after
    /// `after`: `delay_initial`, doubled for each failure beyond, at most `delay_max`.
    pub fn delay(&self, after: u64, count: u64) -> Duration {
        if after == 0 || count < after {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(count - after).unwrap_or(u32::MAX).min(30);
        self.delay_initial
            .saturating_mul(1u32 << doublings)
            .min(self.delay_max)
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        let s = Settings::default();
        // The defaults are valid (a unit test says so); this is their reading, by hand, so
        // that `Default` cannot fail.
        Self {
            enabled: s.throttle.enabled,
            failure_limit: u64::from(s.throttle.failure_limit),
            cooloff: Duration::from_secs(15 * 60),
            lockout: vec![vec![LockoutField::Username, LockoutField::IpAddress]],
            ip_delay_after: u64::from(s.throttle.ip_delay_after),
            username_delay_after: u64::from(s.throttle.username_delay_after),
            delay_initial: Duration::from_secs(1),
            delay_max: Duration::from_secs(30),
            max_keys: s.throttle.max_keys,
            signup_per_ip: u64::from(s.throttle.signup_limit_per_ip),
            reset_per_ip: u64::from(s.throttle.password_reset_limit_per_ip),
            reset_per_email: u64::from(s.throttle.password_reset_limit_per_email),
        }
    }
}

/// Why a throttled request did not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleRefusal {
    /// Over a limit: try again after this long (`Retry-After`).
    #[error("too many attempts; retry after {0:?}")]
    Locked(Duration),
    /// The store failed: refused with 503, never let through uncounted.
    #[error(transparent)]
    Store(#[from] ThrottleError),
}

/// `Retry-After` in whole seconds, rounded up (at least 1).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(sesame_axum::throttle::retry_after(Duration::from_millis(1500)), "2");
/// assert_eq!(sesame_axum::throttle::retry_after(Duration::ZERO), "1");
/// ```
pub fn retry_after(d: Duration) -> String {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0))
        .max(1)
        .to_string()
}

/// "15 minutes", "1 minute": the wait, rounded up to whole minutes, as people read it.
pub fn minutes_text(d: Duration) -> String {
    let minutes = d.as_secs().div_ceil(60).max(1);
    if minutes == 1 {
        "1 minute".into()
    } else {
        format!("{minutes} minutes")
    }
}

/// The address as counted: IPv4 (also when mapped into IPv6) whole, IPv6 by its /64, since
/// one IPv6 client is usually given a whole /64 and could otherwise change address at will.
pub fn address_key(addr: Option<IpAddr>) -> String {
    match addr.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(a)) => a.to_string(),
        Some(IpAddr::V6(a)) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        // No connection information (an app served without `ConnectInfo`): one shared
        // "unknown" address, so the per-address limits still hold as a whole.
        None => "unknown".into(),
    }
}

/// What [`Throttle::before_login`] counted, for [`Throttle::login_failed`] and
/// [`Throttle::login_succeeded`].
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    lockout_keys: Vec<(ThrottleKey, bool)>,
    ip_key: ThrottleKey,
    username_key: ThrottleKey,
    address: String,
    counts: Vec<Count>,
}

/// The throttle of a site: the limits and the store of counters. Cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    config: Arc<ThrottleConfig>,
    store: Arc<dyn ThrottleStore>,
    counted: Arc<AtomicU64>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .field("store", &self.store.name())
            .finish()
    }
}

impl Throttle {
    /// Counters in `store` with these limits.
    pub fn new(config: ThrottleConfig, store: Arc<dyn ThrottleStore>) -> Self {
        Self {
            config: Arc::new(config),
            store,
            counted: Arc::default(),
        }
    }

    /// Counters in this process's memory (one instance only), at most `config.max_keys`.
    pub fn in_memory(config: ThrottleConfig) -> Self {
        let store = Arc::new(MemoryThrottleStore::new(config.max_keys));
        Self::new(config, store)
    }

    /// The limits.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ThrottleStore> {
        &self.store
    }

    async fn increment(&self, key: &ThrottleKey) -> Result<Count, ThrottleError> {
        let c = self.store.increment(key, self.config.cooloff).await?;
        if self.counted.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Off the request's path: the sweep's outcome matters to no one waiting.
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.clear_expired().await {
                    tracing::warn!(target: "sesame::throttle", error = %e, "clearing expired throttle counters failed");
                }
            });
        }
        Ok(c)
    }

    /// Before a password is hashed: count the attempt under each lockout key and refuse it
    /// when any count is over the limit, then wait the address's and the username's delays.
    pub async fn before_login(
        &self,
        username: &str,
        addr: Option<IpAddr>,
    ) -> Result<LoginAttempt, ThrottleRefusal> {
        let username = normalize_throttle_username(username);
        let address = address_key(addr);
        let lockout_keys: Vec<(ThrottleKey, bool)> = self
            .config
            .lockout
            .iter()
            .map(|fields| {
                let parts: Vec<&str> = fields
                    .iter()
                    .map(|f| match f {
                        LockoutField::Username => username.as_str(),
                        LockoutField::IpAddress => address.as_str(),
                    })
                    .collect();
                let kind = match fields.as_slice() {
                    [LockoutField::Username] => "user_lock",
                    [LockoutField::IpAddress] => "ip_lock",
                    _ => "pair",
                };
                (
                    ThrottleKey::new(kind, &parts),
                    fields.contains(&LockoutField::Username),
                )
            })
            .collect();
        let mut attempt = LoginAttempt {
            ip_key: ThrottleKey::new("ip", &[&address]),
            username_key: ThrottleKey::new("user", &[&username]),
            lockout_keys,
            address,
            counts: Vec::new(),
        };
        if !self.config.enabled {
            return Ok(attempt);
        }
        let mut refused: Option<Duration> = None;
        for (key, _) in &attempt.lockout_keys {
            let c = self.increment(key).await?;
            if c.count > self.config.failure_limit {
                refused = Some(refused.map_or(c.expires_in, |r| r.max(c.expires_in)));
                tracing::info!(
                    target: LOCKOUT_TARGET,
                    key = %key,
                    ip_address = %attempt.address,
                    attempts = c.count,
                    "login refused: locked out"
                );
            }
            attempt.counts.push(c);
        }
        if let Some(retry_after) = refused {
            return Err(ThrottleRefusal::Locked(retry_after));
        }
        let mut delay = Duration::ZERO;
        if self.config.ip_delay_after > 0
            && let Some(c) = self.store.get(&attempt.ip_key).await?
        {
            delay = delay.max(self.config.delay(self.config.ip_delay_after, c.count));
        }
        if self.config.username_delay_after > 0
            && let Some(c) = self.store.get(&attempt.username_key).await?
        {
            delay = delay.max(self.config.delay(self.config.username_delay_after, c.count));
        }
        if !delay.is_zero() {
            // A timer, not a blocked thread: the runtime serves other requests meanwhile.
            tokio::time::sleep(delay).await;
        }
        Ok(attempt)
    }

    /// After a wrong password (or an unknown user): the lockout counts stand; count the
    /// failure against the address and the username for their delays, and log a lockout
    /// when this failure reached the limit.
    pub async fn login_failed(&self, attempt: &LoginAttempt) -> Result<(), ThrottleError> {
        if !self.config.enabled {
            return Ok(());
        }
        for ((key, _), c) in attempt.lockout_keys.iter().zip(&attempt.counts) {
            if c.count == self.config.failure_limit {
                tracing::warn!(
                    target: LOCKOUT_TARGET,
                    key = %key,
                    ip_address = %attempt.address,
                    failures = c.count,
                    cooloff_minutes = self.config.cooloff.as_secs() / 60,
                    "locked out after {} failed logins",
                    c.count
                );
            }
        }
        if self.config.ip_delay_after > 0 {
            let c = self.increment(&attempt.ip_key).await?;
            if c.count == self.config.ip_delay_after {
                tracing::warn!(
                    target: LOCKOUT_TARGET,
                    key = %attempt.ip_key,
                    ip_address = %attempt.address,
                    failures = c.count,
                    "failed logins from this address are now delayed"
                );
            }
        }
        if self.config.username_delay_after > 0 {
            let c = self.increment(&attempt.username_key).await?;
            if c.count == self.config.username_delay_after {
                tracing::warn!(
                    target: LOCKOUT_TARGET,
                    key = %attempt.username_key,
                    failures = c.count,
                    "logins for this username are now delayed"
                );
            }
        }
        Ok(())
    }

    /// After a successful login: clear the lockout counters that name the username (the
    /// pair). Counters of the address alone stay, or one valid account would let an
    /// attacker wipe its address's record.
    pub async fn login_succeeded(&self, attempt: &LoginAttempt) -> Result<(), ThrottleError> {
        if !self.config.enabled {
            return Ok(());
        }
        for (key, names_user) in &attempt.lockout_keys {
            if *names_user {
                self.store.reset(key).await?;
            }
        }
        Ok(())
    }

    /// Count one request of `kind` (`signup_ip`, `reset_ip`, `reset_email`, ...) under `part`
    /// and refuse it when over `limit` (0 = no limit).
    pub async fn hit(&self, kind: &str, part: &str, limit: u64) -> Result<(), ThrottleRefusal> {
        if !self.config.enabled || limit == 0 {
            return Ok(());
        }
        let key = ThrottleKey::new(kind, &[part]);
        let c = self.increment(&key).await?;
        if c.count > limit {
            let log = |msg: &str| {
                tracing::warn!(target: LOCKOUT_TARGET, key = %key, kind, attempts = c.count, "{msg}");
            };
            if c.count == limit + 1 {
                log("too many requests: refused until the cool-off passes");
            }
            return Err(ThrottleRefusal::Locked(c.expires_in));
        }
        Ok(())
    }

    /// [`hit`](Self::hit) for a signup from `addr`.
    pub async fn signup(&self, addr: Option<IpAddr>) -> Result<(), ThrottleRefusal> {
        self.hit("signup_ip", &address_key(addr), self.config.signup_per_ip)
            .await
    }

    /// [`hit`](Self::hit) for a password-reset request from `addr` for `email`.
    pub async fn password_reset(
        &self,
        addr: Option<IpAddr>,
        email: &str,
    ) -> Result<(), ThrottleRefusal> {
        self.hit("reset_ip", &address_key(addr), self.config.reset_per_ip)
            .await?;
        let email = email.trim().to_lowercase();
        self.hit("reset_email", &email, self.config.reset_per_email)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_default() {
        assert_eq!(
            ThrottleConfig::from_settings(&Settings::default()).unwrap(),
            ThrottleConfig::default()
        );
    }

    #[test]
    fn invalid_settings_are_refused_by_name() {
        let bad = |f: fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            ThrottleConfig::from_settings(&s).unwrap_err().to_string()
        };
        assert!(bad(|s| s.throttle.failure_limit = 0).contains("axes_failure_limit"));
        assert!(bad(|s| s.throttle.cooloff_time = -1.0).contains("axes_cooloff_time"));
        assert!(bad(|s| s.throttle.cooloff_time = f64::NAN).contains("axes_cooloff_time"));
        assert!(bad(|s| s.throttle.lockout_parameters.clear()).contains("axes_lockout_parameters"));
        assert!(bad(|s| s.throttle.delay_max = 1e9).contains("login_delay_max"));
        assert!(bad(|s| s.throttle.delay_initial = 60.0).contains("login_delay_initial"));
        assert!(bad(|s| s.throttle.max_keys = 1).contains("login_throttle_max_keys"));
    }

    #[test]
    fn settings_come_from_toml_and_the_environment() {
        let env = [
            ("SESAME_AXES_COOLOFF_TIME", "0.5"),
            (
                "SESAME_AXES_LOCKOUT_PARAMETERS",
                "username+ip_address, ip_address",
            ),
            ("SESAME_AXES_FAILURE_LIMIT", "3"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let s = Settings::from_toml_and_env("login_delay_max = 10.0", env).unwrap();
        let c = ThrottleConfig::from_settings(&s).unwrap();
        assert_eq!(c.cooloff, Duration::from_secs(30 * 60));
        assert_eq!(c.failure_limit, 3);
        assert_eq!(c.delay_max, Duration::from_secs(10));
        assert_eq!(
            c.lockout,
            [
                vec![LockoutField::Username, LockoutField::IpAddress],
                vec![LockoutField::IpAddress]
            ]
        );
        let s = Settings::from_toml_str(
            r#"axes_lockout_parameters = ["ip_address", ["username", "ip_address"]]"#,
        )
        .unwrap();
        assert_eq!(ThrottleConfig::from_settings(&s).unwrap().lockout.len(), 2);
        let negative = [("SESAME_AXES_FAILURE_LIMIT".to_owned(), "-1".to_owned())];
        assert!(Settings::from_toml_and_env("", negative).is_err());
    }

    #[test]
    fn delays_double_and_are_capped() {
        let c = ThrottleConfig::default();
        assert_eq!(c.delay(20, 19), Duration::ZERO);
        assert_eq!(c.delay(20, 20), Duration::from_secs(1));
        assert_eq!(c.delay(20, 21), Duration::from_secs(2));
        assert_eq!(c.delay(20, 24), Duration::from_secs(16));
        assert_eq!(c.delay(20, 25), Duration::from_secs(30));
        assert_eq!(c.delay(20, u64::MAX), Duration::from_secs(30));
        assert_eq!(c.delay(0, 1000), Duration::ZERO, "0 = off");
    }

    #[test]
    fn minutes_are_rounded_up() {
        assert_eq!(minutes_text(Duration::from_secs(900)), "15 minutes");
        assert_eq!(minutes_text(Duration::from_secs(61)), "2 minutes");
        assert_eq!(minutes_text(Duration::from_secs(3)), "1 minute");
    }

    #[test]
    fn ipv6_is_counted_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(Some(mapped)), "10.0.0.1");
    }
}
