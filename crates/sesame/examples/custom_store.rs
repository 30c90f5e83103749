//! Sessions in a store of your own: a `SessionStore` over a `Mutex<HashMap>` (swap the map
//! for your database's client), behind the same layer, extractors and Django formats.
//!
//! `cargo run -p sesame --example custom_store`, then `curl -c j -b j localhost:8000/` twice.
use async_trait::async_trait;
use axum::{Router, routing::get};
use chrono::{DateTime, Utc};
use sesame::core::session::{SessionCodec, SessionData, SessionRecord, SessionStore, StoreError};
use sesame::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Encoded records (Django's signed format, readable by a Django site with the same key)
/// and their expiry dates.
struct MapStore {
    codec: SessionCodec,
    records: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
}

impl MapStore {
    fn records(&self) -> MutexGuard<'_, HashMap<String, (String, DateTime<Utc>)>> {
        // Every write is one insert or remove: a poisoned map is still consistent.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionStore for MapStore {
    fn name(&self) -> &'static str {
        "map"
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        Ok(self
            .records()
            .get(key)
            .filter(|(_, expires)| *expires > Utc::now())
            .map(|(encoded, expires)| (self.codec.decode(encoded), Some(*expires))))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let encoded = self.codec.encode(record.data);
        let mut records = self.records();
        if records.contains_key(key) {
            return Err(StoreError::KeyExists);
        }
        records.insert(key.to_owned(), (encoded, record.expire_date));
        Ok(key.to_owned())
    }

    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
        let encoded = self.codec.encode(record.data);
        Ok(match self.records().get_mut(key) {
            Some(stored) => {
                *stored = (encoded, record.expire_date);
                true
            }
            None => false,
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.records().remove(key);
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.records().contains_key(key))
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        let mut records = self.records();
        let before = records.len();
        records.retain(|_, (_, expires)| *expires > Utc::now());
        Ok((before - records.len()) as u64)
    }
}

async fn visits(session: SessionHandle) -> Result<String, SesameError> {
    let n: u64 = session.get_as("visits").await?.unwrap_or(0) + 1;
    session.insert_as("visits", &n).await?;
    Ok(format!("visit {n}\n"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = Settings::load("sesame.toml".as_ref())?;
    if settings.secret_key.is_empty() {
        settings.secret_key = "an example key: set SESAME_SECRET_KEY".into();
    }
    let store = Arc::new(MapStore {
        codec: SessionCodec::from_settings(&settings),
        records: Mutex::default(),
    });
    let app = Router::new()
        .route("/", get(visits))
        .layer(Sesame::new(settings, store).layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    Ok(axum::serve(listener, app).await?)
}
