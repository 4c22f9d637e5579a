//! The OpenAPI 3.0 document, generated per request from the caller's view so it lists exactly
//! the collections and filterable attributes that caller may use.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{ApiError, BaseUrl, CurrentView, QueryPairs};
use crate::access::LayerView;
use crate::config::EditConfig;
use crate::encode::{Link, html, media};
use crate::policy::Principal;
use crate::query::Format;

/// Every value `f` takes (`query::parse_format`).
const FORMATS: [&str; 6] = [
    "json",
    "html",
    "geojson",
    "application/json",
    "application/geo+json",
    "text/html",
];

/// What `datetime` takes: a date or RFC 3339 date-time, or an interval of two with `..` or
/// nothing for an open end (`query::parse_datetime`).
const DATETIME_PATTERN: &str = r"^(D|(D|\.\.)?/(D|\.\.)?)$";

/// One date or date-time of `DATETIME_PATTERN`.
const DATETIME_ITEM: &str = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d))?";

/// The status codes every operation may answer besides its own: 400 (a parameter the
/// operation does not know), 401 (a Bearer token that is unknown or expired), 414 and 431
/// (a request target or header fields over `[server.security]`'s limits) and 429 (the
/// per-address limit of callers who are not signed in).
const ALWAYS: [u16; 5] = [400, 401, 414, 429, 431];

