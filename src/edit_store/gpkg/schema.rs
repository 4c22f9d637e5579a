//! The GeoPackage's schema: the core and side tables it creates, how catalog types map to
//! column types, and the checks and DDL that make a layer's feature table fit its spec.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Failure, GEOMETRY_COLUMN, GeoPackage, SRS_ID, ident};
use crate::edit_store::TableSpec;
use crate::model::{AttrType, GeometryKind};

/// The tables every GeoPackage has, and the three SRS rows the standard requires.
pub(super) const CORE_TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
    srs_name                 TEXT NOT NULL,
    srs_id                   INTEGER PRIMARY KEY,
    organization             TEXT NOT NULL,
    organization_coordsys_id INTEGER NOT NULL,
    definition               TEXT NOT NULL,
    description              TEXT
);
CREATE TABLE IF NOT EXISTS gpkg_contents (
    table_name  TEXT NOT NULL PRIMARY KEY,
    data_type   TEXT NOT NULL,
    identifier  TEXT UNIQUE,
    description TEXT DEFAULT '',
    last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    min_x       DOUBLE,
    min_y       DOUBLE,
    max_x       DOUBLE,
    max_y       DOUBLE,
    srs_id      INTEGER,
    CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
    table_name         TEXT NOT NULL,
    column_name        TEXT NOT NULL,
    geometry_type_name TEXT NOT NULL,
    srs_id             INTEGER NOT NULL,
    z                  TINYINT NOT NULL,
    m                  TINYINT NOT NULL,
    CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
    CONSTRAINT uk_gc_table_name UNIQUE (table_name),
    CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
    CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys
    (srs_name, srs_id, organization, organization_coordsys_id, definition, description)
VALUES
    ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined',
     'undefined cartesian coordinate reference system'),
    ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined',
     'undefined geographic coordinate reference system'),
    ('WGS 84 geodetic', 4326, 'EPSG', 4326,
     'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
     'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE IF NOT EXISTS machimap_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

/// Migrations of the `machimap_*` side tables, applied in order; `machimap_meta` row
/// `schema_version` records how many have run. (`PRAGMA user_version` belongs to GeoPackage.)
pub(super) const SIDE_MIGRATIONS: &[&str] = &[
    r#"
-- The version and authors of each feature. Kept after a delete, so a restore continues the
-- version count and keeps who created the feature.
CREATE TABLE machimap_feature (
    layer      TEXT NOT NULL,
    fid        INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (layer, fid)
);
CREATE TABLE machimap_history (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    layer    TEXT NOT NULL,
    fid      INTEGER NOT NULL,
    op       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    client   TEXT NOT NULL,
    at       TEXT NOT NULL,
    "before" TEXT,
    "after"  TEXT
);
CREATE INDEX machimap_history_feature ON machimap_history (layer, fid, seq);
CREATE TRIGGER machimap_history_no_update BEFORE UPDATE ON machimap_history
    BEGIN SELECT RAISE(ABORT, 'the edit history is append-only'); END;
CREATE TRIGGER machimap_history_no_delete BEFORE DELETE ON machimap_history
    BEGIN SELECT RAISE(ABORT, 'the edit history is append-only'); END;
CREATE TABLE machimap_photo (
    layer      TEXT NOT NULL,
    fid        INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    bytes      BLOB NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    public     INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    created_at TEXT NOT NULL,
    PRIMARY KEY (layer, fid, n)
);
-- Only the hash of a resident's receipt code is kept: a copied file reveals no codes.
CREATE TABLE machimap_receipt (
    hash  BLOB PRIMARY KEY CHECK (length(hash) = 32),
    layer TEXT NOT NULL,
    fid   INTEGER NOT NULL
);
CREATE TABLE machimap_idempotency (
    layer TEXT NOT NULL,
    "key" TEXT NOT NULL,
    op    TEXT NOT NULL,
    seq   INTEGER NOT NULL REFERENCES machimap_history (seq),
    fid   INTEGER NOT NULL,
    at    TEXT NOT NULL,
    PRIMARY KEY (layer, "key")
);
"#,
    // 2: idempotency keys belong to the actor who sent them and remember a digest of the
    // request, so another caller's key or another request under the same key never replays a
    // commit. Keys kept from before have no digest: a retry of one is refused, not doubled.
    r#"
CREATE TABLE machimap_idempotency_by_actor (
    layer       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    "key"       TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    op          TEXT NOT NULL,
    seq         INTEGER NOT NULL REFERENCES machimap_history (seq),
    fid         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (layer, actor, "key")
);
INSERT INTO machimap_idempotency_by_actor
    SELECT i.layer, h.actor, i."key", x'', i.op, i.seq, i.fid, i.at
    FROM machimap_idempotency i JOIN machimap_history h ON h.seq = i.seq;
DROP TABLE machimap_idempotency;
ALTER TABLE machimap_idempotency_by_actor RENAME TO machimap_idempotency;
"#,
];

/// The GeoPackage column type of an attribute type.
pub(super) fn sql_type(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "TEXT",
        AttrType::Integer => "INTEGER",
        AttrType::Number => "REAL",
        AttrType::Boolean => "BOOLEAN",
        AttrType::Date => "DATE",
    }
}

