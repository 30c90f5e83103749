//! One-line assembly: the stores, the hashers, authentication and the throttle that the
//! settings name, wired the way `sesame serve` wires them.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = sesame::core::settings::Settings::load("sesame.toml".as_ref())?;
//! let sesame = sesame::from_settings(&settings).await?;
//! let app: axum::Router = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .layer(sesame.layer());
//! # Ok(()) }
//! ```
//!
//! What is chosen from what:
//!
//! | setting | chooses |
//! |---|---|
//! | `database_url` | the users and the `db` session engine: `sqlite:`, `postgres:`, `mysql:`/`mariadb:` ([`sql`](crate::sql)), `mongodb:` ([`mongodb`](crate::mongodb)) |
//! | `session_engine` | `db` (the database above, with the session and its user read in one round trip), `cache` or `cached_db` (Redis at `cache_url`), `signed_cookies`, `memory` |
//! | `password_hashers`, `password_hashing_*` | the hashers and their thread pool |
//! | the throttle settings | the limits; the counters live in the database (in memory with the `memory` engine) |
//!
//! [`Setup`] gives the same with the parts (the stores, the hashing pool) for applications
//! that use them directly, as the ready-made site does.

use crate::axum::Sesame;
use crate::axum::throttle::{Throttle, ThrottleConfig};
use crate::core::auth::hashers::{Hashers, PasswordHashing};
use crate::core::auth::store::AuthStore;
use crate::core::auth::throttle::ThrottleStore;
use crate::core::auth::{Auth, ModelBackend};
use crate::core::session::{
    MemorySessionStore, SessionCodec, SessionStore, SessionUserStore, SignedCookieStore, StoreError,
};
use crate::core::settings::{SessionEngine, Settings};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Why the stack could not be assembled. Each says which setting or store is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A setting cannot be used (an unknown engine, a missing `cache_url`, a hasher that is
    /// not compiled in, a feature this build lacks).
    #[error("{0}")]
    Settings(String),
    /// The database has no schema, or part of one: run `sesame migrate` (or use
    /// [`Setup::migrate`]).
    #[error("{0}")]
    Schema(String),
    /// A store could not be opened or failed while being prepared.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl SetupError {
    fn store(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        SetupError::Store {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// The database behind the users (and the `db` session engine).
#[derive(Clone, Debug)]
pub enum Database {
    /// SQLite, PostgreSQL or MySQL/MariaDB.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    Sql(crate::sql::Db),
    /// MongoDB.
    #[cfg(feature = "mongodb")]
    Mongo(crate::mongodb::MongoDb),
}

/// The `db` session engine on that database, with the operations beyond [`SessionStore`]
/// that administration needs (counting, listing, clearing with progress).
#[derive(Clone)]
pub enum DbSessions {
    /// In `django_session` (SQL).
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    Sql(crate::sql::SqlSessionStore),
    /// In the `django_session` collection.
    #[cfg(feature = "mongodb")]
    Mongo(crate::mongodb::MongoSessionStore),
}

impl std::fmt::Debug for DbSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DbSessions")
            .field(&self.as_dyn().name())
            .finish()
    }
}

/// One arm per compiled-in database; `$s` is the store whatever its type.
macro_rules! each_db {
    ($sessions:expr, $s:ident => $body:expr) => {
        match $sessions {
            #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
            DbSessions::Sql($s) => $body,
            #[cfg(feature = "mongodb")]
            DbSessions::Mongo($s) => $body,
        }
    };
}

impl DbSessions {
    /// The store as the web layer takes it.
    pub fn store(&self) -> Arc<dyn SessionStore> {
        each_db!(self, s => Arc::new(s.clone()))
    }

    fn as_dyn(&self) -> &dyn SessionStore {
        each_db!(self, s => s)
    }

    /// How many records have expired.
    pub async fn count_expired(&self) -> Result<u64, StoreError> {
        each_db!(self, s => s.count_expired().await)
    }

    /// `clearsessions`, calling `progress` with the running total as batches go.
    pub async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, StoreError> {
        each_db!(self, s => s.clear_expired_with_progress(progress).await)
    }

    /// Up to `limit` session keys with their expiry dates.
    pub async fn list(&self, limit: i64) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        each_db!(self, s => s.list(limit).await)
    }

    /// The stored dict, if present and not expired.
    pub async fn load(
        &self,
        key: &str,
    ) -> Result<Option<crate::core::session::SessionData>, StoreError> {
        self.as_dyn().load(key).await
    }

    /// Whether a record exists under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.as_dyn().exists(key).await
    }

    /// Remove the record under `key`.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.as_dyn().delete(key).await
    }
}

