//! Finding features by place and by name: the nearest features of a collection, the location
//! report ("what is at this place?") and text search over every collection.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::extract::Path;
use super::features::{audit_read, visible_layer};
use super::{ApiError, AppState, BaseUrl, CurrentView, QueryPairs, format_links};
use crate::encode::geojson::{write_collection_head, write_feature, write_str};
use crate::encode::location::{metres, report_json};
use crate::encode::{Link, html, media};
use crate::query::Format;
use crate::query::location::{self, LocationQuery};
use crate::query::nearest::{self, NearestQuery};
use crate::query::search::{self, SearchQuery};

/// The query string as sent, for the audit log.
fn query_text(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A FeatureCollection (already written into `buf`) as GeoJSON, or as an HTML page titled
/// `title`.
fn feature_collection(buf: Vec<u8>, format: Format, title: &str) -> Result<Response, ApiError> {
    match format {
        Format::Json => Ok(([(header::CONTENT_TYPE, media::GEOJSON)], buf).into_response()),
        Format::Html => {
            let mut doc: Json = serde_json::from_slice(&buf)?;
            doc["title"] = json!(title);
            Ok(Html(html::render(&doc)).into_response())
        }
    }
}

/// `GET /collections/{id}/nearest?lon=…&lat=…`: the features nearest the place, nearest first,
/// each with `distance_m`.
pub async fn nearest(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    QueryPairs { pairs, preferred }: QueryPairs,
) -> Result<Response, ApiError> {
    // The layer first: a hidden layer answers like a missing one whatever the parameters.
    let layer = visible_layer(&view, &id)?;
    let q = NearestQuery::parse(&pairs, &layer, view.server(), preferred)?;
    let found = nearest::nearest(&layer, q.place, q.limit, q.max_distance);
    let attrs = q.output_attrs(&layer).to_vec();
    audit_read(&state, &caller, &layer, &attrs, || {
        format!("nearest?{} returned={}", query_text(&pairs), found.len())
    })
    .await?;
    let url = format!("{base}/collections/{id}/nearest");
    let mut links = format_links(&url, &pairs, q.format, media::GEOJSON);
    links.push(Link::new(
        format!("{base}/collections/{id}"),
        "collection",
        media::JSON,
    ));
    let mut buf = Vec::with_capacity(4096);
    write_collection_head(&mut buf, None, found.len(), &links)?;
    for (n, hit) in found.iter().enumerate() {
        if n > 0 {
            buf.push(b',');
        }
        let extra = format!("\"distance_m\":{}", json!(metres(hit.distance_m)));
        write_feature(&mut buf, &layer, hit.index, &attrs, Some(extra.as_bytes()));
    }
    buf.extend_from_slice(b"]}");
    let title = format!("{}: 近くの地物 / nearest", layer.meta().title_ja());
    feature_collection(buf, q.format, &title)
}

/// `GET /location?lon=…&lat=…`: what each configured section says about the place.
pub async fn location(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    BaseUrl(base): BaseUrl,
    QueryPairs { pairs, preferred }: QueryPairs,
) -> Result<Response, ApiError> {
    let q = LocationQuery::parse(&pairs, preferred)?;
    let sections = location::report(&view, q.place);
    for s in &sections {
        audit_read(&state, &caller, &s.layer, &s.attrs, || {
            format!("location?{} returned={}", query_text(&pairs), s.hits.len())
        })
        .await?;
    }
    let links = format_links(&format!("{base}/location"), &pairs, q.format, media::JSON);
    let doc = report_json(q.place, &sections, &links);
    Ok(match q.format {
        Format::Json => ([(header::CONTENT_TYPE, media::JSON)], doc.to_string()).into_response(),
        Format::Html => Html(html::render_location(&doc)).into_response(),
    })
}

/// `GET /search?q=…`: features whose searchable attributes hold every word, best match first,
/// each with the `collection` it belongs to.
pub async fn search(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    BaseUrl(base): BaseUrl,
    QueryPairs { pairs, preferred }: QueryPairs,
) -> Result<Response, ApiError> {
    let q = SearchQuery::parse(&pairs, &view, view.server(), preferred)?;
    let layers = q.layers(&view);
    let hits = search::search(&layers, &q.terms);
    let shown = &hits[..hits.len().min(q.limit)];
    for (li, layer) in layers.iter().enumerate() {
        // Searching a layer reads it even when nothing matches (the caller learns that no
        // feature holds the words); hits show every visible attribute, and the searched
        // attributes are among them.
        let returned = shown.iter().filter(|h| h.layer == li).count();
        audit_read(&state, &caller, layer, layer.visible(), || {
            format!("search?{} returned={returned}", query_text(&pairs))
        })
        .await?;
    }
    let links = format_links(&format!("{base}/search"), &pairs, q.format, media::GEOJSON);
    let mut buf = Vec::with_capacity(4096);
    write_collection_head(&mut buf, Some(hits.len()), shown.len(), &links)?;
    for (n, hit) in shown.iter().enumerate() {
        if n > 0 {
            buf.push(b',');
        }
        let layer = &layers[hit.layer];
        let mut extra = b"\"collection\":".to_vec();
        write_str(&mut extra, layer.id());
        extra.extend_from_slice(b",\"match\":");
        write_str(&mut extra, hit.tier.as_str());
        write_feature(&mut buf, layer, hit.index, layer.visible(), Some(&extra));
    }
    buf.extend_from_slice(b"]}");
    feature_collection(buf, q.format, "検索 / Search")
}
