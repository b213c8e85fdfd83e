//! Accounts, sessions and machine access: the login throttle under parallel guessing and from
//! several addresses, sessions that end on logout, password change, reset and disable, the
//! one-time password of a reset, the `users` connection and `updateUser`, API keys, the
//! command line, and the audit trail of all of it.

use std::time::Duration;

use cdtg_api::ids::NodeType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp, test_args, user_id};
use crate::on_both_databases;
use crate::ws::WsClient;

const LOGIN: &str = "mutation($u: String!, $p: String!, $d: String) { login(input: {username: $u, password: $p, device: $d}) { accessToken refreshToken mustChangePassword user { username } } }";
const ME: &str = "{ me { username } }";
const SESSIONS: &str = "{ me { sessions { id device current createdAt lastUsedAt expiresAt } } }";
const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { user { username mustChangePassword } } }";
const RESET: &str = "mutation($u: ID!) { resetPassword(input: {userId: $u}) { oneTimePassword user { username mustChangePassword } } }";
const CREATE_KEY: &str = "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret apiKey { id name prefix role canWrite expiresAt lastUsedAt scopeUnit { name } } } }";

/// A login as sent from `address` through a trusted proxy.
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Value, Option<String>) {
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("x-forwarded-for", address)
        .json(&json!({ "query": LOGIN, "variables": { "u": username, "p": password } }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap(), retry_after)
}

/// A server that believes X-Forwarded-For from the test client, so tests can speak from many
/// addresses.
async fn behind_proxy(backend: Backend) -> Option<TestApp> {
    let mut args = test_args();
    args.trusted_proxies = "127.0.0.1".to_owned();
    TestApp::spawn_with(backend, args).await
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn parallel_guesses_cannot_outrun_the_budget_and_the_refusal_is_a_429(backend: Backend) {
    let Some(app) = behind_proxy(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let guesses = (0..25).map(|i| {
        let app = &app;
        async move {
            login_from(
                app,
                "203.0.113.7",
                users::WARD_A1,
                &format!("wrong-guess-{i}"),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(guesses).await;
    let verified = results
        .iter()
        .filter(|(_, b, _)| code(b) == "UNAUTHENTICATED")
        .count();
    let throttled = results
        .iter()
        .filter(|(_, b, _)| code(b) == "RATE_LIMITED")
        .count();
    assert_eq!(verified + throttled, 25, "{results:?}");
    assert!(
        verified <= 5,
        "only the free failures were checked, not {verified}"
    );
    // The right password from the guessing address waits too.
    let (status, body, retry_after) =
        login_from(&app, "203.0.113.7", users::WARD_A1, PASSWORD).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!(wait >= 1);
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], wait);
    assert!(
        body["data"].is_null() || body.get("data").is_none(),
        "{body}"
    );
}

async fn a_guesser_does_not_lock_out_the_user_elsewhere_nor_the_office(backend: Backend) {
    let Some(app) = behind_proxy(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    // A colleague has signed in from the office before.
    let (_, body, _) = login_from(&app, "198.51.100.1", users::WARD_A2, PASSWORD).await;
    assert!(body["errors"].is_null(), "{body}");
    for i in 0..8 {
        login_from(&app, "203.0.113.9", users::WARD_A1, &format!("guess-{i}")).await;
    }
    let (_, body, _) = login_from(&app, "203.0.113.9", users::WARD_A1, PASSWORD).await;
    assert_eq!(
        code(&body),
        "RATE_LIMITED",
        "the guessing address waits: {body}"
    );
    let (status, body, _) = login_from(&app, "198.51.100.1", users::WARD_A1, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["login"]["user"]["username"],
        users::WARD_A1,
        "{body}"
    );

    // Someone in the office sprays usernames past the address budget (50): strangers from
    // there wait, the colleague who signed in from there before does not.
    for i in 0..50 {
        login_from(
            &app,
            "198.51.100.1",
            &format!("nobody-{i}"),
            "whatever-it-is",
        )
        .await;
    }
    let (_, body, _) = login_from(&app, "198.51.100.1", users::WARD_B1, PASSWORD).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    let (_, body, _) = login_from(&app, "198.51.100.1", users::WARD_A2, PASSWORD).await;
    assert_eq!(
        body["data"]["login"]["user"]["username"],
        users::WARD_A2,
        "{body}"
    );
}

async fn ending_a_session_refuses_its_tokens_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    let access = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(&access, ME, json!({})).await;
    let data = app
        .ok(&access, "mutation { logout { revoked } }", json!({}))
        .await;
    assert_eq!(data["logout"]["revoked"], true);
    let (status, body) = app.gql(Some(&access), ME, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "UNAUTHENTICATED");
    let (_, body) = app
        .gql(
            None,
            "mutation($t: String!) { refreshToken(input: {refreshToken: $t}) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(
        code(&body),
        "UNAUTHENTICATED",
        "the session's refresh token died with it"
    );

    // Signing out with only the refresh token ends that session too.
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    let access = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = app
        .gql(
            None,
            "mutation($t: String!) { logout(input: {refreshToken: $t}) { revoked } }",
            json!({ "t": refresh }),
        )
        .await;
    assert_eq!(body["data"]["logout"]["revoked"], true, "{body}");
    assert_eq!(
        app.error_code(Some(&access), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
}

async fn disabling_ends_sessions_for_good(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let id = gid(NodeType::User, user_id(&app.state.db, users::WARD_A1).await);
    let set = "mutation($id: ID!, $d: Boolean!) { setUserDisabled(input: {id: $id, disabled: $d}) { user { disabled } } }";
    app.ok(&admin, set, json!({ "id": id, "d": true })).await;
    assert_eq!(
        app.error_code(Some(&ward), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    app.ok(&admin, set, json!({ "id": id, "d": false })).await;
    assert_eq!(
        app.error_code(Some(&ward), ME, json!({})).await,
        "UNAUTHENTICATED",
        "re-enabling does not revive a token issued before"
    );
    let fresh = app.login(users::WARD_A1, PASSWORD).await;
    app.ok(&fresh, ME, json!({})).await;
}

async fn sessions_are_listed_revoked_and_a_password_change_keeps_only_this_one(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let mut tokens = vec![];
    for device in [
        "Android — Samsung A15",
        "Chrome on the ward office PC",
        "Tablet",
    ] {
        let (_, body) = app
            .gql(
                None,
                LOGIN,
                json!({ "u": users::WARD_A1, "p": PASSWORD, "d": device }),
            )
            .await;
        tokens.push(
            body["data"]["login"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let data = app.ok(&tokens[0], SESSIONS, json!({})).await;
    let sessions = data["me"]["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3, "{data}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device"], "Android — Samsung A15");
    for s in &sessions {
        assert!(
            s["createdAt"].is_string() && s["lastUsedAt"].is_string() && s["expiresAt"].is_string()
        );
    }
    // End the tablet's session from the phone.
    let tablet = sessions.iter().find(|s| s["device"] == "Tablet").unwrap();
    let data = app
        .ok(
            &tokens[0],
            "mutation($id: ID!) { revokeSession(input: {id: $id}) { session { device current } } }",
            json!({ "id": tablet["id"] }),
        )
        .await;
    assert_eq!(data["revokeSession"]["session"]["device"], "Tablet");
    assert_eq!(
        app.error_code(Some(&tokens[2]), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    // Someone else's session looks like no session.
    let other = app.login(users::WARD_B1, PASSWORD).await;
    let (_, body) = app
        .gql(
            Some(&other),
            "mutation($id: ID!) { revokeSession(input: {id: $id}) { session { device } } }",
            json!({ "id": sessions[0]["id"] }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    app.ok(&tokens[0], ME, json!({})).await;

    // A wrong current password and weak new ones are refused, naming the field.
    let (_, body) = app
        .gql(
            Some(&tokens[0]),
            CHANGE,
            json!({ "c": "not-my-password", "n": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "currentPassword");
    for weak in ["short", "1234567890", "Matkhau@2025"] {
        let (_, body) = app
            .gql(
                Some(&tokens[0]),
                CHANGE,
                json!({ "c": PASSWORD, "n": weak }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "newPassword",
            "{weak}: {body}"
        );
    }
    app.ok(&tokens[0], ME, json!({})).await;
    // The change keeps this session and ends the office PC's.
    app.ok(
        &tokens[0],
        CHANGE,
        json!({ "c": PASSWORD, "n": "a brand new passphrase" }),
    )
    .await;
    app.ok(&tokens[0], ME, json!({})).await;
    assert_eq!(
        app.error_code(Some(&tokens[1]), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "the old password is gone");
    app.login(users::WARD_A1, "a brand new passphrase").await;
}

async fn a_reset_forces_a_new_password_before_anything_else(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let ward_id = gid(NodeType::User, user_id(&app.state.db, users::WARD_A1).await);
    let data = app.ok(&admin, RESET, json!({ "u": ward_id })).await;
    let otp = data["resetPassword"]["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(data["resetPassword"]["user"]["mustChangePassword"], true);
    assert_eq!(
        app.error_code(Some(&ward), ME, json!({})).await,
        "UNAUTHENTICATED",
        "the reset ended the sessions"
    );
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD }))
        .await;
    assert_eq!(
        code(&body),
        "UNAUTHENTICATED",
        "the old password no longer works"
    );

    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": otp }))
        .await;
    assert_eq!(body["data"]["login"]["mustChangePassword"], true, "{body}");
    let once = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nothing but changePassword runs, over either media type, and on a socket.
    for query in [
        ME,
        "{ groups { totalCount } }",
        "mutation { createApiKey(input: {name: \"x\", role: VIEWER}) { secret } }",
    ] {
        let (status, body) = app.gql(Some(&once), query, json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN", "{query}: {body}");
        assert_eq!(status, StatusCode::OK);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("changePassword")
        );
    }
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&once)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The one-time password works once.
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": otp }))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let data = app
        .ok(
            &once,
            CHANGE,
            json!({ "c": otp, "n": "my own passphrase now" }),
        )
        .await;
    assert_eq!(data["changePassword"]["user"]["mustChangePassword"], false);
    app.ok(&once, ME, json!({})).await;
    app.login(users::WARD_A1, "my own passphrase now").await;

    // Resetting someone at or above you, or outside your scope, looks like a missing account.
    let ward = app.login(users::WARD_A1, "my own passphrase now").await;
    for target in [users::ADMIN, users::DISTRICT_A, users::WARD_A2] {
        let id = gid(NodeType::User, user_id(&app.state.db, target).await);
        let (_, body) = app.gql(Some(&ward), RESET, json!({ "u": id })).await;
        assert_eq!(code(&body), "NOT_FOUND", "{target}: {body}");
    }
    let (_, body) = app
        .gql(
            Some(&ward),
            RESET,
            json!({ "u": gid(NodeType::User, 999_999) }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND");
    // A ward leader resets a member of their ward.
    let member = gid(
        NodeType::User,
        user_id(&app.state.db, users::MEMBER_A1).await,
    );
    app.ok(&ward, RESET, json!({ "u": member })).await;
}

async fn users_are_listed_in_scope_and_updated_within_powers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let list = "query($f: UserFilter) { users(filter: $f, first: 50) { totalCount nodes { username role displayName } } }";
    let names = |data: &Value| -> Vec<String> {
        data["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.ok(&admin, list, json!({})).await;
    assert_eq!(all["users"]["totalCount"], 8, "{all}");
    let mine = app.ok(&ward, list, json!({})).await;
    assert_eq!(
        names(&mine),
        vec![users::LEADER_A1, users::MEMBER_A1, users::WARD_A1],
        "a ward leader sees the accounts of the ward"
    );
    let leaders = app
        .ok(&admin, list, json!({ "f": { "role": ["WARD_LEADER"] } }))
        .await;
    assert_eq!(
        names(&leaders),
        vec![users::WARD_A1, users::WARD_A2, users::WARD_B1]
    );
    let in_district = app
        .ok(
            &admin,
            list,
            json!({ "f": { "unitId": gid(NodeType::AdminUnit, f.district_a) } }),
        )
        .await;
    assert_eq!(in_district["users"]["totalCount"], 5, "{in_district}");
    let (_, body) = app
        .gql(
            Some(&app.login(users::VIEWER, PASSWORD).await),
            list,
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");

    // Display names, and accent-insensitive search over them in any word order.
    let update = "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { username role displayName scopeUnit { name } } } }";
    let leader_id = gid(
        NodeType::User,
        user_id(&app.state.db, users::LEADER_A1).await,
    );
    app.ok(
        &ward,
        update,
        json!({ "i": { "id": leader_id, "displayName": "Nguyễn Văn Chung" } }),
    )
    .await;
    let found = app
        .ok(&ward, list, json!({ "f": { "search": "chung nguyen" } }))
        .await;
    assert_eq!(names(&found), vec![users::LEADER_A1]);
    let disabled = app
        .ok(&admin, list, json!({ "f": { "disabled": true } }))
        .await;
    assert_eq!(disabled["users"]["totalCount"], 0);
    // Anyone may name themselves; nobody may raise themselves.
    let me_id = gid(NodeType::User, user_id(&app.state.db, users::WARD_A1).await);
    app.ok(
        &ward,
        update,
        json!({ "i": { "id": me_id, "displayName": "Trần Thị Lan" } }),
    )
    .await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let member_self = gid(
        NodeType::User,
        user_id(&app.state.db, users::MEMBER_A1).await,
    );
    let data = app
        .ok(
            &member,
            update,
            json!({ "i": { "id": member_self, "displayName": "Trần Thị Hà" } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"]["displayName"], "Trần Thị Hà");
    let (_, body) = app
        .gql(
            Some(&member),
            update,
            json!({ "i": { "id": member_self, "displayName": "a\nb" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "displayName",
        "{body}"
    );
    let (_, body) = app
        .gql(
            Some(&ward),
            update,
            json!({ "i": { "id": me_id, "role": "CITY_ADMIN" } }),
        )
        .await;
    assert_eq!(
        code(&body),
        "NOT_FOUND",
        "one's own role is not one's to change: {body}"
    );

    // Within powers: no role at or above one's own, no scope outside one's own.
    let member_id = gid(
        NodeType::User,
        user_id(&app.state.db, users::MEMBER_A1).await,
    );
    let (_, body) = app
        .gql(Some(&ward), update, json!({ "i": { "id": member_id, "role": "WARD_LEADER", "scopeUnitId": gid(NodeType::AdminUnit, f.ward_a1) } }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let district = app.login(users::DISTRICT_A, PASSWORD).await;
    let ward_a2 = gid(NodeType::User, user_id(&app.state.db, users::WARD_A2).await);
    let (_, body) = app
        .gql(
            Some(&district),
            update,
            json!({ "i": { "id": ward_a2, "scopeUnitId": gid(NodeType::AdminUnit, f.ward_b1) } }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "scopeUnitId");
    let (_, body) = app
        .gql(Some(&district), update, json!({ "i": { "id": gid(NodeType::User, user_id(&app.state.db, users::WARD_B1).await), "displayName": "x" } }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "outside the district");
    // A permitted change ends the account's sessions.
    let ward_a2_token = app.login(users::WARD_A2, PASSWORD).await;
    let data = app
        .ok(
            &district,
            update,
            json!({ "i": { "id": ward_a2, "role": "VIEWER" } }),
        )
        .await;
    assert_eq!(data["updateUser"]["user"]["role"], "VIEWER");
    assert_eq!(
        data["updateUser"]["user"]["scopeUnit"]["name"],
        "An Hải Bắc"
    );
    assert_eq!(
        app.error_code(Some(&ward_a2_token), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
    let as_viewer = app.login(users::WARD_A2, PASSWORD).await;
    let data = app.ok(&as_viewer, "{ me { role } }", json!({})).await;
    assert_eq!(data["me"]["role"], "VIEWER");
}

async fn api_keys_read_within_their_role_and_end_when_revoked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let unit = gid(NodeType::AdminUnit, f.ward_a1);
    // A key above the creator's role, or outside their scope, or already expired: refused.
    for (input, expected, field) in [
        (
            json!({ "name": "too high", "role": "DISTRICT_OFFICER" }),
            "FORBIDDEN",
            None,
        ),
        (
            json!({ "name": "group role", "role": "MEMBER" }),
            "FORBIDDEN",
            None,
        ),
        (
            json!({ "name": "elsewhere", "role": "VIEWER", "scopeUnitId": gid(NodeType::AdminUnit, f.ward_b1) }),
            "BAD_USER_INPUT",
            Some("scopeUnitId"),
        ),
        (
            json!({ "name": "past", "role": "VIEWER", "expiresAt": "2020-01-01T00:00:00Z" }),
            "BAD_USER_INPUT",
            Some("expiresAt"),
        ),
        (
            json!({ "name": "  ", "role": "VIEWER" }),
            "BAD_USER_INPUT",
            Some("name"),
        ),
    ] {
        let (_, body) = app
            .gql(Some(&ward), CREATE_KEY, json!({ "i": input }))
            .await;
        assert_eq!(code(&body), expected, "{input}: {body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["extensions"]["field"], field);
        }
    }
    let data = app
        .ok(
            &ward,
            CREATE_KEY,
            json!({ "i": { "name": "nightly export", "role": "VIEWER", "scopeUnitId": unit } }),
        )
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    let key_id = data["createApiKey"]["apiKey"]["id"].clone();
    assert!(secret.starts_with("cdtg_") && secret.len() > 40);
    assert!(secret[5..].starts_with(data["createApiKey"]["apiKey"]["prefix"].as_str().unwrap()));
    assert_eq!(data["createApiKey"]["apiKey"]["canWrite"], false);
    assert!(data["createApiKey"]["apiKey"]["lastUsedAt"].is_null());

    // VIEWER: aggregates yes, personal data no, writes no.
    let stats = app
        .ok(
            &secret,
            "query($u: ID!) { adminUnit(id: $u) { stats { groups members } } }",
            json!({ "u": unit }),
        )
        .await;
    assert!(
        stats["adminUnit"]["stats"]["groups"].as_i64().unwrap() > 0,
        "{stats}"
    );
    let (_, body) = app
        .gql(Some(&secret), "{ members { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .gql(Some(&secret), "mutation { logout { revoked } }", json!({}))
        .await;
    assert_eq!(
        code(&body),
        "FORBIDDEN",
        "a read-only key runs no mutation: {body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("canWrite")
    );
    // Outside its unit there is nothing to read.
    let (_, body) = app
        .gql(
            Some(&secret),
            "query($u: ID!) { adminUnit(id: $u) { stats { groups } } }",
            json!({ "u": gid(NodeType::AdminUnit, f.ward_b1) }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    let keys = app
        .ok(
            &ward,
            "{ apiKeys { id name lastUsedAt createdBy { username } } }",
            json!({}),
        )
        .await;
    assert_eq!(keys["apiKeys"][0]["name"], "nightly export");
    assert!(keys["apiKeys"][0]["lastUsedAt"].is_string(), "{keys}");
    assert_eq!(keys["apiKeys"][0]["createdBy"]["username"], users::WARD_A1);
    let (_, body) = app
        .gql(
            Some(&app.login(users::WARD_B1, PASSWORD).await),
            "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { id } } }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "another ward's key is not there");

    // A write key does what its role may, and a key cannot make keys.
    let data = app
        .ok(
            &ward,
            CREATE_KEY,
            json!({ "i": { "name": "roster sync", "role": "WARD_LEADER", "canWrite": true } }),
        )
        .await;
    let writer = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    app.ok(
        &writer,
        "mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } } }",
        json!({ "i": { "name": "Tổ hỗ trợ từ xa", "kind": "COMMUNITY", "unitId": unit } }),
    )
    .await;
    let (_, body) = app
        .gql(
            Some(&writer),
            CREATE_KEY,
            json!({ "i": { "name": "child", "role": "VIEWER" } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");

    // Revoked: refused from the next request, on every transport.
    let mut socket = WsClient::connect(&app, &secret)
        .await
        .expect("a key opens a socket");
    app.ok(
        &ward,
        "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } } }",
        json!({ "id": key_id }),
    )
    .await;
    let (status, body) = app
        .gql(Some(&secret), "{ adminUnits { totalCount } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert!(socket.next_message(Duration::from_secs(5)).await.is_none());
    assert_eq!(
        socket.closed.as_ref().map(|c| c.0),
        Some(4403),
        "{:?}",
        socket.closed
    );

    // Expired keys are refused too.
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let row_id = cdtg_api::ids::decode(
        NodeType::ApiKey,
        data["createApiKey"]["apiKey"]["id"].as_str().unwrap(),
    )
    .unwrap();
    let row = cdtg_api::entity::api_key::Entity::find_by_id(row_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: cdtg_api::entity::api_key::ActiveModel = row.into();
    am.expires_at = Set(chrono::Utc::now() - chrono::Duration::minutes(1));
    am.update(&app.state.db).await.unwrap();
    let (_, body) = app
        .gql(Some(&writer), "{ adminUnits { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

async fn a_socket_closes_within_a_second_of_its_session_ending(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let mut socket = WsClient::connect(&app, &token).await.unwrap();
    socket
        .subscribe("1", "subscription { taskEvents { kind } }", json!({}))
        .await;
    app.ok(&token, "mutation { logout { revoked } }", json!({}))
        .await;
    let started = std::time::Instant::now();
    assert!(socket.next_message(Duration::from_secs(5)).await.is_none());
    let (code, reason) = socket.closed.clone().expect("closed by the server");
    assert_eq!(code, 4403);
    assert!(reason.contains("ended"), "{reason}");
    // The watcher ticks twice a second; allow for a loaded test machine.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        WsClient::connect(&app, &token).await.is_err(),
        "the token cannot open a new one"
    );
}

async fn every_account_act_is_audited_without_secrets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let (_, _) = app
        .gql(
            None,
            LOGIN,
            json!({ "u": users::WARD_A1, "p": "a-wrong-password" }),
        )
        .await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let member = gid(
        NodeType::User,
        user_id(&app.state.db, users::MEMBER_A1).await,
    );
    let otp =
        app.ok(&ward, RESET, json!({ "u": member })).await["resetPassword"]["oneTimePassword"]
            .as_str()
            .unwrap()
            .to_owned();
    let data = app
        .ok(
            &ward,
            CREATE_KEY,
            json!({ "i": { "name": "audit check", "role": "VIEWER" } }),
        )
        .await;
    let secret = data["createApiKey"]["secret"].as_str().unwrap().to_owned();
    app.ok(&secret, "{ adminUnits { totalCount } }", json!({}))
        .await;
    app.ok(&ward, "mutation { logout { revoked } }", json!({}))
        .await;

    let events = app
        .ok(
            &admin,
            "{ auditEvents(first: 100) { nodes { actor action outcome objectType detail } } }",
            json!({}),
        )
        .await;
    let nodes = events["auditEvents"]["nodes"].as_array().unwrap();
    let has = |action: &str, outcome: &str| {
        nodes
            .iter()
            .any(|n| n["action"] == action && n["outcome"] == outcome)
    };
    for (action, outcome) in [
        ("login", "REJECTED"),
        ("login", "SUCCEEDED"),
        ("resetPassword", "SUCCEEDED"),
        ("createApiKey", "SUCCEEDED"),
        ("apiKeyUsed", "SUCCEEDED"),
        ("logout", "SUCCEEDED"),
    ] {
        assert!(has(action, outcome), "{action} {outcome} missing: {events}");
    }
    let text = events.to_string();
    for secret_text in [PASSWORD, "a-wrong-password", otp.as_str(), secret.as_str()] {
        assert!(
            !text.contains(secret_text),
            "the audit trail holds a secret"
        );
    }
    let rejected = nodes
        .iter()
        .find(|n| n["action"] == "login" && n["outcome"] == "REJECTED")
        .unwrap();
    assert_eq!(rejected["actor"], users::WARD_A1);
}

async fn the_command_line_lists_updates_and_resets_accounts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let url = app.db.url().to_owned();
    let cli = crate::going_live::cdtg;
    let (ok, out) = cli(&url, &["user", "list", "--role", "WARD_LEADER"], &[]);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("ward-")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    let (ok, out) = cli(
        &url,
        &[
            "user",
            "update",
            users::WARD_B1,
            "--display-name",
            "Phạm Thị Bích",
        ],
        &[],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(&url, &["user", "list", "--search", "pham bich"], &[]);
    assert!(
        ok && out.contains(users::WARD_B1) && out.contains("Phạm Thị Bích"),
        "{out}"
    );
    let (ok, out) = cli(
        &url,
        &["user", "update", users::WARD_B1, "--role", "NO_SUCH_ROLE"],
        &[],
    );
    assert!(!ok && out.contains("unknown role"), "{out}");
    let (ok, out) = cli(&url, &["user", "reset-password", users::WARD_B1], &[]);
    assert!(ok, "{out}");
    let otp = out
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap()
        .trim()
        .to_owned();
    let (_, body) = app
        .gql(None, LOGIN, json!({ "u": users::WARD_B1, "p": otp }))
        .await;
    assert_eq!(body["data"]["login"]["mustChangePassword"], true, "{body}");
    let (ok, out) = cli(&url, &["user", "reset-password", "nobody-here"], &[]);
    assert!(!ok && out.contains("no account"), "{out}");
}

async fn a_second_instance_refuses_a_token_the_first_signed_out(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let url = app.db.url().to_owned();
    let db = crate::helpers::TestDb::Shared { url };
    let second = TestApp::spawn_on(db, test_args()).await;
    second.ok(&token, ME, json!({})).await;
    app.ok(&token, "mutation { logout { revoked } }", json!({}))
        .await;
    assert_eq!(
        second.error_code(Some(&token), ME, json!({})).await,
        "UNAUTHENTICATED"
    );
}

on_both_databases!(
    parallel_guesses_cannot_outrun_the_budget_and_the_refusal_is_a_429,
    a_guesser_does_not_lock_out_the_user_elsewhere_nor_the_office,
    ending_a_session_refuses_its_tokens_at_once,
    disabling_ends_sessions_for_good,
    sessions_are_listed_revoked_and_a_password_change_keeps_only_this_one,
    a_reset_forces_a_new_password_before_anything_else,
    users_are_listed_in_scope_and_updated_within_powers,
    api_keys_read_within_their_role_and_end_when_revoked,
    a_socket_closes_within_a_second_of_its_session_ending,
    every_account_act_is_audited_without_secrets,
    the_command_line_lists_updates_and_resets_accounts,
    a_second_instance_refuses_a_token_the_first_signed_out,
);
