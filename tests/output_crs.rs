//! OGC API – Features Part 2 on the sample town: geometries served in every JGD2011 plane
//! rectangular zone, EPSG:4326, EPSG:6668 and EPSG:3857, checked against independent
//! formulas (GSI's Gauss–Krüger equations, the Web Mercator definition), with each CRS's own
//! axis order; and boxes given in EPSG:6677 select what a brute force in metres selects.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::Value as Json;

mod common;
use common::Response;
use common::brute::box_meets;
use common::geojson::{Geometry, coords, feature_ids, geometry, id_text};
use common::gsi::{ORIGINS, gsi_forward};
use common::{items_uri, sample};

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// Public layers of the sample with points, lines and polygons.
const LAYERS: [&str; 3] = ["shelters", "roads", "zoning"];
/// CRS84 output has 7 decimals: up to ~0.6 cm of rounding per coordinate, so a coordinate
/// recomputed from it can differ from the server's (computed from the stored value) by ~1 cm.
const TOLERANCE_M: f64 = 0.015;

fn epsg(code: u32) -> String {
    format!("http://www.opengis.net/def/crs/EPSG/0/{code}")
}

async fn get(uri: &str) -> Response {
    sample::get(uri).await
}

/// Every feature of `layer` (id → geometry) in `crs`, with the Content-Crs header checked.
async fn features(layer: &str, crs: &str) -> BTreeMap<String, Json> {
    let r = get(&items_uri(layer, &[("limit", "10000"), ("crs", crs)])).await;
    assert_eq!(r.status, StatusCode::OK, "{layer} in {crs}: {}", r.body);
    assert_eq!(
        r.header("content-crs"),
        Some(format!("<{crs}>").as_str()),
        "{layer}: Content-Crs"
    );
    let doc = r.json();
    assert_eq!(
        doc["numberReturned"], doc["numberMatched"],
        "{layer}: one page"
    );
    doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| (id_text(&f["id"]), f["geometry"].clone()))
        .collect()
}

fn ids(doc: &Json) -> BTreeSet<String> {
    feature_ids(doc).into_iter().collect()
}

#[tokio::test]
async fn collections_list_every_served_crs_and_conformance_declares_part_2() {
    let mut expected: BTreeSet<String> = [CRS84.to_string(), epsg(4326), epsg(6668), epsg(3857)]
        .into_iter()
        .collect();
    expected.extend((6669..=6687).map(epsg));
    for layer in LAYERS {
        let doc = get(&format!("/collections/{layer}")).await.json();
        let listed: BTreeSet<String> = doc["crs"]
            .as_array()
            .expect("crs list")
            .iter()
            .map(|c| c.as_str().expect("uri").to_string())
            .collect();
        assert_eq!(listed, expected, "{layer}: crs list");
        assert_eq!(doc["storageCrs"], CRS84, "{layer}: storageCrs");
    }
    let conf = get("/conformance").await.json();
    assert!(
        conf["conformsTo"]
            .as_array()
            .expect("conformsTo")
            .iter()
            .any(|c| c == "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"),
        "{conf}"
    );
}

