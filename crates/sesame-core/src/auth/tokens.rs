//! `PasswordResetTokenGenerator` and `uidb64` (`django.contrib.auth.tokens`,
//! `django.utils.http.urlsafe_base64_encode`).
//!
//! Django's token clock is `datetime.now()`: naive wall-clock time in the `TIME_ZONE`
//! setting, counted in seconds from 2001-01-01. Both sides must use the same zone, or their
//! tokens are off by the zone offset; around daylight-saving changes a token lives an hour
//! more or less than `PASSWORD_RESET_TIMEOUT`, exactly as in Django.
//!
//! ```
//! use sesame_core::auth::tokens::{uid_encode, uid_decode};
//! assert_eq!(uid_encode("42"), "NDI");
//! assert_eq!(uid_decode("NDI").as_deref(), Some("42"));
//! ```

use super::User;
use crate::crypto::{Algorithm, constant_time_compare, salted_hmac_hex};
use crate::signing::{b36_decode, b36_encode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
#[cfg(feature = "tz")]
use chrono_tz::Tz;

const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";

/// `urlsafe_base64_encode(force_bytes(pk))` without padding.
pub fn uid_encode(pk: &str) -> String {
    URL_SAFE_NO_PAD.encode(pk.as_bytes())
}

/// `urlsafe_base64_decode(uidb64).decode()`; `None` for anything malformed.
pub fn uid_decode(uidb64: &str) -> Option<String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    if uidb64.len() > 256 {
        return None;
    }
    String::from_utf8(LENIENT.decode(uidb64).ok()?).ok()
}

/// What a token depends on: the user's key, password field, last login and e-mail.
#[derive(Clone, Copy)]
pub struct TokenUser<'a> {
    /// `str(user.pk)`.
    pub pk: &'a str,
    /// The encoded password field.
    pub password: &'a str,
    /// `last_login` (UTC).
    pub last_login: Option<DateTime<Utc>>,
    /// The e-mail (`""` when absent).
    pub email: &'a str,
}

impl std::fmt::Debug for TokenUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenUser")
            .field("pk", &self.pk)
            .field(
                "password",
                &crate::auth::user::RedactedPassword(self.password),
            )
            .field("last_login", &self.last_login)
            .field("email", &self.email)
            .finish()
    }
}

impl<'a> TokenUser<'a> {
    /// The token inputs of a user; `pk` is the user's id as a string.
    pub fn new(user: &'a User, pk: &'a str) -> Self {
        Self {
            pk,
            password: &user.password,
            last_login: user.last_login,
            email: &user.email,
        }
    }
}

/// Django's `default_token_generator`: the one-time tokens of password reset links.
///
/// A token is `base36(timestamp)-hmac`, where the HMAC covers the user's key, password hash,
/// last login and e-mail. Nothing is stored: the token stops working when it is older than
/// the timeout (`PASSWORD_RESET_TIMEOUT`), and as soon as any of those fields changes, so
/// setting the new password or logging in spends it. Tokens made by Django with the same
/// `SECRET_KEY` and `TIME_ZONE` are accepted, and the other way round.
///
/// ```
/// use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, uid_encode};
///
/// let tokens = PasswordResetTokenGenerator::new("secret", Vec::new(), 3 * 86_400, "UTC")?;
/// let alice = TokenUser {
///     pk: "42",
///     password: "pbkdf2_sha256$1000000$salt$hash",
///     last_login: None,
///     email: "alice@example.com",
/// };
/// let token = tokens.make_token_at(alice, 800_000_000);
/// let link = format!("/reset/{}/{token}/", uid_encode(alice.pk));
/// assert!(link.starts_with("/reset/NDI/"));
///
/// // A day later the link works; after the timeout it does not.
/// assert!(tokens.check_token_at(alice, &token, 800_086_400));
/// assert!(!tokens.check_token_at(alice, &token, 800_000_000 + 3 * 86_400 + 1));
/// // Once the password has changed, the same token is refused.
/// let changed = TokenUser { password: "pbkdf2_sha256$1000000$salt$other", ..alice };
/// assert!(!tokens.check_token_at(changed, &token, 800_000_100));
/// # Ok::<(), sesame_core::auth::tokens::UnknownTimeZone>(())
/// ```
#[derive(Clone)]
pub struct PasswordResetTokenGenerator {
    secret: String,
    fallbacks: Vec<String>,
    timeout: i64,
    time_zone: Zone,
}

