//! The indexes Sesame needs, created by `sesame migrate` and checked at start-up.
//!
//! Names and keys are django-mongodb-backend's (the names Django gives the same indexes in
//! SQL), so that a database migrated by either side is complete for the other. Sesame adds a
//! TTL on `expire_date` and, for integer ids, nothing else: the counters collection is keyed
//! by `_id`.

use crate::config::{Collections, MongoDb};
use crate::error::MongoError;
use futures_util::TryStreamExt;
use mongodb::IndexModel;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::IndexOptions;
use sesame_core::auth::IdKind;
use std::time::Duration;

/// One index: where, on what, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// The collection.
    pub collection: String,
    /// The index name.
    pub name: String,
    /// The key pattern, in order.
    pub keys: Vec<&'static str>,
    /// A unique index.
    pub unique: bool,
    /// A TTL index (`expireAfterSeconds: 0`).
    pub ttl: bool,
    /// Only documents with a non-empty value of the first key (unique e-mail).
    pub partial_non_empty: bool,
    /// The `partialFilterExpression` django-mongodb-backend gives unique indexes: each key
    /// must hold a value of its BSON type (`{username: {$type: "string"}}`).
    pub partial_types: Vec<(&'static str, &'static str)>,
}

impl IndexSpec {
    fn new(
        collection: &str,
        default_collection: &str,
        django_name: &str,
        keys: &[&'static str],
    ) -> Self {
        // Django's names carry a hash of the table and columns; with renamed collections,
        // plain descriptive names avoid claiming a Django name that Django would not use.
        let name = if collection == default_collection {
            django_name.to_owned()
        } else {
            let unique = if django_name.ends_with("_uniq") {
                "_uniq"
            } else {
                ""
            };
            format!("{collection}_{}{unique}", keys.join("_"))
        };
        Self {
            collection: collection.to_owned(),
            name,
            keys: keys.to_vec(),
            unique: django_name.ends_with("_uniq"),
            ttl: false,
            partial_non_empty: false,
            partial_types: Vec::new(),
        }
    }

    /// The key pattern as a document (`{a: 1, b: 1}`).
    pub fn key_document(&self) -> Document {
        let mut d = Document::new();
        for k in &self.keys {
            d.insert(*k, 1i32);
        }
        d
    }

    fn model(&self) -> IndexModel {
        let mut options = IndexOptions::builder()
            .name(self.name.clone())
            .unique(self.unique.then_some(true))
            .build();
        if self.ttl {
            options.expire_after = Some(Duration::ZERO);
        }
        if self.partial_non_empty {
            // `$gt: ""` selects non-empty strings; `$ne` is not allowed in partial filters.
            options.partial_filter_expression = Some(doc! {self.keys[0]: {"$gt": ""}});
        } else if !self.partial_types.is_empty() {
            let mut filter = Document::new();
            for (key, ty) in &self.partial_types {
                filter.insert(*key, doc! {"$type": *ty});
            }
            options.partial_filter_expression = Some(filter);
        }
        IndexModel::builder()
            .keys(self.key_document())
            .options(options)
            .build()
    }
}

/// Every index the stores rely on, for the configured collection names.
pub fn required_indexes(c: &Collections, user_id: IdKind, unique_email: bool) -> Vec<IndexSpec> {
    let d = Collections::default();
    let mut specs = vec![
        IndexSpec::new(
            &c.user,
            &d.user,
            "auth_user_username_6821ab7c_uniq",
            &["username"],
        ),
        IndexSpec::new(
            &c.group,
            &d.group,
            "auth_group_name_a6ea08ec_uniq",
            &["name"],
        ),
        IndexSpec::new(
            &c.content_type,
            &d.content_type,
            "django_content_type_app_label_model_76bd3d3b_uniq",
            &["app_label", "model"],
        ),
        IndexSpec::new(
            &c.permission,
            &d.permission,
            "auth_permission_content_type_id_codename_01ab375a_uniq",
            &["content_type_id", "codename"],
        ),
        IndexSpec::new(
            &c.permission,
            &d.permission,
            "auth_permission_content_type_id_2f476e4b",
            &["content_type_id"],
        ),
        IndexSpec::new(
            &c.user_groups,
            &d.user_groups,
            "auth_user_groups_user_id_group_id_94350c0c_uniq",
            &["user_id", "group_id"],
        ),
        IndexSpec::new(
            &c.user_groups,
            &d.user_groups,
            "auth_user_groups_user_id_6a12ed8b",
            &["user_id"],
        ),
        IndexSpec::new(
            &c.user_groups,
            &d.user_groups,
            "auth_user_groups_group_id_97559544",
            &["group_id"],
        ),
        IndexSpec::new(
            &c.user_permissions,
            &d.user_permissions,
            "auth_user_user_permissions_user_id_permission_id_14a6b632_uniq",
            &["user_id", "permission_id"],
        ),
        IndexSpec::new(
            &c.user_permissions,
            &d.user_permissions,
            "auth_user_user_permissions_user_id_a95ead1b",
            &["user_id"],
        ),
        IndexSpec::new(
            &c.user_permissions,
            &d.user_permissions,
            "auth_user_user_permissions_permission_id_1fbb5f2c",
            &["permission_id"],
        ),
        IndexSpec::new(
            &c.group_permissions,
            &d.group_permissions,
            "auth_group_permissions_group_id_permission_id_0cd325b0_uniq",
            &["group_id", "permission_id"],
        ),
        IndexSpec::new(
            &c.group_permissions,
            &d.group_permissions,
            "auth_group_permissions_group_id_b120cbf9",
            &["group_id"],
        ),
        IndexSpec::new(
            &c.group_permissions,
            &d.group_permissions,
            "auth_group_permissions_permission_id_84c5c92e",
            &["permission_id"],
        ),
        IndexSpec::new(
            &c.session,
            &d.session,
            "django_session_session_key_c0390e0f_uniq",
            &["session_key"],
        ),
    ];
    let mut ttl = IndexSpec::new(
        &c.session,
        &d.session,
        "django_session_expire_date_a5c62663",
        &["expire_date"],
    );
    ttl.ttl = true;
    specs.push(ttl);
    let user_type = match user_id {
        IdKind::ObjectId => "objectId",
        IdKind::Int => "long",
        IdKind::Str => "string",
    };
    for spec in specs.iter_mut().filter(|s| s.unique) {
        spec.partial_types = spec
            .keys
            .iter()
            .map(|k| {
                let ty = match *k {
                    "user_id" => user_type,
                    "group_id" | "permission_id" | "content_type_id" => "objectId",
                    _ => "string",
                };
                (*k, ty)
            })
            .collect();
    }
    if unique_email {
        let mut email = IndexSpec::new(&c.user, &d.user, "auth_user_email_sesame_uniq", &["email"]);
        email.unique = true;
        email.partial_non_empty = true;
        specs.push(email);
    }
    specs
}

/// An index as the server lists it.
#[derive(Debug, Clone)]
pub struct ExistingIndex {
    /// Its name.
    pub name: String,
    /// Its key pattern.
    pub keys: Document,
    /// Whether it is unique.
    pub unique: bool,
    /// `expireAfterSeconds`, for TTL indexes.
    pub expire_after_seconds: Option<i64>,
    /// `partialFilterExpression`, for partial indexes.
    pub partial_filter_expression: Option<Document>,
}

/// The indexes of a collection (none if the collection does not exist).
pub async fn list_indexes(
    db: &MongoDb,
    collection: &str,
) -> Result<Vec<ExistingIndex>, MongoError> {
    let coll = db.coll(collection);
    let result = db
        .run(async {
            let cursor = coll.list_indexes().await?;
            cursor.try_collect::<Vec<IndexModel>>().await
        })
        .await;
    let models = match result {
        Ok(m) => m,
        // NamespaceNotFound (26): the collection does not exist yet.
        Err(MongoError::Driver(e)) if matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 26) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    Ok(models
        .into_iter()
        .map(|m| {
            let options = m.options.unwrap_or_default();
            ExistingIndex {
                name: options.name.unwrap_or_default(),
                keys: m.keys,
                unique: options.unique.unwrap_or(false),
                expire_after_seconds: options.expire_after.map(|d| d.as_secs() as i64),
                partial_filter_expression: options.partial_filter_expression,
            }
        })
        .collect())
}

fn same_keys(a: &Document, b: &Document) -> bool {
    let num = |v: &Bson| {
        v.as_i32()
            .map(i64::from)
            .or(v.as_i64())
            .or(v.as_f64().map(|f| f as i64))
    };
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && num(va) == num(vb))
}

