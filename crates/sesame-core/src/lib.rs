//! # sesame-core
//!
//! The framework-agnostic core of Sesame: everything that must match Django byte for byte,
//! with no web framework and no database driver.
//!
//! | module | Django counterpart |
//! |---|---|
//! | [`signing`] | `django.core.signing` |
//! | [`crypto`] | `django.utils.crypto` |
//! | [`session`] | `django.contrib.sessions` (model, codec, store trait, memory and signed-cookie engines) |
//! | [`auth`] | `django.contrib.auth` (users, hashers, validators, tokens, permissions, backend) |
//! | [`messages`] | `django.contrib.messages` storage formats |
//! | [`csrf`] | `django.middleware.csrf` token algorithms |
//! | [`settings`] | the settings above, under Django's names |
//!
//! ```
//! use sesame_core::signing::dumps;
//! use serde_json::json;
//! let signed = dumps(&json!({"foo": "bar"}), "secret", "django.core.signing", false);
//! assert!(signed.starts_with("eyJmb28iOiJiYXIifQ:"));
//! ```

pub mod auth;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod crypto;
pub mod csrf;
pub mod messages;
pub mod pyjson;
pub mod session;
pub mod settings;
pub mod signing;
