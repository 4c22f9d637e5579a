//! The public/internal split, proven with canaries.
//!
//! A small town is written into a temporary folder: one public layer (`parks`) with public
//! attributes, an internal attribute, a `welfare`-only attribute and a numeric internal
//! attribute; an `internal` layer; and a `["welfare"]` layer (people needing evacuation help).
//! Every id, title, description, keyword, department, licence, attribute name, label, value,
//! feature id and coordinate of the hidden parts is a unique canary string (`cnry…`, or a
//! 7-decimal coordinate no public feature has), and the public layer's file also carries an
//! undeclared property, which nobody may ever see.
//!
//! Every public endpoint is then driven anonymously — metadata and items in JSON and HTML,
//! bbox, limit, properties, filters, feature ids, and the error paths that name hidden layers,
//! hidden feature ids and hidden attributes (also in `sortby` and CQL2 `filter`, whether the
//! server implements those yet or not), nearest features, the location report (whose sections
//! and search lists in the fixture catalog name every hidden layer and attribute) and search
//! — and no response body or header may contain a canary,
//! except one the request itself spelled out. Hidden names must answer byte for byte like
//! names that never existed. A staff user without the `welfare` role sees the internal canaries
//! and none of the `welfare` ones; a `welfare` user sees them all. Counts are checked against
//! the fixture data written here, never against the server. Every read of the `welfare` layer
//! must leave exactly one audit entry naming the reader, and no attempt that was refused may
//! leave one.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::json;

