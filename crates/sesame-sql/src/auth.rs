//! Users, groups and permissions in Django's `auth_*` and `django_content_type` tables.

use crate::db::{Backend, BindTime, Db, GetTime, SqlError, is_unique_violation, with_pool};
use async_trait::async_trait;
use chrono::Utc;
use sesame_core::auth::store::{AuthStoreError, GroupStore, PermissionStore, UserStore};
use sesame_core::auth::{ContentType, Group, Id, IdKind, NewUser, Permission, User, UserField};
use sesame_core::session::PrefetchedSession;
use sqlx::Row;
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

/// A parameter of any of the column types Django's auth tables use.
#[derive(Debug, Clone, Copy)]
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
    Bool(bool),
    Time(Option<chrono::DateTime<Utc>>),
}

/// Bind every parameter to a query of whichever driver.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match *b {
                Bind::Int(i) => q.bind(i),
                Bind::Text(t) => q.bind(t),
                Bind::Bool(v) => q.bind(v),
                Bind::Time(t) => q.bind_opt_time(t),
            };
        }
        q
    }};
}

/// Sesame's one table of its own: profile fields beyond Django's (`User::extra`), as JSON.
/// Django ignores it; `sesame migrate` creates it.
pub const EXTRA_TABLE: &str = "sesame_user_extra";

const USER_COLUMNS: &str = "u.id, u.password, u.last_login, u.is_superuser, u.username, u.first_name, \
     u.last_name, u.email, u.is_staff, u.is_active, u.date_joined";

/// The `auth` store over Django's tables.
#[derive(Debug, Clone)]
pub struct SqlAuthStore {
    db: Db,
    has_extra: bool,
    // The session-user join without and with permissions, built on first use.
    joined_sql: Arc<[OnceLock<String>; 2]>,
    // Which store's reads the inline reader remembers (`SqliteReader::read_unchanged`): the
    // statement depends on `has_extra`, so two stores over one database must not share them.
    read_scope: u64,
}

/// A fresh `SqlAuthStore::read_scope`.
fn next_read_scope() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(2, std::sync::atomic::Ordering::Relaxed)
}

fn int_id(id: &Id) -> Result<i64, AuthStoreError> {
    match id {
        Id::Int(i) => Ok(*i),
        other => Err(AuthStoreError::InvalidId(format!(
            "{other}: SQL stores use integer ids"
        ))),
    }
}

fn auth_to_store(e: AuthStoreError) -> sesame_core::session::StoreError {
    match e {
        AuthStoreError::Unavailable(e) => sesame_core::session::StoreError::Unavailable(e),
        other => sesame_core::session::StoreError::Backend(Box::new(other)),
    }
}

fn store_err(e: sqlx::Error) -> AuthStoreError {
    SqlError(e).into()
}

macro_rules! user_from_row {
    ($r:expr, $has_extra:expr) => {{
        let r = $r;
        let extra: Option<String> = if $has_extra {
            r.try_get("extra")?
        } else {
            None
        };
        User {
            id: Id::Int(i64::from(r.try_get::<i32, _>("id")?)),
            password: r.try_get("password")?,
            last_login: r.time("last_login")?,
            is_superuser: r.try_get("is_superuser")?,
            username: r.try_get("username")?,
            first_name: r.try_get("first_name")?,
            last_name: r.try_get("last_name")?,
            email: r.try_get("email")?,
            is_staff: r.try_get("is_staff")?,
            is_active: r.try_get("is_active")?,
            date_joined: r.time("date_joined")?.unwrap_or_default(),
            extra: extra
                .and_then(|e| serde_json::from_str(&e).ok())
                .unwrap_or_default(),
            backend: None,
        }
    }};
}

impl SqlAuthStore {
    /// A store over a connection; notices whether `sesame_user_extra` exists.
    pub async fn new(db: Db) -> Result<Self, AuthStoreError> {
        let has_extra = db.table_exists(EXTRA_TABLE).await;
        Ok(Self {
            db,
            has_extra,
            joined_sql: Arc::default(),
            read_scope: next_read_scope(),
        })
    }

    /// The connection.
    pub fn db(&self) -> &Db {
        &self.db
    }

    fn select_users(&self, where_clause: &str) -> String {
        let (extra_col, extra_join) = if self.has_extra {
            (
                ", x.data AS extra",
                format!(" LEFT JOIN {EXTRA_TABLE} x ON x.user_id = u.id"),
            )
        } else {
            ("", String::new())
        };
        self.db.sql(&format!(
            "SELECT {USER_COLUMNS}{extra_col} FROM auth_user u{extra_join} {where_clause}"
        ))
    }

    async fn fetch_users(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<User>, AuthStoreError> {
        let has_extra = self.has_extra;
        with_pool!(self.db, p => {
            let q = bind_all!(sqlx::query(sql), binds);
            let rows = q.fetch_all(p).await.map_err(store_err)?;
            rows.iter()
                .map(|r| -> Result<User, sqlx::Error> { Ok(user_from_row!(r, has_extra)) })
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_err)
        })
    }

