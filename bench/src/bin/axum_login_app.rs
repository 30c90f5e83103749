//! The contender of the load test (`bench/run-load.sh`): `GET /api/whoami` on axum 0.8 +
//! tower-sessions 0.14 + axum-login 0.18, with the sessions in SQLite through
//! tower-sessions-sqlx-store, and the users and permissions read from Django's tables
//! (`auth_user`, `auth_permission`, ...) in the same SQLite file Sesame serves.
//!
//! It is built the way the axum-login examples build an app: an [`AuthnBackend`] that loads the
//! user by id on every request, an [`AuthzBackend`] for the permissions, and the session
//! manager with a two-week inactivity expiry (Django's `SESSION_COOKIE_AGE`), saving only
//! modified sessions (Django's `SESSION_SAVE_EVERY_REQUEST = False`). The SQLite pool is opened
//! with Sesame's settings (WAL, `busy_timeout` 10 s, foreign keys, at most 10 connections) and
//! the runtime has as many worker threads as Sesame (one per CPU it may run on), so the two
//! sides differ only in their code.
//!
//! Environment: `BENCH_DATABASE_URL` (`sqlite://path`, which must already hold Django's
//! tables, e.g. made by `sesame migrate`), `BENCH_BIND` (default `127.0.0.1:0`). The first
//! line on standard output names the address: `listening on http://ADDR/`.
//!
//! Routes: `POST /login` (form fields `username`, `password`; 204 with the session cookie,
//! 401 on bad credentials), `GET /api/whoami` (Sesame's JSON shape).

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_login::tower_sessions::cookie::time::Duration as CookieDuration;
use axum_login::tower_sessions::{Expiry, SessionManagerLayer};
use axum_login::{AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend, AuthzBackend};
use serde::Deserialize;
use serde_json::json;
use sesame_core::auth::hashers::Hashers;
use sqlx::Row;
use sqlx::sqlite::SqlitePool;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use tower_sessions_sqlx_store::SqliteStore;

/// A row of `auth_user`.
#[derive(Clone)]
struct User {
    id: i64,
    username: String,
    password: String,
    is_staff: bool,
    is_superuser: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    /// As Django's `get_session_auth_hash` does in spirit: a password change ends the sessions.
    fn session_auth_hash(&self) -> &[u8] {
        self.password.as_bytes()
    }
}

#[derive(Clone)]
struct Backend {
    pool: SqlitePool,
    hashers: Arc<Hashers>,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug)]
enum BackendError {
    Sql(sqlx::Error),
    Join(tokio::task::JoinError),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Sql(e) => write!(f, "{e}"),
            BackendError::Join(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BackendError {}

impl From<sqlx::Error> for BackendError {
    fn from(e: sqlx::Error) -> Self {
        BackendError::Sql(e)
    }
}

const USER_COLUMNS: &str = "id, username, password, is_staff, is_superuser";

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        password: row.try_get("password")?,
        is_staff: row.try_get("is_staff")?,
        is_superuser: row.try_get("is_superuser")?,
    })
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = BackendError;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, BackendError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE username = ? AND is_active"
        ))
        .bind(&creds.username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(user) = row.as_ref().map(user_from_row).transpose()? else {
            return Ok(None);
        };
        // Django's PBKDF2 at its default iterations, off the async workers.
        let hashers = self.hashers.clone();
        let encoded = user.password.clone();
        let ok =
            tokio::task::spawn_blocking(move || hashers.check_password(&creds.password, &encoded))
                .await
                .map_err(BackendError::Join)?;
        Ok(ok.then_some(user))
    }

    async fn get_user(&self, id: &i64) -> Result<Option<User>, BackendError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM auth_user WHERE id = ? AND is_active"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }
}

impl AuthzBackend for Backend {
    type Permission = String;

    /// User ∪ group permissions in one query (the query Sesame's SQL store runs); every
    /// permission for a superuser, as Django's `ModelBackend`.
    async fn get_all_permissions(&self, user: &User) -> Result<HashSet<String>, BackendError> {
        let rows = if user.is_superuser {
            sqlx::query(
                "SELECT ct.app_label, p.codename FROM auth_permission p \
                 JOIN django_content_type ct ON p.content_type_id = ct.id",
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            sqlx::query(
                "SELECT ct.app_label, p.codename FROM auth_permission p \
                 JOIN django_content_type ct ON p.content_type_id = ct.id \
                 WHERE p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = ?) \
                    OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp \
                                JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = ?)",
            )
            .bind(user.id)
            .bind(user.id)
            .fetch_all(&self.pool)
            .await?
        };
        rows.iter()
            .map(|r| {
                let app: String = r.try_get(0)?;
                let codename: String = r.try_get(1)?;
                Ok(format!("{app}.{codename}"))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(BackendError::from)
    }
}

type Session = AuthSession<Backend>;

async fn login(mut session: Session, Form(creds): Form<Credentials>) -> Response {
    match session.authenticate(creds).await {
        Ok(Some(user)) => match session.login(&user).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(None) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn whoami(session: Session) -> Response {
    match &session.user {
        Some(u) => match session.backend.get_all_permissions(u).await {
            Ok(perms) => {
                let perms: BTreeSet<String> = perms.into_iter().collect();
                Json(json!({"authenticated": true, "id": u.id.to_string(), "username": u.username, "is_staff": u.is_staff, "is_superuser": u.is_superuser, "permissions": perms})).into_response()
            }
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        None => Json(json!({"authenticated": false, "id": null, "username": null, "is_staff": false, "is_superuser": false, "permissions": []})).into_response(),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (pool, bind) = sesame_bench::compare::database_from_env().await?;
    let store = SqliteStore::new(pool.clone());
    store.migrate().await?;
    let sessions = SessionManagerLayer::new(store)
        .with_name("sessionid")
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(CookieDuration::weeks(2)));
    let backend = Backend {
        pool,
        hashers: Arc::new(Hashers::django_default("5.2")?),
    };
    let auth = AuthManagerLayerBuilder::new(backend, sessions).build();
    let app = Router::new()
        .route("/login", post(login))
        .route("/api/whoami", get(whoami))
        .layer(auth);
    sesame_bench::compare::serve(&bind, app).await
}

fn main() -> std::process::ExitCode {
    sesame_bench::compare::server_main(run())
}