/// The stores over the configured database.
#[derive(Clone)]
pub struct Stores {
    /// The database.
    pub db: Database,
    /// Users, groups and permissions.
    pub auth: Arc<dyn AuthStore>,
    /// The `db` session engine.
    pub sessions: DbSessions,
    /// The session and its user in one round trip (the `db` engine).
    pub session_user: Arc<dyn SessionUserStore>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores")
            .field("db", &self.db)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

/// A session codec even without a secret key: commands that only list or delete sessions
/// still work then (decoding fails to verify, which is reported where it matters).
fn codec(settings: &Settings) -> SessionCodec {
    if settings.secret_key.is_empty() {
        SessionCodec::new("")
    } else {
        SessionCodec::from_settings(settings)
    }
}

/// Connect to `database_url`. With `need_schema`, refuse a database without Django's tables
/// (or, on MongoDB, without Sesame's indexes).
pub async fn open(settings: &Settings, need_schema: bool) -> Result<Stores, SetupError> {
    let url = &settings.database.url;
    if url.starts_with("mongodb:") || url.starts_with("mongodb+srv:") {
        #[cfg(feature = "mongodb")]
        return open_mongo(settings, need_schema).await;
        #[cfg(not(feature = "mongodb"))]
        return Err(SetupError::Settings(format!(
            "database_url {} needs the `mongodb` feature of the sesame crate",
            redact(url)
        )));
    }
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    return open_sql(settings, need_schema).await;
    #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
    Err(SetupError::Settings(format!(
        "database_url {} needs a SQL feature (`sqlite`, `postgres` or `mysql`) of the sesame crate",
        redact(url)
    )))
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn open_sql(settings: &Settings, need_schema: bool) -> Result<Stores, SetupError> {
    use crate::sql::{Db, PoolSettings, SchemaState, schema_state};
    let url = &settings.database.url;
    let pool = PoolSettings {
        sqlite_inline_reads: settings.database.sqlite_inline_reads,
        sqlite_unchanged_reads: settings.database.sqlite_unchanged_reads,
        ..PoolSettings::default()
    };
    let db = Db::connect(url, pool)
        .await
        .map_err(|e| SetupError::store(format!("cannot open {}", redact(url)), e))?;
    if need_schema {
        match schema_state(&db)
            .await
            .map_err(|e| SetupError::store("cannot read the schema", e))?
        {
            SchemaState::Complete => {}
            SchemaState::Empty => {
                return Err(SetupError::Schema(format!(
                    "the database at {} has no tables yet: run `sesame migrate` first",
                    redact(url)
                )));
            }
            SchemaState::Partial(missing) => {
                return Err(SetupError::Schema(format!(
                    "the database lacks these tables: {}",
                    missing.join(", ")
                )));
            }
        }
    }
    sql_stores(db, settings).await
}

/// The SQL stores over a pool. The auth store notes at construction whether Sesame's extra
/// table exists, so call this again after a migration created it.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub async fn sql_stores(db: crate::sql::Db, settings: &Settings) -> Result<Stores, SetupError> {
    use crate::sql::{SqlAuthStore, SqlSessionStore, SqlSessionWithUser};
    let auth = SqlAuthStore::new(db.clone())
        .await
        .map_err(|e| SetupError::store("cannot open the users' tables", e))?;
    let sessions =
        SqlSessionStore::new(db.clone(), codec(settings)).with_max_size(settings.session.max_size);
    let joined = SqlSessionWithUser::new(sessions.clone(), auth.clone());
    Ok(Stores {
        db: Database::Sql(db),
        auth: Arc::new(auth),
        sessions: DbSessions::Sql(sessions),
        session_user: Arc::new(joined),
    })
}

#[cfg(feature = "mongodb")]
async fn open_mongo(settings: &Settings, need_schema: bool) -> Result<Stores, SetupError> {
    use crate::mongodb::{MongoAuthStore, MongoConfig, MongoSessionStore, MongoSessionWithUser};
    let timeout = store_timeout(settings);
    let db = MongoConfig::new(&settings.database.url)
        .with_user_id(settings.database.mongodb_user_id)
        .with_timeout(timeout)
        .connect()
        .await
        .map_err(|e| SetupError::Settings(e.to_string()))?;
    if need_schema {
        let problems = crate::mongodb::check_indexes(&db)
            .await
            .map_err(|e| SetupError::store("cannot read the indexes", e))?;
        refuse_missing_indexes(&problems)?;
    }
    let auth = MongoAuthStore::new(db.clone());
    let sessions = MongoSessionStore::new(db.clone(), codec(settings))
        .with_max_size(settings.session.max_size);
    let joined = MongoSessionWithUser::new(sessions.clone(), auth.clone());
    Ok(Stores {
        db: Database::Mongo(db),
        auth: Arc::new(auth),
        sessions: DbSessions::Mongo(sessions),
        session_user: Arc::new(joined),
    })
}

/// Refuse a MongoDB database that lacks an index the stores rely on (a missing unique index
/// would let duplicates in); a plain `expire_date` index is tolerated.
#[cfg(feature = "mongodb")]
pub fn refuse_missing_indexes(problems: &[crate::mongodb::IndexProblem]) -> Result<(), SetupError> {
    let fatal: Vec<String> = problems
        .iter()
        .filter(|p| !p.is_tolerable())
        .map(ToString::to_string)
        .collect();
    if fatal.is_empty() {
        return Ok(());
    }
    Err(SetupError::Schema(format!(
        "the MongoDB database lacks Sesame's indexes: run `sesame migrate` first\n{}",
        fatal.join("\n")
    )))
}

/// The per-operation timeout of the MongoDB and Redis stores (`database_timeout`).
pub fn store_timeout(settings: &Settings) -> Duration {
    Duration::from_secs_f64(settings.database.timeout.clamp(0.1, 3600.0))
}

/// The hashers and their thread pool, with every `password_hashing_*` setting applied.
pub fn hashing(settings: &Settings) -> Result<PasswordHashing, SetupError> {
    let hashers =
        Hashers::from_settings(settings).map_err(|e| SetupError::Settings(e.to_string()))?;
    Ok(PasswordHashing::new(hashers, settings.auth.hashing_threads)
        .with_nice(settings.auth.hashing_nice)
        .with_idle_priority(settings.auth.hashing_idle))
}

/// A URL without its password, for messages.
pub use crate::core::settings::redact_url as redact;

/// What happens to a database without its schema when the stack is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Migrate {
    /// Refuse it, naming `sesame migrate` (the default: a library does not create tables
    /// behind an operator's back).
    #[default]
    Never,
    /// Create Django's tables (or Sesame's MongoDB indexes) in an empty database, and
    /// Sesame's own tables beside a schema Django made; refuse a partial schema. What
    /// `sesame serve` does, so that its first run on a new SQLite file just works.
    IfEmpty,
}

