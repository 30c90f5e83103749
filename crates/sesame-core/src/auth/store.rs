//! The store traits of users ([`UserStore`]), groups ([`GroupStore`]) and permissions
//! ([`PermissionStore`]) as Django's `auth` tables hold them, and [`AuthStore`], all three.
//! The rules about them (who has which permission) live in [`super::backend`].

use super::{ContentType, Group, Id, NewUser, Permission, User, UserField};
use crate::session::BoxError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// What an auth store can report.
#[derive(Debug, thiserror::Error)]
pub enum AuthStoreError {
    /// A user with this username exists (`A user with that username already exists.`).
    #[error("a user with the username {0:?} already exists")]
    DuplicateUsername(String),
    /// A user with this e-mail exists, in stores configured to keep e-mails unique.
    #[error("a user with the e-mail {0:?} already exists")]
    DuplicateEmail(String),
    /// A user with this primary key exists (string keys).
    #[error("a user with the id {0:?} already exists")]
    DuplicateId(String),
    /// A group with this name exists.
    #[error("a group named {0:?} already exists")]
    DuplicateGroup(String),
    /// The user, group, permission or content type does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The id is not of the kind this store uses.
    #[error("invalid id: {0}")]
    InvalidId(String),
    /// A value does not fit the schema (too long, malformed).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// The store cannot be reached; retrying later may succeed.
    #[error("the auth store is unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// Any other failure of the store.
    #[error("the auth store failed: {0}")]
    Backend(#[source] BoxError),
}

/// Users, and what the login and request path ask about them: the storage behind
/// [`ModelBackend`](super::ModelBackend).
///
/// This is all an application needs to implement to log users in over its own user table.
/// Groups and permissions are managed through [`GroupStore`] and [`PermissionStore`]; the
/// permission *lookups* the backend makes on every permission check are here, so that the
/// backend depends on this trait alone.
///
/// # Examples
///
/// ```
/// use sesame_core::auth::{MemoryAuthStore, NewUser, UserField, UserStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryAuthStore::new();
/// let alice = store.create_user(NewUser::new("alice", "alice@example.com", "!")).await?;
/// store.update_user(&alice.id, &[UserField::FirstName("Alice".into())]).await?;
///
/// let found = store.get_user_by_username("alice").await?.expect("created");
/// assert_eq!(found.first_name, "Alice");
/// assert_eq!(store.get_users_by_email("ALICE@example.com").await?.len(), 1);
/// assert!(store.get_all_permissions(&alice.id).await?.is_empty());
/// # Ok::<(), sesame_core::auth::AuthStoreError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// A short name for logs and errors.
    fn name(&self) -> &'static str;

    /// The kind of user ids, to parse `_auth_user_id` and `uidb64`.
    fn user_id_kind(&self) -> super::IdKind;

    /// Insert a user; [`AuthStoreError::DuplicateUsername`] if the username is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, AuthStoreError>;

    /// A user by primary key.
    async fn get_user(&self, id: &Id) -> Result<Option<User>, AuthStoreError>;

    /// A user by exact username (`get_by_natural_key`).
    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>, AuthStoreError>;

    /// Users whose e-mail matches case-insensitively (`email__iexact`, for password resets).
    async fn get_users_by_email(&self, email: &str) -> Result<Vec<User>, AuthStoreError>;

    /// Users ordered by id.
    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, AuthStoreError>;

    /// Change named fields; [`AuthStoreError::NotFound`] if the user is gone.
    async fn update_user(&self, id: &Id, changes: &[UserField]) -> Result<(), AuthStoreError>;

    /// Store a new encoded password.
    async fn set_password(&self, id: &Id, encoded: &str) -> Result<(), AuthStoreError> {
        self.update_user(id, &[UserField::Password(encoded.to_owned())])
            .await
    }

    /// Record a login (`update_last_login`).
    async fn update_last_login(&self, id: &Id, at: DateTime<Utc>) -> Result<(), AuthStoreError> {
        self.update_user(id, &[UserField::LastLogin(Some(at))])
            .await
    }

    /// Delete a user and its group and permission links; whether it existed.
    async fn delete_user(&self, id: &Id) -> Result<bool, AuthStoreError>;

    /// `app_label.codename` of the user's direct permissions.
    async fn get_user_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError>;

    /// `app_label.codename` of the permissions of the user's groups (empty for a store
    /// without groups).
    async fn get_group_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError>;

    /// User ∪ group permissions. Stores should answer in one query.
    async fn get_all_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let mut all = self.get_user_permissions(user).await?;
        all.extend(self.get_group_permissions(user).await?);
        Ok(all)
    }

    /// Every permission string (what an active superuser has).
    async fn all_permission_strings(&self) -> Result<BTreeSet<String>, AuthStoreError>;
}

