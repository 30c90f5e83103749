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
    /// The session record vanished mid-request (Django's `SessionInterrupted`): 400.
    #[error(
        "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example."
    )]
    SessionInterrupted,
    /// The session is over the store's size limit: 413.
    #[error("the session is too large")]
    SessionTooLarge,
    /// A store (sessions, users, throttle counters) is unavailable or failed: 503. The
    /// store's own error is the source.
    #[error("a store failed: {0}")]
    Store(#[source] BoxError),
    /// The request is malformed: 400, with this text as the body.
    #[error("{0}")]
    BadRequest(String),
    /// No Sesame layer (or not the one this extractor needs: the CSRF layer for a token,
    /// the messages layer for messages) runs around this route: 500.
    #[error(
        "a Sesame layer is missing around this route (session_layer, csrf_layer or messages_layer)"
    )]
    MissingLayer,
    /// The application is configured inconsistently (e.g. a login names a backend that is
    /// not configured, a hasher that is not compiled in): 500, never reported as a store
    /// outage.
    #[error("misconfigured: {0}")]
    Misconfigured(#[source] BoxError),
    /// Something that is neither the client's fault nor a store's failed (a password-hashing
    /// worker, a template): 500.
    #[error("internal error: {0}")]
    Internal(#[source] BoxError),
}

/// The boxed cause kept by [`SesameError`]'s server-side variants.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl From<StoreError> for SesameError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RecordMissing => SesameError::SessionInterrupted,
            StoreError::TooLarge { .. } => SesameError::SessionTooLarge,
            other => SesameError::Store(other.into()),
        }
    }
}

impl From<sesame_core::auth::throttle::ThrottleError> for SesameError {
    fn from(e: sesame_core::auth::throttle::ThrottleError) -> Self {
        SesameError::Store(e.into())
    }
}

impl From<sesame_core::auth::hashers::HashError> for SesameError {
    fn from(e: sesame_core::auth::hashers::HashError) -> Self {
        use sesame_core::auth::hashers::HashError;
        match e {
            // The client's password cannot be hashed by the configured hasher: say so.
            HashError::PasswordTooLong(_) => SesameError::BadRequest(e.to_string()),
            HashError::Worker(_) => SesameError::Internal(e.into()),
            _ => SesameError::Misconfigured(e.into()),
        }
    }
}

impl From<AuthStoreError> for SesameError {
    fn from(e: AuthStoreError) -> Self {
        SesameError::Store(e.into())
    }
}

impl From<AuthError> for SesameError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Session(s) => s.into(),
            AuthError::UnknownBackend(_) => SesameError::Misconfigured(e.into()),
            other => SesameError::Store(other.into()),
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
                tracing::error!(target: "sesame", error = %detail, source = ?detail.source(), "store failure");
                "The service is temporarily unavailable. Please try again.".to_owned()
            }
            SesameError::MissingLayer => {
                tracing::error!(target: "sesame", "{self}");
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
    use std::error::Error as _;

    /// The store's error stays reachable as the source, for logs and callers.
    #[test]
    fn a_store_failure_keeps_its_source() {
        let e = SesameError::from(StoreError::Unavailable("connection refused".into()));
        let source = e.source().map(ToString::to_string).unwrap_or_default();
        assert!(source.contains("connection refused"), "{source}");
    }

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