/// The responses of an operation: `ok` (status → response object) and the error statuses
/// `errors` plus `ALWAYS`, each the OGC exception document.
fn responses(ok: serde_json::Value, errors: &[u16]) -> serde_json::Value {
    let mut out = match ok {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    for code in ALWAYS.iter().chain(errors) {
        out.insert(
            code.to_string(),
            json!({"$ref": format!("#/components/responses/E{code}")}),
        );
    }
    serde_json::Value::Object(out)
}

/// The shared error responses, one per status the server gives.
fn error_responses() -> serde_json::Value {
    let texts: [(u16, &str); 13] = [
        (
            400,
            "Invalid request: a parameter, path segment or body that does not parse or does not fit, named in the description",
        ),
        (
            401,
            "Not signed in, wrong credentials, or an unknown or expired Bearer token",
        ),
        (
            403,
            "Signed in without the right to do this, or a write with the session cookie without X-CSRF-Token",
        ),
        (
            404,
            "No such resource, or one the caller may not see (the two answer alike)",
        ),
        (
            409,
            "Conflicts with the current state: a status move the workflow does not allow, an existing name, the last admin",
        ),
        (412, "If-Match names an older version than the current one"),
        (413, "The request body is larger than this operation takes"),
        (
            415,
            "The request body is not of a media type this operation takes",
        ),
        (
            414,
            "The request target (path and query) is longer than the server takes",
        ),
        (422, "The Idempotency-Key was used for another request"),
        (428, "A change of an existing feature needs If-Match"),
        (
            429,
            "Too many requests from this address; Retry-After says when to try again",
        ),
        (
            431,
            "The header fields are larger, or more, than the server takes",
        ),
    ];
    let mut out = serde_json::Map::new();
    for (code, text) in texts {
        let mut r = json!({"description": text,
            "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}});
        if code == 429 {
            r["headers"] = json!({"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait"}});
        }
        out.insert(format!("E{code}"), r);
    }
    serde_json::Value::Object(out)
}

/// A 200 answer of `description` as JSON (with `schema`) or, for `f=html` or a browser, HTML.
fn json_or_html(
    description: &str,
    json_type: &str,
    schema: serde_json::Value,
) -> serde_json::Value {
    json!({"200": {"description": description, "content": {
        json_type: {"schema": schema},
        media::HTML: {"schema": {"type": "string"}},
    }}})
}

/// A string that is one of `names`; any string when there are none (an empty `enum` is not
/// valid OpenAPI, and every value is then refused alike).
fn one_of(names: &[String]) -> serde_json::Value {
    if names.is_empty() {
        json!({"type": "string"})
    } else {
        json!({"type": "string", "enum": names})
    }
}

/// `properties`: a comma-separated list of `layer`'s visible attributes (empty for none).
fn properties_param(layer: &LayerView) -> serde_json::Value {
    let names: Vec<String> = layer.attributes().map(|(_, a)| a.name.clone()).collect();
    json!({"name": "properties", "in": "query", "required": false, "style": "form", "explode": false,
           "description": "Comma-separated attributes to include (none for an empty value)",
           "schema": {"type": "array", "uniqueItems": true, "items": one_of(&names)}})
}

/// `sortby`: comma-separated visible attributes of `layer`, each optionally prefixed with
/// `+` (ascending) or `-` (descending), each attribute at most once.
fn sortby_param(layer: &LayerView) -> serde_json::Value {
    let keys: Vec<String> = layer
        .attributes()
        .flat_map(|(_, a)| {
            [
                a.name.clone(),
                format!("+{}", a.name),
                format!("-{}", a.name),
            ]
        })
        .collect();
    json!({"name": "sortby", "in": "query", "required": false, "style": "form", "explode": false,
           "description": "Comma-separated sortable attributes (see sortables), each at most once and prefixed with + (ascending, the default) or - (descending); nulls last",
           "schema": {"type": "array", "minItems": 1, "uniqueItems": true, "items": one_of(&keys)}})
}

pub async fn api(
    CurrentView { view, .. }: CurrentView,
    BaseUrl(base): BaseUrl,
    q: QueryPairs,
) -> Result<Response, ApiError> {
    let format = q.metadata_format()?;
    let s = view.server();
    let max = s.max_limit;
    let default = s.default_limit;
    let mut paths = serde_json::Map::new();
    let crs_list: Vec<String> = crate::crs::RequestCrs::supported()
        .map(|c| c.uri())
        .collect();
    let f = json!({"$ref": "#/components/parameters/f"});
    let object = json!({"type": "object"});
    let meta = |summary: &str, op: &str| {
        json!({ "get": {
            "summary": summary, "operationId": op,
            "parameters": [f],
            "responses": responses(json_or_html(summary, media::JSON, object.clone()), &[]),
        }})
    };
    paths.insert("/".into(), meta("Landing page", "getLandingPage"));
    paths.insert(
        "/conformance".into(),
        meta("Conformance classes", "getConformance"),
    );
    paths.insert("/collections".into(), meta("Collections", "getCollections"));
    paths.insert(
        "/api".into(),
        json!({"get": {"summary": "This API definition", "operationId": "getApi",
        "parameters": [f],
        "responses": responses(json!({"200": {"description": "OpenAPI 3.0 (or an HTML summary)", "content": {
            media::OPENAPI: {"schema": object}, media::HTML: {"schema": {"type": "string"}}}}}), &[])}}),
    );
    for layer in view.layers() {
        let id = layer.id().to_string();
        let title = layer.meta().title_ja();
        let mut item_params = vec![
            json!({"$ref": "#/components/parameters/bbox"}),
            json!({"$ref": "#/components/parameters/datetime"}),
            json!({"$ref": "#/components/parameters/limit"}),
            json!({"$ref": "#/components/parameters/offset"}),
            properties_param(&layer),
            sortby_param(&layer),
            json!({"$ref": "#/components/parameters/filter"}),
            json!({"$ref": "#/components/parameters/filter-lang"}),
            json!({"$ref": "#/components/parameters/filter-crs"}),
            json!({"$ref": "#/components/parameters/crs"}),
            json!({"$ref": "#/components/parameters/bbox-crs"}),
            f.clone(),
        ];
        for (_, a) in layer.attributes() {
            let mut schema = json!({"type": a.kind.json_type()});
            if a.kind == crate::model::AttrType::Date {
                schema["format"] = json!("date");
            }
            item_params.push(json!({
                "name": a.name, "in": "query", "required": false, "style": "form", "explode": false,
                "description": format!("Features whose {} ({}) equals this value", a.label_ja, a.label_en),
                "schema": schema,
            }));
        }
        let geojson = |d: &str| json_or_html(d, media::GEOJSON, object.clone());
        paths.insert(format!("/collections/{id}"), json!({"get": {
            "summary": format!("{title}: metadata"), "operationId": format!("describe_{id}"),
            "parameters": [f],
            "responses": responses(json_or_html("Collection metadata", media::JSON, object.clone()), &[404]),
        }}));
        paths.insert(
            format!("/collections/{id}/items"),
            json!({"get": {
                "summary": format!("{title}: features"), "operationId": format!("getFeatures_{id}"),
                "parameters": item_params,
                "responses": responses(geojson("GeoJSON FeatureCollection"), &[404]),
            }}),
        );
        let mut one = geojson("GeoJSON Feature");
        one["200"]["headers"] = json!({"ETag": {"schema": {"type": "string"}, "description": "The feature's version (editable collections and views)"}});
        one["304"] =
            json!({"description": "The feature is unchanged since the ETag in If-None-Match"});
        paths.insert(format!("/collections/{id}/items/{{featureId}}"), json!({"get": {
            "summary": format!("{title}: one feature"), "operationId": format!("getFeature_{id}"),
            "parameters": [{"$ref": "#/components/parameters/featureId"}, {"$ref": "#/components/parameters/crs"}, f,
                           {"$ref": "#/components/parameters/ifNoneMatch"}],
            "responses": responses(one, &[404]),
        }}));
        paths.insert(format!("/collections/{id}/nearest"), json!({"get": {
            "summary": format!("{title}: nearest features"), "operationId": format!("getNearest_{id}"),
            "description": "The features nearest to a point, nearest first, each with the foreign member distance_m (metres on the WGS84 ellipsoid, 0 inside a polygon); ties in collection order.",
            "parameters": [
                {"$ref": "#/components/parameters/lon"}, {"$ref": "#/components/parameters/lat"},
                {"$ref": "#/components/parameters/nearestLimit"}, {"$ref": "#/components/parameters/maxDistance"},
                properties_param(&layer), f
            ],
            "responses": responses(geojson("GeoJSON FeatureCollection, nearest first"), &[404]),
        }}));
        paths.insert(format!("/collections/{id}/queryables"), json!({"get": {
            "summary": format!("{title}: queryable attributes"), "operationId": format!("getQueryables_{id}"),
            "parameters": [f],
            "responses": responses(json_or_html("JSON Schema of the queryables", media::SCHEMA, object.clone()), &[404]),
        }}));
        paths.insert(format!("/collections/{id}/sortables"), json!({"get": {
            "summary": format!("{title}: attributes sortby accepts"), "operationId": format!("getSortables_{id}"),
            "parameters": [f],
            "responses": responses(json_or_html("JSON Schema of the sortables", media::SCHEMA, object.clone()), &[404]),
        }}));
        situation_paths(&mut paths, &layer, &view);
        edit_paths(&mut paths, &layer, view.principal());
        photo_paths(&mut paths, &layer, view.principal());
        admin_edit_paths(&mut paths, &layer, view.principal());
    }
    lookup_paths(&mut paths, &view);
    report_paths(&mut paths, &view);
    auth_paths(&mut paths, view.principal());
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": s.title_ja, "description": s.title_en, "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": base}],
        "paths": paths,
        // Every read works anonymously; a token or the session cookie widens what exists.
        "security": [{}, {"bearerAuth": []}, {"sessionCookie": []}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "The token from POST /auth/login"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": super::identity::SECURE_COOKIE,
                                  "description": "Set by POST /auth/login; writes with it need the X-CSRF-Token header"}
            },
            "parameters": {
                "f": {"name": "f", "in": "query", "required": false,
                      "description": "Output format: json (also geojson, application/json, application/geo+json) or html (also text/html); without it the Accept header decides",
                      "schema": {"type": "string", "enum": FORMATS}},
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                         "description": "4 numbers (lower corner, upper corner) or 6 (with heights, ignored) in the axis order of bbox-crs (default CRS84: minLon,minLat,maxLon,maxLat; longitudes -180..180, latitudes -90..90, lower latitude first); features whose geometry intersects the box",
                         "schema": {"type": "array", "items": {"type": "number"},
                                    "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}]}},
                "datetime": {"name": "datetime", "in": "query", "required": false,
                             "description": "An RFC 3339 date-time or date, or an interval start/end with .. (or nothing) for an open end; no collection declares a temporal property yet, so every feature matches",
                             "schema": {"type": "string", "pattern": DATETIME_PATTERN.replace('D', DATETIME_ITEM)}},
                "limit": {"name": "limit", "in": "query", "required": false,
                          "description": "Features per page; larger values are reduced to the maximum",
                          "schema": {"type": "integer", "minimum": 1, "maximum": max, "default": default}},
                "offset": {"name": "offset", "in": "query", "required": false, "description": "Features to skip (used by next links)",
                           "schema": {"type": "integer", "minimum": 0, "default": 0}},
                "filter": {"name": "filter", "in": "query", "required": false,
                           "description": "A CQL2 expression over the queryables (see /collections/{id}/queryables); the property geometry is the feature geometry. An expression that does not parse or names an unknown property is a 400 saying where",
                           "schema": {"type": "string", "minLength": 1}},
                "filter-lang": {"name": "filter-lang", "in": "query", "required": false, "description": "Encoding of filter",
                                "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
                "filter-crs": {"name": "filter-crs", "in": "query", "required": false, "description": "CRS of the geometry literals in filter, in its axis order",
                               "schema": {"type": "string", "format": "uri", "enum": crs_list.clone(), "default": crate::crs::CRS84_URI}},
                "crs": {"name": "crs", "in": "query", "required": false, "description": "CRS of the output geometries, in its axis order (latitude first for EPSG:4326 and 6668, northing first for 6669–6687)",
                        "schema": {"type": "string", "format": "uri", "enum": crs_list.clone(), "default": crate::crs::CRS84_URI}},
                "bbox-crs": {"name": "bbox-crs", "in": "query", "required": false, "description": "CRS of bbox, in its axis order",
                             "schema": {"type": "string", "format": "uri", "enum": crs_list, "default": crate::crs::CRS84_URI}},
                "featureId": {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}},
                "ifNoneMatch": {"name": "If-None-Match", "in": "header", "required": false,
                                "description": "An ETag from an earlier answer: 304 when it is still current",
                                "schema": {"type": "string"}},
                "lon": {"name": "lon", "in": "query", "required": true, "description": "Longitude in degrees (CRS84)",
                        "schema": {"type": "number", "minimum": -180, "maximum": 180}},
                "lat": {"name": "lat", "in": "query", "required": true, "description": "Latitude in degrees (CRS84)",
                        "schema": {"type": "number", "minimum": -90, "maximum": 90}},
                "nearestLimit": {"name": "limit", "in": "query", "required": false,
                                 "description": "How many features at most; larger values are reduced to the maximum",
                                 "schema": {"type": "integer", "minimum": 1, "maximum": max, "default": crate::query::nearest::DEFAULT_NEAREST_LIMIT.min(max)}},
                "maxDistance": {"name": "max-distance", "in": "query", "required": false,
                                "description": "Only features at most this many metres away",
                                "schema": {"type": "number", "minimum": 0}},
                "ifMatch": {"name": "If-Match", "in": "header", "required": true,
                            "description": "The feature's ETag from its last GET or edit (or * for any version); a stale one is refused with 412, none with 428",
                            "schema": {"type": "string"}},
                "idempotencyKey": {"name": "Idempotency-Key", "in": "header", "required": false,
                                   "description": "A key unique to this write (1–255 visible ASCII characters): a retry with the same key and the same request answers the first result instead of writing again; with another request it is a 422",
                                   "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}}
            },
            "responses": error_responses(),
            "schemas": {
                "exception": {"type": "object", "required": ["code", "description", "status"], "properties": {
                    "code": {"type": "string"}, "description": {"type": "string"}, "status": {"type": "integer"}}},
                "locationReport": location_report_schema()
            }
        }
    });
    Ok(match format {
        Format::Json => ([(header::CONTENT_TYPE, media::OPENAPI)], doc.to_string()).into_response(),
        Format::Html => Html(html::render(&html_summary(&doc, &base))).into_response(),
    })
}

