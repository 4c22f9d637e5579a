//! File writers shared by the layers: plain files, Shift_JIS text, GeoJSON features,
//! FlatGeobuf, shapefiles with a hand-written Shift_JIS dBase table.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail, ensure};
use chrono::NaiveDate;
use flatgeobuf::FgbWriter;
use geo::{LineString, MultiPolygon};
use geozero::{ColumnValue, PropertyProcessor};

use crate::geography::{DBF_DATE, Pt};

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub(crate) fn shift_jis(text: &str) -> Result<Vec<u8>> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    ensure!(!unmappable, "text not representable in Shift_JIS: {text:?}");
    Ok(bytes.into_owned())
}

/// A JSON property value.
pub(crate) enum Json<'a> {
    Str(&'a str),
    Int(i64),
    Num(f64, usize),
}

pub(crate) fn push_feature(
    s: &mut String,
    props: &[(&str, Json)],
    geom: &str,
    more: bool,
) -> Result<()> {
    s.push_str("{\"type\":\"Feature\",\"properties\":{");
    for (i, (k, v)) in props.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k)?);
        s.push(':');
        match v {
            Json::Str(t) => s.push_str(&serde_json::to_string(t)?),
            Json::Int(n) => write!(s, "{n}")?,
            Json::Num(x, d) => write!(s, "{x:.d$}", d = *d)?,
        }
    }
    s.push_str("},\"geometry\":");
    s.push_str(geom);
    s.push('}');
    if more {
        s.push(',');
    }
    s.push('\n');
    Ok(())
}

pub(crate) fn json_path(p: &[Pt], decimals: usize) -> String {
    let mut s = String::with_capacity(p.len() * 24);
    s.push('[');
    for (i, q) in p.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "[{:.d$},{:.d$}]", q.x, q.y, d = decimals);
    }
    s.push(']');
    s
}

pub(crate) fn add_fgb_feature(
    fgb: &mut FgbWriter,
    geom: geo::Geometry,
    names: &[&str],
    values: &[ColumnValue],
) -> Result<()> {
    let mut failure = None;
    fgb.add_feature_geom(geom, |feat| {
        for (i, (name, value)) in names.iter().zip(values).enumerate() {
            if let Err(e) = feat.property(i, name, value) {
                failure = Some(e);
            }
        }
    })
    .map_err(|e| anyhow!("FlatGeobuf feature: {e}"))?;
    match failure {
        Some(e) => Err(anyhow!("FlatGeobuf property: {e}")),
        None => Ok(()),
    }
}

pub(crate) fn write_fgb(fgb: FgbWriter, path: &Path) -> Result<()> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    fgb.write(&mut out)
        .map_err(|e| anyhow!("FlatGeobuf {}: {e}", path.display()))?;
    out.flush()?;
    Ok(())
}

/// A multipolygon as a shapefile polygon record, with a coordinate conversion.
pub(crate) fn shp_polygon(
    mp: &MultiPolygon,
    conv: impl Fn(Pt) -> Result<Pt>,
) -> Result<shapefile::Polygon> {
    let ring = |ls: &LineString| -> Result<Vec<shapefile::Point>> {
        ls.0.iter()
            .map(|&q| conv(q).map(|c| shapefile::Point::new(c.x, c.y)))
            .collect()
    };
    let mut rings = Vec::new();
    for p in &mp.0 {
        rings.push(shapefile::PolygonRing::Outer(ring(p.exterior())?));
        for h in p.interiors() {
            rings.push(shapefile::PolygonRing::Inner(ring(h)?));
        }
    }
    Ok(shapefile::Polygon::with_rings(rings))
}

/// A DBF column. Names are Shift_JIS, at most 10 bytes.
pub(crate) struct DbfField {
    name: &'static str,
    kind: u8,
    len: u8,
}

impl DbfField {
    pub(crate) fn text(name: &'static str, len: u8) -> DbfField {
        DbfField {
            name,
            kind: b'C',
            len,
        }
    }
    pub(crate) fn num(name: &'static str, len: u8) -> DbfField {
        DbfField {
            name,
            kind: b'N',
            len,
        }
    }
    pub(crate) fn date(name: &'static str) -> DbfField {
        DbfField {
            name,
            kind: b'D',
            len: 8,
        }
    }
}

pub(crate) enum DbfValue {
    Str(String),
    Int(i64),
    Date(NaiveDate),
}

