//! One change applied inside `commit`'s transaction: each `Op` as row writes with the before and
//! after snapshots the change log keeps, and the `gpkg_contents` bookkeeping that follows.

use geo::{BoundingRect, Geometry};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value as Json;

use super::rows::{
    bumped, check_feature, check_version, existing, feature_from_json, feature_json, insert_photos,
    insert_row, photo_list, read_feature, update_row, write_meta,
};
use super::{Failure, Layer, ident};
use crate::edit_store::{Change, Op, StoreError, StoredFeature, TableSpec};

/// What one applied change did, for the log and the result.
pub(super) struct Applied {
    pub(super) fid: i64,
    pub(super) before: Option<Json>,
    pub(super) after: Option<(StoredFeature, Json)>,
}

/// The state after a change, with its history snapshot.
fn snapshot(
    conn: &Connection,
    spec: &TableSpec,
    f: StoredFeature,
) -> Result<(StoredFeature, Json), Failure> {
    let photos = photo_list(conn, &spec.layer, f.fid)?;
    let j = feature_json(spec, &f, &photos)?;
    Ok((f, j))
}

fn before_json(conn: &Connection, spec: &TableSpec, f: &StoredFeature) -> Result<Json, Failure> {
    let photos = photo_list(conn, &spec.layer, f.fid)?;
    feature_json(spec, f, &photos)
}