/// Summary, export and the live stream, which every collection has (the stream only
/// editable collections and their views).
fn situation_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    layer: &LayerView,
    view: &crate::access::View,
) {
    let id = layer.id();
    let title = layer.meta().title_ja();
    let select = [
        json!({"$ref": "#/components/parameters/bbox"}),
        json!({"$ref": "#/components/parameters/filter"}),
        json!({"$ref": "#/components/parameters/filter-lang"}),
        json!({"$ref": "#/components/parameters/bbox-crs"}),
    ];
    let q = |n: &str, required: bool, d: &str, schema: serde_json::Value| json!({"name": n, "in": "query", "required": required, "description": d, "schema": schema});
    let collections: Vec<String> = view.layers().map(|l| l.id().to_string()).collect();
    let attributes: Vec<String> = layer.attributes().map(|(_, a)| a.name.clone()).collect();
    let mut summary = vec![
        q(
            "by",
            true,
            "The collection to count by (its areas contain a feature; for lines and points, the nearest within `within`)",
            one_of(&collections),
        ),
        q(
            "group",
            false,
            "Count per value of this attribute of `by` rather than per feature (an attribute `by` does not have is a 400)",
            json!({"type": "string", "minLength": 1}),
        ),
        q(
            "split",
            false,
            "Also count each group per value of this attribute of this collection",
            one_of(&attributes),
        ),
        q(
            "within",
            false,
            "For line and point `by` collections: the farthest a feature may be, metres",
            json!({"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 10000, "default": 30}),
        ),
    ];
    summary.extend(select.iter().cloned());
    paths.insert(format!("/collections/{id}/summary"), json!({"get": {
        "summary": format!("{title}: counts per feature of another collection"), "operationId": format!("getSummary_{id}"),
        "description": "Counts the features chosen by bbox and filter per feature (or group) of the collection named by `by`: e.g. damage reports per flood-depth rank, district or road route. A feature in no group counts in `outside`.",
        "parameters": summary,
        "responses": responses(json!({"200": {"description": "total, outside and groups (key, count, split), most counted first",
                                              "content": {media::JSON: {"schema": {"type": "object"}}}}}), &[404]),
    }}));
    let mut export = vec![q(
        "format",
        false,
        "geojson, or csv (UTF-8 with a byte-order mark and CRLF, for Excel; 経度, 緯度 and WKT columns)",
        json!({"type": "string", "enum": ["geojson", "csv"], "default": "geojson"}),
    )];
    export.extend(select.iter().cloned());
    export.push(properties_param(layer));
    paths.insert(format!("/collections/{id}/export"), json!({"get": {
        "summary": format!("{title}: every matching feature as a file"), "operationId": format!("export_{id}"),
        "parameters": export,
        "responses": responses(json!({"200": {"description": "A file download",
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
            "content": {media::GEOJSON: {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}}}), &[404]),
    }}));
    if layer.meta().edit().is_some() || layer.meta().view().is_some() {
        let mut live = vec![json!({
            "name": "Last-Event-ID", "in": "header", "required": false,
            "description": "Resume after this event: first the current state of every feature changed since, then live changes (EventSource sends it by itself on reconnect)",
            "schema": {"type": "string"}
        })];
        live.extend(select.iter().cloned());
        paths.insert(format!("/collections/{id}/changes"), json!({"get": {
            "summary": format!("{title}: live changes (Server-Sent Events)"), "operationId": format!("getChanges_{id}"),
            "description": "Events `feature` (a GeoJSON Feature that was created or changed and meets the query) and `remove` ({\"id\"} of a feature the subscriber could see that was deleted or no longer meets the query); each event's id is opaque.",
            "parameters": live,
            "responses": responses(json!({"200": {"description": "An event stream that stays open", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}), &[404]),
        }}));
    }
}

/// JSON Schema of a feature the caller may send to an editable collection: its geometry type
/// and the visible attributes with their types, codes and limits.
fn feature_schema(layer: &LayerView, edit: &EditConfig) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (va, a) in layer.attributes() {
        let cfg = layer.settings(va);
        let mut schema = json!({"type": a.kind.json_type(), "nullable": true, "title": a.label_ja, "description": a.label_en});
        if a.kind == crate::model::AttrType::Date {
            schema["format"] = json!("date");
        }
        if !cfg.codes.is_empty() {
            schema["enum"] = json!(cfg.codes);
        }
        if a.kind == crate::model::AttrType::String {
            schema["maxLength"] =
                json!(cfg.max_length.unwrap_or(crate::config::DEFAULT_MAX_LENGTH));
        }
        if cfg.auto.is_some() {
            schema["readOnly"] = json!(true);
        } else if cfg.required {
            required.push(a.name.clone());
        }
        props.insert(a.name.clone(), schema);
    }
    json!({"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "geometry": {"type": "object", "required": ["type", "coordinates"], "properties": {
            "type": {"type": "string", "enum": [edit.geometry.name()]}}},
        "properties": {"type": "object", "required": required, "properties": props, "additionalProperties": false}
    }})
}

