//! The CQL2 JSON encoding (`cql2-json`), following the JSON schema of OGC 21-065 1.0
//! (`cql2.json`). Errors name the offending member with a JSON pointer. Operator names are
//! matched in any letter case (`"op": "S_INTERSECTS"` works as well as `"s_intersects"`).

use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use serde_json::{Map, Value};

use super::ast::{ArithOp, ArrayOp, CmpOp, Expr, Number, SpatialOp, TemporalOp};
use super::text::{check_ring, instant_string, parse_date, parse_timestamp};
use super::{Cql2Error, Location, MAX_DEPTH};

const OPERAND_EXPECTED: &str = "a property, literal or function";

/// Parses CQL2 JSON.
pub fn parse(input: &str) -> Result<Expr, Cql2Error> {
    let value: Value = serde_json::from_str(input).map_err(|e| Cql2Error {
        location: Some(Location::LineColumn(
            e.line(),
            char_column(input, e.line(), e.column()),
        )),
        message: format!("invalid JSON: {}", syntax_message(&e)),
    })?;
    Converter.expr(&value, "", 0)
}

/// serde counts columns in bytes; people count characters.
fn char_column(input: &str, line: usize, byte_column: usize) -> usize {
    let Some(text) = input.split('\n').nth(line.saturating_sub(1)) else {
        return byte_column;
    };
    let mut end = byte_column.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].chars().count() + usize::from(end < byte_column)
}

/// serde's message without its own " at line L column C" suffix.
fn syntax_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

/// A short rendering of a JSON value for error messages.
fn describe(v: &Value) -> String {
    let s = match v {
        Value::Null => return "null".to_string(),
        Value::Object(_) => return "an object".to_string(),
        Value::Array(_) => return "an array".to_string(),
        other => other.to_string(),
    };
    if s.chars().count() > 40 {
        let mut t: String = s.chars().take(39).collect();
        t.push('…');
        t
    } else {
        s
    }
}

struct Converter;

fn child(path: &str, key: impl std::fmt::Display) -> String {
    format!("{path}/{key}")
}

