//! Answers that must not reveal what the caller cannot see.
//!
//! Objects outside a caller's scope must look exactly like objects that do not exist: same code,
//! same message, same HTTP status, same `data`. The pairs below are compared byte for byte.
//! Field reports' idempotency keys belong to the user who sends them: a key says nothing about
//! anyone else's reports and blocks nobody. And password checks, now off the async executor,
//! still answer an unknown user exactly like a wrong password.

use cdtg_api::entity::activity;
use cdtg_api::ids::NodeType;
use cdtg_api::principal::Principal;
use cdtg_api::service::members;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// An id no row has.
const MISSING: i64 = 987_654;

const REPORT: &str = "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { created activity { id note } } }";

fn report(key: &str, task: &str, residents: i64, note: &str) -> Value {
    json!({ "i": { "idempotencyKey": key, "taskId": task, "occurredAt": "2026-11-20T02:30:00Z",
        "residentsHelped": residents, "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 1 }], "note": note } })
}

async fn activities(app: &TestApp) -> u64 {
    activity::Entity::find().count(&app.state.db).await.unwrap()
}

async fn look_alikes_are_identical(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    // A member registered in ward A1 who also belongs to a group of ward B1: the foreign group
    // would otherwise show through the member filter.
    members::add_membership(
        &app.state.db,
        &Principal::system(),
        members::NewMembership {
            member_id: f.member_a1_third,
            group_id: f.group_b1,
            role: cdtg_core::group::MembershipRole::Member,
            joined_on: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("add membership: {e:?}"));
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let district = app.login(users::DISTRICT_A, PASSWORD).await;
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let ward_b = app.login(users::WARD_B1, PASSWORD).await;

    let members_of =
        "query($g: ID!) { members(filter: { groupId: $g }) { totalCount nodes { fullName } } }";
    let create_user = "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }";
    let new_user = |member: i64| {
        json!({ "i": { "username": "new-ward-leader", "password": "long-enough-password", "role": "WARD_LEADER",
            "scopeUnitId": gid(NodeType::AdminUnit, f.ward_a1), "memberId": gid(NodeType::Member, member) } })
    };
    let transition =
        "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status } } }";
    let start = |task: i64| json!({ "i": { "id": gid(NodeType::Task, task), "action": "START", "expectedVersion": 1 } });
    // (what, token, query, variables of the hidden object, variables of a missing one)
    let pairs: Vec<(&str, &str, &str, Value, Value)> = vec![
        (
            "members of a group of another ward",
            &ward,
            members_of,
            json!({ "g": gid(NodeType::Group, f.group_b1) }),
            json!({ "g": gid(NodeType::Group, MISSING) }),
        ),
        (
            "createUser with a member of another district",
            &district,
            create_user,
            new_user(f.member_b1),
            new_user(MISSING),
        ),
        (
            "a VIEWER starting a task in scope",
            &viewer,
            transition,
            start(f.task_a1),
            start(MISSING),
        ),
        (
            "a ward leader starting a task of another ward",
            &ward_b,
            transition,
            start(f.task_a1),
            start(MISSING),
        ),
        (
            "a report on a task of another ward",
            &ward_b,
            REPORT,
            report("look-alike-0001", &gid(NodeType::Task, f.task_a1), 1, "x"),
            report("look-alike-0001", &gid(NodeType::Task, MISSING), 1, "x"),
        ),
    ];
    for (what, token, query, hidden, missing) in pairs {
        let (s1, b1) = app.gql(Some(token), query, hidden).await;
        let (s2, b2) = app.gql(Some(token), query, missing).await;
        assert_eq!(s1, s2, "{what}: HTTP status");
        assert_eq!(b1.to_string(), b2.to_string(), "{what}: body");
        eprintln!("{what}: {b1}");
    }
    // And what the look-alikes look like: nothing for the filter, the usual refusals otherwise.
    let (_, body) = app
        .gql(
            Some(&ward),
            members_of,
            json!({ "g": gid(NodeType::Group, f.group_b1) }),
        )
        .await;
    assert_eq!(body["data"]["members"]["totalCount"], 0, "{body}");
    let (_, body) = app.gql(Some(&viewer), transition, start(f.task_a1)).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = app
        .gql(Some(&district), create_user, new_user(f.member_b1))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "memberId",
        "{body}"
    );
    // The member in scope is still linked fine.
    app.ok(&district, create_user, new_user(f.member_a1_third))
        .await;
}

async fn idempotency_keys_belong_to_their_user(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward_b = app.login(users::WARD_B1, PASSWORD).await;
    let task_a = gid(NodeType::Task, f.task_a1);
    let task_b = gid(NodeType::Task, f.task_b1);
    const KEY: &str = "shared-key-0001";

    let original = app
        .ok(
            &leader,
            REPORT,
            report(KEY, &task_a, 4, "Bí mật của tổ trưởng"),
        )
        .await;
    assert_eq!(original["reportActivity"]["created"], true);
    let original_id = original["reportActivity"]["activity"]["id"].clone();

    // The same user replaying: the original, nothing new.
    let before = activities(&app).await;
    let replay = app
        .ok(
            &leader,
            REPORT,
            report(KEY, &task_a, 4, "Bí mật của tổ trưởng"),
        )
        .await;
    assert_eq!(replay["reportActivity"]["created"], false);
    assert_eq!(replay["reportActivity"]["activity"]["id"], original_id);
    assert_eq!(activities(&app).await, before);
    // The same user, other content: CONFLICT, as before.
    let (_, body) = app
        .gql(Some(&leader), REPORT, report(KEY, &task_a, 5, "khác"))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );

    // A member of the same group sending the leader's exact report makes a report of their
    // own, and never reads the leader's note.
    let mine = app
        .ok(
            &member,
            REPORT,
            report(KEY, &task_a, 4, "Bí mật của tổ trưởng"),
        )
        .await;
    assert_eq!(mine["reportActivity"]["created"], true, "{mine}");
    assert_ne!(mine["reportActivity"]["activity"]["id"], original_id);
    let (_, body) = app
        .gql(
            Some(&member),
            "query($id: ID!) { node(id: $id) { ... on Activity { note } } }",
            json!({ "id": original_id }),
        )
        .await;
    assert!(
        body["data"]["node"].is_null(),
        "a MEMBER sees only their own reports: {body}"
    );

    // Another ward: the key is free there (no CONFLICT revealing it exists), and using it on a
    // task outside the scope is NOT_FOUND exactly like a fresh key.
    let there = app
        .ok(&ward_b, REPORT, report(KEY, &task_b, 2, "Tân Chính"))
        .await;
    assert_eq!(there["reportActivity"]["created"], true, "{there}");
    let (s1, b1) = app
        .gql(
            Some(&ward_b),
            REPORT,
            report(KEY, &task_a, 4, "Bí mật của tổ trưởng"),
        )
        .await;
    let (s2, b2) = app
        .gql(
            Some(&ward_b),
            REPORT,
            report("fresh-key-0001", &task_a, 4, "Bí mật của tổ trưởng"),
        )
        .await;
    assert_eq!(b1["errors"][0]["extensions"]["code"], "NOT_FOUND", "{b1}");
    assert_eq!((s1, b1.to_string()), (s2, b2.to_string()));

    // A key claimed first elsewhere blocks nobody.
    app.ok(
        &ward_b,
        REPORT,
        report("claimed-first-0001", &task_b, 1, "x"),
    )
    .await;
    let later = app
        .ok(
            &leader,
            REPORT,
            report("claimed-first-0001", &task_a, 1, "x"),
        )
        .await;
    assert_eq!(later["reportActivity"]["created"], true);

    // A padded key is refused, not stored as a second report.
    let before = activities(&app).await;
    for padded in [" shared-key-0001", "shared-key-0001 "] {
        let (_, body) = app
            .gql(
                Some(&leader),
                REPORT,
                report(padded, &task_a, 4, "Bí mật của tổ trưởng"),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "idempotencyKey",
            "{body}"
        );
    }
    assert_eq!(activities(&app).await, before);

    // Progress counted each report once: leader (1 + 1), member (1).
    let data = app
        .ok(
            &leader,
            "query($id: ID!) { node(id: $id) { ... on Task { progress } } }",
            json!({ "id": task_a }),
        )
        .await;
    assert_eq!(data["node"]["progress"], 3);
}

const LOGIN: &str = "mutation($u: String!, $p: String!) { login(input: { username: $u, password: $p }) { accessToken } }";

async fn passwords_are_checked_off_the_executor(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let district = app.login(users::DISTRICT_A, PASSWORD).await;
    // createUser hashes before its transaction; the new account signs in.
    app.ok(
        &district,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { username } } }",
        json!({ "i": { "username": "ana-ward", "password": "ana's long password", "role": "WARD_LEADER",
            "scopeUnitId": gid(NodeType::AdminUnit, f.ward_a1) } }),
    )
    .await;
    app.login("ana-ward", "ana's long password").await;
    // Unknown user and wrong password: the same answer.
    let (s1, b1) = app
        .gql(
            None,
            LOGIN,
            json!({ "u": "ana-ward", "p": "wrong password!" }),
        )
        .await;
    let (s2, b2) = app
        .gql(
            None,
            LOGIN,
            json!({ "u": "nobody-here", "p": "wrong password!" }),
        )
        .await;
    assert_eq!(
        b1["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{b1}"
    );
    assert_eq!((s1, b1.to_string()), (s2, b2.to_string()));
    // Logins in flight and ordinary requests side by side all complete (argon2 runs on the
    // blocking pool; no timing is asserted, only that nothing is starved or fails).
    let logins =
        (0..6).map(|_| app.gql(None, LOGIN, json!({ "u": users::WARD_A1, "p": PASSWORD })));
    let reads = (0..6).map(|_| app.gql(Some(&district), "{ me { username } }", json!({})));
    let (logins, reads) = tokio::join!(
        futures_util::future::join_all(logins),
        futures_util::future::join_all(reads)
    );
    for (_, body) in logins {
        assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    }
    for (_, body) in reads {
        assert_eq!(body["data"]["me"]["username"], users::DISTRICT_A, "{body}");
    }
}

on_both_databases!(
    look_alikes_are_identical,
    idempotency_keys_belong_to_their_user,
    passwords_are_checked_off_the_executor,
);
