//! Staff sign-in on the sample town: passwords, tokens, cookies and CSRF, lockout, role
//! changes, the audit log (through the API and across a restart of the real binary) and the
//! public hygiene of every answer.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use machimap::auth::Clock;
use machimap::config::SecurityConfig;
use machimap::store::Store;
use serde_json::{Value as Json, json};

use common::server::{Server, machimap, sample_data, user_add};
use common::town::{Town, TownBuilder};

const RESTRICTED: &str = "evacuation-support";
const INTERNAL: &str = "water-mains";
const START: i64 = 1_900_000_000;

/// Rows of the 避難行動要支援者 CSV, counted from the file itself.
fn restricted_rows() -> usize {
    let text = std::fs::read_to_string(sample_data().join("welfare/youshiensha.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// The sample town on a manual clock with a store holding an admin, a welfare officer and a
/// water engineer (added unless the store has them already).
fn builder(security: SecurityConfig) -> TownBuilder {
    let users = [
        ("admin1", "情報政策課", &["admin", "staff"][..]),
        ("fukushi", "福祉課", &["staff", "welfare"][..]),
        ("suido", "上下水道課", &["staff", "water"][..]),
    ];
    let mut b = Town::builder()
        .security(security)
        .clock(Clock::manual(START));
    for (name, dept, roles) in users {
        b = b.user_with(name, dept, roles, &password(name), false);
    }
    b
}

fn town_with(security: SecurityConfig) -> Town {
    builder(security).build()
}

fn town_on(store: Arc<Store>, security: SecurityConfig) -> Town {
    builder(security).store(store).build()
}

/// Rate limits off: they are tested on their own, and here every request is one client.
fn town() -> Town {
    town_with(SecurityConfig {
        public_requests_per_minute: 0,
        login_attempts_per_minute: 0,
        ..SecurityConfig::default()
    })
}

fn password(name: &str) -> String {
    format!("{name} の長いパスワード")
}

impl Town {
    async fn login(&self, user: &str, password: &str) -> common::Response {
        self.send_json(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({"username": user, "password": password})),
        )
        .await
    }

    /// Signs in and returns (Bearer token, cookie header value, CSRF token).
    async fn session(&self, user: &str) -> (String, String, String) {
        let r = self.login(user, &password(user)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let doc = r.json();
        let set_cookie = r.header_text("set-cookie").to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        (
            doc["token"].as_str().unwrap().to_string(),
            cookie,
            doc["csrf_token"].as_str().unwrap().to_string(),
        )
    }

    fn audit(&self, action: machimap::audit::Action) -> Vec<machimap::audit::Entry> {
        let filter = machimap::audit::Filter {
            action: Some(action),
            limit: 1000,
            ..Default::default()
        };
        machimap::audit::list(self.state.auth.store(), &filter)
            .unwrap()
            .0
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn sign_in_opens_a_session_by_token_and_by_cookie() {
    let t = town();
    let anon = t
        .get(&format!("/collections/{RESTRICTED}/items"), &[])
        .await;
    assert_eq!(anon.status, StatusCode::NOT_FOUND);

    let r = t.login("FUKUSHI ", &password("fukushi")).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "names are case-insensitive: {}",
        r.body
    );
    let doc = r.json();
    assert_eq!(doc["user"], "fukushi");
    assert_eq!(doc["department"], "福祉課");
    assert_eq!(doc["roles"], json!(["staff", "welfare"]));
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(r.header_text("cache-control"), "private, no-store");
    let cookie = r.header_text("set-cookie");
    for part in [
        "__Host-machimap-session=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "cookie lacks {part}: {cookie}");
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies carry no Domain: {cookie}"
    );

    let token = doc["token"].as_str().unwrap();
    let by_token = t
        .get(
            &format!("/collections/{RESTRICTED}/items?limit=1000"),
            &[("authorization", &bearer(token))],
        )
        .await;
    assert_eq!(by_token.status, StatusCode::OK, "{}", by_token.body);
    assert_eq!(by_token.json()["numberMatched"], restricted_rows());
    assert_eq!(by_token.header_text("cache-control"), "private, no-store");

    let cookie = cookie.split(';').next().unwrap();
    let by_cookie = t
        .get(
            &format!("/collections/{RESTRICTED}/items?limit=1000"),
            &[("cookie", cookie)],
        )
        .await;
    assert_eq!(by_cookie.status, StatusCode::OK);
    assert_eq!(
        by_cookie.json()["features"].as_array().unwrap().len(),
        restricted_rows()
    );

    let me = t.get("/auth/session", &[("cookie", cookie)]).await;
    assert_eq!(me.json()["user"], "fukushi");
    assert_eq!(me.json()["csrf_token"], doc["csrf_token"]);
    assert_eq!(
        t.get("/auth/session", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let t = town();
    let wrong = t.login("fukushi", "not the password at all").await;
    let unknown = t.login("nobody-here", "not the password at all").await;
    let invalid_name = t.login("田中 太郎", "not the password at all").await;
    for r in [&wrong, &unknown, &invalid_name] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert!(r.header_text("set-cookie").is_empty());
        assert_eq!(
            r.header_text("www-authenticate"),
            "Bearer realm=\"machimap\""
        );
    }
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, invalid_name.body);
    assert!(!wrong.body.contains("fukushi") && !unknown.body.contains("nobody"));

    let failed = t.audit(machimap::audit::Action::SignInFailed);
    let targets: Vec<_> = failed.iter().map(|e| e.target.as_str()).collect();
    assert!(
        targets.contains(&"fukushi") && targets.contains(&"nobody-here"),
        "{targets:?}"
    );
    assert!(failed.iter().all(|e| e.actor == "-" && e.client == "local"));
}

#[tokio::test]
async fn a_bad_body_is_refused_with_a_reason() {
    let t = town();
    let form = t
        .send_json(
            Method::POST,
            "/auth/login",
            &[("content-type", "application/x-www-form-urlencoded")],
            None,
        )
        .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let missing = t
        .send_json(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({"username": "fukushi"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.json()["description"]
            .as_str()
            .unwrap()
            .contains("password")
    );
    let huge = t
        .send_json(
            Method::POST,
            "/auth/login",
            &[],
            Some(json!({"username": "fukushi", "password": "x".repeat(40_000)})),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", huge.body);
    assert_eq!(huge.json()["code"], "PayloadTooLarge");
    assert_eq!(
        t.get("/auth/login", &[]).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn expired_sessions_end() {
    let t = town();
    let (token, cookie, _) = t.session("fukushi").await;
    let items = format!("/collections/{RESTRICTED}/items");
    let auth = bearer(&token);
    assert_eq!(
        t.get(&items, &[("authorization", &auth)]).await.status,
        StatusCode::OK
    );
    t.clock.advance(8 * 3600 - 1);
    assert_eq!(
        t.get(&items, &[("authorization", &auth)]).await.status,
        StatusCode::OK,
        "a second before expiry the session still works"
    );
    t.clock.advance(1);
    let expired = t.get(&items, &[("authorization", &auth)]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.json()["code"], "InvalidToken");
    assert!(
        expired
            .header_text("www-authenticate")
            .contains("invalid_token")
    );
    // An expired cookie is simply not signed in: the public map still works.
    assert_eq!(
        t.get(&items, &[("cookie", &cookie)]).await.status,
        StatusCode::NOT_FOUND
    );
    let public = t.get("/collections", &[("cookie", &cookie)]).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(!public.body.contains(RESTRICTED));
    // A made-up token is as dead as an expired one.
    let forged = t
        .get(
            &items,
            &[(
                "authorization",
                "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )],
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions() {
    let t = town();
    let (token, _, _) = t.session("suido").await;
    let (admin, _, _) = t.session("admin1").await;
    let items = format!("/collections/{INTERNAL}/items?limit=1");
    assert_eq!(
        t.get(&items, &[("authorization", &bearer(&token))])
            .await
            .status,
        StatusCode::OK
    );
    let del = t
        .send_json(
            Method::DELETE,
            "/admin/users/suido",
            &[("authorization", &bearer(&admin))],
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.body);
    let after = t.get(&items, &[("authorization", &bearer(&token))]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.login("suido", &password("suido")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let deleted = t.audit(machimap::audit::Action::UserDeleted);
    assert_eq!(deleted.len(), 1);
    assert_eq!(
        (deleted[0].actor.as_str(), deleted[0].target.as_str()),
        ("admin1", "suido")
    );
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token() {
    let t = town();
    let (_, cookie, csrf) = t.session("admin1").await;
    let change = json!({"roles": ["staff", "water", "welfare"]});
    let no_csrf = t
        .send_json(
            Method::PUT,
            "/admin/users/suido/roles",
            &[("cookie", &cookie)],
            Some(change.clone()),
        )
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN, "{}", no_csrf.body);
    let wrong = t
        .send_json(
            Method::PUT,
            "/admin/users/suido/roles",
            &[("cookie", &cookie), ("x-csrf-token", "guessed")],
            Some(change.clone()),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let roles = |t: &Town| t.state.auth.user("suido").unwrap().unwrap().roles;
    assert!(
        !roles(&t).contains("welfare"),
        "a refused write changed nothing"
    );

    let ok = t
        .send_json(
            Method::PUT,
            "/admin/users/suido/roles",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(change),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(roles(&t).contains("welfare"));

    // Sign-out by cookie is a write too.
    let out = t
        .send_json(Method::POST, "/auth/logout", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    let out = t
        .send_json(
            Method::POST,
            "/auth/logout",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.header_text("set-cookie").contains("Max-Age=0"));
    assert_eq!(
        t.get("/auth/session", &[("cookie", &cookie)]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_name_for_a_while() {
    let t = town();
    for _ in 0..5 {
        assert_eq!(
            t.login("fukushi", "guess guess guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = t.login("fukushi", &password("fukushi")).await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits out the lock: {}",
        locked.body
    );
    assert_eq!(locked.header_text("retry-after"), "900");
    assert!(locked.header_text("set-cookie").is_empty());
    // Another user is not affected.
    assert_eq!(
        t.login("suido", &password("suido")).await.status,
        StatusCode::OK
    );
    // Names that do not exist lock the same way, so locking reveals nothing.
    for _ in 0..5 {
        t.login("ghost", "guess guess guess").await;
    }
    let ghost = t.login("ghost", "guess guess guess").await;
    assert_eq!(ghost.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ghost.header_text("retry-after"), "900");

    t.clock.advance(899);
    assert_eq!(
        t.login("fukushi", &password("fukushi")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    t.clock.advance(1);
    let after = t.login("fukushi", &password("fukushi")).await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the lock expires: {}",
        after.body
    );
    assert_eq!(t.audit(machimap::audit::Action::SignInLocked).len(), 3);
}

/// A stranger's wrong passwords lock the name for the stranger's address, not for the owner
/// at another address; every address that fails joins the lock.
#[tokio::test]
async fn a_stranger_cannot_lock_a_colleague_out() {
    let t = town_with(SecurityConfig {
        public_requests_per_minute: 0,
        login_attempts_per_minute: 0,
        behind_proxy: true,
        ..SecurityConfig::default()
    });
    let login_from = |user: &'static str, pw: String, addr: &'static str| {
        let t = &t;
        async move {
            t.send_json(
                Method::POST,
                "/auth/login",
                &[("x-forwarded-for", addr)],
                Some(json!({"username": user, "password": pw})),
            )
            .await
        }
    };
    let stranger = "198.51.100.7";
    for _ in 0..5 {
        let r = login_from("admin1", "guess guess guess".into(), stranger).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    // The stranger is locked out, even with the right password.
    let r = login_from("admin1", password("admin1"), stranger).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    // The admin at their own desk signs in.
    let r = login_from("admin1", password("admin1"), "192.0.2.10").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the owner was locked out: {}",
        r.body
    );

    // Guessing from a second address: its first wrong try is answered, then it is locked too,
    // for longer (the lock doubles).
    for _ in 0..5 {
        login_from("fukushi", "guess guess guess".into(), stranger).await;
    }
    let r = login_from("fukushi", "another guess!".into(), "203.0.113.5").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = login_from("fukushi", password("fukushi"), "203.0.113.5").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.header_text("retry-after"), "1800");
    // The owner, from an address that never failed, still signs in; afterwards the name
    // starts over for everyone.
    let r = login_from("fukushi", password("fukushi"), "192.0.2.11").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = login_from("fukushi", password("fukushi"), stranger).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_role_change_takes_effect_on_the_next_request() {
    let t = town();
    let (water, _, _) = t.session("suido").await;
    let (admin, _, _) = t.session("admin1").await;
    let items = format!("/collections/{RESTRICTED}/items?limit=1");
    let auth = bearer(&water);
    assert_eq!(
        t.get(&items, &[("authorization", &auth)]).await.status,
        StatusCode::NOT_FOUND
    );
    let admin_auth = bearer(&admin);
    let set = |roles: Json| {
        let headers = [("authorization", admin_auth.as_str())];
        let t = &t;
        async move {
            t.send_json(
                Method::PUT,
                "/admin/users/suido/roles",
                &headers,
                Some(json!({ "roles": roles })),
            )
            .await
        }
    };
    assert_eq!(
        set(json!(["staff", "water", "disaster"])).await.status,
        StatusCode::OK
    );
    let granted = t.get(&items, &[("authorization", &auth)]).await;
    assert_eq!(granted.status, StatusCode::OK, "same token, new role");
    assert_eq!(granted.json()["numberMatched"], restricted_rows());
    let listed = t.get("/collections", &[("authorization", &auth)]).await;
    assert!(listed.body.contains(RESTRICTED));

    assert_eq!(set(json!(["staff", "water"])).await.status, StatusCode::OK);
    assert_eq!(
        t.get(&items, &[("authorization", &auth)]).await.status,
        StatusCode::NOT_FOUND
    );
    // Unknown roles are refused and change nothing.
    let bad = set(json!(["staff", "firefighting"])).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("firefighting"));
    let changes = t.audit(machimap::audit::Action::RolesChanged);
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|e| e.actor == "admin1" && e.target == "suido")
    );
}

#[tokio::test]
async fn only_admins_manage_users_and_read_the_audit_log() {
    let t = town();
    let (welfare, _, _) = t.session("fukushi").await;
    let (admin, _, _) = t.session("admin1").await;
    assert_eq!(
        t.get("/admin/audit", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.get("/admin/audit", &[("authorization", &bearer(&welfare))])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let make = t
        .send_json(
            Method::POST,
            "/admin/users",
            &[("authorization", &bearer(&welfare))],
            Some(json!({"username": "evil", "department": "x", "roles": ["admin"], "password": "long enough password"})),
        )
        .await;
    assert_eq!(make.status, StatusCode::FORBIDDEN);
    assert!(t.state.auth.user("evil").unwrap().is_none());

    let create = t
        .send_json(
            Method::POST,
            "/admin/users",
            &[("authorization", &bearer(&admin))],
            Some(json!({"username": "bosai", "department": "防災課", "roles": ["staff", "disaster"], "password": "short"})),
        )
        .await;
    assert_eq!(create.status, StatusCode::BAD_REQUEST, "weak password");
    let create = t
        .send_json(
            Method::POST,
            "/admin/users",
            &[("authorization", &bearer(&admin))],
            Some(json!({"username": "bosai", "department": "防災課", "roles": ["staff", "disaster"], "password": "bosai の長いパスワード"})),
        )
        .await;
    assert_eq!(create.status, StatusCode::CREATED, "{}", create.body);
    assert!(!create.body.contains("argon2"), "no hash in answers");
    let (bosai, _, _) = t.session("bosai").await;
    let read = t
        .get(
            &format!("/collections/{RESTRICTED}/items/YS-00001"),
            &[("authorization", &bearer(&bosai))],
        )
        .await;
    assert_eq!(
        read.status,
        StatusCode::OK,
        "disaster staff see the register"
    );

    let log = t
        .get(
            &format!("/admin/audit?action=read&target={RESTRICTED}"),
            &[("authorization", &bearer(&admin))],
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let entries = log.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"], "bosai");
    assert_eq!(entries[0]["detail"], "item YS-00001");

    // Nobody edits the log through the API.
    for method in [Method::PUT, Method::DELETE, Method::POST, Method::PATCH] {
        let r = t
            .send_json(
                method.clone(),
                "/admin/audit",
                &[("authorization", &bearer(&admin))],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    assert_eq!(
        t.get(
            "/admin/audit?action=edit",
            &[("authorization", &bearer(&admin))]
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let users = t
        .get("/admin/users", &[("authorization", &bearer(&admin))])
        .await;
    let names: Vec<_> = users.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin1", "bosai", "fukushi", "suido"]);
}

#[tokio::test]
async fn administration_refuses_oversized_or_control_texts_and_an_existing_role() {
    let t = town();
    let (admin, _, _) = t.session("admin1").await;
    let auth = [("authorization", bearer(&admin))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let audit_len = async |t: &Town| {
        let r = t.get("/admin/audit?limit=1", &auth).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["numberMatched"].as_u64().unwrap()
    };
    let before = audit_len(&t).await;
    let huge = "課".repeat(100_000);
    for (what, department, needle) in [
        (
            "a 100 000-character department",
            huge.as_str(),
            "department: 100000 characters",
        ),
        (
            "a department with a NUL",
            "防災\u{0}課",
            "department: character 3 is the control character U+0000",
        ),
        ("a department with an escape", "\u{1b}[31m防災課", "U+001B"),
    ] {
        let r = t
            .send_json(
                Method::POST,
                "/admin/users",
                &auth,
                Some(json!({"username": "bosai", "department": department, "roles": ["staff"], "password": "bosai の長いパスワード"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
        assert!(r.body.contains(needle), "{what}: {}", r.body);
        assert!(
            t.state.auth.user("bosai").unwrap().is_none(),
            "{what} created the user"
        );
    }
    // A role that exists is a conflict, not a 201 that changed nothing.
    let r = t
        .send_json(
            Method::POST,
            "/admin/roles",
            &auth,
            Some(json!({"name": "admin", "description": "誰でも"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["description"], "role \"admin\" already exists");
    let r = t
        .send_json(
            Method::POST,
            "/admin/roles",
            &auth,
            Some(json!({"name": "parks", "description": "公".repeat(201)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("description: 201 characters"), "{}", r.body);
    assert_eq!(
        audit_len(&t).await,
        before,
        "refused changes reached the audit log"
    );
    let r = t
        .send_json(
            Method::POST,
            "/admin/roles",
            &auth,
            Some(json!({"name": "parks", "description": "公園緑地課"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let roles = t.state.auth.roles().unwrap();
    assert!(roles.iter().any(|(n, d)| n == "parks" && d == "公園緑地課"));
    assert!(roles.iter().any(|(n, d)| n == "admin" && d != "誰でも"));
}

#[tokio::test]
async fn every_restricted_read_is_audited_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let security = SecurityConfig {
        public_requests_per_minute: 0,
        ..SecurityConfig::default()
    };
    let reads = [
        format!("/collections/{RESTRICTED}/items?limit=5"),
        format!("/collections/{RESTRICTED}/items?bbox=139,35,140,37&limit=2"),
        format!("/collections/{RESTRICTED}/items/YS-00002"),
        format!("/collections/{RESTRICTED}/items?f=html&limit=1"),
    ];
    {
        let t = town_on(Arc::new(Store::open(&path).unwrap()), security.clone());
        let (token, _, _) = t.session("fukushi").await;
        for uri in &reads {
            let r = t.get(uri, &[("authorization", &bearer(&token))]).await;
            assert_eq!(r.status, StatusCode::OK, "{uri}");
        }
        // Not data reads: metadata, a 404, and reads of unrestricted layers.
        for uri in [
            format!("/collections/{RESTRICTED}"),
            format!("/collections/{RESTRICTED}/items/NO-SUCH"),
            "/collections/shelters/items?limit=1".to_string(),
        ] {
            t.get(&uri, &[("authorization", &bearer(&token))]).await;
        }
        // The anonymous caller never reaches the layer, so nothing is read.
        assert_eq!(t.get(&reads[0], &[]).await.status, StatusCode::NOT_FOUND);
    }
    let t = town_on(Arc::new(Store::open(&path).unwrap()), security);
    let entries = t.audit(machimap::audit::Action::Read);
    assert_eq!(entries.len(), reads.len(), "{entries:#?}");
    for e in &entries {
        assert_eq!(
            (e.actor.as_str(), e.target.as_str()),
            ("fukushi", RESTRICTED)
        );
        assert_eq!(e.at, "2030-03-17T17:46:40Z");
    }
    let details: Vec<_> = entries.iter().rev().map(|e| e.detail.as_str()).collect();
    assert_eq!(
        details,
        [
            "items?limit=5 returned=5",
            "items?bbox=139%2C35%2C140%2C37&limit=2 returned=2",
            "item YS-00002",
            "items?f=html&limit=1 returned=1",
        ]
    );
    assert_eq!(t.audit(machimap::audit::Action::SignIn).len(), 1);
}

#[tokio::test]
async fn anonymous_callers_and_sign_ins_are_rate_limited_per_client() {
    let t = town_with(SecurityConfig {
        public_requests_per_minute: 8,
        login_attempts_per_minute: 3,
        ..SecurityConfig::default()
    });
    // Bursts of a quarter of the minute's allowance.
    for _ in 0..2 {
        assert_eq!(t.get("/collections", &[]).await.status, StatusCode::OK);
    }
    let limited = t.get("/collections", &[]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json()["code"], "TooManyRequests");
    let wait: u64 = limited.header_text("retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    // Signed-in staff are not held back by the public limit.
    let (token, _, _) = t.session("suido").await;
    for _ in 0..5 {
        let r = t
            .get("/collections", &[("authorization", &bearer(&token))])
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Three sign-in attempts a minute, the fourth waits, whatever the password.
    t.login("fukushi", "x").await;
    t.login("fukushi", "x").await;
    let r = t.login("fukushi", &password("fukushi")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);

    // Every anonymous route counts, not only those that read layers: metadata, the report
    // form, receipt look-ups, unknown paths, and a request with a stale cookie.
    for uri in [
        "/conformance",
        "/",
        "/api",
        "/reports",
        "/reports/ABCD-EFGH-JKLM",
        "/no/such/path",
    ] {
        let r = t.get(uri, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "GET {uri}: {}",
            r.body
        );
    }
    let r = t
        .get("/conformance", &[("cookie", "machimap-session=stale")])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
}

#[tokio::test]
async fn receipt_codes_cannot_be_guessed_at_speed_even_when_signed_in() {
    let t = town_with(SecurityConfig {
        public_requests_per_minute: 0,
        login_attempts_per_minute: 0,
        receipt_lookups_per_hour: 60,
        ..SecurityConfig::default()
    });
    let (token, _, _) = t.session("suido").await;
    let auth = bearer(&token);
    // Bursts of a sixth of the hour's allowance, then one a minute.
    for n in 0..10 {
        let r = t
            .get(
                &format!("/reports/ABCD-EFGH-{n:04}"),
                &[("authorization", &auth)],
            )
            .await;
        assert_ne!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "look-up {n}: {}",
            r.body
        );
    }
    let r = t
        .get("/reports/ABCD-EFGH-9999", &[("authorization", &auth)])
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("receipt look-ups"), "{}", r.body);
    // Other reads go on.
    let r = t.get("/collections", &[("authorization", &auth)]).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn links_follow_a_forwarded_scheme_only_behind_a_proxy_and_the_public_url_always() {
    let forged = [("host", "evil.example"), ("x-forwarded-proto", "https")];
    let t = town();
    let r = t.get("/", &forged).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("https://evil.example"), "{}", r.body);
    assert!(
        r.body.contains("http://evil.example/collections"),
        "{}",
        r.body
    );

    let t = town_with(SecurityConfig {
        public_requests_per_minute: 0,
        behind_proxy: true,
        ..SecurityConfig::default()
    });
    let r = t.get("/", &forged).await;
    assert!(
        r.body.contains("https://evil.example/collections"),
        "{}",
        r.body
    );

    let t = town_with(SecurityConfig {
        public_requests_per_minute: 0,
        behind_proxy: true,
        public_url: Some("https://gis.example.lg.jp/map".into()),
        ..SecurityConfig::default()
    });
    for uri in ["/", "/collections", "/collections/zoning/items?limit=2"] {
        let r = t.get(uri, &forged).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert!(!r.body.contains("evil.example"), "{uri}: {}", r.body);
        assert!(
            r.body.contains("https://gis.example.lg.jp/map/collections"),
            "{uri}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn answers_carry_security_headers_and_cors_only_where_public() {
    let t = town();
    let r = t.get("/collections", &[]).await;
    let csp = r.header_text("content-security-policy");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "worker-src 'self' blob:",
        "https://cyberjapandata.gsi.go.jp",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert_eq!(r.header_text("x-content-type-options"), "nosniff");
    assert_eq!(r.header_text("referrer-policy"), "same-origin");
    assert_eq!(r.header_text("x-frame-options"), "DENY");
    assert!(
        r.header_text("cache-control").is_empty(),
        "public answers may be cached"
    );

    let origin = [("origin", "https://example.org")];
    assert_eq!(
        t.get("/collections", &origin)
            .await
            .header_text("access-control-allow-origin"),
        "*"
    );
    let crs = t
        .get(
            "/collections/shelters/items?crs=http://www.opengis.net/def/crs/EPSG/0/6677",
            &origin,
        )
        .await;
    assert_eq!(crs.header_text("access-control-allow-origin"), "*");
    assert!(
        crs.header_text("access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("content-crs"),
        "a browser map must be able to read Content-Crs"
    );
    let preflight = t
        .send_json(
            Method::OPTIONS,
            "/collections/shelters/items",
            &[
                ("origin", "https://example.org"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
            None,
        )
        .await;
    assert!(
        !preflight
            .header_text("access-control-allow-headers")
            .contains("authorization"),
        "cross-origin pages may not send staff tokens"
    );
    // A map on another origin that revalidates (If-None-Match) or resumes a stream
    // (Last-Event-ID) sends a preflight first: it must pass on every read route.
    for uri in [
        "/",
        "/collections",
        "/collections/shelters",
        "/collections/shelters/items",
        "/collections/shelters/items/1",
        "/collections/shelters/queryables",
        "/search?q=x",
    ] {
        let preflight = t
            .send_json(
                Method::OPTIONS,
                uri,
                &[
                    ("origin", "https://example.org"),
                    ("access-control-request-method", "GET"),
                    (
                        "access-control-request-headers",
                        "if-none-match,last-event-id",
                    ),
                ],
                None,
            )
            .await;
        assert!(
            preflight.status.is_success(),
            "OPTIONS {uri}: {}",
            preflight.status
        );
        assert_eq!(
            preflight.header_text("access-control-allow-origin"),
            "*",
            "OPTIONS {uri}"
        );
        let allowed = preflight
            .header_text("access-control-allow-headers")
            .to_ascii_lowercase();
        assert!(
            allowed.contains("if-none-match") && allowed.contains("last-event-id"),
            "OPTIONS {uri}: allows only {allowed:?}"
        );
        // A plain OPTIONS says which methods the resource has.
        let plain = t.send_json(Method::OPTIONS, uri, &[], None).await;
        assert!(plain.status.is_success(), "OPTIONS {uri}: {}", plain.status);
        assert!(
            plain.header_text("allow").contains("GET"),
            "OPTIONS {uri}: Allow {:?}",
            plain.header_text("allow")
        );
    }
    // A method the resource does not have: 405 with Allow, as RFC 9110 asks.
    let r = t.send_json(Method::DELETE, "/collections", &[], None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json()["code"], "MethodNotAllowed", "{}", r.body);
    let allow = r.header_text("allow").to_ascii_uppercase();
    assert!(
        allow.contains("GET") && !allow.contains("DELETE"),
        "Allow: {allow:?}"
    );
    let r = t
        .send_json(
            Method::PATCH,
            "/admin/audit",
            &[("authorization", &bearer(&admin_token(&t).await))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        r.header_text("allow").contains("GET"),
        "Allow: {:?}",
        r.header_text("allow")
    );
    for uri in ["/auth/session", "/admin/audit"] {
        let r = t.get(uri, &origin).await;
        assert!(
            r.header_text("access-control-allow-origin").is_empty(),
            "{uri}"
        );
        assert_eq!(r.header_text("cache-control"), "private, no-store");
    }
    let long = format!("/collections?f={}", "x".repeat(20_000));
    let r = t.get(&long, &[]).await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    assert_eq!(r.json()["code"], "URITooLong");
}

/// A signed-in admin's token.
async fn admin_token(t: &Town) -> String {
    t.session("admin1").await.0
}

#[test]
fn the_first_admin_comes_from_the_command_line_and_the_log_outlives_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let var = dir.path().join("var");
    let mut add = user_add(
        &var,
        &[
            "Kanri",
            "--department",
            "情報政策課",
            "--roles",
            "admin,staff,welfare",
        ],
        "管理者の長い長いパスワード",
    );
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    // The same name twice is refused and says why.
    add = user_add(
        &var,
        &["kanri", "--department", "x"],
        "another long password",
    );
    assert!(!add.status.success());
    assert!(String::from_utf8_lossy(&add.stderr).contains("already exists"));

    let read_path = format!("/collections/{RESTRICTED}/items?limit=3");
    {
        let server = Server::start(&sample_data(), &var);
        let r = server.request("GET", &read_path, None, &[], "");
        assert_eq!(r.status, 404);
        let token = server.login_with("kanri", "管理者の長い長いパスワード");
        let items = server.request("GET", &read_path, Some(&token), &[], "");
        assert_eq!(items.status, 200);
        assert_eq!(items.json()["numberReturned"], 3);
    }
    // Server stopped: the log on disk has the sign-in and the read, with the socket address.
    let out = machimap(&var)
        .args(["audit", "--limit", "10"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    let line = log
        .lines()
        .find(|l| l.contains(" read "))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("kanri") && line.contains(RESTRICTED) && line.contains("127.0.0.1"),
        "{line}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("sign-in ") && l.contains("kanri")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("user-created") && l.contains("cli:")),
        "{log}"
    );

    // And a restarted server still knows the user and the session rules.
    let server = Server::start(&sample_data(), &var);
    let r = server.sign_in("kanri", "管理者の長い長いパスワード");
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_api_definition_shows_sign_in_to_all_and_administration_to_admins() {
    let t = town();
    let (admin, _, _) = t.session("admin1").await;
    let (water, _, _) = t.session("suido").await;
    let anon = t.get("/api", &[]).await.json();
    let staff = t
        .get("/api", &[("authorization", &bearer(&water))])
        .await
        .json();
    let r = t.get("/api", &[("authorization", &bearer(&admin))]).await;
    for doc in [&anon, &staff] {
        assert!(doc["paths"]["/auth/login"]["post"].is_object());
        assert!(doc["paths"]["/admin/users"].is_null());
    }
    assert!(anon["paths"][format!("/collections/{INTERNAL}/items")].is_null());
    assert!(staff["paths"][format!("/collections/{INTERNAL}/items")].is_object());
    assert!(staff["paths"][format!("/collections/{RESTRICTED}/items")].is_null());
    let doc = r.json();
    assert!(doc["paths"]["/admin/audit"]["get"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    common::assert_valid_openapi(&r.body);
}
