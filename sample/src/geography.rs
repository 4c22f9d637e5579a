//! The town itself: its constants (municipality code, centre, extent, `.prj` texts), the
//! local frame and its PROJ conversions, the 緑川 valley and 沢入川, terrain elevation and
//! slope, hamlets, districts and addresses.

use anyhow::{Result, anyhow};
use geo::Coord;

use crate::rng::Rng;

pub(crate) const MUNI_CODE: &str = "119997";
pub(crate) const MUNI_NAME: &str = "みどり野町";
const ADDRESS_PREFIX: &str = "埼玉県秩父郡みどり野町";
/// Town centre, JGD2011 degrees.
const CENTRE_LON: f64 = 139.10;
const CENTRE_LAT: f64 = 36.02;
/// Half extents of the town in the local frame (metres).
pub(crate) const HALF_W: f64 = 4000.0;
pub(crate) const HALF_H: f64 = 3000.0;
/// Date written into DBF headers (a real writer would put "today"; fixed for reproducibility).
pub(crate) const DBF_DATE: (u8, u8, u8) = (126, 4, 1);

pub(crate) const PRJ_JGD2011_IX: &str = r#"PROJCS["JGD_2011_Japan_Zone_9",GEOGCS["GCS_JGD_2011",DATUM["D_JGD_2011",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]"#;
pub(crate) const PRJ_JGD2000_IX: &str = r#"PROJCS["JGD_2000_Japan_Zone_9",GEOGCS["GCS_JGD_2000",DATUM["D_JGD_2000",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]"#;
pub(crate) const PRJ_JGD2011_GEO: &str = r#"GEOGCS["GCS_JGD_2011",DATUM["D_JGD_2011",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

pub(crate) type Pt = Coord<f64>;

pub(crate) fn pt(x: f64, y: f64) -> Pt {
    Coord { x, y }
}

/// Local frame <-> EPSG:6677 <-> JGD2011 degrees.
pub(crate) struct Frame {
    /// EPSG:6677 easting / northing of the local origin (whole metres).
    cx: f64,
    cy: f64,
    to_lonlat: proj::Proj,
    to_jgd2000: proj::Proj,
}

impl Frame {
    pub(crate) fn new() -> Result<Frame> {
        let to_plane = proj::Proj::new_known_crs("OGC:CRS84", "EPSG:6677", None)
            .map_err(|e| anyhow!("PROJ cannot set up OGC:CRS84 -> EPSG:6677: {e}"))?;
        let (cx, cy) = to_plane
            .convert((CENTRE_LON, CENTRE_LAT))
            .map_err(|e| anyhow!("PROJ conversion failed: {e}"))?;
        let to_lonlat = proj::Proj::new_known_crs("EPSG:6677", "OGC:CRS84", None)
            .map_err(|e| anyhow!("PROJ cannot set up EPSG:6677 -> OGC:CRS84: {e}"))?;
        let to_jgd2000 = proj::Proj::new_known_crs("EPSG:6677", "EPSG:2451", None)
            .map_err(|e| anyhow!("PROJ cannot set up EPSG:6677 -> EPSG:2451: {e}"))?;
        Ok(Frame {
            cx: cx.round(),
            cy: cy.round(),
            to_lonlat,
            to_jgd2000,
        })
    }

    /// EPSG:6677 (easting, northing) of a local point.
    pub(crate) fn plane(&self, p: Pt) -> Pt {
        pt(self.cx + p.x, self.cy + p.y)
    }

    /// JGD2011 (lon, lat) of a local point.
    pub(crate) fn lonlat(&self, p: Pt) -> Result<Pt> {
        let (lon, lat) = self
            .to_lonlat
            .convert((self.cx + p.x, self.cy + p.y))
            .map_err(|e| anyhow!("PROJ conversion failed: {e}"))?;
        Ok(pt(lon, lat))
    }

    /// JGD2000 zone IX (EPSG:2451) easting / northing of a local point.
    pub(crate) fn jgd2000(&self, p: Pt) -> Result<Pt> {
        let (x, y) = self
            .to_jgd2000
            .convert((self.cx + p.x, self.cy + p.y))
            .map_err(|e| anyhow!("PROJ conversion failed: {e}"))?;
        Ok(pt(x, y))
    }
}

/// Northing of the 緑川 centreline at local easting `x`: it comes out of the gorge in the
/// south-west and swings north-east past the town centre.
pub(crate) fn river_y(x: f64) -> f64 {
    -300.0 + 0.15 * x + 220.0 * (x / 1100.0).sin()
}

/// Local point of valley-frame coordinates: `u` along the valley (= easting), `v` metres north
/// of the river centreline (negative: south bank).
pub(crate) fn fxy(u: f64, v: f64) -> Pt {
    pt(u, river_y(u) + v)
}