/// Part 4's writes on an editable collection, each only for callers allowed to make it.
fn edit_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    layer: &LayerView,
    principal: &Principal,
) {
    let Some(edit) = &layer.meta().edit() else {
        return;
    };
    let id = layer.id();
    let title = layer.meta().title_ja();
    let schema = feature_schema(layer, edit);
    let body = |types: &[&str]| {
        let content: serde_json::Map<String, serde_json::Value> = types
            .iter()
            .map(|t| (t.to_string(), json!({"schema": schema})))
            .collect();
        json!({"required": true, "content": content})
    };
    let feature = json!({"description": "The feature as stored, with its ETag header",
        "headers": {"ETag": {"schema": {"type": "string"}}},
        "content": {media::GEOJSON: {"schema": {"type": "object"}}}});
    let item_key = format!("/collections/{id}/items");
    if edit.create.admits(principal)
        && let Some(serde_json::Value::Object(ops)) = paths.get_mut(&item_key)
    {
        ops.insert("post".into(), json!({
            "summary": format!("{title}: add a feature"), "operationId": format!("createFeature_{id}"),
            "parameters": [{"$ref": "#/components/parameters/idempotencyKey"}],
            "requestBody": body(&[media::GEOJSON, media::JSON]),
            "responses": responses(json!({"201": {"description": "Created; Location names the new feature, ETag its version",
                                  "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}, "ETag": {"schema": {"type": "string"}}},
                                  "content": {media::GEOJSON: {"schema": {"type": "object"}}}}}),
                                  &[403, 404, 409, 413, 415, 422]),
        }));
    }
    let key = format!("/collections/{id}/items/{{featureId}}");
    let Some(serde_json::Value::Object(ops)) = paths.get_mut(&key) else {
        return;
    };
    let params = json!([{"$ref": "#/components/parameters/featureId"}, {"$ref": "#/components/parameters/ifMatch"},
                        {"$ref": "#/components/parameters/idempotencyKey"}]);
    let write = |summary: String, op: String, types: &[&str]| {
        json!({
            "summary": summary, "operationId": op, "parameters": params, "requestBody": body(types),
            "responses": responses(json!({"200": feature}), &[403, 404, 409, 412, 413, 415, 422, 428]),
        })
    };
    if edit.update.admits(principal) {
        ops.insert(
            "put".into(),
            write(
                format!("{title}: replace a feature"),
                format!("replaceFeature_{id}"),
                &[media::GEOJSON, media::JSON],
            ),
        );
        ops.insert(
            "patch".into(),
            write(
                format!("{title}: change part of a feature (JSON Merge Patch)"),
                format!("updateFeature_{id}"),
                &["application/merge-patch+json", media::GEOJSON, media::JSON],
            ),
        );
    }
    if edit.delete.admits(principal) {
        ops.insert("delete".into(), json!({
            "summary": format!("{title}: delete a feature (an admin can restore it)"), "operationId": format!("deleteFeature_{id}"),
            "parameters": params,
            "responses": responses(json!({"204": {"description": "Deleted"}}), &[403, 404, 412, 422, 428]),
        }));
    }
}

