//! `sesame serve`: the ready-made site, on the configured stores (by default an SQLite file
//! created on first run, with Django's schema).

use crate::CliError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use sesame::axum::Sesame;
use sesame::axum::throttle::{Throttle, ThrottleConfig};
use sesame::core::auth::throttle::ThrottleStore;
use sesame::core::auth::{Auth, ModelBackend};
use sesame::core::session::{MemorySessionStore, SessionCodec, SessionStore, SignedCookieStore};
use sesame::core::settings::{SessionEngine, Settings};
use sesame::site::Site;
use sesame::sql::SchemaState;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// Django's `get_random_secret_key` alphabet.
const SECRET_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)";

/// Use the configured key, else the one kept in `secret_key_file`, else make one and keep it
/// there with mode 0600.
fn ensure_secret_key(settings: &mut Settings) -> Result<(), CliError> {
    if !settings.secret_key.is_empty() {
        return Ok(());
    }
    let path = std::path::Path::new(&settings.serve.secret_key_file);
    if let Ok(text) = std::fs::read_to_string(path) {
        if !text.trim().is_empty() {
            settings.secret_key = text.trim().to_owned();
            return Ok(());
        }
    }
    let key = sesame::core::crypto::get_random_string(50, SECRET_CHARS);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(format!("{key}\n").as_bytes())
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", path.display())))?;
    eprintln!(
        "warning: no SECRET_KEY was configured; generated one and kept it in {} (mode 0600). \
         Set SESAME_SECRET_KEY (the same as your Django site's, if you share one) to choose it.",
        path.display()
    );
    settings.secret_key = key;
    Ok(())
}

