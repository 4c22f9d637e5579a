//! Features as rows: reading and writing a feature table and its side rows (versions, photos),
//! converting values between catalog, SQLite and history JSON, and checking what may be stored.

use chrono::NaiveDate;
use geo::Geometry;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params};
use serde_json::{Value as Json, json};

use super::schema::sql_type;
use super::{Failure, Layer, SRS_ID, blob, ident};
use crate::edit_store::{NewPhoto, PhotoMeta, StoreError, StoredFeature, TableSpec};
use crate::model::{AttrType, Value};

/// The SELECT of a layer's features with their metadata, ascending fid; `?1` is the layer id
/// and, with `one`, `?2` the fid. Rows written by another program have no metadata row: they
/// read as version 1 with unknown authors.
pub(super) fn select_sql(layer: &Layer, one: bool) -> String {
    let mut columns = format!("t.\"fid\", t.{}", ident(&layer.geom));
    for (name, _) in &layer.spec.columns {
        columns.push_str(", t.");
        columns.push_str(&ident(name));
    }
    format!(
        "SELECT {columns}, coalesce(m.version, 1), coalesce(m.created_at, ''),
                coalesce(m.created_by, ''), coalesce(m.updated_at, ''), coalesce(m.updated_by, '')
         FROM {} AS t
         LEFT JOIN machimap_feature AS m ON m.layer = ?1 AND m.fid = t.\"fid\"
         {}
         ORDER BY t.\"fid\"",
        ident(&layer.spec.layer),
        if one { "WHERE t.\"fid\" = ?2" } else { "" }
    )
}

/// A feature from a row of `select_sql`.
pub(super) fn read_row(
    row: &rusqlite::Row<'_>,
    spec: &TableSpec,
) -> Result<StoredFeature, Failure> {
    let fid: i64 = row.get(0)?;
    let bad = |m: String| Failure::Invalid(format!("feature {fid} of \"{}\": {m}", spec.layer));
    let geometry = match row.get_ref(1)? {
        ValueRef::Blob(b) => blob::decode(b).map_err(|e| bad(format!("geometry: {e}")))?,
        ValueRef::Null => return Err(bad("no geometry".into())),
        _ => return Err(bad("the geometry is not a GeoPackage blob".into())),
    };
    let n = spec.columns.len();
    let mut properties = Vec::with_capacity(n);
    for (i, (name, kind)) in spec.columns.iter().enumerate() {
        let v = value_from_sql(row.get_ref(2 + i)?, *kind)
            .map_err(|e| bad(format!("attribute \"{name}\": {e}")))?;
        properties.push(v);
    }
    Ok(StoredFeature {
        fid,
        version: row.get(2 + n)?,
        geometry,
        properties,
        created_at: row.get(3 + n)?,
        created_by: row.get(4 + n)?,
        updated_at: row.get(5 + n)?,
        updated_by: row.get(6 + n)?,
    })
}

/// A stored cell as a value of the column's type.
fn value_from_sql(v: ValueRef<'_>, kind: AttrType) -> Result<Value, String> {
    let text = |t: &[u8]| {
        std::str::from_utf8(t)
            .map(str::to_string)
            .map_err(|_| "text is not UTF-8".to_string())
    };
    Ok(match (v, kind) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Text(t), AttrType::String) => Value::Str(text(t)?.into()),
        (ValueRef::Integer(i), AttrType::Integer) => Value::Int(i),
        (ValueRef::Real(f), AttrType::Number) => Value::Float(f),
        (ValueRef::Integer(i), AttrType::Number) => Value::Float(i as f64),
        (ValueRef::Integer(0), AttrType::Boolean) => Value::Bool(false),
        (ValueRef::Integer(1), AttrType::Boolean) => Value::Bool(true),
        (ValueRef::Text(t), AttrType::Date) => {
            let s = text(t)?;
            let d = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|_| format!("\"{s}\" is not a date YYYY-MM-DD"))?;
            Value::Date(d)
        }
        (v, kind) => {
            return Err(format!(
                "a stored {:?} value where the column is {}",
                v.data_type(),
                sql_type(kind)
            ));
        }
    })
}

/// A value as SQLite stores it in a GeoPackage column (booleans 0/1, dates as text).
fn value_to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Float(f) => SqlValue::Real(*f),
        Value::Str(s) => SqlValue::Text(s.to_string()),
        Value::Date(d) => SqlValue::Text(d.format("%Y-%m-%d").to_string()),
    }
}

/// A history JSON value back as a value of `kind`.
fn value_from_json(j: &Json, kind: AttrType) -> Option<Value> {
    Some(match (j, kind) {
        (Json::Null, _) => Value::Null,
        (Json::String(s), AttrType::String) => Value::Str(s.as_str().into()),
        (Json::Number(n), AttrType::Integer) => Value::Int(n.as_i64()?),
        (Json::Number(n), AttrType::Number) => Value::Float(n.as_f64()?),
        (Json::Bool(b), AttrType::Boolean) => Value::Bool(*b),
        (Json::String(s), AttrType::Date) => {
            Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?)
        }
        _ => return None,
    })
}

