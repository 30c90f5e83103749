//! `sesame migrate`: Django's own schema, as Django 5.2's `migrate` leaves it on each backend
//! (captured from real Django by `scripts/django-peer capture-schema`, see `schema/README.md`),
//! with the migrations recorded in `django_migrations` so that a later Django `migrate` finds
//! nothing to do, and the default content types and permissions Django's `post_migrate`
//! creates.

use crate::auth::EXTRA_TABLE;
use crate::db::{Backend, Db, with_pool};
use chrono::Utc;

const SQLITE_DDL: &str = include_str!("../schema/sqlite.sql");
const POSTGRES_DDL: &str = include_str!("../schema/postgres.sql");
const MYSQL_DDL: &str = include_str!("../schema/mysql.sql");
const MIGRATIONS: &str = include_str!("../schema/migrations.txt");
const DEFAULT_ROWS: &str = include_str!("../schema/default_rows.txt");

/// The tables Django's `auth`, `contenttypes` and `sessions` apps create.
pub(crate) const DJANGO_TABLES: &[&str] = &[
    "django_content_type",
    "auth_permission",
    "auth_group",
    "auth_group_permissions",
    "auth_user",
    "auth_user_groups",
    "auth_user_user_permissions",
    "django_session",
    "django_migrations",
];

/// Why `migrate` stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Some of Django's tables exist and some do not: not a database to write into blindly.
    #[error(
        "the database has some of Django's tables but not these: {0}. Run Django's migrate, or use an empty database"
    )]
    Partial(String),
    /// A statement failed.
    #[error("migration failed: {0}")]
    Sql(#[from] sqlx::Error),
    /// Creating the default permissions failed.
    #[error("creating the default permissions failed: {0}")]
    Permissions(#[from] sesame_core::auth::AuthStoreError),
}

/// What the database holds before `migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// None of Django's tables.
    Empty,
    /// All of them (created by Django or by Sesame).
    Complete,
    /// Some: the missing ones are listed.
    Partial(Vec<String>),
}

/// What `migrate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// The Django schema was created (the database was empty).
    pub created_schema: bool,
    /// Rows written to `django_migrations`.
    pub recorded_migrations: usize,
    /// `sesame_user_extra` was created.
    pub created_extra_table: bool,
    /// `sesame_session_user` (the session → user index for one-round-trip loads) was created.
    pub created_session_index: bool,
    /// `sesame_login_throttle` (the login throttle's counters, shared by every instance)
    /// was created.
    pub created_throttle_table: bool,
    /// Default content types and permissions that were missing and were created.
    pub created_permissions: usize,
}

/// Which of Django's tables exist.
pub async fn schema_state(db: &Db) -> Result<SchemaState, sqlx::Error> {
    let mut missing = Vec::new();
    for t in DJANGO_TABLES {
        if !db.table_exists(t).await {
            missing.push((*t).to_owned());
        }
    }
    Ok(match missing.len() {
        0 => SchemaState::Complete,
        n if n == DJANGO_TABLES.len() => SchemaState::Empty,
        _ => SchemaState::Partial(missing),
    })
}

/// The statements of a captured DDL file: each ends with `;` at the end of a line.
pub(crate) fn statements(ddl: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in ddl.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').trim().to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            current.clear();
        }
    }
    out
}

/// The `(app, name)` rows Django records for the schema.
pub(crate) fn recorded_migrations() -> Vec<(&'static str, &'static str)> {
    MIGRATIONS
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .map(|(a, n)| (a.trim(), n.trim()))
        .collect()
}