/// `TIME_ZONE`: any IANA zone with the `tz` feature (chrono-tz's database); UTC alone without.
#[cfg(feature = "tz")]
type Zone = Tz;

/// `TIME_ZONE` without the `tz` feature: UTC is the only zone whose rules need no database.
#[cfg(not(feature = "tz"))]
#[derive(Debug, Clone, Copy)]
struct Zone;

#[cfg(not(feature = "tz"))]
impl std::str::FromStr for Zone {
    type Err = ();
    fn from_str(name: &str) -> Result<Self, ()> {
        matches!(
            name,
            "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Zulu" | "Etc/Zulu"
        )
        .then_some(Zone)
        .ok_or(())
    }
}

/// An unknown `TIME_ZONE` name (or, without the `tz` feature, any zone but UTC).
#[derive(Debug, Clone, thiserror::Error)]
#[cfg_attr(feature = "tz", error("unknown TIME_ZONE {0:?}"))]
#[cfg_attr(
    not(feature = "tz"),
    error("TIME_ZONE {0:?} needs the `tz` feature of sesame-core (this build knows only UTC)")
)]
pub struct UnknownTimeZone(pub String);

impl std::fmt::Debug for PasswordResetTokenGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is SECRET_KEY: anyone who has it can forge reset links.
        f.debug_struct("PasswordResetTokenGenerator")
            .field("secret", &"..")
            .field("fallbacks", &self.fallbacks.len())
            .field("timeout", &self.timeout)
            .field("time_zone", &self.time_zone)
            .finish()
    }
}

impl PasswordResetTokenGenerator {
    /// A generator; `timeout` is `PASSWORD_RESET_TIMEOUT` in seconds, `time_zone` an IANA name.
    /// `fallbacks` are `SECRET_KEY_FALLBACKS`: tokens they made are still accepted.
    ///
    /// # Errors
    ///
    /// [`UnknownTimeZone`] when `time_zone` is not in the IANA database.
    pub fn new(
        secret: impl Into<String>,
        fallbacks: Vec<String>,
        timeout: i64,
        time_zone: &str,
    ) -> Result<Self, UnknownTimeZone> {
        Ok(Self {
            secret: secret.into(),
            fallbacks,
            timeout,
            time_zone: time_zone
                .parse()
                .map_err(|_| UnknownTimeZone(time_zone.to_owned()))?,
        })
    }

    /// From settings.
    pub fn from_settings(s: &crate::settings::Settings) -> Result<Self, UnknownTimeZone> {
        Self::new(
            s.secret_key.clone(),
            s.secret_key_fallbacks.clone(),
            s.auth.password_reset_timeout,
            &s.time_zone,
        )
    }

    /// Django's `_num_seconds(self._now())` at a real instant: local wall-clock seconds since
    /// 2001-01-01 in `TIME_ZONE`.
    pub fn timestamp_at(&self, now: DateTime<Utc>) -> i64 {
        #[cfg(feature = "tz")]
        let local = now.with_timezone(&self.time_zone).naive_local();
        #[cfg(not(feature = "tz"))]
        let local = {
            let Zone = self.time_zone;
            now.naive_utc()
        };
        num_seconds(local)
    }

    /// A token for the user, now.
    pub fn make_token(&self, user: TokenUser<'_>) -> String {
        self.make_token_at(user, self.timestamp_at(Utc::now()))
    }

