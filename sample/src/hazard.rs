//! The hazard layers: 6. flood inundation zones of both rivers by depth rank (shapefile in
//! JGD2011 degrees, Shift_JIS without a `.cpg`, `hazard/shinsui_souteikuiki.*`) and 7. sediment
//! disaster warning zones with their special zones (GeoJSON in degrees,
//! `hazard/dosha_keikai.geojson`).

use std::path::Path;

use anyhow::{Result, ensure};
use chrono::NaiveDate;
use geo::{Area, BooleanOps, Contains, Intersects, MultiPolygon, Polygon, unary_union};

use crate::geography::{
    CONFLUENCE_X, Frame, HALF_H, HALF_W, PRJ_JGD2011_GEO, Pt, bank, elevation, fxy, gradient,
    hamlets, in_town, pt, river_y, trib_x,
};
use crate::geometry::{
    Star, band, check_valid, dist, grid_for, mp_key, rect_polygon, snap_multipolygon, split_grid,
    town_rect,
};
use crate::rng::{Rng, ymd};
use crate::writers::{
    DbfField, DbfValue, Json, json_path, push_feature, shp_polygon, write_file, write_shapefile,
};

const DEPTHS: [&str; 6] = [
    "0.5m未満",
    "0.5m以上3.0m未満",
    "3.0m以上5.0m未満",
    "5.0m以上10.0m未満",
    "10.0m以上20.0m未満",
    "20.0m以上",
];

#[derive(Clone)]
pub(crate) struct FloodAttrs {
    rank: u8,
    river: &'static str,
}

pub(crate) struct FloodZone {
    geom: MultiPolygon,
    attrs: FloodAttrs,
}

/// Depth-rank areas of one river: `areas[k]` is where the depth reaches rank k+1 or more.
/// Returned as bands (rank k = areas[k] minus areas[k+1]): a partition, so deeper ranks sit in
/// the holes of shallower ones.
fn rank_bands(areas: Vec<Vec<Polygon>>) -> Result<Vec<(u8, MultiPolygon)>> {
    let clip = MultiPolygon::new(vec![town_rect()]);
    let mut cumulative: Vec<MultiPolygon> = Vec::new();
    let mut below: Option<MultiPolygon> = None;
    for polys in areas.iter().rev() {
        let mut all: Vec<Polygon> = polys.clone();
        if let Some(b) = &below {
            all.extend(b.0.iter().cloned());
        }
        let merged = unary_union(all.iter()).intersection(&clip);
        below = Some(merged.clone());
        cumulative.push(merged);
    }
    cumulative.reverse();
    let mut out = Vec::new();
    for (k, area) in cumulative.iter().enumerate() {
        let band = match cumulative.get(k + 1) {
            Some(deeper) => area.difference(deeper),
            None => area.clone(),
        };
        let band = snap_multipolygon(&band, 3);
        if !band.0.is_empty() {
            out.push((k as u8 + 1, band));
        }
    }
    Ok(out)
}

