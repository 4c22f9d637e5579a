//! Editable layers through OGC API – Features Part 4, in process over the sample catalog with a
//! real GeoPackage in a temporary folder: the edit life cycle with its history and restore,
//! two editors on one feature, and bad input that must leave the store as it was.

mod common;

use axum::http::{Method, StatusCode, header};
use machimap::edit_store::EditStore;
use serde_json::{Value as Json, json};

use common::response::header_text;
use common::town::{description, doc, report, town};

const REPORTS: &str = "/collections/damage-reports/items";

#[tokio::test]
async fn a_feature_lives_through_create_change_delete_and_restore_with_its_history() {
    let t = town();
    let (status, headers, body) = t
        .json(
            Method::POST,
            REPORTS,
            t.token("sato"),
            None,
            &report("道路損傷", "穴", 139.1, 36.01),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = header_text(&headers, header::LOCATION);
    assert!(
        location.ends_with("/collections/damage-reports/items/1"),
        "{location}"
    );
    let created = doc(&body);
    assert_eq!(
        created["properties"]["状況"], "受付",
        "a new report starts as 受付"
    );
    assert_eq!(created["properties"]["更新者"], "sato");
    let item = "/collections/damage-reports/items/1";

    // The ETag of the create is the one GET gives, and the store holds what was sent.
    let (status, headers, body) = t.get_as(item, Some(t.token("sato"))).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    let etag = header_text(&headers, header::ETAG);
    assert_eq!(etag, "\"1-1\"");
    assert_eq!(doc(&body)["geometry"]["coordinates"], json!([139.1, 36.01]));
    let stored = t.edits().features("damage-reports").expect("features");
    assert_eq!(stored.len(), 1);

    // PUT replaces what the editor sees; the server-set values stand.
    let mut replaced = report("河川", "川があふれそう", 139.11, 36.02);
    replaced["properties"]["状況"] = json!("対応中");
    let (status, headers, body) = t
        .json(Method::PUT, item, t.token("sato"), Some(&etag), &replaced)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let etag = header_text(&headers, header::ETAG);
    assert_eq!(etag, "\"1-2\"");
    assert_eq!(doc(&body)["properties"]["種別"], "河川");
    assert_eq!(
        doc(&body)["properties"]["受付日"],
        created["properties"]["受付日"]
    );

    // PATCH merges; the public view now shows the report, without what the reporter wrote.
    let patch = json!({ "properties": { "状況": "完了", "対応内容": "土のうを設置" } });
    let (status, headers, body) = t
        .send(
            Method::PATCH,
            item,
            Some(t.token("suzuki")),
            &[
                ("content-type", "application/merge-patch+json"),
                ("if-match", &etag),
            ],
            patch.to_string().into_bytes(),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        doc(&body)["properties"]["内容"],
        "川があふれそう",
        "untouched by the patch"
    );
    assert_eq!(doc(&body)["properties"]["更新者"], "suzuki");
    let etag = header_text(&headers, header::ETAG);
    let (_, _, public) = t
        .get_as("/collections/reports-public/items", None)
        .await
        .into_parts();
    let public = doc(&public);
    assert_eq!(public["numberMatched"], 1, "{public}");
    let props = &public["features"][0]["properties"];
    assert_eq!(props["対応内容"], "土のうを設置");
    assert!(
        props.get("内容").is_none() && props.get("更新者").is_none(),
        "{props}"
    );

    // DELETE, then the feature is gone from items, the index and the public view.
    let (status, _, body) = t
        .send(
            Method::DELETE,
            item,
            Some(t.token("sato")),
            &[("if-match", &etag)],
            vec![],
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, _) = t.get_as(item, Some(t.token("sato"))).await.into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, body) = t
        .send(
            Method::GET,
            &format!("{REPORTS}?bbox=139.1,36.0,139.12,36.03"),
            Some(t.token("sato")),
            &[],
            vec![],
        )
        .await
        .into_parts();
    assert_eq!(doc(&body)["numberMatched"], 0);

    // Only an admin sees what was deleted and brings it back, as it was.
    let (status, _, _) = t
        .get_as("/admin/deleted/damage-reports", Some(t.token("sato")))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = t
        .get_as("/admin/deleted/damage-reports", Some(t.token("kanri")))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc(&body)["deleted"][0]["featureId"], 1, "{body}");
    let (status, _, body) = t
        .send(
            Method::POST,
            "/admin/deleted/damage-reports/1/restore",
            Some(t.token("kanri")),
            &[],
            vec![],
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = t.get_as(item, Some(t.token("sato"))).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc(&body)["properties"]["対応内容"], "土のうを設置");

    // Every change is in the history, with who made it and the states before and after.
    let (_, _, body) = t
        .get_as("/admin/history/damage-reports/1", Some(t.token("kanri")))
        .await
        .into_parts();
    let history = doc(&body)["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ops: Vec<&str> = history.iter().filter_map(|e| e["op"].as_str()).collect();
    assert_eq!(ops, ["create", "update", "update", "delete", "restore"]);
    let actors: Vec<&str> = history.iter().filter_map(|e| e["actor"].as_str()).collect();
    assert_eq!(actors, ["sato", "sato", "suzuki", "sato", "kanri"]);
    assert_eq!(history[1]["before"]["properties"]["種別"], "道路損傷");
    assert_eq!(history[1]["after"]["properties"]["種別"], "河川");
    assert!(history[3]["after"].is_null());

    // A new feature never takes the deleted one's id.
    let fid = t
        .create_report(t.token("sato"), "公園", "遊具", (139.1, 36.0))
        .await;
    assert_eq!(fid, 2);
}

