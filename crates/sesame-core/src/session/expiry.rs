//! Django's expiry rules for `_session_expiry`.

use super::SessionData;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, Utc};
use serde_json::Value;

/// The session key that holds a custom expiry.
pub const EXPIRY_KEY: &str = "_session_expiry";

/// What `set_expiry` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `set_expiry(None)`: remove the custom expiry and use the global policy.
    Default,
    /// `set_expiry(0)`: a browser-session cookie (the server still expires it after
    /// `SESSION_COOKIE_AGE`).
    BrowserClose,
    /// `set_expiry(n)`: `n` seconds of inactivity, counted from each save.
    Seconds(i64),
    /// `set_expiry(timedelta)`: an absolute expiry this far from now.
    In(TimeDelta),
    /// `set_expiry(datetime)`: an absolute expiry, stored with its own UTC offset.
    At(DateTime<FixedOffset>),
}

/// Python's `datetime.isoformat()` for an aware UTC datetime: microseconds only when
/// non-zero, and the offset as `+00:00`, never `Z` (Python 3.10 cannot read `Z`).
///
/// ```
/// use chrono::TimeZone;
/// let dt = chrono::Utc.with_ymd_and_hms(2023, 11, 14, 23, 13, 20).unwrap();
/// assert_eq!(sesame_core::session::isoformat(&dt), "2023-11-14T23:13:20+00:00");
/// ```
pub fn isoformat<Tz: chrono::TimeZone>(dt: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let dt = dt.fixed_offset();
    if dt.timestamp_subsec_micros() == 0 {
        dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
    }
}

/// `datetime.fromisoformat` for the forms Django writes. A naive value is taken as UTC
/// (Sesame runs with `USE_TZ=True`).
pub fn parse_isoformat(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::<FixedOffset>::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc());
        }
    }
    None
}

/// The stored expiry as Django reads it.
enum Stored {
    Absent,
    Seconds(i64),
    At(DateTime<Utc>),
}

fn stored(data: &SessionData) -> Stored {
    match data.get(EXPIRY_KEY) {
        None | Some(Value::Null) => Stored::Absent,
        Some(Value::Number(n)) => Stored::Seconds(
            n.as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .unwrap_or(0),
        ),
        Some(Value::Bool(b)) => Stored::Seconds(i64::from(*b)),
        // Django would raise on an unreadable date; the default policy is the safe reading.
        Some(Value::String(s)) => parse_isoformat(s).map_or(Stored::Absent, Stored::At),
        Some(_) => Stored::Absent,
    }
}

/// The value `set_expiry` stores, or `None` to remove the key.
pub fn stored_value(expiry: Expiry, now: DateTime<Utc>) -> Option<Value> {
    match expiry {
        Expiry::Default => None,
        Expiry::BrowserClose => Some(Value::from(0)),
        Expiry::Seconds(n) => Some(Value::from(n)),
        Expiry::In(delta) => Some(Value::from(isoformat(&(now + delta)))),
        Expiry::At(at) => Some(Value::from(isoformat(&at))),
    }
}

/// `get_expiry_age(modification=now)`: seconds until expiry, floored, possibly negative.
pub fn get_expiry_age(data: &SessionData, cookie_age: i64, modification: DateTime<Utc>) -> i64 {
    match stored(data) {
        Stored::Absent | Stored::Seconds(0) => cookie_age,
        Stored::Seconds(n) => n,
        Stored::At(at) => (at - modification).num_microseconds().map_or_else(
            || (at - modification).num_seconds(),
            |us| us.div_euclid(1_000_000),
        ),
    }
}

/// `get_expiry_date(modification=now)`.
pub fn get_expiry_date(
    data: &SessionData,
    cookie_age: i64,
    modification: DateTime<Utc>,
) -> DateTime<Utc> {
    let seconds = match stored(data) {
        Stored::At(at) => return at,
        Stored::Absent | Stored::Seconds(0) => cookie_age,
        Stored::Seconds(n) => n,
    };
    modification
        .checked_add_signed(TimeDelta::seconds(seconds))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `get_expire_at_browser_close()`: the global setting when no custom expiry is stored,
/// otherwise whether the stored expiry is `0`.
pub fn get_expire_at_browser_close(data: &SessionData, expire_at_browser_close: bool) -> bool {
    match data.get(EXPIRY_KEY) {
        None | Some(Value::Null) => expire_at_browser_close,
        Some(v) => v.as_i64() == Some(0) || v.as_f64() == Some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn set_expiry_storage() {
        assert_eq!(
            stored_value(Expiry::In(TimeDelta::seconds(3600)), now()),
            Some(Value::from("2023-11-14T23:13:20+00:00"))
        );
        let at =
            Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap() + TimeDelta::microseconds(123_456);
        assert_eq!(
            stored_value(Expiry::At(at.fixed_offset()), now()),
            Some(Value::from("2030-01-01T12:00:00.123456+00:00"))
        );
    }

    #[test]
    fn ages() {
        let mut d = SessionData::new();
        assert_eq!(get_expiry_age(&d, 100, now()), 100);
        d.insert(EXPIRY_KEY.into(), 0.into());
        assert_eq!(get_expiry_age(&d, 100, now()), 100);
        assert!(get_expire_at_browser_close(&d, false));
        d.insert(EXPIRY_KEY.into(), 60.into());
        assert_eq!(get_expiry_age(&d, 100, now()), 60);
        assert_eq!(
            get_expiry_date(&d, 100, now()),
            now() + TimeDelta::seconds(60)
        );
        assert!(!get_expire_at_browser_close(&d, true));
        d.insert(EXPIRY_KEY.into(), "2023-11-14T22:13:19.500000+00:00".into());
        assert_eq!(get_expiry_age(&d, 100, now()), -1);
        assert_eq!(parse_isoformat("2023-11-14 22:13:20"), Some(now()));
    }
}
