//! The file itself: reopening, refused specs, exact round trips, GeoPackage soundness and the
//! append-only history.

use geo::line_string;

use super::*;

#[test]
fn everything_survives_reopening_and_prepare_follows_the_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("edits.gpkg");
    let (features, log, deleted) = {
        let store = GeoPackage::open(&path).expect("open");
        store
            .prepare(&spec(LAYER, GeometryKind::Point))
            .expect("prepare");
        let a = commit(
            &store,
            Op::Create {
                geometry: pt(139.7, 35.6),
                properties: props("陥没", 1, 1),
                photos: vec![photo(1)],
                receipt_hash: Some([1; 32]),
            },
            "a",
        );
        let b = commit(&store, create(pt(139.8, 35.7), props("段差", 2, 2)), "b");
        commit(&store, delete(b.fid, 1), "delete b");
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
    commit(
        &store,
        replace(1, 1, pt(139.7, 35.6), props6.clone()),
        "replace with the new column",
    );
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
            .commit(&change(layer, delete(*fid, 1)))
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
        let c = commit(
            &store,
            Op::Create {
                geometry: pt(139.0 + f64::from(i) / 100.0, 35.5),
                properties: props("陥没", 1 + i as u32 % 28, i64::from(i)),
                photos: vec![photo(i as u8)],
                receipt_hash: Some([i as u8; 32]),
            },
            "create",
        );
        if i % 3 == 0 {
            commit(&store, delete(c.fid, 1), "delete");
        }
        if i % 9 == 0 {
            commit(&store, Op::Restore { fid: c.fid }, "restore");
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
    commit(&store, create(pt(1.0, 1.0), props("陥没", 1, 1)), "create");
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
