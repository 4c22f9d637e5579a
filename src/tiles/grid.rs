//! The WebMercatorQuad tile matrix set (OGC 17-083r4, annex D.1): tile numbers, their extent
//! in longitude/latitude, and the projection of CRS84 onto one tile's grid.

use std::f64::consts::PI;

use geo::{Coord, Rect};

use crate::encode::mvt::EXTENT;

/// The highest tile matrix WebMercatorQuad defines.
pub const MAX_ZOOM: u8 = 24;

/// Half the equator in EPSG:3857 metres: the matrix set's corner of origin is at (−, +) this.
pub const ORIGIN_METRES: f64 = 20_037_508.342_789_244;

/// Width of a tile pixel at zoom 0 in metres (a 256-pixel tile), as the standard writes it.
const CELL_SIZE_0: f64 = 156_543.033_928_041;

/// Grid units around a tile that its features keep, so lines and polygon edges that cross
/// the tile border join up without seams (64 units: 1/64 of the tile, 8 px of a 512-px tile).
pub const BUFFER: f64 = 64.0;

/// The latitude where WebMercatorQuad ends (north and south).
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// One tile of WebMercatorQuad: zoom (tile matrix), column from the west, row from the north.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// Why tile numbers name no tile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TileIdError {
    #[error("tileMatrix: expected a whole number from 0 to {MAX_ZOOM}, got \"{0}\"")]
    Matrix(String),
    #[error("tileRow: expected a whole number from 0 to {max}, got \"{got}\"")]
    Row { got: String, max: u64 },
    #[error("tileCol: expected a whole number from 0 to {max}, got \"{got}\"")]
    Col { got: String, max: u64 },
}

impl TileId {
    /// The tile named by the path's tile matrix, row and column, as written in the URL.
    pub fn parse(matrix: &str, row: &str, col: &str) -> Result<TileId, TileIdError> {
        let z = whole(matrix)
            .filter(|&z| z <= u64::from(MAX_ZOOM))
            .ok_or_else(|| TileIdError::Matrix(matrix.to_string()))? as u8;
        let max = (1u64 << z) - 1;
        let y = whole(row)
            .filter(|&y| y <= max)
            .ok_or_else(|| TileIdError::Row {
                got: row.to_string(),
                max,
            })? as u32;
        let x = whole(col)
            .filter(|&x| x <= max)
            .ok_or_else(|| TileIdError::Col {
                got: col.to_string(),
                max,
            })? as u32;
        Ok(TileId { z, x, y })
    }

    /// The tile's extent with its buffer, in longitude/latitude. Web Mercator keeps
    /// longitude and latitude apart, so this is exactly the buffered tile, and a feature is
    /// in the tile when its geometry meets this rectangle.
    pub fn buffered_bounds(&self) -> Rect<f64> {
        let b = BUFFER / f64::from(EXTENT);
        let n = f64::from(1u32 << self.z);
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        let west = lon_of((x - b) / n);
        let east = lon_of((x + 1.0 + b) / n);
        let north = lat_of((y - b) / n);
        let south = lat_of((y + 1.0 + b) / n);
        Rect::new(Coord { x: west, y: south }, Coord { x: east, y: north })
    }

    /// The projection of CRS84 onto this tile's grid (x right, y down, 0..EXTENT).
    pub fn grid(&self) -> Grid {
        let scale = f64::from(1u32 << self.z) * f64::from(EXTENT);
        Grid {
            scale,
            x0: f64::from(self.x) * f64::from(EXTENT),
            y0: f64::from(self.y) * f64::from(EXTENT),
        }
    }

    /// The tiles of zoom `z` that `area` (longitude/latitude) meets with their buffers:
    /// `(columns, rows)` as inclusive ranges.
    pub fn covering(z: u8, area: &Rect<f64>) -> ([u32; 2], [u32; 2]) {
        let n = f64::from(1u32 << z);
        let b = BUFFER / f64::from(EXTENT);
        let max = (1u32 << z) - 1;
        let clamp = |v: f64| (v.floor().max(0.0) as u64).min(u64::from(max)) as u32;
        let x0 = clamp(x_of(area.min().x) * n - b);
        let x1 = clamp(x_of(area.max().x) * n + b);
        let y0 = clamp(y_of(area.max().y) * n - b);
        let y1 = clamp(y_of(area.min().y) * n + b);
        ([x0, x1], [y0, y1])
    }
}

