//! `django.contrib.messages`: levels, tags, and the two storage formats, the session's
//! `_messages` key and the signed `messages` cookie, readable and writable by a Django site.
//!
//! ```
//! use sesame_core::messages::{Message, SUCCESS, session_value, from_session_value};
//! let msgs = vec![Message::new(SUCCESS, "Saved")];
//! let v = session_value(&msgs).unwrap();
//! assert_eq!(v, serde_json::json!(r#"[["__json_message", 0, 25, "Saved", ""]]"#));
//! assert_eq!(from_session_value(&v), msgs);
//! ```

use crate::pyjson::{self, Separators};
use crate::signing::{SigningError, TimestampSigner, get_cookie_signer};
use serde_json::Value;
use std::collections::BTreeMap;

/// `DEBUG`.
pub const DEBUG: i32 = 10;
/// `INFO`.
pub const INFO: i32 = 20;
/// `SUCCESS`.
pub const SUCCESS: i32 = 25;
/// `WARNING`.
pub const WARNING: i32 = 30;
/// `ERROR`.
pub const ERROR: i32 = 40;

/// The session key of `SessionStorage`.
pub const SESSION_KEY: &str = "_messages";
/// The cookie of `CookieStorage`.
pub const COOKIE_NAME: &str = "messages";
/// The salt of the messages cookie signer.
pub const COOKIE_SALT: &str = "django.contrib.messages";
/// `CookieStorage.max_cookie_size`.
pub const MAX_COOKIE_SIZE: usize = 2048;
/// The last list element that means "more messages are in the next storage".
pub const NOT_FINISHED: &str = "__messagesnotfinished__";
const MESSAGE_MARKER: &str = "__json_message";

/// `Message(level, message, extra_tags)`: a one-time notice for the next page the user sees
/// ("Your profile was saved."), stored between requests in the session or a signed cookie.
///
/// ```
/// use sesame_core::messages::{Message, WARNING};
/// use std::collections::BTreeMap;
///
/// let mut msg = Message::new(WARNING, "Your password expires soon.");
/// msg.extra_tags = Some("banner".into());
/// // The CSS classes a template puts on the message (`message.tags`):
/// assert_eq!(msg.tags(&BTreeMap::new()), "banner warning");
/// // MESSAGE_TAGS may rename a level's tag, as Bootstrap's "danger" for errors:
/// let overrides = BTreeMap::from([("30".to_owned(), "caution".to_owned())]);
/// assert_eq!(msg.level_tag(&overrides), "caution");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The level (`INFO` = 20, ...).
    pub level: i32,
    /// The text.
    pub message: String,
    /// Extra CSS-style tags. `messages.info(...)` gives `Some("")`; `None` is only seen in
    /// messages built directly, and is encoded differently (the field is omitted).
    pub extra_tags: Option<String>,
    /// Marked safe (`mark_safe`): templates render it without escaping.
    pub is_safe: bool,
}

impl Message {
    /// A message as `messages.add_message(request, level, text)` makes it.
    pub fn new(level: i32, message: impl Into<String>) -> Self {
        Self {
            level,
            message: message.into(),
            extra_tags: Some(String::new()),
            is_safe: false,
        }
    }

    /// The level's tag (`info`, ...) with `MESSAGE_TAGS` overrides.
    pub fn level_tag(&self, overrides: &BTreeMap<String, String>) -> String {
        if let Some(t) = overrides.get(&self.level.to_string()) {
            return t.clone();
        }
        match self.level {
            DEBUG => "debug",
            INFO => "info",
            SUCCESS => "success",
            WARNING => "warning",
            ERROR => "error",
            _ => "",
        }
        .to_owned()
    }

