//! The disaster office's summary and export over damage reports written through the API,
//! checked against references worked out here: which flood zone holds each report by ray
//! casting, which road is nearest and how far by Vincenty distances (common::brute, no code
//! shared with the server), and which reports a filter or box selects from what was posted.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{Method, StatusCode, header};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value as Json, json};

use common::brute::{Brute, inside};
use common::geojson::{Geometry, geometry};
use common::response::header_text;
use common::town::{Town, description, doc, town};
use common::uri as query;

const CATEGORIES: [&str; 6] = [
    "道路損傷",
    "河川",
    "公園",
    "不法投棄",
    "カーブミラー・標識",
    "その他",
];
/// The town's extent in data/catalog.toml.
const EXTENT: [f64; 4] = [139.03, 35.98, 139.17, 36.06];
/// Reach of the road summary, metres.
const WITHIN_M: f64 = 40.0;

/// A report as it was posted.
#[derive(Debug, Clone)]
struct Posted {
    fid: i64,
    category: &'static str,
    text: String,
    p: (f64, f64),
    /// Moved to 対応中, so the public view shows it.
    public: bool,
}

/// A layer as the brute force sees it: features' ids, shapes and properties.
struct Layer {
    ids: Vec<Json>,
    shapes: Vec<Geometry>,
    properties: Vec<Json>,
}

async fn layer(t: &Town, id: &str) -> Layer {
    let (status, _, body) = t
        .get_as(&format!("/collections/{id}/items?limit=10000"), None)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{id}: {body}");
    let d = doc(&body);
    let feats = d["features"].as_array().expect("features");
    assert!(!feats.is_empty(), "{id} is empty");
    Layer {
        ids: feats.iter().map(|f| f["id"].clone()).collect(),
        shapes: feats.iter().map(|f| geometry(&f["geometry"])).collect(),
        properties: feats.iter().map(|f| f["properties"].clone()).collect(),
    }
}

/// Lon/lat box of a shape.
fn bounds(s: &Geometry) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for &[x, y] in s.coords() {
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    b
}

/// Distances in metres from `p` to each road within `reach` (a cheap box test first), nearest
/// first.
fn road_distances(
    roads: &Layer,
    boxes: &[[f64; 4]],
    p: (f64, f64),
    reach: f64,
) -> Vec<(f64, usize)> {
    let brute = Brute {
        shapes: &roads.shapes,
        p: p.into(),
    };
    let (mx, my) = (111_320.0 * p.1.to_radians().cos(), 110_574.0);
    let mut out: Vec<(f64, usize)> = boxes
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            let dx = (b[0] - p.0).max(p.0 - b[2]).max(0.0) * mx;
            let dy = (b[1] - p.1).max(p.1 - b[3]).max(0.0) * my;
            // Generous: the box test is a plane approximation.
            (dx * dx + dy * dy).sqrt() < reach * 1.5 + 5.0
        })
        .map(|(i, _)| (brute.exact(i), i))
        .filter(|(d, _)| *d <= reach + 5.0)
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The road group (路線名) a report falls to, or `None` beyond the reach; `Err` when the
/// answer would hang on centimetres (near the reach, or two routes about as near), which the
/// seeding avoids.
fn road_group(roads: &Layer, boxes: &[[f64; 4]], p: (f64, f64)) -> Result<Option<Json>, ()> {
    let d = road_distances(roads, boxes, p, WITHIN_M);
    let Some(&(d1, i1)) = d.first() else {
        return Ok(None);
    };
    if (d1 - WITHIN_M).abs() < 0.5 {
        return Err(());
    }
    if d1 > WITHIN_M {
        return Ok(None);
    }
    let key = roads.properties[i1]["路線名"].clone();
    if d.get(1)
        .is_some_and(|&(d2, i2)| d2 - d1 < 0.5 && roads.properties[i2]["路線名"] != key)
    {
        return Err(());
    }
    Ok(Some(key))
}

