//! What a client sends to change a feature, checked against the layer's schema before anything
//! reaches the store: the geometry type and extent, each property's type, code list and
//! length, required values, server-set values, the status workflow and the target feature.
//! Every refusal says which member is wrong and why.

use chrono::NaiveDate;
use geo::{Geometry, InteriorPoint, Validation};
use serde_json::{Map, Value as Json};

use crate::access::View;
use crate::config::{AttributeConfig, AutoValue, DEFAULT_MAX_LENGTH, LayerConfig};
use crate::model::{AttrType, Feature, Value};
use crate::policy::Principal;

use super::EditError;

/// A GeoJSON Feature as a client sent it (`POST`, `PUT`).
#[derive(Debug, Clone)]
pub struct FeatureInput {
    /// `None` when the member was null or absent.
    pub geometry: Option<Geometry<f64>>,
    pub properties: Map<String, Json>,
    /// The `id` member, when given (compared with the URL on `PUT`).
    pub id: Option<Json>,
}

/// A JSON Merge Patch (RFC 7396) of a feature (`PATCH`): members present replace, `null`
/// properties are cleared.
#[derive(Debug, Clone)]
pub struct FeaturePatch {
    pub geometry: Option<Geometry<f64>>,
    pub properties: Map<String, Json>,
}

/// Parses a request body as JSON, saying where it is broken.
pub fn parse_json(body: &[u8]) -> Result<Json, EditError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EditError::invalid(
            "the request body is empty; send a GeoJSON Feature",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        EditError::invalid(format!(
            "the body is not valid JSON: line {}, column {}: {}",
            e.line(),
            e.column(),
            describe_json_error(&e)
        ))
    })
}

/// serde_json's message without its own " at line … column …" suffix (we give the place).
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

impl FeatureInput {
    /// A GeoJSON Feature from a request body.
    pub fn parse(body: &[u8]) -> Result<FeatureInput, EditError> {
        let Json::Object(mut doc) = parse_json(body)? else {
            return Err(EditError::invalid(
                "the body must be a GeoJSON Feature object",
            ));
        };
        match doc.get("type") {
            Some(Json::String(t)) if t == "Feature" => {}
            Some(Json::String(t)) => {
                return Err(EditError::invalid(format!(
                    "type: expected \"Feature\", got \"{t}\" (send one feature per request)"
                )));
            }
            _ => return Err(EditError::invalid("type: expected \"Feature\"")),
        }
        check_legacy_crs("crs", doc.get("crs"))?;
        let geometry = match doc.remove("geometry") {
            None | Some(Json::Null) => None,
            Some(g) => Some(parse_geometry(g)?),
        };
        let properties = match doc.remove("properties") {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(p)) => p,
            Some(_) => return Err(EditError::invalid("properties: expected an object or null")),
        };
        Ok(FeatureInput {
            geometry,
            properties,
            id: doc.remove("id"),
        })
    }
}

impl FeaturePatch {
    /// A merge patch from a request body: an object with `geometry` and/or `properties`.
    pub fn parse(body: &[u8]) -> Result<FeaturePatch, EditError> {
        let Json::Object(mut doc) = parse_json(body)? else {
            return Err(EditError::invalid(
                "the body must be a JSON object (a merge patch of the feature)",
            ));
        };
        if let Some(t) = doc.remove("type")
            && t != Json::String("Feature".into())
        {
            return Err(EditError::invalid("type: a patch may only say \"Feature\""));
        }
        check_legacy_crs("crs", doc.get("crs"))?;
        doc.remove("crs");
        let geometry = match doc.remove("geometry") {
            None => None,
            Some(Json::Null) => {
                return Err(EditError::invalid(
                    "geometry: a feature of this layer needs a geometry; it cannot be removed",
                ));
            }
            Some(g) => Some(parse_geometry(g)?),
        };
        let properties = match doc.remove("properties") {
            None => Map::new(),
            Some(Json::Object(p)) => p,
            Some(_) => return Err(EditError::invalid("properties: expected an object")),
        };
        doc.remove("id");
        if let Some(k) = doc.keys().next() {
            return Err(EditError::invalid(format!(
                "\"{k}\": a patch may change only geometry and properties"
            )));
        }
        Ok(FeaturePatch {
            geometry,
            properties,
        })
    }
}