impl Converter {
    fn expr(&self, v: &Value, path: &str, depth: usize) -> Result<Expr, Cql2Error> {
        if depth > MAX_DEPTH {
            return Err(Cql2Error::at_pointer(
                path,
                format!("the filter nests more than {MAX_DEPTH} levels deep"),
            ));
        }
        match v {
            Value::Bool(b) => Ok(Expr::Bool(*b)),
            Value::String(s) => Ok(Expr::Str(s.clone())),
            Value::Number(n) => Ok(Expr::Number(number(n).ok_or_else(|| {
                Cql2Error::at_pointer(path, format!("number {n} is out of range"))
            })?)),
            Value::Array(items) => Ok(Expr::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.expr(x, &child(path, i), depth + 1))
                    .collect::<Result<_, _>>()?,
            )),
            Value::Null => Err(Cql2Error::at_pointer(
                path,
                format!("expected {OPERAND_EXPECTED}, found null (use isNull to test for null)"),
            )),
            Value::Object(obj) => self.object(obj, path, depth),
        }
    }

    fn object(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<Expr, Cql2Error> {
        if let Some(op) = obj.get("op") {
            only_members(obj, &["op", "args"], path)?;
            let Value::String(op) = op else {
                return Err(Cql2Error::at_pointer(
                    &child(path, "op"),
                    format!("expected an operator name, found {}", describe(op)),
                ));
            };
            let args_path = child(path, "args");
            let args = match obj.get("args") {
                Some(Value::Array(a)) => a.as_slice(),
                Some(other) => {
                    return Err(Cql2Error::at_pointer(
                        &args_path,
                        format!("expected an array of arguments, found {}", describe(other)),
                    ));
                }
                None => {
                    return Err(Cql2Error::at_pointer(
                        path,
                        format!("\"{op}\" has no \"args\""),
                    ));
                }
            };
            return self.operation(op, args, path, depth);
        }
        if let Some(name) = obj.get("property") {
            only_members(obj, &["property"], path)?;
            return match name {
                Value::String(s) if !s.is_empty() => Ok(Expr::Property(s.clone())),
                other => Err(Cql2Error::at_pointer(
                    &child(path, "property"),
                    format!("expected a property name, found {}", describe(other)),
                )),
            };
        }
        if let Some(d) = obj.get("date") {
            only_members(obj, &["date"], path)?;
            let p = child(path, "date");
            return match d.as_str().and_then(parse_date) {
                Some(d) => Ok(Expr::Date(d)),
                None => Err(Cql2Error::at_pointer(
                    &p,
                    format!("expected a date \"YYYY-MM-DD\", found {}", describe(d)),
                )),
            };
        }
        if let Some(t) = obj.get("timestamp") {
            only_members(obj, &["timestamp"], path)?;
            let p = child(path, "timestamp");
            return match t.as_str().and_then(parse_timestamp) {
                Some(t) => Ok(Expr::Timestamp(t)),
                None => Err(Cql2Error::at_pointer(
                    &p,
                    format!(
                        "expected a timestamp \"YYYY-MM-DDTHH:MM:SS[.ffffff]Z\", found {}",
                        describe(t)
                    ),
                )),
            };
        }
        if let Some(iv) = obj.get("interval") {
            only_members(obj, &["interval"], path)?;
            let p = child(path, "interval");
            let ends = match iv {
                Value::Array(a) if a.len() == 2 => a,
                other => {
                    return Err(Cql2Error::at_pointer(
                        &p,
                        format!(
                            "expected an array of 2 interval ends, found {}",
                            describe(other)
                        ),
                    ));
                }
            };
            let end = |i: usize| -> Result<Expr, Cql2Error> {
                let ep = child(&p, i);
                match &ends[i] {
                    Value::String(s) => instant_string(s).ok_or_else(|| {
                        Cql2Error::at_pointer(
                            &ep,
                            format!("expected a date, a timestamp or \"..\", found {s:?}"),
                        )
                    }),
                    Value::Object(_) => self.expr(&ends[i], &ep, depth + 1),
                    other => Err(Cql2Error::at_pointer(
                        &ep,
                        format!(
                            "expected a date, a timestamp, \"..\", a property or a function, found {}",
                            describe(other)
                        ),
                    )),
                }
            };
            return Ok(Expr::Interval(Box::new(end(0)?), Box::new(end(1)?)));
        }
        if let Some(b) = obj.get("bbox")
            && !obj.contains_key("type")
        {
            only_members(obj, &["bbox"], path)?;
            let p = child(path, "bbox");
            let nums = numbers(b, &p)?;
            if nums.len() != 4 && nums.len() != 6 {
                return Err(Cql2Error::at_pointer(
                    &p,
                    format!("a bbox needs 4 or 6 numbers, found {}", nums.len()),
                ));
            }
            return Ok(Expr::Bbox(nums));
        }
        if obj.contains_key("type") {
            return geometry(obj, path, depth).map(Expr::Geometry);
        }
        Err(Cql2Error::at_pointer(
            path,
            format!(
                "expected {OPERAND_EXPECTED}: an object with \"op\", \"property\", \"date\", \
                 \"timestamp\", \"interval\", \"bbox\" or a GeoJSON geometry, found members {}",
                member_list(obj)
            ),
        ))
    }

    fn operation(
        &self,
        op: &str,
        args: &[Value],
        path: &str,
        depth: usize,
    ) -> Result<Expr, Cql2Error> {
        let arg = |i: usize| -> Result<Box<Expr>, Cql2Error> {
            Ok(Box::new(self.expr(
                &args[i],
                &child(&child(path, "args"), i),
                depth + 1,
            )?))
        };
        let arity = |n: usize| -> Result<(), Cql2Error> {
            if args.len() == n {
                Ok(())
            } else {
                Err(Cql2Error::at_pointer(
                    &child(path, "args"),
                    format!(
                        "\"{op}\" takes {n} argument{}, found {}",
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                ))
            }
        };
        let lower = op.to_ascii_lowercase();
        if let Some(c) = CmpOp::from_symbol(op) {
            arity(2)?;
            return Ok(Expr::Compare(c, arg(0)?, arg(1)?));
        }
        if let Some(a) = ArithOp::from_symbol(&lower) {
            arity(2)?;
            return Ok(Expr::Arith(a, arg(0)?, arg(1)?));
        }
        if let Some(s) = SpatialOp::from_name(op) {
            arity(2)?;
            return Ok(Expr::Spatial(s, arg(0)?, arg(1)?));
        }
        if let Some(t) = TemporalOp::from_name(op) {
            arity(2)?;
            return Ok(Expr::Temporal(t, arg(0)?, arg(1)?));
        }
        if let Some(a) = ArrayOp::from_name(op) {
            arity(2)?;
            return Ok(Expr::ArrayPredicate(a, arg(0)?, arg(1)?));
        }
        match lower.as_str() {
            "and" | "or" => {
                if args.len() < 2 {
                    return Err(Cql2Error::at_pointer(
                        &child(path, "args"),
                        format!("\"{op}\" needs at least 2 arguments, found {}", args.len()),
                    ));
                }
                let items = (0..args.len())
                    .map(|i| arg(i).map(|b| *b))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if lower == "and" {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            "not" => {
                arity(1)?;
                Ok(Expr::Not(arg(0)?))
            }
            "like" => {
                arity(2)?;
                Ok(Expr::Like(arg(0)?, arg(1)?))
            }
            "between" => {
                arity(3)?;
                Ok(Expr::Between(arg(0)?, arg(1)?, arg(2)?))
            }
            "in" => {
                arity(2)?;
                let value = arg(0)?;
                let list_path = child(&child(path, "args"), 1);
                let Value::Array(list) = &args[1] else {
                    return Err(Cql2Error::at_pointer(
                        &list_path,
                        format!("expected an array of values, found {}", describe(&args[1])),
                    ));
                };
                if list.is_empty() {
                    return Err(Cql2Error::at_pointer(
                        &list_path,
                        "the IN list needs at least one value",
                    ));
                }
                let items = list
                    .iter()
                    .enumerate()
                    .map(|(i, x)| self.expr(x, &child(&list_path, i), depth + 2))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Expr::In(value, items))
            }
            "isnull" => {
                arity(1)?;
                Ok(Expr::IsNull(arg(0)?))
            }
            "casei" => {
                arity(1)?;
                Ok(Expr::CaseI(arg(0)?))
            }
            "accenti" => {
                arity(1)?;
                Ok(Expr::AccentI(arg(0)?))
            }
            _ => {
                if op.is_empty() {
                    return Err(Cql2Error::at_pointer(
                        &child(path, "op"),
                        "empty operator name",
                    ));
                }
                let items = (0..args.len())
                    .map(|i| arg(i).map(|b| *b))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Expr::Function(op.to_string(), items))
            }
        }
    }
}

fn member_list(obj: &Map<String, Value>) -> String {
    let names: Vec<String> = obj.keys().map(|k| format!("{k:?}")).collect();
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

fn only_members(obj: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), Cql2Error> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(Cql2Error::at_pointer(
            &child(path, k),
            format!(
                "unexpected member {k:?} (expected only {})",
                allowed
                    .iter()
                    .map(|a| format!("{a:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn number(n: &serde_json::Number) -> Option<Number> {
    if let Some(i) = n.as_i64() {
        return Some(Number::Int(i));
    }
    n.as_f64().filter(|f| f.is_finite()).map(Number::Float)
}

fn numbers(v: &Value, path: &str) -> Result<Vec<f64>, Cql2Error> {
    let Value::Array(items) = v else {
        return Err(Cql2Error::at_pointer(
            path,
            format!("expected an array of numbers, found {}", describe(v)),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                Cql2Error::at_pointer(
                    &child(path, i),
                    format!("expected a number, found {}", describe(x)),
                )
            })
        })
        .collect()
}

/// A GeoJSON position; a third (height) number is dropped.
fn position(v: &Value, path: &str) -> Result<Coord<f64>, Cql2Error> {
    let n = numbers(v, path)?;
    if n.len() < 2 || n.len() > 3 {
        return Err(Cql2Error::at_pointer(
            path,
            format!("a position needs 2 or 3 numbers, found {}", n.len()),
        ));
    }
    Ok(Coord { x: n[0], y: n[1] })
}

fn array<'a>(v: &'a Value, path: &str, what: &str) -> Result<&'a [Value], Cql2Error> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(Cql2Error::at_pointer(
            path,
            format!("expected {what}, found {}", describe(other)),
        )),
    }
}

