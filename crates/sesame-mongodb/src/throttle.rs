//! Login-throttle counters in Sesame's `sesame_login_throttle` collection: one document per
//! hashed key, counted with `findAndModify` (`$inc` with upsert), so every instance over one
//! database enforces one limit. A TTL index on `expires_at` (made by `migrate`) lets the
//! server drop counters whose window has passed; reads never rely on it.

use crate::config::MongoDb;
use crate::error::MongoError;
use crate::sessions::{bson_time, chrono_time};
use async_trait::async_trait;
use mongodb::IndexModel;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::{IndexOptions, ReturnDocument};
use sesame_core::auth::throttle::{Count, ThrottleError, ThrottleKey, ThrottleStore};
use std::time::Duration;

/// The collection of the counters.
pub const THROTTLE_COLLECTION: &str = "sesame_login_throttle";

/// The name of the TTL index on `expires_at`.
pub const THROTTLE_TTL_INDEX: &str = "sesame_login_throttle_expires_at";

/// Throttle counters in MongoDB.
#[derive(Debug, Clone)]
pub struct MongoThrottleStore {
    db: MongoDb,
}

impl MongoThrottleStore {
    /// Counters in `db`'s `sesame_login_throttle` collection.
    pub fn new(db: MongoDb) -> Self {
        Self { db }
    }
}

fn err(e: MongoError) -> ThrottleError {
    if e.is_unavailable() {
        ThrottleError::Unavailable(Box::new(e))
    } else {
        ThrottleError::Backend(Box::new(e))
    }
}

fn attempts(d: &Document) -> u64 {
    match d.get("attempts") {
        Some(Bson::Int64(i)) => u64::try_from(*i).unwrap_or(0),
        Some(Bson::Int32(i)) => u64::try_from(*i).unwrap_or(0),
        Some(Bson::Double(f)) if *f >= 0.0 => *f as u64,
        _ => 0,
    }
}

/// Create the TTL index on `expires_at` when it is missing (called by `migrate`). Returns
/// whether it was created.
pub(crate) async fn ensure_ttl_index(db: &MongoDb) -> Result<bool, MongoError> {
    let existing = crate::indexes::list_indexes(db, THROTTLE_COLLECTION).await?;
    if existing.iter().any(|i| i.name == THROTTLE_TTL_INDEX) {
        return Ok(false);
    }
    let mut options = IndexOptions::builder()
        .name(THROTTLE_TTL_INDEX.to_owned())
        .build();
    options.expire_after = Some(Duration::ZERO);
    let model = IndexModel::builder()
        .keys(doc! {"expires_at": 1})
        .options(options)
        .build();
    db.run(db.coll(THROTTLE_COLLECTION).create_index(model))
        .await?;
    Ok(true)
}

#[async_trait]
impl ThrottleStore for MongoThrottleStore {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    async fn increment(&self, key: &ThrottleKey, window: Duration) -> Result<Count, ThrottleError> {
        let coll = self.db.coll(THROTTLE_COLLECTION);
        let now = chrono::Utc::now();
        let expires =
            now + chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::days(365));
        // A counter whose window has passed goes first (this matches only an expired
        // document, and every increment pushes the expiry on, so it never removes a live
        // count); the `$inc` upsert then starts it at 1.
        self.db
            .run(
                coll.delete_one(doc! {"_id": key.as_str(), "expires_at": {"$lte": bson_time(now)}}),
            )
            .await
            .map_err(err)?;
        let update = doc! {"$inc": {"attempts": 1i64}, "$set": {"expires_at": bson_time(expires)}};
        let mut tries = 0;
        let d = loop {
            let result = self
                .db
                .run(
                    coll.find_one_and_update(doc! {"_id": key.as_str()}, update.clone())
                        .upsert(true)
                        .return_document(ReturnDocument::After),
                )
                .await;
            match result {
                // Two upserts of a new key can race on `_id`; the loser's retry increments
                // the winner's document.
                Err(e) if e.is_duplicate_key() && tries == 0 => tries += 1,
                other => break other.map_err(err)?,
            }
        };
        let d = d.ok_or_else(|| {
            err(MongoError::Malformed {
                collection: THROTTLE_COLLECTION.into(),
                reason: "the counter upsert returned nothing".into(),
            })
        })?;
        Ok(Count {
            count: attempts(&d),
            expires_in: window,
        })
    }

    async fn get(&self, key: &ThrottleKey) -> Result<Option<Count>, ThrottleError> {
        let now = chrono::Utc::now();
        let coll = self.db.coll(THROTTLE_COLLECTION);
        let d = self
            .db
            .run(coll.find_one(doc! {"_id": key.as_str(), "expires_at": {"$gt": bson_time(now)}}))
            .await
            .map_err(err)?;
        Ok(d.map(|d| {
            let left = d
                .get_datetime("expires_at")
                .map(|t| (chrono_time(t) - now).to_std().unwrap_or_default())
                .unwrap_or_default();
            Count {
                count: attempts(&d),
                expires_in: left,
            }
        }))
    }

    async fn reset(&self, key: &ThrottleKey) -> Result<(), ThrottleError> {
        let coll = self.db.coll(THROTTLE_COLLECTION);
        self.db
            .run(coll.delete_one(doc! {"_id": key.as_str()}))
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn clear_expired(&self) -> Result<u64, ThrottleError> {
        let coll = self.db.coll(THROTTLE_COLLECTION);
        let r = self
            .db
            .run(coll.delete_many(doc! {"expires_at": {"$lte": bson_time(chrono::Utc::now())}}))
            .await
            .map_err(err)?;
        Ok(r.deleted_count)
    }
}