/// Places reports in flood zones, near roads and anywhere in the town, skipping places whose
/// road group is a matter of centimetres; posts them as a clerk and moves every third to
/// 対応中.
async fn seed(t: &Town, floods: &Layer, roads: &Layer, boxes: &[[f64; 4]]) -> Vec<Posted> {
    let mut rng = StdRng::seed_from_u64(20_261_121);
    let mut posted = Vec::new();
    let mut n = 0;
    while posted.len() < 90 {
        n += 1;
        let p = match n % 3 {
            // Inside a flood zone.
            0 => {
                let z = rng.random_range(0..floods.shapes.len());
                let b = bounds(&floods.shapes[z]);
                let p = (rng.random_range(b[0]..b[2]), rng.random_range(b[1]..b[3]));
                if !inside(p, &floods.shapes[z]) {
                    continue;
                }
                p
            }
            // Near a road: up to ~70 m off one of its vertices.
            1 => {
                let r = &roads.shapes[rng.random_range(0..roads.shapes.len())];
                let paths: Vec<_> = r.paths().collect();
                let path = paths[rng.random_range(0..paths.len())];
                let v = path[rng.random_range(0..path.len())];
                (
                    v[0] + rng.random_range(-0.0008..0.0008),
                    v[1] + rng.random_range(-0.0006..0.0006),
                )
            }
            _ => (
                rng.random_range(EXTENT[0]..EXTENT[2]),
                rng.random_range(EXTENT[1]..EXTENT[3]),
            ),
        };
        if !(EXTENT[0]..EXTENT[2]).contains(&p.0)
            || !(EXTENT[1]..EXTENT[3]).contains(&p.1)
            || road_group(roads, boxes, p).is_err()
        {
            continue;
        }
        let category = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
        let text = format!("通報 {n}: 「{category}」, \"引用符\" と改行\nあり");
        let fid = t.create_report(t.token("sato"), category, &text, p).await;
        let public = posted.len() % 3 == 0;
        if public {
            t.patch_report(t.token("sato"), fid, 1, json!({"状況": "対応中"}))
                .await;
        }
        posted.push(Posted {
            fid,
            category,
            text,
            p,
            public,
        });
    }
    posted
}

/// Summary groups by key text: the count and the count per category.
type Groups = BTreeMap<String, (u64, BTreeMap<String, u64>)>;

/// A summary's groups as key text → (count, split), checking they come most counted first.
fn groups(summary: &Json) -> Groups {
    let list = summary["groups"].as_array().expect("groups");
    let counts: Vec<u64> = list
        .iter()
        .map(|g| g["count"].as_u64().expect("count"))
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "groups are most counted first: {counts:?}"
    );
    list.iter()
        .map(|g| {
            let split = g["split"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().expect("split count")))
                        .collect()
                })
                .unwrap_or_default();
            (
                g["key"].to_string(),
                (g["count"].as_u64().expect("count"), split),
            )
        })
        .collect()
}

/// The reference: each report's keys (a report in two features of one key counts once).
fn expected(reports: &[&Posted], keys_of: impl Fn(&Posted) -> BTreeSet<String>) -> (Groups, u64) {
    let mut out = Groups::new();
    let mut outside = 0;
    for r in reports {
        let keys = keys_of(r);
        if keys.is_empty() {
            outside += 1;
        }
        for k in keys {
            let g = out.entry(k).or_default();
            g.0 += 1;
            *g.1.entry(r.category.to_string()).or_default() += 1;
        }
    }
    (out, outside)
}

