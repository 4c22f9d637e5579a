//! Layer 1, 用途地域 (zoning): the 13 use districts over the valley, written as a Shift_JIS
//! shapefile in EPSG:6677 with a `.cpg` (`zoning/youto_chiiki.*`).

use std::path::Path;

use anyhow::{Result, ensure};
use chrono::NaiveDate;
use geo::{LineString, MultiPolygon, Polygon, unary_union};

use crate::geography::{Frame, PRJ_JGD2011_IX, Pt, fxy, pt};
use crate::geometry::{check_valid, grid_for, mp_key, round_to, snap_multipolygon, split_grid};
use crate::rng::{Rng, ymd};
use crate::writers::{DbfField, DbfValue, shp_polygon, write_shapefile};

/// The 13 use districts in 用途コード order, with a typical 建ぺい率 / 容積率.
const YOUTO: [(&str, i64, i64); 13] = [
    ("第一種低層住居専用地域", 50, 80),
    ("第二種低層住居専用地域", 60, 100),
    ("第一種中高層住居専用地域", 60, 200),
    ("第二種中高層住居専用地域", 60, 200),
    ("第一種住居地域", 60, 200),
    ("第二種住居地域", 60, 200),
    ("準住居地域", 60, 200),
    ("田園住居地域", 50, 100),
    ("近隣商業地域", 80, 300),
    ("商業地域", 80, 400),
    ("準工業地域", 60, 200),
    ("工業地域", 60, 200),
    ("工業専用地域", 60, 200),
];

pub(crate) struct ZoningFeature {
    geom: MultiPolygon,
    code: u8,
    kenpei: i64,
    youseki: i64,
    decided: NaiveDate,
}

/// 用途コード (1..13) of a zoning cell centred at valley-frame (`u`, `v`), or `None` outside
/// the zoned area (rivers, mountains, farmland).
fn zone_rule(u: f64, v: f64) -> Option<u8> {
    let within = |u0: f64, u1: f64, v0: f64, v1: f64| u >= u0 && u < u1 && v >= v0 && v < v1;
    if v.abs() < 100.0 || !(-2600.0..3000.0).contains(&u) {
        return None;
    }
    // Boundaries wander: they follow streets and plot lines, not straight lines.
    let w1 = 70.0 * (u / 430.0 + 0.5).sin() + 40.0 * (u / 170.0 + 1.7).sin();
    let w2 = 60.0 * (u / 380.0 + 2.1).sin() + 30.0 * (u / 150.0).sin();
    let uu = u + 80.0 * (v / 310.0 + 0.9).sin();
    let vv = v + w1;
    let disk = |cu: f64, cv: f64, r: f64| (u - cu).hypot(v - cv) < r;
    if v > 0.0 {
        let north_limit = if u < 1700.0 { 1800.0 } else { 1500.0 };
        if v >= north_limit + 0.5 * w2 {
            return None;
        }
        // Offset from 中央通り's line (which runs at v = 400 + 40 sin(u / 700)).
        let road = v - 40.0 * (u / 700.0).sin();
        let code = if (-300.0..700.0).contains(&uu) && v >= 150.0 && v < 650.0 + 0.5 * w2 {
            10
        } else if disk(-1500.0, 1350.0, 160.0) {
            9 // shops in the middle of the detached-house estate: a hole in it
        } else if disk(-2050.0, 1450.0, 170.0) {
            3 // a public housing estate (団地) on the hill: another hole
        } else if (-1600.0..1700.0).contains(&u) && (300.0..500.0).contains(&road)
            || within(100.0, 300.0, 650.0, 1150.0)
        {
            9 // roadside shops along 中央通り and 駅前線
        } else if (2500.0..3000.0).contains(&uu) && v < 600.0 + w2 {
            12
        } else if (-1300.0..2500.0).contains(&uu) && v < 250.0 + 0.5 * w1 {
            11
        } else if (1700.0..2500.0).contains(&uu) && vv < 700.0
            || within(1950.0, 2150.0, 700.0, 1400.0)
        {
            7 // along the eastern trunk road
        } else if disk(1250.0, 700.0, 130.0) || (-2400.0..-1600.0).contains(&uu) && vv < 700.0 {
            6
        } else if (-1600.0..1700.0).contains(&uu) && vv < 900.0 {
            5
        } else if (-900.0..1700.0).contains(&uu) && vv < 1150.0 {
            4
        } else if (-900.0..1700.0).contains(&uu) && vv < 1400.0
            || (-2400.0..-900.0).contains(&uu) && vv < 1000.0
        {
            3
        } else if (1700.0..2500.0).contains(&uu) {
            2
        } else if uu >= 2500.0 || u < -2400.0 {
            8
        } else {
            1
        };
        Some(code)
    } else {
        if v < -700.0 + 0.5 * w2 || u < -900.0 {
            return None;
        }
        let code =
            if within(1700.0, 2300.0, -600.0, -150.0) || within(2600.0, 3000.0, -550.0, -150.0) {
                13
            } else if u >= 1000.0 {
                12
            } else if uu >= 500.0 {
                if v >= -500.0 {
                    11
                } else {
                    return None;
                }
            } else if vv >= -450.0 {
                3
            } else {
                1
            };
        Some(code)
    }
}

