//! GeoPackage geometry blobs: the `GP` header (version, flags, SRS id, envelope) followed by
//! ISO well-known binary. Written little-endian and 2D; read in either byte order, with Z and
//! M ordinates dropped, so a file another program edited still opens. Coordinates are copied
//! as raw IEEE doubles, so a geometry reads back bit-for-bit as it was written.

use geo::{
    BoundingRect, CoordsIter, Geometry, GeometryCollection, LineString, MultiLineString,
    MultiPoint, MultiPolygon, Point, Polygon, coord,
};

/// `GP`, the first two bytes of every GeoPackage geometry.
const MAGIC: &[u8; 2] = b"GP";
/// Flags bit 0: the header's own numbers are little-endian.
const FLAG_LITTLE_ENDIAN: u8 = 0b0000_0001;
/// Flags bits 1–3, value 1: an `[minx, maxx, miny, maxy]` envelope follows the SRS id.
const FLAG_ENVELOPE_XY: u8 = 0b0000_0010;
/// Flags bit 4: the geometry is empty.
const FLAG_EMPTY: u8 = 0b0001_0000;
/// Flags bit 5: an extension's own geometry encoding, which this reader does not know.
const FLAG_EXTENDED: u8 = 0b0010_0000;

/// Nesting deeper than this is refused: only a damaged or hostile blob nests collections so
/// deeply, and recursion must not overflow the stack.
const MAX_DEPTH: usize = 32;

/// Encodes `g` as a GeoPackage blob with `srs_id`. Every geometry but a point carries its
/// envelope (as GDAL writes them), so readers can skip blobs by extent.
pub(super) fn encode(g: &Geometry<f64>, srs_id: i32) -> Result<Vec<u8>, String> {
    if g.coords_iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err("a coordinate is not a finite number".into());
    }
    let mut out = Vec::with_capacity(64 + 16 * g.coords_count());
    out.extend_from_slice(MAGIC);
    out.push(0); // version 0 means GeoPackage binary version 1
    let envelope = g.bounding_rect();
    let mut flags = FLAG_LITTLE_ENDIAN;
    match (&envelope, g) {
        (None, _) => flags |= FLAG_EMPTY,
        (Some(_), Geometry::Point(_)) => {}
        (Some(_), _) => flags |= FLAG_ENVELOPE_XY,
    }
    out.push(flags);
    out.extend_from_slice(&srs_id.to_le_bytes());
    if let (Some(r), false) = (envelope, matches!(g, Geometry::Point(_))) {
        for v in [r.min().x, r.max().x, r.min().y, r.max().y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_wkb(&mut out, g)?;
    Ok(out)
}

/// Decodes a GeoPackage blob into a 2D geometry.
pub(super) fn decode(blob: &[u8]) -> Result<Geometry<f64>, String> {
    if blob.len() < 8 || &blob[..2] != MAGIC {
        return Err("not a GeoPackage geometry (no GP header)".into());
    }
    if blob[2] != 0 {
        return Err(format!(
            "GeoPackage binary version {} is not known",
            blob[2]
        ));
    }
    let flags = blob[3];
    if flags & FLAG_EXTENDED != 0 {
        return Err("extended GeoPackage geometry encoding is not supported".into());
    }
    let envelope_len = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        n => return Err(format!("invalid envelope indicator {n}")),
    };
    let start = 8 + envelope_len;
    if blob.len() < start {
        return Err("truncated GeoPackage header".into());
    }
    let mut r = Reader {
        buf: &blob[start..],
        pos: 0,
    };
    r.geometry(0)
}

