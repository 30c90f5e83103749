//! One-way import from the legacy `mango` layout (collections `users` and `sessions`, spec
//! §6a) into the django-mongodb-backend layout.
//!
//! - Users keep their password hashes as they are: `sha1$salt$hex`, bare 32-hex MD5 and `!`.
//!   With `sha1` and `unsalted_md5` in `PASSWORD_HASHERS` they can log in, and the login
//!   rehashes them with the preferred hasher (Django's upgrade-on-login).
//! - mango sessions are pickles signed with an MD5 hash: unsafe to load, so they are dropped
//!   (not imported, and counted); their users simply log in again. The legacy collections
//!   are only read.
//! - Running it twice imports nothing new: a user whose username is already in `auth_user`
//!   is skipped.

use crate::auth::MongoAuthStore;
use crate::config::MongoDb;
use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use sesame_core::auth::store::{AuthStoreError, UserStore};
use sesame_core::auth::{Id, IdKind, NewUser, ObjectId, UserField};

/// Where the legacy data is.
#[derive(Debug, Clone)]
pub struct MangoSource {
    /// The users collection (`users`).
    pub users: String,
    /// The sessions collection (`sessions`).
    pub sessions: String,
}

impl Default for MangoSource {
    fn default() -> Self {
        Self {
            users: "users".into(),
            sessions: "sessions".into(),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Users in the legacy collection.
    pub users_seen: u64,
    /// Users written to `auth_user`.
    pub users_imported: u64,
    /// Users skipped because their username is already in `auth_user` (an earlier run).
    pub users_already_present: u64,
    /// Legacy documents that are not users (no username): left alone and counted.
    pub users_invalid: u64,
    /// Imported users whose hash is a legacy one (`sha1$`, bare MD5), to be rehashed on login.
    pub legacy_hashes: u64,
    /// Legacy sessions not imported (pickled data, never loaded).
    pub sessions_dropped: u64,
}

/// Progress of an import: (phase, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Send + Sync);

fn text(d: &Document, key: &str) -> String {
    match d.get(key) {
        Some(Bson::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn flag(d: &Document, key: &str, default: bool) -> bool {
    match d.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        _ => default,
    }
}

/// Whether a stored password is one of mango's legacy formats.
pub fn is_legacy_hash(encoded: &str) -> bool {
    encoded.starts_with("sha1$")
        || (encoded.len() == 32 && encoded.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Import `source` into the store's collections. `progress` is called after every user and
/// once for the sessions.
pub async fn import_mango(
    db: &MongoDb,
    store: &MongoAuthStore,
    source: &MangoSource,
    progress: Progress<'_>,
) -> Result<ImportReport, AuthStoreError> {
    let mut report = ImportReport::default();
    let users = db.coll(&source.users);
    let total = db.run(users.count_documents(doc! {})).await?;
    let legacy: Vec<Document> = db
        .run(async {
            users
                .find(doc! {})
                .sort(doc! {"_id": 1})
                .await?
                .try_collect()
                .await
        })
        .await?;
    for d in &legacy {
        report.users_seen += 1;
        let username = text(d, "username");
        if username.is_empty() {
            report.users_invalid += 1;
            progress("users", report.users_seen, total);
            continue;
        }
        if store.get_user_by_username(&username).await?.is_some() {
            report.users_already_present += 1;
            progress("users", report.users_seen, total);
            continue;
        }
        let password = match text(d, "password") {
            p if p.is_empty() => "!".to_owned(),
            p => p,
        };
        // Keep mango's ObjectId when the target uses ObjectIds, so that anything else that
        // refers to the user by id still finds it.
        let id = match (d.get("_id"), store.user_id_kind()) {
            (Some(Bson::ObjectId(o)), IdKind::ObjectId) => Some(Id::ObjectId(ObjectId(o.bytes()))),
            _ => None,
        };
        let new = NewUser {
            id,
            first_name: text(d, "first_name"),
            last_name: text(d, "last_name"),
            is_staff: flag(d, "is_staff", false),
            is_superuser: flag(d, "is_superuser", false),
            is_active: flag(d, "is_active", true),
            ..NewUser::new(&username, text(d, "email"), &password)
        };
        let legacy_hash = is_legacy_hash(&password);
        let user = match store.create_user(new).await {
            Ok(u) => u,
            // Another process imported it in between: the same as an earlier run.
            Err(AuthStoreError::DuplicateUsername(_)) => {
                report.users_already_present += 1;
                progress("users", report.users_seen, total);
                continue;
            }
            Err(e) => return Err(e),
        };
        // Keep the legacy timestamps. mango stored naive local times, which the driver read
        // as UTC; they are kept as stored.
        let mut changes = Vec::new();
        if let Ok(t) = d.get_datetime("last_login") {
            changes.push(UserField::LastLogin(Some(crate::sessions::chrono_time(t))));
        }
        store.update_user(&user.id, &changes).await?;
        if let Ok(t) = d.get_datetime("date_joined") {
            let uid = store.user_bson(&user.id)?;
            db.run(
                db.coll(&db.collections().user)
                    .update_one(doc! {"_id": uid}, doc! {"$set": {"date_joined": *t}}),
            )
            .await?;
        }
        report.users_imported += 1;
        if legacy_hash {
            report.legacy_hashes += 1;
        }
        progress("users", report.users_seen, total);
    }
    // Counted, never loaded and never deleted: the legacy collection stays as it was.
    let sessions = db.coll(&source.sessions);
    report.sessions_dropped = db.run(sessions.count_documents(doc! {})).await?;
    progress("sessions", report.sessions_dropped, report.sessions_dropped);
    Ok(report)
}
