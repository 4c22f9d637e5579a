//! Photos of features: listed and served to whoever sees the feature (on a view layer, only
//! those staff approved), added by editors from a tablet, approved for the public view.
//! Every photo is checked and stripped of its metadata (`edit::photo`) before it is stored.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::multipart::Field;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::edit::if_match;
use super::extract::{BodyBytes, MultipartBody, Path};
use super::features::visible_layer;
use super::identity::{Caller, CurrentView};
use super::{ApiError, AppState, BaseUrl, json_response};
use crate::access::LayerView;
use crate::edit::photo::{self, CleanPhoto};
use crate::edit::{EditError, Origin};
use crate::edit_store::{NewPhoto, PhotoMeta};

/// Reads one uploaded file part, refusing it as soon as it passes `max` bytes (so a 20 MB
/// upload is not buffered whole), and checks and cleans it.
pub(super) async fn read_photo(
    mut field: Field<'_>,
    number: usize,
    max: usize,
) -> Result<CleanPhoto, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::payload_too_large(format!(
                "photo {number}: larger than the limit of {:.1} MB",
                max as f64 / (1 << 20) as f64
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let cleaned = tokio::task::spawn_blocking(move || photo::clean(&bytes, max)).await?;
    cleaned.map_err(|e| ApiError::from(EditError::Photo(e)).prefixed(&format!("photo {number}: ")))
}

/// A broken multipart body, said plainly.
pub(super) fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let text = e.body_text();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(format!("the upload is too large: {text}"))
    } else {
        ApiError::bad_request(format!("the multipart/form-data body is malformed: {text}"))
    }
}

/// A checked photo as the store takes it.
pub(super) fn new_photo(p: CleanPhoto) -> NewPhoto {
    NewPhoto {
        media_type: p.media_type,
        bytes: p.bytes,
        width: p.width,
        height: p.height,
    }
}

/// The layer whose photos a visible layer shows, and whether only approved ones are shown:
/// an editable layer shows its own, a view those of the layer it shows that staff approved.
fn photo_source(layer: &LayerView) -> Option<(String, bool)> {
    let meta = layer.meta();
    if meta.edit().is_some() {
        Some((meta.id().to_string(), false))
    } else {
        meta.view().map(|v| (v.of.clone(), true))
    }
}

fn photo_json(
    base: &str,
    id: &str,
    fid: &str,
    p: &PhotoMeta,
    with_public: bool,
) -> serde_json::Value {
    let mut doc = json!({
        "n": p.n,
        "type": p.media_type,
        "size": p.size,
        "width": p.width,
        "height": p.height,
        "href": format!("{base}/collections/{id}/items/{fid}/photos/{}", p.n),
    });
    if with_public {
        doc["public"] = json!(p.public);
    }
    doc
}

/// The photos of a visible feature that the caller may see, and where they are kept.
struct FeaturePhotos {
    /// The edited layer that keeps them and the feature's number there.
    source: String,
    number: i64,
    /// Each photo's number in the store, and the photo as the caller sees it: on a view,
    /// numbered 1, 2 … among the approved ones, so a gap tells of no photo held back.
    photos: Vec<(i64, PhotoMeta)>,
    /// All of them (staff on the edited layer), not only the approved ones (a view).
    staff: bool,
}

async fn visible_photos(
    state: &AppState,
    view: &crate::access::View,
    layer: &LayerView,
    fid: &str,
) -> Result<FeaturePhotos, ApiError> {
    let not_found = || {
        ApiError::not_found(format!(
            "feature \"{fid}\" not found in collection \"{}\"",
            layer.id()
        ))
    };
    layer.position_of(fid).ok_or_else(not_found)?;
    let (Some((source, approved_only)), Some(editor)) = (photo_source(layer), state.editor.clone())
    else {
        // A layer read from files has no photos.
        return Ok(FeaturePhotos {
            source: String::new(),
            number: 0,
            photos: Vec::new(),
            staff: false,
        });
    };
    // On a view the id is opaque; the store knows the edited layer's number.
    let number = view.edited_fid(layer.id(), fid).ok_or_else(not_found)?;
    let from = source.clone();
    let list = tokio::task::spawn_blocking(move || editor.store().photos(&from, number))
        .await?
        .map_err(EditError::from)?;
    Ok(FeaturePhotos {
        source,
        number,
        photos: list
            .into_iter()
            .filter(|p| !approved_only || p.public)
            .enumerate()
            .map(|(k, p)| {
                let stored = p.n;
                let n = if approved_only { k as i64 + 1 } else { stored };
                (stored, PhotoMeta { n, ..p })
            })
            .collect(),
        staff: !approved_only,
    })
}