/// Refuses a geometry or properties the layer's table cannot hold as they are, so what is
/// stored always reads back equal and other GeoPackage readers see the declared types.
pub(super) fn check_feature(
    spec: &TableSpec,
    geometry: &Geometry<f64>,
    properties: &[Value],
) -> Result<(), Failure> {
    let bad = |m: String| Failure::Invalid(format!("layer \"{}\": {m}", spec.layer));
    let kind = crate::geometry::type_name(geometry);
    if kind != spec.geometry.name() {
        return Err(bad(format!(
            "the geometry is a {kind}; the layer holds {}",
            spec.geometry.name()
        )));
    }
    if properties.len() != spec.columns.len() {
        return Err(bad(format!(
            "{} property values for {} attributes",
            properties.len(),
            spec.columns.len()
        )));
    }
    for ((name, kind), v) in spec.columns.iter().zip(properties) {
        let fits = match (v, kind) {
            (Value::Null, _)
            | (Value::Str(_), AttrType::String)
            | (Value::Int(_), AttrType::Integer)
            | (Value::Bool(_), AttrType::Boolean)
            | (Value::Date(_), AttrType::Date) => true,
            (Value::Float(f), AttrType::Number) => f.is_finite(),
            _ => false,
        };
        if !fits {
            return Err(bad(format!(
                "attribute \"{name}\" is {}, the value {v} does not fit",
                kind.json_type()
            )));
        }
    }
    Ok(())
}

fn encode_geometry(g: &Geometry<f64>) -> Result<Vec<u8>, Failure> {
    blob::encode(g, SRS_ID).map_err(|e| Failure::Invalid(format!("geometry: {e}")))
}

/// The current state of a feature, `None` if absent.
pub(super) fn read_feature(
    conn: &Connection,
    layer: &Layer,
    fid: i64,
) -> Result<Option<StoredFeature>, Failure> {
    let mut stmt = conn.prepare_cached(&select_sql(layer, true))?;
    let mut rows = stmt.query(params![layer.spec.layer, fid])?;
    match rows.next()? {
        Some(row) => Ok(Some(read_row(row, &layer.spec)?)),
        None => Ok(None),
    }
}

/// The current state of a feature that must exist.
pub(super) fn existing(
    conn: &Connection,
    layer: &Layer,
    fid: i64,
) -> Result<StoredFeature, Failure> {
    read_feature(conn, layer, fid)?.ok_or_else(|| {
        Failure::Refused(StoreError::NoFeature {
            layer: layer.spec.layer.clone(),
            fid,
        })
    })
}

pub(super) fn check_version(f: &StoredFeature, expected: i64) -> Result<(), Failure> {
    if f.version == expected {
        Ok(())
    } else {
        Err(Failure::Refused(StoreError::VersionMismatch {
            fid: f.fid,
            expected,
            current: f.version,
        }))
    }
}

/// The next state's metadata: one version on, changed now by `actor`.
pub(super) fn bumped(before: &StoredFeature, now: &str, actor: &str) -> StoredFeature {
    StoredFeature {
        version: before.version + 1,
        updated_at: now.to_string(),
        updated_by: actor.to_string(),
        ..before.clone()
    }
}

/// Inserts a row; `fid` `None` lets AUTOINCREMENT choose one that was never used.
pub(super) fn insert_row(
    conn: &Connection,
    layer: &Layer,
    fid: Option<i64>,
    geometry: &Geometry<f64>,
    properties: &[Value],
) -> Result<i64, Failure> {
    let mut names = vec!["\"fid\"".to_string(), ident(&layer.geom)];
    names.extend(layer.spec.columns.iter().map(|(n, _)| ident(n)));
    let marks = (1..=names.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut values = vec![
        fid.map_or(SqlValue::Null, SqlValue::Integer),
        SqlValue::Blob(encode_geometry(geometry)?),
    ];
    values.extend(properties.iter().map(value_to_sql));
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks})",
        ident(&layer.spec.layer),
        names.join(", ")
    );
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values))?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn update_row(
    conn: &Connection,
    layer: &Layer,
    fid: i64,
    geometry: &Geometry<f64>,
    properties: &[Value],
) -> Result<(), Failure> {
    let mut sets = vec![format!("{} = ?2", ident(&layer.geom))];
    sets.extend(
        layer
            .spec
            .columns
            .iter()
            .enumerate()
            .map(|(i, (n, _))| format!("{} = ?{}", ident(n), i + 3)),
    );
    let mut values = vec![
        SqlValue::Integer(fid),
        SqlValue::Blob(encode_geometry(geometry)?),
    ];
    values.extend(properties.iter().map(value_to_sql));
    let sql = format!(
        "UPDATE {} SET {} WHERE \"fid\" = ?1",
        ident(&layer.spec.layer),
        sets.join(", ")
    );
    conn.prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values))?;
    Ok(())
}

