//! ESRI Shapefile with its `.dbf`, `.prj` and `.cpg` sidecars. DBF text from Japanese
//! departments is usually Shift_JIS, with or without a `.cpg` saying so.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use dbase::FieldValue;
use geo::Geometry;

use super::{Problem, Problems, SourceData, match_columns, missing_columns_message};
use crate::config::SourceConfig;
use crate::geometry::check as check_geometry;
use crate::model::{Attribute, Value};

pub fn read(
    path: &Path,
    source: &SourceConfig,
    schema: &[Attribute],
    mut problems: Problems,
) -> Result<SourceData, Vec<Problem>> {
    let sidecar = |ext: &str| path.with_extension(ext);
    let shapes = match shapefile::ShapeReader::from_path(path) {
        Ok(r) => r,
        Err(e) => return Err(problems.fatal(format!("cannot read the .shp: {e}"))),
    };
    let dbf_path = sidecar("dbf");
    let dbf = match File::open(&dbf_path) {
        Ok(f) => BufReader::new(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(problems.fatal(format!(
                "the attribute file {} is missing (a shapefile needs its .dbf)",
                dbf_path.display()
            )));
        }
        Err(e) => return Err(problems.fatal(format!("cannot open {}: {e}", dbf_path.display()))),
    };
    let encoding = match dbf_encoding(source.encoding.as_deref(), &sidecar("cpg")) {
        Ok(e) => e,
        Err(e) => return Err(problems.fatal(e)),
    };
    let mut records = match dbase::ReaderBuilder::new()
        .with_encoding(dbase::encoding::EncodingRs::from(encoding))
        .build(dbf)
    {
        Ok(r) => r,
        Err(e) => return Err(problems.fatal(format!("cannot read {}: {e}", dbf_path.display()))),
    };
    let declared_crs = match std::fs::read_to_string(sidecar("prj")) {
        Ok(wkt) if !wkt.trim().is_empty() => Some(wkt.trim().to_string()),
        _ => None,
    };
    let columns: Vec<String> = records
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let cols = match match_columns(&columns, schema) {
        Ok(c) => c,
        Err(missing) => return Err(problems.fatal(missing_columns_message(&missing, &columns))),
    };
    let mut shapes = shapes;
    let mut shape_iter = shapes.iter_shapes();
    let mut record_iter = records.iter_records();
    let mut rows = Vec::new();
    let mut index = 0usize;
    loop {
        let place = || Some(format!("record {index}"));
        let (shape, record) = match (shape_iter.next(), record_iter.next()) {
            (None, None) => break,
            (Some(_), None) | (None, Some(_)) => {
                problems.add(
                    None,
                    "the .shp and the .dbf have different numbers of records",
                );
                break;
            }
            (Some(Err(e)), _) => {
                problems.add(place(), format!("cannot read the shape: {e}"));
                break;
            }
            (_, Some(Err(e))) => {
                problems.add(place(), format!("cannot read the .dbf record: {e}"));
                break;
            }
            (Some(Ok(s)), Some(Ok(r))) => (s, r),
        };
        let row = row(shape, record, &columns, &cols, schema);
        if !problems.keep(&mut rows, || format!("record {index}"), row) {
            break;
        }
        index += 1;
    }
    problems.finish_declared(rows, declared_crs)
}

/// The DBF text encoding: the catalog's, else the `.cpg`'s, else Shift_JIS (what Japanese
/// GIS software writes when it writes no `.cpg`).
fn dbf_encoding(
    configured: Option<&str>,
    cpg: &Path,
) -> Result<&'static encoding_rs::Encoding, String> {
    let label = match configured {
        Some(l) => l.to_string(),
        None => match std::fs::read_to_string(cpg) {
            Ok(t) => t.trim().trim_start_matches('\u{feff}').to_string(),
            Err(_) => return Ok(encoding_rs::SHIFT_JIS),
        },
    };
    let normalised = match label.to_ascii_uppercase().as_str() {
        "932" | "CP932" | "SJIS" | "MS932" | "WINDOWS-31J" => "shift_jis".to_string(),
        "65001" | "UTF8" => "utf-8".to_string(),
        _ => label.clone(),
    };
    encoding_rs::Encoding::for_label(normalised.as_bytes()).ok_or_else(|| {
        format!("unknown DBF text encoding \"{label}\" (from the catalog or the .cpg)")
    })
}

fn row(
    shape: shapefile::Shape,
    mut record: dbase::Record,
    columns: &[String],
    cols: &[usize],
    schema: &[Attribute],
) -> Result<(Geometry<f64>, Vec<Value>), String> {
    if matches!(shape, shapefile::Shape::NullShape) {
        return Err("the shape is null (no geometry)".into());
    }
    let geometry = Geometry::<f64>::try_from(shape).map_err(|e| format!("invalid shape: {e}"))?;
    let geometry = simplify_single(geometry);
    check_geometry(&geometry)?;
    let mut values = Vec::with_capacity(schema.len());
    for (a, &c) in schema.iter().zip(cols) {
        let raw = match record.remove(&columns[c]) {
            None | Some(FieldValue::Character(None)) => Value::Null,
            Some(FieldValue::Character(Some(s))) | Some(FieldValue::Memo(s)) => {
                Value::Str(s.trim().into())
            }
            Some(FieldValue::Numeric(n)) => match n {
                Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::Int(x as i64),
                Some(x) => Value::Float(x),
                None => Value::Null,
            },
            Some(FieldValue::Float(n)) => n.map_or(Value::Null, |x| Value::Float(f64::from(x))),
            Some(FieldValue::Logical(b)) => b.map_or(Value::Null, Value::Bool),
            Some(FieldValue::Date(d)) => d
                .and_then(|d| chrono::NaiveDate::from_ymd_opt(d.year() as i32, d.month(), d.day()))
                .map_or(Value::Null, Value::Date),
            Some(FieldValue::Integer(i)) => Value::Int(i64::from(i)),
            Some(FieldValue::Double(x)) | Some(FieldValue::Currency(x)) => Value::Float(x),
            Some(FieldValue::DateTime(dt)) => {
                let d = dt.date();
                chrono::NaiveDate::from_ymd_opt(d.year() as i32, d.month(), d.day())
                    .map_or(Value::Null, Value::Date)
            }
        };
        values.push(
            raw.coerce(a.kind)
                .map_err(|e| format!("attribute \"{}\": {e}", a.name))?,
        );
    }
    Ok((geometry, values))
}

/// Shapefiles store every polygon as a multipolygon and every line as a multiline; a
/// single part is served as the simple type, as GDAL does.
fn simplify_single(g: Geometry<f64>) -> Geometry<f64> {
    match g {
        Geometry::MultiPolygon(mut m) if m.0.len() == 1 => Geometry::Polygon(m.0.remove(0)),
        Geometry::MultiLineString(mut m) if m.0.len() == 1 => Geometry::LineString(m.0.remove(0)),
        other => other,
    }
}