/// The session engine `session_engine` names.
fn session_store(
    settings: &Settings,
    stores: &Stores,
) -> Result<Arc<dyn SessionStore>, SetupError> {
    let codec = SessionCodec::from_settings(settings);
    Ok(match settings.session.engine {
        SessionEngine::Db => stores.sessions.store(),
        SessionEngine::Memory => {
            Arc::new(MemorySessionStore::new(codec).with_max_size(settings.session.max_size))
        }
        SessionEngine::SignedCookies => Arc::new(SignedCookieStore::new(
            &settings.secret_key,
            &settings.secret_key_fallbacks,
            settings.session.cookie_age,
        )),
        #[cfg(feature = "redis")]
        SessionEngine::Cache => Arc::new(
            crate::redis::RedisSessionStore::connect(redis_config(settings)?)
                .map_err(|e| SetupError::store("cannot open the Redis cache", e))?,
        ),
        #[cfg(feature = "redis")]
        SessionEngine::CachedDb => Arc::new(
            crate::redis::CachedDbSessionStore::connect(
                redis_config(settings)?,
                stores.sessions.store(),
            )
            .map_err(|e| SetupError::store("cannot open the Redis cache", e))?,
        ),
        #[cfg(not(feature = "redis"))]
        engine @ (SessionEngine::Cache | SessionEngine::CachedDb) => {
            return Err(SetupError::Settings(format!(
                "SESSION_ENGINE {engine} needs the `redis` feature of the sesame crate"
            )));
        }
    })
}

