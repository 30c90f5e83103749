//! Sessions in the `django_session` collection, as django-mongodb-backend writes them:
//! `{_id: ObjectId, session_key, session_data, expire_date}` with a unique `session_key`.

use crate::config::MongoDb;
use crate::ids;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, DateTime as BsonDateTime, Document, doc};
use sesame_core::auth::Id;
use sesame_core::session::{SessionCodec, SessionData, SessionRecord, SessionStore, StoreError};

/// Documents deleted per round trip by `clear_expired`, so that clearing millions of sessions
/// shows progress and never holds the server in one long operation.
pub const CLEAR_BATCH: i64 = 1000;

/// Sesame's extra session field: the logged-in user's id, typed as the user's `_id`, so that
/// an authenticated request can fetch the session and the user in one aggregation
/// (`$lookup`). Django ignores fields it does not know, and Sesame checks it against
/// `_auth_user_id` before trusting it (a Django write leaves it stale).
pub const USER_ID_FIELD: &str = "sesame_user_id";

/// A BSON date (UTC milliseconds; BSON has no finer precision).
pub(crate) fn bson_time(t: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(t.timestamp_millis())
}

/// A BSON date as chrono (dates beyond chrono's range are clamped).
pub(crate) fn chrono_time(t: &BsonDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(if t.timestamp_millis() < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// The `db` session engine on MongoDB.
#[derive(Debug, Clone)]
pub struct MongoSessionStore {
    db: MongoDb,
    codec: SessionCodec,
    max_size: usize,
}

impl MongoSessionStore {
    /// A store over a connection, encoding with `codec`.
    pub fn new(db: MongoDb, codec: SessionCodec) -> Self {
        Self {
            db,
            codec,
            max_size: 0,
        }
    }

    /// Refuse encoded sessions over `max_size` bytes (`0` = no limit).
    pub fn with_max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// The connection.
    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    /// The codec.
    pub fn codec(&self) -> &SessionCodec {
        &self.codec
    }

    fn coll(&self) -> mongodb::Collection<Document> {
        self.db.coll(&self.db.collections().session)
    }

    /// The typed user id of a session dict, when it names one of this store's kind.
    fn user_id_of(&self, data: &SessionData) -> Option<Bson> {
        let text = data.get(sesame_core::auth::SESSION_KEY)?.as_str()?;
        let id = Id::parse(text, self.db.config().user_id).ok()?;
        ids::to_bson(&id, self.db.config().user_id).ok()
    }

    fn fields(&self, record: &SessionRecord<'_>) -> Result<Document, StoreError> {
        let encoded = self.codec.encode_checked(record.data, self.max_size)?;
        let mut fields = doc! {
            "session_data": encoded,
            "expire_date": bson_time(record.expire_date),
        };
        if let Some(user) = self.user_id_of(record.data) {
            fields.insert(USER_ID_FIELD, user);
        }
        Ok(fields)
    }

    /// How many sessions have expired (for a progress bar).
    pub async fn count_expired(&self) -> Result<u64, StoreError> {
        let now = bson_time(Utc::now());
        Ok(self
            .db
            .run(
                self.coll()
                    .count_documents(doc! {"expire_date": {"$lt": now}}),
            )
            .await?)
    }

    /// `clearsessions`: delete expired sessions [`CLEAR_BATCH`] at a time, calling `progress`
    /// with the running total after each batch. The TTL index does the same lazily.
    pub async fn clear_expired_with_progress(
        &self,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, StoreError> {
        let now = bson_time(Utc::now());
        let coll = self.coll();
        let mut total = 0u64;
        loop {
            let batch: Vec<Document> = self
                .db
                .run(async {
                    coll.find(doc! {"expire_date": {"$lt": now}})
                        .projection(doc! {"_id": 1})
                        .limit(CLEAR_BATCH)
                        .await?
                        .try_collect()
                        .await
                })
                .await?;
            let ids: Vec<Bson> = batch
                .into_iter()
                .filter_map(|d| d.get("_id").cloned())
                .collect();
            if ids.is_empty() {
                break;
            }
            let n = ids.len();
            let deleted = self
                .db
                .run(coll.delete_many(doc! {"_id": {"$in": ids}, "expire_date": {"$lt": now}}))
                .await?
                .deleted_count;
            total += deleted;
            progress(total);
            if (n as i64) < CLEAR_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(total)
    }

    /// Live session keys with their expiry, newest first (`sesame session list`).
    pub async fn list(&self, limit: i64) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let now = Utc::now();
        let coll = self.coll();
        let docs: Vec<Document> = self
            .db
            .run(async {
                coll.find(doc! {"expire_date": {"$gt": bson_time(now)}})
                    .sort(doc! {"expire_date": -1})
                    .limit(limit)
                    .await?
                    .try_collect()
                    .await
            })
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                let key = d.get_str("session_key").ok()?.to_owned();
                let expiry = chrono_time(d.get_datetime("expire_date").ok()?);
                Some((key, expiry))
            })
            .collect())
    }
}

/// Decode a stored session document's `session_data` (missing or non-string: empty, as a
/// corrupt session is in Django).
pub(crate) fn decode_doc(codec: &SessionCodec, d: &Document) -> SessionData {
    match d.get_str("session_data") {
        Ok(s) => codec.decode(s),
        Err(_) => {
            tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
            SessionData::new()
        }
    }
}

#[async_trait]
impl SessionStore for MongoSessionStore {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    async fn load_with_expiry(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<DateTime<Utc>>)>, StoreError> {
        // Filter on expiry even with the TTL index: its monitor runs only once a minute.
        let filter = doc! {"session_key": key, "expire_date": {"$gt": bson_time(Utc::now())}};
        let found = self
            .db
            .run(
                self.coll()
                    .find_one(filter)
                    .projection(doc! {"session_data": 1, "expire_date": 1}),
            )
            .await?;
        Ok(found.map(|d| {
            let expires = d.get_datetime("expire_date").ok().map(chrono_time);
            (decode_doc(&self.codec, &d), expires)
        }))
    }

    async fn create(&self, key: &str, record: SessionRecord<'_>) -> Result<String, StoreError> {
        let mut document = doc! {"session_key": key};
        document.extend(self.fields(&record)?);
        // An insert, never an upsert: the unique index turns a collision into E11000, where
        // mango's upsert silently replaced another user's session.
        match self.db.run(self.coll().insert_one(document)).await {
            Ok(_) => Ok(key.to_owned()),
            Err(e) if e.is_duplicate_key() => Err(StoreError::KeyExists),
            Err(e) => Err(e.into()),
        }
    }

    async fn update(&self, key: &str, record: SessionRecord<'_>) -> Result<bool, StoreError> {
        let fields = self.fields(&record)?;
        let mut update = doc! {"$set": fields.clone()};
        if !fields.contains_key(USER_ID_FIELD) {
            update.insert("$unset", doc! {USER_ID_FIELD: ""});
        }
        let result = self
            .db
            .run(self.coll().update_one(doc! {"session_key": key}, update))
            .await?;
        Ok(result.matched_count > 0)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.db
            .run(self.coll().delete_one(doc! {"session_key": key}))
            .await?;
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let found = self
            .db
            .run(
                self.coll()
                    .find_one(doc! {"session_key": key})
                    .projection(doc! {"_id": 1}),
            )
            .await?;
        Ok(found.is_some())
    }

    async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.clear_expired_with_progress(&|_| {}).await
    }
}
