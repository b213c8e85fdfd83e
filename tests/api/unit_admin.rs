//! Administering the unit tree through the API: creating, renaming, moving, closing and merging
//! units, scoped and audited; statistics that move with a merge and read back as of an earlier
//! day; accounts of a merged unit held until reassigned.

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const CREATE: &str = r#"mutation($in: CreateAdminUnitInput!) {
    createAdminUnit(input: $in) { unit { id name code kind depth validFrom parent { name } } } }"#;

const MERGE: &str = r#"mutation($in: MergeAdminUnitsInput!) {
    mergeAdminUnits(input: $in) { unit { id name children { totalCount } }
      groupsMoved membersMoved unitsMoved openTasksMoved accountsHeld } }"#;

const UNIT: &str = r#"query($id: ID!) { node(id: $id) { ... on AdminUnit {
    name validTo current mergedInto { name } stats { groups members tasks } } } }"#;

/// `groups`, `members` and `tasks` of a unit's stats, as of `day` (or now).
async fn figures(app: &TestApp, token: &str, unit: i64, day: Option<&str>) -> Value {
    let data = app
        .ok(
            token,
            r#"query($id: ID!, $day: Date) { node(id: $id) { ... on AdminUnit {
                stats(asOf: $day) { groups members tasks } } } }"#,
            json!({ "id": gid(NodeType::AdminUnit, unit), "day": day }),
        )
        .await;
    data["node"]["stats"].clone()
}

async fn error(app: &TestApp, token: &str, query: &str, vars: Value) -> (String, String) {
    let (_, body) = app.gql(Some(token), query, vars).await;
    let e = &body["errors"][0];
    (
        e["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        format!(
            "{} {}",
            e["message"].as_str().unwrap_or_default(),
            e["extensions"]["field"].as_str().unwrap_or_default()
        ),
    )
}