/// Metres north of the river centreline.
pub(crate) fn bank(p: Pt) -> f64 {
    p.y - river_y(p.x)
}

/// Where the tributary 沢入川 joins from the north.
pub(crate) const CONFLUENCE_X: f64 = 1500.0;

/// Easting of the 沢入川 centreline at local northing `y` (north of the confluence).
pub(crate) fn trib_x(y: f64) -> f64 {
    let t = y - river_y(CONFLUENCE_X);
    CONFLUENCE_X + 220.0 * (t / 650.0).sin() - 0.12 * t
}

/// Ground elevation (m) of a local point: about 230 m in the valley, hills to the north,
/// steep mountains to the south and west.
pub(crate) fn elevation(p: Pt) -> f64 {
    let base = 225.0 - 0.006 * p.x;
    let d = bank(p);
    let mut e = base;
    if d > 0.0 {
        e += 0.04 * d + 0.00002 * d * d;
        let td = (p.x - trib_x(p.y)).abs();
        e -= 60.0 * (-td / 400.0).exp() * (d / 1500.0).min(1.0);
    } else {
        let dd = -d;
        e += 0.07 * dd + 0.00011 * dd * dd;
    }
    // Western mountains; the gorge floor itself stays low.
    let w = (-p.x - 1800.0).max(0.0);
    e += 0.00007 * w * w * (d.abs() / 400.0).min(1.0);
    let relief = ((e - base) / 200.0).clamp(0.0, 1.0);
    e + 25.0 * (p.x / 310.0).sin() * (p.y / 270.0).cos() * relief
}

/// Uphill direction (radians) and slope (rise / run) at a point.
pub(crate) fn gradient(p: Pt) -> (f64, f64) {
    let h = 10.0;
    let gx = (elevation(pt(p.x + h, p.y)) - elevation(pt(p.x - h, p.y))) / (2.0 * h);
    let gy = (elevation(pt(p.x, p.y + h)) - elevation(pt(p.x, p.y - h))) / (2.0 * h);
    (gy.atan2(gx), gx.hypot(gy))
}

pub(crate) fn in_town(p: Pt, margin: f64) -> bool {
    p.x.abs() <= HALF_W - margin && p.y.abs() <= HALF_H - margin
}

/// Hamlets (大字) outside the built-up valley.
pub(crate) struct Hamlet {
    pub(crate) name: &'static str,
    pub(crate) at: Pt,
}

pub(crate) fn hamlets() -> Vec<Hamlet> {
    vec![
        Hamlet {
            name: "上郷",
            at: pt(-3400.0, river_y(-3400.0) + 200.0),
        },
        Hamlet {
            name: "沢入",
            at: pt(trib_x(2300.0) + 100.0, 2300.0),
        },
        Hamlet {
            name: "大滝",
            at: pt(-900.0, -2100.0),
        },
        Hamlet {
            name: "日向",
            at: pt(3300.0, -800.0),
        },
        Hamlet {
            name: "峰",
            at: pt(-2300.0, -2200.0),
        },
    ]
}

/// District (町 or 大字) name of a local point, for addresses and road names.
pub(crate) fn district(p: Pt) -> &'static str {
    let v = bank(p);
    if v < -100.0 {
        if p.x > 2600.0 || v < -900.0 && p.x > 1000.0 {
            "日向"
        } else if v < -900.0 && p.x < -1600.0 {
            "峰"
        } else if v < -800.0 {
            "大滝"
        } else {
            "南町"
        }
    } else if p.x < -2700.0 {
        "上郷"
    } else if v > 1850.0 {
        if p.x > 700.0 { "沢入" } else { "城山" }
    } else if v > 900.0 {
        if p.x > 2500.0 { "東原" } else { "緑が丘" }
    } else if p.x < -600.0 {
        "上町"
    } else if p.x < 800.0 {
        "本町"
    } else if p.x < 2500.0 {
        "下町"
    } else {
        "東原"
    }
}

/// Whether a district is an urban 町 (addresses in 丁目) rather than a rural 大字.
fn is_urban_district(name: &str) -> bool {
    matches!(name, "本町" | "上町" | "下町" | "緑が丘" | "南町")
}

/// A plausible address for a local point.
pub(crate) fn address(p: Pt, rng: &mut Rng) -> String {
    let d = district(p);
    if is_urban_district(d) {
        let chome = rng.int(1, 6);
        let ban = rng.int(1, 25);
        let go = rng.int(1, 20);
        format!("{ADDRESS_PREFIX}{d}{chome}丁目{ban}番{go}号")
    } else {
        format!("{ADDRESS_PREFIX}大字{d}{}番地", rng.int(1, 2400))
    }
}
