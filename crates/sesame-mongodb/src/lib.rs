//! # sesame-mongodb
//!
//! Django-style sessions, users, groups and permissions in MongoDB, in the collections and
//! fields that Django's official MongoDB backend (django-mongodb-backend) uses, so that a
//! Django site on MongoDB and a Sesame service share one database:
//!
//! | collection | fields |
//! |---|---|
//! | `django_session` | `_id`, `session_key` (unique), `session_data`, `expire_date` (TTL) |
//! | `auth_user` | `_id`, `password`, `last_login`, `is_superuser`, `username` (unique), `first_name`, `last_name`, `email`, `is_staff`, `is_active`, `date_joined` |
//! | `auth_group` | `_id`, `name` (unique) |
//! | `auth_permission` | `_id`, `name`, `content_type_id`, `codename` |
//! | `django_content_type` | `_id`, `app_label`, `model` |
//! | `auth_user_groups`, `auth_user_user_permissions`, `auth_group_permissions` | `_id` and the two ids, unique as a pair |
//!
//! Use it when the Django site runs on MongoDB through django-mongodb-backend, or when a new
//! service keeps everything in MongoDB anyway. [`MongoConfig`] says where (the URL, which
//! must name the database) and how (collection names, the kind of user id, one timeout for
//! every operation, so that an outage is a typed [`MongoError`] rather than a hang);
//! [`MongoConfig::connect`] gives the [`MongoDb`] handle that every store shares. [`migrate`]
//! creates the indexes the stores rely on (unique keys, the sessions' TTL); [`check_indexes`]
//! reports what is missing without changing anything. Importing users from the older
//! django-mongodb-engine ("mango") layout is in [`import`].
//!
//! User ids are ObjectIds by default; integers from a counters collection and strings (such as
//! the e-mail) are options ([`MongoConfig::user_id`]). Whatever the kind, an id travels as a
//! string in `_auth_user_id`, reset tokens and `uidb64`.
//!
//! ```no_run
//! use sesame_mongodb::{MongoAuthStore, MongoConfig, MongoSessionStore, migrate};
//! use sesame_core::auth::{IdKind, NewUser, UserStore};
//! use sesame_core::auth::hashers::Hashers;
//! use sesame_core::session::SessionCodec;
//! use std::time::Duration;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = MongoConfig::new("mongodb://127.0.0.1:27017/mysite")
//!     .with_user_id(IdKind::ObjectId)
//!     .with_timeout(Duration::from_secs(2));
//! let db = config.connect().await?;
//! migrate(&db).await?; // unique indexes, and the TTL index on expire_date
//! let sessions = MongoSessionStore::new(db.clone(), SessionCodec::new("secret"));
//! let users = MongoAuthStore::new(db.clone());
//! let password = Hashers::django_default("5.2")?.make_password(Some("s3cret pass"))?;
//! let alice = users.create_user(NewUser::new("alice", "alice@example.com", password)).await?;
//! println!("alice is {}", alice.id); // an ObjectId, as a string in sessions and tokens
//! // The driver's handle, for the application's own queries on the same collections:
//! let raw = db.database().collection::<mongodb::bson::Document>("auth_user");
//! # Ok(()) }
//! ```

mod auth;
mod config;
mod error;
mod ids;
pub mod import;
mod indexes;
mod session_user;
mod sessions;
mod throttle;

pub use auth::{EXTRA_FIELD, MongoAuthStore};
pub use config::{Collections, MongoConfig, MongoDb};
pub use error::{DUPLICATE_KEY, MongoError, is_duplicate_key};
pub use indexes::{
    ExistingIndex, IndexProblem, IndexSpec, MigrateReport, check_indexes, list_indexes, make_ttl,
    migrate, required_indexes,
};
pub use mongodb;
pub use session_user::MongoSessionWithUser;
pub use sessions::{CLEAR_BATCH, MongoSessionStore, USER_ID_FIELD};
pub use throttle::{MongoThrottleStore, THROTTLE_COLLECTION, THROTTLE_TTL_INDEX};

/// The readers of stored documents that the crate keeps to itself, opened to the fuzz targets
/// of `crates/sesame-fuzz` (a document in the database is outside input: Django, a migration
/// or anyone with write access may have put anything there). Not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use mongodb::bson::Document;
    use sesame_core::auth::{AuthStoreError, User};

    /// A user document as Django's model reads it (what every user lookup runs).
    pub fn user_from_doc(d: &Document, collection: &str) -> Result<User, AuthStoreError> {
        crate::auth::user_from_doc(d, collection)
    }
}