    /// `tags`: extra tags and the level tag, space-separated, empty parts skipped.
    pub fn tags(&self, overrides: &BTreeMap<String, String>) -> String {
        let level = self.level_tag(overrides);
        [self.extra_tags.as_deref().unwrap_or(""), level.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `MessageEncoder`'s form: `["__json_message", is_safe, level, message(, extra_tags)]`.
    pub fn to_json(&self) -> Value {
        let mut v = vec![
            Value::from(MESSAGE_MARKER),
            Value::from(u8::from(self.is_safe)),
            Value::from(self.level),
            Value::from(self.message.clone()),
        ];
        if let Some(t) = &self.extra_tags {
            v.push(Value::from(t.clone()));
        }
        Value::Array(v)
    }

    /// The inverse of [`Message::to_json`]; `None` for anything else.
    pub fn from_json(v: &Value) -> Option<Self> {
        let a = v.as_array()?;
        if a.first()?.as_str()? != MESSAGE_MARKER {
            return None;
        }
        let is_safe = a
            .get(1)?
            .as_i64()
            .map(|n| n != 0)
            .or_else(|| a.get(1)?.as_bool())?;
        Some(Self {
            level: i32::try_from(a.get(2)?.as_i64()?).ok()?,
            message: a.get(3)?.as_str()?.to_owned(),
            extra_tags: match a.get(4) {
                None | Some(Value::Null) => None,
                Some(t) => Some(t.as_str()?.to_owned()),
            },
            is_safe,
        })
    }
}

/// The value `SessionStorage` stores under `_messages`: a JSON *string* made with Python's
/// default separators. `None` means "remove the key" (no messages).
pub fn session_value(messages: &[Message]) -> Option<Value> {
    if messages.is_empty() {
        return None;
    }
    let list = Value::Array(messages.iter().map(Message::to_json).collect());
    Some(Value::from(pyjson::dumps(&list, Separators::Default)))
}

/// Read `_messages`: a JSON string or an already-decoded list. Entries that are not messages
/// are skipped.
pub fn from_session_value(value: &Value) -> Vec<Message> {
    let decoded;
    let list = match value {
        Value::String(s) => match pyjson::loads(s) {
            Ok(v) => {
                decoded = v;
                &decoded
            }
            Err(_) => return Vec::new(),
        },
        other => other,
    };
    list.as_array()
        .map(|a| a.iter().filter_map(Message::from_json).collect())
        .unwrap_or_default()
}

/// The `messages` cookie: `CookieStorage`.
///
/// Messages in a cookie signed with `SECRET_KEY` (salt `django.contrib.messages`), so that
/// the client can carry them without being able to forge or alter them. A cookie holds at
/// most [`MAX_COOKIE_SIZE`] bytes: what does not fit is handed back for the session storage,
/// as Django's `FallbackStorage` does.
///
/// ```
/// use sesame_core::messages::{CookieStorage, INFO, Message};
///
/// let storage = CookieStorage::new("secret", &[] as &[&str]);
/// let messages = [Message::new(INFO, "Welcome back, alice.")];
/// let (cookie, unstored) = storage.encode_at(&messages, 1_700_000_000);
/// assert!(unstored.is_empty());
/// let read = storage.decode(&cookie.unwrap()).unwrap();
/// assert_eq!(read.messages, messages);
/// assert!(read.all_retrieved);
/// // Anything not signed with the key reads as no messages.
/// assert_eq!(storage.decode("W1tdXQ:forged"), None);
/// ```
#[derive(Debug, Clone)]
pub struct CookieStorage {
    signer: TimestampSigner,
    max_cookie_size: usize,
}

/// What the cookie held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieMessages {
    /// The messages.
    pub messages: Vec<Message>,
    /// False when the sentinel says more messages are in the session storage.
    pub all_retrieved: bool,
}

impl CookieStorage {
    /// The storage for a secret key and its fallbacks.
    pub fn new<K: AsRef<[u8]>>(secret_key: impl AsRef<[u8]>, fallback_keys: &[K]) -> Self {
        Self {
            signer: get_cookie_signer(COOKIE_SALT, secret_key, fallback_keys),
            max_cookie_size: MAX_COOKIE_SIZE,
        }
    }

    fn encode_list(&self, items: Vec<Value>, timestamp: i64) -> String {
        self.signer
            .sign_object_at(&Value::Array(items), true, timestamp)
    }

    /// Encode as `CookieStorage._store` (`remove_oldest=True`): when the cookie would be too
    /// large, the oldest messages are left out (returned as `unstored`) and the not-finished
    /// sentinel is appended. Returns `(cookie value, unstored)`; an empty list gives `None`.
    pub fn encode_at(
        &self,
        messages: &[Message],
        timestamp: i64,
    ) -> (Option<String>, Vec<Message>) {
        self.encode_fitting(messages, timestamp, true)
    }

    /// Encode as `FallbackStorage` does (`remove_oldest=False`): as many of the *oldest*
    /// messages as fit, plus the not-finished sentinel when some are left over; the rest are
    /// returned for the next storage (the session).
    pub fn encode_keep_oldest_at(
        &self,
        messages: &[Message],
        timestamp: i64,
    ) -> (Option<String>, Vec<Message>) {
        self.encode_fitting(messages, timestamp, false)
    }

