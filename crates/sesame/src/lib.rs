//! Sesame: Django's sessions and authentication for async Rust web services.
//!
//! This crate is the one applications depend on: a Rust service that shares users and
//! sessions with a Django site (the same tables, cookies and signatures), or a new service
//! that wants Django's proven auth semantics without Django. It re-exports the
//! framework-agnostic core ([`core`]), and the stores and the web layer behind feature flags,
//! so that one dependency line picks what the service needs:
//!
//! | feature | module | what it brings |
//! |---|---|---|
//! | (always) | [`core`] | signing, sessions, users, hashers, validators, tokens, messages, CSRF, settings |
//! | `axum` (default) | `axum` | the layer, the extractors and the login guards |
//! | `sql` (default) | `sql` | SQLite, PostgreSQL and MySQL/MariaDB stores in Django's tables |
//! | `redis` | `redis` | Django's `cache` and `cached_db` session engines on Redis |
//! | `mongodb` | `mongodb` | stores in django-mongodb-backend's collections |
//! | `site` | `site` | the ready-made login, signup and password pages |
//! | `big-ints` | | Python integers of any size in session data |
//!
//! docs/architecture.md in the repository describes how the crates fit together, and
//! docs/beside-django.md how to run Sesame next to a Django site.
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
