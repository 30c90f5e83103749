//! An in-process [`AuthStore`](super::AuthStore) with integer ids, for tests and single-process services.

use super::store::{AuthStoreError, GroupStore, PermissionStore, UserStore, permission_strings};
use super::{ContentType, Group, Id, IdKind, NewUser, Permission, User, UserField};
use async_trait::async_trait;
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Inner {
    next_id: i64,
    users: BTreeMap<Id, User>,
    groups: BTreeMap<Id, Group>,
    content_types: BTreeMap<Id, ContentType>,
    permissions: BTreeMap<Id, Permission>,
    user_groups: BTreeSet<(Id, Id)>,
    user_permissions: BTreeSet<(Id, Id)>,
    group_permissions: BTreeSet<(Id, Id)>,
}

impl Inner {
    fn next(&mut self) -> Id {
        self.next_id += 1;
        Id::Int(self.next_id)
    }

    fn perm_strings<'a>(&'a self, ids: impl Iterator<Item = &'a Id>) -> BTreeSet<String> {
        ids.filter_map(|p| self.permissions.get(p))
            .map(Permission::perm_string)
            .collect()
    }
}

/// Users, groups and permissions in memory.
#[derive(Debug, Default)]
pub struct MemoryAuthStore {
    inner: Mutex<Inner>,
}

impl MemoryAuthStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every mutation below is a single insert or remove, so a poisoned map is consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_found(what: &str, id: &Id) -> AuthStoreError {
    AuthStoreError::NotFound(format!("{what} {id}"))
}

#[async_trait]
impl UserStore for MemoryAuthStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn user_id_kind(&self) -> IdKind {
        IdKind::Int
    }

    async fn create_user(&self, new: NewUser) -> Result<User, AuthStoreError> {
        new.validate()?;
        let mut inner = self.lock();
        if inner.users.values().any(|u| u.username == new.username) {
            return Err(AuthStoreError::DuplicateUsername(new.username));
        }
        let id = match new.id {
            Some(id) if inner.users.contains_key(&id) => {
                return Err(AuthStoreError::DuplicateId(id.to_string()));
            }
            Some(id) => id,
            None => inner.next(),
        };
        let user = User {
            id: id.clone(),
            password: new.password,
            last_login: None,
            is_superuser: new.is_superuser,
            username: new.username,
            first_name: new.first_name,
            last_name: new.last_name,
            email: new.email,
            is_staff: new.is_staff,
            is_active: new.is_active,
            date_joined: Utc::now(),
            extra: new.extra,
            backend: None,
        };
        inner.users.insert(id, user.clone());
        Ok(user)
    }

    async fn get_user(&self, id: &Id) -> Result<Option<User>, AuthStoreError> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>, AuthStoreError> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.username == username)
            .cloned())
    }

    async fn get_users_by_email(&self, email: &str) -> Result<Vec<User>, AuthStoreError> {
        let email = email.to_lowercase();
        Ok(self
            .lock()
            .users
            .values()
            .filter(|u| u.email.to_lowercase() == email)
            .cloned()
            .collect())
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, AuthStoreError> {
        Ok(self
            .lock()
            .users
            .values()
            .skip(offset as usize)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn update_user(&self, id: &Id, changes: &[UserField]) -> Result<(), AuthStoreError> {
        let mut inner = self.lock();
        for change in changes {
            if let UserField::Username(name) = change {
                if inner
                    .users
                    .values()
                    .any(|u| &u.username == name && &u.id != id)
                {
                    return Err(AuthStoreError::DuplicateUsername(name.clone()));
                }
            }
        }
        let user = inner
            .users
            .get_mut(id)
            .ok_or_else(|| not_found("user", id))?;
        for change in changes {
            change.apply(user);
        }
        Ok(())
    }

    async fn delete_user(&self, id: &Id) -> Result<bool, AuthStoreError> {
        let mut inner = self.lock();
        inner.user_groups.retain(|(u, _)| u != id);
        inner.user_permissions.retain(|(u, _)| u != id);
        Ok(inner.users.remove(id).is_some())
    }

    async fn get_user_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let inner = self.lock();
        Ok(inner.perm_strings(
            inner
                .user_permissions
                .iter()
                .filter(|(u, _)| u == user)
                .map(|(_, p)| p),
        ))
    }

    async fn get_group_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let inner = self.lock();
        let groups: BTreeSet<&Id> = inner
            .user_groups
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, g)| g)
            .collect();
        Ok(inner.perm_strings(
            inner
                .group_permissions
                .iter()
                .filter(|(g, _)| groups.contains(g))
                .map(|(_, p)| p),
        ))
    }

    async fn all_permission_strings(&self) -> Result<BTreeSet<String>, AuthStoreError> {
        permission_strings(self).await
    }
}

