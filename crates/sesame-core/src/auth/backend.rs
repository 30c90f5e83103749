//! Django's `ModelBackend` rules: authentication with timing equalised for unknown users and
//! upgrade-on-login, and permissions (inactive users have none, active superusers have all,
//! everyone else user ∪ group permissions).

use super::hashers::{HashError, PasswordHashing};
use super::store::{AuthStoreError, UserStore};
use super::{Id, User};
use crate::session::StoreError;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What authentication and login can fail with (never "wrong password": that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The auth store failed.
    #[error(transparent)]
    Store(#[from] AuthStoreError),
    /// The session store failed.
    #[error(transparent)]
    Session(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// `login` was given a user whose `backend` names no configured backend (a programming
    /// or configuration error, not an outage).
    #[error("no configured authentication backend has the path {0:?}")]
    UnknownBackend(String),
}

/// An authentication backend, as listed in Django's `AUTHENTICATION_BACKENDS`: it checks
/// credentials, finds the user of a session, and knows the user's permissions. [`super::Auth`]
/// tries a chain of them in order and records the one that accepted in
/// `_auth_user_backend`.
#[async_trait::async_trait]
pub trait AuthenticationBackend: Send + Sync + 'static {
    /// The dotted path written into `_auth_user_backend` (Django accepts a session only if
    /// it names one of its own backends).
    fn path(&self) -> &str;

    /// `authenticate(username=..., password=...)`: `Ok(None)` for "not me / wrong".
    async fn authenticate(&self, username: &str, password: &str)
    -> Result<Option<User>, AuthError>;

    /// `get_user(user_id)` for the id stored in the session (a string).
    async fn get_user(&self, id: &str) -> Result<Option<User>, AuthError>;

    /// The user's permissions.
    async fn user_permissions(&self, user: &User) -> Result<UserPermissions, AuthError>;

    /// The user's permissions from a set a store fetched together with the session, by
    /// `ModelBackend`'s rule (every permission for a superuser, user ∪ group otherwise); see
    /// [`SessionUserStore::load_session_with_user_and_permissions`]. A backend whose rule is
    /// another returns `None` (the default), and [`Self::user_permissions`] is asked instead.
    ///
    /// [`SessionUserStore::load_session_with_user_and_permissions`]: crate::session::SessionUserStore::load_session_with_user_and_permissions
    fn prefetched_permissions(
        &self,
        _user: &User,
        _prefetched: &BTreeSet<String>,
    ) -> Option<UserPermissions> {
        None
    }

    /// Record a successful login (`last_login`).
    async fn user_logged_in(
        &self,
        user: &User,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), AuthError>;
}

/// `django.contrib.auth.backends.ModelBackend` over a [`UserStore`] (an
/// `Arc<dyn AuthStore>` converts to one).
#[derive(Clone)]
pub struct ModelBackend {
    store: Arc<dyn UserStore>,
    hashing: PasswordHashing,
    path: String,
}

impl std::fmt::Debug for ModelBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelBackend")
            .field("store", &self.store.name())
            .finish()
    }
}

impl ModelBackend {
    /// A backend over a store, hashing on the given pool.
    pub fn new(store: Arc<dyn UserStore>, hashing: PasswordHashing) -> Self {
        Self {
            store,
            hashing,
            path: super::MODEL_BACKEND_PATH.to_owned(),
        }
    }

    /// Write another path into `_auth_user_backend` (`SESAME_AUTH_BACKEND_PATH`).
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn UserStore> {
        &self.store
    }

    /// The hashing pool.
    pub fn hashing(&self) -> &PasswordHashing {
        &self.hashing
    }

    /// `authenticate(username=..., password=...)`.
    ///
    /// An unknown username costs one hash with the preferred hasher, the same as a wrong
    /// password; the password is checked before `is_active`, so inactive users cost the same
    /// too. A correct password stored with outdated parameters is rehashed and saved.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AuthError> {
        let Some(mut user) = self.store.get_user_by_username(username).await? else {
            self.hashing.fake_hash().await?;
            return Ok(None);
        };
        let check = self
            .hashing
            .verify_password(password.to_owned(), user.password.clone())
            .await?;
        if !check.valid {
            return Ok(None);
        }
        if check.must_update {
            let encoded = self.hashing.make_password(password.to_owned()).await?;
            self.store.set_password(&user.id, &encoded).await?;
            user.password = encoded;
        }
        Ok(user.is_active.then_some(user))
    }

    /// `get_user(id)`: `None` for a missing or inactive user.
    pub async fn get_user(&self, id: &Id) -> Result<Option<User>, AuthError> {
        Ok(self.store.get_user(id).await?.filter(|u| u.is_active))
    }

    /// The user's permissions, loaded once (cache the result for the request).
    pub async fn user_permissions(&self, user: &User) -> Result<UserPermissions, AuthError> {
        Ok(UserPermissions::load(self.store.as_ref(), user).await?)
    }
}

