//! Sesame: Django's sessions and authentication for async Rust web services.
//!
//! This crate is the one applications depend on: a Rust service that shares users and
//! sessions with a Django site (the same tables, cookies and signatures), or a new service
//! that wants Django's proven auth semantics without Django. It re-exports the
//! framework-agnostic core ([`core`]) and, by feature, the stores and the web layer, so that
//! a build compiles only the drivers and hashers it uses; [`from_settings`] assembles them
//! as the settings say. docs/architecture.md in the repository describes how the crates fit
//! together, and docs/beside-django.md how to run Sesame next to a Django site.
//!
//! ```
//! use sesame::core::signing::Signer;
//!
//! let signer = Signer::new("predictable-secret");
//! assert_eq!(signer.sign("foo"), "foo:jZQoX_FtSO70jX9HLRGg2A_2s4kdDBxz1QoO_OpEQb0");
//! ```
//!
//! # Features
//!
//! | Feature    | Default | What it compiles in                                                                   |
//! |------------|:-------:|---------------------------------------------------------------------------------------|
//! | `sqlite`   |   yes   | `sesame::sql` with SQLite (sqlx and the inline rusqlite reader)                       |
//! | `postgres` |         | `sesame::sql` with PostgreSQL                                                         |
//! | `mysql`    |         | `sesame::sql` with MySQL and MariaDB                                                  |
//! | `sql`      |         | all three SQL dialects                                                                |
//! | `mongodb`  |         | `sesame::mongodb`: the stores in django-mongodb-backend's collections                 |
//! | `redis`    |         | `sesame::redis`: Django's `cache` and `cached_db` session engines                     |
//! | `axum`     |   yes   | `sesame::axum`: the layer, extractors and guards                                      |
//! | `site`     |         | `sesame::site`: Django's auth views and templates (minijinja, lettre); implies `axum` |
//! | `argon2`   |   yes   | the `argon2` hasher                                                                   |
//! | `bcrypt`   |   yes   | the `bcrypt_sha256` and `bcrypt` hashers                                              |
//! | `scrypt`   |   yes   | the `scrypt` hasher                                                                   |
//! | `legacy`   |         | the `md5`, `sha1`, `unsalted_md5` and `unsalted_sha1` hashers                         |
//! | `tz`       |   yes   | any IANA `TIME_ZONE` for password-reset tokens (chrono-tz); without it, UTC only      |
//! | `big-ints` |         | Python ints of any size in sessions (serde_json's `arbitrary_precision`, binary-wide) |
//!
//! PBKDF2 (`pbkdf2_sha256`, Django's preferred hasher, and `pbkdf2_sha1`) is always compiled
//! in; with the default features every hasher of Django's default `PASSWORD_HASHERS` is. A
//! hasher named in `PASSWORD_HASHERS` that the build leaves out is a configuration error that
//! names its feature, and a stored hash of one does not verify (with a warning in the log);
//! a database URL whose dialect is left out fails to connect, naming its feature.
//!
//! For a service on PostgreSQL with the ready-made site:
//!
//! ```toml
//! sesame = { version = "0.1", default-features = false, features = ["postgres", "site", "argon2", "bcrypt", "scrypt", "tz"] }
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
/// The SQL stores, with the dialects of the features `sqlite` (on by default), `postgres`
/// and `mysql`.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub use sesame_sql as sql;

/// The Redis session stores, Django's `cache` and `cached_db` engines (feature `redis`).
#[cfg(feature = "redis")]
pub use sesame_redis as redis;

#[cfg(all(
    feature = "axum",
    any(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "mongodb"
    )
))]
pub mod setup;
#[cfg(all(
    feature = "axum",
    any(
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "mongodb"
    )
))]
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
