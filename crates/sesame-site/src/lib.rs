//! # sesame-site
//!
//! The ready-made site behind `sesame serve`: Django's `contrib.auth` URLs and views (login,
//! logout, signup, profile, password change and reset), the index, `/api/whoami` and
//! `/healthz`, on any stores, with its templates (minijinja) and its outbox (lettre). It is a
//! crate of its own so that an application that only wants sessions and auth in its own
//! routes (`sesame-axum`) compiles neither a template engine nor an SMTP client.
//!
//! ```no_run
//! use sesame_axum::Sesame;
//! use sesame_core::auth::hashers::{Hashers, PasswordHashing};
//! use sesame_core::auth::{Auth, MemoryAuthStore, ModelBackend};
//! use sesame_core::session::{MemorySessionStore, SessionCodec};
//! use sesame_core::settings::Settings;
//! use sesame_site::Site;
//! use std::sync::Arc;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings { secret_key: "change me".into(), ..Settings::default() };
//! let sessions = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(&settings)));
//! let users = Arc::new(MemoryAuthStore::default());
//! let hashing = PasswordHashing::new(Hashers::from_settings(&settings)?, 0);
//! let auth = Auth::new(
//!     ModelBackend::new(users.clone(), hashing.clone()),
//!     settings.secret_key.clone(),
//!     Vec::new(),
//!     settings.auth.backend_path.clone(),
//! );
//! let sesame = Sesame::builder(settings.clone(), sessions.clone()).auth(auth).build();
//! let app = Site::new(settings, users, sessions, hashing)?.router().layer(sesame.layer());
//! # let _: axum::Router = app;
//! # Ok(())
//! # }
//! ```

mod outbox;
mod templates;

pub use outbox::{Email, Outbox, OutboxError};
pub use templates::{BUILTIN as BUILTIN_TEMPLATES, TemplateContext, environment};

use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::{Environment, Value, context};
use serde_json::json;
use sesame_axum::{AuthContext, LoginError, LoginRequired, Messages, SesameError, SessionHandle};
use sesame_core::auth::store::AuthStore;
use sesame_core::auth::tokens::{PasswordResetTokenGenerator, TokenUser, uid_decode, uid_encode};
use sesame_core::auth::validators::{PasswordValidators, UserAttributes};
use sesame_core::auth::{
    Id, NewUser, User, hashers::PasswordHashing, normalize_email, normalize_username,
    validate_username,
};
use sesame_core::session::SessionStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const RESET_SESSION_TOKEN: &str = "_password_reset_token";
const INVALID_LOGIN: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// What the site's views share.
#[derive(Clone)]
pub struct Site {
    inner: Arc<SiteInner>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings and the token generator hold SECRET_KEY, the outbox SMTP credentials.
        f.debug_struct("Site").finish_non_exhaustive()
    }
}

struct SiteInner {
    users: Arc<dyn AuthStore>,
    sessions: Arc<dyn SessionStore>,
    hashing: PasswordHashing,
    validators: PasswordValidators,
    templates: Environment<'static>,
    outbox: Outbox,
    tokens: PasswordResetTokenGenerator,
    settings: sesame_core::settings::Settings,
}

/// Why the site could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A setting is wrong.
    #[error("{0}")]
    Settings(String),
}

impl Site {
    /// The site over these stores. The `Sesame` layer (with auth) must wrap the router.
    pub fn new(
        settings: sesame_core::settings::Settings,
        users: Arc<dyn AuthStore>,
        sessions: Arc<dyn SessionStore>,
        hashing: PasswordHashing,
    ) -> Result<Self, SiteError> {
        let validators =
            PasswordValidators::from_settings(&settings).map_err(SiteError::Settings)?;
        let outbox =
            Outbox::from_settings(&settings).map_err(|e| SiteError::Settings(e.to_string()))?;
        let tokens = PasswordResetTokenGenerator::from_settings(&settings)
            .map_err(|e| SiteError::Settings(e.to_string()))?;
        let templates = environment(settings.serve.templates_dir.clone().map(Into::into));
        Ok(Self {
            inner: Arc::new(SiteInner {
                users,
                sessions,
                hashing,
                validators,
                templates,
                outbox,
                tokens,
                settings,
            }),
        })
    }

    /// The routes of the ready-made site (the README lists them).
    pub fn router(&self) -> Router {
        sesame_axum::security::append_slash(self.routes())
    }