/// Applies `change` inside the caller's transaction.
pub(super) fn apply(
    conn: &Connection,
    layer: &Layer,
    change: &Change,
    now: &str,
) -> Result<Applied, Failure> {
    let spec = &layer.spec;
    let id = spec.layer.as_str();
    let actor = change.actor.as_str();
    match &change.op {
        Op::Create {
            geometry,
            properties,
            photos,
            receipt_hash,
        } => {
            check_feature(spec, geometry, properties)?;
            let fid = insert_row(conn, layer, None, geometry, properties)?;
            let f = StoredFeature {
                fid,
                version: 1,
                geometry: geometry.clone(),
                properties: properties.clone(),
                created_at: now.to_string(),
                created_by: actor.to_string(),
                updated_at: now.to_string(),
                updated_by: actor.to_string(),
            };
            write_meta(conn, id, &f)?;
            insert_photos(conn, id, fid, photos, now)?;
            if let Some(hash) = receipt_hash {
                conn.execute(
                    "INSERT INTO machimap_receipt (hash, layer, fid) VALUES (?1, ?2, ?3)",
                    params![hash.as_slice(), id, fid],
                )?;
            }
            Ok(Applied {
                fid,
                before: None,
                after: Some(snapshot(conn, spec, f)?),
            })
        }
        Op::Replace {
            fid,
            expected_version,
            geometry,
            properties,
        } => {
            let before = at_version(conn, layer, *fid, *expected_version)?;
            check_feature(spec, geometry, properties)?;
            update_row(conn, layer, *fid, geometry, properties)?;
            let after = StoredFeature {
                geometry: geometry.clone(),
                properties: properties.clone(),
                ..bumped(&before, now, actor)
            };
            write_meta(conn, id, &after)?;
            Ok(Applied {
                fid: *fid,
                before: Some(before_json(conn, spec, &before)?),
                after: Some(snapshot(conn, spec, after)?),
            })
        }
        Op::Delete {
            fid,
            expected_version,
        } => {
            let before = at_version(conn, layer, *fid, *expected_version)?;
            let before = before_json(conn, spec, &before)?;
            conn.execute(
                &format!("DELETE FROM {} WHERE \"fid\" = ?1", ident(id)),
                [fid],
            )?;
            // The metadata row, photos and receipt stay for a restore.
            Ok(Applied {
                fid: *fid,
                before: Some(before),
                after: None,
            })
        }
        Op::Restore { fid } => {
            let nothing = || {
                Failure::Refused(StoreError::NothingToRestore {
                    layer: id.to_string(),
                    fid: *fid,
                })
            };
            if read_feature(conn, layer, *fid)?.is_some() {
                return Err(nothing());
            }
            let deleted: Option<(i64, Option<String>)> = conn
                .query_row(
                    "SELECT seq, \"before\" FROM machimap_history
                     WHERE layer = ?1 AND fid = ?2 AND op = 'delete'
                     ORDER BY seq DESC LIMIT 1",
                    params![id, fid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((seq, Some(text))) = deleted else {
                return Err(nothing());
            };
            let bad = |m: String| Failure::Invalid(format!("history entry {seq}: {m}"));
            let j: Json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            let (geometry, properties, version) = feature_from_json(spec, &j).map_err(bad)?;
            check_feature(spec, &geometry, &properties)?;
            insert_row(conn, layer, Some(*fid), &geometry, &properties)?;
            let created: Option<(String, String)> = conn
                .query_row(
                    "SELECT created_at, created_by FROM machimap_feature
                     WHERE layer = ?1 AND fid = ?2",
                    params![id, fid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (created_at, created_by) =
                created.unwrap_or_else(|| (now.to_string(), actor.to_string()));
            let after = StoredFeature {
                fid: *fid,
                version: version + 1,
                geometry,
                properties,
                created_at,
                created_by,
                updated_at: now.to_string(),
                updated_by: actor.to_string(),
            };
            write_meta(conn, id, &after)?;
            Ok(Applied {
                fid: *fid,
                before: None,
                after: Some(snapshot(conn, spec, after)?),
            })
        }
        Op::AddPhotos {
            fid,
            expected_version,
            photos,
        } => {
            let before = existing(conn, layer, *fid)?;
            if let Some(v) = expected_version {
                check_version(&before, *v)?;
            }
            let before_j = before_json(conn, spec, &before)?;
            insert_photos(conn, id, *fid, photos, now)?;
            new_version(conn, spec, id, &before, before_j, (now, actor))
        }
        Op::SetPhotoPublic {
            fid,
            n,
            public,
            expected_version,
        } => {
            let before = at_version(conn, layer, *fid, *expected_version)?;
            let before_j = before_json(conn, spec, &before)?;
            let changed = conn.execute(
                "UPDATE machimap_photo SET public = ?4 WHERE layer = ?1 AND fid = ?2 AND n = ?3",
                params![id, fid, n, public],
            )?;
            if changed == 0 {
                return Err(Failure::Refused(StoreError::NoPhoto { fid: *fid, n: *n }));
            }
            new_version(conn, spec, id, &before, before_j, (now, actor))
        }
    }
}

/// The fid a change names, if it names one (all but `Create`).
pub(super) fn target_fid(op: &Op) -> Option<i64> {
    match op {
        Op::Create { .. } => None,
        Op::Replace { fid, .. }
        | Op::Delete { fid, .. }
        | Op::Restore { fid }
        | Op::AddPhotos { fid, .. }
        | Op::SetPhotoPublic { fid, .. } => Some(*fid),
    }
}

/// Keeps `gpkg_contents` current: `last_change`, and the extent grown to hold `geometry`.
/// The extent never shrinks on delete; GeoPackage allows a bounding box larger than the data.
pub(super) fn touch_contents(
    conn: &Connection,
    table: &str,
    geometry: Option<&Geometry<f64>>,
) -> Result<(), Failure> {
    match geometry.and_then(|g| g.bounding_rect()) {
        Some(r) => conn.execute(
            "UPDATE gpkg_contents SET
                 last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                 min_x = min(coalesce(min_x, ?2), ?2), min_y = min(coalesce(min_y, ?3), ?3),
                 max_x = max(coalesce(max_x, ?4), ?4), max_y = max(coalesce(max_y, ?5), ?5)
             WHERE table_name = ?1",
            params![table, r.min().x, r.min().y, r.max().x, r.max().y],
        )?,
        None => conn.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE table_name = ?1",
            [table],
        )?,
    };
    Ok(())
}

/// Feature `fid` as it is now, if it is at the version the change was made on.
fn at_version(
    conn: &Connection,
    layer: &Layer,
    fid: i64,
    expected_version: i64,
) -> Result<StoredFeature, Failure> {
    let before = existing(conn, layer, fid)?;
    check_version(&before, expected_version)?;
    Ok(before)
}

/// A change that leaves the row as it is (photos): the feature's next version, by `actor`.
fn new_version(
    conn: &Connection,
    spec: &TableSpec,
    id: &str,
    before: &StoredFeature,
    before_json: Json,
    (now, actor): (&str, &str),
) -> Result<Applied, Failure> {
    let after = bumped(before, now, actor);
    write_meta(conn, id, &after)?;
    Ok(Applied {
        fid: before.fid,
        before: Some(before_json),
        after: Some(snapshot(conn, spec, after)?),
    })
}