/// The photos of a feature: listed and served on editable collections and their views,
/// added and approved by those who may change the feature.
fn photo_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    layer: &LayerView,
    principal: &Principal,
) {
    let meta = layer.meta();
    if meta.edit().is_none() && meta.view().is_none() {
        return;
    }
    let id = layer.id();
    let title = meta.title_ja();
    let fid = json!({"$ref": "#/components/parameters/featureId"});
    let n = json!({"name": "n", "in": "path", "required": true, "description": "The photo's number in the list",
                   "schema": {"type": "integer", "format": "int64"}});
    let list = json!({"description": "The photos the caller may see: n, type, size, width, height, href (and public, for staff)",
        "content": {media::JSON: {"schema": {"type": "object", "required": ["photos"], "properties": {
            "photos": {"type": "array", "items": {"type": "object"}}}}}}});
    let mut ops = serde_json::Map::new();
    ops.insert("get".into(), json!({
        "summary": format!("{title}: photos of a feature"), "operationId": format!("getPhotos_{id}"),
        "parameters": [fid],
        "responses": responses(json!({"200": list}), &[404]),
    }));
    let may_change = meta.edit().is_some_and(|e| e.update.admits(principal));
    if may_change {
        ops.insert("post".into(), json!({
            "summary": format!("{title}: add photos (JPEG or PNG; their metadata is removed)"), "operationId": format!("addPhotos_{id}"),
            "parameters": [fid],
            "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["photo"], "properties": {
                "photo": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
            "responses": responses(json!({"201": {"description": "The feature's photos now, with the feature's new ETag",
                "headers": {"ETag": {"schema": {"type": "string"}}}, "content": list["content"]}}),
                &[403, 404, 409, 412, 413, 415, 428]),
        }));
    }
    paths.insert(
        format!("/collections/{id}/items/{{featureId}}/photos"),
        serde_json::Value::Object(ops),
    );
    let mut ops = serde_json::Map::new();
    let image = json!({"schema": {"type": "string", "format": "binary"}});
    ops.insert("get".into(), json!({
        "summary": format!("{title}: one photo"), "operationId": format!("getPhoto_{id}"),
        "parameters": [fid, n, {"$ref": "#/components/parameters/ifNoneMatch"}],
        "responses": responses(json!({
            "200": {"description": "The image", "content": {"image/jpeg": image, "image/png": image}},
            "304": {"description": "The photo is unchanged since the ETag in If-None-Match"}}), &[404]),
    }));
    if may_change {
        ops.insert("patch".into(), json!({
            "summary": format!("{title}: approve a photo for the public view, or withdraw it"), "operationId": format!("setPhotoPublic_{id}"),
            "parameters": [fid, n, {"$ref": "#/components/parameters/ifMatch"}],
            "requestBody": {"required": true, "content": {media::JSON: {"schema": {"type": "object", "required": ["public"],
                "properties": {"public": {"type": "boolean"}}, "additionalProperties": false}}}},
            "responses": responses(json!({"200": {"description": "n, public and the feature's new version",
                "content": {media::JSON: {"schema": {"type": "object"}}}}}), &[403, 404, 409, 412, 413, 428]),
        }));
    }
    paths.insert(
        format!("/collections/{id}/items/{{featureId}}/photos/{{n}}"),
        serde_json::Value::Object(ops),
    );
}