pub(crate) fn build_zoning(scale: u32) -> Result<Vec<ZoningFeature>> {
    let mut rng = Rng::new("zoning", scale);
    let cell = 100.0;
    let (u0, v0) = (-2600.0, -800.0);
    let (nu, nv) = (56usize, 26usize);
    // Lattice nodes: valley frame with a gentle warp so district edges curve like streets do.
    let node = |i: usize, j: usize| -> Pt {
        let u = u0 + cell * i as f64;
        let v = v0 + cell * j as f64;
        let du = 25.0 * (v / 380.0 + 1.3).sin() + 12.0 * (u / 230.0).sin();
        let dv = 25.0 * (u / 470.0 + 0.4).sin() + 10.0 * (v / 290.0).sin();
        let p = fxy(u + du, v + dv);
        pt(round_to(p.x, 3), round_to(p.y, 3))
    };
    let mut cells: Vec<Vec<Polygon>> = vec![Vec::new(); 14];
    for j in 0..nv {
        for i in 0..nu {
            let cu = u0 + cell * (i as f64 + 0.5);
            let cv = v0 + cell * (j as f64 + 0.5);
            if let Some(code) = zone_rule(cu, cv) {
                let ring = vec![
                    node(i, j),
                    node(i + 1, j),
                    node(i + 1, j + 1),
                    node(i, j + 1),
                    node(i, j),
                ];
                cells[code as usize].push(Polygon::new(LineString::new(ring), vec![]));
            }
        }
    }
    let decisions = [
        ymd(1973, 12, 25)?,
        ymd(1989, 3, 31)?,
        ymd(1996, 5, 10)?,
        ymd(2004, 11, 16)?,
        ymd(2012, 6, 29)?,
        ymd(2019, 3, 29)?,
    ];
    let mut items: Vec<(MultiPolygon, u8)> = Vec::new();
    for code in 1..=13u8 {
        let merged = snap_multipolygon(&unary_union(cells[code as usize].iter()), 3);
        check_valid(&merged, "zoning")?;
        ensure!(!merged.0.is_empty(), "zoning: no area for code {code}");
        if code == 13 {
            // The industrial park is one decision in two separate parts: one multipolygon.
            ensure!(
                merged.0.len() >= 2,
                "zoning: 工業専用地域 should have two parts"
            );
            items.push((merged, code));
        } else {
            for p in merged.0 {
                items.push((MultiPolygon::new(vec![p]), code));
            }
        }
    }
    ensure!(
        items
            .iter()
            .any(|(mp, _)| mp.0.iter().any(|p| !p.interiors().is_empty())),
        "zoning: expected a district with a hole"
    );
    items.sort_by_key(|(mp, code)| (*code, mp_key(mp)));
    let items = split_grid(items, grid_for(scale));
    for (mp, _) in &items {
        check_valid(mp, "zoning")?;
    }
    let mut out = Vec::with_capacity(items.len());
    for (geom, code) in items {
        let (_, mut kenpei, mut youseki) = YOUTO[code as usize - 1];
        if code == 1 && rng.chance(0.4) {
            kenpei = 40;
            youseki = 60;
        } else if code == 3 && rng.chance(0.3) {
            youseki = 150;
        } else if code == 5 && rng.chance(0.3) {
            youseki = 300;
        }
        let decided = if code == 8 {
            ymd(2020, 3, 27)? // 田園住居地域 exists only since 2018
        } else {
            decisions[rng.below(decisions.len())]
        };
        out.push(ZoningFeature {
            geom,
            code,
            kenpei,
            youseki,
            decided,
        });
    }
    Ok(out)
}

pub(crate) fn write_zoning(dir: &Path, frame: &Frame, zones: &[ZoningFeature]) -> Result<()> {
    let shapes = zones
        .iter()
        .map(|z| shp_polygon(&z.geom, |p| Ok(frame.plane(p))))
        .collect::<Result<Vec<_>>>()?;
    let fields = [
        DbfField::num("ID", 6),
        DbfField::text("用途地域", 40),
        DbfField::num("用途コード", 2),
        DbfField::num("建ぺい率", 3),
        DbfField::num("容積率", 3),
        DbfField::date("決定年月日"),
    ];
    let rows: Vec<Vec<DbfValue>> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            vec![
                DbfValue::Int(i as i64 + 1),
                DbfValue::Str(YOUTO[z.code as usize - 1].0.to_string()),
                DbfValue::Int(i64::from(z.code)),
                DbfValue::Int(z.kenpei),
                DbfValue::Int(z.youseki),
                DbfValue::Date(z.decided),
            ]
        })
        .collect();
    write_shapefile(
        &dir.join("zoning/youto_chiiki.shp"),
        &shapes,
        &fields,
        &rows,
        PRJ_JGD2011_IX,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;

    #[test]
    fn zoning_covers_all_thirteen_districts() {
        let zones = build_zoning(1).expect("zoning");
        for code in 1..=13u8 {
            assert!(zones.iter().any(|z| z.code == code), "code {code} missing");
        }
        assert!(zones.iter().any(|z| z.geom.0.len() >= 2));
        assert!(
            zones
                .iter()
                .any(|z| z.geom.0.iter().any(|p| !p.interiors().is_empty()))
        );
        // The districts partition the zoned area: no overlaps.
        let sum: f64 = zones.iter().map(|z| z.geom.unsigned_area()).sum();
        let union = unary_union(zones.iter().flat_map(|z| z.geom.0.iter())).unsigned_area();
        assert!((sum - union).abs() < 1.0, "overlap: {sum} vs {union}");
    }
}
