//! GeoJSON: RFC 7946, and the older 2008 form whose `crs` member many exports still write.

use std::path::Path;

use geo::Geometry;
use serde_json::{Map, Value as Json};

use super::{Problems, SourceData};
use crate::crs;
use crate::geometry::check as check_geometry;
use crate::model::{Attribute, Value};

pub fn read(
    path: &Path,
    schema: &[Attribute],
    problems: Problems,
) -> Result<SourceData, Vec<super::Problem>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Err(problems.fatal(format!("cannot read the file: {e}"))),
    };
    parse(&bytes, schema, problems)
}

/// Parses GeoJSON bytes; split from `read` so tests can feed text.
pub fn parse(
    bytes: &[u8],
    schema: &[Attribute],
    mut problems: Problems,
) -> Result<SourceData, Vec<super::Problem>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let root: Json = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Err(problems.fatal(format!(
                "line {}, column {}: invalid JSON: {}",
                e.line(),
                e.column(),
                json_error_text(&e)
            )));
        }
    };
    let Json::Object(mut root) = root else {
        return Err(problems.fatal("expected a GeoJSON object at the top level"));
    };
    let declared_crs = match root.get("crs") {
        None | Some(Json::Null) => None,
        Some(c) => match legacy_crs_name(c) {
            Some(name) => Some(name),
            None => {
                return Err(
                    problems.fatal(format!("\"crs\" member is not a named or EPSG CRS: {c}"))
                );
            }
        },
    };
    let features: Vec<Json> = match root.get("type").and_then(Json::as_str) {
        Some("FeatureCollection") => match root.remove("features") {
            Some(Json::Array(f)) => f,
            _ => return Err(problems.fatal("FeatureCollection has no \"features\" array")),
        },
        Some("Feature") => vec![Json::Object(root)],
        Some(t) => {
            return Err(problems.fatal(format!(
                "top-level type \"{t}\": expected FeatureCollection or Feature"
            )));
        }
        None => return Err(problems.fatal("top-level object has no \"type\"")),
    };

    let mut seen = vec![false; schema.len()];
    let mut rows = Vec::with_capacity(features.len());
    for (index, f) in features.into_iter().enumerate() {
        let row = feature(f, schema, &mut seen);
        if !problems.keep(&mut rows, || format!("feature {index}"), row) {
            break;
        }
    }
    if problems.is_empty() && !rows.is_empty() {
        for (a, seen) in schema.iter().zip(&seen) {
            if !seen {
                problems.add(
                    None,
                    format!(
                        "attribute \"{}\" declared in the catalog is in no feature's properties",
                        a.name
                    ),
                );
            }
        }
    }
    problems.finish(SourceData {
        rows,
        declared_crs,
        default_crs: Some(crs::CRS84),
    })
}

fn feature(
    f: Json,
    schema: &[Attribute],
    seen: &mut [bool],
) -> Result<(Geometry<f64>, Vec<Value>), String> {
    let Json::Object(mut f) = f else {
        return Err("expected a Feature object".into());
    };
    if f.get("type").and_then(Json::as_str) != Some("Feature") {
        return Err("object's \"type\" is not \"Feature\"".into());
    }
    let geometry = match f.remove("geometry") {
        None | Some(Json::Null) => return Err("feature has no geometry".into()),
        Some(g) => {
            let g: geojson::Geometry =
                serde_json::from_value(g).map_err(|e| format!("invalid geometry: {e}"))?;
            Geometry::<f64>::try_from(&g.value).map_err(|e| format!("invalid geometry: {e}"))?
        }
    };
    check_geometry(&geometry)?;
    let props = match f.remove("properties") {
        Some(Json::Object(p)) => p,
        None | Some(Json::Null) => Map::new(),
        Some(_) => return Err("\"properties\" is not an object".into()),
    };
    let mut values = Vec::with_capacity(schema.len());
    for (i, a) in schema.iter().enumerate() {
        let v = match props.get(&a.name) {
            None => Value::Null,
            Some(j) => {
                seen[i] = true;
                json_value(j)
                    .coerce(a.kind)
                    .map_err(|e| format!("attribute \"{}\": {e}", a.name))?
            }
        };
        values.push(v);
    }
    Ok((geometry, values))
}

/// A JSON property value before it is typed by the schema.
pub fn json_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s.as_str().into()),
        other => Value::Str(other.to_string().into()),
    }
}

/// The CRS of a 2008-style `crs` member: `{"type":"name","properties":{"name":…}}` or
/// `{"type":"EPSG","properties":{"code":6677}}`.
fn legacy_crs_name(c: &Json) -> Option<String> {
    let props = c.get("properties")?;
    match c.get("type")?.as_str()? {
        "name" => Some(crs::normalize_name(props.get("name")?.as_str()?)),
        "EPSG" | "epsg" => Some(format!("EPSG:{}", props.get("code")?.as_i64()?)),
        _ => None,
    }
}

/// serde_json appends "at line X column Y" itself; the message already leads with the place.
fn json_error_text(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrType;
    use crate::policy::Audience;

    fn schema() -> Vec<Attribute> {
        vec![Attribute {
            name: "幅員".into(),
            kind: AttrType::Number,
            label_ja: "幅員".into(),
            label_en: "Width".into(),
            audience: Audience::Public,
        }]
    }

    fn parse_text(text: &str) -> Result<SourceData, Vec<super::super::Problem>> {
        parse(
            text.as_bytes(),
            &schema(),
            Problems::new(Path::new("roads.geojson"), "roads"),
        )
    }

    #[test]
    fn legacy_crs_member_is_read() {
        let d = parse_text(
            r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::6677"}},
            "features":[{"type":"Feature","properties":{"幅員":5.5},"geometry":{"type":"LineString","coordinates":[[0,0],[10,5]]}}]}"#,
        )
        .expect("loads");
        assert_eq!(d.declared_crs.as_deref(), Some("EPSG:6677"));
        assert_eq!(d.rows[0].1, vec![Value::Float(5.5)]);
    }

    #[test]
    fn truncated_file_names_line_and_column() {
        let e = parse_text("{\"type\":\"FeatureCollection\",\n\"features\":[{\"type\":\"Feature\"")
            .unwrap_err();
        assert_eq!(e.len(), 1);
        let msg = e[0].to_string();
        assert!(
            msg.starts_with("roads.geojson: layer \"roads\": line 2, column"),
            "{msg}"
        );
        assert!(msg.contains("EOF"), "{msg}");
    }

    #[test]
    fn bad_features_are_each_reported_with_their_index() {
        let e = parse_text(
            r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"幅員":"広い"},"geometry":{"type":"Point","coordinates":[139,36]}},
            {"type":"Feature","properties":{"幅員":4},"geometry":{"type":"Point","coordinates":[139,36]}},
            {"type":"Feature","properties":{"幅員":4},"geometry":{"type":"LineString","coordinates":[[139,36]]}}]}"#,
        )
        .unwrap_err();
        let msgs: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].contains("feature 0: attribute \"幅員\": expected a number"),
            "{msgs:?}"
        );
        assert!(msgs[1].contains("feature 2: line has 1 point"), "{msgs:?}");
    }

    #[test]
    fn a_declared_attribute_absent_everywhere_is_a_problem() {
        let e = parse_text(
            r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"width":4},"geometry":{"type":"Point","coordinates":[139,36]}}]}"#,
        )
        .unwrap_err();
        assert!(e[0].message.contains("\"幅員\""), "{e:?}");
    }
}
