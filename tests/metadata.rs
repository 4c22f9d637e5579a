//! The OGC API metadata documents: landing page, conformance, OpenAPI (checked by an independent
//! validator), collections with extents (checked against GDAL), queryables, HTML pages.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::Value as Json;

use common::Response;
use common::geojson::nullable_geometry;
use common::server::fixture_town as town;
use common::town::Town;

/// The fixture town in process (many requests from one "client": the public rate limit is
/// tested elsewhere).
fn app() -> Town {
    Town::builder().data(&town()).build()
}

async fn get(path: &str) -> Response {
    get_accepting(path, "application/json").await
}

async fn get_accepting(path: &str, accept: &str) -> Response {
    app()
        .get(path, &[("host", "test.local"), ("accept", accept)])
        .await
}

fn rels(doc: &Json) -> Vec<String> {
    doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn landing_page_links_the_api_conformance_and_data() {
    let r = get("/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/json");
    let doc = r.json();
    assert_eq!(doc["title"], "テスト町");
    for rel in ["self", "alternate", "service-desc", "conformance", "data"] {
        assert!(
            rels(&doc).contains(&rel.to_string()),
            "missing {rel}: {doc}"
        );
    }
    let api = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .unwrap();
    assert_eq!(api["href"], "http://test.local/api");
}

#[tokio::test]
async fn conformance_declares_part1_classes() {
    let doc = get("/conformance").await.json();
    let classes: Vec<&str> = doc["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in ["core", "oas30", "geojson", "html"] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}");
        assert!(classes.contains(&uri.as_str()), "{classes:?}");
    }
    // This server has no edit store: it must not claim Part 4.
    assert!(
        !classes.iter().any(|c| c.contains("ogcapi-features-4")),
        "{classes:?}"
    );
}

#[tokio::test]
async fn openapi_document_is_valid_and_shows_only_public_things() {
    let r = get("/api").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.content_type()
            .starts_with("application/vnd.oai.openapi+json"),
        "{}",
        r.content_type()
    );
    common::assert_valid_openapi(&r.body);
    let doc = r.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/collections/zoning/items"));
    assert!(paths.contains_key("/collections/shelters/items/{featureId}"));
    let params: Vec<&str> = paths["/collections/zoning/items"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        params.contains(&"用途地域") && params.contains(&"容積率"),
        "{params:?}"
    );
    // The internal layer and the internal attribute of a public layer are nowhere.
    assert!(
        !r.body.contains("hiking") && !r.body.contains("ハイキング"),
        "internal layer in /api"
    );
    assert!(!r.body.contains("幅員"), "internal attribute in /api");
}

/// The extent GDAL computes for a source file after reprojecting it to CRS84.
fn gdal_extent(file: &Path) -> [f64; 4] {
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/", "-t_srs", "OGC:CRS84"])
        .arg(file)
        .output()
        .expect("ogr2ogr (GDAL) must be installed");
    let doc: Json = serde_json::from_slice(&out.stdout).unwrap();
    let mut e = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for f in doc["features"].as_array().unwrap() {
        for &[x, y] in nullable_geometry(&f["geometry"]).coords() {
            e = [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)];
        }
    }
    e
}