fn positions(v: &Value, path: &str) -> Result<Vec<Coord<f64>>, Cql2Error> {
    array(v, path, "an array of positions")?
        .iter()
        .enumerate()
        .map(|(i, p)| position(p, &child(path, i)))
        .collect()
}

fn line(v: &Value, path: &str) -> Result<LineString<f64>, Cql2Error> {
    let c = positions(v, path)?;
    if c.len() < 2 {
        return Err(Cql2Error::at_pointer(
            path,
            "a line needs at least 2 positions",
        ));
    }
    Ok(LineString(c))
}

fn polygon(v: &Value, path: &str) -> Result<Polygon<f64>, Cql2Error> {
    let rings = array(v, path, "an array of linear rings")?;
    if rings.is_empty() {
        return Err(Cql2Error::at_pointer(
            path,
            "a polygon needs at least one ring",
        ));
    }
    let mut out = Vec::with_capacity(rings.len());
    for (i, r) in rings.iter().enumerate() {
        let p = child(path, i);
        let c = positions(r, &p)?;
        check_ring(&c).map_err(|m| Cql2Error::at_pointer(&p, m))?;
        out.push(LineString(c));
    }
    let exterior = out.remove(0);
    Ok(Polygon::new(exterior, out))
}

fn list<T>(
    v: &Value,
    path: &str,
    what: &str,
    item: fn(&Value, &str) -> Result<T, Cql2Error>,
) -> Result<Vec<T>, Cql2Error> {
    array(v, path, what)?
        .iter()
        .enumerate()
        .map(|(i, x)| item(x, &child(path, i)))
        .collect()
}

