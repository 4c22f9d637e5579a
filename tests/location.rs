//! Nearest features, the location report and search, against the sample town.
//!
//! - The location report is checked at hand-picked places of the town. Every expected value
//!   was read off the source files with GDAL (`ogr2ogr -t_srs OGC:CRS84`) and a separate
//!   script (ray-casting point-in-polygon, Vincenty distances, sampling of road centrelines
//!   refined to under a millimetre), and is written out here by name.
//! - Nearest is compared, for many random places, numbers and distances, with a brute force
//!   written in this file: Vincenty's inverse formula for distances, ray casting for "inside",
//!   and dense sampling of every line and ring edge with refinement. It shares no code with
//!   the server's method (Karney's geodesic, closest point in a local plane, R-tree bound).
//! - Search is compared with a scan over every feature that folds text with its own rules
//!   (NFKC from the same Unicode crate, but its own kana and space handling).
//!
//! The server is driven in-process with `tower::ServiceExt::oneshot`.

use std::sync::OnceLock;

use axum::http::{Method, StatusCode};
use machimap::config::CatalogConfig;
use machimap::policy::Audience;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use unicode_normalization::UnicodeNormalization;

mod common;
use common::brute::{Brute, vincenty};
use common::geojson::{Geometry, geometry, id_text};
use common::town::Town;
use common::{Response, uri};

const STAFF: &str = "suidou1";
const PASSWORD: &str = "long enough password";

/// How far (metres) the server's distances may be from the brute force's: the server rounds
/// to 1 cm (±0.5 cm), its input here comes through `/items` at 7 decimals (±0.8 cm), and
/// Vincenty and Karney agree to well under a millimetre at these distances; the brute force's
/// sampling is refined to under a millimetre. 5 cm leaves room and still catches a wrong
/// segment, a wrong vertex or a planar shortcut (which err by metres).
const TOL: f64 = 0.05;

struct Fixture {
    town: Town,
    config: CatalogConfig,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let town = Town::builder()
            .user_with(STAFF, "水道課", &["staff", "water"], PASSWORD, true)
            .build();
        Fixture {
            config: town.config(),
            town,
        }
    })
}

async fn send(uri: &str, token: Option<&str>) -> Response {
    fixture()
        .town
        .send(Method::GET, uri, token, &[], vec![])
        .await
}

/// Anonymous GET.
async fn get(uri: &str) -> Response {
    send(uri, None).await
}

/// GET as the water department's staff member.
async fn get_staff(uri: &str) -> Response {
    send(uri, Some(fixture().town.token(STAFF))).await
}

fn ok_json(r: &Response, what: &str) -> Json {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    r.json()
}

// ---------------------------------------------------------------------------------------------
// Location report
// ---------------------------------------------------------------------------------------------

