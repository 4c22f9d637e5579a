//! The OpenAPI 3.0 document, generated per request from the caller's view so it lists exactly
//! the collections and filterable attributes that caller may use.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{ApiError, BaseUrl, CurrentView, QueryPairs};
use crate::access::{LayerView, Principal};
use crate::config::EditConfig;
use crate::encode::{Link, html, media};
use crate::query::Format;

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
    let meta = |summary: &str, op: &str| {
        json!({ "get": {
            "summary": summary, "operationId": op,
            "parameters": [{"$ref": "#/components/parameters/f"}],
            "responses": {
                "200": {"description": summary, "content": {media::JSON: {"schema": {"type": "object"}}, media::HTML: {}}},
                "400": {"$ref": "#/components/responses/Error"}
            }
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
        "responses": {"200": {"description": "OpenAPI 3.0", "content": {media::OPENAPI: {}}}}}}),
    );
    for layer in view.layers() {
        let id = layer.id().to_string();
        let title = &layer.meta().title_ja;
        let mut item_params = vec![
            json!({"$ref": "#/components/parameters/bbox"}),
            json!({"$ref": "#/components/parameters/datetime"}),
            json!({"$ref": "#/components/parameters/limit"}),
            json!({"$ref": "#/components/parameters/offset"}),
            json!({"$ref": "#/components/parameters/properties"}),
            json!({"$ref": "#/components/parameters/sortby"}),
            json!({"$ref": "#/components/parameters/filter"}),
            json!({"$ref": "#/components/parameters/filter-lang"}),
            json!({"$ref": "#/components/parameters/filter-crs"}),
            json!({"$ref": "#/components/parameters/crs"}),
            json!({"$ref": "#/components/parameters/bbox-crs"}),
            json!({"$ref": "#/components/parameters/f"}),
        ];
        for (_, a) in layer.attributes() {
            let mut schema = json!({"type": a.kind.json_type()});
            if a.kind == crate::config::AttrType::Date {
                schema["format"] = json!("date");
            }
            item_params.push(json!({
                "name": a.name, "in": "query", "required": false, "style": "form", "explode": false,
                "description": format!("Features whose {} ({}) equals this value", a.label_ja, a.label_en),
                "schema": schema,
            }));
        }
        let err = json!({"$ref": "#/components/responses/Error"});
        let not_found = json!({"$ref": "#/components/responses/NotFound"});
        paths.insert(format!("/collections/{id}"), json!({"get": {
            "summary": format!("{title}: metadata"), "operationId": format!("describe_{id}"),
            "parameters": [{"$ref": "#/components/parameters/f"}],
            "responses": {"200": {"description": "Collection metadata", "content": {media::JSON: {}}}, "400": err, "404": not_found}
        }}));
        paths.insert(format!("/collections/{id}/items"), json!({"get": {
            "summary": format!("{title}: features"), "operationId": format!("getFeatures_{id}"),
            "parameters": item_params,
            "responses": {"200": {"description": "GeoJSON FeatureCollection", "content": {media::GEOJSON: {"schema": {"type": "object"}}, media::HTML: {}}}, "400": err, "404": not_found}
        }}));
        paths.insert(format!("/collections/{id}/items/{{featureId}}"), json!({"get": {
            "summary": format!("{title}: one feature"), "operationId": format!("getFeature_{id}"),
            "parameters": [{"$ref": "#/components/parameters/featureId"}, {"$ref": "#/components/parameters/crs"}, {"$ref": "#/components/parameters/f"}],
            "responses": {"200": {"description": "GeoJSON Feature", "content": {media::GEOJSON: {"schema": {"type": "object"}}, media::HTML: {}}}, "400": err, "404": not_found}
        }}));
        paths.insert(format!("/collections/{id}/nearest"), json!({"get": {
            "summary": format!("{title}: nearest features"), "operationId": format!("getNearest_{id}"),
            "description": "The features nearest to a point, nearest first, each with the foreign member distance_m (metres on the WGS84 ellipsoid, 0 inside a polygon); ties in collection order.",
            "parameters": [
                {"$ref": "#/components/parameters/lon"}, {"$ref": "#/components/parameters/lat"},
                {"$ref": "#/components/parameters/nearestLimit"}, {"$ref": "#/components/parameters/maxDistance"},
                {"$ref": "#/components/parameters/properties"}, {"$ref": "#/components/parameters/f"}
            ],
            "responses": {"200": {"description": "GeoJSON FeatureCollection, nearest first", "content": {media::GEOJSON: {"schema": {"type": "object"}}, media::HTML: {}}}, "400": err, "404": not_found}
        }}));
        paths.insert(format!("/collections/{id}/queryables"), json!({"get": {
            "summary": format!("{title}: queryable attributes"), "operationId": format!("getQueryables_{id}"),
            "parameters": [{"$ref": "#/components/parameters/f"}],
            "responses": {"200": {"description": "JSON Schema of the queryables", "content": {media::SCHEMA: {}}}, "400": err, "404": not_found}
        }}));
        paths.insert(format!("/collections/{id}/sortables"), json!({"get": {
            "summary": format!("{title}: attributes sortby accepts"), "operationId": format!("getSortables_{id}"),
            "parameters": [{"$ref": "#/components/parameters/f"}],
            "responses": {"200": {"description": "JSON Schema of the sortables", "content": {media::SCHEMA: {}}}, "400": err, "404": not_found}
        }}));
        situation_paths(&mut paths, &layer);
        edit_paths(&mut paths, &layer, view.principal());
    }
    lookup_paths(&mut paths);
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
                "f": {"name": "f", "in": "query", "required": false, "description": "Output format",
                      "schema": {"type": "string", "enum": ["json", "html"], "default": "json"}},
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                         "description": "Lower and upper corner in the axis order of bbox-crs (default CRS84: minLon,minLat,maxLon,maxLat); features whose geometry intersects the box",
                         "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
                "datetime": {"name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
                             "description": "RFC 3339 instant or interval; no collection declares a temporal property yet, so every feature matches",
                             "schema": {"type": "string"}},
                "limit": {"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                          "description": "Features per page; larger values are reduced to the maximum",
                          "schema": {"type": "integer", "minimum": 1, "maximum": max, "default": default}},
                "offset": {"name": "offset", "in": "query", "required": false, "description": "Features to skip (used by next links)",
                           "schema": {"type": "integer", "minimum": 0, "default": 0}},
                "properties": {"name": "properties", "in": "query", "required": false, "style": "form", "explode": false,
                               "description": "Comma-separated attributes to include", "schema": {"type": "array", "items": {"type": "string"}}},
                "filter": {"name": "filter", "in": "query", "required": false,
                           "description": "A CQL2 expression over the queryables (see /collections/{id}/queryables); the property geometry is the feature geometry",
                           "schema": {"type": "string"}},
                "filter-lang": {"name": "filter-lang", "in": "query", "required": false, "description": "Encoding of filter",
                                "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
                "filter-crs": {"name": "filter-crs", "in": "query", "required": false, "description": "CRS of the geometry literals in filter, in its axis order",
                               "schema": {"type": "string", "format": "uri", "enum": crs_list.clone(), "default": crate::crs::CRS84_URI}},
                "sortby": {"name": "sortby", "in": "query", "required": false, "style": "form", "explode": false,
                           "description": "Comma-separated sortable attributes, each prefixed with + (ascending, default) or - (descending); nulls last",
                           "schema": {"type": "array", "items": {"type": "string", "pattern": "^[+-]?.+$"}}},
                "crs": {"name": "crs", "in": "query", "required": false, "description": "CRS of the output geometries, in its axis order (latitude first for EPSG:4326 and 6668, northing first for 6669–6687)",
                        "schema": {"type": "string", "format": "uri", "enum": crs_list.clone(), "default": crate::crs::CRS84_URI}},
                "bbox-crs": {"name": "bbox-crs", "in": "query", "required": false, "description": "CRS of bbox, in its axis order",
                             "schema": {"type": "string", "format": "uri", "enum": crs_list, "default": crate::crs::CRS84_URI}},
                                "featureId": {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}},
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
                                   "description": "A key unique to this write (1–255 visible ASCII characters): a retry with the same key answers the first result instead of writing again",
                                   "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
            },
            "responses": {
                "Error": {"description": "Invalid request", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "NotFound": {"description": "Not found", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "Refused": {"description": "Not allowed: not signed in (401), no right to this write (403), or the collection is not editable (405)",
                            "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "Conflict": {"description": "The feature changed since its ETag was read (412), If-Match is missing (428), or a status move the workflow does not allow (409)",
                             "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "Invalid": {"description": "The feature does not fit the collection's schema: geometry type, extent, types, codes, lengths, required values (400); too large (413); wrong media type (415)",
                            "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
            },
            "schemas": {
                "exception": {"type": "object", "required": ["code"], "properties": {
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

/// Summary and export, which every collection has.
fn situation_paths(paths: &mut serde_json::Map<String, serde_json::Value>, layer: &LayerView) {
    let id = layer.id();
    let title = &layer.meta().title_ja;
    let err = json!({"$ref": "#/components/responses/Error"});
    let not_found = json!({"$ref": "#/components/responses/NotFound"});
    let select = [
        json!({"$ref": "#/components/parameters/bbox"}),
        json!({"$ref": "#/components/parameters/filter"}),
        json!({"$ref": "#/components/parameters/filter-lang"}),
        json!({"$ref": "#/components/parameters/bbox-crs"}),
    ];
    let q = |n: &str, required: bool, d: &str, schema: serde_json::Value| json!({"name": n, "in": "query", "required": required, "description": d, "schema": schema});
    let mut summary = vec![
        q(
            "by",
            true,
            "The collection to count by (its areas contain a feature; for lines and points, the nearest within `within`)",
            json!({"type": "string"}),
        ),
        q(
            "group",
            false,
            "Count per value of this attribute of `by` rather than per feature",
            json!({"type": "string"}),
        ),
        q(
            "split",
            false,
            "Also count each group per value of this attribute of this collection",
            json!({"type": "string"}),
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
        "responses": {"200": {"description": "total, outside and groups (key, count, split), most counted first", "content": {media::JSON: {"schema": {"type": "object"}}}}, "400": err, "404": not_found}
    }}));
    let mut export = vec![q(
        "format",
        false,
        "geojson, or csv (UTF-8 with a byte-order mark and CRLF, for Excel; 経度, 緯度 and WKT columns)",
        json!({"type": "string", "enum": ["geojson", "csv"], "default": "geojson"}),
    )];
    export.extend(select.iter().cloned());
    export.push(json!({"$ref": "#/components/parameters/properties"}));
    paths.insert(format!("/collections/{id}/export"), json!({"get": {
        "summary": format!("{title}: every matching feature as a file"), "operationId": format!("export_{id}"),
        "parameters": export,
        "responses": {"200": {"description": "A file download", "content": {media::GEOJSON: {}, "text/csv": {}}}, "400": err, "404": not_found}
    }}));
    if layer.meta().edit.is_some() || layer.meta().view.is_some() {
        let mut live = vec![json!({
            "name": "Last-Event-ID", "in": "header", "required": false,
            "description": "Resume after this event: first the current state of every feature changed since, then live changes (EventSource sends it by itself on reconnect)",
            "schema": {"type": "string"}
        })];
        live.extend(select.iter().cloned());
        paths.insert(format!("/collections/{id}/changes"), json!({"get": {
            "summary": format!("{title}: live changes (Server-Sent Events)"), "operationId": format!("getChanges_{id}"),
            "description": "Events `feature` (a GeoJSON Feature that was created or changed and meets the query) and `remove` ({\"id\"} of a feature the subscriber could see that was deleted or no longer meets the query); each event's id is the change's number.",
            "parameters": live,
            "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {}}}, "400": err, "404": not_found}
        }}));
    }
}

/// JSON Schema of a feature the caller may send to an editable collection: its geometry type
/// and the visible attributes with their types, codes and limits.
fn feature_schema(layer: &LayerView, edit: &EditConfig) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (_, a) in layer.attributes() {
        let Some(cfg) = layer.meta().attributes.iter().find(|c| c.name == a.name) else {
            continue;
        };
        let mut schema = json!({"type": a.kind.json_type(), "nullable": true, "title": a.label_ja, "description": a.label_en});
        if a.kind == crate::config::AttrType::Date {
            schema["format"] = json!("date");
        }
        if !cfg.codes.is_empty() {
            schema["enum"] = json!(cfg.codes);
        }
        if a.kind == crate::config::AttrType::String {
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
    let Some(edit) = &layer.meta().edit else {
        return;
    };
    let id = layer.id();
    let title = &layer.meta().title_ja;
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
    let refused = json!({"$ref": "#/components/responses/Refused"});
    let conflict = json!({"$ref": "#/components/responses/Conflict"});
    let invalid = json!({"$ref": "#/components/responses/Invalid"});
    let not_found = json!({"$ref": "#/components/responses/NotFound"});
    let item_key = format!("/collections/{id}/items");
    if edit.create.admits(principal)
        && let Some(serde_json::Value::Object(ops)) = paths.get_mut(&item_key)
    {
        ops.insert("post".into(), json!({
            "summary": format!("{title}: add a feature"), "operationId": format!("createFeature_{id}"),
            "parameters": [{"$ref": "#/components/parameters/idempotencyKey"}],
            "requestBody": body(&[media::GEOJSON, media::JSON]),
            "responses": {"201": {"description": "Created; Location names the new feature, ETag its version",
                                  "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}, "ETag": {"schema": {"type": "string"}}},
                                  "content": {media::GEOJSON: {"schema": {"type": "object"}}}},
                          "400": invalid.clone(), "401": refused.clone(), "403": refused.clone(), "404": not_found.clone(), "409": conflict.clone(),
                          "413": invalid.clone(), "415": invalid.clone(), "422": {"description": "The Idempotency-Key was used for another write"}}
        }));
    }
    let key = format!("/collections/{id}/items/{{featureId}}");
    let Some(serde_json::Value::Object(ops)) = paths.get_mut(&key) else {
        return;
    };
    let params = json!([{"$ref": "#/components/parameters/featureId"}, {"$ref": "#/components/parameters/ifMatch"}]);
    let write = |summary: String, op: String, types: &[&str], ok: serde_json::Value| {
        json!({
            "summary": summary, "operationId": op, "parameters": params, "requestBody": body(types),
            "responses": {"200": ok, "400": invalid, "401": refused, "403": refused, "404": not_found,
                          "409": conflict, "412": conflict, "428": conflict, "413": invalid, "415": invalid}
        })
    };
    if edit.update.admits(principal) {
        ops.insert(
            "put".into(),
            write(
                format!("{title}: replace a feature"),
                format!("replaceFeature_{id}"),
                &[media::GEOJSON, media::JSON],
                feature.clone(),
            ),
        );
        ops.insert(
            "patch".into(),
            write(
                format!("{title}: change part of a feature (JSON Merge Patch)"),
                format!("updateFeature_{id}"),
                &["application/merge-patch+json", media::GEOJSON, media::JSON],
                feature,
            ),
        );
    }
    if edit.delete.admits(principal) {
        ops.insert("delete".into(), json!({
            "summary": format!("{title}: delete a feature (an admin can restore it)"), "operationId": format!("deleteFeature_{id}"),
            "parameters": params,
            "responses": {"204": {"description": "Deleted"}, "401": refused, "403": refused, "404": not_found, "412": conflict, "428": conflict}
        }));
    }
}

/// Residents' reports, when the town takes them.
fn report_paths(
    paths: &mut serde_json::Map<String, serde_json::Value>,
    view: &crate::access::View,
) {
    if view.reports().is_none() {
        return;
    }
    let err = json!({"$ref": "#/components/responses/Error"});
    let invalid = json!({"$ref": "#/components/responses/Invalid"});
    let text = |d: &str| json!({"type": "string", "description": d});
    let fields = json!({
        "category": text("One of the categories of GET /reports"),
        "description": text("What happened, in words"),
        "lon": {"type": "number", "description": "Longitude (CRS84); optional when a photo carries its GPS position"},
        "lat": {"type": "number", "description": "Latitude (CRS84)"},
    });
    let mut multipart = fields.clone();
    multipart["photo"] = json!({"type": "array", "items": {"type": "string", "format": "binary"},
        "description": "JPEG or PNG photos; their metadata (EXIF, GPS) is removed before they are stored"});
    paths.insert("/reports".into(), json!({
        "get": {"summary": "What a resident's report needs: categories, photo limits, the town's extent", "operationId": "getReportForm", "security": [{}],
                "responses": {"200": {"description": "The form", "content": {media::JSON: {"schema": {"type": "object"}}}}}},
        "post": {"summary": "Report damage or a problem (no sign-in)", "operationId": "createReport", "security": [{}],
                 "parameters": [{"$ref": "#/components/parameters/idempotencyKey"}],
                 "requestBody": {"required": true, "content": {
                     "multipart/form-data": {"schema": {"type": "object", "required": ["category"], "properties": multipart}},
                     media::JSON: {"schema": {"type": "object", "required": ["category", "lon", "lat"], "properties": fields}}}},
                 "responses": {"201": {"description": "Received: the receipt code to follow the report with", "content": {media::JSON: {"schema": {"type": "object"}}}},
                               "400": invalid.clone(), "413": invalid.clone(), "415": invalid, "429": err.clone()}}
    }));
    paths.insert("/reports/{code}".into(), json!({"get": {
        "summary": "The status of a report, by its receipt code", "operationId": "getReportStatus", "security": [{}],
        "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9A-Za-z-]+$"}}],
        "responses": {"200": {"description": "Status, category, description and the public attributes", "content": {media::JSON: {"schema": {"type": "object"}}}},
                      "404": {"$ref": "#/components/responses/NotFound"}}
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
fn lookup_paths(paths: &mut serde_json::Map<String, serde_json::Value>) {
    let err = json!({"$ref": "#/components/responses/Error"});
    paths.insert("/location".into(), json!({"get": {
        "summary": "What is at this place: the location report", "operationId": "getLocationReport",
        "description": "For each section the catalog configures ([[location]]) on a collection the caller sees: the features containing the point, or the nearest ones with distance_m, with the section's attributes the caller may see. A point outside every collection gives sections without results.",
        "parameters": [{"$ref": "#/components/parameters/lon"}, {"$ref": "#/components/parameters/lat"}, {"$ref": "#/components/parameters/f"}],
        "responses": {
            "200": {"description": "The location report", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/locationReport"}}, media::HTML: {}}},
            "400": err
        }
    }}));
    paths.insert("/search".into(), json!({"get": {
        "summary": "Search features by name", "operationId": "search",
        "description": "Features whose searchable attributes hold every word of q, after Japanese normalisation (NFKC: full-width and half-width; katakana and hiragana; case; spaces). Exact matches first, then prefix, then substring; then collection order and feature order. Each feature carries the foreign members collection and match.",
        "parameters": [
            {"name": "q", "in": "query", "required": true, "description": "Words to search for, separated by spaces", "schema": {"type": "string", "minLength": 1}},
            {"name": "collections", "in": "query", "required": false, "style": "form", "explode": false,
             "description": "Only these collections (comma-separated ids)", "schema": {"type": "array", "items": {"type": "string"}}},
            {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/f"}
        ],
        "responses": {
            "200": {"description": "GeoJSON FeatureCollection, best match first", "content": {media::GEOJSON: {"schema": {"type": "object"}}, media::HTML: {}}},
            "400": err
        }
    }}));
}

/// Sign-in paths for everyone; administration paths only for admins.
fn auth_paths(paths: &mut serde_json::Map<String, serde_json::Value>, principal: &Principal) {
    let err = |d: &str| json!({"description": d, "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}});
    let obj = |props: serde_json::Value, required: &[&str]| json!({"type": "object", "required": required, "properties": props});
    let body = |schema: serde_json::Value| json!({"required": true, "content": {media::JSON: {"schema": schema}}});
    let ok = |d: &str| json!({"description": d, "content": {media::JSON: {"schema": {"type": "object"}}}});
    paths.insert("/auth/login".into(), json!({"post": {
        "summary": "Sign in (staff)", "operationId": "login", "security": [{}],
        "requestBody": body(obj(json!({"username": {"type": "string"}, "password": {"type": "string", "format": "password"}}), &["username", "password"])),
        "responses": {"200": ok("Session: token, csrf_token, roles, expires; also sets the session cookie"),
                      "401": err("User name or password is wrong"), "429": err("Too many attempts; see Retry-After")}
    }}));
    paths.insert("/auth/logout".into(), json!({"post": {
        "summary": "Sign out", "operationId": "logout",
        "responses": {"204": {"description": "Signed out"}, "403": err("Cookie write without X-CSRF-Token")}
    }}));
    paths.insert("/auth/session".into(), json!({"get": {
        "summary": "The signed-in user", "operationId": "getSession",
        "responses": {"200": ok("User, department, roles, expiry and CSRF token"), "401": err("Not signed in")}
    }}));
    let admin = matches!(principal, Principal::Staff { roles, .. } if roles.contains(crate::auth::ADMIN_ROLE));
    if !admin {
        return;
    }
    let name =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let roles = obj(
        json!({"roles": {"type": "array", "items": {"type": "string"}}}),
        &["roles"],
    );
    paths.insert("/admin/users".into(), json!({
        "get": {"summary": "Users", "operationId": "getUsers", "responses": {"200": ok("Users with department and roles")}},
        "post": {"summary": "Create a user", "operationId": "addUser",
                 "requestBody": body(obj(json!({"username": {"type": "string"}, "department": {"type": "string"},
                     "roles": {"type": "array", "items": {"type": "string"}}, "password": {"type": "string", "format": "password"}}),
                     &["username", "department", "password"])),
                 "responses": {"201": ok("The new user"), "400": err("Invalid name, role or password"), "409": err("User exists")}}
    }));
    paths.insert("/admin/users/{name}".into(), json!({"delete": {
        "summary": "Delete a user", "operationId": "deleteUser", "parameters": name,
        "responses": {"204": {"description": "Deleted"}, "404": err("No such user"), "409": err("Last admin")}
    }}));
    paths.insert("/admin/users/{name}/roles".into(), json!({"put": {
        "summary": "Replace a user's roles", "operationId": "setRoles", "parameters": name,
        "requestBody": body(roles),
        "responses": {"200": ok("The user"), "400": err("Unknown role"), "404": err("No such user")}
    }}));
    paths.insert("/admin/users/{name}/password".into(), json!({"put": {
        "summary": "Set a user's password", "operationId": "setPassword", "parameters": name,
        "requestBody": body(obj(json!({"password": {"type": "string", "format": "password"}}), &["password"])),
        "responses": {"204": {"description": "Changed; the user's sessions ended"}, "400": err("Weak password"), "404": err("No such user")}
    }}));
    paths.insert("/admin/roles".into(), json!({
        "get": {"summary": "Roles", "operationId": "getRoles", "responses": {"200": ok("Roles with descriptions")}},
        "post": {"summary": "Create a role", "operationId": "addRole",
                 "requestBody": body(obj(json!({"name": {"type": "string"}, "description": {"type": "string"}}), &["name"])),
                 "responses": {"201": {"description": "Created"}, "400": err("Invalid role name")}}
    }));
    let q = |n: &str, t: &str| json!({"name": n, "in": "query", "required": false, "schema": {"type": t}});
    paths.insert("/admin/audit".into(), json!({"get": {
        "summary": "The audit log, newest first", "operationId": "getAuditLog",
        "parameters": [q("actor", "string"), q("action", "string"), q("target", "string"), q("limit", "integer"), q("offset", "integer")],
        "responses": {"200": ok("numberMatched, numberReturned, entries"), "400": err("Invalid parameter")}
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
