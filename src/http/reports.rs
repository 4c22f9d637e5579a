//! Residents' reports from the public map: `GET /reports` says what a report needs, `POST
//! /reports` takes one (a category, a description, the place from the map or from the first
//! photo's GPS, up to the layer's photo count) and answers with a receipt code, and
//! `GET /reports/{code}` shows its status. Residents never sign in; a report is anonymous and
//! the receipt code is the only key to it.

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Value as Json, json};

use super::extract::{MultipartBody, Path};
use super::identity::Caller;
use super::photos::{multipart_error, new_photo, read_photo};
use super::{ApiError, AppState, BaseUrl, json_response};
use crate::access::{ReportForm, View};
use crate::edit::photo::CleanPhoto;
use crate::edit::{ResidentReport, receipt};
use crate::policy::Principal;

/// Longest text field of a report form other than the description (category, lon, lat).
const SHORT_FIELD: usize = 200;

/// The report form's settings, or the 404 of a town that takes no reports.
fn settings(view: &View) -> Result<ReportForm, ApiError> {
    view.report_form()
        .ok_or_else(|| ApiError::not_found("this town does not take reports on line"))
}

/// The anonymous view: residents never sign in to report.
fn resident(state: &AppState) -> View {
    super::identity::view_of(state, &Principal::Anonymous)
}

/// Largest body of `POST /reports`: every photo at its limit, and the form's text.
pub fn body_limit(max_photos: usize, max_photo_bytes: usize) -> usize {
    max_photos * max_photo_bytes + (64 << 10)
}

/// `GET /reports`: what a report form needs (categories, photo limits, the town's extent).
pub async fn form(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = resident(&state);
    let form = settings(&view)?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "categories": form.categories,
            "description": { "maxLength": form.description_max },
            "photos": {
                "max": form.max_photos,
                "maxBytes": view.server().max_photo_bytes,
                "types": ["image/jpeg", "image/png"],
            },
            "extent": view.server().extent,
            "fields": {
                "category": "one of categories",
                "description": "what happened, in words",
                "lon": "longitude (CRS84); optional when a photo carries its GPS position",
                "lat": "latitude (CRS84)",
                "photo": "up to photos.max image files",
            },
        }),
    ))
}

/// A report as the form sent it.
#[derive(Default)]
struct Form {
    category: Option<String>,
    description: Option<String>,
    lon: Option<String>,
    lat: Option<String>,
    photos: Vec<CleanPhoto>,
}

/// Reads the multipart form, photo by photo, refusing early what is too big.
async fn read_form(
    mut multipart: Multipart,
    max_photos: usize,
    max_bytes: usize,
) -> Result<Form, ApiError> {
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "photo" {
            let number = form.photos.len() + 1;
            if number > max_photos {
                return Err(ApiError::bad_request(format!(
                    "photo: at most {max_photos} photo(s) per report"
                )));
            }
            form.photos
                .push(read_photo(field, number, max_bytes).await?);
            continue;
        }
        let slot = match name.as_str() {
            "category" => &mut form.category,
            "description" => &mut form.description,
            "lon" => &mut form.lon,
            "lat" => &mut form.lat,
            "" => return Err(ApiError::bad_request("a form field has no name")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field \"{}\"; a report has category, description, lon, lat and photo",
                    other.chars().take(40).collect::<String>()
                )));
            }
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!(
                "{name}: given more than once"
            )));
        }
        let text = field.text().await.map_err(multipart_error)?;
        let limit = if name == "description" {
            64 << 10
        } else {
            SHORT_FIELD
        };
        if text.len() > limit {
            return Err(ApiError::bad_request(format!(
                "{name}: {} bytes is too long",
                text.len()
            )));
        }
        *slot = Some(text);
    }
    Ok(form)
}

/// A report sent as JSON (scripts, tests): no photos.
fn json_form(body: &[u8]) -> Result<Form, ApiError> {
    let doc = crate::edit::input::parse_json(body)?;
    let Json::Object(map) = doc else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object with category, description, lon and lat",
        ));
    };
    let mut form = Form::default();
    for (k, v) in map {
        let text = match &v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Null => continue,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{k}: expected text or a number"
                )));
            }
        };
        match k.as_str() {
            "category" => form.category = Some(text),
            "description" => form.description = Some(text),
            "lon" => form.lon = Some(text),
            "lat" => form.lat = Some(text),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown member \"{}\"; a report has category, description, lon and lat",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    Ok(form)
}

fn coordinate(name: &str, text: &str) -> Result<f64, ApiError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{name}: expected a number, got \"{}\"",
                text.chars().take(40).collect::<String>()
            ))
        })
}

