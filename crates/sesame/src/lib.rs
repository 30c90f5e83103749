//! Sesame: Django's sessions and authentication for async Rust web services.
//!
//! This crate is the one applications depend on. It re-exports the framework-agnostic core
//! ([`core`]) and, by feature, the stores and the web layer; [`from_settings`] assembles
//! them as the settings say.
//!
//! ```
//! use sesame::core::signing::Signer;
//!
//! let signer = Signer::new("predictable-secret");
//! assert_eq!(signer.sign("foo"), "foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0");
//! ```

pub use sesame_core as core;

/// The axum layer, extractors and guards (feature `axum`, on by default).
#[cfg(feature = "axum")]
pub use sesame_axum as axum;

/// The ready-made site: Django's auth views and templates (feature `site`).
#[cfg(feature = "site")]
pub use sesame_site as site;

/// The MongoDB stores (feature `mongodb`).
#[cfg(feature = "mongodb")]
pub use sesame_mongodb as mongodb;
/// The SQL stores (feature `sql`, on by default).
#[cfg(feature = "sql")]
pub use sesame_sql as sql;

/// The Redis session stores, Django's `cache` and `cached_db` engines (feature `redis`).
#[cfg(feature = "redis")]
pub use sesame_redis as redis;

#[cfg(all(feature = "axum", any(feature = "sql", feature = "mongodb")))]
pub mod setup;
#[cfg(all(feature = "axum", any(feature = "sql", feature = "mongodb")))]
pub use setup::{SetupError, from_settings};

/// What most applications import: `use sesame::prelude::*;`.
#[cfg(feature = "axum")]
pub mod prelude {
    pub use crate::axum::{
        AuthContext, CsrfToken, CurrentUser, LoginError, LoginRequired, Messages,
        PermissionRequired, PermissionSet, Sesame, SesameError, SessionHandle, UserPassesTest,
        UserTest,
    };
    pub use crate::core::auth::User;
    pub use crate::core::settings::Settings;
}
