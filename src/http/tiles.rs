//! OGC API – Tiles 1.0 (OGC 20-057) with Mapbox Vector Tiles: the WebMercatorQuad tile matrix
//! set, dataset and collection tile sets (metadata, TileJSON 3.0 for MapLibre) and the tiles.
//!
//! A hidden collection's tiles answer exactly like a missing collection's, and the dataset
//! tiles hold one MVT layer per collection the caller's view shows at that zoom.
//! A tile without features is answered `204 No Content` (the standard allows it and MapLibre,
//! GDAL and QGIS read it as an empty tile): a map of a mountain town asks for many such tiles,
//! and 204 costs no body and no decoding.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geo::Rect;
use serde_json::{Value as Json, json};

use super::extract::Path;
use super::features::{audit_read, document, self_links};
use super::{ApiError, AppState, BaseUrl, Caller, CurrentView, QueryPairs};
use crate::access::{LayerView, View};
use crate::crs::CRS84_URI;
use crate::encode::{Link, media};
use crate::model::AttrType;
use crate::policy::Principal;
use crate::query::Format;
use crate::tiles::build::{self, TileSet};
use crate::tiles::grid::{self, TileId};
use crate::tiles::{EncodedTile, MAX_ZOOM};

/// The media type of a Mapbox Vector Tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";

/// The one tile matrix set served.
const TMS_ID: &str = "WebMercatorQuad";
const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
const EPSG_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";

/// Conformance classes of OGC API – Tiles 1.0 and 2D Tile Matrix Set 2.0 implemented here.
pub const CONFORMANCE: [&str; 9] = [
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/tms/2.0/conf/tilematrixset",
    "http://www.opengis.net/spec/tms/2.0/conf/json-tilematrixset",
];

/// Link relations of OGC API – Tiles.
pub const REL_TILESETS_VECTOR: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";
pub const REL_TILING_SCHEMES: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes";
const REL_TILING_SCHEME: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";

fn tms_or_404(id: &str) -> Result<(), ApiError> {
    if id == TMS_ID {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "tile matrix set \"{id}\" not found (this server offers {TMS_ID})"
        )))
    }
}

