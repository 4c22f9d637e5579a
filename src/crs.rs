//! Coordinate reference systems: naming, reprojection to CRS84 with PROJ at load time, and the
//! CRSs a client may ask for (OGC API – Features Part 2) with their axis order.

use std::cell::RefCell;
use std::collections::HashMap;

use geo::{Coord, Geometry, MapCoords};
use proj::Proj;

/// Storage CRS of every layer: WGS84 longitude/latitude.
pub const CRS84: &str = "OGC:CRS84";
/// Canonical URI of CRS84, as OGC API metadata writes it.
pub const CRS84_URI: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// A CRS problem.
#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error("unknown or unsupported CRS \"{0}\"")]
    Unknown(String),
    #[error("coordinate ({x}, {y}) cannot be transformed from {crs}")]
    Transform { crs: String, x: f64, y: f64 },
}

/// Normalises the CRS spellings found in files and requests to `AUTH:CODE`:
/// `urn:ogc:def:crs:EPSG::6677`, `http://www.opengis.net/def/crs/EPSG/0/6677`, `EPSG:6677`,
/// and the CRS84 variants. Anything else (WKT, PROJ strings) is returned unchanged.
pub fn normalize_name(name: &str) -> String {
    let n = name.trim();
    let lower = n.to_ascii_lowercase();
    if lower.ends_with("crs84") && (lower.contains("ogc") || lower == "crs84") {
        return CRS84.to_string();
    }
    if let Some(rest) = lower.strip_prefix("urn:ogc:def:crs:") {
        // urn:ogc:def:crs:EPSG:[version]:code
        let parts: Vec<&str> = rest.split(':').collect();
        if let (Some(auth), Some(code)) = (parts.first(), parts.last()) {
            return format!("{}:{}", auth.to_ascii_uppercase(), code);
        }
    }
    for prefix in [
        "http://www.opengis.net/def/crs/",
        "https://www.opengis.net/def/crs/",
    ] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            // AUTH/version/code
            let parts: Vec<&str> = rest.split('/').collect();
            if parts.len() == 3 {
                return format!("{}:{}", parts[0].to_ascii_uppercase(), parts[2]);
            }
        }
    }
    if let Some((auth, code)) = n.split_once(':')
        && auth.eq_ignore_ascii_case("epsg")
        && code.chars().all(|c| c.is_ascii_digit())
    {
        return format!("EPSG:{code}");
    }
    n.to_string()
}

/// Whether a normalised CRS name is CRS84 itself or numerically the same (WGS84 lon/lat once
/// axis order is normalised), so no transformation is needed.
fn is_crs84_equivalent(name: &str) -> bool {
    matches!(name, CRS84 | "EPSG:4326")
}

/// A transformation from one source CRS to CRS84 (lon, lat order whatever the CRS axis order).
///
/// Only a valid longitude/latitude range is checked here. A CRS's area of use is no test of
/// the data: a wrong zone moves data into another region's area, and a zone's own origin can
/// lie outside it. Whether data lands in the town is checked against the catalog's extent.
pub struct ToCrs84 {
    name: String,
    proj: Option<Proj>,
}

impl ToCrs84 {
    /// Builds the transformation for a CRS given by name (`EPSG:6677`, a URN), WKT or PROJ string.
    pub fn new(source: &str) -> Result<ToCrs84, CrsError> {
        let name = normalize_name(source);
        if is_crs84_equivalent(&name) {
            return Ok(ToCrs84 { name, proj: None });
        }
        let unknown = || CrsError::Unknown(short(source));
        let proj = Proj::new_known_crs(&name, CRS84, None).map_err(|_| unknown())?;
        Ok(ToCrs84 {
            name: short(&name),
            proj: Some(proj),
        })
    }

    /// Transforms one coordinate to CRS84.
    pub fn coord(&self, c: Coord<f64>) -> Result<Coord<f64>, CrsError> {
        let out = match &self.proj {
            None => c,
            Some(p) => {
                let (x, y) = p.convert((c.x, c.y)).map_err(|_| CrsError::Transform {
                    crs: self.name.clone(),
                    x: c.x,
                    y: c.y,
                })?;
                Coord { x, y }
            }
        };
        let in_range = out.x.is_finite()
            && out.y.is_finite()
            && (-180.0..=180.0).contains(&out.x)
            && (-90.0..=90.0).contains(&out.y);
        if !in_range {
            return Err(CrsError::Transform {
                crs: self.name.clone(),
                x: c.x,
                y: c.y,
            });
        }
        Ok(out)
    }

    /// Transforms every coordinate of a geometry.
    pub fn geometry(&self, g: &Geometry<f64>) -> Result<Geometry<f64>, CrsError> {
        // CRS84 sources are range-checked too: plane coordinates declared as CRS84 must not load.
        g.try_map_coords(|c| self.coord(c))
    }
}