/// The legacy GeoJSON 2008 `crs` member: only CRS84 can be meant, since RFC 7946 coordinates
/// are CRS84 and another CRS is named in the `Content-Crs` header. Ignoring it would store
/// plane-rectangular metres as degrees.
fn check_legacy_crs(at: &str, crs: Option<&Json>) -> Result<(), EditError> {
    let Some(crs) = crs else { return Ok(()) };
    let name = crs
        .get("properties")
        .and_then(|p| p.get("name"))
        .and_then(Json::as_str);
    const CRS84: [&str; 3] = [
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "urn:ogc:def:crs:OGC::CRS84",
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    ];
    match name {
        Some(n) if CRS84.contains(&n) => Ok(()),
        Some(n) => Err(EditError::invalid(format!(
            "{at}: the \"crs\" member names \"{n}\"; GeoJSON coordinates are CRS84 \
             (longitude, latitude): send them so without \"crs\", or name the CRS in the \
             Content-Crs header"
        ))),
        None => Err(EditError::invalid(format!(
            "{at}: the \"crs\" member is not a named CRS; leave it out (GeoJSON coordinates are CRS84)"
        ))),
    }
}

/// Every position under `coordinates` has 2 or 3 numbers (RFC 7946 3.1.1 allows more, but
/// their meaning is unspecified and the store keeps 2: dropping them silently loses data).
fn check_positions(v: &Json, at: &mut Vec<usize>) -> Result<(), EditError> {
    let Json::Array(items) = v else { return Ok(()) };
    if items.iter().any(Json::is_number) {
        if !(2..=3).contains(&items.len()) {
            let place: String = at.iter().map(|i| format!("[{i}]")).collect();
            return Err(EditError::invalid(format!(
                "geometry.coordinates{place}: a position has {} numbers; give longitude, latitude \
                 and at most a height",
                items.len()
            )));
        }
        return Ok(());
    }
    for (i, item) in items.iter().enumerate() {
        at.push(i);
        check_positions(item, at)?;
        at.pop();
    }
    Ok(())
}

/// Positions and `crs` members of a geometry object and of the members of a collection.
fn check_geometry_json(g: &Json) -> Result<(), EditError> {
    check_legacy_crs("geometry", g.get("crs"))?;
    if let Some(c) = g.get("coordinates") {
        check_positions(c, &mut Vec::new())?;
    }
    if let Some(Json::Array(members)) = g.get("geometries") {
        members.iter().try_for_each(check_geometry_json)?;
    }
    Ok(())
}

/// A GeoJSON geometry object as a `geo` geometry.
fn parse_geometry(g: Json) -> Result<Geometry<f64>, EditError> {
    check_geometry_json(&g)?;
    let g: geojson::Geometry =
        serde_json::from_value(g).map_err(|e| EditError::invalid(format!("geometry: {e}")))?;
    Geometry::<f64>::try_from(g).map_err(|e| EditError::invalid(format!("geometry: {e}")))
}

/// Everything the checks need to know about the edit being made.
pub struct Context<'a> {
    /// What the editor sees (for hidden attributes and target layers).
    pub view: &'a View,
    pub layer: &'a LayerConfig,
    /// The feature being changed (`None` for a create).
    pub current: Option<&'a Feature>,
    /// Today in Japan, for date attributes the server sets.
    pub today: NaiveDate,
    /// When set, the only attributes the writer may set and see (a resident's report gives
    /// a category and a description); otherwise the editor's audiences decide.
    pub only: Option<&'a [String]>,
}