pub(crate) fn build_floods(scale: u32) -> Result<Vec<FloodZone>> {
    let main_frame = |u: f64, v: f64| fxy(u, v);
    let y0 = river_y(CONFLUENCE_X);
    let trib_frame = move |t: f64, w: f64| pt(trib_x(y0 + t) - w, y0 + t);
    let (ua, ub) = (-4100.0, 4100.0);
    let pocket = |u: f64, v: f64, r: f64, seed: f64| {
        Star {
            c: fxy(u, v),
            a: r,
            b: r * 0.75,
            rot: seed,
            skew: 0.0,
            phase: [seed, seed * 2.0],
        }
        .polygon(1.0, 28)
    };
    // 緑川: shallow flooding of the valley floor, deeper towards the channel, in the gorge
    // upstream (narrow and deep) and on the low ground around the confluence; two depressions
    // behind the levee. The valley narrows into the gorge in the west.
    let gorge = |u: f64| ((u + 3700.0) / 1400.0).clamp(0.3, 1.0);
    let midori = vec![
        vec![band(
            &main_frame,
            ua,
            ub,
            &|u| (600.0 + 200.0 * (u / 1200.0 + 1.1).sin()) * gorge(u),
            &|u| (380.0 + 100.0 * (u / 800.0 + 2.0).sin()) * gorge(u),
        )],
        vec![
            band(
                &main_frame,
                ua,
                ub,
                &|u| (350.0 + 100.0 * (u / 900.0 + 0.3).sin()) * gorge(u),
                &|u| (230.0 + 50.0 * (u / 500.0).sin()) * gorge(u),
            ),
            pocket(600.0, 620.0, 130.0, 0.4),
            pocket(2450.0, 470.0, 100.0, 2.3),
        ],
        vec![
            band(
                &main_frame,
                -3000.0,
                ub,
                &|u| 170.0 + 50.0 * (u / 650.0 + 0.7).sin(),
                &|_| 130.0,
            ),
            pocket(600.0, 620.0, 60.0, 1.1),
        ],
        vec![
            band(&main_frame, ua, -2900.0, &|_| 110.0, &|_| 110.0),
            band(
                &main_frame,
                900.0,
                3600.0,
                &|u| 120.0 + 40.0 * (u / 300.0).sin(),
                &|_| 90.0,
            ),
        ],
        vec![band(
            &main_frame,
            ua,
            -3300.0,
            &|u| 45.0 + 10.0 * (u / 200.0).sin(),
            &|_| 45.0,
        )],
    ];
    // 沢入川: a small tributary, shallow.
    let sawairi = vec![
        vec![band(
            &trib_frame,
            0.0,
            2800.0,
            &|t| 140.0 + 30.0 * (t / 500.0).sin(),
            &|_| 140.0,
        )],
        vec![band(&trib_frame, 0.0, 1200.0, &|_| 60.0, &|_| 60.0)],
    ];
    let mut items: Vec<(MultiPolygon, FloodAttrs)> = Vec::new();
    for (river, areas) in [("荒川水系緑川", midori), ("荒川水系沢入川", sawairi)] {
        for (rank, mp) in rank_bands(areas)? {
            check_valid(&mp, "flood zones")?;
            // Delivered per reach: cut where the reaches meet.
            let cuts: &[f64] = if river == "荒川水系緑川" {
                &[-1500.0, 1000.0]
            } else {
                &[]
            };
            let mut edges = vec![-HALF_W - 1.0];
            edges.extend_from_slice(cuts);
            edges.push(HALF_W + 1.0);
            for w in edges.windows(2) {
                let reach = snap_multipolygon(
                    &mp.intersection(&rect_polygon(w[0], -HALF_H - 1.0, w[1], HALF_H + 1.0)),
                    3,
                );
                for p in reach.0 {
                    if p.unsigned_area() > 1.0 {
                        items.push((MultiPolygon::new(vec![p]), FloodAttrs { rank, river }));
                    }
                }
            }
        }
    }
    items.sort_by_key(|(mp, a)| (a.river, a.rank, mp_key(mp)));
    let items = split_grid(items, grid_for(scale));
    for (mp, _) in &items {
        check_valid(mp, "flood zones")?;
    }
    let zones: Vec<FloodZone> = items
        .into_iter()
        .map(|(geom, attrs)| FloodZone { geom, attrs })
        .collect();
    for r in 1..=4u8 {
        ensure!(
            zones.iter().any(|z| z.attrs.rank == r),
            "flood zones: rank {r} missing"
        );
    }
    Ok(zones)
}

/// Deepest flood rank at a point (0: not flooded).
pub(crate) fn flood_rank(floods: &[FloodZone], p: Pt) -> u8 {
    floods
        .iter()
        .filter(|z| z.geom.intersects(&geo::Point(p)))
        .map(|z| z.attrs.rank)
        .max()
        .unwrap_or(0)
}

pub(crate) fn write_floods(dir: &Path, frame: &Frame, zones: &[FloodZone]) -> Result<()> {
    let shapes = zones
        .iter()
        .map(|z| shp_polygon(&z.geom, |p| frame.lonlat(p)))
        .collect::<Result<Vec<_>>>()?;
    let fields = [
        // 浸水深ランク is 12 bytes in Shift_JIS, over the 10-byte DBF limit: half-width katakana
        // is what real deliveries use to make such names fit.
        DbfField::num("浸水深ﾗﾝｸ", 2),
        DbfField::text("浸水深", 24),
        DbfField::text("河川名", 30),
    ];
    let rows: Vec<Vec<DbfValue>> = zones
        .iter()
        .map(|z| {
            vec![
                DbfValue::Int(i64::from(z.attrs.rank)),
                DbfValue::Str(DEPTHS[z.attrs.rank as usize - 1].into()),
                DbfValue::Str(z.attrs.river.into()),
            ]
        })
        .collect();
    write_shapefile(
        &dir.join("hazard/shinsui_souteikuiki.shp"),
        &shapes,
        &fields,
        &rows,
        PRJ_JGD2011_GEO,
        false,
    )
}

pub(crate) struct Landslide {
    pub(crate) id: String,
    pub(crate) special: bool,
    pub(crate) phenomenon: &'static str,
    pub(crate) designated: NaiveDate,
    pub(crate) geom: Polygon,
}