#[tokio::test]
async fn summaries_count_reports_like_the_brute_force() {
    let t = town();
    let floods = layer(&t, "flood-zones").await;
    let roads = layer(&t, "roads").await;
    let zoning = layer(&t, "zoning").await;
    let boxes: Vec<[f64; 4]> = roads.shapes.iter().map(bounds).collect();
    let posted = seed(&t, &floods, &roads, &boxes).await;
    let all: Vec<&Posted> = posted.iter().collect();

    // Per flood-depth rank, split by category: every zone holding the report counts it.
    let rank_keys = |r: &Posted| -> BTreeSet<String> {
        (0..floods.shapes.len())
            .filter(|&i| inside(r.p, &floods.shapes[i]))
            .map(|i| floods.properties[i]["浸水深ﾗﾝｸ"].to_string())
            .collect()
    };
    let s = t
        .get_json(
            &query(
                "/collections/damage-reports/summary",
                &[
                    ("by", "flood-zones"),
                    ("group", "浸水深ﾗﾝｸ"),
                    ("split", "種別"),
                ],
            ),
            Some(t.token("sato")),
        )
        .await;
    let (want, outside) = expected(&all, rank_keys);
    assert!(
        want.len() >= 2 && outside > 0,
        "the seeding covers ranks and dry land"
    );
    assert_eq!(s["total"], all.len());
    assert_eq!(s["outside"], outside);
    assert_eq!(groups(&s), want);

    // Per zoning district (no group: one entry per feature, keyed by its id), only 道路損傷
    // and 河川 reports in the western half.
    let west = [EXTENT[0], EXTENT[1], 139.10, EXTENT[3]];
    let chosen: Vec<&Posted> = posted
        .iter()
        .filter(|r| matches!(r.category, "道路損傷" | "河川"))
        .filter(|r| r.p.0 >= west[0] && r.p.0 <= west[2] && r.p.1 >= west[1] && r.p.1 <= west[3])
        .collect();
    assert!(!chosen.is_empty());
    let bbox = west.map(|v| v.to_string()).join(",");
    let s = t
        .get_json(
            &query(
                "/collections/damage-reports/summary",
                &[
                    ("by", "zoning"),
                    ("bbox", &bbox),
                    ("filter", "種別 IN ('道路損傷','河川')"),
                    ("split", "種別"),
                ],
            ),
            Some(t.token("sato")),
        )
        .await;
    let (want, outside) = expected(&chosen, |r| {
        (0..zoning.shapes.len())
            .filter(|&i| inside(r.p, &zoning.shapes[i]))
            .map(|i| zoning.ids[i].to_string())
            .collect()
    });
    assert_eq!(s["total"], chosen.len());
    assert_eq!(s["outside"], outside);
    assert_eq!(groups(&s), want);

    // Per road route: the nearest road within the reach, by Vincenty distance.
    let within = WITHIN_M.to_string();
    let s = t
        .get_json(
            &query(
                "/collections/damage-reports/summary",
                &[("by", "roads"), ("group", "路線名"), ("within", &within)],
            ),
            Some(t.token("sato")),
        )
        .await;
    let (want, outside) = expected(&all, |r| {
        road_group(&roads, &boxes, r.p)
            .expect("seeded places are unambiguous")
            .map(|k| k.to_string())
            .into_iter()
            .collect()
    });
    assert!(want.len() >= 3 && outside > 0, "the seeding reaches roads");
    assert_eq!(s["outside"], outside);
    let got: BTreeMap<String, u64> = groups(&s).into_iter().map(|(k, v)| (k, v.0)).collect();
    let want: BTreeMap<String, u64> = want.into_iter().map(|(k, v)| (k, v.0)).collect();
    assert_eq!(got, want);

    // The public view counts only public reports, for anyone.
    let public: Vec<&Posted> = posted.iter().filter(|r| r.public).collect();
    let s = t
        .get_json(
            &query(
                "/collections/reports-public/summary",
                &[("by", "flood-zones"), ("group", "浸水深ﾗﾝｸ")],
            ),
            None,
        )
        .await;
    let (want, outside) = expected(&public, rank_keys);
    assert_eq!(s["total"], public.len());
    assert_eq!(s["outside"], outside);
    let got: BTreeMap<String, u64> = groups(&s).into_iter().map(|(k, v)| (k, v.0)).collect();
    let want: BTreeMap<String, u64> = want.into_iter().map(|(k, v)| (k, v.0)).collect();
    assert_eq!(got, want);

    // What the caller may not see does not exist, and a bad parameter says which it is.
    assert_refused(
        &t,
        &[
            (
                "/collections/damage-reports/summary?by=flood-zones",
                None,
                404,
                "",
            ),
            (
                "/collections/reports-public/summary?by=evacuation-support",
                None,
                400,
                "by",
            ),
            (
                "/collections/reports-public/summary?by=flood-zones&split=内容",
                None,
                400,
                "split",
            ),
            (
                "/collections/damage-reports/summary?by=roads&within=-1",
                Some(t.token("sato")),
                400,
                "within",
            ),
            (
                "/collections/damage-reports/summary?by=roads&limit=5",
                Some(t.token("sato")),
                400,
                "limit",
            ),
        ],
    )
    .await;
}

