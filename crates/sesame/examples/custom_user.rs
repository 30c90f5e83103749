//! Your own user type beside Django's: Sesame keeps `auth_user` (logins, passwords,
//! permissions, shared with a Django site); the application keeps what else it knows about
//! a person, keyed by the user's id, and gets it as an extractor of its own.
//!
//! `SESAME_SECRET_KEY=... cargo run -p sesame --example custom_user` (needs `sesame migrate`
//! and a user, as examples/login-app's README says).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::{Router, routing::get};
use sesame::axum::GuardRejection;
use sesame::core::auth::Id;
use sesame::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// The application's idea of a user: Django's user plus its own fields.
#[derive(Debug, Clone)]
struct Account {
    user: User,
    plan: String,
}

/// The application's own table, here a map from the user's id to a plan.
#[derive(Clone, Default)]
struct Plans(Arc<HashMap<Id, String>>);

impl<S: Send + Sync> FromRequestParts<S> for Account {
    type Rejection = GuardRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // `login_required` first: anonymous users go to the login page, as with Django.
        let LoginRequired(user) = LoginRequired::from_request_parts(parts, state).await?;
        let plans = parts.extensions.get::<Plans>().cloned().unwrap_or_default();
        let plan = plans
            .0
            .get(&user.id)
            .cloned()
            .unwrap_or_else(|| "free".into());
        Ok(Account { user, plan })
    }
}

async fn home(account: Account) -> String {
    format!(
        "{} is on the {} plan\n",
        account.user.username, account.plan
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::load("sesame.toml".as_ref())?;
    let sesame = sesame::from_settings(&settings).await?;
    let plans = Plans(Arc::new(HashMap::from([(Id::Int(1), "pro".to_owned())])));
    let app = Router::new()
        .route("/", get(home))
        .layer(axum::Extension(plans))
        .layer(sesame.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    let make = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    Ok(axum::serve(listener, make).await?)
}
