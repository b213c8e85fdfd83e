//! Authentication: login, token attacks (each one gets 401), refresh rotation and reuse
//! detection, logout, disabled users, throttling.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cdtg_api::auth::jwt::{AUDIENCE, Claims, ISSUER};
use cdtg_api::ids::NodeType;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TEST_JWT_SECRET, TestApp};
use crate::on_both_databases;

const LOGIN: &str = "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken refreshToken expiresAt user { username } } }";
const REFRESH: &str = "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken refreshToken } }";

/// Opens a session for `user_id` the way `login` does, for tokens signed by hand.
pub async fn open_session(db: &sea_orm::DatabaseConnection, user_id: i64) -> String {
    cdtg_api::auth::session::start(db, user_id, Some("integration test"), None)
        .await
        .unwrap()
}

/// Claims as a valid token for `sub` in session `sid` would carry them, for tampering.
fn claims(sub: i64, sid: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_string(),
        role: "CITY_ADMIN".into(),
        scope: "unit:1".into(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: now + 600,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        typ: "access".into(),
        sid: sid.to_owned(),
    }
}

fn sign(alg: Algorithm, kid: Option<&str>, secret: &str, claims: &Claims) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn assert_rejected(app: &TestApp, token: &str, what: &str) {
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": "{ me { username } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
    assert_eq!(res.headers()["www-authenticate"], "Bearer", "{what}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{what}: {body}"
    );
    assert!(
        body.get("data").is_none_or(|d| d.is_null()),
        "{what}: nothing executed"
    );
}

async fn admin_user_id(app: &TestApp) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    cdtg_api::entity::user::Entity::find()
        .filter(cdtg_api::entity::user::Column::Username.eq(users::ADMIN))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn every_token_attack_gets_401(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let admin = admin_user_id(&app).await;
    let sid = open_session(&app.state.db, admin).await;
    let good = claims(admin, &sid);
    // Sanity: a token we sign the server's way is accepted, so the rejections below are real.
    let valid = sign(Algorithm::HS256, Some("k1"), TEST_JWT_SECRET, &good);
    assert_eq!(
        app.ok(&valid, "{ me { username } }", json!({})).await["me"]["username"],
        "admin"
    );

    let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap());
    assert_rejected(&app, &format!("{header_none}.{payload}."), "alg none").await;
    assert_rejected(
        &app,
        &sign(Algorithm::HS512, Some("k1"), TEST_JWT_SECRET, &good),
        "another algorithm",
    )
    .await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            "a-different-secret-that-is-also-32-bytes-long",
            &good,
        ),
        "bad signature",
    )
    .await;
    let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
    let mut escalated = good.clone();
    escalated.sub = "999".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&escalated).unwrap());
    assert_rejected(&app, &parts.join("."), "altered payload").await;
    let now = chrono::Utc::now().timestamp();
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                exp: now - 120,
                ..good.clone()
            },
        ),
        "expired",
    )
    .await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                nbf: now + 300,
                ..good.clone()
            },
        ),
        "not yet valid",
    )
    .await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                iss: "someone-else".into(),
                ..good.clone()
            },
        ),
        "wrong iss",
    )
    .await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                aud: "another-api".into(),
                ..good.clone()
            },
        ),
        "wrong aud",
    )
    .await;
    assert_rejected(
        &app,
        &sign(Algorithm::HS256, Some("k9"), TEST_JWT_SECRET, &good),
        "unknown kid",
    )
    .await;
    assert_rejected(
        &app,
        &sign(Algorithm::HS256, None, TEST_JWT_SECRET, &good),
        "no kid",
    )
    .await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                typ: "refresh".into(),
                ..good.clone()
            },
        ),
        "wrong token type",
    )
    .await;
    assert_rejected(&app, "not.a.jwt", "garbage").await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                sid: uuid::Uuid::new_v4().to_string(),
                ..good.clone()
            },
        ),
        "a session that does not exist",
    )
    .await;
    // Another account's session does not vouch for this one.
    let other = crate::helpers::user_id(&app.state.db, users::WARD_A1).await;
    let foreign = open_session(&app.state.db, other).await;
    assert_rejected(
        &app,
        &sign(
            Algorithm::HS256,
            Some("k1"),
            TEST_JWT_SECRET,
            &Claims {
                sid: foreign,
                ..good.clone()
            },
        ),
        "another user's session",
    )
    .await;
    assert_rejected(&app, "cdtg_not-a-key-at-all", "an unknown API key").await;

    // A refresh token is not an access token.
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::ADMIN, "p": PASSWORD }))
        .await;
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_rejected(&app, &refresh, "refresh token used as access token").await;
}