#[async_trait::async_trait]
impl AuthenticationBackend for ModelBackend {
    fn path(&self) -> &str {
        &self.path
    }

    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, AuthError> {
        ModelBackend::authenticate(self, username, password).await
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, AuthError> {
        match Id::parse(id, self.store.user_id_kind()) {
            Ok(id) => ModelBackend::get_user(self, &id).await,
            Err(_) => Ok(None),
        }
    }

    async fn user_permissions(&self, user: &User) -> Result<UserPermissions, AuthError> {
        ModelBackend::user_permissions(self, user).await
    }

    fn prefetched_permissions(
        &self,
        user: &User,
        prefetched: &BTreeSet<String>,
    ) -> Option<UserPermissions> {
        // The same rule as `UserPermissions::load`: an inactive user has none.
        let perms = if user.is_active {
            prefetched.clone()
        } else {
            BTreeSet::new()
        };
        Some(UserPermissions::new(
            user.is_active,
            user.is_superuser,
            perms,
        ))
    }

    async fn user_logged_in(
        &self,
        user: &User,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), AuthError> {
        Ok(self.store.update_last_login(&user.id, at).await?)
    }
}

/// A user's permissions for one request: `has_perm`, `has_perms`, `has_module_perms`.
///
/// ```
/// use sesame_core::auth::UserPermissions;
/// let p = UserPermissions::new(true, false, ["blog.add_post".to_owned()]);
/// assert!(p.has_perm("blog.add_post"));
/// assert!(!p.has_perms(&["blog.add_post", "blog.delete_post"]));
/// assert!(p.has_module_perms("blog"));
/// assert!(UserPermissions::new(true, true, []).has_perm("anything.at_all"));
/// assert!(!UserPermissions::new(false, true, ["blog.add_post".to_owned()]).has_perm("blog.add_post"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPermissions {
    is_active: bool,
    is_superuser: bool,
    perms: BTreeSet<String>,
}

impl UserPermissions {
    /// Permissions of a user with these flags and `app_label.codename` strings.
    pub fn new(
        is_active: bool,
        is_superuser: bool,
        perms: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            is_active,
            is_superuser,
            perms: perms.into_iter().collect(),
        }
    }

    /// `ModelBackend`'s rule over a store: none for an inactive user, every permission for an
    /// active superuser, user ∪ group permissions (one query) otherwise.
    pub async fn load(store: &dyn UserStore, user: &User) -> Result<Self, AuthStoreError> {
        let perms = if !user.is_active {
            BTreeSet::new()
        } else if user.is_superuser {
            store.all_permission_strings().await?
        } else {
            store.get_all_permissions(&user.id).await?
        };
        Ok(Self::new(user.is_active, user.is_superuser, perms))
    }

    /// No permissions at all: the anonymous user.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// `get_all_permissions()`.
    pub fn all(&self) -> &BTreeSet<String> {
        &self.perms
    }

    /// `has_perm(perm)`: an active superuser has every permission.
    pub fn has_perm(&self, perm: &str) -> bool {
        self.is_active && (self.is_superuser || self.perms.contains(perm))
    }

    /// `has_perms(perms)`: all of them.
    pub fn has_perms<S: AsRef<str>>(&self, perms: &[S]) -> bool {
        perms.iter().all(|p| self.has_perm(p.as_ref()))
    }

    /// `has_module_perms(app_label)`: any permission in the app.
    pub fn has_module_perms(&self, app_label: &str) -> bool {
        self.is_active
            && (self.is_superuser
                || self
                    .perms
                    .iter()
                    .any(|p| p.split_once('.').is_some_and(|(a, _)| a == app_label)))
    }
}