/// In each of the 19 zones the served (northing, easting) equal GSI's formula applied to the
/// CRS84 answer: X (north) first, as Japanese surveys and EPSG write these CRSs.
#[tokio::test]
async fn every_plane_zone_matches_the_gsi_formula_northing_first() {
    for layer in LAYERS {
        let base = features(layer, CRS84).await;
        assert!(!base.is_empty(), "{layer}: no features");
        for (i, origin) in ORIGINS.iter().enumerate() {
            let code = 6669 + i as u32;
            let zone = features(layer, &epsg(code)).await;
            assert_eq!(
                zone.keys().collect::<Vec<_>>(),
                base.keys().collect::<Vec<_>>(),
                "{layer} EPSG:{code}: the same features"
            );
            for (id, g) in &base {
                let (lonlat, plane) = (coords(g), coords(&zone[id]));
                assert_eq!(lonlat.len(), plane.len(), "{layer} {id}: vertex count");
                for (ll, xy) in lonlat.iter().zip(&plane) {
                    let (x, y) = gsi_forward(ll[1], ll[0], *origin);
                    assert!(
                        (xy[0] - x).abs() < TOLERANCE_M && (xy[1] - y).abs() < TOLERANCE_M,
                        "{layer} {id} EPSG:{code}: served {xy:?}, GSI formula gives [{x:.3}, {y:.3}] for {ll:?}"
                    );
                }
            }
        }
    }
    // One feature by id, in zone IX.
    let base = features("shelters", CRS84).await;
    let (id, g) = base.iter().next().expect("a shelter");
    let r = get(&format!(
        "/collections/shelters/items/{id}?crs={}",
        epsg(6677)
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header("content-crs").map(str::to_string),
        Some(format!("<{}>", epsg(6677)))
    );
    let ll = coords(g);
    let xy = coords(&r.json()["geometry"]);
    let (x, y) = gsi_forward(ll[0][1], ll[0][0], ORIGINS[8]);
    assert!((xy[0][0] - x).abs() < TOLERANCE_M && (xy[0][1] - y).abs() < TOLERANCE_M);
}

#[tokio::test]
async fn geographic_crss_are_latitude_first_and_web_mercator_follows_its_definition() {
    const R: f64 = 6_378_137.0;
    for layer in LAYERS {
        let base = features(layer, CRS84).await;
        for code in [4326, 6668] {
            let swapped = features(layer, &epsg(code)).await;
            for (id, g) in &base {
                let (a, b) = (coords(g), coords(&swapped[id]));
                let lat_first: Vec<[f64; 2]> = a.iter().map(|c| [c[1], c[0]]).collect();
                assert_eq!(b, lat_first, "{layer} {id} EPSG:{code}: latitude first");
            }
        }
        let merc = features(layer, &epsg(3857)).await;
        for (id, g) in &base {
            let (a, b) = (coords(g), coords(&merc[id]));
            for (ll, xy) in a.iter().zip(&b) {
                let x = R * ll[0].to_radians();
                let y = R
                    * (std::f64::consts::FRAC_PI_4 + ll[1].to_radians() / 2.0)
                        .tan()
                        .ln();
                // Web Mercator stretches by 1/cos(lat) ≈ 1.24 here.
                assert!(
                    (xy[0] - x).abs() < 0.02 && (xy[1] - y).abs() < 0.02,
                    "{layer} {id} EPSG:3857: served {xy:?}, definition gives [{x:.3}, {y:.3}]"
                );
            }
        }
    }
    // A latitude-first box selects what the same box in CRS84 selects.
    for layer in LAYERS {
        let crs84 = get(&items_uri(
            layer,
            &[("bbox", "139.08,35.99,139.12,36.03"), ("limit", "10000")],
        ))
        .await
        .json();
        let lat_first = get(&items_uri(
            layer,
            &[
                ("bbox", "35.99,139.08,36.03,139.12"),
                ("bbox-crs", &epsg(4326)),
                ("limit", "10000"),
            ],
        ))
        .await
        .json();
        assert!(
            !ids(&crs84).is_empty(),
            "{layer}: the box must hold features"
        );
        assert_eq!(ids(&crs84), ids(&lat_first), "{layer}: bbox-crs=4326");
    }
}

/// A rectangle in plane coordinates (x north, y east).
#[derive(Clone, Copy, Debug)]
struct PlaneBox {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl PlaneBox {
    fn grow(self, d: f64) -> PlaneBox {
        PlaneBox {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }
}

fn plane_hits(g: &Geometry, bx: &PlaneBox) -> bool {
    box_meets(g, &[bx.x0, bx.y0, bx.x1, bx.y1])
}

/// Boxes given in EPSG:6677 (northing first) select, in both the CRS84 and the EPSG:6677
/// answer, what a brute force in metres selects, give or take 5 cm at the edges (the server
/// follows the box edges in degrees, densified); and they contain the CRS84 answer for the
/// box they were drawn around.
#[tokio::test]
async fn zone_ix_boxes_round_trip_to_the_crs84_answer() {
    let zone9 = ORIGINS[8];
    let mut total = 0;
    for layer in LAYERS {
        let base = features(layer, CRS84).await;
        let projected: BTreeMap<&String, Geometry> = base
            .iter()
            .map(|(id, g)| {
                let plane = geometry(g).map(|c| {
                    let (x, y) = gsi_forward(c[1], c[0], zone9);
                    [x, y]
                });
                (id, plane)
            })
            .collect();
        for (lon0, lat0, lon1, lat1) in [
            (139.05, 35.99, 139.09, 36.02),
            (139.09, 36.00, 139.13, 36.04),
            (139.10, 36.02, 139.16, 36.05),
            (139.03, 35.98, 139.17, 36.06),
        ] {
            // The plane box around the CRS84 box: the envelope of its densified outline.
            let mut bx = PlaneBox {
                x0: f64::MAX,
                y0: f64::MAX,
                x1: f64::MIN,
                y1: f64::MIN,
            };
            for k in 0..=100 {
                let t = k as f64 / 100.0;
                for (lat, lon) in [
                    (lat0, lon0 + (lon1 - lon0) * t),
                    (lat1, lon0 + (lon1 - lon0) * t),
                    (lat0 + (lat1 - lat0) * t, lon0),
                    (lat0 + (lat1 - lat0) * t, lon1),
                ] {
                    let (x, y) = gsi_forward(lat, lon, zone9);
                    bx = PlaneBox {
                        x0: bx.x0.min(x),
                        y0: bx.y0.min(y),
                        x1: bx.x1.max(x),
                        y1: bx.y1.max(y),
                    };
                }
            }
            let bbox = format!("{:.3},{:.3},{:.3},{:.3}", bx.x0, bx.y0, bx.x1, bx.y1);
            let crs84 = get(&items_uri(
                layer,
                &[
                    ("bbox", &format!("{lon0},{lat0},{lon1},{lat1}")),
                    ("limit", "10000"),
                ],
            ))
            .await
            .json();
            let mut answers = Vec::new();
            for out in [CRS84.to_string(), epsg(6677)] {
                let r = get(&items_uri(
                    layer,
                    &[
                        ("bbox", &bbox),
                        ("bbox-crs", &epsg(6677)),
                        ("crs", &out),
                        ("limit", "10000"),
                    ],
                ))
                .await;
                assert_eq!(r.status, StatusCode::OK, "{layer} {bbox}: {}", r.body);
                answers.push(ids(&r.json()));
            }
            assert_eq!(
                answers[0], answers[1],
                "{layer} {bbox}: output CRS changes the selection"
            );
            let got = &answers[0];
            assert!(
                ids(&crs84).is_subset(got),
                "{layer}: the 6677 box {bbox} around the CRS84 box misses {:?}",
                ids(&crs84).difference(got).collect::<Vec<_>>()
            );
            let surely: BTreeSet<String> = projected
                .iter()
                .filter(|(_, p)| plane_hits(p, &bx.grow(-0.05)))
                .map(|(id, _)| (*id).clone())
                .collect();
            let maybe: BTreeSet<String> = projected
                .iter()
                .filter(|(_, p)| plane_hits(p, &bx.grow(0.05)))
                .map(|(id, _)| (*id).clone())
                .collect();
            assert!(
                surely.is_subset(got),
                "{layer} {bbox}: missing {:?}",
                surely.difference(got).collect::<Vec<_>>()
            );
            assert!(
                got.is_subset(&maybe),
                "{layer} {bbox}: outside the box {:?}",
                got.difference(&maybe).collect::<Vec<_>>()
            );
            total += got.len();
        }
    }
    assert!(total > 0, "the boxes must select features");
}

/// A spatial filter literal in EPSG:6677 (`filter-crs`, northing first) selects what the same
/// box as `bbox-crs` selects, and the CRS84 filter selects what the CRS84 bbox selects.
#[tokio::test]
async fn filter_crs_reads_literals_in_the_requested_crs() {
    for layer in LAYERS {
        for (plane, lonlat) in [
            ("-3000,-70000,3000,-64000", "139.06,36.0,139.1,36.03"),
            ("-5000,-70000,4000,-60000", "139.03,35.98,139.17,36.06"),
        ] {
            let by_bbox = get(&items_uri(
                layer,
                &[
                    ("bbox", plane),
                    ("bbox-crs", &epsg(6677)),
                    ("limit", "10000"),
                ],
            ))
            .await
            .json();
            let n: Vec<&str> = plane.split(',').collect();
            let by_filter = get(&items_uri(
                layer,
                &[
                    (
                        "filter",
                        &format!(
                            "S_INTERSECTS(geometry, POLYGON(({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b})))",
                            a = n[0],
                            b = n[1],
                            c = n[2],
                            d = n[3]
                        ),
                    ),
                    ("filter-crs", &epsg(6677)),
                    ("limit", "10000"),
                ],
            ))
            .await;
            assert_eq!(by_filter.status, StatusCode::OK, "{}", by_filter.body);
            assert!(!ids(&by_bbox).is_empty(), "{layer} {plane}: no features");
            assert_eq!(ids(&by_bbox), ids(&by_filter.json()), "{layer} {plane}");
            let crs84_bbox = get(&items_uri(layer, &[("bbox", lonlat), ("limit", "10000")]))
                .await
                .json();
            let crs84_filter = get(&items_uri(
                layer,
                &[
                    ("filter", &format!("S_INTERSECTS(geometry, BBOX({lonlat}))")),
                    ("limit", "10000"),
                ],
            ))
            .await
            .json();
            assert_eq!(ids(&crs84_bbox), ids(&crs84_filter), "{layer} {lonlat}");
        }
    }
}

#[tokio::test]
async fn bad_crs_parameters_say_what_is_wrong() {
    for (uri, param) in [
        (items_uri("shelters", &[("crs", "EPSG:2451")]), "crs"),
        (items_uri("shelters", &[("crs", "EPSG:6688")]), "crs"),
        (
            items_uri(
                "shelters",
                &[("bbox", "0,0,1,1"), ("bbox-crs", "EPSG:9999")],
            ),
            "bbox-crs",
        ),
        (
            items_uri(
                "shelters",
                &[
                    ("bbox", "2000,-50000,1000,-40000"),
                    ("bbox-crs", &epsg(6677)),
                ],
            ),
            "bbox",
        ),
        (
            format!("/collections/shelters/items/1?crs={}", epsg(2443)),
            "crs",
        ),
    ] {
        let r = get(&uri).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "GET {uri}: {}", r.body);
        let doc = r.json();
        let text = doc["description"].as_str().expect("description");
        assert!(
            text.starts_with(&format!("{param}: ")),
            "GET {uri}: the message must name {param}: {text}"
        );
    }
}