/// `POST /reports`: multipart/form-data (from the public map) or JSON.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let editor = super::edit::editor(&state)?;
    let view = resident(&state);
    let max_photos = settings(&view)?.max_photos;
    // Before the body is read: a refused report costs no upload.
    state.limits.check_report(&caller.client)?;
    let max_bytes = view.server().max_photo_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = if content_type.starts_with("multipart/form-data") {
        let MultipartBody(multipart) =
            <MultipartBody as axum::extract::FromRequest<()>>::from_request(request, &()).await?;
        read_form(multipart, max_photos, max_bytes).await?
    } else if content_type.starts_with("application/json") {
        let body = axum::body::to_bytes(request.into_body(), 256 << 10)
            .await
            .map_err(|e| {
                if super::error::is_length_limit(&e) {
                    ApiError::payload_too_large(
                        "a JSON report is at most 256 KB; send photos as multipart/form-data",
                    )
                } else {
                    ApiError::bad_request(format!("the request body could not be read: {e}"))
                }
            })?;
        json_form(&body)?
    } else {
        return Err(ApiError::unsupported_media_type(
            "send the report as multipart/form-data (with photos) or application/json",
        ));
    };
    let category = form
        .category
        .ok_or_else(|| ApiError::bad_request("category: choose what the report is about"))?;
    let (lon, lat, located_by) = match (&form.lon, &form.lat) {
        (Some(lon), Some(lat)) => (coordinate("lon", lon)?, coordinate("lat", lat)?, "map"),
        (None, None) => match form.photos.iter().find_map(|p| p.gps) {
            Some((lon, lat)) => (lon, lat, "photo"),
            None => {
                return Err(ApiError::bad_request(
                    "location: pick the place on the map (lon, lat) or attach a photo that recorded its position",
                ));
            }
        },
        _ => return Err(ApiError::bad_request("give lon and lat together")),
    };
    // The report as the resident wrote it: a retry with the same key must carry the same.
    let mut request: Vec<&[u8]> = vec![b"report", category.as_bytes()];
    for text in [&form.description, &form.lon, &form.lat] {
        request.push(text.as_deref().map_or(b"\0absent", str::as_bytes));
    }
    request.extend(form.photos.iter().map(|p| p.bytes.as_slice()));
    let origin = super::edit::origin(&caller, &headers, &request)?;
    drop(request);
    let report = ResidentReport {
        category,
        description: form.description.unwrap_or_default(),
        lon,
        lat,
        photos: form.photos.into_iter().map(new_photo).collect(),
    };
    let photo_count = report.photos.len();
    let (committed, code) =
        tokio::task::spawn_blocking(move || editor.create_report(report, origin)).await??;
    let status = status_of(&state, committed.fid);
    let mut doc = json!({
        "receipt": code,
        "statusUrl": format!("{base}/reports/{code}"),
        "photos": photo_count,
        "located": located_by,
        "lon": lon,
        "lat": lat,
    });
    if committed.replayed {
        // The first answer (with the code) was lost; the code cannot be shown again.
        doc["receipt"] = Json::Null;
        doc["statusUrl"] = Json::Null;
        doc["note"] = json!(
            "this report was already received; its receipt code was given with the first answer"
        );
    }
    if let Json::Object(s) = status {
        for (k, v) in s {
            doc[k] = v;
        }
    }
    Ok(json_response(StatusCode::CREATED, doc))
}

/// What a resident may see of their report (`View::report_status`), as JSON: `status` null
/// when the report is gone.
fn status_of(state: &AppState, fid: i64) -> Json {
    match resident(state).report_status(fid) {
        None => json!({ "status": null }),
        Some(s) => {
            let properties: serde_json::Map<String, Json> = s
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            json!({ "status": s.status.to_json(), "properties": properties })
        }
    }
}

/// `GET /reports/{code}`: the status of the report this receipt code was given for.
pub async fn status(
    State(state): State<AppState>,
    client: super::identity::ClientAddr,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    state.limits.check_receipt(&client)?;
    let editor = super::edit::editor(&state)?;
    let form = settings(&resident(&state))?;
    let unknown = || ApiError::not_found("no report has this receipt code; check it and try again");
    receipt::canonical(&code).ok_or_else(unknown)?;
    let hash = receipt::hash(&code);
    let layer = form.layer;
    let fid = tokio::task::spawn_blocking(move || editor.store().by_receipt(&layer, &hash))
        .await?
        .map_err(crate::edit::EditError::from)?
        .ok_or_else(unknown)?;
    let doc = status_of(&state, fid);
    if doc.get("status").is_none_or(Json::is_null) {
        return Err(unknown());
    }
    Ok(json_response(StatusCode::OK, doc))
}
