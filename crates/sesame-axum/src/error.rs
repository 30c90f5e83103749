//! Errors of the web layer, and the status each one answers with.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sesame_core::auth::{AuthError, AuthStoreError};
use sesame_core::session::StoreError;

/// What can go wrong around a request. 4xx for the client's mistakes, 503 only when a store
/// is down, 500 for a bug or a misconfiguration (a hashing worker that died, a template that
/// does not render): a 503 tells clients and load balancers to retry, which would not help.
/// 5xx bodies say nothing more than "try again" or "server error"; the detail goes to the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SesameError {
    /// The session record vanished mid-request (Django's `SessionInterrupted`).
    #[error(
        "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example."
    )]
    SessionInterrupted,
    /// The session is over the store's size limit.
    #[error("the session is too large")]
    SessionTooLarge,
    /// A store is unavailable or failed.
    #[error("a store failed: {0}")]
    Store(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// `SesameLayer` is not installed around this route.
    #[error("SesameLayer is missing around this route")]
    MissingLayer,
    /// The application is configured inconsistently (e.g. a login names a backend that is
    /// not configured): a server error, never reported as a store outage.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// Something that is not the client's fault nor a store's failed (a password-hashing
    /// worker, a template): 500.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for SesameError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RecordMissing => SesameError::SessionInterrupted,
            StoreError::TooLarge { .. } => SesameError::SessionTooLarge,
            other => SesameError::Store(other.to_string()),
        }
    }
}

impl From<sesame_core::auth::throttle::ThrottleError> for SesameError {
    fn from(e: sesame_core::auth::throttle::ThrottleError) -> Self {
        SesameError::Store(e.to_string())
    }
}

impl From<sesame_core::auth::hashers::HashError> for SesameError {
    fn from(e: sesame_core::auth::hashers::HashError) -> Self {
        use sesame_core::auth::hashers::HashError;
        match e {
            // The client's password cannot be hashed by the configured hasher: say so.
            HashError::PasswordTooLong(_) => SesameError::BadRequest(e.to_string()),
            HashError::Worker(_) => SesameError::Internal(e.to_string()),
            _ => SesameError::Misconfigured(e.to_string()),
        }
    }
}

impl From<AuthStoreError> for SesameError {
    fn from(e: AuthStoreError) -> Self {
        SesameError::Store(e.to_string())
    }
}

impl From<AuthError> for SesameError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Session(s) => s.into(),
            AuthError::UnknownBackend(_) => SesameError::Misconfigured(e.to_string()),
            other => SesameError::Store(other.to_string()),
        }
    }
}

impl IntoResponse for SesameError {
    fn into_response(self) -> Response {
        let status = match &self {
            SesameError::SessionInterrupted | SesameError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SesameError::SessionTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            SesameError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            SesameError::MissingLayer
            | SesameError::Misconfigured(_)
            | SesameError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = match &self {
            SesameError::Store(detail) => {
                tracing::error!(target: "sesame", error = %detail, "store failure");
                "The service is temporarily unavailable. Please try again.".to_owned()
            }
            SesameError::MissingLayer => {
                tracing::error!(target: "sesame", "SesameLayer is missing around this route");
                "Server error.".to_owned()
            }
            SesameError::Misconfigured(detail) => {
                tracing::error!(target: "sesame", error = %detail, "misconfiguration");
                "Server error.".to_owned()
            }
            SesameError::Internal(detail) => {
                tracing::error!(target: "sesame", error = %detail, "internal error");
                "Server error.".to_owned()
            }
            other => other.to_string(),
        };
        (status, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_core::auth::hashers::HashError;

    /// A 503 asks clients to retry; only a store outage deserves one.
    #[test]
    fn only_a_store_outage_answers_503() {
        let status = |e: SesameError| e.into_response().status();
        assert_eq!(
            status(SesameError::Store("down".into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(HashError::Worker("gone".into()).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(HashError::UnknownAlgorithm("x".into()).into()),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(HashError::PasswordTooLong(80).into()),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(SesameError::Internal("template".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