    async fn set_extra(
        &self,
        user: i64,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AuthStoreError> {
        if extra.is_empty() {
            // No row for no profile fields: Django, which does not know the table, then
            // never meets one (and the FK cascades anyway on schemas Sesame creates).
            if self.has_extra {
                let delete = self
                    .db
                    .sql("DELETE FROM sesame_user_extra WHERE user_id = ?");
                with_pool!(self.db, p => sqlx::query(&delete).bind(user).execute(p).await.map(drop).map_err(store_err)?);
            }
            return Ok(());
        }
        if !self.has_extra {
            return Err(AuthStoreError::Invalid(format!(
                "extra profile fields need the {EXTRA_TABLE} table: run `sesame migrate`"
            )));
        }
        let json = serde_json::Value::Object(extra.clone()).to_string();
        let upsert = self.db.sql(match self.db.backend() {
            Backend::MySql => "INSERT INTO sesame_user_extra (user_id, data) VALUES (?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data)",
            _ => "INSERT INTO sesame_user_extra (user_id, data) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
        });
        with_pool!(self.db, p => sqlx::query(&upsert).bind(user).bind(&json).execute(p).await.map(drop).map_err(store_err)?);
        Ok(())
    }

    /// Insert and return the new integer id (`RETURNING id`, or MySQL's `LAST_INSERT_ID()`).
    async fn insert_returning_id(&self, sql: &str, binds: &[Bind<'_>]) -> Result<i64, sqlx::Error> {
        match &self.db.pool {
            #[cfg(feature = "sqlite")]
            crate::db::Pool::Sqlite(p) => {
                let returning = format!("{sql} RETURNING id");
                let row = bind_all!(sqlx::query(&returning), binds)
                    .fetch_one(p)
                    .await?;
                Ok(i64::from(row.try_get::<i32, _>(0)?))
            }
            #[cfg(feature = "postgres")]
            crate::db::Pool::Postgres(p) => {
                let returning = format!("{sql} RETURNING id");
                let row = bind_all!(sqlx::query(&returning), binds)
                    .fetch_one(p)
                    .await?;
                Ok(i64::from(row.try_get::<i32, _>(0)?))
            }
            #[cfg(feature = "mysql")]
            crate::db::Pool::MySql(p) => {
                let done = bind_all!(sqlx::query(sql), binds).execute(p).await?;
                Ok(done.last_insert_id() as i64)
            }
        }
    }

    async fn link(
        &self,
        table: &str,
        a_col: &str,
        a: &Id,
        b_col: &str,
        b: &Id,
    ) -> Result<(), AuthStoreError> {
        let (a, b) = (int_id(a)?, int_id(b)?);
        let sql = self.db.sql(&format!(
            "INSERT INTO {table} ({a_col}, {b_col}) VALUES (?, ?)"
        ));
        let result =
            with_pool!(self.db, p => sqlx::query(&sql).bind(a).bind(b).execute(p).await.map(drop));
        match result {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => Err(
                AuthStoreError::NotFound(format!("{a_col} {a} or {b_col} {b}")),
            ),
            Err(e) => Err(store_err(e)),
        }
    }

    async fn unlink(
        &self,
        table: &str,
        a_col: &str,
        a: &Id,
        b_col: &str,
        b: &Id,
    ) -> Result<(), AuthStoreError> {
        let (a, b) = (int_id(a)?, int_id(b)?);
        let sql = self.db.sql(&format!(
            "DELETE FROM {table} WHERE {a_col} = ? AND {b_col} = ?"
        ));
        with_pool!(self.db, p => sqlx::query(&sql).bind(a).bind(b).execute(p).await.map(drop).map_err(store_err)?);
        Ok(())
    }

    async fn perm_strings(
        &self,
        sql: &str,
        binds: &[i64],
    ) -> Result<BTreeSet<String>, AuthStoreError> {
        let sql = self.db.sql(sql);
        with_pool!(self.db, p => {
            let mut q = sqlx::query(&sql);
            for b in binds {
                q = q.bind(*b);
            }
            let rows = q.fetch_all(p).await.map_err(store_err)?;
            rows.iter()
                .map(|r| Ok(format!("{}.{}", r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
                .collect::<Result<BTreeSet<_>, sqlx::Error>>()
                .map_err(store_err)
        })
    }

    async fn fetch_permissions(
        &self,
        where_clause: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<Permission>, AuthStoreError> {
        let sql = self.db.sql(&format!(
            "SELECT p.id, p.name, p.codename, ct.id AS ct_id, ct.app_label, ct.model \
             FROM auth_permission p JOIN django_content_type ct ON p.content_type_id = ct.id {where_clause} \
             ORDER BY ct.app_label, ct.model, p.codename"
        ));
        with_pool!(self.db, p => {
            let q = bind_all!(sqlx::query(&sql), binds);
            let rows = q.fetch_all(p).await.map_err(store_err)?;
            rows.iter()
                .map(|r| -> Result<Permission, sqlx::Error> {
                    Ok(Permission {
                        id: Id::Int(i64::from(r.try_get::<i32, _>("id")?)),
                        name: r.try_get("name")?,
                        codename: r.try_get("codename")?,
                        content_type: ContentType {
                            id: Id::Int(i64::from(r.try_get::<i32, _>("ct_id")?)),
                            app_label: r.try_get("app_label")?,
                            model: r.try_get("model")?,
                        },
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(store_err)
        })
    }

    async fn fetch_groups(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<Group>, AuthStoreError> {
        let sql = self.db.sql(sql);
        with_pool!(self.db, p => {
            let q = bind_all!(sqlx::query(&sql), binds);
            let rows = q.fetch_all(p).await.map_err(store_err)?;
            rows.iter()
                .map(|r| Ok(Group { id: Id::Int(i64::from(r.try_get::<i32, _>("id")?)), name: r.try_get("name")? }))
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(store_err)
        })
    }

    /// The session and its logged-in user in one round trip: a join through Sesame's
    /// `sesame_session_user` index. Falls back to a second query when the index is absent,
    /// does not know the session (Django wrote it), or disagrees with `_auth_user_id`.
    /// The user is returned as stored: the caller still applies Django's rules (active,
    /// backend path, session auth hash).
    pub async fn load_session_with_user(
        &self,
        sessions: &crate::SqlSessionStore,
        key: &str,
    ) -> Result<
        Option<(sesame_core::session::SessionData, Option<User>)>,
        sesame_core::session::StoreError,
    > {
        Ok(self
            .load_session_joined(sessions, key, false)
            .await?
            .map(|p| (p.data, p.user)))
    }

    /// [`Self::load_session_with_user`], and in the same statement the user's permissions
    /// by `ModelBackend`'s rule (all of them for a superuser, user ∪ group otherwise), as a
    /// JSON array aggregated by the database. The permissions come only with a user found
    /// through the join; after a fallback query they are `None` (not fetched).
    pub async fn load_session_with_user_and_permissions(
        &self,
        sessions: &crate::SqlSessionStore,
        key: &str,
    ) -> Result<Option<PrefetchedSession>, sesame_core::session::StoreError> {
        self.load_session_joined(sessions, key, true).await
    }

    async fn load_session_joined(
        &self,
        sessions: &crate::SqlSessionStore,
        key: &str,
        with_permissions: bool,
    ) -> Result<Option<PrefetchedSession>, sesame_core::session::StoreError> {
        use sesame_core::session::SessionStore;
        if !sessions.is_valid_key(key) {
            return Ok(None);
        }
        if !sessions.has_user_index().await {
            return Ok(self
                .load_then_user(sessions, key)
                .await?
                .map(|(data, user)| PrefetchedSession {
                    data,
                    user,
                    permissions: None,
                }));
        }
        let sql = self.joined_sql(with_permissions);
        let has_extra = self.has_extra;
        let now = Utc::now();
        let scope = self.read_scope + u64::from(with_permissions);
        #[cfg(feature = "sqlite")]
        let inline = self.db.sqlite_reader().and_then(|reader| {
            reader.read_unchanged(scope, key, now, |conn| {
                let now = crate::db::sqlite_datetime(now);
                read_joined_row(conn, sql, key, &now, has_extra, with_permissions)
            })
        });
        // Without SQLite there is no inline reader: every read goes through sqlx.
        #[cfg(not(feature = "sqlite"))]
        let inline = {
            let _ = (scope, has_extra);
            None
        };
        let row = match inline {
            Some(row) => row,
            None => {
                self.read_joined_pooled(sql, key, now, with_permissions)
                    .await?
            }
        };
        let Some((encoded, user, perms)) = row else {
            return Ok(None);
        };
        let data = sessions.codec().decode(&encoded);
        let claimed: Option<String> = data
            .get(sesame_core::auth::SESSION_KEY)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let (user, permissions) = match (claimed, user) {
            (None, _) => (None, None),
            (Some(id), Some(u)) if u.id.to_string() == id => (Some(u), perms),
            (Some(id), _) => match Id::parse(&id, IdKind::Int) {
                Ok(id) => (self.get_user(&id).await.map_err(auth_to_store)?, None),
                Err(_) => (None, None),
            },
        };
        Ok(Some(PrefetchedSession {
            data,
            user,
            permissions,
        }))
    }

    /// The joined statement through sqlx: what every backend but a SQLite file's inline
    /// reader uses, and the reader's fallback.
    async fn read_joined_pooled(
        &self,
        sql: &str,
        key: &str,
        now: chrono::DateTime<Utc>,
        with_permissions: bool,
    ) -> Result<Option<Joined>, SqlError> {
        let has_extra = self.has_extra;
        with_pool!(self.db, p => {
            let row = sqlx::query(sql).bind(key).bind_time(now).fetch_optional(p).await?;
            row.map(|r| -> Result<Joined, sqlx::Error> {
                let data: String = r.try_get("session_data")?;
                let user = match r.try_get::<Option<i32>, _>("id")? {
                    Some(_) => Some(user_from_row!(&r, has_extra)),
                    None => None,
                };
                // A column that cannot be read as text is "not fetched": the permissions load
                // the usual way rather than failing the request.
                let perms = if with_permissions {
                    let text = |name: &str| r.try_get::<Option<String>, _>(name).ok().flatten();
                    permissions_from_columns(text("sesame_perms"), text("sesame_group_perms"))
                } else {
                    None
                };
                Ok((data, user, perms))
            })
            .transpose()
            .map_err(SqlError::from)
        })
    }

    /// The joined statement, made once per store and kind (it runs on every authenticated
    /// request).
    fn joined_sql(&self, with_permissions: bool) -> &str {
        let cell = if with_permissions {
            &self.joined_sql[1]
        } else {
            &self.joined_sql[0]
        };
        cell.get_or_init(|| {
            let (extra_col, extra_join) = if self.has_extra {
                (
                    ", x.data AS extra",
                    format!(" LEFT JOIN {EXTRA_TABLE} x ON x.user_id = u.id"),
                )
            } else {
                ("", String::new())
            };
            let perms_col = if with_permissions {
                // Two JSON arrays of `app_label.codename`, each from an index on the user's
                // own links: the direct permissions (every permission for a superuser) and
                // the groups' ones. One `p.id IN (... UNION ALL ...)` instead costs SQLite a
                // temporary table on every request.
                let (agg, label, wrap): (&str, &str, fn(String) -> String) = match self.db.backend()
                {
                    Backend::Sqlite => (
                        "json_group_array",
                        "ct.app_label || '.' || p.codename",
                        |q| format!("COALESCE(({q}), '[]')"),
                    ),
                    Backend::Postgres => ("json_agg", "ct.app_label || '.' || p.codename", |q| {
                        format!("COALESCE(({q})::text, '[]')")
                    }),
                    // MySQL 8 answers JSON (binary collation), which sqlx will not read
                    // as text; MariaDB answers text either way.
                    Backend::MySql => (
                        "JSON_ARRAYAGG",
                        // Both sides in one character set, so that tables of different
                        // collations cannot make CONCAT fail.
                        "CONCAT(CONVERT(ct.app_label USING utf8mb4), '.', \
                         CONVERT(p.codename USING utf8mb4))",
                        |q| format!("CAST(COALESCE(({q}), '[]') AS CHAR)"),
                    ),
                };
                let named = "JOIN auth_permission p ON p.id = {link}.permission_id \
                     JOIN django_content_type ct ON ct.id = p.content_type_id";
                let every = format!(
                    "SELECT {agg}({label}) FROM auth_permission p \
                     JOIN django_content_type ct ON ct.id = p.content_type_id"
                );
                let direct = format!(
                    "SELECT {agg}({label}) FROM auth_user_user_permissions up {} \
                     WHERE up.user_id = u.id",
                    named.replace("{link}", "up")
                );
                let groups = format!(
                    "SELECT {agg}({label}) FROM auth_user_groups ug \
                     JOIN auth_group_permissions gp ON gp.group_id = ug.group_id {} \
                     WHERE ug.user_id = u.id",
                    named.replace("{link}", "gp")
                );
                format!(
                    ", ({}) AS sesame_perms, ({}) AS sesame_group_perms",
                    wrap(format!(
                        "CASE WHEN u.is_superuser THEN ({every}) ELSE ({direct}) END"
                    )),
                    wrap(format!(
                        "CASE WHEN u.is_superuser THEN NULL ELSE ({groups}) END"
                    )),
                )
            } else {
                String::new()
            };
            self.db.sql(&format!(
                "SELECT s.session_data, {USER_COLUMNS}{extra_col}{perms_col}, s.expire_date \
                 FROM django_session s \
                 LEFT JOIN {} su ON su.session_key = s.session_key \
                 LEFT JOIN auth_user u ON u.id = su.user_id{extra_join} \
                 WHERE s.session_key = ? AND s.expire_date > ?",
                crate::sessions::SESSION_USER_TABLE
            ))
        })
    }

    /// The same result in two queries (the baseline the join is measured against).
    pub async fn load_then_user(
        &self,
        sessions: &crate::SqlSessionStore,
        key: &str,
    ) -> Result<
        Option<(sesame_core::session::SessionData, Option<User>)>,
        sesame_core::session::StoreError,
    > {
        use sesame_core::session::SessionStore;
        let Some(data) = sessions.load(key).await? else {
            return Ok(None);
        };
        let user = match data
            .get(sesame_core::auth::SESSION_KEY)
            .and_then(|v| v.as_str())
            .and_then(|s| Id::parse(s, IdKind::Int).ok())
        {
            Some(id) => self.get_user(&id).await.map_err(auth_to_store)?,
            None => None,
        };
        Ok(Some((data, user)))
    }

    fn exact_username(&self) -> &'static str {
        // MySQL's default collation is case- and trailing-space-insensitive; Django's lookup
        // there would match "Alice " for "alice". Sesame keeps the match exact everywhere,
        // while the first condition still uses the unique index.
        match self.db.backend() {
            Backend::MySql => "WHERE u.username = ? AND BINARY u.username = BINARY ?",
            _ => "WHERE u.username = ?",
        }
    }
}

#[async_trait]
impl UserStore for SqlAuthStore {
    fn name(&self) -> &'static str {
        self.db.backend().name()
    }

    fn user_id_kind(&self) -> IdKind {
        IdKind::Int
    }

    async fn create_user(&self, new: NewUser) -> Result<User, AuthStoreError> {
        new.validate()?;
        let explicit = new.id.as_ref().map(int_id).transpose()?;
        let mut binds = Vec::with_capacity(10);
        let mut cols = String::new();
        if let Some(id) = explicit {
            cols.push_str("id, ");
            binds.push(Bind::Int(id));
        }
        cols.push_str("password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined");
        binds.extend([
            Bind::Text(&new.password),
            Bind::Time(None),
            Bind::Bool(new.is_superuser),
            Bind::Text(&new.username),
            Bind::Text(&new.first_name),
            Bind::Text(&new.last_name),
            Bind::Text(&new.email),
            Bind::Bool(new.is_staff),
            Bind::Bool(new.is_active),
            Bind::Time(Some(Utc::now())),
        ]);
        let marks = vec!["?"; binds.len()].join(", ");
        let sql = self
            .db
            .sql(&format!("INSERT INTO auth_user ({cols}) VALUES ({marks})"));
        let id = match self.insert_returning_id(&sql, &binds).await {
            Ok(id) => explicit.unwrap_or(id),
            Err(e) if is_unique_violation(&e) => {
                return Err(match explicit {
                    Some(id) if self.get_user_by_username(&new.username).await?.is_none() => {
                        AuthStoreError::DuplicateId(id.to_string())
                    }
                    _ => AuthStoreError::DuplicateUsername(new.username),
                });
            }
            Err(e) => return Err(store_err(e)),
        };
        self.set_extra(id, &new.extra).await?;
        self.get_user(&Id::Int(id))
            .await?
            .ok_or_else(|| AuthStoreError::NotFound(format!("user {id}")))
    }

    async fn get_user(&self, id: &Id) -> Result<Option<User>, AuthStoreError> {
        let id = int_id(id)?;
        let sql = self.select_users("WHERE u.id = ?");
        Ok(self
            .fetch_users(&sql, &[Bind::Int(id)])
            .await?
            .into_iter()
            .next())
    }

    async fn get_user_by_username(&self, username: &str) -> Result<Option<User>, AuthStoreError> {
        if username.contains('\0') {
            return Ok(None);
        }
        let sql = self.select_users(self.exact_username());
        let binds: &[Bind<'_>] = match self.db.backend() {
            Backend::MySql => &[Bind::Text(username), Bind::Text(username)],
            _ => &[Bind::Text(username)],
        };
        Ok(self.fetch_users(&sql, binds).await?.into_iter().next())
    }

    async fn get_users_by_email(&self, email: &str) -> Result<Vec<User>, AuthStoreError> {
        if email.contains('\0') {
            return Ok(Vec::new());
        }
        let sql = self.select_users("WHERE LOWER(u.email) = LOWER(?) ORDER BY u.id");
        self.fetch_users(&sql, &[Bind::Text(email)]).await
    }

    async fn list_users(&self, offset: u64, limit: u64) -> Result<Vec<User>, AuthStoreError> {
        let sql = self.select_users("ORDER BY u.id LIMIT ? OFFSET ?");
        self.fetch_users(
            &sql,
            &[
                Bind::Int(limit.min(i64::MAX as u64) as i64),
                Bind::Int(offset.min(i64::MAX as u64) as i64),
            ],
        )
        .await
    }

    async fn update_user(&self, id: &Id, changes: &[UserField]) -> Result<(), AuthStoreError> {
        let uid = int_id(id)?;
        let mut sets = Vec::new();
        let mut extra = None;
        for c in changes {
            let col = match c {
                UserField::Username(v) | UserField::Email(v) if v.contains('\0') => {
                    return Err(AuthStoreError::Invalid(
                        "NUL characters are not allowed".into(),
                    ));
                }
                UserField::Username(_) => "username",
                UserField::Email(_) => "email",
                UserField::Password(_) => "password",
                UserField::FirstName(_) => "first_name",
                UserField::LastName(_) => "last_name",
                UserField::IsStaff(_) => "is_staff",
                UserField::IsSuperuser(_) => "is_superuser",
                UserField::IsActive(_) => "is_active",
                UserField::LastLogin(_) => "last_login",
                UserField::Extra(e) => {
                    extra = Some(e);
                    continue;
                }
            };
            sets.push(format!("{col} = ?"));
        }
        if sets.is_empty() {
            if self.get_user(id).await?.is_none() {
                return Err(AuthStoreError::NotFound(format!("user {id}")));
            }
        } else {
            let sql = self.db.sql(&format!(
                "UPDATE auth_user SET {} WHERE id = ?",
                sets.join(", ")
            ));
            let result = with_pool!(self.db, p => {
                let mut q = sqlx::query(&sql);
                for c in changes {
                    q = match c {
                        UserField::Username(v) | UserField::Email(v) | UserField::Password(v)
                        | UserField::FirstName(v) | UserField::LastName(v) => q.bind(v.as_str()),
                        UserField::IsStaff(b) | UserField::IsSuperuser(b) | UserField::IsActive(b) => q.bind(*b),
                        UserField::LastLogin(t) => q.bind_opt_time(*t),
                        UserField::Extra(_) => q,
                    };
                }
                q.bind(uid).execute(p).await.map(|r| r.rows_affected())
            });
            match result {
                Ok(0) => return Err(AuthStoreError::NotFound(format!("user {id}"))),
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    let name = changes.iter().find_map(|c| match c {
                        UserField::Username(v) => Some(v.clone()),
                        _ => None,
                    });
                    return Err(AuthStoreError::DuplicateUsername(name.unwrap_or_default()));
                }
                Err(e) => return Err(store_err(e)),
            }
        }
        if let Some(extra) = extra {
            self.set_extra(uid, extra).await?;
        }
        Ok(())
    }

    async fn delete_user(&self, id: &Id) -> Result<bool, AuthStoreError> {
        let uid = int_id(id)?;
        let mut statements = vec![
            "DELETE FROM auth_user_groups WHERE user_id = ?".to_owned(),
            "DELETE FROM auth_user_user_permissions WHERE user_id = ?".to_owned(),
        ];
        if self.has_extra {
            statements.push(format!("DELETE FROM {EXTRA_TABLE} WHERE user_id = ?"));
        }
        statements.push("DELETE FROM auth_user WHERE id = ?".to_owned());
        let statements: Vec<String> = statements.iter().map(|s| self.db.sql(s)).collect();
        let deleted = with_pool!(self.db, p => {
            let mut tx = p.begin().await.map_err(store_err)?;
            let mut last = 0;
            for s in &statements {
                last = sqlx::query(s).bind(uid).execute(&mut *tx).await.map_err(store_err)?.rows_affected();
            }
            tx.commit().await.map_err(store_err)?;
            last
        });
        Ok(deleted > 0)
    }

    async fn get_user_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        self.perm_strings(
            "SELECT ct.app_label, p.codename FROM auth_permission p \
             JOIN auth_user_user_permissions up ON p.id = up.permission_id \
             JOIN django_content_type ct ON p.content_type_id = ct.id WHERE up.user_id = ?",
            &[int_id(user)?],
        )
        .await
    }

    async fn get_group_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        self.perm_strings(
            "SELECT ct.app_label, p.codename FROM auth_permission p \
             JOIN auth_group_permissions gp ON p.id = gp.permission_id \
             JOIN auth_user_groups ug ON ug.group_id = gp.group_id \
             JOIN django_content_type ct ON p.content_type_id = ct.id WHERE ug.user_id = ?",
            &[int_id(user)?],
        )
        .await
    }

    /// User ∪ group permissions in one query.
    async fn get_all_permissions(&self, user: &Id) -> Result<BTreeSet<String>, AuthStoreError> {
        let uid = int_id(user)?;
        self.perm_strings(
            &format!(
                "SELECT ct.app_label, p.codename FROM auth_permission p \
                 JOIN django_content_type ct ON p.content_type_id = ct.id \
                 WHERE p.id IN ({})",
                user_permission_ids("?")
            ),
            &[uid, uid],
        )
        .await
    }

    async fn all_permission_strings(&self) -> Result<BTreeSet<String>, AuthStoreError> {
        self.perm_strings(
            "SELECT ct.app_label, p.codename FROM auth_permission p JOIN django_content_type ct ON p.content_type_id = ct.id",
            &[],
        )
        .await
    }
}

#[async_trait]
impl GroupStore for SqlAuthStore {
    async fn create_group(&self, name: &str) -> Result<Group, AuthStoreError> {
        if name.contains('\0') || name.is_empty() || name.chars().count() > 150 {
            return Err(AuthStoreError::Invalid(
                "a group name is 1 to 150 characters, without NUL".into(),
            ));
        }
        let sql = self.db.sql("INSERT INTO auth_group (name) VALUES (?)");
        match self.insert_returning_id(&sql, &[Bind::Text(name)]).await {
            Ok(id) => Ok(Group {
                id: Id::Int(id),
                name: name.to_owned(),
            }),
            Err(e) if is_unique_violation(&e) => {
                Err(AuthStoreError::DuplicateGroup(name.to_owned()))
            }
            Err(e) => Err(store_err(e)),
        }
    }

    async fn get_group_by_name(&self, name: &str) -> Result<Option<Group>, AuthStoreError> {
        Ok(self
            .fetch_groups(
                "SELECT id, name FROM auth_group WHERE name = ?",
                &[Bind::Text(name)],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn list_groups(&self) -> Result<Vec<Group>, AuthStoreError> {
        self.fetch_groups("SELECT id, name FROM auth_group ORDER BY name", &[])
            .await
    }

    async fn delete_group(&self, id: &Id) -> Result<bool, AuthStoreError> {
        let gid = int_id(id)?;
        let statements: Vec<String> = [
            "DELETE FROM auth_user_groups WHERE group_id = ?",
            "DELETE FROM auth_group_permissions WHERE group_id = ?",
            "DELETE FROM auth_group WHERE id = ?",
        ]
        .iter()
        .map(|s| self.db.sql(s))
        .collect();
        let deleted = with_pool!(self.db, p => {
            let mut tx = p.begin().await.map_err(store_err)?;
            let mut last = 0;
            for s in &statements {
                last = sqlx::query(s).bind(gid).execute(&mut *tx).await.map_err(store_err)?.rows_affected();
            }
            tx.commit().await.map_err(store_err)?;
            last
        });
        Ok(deleted > 0)
    }

    async fn add_user_to_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError> {
        self.link("auth_user_groups", "user_id", user, "group_id", group)
            .await
    }

    async fn remove_user_from_group(&self, user: &Id, group: &Id) -> Result<(), AuthStoreError> {
        self.unlink("auth_user_groups", "user_id", user, "group_id", group)
            .await
    }

    async fn user_groups(&self, user: &Id) -> Result<Vec<Group>, AuthStoreError> {
        let uid = int_id(user)?;
        self.fetch_groups(
            "SELECT g.id, g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id WHERE ug.user_id = ? ORDER BY g.name",
            &[Bind::Int(uid)],
        )
        .await
    }
}

#[async_trait]
impl PermissionStore for SqlAuthStore {
    async fn get_or_create_content_type(
        &self,
        app_label: &str,
        model: &str,
    ) -> Result<ContentType, AuthStoreError> {
        let select = self
            .db
            .sql("SELECT id FROM django_content_type WHERE app_label = ? AND model = ?");
        for _ in 0..2 {
            let found: Option<i32> = with_pool!(self.db, p => {
                sqlx::query(&select).bind(app_label).bind(model).fetch_optional(p).await.map_err(store_err)?
                    .map(|r| r.try_get(0)).transpose().map_err(store_err)?
            });
            if let Some(id) = found {
                return Ok(ContentType {
                    id: Id::Int(i64::from(id)),
                    app_label: app_label.to_owned(),
                    model: model.to_owned(),
                });
            }
            let insert = self
                .db
                .sql("INSERT INTO django_content_type (app_label, model) VALUES (?, ?)");
            match self
                .insert_returning_id(&insert, &[Bind::Text(app_label), Bind::Text(model)])
                .await
            {
                Ok(id) => {
                    return Ok(ContentType {
                        id: Id::Int(id),
                        app_label: app_label.to_owned(),
                        model: model.to_owned(),
                    });
                }
                // Created concurrently: read it on the next pass.
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(store_err(e)),
            }
        }
        Err(AuthStoreError::NotFound(format!(
            "content type {app_label}.{model}"
        )))
    }

    async fn get_or_create_permission(
        &self,
        ct: &ContentType,
        codename: &str,
        name: &str,
    ) -> Result<Permission, AuthStoreError> {
        let ct_id = int_id(&ct.id)?;
        for _ in 0..2 {
            let found = self
                .fetch_permissions(
                    "WHERE p.content_type_id = ? AND p.codename = ?",
                    &[Bind::Int(ct_id), Bind::Text(codename)],
                )
                .await?;
            if let Some(p) = found.into_iter().next() {
                return Ok(p);
            }
            let insert = self.db.sql(
                "INSERT INTO auth_permission (name, content_type_id, codename) VALUES (?, ?, ?)",
            );
            match self
                .insert_returning_id(
                    &insert,
                    &[Bind::Text(name), Bind::Int(ct_id), Bind::Text(codename)],
                )
                .await
            {
                Ok(id) => {
                    return Ok(Permission {
                        id: Id::Int(id),
                        name: name.to_owned(),
                        content_type: ct.clone(),
                        codename: codename.to_owned(),
                    });
                }
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(store_err(e)),
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
            .fetch_permissions(
                "WHERE ct.app_label = ? AND p.codename = ?",
                &[Bind::Text(app_label), Bind::Text(codename)],
            )
            .await?
            .into_iter()
            .next())
    }

    async fn list_permissions(&self) -> Result<Vec<Permission>, AuthStoreError> {
        self.fetch_permissions("", &[]).await
    }

    async fn grant_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        self.link(
            "auth_user_user_permissions",
            "user_id",
            user,
            "permission_id",
            permission,
        )
        .await
    }

    async fn revoke_user_permission(
        &self,
        user: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        self.unlink(
            "auth_user_user_permissions",
            "user_id",
            user,
            "permission_id",
            permission,
        )
        .await
    }

    async fn grant_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        self.link(
            "auth_group_permissions",
            "group_id",
            group,
            "permission_id",
            permission,
        )
        .await
    }

    async fn revoke_group_permission(
        &self,
        group: &Id,
        permission: &Id,
    ) -> Result<(), AuthStoreError> {
        self.unlink(
            "auth_group_permissions",
            "group_id",
            group,
            "permission_id",
            permission,
        )
        .await
    }
}

/// The ids of the permissions a user holds directly or through a group (`ModelBackend`'s
/// `_get_user_permissions` ∪ `_get_group_permissions`); `user` is the SQL for the user's id,
/// used twice. `IN` removes the duplicates, so `UNION ALL` spares a sort.
fn user_permission_ids(user: &str) -> String {
    format!(
        "SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = {user} \
         UNION ALL SELECT gp.permission_id FROM auth_group_permissions gp \
         JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = {user}"
    )
}

/// Sessions larger than this are read again on every request rather than remembered by the
/// inline reader (which keeps a bounded number of rows per connection, not bytes).
#[cfg(feature = "sqlite")]
const MAX_REMEMBERED_SESSION_BYTES: usize = 4096;

/// A row of the joined statement: the encoded session, its user (if the index named one
/// that exists) and the user's permissions (if asked for and readable).
type Joined = (String, Option<User>, Option<BTreeSet<String>>);

/// The joined statement through the inline SQLite reader (`crate::sqlite_reader`), decoded as
/// the sqlx path decodes it, with the session's expiry (until when the row holds).
#[cfg(feature = "sqlite")]
fn read_joined_row(
    conn: &rusqlite::Connection,
    sql: &str,
    key: &str,
    now: &str,
    has_extra: bool,
    with_permissions: bool,
) -> rusqlite::Result<Option<(Joined, Option<chrono::DateTime<Utc>>)>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(rusqlite::params![key, now])?;
    let Some(r) = rows.next()? else {
        return Ok(None);
    };
    let time = |column: usize| -> rusqlite::Result<Option<chrono::DateTime<Utc>>> {
        Ok(r.get_ref(column)?
            .as_str_or_null()?
            .and_then(crate::db::parse_sqlite_datetime))
    };
    // By position, in the order of the statement (`session_data`, then `USER_COLUMNS`, then
    // `extra`, the two permission columns when present, and `expire_date`): rusqlite looks
    // names up column by column.
    let after_user = 12 + usize::from(has_extra);
    let data: String = r.get(0)?;
    let user = match r.get::<_, Option<i64>>(1)? {
        Some(id) => {
            let extra: Option<String> = if has_extra { r.get(12)? } else { None };
            Some(User {
                id: Id::Int(id),
                password: r.get(2)?,
                last_login: time(3)?,
                is_superuser: r.get(4)?,
                username: r.get(5)?,
                first_name: r.get(6)?,
                last_name: r.get(7)?,
                email: r.get(8)?,
                is_staff: r.get(9)?,
                is_active: r.get(10)?,
                date_joined: time(11)?.unwrap_or_default(),
                extra: extra
                    .and_then(|e| serde_json::from_str(&e).ok())
                    .unwrap_or_default(),
                backend: None,
            })
        }
        None => None,
    };
    let (perms, expires_at) = if with_permissions {
        let text = |at: usize| r.get::<_, Option<String>>(at).ok().flatten();
        (
            permissions_from_columns(text(after_user), text(after_user + 1)),
            after_user + 2,
        )
    } else {
        (None, after_user)
    };
    // Remembered only until the expiry, and only when it is in the one shape whose text
    // order (the statement's `expire_date > ?`) is its time order; nor are large sessions.
    let until = r
        .get_ref(expires_at)
        .ok()
        .and_then(|v| v.as_str().ok())
        .and_then(crate::db::parse_django_text)
        .filter(|_| data.len() <= MAX_REMEMBERED_SESSION_BYTES)
        .or(Some(chrono::DateTime::<Utc>::MIN_UTC));
    Ok(Some(((data, user, perms), until)))
}

/// The permissions of the joined statement's two columns (JSON arrays of
/// `app_label.codename`); `None` ("not fetched", loaded the usual way) when either is missing
/// or is not such an array.
fn permissions_from_columns(
    direct: Option<String>,
    groups: Option<String>,
) -> Option<BTreeSet<String>> {
    let mut all: BTreeSet<String> = serde_json::from_str(&direct?).ok()?;
    let groups: Vec<String> = serde_json::from_str(&groups?).ok()?;
    all.extend(groups);
    Some(all)
}

/// The `db` session engine and the auth tables together, loading a session and its user in
/// one round trip (see [`SqlAuthStore::load_session_with_user`]).
#[derive(Debug, Clone)]
pub struct SqlSessionWithUser {
    /// The sessions.
    pub sessions: crate::SqlSessionStore,
    /// The users.
    pub auth: SqlAuthStore,
}

impl SqlSessionWithUser {
    /// The pair, over the same database.
    pub fn new(sessions: crate::SqlSessionStore, auth: SqlAuthStore) -> Self {
        Self { sessions, auth }
    }
}

#[async_trait]
impl sesame_core::session::SessionUserStore for SqlSessionWithUser {
    async fn load_session_with_user(
        &self,
        key: &str,
    ) -> Result<
        Option<(sesame_core::session::SessionData, Option<User>)>,
        sesame_core::session::StoreError,
    > {
        self.auth.load_session_with_user(&self.sessions, key).await
    }

    async fn load_session_with_user_and_permissions(
        &self,
        key: &str,
    ) -> Result<Option<PrefetchedSession>, sesame_core::session::StoreError> {
        self.auth
            .load_session_with_user_and_permissions(&self.sessions, key)
            .await
    }
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use super::*;
    use crate::{Db, PoolSettings, SqlSessionStore, migrate};
    use sesame_core::auth::NewUser;
    use sesame_core::session::{SessionCodec, SessionData, SessionRecord, SessionStore};

    /// The inline SQLite reader answers exactly as the sqlx path does, and a reader that
    /// fails leaves the answer to the pool.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_inline_reader_answers_as_the_pool_does() {
        let path = std::env::temp_dir().join(format!(
            "sesame-inline-{}-{}.sqlite3",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let db = Db::connect(
            &format!("sqlite://{}", path.display()),
            PoolSettings::default(),
        )
        .await
        .unwrap();
        migrate(&db).await.unwrap();
        let sessions = SqlSessionStore::new(db.clone(), SessionCodec::new("k"));
        let auth = SqlAuthStore::new(db.clone()).await.unwrap();
        let alice = auth
            .create_user(NewUser::new("alice", "a@example.com", "x"))
            .await
            .unwrap();
        let perm = auth
            .get_permission("auth", "change_user")
            .await
            .unwrap()
            .unwrap();
        auth.grant_user_permission(&alice.id, &perm.id)
            .await
            .unwrap();
        auth.update_last_login(&alice.id, Utc::now()).await.unwrap();
        let data: SessionData = serde_json::json!({"_auth_user_id": alice.id.to_string(), "n": 1})
            .as_object()
            .unwrap()
            .clone();
        let key = "inlinesession00000000000000001";
        let record = SessionRecord {
            data: &data,
            expire_date: Utc::now() + chrono::TimeDelta::hours(1),
        };
        sessions.create(key, record).await.unwrap();

        let with = |db: Db| SqlAuthStore {
            db,
            has_extra: auth.has_extra,
            joined_sql: Arc::default(),
            read_scope: next_read_scope(),
        };
        let answer = |store: SqlAuthStore, key: &'static str| {
            let sessions = sessions.clone();
            async move {
                store
                    .load_session_with_user_and_permissions(&sessions, key)
                    .await
                    .unwrap()
                    .map(|p| (p.data, p.user, p.permissions))
            }
        };
        let inline = answer(auth.clone(), key).await;
        assert_eq!(db.sqlite_reader().map(|r| r.idle_connections()), Some(1));
        let pooled = answer(with(db.clone().with_sqlite_reader_at(None, false)), key).await;
        let broken = Some(std::path::Path::new("/nonexistent-dir/none.sqlite3"));
        let fallback = answer(with(db.clone().with_sqlite_reader_at(broken, true)), key).await;
        let (got_data, user, perms) = inline.clone().unwrap();
        assert_eq!(got_data, data);
        let user = user.unwrap();
        assert_eq!(
            Some(&user),
            auth.get_user(&alice.id).await.unwrap().as_ref()
        );
        assert!(user.last_login.is_some());
        assert_eq!(perms, Some(["auth.change_user".to_owned()].into()));
        assert_eq!(inline, pooled);
        assert_eq!(inline, fallback);

        // Every read sees what was written since (no read transaction is left open).
        auth.update_user(
            &alice.id,
            &[sesame_core::auth::UserField::FirstName("Alice".into())],
        )
        .await
        .unwrap();
        let again = answer(auth.clone(), key).await.unwrap().1.unwrap();
        assert_eq!(again.first_name, "Alice");
        // A group's permission, granted after the last read, is seen.
        let editors = auth.create_group("editors").await.unwrap();
        let view = auth
            .get_permission("auth", "view_user")
            .await
            .unwrap()
            .unwrap();
        auth.grant_group_permission(&editors.id, &view.id)
            .await
            .unwrap();
        auth.add_user_to_group(&alice.id, &editors.id)
            .await
            .unwrap();
        let both: BTreeSet<String> = ["auth.change_user", "auth.view_user"]
            .map(String::from)
            .into();
        assert_eq!(
            answer(auth.clone(), key).await.unwrap().2,
            Some(both.clone())
        );
        assert_eq!(
            answer(with(db.clone().with_sqlite_reader_at(None, false)), key)
                .await
                .unwrap()
                .2,
            Some(both)
        );
        // So is a change made outside this process's pool (as Django would make it).
        let outside = rusqlite::Connection::open(&path).unwrap();
        outside
            .execute(
                "UPDATE auth_user SET first_name = 'Outside' WHERE username = 'alice'",
                [],
            )
            .unwrap();
        let seen = answer(auth.clone(), key).await.unwrap().1.unwrap();
        assert_eq!(seen.first_name, "Outside");
        // The same answers with the reader that does not remember.
        let forgetful = answer(
            with(db.clone().with_sqlite_reader_at(Some(&path), false)),
            key,
        )
        .await;
        assert_eq!(forgetful, answer(auth.clone(), key).await);
        sessions.delete(key).await.unwrap();
        assert_eq!(answer(auth.clone(), key).await, None);

        // A remembered session stops at its expiry, with no change to the database.
        let brief = SessionRecord {
            data: &data,
            expire_date: Utc::now() + chrono::TimeDelta::milliseconds(1500),
        };
        sessions
            .create("briefsession000000000000000001", brief)
            .await
            .unwrap();
        assert!(
            answer(auth.clone(), "briefsession000000000000000001")
                .await
                .is_some()
        );
        assert!(
            answer(auth.clone(), "briefsession000000000000000001")
                .await
                .is_some()
        );
        tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
        assert_eq!(
            answer(auth.clone(), "briefsession000000000000000001").await,
            None
        );
        drop(outside);

        // No such session, and an expired one: nothing, both ways.
        assert_eq!(
            answer(auth.clone(), "nosuchsession00000000000000001").await,
            None
        );
        let old = SessionRecord {
            data: &data,
            expire_date: Utc::now() - chrono::TimeDelta::hours(1),
        };
        sessions
            .create("expiredsession0000000000000001", old)
            .await
            .unwrap();
        assert_eq!(
            answer(auth.clone(), "expiredsession0000000000000001").await,
            None
        );
        let pool_only = with(db.clone().with_sqlite_reader_at(None, false));
        assert_eq!(
            answer(pool_only, "expiredsession0000000000000001").await,
            None
        );
        // Turned off, every read goes through sqlx.
        let off = PoolSettings {
            sqlite_inline_reads: false,
            ..PoolSettings::default()
        };
        let plain = Db::connect(&format!("sqlite://{}", path.display()), off)
            .await
            .unwrap();
        assert!(plain.sqlite_reader().is_none());
        plain.close().await;
        db.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
