//! Sign-in, sign-out and "who am I": `/auth/login`, `/auth/logout`, `/auth/session`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::JsonBody;
use super::identity::{Caller, ClientAddr};
use super::{ApiError, AppState, json_response};
use crate::auth::Session;

/// The body of `POST /auth/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

fn expires(session: &Session) -> String {
    chrono::DateTime::from_timestamp(session.expires_at, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn session_doc(session: &Session) -> serde_json::Value {
    json!({
        "user": session.user.name,
        "department": session.user.department,
        "roles": session.user.roles,
        "csrf_token": session.csrf_token,
        "expires": expires(session),
    })
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    let secure = if state.security.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        state.cookie_name()
    ))
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// `POST /auth/login` with `{"username", "password"}`: sets the session cookie for the web
/// maps and returns the same session as a Bearer token for API clients.
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    state.limits.check_login(&client)?;
    let auth = state.auth.clone();
    let addr = client.0.clone();
    let new =
        tokio::task::spawn_blocking(move || auth.login(&body.username, &body.password, &addr))
            .await??;
    let mut doc = session_doc(&new.session);
    doc["token"] = json!(new.token);
    doc["token_type"] = json!("Bearer");
    let max_age = new.session.expires_at - state.auth.clock().now();
    let mut response = json_response(StatusCode::OK, doc);
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, &new.token, max_age)?);
    Ok(response)
}

/// `POST /auth/logout`: ends the session (cookie or Bearer) and clears the cookie.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Some((_, token)) = caller.session {
        let auth = state.auth.clone();
        let client = caller.client.0;
        tokio::task::spawn_blocking(move || auth.logout(&token, &client)).await??;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, "", 0)?);
    Ok(response)
}

/// `GET /auth/session`: the signed-in user, roles, expiry and CSRF token (for a web map that
/// was reloaded and only has its cookie).
pub async fn current(caller: Caller) -> Result<Response, ApiError> {
    match caller.session {
        Some((session, _)) => Ok(json_response(StatusCode::OK, session_doc(&session))),
        None => Err(ApiError::unauthorized("not signed in")),
    }
}