mod common;
use common::Response;
use common::canary::*;
use common::items_uri as items;

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Every public endpoint, asked anonymously, answers as it should and shows no canary, while
/// still serving the public data (so the test cannot pass on an empty server).
#[tokio::test]
async fn anonymous_responses_contain_no_canary() {
    let server = Canary::start();
    let town = &server.town;
    let forbidden = town.canaries.all();
    let anon = Who::Anonymous;

    for uri in public_ok_uris(town) {
        let r = server.scan(&anon, &uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
    }
    // Browsers get HTML without asking with f.
    for uri in [
        "/",
        "/collections",
        &items(PARKS, &[]),
        &item(PARKS, "P01", ""),
    ] {
        let r = server
            .send(&anon, Method::GET, uri, &[("accept", "text/html")], None)
            .await;
        assert_clean(&r, "GET", uri, &forbidden);
        assert_eq!(r.status, StatusCode::OK, "GET {uri} as HTML: {}", r.body);
        assert!(r.body.contains("<html"), "GET {uri} as HTML: {}", r.body);
    }

    // What the public does see: exactly the public layer, its public attributes and all its
    // features.
    let cols = server.scan(&anon, "/collections", &forbidden).await;
    assert_eq!(listed(&cols), set(&[PARKS]));
    let uri = items(PARKS, &[("limit", "100")]);
    let r = server.scan(&anon, &uri, &forbidden).await;
    assert_eq!(number_matched(&r, &uri), town.parks.len());
    let feats = features(&r, &uri);
    assert_eq!(feats.len(), town.parks.len());
    for (f, p) in feats.iter().zip(&town.parks) {
        assert_eq!(f["id"], p.id.as_str());
        assert_eq!(
            property_names(f),
            set(&[PARK_ID, PARK_NAME, PARK_KIND, PARK_AREA])
        );
        assert_eq!(f["properties"][PARK_NAME], p.name);
        assert_eq!(f["properties"][PARK_KIND], p.kind);
    }
    let html = server.scan(&anon, &with_f(&uri, "html"), &forbidden).await;
    for name in PARK_NAMES {
        assert!(html.body.contains(name), "the HTML items page lacks {name}");
    }
    let q = server
        .scan(
            &anon,
            &format!("/collections/{PARKS}/queryables"),
            &forbidden,
        )
        .await;
    let q = q.json();
    let queryables: BTreeSet<String> = q["properties"]
        .as_object()
        .expect("queryables")
        .keys()
        .cloned()
        .collect();
    // The visible attributes, and the geometry CQL2's spatial functions read.
    assert_eq!(
        queryables,
        set(&["geometry", PARK_ID, PARK_NAME, PARK_KIND, PARK_AREA])
    );
    let one = server
        .scan(&anon, &item(PARKS, "P04", ""), &forbidden)
        .await
        .json();
    assert_eq!(one["properties"][PARK_NAME], PARK_NAMES[3]);
    assert_eq!(one["geometry"]["type"], "Polygon");
    let api = server.scan(&anon, "/api", &forbidden).await;
    assert!(api.body.contains(&format!("/collections/{PARKS}/items")));

    // numberMatched against a brute force over the fixture data.
    for b in boxes() {
        let expect = town.parks.iter().filter(|p| p.shape.hits(&b)).count();
        let uri = items(PARKS, &[("bbox", &b.param())]);
        let r = server.scan(&anon, &uri, &forbidden).await;
        assert_eq!(number_matched(&r, &uri), expect, "GET {uri}");
        let expect_kind = town
            .parks
            .iter()
            .filter(|p| p.shape.hits(&b) && p.kind == "街区公園")
            .count();
        let uri = items(
            PARKS,
            &[
                ("bbox", &b.param()),
                (PARK_KIND, "街区公園"),
                ("limit", "100"),
            ],
        );
        let r = server.scan(&anon, &uri, &forbidden).await;
        assert_eq!(number_matched(&r, &uri), expect_kind, "GET {uri}");
        assert_eq!(features(&r, &uri).len(), expect_kind, "GET {uri}");
    }
    let uri = items(PARKS, &[(PARK_KIND, "近隣公園")]);
    let r = server.scan(&anon, &uri, &forbidden).await;
    assert_eq!(
        number_matched(&r, &uri),
        town.parks.iter().filter(|p| p.kind == "近隣公園").count()
    );
    let uri = items(PARKS, &[(PARK_NAME, "cnrypubintvala")]);
    let r = server.scan(&anon, &uri, &forbidden).await;
    assert_eq!(number_matched(&r, &uri), 0);

    // The hidden layers, their feature ids and the hidden attributes: not found / unknown.
    let int0 = &town.int_features[0];
    let role0 = &town.role_features[0];
    let mut not_found: Vec<String> = Vec::new();
    for (uri, _) in hidden_layer_uris(INT_LAYER, &int0.id, INT_ATTR, &int0.value)
        .into_iter()
        .chain(hidden_layer_uris(
            ROLE_LAYER,
            &role0.id,
            ROLE_NAME,
            &role0.name,
        ))
    {
        not_found.push(uri);
    }
    for fid in [&int0.id, &role0.id] {
        not_found.extend(both_formats(&item(PARKS, fid, "")));
    }
    not_found.push(format!("/{INT_LAYER}"));
    not_found.push(format!("/collections/{PARKS}/{ROLE_LAYER}"));
    for uri in &not_found {
        let r = server.scan(&anon, uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {uri}: {}", r.body);
    }
    let mut bad: Vec<String> = Vec::new();
    for (attr, value) in hidden_park_filters(true) {
        bad.push(items(PARKS, &[(attr, value)]));
        bad.push(items(PARKS, &[("properties", attr)]));
    }
    bad.push(items(PARKS, &[(UNDECLARED, UNDECLARED_VALUE)]));
    bad.push(items(PARKS, &[("properties", UNDECLARED)]));
    for uri in &bad {
        let r = server.scan(&anon, uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "GET {uri}: {}", r.body);
    }
    // sortby and CQL2 filter on hidden attributes: whatever the server makes of them, no
    // canary (their sameness with unknown names is checked in the next test).
    for (attr, value) in hidden_park_filters(true) {
        for (pairs, _) in hidden_attribute_probes(attr, value, PARK_NAME) {
            let uri = format!("/collections/{PARKS}/items?{}", query(&pairs));
            server.scan(&anon, &uri, &forbidden).await;
        }
    }

    // Staff-only endpoints: sign in first, and nothing else said.
    for uri in [
        "/auth/session".to_string(),
        "/admin/audit".into(),
        format!("/admin/audit?action=read&target={ROLE_LAYER}"),
        "/admin/users".into(),
        "/admin/roles".into(),
    ] {
        let r = server.scan(&anon, &uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "GET {uri}: {}", r.body);
    }
    // A made-up or stale token is refused, without data.
    let fake = Who::Bearer {
        user: "nobody".into(),
        token: "A".repeat(43),
    };
    for uri in ["/collections", &items(ROLE_LAYER, &[])] {
        let r = server.scan(&fake, uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "GET {uri}: {}", r.body);
    }
    // A stale cookie is simply anonymous.
    let stale = Who::Cookie {
        user: "nobody".into(),
        token: "A".repeat(43),
    };
    let r = server.scan(&stale, "/collections", &forbidden).await;
    assert_eq!(listed(&r), set(&[PARKS]));
    let r = server
        .scan(&stale, &items(ROLE_LAYER, &[]), &forbidden)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A wrong password is refused without detail.
    let r = server
        .send(
            &anon,
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({"username": "welfare1", "password": "not the password"})),
        )
        .await;
    assert_clean(&r, "POST", "/auth/login", &forbidden);
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    assert_eq!(assert_reads_audited(&server), 0);
}

/// A hidden layer, a hidden feature id and a hidden attribute answer byte for byte like a
/// layer, id or attribute that never existed: anonymously, and for staff without the role.
#[tokio::test]
async fn hidden_names_answer_exactly_like_names_that_never_existed() {
    let server = Canary::start();
    let town = &server.town;
    let int0 = &town.int_features[0];
    let role0 = &town.role_features[0];
    let anon = Who::Anonymous;
    let all = town.canaries.all();

    // Hidden layers, anonymously.
    for (layer, fid, attr, value) in [
        (INT_LAYER, &int0.id, INT_ATTR, &int0.value),
        (ROLE_LAYER, &role0.id, ROLE_NAME, &role0.name),
    ] {
        for (uri, hidden) in hidden_layer_uris(layer, fid, attr, value) {
            let status = assert_like_never_existed(
                &server,
                &anon,
                Method::GET,
                &uri,
                &hidden,
                NEVER_LAYER,
                &all,
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {uri}");
        }
        for method in [Method::HEAD, Method::OPTIONS, Method::POST, Method::DELETE] {
            for suffix in ["", "/items"] {
                let uri = format!("/collections/{layer}{suffix}");
                assert_like_never_existed(
                    &server,
                    &anon,
                    method.clone(),
                    &uri,
                    layer,
                    NEVER_LAYER,
                    &all,
                )
                .await;
            }
        }
        // The id of a hidden layer's feature, asked of the public layer.
        for uri in both_formats(&item(PARKS, fid, "")) {
            let status =
                assert_like_never_existed(&server, &anon, Method::GET, &uri, fid, NEVER_FID, &all)
                    .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {uri}");
        }
        // And of a layer that never existed, with a feature id that never existed.
        let uri = item(layer, fid, "");
        let never = item(NEVER_LAYER, NEVER_FID, "");
        let h = server.scan(&anon, &uri, &all).await;
        let n = server.get(&anon, &never).await;
        assert_eq!(h.status, n.status);
        assert_eq!(
            h.body
                .replace(layer, NEVER_LAYER)
                .replace(fid.as_str(), NEVER_FID),
            n.body,
            "GET {uri} must answer like {never}"
        );
    }

    // Hidden attributes of the public layer, anonymously, in every parameter.
    for (attr, value) in hidden_park_filters(true)
        .into_iter()
        .chain([(UNDECLARED, UNDECLARED_VALUE)])
    {
        for (pairs, hidden) in hidden_attribute_probes(attr, value, PARK_NAME) {
            let uri = format!("/collections/{PARKS}/items?{}", query(&pairs));
            assert_like_never_existed(&server, &anon, Method::GET, &uri, &hidden, NEVER_ATTR, &all)
                .await;
        }
    }

    // Staff without the welfare role: the welfare layer, the welfare attributes of the public
    // and the internal layer, and the undeclared property do not exist for them either.
    let water = server.login("water1").await;
    let forbidden = town.canaries.hidden_from_staff_without_role();
    for (uri, hidden) in hidden_layer_uris(ROLE_LAYER, &role0.id, ROLE_NAME, &role0.name) {
        let status = assert_like_never_existed(
            &server,
            &water,
            Method::GET,
            &uri,
            &hidden,
            NEVER_LAYER,
            &forbidden,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "GET {uri}");
    }
    for uri in both_formats(&item(PARKS, &role0.id, "")) {
        assert_like_never_existed(
            &server,
            &water,
            Method::GET,
            &uri,
            &role0.id,
            NEVER_FID,
            &forbidden,
        )
        .await;
    }
    for uri in both_formats(&item(INT_LAYER, &role0.id, "")) {
        assert_like_never_existed(
            &server,
            &water,
            Method::GET,
            &uri,
            &role0.id,
            NEVER_FID,
            &forbidden,
        )
        .await;
    }
    for (layer, attr, value, visible) in [
        (PARKS, PUB_ROLE_ATTR, "cnrypubrolevala", PARK_NAME),
        (PARKS, UNDECLARED, UNDECLARED_VALUE, PUB_INT_ATTR),
        (INT_LAYER, INT_ROLE_ATTR, "cnryintroleval01", INT_ATTR),
    ] {
        for (pairs, hidden) in hidden_attribute_probes(attr, value, visible) {
            let uri = format!("/collections/{layer}/items?{}", query(&pairs));
            assert_like_never_existed(
                &server,
                &water,
                Method::GET,
                &uri,
                &hidden,
                NEVER_ATTR,
                &forbidden,
            )
            .await;
        }
    }

    assert_eq!(assert_reads_audited(&server), 0);
}

/// A staff member without the `welfare` role sees the internal layer and the internal
/// attributes, and nothing of the welfare layer or the welfare attributes.
#[tokio::test]
async fn staff_without_the_role_see_internal_data_and_no_role_data() {
    let server = Canary::start();
    let town = &server.town;
    let water = server.login("water1").await;
    let forbidden = town.canaries.hidden_from_staff_without_role();
    let int0 = &town.int_features[0];
    let role0 = &town.role_features[0];

    let mut seen = String::new();
    let mut uris = public_ok_uris(town);
    for base in [
        format!("/collections/{INT_LAYER}"),
        format!("/collections/{INT_LAYER}/queryables"),
        items(INT_LAYER, &[("limit", "100")]),
        items(INT_LAYER, &[(INT_ATTR, &int0.value)]),
        item(INT_LAYER, &int0.id, ""),
        items(PARKS, &[("limit", "100"), (PUB_INT_ATTR, "cnrypubintvala")]),
        items(PARKS, &[(PUB_INT_NUM, "918273645")]),
        items(PARKS, &[("properties", PUB_INT_ATTR)]),
    ] {
        uris.extend(both_formats(&base));
    }
    for uri in &uris {
        let r = server.scan(&water, uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        seen.push_str(&r.body);
        seen.push('\n');
    }
    // The internal canaries do reach this user: the layer's metadata, ids, values, labels
    // and coordinates, and the internal attributes of the public layer.
    for c in &town.canaries.internal {
        assert!(seen.contains(c.as_str()), "staff never saw {c:?}");
    }
    let cols = server.scan(&water, "/collections", &forbidden).await;
    assert_eq!(listed(&cols), set(&[PARKS, INT_LAYER]));
    let uri = items(INT_LAYER, &[("limit", "100")]);
    let r = server.scan(&water, &uri, &forbidden).await;
    for f in features(&r, &uri) {
        assert_eq!(property_names(&f), set(&[INT_ID, INT_ATTR]));
    }
    let uri = items(PARKS, &[("limit", "100")]);
    let r = server.scan(&water, &uri, &forbidden).await;
    for f in features(&r, &uri) {
        assert_eq!(
            property_names(&f),
            set(&[
                PARK_ID,
                PARK_NAME,
                PARK_KIND,
                PARK_AREA,
                PUB_INT_ATTR,
                PUB_INT_NUM
            ])
        );
    }
    let uri = items(PARKS, &[(PUB_INT_ATTR, "cnrypubintvala")]);
    let r = server.scan(&water, &uri, &forbidden).await;
    assert_eq!(
        number_matched(&r, &uri),
        town.parks
            .iter()
            .filter(|p| p.int_memo == "cnrypubintvala")
            .count()
    );

    // The welfare layer and attributes: 404 and 400, no canary.
    for (uri, _) in hidden_layer_uris(ROLE_LAYER, &role0.id, ROLE_NAME, &role0.name) {
        let r = server.scan(&water, &uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {uri}: {}", r.body);
    }
    for uri in [item(PARKS, &role0.id, ""), item(INT_LAYER, &role0.id, "")] {
        let r = server.scan(&water, &uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {uri}: {}", r.body);
    }
    for (layer, attr, value, visible) in [
        (PARKS, PUB_ROLE_ATTR, "cnrypubrolevala", PARK_NAME),
        (INT_LAYER, INT_ROLE_ATTR, "cnryintroleval01", INT_ATTR),
        (PARKS, UNDECLARED, UNDECLARED_VALUE, PUB_INT_ATTR),
    ] {
        for uri in [
            items(layer, &[(attr, value)]),
            items(layer, &[("properties", attr)]),
        ] {
            let r = server.scan(&water, &uri, &forbidden).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "GET {uri}: {}", r.body);
        }
        for (pairs, _) in hidden_attribute_probes(attr, value, visible) {
            let uri = format!("/collections/{layer}/items?{}", query(&pairs));
            server.scan(&water, &uri, &forbidden).await;
        }
    }

    // Who am I: this user, without the admin pages.
    let me = server.scan(&water, "/auth/session", &forbidden).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["user"], "water1");
    for uri in ["/admin/audit", "/admin/users", "/admin/roles"] {
        let r = server.scan(&water, uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "GET {uri}: {}", r.body);
    }

    // The session cookie gives the same view as the Bearer token.
    let Who::Bearer { token, .. } = &water else {
        panic!("signed in with a token")
    };
    let cookie = Who::Cookie {
        user: "water1".into(),
        token: token.clone(),
    };
    let r = server.scan(&cookie, "/collections", &forbidden).await;
    assert_eq!(listed(&r), set(&[PARKS, INT_LAYER]));
    let r = server
        .scan(&cookie, &items(ROLE_LAYER, &[]), &forbidden)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    assert_eq!(assert_reads_audited(&server), 0);
}

/// The `welfare` user sees every canary except the undeclared property: the hidden layers are
/// listed, their features and attributes are served, filters on hidden attributes count like
/// the brute force. Each read of the welfare layer is audited once, naming the reader; the
/// refused attempts of others are not.
#[tokio::test]
async fn the_right_role_sees_every_canary_and_each_restricted_read_is_audited() {
    let server = Canary::start();
    let town = &server.town;
    let welfare = server.login("welfare1").await;
    let forbidden = town.canaries.hidden_from_welfare();

    // First, the others try: refused, and not audited.
    let anon = Who::Anonymous;
    let water = server.login("water1").await;
    for who in [&anon, &water] {
        for uri in [
            items(ROLE_LAYER, &[]),
            item(ROLE_LAYER, &town.role_features[0].id, ""),
        ] {
            let r = server.get(who, &uri).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {uri}: {}", r.body);
        }
    }

    let mut seen = String::new();
    let mut uris = public_ok_uris(town);
    for base in [
        format!("/collections/{INT_LAYER}"),
        format!("/collections/{INT_LAYER}/queryables"),
        items(INT_LAYER, &[("limit", "100")]),
        item(INT_LAYER, &town.int_features[1].id, ""),
        format!("/collections/{ROLE_LAYER}"),
        format!("/collections/{ROLE_LAYER}/queryables"),
        items(ROLE_LAYER, &[("limit", "100")]),
        items(ROLE_LAYER, &[(ROLE_LEVEL, "4")]),
        item(ROLE_LAYER, &town.role_features[2].id, ""),
        items(PARKS, &[("limit", "100")]),
    ] {
        uris.extend(both_formats(&base));
    }
    // Reads of the welfare layer's features that this test makes, for the audit check.
    let mut restricted_reads = 0;
    for uri in &uris {
        let r = server.scan(&welfare, uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        seen.push_str(&r.body);
        seen.push('\n');
        if reads_role_layer(uri) {
            restricted_reads += 1;
        }
    }
    for c in town.canaries.internal.iter().chain(&town.canaries.role) {
        assert!(
            seen.contains(c.as_str()),
            "the welfare user never saw {c:?}"
        );
    }

    let cols = server.scan(&welfare, "/collections", &forbidden).await;
    assert_eq!(listed(&cols), set(&[PARKS, INT_LAYER, ROLE_LAYER]));
    let api = server.scan(&welfare, "/api", &forbidden).await;
    for needle in [
        format!("/collections/{ROLE_LAYER}/items"),
        format!("/collections/{INT_LAYER}/items"),
        PUB_ROLE_ATTR.to_string(),
        PUB_INT_ATTR.to_string(),
    ] {
        assert!(api.body.contains(&needle), "/api lacks {needle}");
    }

    // The welfare layer, feature by feature.
    let uri = items(ROLE_LAYER, &[("limit", "100")]);
    let r = server.scan(&welfare, &uri, &forbidden).await;
    restricted_reads += 1;
    assert_eq!(number_matched(&r, &uri), town.role_features.len());
    let feats = features(&r, &uri);
    assert_eq!(feats.len(), town.role_features.len());
    for (f, rf) in feats.iter().zip(&town.role_features) {
        assert_eq!(f["id"], rf.id.as_str());
        assert_eq!(f["properties"][ROLE_NAME], rf.name.as_str());
        assert_eq!(f["properties"][ROLE_LEVEL], rf.level);
        assert_eq!(property_names(f), set(&[ROLE_ID, ROLE_NAME, ROLE_LEVEL]));
    }
    for rf in &town.role_features {
        let uri = item(ROLE_LAYER, &rf.id, "");
        let r = server.scan(&welfare, &uri, &forbidden).await;
        restricted_reads += 1;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        let doc = r.json();
        assert_eq!(doc["properties"][ROLE_NAME], rf.name.as_str());
        if let Shape::Point(x, y) = rf.shape {
            assert_eq!(
                doc["geometry"]["coordinates"].to_string(),
                format!("[{},{}]", deg(x), deg(y))
            );
        }
    }
    for level in [3, 4] {
        let uri = items(ROLE_LAYER, &[(ROLE_LEVEL, &level.to_string())]);
        let r = server.scan(&welfare, &uri, &forbidden).await;
        restricted_reads += 1;
        assert_eq!(
            number_matched(&r, &uri),
            town.role_features
                .iter()
                .filter(|f| f.level == level)
                .count()
        );
    }

    // The internal layer with its welfare attribute.
    let uri = items(INT_LAYER, &[("limit", "100")]);
    let r = server.scan(&welfare, &uri, &forbidden).await;
    for (f, inf) in features(&r, &uri).iter().zip(&town.int_features) {
        assert_eq!(f["id"], inf.id.as_str());
        assert_eq!(f["properties"][INT_ROLE_ATTR], inf.role_value.as_str());
    }
    let uri = items(INT_LAYER, &[(INT_ROLE_ATTR, "cnryintroleval03")]);
    let r = server.scan(&welfare, &uri, &forbidden).await;
    assert_eq!(number_matched(&r, &uri), 1);

    // The public layer with every hidden attribute, filters on them counting like the brute
    // force, alone and with a bbox.
    let uri = items(PARKS, &[("limit", "100")]);
    let r = server.scan(&welfare, &uri, &forbidden).await;
    for (f, p) in features(&r, &uri).iter().zip(&town.parks) {
        assert_eq!(
            property_names(f),
            set(&[
                PARK_ID,
                PARK_NAME,
                PARK_KIND,
                PARK_AREA,
                PUB_INT_ATTR,
                PUB_INT_NUM,
                PUB_ROLE_ATTR
            ])
        );
        assert_eq!(f["properties"][PUB_INT_ATTR], p.int_memo);
        assert_eq!(f["properties"][PUB_INT_NUM], p.int_num);
        assert_eq!(f["properties"][PUB_ROLE_ATTR], p.role_contact);
    }
    let q = server
        .scan(
            &welfare,
            &format!("/collections/{PARKS}/queryables"),
            &forbidden,
        )
        .await
        .json();
    for attr in [PUB_INT_ATTR, PUB_INT_NUM, PUB_ROLE_ATTR] {
        assert!(
            q["properties"].get(attr).is_some(),
            "queryables lack {attr}"
        );
    }
    type Pick = fn(&Park) -> bool;
    let cases: [(&str, &str, Pick); 5] = [
        (PUB_INT_ATTR, "cnrypubintvala", |p| {
            p.int_memo == "cnrypubintvala"
        }),
        (PUB_INT_ATTR, "cnrypubintvalb", |p| {
            p.int_memo == "cnrypubintvalb"
        }),
        (PUB_ROLE_ATTR, "cnrypubrolevala", |p| {
            p.role_contact == "cnrypubrolevala"
        }),
        (PUB_ROLE_ATTR, "cnrypubrolevalb", |p| {
            p.role_contact == "cnrypubrolevalb"
        }),
        (PUB_INT_NUM, "918273645", |p| p.int_num == 918_273_645),
    ];
    for (attr, value, pick) in cases {
        let uri = items(PARKS, &[(attr, value), ("limit", "100")]);
        let r = server.scan(&welfare, &uri, &forbidden).await;
        let expect: Vec<&str> = town
            .parks
            .iter()
            .filter(|p| pick(p))
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(number_matched(&r, &uri), expect.len(), "GET {uri}");
        let got: Vec<String> = features(&r, &uri)
            .iter()
            .map(|f| f["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(got, expect, "GET {uri}");
        for b in boxes() {
            let uri = items(PARKS, &[(attr, value), ("bbox", &b.param())]);
            let r = server.scan(&welfare, &uri, &forbidden).await;
            let expect = town
                .parks
                .iter()
                .filter(|p| pick(p) && p.shape.hits(&b))
                .count();
            assert_eq!(number_matched(&r, &uri), expect, "GET {uri}");
        }
    }
    let uri = items(PARKS, &[("properties", PUB_ROLE_ATTR), ("limit", "100")]);
    let r = server.scan(&welfare, &uri, &forbidden).await;
    for f in features(&r, &uri) {
        assert_eq!(property_names(&f), set(&[PUB_ROLE_ATTR]));
    }

    // sortby and CQL2 filter treat a hidden attribute the caller may see like a public one:
    // same status; where the server implements them, the answer is right.
    let status = |r: &Response| r.status;
    for (attr, public_twin) in [(PUB_ROLE_ATTR, PARK_KIND), (PUB_INT_NUM, PARK_AREA)] {
        for prefix in ["", "-"] {
            let hidden_uri = items(
                PARKS,
                &[("sortby", &format!("{prefix}{attr}")), ("limit", "100")],
            );
            let public_uri = items(
                PARKS,
                &[
                    ("sortby", &format!("{prefix}{public_twin}")),
                    ("limit", "100"),
                ],
            );
            let h = server.scan(&welfare, &hidden_uri, &forbidden).await;
            let p = server.scan(&welfare, &public_uri, &forbidden).await;
            assert_eq!(status(&h), status(&p), "GET {hidden_uri}: {}", h.body);
            if h.status == StatusCode::OK {
                let values: Vec<String> = features(&h, &hidden_uri)
                    .iter()
                    .map(|f| f["properties"][attr].to_string())
                    .collect();
                let mut sorted = values.clone();
                sorted.sort();
                if prefix == "-" {
                    sorted.reverse();
                }
                assert_eq!(values, sorted, "GET {hidden_uri}: not sorted");
                assert_eq!(values.len(), town.parks.len());
            }
        }
    }
    let hidden_uri = items(
        PARKS,
        &[("filter", &format!("{PUB_ROLE_ATTR}='cnrypubrolevala'"))],
    );
    let public_uri = items(PARKS, &[("filter", &format!("{PARK_KIND}='近隣公園'"))]);
    let h = server.scan(&welfare, &hidden_uri, &forbidden).await;
    let p = server.scan(&welfare, &public_uri, &forbidden).await;
    assert_eq!(status(&h), status(&p), "GET {hidden_uri}: {}", h.body);
    if h.status == StatusCode::OK {
        assert_eq!(
            number_matched(&h, &hidden_uri),
            town.parks
                .iter()
                .filter(|p| p.role_contact == "cnrypubrolevala")
                .count()
        );
    }

    // The undeclared property exists for nobody.
    for uri in [
        items(PARKS, &[(UNDECLARED, UNDECLARED_VALUE)]),
        items(PARKS, &[("properties", UNDECLARED)]),
    ] {
        let r = server.scan(&welfare, &uri, &forbidden).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "GET {uri}: {}", r.body);
    }

    // The session cookie reads the restricted layer too, and is audited the same way.
    let Who::Bearer { token, .. } = &welfare else {
        panic!("signed in with a token")
    };
    let cookie = Who::Cookie {
        user: "welfare1".into(),
        token: token.clone(),
    };
    let r = server
        .scan(&cookie, &items(ROLE_LAYER, &[]), &forbidden)
        .await;
    restricted_reads += 1;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The audit log, in the store and as the admin reads it.
    let reads = assert_reads_audited(&server);
    assert_eq!(
        reads, restricted_reads,
        "restricted reads made by this test"
    );
    let admin = server.login("admin1").await;
    let uri = format!("/admin/audit?action=read&target={ROLE_LAYER}&limit=1000");
    let r = server.get(&admin, &uri).await;
    assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
    let doc = r.json();
    assert_eq!(doc["numberMatched"], reads);
    let entries = doc["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), reads);
    for e in entries {
        assert_eq!(e["actor"], "welfare1", "{e}");
        assert_eq!(e["action"], "read", "{e}");
        assert_eq!(e["target"], ROLE_LAYER, "{e}");
    }
    // Nobody else read anything restricted.
    for actor in ["-", "water1", "admin1"] {
        let uri = format!("/admin/audit?action=read&actor={actor}");
        let r = server.get(&admin, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        assert_eq!(r.json()["numberMatched"], 0, "GET {uri}: {}", r.body);
    }
}

/// After signing out, the token shows nothing internal any more, and the cookie falls back
/// to the public view.
#[tokio::test]
async fn a_signed_out_session_sees_nothing_hidden() {
    let server = Canary::start();
    let town = &server.town;
    let welfare = server.login("welfare1").await;
    let all = town.canaries.all();
    let r = server.get(&welfare, &items(ROLE_LAYER, &[])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = server
        .send(&welfare, Method::POST, "/auth/logout", &[], None)
        .await;
    assert!(r.status.is_success(), "sign-out: {} {}", r.status, r.body);
    for uri in [
        "/collections".to_string(),
        items(ROLE_LAYER, &[]),
        items(INT_LAYER, &[]),
    ] {
        let r = server.scan(&welfare, &uri, &all).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "GET {uri}: {}", r.body);
    }
    let Who::Bearer { token, .. } = &welfare else {
        panic!("signed in with a token")
    };
    let cookie = Who::Cookie {
        user: "welfare1".into(),
        token: token.clone(),
    };
    let r = server.scan(&cookie, "/collections", &all).await;
    assert_eq!(listed(&r), set(&[PARKS]));
    for uri in [items(ROLE_LAYER, &[]), items(INT_LAYER, &[])] {
        let r = server.scan(&cookie, &uri, &all).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {uri}: {}", r.body);
    }
    assert_eq!(assert_reads_audited(&server), 1);
}

/// A public layer's attribute for the welfare role is personal data too: a read that outputs
/// it or filters on it is audited, a read that leaves it out is not, and a caller who cannot
/// see it is never audited for the layer.
#[tokio::test]
async fn reads_touching_a_role_only_attribute_are_audited() {
    let server = Canary::start();
    let welfare = server.login("welfare1").await;
    let water = server.login("water1").await;
    let park = server.town.parks[0].clone();
    let audited = [
        items(PARKS, &[("limit", "3")]),
        items(PARKS, &[(PUB_ROLE_ATTR, park.role_contact)]),
        item(PARKS, &park.id, ""),
    ];
    let not_audited = [
        items(
            PARKS,
            &[("properties", &format!("{PARK_NAME},{PARK_KIND}"))],
        ),
        format!("/collections/{PARKS}"),
        format!("/collections/{PARKS}/queryables"),
    ];
    for uri in audited.iter().chain(&not_audited) {
        let r = server.get(&welfare, uri).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        // For the others the attribute does not exist: naming it is a 400, and not audited.
        let expected = if uri.contains("cnrypubroleattr") {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        for who in [&water, &Who::Anonymous] {
            let r = server.get(who, uri).await;
            assert_eq!(r.status, expected, "GET {uri}: {}", r.body);
        }
    }
    let (entries, _) = audit::list(
        server.state.auth.store(),
        &audit::Filter {
            action: Some(audit::Action::Read),
            limit: 1000,
            ..Default::default()
        },
    )
    .expect("audit log");
    let got: Vec<(String, String)> = entries
        .iter()
        .rev()
        .map(|e| (e.actor.clone(), e.target.clone()))
        .collect();
    assert_eq!(
        got,
        vec![("welfare1".to_string(), PARKS.to_string()); audited.len()]
    );
}

/// The place of `PLACE`, in the fixture's integer units.
const PLACE_UNITS: (i64, i64) = (1_391_250_000, 360_250_000);

/// Ids of the `k` shapes nearest to `PLACE` (an equirectangular approximation is plenty: the
/// fixture's features are hundreds of metres apart and no two are nearly as far).
fn nearest_ids<'a>(shapes: impl Iterator<Item = (&'a str, Shape)>, k: usize) -> Vec<String> {
    let (px, py) = PLACE_UNITS;
    let kx = (36.025_f64).to_radians().cos();
    let mut d: Vec<(f64, String)> = shapes
        .map(|(id, s)| {
            let (dx, dy) = match s {
                Shape::Point(x, y) => (x - px, y - py),
                Shape::Rect(w, so, e, n) => {
                    ((w - px).max(0).max(px - e), (so - py).max(0).max(py - n))
                }
            };
            (((dx as f64) * kx).hypot(dy as f64), id.to_string())
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.into_iter().take(k).map(|(_, id)| id).collect()
}

/// The `collection` of each section of a location report, and the field names of its first
/// result.
fn report_outline(r: &Response) -> Vec<(String, Vec<String>, Vec<String>)> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| {
            let results = s["results"].as_array().expect("results");
            let ids = results
                .iter()
                .map(|x| x["id"].as_str().expect("id").to_string())
                .collect();
            let fields = results[0]["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| f["name"].as_str().expect("name").to_string())
                .collect();
            (
                s["collection"].as_str().expect("collection").to_string(),
                ids,
                fields,
            )
        })
        .collect()
}

/// (collection, id) of each search hit.
fn search_hits(r: &Response) -> Vec<(String, String)> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["collection"].as_str().expect("collection").to_string(),
                f["id"].as_str().expect("id").to_string(),
            )
        })
        .collect()
}

fn search_uri(q: &str) -> String {
    format!("/search?q={}&limit=100", encoded(q))
}

/// Nearest, the location report and search show each caller exactly what it may see: no
/// section on a hidden layer, no hidden attribute in a section, no hit on a hidden value, a
/// hidden layer's `nearest` like a layer that never existed; and every read of restricted
/// data through them is audited, for the reader and the layer.
#[tokio::test]
async fn nearest_location_and_search_show_each_caller_only_what_it_may_see() {
    let server = Canary::start();
    let town = &server.town;
    let all = town.canaries.all();
    let anon = Who::Anonymous;
    let parks3 = nearest_ids(town.parks.iter().map(|p| (p.id.as_str(), p.shape)), 3);
    let ints2 = nearest_ids(
        town.int_features.iter().map(|f| (f.id.as_str(), f.shape)),
        2,
    );
    let roles2 = nearest_ids(
        town.role_features.iter().map(|f| (f.id.as_str(), f.shape)),
        2,
    );
    let strings = |v: &[&str]| -> Vec<String> { v.iter().map(ToString::to_string).collect() };
    let location = format!("/location?{PLACE}");

    // Anonymous: the parks section with its public attributes only.
    for uri in both_formats(&location) {
        server.scan(&anon, &uri, &all).await;
    }
    let r = server.scan(&anon, &location, &all).await;
    assert_eq!(
        report_outline(&r),
        vec![(
            PARKS.to_string(),
            parks3.clone(),
            strings(&[PARK_NAME, PARK_KIND])
        )]
    );
    // No hidden value is found, and public names are, with public attributes only.
    let hidden_values = [
        "cnrypubintvala",
        "cnrypubrolevala",
        "cnryintval01",
        "cnryintroleval01",
        "cnryroleperson01",
        UNDECLARED_VALUE,
    ];
    for q in hidden_values {
        for uri in both_formats(&search_uri(q)) {
            let r = server.scan(&anon, &uri, &all).await;
            assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        }
        let r = server.scan(&anon, &search_uri(q), &all).await;
        assert_eq!(search_hits(&r), vec![], "anonymous search for {q}");
    }
    let r = server.scan(&anon, &search_uri(PARK_NAMES[1]), &all).await;
    assert_eq!(
        search_hits(&r),
        vec![(PARKS.to_string(), "P02".to_string())]
    );
    assert_eq!(
        property_names(&r.json()["features"][0]),
        set(&[PARK_ID, PARK_NAME, PARK_KIND, PARK_AREA])
    );
    let r = server
        .scan(
            &anon,
            &format!("/collections/{PARKS}/nearest?{PLACE}&limit=3"),
            &all,
        )
        .await;
    let ids: Vec<String> = features(&r, "nearest parks")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids, parks3);
    // A hidden collection or attribute named in a parameter: like one that never existed.
    for layer in [INT_LAYER, ROLE_LAYER] {
        let uri = format!("/search?q=x&collections={layer}");
        let status =
            assert_like_never_existed(&server, &anon, Method::GET, &uri, layer, NEVER_LAYER, &all)
                .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    for attr in [PUB_INT_ATTR, PUB_ROLE_ATTR, UNDECLARED] {
        let uri = format!(
            "/collections/{PARKS}/nearest?{PLACE}&properties={}",
            encoded(attr)
        );
        assert_like_never_existed(&server, &anon, Method::GET, &uri, attr, NEVER_ATTR, &all).await;
    }

    // Staff without the role: the internal section without its welfare attribute; internal
    // values are found, welfare ones are not.
    let water = server.login("water1").await;
    let forbidden = town.canaries.hidden_from_staff_without_role();
    let r = server.scan(&water, &location, &forbidden).await;
    assert_eq!(
        report_outline(&r),
        vec![
            (
                PARKS.to_string(),
                parks3.clone(),
                strings(&[PARK_NAME, PARK_KIND, PUB_INT_ATTR])
            ),
            (INT_LAYER.to_string(), ints2.clone(), strings(&[INT_ATTR])),
        ]
    );
    assert_eq!(r.json()["sections"][1]["title_ja"], "cnryintsecja");
    let r = server
        .scan(&water, &search_uri("cnryintval01"), &forbidden)
        .await;
    assert_eq!(
        search_hits(&r),
        vec![(INT_LAYER.to_string(), town.int_features[0].id.clone())]
    );
    let r = server
        .scan(&water, &search_uri("cnrypubintvala"), &forbidden)
        .await;
    let expect: Vec<(String, String)> = town
        .parks
        .iter()
        .filter(|p| p.int_memo == "cnrypubintvala")
        .map(|p| (PARKS.to_string(), p.id.clone()))
        .collect();
    assert_eq!(search_hits(&r), expect);
    for q in [
        "cnrypubrolevala",
        "cnryintroleval01",
        "cnryroleperson01",
        UNDECLARED_VALUE,
    ] {
        let r = server.scan(&water, &search_uri(q), &forbidden).await;
        assert_eq!(search_hits(&r), vec![], "water1 searching {q}");
    }
    let uri = format!("/search?q=x&collections={ROLE_LAYER}");
    assert_like_never_existed(
        &server,
        &water,
        Method::GET,
        &uri,
        ROLE_LAYER,
        NEVER_LAYER,
        &forbidden,
    )
    .await;

    // The welfare role: every section and attribute, welfare values found.
    let welfare = server.login("welfare1").await;
    let forbidden = town.canaries.hidden_from_welfare();
    let r = server.scan(&welfare, &location, &forbidden).await;
    assert_eq!(
        report_outline(&r),
        vec![
            (
                PARKS.to_string(),
                parks3.clone(),
                strings(&[PARK_NAME, PARK_KIND, PUB_INT_ATTR, PUB_ROLE_ATTR])
            ),
            (
                INT_LAYER.to_string(),
                ints2,
                strings(&[INT_ATTR, INT_ROLE_ATTR])
            ),
            (
                ROLE_LAYER.to_string(),
                roles2.clone(),
                strings(&[ROLE_NAME, ROLE_LEVEL])
            ),
        ]
    );
    let r = server
        .scan(&welfare, &search_uri("cnryroleperson02"), &forbidden)
        .await;
    assert_eq!(
        search_hits(&r),
        vec![(ROLE_LAYER.to_string(), town.role_features[1].id.clone())]
    );
    let r = server
        .scan(&welfare, &search_uri("cnrypubrolevala"), &forbidden)
        .await;
    let expect: Vec<(String, String)> = town
        .parks
        .iter()
        .filter(|p| p.role_contact == "cnrypubrolevala")
        .map(|p| (PARKS.to_string(), p.id.clone()))
        .collect();
    assert_eq!(search_hits(&r), expect);
    let uri = format!("/collections/{ROLE_LAYER}/nearest?{PLACE}&limit=2");
    let r = server.scan(&welfare, &uri, &forbidden).await;
    let ids: Vec<String> = features(&r, &uri)
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids, roles2);
    // A search kept to the public layer does not read the welfare layer.
    let r = server
        .scan(
            &welfare,
            &format!("/search?q={}&collections={PARKS}", encoded(PARK_NAMES[0])),
            &forbidden,
        )
        .await;
    assert_eq!(
        search_hits(&r),
        vec![(PARKS.to_string(), "P01".to_string())]
    );

    // The audit log: only the welfare user's reads, one entry per restricted layer read, in
    // order — the location report (parks for its welfare attribute, the internal layer for
    // its welfare attribute, the welfare layer), each search (the same three layers), the
    // nearest welfare features, and the search kept to parks (its welfare attribute).
    let (entries, _) = audit::list(
        server.state.auth.store(),
        &audit::Filter {
            action: Some(audit::Action::Read),
            limit: 1000,
            ..Default::default()
        },
    )
    .expect("audit log");
    let got: Vec<(String, String)> = entries
        .iter()
        .rev()
        .map(|e| (e.actor.clone(), e.target.clone()))
        .collect();
    let w = |t: &str| ("welfare1".to_string(), t.to_string());
    let three = [w(PARKS), w(INT_LAYER), w(ROLE_LAYER)];
    let mut expect = three.to_vec();
    expect.extend(three.clone());
    expect.extend(three);
    expect.push(w(ROLE_LAYER));
    expect.push(w(PARKS));
    assert_eq!(got, expect);
    assert!(
        entries.iter().any(|e| e.detail.starts_with("location?")),
        "{entries:?}"
    );
    assert_eq!(assert_reads_audited(&server), 4);
}

// What an attack on the edit side found (issue 12): each test reproduces one leak on the
// sample town with a real edit store.

mod edits {
    use axum::http::{Method, StatusCode};
    use machimap::edit_store::EditStore;
    use serde_json::{Value as Json, json};

    use super::common::multipart::{Part, multipart_with};
    use super::common::town::{Town, description, doc, report, town};

    /// A JSON body sent with an `Idempotency-Key`.
    async fn keyed(
        t: &Town,
        uri: &str,
        token: Option<&str>,
        key: &str,
        body: &Json,
    ) -> (StatusCode, String) {
        let (status, _, body) = t
            .send(
                Method::POST,
                uri,
                token,
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                body.to_string().into_bytes(),
            )
            .await
            .into_parts();
        (status, body)
    }

    fn resident_report(text: &str) -> Json {
        json!({"category": "道路損傷", "description": text, "lon": 139.1, "lat": 36.01})
    }

    #[tokio::test]
    async fn an_idempotency_key_replays_only_its_own_callers_request() {
        let t = town();
        let staff_text = "cnryidemstaff 職員だけが読む内容";
        let (status, body) = keyed(
            &t,
            "/collections/damage-reports/items",
            Some(t.token("sato")),
            "shared-key-001",
            &report("道路損傷", staff_text, 139.1, 36.01),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // A resident who happens to send the same key gets their own report, not the staff's.
        let (status, body) = keyed(
            &t,
            "/reports",
            None,
            "shared-key-001",
            &resident_report("住民の通報"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(!body.contains("cnryidemstaff"), "{body}");
        let answer = doc(&body);
        assert!(answer["receipt"].is_string(), "a new report: {body}");
        assert_eq!(
            t.edits()
                .features("damage-reports")
                .expect("features")
                .len(),
            2
        );

        // The same caller, the same key, another body: 422 and nothing stored.
        let before = t.state();
        let (status, body) = keyed(
            &t,
            "/reports",
            None,
            "shared-key-001",
            &resident_report("別の通報"),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(description(&body).contains("Idempotency-Key"), "{body}");
        let (status, body) = keyed(
            &t,
            "/collections/damage-reports/items",
            Some(t.token("sato")),
            "shared-key-001",
            &report("河川", "別の内容", 139.1, 36.01),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(t.state(), before);

        // The same request again is a replay: no second report.
        let (status, body) = keyed(
            &t,
            "/reports",
            None,
            "shared-key-001",
            &resident_report("住民の通報"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(doc(&body)["receipt"].is_null(), "a replay: {body}");
        assert_eq!(t.state(), before);

        // Keys past 255 characters are refused, not cut short (two long keys sharing their
        // first 255 characters would collide, and the second report would be lost).
        let long = |c: char| format!("{}{c}", "k".repeat(255));
        for key in [long('a'), long('b')] {
            let (status, body) = keyed(&t, "/reports", None, &key, &resident_report(&key)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(description(&body).contains("Idempotency-Key"), "{body}");
        }
        assert_eq!(t.state(), before);
    }

    /// An inspection record by the water engineer (a layer for water and roads only).
    async fn inspection(t: &Town) -> i64 {
        let valves = t
            .get_json(
                "/collections/water-valves/items?limit=1",
                Some(t.token("mizuno")),
            )
            .await;
        let valve = valves["features"][0]["id"].clone();
        let valve = valve
            .as_str()
            .map_or_else(|| valve.to_string(), str::to_string);
        let (status, _, body) = t
            .json(
                Method::POST,
                "/collections/inspections/items",
                t.token("mizuno"),
                None,
                &json!({
                    "type": "Feature",
                    "geometry": null,
                    "properties": {
                        "対象レイヤ": "water-valves", "対象ID": valve, "種別": "点検",
                        "実施日": "2026-11-20", "結果": "要修繕",
                        "所見": "cnryinspnote 弁体から漏水",
                    },
                }),
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        doc(&body)["id"].as_i64().expect("id")
    }

    #[tokio::test]
    async fn admin_pages_show_only_layers_the_admin_may_see_and_audit_the_reads() {
        let t = town();
        let fid = inspection(&t).await;
        let delete_tag = format!("\"{fid}-1\"");
        let (status, _, body) = t
            .send(
                Method::DELETE,
                &format!("/collections/inspections/items/{fid}"),
                Some(t.token("mizuno")),
                &[("if-match", &delete_tag)],
                vec![],
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let fid2 = inspection(&t).await;

        // An admin without the water or roads role: every admin route answers as for a
        // layer that never existed, and as for a layer that is not editable.
        let routes = |layer: &str| {
            [
                (Method::GET, format!("/admin/history/{layer}/{fid2}")),
                (Method::GET, format!("/admin/history/{layer}/{fid}")),
                (Method::GET, format!("/admin/deleted/{layer}")),
                (
                    Method::POST,
                    format!("/admin/deleted/{layer}/{fid2}/restore"),
                ),
                (
                    Method::POST,
                    format!("/admin/deleted/{layer}/{fid}/restore"),
                ),
            ]
        };
        for (hidden, never) in routes("inspections").into_iter().zip(routes("nolayerhere")) {
            let (h_status, _, h_body) = t
                .send(
                    hidden.0.clone(),
                    &hidden.1,
                    Some(t.token("kanri")),
                    &[],
                    vec![],
                )
                .await
                .into_parts();
            let (n_status, _, n_body) = t
                .send(
                    never.0.clone(),
                    &never.1,
                    Some(t.token("kanri")),
                    &[],
                    vec![],
                )
                .await
                .into_parts();
            assert_eq!(
                h_status,
                StatusCode::NOT_FOUND,
                "{} {}: {h_body}",
                hidden.0,
                hidden.1
            );
            assert_eq!(
                (h_status, h_body.replace("inspections", "nolayerhere")),
                (n_status, n_body),
                "{} {}",
                hidden.0,
                hidden.1
            );
            assert!(!h_body.contains("cnryinspnote") && !h_body.contains("mizuno"));
        }
        // A layer that is visible but not edited: the same 404, not a 500.
        for uri in ["/admin/deleted/zoning", "/admin/history/zoning/1"] {
            let (status, _, body) = t.get_as(uri, Some(t.token("kanri"))).await.into_parts();
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
            assert_eq!(description(&body), "no editable layer \"zoning\"", "{uri}");
        }

        // The water department's admin sees the record's history, and the read is audited.
        let history = t
            .get_json(
                &format!("/admin/history/inspections/{fid2}"),
                Some(t.token("suido_kanri")),
            )
            .await;
        assert!(history.to_string().contains("cnryinspnote"), "{history}");
        let deleted = t
            .get_json("/admin/deleted/inspections", Some(t.token("suido_kanri")))
            .await;
        assert_eq!(deleted["deleted"].as_array().map(Vec::len), Some(1));
        let audit = t
            .get_json(
                "/admin/audit?actor=suido_kanri&target=inspections&action=read",
                Some(t.token("suido_kanri")),
            )
            .await;
        let details: Vec<&str> = audit["entries"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["detail"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(details.len(), 2, "{audit}");
        assert!(details.iter().any(|d| d.contains("history")), "{audit}");
    }

    #[tokio::test]
    async fn a_public_photo_list_has_no_gap_where_a_photo_is_not_approved() {
        let t = town();
        let fid = t
            .create_report(t.token("sato"), "道路損傷", "写真の確認", (139.1, 36.01))
            .await;
        let photo = super::common::photo::encode_jpeg(&super::common::photo::picture(32, 24));
        let file = Part::File("photo", "p.jpg", "image/jpeg", &photo);
        let (content_type, form) = multipart_with("cnryboundary", &[file, file]);
        let (status, headers, body) = t
            .send(
                Method::POST,
                &format!("/collections/damage-reports/items/{fid}/photos"),
                Some(t.token("sato")),
                &[("content-type", &content_type)],
                form,
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let mut tag = super::common::response::header_text(&headers, axum::http::header::ETAG);
        t.patch_report(t.token("sato"), fid, 2, json!({"状況": "対応中"}))
            .await;
        tag = tag.replace("-2\"", "-3\"");

        // Approving needs the version the approver saw.
        let approve = |n: i64, tag: Option<String>| {
            let t = &t;
            async move {
                let mut headers =
                    vec![("content-type".to_string(), "application/json".to_string())];
                if let Some(tag) = tag {
                    headers.push(("if-match".into(), tag));
                }
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                t.send(
                    Method::PATCH,
                    &format!("/collections/damage-reports/items/{fid}/photos/{n}"),
                    Some(t.token("sato")),
                    &headers,
                    br#"{"public":true}"#.to_vec(),
                )
                .await
            }
        };
        let (status, _, body) = approve(2, None).await.into_parts();
        assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");
        let (status, _, body) = approve(2, Some(format!("\"{fid}-1\""))).await.into_parts();
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
        let (status, _, body) = approve(2, Some(tag)).await.into_parts();
        assert_eq!(status, StatusCode::OK, "{body}");

        // Only photo 2 is approved: the public view lists one photo, numbered 1.
        let items = t.get_json("/collections/reports-public/items", None).await;
        let public_id = items["features"][0]["id"]
            .as_str()
            .expect("view id")
            .to_string();
        let list = t
            .get_json(
                &format!("/collections/reports-public/items/{public_id}/photos"),
                None,
            )
            .await;
        let numbers: Vec<i64> = list["photos"]
            .as_array()
            .expect("photos")
            .iter()
            .filter_map(|p| p["n"].as_i64())
            .collect();
        assert_eq!(numbers, [1], "{list}");
        let photo_uri = format!("/collections/reports-public/items/{public_id}/photos/1");
        // HEAD: the same head as GET without the JPEG (the helper reads bodies as text).
        let (status, headers, _) = t
            .send(Method::HEAD, &photo_uri, None, &[], vec![])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = t
            .get_as(
                &format!("/collections/reports-public/items/{public_id}/photos/2"),
                None,
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A public photo is revalidated on every use, so a withdrawal takes effect at once.
        let cache =
            super::common::response::header_text(&headers, axum::http::header::CACHE_CONTROL);
        assert!(cache.contains("no-cache"), "{cache}");
        let etag = super::common::response::header_text(&headers, axum::http::header::ETAG);
        let (status, _, _) = t
            .send(
                Method::HEAD,
                &photo_uri,
                None,
                &[("if-none-match", &etag)],
                vec![],
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::NOT_MODIFIED);
    }

    #[tokio::test]
    async fn an_export_quotes_resident_text_that_a_spreadsheet_would_run() {
        let t = town();
        for text in [
            "=HYPERLINK(\"http://evil.example\",\"詳細\")",
            "+81 3",
            "@SUM(A1)",
            "-1+1",
        ] {
            t.create_report(t.token("sato"), "道路損傷", text, (139.1, 36.01))
                .await;
        }
        let (status, _, body) = t
            .get_as(
                "/collections/damage-reports/export?format=csv",
                Some(t.token("sato")),
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut reader =
            csv::ReaderBuilder::new().from_reader(body.trim_start_matches('\u{feff}').as_bytes());
        let header = reader.headers().expect("header").clone();
        let col = header
            .iter()
            .position(|h| h == "内容")
            .expect("内容 column");
        let cells: Vec<String> = reader
            .records()
            .map(|r| r.expect("record")[col].to_string())
            .collect();
        assert_eq!(cells.len(), 4);
        for cell in &cells {
            assert!(cell.starts_with('\''), "a formula reaches Excel: {cell:?}");
        }
    }
}