#[tokio::test]
async fn collections_carry_extents_that_match_gdal() {
    let doc = get("/collections").await.json();
    let ids: Vec<&str> = doc["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["zoning", "roads", "shelters"]);
    // GDAL 3.6 cannot decode a Shift_JIS CSV header, so the shelters' expected extent is
    // computed here from the decoded text.
    let csv = std::fs::read(town().join("shelters.csv")).unwrap();
    let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&csv);
    let mut shelters = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let (lat, lon): (f64, f64) = (cells[2].parse().unwrap(), cells[3].parse().unwrap());
        shelters = [
            shelters[0].min(lon),
            shelters[1].min(lat),
            shelters[2].max(lon),
            shelters[3].max(lat),
        ];
    }
    for (id, expected) in [
        ("zoning", gdal_extent(&town().join("zoning.shp"))),
        ("roads", gdal_extent(&town().join("roads.geojson"))),
        ("shelters", shelters),
    ] {
        let c = get(&format!("/collections/{id}")).await.json();
        assert_eq!(c["itemType"], "feature");
        assert_eq!(
            c["storageCrs"],
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        );
        let bbox: Vec<f64> = c["extent"]["spatial"]["bbox"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for k in 0..4 {
            assert!(
                (bbox[k] - expected[k]).abs() < 1e-6,
                "{id}: {bbox:?} vs GDAL {expected:?}"
            );
        }
        for rel in [
            "self",
            "alternate",
            "items",
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
        ] {
            assert!(rels(&c).contains(&rel.to_string()), "{id} lacks {rel}");
        }
    }
}

#[tokio::test]
async fn queryables_are_a_json_schema_of_visible_attributes() {
    let r = get("/collections/shelters/queryables").await;
    assert_eq!(r.content_type(), "application/schema+json");
    let doc = r.json();
    assert_eq!(doc["type"], "object");
    assert_eq!(doc["properties"]["想定収容人数"]["type"], "integer");
    assert_eq!(doc["properties"]["災害種別_洪水"]["type"], "boolean");
    assert_eq!(doc["properties"]["名称"]["type"], "string");
    let roads = get("/collections/roads/queryables").await.json();
    assert!(roads["properties"].get("幅員").is_none(), "{roads}");
    assert!(roads["properties"].get("路線名").is_some(), "{roads}");
}

#[tokio::test]
async fn html_pages_for_people() {
    for path in [
        "/?f=html",
        "/api?f=html",
        "/conformance?f=html",
        "/collections/zoning/queryables?f=html",
        "/collections?f=html",
        "/collections/zoning?f=html",
        "/collections/zoning/items?f=html",
        "/collections/zoning/items/1?f=html",
    ] {
        let r = get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.content_type().starts_with("text/html"),
            "{path}: {}",
            r.content_type()
        );
        assert!(r.body.starts_with("<!DOCTYPE html>"), "{path}");
    }
    let items = get("/collections/zoning/items?f=html").await;
    assert!(items.body.contains("第一種住居地域"), "{}", items.body);
    let list = get("/collections?f=html").await;
    assert!(list.body.contains("用途地域") && !list.body.contains("ハイキング"));
}

#[tokio::test]
async fn browsers_get_html_and_f_overrides_accept() {
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let r = get_accepting("/collections/zoning/items", browser).await;
    assert!(
        r.content_type().starts_with("text/html"),
        "{}",
        r.content_type()
    );
    let r = get_accepting("/collections/zoning/items?f=json", browser).await;
    assert_eq!(r.content_type(), "application/geo+json");
    let r = get_accepting("/collections", "*/*").await;
    assert_eq!(r.content_type(), "application/json");
    // A browser gets a page linking the JSON definition; clients asking JSON get the document.
    let r = get_accepting("/api", browser).await;
    assert!(
        r.content_type().starts_with("text/html"),
        "{}",
        r.content_type()
    );
    assert!(r.body.contains("/api?f=json") && r.body.contains("/collections/zoning/items"));
    let r = get_accepting("/api", "application/vnd.oai.openapi+json;version=3.0").await;
    assert!(
        r.content_type()
            .starts_with("application/vnd.oai.openapi+json")
    );
}

#[tokio::test]
async fn metadata_errors_are_json_and_name_the_parameter() {
    let r = get("/collections?foo=bar").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.json();
    assert_eq!(e["code"], "InvalidParameterValue");
    assert!(
        e["description"].as_str().unwrap().starts_with("foo:"),
        "{e}"
    );
    let r = get("/collections?f=xml").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["description"].as_str().unwrap().starts_with("f:"));
    let r = get("/no/such/path").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["code"], "NotFound");
    let r = get("/collections/zoning/items/999").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["description"].as_str().unwrap().contains("999"));
}