/// A CRS a client may ask for with `crs`, `bbox-crs` or `filter-crs` (Part 2): CRS84, WGS84
/// (EPSG:4326), JGD2011 geographic (EPSG:6668), the 19 JGD2011 plane rectangular zones
/// (EPSG:6669–6687) and Web Mercator (EPSG:3857).
///
/// Coordinates are in the CRS's own axis order, as Part 2 requires: latitude first for
/// EPSG:4326 and EPSG:6668, and X (northing) first for the plane rectangular zones, as
/// Japanese surveys write them; CRS84 and EPSG:3857 are east first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestCrs {
    /// `None` is CRS84.
    epsg: Option<u32>,
}

/// The EPSG codes of the JGD2011 plane rectangular zones I–XIX.
pub const PLANE_RECTANGULAR: std::ops::RangeInclusive<u32> = 6669..=6687;

impl RequestCrs {
    pub const CRS84: RequestCrs = RequestCrs { epsg: None };

    /// Every CRS a client may ask for, CRS84 first.
    pub fn supported() -> impl Iterator<Item = RequestCrs> {
        [None, Some(4326), Some(6668)]
            .into_iter()
            .chain(PLANE_RECTANGULAR.map(Some))
            .chain([Some(3857)])
            .map(|epsg| RequestCrs { epsg })
    }

    /// Parses a CRS as clients write it: the OGC URI (`http://www.opengis.net/def/crs/EPSG/0/6677`),
    /// a URN, `EPSG:6677` or the safe CURIE `[EPSG:6677]`.
    pub fn parse(value: &str) -> Result<RequestCrs, String> {
        let inner = value
            .trim()
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or(value);
        let name = normalize_name(inner);
        let epsg = if name == CRS84 {
            None
        } else {
            name.strip_prefix("EPSG:")
                .and_then(|c| c.parse::<u32>().ok())
        };
        let crs = RequestCrs { epsg };
        if (name == CRS84 || epsg.is_some()) && Self::supported().any(|s| s == crs) {
            Ok(crs)
        } else {
            Err(format!(
                "unsupported CRS \"{}\"; supported are {CRS84_URI} and http://www.opengis.net/def/crs/EPSG/0/ with 4326, 6668, 6669–6687 (JGD2011 plane rectangular I–XIX) or 3857",
                short(value)
            ))
        }
    }

    /// The OGC URI of the CRS.
    pub fn uri(&self) -> String {
        match self.epsg {
            None => CRS84_URI.to_string(),
            Some(code) => format!("http://www.opengis.net/def/crs/EPSG/0/{code}"),
        }
    }

    pub fn is_crs84(&self) -> bool {
        self.epsg.is_none()
    }

    /// Whether the CRS is in degrees (its coordinates are longitude and latitude).
    pub fn is_geographic(&self) -> bool {
        matches!(self.epsg, None | Some(4326) | Some(6668))
    }

    /// Whether the first axis points north (latitude or northing first).
    fn north_first(&self) -> bool {
        matches!(self.epsg, Some(4326) | Some(6668))
            || self.epsg.is_some_and(|c| PLANE_RECTANGULAR.contains(&c))
    }

    /// Decimals worth writing: 7 in degrees (about 1 cm), 3 in metres (1 mm).
    pub fn decimals(&self) -> u32 {
        if self.is_geographic() { 7 } else { 3 }
    }

    /// Transforms a CRS84 coordinate into this CRS, in its axis order.
    pub fn from_crs84(&self, c: Coord<f64>) -> Result<Coord<f64>, CrsError> {
        let en = match self.epsg {
            // JGD2011 and WGS84 agree to centimetres in Japan; PROJ treats them as identical.
            None | Some(4326) | Some(6668) => c,
            Some(code) => with_proj(code, Direction::FromCrs84, c)?,
        };
        Ok(if self.north_first() {
            Coord { x: en.y, y: en.x }
        } else {
            en
        })
    }

    /// Transforms a coordinate of this CRS (in its axis order) to CRS84.
    pub fn to_crs84(&self, c: Coord<f64>) -> Result<Coord<f64>, CrsError> {
        let en = if self.north_first() {
            Coord { x: c.y, y: c.x }
        } else {
            c
        };
        let out = match self.epsg {
            None | Some(4326) | Some(6668) => en,
            Some(code) => with_proj(code, Direction::ToCrs84, en)?,
        };
        let in_range = out.x.is_finite()
            && out.y.is_finite()
            && (-180.0..=180.0).contains(&out.x)
            && (-90.0..=90.0).contains(&out.y);
        if in_range {
            Ok(out)
        } else {
            Err(CrsError::Transform {
                crs: self.uri(),
                x: c.x,
                y: c.y,
            })
        }
    }

