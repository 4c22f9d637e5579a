//! OGC API – Features Part 1 handlers.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value as Json, json};

use super::extract::Path;
use super::{ApiError, AppState, BaseUrl, Caller, CurrentView, QueryPairs, format_links};
use crate::access::{LayerView, VisibleAttr};
use crate::audit::{Action, Event};
use crate::crs::{CRS84_URI, RequestCrs};
use crate::encode::geojson::{write_collection_head, write_feature_in, write_number};
use crate::encode::{Link, html, media};
use crate::model::AttrType;
use crate::query::{self, Format, ItemsQuery};

/// Conformance classes implemented and tested (with the CQL2 classes of `query::cql2`).
pub const CONFORMANCE: [&str; 9] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
];

/// The `Content-Crs` header (Part 2): the CRS of the geometries in the body, in angle brackets.
fn content_crs(crs: RequestCrs) -> (header::HeaderName, String) {
    (
        header::HeaderName::from_static("content-crs"),
        format!("<{}>", crs.uri()),
    )
}

/// A metadata document as JSON or as its HTML rendering.
pub(super) fn document(doc: Json, format: Format) -> Response {
    match format {
        Format::Json => ([(header::CONTENT_TYPE, media::JSON)], doc.to_string()).into_response(),
        Format::Html => Html(html::render(&doc)).into_response(),
    }
}

/// `self` and `alternate` links of a resource at `url`, `self` first for the served format.
pub(super) fn self_links(url: &str, format: Format, json_type: &'static str) -> Vec<Link> {
    format_links(url, &[], format, json_type)
}

pub async fn landing(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let format = q.metadata_format()?;
    let s = view.server();
    let mut links = self_links(&format!("{base}/"), format, media::JSON);
    links.extend([
        Link::new(format!("{base}/api"), "service-desc", media::OPENAPI)
            .titled("OpenAPI 3.0 definition"),
        Link::new(format!("{base}/conformance"), "conformance", media::JSON)
            .titled("Conformance classes"),
        Link::new(format!("{base}/collections"), "data", media::JSON).titled("Collections"),
        super::tiles::tiles_link(&base).titled("Vector tiles of every collection"),
        Link::new(
            format!("{base}/tileMatrixSets"),
            super::tiles::REL_TILING_SCHEMES,
            media::JSON,
        )
        .titled("Tile matrix sets"),
    ]);
    Ok(document(
        json!({
            "title": s.title_ja,
            "description": if s.description.is_empty() { s.title_en.clone() } else { s.description.clone() },
            "links": links,
        }),
        format,
    ))
}

/// Part 4 (create, replace, update, delete with ETags), declared when the server has an edit
/// store and the catalog editable layers.
pub const EDIT_CONFORMANCE: [&str; 4] = [
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
];

pub async fn conformance(
    State(state): State<AppState>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let format = q.metadata_format()?;
    let edits = state.editor.is_some() && state.catalog.snapshot().has_editable_layers();
    let part4 = EDIT_CONFORMANCE.iter().filter(|_| edits);
    Ok(document(
        json!({
            "title": "Conformance",
            "conformsTo": CONFORMANCE.iter().chain(crate::query::cql2::CONFORMANCE).chain(&super::tiles::CONFORMANCE).chain(part4).collect::<Vec<_>>(),
        }),
        format,
    ))
}

