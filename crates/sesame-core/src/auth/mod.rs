//! `django.contrib.auth` without a web framework: users, groups and permissions, password
//! hashers and validators, reset tokens, the `ModelBackend` rules and login state in the
//! session.
//!
//! ```
//! use sesame_core::auth::{Auth, ModelBackend, MemoryAuthStore, NewUser, UserStore};
//! use sesame_core::auth::hashers::{Hashers, PasswordHashing};
//! use sesame_core::session::{MemorySessionStore, Session, SessionCodec, SessionConfig};
//! use std::sync::Arc;
//! # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
//! let hashing = PasswordHashing::new(Hashers::from_names(&["md5"], "5.2").unwrap(), 0);
//! let store = Arc::new(MemoryAuthStore::new());
//! let encoded = hashing.make_password("correct horse".into()).await.unwrap();
//! store.create_user(NewUser::new("alice", "alice@example.com", encoded)).await.unwrap();
//! let auth = Auth::new(ModelBackend::new(store, hashing), "secret".into(), vec![],
//!     "django.contrib.auth.backends.ModelBackend".into());
//!
//! let mut user = auth.authenticate("alice", "correct horse").await.unwrap().unwrap();
//! assert!(auth.authenticate("alice", "wrong").await.unwrap().is_none());
//! let sessions = Arc::new(MemorySessionStore::new(SessionCodec::new("secret")));
//! let mut session = Session::new(sessions, SessionConfig::default(), None);
//! auth.login(&mut session, &mut user).await.unwrap();
//! assert_eq!(auth.get_user(&mut session).await.unwrap().unwrap().username, "alice");
//! # });
//! ```

pub mod backend;
pub mod hashers;
pub mod login;
pub mod memory;
pub mod store;
pub mod throttle;
pub mod tokens;
mod unicode_tables;
pub mod user;
pub mod validators;

pub use backend::{AuthError, AuthenticationBackend, ModelBackend, UserPermissions};
pub use login::{Auth, BACKEND_SESSION_KEY, HASH_SESSION_KEY, MODEL_BACKEND_PATH, SESSION_KEY};
pub use memory::MemoryAuthStore;
pub use store::{
    AuthStore, AuthStoreError, GroupStore, PermissionStore, UserStore, create_default_permissions,
};
pub use user::{
    AnonymousUser, ContentType, Group, Id, IdKind, InvalidId, NewUser, ObjectId, Permission, User,
    UserField, normalize_email, normalize_username, split_perm, validate_username,
};