/// Groups and membership: Django's `auth_group` and `auth_user_groups`.
///
/// # Examples
///
/// ```
/// use sesame_core::auth::{GroupStore, MemoryAuthStore, NewUser, UserStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryAuthStore::new();
/// let bob = store.create_user(NewUser::new("bob", "", "!")).await?;
/// let editors = store.create_group("editors").await?;
/// store.add_user_to_group(&bob.id, &editors.id).await?;
/// store.add_user_to_group(&bob.id, &editors.id).await?; // idempotent
/// assert_eq!(store.user_groups(&bob.id).await?.len(), 1);
/// assert!(store.delete_group(&editors.id).await?);
/// assert!(store.user_groups(&bob.id).await?.is_empty());
/// # Ok::<(), sesame_core::auth::AuthStoreError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
    /// Insert a group; [`AuthStoreError::DuplicateGroup`] if the name is taken.
    async fn create_group(&self, name: &str) -> Result<Group, AuthStoreError>;

    /// A group by name.
    async fn get_group_by_name(&self, name: &str) -> Result<Option<Group>, AuthStoreError>;

    /// Every group, by name.
    async fn list_groups(&self) -> Result<Vec<Group>, AuthStoreError>;

    /// Delete a group and its links; whether it existed.
    async fn delete_group(&self, id: &Id) -> Result<bool, AuthStoreError>;

    /// Put a user in a group (idempotent).
    async fn add_user_to_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError>;

    /// Take a user out of a group (idempotent).
    async fn remove_user_from_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError>;

    /// The groups of a user.
    async fn user_groups(&self, user: &Id) -> Result<Vec<Group>, AuthStoreError>;
}

/// Content types, permissions and who is granted them: Django's `django_content_type`,
/// `auth_permission`, `auth_user_user_permissions` and `auth_group_permissions`.
///
/// # Examples
///
/// ```
/// use sesame_core::auth::{MemoryAuthStore, NewUser, PermissionStore, UserStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryAuthStore::new();
/// let carol = store.create_user(NewUser::new("carol", "", "!")).await?;
/// let post = store.get_or_create_content_type("blog", "post").await?;
/// let publish = store.get_or_create_permission(&post, "publish_post", "Can publish").await?;
/// store.grant_user_permission(&carol.id, &publish.id).await?;
/// assert!(store.get_all_permissions(&carol.id).await?.contains("blog.publish_post"));
/// assert!(store.get_permission("blog", "publish_post").await?.is_some());
/// # Ok::<(), sesame_core::auth::AuthStoreError>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait PermissionStore: Send + Sync + 'static {
    /// The content type of a model, created if missing.
    async fn get_or_create_content_type(
        &self,
        app_label: &str,
        model: &str,
    ) -> Result<ContentType, AuthStoreError>;

    /// A permission, created if missing (`(content_type, codename)` is unique).
    async fn get_or_create_permission(
        &self,
        content_type: &ContentType,
        codename: &str,
        name: &str,
    ) -> Result<Permission, AuthStoreError>;

    /// A permission by `app_label` and codename.
    async fn get_permission(
        &self,
        app_label: &str,
        codename: &str,
    ) -> Result<Option<Permission>, AuthStoreError>;

    /// Every permission, ordered by app label, model and codename.
    async fn list_permissions(&self) -> Result<Vec<Permission>, AuthStoreError>;

    /// Give a user a permission directly (idempotent).
    async fn grant_user_permission(&self, user: &Id, permission: &Id)
    -> Result<(), AuthStoreError>;

    /// Take a direct permission away (idempotent).
    async fn revoke_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError>;

    /// Give a group a permission (idempotent).
    async fn grant_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError>;

    /// Take a permission away from a group (idempotent).
    async fn revoke_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError>;
}

/// Everything Django's `auth` tables hold: users, groups and permissions, for code that
/// manages all of them (the CLI, [`create_default_permissions`], the conformance suite).
/// Implemented by every type that implements the three parts; an `Arc<dyn AuthStore>`
/// converts to an `Arc<dyn UserStore>` for the backend.
pub trait AuthStore: UserStore + GroupStore + PermissionStore {}

impl<T: UserStore + GroupStore + PermissionStore> AuthStore for T {}

/// [`UserStore::all_permission_strings`] for a store that lists its permissions anyway.
pub async fn permission_strings(
    store: &dyn PermissionStore,
) -> Result<BTreeSet<String>, AuthStoreError> {
    Ok(store
        .list_permissions()
        .await?
        .iter()
        .map(Permission::perm_string)
        .collect())
}

/// The models of a fresh Django project with `auth`, `contenttypes` and `sessions`:
/// `(app_label, model, verbose_name)`.
pub const DEFAULT_MODELS: &[(&str, &str, &str)] = &[
    ("auth", "permission", "permission"),
    ("auth", "group", "group"),
    ("auth", "user", "user"),
    ("contenttypes", "contenttype", "content type"),
    ("sessions", "session", "session"),
];

/// Django's `default_permissions`.
pub const DEFAULT_ACTIONS: &[&str] = &["add", "change", "delete", "view"];

/// `create_permissions`: the content types of [`DEFAULT_MODELS`] and their four default
/// permissions (`add_user`, "Can add user", ...), creating only what is missing.
pub async fn create_default_permissions(
    store: &dyn PermissionStore,
) -> Result<Vec<Permission>, AuthStoreError> {
    let mut created = Vec::new();
    for (app_label, model, verbose) in DEFAULT_MODELS {
        let ct = store.get_or_create_content_type(app_label, model).await?;
        for action in DEFAULT_ACTIONS {
            created.push(
                store
                    .get_or_create_permission(
                        &ct,
                        &format!("{action}_{model}"),
                        &format!("Can {action} {verbose}"),
                    )
                    .await?,
            );
        }
    }
    Ok(created)
}