/// What is missing or different, index by index.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexProblem {
    /// The index does not exist.
    Missing(IndexSpec),
    /// An index on the keys exists without the uniqueness Sesame relies on.
    NotUnique(IndexSpec),
    /// The `expire_date` index exists but is not a TTL index (as django-mongodb-backend
    /// creates it): expired sessions stay until `clearsessions`. Not an error.
    NotTtl(IndexSpec),
}

impl IndexProblem {
    /// Whether the stores may run anyway (only the TTL is optional).
    pub fn is_tolerable(&self) -> bool {
        matches!(
            self,
            IndexProblem::NotTtl(_) | IndexProblem::Missing(IndexSpec { ttl: true, .. })
        )
    }
}

impl std::fmt::Display for IndexProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexProblem::Missing(s) => write!(
                f,
                "{}: index {} {} is missing",
                s.collection,
                s.name,
                s.key_document()
            ),
            IndexProblem::NotUnique(s) => write!(
                f,
                "{}: the index on {} is not unique",
                s.collection,
                s.key_document()
            ),
            IndexProblem::NotTtl(s) => write!(
                f,
                "{}: the index on {} is not a TTL index; expired sessions stay until `sesame clearsessions`",
                s.collection,
                s.key_document()
            ),
        }
    }
}

/// Compare the server's indexes with [`required_indexes`] (start-up check).
///
/// Changes nothing: for a service that must not create indexes itself (the Django side or an
/// operator owns the schema) but should refuse to run without the unique indexes its
/// guarantees rest on.
///
/// ```no_run
/// use sesame_mongodb::{MongoConfig, check_indexes};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let db = MongoConfig::new("mongodb://127.0.0.1:27017/mysite").connect().await?;
/// for problem in check_indexes(&db).await? {
///     if problem.is_tolerable() {
///         eprintln!("warning: {problem}");
///     } else {
///         return Err(format!("run `sesame migrate` first: {problem}").into());
///     }
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`MongoError`] when the indexes cannot be listed (the server is unreachable, or the
/// user may not run `listIndexes`).
pub async fn check_indexes(db: &MongoDb) -> Result<Vec<IndexProblem>, MongoError> {
    let specs = required_indexes(
        db.collections(),
        db.config().user_id,
        db.config().unique_email,
    );
    let mut problems = Vec::new();
    let mut cache: Vec<(String, Vec<ExistingIndex>)> = Vec::new();
    for spec in specs {
        if !cache.iter().any(|(c, _)| *c == spec.collection) {
            let found = list_indexes(db, &spec.collection).await?;
            cache.push((spec.collection.clone(), found));
        }
        let existing = cache
            .iter()
            .find(|(c, _)| *c == spec.collection)
            .map(|(_, e)| e.as_slice())
            .unwrap_or_default();
        let key = spec.key_document();
        match existing.iter().find(|e| same_keys(&e.keys, &key)) {
            None => problems.push(IndexProblem::Missing(spec)),
            Some(e) if spec.unique && !e.unique => problems.push(IndexProblem::NotUnique(spec)),
            Some(e) if spec.ttl && e.expire_after_seconds != Some(0) => {
                problems.push(IndexProblem::NotTtl(spec))
            }
            Some(_) => {}
        }
    }
    Ok(problems)
}

/// What `migrate` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrateReport {
    /// Indexes created, as `collection.name`.
    pub created: Vec<String>,
    /// The TTL index of Sesame's `sesame_login_throttle` collection was created (apart from
    /// `created`, which lists the indexes of Django's collections).
    pub created_throttle_index: bool,
    /// The `expire_date` index was turned into a TTL index with `collMod`.
    pub ttl_converted: bool,
    /// Problems left in place, with the reason (never fatal: see [`IndexProblem`]).
    pub warnings: Vec<String>,
}

