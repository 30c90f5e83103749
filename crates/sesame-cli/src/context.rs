//! The stores the configuration names ([`sesame::setup`]), with its errors turned into the
//! command's exit codes: 2 for a setting at fault, 1 for a store.

use crate::CliError;
use sesame::core::auth::hashers::PasswordHashing;
use sesame::core::settings::Settings;
use sesame::setup::SetupError;

pub(crate) use sesame::setup::{Database, Stores, redact};

impl From<SetupError> for CliError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Settings(_) => CliError::usage(e.to_string()),
            _ => CliError::runtime(e.to_string()),
        }
    }
}

/// Connect to `database_url`. Commands other than `migrate` need the schema to exist.
pub(crate) async fn open(settings: &Settings, need_schema: bool) -> Result<Stores, CliError> {
    Ok(sesame::setup::open(settings, need_schema).await?)
}

/// The hashing pool from settings.
pub(crate) fn hashing(settings: &Settings) -> Result<PasswordHashing, CliError> {
    Ok(sesame::setup::hashing(settings)?)
}