fn is_db_engine(settings: &Settings) -> bool {
    settings.session.engine == SessionEngine::Db
}

/// The Redis cache of the `cache` and `cached_db` engines, as Django's `CACHES["default"]`.
#[cfg(feature = "redis")]
fn redis_config(settings: &Settings) -> Result<crate::redis::RedisConfig, SetupError> {
    let Some(url) = settings
        .database
        .cache_url
        .as_deref()
        .filter(|u| !u.is_empty())
    else {
        return Err(SetupError::Settings(format!(
            "SESSION_ENGINE {} needs a cache: set SESAME_CACHE_URL=redis://host:6379/0",
            settings.session.engine
        )));
    };
    let timeout = store_timeout(settings);
    Ok(crate::redis::RedisConfig::new(url)
        .with_key_prefix(settings.database.cache_key_prefix.clone())
        .with_version(settings.database.cache_version)
        .with_timeouts(timeout, timeout)
        .with_max_size(settings.session.max_size))
}

/// The login throttle's counters: in the users' database, so that every instance over it
/// enforces one limit (three processes behind a proxy count together); in memory only with
/// the `memory` session engine, whose sessions are per process anyway.
fn throttle(settings: &Settings, stores: &Stores, config: ThrottleConfig) -> Throttle {
    if settings.session.engine == SessionEngine::Memory {
        return Throttle::in_memory(config);
    }
    let store: Arc<dyn ThrottleStore> = match &stores.db {
        #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
        Database::Sql(db) => Arc::new(crate::sql::SqlThrottleStore::new(db.clone())),
        #[cfg(feature = "mongodb")]
        Database::Mongo(db) => Arc::new(crate::mongodb::MongoThrottleStore::new(db.clone())),
    };
    Throttle::new(config, store)
}

/// Create what [`Migrate::IfEmpty`] creates; returns a line for the operator, if anything
/// was created.
async fn migrate_if_empty(
    settings: &Settings,
    stores: Stores,
) -> Result<(Stores, Option<String>), SetupError> {
    match stores.db.clone() {
        #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
        Database::Sql(db) => {
            use crate::sql::SchemaState;
            let state = crate::sql::schema_state(&db)
                .await
                .map_err(|e| SetupError::store("cannot read the schema", e))?;
            if let SchemaState::Partial(missing) = state {
                return Err(SetupError::Schema(format!(
                    "the database lacks these tables: {}",
                    missing.join(", ")
                )));
            }
            // Sesame's own tables also go beside a schema Django made.
            let report = crate::sql::migrate(&db)
                .await
                .map_err(|e| SetupError::store("cannot create the tables", e))?;
            let note = report.created_schema.then(|| {
                format!(
                    "Created Django's tables on first run ({} migrations recorded).",
                    report.recorded_migrations
                )
            });
            // The auth store notes at construction whether Sesame's extra table exists,
            // which the migration may just have created; the pool is kept.
            Ok((sql_stores(db, settings).await?, note))
        }
        #[cfg(feature = "mongodb")]
        Database::Mongo(db) => {
            let problems = crate::mongodb::check_indexes(&db)
                .await
                .map_err(|e| SetupError::store("cannot read the indexes", e))?;
            let all = crate::mongodb::required_indexes(
                db.collections(),
                db.config().user_id,
                db.config().unique_email,
            );
            if !problems.is_empty() && problems.len() == all.len() {
                let report = crate::mongodb::migrate(&db)
                    .await
                    .map_err(|e| SetupError::store("cannot create the indexes", e))?;
                crate::core::auth::store::create_default_permissions(stores.auth.as_ref())
                    .await
                    .map_err(|e| SetupError::store("cannot create the default permissions", e))?;
                let note = format!(
                    "Created {} indexes and the default permissions on first run.",
                    report.created.len()
                );
                return Ok((stores, Some(note)));
            }
            refuse_missing_indexes(&problems)?;
            for p in problems {
                tracing::warn!(target: "sesame::setup", "{p}");
            }
            Ok((stores, None))
        }
    }
}