/// WebMercatorQuad's pixel size at zoom `z`, metres.
pub fn cell_size(z: u8) -> f64 {
    CELL_SIZE_0 / f64::from(1u32 << z)
}

/// A whole number written in plain digits (no sign, no spaces, at most 10 digits).
fn whole(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The projection of longitude/latitude onto one tile's grid.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    scale: f64,
    x0: f64,
    y0: f64,
}

impl Grid {
    /// `(lon, lat)` on the grid, not rounded.
    pub fn project(&self, c: Coord<f64>) -> [f64; 2] {
        [
            x_of(c.x) * self.scale - self.x0,
            y_of(c.y) * self.scale - self.y0,
        ]
    }

    /// A point of the grid back in longitude/latitude.
    pub fn unproject(&self, p: [f64; 2]) -> Coord<f64> {
        Coord {
            x: lon_of((p[0] + self.x0) / self.scale),
            y: lat_of((p[1] + self.y0) / self.scale),
        }
    }
}

/// Longitude as a fraction of the world's width from the west.
fn x_of(lon: f64) -> f64 {
    (lon + 180.0) / 360.0
}

/// Latitude as a fraction of the world's height from the north.
fn y_of(lat: f64) -> f64 {
    let phi = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / PI) / 2.0
}

fn lon_of(fx: f64) -> f64 {
    fx * 360.0 - 180.0
}

fn lat_of(fy: f64) -> f64 {
    (PI * (1.0 - 2.0 * fy)).sinh().atan().to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tile numbers as the OpenStreetMap wiki computes them (slippy map tilenames), a formula
    /// written apart from the one above: Tokyo Station at z15 is column 29105, row 12903.
    #[test]
    fn tiles_are_numbered_as_every_web_map_numbers_them() {
        let (lon, lat) = (139.767_125_f64, 35.681_236_f64);
        let n = 2f64.powi(15);
        let col = ((lon + 180.0) / 360.0 * n).floor();
        let lat_r = lat.to_radians();
        let row = ((1.0 - lat_r.tan().asinh() / PI) / 2.0 * n).floor();
        assert_eq!((col, row), (29105.0, 12903.0));
        let t = TileId {
            z: 15,
            x: 29105,
            y: 12903,
        };
        let p = t.grid().project(Coord { x: lon, y: lat });
        assert!((0.0..4096.0).contains(&p[0]) && (0.0..4096.0).contains(&p[1]));
        let back = t.grid().unproject(p);
        assert!((back.x - lon).abs() < 1e-9 && (back.y - lat).abs() < 1e-9);
        let b = t.buffered_bounds();
        assert!(b.min().x < lon && lon < b.max().x && b.min().y < lat && lat < b.max().y);
        let point = Rect::new(Coord { x: lon, y: lat }, Coord { x: lon, y: lat });
        let ([x0, x1], [y0, y1]) = TileId::covering(15, &point);
        assert!(x0 <= 29105 && 29105 <= x1 && x1 - x0 <= 1);
        assert!(y0 <= 12903 && 12903 <= y1 && y1 - y0 <= 1);
    }

    #[test]
    fn tile_numbers_outside_the_matrix_are_refused_with_the_range() {
        assert_eq!(
            TileId::parse("3", "7", "0"),
            Ok(TileId { z: 3, x: 0, y: 7 })
        );
        assert!(matches!(
            TileId::parse("25", "0", "0"),
            Err(TileIdError::Matrix(_))
        ));
        assert_eq!(
            TileId::parse("3", "8", "0").map_err(|e| e.to_string()),
            Err("tileRow: expected a whole number from 0 to 7, got \"8\"".to_string())
        );
        assert!(TileId::parse("3", "0", "-1").is_err());
        assert!(TileId::parse("3", "0", "+1").is_err());
        assert!(TileId::parse("", "0", "0").is_err());
    }

    #[test]
    fn cell_sizes_are_the_standards() {
        // OGC 17-083r4 annex D.1, tile matrix 0 and 18.
        assert!((cell_size(0) * 256.0 - 2.0 * ORIGIN_METRES).abs() < 1e-3);
        assert!((cell_size(18) - 0.597_164_283_559_4).abs() < 1e-9);
    }
}