/// What one section should list at a place: (id, field values in the section's order,
/// distance in metres for nearest sections).
type Expect = Vec<(&'static str, Vec<Json>, Option<f64>)>;

/// A place and what the report must say there, section by section.
struct Place {
    what: &'static str,
    lon: &'static str,
    lat: &'static str,
    zoning: Expect,
    flood: Expect,
    landslide: Expect,
    road: Expect,
    shelters: Expect,
}

fn j<T: Into<Json>>(v: T) -> Json {
    v.into()
}

/// Places of the sample town, with what GDAL and the reference script found there.
fn places() -> Vec<Place> {
    vec![
        Place {
            what: "the town centre by the station: commercial, flood rank 2, a narrow road",
            lon: "139.1",
            lat: "36.02",
            zoning: vec![("25", vec![j("商業地域"), j(80), j(400)], None)],
            flood: vec![(
                "15",
                vec![j(2), j("0.5m以上3.0m未満"), j("荒川水系緑川")],
                None,
            )],
            landslide: vec![],
            road: vec![("3-046", vec![j("本町13号線"), j(4.4)], Some(1.41))],
            shelters: vec![
                (
                    "0010",
                    vec![
                        j("みどり野町民会館"),
                        j("埼玉県秩父郡みどり野町本町6丁目17番18号"),
                    ],
                    Some(446.73),
                ),
                (
                    "0025",
                    vec![
                        j("みどり野町文化会館"),
                        j("埼玉県秩父郡みどり野町本町6丁目18番8号"),
                    ],
                    Some(593.73),
                ),
                (
                    "0001",
                    vec![
                        j("みどり野町立第一小学校"),
                        j("埼玉県秩父郡みどり野町緑が丘3丁目8番7号"),
                    ],
                    Some(731.06),
                ),
            ],
        },
        Place {
            what: "a debris-flow special zone inside its warning zone, industrial, no road near",
            lon: "139.132907",
            lat: "36.01807",
            zoning: vec![("31", vec![j("工業専用地域"), j(60), j(200)], None)],
            flood: vec![],
            landslide: vec![
                ("DS009", vec![j("土砂災害警戒区域"), j("土石流")], None),
                (
                    "DS009-T",
                    vec![j("土砂災害特別警戒区域"), j("土石流")],
                    None,
                ),
            ],
            // 南岸線 is the nearest road, 169.50 m away: no road fronts this place.
            road: vec![],
            shelters: vec![
                (
                    "0015",
                    vec![j("日向公民館"), j("埼玉県秩父郡みどり野町大字日向2030番地")],
                    Some(656.20),
                ),
                (
                    "0021",
                    vec![
                        j("みどり野町運動公園"),
                        j("埼玉県秩父郡みどり野町大字東原1307番"),
                    ],
                    Some(1622.15),
                ),
                (
                    "0023",
                    vec![
                        j("下町コミュニティセンター"),
                        j("埼玉県秩父郡みどり野町下町5丁目22番8号"),
                    ],
                    Some(1633.07),
                ),
            ],
        },
        Place {
            what: "a landslide warning zone in the industrial district",
            lon: "139.11228",
            lat: "36.015523",
            zoning: vec![("29", vec![j("工業地域"), j(60), j(200)], None)],
            flood: vec![],
            landslide: vec![("JS002", vec![j("土砂災害警戒区域"), j("地すべり")], None)],
            road: vec![],
            shelters: vec![
                (
                    "0018",
                    vec![j("緑川河川公園"), j("埼玉県秩父郡みどり野町下町5丁目11番")],
                    Some(735.49),
                ),
                (
                    "0025",
                    vec![
                        j("みどり野町文化会館"),
                        j("埼玉県秩父郡みどり野町本町6丁目18番8号"),
                    ],
                    Some(1176.60),
                ),
                (
                    "0005",
                    vec![
                        j("みどり野町立南小学校"),
                        j("埼玉県秩父郡みどり野町南町1丁目4番8号"),
                    ],
                    Some(1325.70),
                ),
            ],
        },
        Place {
            what: "a lot on 駅前線 in a category-1 low-rise residential district",
            lon: "139.1014901",
            lat: "36.029809",
            zoning: vec![("1", vec![j("第一種低層住居専用地域"), j(50), j(80)], None)],
            flood: vec![],
            landslide: vec![],
            road: vec![("1-003", vec![j("駅前線"), j(14.1)], Some(0.19))],
            shelters: vec![
                (
                    "0019",
                    vec![j("緑が丘公園"), j("埼玉県秩父郡みどり野町緑が丘6丁目16番")],
                    Some(393.00),
                ),
                (
                    "0006",
                    vec![
                        j("みどり野町立みどり野中学校"),
                        j("埼玉県秩父郡みどり野町緑が丘1丁目5番15号"),
                    ],
                    Some(530.01),
                ),
                (
                    "0010",
                    vec![
                        j("みどり野町民会館"),
                        j("埼玉県秩父郡みどり野町本町6丁目17番18号"),
                    ],
                    Some(653.40),
                ),
            ],
        },
        Place {
            what: "a residential lot between two roads 4.39 m and 5.27 m away, flood rank 1",
            lon: "139.081843",
            lat: "36.0163794",
            zoning: vec![("11", vec![j("第一種住居地域"), j(60), j(200)], None)],
            flood: vec![("4", vec![j(1), j("0.5m未満"), j("荒川水系緑川")], None)],
            landslide: vec![],
            road: vec![("1-001", vec![j("中央通り線"), j(12.1)], Some(4.39))],
            shelters: vec![
                (
                    "0007",
                    vec![
                        j("みどり野町立緑川中学校"),
                        j("埼玉県秩父郡みどり野町緑が丘1丁目6番2号"),
                    ],
                    Some(688.27),
                ),
                (
                    "0022",
                    vec![
                        j("みどり野町保健センター"),
                        j("埼玉県秩父郡みどり野町上町5丁目9番4号"),
                    ],
                    Some(737.22),
                ),
                (
                    "0011",
                    vec![j("中央公民館"), j("埼玉県秩父郡みどり野町上町6丁目10番9号")],
                    Some(1144.98),
                ),
            ],
        },
    ]
}

/// The sections a resident sees, in catalog order, with their headings and rules.
const PUBLIC_SECTIONS: [(&str, &str, &str, &str); 5] = [
    ("zoning", "用途地域", "Zoning districts", "contains"),
    (
        "flood-zones",
        "洪水浸水想定区域",
        "Flood inundation zones",
        "contains",
    ),
    (
        "landslide-zones",
        "土砂災害警戒区域",
        "Sediment disaster warning zones",
        "contains",
    ),
    ("roads", "前面道路", "Fronting road", "nearest"),
    (
        "shelters",
        "最寄りの指定緊急避難場所",
        "Nearest evacuation sites",
        "nearest",
    ),
];

fn check_section(place: &Place, section: &Json, expect: &Expect, names: &[&str]) {
    let id = section["collection"].as_str().expect("collection");
    let results = section["results"].as_array().expect("results");
    let got: Vec<String> = results.iter().map(|r| id_text(&r["id"])).collect();
    let want: Vec<&str> = expect.iter().map(|e| e.0).collect();
    assert_eq!(got, want, "{}: section {id}", place.what);
    for (r, (_, values, distance)) in results.iter().zip(expect) {
        let fields = r["fields"].as_array().expect("fields");
        let field_names: Vec<&str> = fields
            .iter()
            .map(|f| f["name"].as_str().expect("name"))
            .collect();
        assert_eq!(field_names, names, "{}: section {id}", place.what);
        let field_values: Vec<&Json> = fields.iter().map(|f| &f["value"]).collect();
        assert_eq!(
            field_values,
            values.iter().collect::<Vec<_>>(),
            "{}: section {id}",
            place.what
        );
        match distance {
            Some(d) => {
                let got = r["distance_m"].as_f64().expect("distance_m");
                assert!(
                    (got - d).abs() <= 0.011,
                    "{}: {id} {}: {got} m, expected {d} m",
                    place.what,
                    id_text(&r["id"])
                );
            }
            None => assert!(r.get("distance_m").is_none(), "{r}"),
        }
    }
}

/// At each hand-checked place the report names the use district with its coverage and floor
/// area ratios, the flood depth rank, the landslide zones, the road the lot fronts with its
/// width, and the three nearest evacuation sites in order with their distances.
#[tokio::test]
async fn the_location_report_tells_what_is_at_each_place() {
    for place in places() {
        let u = uri("/location", &[("lon", place.lon), ("lat", place.lat)]);
        let r = get(&u).await;
        let doc = ok_json(&r, &u);
        assert_eq!(r.content_type(), "application/json");
        assert_eq!(doc["lon"].to_string(), place.lon);
        assert_eq!(doc["lat"].to_string(), place.lat);
        let sections = doc["sections"].as_array().expect("sections");
        let listed: Vec<(&str, &str, &str, &str)> = sections
            .iter()
            .map(|s| {
                (
                    s["collection"].as_str().expect("collection"),
                    s["title_ja"].as_str().expect("title_ja"),
                    s["title_en"].as_str().expect("title_en"),
                    s["match"].as_str().expect("match"),
                )
            })
            .collect();
        assert_eq!(listed, PUBLIC_SECTIONS, "{}", place.what);
        assert_eq!(sections[3]["within_m"], 10.0);
        check_section(
            &place,
            &sections[0],
            &place.zoning,
            &["用途地域", "建ぺい率", "容積率"],
        );
        check_section(
            &place,
            &sections[1],
            &place.flood,
            &["浸水深ﾗﾝｸ", "浸水深", "河川名"],
        );
        check_section(
            &place,
            &sections[2],
            &place.landslide,
            &["区域区分", "現象の種類"],
        );
        // 補修予定年度 is configured too, but is for staff only: residents never see it.
        check_section(&place, &sections[3], &place.road, &["路線名", "幅員"]);
        check_section(
            &place,
            &sections[4],
            &place.shelters,
            &["名称", "所在地_連結表記"],
        );
        let labels: Vec<(&str, &str)> = sections[0]["results"][0]["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|x| {
                        (
                            x["label_ja"].as_str().expect("label_ja"),
                            x["label_en"].as_str().expect("label_en"),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            labels,
            [
                ("用途地域", "Use district"),
                ("建ぺい率（%）", "Building coverage ratio (%)"),
                ("容積率（%）", "Floor area ratio (%)")
            ]
        );

        // The same report for people.
        let h = get(&uri(
            "/location",
            &[("lon", place.lon), ("lat", place.lat), ("f", "html")],
        ))
        .await;
        assert_eq!(h.status, StatusCode::OK);
        assert!(
            h.content_type().starts_with("text/html"),
            "{}",
            h.content_type()
        );
        for (_, title, _, _) in PUBLIC_SECTIONS {
            assert!(h.body.contains(title), "{}: HTML lacks {title}", place.what);
        }
        for (_, values, _) in place.zoning.iter().chain(&place.shelters) {
            let name = values[0].as_str().expect("name");
            assert!(h.body.contains(name), "{}: HTML lacks {name}", place.what);
        }
    }
}

/// Far outside the town nothing is there: every section, and no results, with 200.
#[tokio::test]
async fn a_place_outside_every_layer_gives_empty_sections() {
    // Tokyo station, 60 km east of the town.
    let u = uri("/location", &[("lon", "139.7671"), ("lat", "35.6812")]);
    let doc = ok_json(&get(&u).await, &u);
    let sections = doc["sections"].as_array().expect("sections");
    assert_eq!(sections.len(), PUBLIC_SECTIONS.len());
    for s in sections {
        assert_eq!(s["results"], Json::Array(vec![]), "{s}");
    }
    let h = get(&format!("{u}&f=html")).await;
    assert_eq!(h.status, StatusCode::OK);
    assert!(h.body.contains("該当なし"), "{}", h.body);
}

/// Staff see the sections and attributes configured for them as well: the water main in front
/// and the road's planned repair year, which a resident's report does not mention at all.
#[tokio::test]
async fn staff_reports_add_the_internal_section_and_attribute() {
    let u = uri("/location", &[("lon", "139.1"), ("lat", "36.02")]);
    let anon = get(&u).await;
    for hidden in ["water-mains", "補修予定年度", "配水管", "管路番号"] {
        assert!(!anon.body.contains(hidden), "a resident sees {hidden}");
    }
    let doc = ok_json(&get_staff(&u).await, &u);
    let sections = doc["sections"].as_array().expect("sections");
    let ids: Vec<&str> = sections
        .iter()
        .map(|s| s["collection"].as_str().expect("collection"))
        .collect();
    assert_eq!(
        ids,
        [
            "zoning",
            "flood-zones",
            "landslide-zones",
            "roads",
            "shelters",
            "water-mains"
        ]
    );
    let road_fields: Vec<&str> = sections[3]["results"][0]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(road_fields, ["路線名", "幅員", "補修予定年度"]);
    let main = &sections[5];
    assert_eq!(main["title_ja"], "前面の配水管");
    assert_eq!(main["within_m"], 30.0);
    let results = main["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{main}");
    assert!(results[0]["distance_m"].as_f64().expect("distance") <= 30.0);
    // The same main is the nearest one of the whole layer.
    let n = get_staff(&uri(
        "/collections/water-mains/nearest",
        &[("lon", "139.1"), ("lat", "36.02"), ("limit", "1")],
    ))
    .await;
    let n = ok_json(&n, "nearest main");
    assert_eq!(n["features"][0]["id"], results[0]["id"]);
    assert_eq!(n["features"][0]["distance_m"], results[0]["distance_m"]);
}

/// Bad requests name the parameter at fault.
#[tokio::test]
async fn location_parameters_are_checked() {
    for (params, param) in [
        (vec![("lat", "36.02")], "lon"),
        (vec![("lon", "139.1")], "lat"),
        (vec![("lon", "east"), ("lat", "36")], "lon"),
        (vec![("lon", "139.1"), ("lat", "95")], "lat"),
        (vec![("lon", "181"), ("lat", "36")], "lon"),
        (vec![("lon", "139.1"), ("lat", "NaN")], "lat"),
        (
            vec![("lon", "139.1"), ("lat", "36"), ("radius", "5")],
            "radius",
        ),
        (
            vec![("lon", "139.1"), ("lon", "139.2"), ("lat", "36")],
            "lon",
        ),
        (vec![("lon", "139.1"), ("lat", "36"), ("f", "xml")], "f"),
    ] {
        let u = uri("/location", &params);
        let r = get(&u).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{u}: {}", r.body);
        let d = r.json()["description"]
            .as_str()
            .expect("description")
            .to_string();
        assert!(d.starts_with(&format!("{param}: ")), "{u}: {d}");
    }
}

// ---------------------------------------------------------------------------------------------
// Nearest, against the brute force of common::brute
// ---------------------------------------------------------------------------------------------

/// Every feature of `layer` as the server serves it (coordinates, ids in layer order).
async fn layer_features(layer: &str) -> (Vec<String>, Vec<Geometry>) {
    let doc = ok_json(
        &get(&format!("/collections/{layer}/items?limit=10000")).await,
        layer,
    );
    let feats = doc["features"].as_array().expect("features");
    (
        feats.iter().map(|f| id_text(&f["id"])).collect(),
        feats.iter().map(|f| geometry(&f["geometry"])).collect(),
    )
}

/// For random places in and around the town, every public layer, several `limit`s and
/// `max-distance`s: the server returns the same features as the brute force, nearest first,
/// with the same distances (within `TOL`), and leaves out nothing nearer.
#[tokio::test]
async fn nearest_matches_a_brute_force() {
    let mut rng = StdRng::seed_from_u64(20_260_401);
    let layers = common::sample::PUBLIC_LAYERS;
    let mut checked = 0;
    for layer in layers {
        let (ids, shapes) = layer_features(layer).await;
        for round in 0..8 {
            // Mostly in the town, sometimes well outside it.
            let (lon, lat) = if round % 4 == 3 {
                (
                    rng.random_range(138.95..139.25),
                    rng.random_range(35.93..36.11),
                )
            } else {
                (
                    rng.random_range(139.03..139.17),
                    rng.random_range(35.98..36.06),
                )
            };
            let (lon, lat) = ((lon * 1e7_f64).round() / 1e7, (lat * 1e7_f64).round() / 1e7);
            let k = [1, 3, 5, 12][round % 4];
            let max: Option<f64> =
                [None, Some(50.0), Some(400.0), Some(2500.0)][rng.random_range(0..4)];
            let brute = Brute {
                shapes: &shapes,
                p: [lon, lat],
            };
            // The brute force: bounds for all, exact distances in bound order while they can
            // still matter.
            let mut bounds: Vec<(f64, usize)> = (0..shapes.len())
                .map(|i| (brute.lower_bound(i), i))
                .collect();
            bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut exact: Vec<Option<f64>> = vec![None; shapes.len()];
            let mut found: Vec<f64> = Vec::new();
            for &(lb, i) in &bounds {
                let kth = if found.len() >= k {
                    found[k - 1]
                } else {
                    f64::INFINITY
                };
                let limit = kth.min(max.unwrap_or(f64::INFINITY)) + 2.0 * TOL;
                if lb > limit {
                    break;
                }
                let d = brute.exact(i);
                exact[i] = Some(d);
                found.push(d);
                found.sort_by(f64::total_cmp);
            }

            let mut params = vec![
                ("lon".to_string(), lon.to_string()),
                ("lat".to_string(), lat.to_string()),
                ("limit".to_string(), k.to_string()),
            ];
            if let Some(m) = max {
                params.push(("max-distance".to_string(), m.to_string()));
            }
            let mut s = form_urlencoded::Serializer::new(String::new());
            s.extend_pairs(&params);
            let u = format!("/collections/{layer}/nearest?{}", s.finish());
            let r = get(&u).await;
            assert_eq!(r.content_type(), "application/geo+json", "{u}");
            let doc = ok_json(&r, &u);
            let feats = doc["features"].as_array().expect("features");
            assert_eq!(doc["numberReturned"], feats.len(), "{u}");
            let got: Vec<(usize, f64)> = feats
                .iter()
                .map(|f| {
                    let id = id_text(&f["id"]);
                    let i = ids
                        .iter()
                        .position(|x| *x == id)
                        .unwrap_or_else(|| panic!("{u}: unknown id {id}"));
                    (i, f["distance_m"].as_f64().expect("distance_m"))
                })
                .collect();

            // Each distance is the brute force's, and ascending; zero-distance ties in layer
            // order.
            for (n, &(i, d)) in got.iter().enumerate() {
                let b = exact[i].unwrap_or_else(|| brute.exact(i));
                assert!(
                    (d - b).abs() <= TOL,
                    "{u}: {} at {d} m, brute force {b} m",
                    ids[i]
                );
                if let Some(m) = max {
                    assert!(d <= m + TOL, "{u}: {} at {d} m is beyond {m} m", ids[i]);
                }
                if n > 0 {
                    let (pi, pd) = got[n - 1];
                    assert!(pd <= d, "{u}: not nearest first: {pd} then {d}");
                    if pd == 0.0 && d == 0.0 {
                        assert!(pi < i, "{u}: ties at 0 m not in layer order");
                    }
                }
            }
            // Nothing left out that is nearer than the farthest returned (or, when fewer than
            // k came back, within max-distance).
            let cutoff = match (got.len() == k, max) {
                (true, _) => got.last().map_or(f64::INFINITY, |g| g.1),
                (false, Some(m)) => m,
                (false, None) => f64::INFINITY,
            };
            assert!(
                got.len() == k || max.is_some() || got.len() == shapes.len(),
                "{u}: only {} of {k} without a distance limit",
                got.len()
            );
            for &(lb, i) in &bounds {
                if got.iter().any(|g| g.0 == i) {
                    continue;
                }
                if lb > cutoff + TOL {
                    break;
                }
                let d = exact[i].unwrap_or_else(|| brute.exact(i));
                assert!(
                    d >= cutoff - TOL,
                    "{u}: {} at {d} m (brute force) is missing; cutoff {cutoff} m",
                    ids[i]
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 48);
}

/// A large `limit` returns every feature, sorted by distance: the whole layer, ordered.
#[tokio::test]
async fn nearest_with_a_large_limit_orders_the_whole_layer() {
    let (ids, shapes) = layer_features("shelters").await;
    let u = "/collections/shelters/nearest?lon=139.1&lat=36.02&limit=1000";
    let doc = ok_json(&get(u).await, u);
    let got: Vec<String> = doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| id_text(&f["id"]))
        .collect();
    let p = (139.1, 36.02);
    let mut want: Vec<(f64, &String)> = shapes
        .iter()
        .zip(&ids)
        .map(|(s, id)| (vincenty(p, s.points[0]), id))
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    let want: Vec<String> = want.into_iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(got, want);
    // Polygons around the place come first at 0 m, in layer order; properties are trimmed on
    // request.
    let u = "/collections/landslide-zones/nearest?lon=139.132907&lat=36.01807&limit=2&properties=区域区分";
    let doc = ok_json(&get(u).await, u);
    let f = doc["features"].as_array().expect("features");
    assert_eq!(id_text(&f[0]["id"]), "DS009");
    assert_eq!(id_text(&f[1]["id"]), "DS009-T");
    for x in f {
        assert_eq!(x["distance_m"], 0.0);
        assert_eq!(
            x["properties"]
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["区域区分".to_string()])
        );
    }
    let h = get(&format!("{u}&f=html")).await;
    assert_eq!(h.status, StatusCode::OK);
    assert!(
        h.body.contains("distance_m") && h.body.contains("DS009-T"),
        "{}",
        h.body
    );
}

/// Bad parameters name themselves; the default limit is 5; a hidden layer answers exactly
/// like one that does not exist, whatever the parameters.
#[tokio::test]
async fn nearest_parameters_and_hidden_layers() {
    let base = "/collections/shelters/nearest";
    let doc = ok_json(
        &get(&format!("{base}?lon=139.1&lat=36.02")).await,
        "default",
    );
    assert_eq!(doc["features"].as_array().map(Vec::len), Some(5));
    for (q, param) in [
        ("lat=36", "lon"),
        ("lon=139.1", "lat"),
        ("lon=139.1&lat=-91", "lat"),
        ("lon=1e3&lat=36", "lon"),
        ("lon=139.1&lat=36&limit=0", "limit"),
        ("lon=139.1&lat=36&limit=few", "limit"),
        ("lon=139.1&lat=36&max-distance=-1", "max-distance"),
        ("lon=139.1&lat=36&max-distance=far", "max-distance"),
        ("lon=139.1&lat=36&properties=名前", "properties"),
        ("lon=139.1&lat=36&properties=施設管理者電話", "properties"),
        ("lon=139.1&lat=36&bbox=1,2,3,4", "bbox"),
        ("lon=139.1&lat=36&limit=1&limit=2", "limit"),
    ] {
        let r = get(&format!("{base}?{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.body);
        let d = r.json()["description"]
            .as_str()
            .expect("description")
            .to_string();
        assert!(d.starts_with(&format!("{param}: ")), "{q}: {d}");
    }
    // A limit above the maximum is reduced, not refused.
    let r = get(&format!("{base}?lon=139.1&lat=36&limit=99999")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // max-distance 0: only what contains the place.
    let doc = ok_json(
        &get("/collections/zoning/nearest?lon=139.1&lat=36.02&max-distance=0").await,
        "zero",
    );
    let f = doc["features"].as_array().expect("features");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["properties"]["用途地域"], "商業地域");

    let missing = get("/collections/nosuchlayer/nearest?lon=139.1&lat=36.02").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for q in ["lon=139.1&lat=36.02", "lon=x", "", "f=xml"] {
        let hidden = get(&format!("/collections/water-mains/nearest?{q}")).await;
        let never = get(&format!("/collections/nosuchlayer/nearest?{q}")).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{q}");
        assert_eq!(
            hidden.body.replace("water-mains", "nosuchlayer"),
            never.body,
            "{q}"
        );
        let meta = get("/collections/water-mains").await;
        assert_eq!(hidden.body, meta.body);
    }
    // Staff of the water department do see the mains.
    let r = get_staff("/collections/water-mains/nearest?lon=139.1&lat=36.02&limit=2").await;
    let doc = ok_json(&r, "staff mains");
    assert_eq!(doc["features"].as_array().map(Vec::len), Some(2));
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// The test's own folding: NFKC, katakana to hiragana by code point, lowercase, no spaces.
fn fold(s: &str) -> String {
    s.nfkc()
        .map(|c| match c as u32 {
            0x30A1..=0x30F6 | 0x30FD | 0x30FE => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// One searchable feature for the brute force: collection, id, folded searched values.
struct Searchable {
    collection: String,
    id: String,
    values: Vec<String>,
}

/// Every feature of every layer with searchable attributes an anonymous caller may see, in
/// catalog order, with its folded values of those attributes.
async fn searchable() -> Vec<Searchable> {
    let mut out = Vec::new();
    for l in &fixture().config.layers {
        if l.audience != Audience::Public {
            continue;
        }
        let attrs: Vec<&String> = l
            .search
            .iter()
            .filter(|name| {
                l.attributes.iter().any(|a| {
                    &&a.name == name && a.audience.as_ref().is_none_or(|x| *x == Audience::Public)
                })
            })
            .collect();
        if attrs.is_empty() {
            continue;
        }
        let doc = ok_json(
            &get(&format!("/collections/{}/items?limit=10000", l.id)).await,
            &l.id,
        );
        for f in doc["features"].as_array().expect("features") {
            out.push(Searchable {
                collection: l.id.clone(),
                id: id_text(&f["id"]),
                values: attrs
                    .iter()
                    .filter_map(|a| f["properties"][a.as_str()].as_str().map(fold))
                    .collect(),
            });
        }
    }
    out
}

/// (collection, id, tier) of the brute-force answer to `q`, best first.
fn brute_search(all: &[Searchable], q: &str) -> Vec<(String, String, &'static str)> {
    let terms: Vec<String> = q
        .split(char::is_whitespace)
        .map(fold)
        .filter(|t| !t.is_empty())
        .collect();
    let tier = |v: &str, t: &str| -> Option<u8> {
        if v == t {
            Some(0)
        } else if v.starts_with(t) {
            Some(1)
        } else if v.contains(t) {
            Some(2)
        } else {
            None
        }
    };
    let mut hits: Vec<(u8, usize)> = Vec::new();
    'features: for (n, f) in all.iter().enumerate() {
        let mut worst = 0;
        for t in &terms {
            match f.values.iter().filter_map(|v| tier(v, t)).min() {
                Some(x) => worst = worst.max(x),
                None => continue 'features,
            }
        }
        hits.push((worst, n));
    }
    hits.sort();
    hits.into_iter()
        .map(|(t, n)| {
            (
                all[n].collection.clone(),
                all[n].id.clone(),
                ["exact", "prefix", "substring"][t as usize],
            )
        })
        .collect()
}

async fn search(params: &[(&str, &str)]) -> Json {
    let u = uri("/search", params);
    let r = get(&u).await;
    assert_eq!(r.content_type(), "application/geo+json", "{u}");
    ok_json(&r, &u)
}

fn hits(doc: &Json) -> Vec<(String, String, &'static str)> {
    doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let tier = match f["match"].as_str().expect("match") {
                "exact" => "exact",
                "prefix" => "prefix",
                "substring" => "substring",
                other => panic!("match {other}"),
            };
            (
                f["collection"].as_str().expect("collection").to_string(),
                id_text(&f["id"]),
                tier,
            )
        })
        .collect()
}

/// Every query answers exactly like the brute force: same features, same order, same tier.
#[tokio::test]
async fn search_matches_a_brute_force() {
    let all = searchable().await;
    let collections: std::collections::BTreeSet<&str> =
        all.iter().map(|s| s.collection.as_str()).collect();
    assert_eq!(
        collections.into_iter().collect::<Vec<_>>(),
        [
            "flood-zones",
            "hiking-courses",
            "roads",
            "shelters",
            "zoning"
        ]
    );
    for q in [
        "みどり",
        "ミドリノ",
        "公民館",
        "城山",
        "しろやま",
        "中央",
        "中央公民館",
        "緑が丘 公園",
        "緑が丘　3丁目",
        "１丁目",
        "コース",
        "住居地域",
        "緑川",
        "ﾁｭｳｵｳ",
        "大字 上郷",
        "線",
        "存在しない名前",
    ] {
        let doc = search(&[("q", q), ("limit", "10000")]).await;
        let want = brute_search(&all, q);
        assert_eq!(doc["numberMatched"], want.len(), "q={q}");
        assert_eq!(doc["numberReturned"], want.len(), "q={q}");
        assert_eq!(hits(&doc), want, "q={q}");
        // limit cuts the same list; collections keeps only the named ones, in order.
        let doc = search(&[("q", q), ("limit", "3")]).await;
        assert_eq!(
            hits(&doc),
            want.iter().take(3).cloned().collect::<Vec<_>>(),
            "q={q}"
        );
        assert_eq!(doc["numberMatched"], want.len(), "q={q}");
        let doc = search(&[
            ("q", q),
            ("collections", "shelters,roads"),
            ("limit", "10000"),
        ])
        .await;
        let only: Vec<_> = want
            .iter()
            .filter(|h| h.0 == "shelters" || h.0 == "roads")
            .cloned()
            .collect();
        assert_eq!(hits(&doc), only, "q={q} in shelters,roads");
    }
}

/// Full-width, half-width, katakana, hiragana and spacing variants of one name find the same
/// features; ranking puts exact names before prefixes before substrings.
#[tokio::test]
async fn search_folds_japanese_variants_and_ranks_matches() {
    let variants = [
        "ダイイチ",
        "だいいち",
        "ﾀﾞｲｲﾁ",
        "ダイ イチ",
        "ﾀﾞｲ　ｲﾁ",
        "ＤＡＩＩＣＨＩ",
    ];
    let first = hits(&search(&[("q", variants[0])]).await);
    assert_eq!(
        first,
        [("shelters".to_string(), "0001".to_string(), "substring")],
        "ダイイチ is in the kana name of 第一小学校"
    );
    for v in &variants[1..5] {
        assert_eq!(hits(&search(&[("q", v)]).await), first, "q={v}");
    }
    // Latin letters are not kana: nothing.
    assert_eq!(search(&[("q", variants[5])]).await["numberMatched"], 0);
    // Digits: full-width and half-width alike.
    let a = hits(&search(&[("q", "緑が丘３丁目"), ("limit", "100")]).await);
    let b = hits(&search(&[("q", "緑が丘3丁目"), ("limit", "100")]).await);
    assert_eq!(a, b);
    let ids: Vec<&str> = a.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(ids, ["0001", "0009"]);

    // Ranking: the exact name first, then names starting with it, then the rest.
    let doc = search(&[("q", "中央公民館")]).await;
    assert_eq!(hits(&doc)[0], ("shelters".into(), "0011".into(), "exact"));
    let h = hits(&search(&[("q", "城山"), ("limit", "100")]).await);
    let tiers: Vec<&str> = h.iter().map(|x| x.2).collect();
    let mut sorted = tiers.clone();
    sorted.sort_by_key(|t| ["exact", "prefix", "substring"].iter().position(|x| x == t));
    assert_eq!(tiers, sorted, "{h:?}");
    assert!(
        h.contains(&("shelters".into(), "0020".into(), "prefix")),
        "{h:?}"
    );
    assert!(
        h.contains(&("hiking-courses".into(), "1".into(), "prefix")),
        "城山ハイキングコース: {h:?}"
    );
    // Every visible property, and the collection, come with each hit.
    let doc = search(&[("q", "緑が丘公園")]).await;
    let f = &doc["features"][0];
    assert_eq!(f["collection"], "shelters");
    assert_eq!(f["properties"]["名称"], "緑が丘公園");
    assert!(f["properties"]["想定収容人数"].is_number());
    assert!(f["properties"].get("施設管理者電話").is_none());
    assert_eq!(f["geometry"]["type"], "Point");
    let html = get(&uri("/search", &[("q", "緑が丘公園"), ("f", "html")])).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains("緑が丘公園") && html.body.contains("shelters"));
}

/// A hidden attribute is not searched for a caller who may not see it: a manager's phone
/// number finds nothing for a resident and the shelter for staff. Bad requests name the
/// parameter.
#[tokio::test]
async fn search_ignores_hidden_attributes_and_checks_parameters() {
    // 第一小学校's manager phone, an internal attribute.
    let u = uri("/search", &[("q", "080-0000-7713")]);
    let anon = ok_json(&get(&u).await, &u);
    assert_eq!(anon["numberMatched"], 0, "{anon}");
    let staff = ok_json(&get_staff(&u).await, &u);
    assert_eq!(hits(&staff), [("shelters".into(), "0001".into(), "exact")]);
    assert_eq!(
        staff["features"][0]["properties"]["施設管理者電話"],
        "080-0000-7713"
    );
    // Internal layers are searched for staff only: a main number.
    let mains = get_staff("/collections/water-mains/items?limit=1").await;
    let main_id = id_text(&ok_json(&mains, "mains")["features"][0]["id"]);
    let u = uri("/search", &[("q", &main_id)]);
    assert_eq!(ok_json(&get(&u).await, &u)["numberMatched"], 0);
    let staff = ok_json(&get_staff(&u).await, &u);
    assert_eq!(staff["features"][0]["collection"], "water-mains");
    assert_eq!(id_text(&staff["features"][0]["id"]), main_id);

    for (params, param) in [
        (vec![], "q"),
        (vec![("q", "")], "q"),
        (vec![("q", " 　")], "q"),
        (vec![("q", "公園"), ("limit", "0")], "limit"),
        (
            vec![("q", "公園"), ("collections", "nosuchlayer")],
            "collections",
        ),
        (
            vec![("q", "公園"), ("collections", "water-mains")],
            "collections",
        ),
        (
            vec![("q", "公園"), ("collections", "landslide-zones")],
            "collections",
        ),
        (vec![("q", "公園"), ("sort", "name")], "sort"),
        (vec![("q", "公園"), ("q", "駅")], "q"),
    ] {
        let u = uri("/search", &params);
        let r = get(&u).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{u}: {}", r.body);
        let d = r.json()["description"]
            .as_str()
            .expect("description")
            .to_string();
        assert!(d.starts_with(&format!("{param}: ")), "{u}: {d}");
    }
    // The hidden layer is refused in the same words as one that never existed.
    let hidden = get(&uri(
        "/search",
        &[("q", "公園"), ("collections", "water-mains")],
    ))
    .await;
    let never = get(&uri(
        "/search",
        &[("q", "公園"), ("collections", "nosuchlayer")],
    ))
    .await;
    assert_eq!(
        hidden.body.replace("water-mains", "nosuchlayer"),
        never.body
    );
}

/// The three endpoints are in the OpenAPI document, which stays valid.
#[tokio::test]
async fn openapi_documents_the_three_endpoints() {
    let r = get("/api").await;
    let doc = ok_json(&r, "/api");
    for path in ["/location", "/search", "/collections/shelters/nearest"] {
        assert!(doc["paths"].get(path).is_some(), "/api lacks {path}");
    }
    assert!(
        doc["paths"]
            .get("/collections/water-mains/nearest")
            .is_none()
    );
    let staff = ok_json(&get_staff("/api").await, "/api staff");
    assert!(
        staff["paths"]
            .get("/collections/water-mains/nearest")
            .is_some()
    );
    let params: Vec<&str> = doc["paths"]["/collections/shelters/nearest"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| p["$ref"].as_str().unwrap_or(""))
        .collect();
    for p in ["lon", "lat", "maxDistance"] {
        assert!(params.iter().any(|x| x.ends_with(p)), "{params:?}");
    }
    common::assert_valid_openapi(&r.body);
}
