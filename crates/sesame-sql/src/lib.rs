//! # sesame-sql
//!
//! Sesame's stores for SQLite (the embedded default), PostgreSQL and MySQL/MariaDB, in the
//! tables Django itself uses (`django_session`, `auth_user`, `auth_group`, `auth_permission`,
//! `django_content_type` and the three many-to-many tables), so that a Django site and a
//! Sesame service can share one database.
//!
//! Use it when the users live in a relational database: beside a Django site (point
//! [`Db::connect`] at Django's database; [`migrate`] then finds Django's migrations applied and
//! changes nothing), or on its own (a SQLite file is enough for a small service). One [`Db`]
//! serves the session store ([`SqlSessionStore`], Django's `db` engine), the user store
//! ([`SqlAuthStore`]) and the login throttle ([`SqlThrottleStore`]). Errors are typed: a
//! database that cannot be reached is `StoreError::Unavailable` / `AuthStoreError::Unavailable`
//! (a 503 in the web layer), never a panic or a hang past the pool's timeout.
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
//! use sesame_core::auth::hashers::Hashers;
//! use sesame_core::auth::{NewUser, UserStore};
//! use sesame_core::session::{Session, SessionCodec, SessionConfig};
//! use sesame_sql::{Db, PoolSettings, SqlAuthStore, SqlSessionStore, migrate};
//! use std::sync::Arc;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Or postgres://user@host/db, mysql://root@127.0.0.1/db.
//! let db = Db::connect("sqlite://sesame.sqlite3", PoolSettings::default()).await?;
//! migrate(&db).await?; // Django's schema, recorded in django_migrations
//!
//! let users = SqlAuthStore::new(db.clone()).await?;
//! let hashers = Hashers::django_default("5.2")?;
//! let password = hashers.make_password(Some("correct horse battery staple"))?;
//! let alice = users.create_user(NewUser::new("alice", "alice@example.com", password)).await?;
//! println!("created user {}", alice.id);
//!
//! // Sessions in django_session, readable by the Django site with the same SECRET_KEY.
//! let sessions = Arc::new(SqlSessionStore::new(db, SessionCodec::new("secret")));
//! let mut session = Session::new(sessions, SessionConfig::default(), None);
//! session.insert("theme", "dark".into()).await?;
//! session.save().await?;
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
