//! Committing edits: versions, fids, stale targets, concurrent writers, idempotency keys, photos.

use serde_json::json;

use super::*;

#[test]
fn create_replace_delete_restore_keep_versions_and_history() {
    let (_dir, _path, store) = fresh();
    let c = commit(
        &store,
        create(pt(139.7, 35.6), props("陥没", 1, 1)),
        "create",
    );
    let f = c.feature.clone().expect("created feature");
    assert_eq!((f.version, f.created_by.as_str()), (1, "tanaka"));
    assert_eq!(f.created_at, f.updated_at);
    assert!(
        f.created_at.ends_with('Z') && f.created_at.len() == 20,
        "{}",
        f.created_at
    );
    assert_eq!(store.features(LAYER).expect("features"), vec![f.clone()]);

    let r = commit(
        &store,
        replace(c.fid, 1, pt(139.71, 35.61), props("ひび割れ", 2, 2)),
        "replace",
    );
    let replaced = r.feature.clone().expect("replaced feature");
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.properties, props("ひび割れ", 2, 2));
    assert_eq!(replaced.created_at, f.created_at, "creation is kept");
    assert_eq!(
        store.features(LAYER).expect("features"),
        vec![replaced.clone()]
    );
    assert!(r.seq > c.seq);

    let d = commit(&store, delete(c.fid, 2), "delete");
    assert!(d.feature.is_none());
    assert!(store.features(LAYER).expect("features").is_empty());
    let deleted = store.deleted(LAYER).expect("deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].seq, d.seq);

    let back = commit(&store, Op::Restore { fid: c.fid }, "restore");
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
    let a = commit(&store, create(pt(1.0, 1.0), props("a", 1, 1)), "a");
    let b = commit(&store, create(pt(2.0, 2.0), props("b", 2, 2)), "b");
    // Deleting the highest fid is what makes a plain rowid table hand it out again.
    commit(&store, delete(b.fid, 1), "delete b");
    let c = commit(&store, create(pt(3.0, 3.0), props("c", 3, 3)), "c");
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
    let c = commit(&store, create(pt(1.0, 1.0), props("陥没", 1, 1)), "create");
    commit(
        &store,
        replace(c.fid, 1, pt(2.0, 2.0), props("陥没", 2, 2)),
        "first replace",
    );
    let features = store.features(LAYER).expect("features");
    let seq = store.last_seq().expect("seq");

    let stale = store.commit(&change(
        LAYER,
        replace(c.fid, 1, pt(3.0, 3.0), props("落下物", 3, 3)),
    ));
    assert!(
        matches!(
            stale,
            Err(StoreError::VersionMismatch { fid, expected: 1, current: 2 }) if fid == c.fid
        ),
        "{stale:?}"
    );
    let stale_delete = store.commit(&change(LAYER, delete(c.fid, 1)));
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
        replace(c.fid + 100, 1, pt(3.0, 3.0), props("落下物", 3, 3)),
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
                        replace(c.fid, 1, pt(2.0 + i as f64, 2.0), props("陥没", 2, 2)),
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
    commit(
        &store,
        replace(first.fid, 1, pt(139.8, 35.7), props("陥没", 2, 5)),
        "replace",
    );
    let later = store.commit(&keyed(LAYER, op(), "key-1")).expect("later");
    assert!(later.replayed);
    assert_eq!(later.feature.expect("current").version, 2);

    let other_op = store.commit(&keyed(LAYER, delete(first.fid, 2), "key-1"));
    assert!(
        matches!(other_op, Err(StoreError::KeyReused)),
        "{other_op:?}"
    );
    assert_eq!(store.features(LAYER).expect("features").len(), 1);

    // A refused commit does not use up its key: the corrected retry goes through.
    let stale = store.commit(&keyed(LAYER, delete(first.fid, 1), "key-2"));
    assert!(matches!(stale, Err(StoreError::VersionMismatch { .. })));
    let fixed = store
        .commit(&keyed(LAYER, delete(first.fid, 2), "key-2"))
        .expect("delete");
    assert!(!fixed.replayed);
    let replayed_delete = store
        .commit(&keyed(LAYER, delete(first.fid, 2), "key-2"))
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
    let c = commit(
        &store,
        Op::Create {
            geometry: pt(1.0, 1.0),
            properties: props("陥没", 1, 1),
            photos: vec![photo(1), photo(2)],
            receipt_hash: Some([7; 32]),
        },
        "create",
    );
    let more = commit(
        &store,
        Op::AddPhotos {
            fid: c.fid,
            expected_version: None,
            photos: vec![photo(3)],
        },
        "add photos",
    );
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

    let approve = commit(
        &store,
        Op::SetPhotoPublic {
            fid: c.fid,
            n: 2,
            public: true,
            expected_version: 2,
        },
        "approve",
    );
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
    commit(&store, delete(c.fid, 3), "delete");
    assert_eq!(
        store.photos(LAYER, c.fid).expect("photos").len(),
        3,
        "kept after delete"
    );
    assert_eq!(store.by_receipt(LAYER, &[7; 32]).expect("receipt"), None);
    commit(&store, Op::Restore { fid: c.fid }, "restore");
    assert_eq!(
        store.by_receipt(LAYER, &[7; 32]).expect("receipt"),
        Some(c.fid)
    );
    commit(
        &store,
        Op::AddPhotos {
            fid: c.fid,
            expected_version: Some(4),
            photos: vec![photo(4)],
        },
        "add after restore",
    );
    let ns: Vec<i64> = store
        .photos(LAYER, c.fid)
        .expect("photos")
        .iter()
        .map(|p| p.n)
        .collect();
    assert_eq!(ns, [1, 2, 3, 4]);
}
