//! Opening the stores that the configuration names: SQL (SQLite, PostgreSQL, MySQL/MariaDB)
//! or MongoDB, chosen by the scheme of `database_url`.

use crate::CliError;
use chrono::{DateTime, Utc};
use sesame::core::auth::hashers::{Hashers, PasswordHashing};
use sesame::core::auth::store::AuthStore;
use sesame::core::session::{SessionCodec, SessionStore, SessionUserStore, StoreError};
use sesame::core::settings::Settings;
use sesame::mongodb::{
    MongoAuthStore, MongoConfig, MongoDb, MongoSessionStore, MongoSessionWithUser,
};
use sesame::sql::{
    Db, PoolSettings, SchemaState, SqlAuthStore, SqlSessionStore, SqlSessionWithUser, schema_state,
};
use std::sync::Arc;
use std::time::Duration;

/// The database behind the users (and the `db` session engine).
#[derive(Clone)]
pub enum Database {
    /// SQLite, PostgreSQL or MySQL/MariaDB.
    Sql(Db),
    /// MongoDB.
    Mongo(MongoDb),
}

/// The `db` session engine on that database, with the operations beyond [`SessionStore`]
/// that the commands use.
#[derive(Clone)]
pub enum DbSessions {
    /// In `django_session` (SQL).
    Sql(SqlSessionStore),
    /// In the `django_session` collection.
    Mongo(MongoSessionStore),
}

impl DbSessions {
    /// The store as the web layer takes it.
    pub fn store(&self) -> Arc<dyn SessionStore> {
        match self {
            DbSessions::Sql(s) => Arc::new(s.clone()),
            DbSessions::Mongo(s) => Arc::new(s.clone()),
        }
    }

    fn as_dyn(&self) -> &dyn SessionStore {
        match self {
            DbSessions::Sql(s) => s,
            DbSessions::Mongo(s) => s,
        }
    }

    pub async fn count_expired(&self) -> Result<u64, StoreError> {
        match self {
            DbSessions::Sql(s) => s.count_expired().await,
            DbSessions::Mongo(s) => s.count_expired().await,
        }
    }

    pub async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, StoreError> {
        match self {
            DbSessions::Sql(s) => s.clear_expired_with_progress(progress).await,
            DbSessions::Mongo(s) => s.clear_expired_with_progress(progress).await,
        }
    }

    pub async fn list(&self, limit: i64) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        match self {
            DbSessions::Sql(s) => s.list(limit).await,
            DbSessions::Mongo(s) => s.list(limit).await,
        }
    }

    pub async fn load(
        &self,
        key: &str,
    ) -> Result<Option<sesame::core::session::SessionData>, StoreError> {
        self.as_dyn().load(key).await
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.as_dyn().exists(key).await
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.as_dyn().delete(key).await
    }
}

/// The stores of a configured site.
#[derive(Clone)]
pub struct Stores {
    pub db: Database,
    pub auth: Arc<dyn AuthStore>,
    pub sessions: DbSessions,
    /// The session and its user in one round trip (the `db` engine).
    pub session_user: Arc<dyn SessionUserStore>,
}

impl Stores {
    /// The MongoDB handle, for Mongo-only commands.
    pub fn mongo(&self) -> Result<(&MongoDb, MongoAuthStore), CliError> {
        match &self.db {
            Database::Mongo(db) => Ok((db, MongoAuthStore::new(db.clone()))),
            Database::Sql(_) => Err(CliError::usage(
                "this command needs a MongoDB database_url (mongodb://host:port/dbname)",
            )),
        }
    }
}

fn codec(settings: &Settings) -> SessionCodec {
    if settings.secret_key.is_empty() {
        // Commands that only read or delete sessions still work without a key; decoding
        // session data then fails to verify, which is reported where it matters.
        SessionCodec::new("")
    } else {
        SessionCodec::from_settings(settings)
    }
}

/// Connect to `database_url`. Commands other than `migrate` need the schema to exist.
pub async fn open(settings: &Settings, need_schema: bool) -> Result<Stores, CliError> {
    let url = &settings.database.url;
    if url.starts_with("mongodb:") || url.starts_with("mongodb+srv:") {
        return open_mongo(settings, need_schema).await;
    }
    let pool = PoolSettings {
        sqlite_inline_reads: settings.database.sqlite_inline_reads,
        sqlite_unchanged_reads: settings.database.sqlite_unchanged_reads,
        ..PoolSettings::default()
    };
    let db = Db::connect(url, pool)
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if need_schema {
        match schema_state(&db)
            .await
            .map_err(|e| CliError::runtime(e.to_string()))?
        {
            SchemaState::Complete => {}
            SchemaState::Empty => {
                return Err(CliError::runtime(format!(
                    "the database at {} has no tables yet: run `sesame migrate` first",
                    redact(url)
                )));
            }
            SchemaState::Partial(missing) => {
                return Err(CliError::runtime(format!(
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
pub async fn sql_stores(db: Db, settings: &Settings) -> Result<Stores, CliError> {
    let auth = SqlAuthStore::new(db.clone())
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
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

async fn open_mongo(settings: &Settings, need_schema: bool) -> Result<Stores, CliError> {
    let timeout = store_timeout(settings);
    let db = MongoConfig::new(&settings.database.url)
        .with_user_id(settings.database.mongodb_user_id)
        .with_timeout(timeout)
        .connect()
        .await
        .map_err(|e| CliError::usage(e.to_string()))?;
    if need_schema {
        let problems = sesame::mongodb::check_indexes(&db)
            .await
            .map_err(|e| CliError::runtime(e.to_string()))?;
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

/// Refuse to run on a MongoDB database that lacks an index the stores rely on (a missing
/// unique index would let duplicates in); a plain `expire_date` index is tolerated.
pub fn refuse_missing_indexes(problems: &[sesame::mongodb::IndexProblem]) -> Result<(), CliError> {
    let fatal: Vec<String> = problems
        .iter()
        .filter(|p| !p.is_tolerable())
        .map(ToString::to_string)
        .collect();
    if fatal.is_empty() {
        return Ok(());
    }
    Err(CliError::runtime(format!(
        "the MongoDB database lacks Sesame's indexes: run `sesame migrate` first\n{}",
        fatal.join("\n")
    )))
}

/// The per-operation timeout of the MongoDB and Redis stores.
pub fn store_timeout(settings: &Settings) -> Duration {
    Duration::from_secs_f64(settings.database.timeout.clamp(0.1, 3600.0))
}

/// The hashing pool from settings.
pub fn hashing(settings: &Settings) -> Result<PasswordHashing, CliError> {
    let hashers = Hashers::from_settings(settings).map_err(|e| CliError::usage(e.to_string()))?;
    Ok(PasswordHashing::new(hashers, settings.auth.hashing_threads)
        .with_nice(settings.auth.hashing_nice)
        .with_idle_priority(settings.auth.hashing_idle))
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