/// An admin's history, deleted list and restore on an editable collection.
fn admin_edit_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    layer: &LayerView,
    principal: &Principal,
) {
    if layer.meta().edit().is_none() || !is_admin(principal) {
        return;
    }
    let id = layer.id();
    let title = layer.meta().title_ja();
    let fid = json!({"name": "featureId", "in": "path", "required": true, "description": "The feature's number",
                     "schema": {"type": "integer", "format": "int64"}});
    let list = |d: &str, member: &str| {
        json!({"200": {"description": d, "content": {media::JSON: {"schema": {
        "type": "object", "required": [member], "properties": {member: {"type": "array", "items": {"type": "object"}}}}}}}})
    };
    paths.insert(format!("/admin/history/{id}/{{featureId}}"), json!({"get": {
        "summary": format!("{title}: every change of a feature, oldest first"), "operationId": format!("getHistory_{id}"),
        "parameters": [fid],
        "responses": responses(list("seq, op, actor, client, at, before and after of each change", "history"), &[403, 404]),
    }}));
    paths.insert(format!("/admin/deleted/{id}"), json!({"get": {
        "summary": format!("{title}: deleted features, newest first"), "operationId": format!("getDeleted_{id}"),
        "responses": responses(list("The deletions an admin may undo", "deleted"), &[403, 404]),
    }}));
    paths.insert(format!("/admin/deleted/{id}/{{featureId}}/restore"), json!({"post": {
        "summary": format!("{title}: restore a deleted feature"), "operationId": format!("restore_{id}"),
        "parameters": [fid, {"$ref": "#/components/parameters/idempotencyKey"}],
        "responses": responses(json!({"200": {"description": "The restored feature, with its ETag",
            "headers": {"ETag": {"schema": {"type": "string"}}},
            "content": {media::GEOJSON: {"schema": {"type": "object"}}}}}), &[403, 404, 409, 422]),
    }}));
}

