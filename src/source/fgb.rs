//! FlatGeobuf, with the CRS its header declares.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use flatgeobuf::{FallibleStreamingIterator, FeatureProperties, FgbFeature, FgbReader};
use geo::Geometry;
use geozero::{ColumnValue, PropertyProcessor, ToGeo};

use super::{Problem, Problems, SourceData, match_columns, missing_columns_message};
use crate::geometry::check as check_geometry;
use crate::model::{Attribute, Value};

pub fn read(
    path: &Path,
    schema: &[Attribute],
    mut problems: Problems,
) -> Result<SourceData, Vec<Problem>> {
    let file = match File::open(path) {
        Ok(f) => BufReader::new(f),
        Err(e) => return Err(problems.fatal(format!("cannot open the file: {e}"))),
    };
    let reader = match FgbReader::open(file) {
        Ok(r) => r,
        Err(e) => return Err(problems.fatal(format!("not a readable FlatGeobuf file: {e}"))),
    };
    let header = reader.header();
    let declared_crs = header
        .crs()
        .and_then(|c| match (c.org(), c.code(), c.wkt()) {
            (_, code, _) if code > 0 => Some(format!(
                "{}:{code}",
                c.org().unwrap_or("EPSG").to_ascii_uppercase()
            )),
            (_, _, Some(wkt)) if !wkt.trim().is_empty() => Some(wkt.to_string()),
            _ => None,
        });
    let columns: Vec<String> = header
        .columns()
        .map(|cs| cs.iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let cols = match match_columns(&columns, schema) {
        Ok(c) => c,
        Err(missing) => return Err(problems.fatal(missing_columns_message(&missing, &columns))),
    };
    let mut features = match reader.select_all_seq() {
        Ok(f) => f,
        Err(e) => return Err(problems.fatal(format!("cannot read the features: {e}"))),
    };
    let mut rows = Vec::new();
    let mut index = 0usize;
    loop {
        let feature = match features.next() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                problems.add(
                    Some(format!("feature {index}")),
                    format!("cannot read: {e}"),
                );
                break;
            }
        };
        let row = feature_row(feature, &cols, schema);
        if !problems.keep(&mut rows, || format!("feature {index}"), row) {
            break;
        }
        index += 1;
    }
    problems.finish_declared(rows, declared_crs)
}

/// One feature's geometry and declared attributes.
fn feature_row(
    feature: &FgbFeature,
    cols: &[usize],
    schema: &[Attribute],
) -> Result<(Geometry<f64>, Vec<Value>), String> {
    let geometry = feature
        .to_geo()
        .map_err(|e| format!("invalid geometry: {e}"))?;
    check_geometry(&geometry)?;
    let mut collector = Collector {
        cols,
        schema,
        values: vec![Value::Null; schema.len()],
        error: None,
    };
    let result = feature.process_properties(&mut collector);
    match (result, collector.error) {
        (_, Some(e)) => Err(e),
        (Err(e), None) => Err(format!("cannot read the properties: {e}")),
        (Ok(_), None) => Ok((geometry, collector.values)),
    }
}

/// Gathers the declared attributes of one feature, typed by the schema.
struct Collector<'a> {
    cols: &'a [usize],
    schema: &'a [Attribute],
    values: Vec<Value>,
    error: Option<String>,
}

impl PropertyProcessor for Collector<'_> {
    fn property(
        &mut self,
        idx: usize,
        _name: &str,
        v: &ColumnValue,
    ) -> geozero::error::Result<bool> {
        let Some(slot) = self.cols.iter().position(|&c| c == idx) else {
            return Ok(false);
        };
        let raw = match v {
            ColumnValue::Byte(x) => Value::Int(i64::from(*x)),
            ColumnValue::UByte(x) => Value::Int(i64::from(*x)),
            ColumnValue::Bool(x) => Value::Bool(*x),
            ColumnValue::Short(x) => Value::Int(i64::from(*x)),
            ColumnValue::UShort(x) => Value::Int(i64::from(*x)),
            ColumnValue::Int(x) => Value::Int(i64::from(*x)),
            ColumnValue::UInt(x) => Value::Int(i64::from(*x)),
            ColumnValue::Long(x) => Value::Int(*x),
            ColumnValue::ULong(x) => i64::try_from(*x).map_or(Value::Float(*x as f64), Value::Int),
            ColumnValue::Float(x) => Value::Float(f64::from(*x)),
            ColumnValue::Double(x) => Value::Float(*x),
            ColumnValue::String(s) | ColumnValue::Json(s) | ColumnValue::DateTime(s) => {
                Value::Str((*s).into())
            }
            ColumnValue::Binary(_) => Value::Null,
        };
        let attr = &self.schema[slot];
        match raw.coerce(attr.kind) {
            Ok(v) => self.values[slot] = v,
            Err(e) => {
                self.error = Some(format!("attribute \"{}\": {e}", attr.name));
                return Ok(true);
            }
        }
        Ok(false)
    }
}