#[async_trait]
impl GroupStore for MemoryAuthStore {
    async fn create_group(&self, name: &str) -> Result<Group, AuthStoreError> {
        let mut inner = self.lock();
        if inner.groups.values().any(|g| g.name == name) {
            return Err(AuthStoreError::DuplicateGroup(name.to_owned()));
        }
        let group = Group {
            id: inner.next(),
            name: name.to_owned(),
        };
        inner.groups.insert(group.id.clone(), group.clone());
        Ok(group)
    }

    async fn get_group_by_name(&self, name: &str) -> Result<Option<Group>, AuthStoreError> {
        Ok(self
            .lock()
            .groups
            .values()
            .find(|g| g.name == name)
            .cloned())
    }

    async fn list_groups(&self) -> Result<Vec<Group>, AuthStoreError> {
        let mut groups: Vec<_> = self.lock().groups.values().cloned().collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    async fn delete_group(&self, id: &Id) -> Result<bool, AuthStoreError> {
        let mut inner = self.lock();
        inner.user_groups.retain(|(_, g)| g != id);
        inner.group_permissions.retain(|(g, _)| g != id);
        Ok(inner.groups.remove(id).is_some())
    }

    async fn add_user_to_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError> {
        let mut inner = self.lock();
        if !inner.users.contains_key(user) {
            return Err(not_found("user", user));
        }
        if !inner.groups.contains_key(group) {
            return Err(not_found("group", group));
        }
        inner.user_groups.insert((user.clone(), group.clone()));
        Ok(())
    }

    async fn remove_user_from_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError> {
        self.lock()
            .user_groups
            .remove(&(user.clone(), group.clone()));
        Ok(())
    }

    async fn user_groups(&self, user: &Id) -> Result<Vec<Group>, AuthStoreError> {
        let inner = self.lock();
        Ok(inner
            .user_groups
            .iter()
            .filter(|(u, _)| u == user)
            .filter_map(|(_, g)| inner.groups.get(g).cloned())
            .collect())
    }
}

#[async_trait]
impl PermissionStore for MemoryAuthStore {
    async fn get_or_create_content_type(
        &self,
        app_label: &str,
        model: &str,
    ) -> Result<ContentType, AuthStoreError> {
        let mut inner = self.lock();
        if let Some(ct) = inner
            .content_types
            .values()
            .find(|c| c.app_label == app_label && c.model == model)
        {
            return Ok(ct.clone());
        }
        let ct = ContentType {
            id: inner.next(),
            app_label: app_label.to_owned(),
            model: model.to_owned(),
        };
        inner.content_types.insert(ct.id.clone(), ct.clone());
        Ok(ct)
    }

    async fn get_or_create_permission(
        &self,
        content_type: &ContentType,
        codename: &str,
        name: &str,
    ) -> Result<Permission, AuthStoreError> {
        let mut inner = self.lock();
        if let Some(p) = inner
            .permissions
            .values()
            .find(|p| p.content_type.id == content_type.id && p.codename == codename)
        {
            return Ok(p.clone());
        }
        let p = Permission {
            id: inner.next(),
            name: name.to_owned(),
            content_type: content_type.clone(),
            codename: codename.to_owned(),
        };
        inner.permissions.insert(p.id.clone(), p.clone());
        Ok(p)
    }

    async fn get_permission(
        &self,
        app_label: &str,
        codename: &str,
    ) -> Result<Option<Permission>, AuthStoreError> {
        Ok(self
            .lock()
            .permissions
            .values()
            .find(|p| p.content_type.app_label == app_label && p.codename == codename)
            .cloned())
    }

    async fn list_permissions(&self) -> Result<Vec<Permission>, AuthStoreError> {
        let mut perms: Vec<_> = self.lock().permissions.values().cloned().collect();
        perms.sort_by(|a, b| {
            (
                &a.content_type.app_label,
                &a.content_type.model,
                &a.codename,
            )
                .cmp(&(
                    &b.content_type.app_label,
                    &b.content_type.model,
                    &b.codename,
                ))
        });
        Ok(perms)
    }

    async fn grant_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        let mut inner = self.lock();
        if !inner.users.contains_key(user) {
            return Err(not_found("user", user));
        }
        if !inner.permissions.contains_key(permission) {
            return Err(not_found("permission", permission));
        }
        inner
            .user_permissions
            .insert((user.clone(), permission.clone()));
        Ok(())
    }

    async fn revoke_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        self.lock()
            .user_permissions
            .remove(&(user.clone(), permission.clone()));
        Ok(())
    }

    async fn grant_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        let mut inner = self.lock();
        if !inner.groups.contains_key(group) {
            return Err(not_found("group", group));
        }
        if !inner.permissions.contains_key(permission) {
            return Err(not_found("permission", permission));
        }
        inner
            .group_permissions
            .insert((group.clone(), permission.clone()));
        Ok(())
    }

    async fn revoke_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        self.lock()
            .group_permissions
            .remove(&(group.clone(), permission.clone()));
        Ok(())
    }
}