    fn routes(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/accounts/login/", get(login_page).post(login_submit))
            .route("/accounts/logout/", post(logout))
            .route("/accounts/signup/", get(signup_page).post(signup_submit))
            .route("/accounts/profile/", get(profile))
            .route(
                "/accounts/password_change/",
                get(password_change_page).post(password_change_submit),
            )
            .route("/accounts/password_change/done/", get(password_change_done))
            .route(
                "/accounts/password_reset/",
                get(password_reset_page).post(password_reset_submit),
            )
            .route("/accounts/password_reset/done/", get(password_reset_done))
            .route("/accounts/reset/done/", get(password_reset_complete))
            .route(
                "/accounts/reset/{uidb64}/{token}/",
                get(reset_confirm_page).post(reset_confirm_submit),
            )
            .route("/api/whoami", get(whoami))
            // Django's auth views are `@never_cache`; here every page but the health check
            // shows or takes credentials or is the user's own.
            .route_layer(sesame_axum::security::never_cache())
            .route("/healthz", get(healthz))
            .with_state(self.clone())
    }

    fn render(&self, status: StatusCode, name: &str, ctx: Value) -> Response {
        match self
            .inner
            .templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(target: "sesame::site", template = name, error = %e, "template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "Server error.").into_response()
            }
        }
    }

    fn password_help(&self) -> String {
        self.inner.validators.help_texts().join(" ")
    }
}

type FormData = Form<Vec<(String, String)>>;

fn fields(Form(pairs): FormData) -> HashMap<String, String> {
    // Django's QueryDict.get: the last value of a repeated field.
    pairs.into_iter().collect()
}

fn required(
    f: &HashMap<String, String>,
    name: &str,
    errors: &mut BTreeMap<String, Vec<String>>,
) -> String {
    let v = f.get(name).cloned().unwrap_or_default();
    if v.is_empty() {
        errors
            .entry(name.to_owned())
            .or_default()
            .push("This field is required.".into());
    }
    v
}

fn merge(base: Value, extra: Value) -> Value {
    context! { ..base, ..extra }
}

fn redirect(to: &str) -> Response {
    sesame_axum::security::redirect(StatusCode::FOUND, to)
}

async fn index(State(site): State<Site>, ctx: TemplateContext) -> Response {
    site.render(StatusCode::OK, "index.html", ctx.0)
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(site): State<Site>,
    ctx: TemplateContext,
    Query(q): Query<NextQuery>,
) -> Response {
    let form = context! { username => "", errors => context! {}, non_field_errors => Vec::<String>::new() };
    site.render(
        StatusCode::OK,
        "registration/login.html",
        merge(ctx.0, context! { form, next => q.next.unwrap_or_default() }),
    )
}

async fn login_submit(
    State(site): State<Site>,
    auth: AuthContext,
    form: FormData,
) -> Result<Response, SesameError> {
    let f = fields(form);
    let mut errors = BTreeMap::new();
    let username = required(&f, "username", &mut errors);
    let password = required(&f, "password", &mut errors);
    let next = f.get("next").cloned().unwrap_or_default();
    let mut non_field = Vec::new();
    let mut status = StatusCode::BAD_REQUEST;
    let mut retry = None;
    if errors.is_empty() {
        match auth.authenticate(&username, &password).await {
            Ok(mut user) => {
                auth.login(&mut user).await?;
                let target = auth.safe_next(
                    Some(&next).filter(|n| !n.is_empty()).map(String::as_str),
                    &site.inner.settings.auth.login_redirect_url,
                );
                return Ok(redirect(target));
            }
            Err(LoginError::InvalidLogin) => non_field.push(INVALID_LOGIN.to_owned()),
            Err(e @ LoginError::Throttled(_)) => {
                status = StatusCode::TOO_MANY_REQUESTS;
                if let LoginError::Throttled(d) = e {
                    retry = Some(d);
                }
                non_field.push(e.to_string());
            }
            Err(LoginError::Store(e)) => return Err(e),
        }
    }
    let ctx = TemplateContext::from_auth(&auth).await?;
    let form = context! { username, errors, non_field_errors => non_field };
    let page = site.render(
        status,
        "registration/login.html",
        merge(ctx, context! { form, next }),
    );
    Ok(with_retry_after(page, retry))
}