async fn log_requests(req: Request, next: Next) -> Response {
    // Checked first, so that a quieter level (`SESAME_LOG=warn`) costs no copy of the path.
    if !tracing::enabled!(target: "sesame::http", tracing::Level::INFO) {
        return next.run(req).await;
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    tracing::info!(target: "sesame::http", %method, path, status = response.status().as_u16(), ms = start.elapsed().as_secs_f64() * 1000.0);
    response
}

/// Serve until Ctrl-C (or SIGTERM).
pub async fn serve(mut settings: Settings) -> Result<(), CliError> {
    // Refused before anything is opened: a throttle setting that cannot be used must stop
    // the start, not fall back quietly.
    let throttle_config = ThrottleConfig::from_settings(&settings)
        .map_err(|e| CliError::usage(format!("{e} (see docs/login-throttling.md)")))?;
    ensure_secret_key(&mut settings)?;
    let stores = crate::context::open(&settings, false).await?;
    let stores = match stores.db.clone() {
        crate::context::Database::Sql(db) => {
            match sesame::sql::schema_state(&db)
                .await
                .map_err(|e| CliError::runtime(e.to_string()))?
            {
                SchemaState::Empty => {
                    let report = sesame::sql::migrate(&db)
                        .await
                        .map_err(|e| CliError::runtime(e.to_string()))?;
                    eprintln!(
                        "Created Django's tables on first run ({} migrations recorded).",
                        report.recorded_migrations
                    );
                }
                SchemaState::Partial(missing) => {
                    return Err(CliError::runtime(format!(
                        "the database lacks these tables: {}",
                        missing.join(", ")
                    )));
                }
                SchemaState::Complete => {
                    // Sesame's own tables on a database Django created.
                    sesame::sql::migrate(&db)
                        .await
                        .map_err(|e| CliError::runtime(e.to_string()))?;
                }
            }
            // The auth store notes at construction whether Sesame's extra table exists,
            // which the migration above may just have created; the pool is kept.
            crate::context::sql_stores(db, &settings).await?
        }
        crate::context::Database::Mongo(db) => {
            check_mongo_at_start_up(&db, &stores).await?;
            stores
        }
    };
    let codec = SessionCodec::from_settings(&settings);
    let sessions: Arc<dyn SessionStore> = match settings.session.engine {
        SessionEngine::Db => stores.sessions.store(),
        SessionEngine::Memory => {
            Arc::new(MemorySessionStore::new(codec).with_max_size(settings.session.max_size))
        }
        SessionEngine::SignedCookies => Arc::new(SignedCookieStore::new(
            &settings.secret_key,
            &settings.secret_key_fallbacks,
            settings.session.cookie_age,
        )),
        SessionEngine::Cache => Arc::new(
            sesame::redis::RedisSessionStore::connect(redis_config(&settings)?)
                .map_err(|e| CliError::runtime(e.to_string()))?,
        ),
        SessionEngine::CachedDb => Arc::new(
            sesame::redis::CachedDbSessionStore::connect(
                redis_config(&settings)?,
                stores.sessions.store(),
            )
            .map_err(|e| CliError::runtime(e.to_string()))?,
        ),
    };
    let hashing = crate::context::hashing(&settings)?;
    let users = stores.auth.clone();
    let auth = Auth::new(
        ModelBackend::new(users.clone(), hashing.clone()),
        settings.secret_key.clone(),
        settings.secret_key_fallbacks.clone(),
        settings.auth.backend_path.clone(),
    );
    let mut sesame = Sesame::new(settings.clone(), sessions.clone())
        .with_auth(auth)
        .with_throttle(throttle(&settings, &stores, throttle_config));
    if settings.session.engine == SessionEngine::Db {
        // Every page of the site looks at permissions (templates get `perms`).
        sesame = sesame
            .with_session_user_store(stores.session_user.clone())
            .with_prefetched_permissions(true);
    }
    let site = Site::new(settings.clone(), users, sessions, hashing)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let app = site
        .router()
        .layer(sesame.layer())
        .layer(axum::middleware::from_fn(log_requests));

    let listener = tokio::net::TcpListener::bind(&settings.serve.bind)
        .await
        .map_err(|e| CliError::runtime(format!("cannot listen on {}: {e}", settings.serve.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if settings.security.allowed_hosts.is_empty() && !settings.debug {
        eprintln!(
            "warning: ALLOWED_HOSTS is empty, so only localhost, 127.0.0.1 and [::1] are served \
             (any other Host gets 400); for production set SESAME_ALLOWED_HOSTS=www.example.com \
             (comma-separated) or allowed_hosts in sesame.toml"
        );
    }
    if !addr.ip().is_loopback() && !settings.session.cookie_secure {
        eprintln!(
            "warning: serving on {addr} without SESSION_COOKIE_SECURE; set SESAME_SESSION_COOKIE_SECURE=true behind HTTPS"
        );
    }
    println!(
        "Sesame is serving on http://{addr}/ (database {}). Quit with Ctrl-C.",
        crate::context::redact(&settings.database.url)
    );
    let _ = std::io::stdout().flush();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .map_err(|e| CliError::runtime(e.to_string()))?;
    eprintln!("Shut down cleanly.");
    Ok(())
}

/// The login throttle's counters: in the users' database, so that every `sesame serve` over
/// it enforces one limit (three processes behind a proxy count together); in memory only
/// with the `memory` session engine, whose sessions are per process anyway.
fn throttle(
    settings: &Settings,
    stores: &crate::context::Stores,
    config: ThrottleConfig,
) -> Throttle {
    if settings.session.engine == SessionEngine::Memory {
        return Throttle::in_memory(config);
    }
    let store: Arc<dyn ThrottleStore> = match &stores.db {
        crate::context::Database::Sql(db) => {
            Arc::new(sesame::sql::SqlThrottleStore::new(db.clone()))
        }
        crate::context::Database::Mongo(db) => {
            Arc::new(sesame::mongodb::MongoThrottleStore::new(db.clone()))
        }
    };
    Throttle::new(config, store)
}

/// On MongoDB: an empty database gets its indexes and default permissions (as an empty SQLite
/// file gets its tables); a database with some of them missing is refused, since a missing
/// unique index would let duplicates in; a plain `expire_date` index is only a warning.
async fn check_mongo_at_start_up(
    db: &sesame::mongodb::MongoDb,
    stores: &crate::context::Stores,
) -> Result<(), CliError> {
    let problems = sesame::mongodb::check_indexes(db)
        .await
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let all = sesame::mongodb::required_indexes(
        db.collections(),
        db.config().user_id,
        db.config().unique_email,
    );
    if !problems.is_empty() && problems.len() == all.len() {
        let report = sesame::mongodb::migrate(db)
            .await
            .map_err(|e| CliError::runtime(e.to_string()))?;
        sesame::core::auth::store::create_default_permissions(stores.auth.as_ref())
            .await
            .map_err(|e| CliError::runtime(e.to_string()))?;
        eprintln!(
            "Created {} indexes and the default permissions on first run.",
            report.created.len()
        );
        return Ok(());
    }
    crate::context::refuse_missing_indexes(&problems)?;
    for p in problems {
        eprintln!("warning: {p}");
    }
    Ok(())
}

/// The Redis cache of the `cache` and `cached_db` engines, as Django's `CACHES["default"]`.
fn redis_config(settings: &Settings) -> Result<sesame::redis::RedisConfig, CliError> {
    let Some(url) = settings
        .database
        .cache_url
        .as_deref()
        .filter(|u| !u.is_empty())
    else {
        return Err(CliError::usage(format!(
            "SESSION_ENGINE {} needs a cache: set SESAME_CACHE_URL=redis://host:6379/0",
            settings.session.engine
        )));
    };
    let timeout = crate::context::store_timeout(settings);
    Ok(sesame::redis::RedisConfig::new(url)
        .with_key_prefix(settings.database.cache_key_prefix.clone())
        .with_version(settings.database.cache_version)
        .with_timeouts(timeout, timeout)
        .with_max_size(settings.session.max_size))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
