//! Who is calling: the single place where a request becomes a `Principal` and a `View`.
//!
//! A `Authorization: Bearer` token wins over the session cookie. A bad Bearer token is a 401
//! (an API client must learn its token died); a bad cookie is simply anonymous, so a resident
//! on a shared PC with a stale staff cookie still gets the public map. A cookie-authenticated
//! write must carry the session's CSRF token in `X-CSRF-Token`. Callers who are not signed in
//! are rate-limited per client address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::access::View;
use crate::auth::Session;
use crate::policy::Principal;

/// The session cookie's name: `__Host-` pins it to this host, path `/`, HTTPS only.
pub const SECURE_COOKIE: &str = "__Host-machimap-session";
/// The cookie's name when `secure_cookie = false`.
pub const PLAIN_COOKIE: &str = "machimap-session";
/// The header carrying the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The client's address as the audit log and the rate limits see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub String);

impl ClientAddr {
    pub fn of(parts: &Parts, behind_proxy: bool) -> ClientAddr {
        if behind_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return ClientAddr(ip.to_string());
            }
        }
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => ClientAddr(addr.ip().to_string()),
            // Only in-process callers (tests, tools) have no socket.
            None => ClientAddr("local".into()),
        }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(ClientAddr::of(parts, state.security.behind_proxy))
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    None,
    Bearer(String),
    Cookie(String),
}

/// The token a request presents, if any.
pub fn credential(headers: &HeaderMap, cookie_name: &str) -> Credential {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    {
        let (scheme, token) = auth.trim().split_once(' ').unwrap_or((auth.trim(), ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            // An empty token is still a (bad) Bearer credential: a 401, not anonymous.
            return Credential::Bearer(token.trim().to_string());
        }
    }
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == cookie_name
            {
                return Credential::Cookie(v.to_string());
            }
        }
    }
    Credential::None
}

/// The resolved caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client: ClientAddr,
    /// The session and its token, when signed in.
    pub session: Option<(Session, String)>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Resolved once per request, even when several extractors ask.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let client = ClientAddr::of(parts, state.security.behind_proxy);
        let cred = credential(&parts.headers, state.cookie_name());
        let (token, by_cookie) = match cred {
            Credential::None => (None, false),
            Credential::Bearer(t) => (Some(t), false),
            Credential::Cookie(t) => (Some(t), true),
        };
        let session = match token {
            None => None,
            Some(token) => {
                let auth = state.auth.clone();
                let t = token.clone();
                let found = tokio::task::spawn_blocking(move || auth.session(&t)).await??;
                match found {
                    Some(s) => Some((s, token)),
                    None if !by_cookie => return Err(ApiError::invalid_token()),
                    None => None,
                }
            }
        };
        let caller = match session {
            Some((session, token)) => {
                if by_cookie && !is_safe(&parts.method) {
                    check_csrf(&parts.headers, &session.csrf_token)?;
                }
                Caller {
                    principal: session.user.principal(),
                    client,
                    session: Some((session, token)),
                }
            }
            None => {
                state.limits.check_public(&client)?;
                Caller {
                    principal: Principal::Anonymous,
                    client,
                    session: None,
                }
            }
        };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// Resolves the caller of every request before routing, so the public rate limit counts
/// every anonymous request (metadata, receipt lookups, unknown paths), not only those whose
/// handler asks who is calling. Sign-in is left to its handler: it has its own limit, and a
/// dead token in the browser must not stand in the way of signing in again.
pub async fn resolve_caller(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/auth/login" {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Err(e) = Caller::from_request_parts(&mut parts, &state).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn check_csrf(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let given = headers
        .get(CSRF_HEADER)
        .map(|h| h.as_bytes())
        .unwrap_or_default();
    if given.ct_eq(expected.as_bytes()).into() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "a write with the session cookie needs the session's X-CSRF-Token header \
             (from POST /auth/login or GET /auth/session)",
        ))
    }
}

/// The catalog being served now, as `principal` may see it: the one place `http` makes a
/// `View` (handlers take `CurrentView`; a handler that must look again after a commit, or a
/// live stream at each event, calls this).
pub fn view_of(state: &AppState, principal: &Principal) -> View {
    View::new(state.catalog.snapshot(), principal.clone())
}

/// The catalog as the caller may see it. Every handler that touches layers takes this.
pub struct CurrentView {
    pub view: View,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for CurrentView {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(CurrentView {
            view: view_of(state, &caller.principal),
            caller,
        })
    }
}

/// A signed-in caller holding the admin role; anyone else is refused.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match &caller.principal {
            Principal::Anonymous => Err(ApiError::unauthorized("sign in first")),
            Principal::Staff { roles, .. } if roles.contains(crate::auth::ADMIN_ROLE) => {
                Ok(Admin(caller))
            }
            Principal::Staff { .. } => Err(ApiError::forbidden(
                "only users with the admin role may do this",
            )),
        }
    }
}