async fn units_are_created_renamed_and_moved_within_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let district = app.login(users::DISTRICT_A, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;

    // A district officer creates a unit inside their district…
    let created = app
        .ok(
            &district,
            CREATE,
            json!({ "in": { "parentId": gid(NodeType::AdminUnit, f.ward_a1), "name": "Tổ dân phố 7",
                    "kind": "RESIDENTIAL_GROUP", "code": "9001", "validFrom": "2026-01-01" } }),
        )
        .await;
    let unit = &created["createAdminUnit"]["unit"];
    assert_eq!(unit["parent"]["name"], "Phước Mỹ");
    assert_eq!(unit["depth"], 3);
    assert_eq!(unit["validFrom"], "2026-01-01");
    let new_id = unit["id"].as_str().unwrap().to_owned();

    // …but not beside it (a unit outside the scope looks missing), nor a ward leader at all.
    let outside = json!({ "in": { "parentId": gid(NodeType::AdminUnit, f.ward_b1),
        "name": "Tổ dân phố 9", "kind": "RESIDENTIAL_GROUP" } });
    assert_eq!(
        error(&app, &district, CREATE, outside.clone()).await.0,
        "NOT_FOUND"
    );
    assert_eq!(error(&app, &ward, CREATE, outside).await.0, "FORBIDDEN");
    // A current unit's code is taken; a bad kind is refused by the schema.
    let (code, msg) = error(
        &app,
        &admin,
        CREATE,
        json!({ "in": { "parentId": gid(NodeType::AdminUnit, f.ward_b1), "name": "X",
                "kind": "WARD", "code": "9001" } }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(msg.contains("9001") && msg.ends_with("code"), "{msg}");

    // Renaming keeps the unit; the code may be cleared.
    let renamed = app
        .ok(
            &district,
            r#"mutation($id: ID!) { updateAdminUnit(input: { id: $id, name: "Tổ dân phố 8", code: null }) {
                unit { name code } } }"#,
            json!({ "id": new_id }),
        )
        .await;
    assert_eq!(
        renamed["updateAdminUnit"]["unit"],
        json!({ "name": "Tổ dân phố 8", "code": null })
    );

    // Moving the residential group with a community group under the sibling ward: the
    // statistics follow, and read as of the day before they are where they were.
    let before_a1 = figures(&app, &admin, f.ward_a1, None).await;
    let before_a2 = figures(&app, &admin, f.ward_a2, None).await;
    let before_district = figures(&app, &admin, f.district_a, None).await;
    let moved = app
        .ok(
            &district,
            r#"mutation($id: ID!, $to: ID!) { moveAdminUnit(input: { id: $id, parentId: $to, effectiveOn: "2026-02-01" }) {
                unit { depth parent { name } ancestors { name } } } }"#,
            json!({ "id": gid(NodeType::AdminUnit, f.rg_a1), "to": gid(NodeType::AdminUnit, f.ward_a2) }),
        )
        .await;
    assert_eq!(
        moved["moveAdminUnit"]["unit"]["parent"]["name"],
        "An Hải Bắc"
    );
    let after_a1 = figures(&app, &admin, f.ward_a1, None).await;
    let after_a2 = figures(&app, &admin, f.ward_a2, None).await;
    assert_eq!(
        after_a1["groups"].as_i64().unwrap(),
        before_a1["groups"].as_i64().unwrap() - 1,
        "{before_a1} {after_a1}"
    );
    assert_eq!(
        after_a2["groups"].as_i64().unwrap(),
        before_a2["groups"].as_i64().unwrap() + 1
    );
    assert_eq!(
        after_a2["tasks"].as_i64().unwrap() + after_a1["tasks"].as_i64().unwrap(),
        before_a2["tasks"].as_i64().unwrap() + before_a1["tasks"].as_i64().unwrap()
    );
    assert_eq!(
        figures(&app, &admin, f.ward_a1, Some("2026-01-31")).await,
        before_a1,
        "as of the day before the move, the group is back in Phước Mỹ"
    );
    // The district's totals did not change: the move stayed inside it.
    assert_eq!(
        figures(&app, &admin, f.district_a, None).await,
        before_district
    );

    // A unit cannot move under its own subtree.
    let (code, msg) = error(
        &app,
        &admin,
        r#"mutation($id: ID!, $to: ID!) { moveAdminUnit(input: { id: $id, parentId: $to, effectiveOn: "2026-02-01" }) { unit { id } } }"#,
        json!({ "id": gid(NodeType::AdminUnit, f.district_a), "to": gid(NodeType::AdminUnit, f.ward_a2) }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT", "{msg}");
    assert!(msg.contains("cannot move under itself"), "{msg}");

    // Every change is in the audit trail.
    let audit = app
        .ok(
            &admin,
            r#"{ auditEvents(first: 50) { nodes { action outcome } } }"#,
            json!({}),
        )
        .await;
    let actions: Vec<&str> = audit["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "SUCCEEDED")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["createAdminUnit", "updateAdminUnit", "moveAdminUnit"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}
on_both_databases!(units_are_created_renamed_and_moved_within_scope);

async fn a_merge_moves_the_present_keeps_the_past_and_holds_accounts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let district = app.login(users::DISTRICT_A, PASSWORD).await;

    // Closing a ward with open tasks and no successor is refused; nothing changes.
    let (code, msg) = error(
        &app,
        &district,
        r#"mutation($id: ID!) { closeAdminUnit(input: { id: $id, validTo: "2025-06-30" }) { unit { id } } }"#,
        json!({ "id": gid(NodeType::AdminUnit, f.ward_a2) }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(msg.contains("open tasks"), "{msg}");

    let a1 = figures(&app, &admin, f.ward_a1, None).await;
    let a2 = figures(&app, &admin, f.ward_a2, None).await;
    let district_before = figures(&app, &admin, f.district_a, None).await;
    let city_before = figures(&app, &admin, f.city, None).await;

    // Merging into a unit inside a source is refused.
    let (code, msg) = error(
        &app,
        &admin,
        MERGE,
        json!({ "in": { "sourceIds": [gid(NodeType::AdminUnit, f.ward_a1)],
                "intoId": gid(NodeType::AdminUnit, f.rg_a1), "effectiveOn": "2025-07-01" } }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(msg.contains("own descendant"), "{msg}");

    // Phước Mỹ and An Hải Bắc become An Hải, under the city, on 1 July 2025.
    let merged = app
        .ok(
            &admin,
            MERGE,
            json!({ "in": {
                "sourceIds": [gid(NodeType::AdminUnit, f.ward_a1), gid(NodeType::AdminUnit, f.ward_a2)],
                "newUnit": { "parentId": gid(NodeType::AdminUnit, f.city), "name": "An Hải",
                             "kind": "WARD", "code": "20275", "validFrom": "2025-07-01" },
                "effectiveOn": "2025-07-01" } }),
        )
        .await;
    let m = &merged["mergeAdminUnits"];
    assert_eq!(m["unit"]["name"], "An Hải");
    assert_eq!(m["unitsMoved"], 1, "Phước Mỹ's residential group: {m}");
    // Both wards' open tasks, the one in the residential group's group included.
    assert_eq!(m["openTasksMoved"], 2, "{m}");
    assert_eq!(
        m["accountsHeld"],
        json!([users::WARD_A1, users::WARD_A2]),
        "{m}"
    );
    let an_hai =
        cdtg_api::ids::decode(NodeType::AdminUnit, m["unit"]["id"].as_str().unwrap()).unwrap();

    // The successor holds both wards' present; the district and city totals are unchanged.
    let now = figures(&app, &admin, an_hai, None).await;
    for k in ["groups", "members", "tasks"] {
        assert_eq!(
            now[k].as_i64().unwrap(),
            a1[k].as_i64().unwrap() + a2[k].as_i64().unwrap(),
            "{k}: {a1} + {a2} vs {now}"
        );
    }
    assert_eq!(figures(&app, &admin, f.city, None).await, city_before);
    // The closed wards read as of their last day, and say what they became.
    let pm = app
        .ok(
            &admin,
            UNIT,
            json!({ "id": gid(NodeType::AdminUnit, f.ward_a1) }),
        )
        .await;
    assert_eq!(pm["node"]["validTo"], "2025-06-30");
    assert_eq!(pm["node"]["current"], false);
    assert_eq!(pm["node"]["mergedInto"]["name"], "An Hải");
    assert_eq!(pm["node"]["stats"], a1);
    // The old district, as of 2025-06-30, still has both wards' figures; today they are gone.
    assert_eq!(
        figures(&app, &admin, f.district_a, Some("2025-06-30")).await,
        district_before
    );
    let district_now = figures(&app, &admin, f.district_a, None).await;
    assert_eq!(
        district_now["groups"].as_i64().unwrap(),
        district_before["groups"].as_i64().unwrap()
            - a1["groups"].as_i64().unwrap()
            - a2["groups"].as_i64().unwrap()
    );

    // The city's children as of each side of the boundary; the sums agree.
    let breakdown = |day: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.ok(
                &admin,
                r#"query($id: ID!, $day: Date) { statsBreakdown(unitId: $id, by: [CHILD_UNIT], asOf: $day) {
                    rows { unit { name } stats { groups members tasks } } } }"#,
                json!({ "id": gid(NodeType::AdminUnit, f.city), "day": day }),
            )
            .await["statsBreakdown"]["rows"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let sum = |rows: &[Value], k: &str| {
        rows.iter()
            .map(|r| r["stats"][k].as_i64().unwrap())
            .sum::<i64>()
    };
    let old = breakdown("2025-06-30").await;
    let new = breakdown("2025-07-01").await;
    let names = |rows: &[Value]| {
        rows.iter()
            .map(|r| r["unit"]["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(names(&old).contains(&"Sơn Trà".to_owned()), "{old:?}");
    assert!(!names(&old).contains(&"An Hải".to_owned()), "{old:?}");
    assert!(names(&new).contains(&"An Hải".to_owned()), "{new:?}");
    for k in ["groups", "members", "tasks"] {
        assert_eq!(sum(&old, k), sum(&new, k), "{k}");
        assert_eq!(sum(&new, k), city_before[k].as_i64().unwrap(), "{k}");
    }
    // Unit lists read as of a day.
    let listed = app
        .ok(
            &admin,
            r#"{ before: adminUnits(filter: { asOf: "2025-06-30", search: "an hai" }) { nodes { name } }
                 after: adminUnits(filter: { asOf: "2025-07-01", search: "an hai" }) { nodes { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(listed["before"]["nodes"], json!([{ "name": "An Hải Bắc" }]));
    assert_eq!(listed["after"]["nodes"], json!([{ "name": "An Hải" }]));

    // The ward leader of Phước Mỹ is held, not widened to An Hải: FORBIDDEN with the reason.
    let (status, body) = app
        .gql(
            None,
            "mutation { login(input: { username: \"ward-a1\", password: \"fixture-password\" }) { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{status} {body}"
    );
    let reason = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        reason.contains("held") && reason.contains("An Hải"),
        "{reason}"
    );
    // An administrator reassigns the account; it signs in again, scoped to An Hải.
    let user_id = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let u = cdtg_api::entity::user::Entity::find()
            .filter(cdtg_api::entity::user::Column::Username.eq(users::WARD_A1))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        gid(NodeType::User, u.id)
    };
    app.ok(
        &admin,
        r#"mutation($id: ID!, $unit: ID!) { reassignUser(input: { id: $id, scopeUnitId: $unit }) { user { username } } }"#,
        json!({ "id": user_id, "unit": gid(NodeType::AdminUnit, an_hai) }),
    )
    .await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    assert_eq!(figures(&app, &ward, an_hai, None).await, now);
    // Nothing new is placed in a closed unit.
    let (code, _) = error(
        &app,
        &admin,
        r#"mutation($u: ID!) { createGroup(input: { name: "Tổ mới", kind: COMMUNITY, unitId: $u }) { group { id } } }"#,
        json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
}
on_both_databases!(a_merge_moves_the_present_keeps_the_past_and_holds_accounts);

async fn a_held_account_is_refused_on_every_transport(backend: Backend) {
    use crate::ws::WsClient;
    use std::time::Duration;

    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let mut socket = WsClient::connect(&app, &ward).await.expect("socket opens");
    socket
        .subscribe("events", "subscription { taskEvents { kind } }", json!({}))
        .await;

    // Phước Mỹ merges into An Hải Bắc: its ward leader's account is held.
    let merged = app
        .ok(
            &admin,
            MERGE,
            json!({ "in": { "sourceIds": [gid(NodeType::AdminUnit, f.ward_a1)],
                    "intoId": gid(NodeType::AdminUnit, f.ward_a2), "effectiveOn": "2025-07-01" } }),
        )
        .await;
    assert_eq!(
        merged["mergeAdminUnits"]["accountsHeld"],
        json!([users::WARD_A1])
    );

    // The running subscription's socket closes with the reason…
    while socket.next_message(Duration::from_secs(10)).await.is_some() {}
    let (code, reason) = socket.closed.clone().expect("the server closed the socket");
    assert_eq!(code, 4403);
    assert!(reason.contains("held"), "{reason}");
    // …a new socket is refused the same way, not told to try again later…
    let refused = WsClient::connect(&app, &ward).await.err().expect("refused");
    assert!(
        refused.contains("4403") && refused.contains("held"),
        "{refused}"
    );
    // …and over HTTP a graphql-response+json client gets 403 with FORBIDDEN.
    let res = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&ward)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ me { username } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    // Nobody is registered in the closed ward any more.
    let (code, msg) = error(
        &app,
        &admin,
        r#"mutation($u: ID!) { createMember(input: { familyName: "Lê", givenName: "Hoa", affiliation: RESIDENT, unitId: $u }) { member { id } } }"#,
        json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(msg.ends_with("unitId"), "{msg}");

    // The merge's audit event says what moved.
    let audit = app
        .ok(
            &admin,
            r#"{ auditEvents(first: 20) { nodes { action outcome detail } } }"#,
            json!({}),
        )
        .await;
    let merge = audit["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "mergeAdminUnits" && e["outcome"] == "SUCCEEDED")
        .cloned()
        .expect("the merge is audited");
    let detail = merge["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("1 units closed") && detail.ends_with("1 accounts held"),
        "{detail}"
    );
}
on_both_databases!(a_held_account_is_refused_on_every_transport);