/// Each request `(uri, token, status, param)` is refused with `status`; a 400's description
/// starts with the parameter it is about.
async fn assert_refused(t: &Town, cases: &[(&str, Option<&str>, u16, &str)]) {
    for &(uri, token, status, param) in cases {
        let (got, _, body) = t
            .send(Method::GET, uri, token, &[], vec![])
            .await
            .into_parts();
        assert_eq!(got.as_u16(), status, "{uri}: {body}");
        if !param.is_empty() {
            assert!(
                description(&body).starts_with(&format!("{param}: ")),
                "{uri}: {body}"
            );
        }
    }
}

/// Parses an exported CSV: checks the byte-order mark and CRLF line ends, returns the header
/// and the rows.
fn csv_rows(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = body
        .strip_prefix('\u{feff}')
        .expect("the CSV starts with a UTF-8 byte-order mark (for Excel)");
    assert!(text.ends_with("\r\n"));
    // Every line break outside a quoted field is CRLF: count quotes to know where we are.
    let mut quoted = false;
    let bytes = text.as_bytes();
    for (k, &c) in bytes.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => assert_eq!(bytes[k - 1], b'\r', "bare LF at byte {k}"),
            _ => {}
        }
    }
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("row").iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[tokio::test]
async fn exports_hold_exactly_what_the_query_selects() {
    let t = town();
    let floods = layer(&t, "flood-zones").await;
    let roads = layer(&t, "roads").await;
    let boxes: Vec<[f64; 4]> = roads.shapes.iter().map(bounds).collect();
    let posted = seed(&t, &floods, &roads, &boxes).await;

    // CSV of the 道路損傷 reports for staff: one row per report with its text, point and WKT.
    let uri = query(
        "/collections/damage-reports/export",
        &[("format", "csv"), ("filter", "種別 = '道路損傷'")],
    );
    let (status, headers, body) = t.get_as(&uri, Some(t.token("sato"))).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        header_text(&headers, header::CONTENT_TYPE),
        "text/csv; charset=utf-8"
    );
    let disposition = header_text(&headers, header::CONTENT_DISPOSITION);
    assert!(
        disposition.starts_with("attachment; filename=\"damage-reports-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let (head, rows) = csv_rows(&body);
    for col in ["id", "種別", "内容", "状況", "経度", "緯度", "WKT"] {
        assert!(head.contains(&col.to_string()), "{col} in {head:?}");
    }
    let col = |name: &str| head.iter().position(|h| h == name).expect("column");
    let want: BTreeMap<String, &Posted> = posted
        .iter()
        .filter(|r| r.category == "道路損傷")
        .map(|r| (r.fid.to_string(), r))
        .collect();
    assert!(want.len() >= 5);
    let got: BTreeSet<String> = rows.iter().map(|r| r[col("id")].clone()).collect();
    assert_eq!(got, want.keys().cloned().collect::<BTreeSet<_>>());
    assert_eq!(rows.len(), want.len(), "each report once");
    for row in &rows {
        let r = want[&row[col("id")]];
        assert_eq!(row[col("種別")], "道路損傷");
        assert_eq!(row[col("内容")], r.text, "quotes and line breaks survive");
        assert_eq!(row[col("状況")], if r.public { "対応中" } else { "受付" });
        let lon: f64 = row[col("経度")].parse().expect("経度");
        let lat: f64 = row[col("緯度")].parse().expect("緯度");
        assert!((lon - r.p.0).abs() < 1e-7 && (lat - r.p.1).abs() < 1e-7);
        let wkt = &row[col("WKT")];
        let inner = wkt
            .strip_prefix("POINT(")
            .and_then(|w| w.strip_suffix(')'))
            .unwrap_or_else(|| panic!("a WKT point: {wkt}"));
        let xy: Vec<f64> = inner
            .split(' ')
            .map(|v| v.parse().expect("WKT number"))
            .collect();
        assert_eq!(xy, vec![r.p.0, r.p.1], "WKT keeps the full coordinates");
    }

    // GeoJSON of a box: the reports inside it, with every staff attribute.
    let b = [139.05, 36.0, 139.12, 36.04];
    let uri = query(
        "/collections/damage-reports/export",
        &[("bbox", &b.map(|v| v.to_string()).join(","))],
    );
    let d = t.get_json(&uri, Some(t.token("sato"))).await;
    let want: BTreeSet<i64> = posted
        .iter()
        .filter(|r| r.p.0 >= b[0] && r.p.0 <= b[2] && r.p.1 >= b[1] && r.p.1 <= b[3])
        .map(|r| r.fid)
        .collect();
    let feats = d["features"].as_array().expect("features");
    let got: BTreeSet<i64> = feats
        .iter()
        .map(|f| f["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, want);
    assert_eq!(feats.len(), want.len());
    assert_eq!(d["numberMatched"], want.len());
    assert!(feats.iter().all(|f| f["properties"]["内容"].is_string()));

    // The public view's export, anonymously: public reports only, without the report text.
    let (status, _, body) = t
        .get_as("/collections/reports-public/export?format=csv", None)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (head, rows) = csv_rows(&body);
    assert!(
        !head.iter().any(|h| h == "内容" || h == "更新者"),
        "{head:?}"
    );
    // The view's ids are opaque, so reports are recognised by their place (7 decimals).
    let place = |lon: f64, lat: f64| format!("{lon:.7} {lat:.7}");
    let want: BTreeSet<String> = posted
        .iter()
        .filter(|r| r.public)
        .map(|r| place(r.p.0, r.p.1))
        .collect();
    let col = |name: &str| head.iter().position(|h| h == name).expect("column");
    let got: BTreeSet<String> = rows
        .iter()
        .map(|r| {
            let n = |c: &str| r[col(c)].parse::<f64>().expect("coordinate");
            place(n("経度"), n("緯度"))
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(rows.len(), want.len());
    let fids: BTreeSet<String> = posted.iter().map(|r| r.fid.to_string()).collect();
    assert!(
        rows.iter().all(|r| !fids.contains(&r[col("id")])),
        "the view's ids are not the report numbers"
    );
    for p in posted.iter().filter(|r| !r.public) {
        assert!(!body.contains(&p.text), "a non-public report's text leaked");
    }

    // Not for the anonymous caller; a bad format or paging is a 400 naming the parameter.
    assert_refused(
        &t,
        &[
            ("/collections/damage-reports/export", None, 404, ""),
            (
                "/collections/reports-public/export?format=xlsx",
                None,
                400,
                "format",
            ),
            (
                "/collections/reports-public/export?limit=10",
                None,
                400,
                "limit",
            ),
        ],
    )
    .await;
}
