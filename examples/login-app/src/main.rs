use axum::{Form, Router, response::Html, response::Redirect, routing::get};
use sesame::prelude::*;

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
async fn login(auth: AuthContext, Form(f): Form<Login>) -> Result<Redirect, LoginError> {
    let mut user = auth.authenticate(&f.username, &f.password).await?;
    auth.login(&mut user).await?;
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
    let sesame = sesame::from_settings(&Settings::load("sesame.toml".as_ref())?).await?;
    let app = Router::new()
        .route("/accounts/login/", get(login_form).post(login))
        .route("/accounts/profile/", get(profile))
        .route("/staff/", get(staff))
        .layer(sesame.layer());
    let make = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    Ok(axum::serve(listener, make).await?)
}