    /// A token with the given Django timestamp (seconds since 2001-01-01, local time).
    pub fn make_token_at(&self, user: TokenUser<'_>, timestamp: i64) -> String {
        make_token(user, timestamp, &self.secret)
    }

    /// `check_token(user, token)` now: false for a malformed, forged, expired or spent token
    /// (the user's password, last login or e-mail changed since), never an error.
    pub fn check_token(&self, user: TokenUser<'_>, token: &str) -> bool {
        self.check_token_at(user, token, self.timestamp_at(Utc::now()))
    }

    /// `check_token` with "now" given as a Django timestamp.
    pub fn check_token_at(&self, user: TokenUser<'_>, token: &str, now: i64) -> bool {
        if token.is_empty() || token.len() > 100 {
            return false;
        }
        let Some((ts_b36, _)) = token.split_once('-').filter(|(_, h)| !h.contains('-')) else {
            return false;
        };
        let Some(ts) = b36_decode(ts_b36).and_then(|t| i64::try_from(t).ok()) else {
            return false;
        };
        let matched = std::iter::once(&self.secret)
            .chain(&self.fallbacks)
            .any(|secret| constant_time_compare(make_token(user, ts, secret), token));
        // No lower bound: Django accepts timestamps in the future.
        matched && now - ts <= self.timeout
    }
}

fn num_seconds(dt: NaiveDateTime) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(2001, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    (dt - epoch).num_seconds()
}

/// `_make_hash_value`: `pk + password + login_ts + ts + email`.
pub fn hash_value(user: TokenUser<'_>, timestamp: i64) -> String {
    let login = user
        .last_login
        .map(|l| l.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{}{}{login}{timestamp}{}",
        user.pk, user.password, user.email
    )
}

fn make_token(user: TokenUser<'_>, timestamp: i64, secret: &str) -> String {
    let digest = salted_hmac_hex(
        KEY_SALT,
        hash_value(user, timestamp),
        secret,
        Algorithm::Sha256,
    );
    let every_other: String = digest.chars().step_by(2).collect();
    format!("{}-{every_other}", b36_encode(timestamp.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UTC in every build; other zones exactly when chrono-tz is compiled in.
    #[test]
    fn zones_follow_the_tz_feature() {
        let zone = |name: &str| PasswordResetTokenGenerator::new("k", vec![], 60, name);
        assert!(zone("UTC").is_ok());
        assert_eq!(zone("America/Chicago").is_ok(), cfg!(feature = "tz"));
        assert!(zone("Nowhere/Atlantis").is_err());
    }

    #[test]
    fn spec_t1() {
        let g = PasswordResetTokenGenerator::new(
            "django-insecure-test-vector-secret-key-0123456789abcdef",
            vec![],
            259_200,
            "UTC",
        )
        .unwrap();
        let u = TokenUser {
            pk: "1",
            password: "pbkdf2_sha256$1200000$xKhVqWoLDzFvGz4tJ3cIbM$placeholderhash=",
            last_login: None,
            email: "alice@example.com",
        };
        let now = NaiveDate::from_ymd_opt(2025, 6, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let ts = num_seconds(now);
        assert_eq!(ts, 770_472_000);
        let token = g.make_token_at(u, ts);
        assert_eq!(token, "cqpw00-47f78f8ae8272bf71e6ed6ed98981646");
        assert!(g.check_token_at(u, &token, ts + 259_200));
        assert!(!g.check_token_at(u, &token, ts + 259_201));
        assert!(!g.check_token_at(u, "cqpw00-47f78f8ae8272bf71e6ed6ed9898164", ts));
        assert!(!g.check_token_at(u, "", ts));
        assert!(!g.check_token_at(u, "zzzzzzzzzzzzzz-00", ts));
        assert!(!g.check_token_at(u, "a-b-c", ts));
    }
}