impl Context<'_> {
    fn principal(&self) -> &Principal {
        self.view.principal()
    }

    /// Whether the editor may see attribute `a`.
    fn sees(&self, a: &AttributeConfig) -> bool {
        if let Some(only) = self.only {
            return only.contains(&a.name);
        }
        a.audience
            .as_ref()
            .unwrap_or(&self.layer.audience)
            .admits(self.principal())
    }

    /// The names the editor may set, for error messages.
    fn settable(&self) -> String {
        let names: Vec<&str> = self
            .layer
            .attributes
            .iter()
            .filter(|a| self.sees(a) && a.auto.is_none())
            .map(|a| a.name.as_str())
            .collect();
        names.join(", ")
    }
}

/// A checked geometry and properties in schema order, ready for the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub geometry: Geometry<f64>,
    pub properties: Vec<Value>,
}

/// Checks a whole new state of a feature (`POST`, or `PUT` with `ctx.current`). Attributes the
/// editor cannot see keep their current value (null on a create); they cannot be set.
pub fn check_feature(ctx: &Context, input: FeatureInput) -> Result<Checked, EditError> {
    let mut properties: Vec<Value> = match ctx.current {
        Some(f) => f.properties.clone(),
        None => vec![Value::Null; ctx.layer.attributes.len()],
    };
    for name in input.properties.keys() {
        known_attribute(ctx, name)?;
    }
    for (i, a) in ctx.layer.attributes.iter().enumerate() {
        if !ctx.sees(a) {
            continue;
        }
        let given = input.properties.get(&a.name).unwrap_or(&Json::Null);
        properties[i] = value_of(ctx, i, a, given)?;
    }
    let geometry = match input.geometry {
        Some(g) => g,
        None => default_geometry(ctx, &properties)?,
    };
    finish(ctx, geometry, properties)
}

/// Checks a merge patch on `ctx.current` (`PATCH`).
pub fn check_patch(ctx: &Context, patch: FeaturePatch) -> Result<Checked, EditError> {
    let current = ctx
        .current
        .ok_or_else(|| EditError::Internal("a patch needs the current feature".into()))?;
    let mut properties = current.properties.clone();
    for (name, given) in &patch.properties {
        let (i, a) = known_attribute(ctx, name)?;
        properties[i] = value_of(ctx, i, a, given)?;
    }
    let geometry = patch.geometry.unwrap_or_else(|| current.geometry.clone());
    finish(ctx, geometry, properties)
}

/// An attribute the editor may name; hidden ones are as unknown as ones that never existed.
fn known_attribute<'a>(
    ctx: &Context<'a>,
    name: &str,
) -> Result<(usize, &'a AttributeConfig), EditError> {
    ctx.layer
        .attributes
        .iter()
        .enumerate()
        .find(|(_, a)| a.name == name && ctx.sees(a))
        .ok_or_else(|| {
            EditError::invalid(format!(
                "properties: unknown attribute \"{name}\"; this layer has: {}",
                ctx.settable()
            ))
        })
}

/// The value `given` for attribute `a` (schema index `i`), typed and checked.
fn value_of(
    ctx: &Context,
    i: usize,
    a: &AttributeConfig,
    given: &Json,
) -> Result<Value, EditError> {
    let bad = |m: String| EditError::invalid(format!("properties.{}: {m}", a.name));
    if a.auto.is_some() {
        // A client may send back what it read (GET, change, PUT); the server's value stands.
        let current = ctx.current.map_or(&Value::Null, |f| &f.properties[i]);
        let same = given.is_null() || typed(a.kind, given).is_ok_and(|v| &v == current);
        return if same {
            Ok(current.clone())
        } else {
            Err(bad("is set by the server and cannot be changed".into()))
        };
    }
    let value = typed(a.kind, given).map_err(bad)?;
    if let Value::Str(s) = &value {
        crate::text::check_stored(s, a.max_length.unwrap_or(DEFAULT_MAX_LENGTH)).map_err(bad)?;
        if !a.codes.is_empty() && !a.codes.iter().any(|c| **c == **s) {
            return Err(bad(format!(
                "\"{}\" is not one of the codes: {}",
                clip(s),
                a.codes.join(", ")
            )));
        }
    }
    Ok(value)
}

