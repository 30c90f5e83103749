//! Django's messages framework with `FallbackStorage`, Django's default: messages go into the
//! signed `messages` cookie, and what does not fit (2 KB) into the session's `_messages`,
//! in Django's formats, so a Django site shows what Sesame queued and the other way round.

use crate::cookies::{delete_cookie, set_cookie};
use crate::error::SesameError;
use crate::state::{LoadedMessages as Loaded, MessageState, RequestState};
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response};
use sesame_core::messages::{self as core, CookieStorage, Message};

/// The extractor: `messages.add(...)` to queue, `messages.take()` to read (and consume).
///
/// ```
/// use sesame_axum::Messages;
/// async fn handler(messages: Messages) -> String {
///     messages.success("Saved.");
///     let shown = messages.take().await.unwrap_or_default();
///     format!("{} message(s)", shown.len())
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Messages {
    state: RequestState,
}

impl<S: Send + Sync> FromRequestParts<S> for Messages {
    type Rejection = SesameError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_state(RequestState::from_parts(parts)?)
    }
}

fn lock(state: &RequestState) -> std::sync::MutexGuard<'_, MessageState> {
    state.0.messages.lock().unwrap_or_else(|e| e.into_inner())
}

impl Messages {
    /// The messages of a request, from its state; [`SesameError::MissingLayer`] when no
    /// messages layer runs around the route (queued messages would be lost).
    pub fn from_state(state: RequestState) -> Result<Self, SesameError> {
        if state.messages_enabled() {
            Ok(Self { state })
        } else {
            Err(SesameError::MissingLayer)
        }
    }

    /// `messages.add_message(request, level, message)`; dropped below `MESSAGE_LEVEL`.
    pub fn add(&self, level: i32, message: impl Into<String>) {
        if level < self.state.sesame().settings().messages.level {
            return;
        }
        lock(&self.state).queued.push(Message::new(level, message));
    }

    /// `messages.info`.
    pub fn info(&self, message: impl Into<String>) {
        self.add(core::INFO, message);
    }

    /// `messages.success`.
    pub fn success(&self, message: impl Into<String>) {
        self.add(core::SUCCESS, message);
    }

    /// `messages.warning`.
    pub fn warning(&self, message: impl Into<String>) {
        self.add(core::WARNING, message);
    }

    /// `messages.error`.
    pub fn error(&self, message: impl Into<String>) {
        self.add(core::ERROR, message);
    }

    /// Iterate the messages (stored ones, then those queued in this request); they are then
    /// gone after this response, as in Django.
    pub async fn take(&self) -> Result<Vec<Message>, SesameError> {
        let loaded = load(&self.state).await?;
        let mut st = lock(&self.state);
        st.used = true;
        let mut all = loaded.cookie.clone();
        all.extend(loaded.session.clone());
        all.extend(st.queued.clone());
        Ok(all)
    }
}

async fn load(state: &RequestState) -> Result<Loaded, SesameError> {
    if let Some(l) = lock(state).loaded.clone() {
        return Ok(l);
    }
    let settings = state.sesame().settings();
    let cookie_value = state.0.raw_messages_cookie.clone();
    let storage = CookieStorage::new(&settings.secret_key, &settings.secret_key_fallbacks);
    let mut loaded = Loaded {
        had_cookie: cookie_value.is_some(),
        ..Default::default()
    };
    let mut read_session = cookie_value.is_none();
    if let Some(c) = cookie_value.as_deref().and_then(|c| storage.decode(c)) {
        read_session = !c.all_retrieved;
        loaded.cookie = c.messages;
    }
    if read_session {
        let mut session = state.0.session.lock().await;
        if let Some(v) = session.get(core::SESSION_KEY).await? {
            loaded.session = core::from_session_value(&v);
        }
    }
    lock(state).loaded = Some(loaded.clone());
    Ok(loaded)
}

/// `MessageMiddleware.process_response` → `FallbackStorage.update`.
pub(crate) async fn store(
    state: &RequestState,
    response: &mut Response<Body>,
) -> Result<(), SesameError> {
    let (used, queued, loaded_before) = {
        let st = lock(state);
        (st.used, st.queued.clone(), st.loaded.clone())
    };
    if !used && queued.is_empty() {
        return Ok(());
    }
    let loaded = match loaded_before {
        Some(l) => l,
        None => load(state).await?,
    };
    // Used: only what was queued after reading remains. Not used: old and new together.
    let to_store: Vec<Message> = if used {
        queued
    } else {
        let mut all = loaded.cookie.clone();
        all.extend(loaded.session.clone());
        all.extend(queued);
        all
    };
    let settings = state.sesame().settings();
    let storage = CookieStorage::new(&settings.secret_key, &settings.secret_key_fallbacks);
    let (cookie, overflow) =
        storage.encode_keep_oldest_at(&to_store, chrono::Utc::now().timestamp());
    let attrs = crate::cookies::CookieAttributes {
        domain: settings.session.cookie_domain.clone(),
        path: "/".into(),
        secure: settings.session.cookie_secure,
        http_only: settings.session.cookie_httponly,
        same_site: settings.session.cookie_samesite.to_string(),
    };
    let header = match cookie {
        Some(value) => Some(set_cookie(
            core::COOKIE_NAME,
            &value,
            None,
            chrono::Utc::now(),
            &attrs,
        )),
        None if loaded.had_cookie => Some(delete_cookie(core::COOKIE_NAME, &attrs)),
        None => None,
    };
    if let Some(h) = header.and_then(|h| HeaderValue::from_str(&h).ok()) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, h);
    }
    let mut session = state.0.session.lock().await;
    match core::session_value(&overflow) {
        Some(v) => {
            session.insert(core::SESSION_KEY, v).await?;
        }
        None if !loaded.session.is_empty() => {
            session.remove(core::SESSION_KEY).await?;
        }
        None => {}
    }
    Ok(())
}
