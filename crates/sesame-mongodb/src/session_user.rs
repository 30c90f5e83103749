//! A session and its logged-in user in one round trip: one aggregation on `django_session`
//! with a `$lookup` into `auth_user` through [`crate::sessions::USER_ID_FIELD`].

use crate::auth::{MongoAuthStore, user_from_doc};
use crate::error::auth_to_store;
use crate::sessions::{MongoSessionStore, USER_ID_FIELD, bson_time, decode_doc};
use async_trait::async_trait;
use chrono::Utc;
use futures_util::TryStreamExt;
use mongodb::bson::{Document, doc};
use sesame_core::auth::store::UserStore;
use sesame_core::auth::{Id, User};
use sesame_core::session::{SessionData, SessionStore, SessionUserStore, StoreError};

/// The `db` session engine and the auth collections together, for the web layer's
/// session-and-user load.
#[derive(Debug, Clone)]
pub struct MongoSessionWithUser {
    /// The sessions.
    pub sessions: MongoSessionStore,
    /// The users.
    pub auth: MongoAuthStore,
}

impl MongoSessionWithUser {
    /// The pair, over the same database.
    pub fn new(sessions: MongoSessionStore, auth: MongoAuthStore) -> Self {
        Self { sessions, auth }
    }

    /// The session and the user its `_auth_user_id` names: one aggregation when Sesame wrote
    /// the session, a second query when Django did (its documents lack the user field) or when
    /// the field is stale. The user is returned as stored; the caller applies Django's rules.
    pub async fn load(&self, key: &str) -> Result<Option<(SessionData, Option<User>)>, StoreError> {
        if !self.sessions.is_valid_key(key) {
            return Ok(None);
        }
        let db = self.sessions.db();
        let c = db.collections();
        let pipeline = vec![
            doc! {"$match": {"session_key": key, "expire_date": {"$gt": bson_time(Utc::now())}}},
            doc! {"$limit": 1},
            doc! {"$lookup": {"from": &c.user, "localField": USER_ID_FIELD, "foreignField": "_id", "as": "user"}},
            doc! {"$project": {"_id": 0, "session_data": 1, "user": 1}},
        ];
        let coll = db.coll(&c.session);
        let docs: Vec<Document> = db
            .run(async { coll.aggregate(pipeline).await?.try_collect().await })
            .await?;
        let Some(found) = docs.first() else {
            return Ok(None);
        };
        let data = decode_doc(self.sessions.codec(), found);
        let claimed = data
            .get(sesame_core::auth::SESSION_KEY)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let joined = found
            .get_array("user")
            .ok()
            .and_then(|users| users.first())
            .and_then(|u| u.as_document())
            .map(|u| user_from_doc(u, &c.user))
            .transpose()
            .map_err(auth_to_store)?;
        let user = match (claimed, joined) {
            (None, _) => None,
            (Some(id), Some(u)) if u.id.to_string() == id => Some(u),
            (Some(id), _) => match Id::parse(&id, self.auth.user_id_kind()) {
                Ok(id) => self.auth.get_user(&id).await.map_err(auth_to_store)?,
                Err(_) => None,
            },
        };
        Ok(Some((data, user)))
    }
}

#[async_trait]
impl SessionUserStore for MongoSessionWithUser {
    async fn load_session_with_user(
        &self,
        key: &str,
    ) -> Result<Option<(SessionData, Option<User>)>, StoreError> {
        self.load(key).await
    }
}
