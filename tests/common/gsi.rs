//! The Geospatial Information Authority of Japan's published zone origins and its
//! Gauss–Krüger formula (Kawase 2011), written here from the equations and not from PROJ:
//! the independent reference for every plane rectangular coordinate test.

/// Zone origins (latitude, longitude) in degrees, as published by GSI (平面直角座標系の原点).
pub const ORIGINS: [(f64, f64); 19] = [
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
pub fn gsi_forward(lat: f64, lon: f64, origin: (f64, f64)) -> (f64, f64) {
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
