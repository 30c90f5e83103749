//! Users, groups and permissions in the collections django-mongodb-backend uses: `auth_user`,
//! `auth_group`, `auth_permission`, `django_content_type` and the three link collections.
//!
//! Every filter is a document built here from typed values (`&str`, ids turned into BSON by
//! [`crate::ids`]), never from request data: a username such as `{"$ne": ""}` or `$where` is a
//! string compared for equality, and field names are constants.

use crate::config::MongoDb;
use crate::error::MongoError;
use crate::ids::{self, from_bson, oid_of};
use crate::sessions::{bson_time, chrono_time};
use async_trait::async_trait;
use chrono::Utc;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc, oid};
use mongodb::options::ReturnDocument;
use sesame_core::auth::store::{
    AuthStoreError, GroupStore, PermissionStore, UserStore, permission_strings,
};
use sesame_core::auth::{ContentType, Group, Id, IdKind, NewUser, Permission, User, UserField};
use std::collections::BTreeSet;

/// Where Sesame keeps `User::extra` (profile fields beyond Django's) inside the user document.
/// A sub-document keeps them clear of Django's field names; Django ignores it.
pub const EXTRA_FIELD: &str = "sesame_extra";

/// How many fresh counter values `create_user` tries when an integer id is already taken
/// (by a user created with an explicit id).
const COUNTER_ATTEMPTS: usize = 64;

fn malformed(collection: &str, reason: impl Into<String>) -> AuthStoreError {
    MongoError::Malformed {
        collection: collection.to_owned(),
        reason: reason.into(),
    }
    .into()
}

fn text(d: &Document, key: &str) -> String {
    d.get_str(key).map(str::to_owned).unwrap_or_default()
}

fn flag(d: &Document, key: &str, default: bool) -> bool {
    match d.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        _ => default,
    }
}

fn time(d: &Document, key: &str) -> Option<chrono::DateTime<Utc>> {
    d.get_datetime(key).ok().map(chrono_time)
}