/// Create every missing index. An existing plain `expire_date` index (django-mongodb-backend
/// makes one) is turned into a TTL index with `collMod` (MongoDB 5.1+); when the server
/// refuses, the plain index stays and a warning says so: a second index on the same key with
/// other options would fail with IndexOptionsConflict (85), and start-up must never fail
/// over it. Running it twice changes nothing.
pub async fn migrate(db: &MongoDb) -> Result<MigrateReport, MongoError> {
    let mut report = MigrateReport::default();
    for problem in check_indexes(db).await? {
        match problem {
            IndexProblem::Missing(spec) => {
                let coll = db.coll(&spec.collection);
                db.run(coll.create_index(spec.model())).await?;
                report
                    .created
                    .push(format!("{}.{}", spec.collection, spec.name));
            }
            IndexProblem::NotUnique(spec) => {
                // Making an index unique in place could fail on existing duplicates and
                // would change Django's schema; report it instead.
                report
                    .warnings
                    .push(IndexProblem::NotUnique(spec).to_string());
            }
            IndexProblem::NotTtl(spec) => match make_ttl(db, &spec).await {
                Ok(()) => report.ttl_converted = true,
                Err(e) => report.warnings.push(format!(
                    "{}; turning it into a TTL index failed ({e})",
                    IndexProblem::NotTtl(spec)
                )),
            },
        }
    }
    // The throttle's counters expire by themselves; the stores never depend on it (reads
    // filter on the expiry and expired counters are swept), so it is not in
    // `required_indexes` and a database without it still starts.
    report.created_throttle_index = crate::throttle::ensure_ttl_index(db).await?;
    Ok(report)
}

