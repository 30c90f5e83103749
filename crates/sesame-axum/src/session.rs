//! [`SessionHandle`]: `request.session`, as an extractor.

use crate::error::SesameError;
use crate::state::RequestState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sesame_core::session::{Expiry, Session};
use tokio::sync::MutexGuard;

/// The request's session. Nothing touches the store until a method is called.
///
/// ```
/// use sesame_axum::SessionHandle;
/// async fn visits(session: SessionHandle) -> Result<String, sesame_axum::SesameError> {
///     let n = session.get("visits").await?.and_then(|v| v.as_i64()).unwrap_or(0) + 1;
///     session.insert("visits", n.into()).await?;
///     Ok(format!("visit {n}"))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct SessionHandle {
    state: RequestState,
}

impl<S: Send + Sync> FromRequestParts<S> for SessionHandle {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            state: RequestState::from_parts(parts)?,
        })
    }
}

impl SessionHandle {
    /// Lock the session for several operations.
    pub async fn lock(&self) -> MutexGuard<'_, Session> {
        self.state.0.session.lock().await
    }

    /// `session.get(key)`.
    pub async fn get(&self, key: &str) -> Result<Option<Value>, SesameError> {
        Ok(self.state.0.session.lock().await.get(key).await?)
    }

    /// `session[key] = value`.
    pub async fn insert(&self, key: &str, value: Value) -> Result<Option<Value>, SesameError> {
        Ok(self.state.0.session.lock().await.insert(key, value).await?)
    }

    /// `session.get(key)`, read as a `T`. A value of another shape is a 400 (it came from
    /// a client's session, or from another version of the application), never a panic.
    ///
    /// ```
    /// use sesame_axum::{SesameError, SessionHandle};
    /// #[derive(serde::Serialize, serde::Deserialize, Default)]
    /// struct Cart { items: Vec<u32> }
    ///
    /// async fn add(session: SessionHandle) -> Result<String, SesameError> {
    ///     let mut cart: Cart = session.get_as("cart").await?.unwrap_or_default();
    ///     cart.items.push(42);
    ///     session.insert_as("cart", &cart).await?;
    ///     Ok(format!("{} item(s)", cart.items.len()))
    /// }
    /// ```
    pub async fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SesameError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some).map_err(|e| {
                SesameError::BadRequest(format!(
                    "the session's {key:?} is not what was stored: {e}"
                ))
            }),
        }
    }

    /// `session[key] = value` for any `T: Serialize` (stored as JSON, as Django's
    /// `JSONSerializer` does, so a Django site reads it too). A value JSON cannot hold
    /// (a map with non-string keys, say) is a 500: the application's bug, not the client's.
    pub async fn insert_as<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), SesameError> {
        let value = serde_json::to_value(value).map_err(|e| SesameError::Internal(e.into()))?;
        self.insert(key, value).await?;
        Ok(())
    }

    /// `session.pop(key)`.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, SesameError> {
        Ok(self.state.0.session.lock().await.remove(key).await?)
    }

    /// `session.set_expiry(...)`.
    pub async fn set_expiry(&self, expiry: Expiry) -> Result<(), SesameError> {
        Ok(self.state.0.session.lock().await.set_expiry(expiry).await?)
    }

    /// `session.cycle_key()`.
    pub async fn cycle_key(&self) -> Result<(), SesameError> {
        Ok(self.state.0.session.lock().await.cycle_key().await?)
    }

    /// `session.flush()`.
    pub async fn flush(&self) -> Result<(), SesameError> {
        Ok(self.state.0.session.lock().await.flush().await?)
    }
}