/// Residents' reports, when the town takes them.
fn report_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    view: &crate::access::View,
) {
    if view.reports().is_none() {
        return;
    }
    let category =
        json!({"type": "string", "description": "One of the categories of GET /reports"});
    let fields = json!({
        "category": category,
        "description": {"type": "string", "description": "What happened, in words"},
        "lon": {"type": "number", "minimum": -180, "maximum": 180, "description": "Longitude (CRS84), inside the town; optional when a photo carries its GPS position"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "Latitude (CRS84), inside the town"},
    });
    let mut multipart = fields.clone();
    multipart["photo"] = json!({"type": "array", "items": {"type": "string", "format": "binary"},
        "description": "JPEG or PNG photos; their metadata (EXIF, GPS) is removed before they are stored"});
    let object = json!({"type": "object"});
    paths.insert("/reports".into(), json!({
        "get": {"summary": "What a resident's report needs: categories, photo limits, the town's extent", "operationId": "getReportForm", "security": [{}],
                "responses": responses(json!({"200": {"description": "The form", "content": {media::JSON: {"schema": object}}}}), &[404])},
        "post": {"summary": "Report damage or a problem (no sign-in)", "operationId": "createReport", "security": [{}],
                 "parameters": [{"$ref": "#/components/parameters/idempotencyKey"}],
                 "requestBody": {"required": true, "content": {
                     "multipart/form-data": {"schema": {"type": "object", "required": ["category"], "properties": multipart}},
                     media::JSON: {"schema": {"type": "object", "required": ["category", "lon", "lat"], "properties": fields, "additionalProperties": false}}}},
                 "responses": responses(json!({"201": {"description": "Received: the receipt code to follow the report with", "content": {media::JSON: {"schema": object}}}}),
                                        &[404, 409, 413, 415, 422])}
    }));
    paths.insert("/reports/{code}".into(), json!({"get": {
        "summary": "The status of a report, by its receipt code", "operationId": "getReportStatus", "security": [{}],
        "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9A-Za-z-]+$"}}],
        "responses": responses(json!({"200": {"description": "Status, category, description and the public attributes", "content": {media::JSON: {"schema": object}}}}), &[404]),
    }}));
}

/// JSON Schema of the location report.
fn location_report_schema() -> serde_json::Value {
    json!({"type": "object", "required": ["lon", "lat", "sections"], "properties": {
                    "lon": {"type": "number"}, "lat": {"type": "number"},
                    "sections": {"type": "array", "items": {"type": "object",
                        "required": ["collection", "title_ja", "title_en", "match", "results"], "properties": {
                        "collection": {"type": "string"}, "title_ja": {"type": "string"}, "title_en": {"type": "string"},
                        "match": {"type": "string", "enum": ["contains", "nearest"]},
                        "within_m": {"type": "number"},
                        "results": {"type": "array", "items": {"type": "object", "required": ["id", "fields"], "properties": {
                            "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                            "distance_m": {"type": "number", "description": "Metres, for nearest sections"},
                            "fields": {"type": "array", "items": {"type": "object", "properties": {
                                "name": {"type": "string"}, "label_ja": {"type": "string"},
                                "label_en": {"type": "string"}, "value": {}}}}}}}}}}}})
}

/// The location report and search, which span every collection the caller sees.
fn lookup_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    view: &crate::access::View,
) {
    let f = json!({"$ref": "#/components/parameters/f"});
    paths.insert("/location".into(), json!({"get": {
        "summary": "What is at this place: the location report", "operationId": "getLocationReport",
        "description": "For each section the catalog configures ([[location]]) on a collection the caller sees: the features containing the point, or the nearest ones with distance_m, with the section's attributes the caller may see. A point outside every collection gives sections without results.",
        "parameters": [{"$ref": "#/components/parameters/lon"}, {"$ref": "#/components/parameters/lat"}, f],
        "responses": responses(json_or_html("The location report", media::JSON, json!({"$ref": "#/components/schemas/locationReport"})), &[]),
    }}));
    let searchable: Vec<String> = view
        .layers()
        .filter(|l| l.search_columns().next().is_some())
        .map(|l| l.id().to_string())
        .collect();
    paths.insert("/search".into(), json!({"get": {
        "summary": "Search features by name", "operationId": "search",
        "description": "Features whose searchable attributes hold every word of q, after Japanese normalisation (NFKC: full-width and half-width; katakana and hiragana; case; spaces). Exact matches first, then prefix, then substring; then collection order and feature order. Each feature carries the foreign members collection and match.",
        "parameters": [
            {"name": "q", "in": "query", "required": true, "description": "Words to search for, separated by spaces (at least one that is not a space)",
             "schema": {"type": "string", "minLength": 1, "pattern": "\\S"}},
            {"name": "collections", "in": "query", "required": false, "style": "form", "explode": false,
             "description": "Only these collections (comma-separated ids of searchable collections)",
             "schema": {"type": "array", "minItems": 1, "items": one_of(&searchable)}},
            {"$ref": "#/components/parameters/limit"}, f
        ],
        "responses": responses(json_or_html("GeoJSON FeatureCollection, best match first", media::GEOJSON, json!({"type": "object"})), &[]),
    }}));
}

/// Whether `principal` holds the admin role.
fn is_admin(principal: &Principal) -> bool {
    matches!(principal, Principal::Staff { roles, .. } if roles.contains(crate::auth::ADMIN_ROLE))
}