/// `collMod` an existing index on the spec's keys into a TTL index.
pub async fn make_ttl(db: &MongoDb, spec: &IndexSpec) -> Result<(), MongoError> {
    db.run(db.database().run_command(doc! {
        "collMod": &spec.collection,
        "index": {"keyPattern": spec.key_document(), "expireAfterSeconds": 0i64},
    }))
    .await?;
    // Some servers accept the command and ignore the option: check.
    let now_ttl = list_indexes(db, &spec.collection)
        .await?
        .iter()
        .any(|e| same_keys(&e.keys, &spec.key_document()) && e.expire_after_seconds == Some(0));
    if now_ttl {
        Ok(())
    } else {
        Err(MongoError::Malformed {
            collection: spec.collection.clone(),
            reason: "the server accepted collMod but the index is still not a TTL index".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_names_are_djangos_and_renamed_collections_get_plain_names() {
        let specs = required_indexes(&Collections::default(), IdKind::ObjectId, false);
        assert!(
            specs
                .iter()
                .any(|s| s.name == "django_session_session_key_c0390e0f_uniq" && s.unique)
        );
        assert!(
            specs
                .iter()
                .any(|s| s.name == "django_session_expire_date_a5c62663" && s.ttl && !s.unique)
        );
        assert_eq!(specs.iter().filter(|s| s.unique).count(), 8);
        let pair = specs
            .iter()
            .find(|s| s.name == "auth_user_groups_user_id_group_id_94350c0c_uniq")
            .unwrap();
        assert_eq!(
            pair.partial_types,
            [("user_id", "objectId"), ("group_id", "objectId")]
        );
        let renamed = Collections {
            user: "people".into(),
            ..Collections::default()
        };
        let specs = required_indexes(&renamed, IdKind::Int, true);
        assert!(
            specs
                .iter()
                .any(|s| s.name == "people_username_uniq" && s.collection == "people")
        );
        assert!(
            specs
                .iter()
                .any(|s| s.name == "people_email_uniq" && s.partial_non_empty)
        );
    }
}
