//! The site's templates (minijinja), built in and overridable from a directory, and the
//! context every page gets, as Django's: `user`, `perms`, `messages` and `csrf_token`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use minijinja::{Environment, Value, context};
use sesame_axum::{AuthContext, CsrfToken, Messages, SesameError};
use std::collections::BTreeMap;
use std::path::PathBuf;

macro_rules! builtin {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// The built-in templates, by name.
pub const BUILTIN: &[(&str, &str)] = builtin!(
    "base.html",
    "macros.html",
    "index.html",
    "registration/login.html",
    "registration/signup.html",
    "registration/profile.html",
    "registration/password_change_form.html",
    "registration/password_change_done.html",
    "registration/password_reset_form.html",
    "registration/password_reset_done.html",
    "registration/password_reset_confirm.html",
    "registration/password_reset_complete.html",
    "registration/password_reset_email.txt",
);

/// A template environment: files in `override_dir` win over the built-in templates.
pub fn environment(override_dir: Option<PathBuf>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_loader(move |name| {
        if let Some(dir) = &override_dir {
            // Names come from the site's own code, never from a request; still refuse `..`.
            if !name.split('/').any(|p| p == ".." || p.is_empty()) {
                if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                    return Ok(Some(text));
                }
            }
        }
        Ok(BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| (*t).to_owned()))
    });
    env
}

/// The context Django's context processors give every template: `user`, `perms`
/// (`perms.app.codename` works), `messages` and `csrf_token`. Extract it in any handler that
/// renders a template of its own.
#[derive(Debug)]
pub struct TemplateContext(pub Value);

impl<S: Send + Sync> FromRequestParts<S> for TemplateContext {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = AuthContext::from_request_parts(parts, state).await?;
        Ok(TemplateContext(TemplateContext::from_auth(&auth).await?))
    }
}

impl TemplateContext {
    /// The context for the request behind `auth`.
    pub async fn from_auth(auth: &AuthContext) -> Result<Value, SesameError> {
        let state = auth.request_state();
        let messages = Messages::from_state(state.clone())?;
        let token = CsrfToken(sesame_axum::get_token(state).await?);
        let overrides = state.sesame().settings().messages.tags.clone();
        let user = auth.user().await?;
        let mut perms: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
        if user.is_some() {
            for p in auth.permissions().await?.all() {
                if let Some((app, codename)) = p.split_once('.') {
                    perms
                        .entry(app.to_owned())
                        .or_default()
                        .insert(codename.to_owned(), true);
                }
            }
        }
        let user = match user {
            Some(u) => context! {
                is_authenticated => true,
                username => u.username,
                email => u.email,
                first_name => u.first_name,
                last_name => u.last_name,
                is_staff => u.is_staff,
                is_superuser => u.is_superuser,
                last_login => u.last_login.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            },
            None => context! { is_authenticated => false, username => "" },
        };
        let messages: Vec<Value> = messages
            .take()
            .await?
            .into_iter()
            .map(
                |m| context! { message => m.message, level => m.level, tags => m.tags(&overrides) },
            )
            .collect();
        Ok(context! { user, perms, messages, csrf_token => token.0 })
    }
}
