//! The floor of the load test (`bench/run-load.sh`): a bare axum handler for
//! `GET /api/whoami` that does one indexed read of the same SQLite database, the
//! `django_session` row named by the `sessionid` cookie (by its primary key), and answers with
//! a small JSON object. No session decoding, no user, no permissions: what any server that
//! looks a session up in SQLite cannot go below.
//!
//! For information it also serves `GET /api/whoami/inline`: the same read through a plain
//! `rusqlite` connection on the handler's own thread (one per worker thread), the way
//! Sesame's SQLite store reads on the request path (`sesame-sql`'s `sqlite_reader`), which
//! saves the two thread switches of every sqlx query. It shows what the floor would be if it
//! read as Sesame does.
//!
//! And `GET /api/whoami/two-reads`: the two queries Sesame's
//! `/api/whoami` runs on SQLite, with the same SQL (the session joined to its user, then the
//! user's permissions), answered with the same JSON but with nothing else (no signature check,
//! no session decoding, no session-hash check, no middleware), which separates what the
//! queries cost from what Sesame adds around them.
//!
//! The pool and runtime are Sesame's (WAL, `busy_timeout` 10 s, at most 10 connections, no ping
//! before each acquire; one worker thread per CPU it may run on). Environment: `BENCH_DATABASE_URL` (`sqlite://path` holding Django's
//! tables), `BENCH_BIND` (default `127.0.0.1:0`); the first line on standard output is
//! `listening on http://ADDR/`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sqlx::Row;
use sqlx::sqlite::SqlitePool;

fn session_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == "sessionid")
        .map(|(_, v)| v)
}

async fn whoami(State(pool): State<SqlitePool>, headers: HeaderMap) -> Response {
    let Some(key) = session_key(&headers) else {
        return Json(json!({"authenticated": false})).into_response();
    };
    // One read through the primary key's index; Django's text datetimes compare as text.
    let row = sqlx::query(
        "SELECT session_data FROM django_session WHERE session_key = ? AND expire_date > datetime('now')",
    )
    .bind(key)
    .fetch_optional(&pool)
    .await;
    match row {
        Ok(Some(row)) => match row.try_get::<String, _>(0) {
            Ok(data) => {
                Json(json!({"authenticated": true, "session_bytes": data.len()})).into_response()
            }
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(None) => Json(json!({"authenticated": false})).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

thread_local! {
    /// This worker thread's connection for `/api/whoami/inline`, opened on first use.
    static INLINE: std::cell::RefCell<Option<rusqlite::Connection>> = const { std::cell::RefCell::new(None) };
}

async fn whoami_inline(State(pool): State<SqlitePool>, headers: HeaderMap) -> Response {
    let Some(key) = session_key(&headers) else {
        return Json(json!({"authenticated": false})).into_response();
    };
    let path = pool.connect_options().get_filename().to_owned();
    let read = INLINE.with(|cell| -> rusqlite::Result<Option<String>> {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            *cell = Some(rusqlite::Connection::open(&path)?);
        }
        let Some(conn) = cell.as_ref() else {
            return Ok(None);
        };
        let mut statement = conn.prepare_cached(
            "SELECT session_data FROM django_session WHERE session_key = ? AND expire_date > datetime('now')",
        )?;
        let mut rows = statement.query([key])?;
        match rows.next()? {
            Some(row) => Ok(Some(row.get(0)?)),
            None => Ok(None),
        }
    });
    match read {
        Ok(Some(data)) => {
            Json(json!({"authenticated": true, "session_bytes": data.len()})).into_response()
        }
        Ok(None) => Json(json!({"authenticated": false})).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Sesame's session-and-user join (`SqlAuthStore::load_session_with_user`), verbatim.
const SESSION_USER_SQL: &str = "SELECT s.session_data, u.id, u.password, u.last_login, \
     u.is_superuser, u.username, u.first_name, u.last_name, u.email, u.is_staff, u.is_active, \
     u.date_joined, x.data AS extra FROM django_session s \
     LEFT JOIN sesame_session_user su ON su.session_key = s.session_key \
     LEFT JOIN auth_user u ON u.id = su.user_id \
     LEFT JOIN sesame_user_extra x ON x.user_id = u.id \
     WHERE s.session_key = ? AND s.expire_date > datetime('now')";

/// Sesame's `get_all_permissions` on SQL, verbatim.
const PERMISSIONS_SQL: &str = "SELECT ct.app_label, p.codename FROM auth_permission p \
     JOIN django_content_type ct ON p.content_type_id = ct.id \
     WHERE p.id IN (SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = ?) \
        OR p.id IN (SELECT gp.permission_id FROM auth_group_permissions gp \
                    JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = ?)";

async fn two_reads(State(pool): State<SqlitePool>, headers: HeaderMap) -> Response {
    let Some(key) = session_key(&headers) else {
        return Json(json!({"authenticated": false})).into_response();
    };
    let result: Result<Option<serde_json::Value>, sqlx::Error> = async {
        let Some(row) = sqlx::query(SESSION_USER_SQL)
            .bind(key)
            .fetch_optional(&pool)
            .await?
        else {
            return Ok(None);
        };
        let Some(id) = row.try_get::<Option<i64>, _>("id")? else {
            return Ok(None);
        };
        let username: String = row.try_get("username")?;
        let is_staff: bool = row.try_get("is_staff")?;
        let is_superuser: bool = row.try_get("is_superuser")?;
        let perms: std::collections::BTreeSet<String> = sqlx::query(PERMISSIONS_SQL)
            .bind(id)
            .bind(id)
            .fetch_all(&pool)
            .await?
            .iter()
            .map(|r| Ok(format!("{}.{}", r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some(
            json!({"authenticated": true, "id": id.to_string(), "username": username, "is_staff": is_staff, "is_superuser": is_superuser, "permissions": perms}),
        ))
    }
    .await;
    match result {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => Json(json!({"authenticated": false})).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (pool, bind) = sesame_bench::compare::database_from_env().await?;
    let app = Router::new()
        .route("/api/whoami", get(whoami))
        .route("/api/whoami/inline", get(whoami_inline))
        .route("/api/whoami/two-reads", get(two_reads))
        .with_state(pool);
    sesame_bench::compare::serve(&bind, app).await
}

fn main() -> std::process::ExitCode {
    sesame_bench::compare::server_main(run())
}
