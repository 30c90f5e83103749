//! A minimal axum app on Sesame: log in, a guarded page, a permission-guarded page.
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get};
use sesame::axum::{
    AuthContext, CsrfToken, LoginRequired, PermissionRequired, PermissionSet, Sesame,
};
use sesame::core::auth::hashers::{Hashers, PasswordHashing};
use sesame::core::auth::{Auth, ModelBackend};
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

const FORM: &str = r#"<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="TOKEN">
<input name="username"><input name="password" type="password"><button>Log in</button></form>"#;

async fn login_form(token: CsrfToken) -> Html<String> {
    Html(FORM.replace("TOKEN", &token.0))
}

async fn login(auth: AuthContext, Form(f): Form<Login>) -> Result<Redirect, Response> {
    let refused = IntoResponse::into_response;
    let mut user = auth
        .authenticate(&f.username, &f.password)
        .await
        .map_err(refused)?;
    auth.login(&mut user)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Redirect::to("/accounts/profile/"))
}

async fn profile(LoginRequired(user): LoginRequired) -> String {
    format!("Hello, {}!", user.username)
}

async fn staff(PermissionRequired(user, _): PermissionRequired<CanViewUsers>) -> String {
    format!("{} may view users.", user.username)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let s = Settings::load("sesame.toml".as_ref())?;
    if s.secret_key.is_empty() {
        return Err("set secret_key in sesame.toml or SESAME_SECRET_KEY".into());
    }
    let db = Db::connect(&s.database.url, PoolSettings::default()).await?;
    let users = SqlAuthStore::new(db.clone()).await?;
    let sessions = SqlSessionStore::new(db, SessionCodec::from_settings(&s));
    let joined = SqlSessionWithUser::new(sessions.clone(), users.clone());
    let hashing = PasswordHashing::new(Hashers::from_settings(&s)?, s.auth.hashing_threads);
    let backend = ModelBackend::new(Arc::new(users), hashing);
    let (key, old) = (s.secret_key.clone(), s.secret_key_fallbacks.clone());
    let auth = Auth::new(backend, key, old, s.auth.backend_path.clone());
    let sesame = Sesame::new(s, Arc::new(sessions))
        .with_auth(auth)
        .with_session_user_store(Arc::new(joined));
    let app = Router::new()
        .route("/accounts/login/", get(login_form).post(login))
        .route("/accounts/profile/", get(profile))
        .route("/staff/", get(staff))
        .layer(sesame.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!("http://127.0.0.1:8000/accounts/login/");
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}