/// Profile fields as BSON. Keys that MongoDB would read as operators or paths are refused,
/// at every depth. Written by hand rather than with bson's `TryFrom<serde_json::Value>`,
/// which reads extended JSON (`{"$oid": ...}`) and would turn data into typed values.
fn extra_to_bson(
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<Document, AuthStoreError> {
    fn key_ok(key: &str) -> Result<(), AuthStoreError> {
        if key.starts_with('$') || key.contains('.') || key.contains('\0') || key.is_empty() {
            return Err(AuthStoreError::Invalid(format!(
                "profile field name {key:?}: names may not be empty, start with '$' or contain '.' or NUL"
            )));
        }
        Ok(())
    }
    fn value(v: &serde_json::Value, depth: usize) -> Result<Bson, AuthStoreError> {
        if depth > 64 {
            return Err(AuthStoreError::Invalid(
                "profile fields nest too deeply".into(),
            ));
        }
        Ok(match v {
            serde_json::Value::Null => Bson::Null,
            serde_json::Value::Bool(b) => Bson::Boolean(*b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.is_f64()) {
                (Some(i), _) => Bson::Int64(i),
                (None, true) => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
                // BSON has no integer beyond 64 bits; a double would silently round it.
                (None, false) => {
                    return Err(AuthStoreError::Invalid(format!(
                        "the profile number {n} cannot be stored in BSON (a 64-bit integer or a finite double)"
                    )));
                }
            },
            serde_json::Value::String(s) => Bson::String(s.clone()),
            serde_json::Value::Array(a) => Bson::Array(
                a.iter()
                    .map(|x| value(x, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(m) => Bson::Document(object(m, depth + 1)?),
        })
    }
    fn object(
        m: &serde_json::Map<String, serde_json::Value>,
        depth: usize,
    ) -> Result<Document, AuthStoreError> {
        let mut d = Document::new();
        for (k, v) in m {
            key_ok(k)?;
            d.insert(k.clone(), value(v, depth)?);
        }
        Ok(d)
    }
    object(extra, 0)
}

fn extra_from_bson(d: &Document) -> serde_json::Map<String, serde_json::Value> {
    match d.get_document(EXTRA_FIELD) {
        Ok(x) => match Bson::Document(x.clone()).into_relaxed_extjson() {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        },
        Err(_) => serde_json::Map::new(),
    }
}

/// A user document as Django's model reads it.
pub(crate) fn user_from_doc(d: &Document, collection: &str) -> Result<User, AuthStoreError> {
    let id = d
        .get("_id")
        .ok_or_else(|| malformed(collection, "a user without _id"))?;
    Ok(User {
        id: from_bson(id, collection)?,
        password: text(d, "password"),
        last_login: time(d, "last_login"),
        is_superuser: flag(d, "is_superuser", false),
        username: d
            .get_str("username")
            .map_err(|_| malformed(collection, "a user without a username"))?
            .to_owned(),
        first_name: text(d, "first_name"),
        last_name: text(d, "last_name"),
        email: text(d, "email"),
        is_staff: flag(d, "is_staff", false),
        is_active: flag(d, "is_active", true),
        date_joined: time(d, "date_joined").unwrap_or_default(),
        extra: extra_from_bson(d),
        backend: None,
    })
}

/// The `auth` store on MongoDB.
#[derive(Debug, Clone)]
pub struct MongoAuthStore {
    db: MongoDb,
}

impl MongoAuthStore {
    /// A store over a connection (see [`crate::MongoConfig`] for the kind of user id).
    pub fn new(db: MongoDb) -> Self {
        Self { db }
    }

    /// The connection.
    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    fn kind(&self) -> IdKind {
        self.db.config().user_id
    }

    fn users(&self) -> mongodb::Collection<Document> {
        self.db.coll(&self.db.collections().user)
    }

    fn coll(&self, name: &str) -> mongodb::Collection<Document> {
        self.db.coll(name)
    }

    pub(crate) fn user_bson(&self, id: &Id) -> Result<Bson, AuthStoreError> {
        ids::to_bson(id, self.kind())
    }

    async fn find_all(
        &self,
        collection: &str,
        filter: Document,
        sort: Document,
        skip: u64,
        limit: i64,
    ) -> Result<Vec<Document>, AuthStoreError> {
        let coll = self.coll(collection);
        Ok(self
            .db
            .run(async {
                let mut find = coll.find(filter).sort(sort).skip(skip);
                if limit > 0 {
                    find = find.limit(limit);
                }
                find.await?.try_collect().await
            })
            .await?)
    }

    async fn aggregate(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
    ) -> Result<Vec<Document>, AuthStoreError> {
        let coll = self.coll(collection);
        Ok(self
            .db
            .run(async { coll.aggregate(pipeline).await?.try_collect().await })
            .await?)
    }

    async fn users_where(&self, filter: Document) -> Result<Vec<User>, AuthStoreError> {
        let name = &self.db.collections().user;
        self.find_all(name, filter, doc! {"_id": 1}, 0, 0)
            .await?
            .iter()
            .map(|d| user_from_doc(d, name))
            .collect()
    }

    /// The next integer id: `findOneAndUpdate` with `$inc` and upsert on the counters
    /// collection, atomic on the server (the seed blog post's scheme, without its race).
    async fn next_user_int(&self) -> Result<i64, AuthStoreError> {
        let c = self.db.collections();
        let coll = self.coll(&c.counters);
        let d = self
            .db
            .run(
                coll.find_one_and_update(
                    doc! {"_id": c.user.as_str()},
                    doc! {"$inc": {"sequence": 1i64}},
                )
                .upsert(true)
                .return_document(ReturnDocument::After),
            )
            .await?
            .ok_or_else(|| malformed(&c.counters, "the counter upsert returned nothing"))?;
        match d.get("sequence") {
            Some(Bson::Int64(i)) => Ok(*i),
            Some(Bson::Int32(i)) => Ok(i64::from(*i)),
            Some(Bson::Double(f)) if f.fract() == 0.0 => Ok(*f as i64),
            _ => Err(malformed(
                &c.counters,
                "a counter without an integer sequence",
            )),
        }
    }

    /// Why an insert hit a unique index: the username, the e-mail or the id.
    async fn duplicate_reason(&self, new: &NewUser, id: &Bson) -> AuthStoreError {
        let by_name = self
            .users_where(doc! {"username": new.username.as_str()})
            .await;
        if matches!(&by_name, Ok(found) if !found.is_empty()) {
            return AuthStoreError::DuplicateUsername(new.username.clone());
        }
        // The e-mail is unique where an index says so, or where it became the string key.
        let email_is_key = new.id.is_none() && matches!(id, Bson::String(s) if *s == new.email);
        if (self.db.config().unique_email || email_is_key) && !new.email.is_empty() {
            let by_mail = self.users_where(doc! {"email": new.email.as_str()}).await;
            if matches!(&by_mail, Ok(found) if !found.is_empty()) {
                return AuthStoreError::DuplicateEmail(new.email.clone());
            }
        }
        AuthStoreError::DuplicateId(match id {
            Bson::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    async fn exists(&self, collection: &str, filter: Document) -> Result<bool, AuthStoreError> {
        let coll = self.coll(collection);
        Ok(self
            .db
            .run(coll.find_one(filter).projection(doc! {"_id": 1}))
            .await?
            .is_some())
    }

    /// Insert a link document (idempotent); both ends must exist.
    async fn link(
        &self,
        collection: &str,
        (a_field, a_coll, a): (&str, &str, Bson),
        (b_field, b_coll, b): (&str, &str, Bson),
    ) -> Result<(), AuthStoreError> {
        // MongoDB has no foreign keys: check both ends as SQL would.
        for (coll, value) in [(a_coll, &a), (b_coll, &b)] {
            if !self.exists(coll, doc! {"_id": value.clone()}).await? {
                return Err(AuthStoreError::NotFound(format!("{coll} {value}")));
            }
        }
        // `_id` first, as django-mongodb-backend's documents have it.
        let document = doc! {"_id": oid::ObjectId::new(), a_field: a, b_field: b};
        match self
            .db
            .run(self.coll(collection).insert_one(document))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_duplicate_key() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn unlink(
        &self,
        collection: &str,
        (a_field, a): (&str, Bson),
        (b_field, b): (&str, Bson),
    ) -> Result<(), AuthStoreError> {
        self.db
            .run(
                self.coll(collection)
                    .delete_many(doc! {a_field: a, b_field: b}),
            )
            .await?;
        Ok(())
    }

    /// `app_label.codename` of the permission ids that `pipeline` (on `collection`) yields as
    /// `permission_id`, resolved through `auth_permission` and `django_content_type`.
    fn perm_string_stages(&self) -> Vec<Document> {
        let c = self.db.collections();
        vec![
            doc! {"$group": {"_id": "$permission_id"}},
            doc! {"$lookup": {"from": &c.permission, "localField": "_id", "foreignField": "_id", "as": "p"}},
            doc! {"$unwind": "$p"},
            doc! {"$lookup": {"from": &c.content_type, "localField": "p.content_type_id", "foreignField": "_id", "as": "ct"}},
            doc! {"$unwind": "$ct"},
            doc! {"$project": {"_id": 0, "app_label": "$ct.app_label", "codename": "$p.codename"}},
        ]
    }

    fn group_permission_ids_stages(&self) -> Vec<Document> {
        let c = self.db.collections();
        vec![
            doc! {"$lookup": {"from": &c.group_permissions, "localField": "group_id", "foreignField": "group_id", "as": "gp"}},
            doc! {"$unwind": "$gp"},
            doc! {"$project": {"_id": 0, "permission_id": "$gp.permission_id"}},
        ]
    }

    async fn perm_strings(
        &self,
        collection: &str,
        pipeline: Vec<Document>,
    ) -> Result<BTreeSet<String>, AuthStoreError> {
        let docs = self.aggregate(collection, pipeline).await?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(format!(
                    "{}.{}",
                    d.get_str("app_label").ok()?,
                    d.get_str("codename").ok()?
                ))
            })
            .collect())
    }

    async fn permissions_where(&self, filter: Document) -> Result<Vec<Permission>, AuthStoreError> {
        let c = self.db.collections();
        let mut pipeline = vec![doc! {"$match": filter}];
        pipeline.extend([
            doc! {"$lookup": {"from": &c.content_type, "localField": "content_type_id", "foreignField": "_id", "as": "ct"}},
            doc! {"$unwind": "$ct"},
            doc! {"$sort": {"ct.app_label": 1, "ct.model": 1, "codename": 1}},
        ]);
        let docs = self.aggregate(&c.permission, pipeline).await?;
        docs.iter()
            .map(|d| {
                let ct = d
                    .get_document("ct")
                    .map_err(|_| malformed(&c.permission, "no content type"))?;
                Ok(Permission {
                    id: from_bson(d.get("_id").unwrap_or(&Bson::Null), &c.permission)?,
                    name: text(d, "name"),
                    codename: text(d, "codename"),
                    content_type: ContentType {
                        id: from_bson(ct.get("_id").unwrap_or(&Bson::Null), &c.content_type)?,
                        app_label: text(ct, "app_label"),
                        model: text(ct, "model"),
                    },
                })
            })
            .collect()
    }

    fn group_from_doc(&self, d: &Document) -> Result<Group, AuthStoreError> {
        let c = &self.db.collections().group;
        Ok(Group {
            id: from_bson(d.get("_id").unwrap_or(&Bson::Null), c)?,
            name: text(d, "name"),
        })
    }

    fn user_document(&self, id: &Bson, new: &NewUser) -> Result<Document, AuthStoreError> {
        // Field order as django-mongodb-backend writes a new auth.User.
        let mut d = doc! {
            "_id": id.clone(),
            "password": new.password.as_str(),
            "last_login": Bson::Null,
            "is_superuser": new.is_superuser,
            "username": new.username.as_str(),
            "first_name": new.first_name.as_str(),
            "last_name": new.last_name.as_str(),
            "email": new.email.as_str(),
            "is_staff": new.is_staff,
            "is_active": new.is_active,
            "date_joined": bson_time(Utc::now()),
        };
        if !new.extra.is_empty() {
            d.insert(EXTRA_FIELD, extra_to_bson(&new.extra)?);
        }
        Ok(d)
    }

    async fn insert_user(&self, id: &Bson, new: &NewUser) -> Result<bool, AuthStoreError> {
        let document = self.user_document(id, new)?;
        match self.db.run(self.users().insert_one(document)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_duplicate_key() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl UserStore for MongoAuthStore {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    fn user_id_kind(&self) -> IdKind {
        self.kind()
    }

    async fn create_user(&self, new: NewUser) -> Result<User, AuthStoreError> {
        new.validate()?;
        let id = match (&new.id, self.kind()) {
            (Some(id), _) => self.user_bson(id)?,
            (None, IdKind::ObjectId) => Bson::ObjectId(oid::ObjectId::new()),
            (None, IdKind::Int) => Bson::Int64(self.next_user_int().await?),
            // A string key chosen by the application; without one, the e-mail (the seed
            // blog post's choice), or the username when there is no e-mail.
            (None, IdKind::Str) if !new.email.is_empty() => Bson::String(new.email.clone()),
            (None, IdKind::Str) => Bson::String(new.username.clone()),
        };
        let mut id = id;
        let mut inserted = self.insert_user(&id, &new).await?;
        if !inserted && new.id.is_none() && self.kind() == IdKind::Int {
            // A user created with an explicit id may hold the counter's next values.
            for _ in 0..COUNTER_ATTEMPTS {
                if !matches!(
                    self.duplicate_reason(&new, &id).await,
                    AuthStoreError::DuplicateId(_)
                ) {
                    break;
                }
                id = Bson::Int64(self.next_user_int().await?);
                inserted = self.insert_user(&id, &new).await?;
                if inserted {
                    break;
                }
            }
        }
        if !inserted {
            return Err(self.duplicate_reason(&new, &id).await);
        }
        let found = self
            .users_where(doc! {"_id": id.clone()})
            .await?
            .into_iter()
            .next();
        found.ok_or_else(|| AuthStoreError::NotFound(format!("user {id}")))
    }

    async fn get_user(&self, id: &Id) -> Result<Option<User>, AuthStoreError> {
        let id = match self.user_bson(id) {
            Ok(id) => id,
            // A session or URL naming an id of another kind names no user.
            Err(AuthStoreError::InvalidId(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self.users_where(doc! {"_id": id}).await?.into_iter().next())
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>, AuthStoreError> {
        Ok(self
            .users_where(doc! {"username": username})
            .await?
            .into_iter()
            .next())
    }

    async fn get_users_by_email(&self, email: &str) -> Result<Vec<User>, AuthStoreError> {
        if email.is_empty() {
            return self.users_where(doc! {"email": ""}).await;
        }
        // `email__iexact`: an anchored, escaped, case-insensitive regex. Every
        // metacharacter of the address is escaped, so it matches the text only.
        let pattern = format!("^{}$", escape_regex(email));
        self.users_where(doc! {"email": {"$regex": pattern, "$options": "i"}})
            .await
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, AuthStoreError> {
        let name = &self.db.collections().user;
        let limit = limit.min(i64::MAX as u64) as i64;
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.find_all(name, doc! {}, doc! {"_id": 1}, offset, limit)
            .await?
            .iter()
            .map(|d| user_from_doc(d, name))
            .collect()
    }

    async fn update_user(&self, id: &Id, changes: &[UserField]) -> Result<(), AuthStoreError> {
        let uid = self.user_bson(id)?;
        let mut set = Document::new();
        for change in changes {
            match change {
                UserField::Username(v) | UserField::Email(v) if v.contains('\0') => {
                    return Err(AuthStoreError::Invalid(
                        "NUL characters are not allowed".into(),
                    ));
                }
                UserField::Username(v) => set.insert("username", v.as_str()),
                UserField::Email(v) => set.insert("email", v.as_str()),
                UserField::Password(v) => set.insert("password", v.as_str()),
                UserField::FirstName(v) => set.insert("first_name", v.as_str()),
                UserField::LastName(v) => set.insert("last_name", v.as_str()),
                UserField::IsStaff(v) => set.insert("is_staff", *v),
                UserField::IsSuperuser(v) => set.insert("is_superuser", *v),
                UserField::IsActive(v) => set.insert("is_active", *v),
                UserField::LastLogin(v) => set.insert(
                    "last_login",
                    v.map(bson_time).map_or(Bson::Null, Bson::DateTime),
                ),
                UserField::Extra(v) => set.insert(EXTRA_FIELD, extra_to_bson(v)?),
            };
        }
        let result = if set.is_empty() {
            let found = self
                .exists(&self.db.collections().user, doc! {"_id": uid.clone()})
                .await?;
            return if found {
                Ok(())
            } else {
                Err(AuthStoreError::NotFound(format!("user {id}")))
            };
        } else {
            self.db
                .run(
                    self.users()
                        .update_one(doc! {"_id": uid}, doc! {"$set": set}),
                )
                .await
        };
        match result {
            Ok(r) if r.matched_count > 0 => Ok(()),
            Ok(_) => Err(AuthStoreError::NotFound(format!("user {id}"))),
            Err(e) if e.is_duplicate_key() => {
                let username = changes.iter().find_map(|c| match c {
                    UserField::Username(u) => Some(u.clone()),
                    _ => None,
                });
                let email = changes.iter().find_map(|c| match c {
                    UserField::Email(e) => Some(e.clone()),
                    _ => None,
                });
                Err(match (username, email) {
                    (Some(u), _) => AuthStoreError::DuplicateUsername(u),
                    (None, Some(e)) => AuthStoreError::DuplicateEmail(e),
                    (None, None) => e.into(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_user(&self, id: &Id) -> Result<bool, AuthStoreError> {
        let uid = match self.user_bson(id) {
            Ok(id) => id,
            Err(AuthStoreError::InvalidId(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let c = self.db.collections();
        // Links first: a crash in between leaves a user without links, never dangling links.
        for coll in [&c.user_groups, &c.user_permissions] {
            self.db
                .run(self.coll(coll).delete_many(doc! {"user_id": uid.clone()}))
                .await?;
        }
        let result = self
            .db
            .run(self.users().delete_one(doc! {"_id": uid}))
            .await?;
        Ok(result.deleted_count > 0)
    }

    async fn get_user_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let c = self.db.collections();
        let mut pipeline = vec![doc! {"$match": {"user_id": self.user_bson(user)?}}];
        pipeline.extend(self.perm_string_stages());
        self.perm_strings(&c.user_permissions, pipeline).await
    }

    async fn get_group_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let c = self.db.collections();
        let mut pipeline = vec![doc! {"$match": {"user_id": self.user_bson(user)?}}];
        pipeline.extend(self.group_permission_ids_stages());
        pipeline.extend(self.perm_string_stages());
        self.perm_strings(&c.user_groups, pipeline).await
    }

    /// User ∪ group permissions in one aggregation: the direct links, `$unionWith` the
    /// group links, then one lookup of the permissions and their content types.
    async fn get_all_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let c = self.db.collections();
        let uid = self.user_bson(user)?;
        let mut group_branch = vec![doc! {"$match": {"user_id": uid.clone()}}];
        group_branch.extend(self.group_permission_ids_stages());
        let mut pipeline = vec![
            doc! {"$match": {"user_id": uid}},
            doc! {"$project": {"_id": 0, "permission_id": 1}},
            doc! {"$unionWith": {"coll": &c.user_groups, "pipeline": group_branch}},
        ];
        pipeline.extend(self.perm_string_stages());
        self.perm_strings(&c.user_permissions, pipeline).await
    }

    async fn all_permission_strings(&self) -> Result<BTreeSet<String>, AuthStoreError> {
        permission_strings(self).await
    }
}

#[async_trait]
impl GroupStore for MongoAuthStore {
    async fn create_group(&self, name: &str) -> Result<Group, AuthStoreError> {
        if name.contains('\0') || name.is_empty() || name.chars().count() > 150 {
            return Err(AuthStoreError::Invalid(
                "a group name is 1 to 150 characters, without NUL".into(),
            ));
        }
        let id = oid::ObjectId::new();
        let coll = self.coll(&self.db.collections().group);
        match self
            .db
            .run(coll.insert_one(doc! {"_id": id, "name": name}))
            .await
        {
            Ok(_) => Ok(Group {
                id: Id::ObjectId(sesame_core::auth::ObjectId(id.bytes())),
                name: name.to_owned(),
            }),
            Err(e) if e.is_duplicate_key() => Err(AuthStoreError::DuplicateGroup(name.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_group_by_name(&self, name: &str) -> Result<Option<Group>, AuthStoreError> {
        let c = &self.db.collections().group;
        let found = self
            .find_all(c, doc! {"name": name}, doc! {"_id": 1}, 0, 1)
            .await?;
        found.first().map(|d| self.group_from_doc(d)).transpose()
    }

    async fn list_groups(&self) -> Result<Vec<Group>, AuthStoreError> {
        let c = &self.db.collections().group;
        self.find_all(c, doc! {}, doc! {"name": 1}, 0, 0)
            .await?
            .iter()
            .map(|d| self.group_from_doc(d))
            .collect()
    }

    async fn delete_group(&self, id: &Id) -> Result<bool, AuthStoreError> {
        let gid = match oid_of(id) {
            Ok(g) => g,
            Err(AuthStoreError::InvalidId(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let c = self.db.collections();
        for coll in [&c.user_groups, &c.group_permissions] {
            self.db
                .run(self.coll(coll).delete_many(doc! {"group_id": gid}))
                .await?;
        }
        let result = self
            .db
            .run(self.coll(&c.group).delete_one(doc! {"_id": gid}))
            .await?;
        Ok(result.deleted_count > 0)
    }

    async fn add_user_to_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError> {
        let c = self.db.collections();
        self.link(
            &c.user_groups,
            ("user_id", &c.user, self.user_bson(user)?),
            ("group_id", &c.group, Bson::ObjectId(oid_of(group)?)),
        )
        .await
    }

    async fn remove_user_from_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError> {
        let c = self.db.collections();
        self.unlink(
            &c.user_groups,
            ("user_id", self.user_bson(user)?),
            ("group_id", Bson::ObjectId(oid_of(group)?)),
        )
        .await
    }

    async fn user_groups(&self, user: &Id) -> Result<Vec<Group>, AuthStoreError> {
        let c = self.db.collections();
        let uid = self.user_bson(user)?;
        let pipeline = vec![
            doc! {"$match": {"user_id": uid}},
            doc! {"$lookup": {"from": &c.group, "localField": "group_id", "foreignField": "_id", "as": "g"}},
            doc! {"$unwind": "$g"},
            doc! {"$replaceRoot": {"newRoot": "$g"}},
            doc! {"$sort": {"name": 1}},
        ];
        self.aggregate(&c.user_groups, pipeline)
            .await?
            .iter()
            .map(|d| self.group_from_doc(d))
            .collect()
    }
}

#[async_trait]
impl PermissionStore for MongoAuthStore {
    async fn get_or_create_content_type(
        &self,
        app_label: &str,
        model: &str,
    ) -> Result<ContentType, AuthStoreError> {
        let name = &self.db.collections().content_type;
        let coll = self.coll(name);
        let filter = doc! {"app_label": app_label, "model": model};
        for _ in 0..2 {
            if let Some(d) = self.db.run(coll.find_one(filter.clone())).await? {
                return Ok(ContentType {
                    id: from_bson(d.get("_id").unwrap_or(&Bson::Null), name)?,
                    app_label: app_label.to_owned(),
                    model: model.to_owned(),
                });
            }
            let id = oid::ObjectId::new();
            match self
                .db
                .run(coll.insert_one(doc! {"_id": id, "app_label": app_label, "model": model}))
                .await
            {
                Ok(_) => {
                    return Ok(ContentType {
                        id: Id::ObjectId(sesame_core::auth::ObjectId(id.bytes())),
                        app_label: app_label.to_owned(),
                        model: model.to_owned(),
                    });
                }
                // Created concurrently: read it back.
                Err(e) if e.is_duplicate_key() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AuthStoreError::NotFound(format!(
            "content type {app_label}.{model}"
        )))
    }

    async fn get_or_create_permission(
        &self,
        content_type: &ContentType,
        codename: &str,
        name: &str,
    ) -> Result<Permission, AuthStoreError> {
        let c = self.db.collections();
        let ct = oid_of(&content_type.id)?;
        let coll = self.coll(&c.permission);
        let filter = doc! {"content_type_id": ct, "codename": codename};
        for _ in 0..2 {
            if let Some(d) = self.db.run(coll.find_one(filter.clone())).await? {
                return Ok(Permission {
                    id: from_bson(d.get("_id").unwrap_or(&Bson::Null), &c.permission)?,
                    name: text(&d, "name"),
                    codename: codename.to_owned(),
                    content_type: content_type.clone(),
                });
            }
            let id = oid::ObjectId::new();
            let document =
                doc! {"_id": id, "name": name, "codename": codename, "content_type_id": ct};
            match self.db.run(coll.insert_one(document)).await {
                Ok(_) => {
                    return Ok(Permission {
                        id: Id::ObjectId(sesame_core::auth::ObjectId(id.bytes())),
                        name: name.to_owned(),
                        codename: codename.to_owned(),
                        content_type: content_type.clone(),
                    });
                }
                Err(e) if e.is_duplicate_key() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AuthStoreError::NotFound(format!("permission {codename}")))
    }

    async fn get_permission(
        &self,
        app_label: &str,
        codename: &str,
    ) -> Result<Option<Permission>, AuthStoreError> {
        Ok(self
            .permissions_where(doc! {"codename": codename})
            .await?
            .into_iter()
            .find(|p| p.content_type.app_label == app_label))
    }

    async fn list_permissions(&self) -> Result<Vec<Permission>, AuthStoreError> {
        self.permissions_where(doc! {}).await
    }

    async fn grant_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        let c = self.db.collections();
        self.link(
            &c.user_permissions,
            ("user_id", &c.user, self.user_bson(user)?),
            (
                "permission_id",
                &c.permission,
                Bson::ObjectId(oid_of(permission)?),
            ),
        )
        .await
    }

    async fn revoke_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        let c = self.db.collections();
        self.unlink(
            &c.user_permissions,
            ("user_id", self.user_bson(user)?),
            ("permission_id", Bson::ObjectId(oid_of(permission)?)),
        )
        .await
    }

    async fn grant_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        let c = self.db.collections();
        self.link(
            &c.group_permissions,
            ("group_id", &c.group, Bson::ObjectId(oid_of(group)?)),
            (
                "permission_id",
                &c.permission,
                Bson::ObjectId(oid_of(permission)?),
            ),
        )
        .await
    }

    async fn revoke_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        let c = self.db.collections();
        self.unlink(
            &c.group_permissions,
            ("group_id", Bson::ObjectId(oid_of(group)?)),
            ("permission_id", Bson::ObjectId(oid_of(permission)?)),
        )
        .await
    }
}

/// Escape every character that means something in a PCRE pattern.
fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for ch in text.chars() {
        if "\\^$.|?*+()[]{}/-#&~ ".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_escaping_leaves_no_metacharacter_active() {
        assert_eq!(escape_regex("a.b+c@x.com"), "a\\.b\\+c@x\\.com");
        assert_eq!(escape_regex(".*"), "\\.\\*");
    }

    #[test]
    fn operator_shaped_profile_keys_are_refused() {
        for key in ["$where", "a.b", ""] {
            let mut m = serde_json::Map::new();
            m.insert(key.into(), serde_json::json!(1));
            assert!(matches!(extra_to_bson(&m), Err(AuthStoreError::Invalid(_))));
        }
    }
}
