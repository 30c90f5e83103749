//! `clearsessions` and `session list|show|delete|decode`.

use crate::CliError;
use crate::context::Stores;
use indicatif::{ProgressBar, ProgressStyle};
use sesame::core::session::SessionCodec;
use sesame::core::settings::Settings;

fn db_err(e: impl std::fmt::Display) -> CliError {
    CliError::runtime(e.to_string())
}

/// `clearsessions`: batched deletes with a progress bar on stderr.
pub(crate) async fn clearsessions(stores: &Stores) -> Result<(), CliError> {
    let total = stores.sessions.count_expired().await.map_err(db_err)?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} clearing expired sessions {bar:40} {pos}/{len} ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let deleted = stores
        .sessions
        .clear_expired_with_progress(&|n| bar.set_position(n))
        .await
        .map_err(db_err)?;
    bar.finish_and_clear();
    println!("Deleted {deleted} expired session(s).");
    Ok(())
}

/// `session list|show|delete|decode`.
pub(crate) async fn session(
    stores: Option<&Stores>,
    settings: &Settings,
    cmd: crate::SessionCommand,
) -> Result<(), CliError> {
    use crate::SessionCommand as C;
    let stores = || stores.ok_or_else(|| CliError::runtime("no database"));
    match cmd {
        C::Decode { data } => decode(&data, settings),
        C::List { limit } => {
            for (key, expires) in stores()?.sessions.list(limit).await.map_err(db_err)? {
                println!("{key}  expires {}", expires.format("%Y-%m-%d %H:%M:%S UTC"));
            }
            Ok(())
        }
        C::Show { key } => {
            require_key(settings)?;
            match stores()?.sessions.load(&key).await.map_err(db_err)? {
                Some(data) => {
                    println!("{}", serde_json::to_string_pretty(&data).map_err(db_err)?);
                    Ok(())
                }
                None => Err(CliError::runtime(format!(
                    "no live session with the key {key}"
                ))),
            }
        }
        C::Delete { key } => {
            let s = &stores()?.sessions;
            if !s.exists(&key).await.map_err(db_err)? {
                return Err(CliError::runtime(format!("no session with the key {key}")));
            }
            s.delete(&key).await.map_err(db_err)?;
            println!("Deleted session {key}.");
            Ok(())
        }
    }
}

fn require_key(settings: &Settings) -> Result<(), CliError> {
    if settings.secret_key.is_empty() {
        return Err(CliError::usage(
            "SESAME_SECRET_KEY is not set (nor secret_key in the configuration)",
        ));
    }
    Ok(())
}

fn decode(data: &str, settings: &Settings) -> Result<(), CliError> {
    require_key(settings)?;
    match SessionCodec::from_settings(settings).try_decode(data.trim()) {
        Ok(map) => {
            println!("{}", serde_json::to_string_pretty(&map).map_err(db_err)?);
            Ok(())
        }
        Err(e) if e.is_bad_signature() => Err(CliError::runtime(format!(
            "the session data does not verify ({e}): wrong SECRET_KEY or SECRET_KEY_FALLBACKS, \
             another key salt, or tampered data"
        ))),
        Err(e) => Err(CliError::runtime(e.to_string())),
    }
}
