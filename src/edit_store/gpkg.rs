//! The GeoPackage backend of [`EditStore`]: one SQLite file that is an OGC GeoPackage 1.4, so
//! GDAL, QGIS and ArcGIS open the edited layers directly (one feature table per layer, named by
//! the layer id, geometries in EPSG:4326 with x = longitude), plus `machimap_*` side tables that
//! are not GeoPackage contents: per-feature versions and authors, the append-only change log,
//! photos, receipt hashes and idempotency keys. (GDAL still lists them as non-spatial tables:
//! it lists unregistered tables while a file registers no `attributes` table.)
//!
//! Every `commit` runs in one `BEGIN IMMEDIATE` transaction on a WAL database with
//! `synchronous=FULL`: the version check, the write and the log entry are one atomic step, and
//! the step is on disk when `commit` returns.

mod blob;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{NaiveDate, SecondsFormat, Utc};
use geo::{BoundingRect, Geometry};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Value as Json, json};

use super::{
    Change, Committed, EditStore, LogEntry, NewPhoto, Op, PhotoMeta, StoreError, StoredFeature,
    TableSpec,
};
use crate::model::{AttrType, GeometryKind, PastState, Value};

/// `PRAGMA application_id` of every GeoPackage: "GPKG" in ASCII.
const GPKG_APPLICATION_ID: i64 = 0x4750_4B47;
/// `PRAGMA user_version` of a GeoPackage 1.3 file. Nothing this backend writes differs
/// between 1.3 and 1.4, and GDAL 3.6 (Debian 12, and the QGIS built on it) warns that a 1.4
/// file "may only be partially supported".
const GPKG_USER_VERSION: i64 = 10300;
/// The SRS every geometry is stored in: WGS 84 longitude/latitude (GeoPackage orders x, y).
const SRS_ID: i32 = 4326;
/// The name of the geometry column of tables this backend creates.
const GEOMETRY_COLUMN: &str = "geom";

/// The tables every GeoPackage has, and the three SRS rows the standard requires.
const CORE_TABLES: &str = r#"
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
const SIDE_MIGRATIONS: &[&str] = &[
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

/// An edit store in a GeoPackage file.
pub struct GeoPackage {
    location: String,
    inner: Mutex<Inner>,
}

struct Inner {
    conn: Connection,
    /// The layers `prepare` has checked, by id.
    layers: HashMap<String, Layer>,
}

/// A prepared layer: the catalog's table spec and where its geometry lives.
struct Layer {
    spec: TableSpec,
    /// The geometry column's name: `geom` in tables made here, whatever another program
    /// registered in `gpkg_geometry_columns` otherwise.
    geom: String,
}

/// Why a step failed, before the store's location is attached.
enum Failure {
    Sql(rusqlite::Error),
    /// A refusal the caller acts on (`NoFeature`, `VersionMismatch`, `Mismatch`, …).
    Refused(StoreError),
    /// Stored data or a request this backend cannot hold.
    Invalid(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Refused(e)
    }
}

impl GeoPackage {
    /// Opens the GeoPackage at `path`, creating it (and its directory) if missing, and brings
    /// the GeoPackage and side tables up to date. An existing GeoPackage made by another
    /// program is kept; a SQLite file that is not a GeoPackage is refused.
    pub fn open(path: &Path) -> Result<GeoPackage, StoreError> {
        let location = path.display().to_string();
        let fail = |message: String| StoreError::Backend {
            location: location.clone(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        // Edits hold residents' reports and photos: only the server's own user may read the
        // file. SQLite gives its -wal and -shm files the database file's permissions.
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| fail(format!("cannot create: {e}")))?;
        }
        let mut conn = Connection::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| fail(format!("cannot configure: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| fail(format!("cannot configure: {e}")))?;
        initialise(&mut conn).map_err(|f| describe(f, &location, "cannot initialise"))?;
        Ok(GeoPackage {
            location,
            inner: Mutex::new(Inner {
                conn,
                layers: HashMap::new(),
            }),
        })
    }

    /// Runs `f` under the connection lock; failures name the file and `what` was being done.
    fn with<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Inner) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        // A panic while the lock was held dropped its transaction, which rolled back, and
        // `layers` only changes after a commit: the state behind a poisoned lock is sound.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner).map_err(|e| describe(e, &self.location, what))
    }

    fn mismatch(&self, layer: &str, message: String) -> Failure {
        Failure::Refused(StoreError::Mismatch {
            location: self.location.clone(),
            layer: layer.to_string(),
            message,
        })
    }
}

/// The `StoreError` for a failure while doing `what` in the file at `location`.
fn describe(f: Failure, location: &str, what: &str) -> StoreError {
    match f {
        Failure::Refused(e) => e,
        Failure::Sql(e) => StoreError::Backend {
            location: location.to_string(),
            message: format!("{what}: {e}"),
        },
        Failure::Invalid(m) => StoreError::Backend {
            location: location.to_string(),
            message: format!("{what}: {m}"),
        },
    }
}

impl Inner {
    fn layer(&self, id: &str) -> Result<&Layer, Failure> {
        self.layers.get(id).ok_or_else(|| {
            Failure::Invalid(format!(
                "layer \"{id}\" has not been prepared in the edit store \
                 (EditStore::prepare runs when the catalog is loaded)"
            ))
        })
    }
}

/// Makes a new file a GeoPackage, adds what an older one lacks, and migrates the side tables.
fn initialise(conn: &mut Connection) -> Result<(), Failure> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let application_id: i64 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if application_id == 0 && objects == 0 {
        tx.execute_batch(&format!(
            "PRAGMA application_id = {GPKG_APPLICATION_ID}; \
             PRAGMA user_version = {GPKG_USER_VERSION};"
        ))?;
    } else if application_id != GPKG_APPLICATION_ID {
        return Err(Failure::Invalid(format!(
            "the file is a SQLite database but not a GeoPackage \
             (application_id {application_id:#x}); refusing to add tables to it"
        )));
    }
    tx.execute_batch(CORE_TABLES)?;
    let version: i64 = tx
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM machimap_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let known = SIDE_MIGRATIONS.len() as i64;
    if version > known {
        return Err(Failure::Invalid(format!(
            "the machimap tables have schema version {version}; this machimap knows up to \
             {known}"
        )));
    }
    for (n, sql) in SIDE_MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO machimap_meta (key, value) VALUES ('schema_version', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [n as i64 + 1],
        )?;
    }
    // The key of view feature ids: random, made once, kept for the life of the file.
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| Failure::Invalid(format!("no random key for view ids: {e}")))?;
    tx.execute(
        "INSERT OR IGNORE INTO machimap_meta (key, value) VALUES ('view_id_key', ?1)",
        [hex(&key)],
    )?;
    tx.commit()?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SQL identifier in double quotes; quotes inside are doubled, so no name can end it early.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Now, as RFC 3339 UTC with seconds.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The GeoPackage column type of an attribute type.