/// Records a feature's version and authors.
pub(super) fn write_meta(conn: &Connection, layer: &str, f: &StoredFeature) -> Result<(), Failure> {
    conn.prepare_cached(
        "INSERT INTO machimap_feature
             (layer, fid, version, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (layer, fid) DO UPDATE SET
             version = excluded.version, created_at = excluded.created_at,
             created_by = excluded.created_by, updated_at = excluded.updated_at,
             updated_by = excluded.updated_by",
    )?
    .execute(params![
        layer,
        f.fid,
        f.version,
        f.created_at,
        f.created_by,
        f.updated_at,
        f.updated_by
    ])?;
    Ok(())
}

/// Adds photos after the feature's highest `n`, counting photos kept from before a delete.
pub(super) fn insert_photos(
    conn: &Connection,
    layer: &str,
    fid: i64,
    photos: &[NewPhoto],
    now: &str,
) -> Result<(), Failure> {
    let last: i64 = conn.query_row(
        "SELECT coalesce(max(n), 0) FROM machimap_photo WHERE layer = ?1 AND fid = ?2",
        params![layer, fid],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO machimap_photo
             (layer, fid, n, media_type, bytes, width, height, public, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
    )?;
    for (i, p) in photos.iter().enumerate() {
        stmt.execute(params![
            layer,
            fid,
            last + 1 + i as i64,
            p.media_type,
            p.bytes,
            p.width,
            p.height,
            now
        ])?;
    }
    Ok(())
}

pub(super) fn photo_list(
    conn: &Connection,
    layer: &str,
    fid: i64,
) -> Result<Vec<PhotoMeta>, Failure> {
    let mut stmt = conn.prepare_cached(
        "SELECT n, media_type, length(bytes), width, height, public, created_at
         FROM machimap_photo WHERE layer = ?1 AND fid = ?2 ORDER BY n",
    )?;
    let mut rows = stmt.query(params![layer, fid])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let size = |i: usize| -> Result<u32, Failure> {
            let v: i64 = r.get(i)?;
            u32::try_from(v)
                .map_err(|_| Failure::Invalid(format!("photo size {v} is out of range")))
        };
        out.push(PhotoMeta {
            n: r.get(0)?,
            media_type: r.get(1)?,
            size: r.get(2)?,
            width: size(3)?,
            height: size(4)?,
            public: r.get(5)?,
            created_at: r.get(6)?,
        });
    }
    Ok(out)
}

/// A feature as the history keeps it: a GeoJSON Feature with its version and a summary of its
/// photos as foreign members. Coordinates and numbers are written in the shortest form that
/// parses back to the same `f64` (with serde_json's `float_roundtrip`), so a restore brings
/// back exactly what was deleted.
pub(super) fn feature_json(
    spec: &TableSpec,
    f: &StoredFeature,
    photos: &[PhotoMeta],
) -> Result<Json, Failure> {
    let geometry = serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(
        &f.geometry,
    )))
    .map_err(|e| Failure::Invalid(format!("geometry as GeoJSON: {e}")))?;
    let properties: serde_json::Map<String, Json> = spec
        .columns
        .iter()
        .zip(&f.properties)
        .map(|((name, _), v)| (name.clone(), v.to_json()))
        .collect();
    let photos: Vec<Json> = photos
        .iter()
        .map(|p| json!({"n": p.n, "media_type": p.media_type, "public": p.public}))
        .collect();
    Ok(json!({
        "type": "Feature",
        "id": f.fid,
        "version": f.version,
        "geometry": geometry,
        "properties": properties,
        "photos": photos,
    }))
}

/// The geometry, properties (by the current spec; attributes added since are null) and
/// version of a history snapshot.
pub(super) fn feature_from_json(
    spec: &TableSpec,
    j: &Json,
) -> Result<(Geometry<f64>, Vec<Value>, i64), String> {
    let version = j
        .get("version")
        .and_then(Json::as_i64)
        .ok_or("no \"version\"")?;
    let g: geojson::Geometry =
        serde_json::from_value(j.get("geometry").cloned().unwrap_or_default())
            .map_err(|e| format!("geometry: {e}"))?;
    let geometry = Geometry::<f64>::try_from(&g.value).map_err(|e| format!("geometry: {e}"))?;
    let props = j.get("properties").and_then(Json::as_object);
    let mut values = Vec::with_capacity(spec.columns.len());
    for (name, kind) in &spec.columns {
        let v = match props.and_then(|p| p.get(name)) {
            None => Value::Null,
            Some(v) => value_from_json(v, *kind)
                .ok_or_else(|| format!("attribute \"{name}\": {v} is not {}", kind.json_type()))?,
        };
        values.push(v);
    }
    Ok((geometry, values, version))
}