/// The definition of WebMercatorQuad (OGC 17-083r4 annex D.1) in its JSON encoding.
fn tms_definition(base: &str, format: Format) -> Json {
    let matrices: Vec<Json> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = 1u64 << z;
            json!({
                "id": z.to_string(),
                "scaleDenominator": grid::cell_size(z) / 0.000_28,
                "cellSize": grid::cell_size(z),
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-grid::ORIGIN_METRES, grid::ORIGIN_METRES],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    json!({
        "id": TMS_ID,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": EPSG_3857,
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "boundingBox": {
            "lowerLeft": [-grid::ORIGIN_METRES, -grid::ORIGIN_METRES],
            "upperRight": [grid::ORIGIN_METRES, grid::ORIGIN_METRES],
            "crs": EPSG_3857,
        },
        "tileMatrices": matrices,
        "links": self_links(&format!("{base}/tileMatrixSets/{TMS_ID}"), format, media::JSON),
    })
}

pub async fn tile_matrix_sets(BaseUrl(base): BaseUrl, q: QueryPairs) -> Result<Response, ApiError> {
    let format = q.metadata_format()?;
    let url = format!("{base}/tileMatrixSets");
    Ok(document(
        json!({
            "title": "Tile matrix sets",
            "tileMatrixSets": [{
                "id": TMS_ID,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "crs": EPSG_3857,
                "links": [Link::new(format!("{url}/{TMS_ID}"), "self", media::JSON)
                    .titled("The tile matrix set")],
            }],
            "links": self_links(&url, format, media::JSON),
        }),
        format,
    ))
}

pub async fn tile_matrix_set(
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    tms_or_404(&id)?;
    let format = q.metadata_format()?;
    Ok(document(tms_definition(&base, format), format))
}

/// The layers of a tile set at any zoom (for metadata), in catalog order.
fn set_layers(view: &View, set: &TileSet) -> Result<Vec<LayerView>, ApiError> {
    match set {
        TileSet::Dataset => Ok(view.layers().collect()),
        TileSet::Collection(id) => view
            .layer(id)
            .map(|l| vec![l])
            .ok_or_else(|| ApiError::no_collection(id)),
    }
}

fn set_url(base: &str, set: &TileSet) -> String {
    match set {
        TileSet::Dataset => format!("{base}/tiles"),
        TileSet::Collection(id) => format!("{base}/collections/{id}/tiles"),
    }
}

fn set_title(view: &View, layers: &[LayerView], set: &TileSet) -> String {
    match (set, layers.first()) {
        (TileSet::Collection(_), Some(l)) => l.meta().title_ja().to_string(),
        _ => view.server().title_ja.clone(),
    }
}

/// `/tiles` and `/collections/{id}/tiles`: the tile sets (one: WebMercatorQuad).
async fn tilesets(
    view: &View,
    base: &str,
    set: TileSet,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let layers = set_layers(view, &set)?;
    let format = q.metadata_format()?;
    let url = set_url(base, &set);
    Ok(document(
        json!({
            "title": set_title(view, &layers, &set),
            "tilesets": [{
                "title": format!("{} ({TMS_ID})", set_title(view, &layers, &set)),
                "dataType": "vector",
                "crs": EPSG_3857,
                "tileMatrixSetURI": TMS_URI,
                "links": [
                    Link::new(format!("{url}/{TMS_ID}"), "self", media::JSON).titled("The tile set"),
                    Link::new(format!("{base}/tileMatrixSets/{TMS_ID}"), REL_TILING_SCHEME, media::JSON)
                        .titled("The tile matrix set"),
                ],
            }],
            "links": self_links(&url, format, media::JSON),
        }),
        format,
    ))
}

pub async fn dataset_tilesets(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    tilesets(&view, &base, TileSet::Dataset, q).await
}

pub async fn collection_tilesets(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    tilesets(&view, &base, TileSet::Collection(id), q).await
}

/// A tile set's metadata format: JSON, HTML, or TileJSON.
enum MetaFormat {
    Ogc(Format),
    TileJson,
}

fn meta_format(q: &QueryPairs) -> Result<MetaFormat, ApiError> {
    let only_f = q.pairs.iter().all(|(k, _)| k == "f");
    match q.pairs.iter().find(|(k, _)| k == "f") {
        Some((_, v)) if v == "tilejson" && only_f && q.pairs.len() == 1 => Ok(MetaFormat::TileJson),
        _ => Ok(MetaFormat::Ogc(q.metadata_format().map_err(|e| {
            if only_f {
                ApiError::bad_request("f: expected json, html or tilejson")
            } else {
                e
            }
        })?)),
    }
}

/// The union of the layers' extents.
fn extent_of(layers: &[LayerView]) -> Option<Rect<f64>> {
    layers.iter().filter_map(LayerView::extent).reduce(|a, b| {
        Rect::new(
            geo::Coord {
                x: a.min().x.min(b.min().x),
                y: a.min().y.min(b.min().y),
            },
            geo::Coord {
                x: a.max().x.max(b.max().x),
                y: a.max().y.max(b.max().y),
            },
        )
    })
}

fn zoom_range(layers: &[LayerView]) -> (u8, u8) {
    let min = layers
        .iter()
        .map(|l| l.meta().tiles().minzoom)
        .min()
        .unwrap_or(0);
    let max = layers
        .iter()
        .map(|l| l.meta().tiles().maxzoom)
        .max()
        .unwrap_or(MAX_ZOOM);
    (min, max)
}

/// The JSON Schema type and TileJSON field type of an attribute.
fn field_types(kind: AttrType) -> (&'static str, &'static str) {
    match kind {
        AttrType::Integer | AttrType::Number => ("number", "Number"),
        AttrType::Boolean => ("boolean", "Boolean"),
        _ => ("string", "String"),
    }
}

fn tile_template(base: &str, set: &TileSet, tms: &str, names: [&str; 3]) -> String {
    format!(
        "{}/{tms}/{{{}}}/{{{}}}/{{{}}}",
        set_url(base, set),
        names[0],
        names[1],
        names[2]
    )
}

/// The tile set's metadata (OGC 17-083r4 §9 "TileSet metadata") or its TileJSON 3.0.
async fn tileset(
    view: &View,
    base: &str,
    set: TileSet,
    tms: &str,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let layers = set_layers(view, &set)?;
    tms_or_404(tms)?;
    let format = meta_format(&q)?;
    let title = set_title(view, &layers, &set);
    let (minzoom, maxzoom) = zoom_range(&layers);
    let extent = extent_of(&layers);
    let url = format!("{}/{tms}", set_url(base, &set));
    if let MetaFormat::TileJson = format {
        let vector_layers: Vec<Json> = layers
            .iter()
            .map(|l| {
                let fields: serde_json::Map<String, Json> = build::tile_attributes(l)
                    .into_iter()
                    .map(|a| {
                        let s = l.schema(a);
                        (s.name.clone(), json!(field_types(s.kind).1))
                    })
                    .collect();
                json!({
                    "id": l.id(),
                    "description": l.meta().title_ja(),
                    "minzoom": l.meta().tiles().minzoom,
                    "maxzoom": l.meta().tiles().maxzoom,
                    "fields": fields,
                })
            })
            .collect();
        let mut doc = json!({
            "tilejson": "3.0.0",
            "name": title,
            "scheme": "xyz",
            "tiles": [tile_template(base, &set, tms, ["z", "y", "x"])],
            "minzoom": minzoom,
            "maxzoom": maxzoom,
            "vector_layers": vector_layers,
        });
        if let Some(r) = extent {
            doc["bounds"] = json!([r.min().x, r.min().y, r.max().x, r.max().y]);
            let c = r.center();
            doc["center"] = json!([c.x, c.y, minzoom.max(12).min(maxzoom)]);
        }
        return Ok(([(header::CONTENT_TYPE, media::JSON)], doc.to_string()).into_response());
    }
    let MetaFormat::Ogc(format) = format else {
        return Err(ApiError::internal("tile set format"));
    };
    let mut links = self_links(&url, format, media::JSON);
    links.extend([
        Link::new(format!("{url}?f=tilejson"), "alternate", media::JSON).titled("TileJSON 3.0"),
        Link::new(
            format!("{base}/tileMatrixSets/{TMS_ID}"),
            REL_TILING_SCHEME,
            media::JSON,
        )
        .titled("The tile matrix set"),
    ]);
    let mut doc = json!({
        "title": title,
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "links": links,
    });
    if let Some(l) = doc["links"].as_array_mut() {
        l.push(json!({
            "href": tile_template(base, &set, tms, ["tileMatrix", "tileRow", "tileCol"]),
            "rel": "item",
            "type": MVT,
            "templated": true,
            "title": "Vector tiles",
        }));
    }
    doc["layers"] = Json::Array(
        layers
            .iter()
            .map(|l| {
                let props: serde_json::Map<String, Json> = build::tile_attributes(l)
                    .into_iter()
                    .map(|a| {
                        let s = l.schema(a);
                        (
                            s.name.clone(),
                            json!({ "type": field_types(s.kind).0, "title": s.label_ja, "description": s.label_en }),
                        )
                    })
                    .collect();
                json!({
                    "id": l.id(),
                    "title": l.meta().title_ja(),
                    "dataType": "vector",
                    "minTileMatrix": l.meta().tiles().minzoom.to_string(),
                    "maxTileMatrix": l.meta().tiles().maxzoom.to_string(),
                    "propertiesSchema": { "type": "object", "properties": props },
                })
            })
            .collect(),
    );
    if let Some(r) = extent {
        doc["boundingBox"] = json!({
            "lowerLeft": [r.min().x, r.min().y],
            "upperRight": [r.max().x, r.max().y],
            "crs": CRS84_URI,
        });
        doc["tileMatrixSetLimits"] = Json::Array(
            (minzoom..=maxzoom)
                .map(|z| {
                    let ([x0, x1], [y0, y1]) = TileId::covering(z, &r);
                    json!({
                        "tileMatrix": z.to_string(),
                        "minTileRow": y0, "maxTileRow": y1,
                        "minTileCol": x0, "maxTileCol": x1,
                    })
                })
                .collect(),
        );
    }
    Ok(document(doc, format))
}

pub async fn dataset_tileset(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path(tms): Path<String>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    tileset(&view, &base, TileSet::Dataset, &tms, q).await
}

pub async fn collection_tileset(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    Path((id, tms)): Path<(String, String)>,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    tileset(&view, &base, TileSet::Collection(id), &tms, q).await
}

pub async fn dataset_tile(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    Path((tms, z, y, x)): Path<(String, String, String, String)>,
    q: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    tile(
        &state,
        view,
        &caller,
        TileSet::Dataset,
        &tms,
        [&z, &y, &x],
        &q,
        &headers,
    )
    .await
}

pub async fn collection_tile(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    Path((id, tms, z, y, x)): Path<(String, String, String, String, String)>,
    q: QueryPairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // 404 for a missing or hidden collection before any other check, so the two are alike.
    if view.layer(&id).is_none() {
        return Err(ApiError::no_collection(&id));
    }
    let set = TileSet::Collection(id);
    tile(&state, view, &caller, set, &tms, [&z, &y, &x], &q, &headers).await
}

/// The tile numbers of the path; numbers beyond the matrix are a tile that does not exist.
fn tile_id(numbers: [&str; 3]) -> Result<TileId, ApiError> {
    TileId::parse(numbers[0], numbers[1], numbers[2]).map_err(|e| {
        let digits = numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if digits {
            ApiError::not_found(e.to_string())
        } else {
            ApiError::bad_request(e.to_string())
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn tile(
    state: &AppState,
    view: View,
    caller: &Caller,
    set: TileSet,
    tms: &str,
    numbers: [&str; 3],
    q: &QueryPairs,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    tms_or_404(tms)?;
    for (k, v) in &q.pairs {
        if k != "f" || v != "mvt" {
            return Err(ApiError::bad_request(format!(
                "{k}: unknown query parameter (a tile takes only f=mvt)"
            )));
        }
    }
    let id = tile_id(numbers)?;
    let plans = match build::plan(&view, &set, id.z) {
        None => return Err(ApiError::not_found("no such collection")),
        Some(Err(out)) => return Err(ApiError::not_found(out.to_string())),
        Some(Ok(p)) => p,
    };
    for p in &plans {
        audit_read(state, caller, &p.layer, &p.attrs, || {
            format!("tile {}/{}/{}", id.z, id.y, id.x)
        })
        .await?;
    }
    let cache = Arc::clone(&state.tiles);
    let encoded = tokio::task::spawn_blocking(move || cache.tile(&view, &set, id, &plans))
        .await
        .map_err(ApiError::internal)?;
    Ok(tile_response(&encoded, &caller.principal, headers))
}

/// The encodings a client accepts, best first among those a tile comes in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

fn chosen_encoding(headers: &HeaderMap) -> Encoding {
    let Some(accept) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|h| h.to_str().ok())
    else {
        return Encoding::Identity;
    };
    let q_of = |name: &str| -> Option<f32> {
        accept.split(',').find_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim();
            if !coding.eq_ignore_ascii_case(name) {
                return None;
            }
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |v| v.trim().parse::<f32>().ok())?;
            Some(q)
        })
    };
    let star = q_of("*").unwrap_or(0.0);
    let br = q_of("br").unwrap_or(star);
    let gz = q_of("gzip").unwrap_or(star);
    if br > 0.0 && br >= gz {
        Encoding::Brotli
    } else if gz > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn tile_response(tile: &EncodedTile, principal: &Principal, headers: &HeaderMap) -> Response {
    let encoding = if tile.is_empty() {
        Encoding::Identity
    } else {
        chosen_encoding(headers)
    };
    // Each encoding is its own representation, with its own strong tag.
    let (body, content_encoding, tag) = match encoding {
        Encoding::Brotli => (
            tile.brotli.clone(),
            Some("br"),
            with_suffix(&tile.etag, "br"),
        ),
        Encoding::Gzip => (
            tile.gzip.clone(),
            Some("gzip"),
            with_suffix(&tile.etag, "gz"),
        ),
        Encoding::Identity => (tile.raw.clone(), None, tile.etag.clone()),
    };
    // Anyone's tiles may sit in a shared cache (a CDN); staff tiles only in their browser.
    // Both are revalidated on every use, so an edit shows at once, and the 304 costs nothing.
    let cache_control = match principal {
        Principal::Anonymous => "public, no-cache",
        Principal::Staff { .. } => "private, no-cache",
    };
    let matched = super::features::none_match(headers, &tag);
    let status = if matched {
        StatusCode::NOT_MODIFIED
    } else if tile.is_empty() {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = if status == StatusCode::OK {
        body.into_response()
    } else {
        status.into_response()
    };
    *response.status_mut() = status;
    let h = response.headers_mut();
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
        if let Some(e) = content_encoding {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// `"tag"` → `"tag-suffix"`.
fn with_suffix(tag: &str, suffix: &str) -> String {
    format!("{}-{suffix}\"", tag.trim_end_matches('"'))
}

/// Links to the tile sets, for the landing page and each collection.
pub fn tiles_link(url: &str) -> Link {
    Link::new(format!("{url}/tiles"), REL_TILESETS_VECTOR, media::JSON).titled("Vector tiles")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(v).expect("header"),
        );
        h
    }

    #[test]
    fn the_encoding_follows_accept_encoding() {
        assert_eq!(chosen_encoding(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(
            chosen_encoding(&accept("gzip, deflate, br")),
            Encoding::Brotli
        );
        assert_eq!(chosen_encoding(&accept("gzip")), Encoding::Gzip);
        assert_eq!(chosen_encoding(&accept("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(
            chosen_encoding(&accept("br;q=0.5, gzip;q=0.8")),
            Encoding::Gzip
        );
        assert_eq!(chosen_encoding(&accept("identity")), Encoding::Identity);
        assert_eq!(chosen_encoding(&accept("*")), Encoding::Brotli);
        assert_eq!(chosen_encoding(&accept("*;q=0")), Encoding::Identity);
    }
}
