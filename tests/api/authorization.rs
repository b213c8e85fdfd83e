//! The authorisation matrix (the role table in `core/src/policy.rs`): every role × every query and mutation × {own,
//! sibling, parent} scope, end to end. "Missing" is strict: the answer must be identical to the
//! answer for an ID that does not exist at all.

use cdtg_api::ids::NodeType;
use cdtg_core::group::GroupKind;
use cdtg_core::unit::UnitKind;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow,
    Forbidden,
    /// Indistinguishable from a nonexistent object.
    Missing,
}
use Expect::*;

/// The objects an operation may target, all in one part of the tree.
#[derive(Debug, Clone, Copy)]
struct Target {
    unit: i64,
    group: i64,
    task: i64,
    member: i64,
    product: i64,
}

const NOWHERE: i64 = 987_654;

impl Target {
    fn nowhere() -> Target {
        Target {
            unit: NOWHERE,
            group: NOWHERE,
            task: NOWHERE,
            member: NOWHERE,
            product: NOWHERE,
        }
    }
}

/// (user, scope label, target, [(operation, expectation)])
type Case = (&'static str, &'static str, Target, Vec<(Op, Expect)>);

#[derive(Debug, Clone, Copy)]
enum Op {
    GroupLookup,
    NodeLookup,
    TaskLookup,
    MemberLookup,
    ProductLookup,
    CreateGroup,
    UpdateGroup,
    CreateMember,
    CreateTask,
    UpdateTask,
    ReportActivity,
    UpsertListing,
    CreateGroupLeaderAccount,
    CreateWardLeaderAccount,
    RecordSurvey,
}

fn request(op: Op, t: Target, n: usize, task_version: i64) -> (&'static str, Value) {
    let unit = gid(NodeType::AdminUnit, t.unit);
    let group = gid(NodeType::Group, t.group);
    let task = gid(NodeType::Task, t.task);
    match op {
        Op::GroupLookup => (
            "query($id: ID!) { group(id: $id) { name } }",
            json!({ "id": group }),
        ),
        Op::NodeLookup => (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": group }),
        ),
        Op::TaskLookup => (
            "query($id: ID!) { task(id: $id) { title } }",
            json!({ "id": task }),
        ),
        Op::MemberLookup => (
            "query($id: ID!) { member(id: $id) { fullName phone } }",
            json!({ "id": gid(NodeType::Member, t.member) }),
        ),
        Op::ProductLookup => (
            "query($id: ID!) { product(id: $id) { name } }",
            json!({ "id": gid(NodeType::Product, t.product) }),
        ),
        Op::CreateGroup => (
            "mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } } }",
            json!({ "i": { "name": format!("Nhóm {n}"), "kind": "COMMUNITY", "unitId": unit } }),
        ),
        Op::UpdateGroup => (
            "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { id } } }",
            json!({ "i": { "id": group, "name": format!("Tên {n}") } }),
        ),
        Op::CreateMember => (
            "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }",
            json!({ "i": { "familyName": "Đỗ", "givenName": "Nam", "affiliation": "RESIDENT", "unitId": unit } }),
        ),
        Op::CreateTask => (
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
            json!({ "i": { "groupId": group, "title": format!("Việc {n}"), "kind": "SURVEY" } }),
        ),
        Op::UpdateTask => (
            "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
            json!({ "i": { "id": task, "expectedVersion": task_version, "title": format!("Việc {n}") } }),
        ),
        Op::ReportActivity => (
            "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { activity { id } } }",
            json!({ "i": { "idempotencyKey": format!("matrix-{n}-{}", uuid::Uuid::new_v4()), "taskId": task, "occurredAt": "2026-11-20T03:00:00Z", "residentsHelped": 1 } }),
        ),
        Op::UpsertListing => (
            "mutation($i: UpsertListingInput!) { upsertListing(input: $i) { listing { id } } }",
            json!({ "i": { "productId": gid(NodeType::Product, t.product), "platform": "POSTMART", "url": format!("https://postmart.vn/p/{n}"), "status": "LISTED" } }),
        ),
        Op::CreateGroupLeaderAccount => (
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": { "username": format!("gl-{n}"), "password": "long-enough-password", "role": "GROUP_LEADER", "scopeGroupId": group } }),
        ),
        Op::CreateWardLeaderAccount => (
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({ "i": { "username": format!("wl-{n}"), "password": "long-enough-password", "role": "WARD_LEADER", "scopeUnitId": unit } }),
        ),
        Op::RecordSurvey => (
            "mutation($i: RecordUnitSurveyInput!) { recordUnitSurvey(input: $i) { survey { id } } }",
            json!({ "i": { "unitId": unit, "periodStart": "2025-01-01", "periodEnd": "2025-12-31", "households": 100, "withComputer": 10, "withInternet": 80, "withSmartphone": 90, "businesses": 5, "businessHouseholds": 7, "fiveSkillsHouseholds": 30 } }),
        ),
    }
}