async fn unknown_user_and_wrong_password_look_the_same_and_failures_are_throttled(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let (s1, unknown) = app
        .gql(
            None,
            LOGIN,
            json!({ "u": "nobody", "p": "whatever-password" }),
        )
        .await;
    let (s2, wrong) = app
        .gql(
            None,
            LOGIN,
            json!({ "u": users::WARD_A1, "p": "wrong-password!" }),
        )
        .await;
    assert_eq!(s1, s2);
    assert_eq!(
        unknown["errors"][0]["message"],
        wrong["errors"][0]["message"]
    );
    assert_eq!(wrong["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    // The fixture server allows 5 failures per username per 15 minutes: 1 so far.
    for _ in 0..4 {
        app.gql(
            None,
            LOGIN,
            json!({ "u": users::WARD_A1, "p": "wrong-password!" }),
        )
        .await;
    }
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "even the right password waits: {body}"
    );
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Other users are not affected.
    app.login(users::WARD_B1, PASSWORD).await;
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    let login = &body["data"]["login"];
    assert_eq!(login["user"]["username"], users::WARD_A1);
    let first = login["refreshToken"].as_str().unwrap().to_owned();

    let (_, body) = app.gql(None, REFRESH, json!({ "t": first })).await;
    let second = body["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let access = body["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    app.ok(&access, "{ me { username } }", json!({})).await;

    // Replaying the first token is theft: it fails and takes the whole family with it.
    let (_, body) = app.gql(None, REFRESH, json!({ "t": first })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (_, body) = app.gql(None, REFRESH, json!({ "t": second })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "the newest token of the family is revoked too: {body}"
    );

    // Logout revokes a fresh family.
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    let (access, refresh) = (
        body["data"]["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned(),
        body["data"]["login"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let data = app
        .ok(
            &access,
            "mutation($t: String!) { logout(input: {refreshToken: $t}) { revoked } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(data["logout"]["revoked"], true);
    let (_, body) = app.gql(None, REFRESH, json!({ "t": refresh })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

async fn concurrent_refreshes_with_one_token_yield_at_most_one_session(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::ADMIN, "p": PASSWORD }))
        .await;
    let token = body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = (0..8).map(|_| app.gql(None, REFRESH, json!({ "t": token })));
    let results = futures_util::future::join_all(attempts).await;
    let winners = results
        .iter()
        .filter(|(_, b)| b["data"]["refreshToken"]["accessToken"].is_string())
        .count();
    assert!(winners <= 1, "{winners} concurrent refreshes succeeded");
}

async fn a_disabled_users_unexpired_token_stops_working(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let member_token = app.login(users::MEMBER_A1, PASSWORD).await;
    app.ok(&member_token, "{ me { username } }", json!({}))
        .await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let member_user = cdtg_api::entity::user::Entity::find()
        .filter(cdtg_api::entity::user::Column::Username.eq(users::MEMBER_A1))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let data = app
        .ok(&ward, "mutation($id: ID!) { setUserDisabled(input: {id: $id, disabled: true}) { user { disabled } } }", json!({ "id": gid(NodeType::User, member_user.id) }))
        .await;
    assert_eq!(data["setUserDisabled"]["user"]["disabled"], true);
    assert_rejected(&app, &member_token, "disabled user's token").await;
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::MEMBER_A1, "p": PASSWORD }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

on_both_databases!(
    every_token_attack_gets_401,
    unknown_user_and_wrong_password_look_the_same_and_failures_are_throttled,
    refresh_rotates_and_reuse_revokes_the_family,
    concurrent_refreshes_with_one_token_yield_at_most_one_session,
    a_disabled_users_unexpired_token_stops_working,
);

/// An access token for a fixture user, signed with the test secret the way the server signs —
/// for servers where the login mutation itself is not allowed (allow-list mode).
pub async fn token_for(app: &TestApp, username: &str) -> String {
    token_from(&app.state.db, username).await
}

/// [`token_for`], reading the user over a given connection (e.g. one without the server's
/// statement timeout).
pub async fn token_from(db: &sea_orm::DatabaseConnection, username: &str) -> String {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let u = cdtg_api::entity::user::Entity::find()
        .filter(cdtg_api::entity::user::Column::Username.eq(username))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let sid = open_session(db, u.id).await;
    let mut c = claims(u.id, &sid);
    c.role = u.role.as_str().to_owned();
    sign(Algorithm::HS256, Some("k1"), TEST_JWT_SECRET, &c)
}
