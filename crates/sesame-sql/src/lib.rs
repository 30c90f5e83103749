//! # sesame-sql
//!
//! Sesame's stores for SQLite (the embedded default), PostgreSQL and MySQL/MariaDB, in the
//! tables Django itself uses (`django_session`, `auth_user`, `auth_group`, `auth_permission`,
//! `django_content_type` and the three many-to-many tables), so that a Django site and a
//! Sesame service can share one database.
//!
//! Everything goes through sqlx, with one exception: on a SQLite file, the read that every
//! authenticated request makes (the session, its user and their permissions, see
//! [`SqlAuthStore::load_session_with_user_and_permissions`]) runs on the calling thread
//! through a few plain `rusqlite` connections, because handing a query of a few microseconds
//! to sqlx's per-connection worker thread and back cost more than the query itself. That read
//! never waits for a lock: when SQLite is busy, or anything else goes wrong, it is answered
//! through sqlx as before. While SQLite's `PRAGMA data_version` says that nothing has been
//! committed since, by any connection or process, that read is answered from the same
//! connection's last identical one (`PoolSettings::sqlite_unchanged_reads`), so it is never
//! stale: a login, a logout or a change made by Django is seen on the next request.
//!
//! ```no_run
//! use sesame_sql::{Db, PoolSettings, SqlAuthStore, SqlSessionStore, migrate};
//! use sesame_core::session::SessionCodec;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Db::connect("sqlite://sesame.sqlite3", PoolSettings::default()).await?;
//! migrate(&db).await?;                       // Django's schema, recorded in django_migrations
//! let sessions = SqlSessionStore::new(db.clone(), SessionCodec::new("secret"));
//! let users = SqlAuthStore::new(db).await?;
//! # Ok(()) }
//! ```

mod auth;
mod db;
mod schema;
mod sessions;
#[cfg(feature = "sqlite")]
mod sqlite_reader;
mod throttle;

pub use auth::{EXTRA_TABLE, SqlAuthStore, SqlSessionWithUser};
pub use db::{Backend, ConnectError, Db, PoolSettings};
pub use schema::{MigrateError, MigrateReport, SchemaState, migrate, schema_state};
pub use sessions::{CLEAR_BATCH, SESSION_USER_TABLE, SqlSessionStore};
pub use throttle::{SqlThrottleStore, THROTTLE_TABLE};