fn write_wkb(out: &mut Vec<u8>, g: &Geometry<f64>) -> Result<(), String> {
    match g {
        Geometry::Point(p) => {
            wkb_header(out, 1);
            coord_bytes(out, p.x(), p.y());
        }
        Geometry::LineString(l) => {
            wkb_header(out, 2);
            line_bytes(out, l)?;
        }
        Geometry::Polygon(p) => {
            wkb_header(out, 3);
            polygon_bytes(out, p)?;
        }
        Geometry::MultiPoint(mp) => {
            wkb_header(out, 4);
            count(out, mp.0.len())?;
            for p in &mp.0 {
                write_wkb(out, &Geometry::Point(*p))?;
            }
        }
        Geometry::MultiLineString(ml) => {
            wkb_header(out, 5);
            count(out, ml.0.len())?;
            for l in &ml.0 {
                wkb_header(out, 2);
                line_bytes(out, l)?;
            }
        }
        Geometry::MultiPolygon(mp) => {
            wkb_header(out, 6);
            count(out, mp.0.len())?;
            for p in &mp.0 {
                wkb_header(out, 3);
                polygon_bytes(out, p)?;
            }
        }
        Geometry::GeometryCollection(c) => {
            wkb_header(out, 7);
            count(out, c.0.len())?;
            for g in &c.0 {
                write_wkb(out, g)?;
            }
        }
        // geo's extra shapes are stored as the simple-features types they are.
        Geometry::Line(l) => {
            let line = LineString::new(vec![l.start, l.end]);
            write_wkb(out, &Geometry::LineString(line))?;
        }
        Geometry::Rect(r) => write_wkb(out, &Geometry::Polygon(r.to_polygon()))?,
        Geometry::Triangle(t) => write_wkb(out, &Geometry::Polygon(t.to_polygon()))?,
    }
    Ok(())
}

fn wkb_header(out: &mut Vec<u8>, kind: u32) {
    out.push(1); // little-endian
    out.extend_from_slice(&kind.to_le_bytes());
}