/// Create Django's schema on an empty database (or leave a complete one alone), record the
/// migrations, add Sesame's tables (`sesame_user_extra`, `sesame_session_user`,
/// `sesame_login_throttle`), and create the default content types
/// and permissions that are missing.
///
/// Safe to run at every start: on a database Django (or an earlier run) already migrated it
/// only adds what is missing. It never alters or drops Django's tables.
///
/// ```
/// use sesame_sql::{Db, PoolSettings, SchemaState, migrate, schema_state};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // An in-memory SQLite database lives in one connection: keep the pool at one.
/// let settings = PoolSettings { max_connections: 1, ..PoolSettings::default() };
/// let db = Db::connect("sqlite::memory:", settings).await?;
/// assert_eq!(schema_state(&db).await?, SchemaState::Empty);
///
/// let first = migrate(&db).await?;
/// assert!(first.created_schema && first.recorded_migrations > 0);
/// assert_eq!(schema_state(&db).await?, SchemaState::Complete);
///
/// // Again: nothing to do.
/// let again = migrate(&db).await?;
/// assert!(!again.created_schema);
/// assert_eq!((again.recorded_migrations, again.created_permissions), (0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// [`MigrateError::Partial`] when only some of Django's tables exist (a database that is
/// neither empty nor Django's: nothing is written), [`MigrateError::Sql`] when a statement
/// fails, [`MigrateError::Permissions`] when the default permissions cannot be created.
pub async fn migrate(db: &Db) -> Result<MigrateReport, MigrateError> {
    let mut report = MigrateReport::default();
    match schema_state(db).await? {
        SchemaState::Complete => {}
        SchemaState::Partial(missing) => return Err(MigrateError::Partial(missing.join(", "))),
        SchemaState::Empty => {
            let ddl = match db.backend() {
                Backend::Sqlite => SQLITE_DDL,
                Backend::Postgres => POSTGRES_DDL,
                Backend::MySql => MYSQL_DDL,
            };
            let stmts = statements(ddl);
            let now = Utc::now();
            let insert =
                db.sql("INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, ?)");
            let migrations = recorded_migrations();
            // One transaction where the database allows transactional DDL (MySQL commits
            // each DDL statement implicitly; there a failure leaves what was created).
            with_pool!(db, p => {
                use crate::db::BindTime;
                let mut tx = p.begin().await?;
                for s in &stmts {
                    sqlx::raw_sql(s).execute(&mut *tx).await?;
                }
                for (app, name) in &migrations {
                    sqlx::query(&insert).bind(*app).bind(*name).bind_time(now).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            report.created_schema = true;
            report.recorded_migrations = migrations.len();
        }
    }
    if !db.table_exists(EXTRA_TABLE).await {
        let ddl = match db.backend() {
            Backend::Sqlite => {
                "CREATE TABLE sesame_user_extra (user_id integer NOT NULL PRIMARY KEY REFERENCES auth_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED, data text NOT NULL)"
            }
            Backend::Postgres => {
                "CREATE TABLE sesame_user_extra (user_id integer NOT NULL PRIMARY KEY REFERENCES auth_user (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED, data text NOT NULL)"
            }
            Backend::MySql => {
                "CREATE TABLE sesame_user_extra (user_id integer NOT NULL PRIMARY KEY, data longtext NOT NULL, CONSTRAINT sesame_user_extra_user_id_fk FOREIGN KEY (user_id) REFERENCES auth_user (id) ON DELETE CASCADE)"
            }
        };
        db.execute_raw(ddl).await?;
        report.created_extra_table = true;
    }
    if !db.table_exists(crate::sessions::SESSION_USER_TABLE).await {
        let ddl = match db.backend() {
            Backend::MySql => {
                "CREATE TABLE sesame_session_user (session_key varchar(40) NOT NULL PRIMARY KEY, user_id integer NOT NULL, KEY sesame_session_user_user_id (user_id))"
            }
            _ => {
                "CREATE TABLE sesame_session_user (session_key varchar(40) NOT NULL PRIMARY KEY, user_id integer NOT NULL)"
            }
        };
        db.execute_raw(ddl).await?;
        report.created_session_index = true;
    }
    if !db.table_exists(crate::throttle::THROTTLE_TABLE).await {
        for ddl in crate::throttle::THROTTLE_DDL {
            db.execute_raw(ddl).await?;
        }
        report.created_throttle_table = true;
    }
    report.created_permissions = create_default_rows(db).await?;
    Ok(report)
}

/// Django's `post_migrate` rows (content types, then permissions), in Django's order, each
/// created only when missing.
async fn create_default_rows(db: &Db) -> Result<usize, MigrateError> {
    use sesame_core::auth::store::PermissionStore;
    let store = crate::SqlAuthStore::new(db.clone()).await?;
    let before = store.list_permissions().await?.len();
    for line in DEFAULT_ROWS.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["django_content_type", _id, app_label, model] => {
                store.get_or_create_content_type(app_label, model).await?;
            }
            [
                "auth_permission",
                _id,
                _ct,
                app_label,
                model,
                codename,
                name,
            ] => {
                let ct = store.get_or_create_content_type(app_label, model).await?;
                store.get_or_create_permission(&ct, codename, name).await?;
            }
            _ => {}
        }
    }
    let after = store.list_permissions().await?.len();
    Ok(after - before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_files_parse() {
        for ddl in [SQLITE_DDL, POSTGRES_DDL, MYSQL_DDL] {
            let s = statements(ddl);
            assert!(s.iter().any(|s| s.contains("auth_user")), "{s:?}");
            assert!(s.iter().any(|s| s.contains("django_migrations")));
        }
        let m = recorded_migrations();
        assert!(m.contains(&("auth", "0012_alter_user_first_name_max_length")));
        assert!(m.contains(&("sessions", "0001_initial")));
    }
}
