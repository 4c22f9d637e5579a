//! OGC API – Features Part 4 on editable layers: `POST` items, `PUT`, `PATCH` and `DELETE`
//! an item, with strong ETags and `If-Match` (optimistic locking); the admin's history and
//! restore of deleted features.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::{BodyBytes, Path};
use super::features::audit_read;
use super::identity::{Admin, Caller, CurrentView};
use super::{ApiError, AppState, BaseUrl, json_response};
use crate::access::{LayerView, View};
use crate::crs::RequestCrs;
use crate::edit::input::{FeatureInput, FeaturePatch};
use crate::edit::{Editor, Idempotency, IfMatch, Origin};
use crate::edit_store::{Committed, LogEntry};
use crate::encode::geojson::write_feature_in;
use crate::encode::media;

/// The media type of a JSON Merge Patch (RFC 7396), what Part 4's `PATCH` takes.
const MERGE_PATCH: &str = "application/merge-patch+json";

/// The strong ETag of version `version` of feature `fid`.
pub(super) fn etag(fid: &str, version: i64) -> String {
    format!("\"{fid}-{version}\"")
}

/// The editor for a write to collection `id`: the collection must be visible (else the same
/// 404 as a missing one) and editable (else 405) before the lack of an edit store (503) is
/// told, so a hidden name answers exactly like one that never existed.
pub(super) fn editor_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Arc<Editor>, ApiError> {
    let view = super::identity::view_of(state, &caller.principal);
    let layer = view.layer(id).ok_or_else(|| ApiError::no_collection(id))?;
    if layer.meta().edit().is_none() {
        return Err(crate::edit::EditError::ReadOnly(id.to_string()).into());
    }
    editor(state)
}

/// The editor, or a 503 when the server runs without an edit store.
pub(super) fn editor(state: &AppState) -> Result<Arc<Editor>, ApiError> {
    state.editor.clone().ok_or_else(|| {
        ApiError::service_unavailable("this server was started without an edit store")
    })
}

/// Refuses a body that is not of one of `accepted` media types.
fn require_media_type(headers: &HeaderMap, accepted: &[&str]) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim();
    if accepted.iter().any(|a| a.eq_ignore_ascii_case(essence)) {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "Content-Type: expected {}, got \"{}\"",
            accepted.join(" or "),
            if given.is_empty() { "nothing" } else { given }
        )))
    }
}

/// The `If-Match` header as sent (empty when absent), for an idempotency digest.
fn if_match_text(headers: &HeaderMap) -> &[u8] {
    headers.get(header::IF_MATCH).map_or(&[], |v| v.as_bytes())
}

/// The `If-Match` precondition: `*` or one ETag of this feature. An ETag of another feature,
/// a weak one (never equal under the strong comparison RFC 9110 requires) or garbage is a
/// precondition that cannot hold.
pub(super) fn if_match(headers: &HeaderMap, fid: &str) -> Result<Option<IfMatch>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim();
    if value == "*" {
        return Ok(Some(IfMatch::Any));
    }
    let prefix = format!("\"{fid}-");
    let version = value
        .split(',')
        .map(str::trim)
        .find_map(|tag| tag.strip_prefix(&prefix)?.strip_suffix('"')?.parse().ok());
    match version {
        Some(v) => Ok(Some(IfMatch::Version(v))),
        // No version can match: report it as stale, with the current version.
        None => Ok(Some(IfMatch::Version(-1))),
    }
}

/// Where a write comes from: the client, and the request's `Idempotency-Key` (for safe
/// retries) with the digest of `request` (the method, target and content), so the key
/// replays only this request of this caller.
pub(super) fn origin(
    caller: &Caller,
    headers: &HeaderMap,
    request: &[&[u8]],
) -> Result<Origin, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().unwrap_or("").trim().trim_matches('"');
            if k.is_empty() || k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ApiError::bad_request(
                    "Idempotency-Key: expected 1 to 255 visible ASCII characters",
                ));
            }
            Some(Idempotency::new(k.to_string(), request))
        }
    };
    Ok(Origin {
        client: caller.client.0.clone(),
        idempotency: key,
    })
}