/// The collection metadata document of one visible layer.
fn collection_doc(layer: &LayerView, base: &str, format: Format) -> Json {
    let meta = layer.meta();
    let url = format!("{base}/collections/{}", meta.id());
    let mut links = self_links(&url, format, media::JSON);
    links.extend([
        Link::new(format!("{url}/items"), "items", media::GEOJSON).titled("Features as GeoJSON"),
        Link::new(format!("{url}/items?f=html"), "items", media::HTML).titled("Features as HTML"),
        Link::new(
            format!("{url}/queryables"),
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            media::SCHEMA,
        )
        .titled("Queryable attributes"),
        Link::new(
            format!("{url}/sortables"),
            "http://www.opengis.net/def/rel/ogc/1.0/sortables",
            media::SCHEMA,
        )
        .titled("Sortable attributes"),
        super::tiles::tiles_link(&url),
    ]);
    let bbox = layer.extent().map(|r| {
        let mut out = Vec::new();
        out.push(b'[');
        for (i, v) in [r.min().x, r.min().y, r.max().x, r.max().y]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            write_number(&mut out, v);
        }
        out.push(b']');
        serde_json::from_slice::<Json>(&out).unwrap_or(Json::Null)
    });
    let mut doc = json!({
        "id": meta.id(),
        "title": meta.title_ja(),
        "description": if meta.description().is_empty() { meta.title_en() } else { meta.description() },
        "keywords": meta.keywords(),
        "itemType": "feature",
        "crs": RequestCrs::supported().map(|c| c.uri()).collect::<Vec<_>>(),
        "storageCrs": CRS84_URI,
        "links": links,
        "machimap:titleEn": meta.title_en(),
        "machimap:department": meta.department(),
        "machimap:license": meta.license(),
        "machimap:updated": meta.updated(),
    });
    if let Some(b) = bbox {
        doc["extent"] = json!({ "spatial": { "bbox": [b], "crs": CRS84_URI } });
    }
    doc
}

pub async fn collections(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let format = q.metadata_format()?;
    let cols: Vec<Json> = view
        .layers()
        .map(|l| collection_doc(&l, &base, Format::Json))
        .collect();
    Ok(document(
        json!({
            "title": "Collections",
            "links": self_links(&format!("{base}/collections"), format, media::JSON),
            "collections": cols,
        }),
        format,
    ))
}

/// A layer the caller may see, or the same 404 as for one that does not exist.
pub(super) fn visible_layer(view: &crate::access::View, id: &str) -> Result<LayerView, ApiError> {
    view.layer(id).ok_or_else(|| ApiError::no_collection(id))
}

/// The prologue of a per-collection metadata request: the visible layer (404 first, so a
/// hidden layer answers exactly like a missing one whatever the parameters) and the format.
fn layer_and_format(
    view: &crate::access::View,
    id: &str,
    q: &QueryPairs,
) -> Result<(LayerView, Format), ApiError> {
    let layer = visible_layer(view, id)?;
    Ok((layer, q.metadata_format()?))
}

pub async fn collection(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let (layer, format) = layer_and_format(&view, &id, &q)?;
    Ok(document(collection_doc(&layer, &base, format), format))
}

/// The JSON Schema of a layer's visible attributes: the queryables, or the sortables.
fn attribute_schema(layer: &LayerView, url: String, queryables: bool) -> Json {
    let mut props = serde_json::Map::new();
    if queryables {
        // CQL2's spatial functions take the feature geometry as the property `geometry`.
        props.insert(
            "geometry".into(),
            json!({"title": "ジオメトリ", "description": "Geometry", "format": "geometry-any"}),
        );
    }
    for (_, a) in layer.attributes() {
        let mut p = json!({ "title": a.label_ja, "type": a.kind.json_type() });
        if !a.label_en.is_empty() {
            p["description"] = json!(a.label_en);
        }
        if a.kind == AttrType::Date {
            p["format"] = json!("date");
        }
        props.insert(a.name.clone(), p);
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": layer.meta().title_ja(),
        "properties": props,
        "additionalProperties": false,
    })
}

fn schema_response(doc: Json, format: Format) -> Response {
    match format {
        Format::Json => ([(header::CONTENT_TYPE, media::SCHEMA)], doc.to_string()).into_response(),
        Format::Html => Html(html::render(&doc)).into_response(),
    }
}

pub async fn queryables(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let (layer, format) = layer_and_format(&view, &id, &q)?;
    let url = format!("{base}/collections/{id}/queryables");
    Ok(schema_response(attribute_schema(&layer, url, true), format))
}

/// The attributes `sortby` accepts: every visible one.
pub async fn sortables(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let (layer, format) = layer_and_format(&view, &id, &q)?;
    let url = format!("{base}/collections/{id}/sortables");
    Ok(schema_response(
        attribute_schema(&layer, url, false),
        format,
    ))
}