/// Whether a declared column type (possibly written by GDAL or QGIS, e.g. `TEXT(80)`,
/// `MEDIUMINT`, `DOUBLE`) holds values of `kind` as GeoPackage defines the types.
fn type_matches(declared: &str, kind: AttrType) -> bool {
    let upper = declared.to_ascii_uppercase();
    let base = upper.split('(').next().unwrap_or("").trim();
    match kind {
        AttrType::String => base == "TEXT",
        AttrType::Integer => matches!(
            base,
            "INTEGER" | "INT" | "MEDIUMINT" | "SMALLINT" | "TINYINT"
        ),
        AttrType::Number => matches!(base, "REAL" | "DOUBLE" | "FLOAT"),
        AttrType::Boolean => base == "BOOLEAN",
        AttrType::Date => base == "DATE",
    }
}

/// The GeoPackage geometry type name (`POINT`, `MULTIPOLYGON`, …).
fn geometry_type_name(kind: GeometryKind) -> String {
    kind.name().to_ascii_uppercase()
}

/// Names SQLite, GeoPackage or this backend reserve for their own tables.
const RESERVED_PREFIXES: &[&str] = &["gpkg_", "rtree_", "sqlite_", "machimap_"];

/// Checks what can be checked of a spec before touching the file.
pub(super) fn check_spec(spec: &TableSpec) -> Result<(), String> {
    let id = &spec.layer;
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "layer id \"{id}\" is not lowercase ASCII letters, digits, '-' and '_'"
        ));
    }
    if let Some(p) = RESERVED_PREFIXES.iter().find(|p| id.starts_with(*p)) {
        return Err(format!("layer ids starting with \"{p}\" are reserved"));
    }
    for (i, (name, _)) in spec.columns.iter().enumerate() {
        if name.is_empty() || name.contains('\0') {
            return Err(format!("attribute {} has an empty or invalid name", i + 1));
        }
        if name.eq_ignore_ascii_case("fid") || name.eq_ignore_ascii_case(GEOMETRY_COLUMN) {
            return Err(format!(
                "attribute \"{name}\" collides with the store's own \"fid\"/\"geom\" column"
            ));
        }
        // SQLite compares column names ignoring ASCII case.
        if spec.columns[..i]
            .iter()
            .any(|(other, _)| other.eq_ignore_ascii_case(name))
        {
            return Err(format!("attribute \"{name}\" appears twice"));
        }
    }
    Ok(())
}