/// Sign-in paths for everyone; administration paths only for admins.
fn auth_paths(paths: &mut serde_json::Map<String, serde_json::Value>, principal: &Principal) {
    let obj = |props: serde_json::Value, required: &[&str]| json!({"type": "object", "required": required, "properties": props, "additionalProperties": false});
    let body = |schema: serde_json::Value| json!({"required": true, "content": {media::JSON: {"schema": schema}}});
    let ok = |code: &str, d: &str| json!({code: {"description": d, "content": {media::JSON: {"schema": {"type": "object"}}}}});
    let none = |code: &str, d: &str| json!({code: {"description": d}});
    let text = json!({"type": "string"});
    let password = json!({"type": "string", "format": "password"});
    paths.insert("/auth/login".into(), json!({"post": {
        "summary": "Sign in (staff)", "operationId": "login", "security": [{}],
        "requestBody": body(obj(json!({"username": text, "password": password}), &["username", "password"])),
        "responses": responses(ok("200", "Session: token, csrf_token, roles, expires; also sets the session cookie"), &[413, 415]),
    }}));
    paths.insert(
        "/auth/logout".into(),
        json!({"post": {
            "summary": "Sign out", "operationId": "logout",
            "responses": responses(none("204", "Signed out"), &[403]),
        }}),
    );
    paths.insert("/auth/session".into(), json!({"get": {
        "summary": "The signed-in user", "operationId": "getSession",
        "responses": responses(ok("200", "User, department, roles, expiry and CSRF token"), &[]),
    }}));
    if !is_admin(principal) {
        return;
    }
    let name = json!([{"name": "name", "in": "path", "required": true,
                       "description": "The user name: 1 to 64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit (upper case is read as lower case)",
                       "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"}}]);
    let roles = json!({"type": "array", "items": {"type": "string"}});
    let new_password = json!({"type": "string", "format": "password", "minLength": crate::auth::MIN_PASSWORD_CHARS, "maxLength": 256,
                              "description": "At least 12 characters, at most 1024 bytes"});
    let user_name = json!({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"});
    let department = json!({"type": "string", "minLength": 1, "maxLength": crate::auth::MAX_DEPARTMENT_CHARS, "pattern": "\\S"});
    let admin = [400, 401, 403, 404, 409, 413, 415];
    paths.insert("/admin/users".into(), json!({
        "get": {"summary": "Users", "operationId": "getUsers", "responses": responses(ok("200", "Users with department and roles"), &[403])},
        "post": {"summary": "Create a user", "operationId": "addUser",
                 "requestBody": body(obj(json!({"username": user_name, "department": department, "roles": roles, "password": new_password}),
                     &["username", "department", "password"])),
                 "responses": responses(ok("201", "The new user"), &admin)}
    }));
    paths.insert("/admin/users/{name}".into(), json!({"delete": {
        "summary": "Delete a user", "operationId": "deleteUser", "parameters": name,
        "responses": responses(none("204", "Deleted; the user's sessions end"), &[403, 404, 409])
    }}));
    paths.insert(
        "/admin/users/{name}/roles".into(),
        json!({"put": {
            "summary": "Replace a user's roles", "operationId": "setRoles", "parameters": name,
            "requestBody": body(obj(json!({"roles": roles}), &["roles"])),
            "responses": responses(ok("200", "The user"), &admin)
        }}),
    );
    paths.insert(
        "/admin/users/{name}/password".into(),
        json!({"put": {
            "summary": "Set a user's password", "operationId": "setPassword", "parameters": name,
            "requestBody": body(obj(json!({"password": new_password}), &["password"])),
            "responses": responses(none("204", "Changed; the user's sessions ended"), &admin)
        }}),
    );
    paths.insert("/admin/roles".into(), json!({
        "get": {"summary": "Roles", "operationId": "getRoles", "responses": responses(ok("200", "Roles with descriptions"), &[403])},
        "post": {"summary": "Create a role", "operationId": "addRole",
                 "requestBody": body(obj(json!({"name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,31}$"}, "description": {"type": "string", "maxLength": crate::auth::MAX_DESCRIPTION_CHARS}}), &["name"])),
                 "responses": responses(none("201", "Created"), &admin)}
    }));
    let q = |n: &str, schema: serde_json::Value| json!({"name": n, "in": "query", "required": false, "schema": schema});
    let actions: Vec<&str> = crate::audit::Action::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    paths.insert("/admin/audit".into(), json!({"get": {
        "summary": "The audit log, newest first", "operationId": "getAuditLog",
        "parameters": [q("actor", text.clone()), q("action", json!({"type": "string", "enum": actions})), q("target", text.clone()),
                       q("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})),
                       q("offset", json!({"type": "integer", "minimum": 0, "default": 0}))],
        "responses": responses(ok("200", "numberMatched, numberReturned, entries"), &[403])
    }}));
}

/// A page for people: the API's title, a link to the JSON definition and every path.
fn html_summary(doc: &serde_json::Value, base: &str) -> serde_json::Value {
    let mut links = vec![
        Link::new(format!("{base}/api?f=json"), "service-desc", media::OPENAPI)
            .titled("OpenAPI 3.0 definition (JSON)"),
    ];
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let summary = item["get"]["summary"].as_str().unwrap_or(path);
            links.push(Link::new(format!("{base}{path}"), "related", media::JSON).titled(summary));
        }
    }
    json!({
        "title": doc["info"]["title"],
        "description": "OpenAPI 3.0 definition of this server; the JSON document is linked below.",
        "links": links,
    })
}
