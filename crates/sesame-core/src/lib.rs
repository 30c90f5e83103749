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
//! ## When to use this crate
//!
//! An axum application depends on `sesame` (the facade, which re-exports this crate as
//! `sesame::core`) or on `sesame-axum` and a store crate. Depend on `sesame-core` directly
//! to write a store of your own (implement [`session::SessionStore`] and
//! [`auth::AuthStore`]), to integrate another web framework (the [`session::Session`] and
//! [`auth::Auth`] types do everything but the cookies), or just to read and write Django's
//! signed values, password hashes and reset tokens from a service that has none of the rest.
//! Nothing here opens a socket or a file; the memory stores are for tests and single-process
//! tools.
//!
//! ```
//! use serde_json::json;
//! use sesame_core::auth::hashers::Hashers;
//! use sesame_core::session::SessionCodec;
//! use sesame_core::signing::{dumps, loads};
//!
//! // A value Django's `signing.loads(value, key="secret", salt="django.core.signing")` reads:
//! let signed = dumps(&json!({"foo": "bar"}), "secret", "django.core.signing", false);
//! assert!(signed.starts_with("eyJmb28iOiJiYXIifQ:"));
//! assert_eq!(loads(&signed, "secret", &[] as &[&str], "django.core.signing", None)?, json!({"foo": "bar"}));
//!
//! // The `session_data` column of Django's `django_session` table:
//! let codec = SessionCodec::new("secret");
//! let stored = codec.encode(json!({"_auth_user_id": "1"}).as_object().unwrap());
//! assert_eq!(codec.decode(&stored)["_auth_user_id"], "1");
//!
//! // A password for `auth_user.password`, hashed and checked as Django does:
//! let hashers = Hashers::django_default("5.2")?;
//! let hash = hashers.make_password(Some("s3cret"))?;
//! assert!(hash.starts_with("pbkdf2_sha256$"));
//! assert!(hashers.check_password("s3cret", &hash));
//! # Ok::<(), Box<dyn std::error::Error>>(())
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
