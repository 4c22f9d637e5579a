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

mod apply;
mod blob;
mod log;
mod rows;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::Value as Json;

use super::{
    Change, Committed, EditStore, LogEntry, PhotoMeta, StoreError, StoredFeature, TableSpec,
};
use crate::model::PastState;
use apply::{apply, target_fid, touch_contents};
use log::{LOG_COLUMNS, read_log};
use rows::{feature_from_json, photo_list, read_feature, read_row, select_sql};
use schema::{CORE_TABLES, SIDE_MIGRATIONS, check_spec, prepare_table};

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
            crate::store::create_private(path).map_err(|e| fail(format!("cannot create: {e}")))?;
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