fn sql_type(kind: AttrType) -> &'static str {
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
fn check_spec(spec: &TableSpec) -> Result<(), String> {
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
fn prepare_table(store: &GeoPackage, tx: &Connection, spec: &TableSpec) -> Result<String, Failure> {
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

/// The SELECT of a layer's features with their metadata, ascending fid; `?1` is the layer id
/// and, with `one`, `?2` the fid. Rows written by another program have no metadata row: they
/// read as version 1 with unknown authors.
fn select_sql(layer: &Layer, one: bool) -> String {
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
fn read_row(row: &rusqlite::Row<'_>, spec: &TableSpec) -> Result<StoredFeature, Failure> {
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
fn check_feature(
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
fn read_feature(
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
fn existing(conn: &Connection, layer: &Layer, fid: i64) -> Result<StoredFeature, Failure> {
    read_feature(conn, layer, fid)?.ok_or_else(|| {
        Failure::Refused(StoreError::NoFeature {
            layer: layer.spec.layer.clone(),
            fid,
        })
    })
}

fn check_version(f: &StoredFeature, expected: i64) -> Result<(), Failure> {
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
fn bumped(before: &StoredFeature, now: &str, actor: &str) -> StoredFeature {
    StoredFeature {
        version: before.version + 1,
        updated_at: now.to_string(),
        updated_by: actor.to_string(),
        ..before.clone()
    }
}

/// Inserts a row; `fid` `None` lets AUTOINCREMENT choose one that was never used.
fn insert_row(
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

fn update_row(
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
fn write_meta(conn: &Connection, layer: &str, f: &StoredFeature) -> Result<(), Failure> {
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
fn insert_photos(
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

fn photo_list(conn: &Connection, layer: &str, fid: i64) -> Result<Vec<PhotoMeta>, Failure> {
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
fn feature_json(
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
fn feature_from_json(
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

/// What one applied change did, for the log and the result.
struct Applied {
    fid: i64,
    before: Option<Json>,
    after: Option<(StoredFeature, Json)>,
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
fn apply(conn: &Connection, layer: &Layer, change: &Change, now: &str) -> Result<Applied, Failure> {
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
            let before = existing(conn, layer, *fid)?;
            check_version(&before, *expected_version)?;
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
            let before = existing(conn, layer, *fid)?;
            check_version(&before, *expected_version)?;
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
            let after = bumped(&before, now, actor);
            write_meta(conn, id, &after)?;
            Ok(Applied {
                fid: *fid,
                before: Some(before_j),
                after: Some(snapshot(conn, spec, after)?),
            })
        }
        Op::SetPhotoPublic {
            fid,
            n,
            public,
            expected_version,
        } => {
            let before = existing(conn, layer, *fid)?;
            check_version(&before, *expected_version)?;
            let before_j = before_json(conn, spec, &before)?;
            let changed = conn.execute(
                "UPDATE machimap_photo SET public = ?4 WHERE layer = ?1 AND fid = ?2 AND n = ?3",
                params![id, fid, n, public],
            )?;
            if changed == 0 {
                return Err(Failure::Refused(StoreError::NoPhoto { fid: *fid, n: *n }));
            }
            let after = bumped(&before, now, actor);
            write_meta(conn, id, &after)?;
            Ok(Applied {
                fid: *fid,
                before: Some(before_j),
                after: Some(snapshot(conn, spec, after)?),
            })
        }
    }
}

/// The fid a change names, if it names one (all but `Create`).
fn target_fid(op: &Op) -> Option<i64> {
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
fn touch_contents(
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

const LOG_COLUMNS: &str = "seq, layer, fid, op, actor, client, at, \"before\", \"after\"";

fn read_log(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LogEntry>, Failure> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let json = |i: usize| -> Result<Option<Json>, Failure> {
            let text: Option<String> = r.get(i)?;
            text.map(|t| {
                serde_json::from_str(&t)
                    .map_err(|e| Failure::Invalid(format!("history entry {seq}: {e}")))
            })
            .transpose()
        };
        out.push(LogEntry {
            seq,
            layer: r.get(1)?,
            fid: r.get(2)?,
            op: r.get(3)?,
            actor: r.get(4)?,
            client: r.get(5)?,
            at: r.get(6)?,
            before: json(7)?,
            after: json(8)?,
        });
    }
    Ok(out)
}

impl EditStore for GeoPackage {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn prepare(&self, spec: &TableSpec) -> Result<(), StoreError> {
        check_spec(spec).map_err(|m| StoreError::Mismatch {
            location: self.location.clone(),
            layer: spec.layer.clone(),
            message: m,
        })?;
        self.with(&format!("preparing \"{}\"", spec.layer), |inner| {
            let tx = inner
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let geom = prepare_table(self, &tx, spec)?;
            tx.commit()?;
            inner.layers.insert(
                spec.layer.clone(),
                Layer {
                    spec: spec.clone(),
                    geom,
                },
            );
            Ok(())
        })
    }

    fn features(&self, layer: &str) -> Result<Vec<StoredFeature>, StoreError> {
        self.with(&format!("reading \"{layer}\""), |inner| {
            let l = inner.layer(layer)?;
            let mut stmt = inner.conn.prepare_cached(&select_sql(l, false))?;
            let mut rows = stmt.query([layer])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(read_row(row, &l.spec)?);
            }
            Ok(out)
        })
    }

    fn commit(&self, change: &Change) -> Result<Committed, StoreError> {
        let what = format!("{} in \"{}\"", change.op.name(), change.layer);
        self.with(&what, |inner| {
            let Inner { conn, layers } = inner;
            let layer = layers.get(&change.layer).ok_or_else(|| {
                Failure::Invalid(format!(
                    "layer \"{}\" has not been prepared in the edit store \
                     (EditStore::prepare runs when the catalog is loaded)",
                    change.layer
                ))
            })?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let op = change.op.name();
            if let Some(key) = &change.idempotency {
                let first: Option<(String, i64, i64, Vec<u8>)> = tx
                    .query_row(
                        "SELECT op, seq, fid, fingerprint FROM machimap_idempotency
                         WHERE layer = ?1 AND actor = ?2 AND \"key\" = ?3",
                        params![change.layer, change.actor, key.key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                if let Some((first_op, seq, fid, fingerprint)) = first {
                    // A retry repeats its request exactly: anything else under the key means
                    // the client reused it for something new.
                    if fingerprint != key.fingerprint
                        || first_op != op
                        || target_fid(&change.op).is_some_and(|f| f != fid)
                    {
                        return Err(Failure::Refused(StoreError::KeyReused));
                    }
                    return Ok(Committed {
                        seq,
                        fid,
                        feature: read_feature(&tx, layer, fid)?,
                        replayed: true,
                    });
                }
            }
            let now = now();
            let applied = apply(&tx, layer, change, &now)?;
            tx.execute(
                "INSERT INTO machimap_history
                     (layer, fid, op, actor, client, at, \"before\", \"after\")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    change.layer,
                    applied.fid,
                    op,
                    change.actor,
                    change.client,
                    now,
                    applied.before.as_ref().map(Json::to_string),
                    applied.after.as_ref().map(|(_, j)| j.to_string()),
                ],
            )?;
            let seq = tx.last_insert_rowid();
            if let Some(key) = &change.idempotency {
                tx.execute(
                    "INSERT INTO machimap_idempotency
                         (layer, actor, \"key\", fingerprint, op, seq, fid, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        change.layer,
                        change.actor,
                        key.key,
                        key.fingerprint.as_slice(),
                        op,
                        seq,
                        applied.fid,
                        now
                    ],
                )?;
            }
            let feature = applied.after.map(|(f, _)| f);
            touch_contents(&tx, &change.layer, feature.as_ref().map(|f| &f.geometry))?;
            tx.commit()?;
            Ok(Committed {
                seq,
                fid: applied.fid,
                feature,
                replayed: false,
            })
        })
    }

    fn log_since(&self, seq: i64, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        self.with("reading the change log", |inner| {
            read_log(
                &inner.conn,
                &format!(
                    "SELECT {LOG_COLUMNS} FROM machimap_history WHERE seq > ?1
                     ORDER BY seq LIMIT ?2"
                ),
                params![seq, i64::try_from(limit).unwrap_or(i64::MAX)],
            )
        })
    }

    fn history(&self, layer: &str, fid: i64) -> Result<Vec<LogEntry>, StoreError> {
        self.with(&format!("reading the history of {layer}/{fid}"), |inner| {
            read_log(
                &inner.conn,
                &format!(
                    "SELECT {LOG_COLUMNS} FROM machimap_history WHERE layer = ?1 AND fid = ?2
                     ORDER BY seq"
                ),
                params![layer, fid],
            )
        })
    }

    fn deleted(&self, layer: &str) -> Result<Vec<LogEntry>, StoreError> {
        self.with(
            &format!("reading the deleted features of \"{layer}\""),
            |inner| {
                inner.layer(layer)?;
                read_log(
                    &inner.conn,
                    &format!(
                        "SELECT {LOG_COLUMNS} FROM machimap_history AS h
                     WHERE h.layer = ?1 AND h.op = 'delete'
                       AND h.seq = (SELECT max(seq) FROM machimap_history
                                    WHERE layer = ?1 AND fid = h.fid AND op = 'delete')
                       AND NOT EXISTS (SELECT 1 FROM {} AS t WHERE t.\"fid\" = h.fid)
                     ORDER BY h.seq DESC",
                        ident(layer)
                    ),
                    [layer],
                )
            },
        )
    }

    fn view_id_key(&self) -> Result<[u8; 32], StoreError> {
        self.with("reading the key of view ids", |inner| {
            let text: String = inner.conn.query_row(
                "SELECT value FROM machimap_meta WHERE key = 'view_id_key'",
                [],
                |r| r.get(0),
            )?;
            let mut key = [0u8; 32];
            let ok = text.len() == 64
                && text.is_ascii()
                && key.iter_mut().enumerate().all(|(i, b)| {
                    u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                        .map(|v| *b = v)
                        .is_ok()
                });
            if !ok {
                return Err(Failure::Invalid(
                    "machimap_meta view_id_key is not 64 hex digits".into(),
                ));
            }
            Ok(key)
        })
    }

    fn last_seq(&self) -> Result<i64, StoreError> {
        self.with("reading the change log", |inner| {
            Ok(inner.conn.query_row(
                "SELECT coalesce(max(seq), 0) FROM machimap_history",
                [],
                |r| r.get(0),
            )?)
        })
    }

    fn state_at(&self, layer: &str, fid: i64, seq: i64) -> Result<Option<PastState>, StoreError> {
        self.with(
            &format!("reading {layer}/{fid} as of change {seq}"),
            |inner| {
                let spec = &inner.layer(layer)?.spec;
                let latest: Option<(i64, Option<String>)> = inner
                    .conn
                    .query_row(
                        "SELECT seq, \"after\" FROM machimap_history
                     WHERE layer = ?1 AND fid = ?2 AND seq <= ?3
                     ORDER BY seq DESC LIMIT 1",
                        params![layer, fid, seq],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let Some((at, Some(text))) = latest else {
                    return Ok(None);
                };
                let bad = |m: String| Failure::Invalid(format!("history entry {at}: {m}"));
                let j: Json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
                let (geometry, properties, version) = feature_from_json(spec, &j).map_err(bad)?;
                Ok(Some(PastState {
                    version,
                    geometry,
                    properties,
                }))
            },
        )
    }

    fn photos(&self, layer: &str, fid: i64) -> Result<Vec<PhotoMeta>, StoreError> {
        self.with(&format!("reading the photos of {layer}/{fid}"), |inner| {
            photo_list(&inner.conn, layer, fid)
        })
    }

    fn photo(
        &self,
        layer: &str,
        fid: i64,
        n: i64,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.with(&format!("reading photo {n} of {layer}/{fid}"), |inner| {
            Ok(inner
                .conn
                .query_row(
                    "SELECT media_type, bytes FROM machimap_photo
                     WHERE layer = ?1 AND fid = ?2 AND n = ?3",
                    params![layer, fid, n],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?)
        })
    }

    fn by_receipt(&self, layer: &str, receipt_hash: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        self.with(&format!("looking up a receipt in \"{layer}\""), |inner| {
            inner.layer(layer)?;
            Ok(inner
                .conn
                .query_row(
                    &format!(
                        "SELECT r.fid FROM machimap_receipt AS r
                         JOIN {} AS t ON t.\"fid\" = r.fid
                         WHERE r.hash = ?1 AND r.layer = ?2",
                        ident(layer)
                    ),
                    params![receipt_hash.as_slice(), layer],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::Command;

    use geo::{LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon, line_string, point};

    use super::*;
    use crate::edit_store::Idempotency;

    const LAYER: &str = "road-damage";

    fn spec(layer: &str, geometry: GeometryKind) -> TableSpec {
        TableSpec {
            layer: layer.into(),
            title: format!("道路損傷通報 {layer}"),
            description: "住民からの道路損傷の通報".into(),
            geometry,
            columns: vec![
                ("種別".into(), AttrType::String),
                ("受付日".into(), AttrType::Date),
                ("件数".into(), AttrType::Integer),
                ("深さ_cm".into(), AttrType::Number),
                ("対応済".into(), AttrType::Boolean),
            ],
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn props(kind: &str, day: u32, count: i64) -> Vec<Value> {
        vec![
            Value::Str(kind.into()),
            Value::Date(date(2024, 4, day)),
            Value::Int(count),
            Value::Float(f64::from(day) * 1.5),
            Value::Bool(count % 2 == 0),
        ]
    }

    fn pt(x: f64, y: f64) -> Geometry<f64> {
        Geometry::Point(point! { x: x, y: y })
    }

    fn change(layer: &str, op: Op) -> Change {
        Change {
            layer: layer.into(),
            op,
            actor: "tanaka".into(),
            client: "192.0.2.10".into(),
            idempotency: None,
        }
    }

    /// `op` under `key`, with the op's name standing for the request it came from.
    fn keyed(layer: &str, op: Op, key: &str) -> Change {
        Change {
            idempotency: Some(Idempotency::new(key.into(), &[op.name().as_bytes()])),
            ..change(layer, op)
        }
    }

    fn create(geometry: Geometry<f64>, properties: Vec<Value>) -> Op {
        Op::Create {
            geometry,
            properties,
            photos: vec![],
            receipt_hash: None,
        }
    }

    fn photo(byte: u8) -> NewPhoto {
        NewPhoto {
            media_type: "image/jpeg",
            bytes: vec![0xFF, 0xD8, byte, 0xFF, 0xD9],
            width: 640,
            height: 480,
        }
    }

    /// A prepared store in a fresh directory (nested, to show `open` creates directories).
    fn fresh() -> (tempfile::TempDir, PathBuf, GeoPackage) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("var/edits.gpkg");
        let store = GeoPackage::open(&path).expect("open");
        store
            .prepare(&spec(LAYER, GeometryKind::Point))
            .expect("prepare");
        (dir, path, store)
    }

    fn sql<T: rusqlite::types::FromSql>(path: &Path, query: &str) -> T {
        let conn = Connection::open(path).expect("open with plain SQLite");
        conn.query_row(query, [], |r| r.get(0)).expect(query)
    }

    fn ops(entries: &[LogEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.op.as_str()).collect()
    }

    #[test]
    fn create_replace_delete_restore_keep_versions_and_history() {
        let (_dir, _path, store) = fresh();
        let c = store
            .commit(&change(LAYER, create(pt(139.7, 35.6), props("陥没", 1, 1))))
            .expect("create");
        let f = c.feature.clone().expect("created feature");
        assert_eq!((f.version, f.created_by.as_str()), (1, "tanaka"));
        assert_eq!(f.created_at, f.updated_at);
        assert!(
            f.created_at.ends_with('Z') && f.created_at.len() == 20,
            "{}",
            f.created_at
        );
        assert_eq!(store.features(LAYER).expect("features"), vec![f.clone()]);

        let r = store
            .commit(&change(
                LAYER,
                Op::Replace {
                    fid: c.fid,
                    expected_version: 1,
                    geometry: pt(139.71, 35.61),
                    properties: props("ひび割れ", 2, 2),
                },
            ))
            .expect("replace");
        let replaced = r.feature.clone().expect("replaced feature");
        assert_eq!(replaced.version, 2);
        assert_eq!(replaced.properties, props("ひび割れ", 2, 2));
        assert_eq!(replaced.created_at, f.created_at, "creation is kept");
        assert_eq!(
            store.features(LAYER).expect("features"),
            vec![replaced.clone()]
        );
        assert!(r.seq > c.seq);

        let d = store
            .commit(&change(
                LAYER,
                Op::Delete {
                    fid: c.fid,
                    expected_version: 2,
                },
            ))
            .expect("delete");
        assert!(d.feature.is_none());
        assert!(store.features(LAYER).expect("features").is_empty());
        let deleted = store.deleted(LAYER).expect("deleted");
        assert_eq!(deleted.len(), 1);
        assert_eq!(deleted[0].seq, d.seq);

        let back = store
            .commit(&change(LAYER, Op::Restore { fid: c.fid }))
            .expect("restore");
        let restored = back.feature.clone().expect("restored feature");
        assert_eq!(back.fid, c.fid, "a restore keeps the fid");
        assert_eq!(restored.version, 3, "deleted version + 1");
        assert_eq!(restored.geometry, replaced.geometry);
        assert_eq!(restored.properties, replaced.properties);
        assert_eq!(restored.created_at, f.created_at);
        assert_eq!(store.features(LAYER).expect("features"), vec![restored]);
        assert!(store.deleted(LAYER).expect("deleted").is_empty());

        let h = store.history(LAYER, c.fid).expect("history");
        assert_eq!(ops(&h), ["create", "update", "delete", "restore"]);
        assert_eq!(store.log_since(0, 100).expect("log"), h);
        assert_eq!(store.last_seq().expect("last seq"), back.seq);
        assert!(
            h.iter()
                .all(|e| e.actor == "tanaka" && e.client == "192.0.2.10")
        );
        assert!(h[0].before.is_none() && h[2].after.is_none() && h[3].before.is_none());
        let created = h[0].after.as_ref().expect("create after");
        assert_eq!(created["type"], "Feature");
        assert_eq!(created["id"], c.fid);
        assert_eq!(created["version"], 1);
        assert_eq!(
            created["geometry"],
            json!({"type": "Point", "coordinates": [139.7, 35.6]})
        );
        assert_eq!(
            created["properties"],
            json!({"種別": "陥没", "受付日": "2024-04-01", "件数": 1, "深さ_cm": 1.5, "対応済": false})
        );
        let update = &h[1];
        assert_eq!(update.before.as_ref(), Some(created));
        let after = update.after.as_ref().expect("update after");
        assert_eq!(after["version"], 2);
        assert_eq!(after["properties"]["種別"], "ひび割れ");
        assert_eq!(after["properties"]["受付日"], "2024-04-02");
        assert_eq!(
            h[2].before.as_ref(),
            Some(after),
            "delete keeps the last state"
        );
        assert_eq!(h[3].after.as_ref().expect("restore after")["version"], 3);

        // The state at each point of the log, as a live subscriber could have seen it.
        let at = |seq: i64| {
            store
                .state_at(LAYER, c.fid, seq)
                .expect("state_at")
                .map(|p| (p.version, p.geometry, p.properties))
        };
        assert_eq!(at(c.seq - 1), None, "before its creation");
        assert_eq!(
            at(c.seq),
            Some((1, f.geometry.clone(), f.properties.clone()))
        );
        assert_eq!(
            at(r.seq),
            Some((2, replaced.geometry.clone(), replaced.properties.clone()))
        );
        assert_eq!(at(d.seq), None, "deleted");
        assert_eq!(at(back.seq).map(|s| s.0), Some(3));
        assert_eq!(at(back.seq + 100).map(|s| s.0), Some(3));
        assert_eq!(
            store.state_at(LAYER, 999, back.seq).expect("state_at"),
            None
        );

        let again = store.commit(&change(LAYER, Op::Restore { fid: c.fid }));
        assert!(
            matches!(again, Err(StoreError::NothingToRestore { fid, .. }) if fid == c.fid),
            "{again:?}"
        );
        let never = store.commit(&change(LAYER, Op::Restore { fid: 999 }));
        assert!(
            matches!(never, Err(StoreError::NothingToRestore { .. })),
            "{never:?}"
        );
    }

    #[test]
    fn fids_are_never_reused() {
        let (_dir, _path, store) = fresh();
        let a = store
            .commit(&change(LAYER, create(pt(1.0, 1.0), props("a", 1, 1))))
            .expect("a");
        let b = store
            .commit(&change(LAYER, create(pt(2.0, 2.0), props("b", 2, 2))))
            .expect("b");
        // Deleting the highest fid is what makes a plain rowid table hand it out again.
        store
            .commit(&change(
                LAYER,
                Op::Delete {
                    fid: b.fid,
                    expected_version: 1,
                },
            ))
            .expect("delete b");
        let c = store
            .commit(&change(LAYER, create(pt(3.0, 3.0), props("c", 3, 3))))
            .expect("c");
        assert!(
            c.fid > b.fid && b.fid > a.fid,
            "{} {} {}",
            a.fid,
            b.fid,
            c.fid
        );
        let fids: Vec<i64> = store
            .features(LAYER)
            .expect("features")
            .iter()
            .map(|f| f.fid)
            .collect();
        assert_eq!(fids, [a.fid, c.fid]);
    }

    #[test]
    fn stale_or_missing_targets_change_nothing() {
        let (_dir, path, store) = fresh();
        let c = store
            .commit(&change(LAYER, create(pt(1.0, 1.0), props("陥没", 1, 1))))
            .expect("create");
        store
            .commit(&change(
                LAYER,
                Op::Replace {
                    fid: c.fid,
                    expected_version: 1,
                    geometry: pt(2.0, 2.0),
                    properties: props("陥没", 2, 2),
                },
            ))
            .expect("first replace");
        let features = store.features(LAYER).expect("features");
        let seq = store.last_seq().expect("seq");

        let stale = store.commit(&change(
            LAYER,
            Op::Replace {
                fid: c.fid,
                expected_version: 1,
                geometry: pt(3.0, 3.0),
                properties: props("落下物", 3, 3),
            },
        ));
        assert!(
            matches!(
                stale,
                Err(StoreError::VersionMismatch { fid, expected: 1, current: 2 }) if fid == c.fid
            ),
            "{stale:?}"
        );
        let stale_delete = store.commit(&change(
            LAYER,
            Op::Delete {
                fid: c.fid,
                expected_version: 1,
            },
        ));
        assert!(matches!(
            stale_delete,
            Err(StoreError::VersionMismatch { .. })
        ));
        let stale_photos = store.commit(&change(
            LAYER,
            Op::AddPhotos {
                fid: c.fid,
                expected_version: Some(1),
                photos: vec![photo(1)],
            },
        ));
        assert!(matches!(
            stale_photos,
            Err(StoreError::VersionMismatch { .. })
        ));
        let missing = store.commit(&change(
            LAYER,
            Op::Replace {
                fid: c.fid + 100,
                expected_version: 1,
                geometry: pt(3.0, 3.0),
                properties: props("落下物", 3, 3),
            },
        ));
        assert!(
            matches!(missing, Err(StoreError::NoFeature { .. })),
            "{missing:?}"
        );

        assert_eq!(store.features(LAYER).expect("features"), features);
        assert_eq!(store.last_seq().expect("seq"), seq);
        assert_eq!(store.history(LAYER, c.fid).expect("history").len(), 2);
        assert!(store.photos(LAYER, c.fid).expect("photos").is_empty());
        let rows: i64 = sql(&path, "SELECT count(*) FROM machimap_history");
        assert_eq!(rows, 2);
    }

    #[test]
    fn two_writers_on_one_version_cannot_both_succeed() {
        let (_dir, path, first) = fresh();
        let second = GeoPackage::open(&path).expect("second connection");
        second
            .prepare(&spec(LAYER, GeometryKind::Point))
            .expect("prepare");
        let c = first
            .commit(&change(LAYER, create(pt(1.0, 1.0), props("陥没", 1, 1))))
            .expect("create");
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<Result<Committed, StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = [&first, &second]
                .into_iter()
                .enumerate()
                .map(|(i, store)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        store.commit(&change(
                            LAYER,
                            Op::Replace {
                                fid: c.fid,
                                expected_version: 1,
                                geometry: pt(2.0 + i as f64, 2.0),
                                properties: props("陥没", 2, 2),
                            },
                        ))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::VersionMismatch { current: 2, .. })))
            .count();
        assert_eq!((ok, refused), (1, 1), "{results:?}");
        assert_eq!(first.history(LAYER, c.fid).expect("history").len(), 2);
    }

    #[test]
    fn idempotency_keys_belong_to_their_actor_and_request() {
        let (_dir, _path, store) = fresh();
        let op = || create(pt(139.7, 35.6), props("陥没", 1, 1));
        let request = |actor: &str, body: &[u8]| Change {
            actor: actor.into(),
            idempotency: Some(Idempotency::new("shared-key-001".into(), &[b"POST", body])),
            ..change(LAYER, op())
        };
        let staff = store.commit(&request("tanaka", b"staff")).expect("staff");
        // Another actor's key is another key: a new commit, not the staff member's result.
        let resident = store.commit(&request("-", b"resident")).expect("resident");
        assert!(!resident.replayed);
        assert_ne!(resident.fid, staff.fid);
        // The same actor, the same key, another request: refused, nothing written.
        let other = store.commit(&request("tanaka", b"another body"));
        assert!(matches!(other, Err(StoreError::KeyReused)), "{other:?}");
        assert_eq!(store.features(LAYER).expect("features").len(), 2);
        // The same request again is the retry it looks like.
        let retry = store.commit(&request("-", b"resident")).expect("retry");
        assert!(retry.replayed);
        assert_eq!(retry.fid, resident.fid);
    }

    #[test]
    fn idempotency_key_replays_the_first_result() {
        let (_dir, _path, store) = fresh();
        let op = || create(pt(139.7, 35.6), props("陥没", 1, 1));
        let first = store.commit(&keyed(LAYER, op(), "key-1")).expect("first");
        assert!(!first.replayed);
        let again = store.commit(&keyed(LAYER, op(), "key-1")).expect("again");
        assert!(again.replayed);
        assert_eq!((again.fid, again.seq), (first.fid, first.seq));
        assert_eq!(again.feature, first.feature);
        assert_eq!(store.features(LAYER).expect("features").len(), 1);
        assert_eq!(store.last_seq().expect("seq"), first.seq);

        // A replay reports the feature as it is now.
        store
            .commit(&change(
                LAYER,
                Op::Replace {
                    fid: first.fid,
                    expected_version: 1,
                    geometry: pt(139.8, 35.7),
                    properties: props("陥没", 2, 5),
                },
            ))
            .expect("replace");
        let later = store.commit(&keyed(LAYER, op(), "key-1")).expect("later");
        assert!(later.replayed);
        assert_eq!(later.feature.expect("current").version, 2);

        let other_op = store.commit(&keyed(
            LAYER,
            Op::Delete {
                fid: first.fid,
                expected_version: 2,
            },
            "key-1",
        ));
        assert!(
            matches!(other_op, Err(StoreError::KeyReused)),
            "{other_op:?}"
        );
        assert_eq!(store.features(LAYER).expect("features").len(), 1);

        // A refused commit does not use up its key: the corrected retry goes through.
        let stale = store.commit(&keyed(
            LAYER,
            Op::Delete {
                fid: first.fid,
                expected_version: 1,
            },
            "key-2",
        ));
        assert!(matches!(stale, Err(StoreError::VersionMismatch { .. })));
        let fixed = store
            .commit(&keyed(
                LAYER,
                Op::Delete {
                    fid: first.fid,
                    expected_version: 2,
                },
                "key-2",
            ))
            .expect("delete");
        assert!(!fixed.replayed);
        let replayed_delete = store
            .commit(&keyed(
                LAYER,
                Op::Delete {
                    fid: first.fid,
                    expected_version: 2,
                },
                "key-2",
            ))
            .expect("replayed delete");
        assert!(replayed_delete.replayed && replayed_delete.feature.is_none());
        assert_eq!(replayed_delete.seq, fixed.seq);

        // Keys are per layer.
        store
            .prepare(&spec("other-layer", GeometryKind::Point))
            .expect("prepare other");
        let elsewhere = store
            .commit(&keyed("other-layer", op(), "key-1"))
            .expect("other layer");
        assert!(!elsewhere.replayed);
    }

    #[test]
    fn photos_are_numbered_kept_and_approved() {
        let (_dir, _path, store) = fresh();
        let c = store
            .commit(&change(
                LAYER,
                Op::Create {
                    geometry: pt(1.0, 1.0),
                    properties: props("陥没", 1, 1),
                    photos: vec![photo(1), photo(2)],
                    receipt_hash: Some([7; 32]),
                },
            ))
            .expect("create");
        let more = store
            .commit(&change(
                LAYER,
                Op::AddPhotos {
                    fid: c.fid,
                    expected_version: None,
                    photos: vec![photo(3)],
                },
            ))
            .expect("add photos");
        assert_eq!(more.feature.expect("feature").version, 2);
        let list = store.photos(LAYER, c.fid).expect("photos");
        assert_eq!(list.iter().map(|p| p.n).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(
            list.iter()
                .all(|p| !p.public && p.size == 5 && p.width == 640)
        );
        assert_eq!(
            store.photo(LAYER, c.fid, 3).expect("photo"),
            Some(("image/jpeg".to_string(), photo(3).bytes))
        );
        assert_eq!(store.photo(LAYER, c.fid, 4).expect("photo"), None);

        let approve = store
            .commit(&change(
                LAYER,
                Op::SetPhotoPublic {
                    fid: c.fid,
                    n: 2,
                    public: true,
                    expected_version: 2,
                },
            ))
            .expect("approve");
        assert_eq!(approve.feature.expect("feature").version, 3);
        let list = store.photos(LAYER, c.fid).expect("photos");
        assert_eq!(
            list.iter().map(|p| p.public).collect::<Vec<_>>(),
            [false, true, false]
        );
        let h = store.history(LAYER, c.fid).expect("history");
        assert_eq!(ops(&h), ["create", "photos", "photo-public"]);
        let after = h[2].after.as_ref().expect("after");
        assert_eq!(
            after["photos"][1],
            json!({"n": 2, "media_type": "image/jpeg", "public": true})
        );
        let no_photo = store.commit(&change(
            LAYER,
            Op::SetPhotoPublic {
                fid: c.fid,
                n: 9,
                public: true,
                expected_version: 3,
            },
        ));
        assert!(
            matches!(no_photo, Err(StoreError::NoPhoto { n: 9, .. })),
            "{no_photo:?}"
        );
        // An approval made on an older version is refused: another approver changed it.
        let stale = store.commit(&change(
            LAYER,
            Op::SetPhotoPublic {
                fid: c.fid,
                n: 1,
                public: true,
                expected_version: 2,
            },
        ));
        assert!(
            matches!(stale, Err(StoreError::VersionMismatch { .. })),
            "{stale:?}"
        );

        assert_eq!(
            store.by_receipt(LAYER, &[7; 32]).expect("receipt"),
            Some(c.fid)
        );
        assert_eq!(store.by_receipt(LAYER, &[8; 32]).expect("receipt"), None);
        store
            .commit(&change(
                LAYER,
                Op::Delete {
                    fid: c.fid,
                    expected_version: 3,
                },
            ))
            .expect("delete");
        assert_eq!(
            store.photos(LAYER, c.fid).expect("photos").len(),
            3,
            "kept after delete"
        );
        assert_eq!(store.by_receipt(LAYER, &[7; 32]).expect("receipt"), None);
        store
            .commit(&change(LAYER, Op::Restore { fid: c.fid }))
            .expect("restore");
        assert_eq!(
            store.by_receipt(LAYER, &[7; 32]).expect("receipt"),
            Some(c.fid)
        );
        store
            .commit(&change(
                LAYER,
                Op::AddPhotos {
                    fid: c.fid,
                    expected_version: Some(4),
                    photos: vec![photo(4)],
                },
            ))
            .expect("add after restore");
        let ns: Vec<i64> = store
            .photos(LAYER, c.fid)
            .expect("photos")
            .iter()
            .map(|p| p.n)
            .collect();
        assert_eq!(ns, [1, 2, 3, 4]);
    }

    #[test]
    fn everything_survives_reopening_and_prepare_follows_the_catalog() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("edits.gpkg");
        let (features, log, deleted) = {
            let store = GeoPackage::open(&path).expect("open");
            store
                .prepare(&spec(LAYER, GeometryKind::Point))
                .expect("prepare");
            let a = store
                .commit(&change(
                    LAYER,
                    Op::Create {
                        geometry: pt(139.7, 35.6),
                        properties: props("陥没", 1, 1),
                        photos: vec![photo(1)],
                        receipt_hash: Some([1; 32]),
                    },
                ))
                .expect("a");
            let b = store
                .commit(&change(LAYER, create(pt(139.8, 35.7), props("段差", 2, 2))))
                .expect("b");
            store
                .commit(&change(
                    LAYER,
                    Op::Delete {
                        fid: b.fid,
                        expected_version: 1,
                    },
                ))
                .expect("delete b");
            assert_eq!(a.fid, 1);
            (
                store.features(LAYER).expect("features"),
                store.log_since(0, 100).expect("log"),
                store.deleted(LAYER).expect("deleted"),
            )
        };
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the file is private to its owner: {mode:o}"
        );

        let store = GeoPackage::open(&path).expect("reopen");
        let unprepared = store.features(LAYER);
        assert!(
            matches!(&unprepared, Err(StoreError::Backend { message, .. }) if message.contains("not been prepared")),
            "{unprepared:?}"
        );
        let unprepared = store.commit(&change(LAYER, create(pt(1.0, 1.0), props("x", 1, 1))));
        assert!(
            matches!(unprepared, Err(StoreError::Backend { .. })),
            "{unprepared:?}"
        );

        store
            .prepare(&spec(LAYER, GeometryKind::Point))
            .expect("prepare again");
        assert_eq!(store.features(LAYER).expect("features"), features);
        assert_eq!(store.log_since(0, 100).expect("log"), log);
        assert_eq!(store.deleted(LAYER).expect("deleted"), deleted);
        assert_eq!(store.photos(LAYER, 1).expect("photos").len(), 1);
        assert_eq!(store.by_receipt(LAYER, &[1; 32]).expect("receipt"), Some(1));
        assert_eq!(store.log_since(1, 1).expect("page").len(), 1);
        assert_eq!(store.log_since(1, 1).expect("page")[0].seq, 2);

        // The catalog gained an attribute: the table gains the column, old rows read null.
        let mut wider = spec(LAYER, GeometryKind::Point);
        wider.columns.push(("備考".into(), AttrType::String));
        store.prepare(&wider).expect("prepare wider");
        store.prepare(&wider).expect("prepare is idempotent");
        let read = store.features(LAYER).expect("features");
        assert_eq!(read[0].properties.len(), 6);
        assert_eq!(read[0].properties[5], Value::Null);
        let declared: String = sql(
            &path,
            &format!("SELECT type FROM pragma_table_info('{LAYER}') WHERE name = '備考'"),
        );
        assert_eq!(declared, "TEXT");
        let mut props6 = props("陥没", 3, 3);
        props6.push(Value::Str("歩道側".into()));
        store
            .commit(&change(
                LAYER,
                Op::Replace {
                    fid: 1,
                    expected_version: 1,
                    geometry: pt(139.7, 35.6),
                    properties: props6.clone(),
                },
            ))
            .expect("replace with the new column");
        assert_eq!(
            store.features(LAYER).expect("features")[0].properties,
            props6
        );

        let mut changed = spec(LAYER, GeometryKind::Point);
        changed.columns[2].1 = AttrType::String;
        let refused = store.prepare(&changed);
        assert!(
            matches!(&refused, Err(StoreError::Mismatch { message, .. }) if message.contains("件数")),
            "{refused:?}"
        );
        let refused = store.prepare(&spec(LAYER, GeometryKind::Polygon));
        assert!(
            matches!(&refused, Err(StoreError::Mismatch { message, .. }) if message.contains("POLYGON")),
            "{refused:?}"
        );
        // A refused prepare leaves the layer as it was prepared before.
        assert_eq!(
            store.features(LAYER).expect("features")[0].properties,
            props6
        );
    }

    #[test]
    fn specs_that_cannot_be_tables_are_refused() {
        let (_dir, _path, store) = fresh();
        for (layer, column) in [
            ("gpkg_contents", "種別"),
            ("machimap_history", "種別"),
            ("Upper", "種別"),
            ("ok-layer", "fid"),
            ("ok-layer", "GEOM"),
        ] {
            let mut s = spec(layer, GeometryKind::Point);
            s.columns[0].0 = column.into();
            let r = store.prepare(&s);
            assert!(
                matches!(r, Err(StoreError::Mismatch { .. })),
                "{layer}/{column}: {r:?}"
            );
        }
        // Values the table cannot hold as declared are refused before anything is written.
        let wrong = store.commit(&change(LAYER, create(pt(1.0, 1.0), vec![Value::Int(1); 5])));
        assert!(
            matches!(wrong, Err(StoreError::Backend { .. })),
            "{wrong:?}"
        );
        let line = Geometry::LineString(line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)]);
        let wrong = store.commit(&change(LAYER, create(line, props("x", 1, 1))));
        assert!(
            matches!(wrong, Err(StoreError::Backend { .. })),
            "{wrong:?}"
        );
        assert_eq!(store.last_seq().expect("seq"), 0);
    }

    /// One geometry of each kind, with coordinates whose shortest decimal forms are long.
    fn geometries() -> Vec<(GeometryKind, Geometry<f64>)> {
        let x = 139.0 + 1.0 / 3.0;
        let y = 35.0 + 0.1 + 0.2;
        let ring = |dx: f64| {
            LineString::from(vec![
                (x + dx, y),
                (x + dx + 0.01, y),
                (x + dx + 0.01, y + 0.01),
                (x + dx, y + 0.01),
                (x + dx, y),
            ])
        };
        let hole = LineString::from(vec![
            (x + 0.002, y + 0.002),
            (x + 0.002, y + 0.004),
            (x + 0.004, y + 0.004),
            (x + 0.002, y + 0.002),
        ]);
        vec![
            // Default serde_json parsing reads this one back 1 ulp off (see `float_roundtrip`).
            (GeometryKind::Point, pt(136.82311861277213, y)),
            (
                GeometryKind::LineString,
                Geometry::LineString(LineString::from(vec![(x, y), (x + 1e-9, y - 1e-9)])),
            ),
            (
                GeometryKind::Polygon,
                Geometry::Polygon(Polygon::new(ring(0.0), vec![hole.clone()])),
            ),
            (
                GeometryKind::MultiPoint,
                Geometry::MultiPoint(MultiPoint(vec![
                    point! { x: x, y: y },
                    point! { x: -x, y: -y },
                ])),
            ),
            (
                GeometryKind::MultiLineString,
                Geometry::MultiLineString(MultiLineString(vec![ring(0.0), ring(1.0)])),
            ),
            (
                GeometryKind::MultiPolygon,
                Geometry::MultiPolygon(MultiPolygon(vec![
                    Polygon::new(ring(0.0), vec![hole]),
                    Polygon::new(ring(0.5), vec![]),
                ])),
            ),
        ]
    }

    fn every_value() -> Vec<Vec<Value>> {
        vec![
            vec![
                Value::Str("陥没（歩道）\"引用\" 'quote' 🚧".into()),
                Value::Date(date(2024, 2, 29)),
                Value::Int(i64::MAX),
                Value::Float(121.04940354630095),
                Value::Bool(true),
            ],
            vec![
                Value::Str(String::new().into()),
                Value::Date(date(1989, 1, 8)),
                Value::Int(i64::MIN),
                Value::Float(-(0.1 + 0.2)),
                Value::Bool(false),
            ],
            vec![Value::Null; 5],
        ]
    }

    fn layer_of(kind: GeometryKind) -> String {
        format!("kind-{}", kind.name().to_ascii_lowercase())
    }

    #[test]
    fn every_value_and_geometry_kind_round_trips_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("edits.gpkg");
        let mut written = Vec::new();
        {
            let store = GeoPackage::open(&path).expect("open");
            for (kind, g) in geometries() {
                let layer = layer_of(kind);
                store.prepare(&spec(&layer, kind)).expect("prepare");
                for values in every_value() {
                    let c = store
                        .commit(&change(&layer, create(g.clone(), values.clone())))
                        .expect("create");
                    written.push((layer.clone(), c.fid, g.clone(), values));
                }
            }
        }
        let store = GeoPackage::open(&path).expect("reopen");
        for (kind, _) in geometries() {
            store
                .prepare(&spec(&layer_of(kind), kind))
                .expect("prepare");
        }
        let check = |f: &StoredFeature, g: &Geometry<f64>, values: &[Value], what: &str| {
            // Debug output shows every f64 in its shortest exact form, and -0.0 apart from
            // 0.0: equal text means equal bits.
            assert_eq!(format!("{:?}", f.geometry), format!("{g:?}"), "{what}");
            assert_eq!(
                format!("{:?}", f.properties),
                format!("{values:?}"),
                "{what}"
            );
        };
        for (layer, fid, g, values) in &written {
            let all = store.features(layer).expect("features");
            let f = all.iter().find(|f| f.fid == *fid).expect("written feature");
            check(f, g, values, &format!("{layer}/{fid} after reopening"));
        }
        // The history's JSON is exact too: a delete and restore gives back the same bits.
        for (layer, fid, g, values) in &written {
            store
                .commit(&change(
                    layer,
                    Op::Delete {
                        fid: *fid,
                        expected_version: 1,
                    },
                ))
                .expect("delete");
            let back = store
                .commit(&change(layer, Op::Restore { fid: *fid }))
                .expect("restore");
            check(
                &back.feature.expect("restored"),
                g,
                values,
                &format!("{layer}/{fid} restored"),
            );
            let read = store.features(layer).expect("features");
            let f = read
                .iter()
                .find(|f| f.fid == *fid)
                .expect("restored feature");
            check(f, g, values, &format!("{layer}/{fid} restored, read back"));
        }
    }

    #[test]
    fn file_is_a_sound_geopackage_after_a_batch_of_changes() {
        let (_dir, path, store) = fresh();
        for i in 0..40 {
            let c = store
                .commit(&change(
                    LAYER,
                    Op::Create {
                        geometry: pt(139.0 + f64::from(i) / 100.0, 35.5),
                        properties: props("陥没", 1 + i as u32 % 28, i64::from(i)),
                        photos: vec![photo(i as u8)],
                        receipt_hash: Some([i as u8; 32]),
                    },
                ))
                .expect("create");
            if i % 3 == 0 {
                store
                    .commit(&change(
                        LAYER,
                        Op::Delete {
                            fid: c.fid,
                            expected_version: 1,
                        },
                    ))
                    .expect("delete");
            }
            if i % 9 == 0 {
                store
                    .commit(&change(LAYER, Op::Restore { fid: c.fid }))
                    .expect("restore");
            }
        }
        drop(store);
        let text: String = sql(&path, "PRAGMA integrity_check");
        assert_eq!(text, "ok");
        let conn = Connection::open(&path).expect("open");
        let fk_problems: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .expect("fk check");
        assert_eq!(fk_problems, 0);
        let app: i64 = sql(&path, "PRAGMA application_id");
        assert_eq!(app, 0x4750_4B47);
        let version: i64 = sql(&path, "PRAGMA user_version");
        assert_eq!(version, 10300);
        let mode: String = sql(&path, "PRAGMA journal_mode");
        assert_eq!(mode, "wal");
        let srs: i64 = sql(
            &path,
            "SELECT count(*) FROM gpkg_spatial_ref_sys WHERE srs_id IN (-1, 0, 4326)",
        );
        assert_eq!(srs, 3);
        let registered: String = sql(
            &path,
            &format!(
                "SELECT data_type || ' ' || identifier || ' ' || srs_id FROM gpkg_contents \
                 WHERE table_name = '{LAYER}'"
            ),
        );
        assert_eq!(registered, format!("features 道路損傷通報 {LAYER} 4326"));
        let geometry: String = sql(
            &path,
            &format!(
                "SELECT column_name || ' ' || geometry_type_name || ' ' || srs_id || z || m \
                 FROM gpkg_geometry_columns WHERE table_name = '{LAYER}'"
            ),
        );
        assert_eq!(geometry, "geom POINT 432600");
        let (min_x, max_x): (f64, f64) = conn
            .query_row(
                "SELECT min_x, max_x FROM gpkg_contents WHERE table_name = ?1",
                [LAYER],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("extent");
        assert_eq!((min_x, max_x), (139.0, 139.39));
        let side: i64 = sql(
            &path,
            "SELECT count(*) FROM gpkg_contents WHERE table_name LIKE 'machimap%'",
        );
        assert_eq!(side, 0, "side tables are not GeoPackage contents");
        let schema: String = sql(
            &path,
            "SELECT value FROM machimap_meta WHERE key = 'schema_version'",
        );
        assert_eq!(schema, SIDE_MIGRATIONS.len().to_string());
    }

    #[test]
    fn history_is_append_only() {
        let (_dir, path, store) = fresh();
        store
            .commit(&change(LAYER, create(pt(1.0, 1.0), props("陥没", 1, 1))))
            .expect("create");
        let conn = Connection::open(&path).expect("open");
        let update = conn.execute("UPDATE machimap_history SET actor = 'someone else'", []);
        assert!(update.is_err(), "an update of the history must fail");
        let delete = conn.execute("DELETE FROM machimap_history", []);
        assert!(delete.is_err(), "a delete from the history must fail");
        let n: i64 = sql(
            &path,
            "SELECT count(*) FROM machimap_history WHERE actor = 'tanaka'",
        );
        assert_eq!(n, 1);
    }

    /// Runs a GDAL tool; `None` (test skipped) when GDAL is not installed, except under CI.
    fn gdal(tool: &str, args: &[&str]) -> Option<String> {
        let out = match Command::new(tool).args(args).output() {
            Ok(out) => out,
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{tool} cannot run ({e}); CI needs Debian's gdal-bin"
                );
                eprintln!("skipped: {tool} cannot run ({e}); apt-get install gdal-bin");
                return None;
            }
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
        Some(text)
    }

    /// GDAL's name of a geometry type in `ogrinfo` output.
    fn ogr_name(kind: GeometryKind) -> &'static str {
        match kind {
            GeometryKind::Point => "Point",
            GeometryKind::LineString => "Line String",
            GeometryKind::Polygon => "Polygon",
            GeometryKind::MultiPoint => "Multi Point",
            GeometryKind::MultiLineString => "Multi Line String",
            GeometryKind::MultiPolygon => "Multi Polygon",
        }
    }

    /// The lines of GDAL output that report a problem.
    fn complaints(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.contains("ERROR") || l.contains("Warning"))
            .collect()
    }

    #[test]
    fn ogrinfo_reads_every_layer_without_complaint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("edits.gpkg");
        {
            let store = GeoPackage::open(&path).expect("open");
            for (kind, g) in geometries() {
                let layer = layer_of(kind);
                store.prepare(&spec(&layer, kind)).expect("prepare");
                for values in every_value() {
                    store
                        .commit(&change(&layer, create(g.clone(), values)))
                        .expect("create");
                }
            }
            store
                .prepare(&spec(LAYER, GeometryKind::Point))
                .expect("prepare");
            let c = store
                .commit(&change(LAYER, create(pt(139.7, 35.6), props("陥没", 1, 7))))
                .expect("create");
            store
                .commit(&change(
                    LAYER,
                    Op::Replace {
                        fid: c.fid,
                        expected_version: 1,
                        geometry: pt(139.75, 35.65),
                        properties: props("ひび割れ", 9, 7),
                    },
                ))
                .expect("replace");
        }
        let file = path.to_str().expect("utf-8 path");
        let Some(summary) = gdal("ogrinfo", &["-ro", "-al", "-so", file]) else {
            return;
        };
        assert_eq!(complaints(&summary), Vec::<&str>::new(), "{summary}");
        let layers: Vec<&str> = summary.split("Layer name: ").skip(1).collect();
        let mut names: Vec<&str> = layers
            .iter()
            .filter_map(|s| s.lines().next())
            .filter(|n| !n.starts_with("machimap_"))
            .collect();
        names.sort_unstable();
        let mut expected: Vec<String> = geometries().iter().map(|(k, _)| layer_of(*k)).collect();
        expected.push(LAYER.into());
        expected.sort_unstable();
        assert_eq!(names, expected, "{summary}");
        // GDAL lists tables missing from gpkg_contents as non-spatial tables while a file
        // registers no attribute tables: the side tables show up, but never as map layers.
        for s in layers.iter().filter(|s| s.starts_with("machimap_")) {
            assert!(s.contains("Geometry: None"), "{s}");
        }
        for (kind, _) in geometries() {
            let name = layer_of(kind);
            let section = layers
                .iter()
                .find(|s| s.starts_with(&format!("{name}\n")))
                .unwrap_or_else(|| panic!("no layer {name} in:\n{summary}"));
            for line in [
                format!("Geometry: {}", ogr_name(kind)),
                "Feature Count: 3".to_string(),
                format!("IDENTIFIER=道路損傷通報 {name}"),
                "FID Column = fid".into(),
                "Geometry Column NOT NULL = geom".into(),
                "種別: String".into(),
                "受付日: Date".into(),
                "件数: Integer64".into(),
                "深さ_cm: Real".into(),
                "対応済: Integer(Boolean)".into(),
            ] {
                assert!(
                    section.contains(&line),
                    "{name}: no \"{line}\" in:\n{section}"
                );
            }
        }
        let Some(dump) = gdal("ogrinfo", &["-ro", "-al", file, LAYER]) else {
            return;
        };
        assert_eq!(complaints(&dump), Vec::<&str>::new(), "{dump}");
        for line in [
            "種別 (String) = ひび割れ",
            "受付日 (Date) = 2024/04/09",
            "件数 (Integer64) = 7",
            "深さ_cm (Real) = 13.5",
            "対応済 (Integer(Boolean)) = 0",
            "POINT (139.75 35.65)",
        ] {
            assert!(dump.contains(line), "no \"{line}\" in:\n{dump}");
        }
    }

    #[test]
    fn a_geopackage_written_by_gdal_is_read_and_edited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gdal.gpkg");
        let file = path.to_str().expect("utf-8 path");
        let geojson_of = |g: &Geometry<f64>| {
            json!({"type": "FeatureCollection", "features": [{
                "type": "Feature",
                "geometry": serde_json::to_value(geojson::Geometry::new(
                    geojson::GeometryValue::from(g),
                )).expect("geometry json"),
                "properties": {"種別": "陥没", "件数": 3, "深さ_cm": 2.5},
            }]})
        };
        let columns = vec![
            ("種別".to_string(), AttrType::String),
            ("件数".to_string(), AttrType::Integer),
            ("深さ_cm".to_string(), AttrType::Number),
        ];
        for (i, (kind, g)) in geometries().into_iter().enumerate() {
            let source = dir.path().join(format!("{i}.geojson"));
            std::fs::write(&source, geojson_of(&g).to_string()).expect("write geojson");
            let layer = layer_of(kind);
            let mut args = vec!["-f", "GPKG", "-lco", "SPATIAL_INDEX=NO", "-nln", &layer];
            if i > 0 {
                args.push("-update");
            }
            let source = source.to_str().expect("utf-8 path").to_string();
            args.extend([file, source.as_str()]);
            if gdal("ogr2ogr", &args).is_none() {
                return;
            }
        }
        let store = GeoPackage::open(&path).expect("open GDAL's file");
        for (kind, g) in geometries() {
            let layer = layer_of(kind);
            let s = TableSpec {
                columns: columns.clone(),
                ..spec(&layer, kind)
            };
            store.prepare(&s).expect("prepare GDAL's table");
            let read = store.features(&layer).expect("features");
            assert_eq!(read.len(), 1);
            assert_eq!(
                format!("{:?}", read[0].geometry),
                format!("{g:?}"),
                "{layer}"
            );
            assert_eq!(
                read[0].properties,
                [Value::Str("陥没".into()), Value::Int(3), Value::Float(2.5)]
            );
            assert_eq!(
                read[0].version, 1,
                "rows without metadata read as version 1"
            );
            store
                .commit(&change(
                    &layer,
                    Op::Replace {
                        fid: read[0].fid,
                        expected_version: 1,
                        geometry: g.clone(),
                        properties: vec![Value::Str("補修済".into()), Value::Int(4), Value::Null],
                    },
                ))
                .expect("edit GDAL's table");
        }
        drop(store);
        let Some(dump) = gdal("ogrinfo", &["-ro", "-al", file]) else {
            return;
        };
        assert!(dump.contains("種別 (String) = 補修済"), "{dump}");
        assert_eq!(complaints(&dump), Vec::<&str>::new(), "{dump}");

        // GDAL's default R-tree index has triggers only GDAL can run: refused up front.
        let indexed = dir.path().join("indexed.gpkg");
        let indexed = indexed.to_str().expect("utf-8 path");
        let source = dir.path().join("0.geojson");
        let source = source.to_str().expect("utf-8 path");
        if gdal(
            "ogr2ogr",
            &["-f", "GPKG", "-nln", "points", indexed, source],
        )
        .is_none()
        {
            return;
        }
        let store = GeoPackage::open(Path::new(indexed)).expect("open");
        let refused = store.prepare(&TableSpec {
            columns,
            ..spec("points", GeometryKind::Point)
        });
        assert!(
            matches!(&refused, Err(StoreError::Mismatch { message, .. }) if message.contains("R-tree")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_sqlite_file_that_is_not_a_geopackage_is_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("other.sqlite");
        Connection::open(&path)
            .expect("create")
            .execute_batch("CREATE TABLE user (id INTEGER PRIMARY KEY)")
            .expect("table");
        let r = GeoPackage::open(&path);
        assert!(
            matches!(&r, Err(StoreError::Backend { message, .. }) if message.contains("not a GeoPackage")),
            "{:?}",
            r.err()
        );
        let tables: i64 = sql(&path, "SELECT count(*) FROM sqlite_master");
        assert_eq!(tables, 1);
    }
}