fn count(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let n = u32::try_from(n).map_err(|_| format!("{n} parts are too many for WKB"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn coord_bytes(out: &mut Vec<u8>, x: f64, y: f64) {
    out.extend_from_slice(&x.to_le_bytes());
    out.extend_from_slice(&y.to_le_bytes());
}

fn line_bytes(out: &mut Vec<u8>, l: &LineString<f64>) -> Result<(), String> {
    count(out, l.0.len())?;
    for c in &l.0 {
        coord_bytes(out, c.x, c.y);
    }
    Ok(())
}

fn polygon_bytes(out: &mut Vec<u8>, p: &Polygon<f64>) -> Result<(), String> {
    // An empty polygon has no rings at all, rather than one empty ring.
    if p.exterior().0.is_empty() && p.interiors().is_empty() {
        return count(out, 0);
    }
    count(out, 1 + p.interiors().len())?;
    line_bytes(out, p.exterior())?;
    for r in p.interiors() {
        line_bytes(out, r)?;
    }
    Ok(())
}

/// A cursor over WKB bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// How one WKB geometry header says its numbers are laid out.
#[derive(Clone, Copy)]
struct Layout {
    little_endian: bool,
    /// Ordinates per position: 2 (XY), 3 (XYZ or XYM) or 4 (XYZM).
    dims: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or("truncated WKB")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn u32(&mut self, little_endian: bool) -> Result<u32, String> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| "truncated WKB")?;
        Ok(if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self, little_endian: bool) -> Result<f64, String> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| "truncated WKB")?;
        Ok(if little_endian {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count of items each at least `min_bytes` long, checked against what is left so a
    /// damaged count cannot make us allocate gigabytes.
    fn count(&mut self, l: Layout, min_bytes: usize) -> Result<usize, String> {
        let n = self.u32(l.little_endian)? as usize;
        if n.saturating_mul(min_bytes) > self.remaining() {
            return Err(format!("WKB count {n} exceeds the data"));
        }
        Ok(n)
    }

    /// A geometry header: byte order and ISO type code (1000s for Z, 2000s for M, 3000s
    /// for ZM). Returns the simple-features type number (1–7) and the layout.
    fn header(&mut self) -> Result<(u32, Layout), String> {
        let little_endian = match self.take(1)?[0] {
            0 => false,
            1 => true,
            b => return Err(format!("invalid WKB byte order {b}")),
        };
        let code = self.u32(little_endian)?;
        let dims = match code / 1000 {
            0 => 2,
            1 | 2 => 3,
            3 => 4,
            _ => return Err(format!("unsupported WKB geometry type {code}")),
        };
        Ok((
            code % 1000,
            Layout {
                little_endian,
                dims,
            },
        ))
    }

    fn coord(&mut self, l: Layout) -> Result<geo::Coord<f64>, String> {
        let x = self.f64(l.little_endian)?;
        let y = self.f64(l.little_endian)?;
        for _ in 2..l.dims {
            self.f64(l.little_endian)?;
        }
        Ok(coord! { x: x, y: y })
    }

    fn line(&mut self, l: Layout) -> Result<LineString<f64>, String> {
        let n = self.count(l, 8 * l.dims)?;
        let coords = (0..n).map(|_| self.coord(l)).collect::<Result<_, _>>()?;
        Ok(LineString::new(coords))
    }

    fn polygon(&mut self, l: Layout) -> Result<Polygon<f64>, String> {
        let n = self.count(l, 4)?;
        let mut rings = (0..n)
            .map(|_| self.line(l))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let exterior = rings.next().unwrap_or_else(|| LineString::new(vec![]));
        Ok(Polygon::new(exterior, rings.collect()))
    }

    /// A nested geometry that must be of type `want` (the parts of a Multi* geometry).
    fn part(&mut self, want: u32) -> Result<Layout, String> {
        let (kind, l) = self.header()?;
        if kind != want {
            return Err(format!("WKB part of type {kind} where {want} belongs"));
        }
        Ok(l)
    }

    fn point(&mut self, l: Layout) -> Result<Point<f64>, String> {
        let c = self.coord(l)?;
        // WKB writes an empty point as NaN coordinates; geo has no empty point.
        if c.x.is_nan() && c.y.is_nan() {
            return Err("empty point".into());
        }
        Ok(Point(c))
    }

    fn geometry(&mut self, depth: usize) -> Result<Geometry<f64>, String> {
        if depth > MAX_DEPTH {
            return Err("WKB geometry collections nested too deeply".into());
        }
        let (kind, l) = self.header()?;
        Ok(match kind {
            1 => Geometry::Point(self.point(l)?),
            2 => Geometry::LineString(self.line(l)?),
            3 => Geometry::Polygon(self.polygon(l)?),
            4 => {
                let n = self.count(l, 5)?;
                let points = (0..n)
                    .map(|_| {
                        let l = self.part(1)?;
                        self.point(l)
                    })
                    .collect::<Result<_, String>>()?;
                Geometry::MultiPoint(MultiPoint(points))
            }
            5 => {
                let n = self.count(l, 5)?;
                let lines = (0..n)
                    .map(|_| {
                        let l = self.part(2)?;
                        self.line(l)
                    })
                    .collect::<Result<_, String>>()?;
                Geometry::MultiLineString(MultiLineString(lines))
            }
            6 => {
                let n = self.count(l, 5)?;
                let polygons = (0..n)
                    .map(|_| {
                        let l = self.part(3)?;
                        self.polygon(l)
                    })
                    .collect::<Result<_, String>>()?;
                Geometry::MultiPolygon(MultiPolygon(polygons))
            }
            7 => {
                let n = self.count(l, 5)?;
                let parts = (0..n)
                    .map(|_| self.geometry(depth + 1))
                    .collect::<Result<_, String>>()?;
                Geometry::GeometryCollection(GeometryCollection(parts))
            }
            other => return Err(format!("unsupported WKB geometry type {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, point, polygon};

    fn round_trip(g: Geometry<f64>) {
        let blob = encode(&g, 4326).expect("encode");
        assert_eq!(&blob[..2], b"GP");
        assert_eq!(
            i32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]),
            4326
        );
        let back = decode(&blob).expect("decode");
        assert_eq!(format!("{back:?}"), format!("{g:?}"));
        assert_eq!(back, g);
    }

    #[test]
    fn every_kind_round_trips_bit_exact() {
        // Values whose shortest decimal forms have 17 digits, and subnormal and extreme ones.
        let awkward = [
            0.1 + 0.2,
            139.0 + 0.691_706 / 3.0,
            f64::MIN_POSITIVE / 3.0,
            -0.0,
        ];
        round_trip(Geometry::Point(point! { x: awkward[0], y: awkward[1] }));
        round_trip(Geometry::LineString(line_string![
            (x: awkward[2], y: awkward[3]),
            (x: 1e300, y: -1e-300),
        ]));
        round_trip(Geometry::Polygon(polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0)]],
        )));
        round_trip(Geometry::MultiPoint(MultiPoint(vec![
            point! { x: 1.5, y: 2.5 },
            point! { x: awkward[1], y: awkward[0] },
        ])));
        round_trip(Geometry::MultiLineString(MultiLineString(vec![
            line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)],
            line_string![(x: 2.0, y: 2.0), (x: 3.0, y: 3.0), (x: 4.0, y: 2.0)],
        ])));
        round_trip(Geometry::MultiPolygon(MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)],
            polygon![(x: 5.0, y: 5.0), (x: 6.0, y: 5.0), (x: 6.0, y: 6.0)],
        ])));
        round_trip(Geometry::GeometryCollection(GeometryCollection(vec![
            Geometry::Point(point! { x: 1.0, y: 2.0 }),
            Geometry::LineString(line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)]),
        ])));
        round_trip(Geometry::MultiPoint(MultiPoint(vec![])));
    }

    #[test]
    fn header_has_envelope_except_for_points_and_empties() {
        let p = encode(&Geometry::Point(point! { x: 1.0, y: 2.0 }), 4326).expect("point");
        assert_eq!(p[3], FLAG_LITTLE_ENDIAN);
        assert_eq!(p.len(), 8 + 21);
        let l = Geometry::LineString(line_string![(x: 3.0, y: -1.0), (x: 1.0, y: 5.0)]);
        let b = encode(&l, 4326).expect("line");
        assert_eq!(b[3], FLAG_LITTLE_ENDIAN | FLAG_ENVELOPE_XY);
        let env: Vec<f64> = (0..4)
            .map(|i| {
                let s = 8 + 8 * i;
                f64::from_le_bytes(b[s..s + 8].try_into().expect("8 bytes"))
            })
            .collect();
        assert_eq!(env, [1.0, 3.0, -1.0, 5.0], "minx, maxx, miny, maxy");
        let e = encode(&Geometry::MultiPoint(MultiPoint(vec![])), 4326).expect("empty");
        assert_eq!(e[3], FLAG_LITTLE_ENDIAN | FLAG_EMPTY);
    }

    #[test]
    fn big_endian_and_z_blobs_from_other_writers_are_read() {
        // A big-endian header without envelope, then a big-endian ISO LineString Z (1002).
        let mut b = vec![b'G', b'P', 0, 0];
        b.extend_from_slice(&4326i32.to_be_bytes());
        b.push(0);
        b.extend_from_slice(&1002u32.to_be_bytes());
        b.extend_from_slice(&2u32.to_be_bytes());
        for v in [1.0f64, 2.0, 99.0, 3.0, 4.0, 98.0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        let g = decode(&b).expect("decode");
        assert_eq!(
            g,
            Geometry::LineString(line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)])
        );
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let good = encode(
            &Geometry::Polygon(polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)]),
            4326,
        )
        .expect("encode");
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "truncated at {cut}");
        }
        let mut huge = good.clone();
        // The ring count, right after the envelope and the polygon's WKB header.
        let at = 8 + 32 + 5;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        assert!(decode(b"XX\0\x01\0\0\0\0").is_err());
        assert!(encode(&Geometry::Point(point! { x: f64::NAN, y: 0.0 }), 4326).is_err());
    }
}