/// A dBase III table in Shift_JIS. Written by hand rather than with the `dbase` crate, which
/// stores field names as UTF-8 bytes (so Japanese names break the 10-byte limit and come out
/// garbled for Shift_JIS readers) and stamps today's date into the header.
fn dbf_bytes(fields: &[DbfField], rows: &[Vec<DbfValue>], ldid: u8) -> Result<Vec<u8>> {
    let header_len = 32 + 32 * fields.len() + 1;
    let record_len = 1 + fields.iter().map(|f| usize::from(f.len)).sum::<usize>();
    let mut out = Vec::with_capacity(header_len + record_len * rows.len() + 1);
    out.push(0x03);
    out.extend([DBF_DATE.0, DBF_DATE.1, DBF_DATE.2]);
    out.extend(u32::try_from(rows.len())?.to_le_bytes());
    out.extend(u16::try_from(header_len)?.to_le_bytes());
    out.extend(u16::try_from(record_len)?.to_le_bytes());
    out.extend([0u8; 17]);
    out.push(ldid);
    out.extend([0u8; 2]);
    for f in fields {
        let name = shift_jis(f.name)?;
        ensure!(
            name.len() <= 10,
            "DBF field name {} is {} bytes in Shift_JIS (max 10)",
            f.name,
            name.len()
        );
        let mut slot = [0u8; 11];
        slot[..name.len()].copy_from_slice(&name);
        out.extend(slot);
        out.push(f.kind);
        out.extend([0u8; 4]);
        out.push(f.len);
        out.push(0);
        out.extend([0u8; 14]);
    }
    out.push(0x0D);
    for row in rows {
        ensure!(
            row.len() == fields.len(),
            "DBF row has {} values for {} fields",
            row.len(),
            fields.len()
        );
        out.push(b' ');
        for (f, v) in fields.iter().zip(row) {
            let len = usize::from(f.len);
            let cell = match (f.kind, v) {
                (b'C', DbfValue::Str(s)) => {
                    let mut b = shift_jis(s)?;
                    ensure!(
                        b.len() <= len,
                        "DBF value {s:?} does not fit {} ({len} bytes)",
                        f.name
                    );
                    b.resize(len, b' ');
                    b
                }
                (b'N', DbfValue::Int(n)) => {
                    let s = format!("{n:>len$}");
                    ensure!(s.len() == len, "DBF number {n} does not fit {}", f.name);
                    s.into_bytes()
                }
                (b'D', DbfValue::Date(d)) => d.format("%Y%m%d").to_string().into_bytes(),
                _ => bail!("DBF value of the wrong type for {}", f.name),
            };
            out.extend(cell);
        }
    }
    out.push(0x1A);
    Ok(out)
}

/// .shp/.shx (via the `shapefile` crate), .dbf (Shift_JIS), .prj and, if `cpg`, a .cpg.
pub(crate) fn write_shapefile<S: shapefile::record::EsriShape>(
    path: &Path,
    shapes: &[S],
    fields: &[DbfField],
    rows: &[Vec<DbfValue>],
    prj: &str,
    cpg: bool,
) -> Result<()> {
    ensure!(
        shapes.len() == rows.len(),
        "shapefile: shapes and records differ"
    );
    {
        let mut w = shapefile::ShapeWriter::from_path(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        for s in shapes {
            w.write_shape(s)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        w.finalize()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // LDID 0x13 = code page 932; a legacy file without .cpg carries no encoding marker at all.
    let ldid = if cpg { 0x13 } else { 0x00 };
    write_file(&path.with_extension("dbf"), &dbf_bytes(fields, rows, ldid)?)?;
    write_file(&path.with_extension("prj"), prj.as_bytes())?;
    if cpg {
        write_file(&path.with_extension("cpg"), b"SHIFT_JIS")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbf_field_names_are_shift_jis() {
        let bytes = dbf_bytes(
            &[DbfField::text("用途コード", 4)],
            &[vec![DbfValue::Str("商業".into())]],
            0x13,
        )
        .expect("dbf");
        assert_eq!(
            &bytes[32..42],
            shift_jis("用途コード").expect("sjis").as_slice()
        );
        assert_eq!(bytes[29], 0x13);
        assert!(dbf_bytes(&[DbfField::num("浸水深ランク", 2)], &[], 0).is_err());
    }
}
