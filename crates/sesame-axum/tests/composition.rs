//! The layers one by one, composed as Django's `MIDDLEWARE` list composes them: a CSRF
//! exemption per route, a CSRF layer on some routes only, a missing layer reported as a
//! wiring error, and typed values in the session.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use sesame_axum::{CsrfToken, Messages, Sesame, SesameError, SessionHandle};
use sesame_core::session::{MemorySessionStore, SessionCodec};
use sesame_core::settings::Settings;
use std::sync::Arc;
use tower::ServiceExt;

fn sesame(
    configure: impl FnOnce(sesame_axum::SesameBuilder) -> sesame_axum::SesameBuilder,
) -> Sesame {
    let settings = Settings {
        secret_key: "composition-secret".into(),
        ..Settings::default()
    };
    let store = Arc::new(MemorySessionStore::new(SessionCodec::from_settings(
        &settings,
    )));
    configure(Sesame::builder(settings, store)).build()
}

fn request(method: &str, uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from("a=1")).unwrap()
}

async fn status(app: &Router, req: Request<Body>) -> StatusCode {
    app.clone().oneshot(req).await.unwrap().status()
}

/// The cross-site POST Django's `CsrfViewMiddleware` refuses: refused on every route but the
/// one exempted, as `@csrf_exempt` exempts one view.
#[tokio::test]
async fn cross_site_post_is_refused_except_on_the_exempt_route() {
    let sesame = sesame(|b| b.csrf_exempt("/hooks/{provider}"));
    let app = Router::new()
        .route("/form/", post(|| async { "saved" }))
        .route("/hooks/{provider}", post(|| async { "hooked" }))
        .layer(sesame.layer());
    assert_eq!(
        status(&app, request("POST", "/form/", None)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&app, request("POST", "/hooks/payment", None)).await,
        StatusCode::OK
    );
    // The exemption names the route, not a prefix of paths.
    let sesame = sesame_with_exact_exemption();
    let app = Router::new()
        .route("/hooks/payment", post(|| async { "hooked" }))
        .route("/hooks/payment/refund", post(|| async { "refunded" }))
        .layer(sesame.layer());
    assert_eq!(
        status(&app, request("POST", "/hooks/payment", None)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, request("POST", "/hooks/payment/refund", None)).await,
        StatusCode::FORBIDDEN
    );
}

fn sesame_with_exact_exemption() -> Sesame {
    sesame(|b| b.csrf_exempt("/hooks/payment"))
}

/// Layers composed by hand: CSRF on the routes above `route_layer`, not on the webhook
/// below it; the session layer outermost, as `SessionMiddleware` comes before
/// `CsrfViewMiddleware` in Django's list.
#[tokio::test]
async fn cross_site_post_is_refused_where_the_csrf_layer_runs() {
    let sesame = sesame(|b| b);
    let app = Router::new()
        .route(
            "/form/",
            get(|t: CsrfToken| async move { t.0 }).post(|| async { "saved" }),
        )
        .route_layer(sesame.csrf_layer())
        .route("/hook", post(|| async { "hooked" }))
        .layer(sesame.messages_layer())
        .layer(sesame.session_layer());
    assert_eq!(
        status(&app, request("POST", "/form/", None)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&app, request("POST", "/hook", None)).await,
        StatusCode::OK
    );

    // A token from the form, with its cookie, is accepted: the composed layers work as one.
    let res = app
        .clone()
        .oneshot(request("GET", "/form/", None))
        .await
        .unwrap();
    let cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("csrftoken="))
        .expect("the CSRF layer sets the cookie");
    let token =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let post = Request::builder()
        .method("POST")
        .uri("/form/")
        .header(header::HOST, "localhost")
        .header(header::COOKIE, &cookie)
        .header("X-CSRFToken", token)
        .body(Body::empty())
        .unwrap();
    assert_eq!(status(&app, post).await, StatusCode::OK);
}

/// A CSRF or messages layer outside any session layer, or a token asked for on a route
/// without the CSRF layer, is a wiring bug: a 500 naming the missing layer, never a token
/// whose cookie is never sent, nor messages silently lost.
#[tokio::test]
async fn missing_layers_are_reported_not_ignored() {
    let sesame = sesame(|b| b);
    let no_session = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(sesame.csrf_layer());
    assert_eq!(
        status(&no_session, request("GET", "/", None)).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let no_csrf = Router::new()
        .route("/token", get(|t: CsrfToken| async move { t.0 }))
        .route(
            "/note",
            get(|m: Messages| async move {
                m.info("hi");
                "queued"
            }),
        )
        .layer(sesame.session_layer());
    assert_eq!(
        status(&no_csrf, request("GET", "/token", None)).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status(&no_csrf, request("GET", "/note", None)).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
struct Cart {
    items: Vec<u32>,
}

/// `get_as`/`insert_as` keep a typed value across requests; a value of another shape in the
/// session (a forged or outdated one) is a 400, not a panic.
#[tokio::test]
async fn typed_session_values_round_trip_and_refuse_another_shape() {
    let sesame = sesame(|b| b);
    let app = Router::new()
        .route(
            "/add",
            get(|s: SessionHandle| async move {
                let mut cart: Cart = s.get_as("cart").await?.unwrap_or_default();
                cart.items.push(7);
                s.insert_as("cart", &cart).await?;
                Ok::<_, SesameError>(cart.items.len().to_string())
            }),
        )
        .route(
            "/break",
            get(|s: SessionHandle| async move {
                s.insert("cart", "not a cart".into()).await?;
                Ok::<_, SesameError>("broken")
            }),
        )
        .layer(sesame.layer());
    let res = app
        .clone()
        .oneshot(request("GET", "/add", None))
        .await
        .unwrap();
    let cookie = res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .clone()
        .oneshot(request("GET", "/add", Some(&cookie)))
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"2");
    assert_eq!(
        status(&app, request("GET", "/break", Some(&cookie))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, request("GET", "/add", Some(&cookie))).await,
        StatusCode::BAD_REQUEST
    );
}