/// `GET /collections/{id}/items/{fid}/photos`.
pub async fn list(
    State(state): State<AppState>,
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path((id, fid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let list = photo_list(&state, &view, &base, &id, &fid).await?;
    Ok(json_response(StatusCode::OK, json!({ "photos": list })))
}

/// The photos of feature `fid` of collection `id` that `view` shows, as the list documents.
async fn photo_list(
    state: &AppState,
    view: &crate::access::View,
    base: &str,
    id: &str,
    fid: &str,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let layer = visible_layer(view, id)?;
    let found = visible_photos(state, view, &layer, fid).await?;
    Ok(found
        .photos
        .iter()
        .map(|(_, p)| photo_json(base, id, fid, p, found.staff))
        .collect())
}

/// `GET /collections/{id}/items/{fid}/photos/{n}`: the image itself.
pub async fn get(
    State(state): State<AppState>,
    CurrentView { view, .. }: CurrentView,
    Path((id, fid, n)): Path<(String, String, i64)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer = visible_layer(&view, &id)?;
    let found = visible_photos(&state, &view, &layer, &fid).await?;
    let no_photo = || ApiError::not_found(format!("feature \"{fid}\" has no photo {n}"));
    let stored_n = found
        .photos
        .iter()
        .find(|(_, p)| p.n == n)
        .map(|(stored, _)| *stored)
        .ok_or_else(no_photo)?;
    let editor = super::edit::editor(&state)?;
    let FeaturePhotos {
        source,
        number,
        staff,
        ..
    } = found;
    let stored =
        tokio::task::spawn_blocking(move || editor.store().photo(&source, number, stored_n))
            .await?
            .map_err(EditError::from)?;
    let (media_type, bytes) = stored.ok_or_else(no_photo)?;
    // Staff photos may show people or number plates before approval: never in shared caches.
    // An approved photo may be withdrawn at any time: caches keep it but ask each time
    // (a 304 costs no image).
    if staff {
        return Ok((
            [
                (header::CONTENT_TYPE, media_type),
                (header::CACHE_CONTROL, "private, no-store".to_string()),
            ],
            Bytes::from(bytes),
        )
            .into_response());
    }
    let tag = super::features::content_tag(&bytes);
    let cache = (header::CACHE_CONTROL, "public, no-cache".to_string());
    if super::features::none_match(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag), cache]).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::ETAG, tag),
            cache,
        ],
        Bytes::from(bytes),
    )
        .into_response())
}

/// `POST /collections/{id}/items/{fid}/photos` (multipart, `photo` parts): adds photos.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    MultipartBody(mut multipart): MultipartBody,
) -> Result<Response, ApiError> {
    let editor = super::edit::editor_for(&state, &caller, &id)?;
    let max = state.catalog.snapshot().server.max_photo_bytes;
    let mut photos = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("photo") => {
                let number = photos.len() + 1;
                photos.push(new_photo(read_photo(field, number, max).await?));
            }
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field \"{other}\"; send the images as \"photo\" fields"
                )));
            }
            None => return Err(ApiError::bad_request("a form field has no name")),
        }
    }
    if photos.is_empty() {
        return Err(ApiError::bad_request(
            "no photo: send the images as multipart/form-data fields named \"photo\"",
        ));
    }
    let precondition = if_match(&headers, &fid)?;
    let origin = Origin {
        client: caller.client.0.clone(),
        idempotency: None,
    };
    let principal = caller.principal.clone();
    let (layer, feature) = (id.clone(), fid.clone());
    let committed = tokio::task::spawn_blocking(move || {
        editor.add_photos(&principal, &layer, &feature, precondition, photos, origin)
    })
    .await??;
    let view = super::identity::view_of(&state, &caller.principal);
    let list = photo_list(&state, &view, &base, &id, &fid).await?;
    let mut response = json_response(StatusCode::CREATED, json!({ "photos": list }));
    let version = committed.feature.as_ref().map_or(0, |f| f.version);
    if let Ok(v) = HeaderValue::from_str(&super::edit::etag(&fid, version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

/// `PATCH /collections/{id}/items/{fid}/photos/{n}` with `{"public": true|false}`: approves a
/// photo for the public view, or withdraws it.
pub async fn set_public(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, fid, n)): Path<(String, String, i64)>,
    headers: HeaderMap,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let editor = super::edit::editor_for(&state, &caller, &id)?;
    // Publishing is a decision on the feature as the approver saw it: another approver's
    // change in between (a withdrawal, a state change) must not be overwritten blind.
    let precondition = if_match(&headers, &fid)?;
    let doc = crate::edit::input::parse_json(&body)?;
    let public = match doc.get("public") {
        Some(serde_json::Value::Bool(b)) if doc.as_object().is_some_and(|o| o.len() == 1) => *b,
        _ => {
            return Err(ApiError::bad_request(
                "expected {\"public\": true} or {\"public\": false}",
            ));
        }
    };
    let origin = Origin {
        client: caller.client.0.clone(),
        idempotency: None,
    };
    let principal = caller.principal.clone();
    let committed = tokio::task::spawn_blocking(move || {
        editor.set_photo_public(
            &principal,
            &id,
            &fid,
            crate::edit::PhotoApproval { n, public },
            precondition,
            origin,
        )
    })
    .await??;
    Ok(json_response(
        StatusCode::OK,
        json!({ "n": n, "public": public, "version": committed.feature.map_or(0, |f| f.version) }),
    ))
}
