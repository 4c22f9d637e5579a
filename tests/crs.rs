//! Reprojection checked against independent control values: the published origins of the 19
//! plane rectangular zones, and the Geospatial Information Authority of Japan's own
//! Gauss–Krüger formula (Kawase 2011) implemented here from its equations, not from PROJ.

use geo::Coord;
use machimap::crs::ToCrs84;
use rand::{Rng, SeedableRng};

mod common;
use common::gsi::{ORIGINS, gsi_forward};

fn to_crs84(code: u32, easting: f64, northing: f64) -> Coord<f64> {
    let t = ToCrs84::new(&format!("EPSG:{code}")).expect("known CRS");
    t.coord(Coord {
        x: easting,
        y: northing,
    })
    .unwrap_or_else(|e| panic!("EPSG:{code} ({easting}, {northing}): {e}"))
}

#[test]
fn every_jgd2011_and_jgd2000_zone_origin_maps_to_its_published_origin() {
    for (i, &(lat, lon)) in ORIGINS.iter().enumerate() {
        for base in [6669, 2443] {
            let code = base + i as u32;
            let c = to_crs84(code, 0.0, 0.0);
            assert!(
                (c.x - lon).abs() < 1e-9 && (c.y - lat).abs() < 1e-9,
                "zone {} (EPSG:{code}) origin: got ({}, {}), published ({lon}, {lat})",
                i + 1,
                c.x,
                c.y
            );
        }
    }
}

#[test]
fn plane_coordinates_match_the_gsi_formula_within_a_millimetre() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(6677);
    for (i, &origin) in ORIGINS.iter().enumerate() {
        for _ in 0..20 {
            // Points up to ~1.2 degrees from the origin: the extent a zone really covers.
            let lat = origin.0 + rng.random_range(-1.0..1.0);
            let lon = origin.1 + rng.random_range(-1.2..1.2);
            let (x, y) = gsi_forward(lat, lon, origin);
            for code in [6669 + i as u32, 2443 + i as u32] {
                let c = to_crs84(code, y, x);
                // 1e-8 degrees is about 1 mm.
                assert!(
                    (c.x - lon).abs() < 1e-8 && (c.y - lat).abs() < 1e-8,
                    "EPSG:{code} plane (E {y:.3}, N {x:.3}): got ({}, {}), GSI formula gives ({lon}, {lat})",
                    c.x,
                    c.y
                );
            }
        }
    }
}

#[test]
fn geographic_crss_pass_through_in_lon_lat_order() {
    // JGD2011 and WGS84 geographic are both lat/lon by their EPSG definitions; loaders hand
    // over (lon, lat) as files store them, and the result must not be swapped.
    for code in ["EPSG:6668", "EPSG:4326", "EPSG:4612", "OGC:CRS84"] {
        let t = ToCrs84::new(code).expect("known");
        let c = t.coord(Coord { x: 139.1, y: 36.02 }).expect("in range");
        assert!(
            (c.x - 139.1).abs() < 1e-6 && (c.y - 36.02).abs() < 1e-6,
            "{code}: got ({}, {})",
            c.x,
            c.y
        );
    }
}

fn dms(d: f64, m: f64, s: f64) -> f64 {
    d + m / 60.0 + s / 3600.0
}

#[test]
fn tokyo_datum_is_shifted_to_jgd() {
    // 日本経緯度原点 (the Japanese geodetic datum origin, Azabudai, Tokyo), as published:
    // Tokyo datum 35°39'17.5148" N, 139°44'40.5020" E; JGD2000 35°39'29.1572" N,
    // 139°44'28.8759" E. The datums differ by about 450 m here; PROJ's Helmert shift is good
    // to a few metres without the TKY2JGD grid, so 5e-5 degrees (about 5 m) is the bound.
    let tokyo = ToCrs84::new("EPSG:4301").expect("Tokyo datum");
    let c = tokyo
        .coord(Coord {
            x: dms(139.0, 44.0, 40.5020),
            y: dms(35.0, 39.0, 17.5148),
        })
        .expect("in range");
    let (lon, lat) = (dms(139.0, 44.0, 28.8759), dms(35.0, 39.0, 29.1572));
    assert!(
        (c.x - lon).abs() < 5e-5 && (c.y - lat).abs() < 5e-5,
        "got ({}, {}), published JGD2000 ({lon}, {lat})",
        c.x,
        c.y
    );
}
