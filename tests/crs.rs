//! Reprojection checked against independent control values: the published origins of the 19
//! plane rectangular zones, and the Geospatial Information Authority of Japan's own
//! Gauss–Krüger formula (Kawase 2011) implemented here from its equations, not from PROJ.

use geo::Coord;
use machimap::crs::ToCrs84;
use rand::{Rng, SeedableRng};

/// Zone origins (latitude, longitude) in degrees, as published by GSI (平面直角座標系の原点).
const ORIGINS: [(f64, f64); 19] = [
    (33.0, 129.5),
    (33.0, 131.0),
    (36.0, 132.0 + 10.0 / 60.0),
    (33.0, 133.5),
    (36.0, 134.0 + 20.0 / 60.0),
    (36.0, 136.0),
    (36.0, 137.0 + 10.0 / 60.0),
    (36.0, 138.5),
    (36.0, 139.0 + 50.0 / 60.0),
    (40.0, 140.0 + 50.0 / 60.0),
    (44.0, 140.25),
    (44.0, 142.25),
    (44.0, 144.25),
    (26.0, 142.0),
    (26.0, 127.5),
    (26.0, 124.0),
    (26.0, 131.0),
    (20.0, 136.0),
    (26.0, 154.0),
];

/// GSI's forward formula: (lat, lon) in degrees to plane (x northing, y easting) in metres,
/// GRS80, scale 0.9999 on the central meridian.
fn gsi_forward(lat: f64, lon: f64, origin: (f64, f64)) -> (f64, f64) {
    let a = 6_378_137.0_f64;
    let f_inv = 298.257_222_101_f64;
    let m0 = 0.9999_f64;
    let n = 1.0 / (2.0 * f_inv - 1.0);
    let (n2, n3, n4, n5) = (n * n, n.powi(3), n.powi(4), n.powi(5));
    let alpha = [
        n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0 - 127.0 * n5 / 288.0,
        13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0 + 281.0 * n5 / 630.0,
        61.0 * n3 / 240.0 - 103.0 * n4 / 140.0 + 15061.0 * n5 / 26880.0,
        49561.0 * n4 / 161_280.0 - 179.0 * n5 / 168.0,
        34729.0 * n5 / 80640.0,
    ];
    let big_a = [
        1.0 + n2 / 4.0 + n4 / 64.0,
        -1.5 * (n - n3 / 8.0 - n5 / 64.0),
        15.0 / 16.0 * (n2 - n4 / 4.0),
        -35.0 / 48.0 * (n3 - 5.0 * n5 / 16.0),
        315.0 / 512.0 * n4,
        -693.0 / 1280.0 * n5,
    ];
    let a_bar = m0 * a / (1.0 + n) * big_a[0];
    let phi0 = origin.0.to_radians();
    let s_phi0 = m0 * a / (1.0 + n)
        * (big_a[0] * phi0
            + (1..6)
                .map(|j| big_a[j] * (2.0 * j as f64 * phi0).sin())
                .sum::<f64>());
    let phi = lat.to_radians();
    let dl = (lon - origin.1).to_radians();
    let k = 2.0 * n.sqrt() / (1.0 + n);
    let t = (phi.sin().atanh() - k * (k * phi.sin()).atanh()).sinh();
    let t_bar = (1.0 + t * t).sqrt();
    let xi = (t / dl.cos()).atan();
    let eta = (dl.sin() / t_bar).atanh();
    let mut x = xi;
    let mut y = eta;
    for (j, al) in alpha.iter().enumerate() {
        let m = 2.0 * (j + 1) as f64;
        x += al * (m * xi).sin() * (m * eta).cosh();
        y += al * (m * xi).cos() * (m * eta).sinh();
    }
    (a_bar * x - s_phi0, a_bar * y)
}

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