/// Query string with `offset` replaced, for `next`/`prev` links.
fn with_offset(pairs: &[(String, String)], offset: usize, format: Format) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if k != "offset" && k != "f" {
            s.append_pair(k, v);
        }
    }
    if offset > 0 {
        s.append_pair("offset", &offset.to_string());
    }
    s.append_pair(
        "f",
        if format == Format::Html {
            "html"
        } else {
            "json"
        },
    );
    s.finish()
}

/// Records a read of restricted data (see `LayerView::is_audited_read`) before any of it is
/// sent: if the audit log cannot be written, the caller gets a 500 and no data.
/// `detail` is only built for audited reads: the common read pays nothing.
pub(super) async fn audit_read(
    state: &AppState,
    caller: &Caller,
    layer: &LayerView,
    touched: &[VisibleAttr],
    detail: impl FnOnce() -> String,
) -> Result<(), ApiError> {
    if !layer.is_audited_read(touched) {
        return Ok(());
    }
    let detail = detail();
    let auth = state.auth.clone();
    let actor = caller.principal.name().to_string();
    let client = caller.client.0.clone();
    let target = layer.id().to_string();
    tokio::task::spawn_blocking(move || {
        auth.audit(&Event {
            actor: &actor,
            action: Action::Read,
            target: &target,
            detail: &detail,
            client: &client,
        })
    })
    .await??;
    Ok(())
}

pub async fn items(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    QueryPairs { pairs, preferred }: QueryPairs,
) -> Result<Response, ApiError> {
    let layer = visible_layer(&view, &id)?;
    let q = ItemsQuery::parse(&pairs, &layer, view.server(), preferred)?;
    let page = query::execute(&layer, &q);
    let attrs = q.output_attrs(&layer).to_vec();
    let mut touched = attrs.clone();
    touched.extend(q.filters.iter().map(|(a, _)| *a));
    touched.extend(q.sortby.iter().map(|k| k.attr));
    if let Some(f) = &q.filter {
        touched.extend(f.attrs());
    }
    audit_read(&state, &caller, &layer, &touched, || {
        let query_text = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&pairs)
            .finish();
        format!("items?{query_text} returned={}", page.indices.len())
    })
    .await?;
    let url = format!("{base}/collections/{id}/items");
    let mut links = vec![
        Link::new(
            format!("{url}?{}", with_offset(&pairs, q.offset, Format::Json)),
            "self",
            media::GEOJSON,
        ),
        Link::new(
            format!("{url}?{}", with_offset(&pairs, q.offset, Format::Html)),
            "alternate",
            media::HTML,
        ),
    ];
    if q.format == Format::Html {
        links.swap(0, 1);
        links[0].rel = "self";
        links[1].rel = "alternate";
    }
    let page_type = if q.format == Format::Html {
        media::HTML
    } else {
        media::GEOJSON
    };
    if q.offset + page.indices.len() < page.matched {
        let next = q.offset + page.indices.len();
        links.push(Link::new(
            format!("{url}?{}", with_offset(&pairs, next, q.format)),
            "next",
            page_type,
        ));
    }
    if q.offset > 0 {
        let prev = q.offset.saturating_sub(q.limit);
        links.push(Link::new(
            format!("{url}?{}", with_offset(&pairs, prev, q.format)),
            "prev",
            page_type,
        ));
    }
    links.push(Link::new(
        format!("{base}/collections/{id}"),
        "collection",
        media::JSON,
    ));

    let mut head = Vec::with_capacity(1024);
    write_collection_head(&mut head, Some(page.matched), page.indices.len(), &links)?;

    if q.format == Format::Html {
        let mut buf = head;
        for (n, &i) in page.indices.iter().enumerate() {
            if n > 0 {
                buf.push(b',');
            }
            write_feature_in(&mut buf, &layer, i, &attrs, None, q.crs);
        }
        buf.extend_from_slice(b"]}");
        let mut doc: Json = serde_json::from_slice(&buf)?;
        doc["title"] = json!(layer.meta().title_ja());
        return Ok(Html(html::render(&doc)).into_response());
    }
    let crs = q.crs;
    let chunks = FeatureChunks {
        layer,
        attrs,
        crs,
        indices: page.indices,
        next: 0,
        head: Some(head),
        done: false,
    };
    Ok((
        [
            (header::CONTENT_TYPE, media::GEOJSON.to_string()),
            content_crs(crs),
        ],
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response())
}