/// A GeoJSON geometry object.
fn geometry(
    obj: &Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<Geometry<f64>, Cql2Error> {
    if depth > MAX_DEPTH {
        return Err(Cql2Error::at_pointer(
            path,
            format!("the filter nests more than {MAX_DEPTH} levels deep"),
        ));
    }
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        other => {
            return Err(Cql2Error::at_pointer(
                &child(path, "type"),
                format!(
                    "expected a GeoJSON geometry type, found {}",
                    other.map_or("nothing".to_string(), describe)
                ),
            ));
        }
    };
    let member = if kind == "GeometryCollection" {
        "geometries"
    } else {
        "coordinates"
    };
    only_members(obj, &["type", member, "bbox"], path)?;
    let mp = child(path, member);
    let Some(body) = obj.get(member) else {
        return Err(Cql2Error::at_pointer(
            path,
            format!("{kind} has no {member:?}"),
        ));
    };
    Ok(match kind {
        "Point" => Geometry::Point(Point(position(body, &mp)?)),
        "LineString" => Geometry::LineString(line(body, &mp)?),
        "Polygon" => Geometry::Polygon(polygon(body, &mp)?),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(
            positions(body, &mp)?.into_iter().map(Point).collect(),
        )),
        "MultiLineString" => {
            Geometry::MultiLineString(MultiLineString(list(body, &mp, "an array of lines", line)?))
        }
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(list(
            body,
            &mp,
            "an array of polygons",
            polygon,
        )?)),
        "GeometryCollection" => {
            let members = array(body, &mp, "an array of geometries")?;
            let mut out = Vec::with_capacity(members.len());
            for (i, m) in members.iter().enumerate() {
                let p = child(&mp, i);
                let Value::Object(o) = m else {
                    return Err(Cql2Error::at_pointer(
                        &p,
                        format!("expected a GeoJSON geometry, found {}", describe(m)),
                    ));
                };
                out.push(geometry(o, &p, depth + 1)?);
            }
            Geometry::GeometryCollection(geo::GeometryCollection(out))
        }
        other => {
            return Err(Cql2Error::at_pointer(
                &child(path, "type"),
                format!(
                    "unknown geometry type {other:?} (expected Point, LineString, Polygon, \
                     MultiPoint, MultiLineString, MultiPolygon or GeometryCollection)"
                ),
            ));
        }
    })
}