/// At most 40 characters of a value, for messages.
fn clip(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}

/// A JSON value as an attribute of type `kind`.
fn typed(kind: AttrType, v: &Json) -> Result<Value, String> {
    let wrong = || format!("expected {}, got {}", expected(kind), json_kind(v));
    match (kind, v) {
        (_, Json::Null) => Ok(Value::Null),
        (AttrType::String, Json::String(s)) => Ok(Value::Str(s.as_str().into())),
        (AttrType::Integer, Json::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Value::Int(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::Int(f as i64)),
            _ => Err(wrong()),
        },
        (AttrType::Number, Json::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Value::Float)
            .ok_or_else(wrong),
        (AttrType::Boolean, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (AttrType::Date, Json::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Value::Date)
            .map_err(|_| format!("expected a date YYYY-MM-DD, got \"{}\"", clip(s))),
        _ => Err(wrong()),
    }
}

fn expected(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "text",
        AttrType::Integer => "an integer",
        AttrType::Number => "a number",
        AttrType::Boolean => "true or false",
        AttrType::Date => "a date YYYY-MM-DD",
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "text",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The geometry of a new record without one: the target feature's interior point, for point
/// layers with a target (an inspection recorded against a valve).
fn default_geometry(ctx: &Context, properties: &[Value]) -> Result<Geometry<f64>, EditError> {
    let missing = || EditError::invalid("geometry: this layer's features need a geometry");
    let edit = ctx.layer.edit().ok_or_else(missing)?;
    if edit.geometry != crate::model::GeometryKind::Point {
        return Err(missing());
    }
    match target_of(ctx, properties)? {
        Some(g) => g.interior_point().map(Geometry::Point).ok_or_else(missing),
        None => Err(missing()),
    }
}

/// Checks the target a record is about and returns its geometry (`None` for layers without
/// targets, or a record that names none).
fn target_of(ctx: &Context, properties: &[Value]) -> Result<Option<Geometry<f64>>, EditError> {
    let Some(target) = ctx.layer.edit().and_then(|e| e.target.as_ref()) else {
        return Ok(None);
    };
    let column = |name: &str| ctx.layer.attributes.iter().position(|a| a.name == name);
    let (Some(lc), Some(ic)) = (
        column(&target.layer_attribute),
        column(&target.id_attribute),
    ) else {
        return Ok(None);
    };
    let (layer_id, feature_id) = match (&properties[lc], &properties[ic]) {
        (Value::Null, Value::Null) => return Ok(None),
        (Value::Str(l), Value::Str(f)) => (l, f),
        _ => {
            return Err(EditError::invalid(format!(
                "properties: give both \"{}\" and \"{}\" to name the feature this record is about",
                target.layer_attribute, target.id_attribute
            )));
        }
    };
    // A target layer the editor cannot see is refused like one that does not exist.
    let layer = target
        .layers
        .iter()
        .any(|l| **l == **layer_id)
        .then(|| ctx.view.layer(layer_id))
        .flatten()
        .ok_or_else(|| {
            EditError::invalid(format!(
                "properties.{}: \"{}\" is not a layer records of this layer can be about",
                target.layer_attribute,
                clip(layer_id)
            ))
        })?;
    let i = layer.position_of(feature_id).ok_or_else(|| {
        EditError::invalid(format!(
            "properties.{}: layer \"{}\" has no feature \"{}\"",
            target.id_attribute,
            layer.id(),
            clip(feature_id)
        ))
    })?;
    Ok(Some(layer.geometry(i).clone()))
}

/// The checks on the whole new state: geometry, required values, server-set values, the
/// workflow and the target.
fn finish(
    ctx: &Context,
    geometry: Geometry<f64>,
    mut properties: Vec<Value>,
) -> Result<Checked, EditError> {
    let edit = ctx
        .layer
        .edit()
        .ok_or_else(|| EditError::Internal(format!("layer {} is not editable", ctx.layer.id)))?;
    let geometry = check_geometry(ctx, edit.geometry, geometry)?;
    let user = ctx.principal().name().to_string();
    for (i, a) in ctx.layer.attributes.iter().enumerate() {
        match a.auto {
            Some(AutoValue::CreatedDate) if ctx.current.is_none() => {
                properties[i] = Value::Date(ctx.today)
            }
            Some(AutoValue::CreatedBy) if ctx.current.is_none() => {
                properties[i] = Value::Str(user.as_str().into())
            }
            Some(AutoValue::UpdatedDate) => properties[i] = Value::Date(ctx.today),
            Some(AutoValue::UpdatedBy) => properties[i] = Value::Str(user.as_str().into()),
            _ => {}
        }
    }
    if let Some(w) = &edit.workflow
        && let Some(i) = ctx
            .layer
            .attributes
            .iter()
            .position(|a| a.name == w.attribute)
    {
        let new = match &properties[i] {
            Value::Str(s) => s.to_string(),
            _ => String::new(),
        };
        match ctx.current.map(|f| &f.properties[i]) {
            None if new.is_empty() => properties[i] = Value::Str(w.initial.as_str().into()),
            None if new != w.initial => {
                return Err(EditError::invalid(format!(
                    "properties.{}: a new record starts as \"{}\"",
                    w.attribute, w.initial
                )));
            }
            None => {}
            // A PUT replaces the whole record: leaving the status out is not a move to "".
            Some(Value::Str(old)) if new.is_empty() => {
                return Err(EditError::invalid(format!(
                    "properties.{}: a value is required (it is \"{old}\" now)",
                    w.attribute
                )));
            }
            Some(Value::Str(old)) if !w.allows(old, &new) => {
                let next = w.transitions.get(&**old).map(|n| n.join(", "));
                return Err(EditError::Conflict(format!(
                    "properties.{}: the status cannot move from \"{old}\" to \"{new}\"; {}",
                    w.attribute,
                    match next {
                        Some(n) => format!("from \"{old}\" it may move to: {n}"),
                        None => format!("\"{old}\" is final"),
                    }
                )));
            }
            Some(_) => {}
        }
    }
    for (i, a) in ctx.layer.attributes.iter().enumerate() {
        let empty = match &properties[i] {
            Value::Null => true,
            Value::Str(s) => s.trim().is_empty(),
            _ => false,
        };
        if a.required && empty && ctx.sees(a) {
            return Err(EditError::invalid(format!(
                "properties.{}: a value is required",
                a.name
            )));
        }
    }
    target_of(ctx, &properties)?;
    Ok(Checked {
        geometry,
        properties,
    })
}

/// The geometry type, finite coordinates, well-formed rings, validity and the town's extent;
/// polygons come back with RFC 7946 ring orientation.
fn check_geometry(
    ctx: &Context,
    kind: crate::model::GeometryKind,
    g: Geometry<f64>,
) -> Result<Geometry<f64>, EditError> {
    let bad = |m: String| EditError::invalid(format!("geometry: {m}"));
    let got = crate::geometry::type_name(&g);
    if got != kind.name() {
        return Err(bad(format!(
            "this layer holds {} geometries, got {got}",
            kind.name()
        )));
    }
    crate::geometry::check(&g).map_err(bad)?;
    if let Err(e) = g.check_validation() {
        return Err(bad(format!("invalid geometry: {e}")));
    }
    if let Some(extent @ [w, s, e, n]) = ctx.view.server().extent
        && let Some(c) = crate::geometry::outside_extent(&g, extent, 0.0)
    {
        return Err(bad(format!(
            "lies at lon {:.5}, lat {:.5}, outside the town (lon {w} to {e}, lat {s} to {n}); \
             coordinates are longitude, latitude in CRS84",
            c.x, c.y
        )));
    }
    Ok(crate::geometry::right_hand_rule(g))
}
