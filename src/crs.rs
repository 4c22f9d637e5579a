//! Coordinate reference systems: naming, and reprojection to CRS84 with PROJ at load time.

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
