//! The OpenAPI 3.0 document, generated per request from the caller's view so it lists exactly
//! the collections and filterable attributes that caller may use.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{ApiError, BaseUrl, CurrentView, QueryPairs};
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
            "parameters": [{"$ref": "#/components/parameters/featureId"}, {"$ref": "#/components/parameters/f"}],
            "responses": {"200": {"description": "GeoJSON Feature", "content": {media::GEOJSON: {"schema": {"type": "object"}}, media::HTML: {}}}, "400": err, "404": not_found}
        }}));
        paths.insert(format!("/collections/{id}/queryables"), json!({"get": {
            "summary": format!("{title}: queryable attributes"), "operationId": format!("getQueryables_{id}"),
            "parameters": [{"$ref": "#/components/parameters/f"}],
            "responses": {"200": {"description": "JSON Schema of the queryables", "content": {media::SCHEMA: {}}}, "400": err, "404": not_found}
        }}));
    }
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": s.title_ja, "description": s.title_en, "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "parameters": {
                "f": {"name": "f", "in": "query", "required": false, "description": "Output format",
                      "schema": {"type": "string", "enum": ["json", "html"], "default": "json"}},
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                         "description": "minLon,minLat,maxLon,maxLat (CRS84); features whose geometry intersects the box",
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
                "featureId": {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}}
            },
            "responses": {
                "Error": {"description": "Invalid request", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "NotFound": {"description": "Not found", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
            },
            "schemas": {
                "exception": {"type": "object", "required": ["code"], "properties": {
                    "code": {"type": "string"}, "description": {"type": "string"}, "status": {"type": "integer"}}}
            }
        }
    });
    Ok(match format {
        Format::Json => ([(header::CONTENT_TYPE, media::OPENAPI)], doc.to_string()).into_response(),
        Format::Html => Html(html::render(&html_summary(&doc, &base))).into_response(),
    })
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