/// Creates or checks the table of `spec` inside `tx`; returns its geometry column.
pub(super) fn prepare_table(
    store: &GeoPackage,
    tx: &Connection,
    spec: &TableSpec,
) -> Result<String, Failure> {
    let table = &spec.layer;
    let mismatch = |m: String| store.mismatch(table, m);
    let registered: Option<(String, String, i64, i64, i64)> = tx
        .query_row(
            "SELECT column_name, geometry_type_name, srs_id, z, m
             FROM gpkg_geometry_columns WHERE table_name = ?1",
            [table],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let exists: i64 = tx.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        [table],
        |r| r.get(0),
    )?;
    let want_type = geometry_type_name(spec.geometry);
    let identifier = unique_identifier(tx, spec)?;
    let Some((geom, type_name, srs_id, z, m)) = registered else {
        if exists > 0 {
            return Err(mismatch(
                "a table of this name exists but is not a GeoPackage feature table".into(),
            ));
        }
        let mut columns = vec![
            "\"fid\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL".to_string(),
            format!("{} {want_type} NOT NULL", ident(GEOMETRY_COLUMN)),
        ];
        columns.extend(
            spec.columns
                .iter()
                .map(|(name, kind)| format!("{} {}", ident(name), sql_type(*kind))),
        );
        tx.execute_batch(&format!(
            "CREATE TABLE {} ({})",
            ident(table),
            columns.join(", ")
        ))?;
        tx.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
             VALUES (?1, 'features', ?2, ?3, ?4)",
            params![table, identifier, spec.description, SRS_ID],
        )?;
        tx.execute(
            "INSERT INTO gpkg_geometry_columns
                 (table_name, column_name, geometry_type_name, srs_id, z, m)
             VALUES (?1, ?2, ?3, ?4, 0, 0)",
            params![table, GEOMETRY_COLUMN, want_type, SRS_ID],
        )?;
        return Ok(GEOMETRY_COLUMN.to_string());
    };
    if exists == 0 {
        return Err(mismatch(
            "registered in gpkg_geometry_columns, but the table is missing".into(),
        ));
    }
    if !type_name.eq_ignore_ascii_case(&want_type) {
        return Err(mismatch(format!(
            "the table holds {type_name} geometries, the catalog says {want_type}"
        )));
    }
    if srs_id != i64::from(SRS_ID) {
        return Err(mismatch(format!(
            "the geometries are in SRS {srs_id}; the edit store keeps EPSG:4326"
        )));
    }
    if z == 1 || m == 1 {
        return Err(mismatch(
            "the geometries must have Z or M values, which the edit store does not keep".into(),
        ));
    }
    // GDAL's R-tree index triggers call SQL functions (ST_MinX, ST_IsEmpty, …) that only GDAL
    // registers: every write from here would fail inside the trigger.
    let rtree: i64 = tx.query_row(
        "SELECT count(*) FROM sqlite_master
         WHERE type = 'trigger' AND tbl_name = ?1 AND name LIKE 'rtree\\_%' ESCAPE '\\'",
        [table],
        |r| r.get(0),
    )?;
    if rtree > 0 {
        return Err(mismatch(
            "the table has a GeoPackage R-tree spatial index, whose triggers need GDAL's SQL \
             functions; recreate it without one (ogr2ogr -lco SPATIAL_INDEX=NO)"
                .into(),
        ));
    }
    let mut existing: Vec<(String, String, i64)> = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT name, type, pk FROM pragma_table_info(?1)")?;
        let mut rows = stmt.query([table])?;
        while let Some(r) = rows.next()? {
            existing.push((r.get(0)?, r.get(1)?, r.get(2)?));
        }
    }
    match existing.iter().find(|c| c.2 == 1) {
        Some((name, kind, _)) if name == "fid" && kind.eq_ignore_ascii_case("INTEGER") => {}
        Some((name, kind, _)) => {
            return Err(mismatch(format!(
                "the primary key is \"{name}\" {kind}; the edit store needs \"fid\" INTEGER"
            )));
        }
        None => return Err(mismatch("the table has no integer primary key".into())),
    }
    for (name, kind) in &spec.columns {
        if name.eq_ignore_ascii_case(&geom) {
            return Err(mismatch(format!(
                "attribute \"{name}\" collides with the geometry column"
            )));
        }
        match existing.iter().find(|c| c.0.eq_ignore_ascii_case(name)) {
            Some((_, declared, _)) if type_matches(declared, *kind) => {}
            Some((found, declared, _)) => {
                return Err(mismatch(format!(
                    "column \"{found}\" is {declared} in the table, the catalog says {} ({})",
                    kind.json_type(),
                    sql_type(*kind)
                )));
            }
            None => {
                tx.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {} {}",
                    ident(table),
                    ident(name),
                    sql_type(*kind)
                ))?;
            }
        }
    }
    tx.execute(
        "UPDATE gpkg_contents SET identifier = ?2, description = ?3
         WHERE table_name = ?1 AND (identifier IS NOT ?2 OR description IS NOT ?3)",
        params![table, identifier, spec.description],
    )?;
    Ok(geom)
}

/// The `gpkg_contents` identifier for a spec: its title (the layer id if untitled), with the
/// id appended if another table already uses that title, since identifiers are unique.
fn unique_identifier(conn: &Connection, spec: &TableSpec) -> Result<String, Failure> {
    let title = if spec.title.is_empty() {
        spec.layer.as_str()
    } else {
        spec.title.as_str()
    };
    let taken: i64 = conn.query_row(
        "SELECT count(*) FROM gpkg_contents WHERE identifier = ?1 AND table_name <> ?2",
        params![title, spec.layer],
        |r| r.get(0),
    )?;
    Ok(if taken > 0 {
        format!("{title} ({})", spec.layer)
    } else {
        title.to_string()
    })
}