/// The assembled stack: the layer's configuration and the parts it was made of.
#[derive(Clone)]
pub struct Assembled {
    /// The configuration to take layers from ([`Sesame::layer`]).
    pub sesame: Sesame,
    /// The stores over the database.
    pub stores: Stores,
    /// The session engine in use (the `db` engine's, a Redis one, signed cookies...).
    pub sessions: Arc<dyn SessionStore>,
    /// The hashing pool (shared with authentication).
    pub hashing: PasswordHashing,
    /// What was created on the way ([`Migrate::IfEmpty`]), for the operator.
    pub created: Option<String>,
}

impl std::fmt::Debug for Assembled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembled")
            .field("sesame", &self.sesame)
            .field("stores", &self.stores)
            .field("sessions", &self.sessions.name())
            .finish_non_exhaustive()
    }
}

/// Assembly with options; [`from_settings`] is `Setup::new(settings).sesame()`.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    settings: &'a Settings,
    migrate: Migrate,
    prefetch_permissions: bool,
}

impl<'a> Setup<'a> {
    /// Assembly from these settings, refusing a database without its schema.
    pub fn new(settings: &'a Settings) -> Self {
        Self {
            settings,
            migrate: Migrate::Never,
            prefetch_permissions: false,
        }
    }

    /// With the `db` engine, read the user's permissions in the same round trip as the
    /// session and the user ([`SesameBuilder::prefetched_permissions`]): for sites whose
    /// pages nearly all look at permissions, as the ready-made site's do.
    ///
    /// [`SesameBuilder::prefetched_permissions`]: crate::axum::SesameBuilder::prefetched_permissions
    pub fn prefetched_permissions(mut self, prefetch: bool) -> Self {
        self.prefetch_permissions = prefetch;
        self
    }

    /// What to do about a database without its schema.
    pub fn migrate(mut self, migrate: Migrate) -> Self {
        self.migrate = migrate;
        self
    }

    /// The stack and its parts.
    pub async fn assemble(self) -> Result<Assembled, SetupError> {
        let settings = self.settings;
        // Refused before anything is opened: a throttle setting that cannot be used must
        // stop the start, not fall back quietly.
        let throttle_config = ThrottleConfig::from_settings(settings)
            .map_err(|e| SetupError::Settings(format!("{e} (see docs/login-throttling.md)")))?;
        if settings.secret_key.is_empty() {
            return Err(SetupError::Settings(
                "SECRET_KEY is empty: set secret_key in sesame.toml or SESAME_SECRET_KEY".into(),
            ));
        }
        let hashing = hashing(settings)?;
        let (stores, created) = match self.migrate {
            Migrate::Never => (open(settings, true).await?, None),
            Migrate::IfEmpty => migrate_if_empty(settings, open(settings, false).await?).await?,
        };
        let sessions = session_store(settings, &stores)?;
        let auth = Auth::from_settings(
            ModelBackend::new(stores.auth.clone(), hashing.clone()),
            settings,
        );
        let mut builder = Sesame::builder(settings.clone(), sessions.clone())
            .auth(auth)
            .throttle(throttle(settings, &stores, throttle_config));
        if is_db_engine(settings) {
            builder = builder
                .session_user_store(stores.session_user.clone())
                .prefetched_permissions(self.prefetch_permissions);
        }
        Ok(Assembled {
            sesame: builder.build(),
            stores,
            sessions,
            hashing,
            created,
        })
    }

    /// The layer's configuration alone.
    pub async fn sesame(self) -> Result<Sesame, SetupError> {
        Ok(self.assemble().await?.sesame)
    }
}

/// The stores, hashers, authentication and throttle that `settings` name, as one
/// [`Sesame`]: `let sesame = sesame::from_settings(&settings).await?;`. The database must
/// have its schema (`sesame migrate`); see [`Setup`] for options.
pub async fn from_settings(settings: &Settings) -> Result<Sesame, SetupError> {
    Setup::new(settings).sesame().await
}