/// The features of one page as a sequence of ~64 KiB chunks.
struct FeatureChunks {
    layer: LayerView,
    attrs: Vec<VisibleAttr>,
    crs: RequestCrs,
    indices: Vec<usize>,
    next: usize,
    head: Option<Vec<u8>>,
    done: bool,
}

const CHUNK: usize = 64 * 1024;

impl Iterator for FeatureChunks {
    type Item = Result<Bytes, Infallible>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = self
            .head
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK + 4096));
        while self.next < self.indices.len() && buf.len() < CHUNK {
            if self.next > 0 {
                buf.push(b',');
            }
            let i = self.indices[self.next];
            write_feature_in(&mut buf, &self.layer, i, &self.attrs, None, self.crs);
            self.next += 1;
        }
        if self.next == self.indices.len() {
            buf.extend_from_slice(b"]}");
            self.done = true;
        }
        Some(Ok(Bytes::from(buf)))
    }
}

pub async fn item(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path((id, fid)): Path<(String, String)>,
    QueryPairs { pairs, preferred }: QueryPairs,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let layer = visible_layer(&view, &id)?;
    let (format, crs) = query::parse_item_params(&pairs, preferred)?;
    let index = layer.position_of(&fid).ok_or_else(|| {
        ApiError::not_found(format!(
            "feature \"{fid}\" not found in collection \"{id}\""
        ))
    })?;
    audit_read(&state, &caller, &layer, layer.visible(), || {
        format!("item {fid}")
    })
    .await?;
    let url = format!("{base}/collections/{id}/items/{}", urlencode_path(&fid));
    let mut links = self_links(&url, format, media::GEOJSON);
    links.push(Link::new(
        format!("{base}/collections/{id}"),
        "collection",
        media::JSON,
    ));
    let mut extra = b"\"links\":".to_vec();
    serde_json::to_writer(&mut extra, &links)?;
    let mut buf = Vec::with_capacity(4096);
    write_feature_in(&mut buf, &layer, index, layer.visible(), Some(&extra), crs);
    // Features of editable layers carry their version as a strong ETag, for If-Match. A view
    // tags what it shows instead: its version counts changes to attributes it hides too.
    let version = layer.version(index);
    let tag = if layer.meta().view().is_some() {
        Some(content_tag(&buf))
    } else {
        (version > 0).then(|| super::edit::etag(&fid, version))
    };
    if let Some(t) = &tag
        && none_match(&headers, t)
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, t.clone())]).into_response());
    }
    let mut response = match format {
        Format::Json => (
            [
                (header::CONTENT_TYPE, media::GEOJSON.to_string()),
                content_crs(crs),
            ],
            buf,
        )
            .into_response(),
        Format::Html => {
            let mut doc: Json = serde_json::from_slice(&buf)?;
            doc["title"] = json!(format!("{} {fid}", layer.meta().title_ja()));
            Html(html::render(&doc)).into_response()
        }
    };
    if let Some(t) = tag
        && let Ok(v) = axum::http::HeaderValue::from_str(&t)
    {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}

/// A strong ETag that is a digest of what is served, and tells nothing else.
pub(super) fn content_tag(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether the request's `If-None-Match` names `tag` (or `*`): the client has it already.
pub(super) fn none_match(headers: &axum::http::HeaderMap, tag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.split(',').any(|x| x.trim() == tag || x.trim() == "*"))
}

/// Percent-encodes a path segment (feature ids may be Japanese or contain `/`).
fn urlencode_path(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