    /// Django's `_store`: everything if it fits, else the largest run of the newest
    /// (`remove_oldest`) or the oldest messages that fits beside the sentinel.
    fn encode_fitting(
        &self,
        messages: &[Message],
        timestamp: i64,
        remove_oldest: bool,
    ) -> (Option<String>, Vec<Message>) {
        if messages.is_empty() {
            return (None, Vec::new());
        }
        let all: Vec<Value> = messages.iter().map(Message::to_json).collect();
        let encoded = self.encode_list(all.clone(), timestamp);
        if encoded.len() <= self.max_cookie_size {
            return (Some(encoded), Vec::new());
        }
        for kept_count in (0..messages.len()).rev() {
            let split = if remove_oldest {
                messages.len() - kept_count
            } else {
                kept_count
            };
            let (kept, unstored) = if remove_oldest {
                (&all[split..], &messages[..split])
            } else {
                (&all[..split], &messages[split..])
            };
            let mut list = kept.to_vec();
            list.push(Value::from(NOT_FINISHED));
            let candidate = self.encode_list(list, timestamp);
            if candidate.len() <= self.max_cookie_size {
                return (Some(candidate), unstored.to_vec());
            }
        }
        (None, messages.to_vec())
    }

    /// Decode a cookie value; `None` for a bad signature or payload ("no messages").
    pub fn decode(&self, cookie: &str) -> Option<CookieMessages> {
        let value = self.signer.unsign_object_at(cookie, None, 0.0).ok()?;
        let mut list = value.as_array()?.clone();
        let all_retrieved = list.last().and_then(Value::as_str) != Some(NOT_FINISHED);
        if !all_retrieved {
            list.pop();
        }
        Some(CookieMessages {
            messages: list.iter().filter_map(Message::from_json).collect(),
            all_retrieved,
        })
    }

    /// Like [`CookieStorage::decode`], with the reason for a refusal.
    ///
    /// # Errors
    ///
    /// The [`SigningError`] of a cookie that is forged, signed with another key or corrupt.
    pub fn try_decode(&self, cookie: &str) -> Result<Value, SigningError> {
        self.signer.unsign_object_at(cookie, None, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_v11() {
        let msgs = vec![
            Message {
                level: 20,
                message: "Hello".into(),
                extra_tags: None,
                is_safe: false,
            },
            Message {
                level: 25,
                message: "<b>Saved</b>".into(),
                extra_tags: Some("x y".into()),
                is_safe: true,
            },
        ];
        let storage = CookieStorage::new("django_tests_secret_key", &[] as &[&str]);
        let (cookie, unstored) = storage.encode_at(&msgs, 1_700_000_000);
        assert_eq!(
            cookie.as_deref(),
            Some(
                ".eJyLjlaKj88qzs-Lz00tLk5MT1XSMdAxMtBR8kjNyclXitXBlDfUMTLVUbJJsgtOLEtNsdFPslPSUapQqFSKjQUA6wsYXg:1r31eq:QCw46Z_k0UYu3ND5p8sRvfwDGTPcEHQ_IVE_rfD_Iw4"
            )
        );
        assert!(unstored.is_empty());
        assert_eq!(
            storage.decode(cookie.as_deref().unwrap()).unwrap().messages,
            msgs
        );
        assert_eq!(
            session_value(&msgs).unwrap(),
            Value::from(
                r#"[["__json_message", 0, 20, "Hello"], ["__json_message", 1, 25, "<b>Saved</b>", "x y"]]"#
            )
        );
        assert_eq!(msgs[1].tags(&BTreeMap::new()), "x y success");
    }

    #[test]
    fn oversized_cookie_drops_oldest() {
        let storage = CookieStorage::new("k", &[] as &[&str]);
        let msgs: Vec<_> = (0..40)
            .map(|i| {
                Message::new(
                    INFO,
                    crate::crypto::get_random_string(60 + i, crate::crypto::RANDOM_STRING_CHARS),
                )
            })
            .collect();
        let (cookie, unstored) = storage.encode_at(&msgs, 1);
        let cookie = cookie.unwrap();
        assert!(cookie.len() <= MAX_COOKIE_SIZE);
        assert!(!unstored.is_empty());
        let back = storage.decode(&cookie).unwrap();
        assert!(!back.all_retrieved);
        assert_eq!(back.messages.last(), msgs.last());
        assert_eq!(unstored.len() + back.messages.len(), msgs.len());
    }
}