/// A 429 page says when to come back, in the header as well as in words.
fn with_retry_after(mut page: Response, retry: Option<std::time::Duration>) -> Response {
    if let Some(d) = retry
        && let Ok(v) = header::HeaderValue::from_str(&sesame_axum::throttle::retry_after(d))
    {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    page
}

/// Count a signup or reset request; `Ok(Some(wait))` when it is over its limit, an error (503)
/// when the throttle's store failed.
async fn throttled(
    result: Result<(), sesame_axum::throttle::ThrottleRefusal>,
) -> Result<Option<std::time::Duration>, SesameError> {
    match result {
        Ok(()) => Ok(None),
        Err(sesame_axum::throttle::ThrottleRefusal::Locked(d)) => Ok(Some(d)),
        Err(sesame_axum::throttle::ThrottleRefusal::Store(e)) => Err(e.into()),
    }
}

fn too_many_requests(what: &str, d: std::time::Duration) -> String {
    format!(
        "Too many {what}. Try again in {}.",
        sesame_axum::throttle::minutes_text(d)
    )
}

async fn logout(
    State(site): State<Site>,
    auth: AuthContext,
    messages: Messages,
) -> Result<Response, SesameError> {
    auth.logout().await?;
    messages.info("You have been logged out.");
    Ok(redirect(
        site.inner
            .settings
            .auth
            .logout_redirect_url
            .as_deref()
            .unwrap_or("/"),
    ))
}

async fn signup_page(State(site): State<Site>, ctx: TemplateContext) -> Response {
    let form = context! { username => "", email => "", errors => context! {}, non_field_errors => Vec::<String>::new() };
    site.render(
        StatusCode::OK,
        "registration/signup.html",
        merge(
            ctx.0,
            context! { form, password_help => site.password_help() },
        ),
    )
}

async fn signup_submit(
    State(site): State<Site>,
    auth: AuthContext,
    messages: Messages,
    form: FormData,
) -> Result<Response, SesameError> {
    let f = fields(form);
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let username = normalize_username(required(&f, "username", &mut errors).trim());
    let email = normalize_email(f.get("email").map(String::as_str).unwrap_or_default());
    let p1 = required(&f, "password1", &mut errors);
    let p2 = required(&f, "password2", &mut errors);
    // Counted before anything is looked up: the answers below tell whether a username or an
    // e-mail address has an account.
    let state = auth.request_state();
    let throttle = state.sesame().throttle();
    if let Some(wait) = throttled(throttle.signup(state.client_ip()).await).await? {
        let ctx = TemplateContext::from_auth(&auth).await?;
        let form = context! { username, email, errors => context! {}, non_field_errors => vec![too_many_requests("signup attempts", wait)] };
        let page = site.render(
            StatusCode::TOO_MANY_REQUESTS,
            "registration/signup.html",
            merge(
                ctx,
                context! { form, password_help => site.password_help() },
            ),
        );
        return Ok(with_retry_after(page, Some(wait)));
    }
    if !username.is_empty() {
        if let Err(m) = validate_username(&username) {
            errors.entry("username".into()).or_default().push(m.into());
        } else if username_taken(&site, &username).await? {
            errors
                .entry("username".into())
                .or_default()
                .push("A user with that username already exists.".into());
        }
    }
    if !email.is_empty() {
        if !email.contains('@') || email.len() > 254 {
            errors
                .entry("email".into())
                .or_default()
                .push("Enter a valid email address.".into());
        } else if !site
            .inner
            .users
            .get_users_by_email(&email)
            .await?
            .is_empty()
        {
            errors
                .entry("email".into())
                .or_default()
                .push("A user with that email address already exists.".into());
        }
    }
    if !p1.is_empty() && !p2.is_empty() {
        if p1 != p2 {
            errors
                .entry("password2".into())
                .or_default()
                .push("The two password fields didn’t match.".into());
        } else if let Err(errs) = site.inner.validators.validate(
            &p2,
            Some(&UserAttributes {
                username: username.clone(),
                email: email.clone(),
                ..Default::default()
            }),
        ) {
            errors
                .entry("password2".into())
                .or_default()
                .extend(errs.into_iter().map(|e| e.message));
        }
    }
    if errors.is_empty() {
        let encoded = site.inner.hashing.make_password(p1).await?;
        match site
            .inner
            .users
            .create_user(NewUser::new(username.clone(), email.clone(), encoded))
            .await
        {
            Ok(mut user) => {
                // No backend named: `login` uses the first configured one, whose path
                // (AUTH_BACKEND_PATH) is what goes into `_auth_user_backend`.
                user.backend = None;
                auth.login(&mut user).await?;
                messages.success(format!(
                    "Welcome, {}! Your account has been created.",
                    user.username
                ));
                return Ok(redirect("/"));
            }
            Err(sesame_core::auth::AuthStoreError::DuplicateUsername(_)) => {
                errors
                    .entry("username".into())
                    .or_default()
                    .push("A user with that username already exists.".into());
            }
            Err(sesame_core::auth::AuthStoreError::Invalid(m)) => {
                errors.entry("username".into()).or_default().push(m)
            }
            Err(e) => return Err(e.into()),
        }
    }
    let ctx = TemplateContext::from_auth(&auth).await?;
    let form = context! { username, email, errors, non_field_errors => Vec::<String>::new() };
    Ok(site.render(
        StatusCode::BAD_REQUEST,
        "registration/signup.html",
        merge(
            ctx,
            context! { form, password_help => site.password_help() },
        ),
    ))
}

/// Django's `UserCreationForm` refuses usernames that differ only by case.
async fn username_taken(site: &Site, username: &str) -> Result<bool, SesameError> {
    if site
        .inner
        .users
        .get_user_by_username(username)
        .await?
        .is_some()
    {
        return Ok(true);
    }
    let lower = username.to_lowercase();
    if lower != username
        && site
            .inner
            .users
            .get_user_by_username(&lower)
            .await?
            .is_some()
    {
        return Ok(true);
    }
    Ok(false)
}

async fn profile(State(site): State<Site>, _: LoginRequired, ctx: TemplateContext) -> Response {
    site.render(StatusCode::OK, "registration/profile.html", ctx.0)
}

async fn password_change_page(
    State(site): State<Site>,
    _: LoginRequired,
    ctx: TemplateContext,
) -> Response {
    let form = context! { errors => context! {} };
    site.render(
        StatusCode::OK,
        "registration/password_change_form.html",
        merge(
            ctx.0,
            context! { form, password_help => site.password_help() },
        ),
    )
}

async fn password_change_submit(
    State(site): State<Site>,
    LoginRequired(mut user): LoginRequired,
    auth: AuthContext,
    form: FormData,
) -> Result<Response, SesameError> {
    let f = fields(form);
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let old = required(&f, "old_password", &mut errors);
    let p1 = required(&f, "new_password1", &mut errors);
    let p2 = required(&f, "new_password2", &mut errors);
    if !old.is_empty() {
        let check = site
            .inner
            .hashing
            .verify_password(old, user.password.clone())
            .await?;
        if !check.valid {
            errors
                .entry("old_password".into())
                .or_default()
                .push("Your old password was entered incorrectly. Please enter it again.".into());
        }
    }
    set_password_checks(&site, &user, &p1, &p2, &mut errors);
    if errors.is_empty() {
        let encoded = site.inner.hashing.make_password(p1).await?;
        // The session's new key is stored before the password and the old key deleted after
        // it, so that an outage gives 503 with nothing changed, or the change done everywhere.
        let (users, id, saved) = (site.inner.users.clone(), user.id.clone(), encoded.clone());
        auth.change_password(&mut user, encoded, async move {
            users.set_password(&id, &saved).await
        })
        .await?;
        return Ok(redirect("/accounts/password_change/done/"));
    }
    let ctx = TemplateContext::from_auth(&auth).await?;
    Ok(site.render(
        StatusCode::BAD_REQUEST,
        "registration/password_change_form.html",
        merge(
            ctx,
            context! { form => context! { errors }, password_help => site.password_help() },
        ),
    ))
}

fn set_password_checks(
    site: &Site,
    user: &User,
    p1: &str,
    p2: &str,
    errors: &mut BTreeMap<String, Vec<String>>,
) {
    if p1.is_empty() || p2.is_empty() {
        return;
    }
    if p1 != p2 {
        errors
            .entry("new_password2".into())
            .or_default()
            .push("The two password fields didn’t match.".into());
    } else if let Err(errs) = site
        .inner
        .validators
        .validate(p2, Some(&UserAttributes::from(user)))
    {
        errors
            .entry("new_password2".into())
            .or_default()
            .extend(errs.into_iter().map(|e| e.message));
    }
}

async fn password_change_done(
    State(site): State<Site>,
    _: LoginRequired,
    ctx: TemplateContext,
) -> Response {
    site.render(
        StatusCode::OK,
        "registration/password_change_done.html",
        ctx.0,
    )
}

async fn password_reset_page(State(site): State<Site>, ctx: TemplateContext) -> Response {
    site.render(
        StatusCode::OK,
        "registration/password_reset_form.html",
        merge(
            ctx.0,
            context! { form => context! { email => "", errors => context! {} } },
        ),
    )
}

async fn password_reset_submit(
    State(site): State<Site>,
    auth: AuthContext,
    form: FormData,
) -> Result<Response, SesameError> {
    let f = fields(form);
    let mut errors = BTreeMap::new();
    let email = required(&f, "email", &mut errors);
    if !errors.is_empty() || !email.contains('@') {
        errors
            .entry("email".to_owned())
            .or_insert_with(|| vec!["Enter a valid email address.".to_owned()]);
        let ctx = TemplateContext::from_auth(&auth).await?;
        return Ok(site.render(
            StatusCode::BAD_REQUEST,
            "registration/password_reset_form.html",
            merge(ctx, context! { form => context! { email, errors } }),
        ));
    }
    let state = auth.request_state();
    let throttle = state.sesame().throttle();
    if let Some(wait) = throttled(
        throttle
            .password_reset(state.client_ip(), &normalize_email(&email))
            .await,
    )
    .await?
    {
        let errors = BTreeMap::from([(
            "email".to_owned(),
            vec![too_many_requests("password reset requests", wait)],
        )]);
        let ctx = TemplateContext::from_auth(&auth).await?;
        let page = site.render(
            StatusCode::TOO_MANY_REQUESTS,
            "registration/password_reset_form.html",
            merge(ctx, context! { form => context! { email, errors } }),
        );
        return Ok(with_retry_after(page, Some(wait)));
    }
    // Django's PasswordResetForm: the domain of `get_current_site(request)` (the host
    // validated against ALLOWED_HOSTS, never a raw Host header) and HTTPS when the request
    // came over it.
    let security = auth.request_state().security();
    let domain = security.host().to_owned();
    let protocol = security.scheme();
    for user in site.inner.users.get_users_by_email(&email).await? {
        // Django's PasswordResetForm.get_users: active users with a usable password only.
        if !user.is_active || !user.has_usable_password() {
            continue;
        }
        let pk = user.id.to_string();
        let token = site.inner.tokens.make_token(TokenUser::new(&user, &pk));
        let body = site
            .inner
            .templates
            .get_template("registration/password_reset_email.txt")
            .and_then(|t| {
                t.render(context! { site_name => domain.clone(), domain => domain.clone(), protocol, uid => uid_encode(&pk), token, username => user.username.clone() })
            })
            .map_err(|e| SesameError::Internal(format!("password reset e-mail template: {e}").into()))?;
        let mail = Email {
            from: site.inner.settings.email.default_from.clone(),
            to: user.email.clone(),
            subject: format!("Password reset on {domain}"),
            body,
        };
        // As Django: a delivery failure is logged, never revealed (no user enumeration).
        if let Err(e) = site.inner.outbox.send(&mail).await {
            tracing::error!(target: "sesame::site", error = %e, "password reset e-mail not sent");
        }
    }
    Ok(redirect("/accounts/password_reset/done/"))
}

async fn password_reset_done(State(site): State<Site>, ctx: TemplateContext) -> Response {
    site.render(
        StatusCode::OK,
        "registration/password_reset_done.html",
        ctx.0,
    )
}

async fn reset_user(site: &Site, uidb64: &str) -> Result<Option<User>, SesameError> {
    let Some(id) =
        uid_decode(uidb64).and_then(|s| Id::parse(&s, site.inner.users.user_id_kind()).ok())
    else {
        return Ok(None);
    };
    Ok(site.inner.users.get_user(&id).await?)
}

/// Django's `PasswordResetConfirmView`: a valid token goes into the session and the URL is
/// replaced by `set-password`, so the token never leaks through the Referer header.
async fn reset_confirm_page(
    State(site): State<Site>,
    Path((uidb64, token)): Path<(String, String)>,
    session: SessionHandle,
    ctx: TemplateContext,
) -> Result<Response, SesameError> {
    let user = reset_user(&site, &uidb64).await?;
    if let Some(user) = &user {
        let pk = user.id.to_string();
        if token == "set-password" {
            let stored = session.get(RESET_SESSION_TOKEN).await?;
            if stored
                .as_ref()
                .and_then(|v| v.as_str())
                .is_some_and(|t| site.inner.tokens.check_token(TokenUser::new(user, &pk), t))
            {
                let form = context! { errors => context! {} };
                return Ok(site.render(
                    StatusCode::OK,
                    "registration/password_reset_confirm.html",
                    merge(
                        ctx.0,
                        context! { validlink => true, form, password_help => site.password_help() },
                    ),
                ));
            }
        } else if site
            .inner
            .tokens
            .check_token(TokenUser::new(user, &pk), &token)
        {
            session.insert(RESET_SESSION_TOKEN, token.into()).await?;
            return Ok(redirect(&format!("/accounts/reset/{uidb64}/set-password/")));
        }
    }
    Ok(site.render(
        StatusCode::BAD_REQUEST,
        "registration/password_reset_confirm.html",
        merge(ctx.0, context! { validlink => false }),
    ))
}

async fn reset_confirm_submit(
    State(site): State<Site>,
    Path((uidb64, token)): Path<(String, String)>,
    session: SessionHandle,
    auth: AuthContext,
    form: FormData,
) -> Result<Response, SesameError> {
    let f = fields(form);
    let user = reset_user(&site, &uidb64).await?;
    let valid = match &user {
        Some(u) if token == "set-password" => {
            let pk = u.id.to_string();
            let stored = session.get(RESET_SESSION_TOKEN).await?;
            stored
                .as_ref()
                .and_then(|v| v.as_str())
                .is_some_and(|t| site.inner.tokens.check_token(TokenUser::new(u, &pk), t))
        }
        _ => false,
    };
    let Some(user) = user.filter(|_| valid) else {
        let ctx = TemplateContext::from_auth(&auth).await?;
        return Ok(site.render(
            StatusCode::BAD_REQUEST,
            "registration/password_reset_confirm.html",
            merge(ctx, context! { validlink => false }),
        ));
    };
    let mut errors = BTreeMap::new();
    let p1 = required(&f, "new_password1", &mut errors);
    let p2 = required(&f, "new_password2", &mut errors);
    set_password_checks(&site, &user, &p1, &p2, &mut errors);
    if errors.is_empty() {
        let encoded = site.inner.hashing.make_password(p1).await?;
        // The session (without the used token) is stored before the password: a store
        // failure then answers 503 with the old password still the one that works (the
        // link works again too), and once the password is saved nothing is left to fail.
        {
            let mut s = session.lock().await;
            s.remove(RESET_SESSION_TOKEN)
                .await
                .map_err(SesameError::from)?;
            s.save().await.map_err(SesameError::from)?;
        }
        site.inner.users.set_password(&user.id, &encoded).await?;
        return Ok(redirect("/accounts/reset/done/"));
    }
    let ctx = TemplateContext::from_auth(&auth).await?;
    let form = context! { errors };
    Ok(site.render(
        StatusCode::BAD_REQUEST,
        "registration/password_reset_confirm.html",
        merge(
            ctx,
            context! { validlink => true, form, password_help => site.password_help() },
        ),
    ))
}

async fn password_reset_complete(State(site): State<Site>, ctx: TemplateContext) -> Response {
    site.render(
        StatusCode::OK,
        "registration/password_reset_complete.html",
        ctx.0,
    )
}

/// The answer of `/api/whoami` (its JSON is a documented interface), written straight from
/// borrowed fields.
#[derive(serde::Serialize)]
struct WhoAmI<'a> {
    authenticated: bool,
    id: Option<String>,
    username: Option<&'a str>,
    is_staff: bool,
    is_superuser: bool,
    permissions: Vec<&'a str>,
}

async fn whoami(auth: AuthContext) -> Result<Response, SesameError> {
    let Some(u) = auth.user().await? else {
        return Ok(Json(WhoAmI {
            authenticated: false,
            id: None,
            username: None,
            is_staff: false,
            is_superuser: false,
            permissions: Vec::new(),
        })
        .into_response());
    };
    let perms = auth.permissions().await?;
    Ok(Json(WhoAmI {
        authenticated: true,
        id: Some(u.id.to_string()),
        username: Some(&u.username),
        is_staff: u.is_staff,
        is_superuser: u.is_superuser,
        permissions: perms.all().iter().map(String::as_str).collect(),
    })
    .into_response())
}

async fn healthz(State(site): State<Site>) -> Response {
    let sessions = site
        .inner
        .sessions
        .exists("healthzhealthzhealthzhealthz")
        .await;
    let users = site.inner.users.list_users(0, 1).await;
    match (sessions, users) {
        (Ok(_), Ok(_)) => (StatusCode::OK, Json(json!({"status": "ok"}))).into_response(),
        (s, u) => {
            tracing::error!(target: "sesame::site", sessions = ?s.err(), users = ?u.err(), "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}