    /// Transforms a CRS84 geometry into this CRS.
    pub fn geometry_from_crs84(&self, g: &Geometry<f64>) -> Result<Geometry<f64>, CrsError> {
        g.try_map_coords(|c| self.from_crs84(c))
    }

    /// Transforms a geometry of this CRS to CRS84.
    pub fn geometry_to_crs84(&self, g: &Geometry<f64>) -> Result<Geometry<f64>, CrsError> {
        g.try_map_coords(|c| self.to_crs84(c))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    FromCrs84,
    ToCrs84,
}

thread_local! {
    /// PROJ objects are neither `Send` nor `Sync` and take milliseconds to build from the
    /// database, so each thread keeps the ones it has used.
    static PROJ_CACHE: RefCell<HashMap<(u32, Direction), Proj>> = RefCell::new(HashMap::new());
}

/// Transforms `c` (east, north) between CRS84 and `EPSG:code` with a cached PROJ object.
fn with_proj(code: u32, dir: Direction, c: Coord<f64>) -> Result<Coord<f64>, CrsError> {
    let name = format!("EPSG:{code}");
    let failed = || CrsError::Transform {
        crs: name.clone(),
        x: c.x,
        y: c.y,
    };
    PROJ_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let proj = match cache.entry((code, dir)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let (from, to) = match dir {
                    Direction::FromCrs84 => (CRS84, name.as_str()),
                    Direction::ToCrs84 => (name.as_str(), CRS84),
                };
                let p = Proj::new_known_crs(from, to, None)
                    .map_err(|_| CrsError::Unknown(name.clone()))?;
                v.insert(p)
            }
        };
        let (x, y) = proj.convert((c.x, c.y)).map_err(|_| failed())?;
        if x.is_finite() && y.is_finite() {
            Ok(Coord { x, y })
        } else {
            Err(failed())
        }
    })
}

/// Long WKT would swamp an error message; keep its start.
pub(crate) fn short(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise() {
        assert_eq!(normalize_name("urn:ogc:def:crs:EPSG::6677"), "EPSG:6677");
        assert_eq!(
            normalize_name("http://www.opengis.net/def/crs/EPSG/0/6668"),
            "EPSG:6668"
        );
        assert_eq!(normalize_name("urn:ogc:def:crs:OGC:1.3:CRS84"), CRS84);
        assert_eq!(normalize_name(CRS84_URI), CRS84);
        assert_eq!(normalize_name("epsg:2451"), "EPSG:2451");
    }

    #[test]
    fn request_crs_spellings_and_axis_order() {
        let zone9 = RequestCrs::parse("http://www.opengis.net/def/crs/EPSG/0/6677").expect("6677");
        assert_eq!(RequestCrs::parse("[EPSG:6677]"), Ok(zone9));
        assert_eq!(RequestCrs::parse("urn:ogc:def:crs:EPSG::6677"), Ok(zone9));
        assert_eq!(RequestCrs::parse(CRS84_URI), Ok(RequestCrs::CRS84));
        assert!(
            RequestCrs::parse("EPSG:2451").is_err(),
            "JGD2000 is read, not served"
        );
        assert!(RequestCrs::parse("EPSG:6688").is_err());
        // The origin of zone IX (36°N, 139°50'E) is X = 0, Y = 0.
        let o = zone9
            .from_crs84(Coord {
                x: 139.0 + 50.0 / 60.0,
                y: 36.0,
            })
            .expect("origin");
        assert!(o.x.abs() < 1e-6 && o.y.abs() < 1e-6, "{o:?}");
        // EPSG:4326 is latitude first.
        let wgs = RequestCrs::parse("EPSG:4326").expect("4326");
        let p = wgs.from_crs84(Coord { x: 139.1, y: 36.0 }).expect("4326");
        assert_eq!((p.x, p.y), (36.0, 139.1));
        let back = zone9
            .to_crs84(zone9.from_crs84(Coord { x: 139.1, y: 36.02 }).expect("fwd"))
            .expect("back");
        assert!((back.x - 139.1).abs() < 1e-9 && (back.y - 36.02).abs() < 1e-9);
    }

    #[test]
    fn unknown_crs_is_refused_with_its_name() {
        let e = ToCrs84::new("EPSG:999999").err().expect("refused");
        assert!(e.to_string().contains("EPSG:999999"), "{e}");
    }

    #[test]
    fn plane_coordinates_declared_as_crs84_are_refused() {
        let t = ToCrs84::new("OGC:CRS84").expect("crs84");
        assert!(
            t.coord(Coord {
                x: -75000.0,
                y: 2000.0
            })
            .is_err()
        );
    }
}