#[tokio::test]
async fn of_two_editors_on_one_feature_the_second_gets_412_and_nothing_is_lost() {
    let t = town();
    let fid = t
        .create_report(t.token("sato"), "道路損傷", "段差", (139.1, 36.01))
        .await;
    let item = format!("{REPORTS}/{fid}");
    // Both read the same version.
    let (_, h1, _) = t.get_as(&item, Some(t.token("sato"))).await.into_parts();
    let (_, h2, _) = t.get_as(&item, Some(t.token("suzuki"))).await.into_parts();
    let (e1, e2) = (
        header_text(&h1, header::ETAG),
        header_text(&h2, header::ETAG),
    );
    assert_eq!(e1, e2);
    let patch = |text: &str| json!({ "properties": { "対応内容": text } });
    let (status, _, body) = t
        .json(
            Method::PATCH,
            &item,
            t.token("sato"),
            Some(&e1),
            &patch("職員が確認"),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = t
        .json(
            Method::PATCH,
            &item,
            t.token("suzuki"),
            Some(&e2),
            &patch("業者に連絡"),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert!(
        description(&body).contains("has changed since you read it"),
        "{body}"
    );
    // The first edit stands, in the index and in the store.
    let (_, h, body) = t.get_as(&item, Some(t.token("suzuki"))).await.into_parts();
    assert_eq!(doc(&body)["properties"]["対応内容"], "職員が確認");
    let stored = t.edits().features("damage-reports").expect("features");
    assert_eq!(stored[0].version, 2);
    // Without If-Match a change is refused rather than made blind.
    let (status, _, _) = t
        .json(
            Method::PATCH,
            &item,
            t.token("suzuki"),
            None,
            &patch("業者に連絡"),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    // Re-reading and reapplying works; both changes are in the history.
    let fresh = header_text(&h, header::ETAG);
    let (status, _, _) = t
        .json(
            Method::PATCH,
            &item,
            t.token("suzuki"),
            Some(&fresh),
            &patch("職員が確認、業者に連絡"),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    let fid = item
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("fid");
    let history = t.edits().history("damage-reports", fid).expect("history");
    let notes: Vec<Json> = history
        .iter()
        .filter_map(|e| {
            e.after
                .as_ref()
                .map(|a| a["properties"]["対応内容"].clone())
        })
        .collect();
    assert_eq!(
        notes,
        [
            Json::Null,
            json!("職員が確認"),
            json!("職員が確認、業者に連絡")
        ]
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_leaves_the_store_unchanged() {
    let t = town();
    t.create_report(t.token("sato"), "道路損傷", "既存", (139.1, 36.01))
        .await;
    let before = t.state();
    let huge = "あ".repeat(1001);
    let mut unknown = report("道路損傷", "x", 139.1, 36.01);
    unknown["properties"]["色"] = json!("赤");
    let mut wrong_type = report("道路損傷", "x", 139.1, 36.01);
    wrong_type["properties"]["内容"] = json!(12);
    let cases: Vec<(&str, Vec<u8>, &str, StatusCode, &str)> = vec![
        (
            "wrong geometry type",
            json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[139.1, 36.0], [139.11, 36.0]]}, "properties": {"種別": "道路損傷"}}).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "this layer holds Point geometries, got LineString",
        ),
        (
            "point outside the town",
            report("道路損傷", "x", 135.5, 34.7).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "outside the town",
        ),
        (
            "latitude and longitude swapped",
            report("道路損傷", "x", 36.01, 139.1).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "geometry",
        ),
        (
            "malformed JSON",
            b"{\"type\": \"Feature\", \"geometry\": ".to_vec(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "not valid JSON: line 1, column 32",
        ),
        (
            "unknown field",
            unknown.to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "unknown attribute \"色\"",
        ),
        (
            "huge string",
            report("道路損傷", &huge, 139.1, 36.01).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "1001 characters is longer than the limit of 1000",
        ),
        (
            "value outside the code list",
            report("落書き", "x", 139.1, 36.01).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "\"落書き\" is not one of the codes",
        ),
        (
            "missing required value",
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [139.1, 36.0]}, "properties": {"内容": "x"}}).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "properties.種別: a value is required",
        ),
        (
            "wrong value type",
            wrong_type.to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "properties.内容: expected text, got a number",
        ),
        (
            "a position with four numbers (the fourth would be dropped)",
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [139.1, 36.02, 10, 5]}, "properties": {"種別": "道路損傷"}}).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "a position has 4 numbers",
        ),
        (
            "a legacy crs member naming a plane-rectangular CRS",
            json!({"type": "Feature", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::6677"}}, "geometry": {"type": "Point", "coordinates": [139.1, 36.01]}, "properties": {"種別": "道路損傷"}}).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "crs: the \"crs\" member names \"urn:ogc:def:crs:EPSG::6677\"",
        ),
        (
            "a NUL in a text",
            report("道路損傷", "陥没\u{0}あり", 139.1, 36.01).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "properties.内容: character 3 is the control character U+0000",
        ),
        (
            "an escape sequence in a text",
            report("道路損傷", "\u{1b}[2J", 139.1, 36.01).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "U+001B",
        ),
        (
            "a FeatureCollection",
            json!({"type": "FeatureCollection", "features": []}).to_string().into_bytes(),
            "application/geo+json",
            StatusCode::BAD_REQUEST,
            "expected \"Feature\"",
        ),
        (
            "not JSON at all",
            b"category=road".to_vec(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: expected application/geo+json",
        ),
        (
            "a body over the limit",
            vec![b' '; 2 << 20],
            "application/geo+json",
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body: larger than the limit of",
        ),
    ];
    for (what, body, content_type, want, message) in cases {
        let (status, _, text) = t
            .send(
                Method::POST,
                REPORTS,
                Some(t.token("sato")),
                &[("content-type", content_type)],
                body,
            )
            .await
            .into_parts();
        assert_eq!(status, want, "{what}: {text}");
        assert!(description(&text).contains(message), "{what}: {text}");
        assert_eq!(t.state(), before, "{what} changed the store");
    }
    // The same checks hold on PUT and PATCH of the existing feature.
    let item = "/collections/damage-reports/items/1";
    let (status, _, text) = t
        .json(
            Method::PUT,
            item,
            t.token("sato"),
            Some("\"1-1\""),
            &report("道路損傷", &huge, 139.1, 36.01),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    // A whole replacement that leaves the status out does not "move" it to nothing.
    let (status, _, text) = t
        .json(
            Method::PUT,
            item,
            t.token("sato"),
            Some("*"),
            &report("道路損傷", "x", 139.1, 36.01),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        description(&text).contains("properties.状況: a value is required (it is \"受付\" now)"),
        "{text}"
    );
    let (status, _, text) = t
        .json(
            Method::PATCH,
            item,
            t.token("sato"),
            Some("\"1-1\""),
            &json!({"geometry": {"type": "Point", "coordinates": [140.0, 36.0]}}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    // Residents and staff without the role cannot write; hidden layers answer 404.
    let (status, _, _) = t
        .send(
            Method::POST,
            REPORTS,
            None,
            &[("content-type", "application/geo+json")],
            report("道路損傷", "x", 139.1, 36.01)
                .to_string()
                .into_bytes(),
        )
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the reports layer is internal"
    );
    let (status, _, _) = t
        .send(
            Method::DELETE,
            item,
            Some(t.token("mizuno")),
            &[("if-match", "\"1-1\"")],
            vec![],
        )
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only disaster staff and admins delete"
    );
    let (status, _, _) = t
        .json(
            Method::POST,
            "/collections/zoning/items",
            t.token("sato"),
            None,
            &report("道路損傷", "x", 139.1, 36.01),
        )
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "file layers are read-only"
    );
    assert_eq!(t.state(), before, "refused writes changed the store");
}

#[tokio::test]
async fn an_inspection_is_recorded_against_a_feature_of_another_layer() {
    let t = town();
    let (_, _, valves) = t
        .get_as(
            "/collections/water-valves/items?limit=1",
            Some(t.token("mizuno")),
        )
        .await
        .into_parts();
    let valves = doc(&valves);
    let valve = &valves["features"][0];
    let valve_id = match &valve["id"] {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    let record = |target: &str| {
        json!({
            "type": "Feature",
            "geometry": null,
            "properties": {
                "対象レイヤ": "water-valves", "対象ID": target,
                "種別": "点検", "実施日": "2026-11-20", "結果": "異常なし",
            },
        })
    };
    let (status, _, body) = t
        .json(
            Method::POST,
            "/collections/inspections/items",
            t.token("mizuno"),
            None,
            &record(&valve_id),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created = doc(&body);
    // Without a geometry the record stands at the valve it is about.
    assert_eq!(
        created["geometry"]["coordinates"],
        valve["geometry"]["coordinates"]
    );
    assert_eq!(created["properties"]["記録者"], "mizuno");
    let (status, _, body) = t
        .json(
            Method::POST,
            "/collections/inspections/items",
            t.token("mizuno"),
            None,
            &record("V-NO-SUCH"),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        description(&body).contains("has no feature \"V-NO-SUCH\""),
        "{body}"
    );
    // Disaster staff may not see the inspections layer at all.
    let (status, _, _) = t
        .json(
            Method::POST,
            "/collections/inspections/items",
            t.token("sato"),
            None,
            &record(&valve_id),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Part 4 is declared, and each caller's API definition documents exactly the writes that
/// caller may make, with the collection's schema as the request body.
#[tokio::test]
async fn part_4_is_declared_and_documented_for_those_who_may_write() {
    let t = town();
    let (status, _, body) = t.get_as("/conformance", None).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    let classes = doc(&body)["conformsTo"].clone();
    for c in [
        "create-replace-delete",
        "update",
        "features",
        "optimistic-locking-etags",
    ] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/{c}");
        assert!(
            classes.as_array().expect("list").iter().any(|u| u == &uri),
            "{uri} in {classes}"
        );
    }

    let api = |token: Option<String>| {
        let t = &t;
        async move {
            let (status, _, body) = t
                .send(Method::GET, "/api", token.as_deref(), &[], vec![])
                .await
                .into_parts();
            assert_eq!(status, StatusCode::OK, "{body}");
            common::assert_valid_openapi(&body);
            doc(&body)
        }
    };
    let ops = |d: &Json, path: &str| -> Vec<String> {
        d["paths"][path]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let items = "/collections/damage-reports/items";
    let item = "/collections/damage-reports/items/{featureId}";

    // A disaster-office clerk creates, changes and deletes reports.
    let sato = api(Some(t.token("sato").to_string())).await;
    assert_eq!(ops(&sato, items), ["get", "post"]);
    assert_eq!(ops(&sato, item), ["get", "put", "patch", "delete"]);
    let schema =
        &sato["paths"][items]["post"]["requestBody"]["content"]["application/geo+json"]["schema"];
    assert_eq!(
        schema["properties"]["geometry"]["properties"]["type"]["enum"],
        json!(["Point"])
    );
    let props = &schema["properties"]["properties"];
    assert_eq!(props["required"], json!(["種別"]));
    assert_eq!(
        props["properties"]["種別"]["enum"],
        json!([
            "道路損傷",
            "河川",
            "公園",
            "不法投棄",
            "カーブミラー・標識",
            "その他"
        ])
    );
    assert_eq!(props["properties"]["内容"]["maxLength"], 1000);
    assert_eq!(props["properties"]["受付日"]["readOnly"], true);
    let params: Vec<&str> = sato["paths"][item]["put"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["$ref"].as_str())
        .collect();
    assert!(
        params.contains(&"#/components/parameters/ifMatch"),
        "{params:?}"
    );
    assert!(sato["paths"]["/collections/damage-reports/changes"]["get"].is_object());

    // A water engineer changes reports but may not delete them; records inspections.
    let mizuno = api(Some(t.token("mizuno").to_string())).await;
    assert_eq!(ops(&mizuno, item), ["get", "put", "patch"]);
    assert_eq!(
        ops(&mizuno, "/collections/inspections/items"),
        ["get", "post"]
    );
    assert!(
        ops(&sato, "/collections/inspections/items").is_empty(),
        "not the clerk's layer"
    );

    // A resident sees the report form and the public view, and no write at all.
    let anon = api(None).await;
    assert!(ops(&anon, items).is_empty());
    assert_eq!(ops(&anon, "/reports"), ["get", "post"]);
    assert_eq!(ops(&anon, "/collections/reports-public/items"), ["get"]);
    assert!(anon["paths"]["/collections/reports-public/changes"]["get"].is_object());
    let text = anon.to_string();
    for internal in ["damage-reports", "inspections", "通報内容", "更新者"] {
        assert!(
            !text.contains(internal),
            "{internal} in the public API definition"
        );
    }
}

/// A resident's map revalidates a public report with its ETag (readable across origins); the
/// tag follows what the public view shows, so staff editing an internal attribute tells the
/// public side nothing.
#[tokio::test]
async fn a_public_view_tags_what_it_shows_and_nothing_else() {
    let t = town();
    let fid = t
        .create_report(t.token("sato"), "公園", "遊具が壊れている", (139.1, 36.01))
        .await;
    let public_tag = |public: String| {
        let t = &t;
        async move {
            let (status, headers, body) = t
                .send(
                    Method::GET,
                    &public,
                    None,
                    &[("origin", "https://www.town.example.jp")],
                    vec![],
                )
                .await
                .into_parts();
            assert_eq!(status, StatusCode::OK, "{body}");
            let exposed = header_text(&headers, header::ACCESS_CONTROL_EXPOSE_HEADERS);
            assert!(exposed.to_ascii_lowercase().contains("etag"), "{exposed}");
            header_text(&headers, header::ETAG)
        }
    };
    t.patch_report(t.token("sato"), fid, 1, json!({"状況": "対応中"}))
        .await;
    // The view shows it under an opaque id, not the number that counts every report.
    let (status, _, body) = t
        .get_as("/collections/reports-public/items", None)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    let listed = doc(&body);
    let view_id = listed["features"][0]["id"]
        .as_str()
        .expect("a text id")
        .to_string();
    assert_eq!(view_id.len(), 16, "{view_id}");
    assert_ne!(view_id, fid.to_string());
    let public = format!("/collections/reports-public/items/{view_id}");
    let (status, _, _) = t
        .get_as(&format!("/collections/reports-public/items/{fid}"), None)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND, "the number is no id there");
    let first = public_tag(public.clone()).await;
    assert!(first.starts_with('"') && first.len() > 2, "{first}");

    // The same tag answers 304.
    let (status, _, _) = t
        .send(
            Method::GET,
            &public,
            None,
            &[("if-none-match", &first)],
            vec![],
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // An internal attribute changes: the public representation and its tag do not.
    t.patch_report(
        t.token("sato"),
        fid,
        2,
        json!({"内容": "遊具が壊れている。子どもがけがをした"}),
    )
    .await;
    assert_eq!(public_tag(public.clone()).await, first);
    // A public attribute changes: a new tag.
    t.patch_report(
        t.token("sato"),
        fid,
        3,
        json!({"対応内容": "遊具を撤去しました"}),
    )
    .await;
    assert_ne!(public_tag(public.clone()).await, first);
}

/// Reports are limited per client address well below reads: the one over the limit is a 429
/// with Retry-After, before its body is read, and writes nothing.
#[tokio::test]
async fn reports_over_the_hourly_limit_are_refused_and_leave_no_trace() {
    let t = common::town::town_with(machimap::config::SecurityConfig {
        public_requests_per_minute: 0,
        reports_per_hour: 3,
        ..Default::default()
    });
    let send = || {
        let t = &t;
        async move {
            let body = json!({"category": "不法投棄", "description": "粗大ごみ", "lon": 139.1, "lat": 36.01});
            t.send(
                Method::POST,
                "/reports",
                None,
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            )
            .await
        }
    };
    // A burst of a third of the hourly limit passes.
    let (status, _, body) = send().await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let before = t.state();
    let (status, headers, body) = send().await.into_parts();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = header_text(&headers, header::RETRY_AFTER)
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=1201).contains(&wait), "{wait}");
    assert!(description(&body).contains("too many reports"), "{body}");
    assert_eq!(t.state(), before);
    // Reading is not limited by it.
    let (status, _, _) = t.get_as("/reports", None).await.into_parts();
    assert_eq!(status, StatusCode::OK);
}

/// What axum's own extractors refuse (a path parameter that does not parse, a body of the
/// wrong type, broken or too large) answers with the same OGC exception document as every
/// other error, saying what was wrong and where.
#[tokio::test]
async fn requests_the_extractors_refuse_get_the_ogc_error_document() {
    let t = town();
    let fid = t
        .create_report(t.token("sato"), "道路損傷", "写真の前", (139.1, 36.01))
        .await;
    let photos = format!("/collections/damage-reports/items/{fid}/photos");
    let big = vec![b' '; 2 << 20];
    let login_big = format!(
        "{{\"username\":\"sato\",\"password\":\"{}\"}}",
        "x".repeat(20 << 10)
    );
    let kanri = Some(t.token("kanri"));
    let sato = Some(t.token("sato"));
    let json_type = [("content-type", "application/json")];
    type Case<'a> = (
        Method,
        String,
        Option<&'a str>,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        StatusCode,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            Method::GET,
            "/collections/%FF".into(),
            None,
            vec![],
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "path: the collection id must be UTF-8 once percent-decoded",
        ),
        (
            Method::GET,
            "/collections/zoning/items/%FF%FE".into(),
            None,
            vec![],
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "path: the feature id must be UTF-8 once percent-decoded",
        ),
        (
            Method::GET,
            "/reports/%C3".into(),
            None,
            vec![],
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "path: the receipt code must be UTF-8 once percent-decoded",
        ),
        (
            Method::GET,
            "/admin/history/inspections/abc".into(),
            kanri,
            vec![],
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "path: \"abc\" is not a feature number",
        ),
        (
            Method::POST,
            "/admin/deleted/damage-reports/1x/restore".into(),
            kanri,
            vec![],
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "path: \"1x\" is not a feature number",
        ),
        (
            Method::GET,
            format!("{photos}/abc"),
            sato,
            vec![],
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "path: \"abc\" is not a photo number",
        ),
        (
            Method::POST,
            photos.clone(),
            sato,
            json_type.to_vec(),
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "Content-Type: expected multipart/form-data, got \"application/json\"",
        ),
        (
            Method::POST,
            photos.clone(),
            sato,
            vec![("content-type", "multipart/form-data")],
            b"--x\r\n".to_vec(),
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Content-Type: multipart/form-data needs a valid boundary parameter",
        ),
        (
            Method::PATCH,
            format!("{photos}/1"),
            sato,
            json_type.to_vec(),
            big.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request body: larger than the limit of 1048576 bytes of this endpoint",
        ),
        (
            Method::POST,
            REPORTS.into(),
            sato,
            vec![("content-type", "application/geo+json")],
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request body: larger than the limit of 1048576 bytes of this endpoint",
        ),
        (
            Method::POST,
            "/auth/login".into(),
            None,
            json_type.to_vec(),
            login_big.into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request body: larger than the limit of 16384 bytes of this endpoint",
        ),
        (
            Method::POST,
            "/auth/login".into(),
            None,
            vec![("content-type", "text/plain")],
            b"sato".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "Content-Type: expected application/json, got \"text/plain\"",
        ),
        (
            Method::POST,
            "/admin/roles".into(),
            kanri,
            json_type.to_vec(),
            b"{\"name\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "request body: EOF while parsing a value at line 1 column 9",
        ),
    ];
    for (method, uri, token, headers, body, want, code, message) in cases {
        let what = format!("{method} {uri}");
        let (status, h, text) = t
            .send(method, &uri, token, &headers, body)
            .await
            .into_parts();
        assert_eq!(status, want, "{what}: {text}");
        assert_eq!(
            header_text(&h, header::CONTENT_TYPE),
            "application/json",
            "{what}"
        );
        let d = doc(&text);
        assert_eq!(d["code"], code, "{what}: {text}");
        assert_eq!(d["status"], want.as_u16(), "{what}: {text}");
        assert_eq!(d["description"], message, "{what}: {text}");
    }
}