/// The response to a committed create or change: the feature as the caller sees it now, with
/// its ETag (and `Location` for a create).
fn feature_response(
    state: &AppState,
    caller: &Caller,
    base: &str,
    id: &str,
    committed: &Committed,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let fid = committed.fid.to_string();
    let location = format!("{base}/collections/{id}/items/{fid}");
    let view = super::identity::view_of(state, &caller.principal);
    let layer = view.layer(id);
    let found = layer
        .as_ref()
        .and_then(|l| l.position_of(&fid).map(|i| (l, i)));
    let mut response = match found {
        Some((layer, i)) => {
            let mut buf = Vec::with_capacity(1024);
            write_feature_in(&mut buf, layer, i, layer.visible(), None, RequestCrs::CRS84);
            let mut r = (status, [(header::CONTENT_TYPE, media::GEOJSON)], buf).into_response();
            if let Ok(v) = HeaderValue::from_str(&etag(&fid, layer.version(i))) {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        // Deleted meanwhile by another editor: the commit stands, there is nothing to show.
        None => status.into_response(),
    };
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Runs a blocking editor call off the executor (a commit waits for the disk).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::edit::EditError> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// `POST /collections/{id}/items`: a new feature from a GeoJSON Feature.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let editor = editor_for(&state, &caller, &id)?;
    require_media_type(&headers, &[media::GEOJSON, media::JSON])?;
    let input = FeatureInput::parse(&body)?;
    let origin = origin(&caller, &headers, &[b"POST", id.as_bytes(), &body])?;
    let principal = caller.principal.clone();
    let layer = id.clone();
    let committed = blocking(move || editor.create(&principal, &layer, input, origin)).await?;
    feature_response(&state, &caller, &base, &id, &committed, StatusCode::CREATED)
}

/// `PUT /collections/{id}/items/{fid}`: a new state of the feature.
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let editor = editor_for(&state, &caller, &id)?;
    require_media_type(&headers, &[media::GEOJSON, media::JSON])?;
    let input = FeatureInput::parse(&body)?;
    let precondition = if_match(&headers, &fid)?;
    let origin = origin(
        &caller,
        &headers,
        &[
            b"PUT",
            id.as_bytes(),
            fid.as_bytes(),
            if_match_text(&headers),
            &body,
        ],
    )?;
    let principal = caller.principal.clone();
    let layer = id.clone();
    let committed =
        blocking(move || editor.replace(&principal, &layer, &fid, precondition, input, origin))
            .await?;
    feature_response(&state, &caller, &base, &id, &committed, StatusCode::OK)
}

/// `PATCH /collections/{id}/items/{fid}`: a JSON Merge Patch of the feature.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let editor = editor_for(&state, &caller, &id)?;
    require_media_type(&headers, &[MERGE_PATCH, media::GEOJSON, media::JSON])?;
    let patch = FeaturePatch::parse(&body)?;
    let precondition = if_match(&headers, &fid)?;
    let origin = origin(
        &caller,
        &headers,
        &[
            b"PATCH",
            id.as_bytes(),
            fid.as_bytes(),
            if_match_text(&headers),
            &body,
        ],
    )?;
    let principal = caller.principal.clone();
    let layer = id.clone();
    let committed =
        blocking(move || editor.patch(&principal, &layer, &fid, precondition, patch, origin))
            .await?;
    feature_response(&state, &caller, &base, &id, &committed, StatusCode::OK)
}

/// `DELETE /collections/{id}/items/{fid}`: 204; an admin can restore it.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let editor = editor_for(&state, &caller, &id)?;
    let precondition = if_match(&headers, &fid)?;
    let origin = origin(
        &caller,
        &headers,
        &[
            b"DELETE",
            id.as_bytes(),
            fid.as_bytes(),
            if_match_text(&headers),
        ],
    )?;
    let principal = caller.principal.clone();
    blocking(move || editor.delete(&principal, &id, &fid, precondition, origin)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A change-log entry as the admin pages show it, with only the attributes `layer` shows
/// the admin: the history of a feature must not read wider than the feature itself.
fn log_json(layer: &LayerView, e: &LogEntry) -> serde_json::Value {
    let visible = |state: &Option<serde_json::Value>| {
        let mut state = state.clone()?;
        if let Some(props) = state
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            props.retain(|name, _| layer.attribute(name).is_some());
        }
        Some(state)
    };
    json!({
        "seq": e.seq,
        "collection": e.layer,
        "featureId": e.fid,
        "op": e.op,
        "actor": e.actor,
        "client": e.client,
        "at": e.at,
        "before": visible(&e.before),
        "after": visible(&e.after),
    })
}

/// The editable layer an admin request names, as the admin sees it: a hidden, missing or
/// read-only layer is the same 404 on every admin route.
fn admin_layer(view: &View, id: &str) -> Result<LayerView, ApiError> {
    view.layer(id)
        .filter(|l| l.meta().edit().is_some())
        .ok_or_else(|| crate::edit::no_editable_layer(id).into())
}

/// `GET /admin/history/{collection}/{fid}`: every change of one feature, oldest first.
pub async fn history(
    State(state): State<AppState>,
    Admin(_): Admin,
    CurrentView { view, caller }: CurrentView,
    Path((id, fid)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let layer = admin_layer(&view, &id)?;
    let editor = editor(&state)?;
    audit_read(&state, &caller, &layer, layer.visible(), || {
        format!("history of feature {fid}")
    })
    .await?;
    let entries = blocking(move || Ok(editor.store().history(&id, fid)?)).await?;
    let list: Vec<_> = entries.iter().map(|e| log_json(&layer, e)).collect();
    Ok(json_response(StatusCode::OK, json!({ "history": list })))
}

/// `GET /admin/deleted/{collection}`: deleted features an admin may restore, newest first.
pub async fn deleted(
    State(state): State<AppState>,
    Admin(_): Admin,
    CurrentView { view, caller }: CurrentView,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let layer = admin_layer(&view, &id)?;
    let editor = editor(&state)?;
    audit_read(&state, &caller, &layer, layer.visible(), || {
        "deleted features".to_string()
    })
    .await?;
    let entries = blocking(move || Ok(editor.store().deleted(&id)?)).await?;
    let list: Vec<_> = entries.iter().map(|e| log_json(&layer, e)).collect();
    Ok(json_response(StatusCode::OK, json!({ "deleted": list })))
}

/// `POST /admin/deleted/{collection}/{fid}/restore`: brings a deleted feature back.
pub async fn restore(
    State(state): State<AppState>,
    Admin(caller): Admin,
    BaseUrl(base): BaseUrl,
    Path((id, fid)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let editor = editor(&state)?;
    let origin = origin(
        &caller,
        &headers,
        &[b"restore", id.as_bytes(), &fid.to_be_bytes()],
    )?;
    let principal = caller.principal.clone();
    let layer = id.clone();
    let committed = blocking(move || editor.restore(&principal, &layer, fid, origin)).await?;
    feature_response(&state, &caller, &base, &id, &committed, StatusCode::OK)
}