pub(crate) fn build_landslides(target: usize, scale: u32) -> Result<Vec<Landslide>> {
    let mut rng = Rng::new("landslide-zones", scale);
    // About 5 warning zones for every 3 special zones inside them.
    let n_warn = ((target as f64) / 1.6).round().max(1.0) as usize;
    let n_special = target.saturating_sub(n_warn).min(n_warn);
    let kinds = [
        ("急傾斜地の崩壊", "KY"),
        ("土石流", "DS"),
        ("地すべり", "JS"),
    ];
    let mut counters = [0u32; 3];
    let hamlets = hamlets();
    let mut warns: Vec<(Landslide, Star, usize)> = Vec::with_capacity(n_warn);
    let mut tries = 0;
    while warns.len() < n_warn {
        tries += 1;
        ensure!(
            tries < n_warn * 2000,
            "landslide zones: could not place the zones"
        );
        let c = pt(
            rng.range(-HALF_W + 400.0, HALF_W - 400.0),
            rng.range(-HALF_H + 400.0, HALF_H - 400.0),
        );
        let (up, slope) = gradient(c);
        let e = elevation(c);
        // Zones are designated where houses and roads are at risk: valley sides and hamlets.
        let near_people = bank(c).abs() < 1000.0 || hamlets.iter().any(|h| dist(h.at, c) < 1000.0);
        if slope < 0.18 || !(250.0..=900.0).contains(&e) || bank(c).abs() < 150.0 || !near_people {
            continue;
        }
        let k = rng.weighted(&[50.0, 35.0, 15.0]);
        let downhill = up + std::f64::consts::PI;
        let (a, b, rot, skew) = match k {
            // Steep slope: a band along the contour.
            0 => (
                rng.range(120.0, 300.0),
                rng.range(40.0, 80.0),
                up + std::f64::consts::FRAC_PI_2,
                0.0,
            ),
            // Debris flow: a tongue running down the valley.
            1 => (
                rng.range(300.0, 650.0),
                rng.range(80.0, 180.0),
                downhill,
                0.35,
            ),
            // Landslide: a rounded block.
            _ => {
                let r = rng.range(100.0, 250.0);
                (r, r * rng.range(0.7, 1.0), up, 0.0)
            }
        };
        let star = Star::random(&mut rng, c, a, b, rot, skew);
        let geom = star.polygon(1.0, 32);
        if !geom.exterior().0.iter().all(|&q| in_town(q, 0.0)) {
            continue;
        }
        counters[k] += 1;
        let designated = rng.date(ymd(2005, 4, 1)?, ymd(2025, 12, 26)?);
        warns.push((
            Landslide {
                id: format!("{}{:03}", kinds[k].1, counters[k]),
                special: false,
                phenomenon: kinds[k].0,
                designated,
                geom,
            },
            star,
            k,
        ));
    }
    // Special zones: the warning zone shrunk about its centre (star-shaped, so it stays inside).
    let mut order: Vec<usize> = (0..warns.len()).collect();
    for i in 0..order.len() {
        let j = i + rng.below(order.len() - i);
        order.swap(i, j);
    }
    let mut chosen: Vec<usize> = order.into_iter().take(n_special).collect();
    chosen.sort_unstable();
    let mut out = Vec::with_capacity(target);
    let mut specials: Vec<Option<Landslide>> = (0..warns.len()).map(|_| None).collect();
    for &i in &chosen {
        let (w, star, _) = &warns[i];
        let geom = star.polygon(rng.range(0.45, 0.7), 32);
        ensure!(
            w.geom.contains(&geom),
            "landslide zones: special zone outside its warning zone"
        );
        specials[i] = Some(Landslide {
            id: format!("{}-T", w.id),
            special: true,
            phenomenon: w.phenomenon,
            designated: w.designated,
            geom,
        });
    }
    for ((w, _, _), s) in warns.into_iter().zip(specials) {
        out.push(w);
        if let Some(s) = s {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for z in &out {
        check_valid(&MultiPolygon::new(vec![z.geom.clone()]), "landslide zones")?;
    }
    Ok(out)
}

pub(crate) fn write_landslides(dir: &Path, frame: &Frame, zones: &[Landslide]) -> Result<()> {
    let mut s = String::with_capacity(zones.len() * 1500);
    s.push_str("{\"type\":\"FeatureCollection\",\"name\":\"dosha_keikai\",\"features\":[\n");
    for (i, z) in zones.iter().enumerate() {
        // RFC 7946: exterior rings counter-clockwise.
        let mut ring: Vec<Pt> = z.geom.exterior().0.clone();
        if ring_area(&ring) < 0.0 {
            ring.reverse();
        }
        let ll = ring
            .iter()
            .map(|&q| frame.lonlat(q))
            .collect::<Result<Vec<_>>>()?;
        let date = z.designated.format("%Y-%m-%d").to_string();
        let props = [
            ("区域番号", Json::Str(&z.id)),
            (
                "区域区分",
                Json::Str(if z.special {
                    "土砂災害特別警戒区域"
                } else {
                    "土砂災害警戒区域"
                }),
            ),
            ("現象の種類", Json::Str(z.phenomenon)),
            ("指定年月日", Json::Str(&date)),
        ];
        let geom = format!(
            "{{\"type\":\"Polygon\",\"coordinates\":[{}]}}",
            json_path(&ll, 7)
        );
        push_feature(&mut s, &props, &geom, i + 1 < zones.len())?;
    }
    s.push_str("]}\n");
    write_file(&dir.join("hazard/dosha_keikai.geojson"), s.as_bytes())
}

/// Signed area (positive: counter-clockwise).
fn ring_area(ring: &[Pt]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_landslide_zones_lie_inside_warning_zones() {
        let zones = build_landslides(40, 1).expect("landslides");
        for s in zones.iter().filter(|z| z.special) {
            let parent = s.id.trim_end_matches("-T");
            let w = zones.iter().find(|z| z.id == parent).expect("parent zone");
            assert!(!w.special && w.phenomenon == s.phenomenon);
            assert!(w.geom.contains(&s.geom), "{} outside {}", s.id, w.id);
        }
    }
}
