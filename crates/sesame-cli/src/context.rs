//! Opening the stores that the configuration names.

use crate::CliError;
use sesame::core::auth::hashers::{Hashers, PasswordHashing};
use sesame::core::session::SessionCodec;
use sesame::core::settings::Settings;
use sesame::sql::{Db, PoolSettings, SchemaState, SqlAuthStore, SqlSessionStore, schema_state};

/// The stores of a configured site.
pub struct Stores {
    pub db: Db,
    pub auth: SqlAuthStore,
    pub sessions: SqlSessionStore,
}

/// Connect to `database_url`. Commands other than `migrate` need the schema to exist.
pub async fn open(settings: &Settings, need_schema: bool) -> Result<Stores, CliError> {
    let url = &settings.database_url;
    if url.starts_with("mongodb:") {
        return Err(CliError::runtime(
            "MongoDB stores are not built yet (see the MongoDB issue)",
        ));
    }
    let db = Db::connect(url, PoolSettings::default())
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
    let auth = SqlAuthStore::new(db.clone())
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let codec = if settings.secret_key.is_empty() {
        // Commands that only read or delete sessions still work without a key; decoding
        // session data then fails to verify, which is reported where it matters.
        SessionCodec::new("")
    } else {
        SessionCodec::from_settings(settings)
    };
    let sessions = SqlSessionStore::new(db.clone(), codec).with_max_size(settings.session_max_size);
    Ok(Stores { db, auth, sessions })
}

/// The hashing pool from settings.
pub fn hashing(settings: &Settings) -> Result<PasswordHashing, CliError> {
    let hashers = Hashers::from_settings(settings).map_err(|e| CliError::usage(e.to_string()))?;
    Ok(PasswordHashing::new(
        hashers,
        settings.password_hashing_threads,
    ))
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