fn classify(body: &Value) -> Option<Expect> {
    let code = body["errors"][0]["extensions"]["code"].as_str();
    let first = body["data"]
        .as_object()
        .and_then(|d| d.values().next().cloned())
        .unwrap_or(Value::Null);
    match code {
        Some("FORBIDDEN") => Some(Forbidden),
        Some(_) => None,
        None if !first.is_null() => Some(Allow),
        None => None,
    }
}

async fn task_version(app: &TestApp, admin: &str, task: i64) -> i64 {
    let data = app
        .ok(
            admin,
            "query($id: ID!) { task(id: $id) { version } }",
            json!({ "id": gid(NodeType::Task, task) }),
        )
        .await;
    data["task"]["version"].as_i64().unwrap_or(1)
}

async fn the_matrix_holds(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let a1 = Target {
        unit: f.ward_a1,
        group: f.group_a1,
        task: f.task_a1,
        member: f.member_a1_third,
        product: f.product_a1,
    };
    let a2 = Target {
        unit: f.ward_a2,
        group: f.group_a2,
        task: f.task_a2,
        member: f.member_a2,
        product: f.product_b1,
    };
    let b1 = Target {
        unit: f.ward_b1,
        group: f.group_b1,
        task: f.task_b1,
        member: f.member_b1,
        product: f.product_b1,
    };
    let above_ward = Target {
        unit: f.district_a,
        ..Target::nowhere()
    };
    let above_district = Target {
        unit: f.city,
        ..Target::nowhere()
    };
    let above_group = Target {
        unit: f.ward_a1,
        group: f.group_a1_management,
        ..Target::nowhere()
    };

    use Op::*;
    let all_ops = [
        GroupLookup,
        NodeLookup,
        TaskLookup,
        MemberLookup,
        ProductLookup,
        CreateGroup,
        UpdateGroup,
        CreateMember,
        CreateTask,
        UpdateTask,
        ReportActivity,
        UpsertListing,
        CreateGroupLeaderAccount,
        CreateWardLeaderAccount,
        RecordSurvey,
    ];
    // (user, scope label, target, [(op, expectation)])
    let mut cases: Vec<Case> = vec![];
    let row = |exp: [Expect; 15]| all_ops.iter().copied().zip(exp).collect::<Vec<_>>();
    //                                  GrpL NodeL TaskL MemL ProdL CrGrp UpGrp CrMem CrTsk UpTsk Rprt Lstng GLAcc WLAcc Srvy
    cases.push((
        users::ADMIN,
        "own",
        a1,
        row([
            Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow,
            Allow, Allow, Allow,
        ]),
    ));
    cases.push((
        users::DISTRICT_A,
        "own",
        a1,
        row([
            Allow, Allow, Allow, Allow, Allow, Forbidden, Forbidden, Forbidden, Allow, Allow,
            Forbidden, Forbidden, Allow, Allow, Forbidden,
        ]),
    ));
    cases.push((
        users::DISTRICT_A,
        "sibling",
        b1,
        row([
            Missing, Missing, Missing, Missing, Missing, Forbidden, Forbidden, Forbidden, Missing,
            Missing, Forbidden, Forbidden, Missing, Forbidden, Forbidden,
        ]),
    ));
    cases.push((
        users::DISTRICT_A,
        "parent",
        above_district,
        vec![(CreateWardLeaderAccount, Forbidden), (CreateTask, Missing)],
    ));
    cases.push((
        users::WARD_A1,
        "own",
        a1,
        row([
            Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow, Allow,
            Allow, Forbidden, Allow,
        ]),
    ));
    cases.push((
        users::WARD_A1,
        "sibling",
        a2,
        row([
            Missing, Missing, Missing, Missing, Missing, Forbidden, Missing, Forbidden, Missing,
            Missing, Missing, Missing, Missing, Forbidden, Forbidden,
        ]),
    ));
    cases.push((
        users::WARD_A1,
        "parent",
        above_ward,
        vec![
            (CreateGroup, Forbidden),
            (CreateMember, Forbidden),
            (RecordSurvey, Forbidden),
            (CreateGroupLeaderAccount, Missing),
        ],
    ));
    // A group leader runs their own group: its roster and its tasks, nothing beyond.
    cases.push((
        users::LEADER_A1,
        "own",
        a1,
        row([
            Allow, Allow, Allow, Allow, Allow, Forbidden, Forbidden, Allow, Allow, Allow, Allow,
            Allow, Forbidden, Forbidden, Forbidden,
        ]),
    ));
    cases.push((
        users::LEADER_A1,
        "sibling",
        a2,
        vec![
            (GroupLookup, Missing),
            (NodeLookup, Missing),
            (TaskLookup, Missing),
            (MemberLookup, Missing),
            (ProductLookup, Missing),
            (CreateTask, Missing),
            (UpdateTask, Missing),
            (ReportActivity, Missing),
            (UpsertListing, Missing),
        ],
    ));
    cases.push((
        users::LEADER_A1,
        "parent",
        above_group,
        vec![
            (GroupLookup, Missing),
            (NodeLookup, Missing),
            (CreateGroup, Forbidden),
        ],
    ));
    cases.push((
        users::MEMBER_A1,
        "own",
        a1,
        row([
            Allow, Allow, Allow, Allow, Allow, Forbidden, Forbidden, Forbidden, Forbidden,
            Forbidden, Allow, Forbidden, Forbidden, Forbidden, Forbidden,
        ]),
    ));
    cases.push((
        users::MEMBER_A1,
        "sibling",
        a2,
        vec![
            (GroupLookup, Missing),
            (TaskLookup, Missing),
            (MemberLookup, Missing),
            (ReportActivity, Missing),
        ],
    ));
    cases.push((
        users::MEMBER_A1,
        "parent",
        above_group,
        vec![(GroupLookup, Missing), (NodeLookup, Missing)],
    ));
    cases.push((
        users::VIEWER,
        "own",
        a1,
        row([
            Forbidden, Missing, Forbidden, Forbidden, Allow, Forbidden, Forbidden, Forbidden,
            Forbidden, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden, Forbidden,
        ]),
    ));

    let admin = app.login(users::ADMIN, PASSWORD).await;
    let mut tokens = std::collections::HashMap::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for (user, label, target, ops) in &cases {
        if !tokens.contains_key(user) {
            tokens.insert(*user, app.login(user, PASSWORD).await);
        }
        let token = tokens[user].clone();
        for (op, expect) in ops {
            n += 1;
            let version = task_version(&app, &admin, target.task).await;
            let (query, vars) = request(*op, *target, n, version);
            let (_, body) = app.gql(Some(&token), query, vars).await;
            let ok = match expect {
                Missing => {
                    let (q2, v2) = request(
                        *op,
                        Target {
                            unit: target.unit,
                            ..Target::nowhere()
                        },
                        n + 10_000,
                        version,
                    );
                    let (q2, v2) = if matches!(
                        op,
                        CreateGroup | CreateMember | RecordSurvey | CreateWardLeaderAccount
                    ) {
                        (q2, v2)
                    } else {
                        request(*op, Target::nowhere(), n + 10_000, version)
                    };
                    let (_, missing) = app.gql(Some(&token), q2, v2).await;
                    let same = body == missing;
                    if !same {
                        failures.push(format!("{user} {label} {op:?}: expected to look missing\n  got      {body}\n  missing  {missing}"));
                    }
                    same
                }
                _ => classify(&body) == Some(*expect),
            };
            if !ok && *expect != Missing {
                failures.push(format!(
                    "{user} {label} {op:?}: expected {expect:?}, got {body}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} authorisation cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Role-level list permissions.
    for (user, members_ok, audit_ok) in [
        (users::ADMIN, true, true),
        (users::DISTRICT_A, true, false),
        (users::WARD_A1, true, true),
        (users::LEADER_A1, true, false),
        (users::MEMBER_A1, true, false),
        (users::VIEWER, false, false),
    ] {
        let token = app.login(user, PASSWORD).await;
        let (_, m) = app
            .gql(Some(&token), "{ members { totalCount } }", json!({}))
            .await;
        assert_eq!(m["errors"].is_null(), members_ok, "{user} members: {m}");
        let (_, a) = app
            .gql(Some(&token), "{ auditEvents { totalCount } }", json!({}))
            .await;
        assert_eq!(a["errors"].is_null(), audit_ok, "{user} auditEvents: {a}");
        if !members_ok {
            assert_eq!(m["errors"][0]["extensions"]["code"], "FORBIDDEN");
        }
    }
}

async fn counts_respect_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let q = r#"query($city: ID!) { groups { totalCount } members { totalCount } tasks { totalCount } products { totalCount }
        adminUnit(id: $city) { groups { totalCount } members { totalCount } } }"#;
    let vars = json!({ "city": gid(NodeType::AdminUnit, f.city) });
    for (user, groups, members, tasks, products) in [
        (users::ADMIN, 4, 5, 3, 2),
        (users::DISTRICT_A, 3, 4, 2, 1),
        (users::WARD_A1, 2, 3, 1, 1),
        (users::WARD_A2, 1, 1, 1, 0),
        (users::WARD_B1, 1, 1, 1, 1),
        (users::LEADER_A1, 1, 3, 1, 1),
    ] {
        let token = app.login(user, PASSWORD).await;
        let d = app.ok(&token, q, vars.clone()).await;
        assert_eq!(d["groups"]["totalCount"], groups, "{user}: {d}");
        assert_eq!(d["members"]["totalCount"], members, "{user}: {d}");
        assert_eq!(d["tasks"]["totalCount"], tasks, "{user}: {d}");
        assert_eq!(d["products"]["totalCount"], products, "{user}: {d}");
        // Nested edges under the whole city are cut to the caller's scope as well.
        assert_eq!(
            d["adminUnit"]["groups"]["totalCount"], groups,
            "{user} nested: {d}"
        );
        assert_eq!(
            d["adminUnit"]["members"]["totalCount"], members,
            "{user} nested: {d}"
        );
    }
}

/// The city admin's scope is their city's subtree. While the city is the only root that is every
/// row and the server adds no filter; a second province, added while the admin's token is live,
/// is outside the scope from the next request on — in lists, totals, look-ups and `node`.
async fn a_second_province_is_outside_the_city_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    const Q: &str =
        "query($g: ID!) { groups { totalCount } group(id: $g) { name } node(id: $g) { id } }";
    let everyone = app
        .ok(&token, Q, json!({ "g": gid(NodeType::Group, f.group_b1) }))
        .await;
    assert_eq!(everyone["group"]["name"], "Tổ CNSCĐ Tân Chính");
    let city_groups = everyone["groups"]["totalCount"].as_i64().unwrap();

    // While the city is the only root the filters drop out, but events recorded against no
    // unit (a refused command-line request) are in no subtree and stay hidden.
    const AUDIT: &str = "{ auditEvents { totalCount } }";
    let audited = app.ok(&token, AUDIT, json!({})).await["auditEvents"]["totalCount"].clone();
    cdtg_api::service::audit::record_failure(
        &app.state.db,
        &cdtg_api::principal::Principal::system(),
        "createGroup",
        &cdtg_api::error::ApiError::NotFound("unit"),
    )
    .await;
    assert_eq!(
        app.ok(&token, AUDIT, json!({})).await["auditEvents"]["totalCount"],
        audited
    );
    let db = &app.state.db;
    let (province, path) =
        crate::fixture::unit(db, "Tỉnh Quảng Nam", UnitKind::Province, None).await;
    let (ward, _) =
        crate::fixture::unit(db, "Minh An", UnitKind::Ward, Some((province, &path))).await;
    let other = crate::fixture::group(db, "Tổ CNSCĐ Minh An", GroupKind::Community, ward).await;

    let after = app
        .ok(&token, Q, json!({ "g": gid(NodeType::Group, other) }))
        .await;
    assert_eq!(after["groups"]["totalCount"].as_i64(), Some(city_groups));
    assert_eq!(after["group"], Value::Null);
    assert_eq!(after["node"], Value::Null);
    // The city's own groups are still all there.
    let own = app
        .ok(&token, Q, json!({ "g": gid(NodeType::Group, f.group_b1) }))
        .await;
    assert_eq!(own["group"]["name"], "Tổ CNSCĐ Tân Chính");
}

on_both_databases!(
    the_matrix_holds,
    counts_respect_scope,
    a_second_province_is_outside_the_city_scope,
);
