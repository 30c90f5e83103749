//! What the MongoDB stores report, and how driver errors map onto the store traits' errors.

use mongodb::error::{ErrorKind, WriteFailure};
use sesame_core::auth::store::AuthStoreError;
use sesame_core::session::StoreError;
use std::time::Duration;

/// MongoDB's duplicate-key error code (E11000).
pub const DUPLICATE_KEY: i32 = 11000;

/// A failure of the MongoDB stores.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// The URL names no database (`mongodb://host:port/dbname`). Sesame never falls back to a
    /// default database, which would scatter users over `test` or `admin`.
    #[error(
        "the MongoDB URL names no database: add one as its path, as in mongodb://127.0.0.1:27017/mysite"
    )]
    NoDatabase,
    /// The URL or its options do not parse.
    #[error("invalid MongoDB URL: {0}")]
    InvalidUrl(#[source] mongodb::error::Error),
    /// The server did not answer within the configured timeout.
    #[error("MongoDB did not answer within {0:?}")]
    Timeout(Duration),
    /// The server is unreachable (no server selected, connection refused or reset).
    #[error("MongoDB is unreachable: {0}")]
    Unreachable(#[source] mongodb::error::Error),
    /// Any other error the driver or the server reported.
    #[error("MongoDB failed: {0}")]
    Driver(#[source] mongodb::error::Error),
    /// A stored document does not have the shape of Django's model.
    #[error("malformed document in {collection}: {reason}")]
    Malformed {
        /// The collection.
        collection: String,
        /// What is wrong.
        reason: String,
    },
}

impl MongoError {
    /// Whether retrying later may succeed (outage, timeout).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, MongoError::Timeout(_) | MongoError::Unreachable(_))
    }

    /// Whether this is a duplicate-key error (E11000), whatever the operation.
    pub fn is_duplicate_key(&self) -> bool {
        match self {
            MongoError::Driver(e) => is_duplicate_key(e),
            _ => false,
        }
    }
}

impl From<mongodb::error::Error> for MongoError {
    fn from(e: mongodb::error::Error) -> Self {
        match e.kind.as_ref() {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. } => MongoError::Unreachable(e),
            _ => MongoError::Driver(e),
        }
    }
}

/// Whether a driver error is E11000 (from an insert, an update or a command).
pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => false,
    }
}

impl From<MongoError> for StoreError {
    fn from(e: MongoError) -> Self {
        if e.is_unavailable() {
            StoreError::Unavailable(Box::new(e))
        } else {
            StoreError::Backend(Box::new(e))
        }
    }
}

impl From<MongoError> for AuthStoreError {
    fn from(e: MongoError) -> Self {
        if e.is_unavailable() {
            AuthStoreError::Unavailable(Box::new(e))
        } else {
            AuthStoreError::Backend(Box::new(e))
        }
    }
}

/// An auth-store failure reported through the session-store error type (the session-and-user
/// load serves the session layer).
pub(crate) fn auth_to_store(e: AuthStoreError) -> StoreError {
    match e {
        AuthStoreError::Unavailable(e) => StoreError::Unavailable(e),
        other => StoreError::Backend(Box::new(other)),
    }
}
