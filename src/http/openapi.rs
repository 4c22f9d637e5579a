//! The OpenAPI 3.0 document, generated per request from the caller's view so it lists exactly
//! the collections and filterable attributes that caller may use.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::{ApiError, BaseUrl, CurrentView, QueryPairs};
use crate::access::Principal;
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
    }
    lookup_paths(&mut paths);
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
                                "schema": {"type": "number", "minimum": 0}}
            },
            "responses": {
                "Error": {"description": "Invalid request", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}},
                "NotFound": {"description": "Not found", "content": {media::JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
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
