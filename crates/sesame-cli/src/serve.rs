//! `sesame serve`: the ready-made site, on the configured stores (by default an SQLite file
//! created on first run, with Django's schema).

use crate::CliError;
use sesame::core::settings::Settings;
use sesame::setup::{Migrate, Setup};
use sesame::site::Site;
use std::io::Write;
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

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

/// Serve until Ctrl-C (or SIGTERM).
pub(crate) async fn serve(mut settings: Settings) -> Result<(), CliError> {
    ensure_secret_key(&mut settings)?;
    // The same assembly a library user gets from `sesame::from_settings`, creating the schema
    // on the first run (a new SQLite file just works) and reading permissions with the
    // session, since every page of the site looks at them (templates get `perms`).
    let stack = Setup::new(&settings)
        .migrate(Migrate::IfEmpty)
        .prefetched_permissions(true)
        .assemble()
        .await?;
    if let Some(created) = &stack.created {
        eprintln!("{created}");
    }
    let site = Site::new(
        settings.clone(),
        stack.stores.auth.clone(),
        stack.sessions.clone(),
        stack.hashing.clone(),
    )
    .map_err(|e| CliError::usage(e.to_string()))?;
    // One line per request at info (`SESAME_LOG=warn` silences it), with the status and
    // the time taken, from tower-http's TraceLayer.
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_request(())
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Micros),
        );
    let app = site.router().layer(stack.sesame.layer()).layer(trace);

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
