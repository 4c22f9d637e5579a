//! Administration for users with the admin role: users, roles and the audit log.
//! The audit log can be read here and nowhere be changed.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::extract::JsonBody;
use super::extract::Path;
use super::identity::Admin;
use super::{ApiError, AppState, QueryPairs, json_response};
use crate::audit::{self, Action};
use crate::auth::Actor;
use crate::query::QueryError;

/// Runs a user-management call off the executor with the admin as the audited actor.
async fn as_admin<T: Send + 'static>(
    state: &AppState,
    Admin(caller): &Admin,
    f: impl FnOnce(&crate::auth::Auth, Actor<'_>) -> Result<T, crate::auth::AuthError> + Send + 'static,
) -> Result<T, ApiError> {
    let auth = state.auth.clone();
    let name = caller.principal.name().to_string();
    let client = caller.client.0.clone();
    let result = tokio::task::spawn_blocking(move || {
        f(
            &auth,
            Actor {
                name: &name,
                client: &client,
            },
        )
    })
    .await?;
    Ok(result?)
}

/// `GET /admin/users`
pub async fn users(State(state): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    let users = as_admin(&state, &admin, |auth, _| auth.users()).await?;
    Ok(json_response(StatusCode::OK, json!({ "users": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    username: String,
    department: String,
    #[serde(default)]
    roles: Vec<String>,
    password: String,
}

/// `POST /admin/users`
pub async fn add_user(
    State(state): State<AppState>,
    admin: Admin,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let user = as_admin(&state, &admin, move |auth, actor| {
        auth.add_user(
            actor,
            &body.username,
            &body.department,
            &body.roles,
            &body.password,
        )
    })
    .await?;
    Ok(json_response(StatusCode::CREATED, json!(user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    roles: Vec<String>,
}

/// `PUT /admin/users/{name}/roles` with `{"roles": [...]}`: effective on the user's next request.
pub async fn set_roles(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Roles>,
) -> Result<Response, ApiError> {
    let user = as_admin(&state, &admin, move |auth, actor| {
        auth.set_roles(actor, &name, &body.roles)
    })
    .await?;
    Ok(json_response(StatusCode::OK, json!(user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Password {
    password: String,
}

/// `PUT /admin/users/{name}/password`: also ends the user's sessions.
pub async fn set_password(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Password>,
) -> Result<Response, ApiError> {
    as_admin(&state, &admin, move |auth, actor| {
        auth.set_password(actor, &name, &body.password)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /admin/users/{name}`: the user's sessions end at once.
pub async fn delete_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    as_admin(&state, &admin, move |auth, actor| {
        auth.delete_user(actor, &name)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /admin/roles`
pub async fn roles(State(state): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    let roles = as_admin(&state, &admin, |auth, _| auth.roles()).await?;
    let list: Vec<_> = roles
        .into_iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    Ok(json_response(StatusCode::OK, json!({ "roles": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /admin/roles`
pub async fn add_role(
    State(state): State<AppState>,
    admin: Admin,
    JsonBody(body): JsonBody<NewRole>,
) -> Result<Response, ApiError> {
    as_admin(&state, &admin, move |auth, actor| {
        auth.add_role(actor, &body.name, &body.description)
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `GET /admin/audit?actor=&action=&target=&limit=&offset=`: newest first.
pub async fn audit_log(
    State(state): State<AppState>,
    _admin: Admin,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let mut filter = audit::Filter {
        limit: 100,
        ..audit::Filter::default()
    };
    let bad = |p: &str, m: String| ApiError::from(QueryError::new(p, m));
    for (k, v) in &q.pairs {
        match k.as_str() {
            "actor" => filter.actor = Some(v.clone()),
            "target" => filter.target = Some(v.clone()),
            "action" => {
                filter.action = Some(
                    Action::ALL
                        .into_iter()
                        .find(|a| a.as_str() == v)
                        .ok_or_else(|| bad("action", format!("unknown action \"{v}\"")))?,
                )
            }
            "limit" => {
                filter.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad("limit", format!("expected 1 to 1000, got \"{v}\"")))?
            }
            "offset" => {
                filter.offset = v.parse().map_err(|_| {
                    bad(
                        "offset",
                        format!("expected a non-negative integer, got \"{v}\""),
                    )
                })?
            }
            other => return Err(bad(other, "unknown query parameter".into())),
        }
    }
    let store = state.auth.store().clone();
    let (entries, matched) =
        tokio::task::spawn_blocking(move || audit::list(&store, &filter)).await??;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "numberMatched": matched,
            "numberReturned": entries.len(),
            "entries": entries,
        }),
    ))
}
