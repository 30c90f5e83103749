//! A minimal axum app on Sesame: log in, see a guarded page, see a permission-guarded page.
//! Run: `cargo run -p login-app`, after `sesame migrate` and `sesame createsuperuser`.
use axum::{
    Form, Router,
    response::{Html, IntoResponse, Redirect},
    routing::get,
};
use sesame::axum::{
    AuthContext, CsrfToken, LoginRequired, PermissionRequired, PermissionSet, Sesame,
};
use sesame::core::auth::{
    Auth, ModelBackend,
    hashers::{Hashers, PasswordHashing},
};
use sesame::core::{session::SessionCodec, settings::Settings};
use sesame::sql::{Db, PoolSettings, SqlAuthStore, SqlSessionStore, SqlSessionWithUser};
use std::sync::Arc;

struct CanViewUsers;
impl PermissionSet for CanViewUsers {
    const PERMISSIONS: &'static [&'static str] = &["auth.view_user"];
}

#[derive(serde::Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login_form(token: CsrfToken) -> Html<String> {
    Html(format!(
        r#"<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{}">
        <input name="username"> <input name="password" type="password"> <button>Log in</button></form>"#,
        token.0
    ))
}

async fn login(auth: AuthContext, Form(form): Form<Login>) -> impl IntoResponse {
    match auth.authenticate(&form.username, &form.password).await {
        Ok(mut user) => match auth.login(&mut user).await {
            Ok(()) => Redirect::to("/accounts/profile/").into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => e.into_response(),
    }
}

async fn profile(LoginRequired(user): LoginRequired) -> String {
    format!("Hello, {}!", user.username)
}

async fn staff(PermissionRequired(user, _): PermissionRequired<CanViewUsers>) -> String {
    format!("{} may view users.", user.username)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load("sesame.toml".as_ref())?;
    if settings.secret_key.is_empty() {
        return Err("set secret_key in sesame.toml or SESAME_SECRET_KEY".into());
    }
    let db = Db::connect(&settings.database_url, PoolSettings::default()).await?;
    let users = Arc::new(SqlAuthStore::new(db.clone()).await?);
    let sessions = Arc::new(SqlSessionStore::new(
        db,
        SessionCodec::from_settings(&settings),
    ));
    let hashing = PasswordHashing::new(
        Hashers::from_settings(&settings)?,
        settings.password_hashing_threads,
    );
    let auth = Auth::new(
        ModelBackend::new(users, hashing),
        settings.secret_key.clone(),
        settings.secret_key_fallbacks.clone(),
        settings.auth_backend_path.clone(),
    );
    let joined = Arc::new(SqlSessionWithUser {
        sessions: (*sessions).clone(),
        auth: (*users).clone(),
    });
    let sesame = Sesame::new(settings, sessions)
        .with_auth(auth)
        .with_session_user_store(joined);

    let app = Router::new()
        .route("/accounts/login/", get(login_form).post(login))
        .route("/accounts/profile/", get(profile))
        .route("/staff/", get(staff))
        .layer(sesame.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!("http://127.0.0.1:8000/accounts/login/");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}