#[tokio::test]
async fn an_item_has_its_links_and_only_visible_properties() {
    let r = get("/collections/roads/items/1-001").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "application/geo+json");
    let f = r.json();
    assert_eq!(f["id"], "1-001");
    assert_eq!(f["properties"]["路線名"], "中央通り線");
    assert!(f["properties"].get("幅員").is_none());
    let rels = rels(&f);
    assert!(
        rels.contains(&"self".into()) && rels.contains(&"collection".into()),
        "{rels:?}"
    );
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let path = "/collections/zoning/items?limit=100";
    let plain = get(path).await.json();
    let res = app()
        .get(path, &[("host", "test.local"), ("accept-encoding", "gzip")])
        .await;
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert_eq!(res.content_type(), "application/geo+json");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&res.bytes[..]), &mut text)
        .unwrap();
    let mut unzipped: Json = serde_json::from_str(&text).unwrap();
    let mut plain = plain;
    unzipped["timeStamp"] = Json::Null;
    plain["timeStamp"] = Json::Null;
    assert_eq!(unzipped, plain);
    assert_eq!(unzipped["numberReturned"], 3);
}

/// The OpenAPI document says exactly what the server takes and answers: the values a
/// parameter may have, the formats an operation answers in, and the statuses it gives.
#[tokio::test]
async fn openapi_document_says_what_the_server_takes_and_answers() {
    let doc = get("/api").await.json();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let param = |op: &Json, name: &str| -> Json {
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| match p["$ref"].as_str() {
                Some(r) => {
                    let key = r.rsplit('/').next().unwrap();
                    doc["components"]["parameters"][key].clone()
                }
                None => p.clone(),
            })
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    let items = op("/collections/zoning/items", "get");
    // sortby takes the collection's visible attributes, each with an optional + or -.
    let sortby = param(&items, "sortby")["schema"]["items"]["enum"].clone();
    let keys: Vec<&str> = sortby
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(keys.contains(&"容積率") && keys.contains(&"-容積率") && keys.contains(&"+容積率"));
    assert!(!keys.iter().any(|k| k.contains("幅員")), "{keys:?}");
    assert!(!keys.contains(&"0"));
    // An empty filter is refused, so the document does not offer one.
    assert_eq!(param(&items, "filter")["schema"]["minLength"], 1);
    let r = get("/collections/zoning/items?filter=").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = get("/collections/zoning/items?sortby=0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // bbox is 4 or 6 numbers, never 5.
    let bbox = &param(&items, "bbox")["schema"]["oneOf"];
    assert_eq!(bbox[0]["minItems"], 4);
    assert_eq!(bbox[1]["maxItems"], 6);
    // limit within the fixture town's server.max_limit.
    assert_eq!(param(&items, "limit")["schema"]["maximum"], 100);
    // Every format an operation answers in is documented: f=html on metadata too.
    for path in [
        "/collections/zoning",
        "/collections/zoning/queryables",
        "/collections/zoning/sortables",
        "/collections/zoning/items",
        "/api",
    ] {
        let r = get(&format!("{path}?f=html")).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.content_type().starts_with("text/html"), "{path}");
        assert!(
            op(path, "get")["responses"]["200"]["content"]["text/html"].is_object(),
            "{path} does not document its HTML answer"
        );
    }
    // Sign-in refuses a body that is not JSON (415) or not the expected shape (400).
    let login = op("/auth/login", "post");
    for code in ["200", "400", "401", "413", "415", "429"] {
        assert!(login["responses"][code].is_object(), "/auth/login {code}");
    }
    let refs =
        doc["components"]["responses"]["E415"]["content"]["application/json"]["schema"]["$ref"]
            .clone();
    assert_eq!(refs, "#/components/schemas/exception");
}
