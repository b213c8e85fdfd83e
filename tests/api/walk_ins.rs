//! Walk-in reports: help given by a group outside any task (at the cultural house, say). They
//! count toward the group and every unit above it, move no task's progress, are replayed
//! exactly once, can be corrected and voided, and are refused for groups out of reach or
//! archived.

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const REPORT: &str = "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { created task { id } activity { id residentsHelped task { id } group { id name } } } }";
const WARD_STATS: &str = "query($u: ID!, $g: ID!, $t: ID!) {
  adminUnit(id: $u) { stats { activities residentsHelped peopleTrained outcomes { indicator count } } }
  group(id: $g) { stats { activities residentsHelped peopleTrained } }
  task(id: $t) { progress }
}";
const BY_TASK_KIND: &str = "query($u: ID!) { statsBreakdown(unitId: $u, by: [TASK_KIND]) { rows { taskKind stats { activities residentsHelped peopleTrained } } } }";

fn code(body: &Value) -> (&str, &str) {
    let e = &body["errors"][0]["extensions"];
    (
        e["code"].as_str().unwrap_or(""),
        e["field"].as_str().unwrap_or(""),
    )
}

fn walk_in(key: &str, group: &str, residents: i64, trained: i64) -> Value {
    json!({ "i": {
        "idempotencyKey": key,
        "groupId": group,
        "occurredAt": "2026-11-25T03:00:00Z",
        "residentsHelped": residents,
        "outcomes": [{ "kind": "PERSON_TRAINED", "count": trained }],
        "note": "Hướng dẫn cài VNeID tại nhà văn hóa"
    } })
}

async fn walk_in_reports_count_toward_their_group_and_ward(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let (ward_id, group, task) = (
        gid(NodeType::AdminUnit, f.ward_a1),
        gid(NodeType::Group, f.group_a1),
        gid(NodeType::Task, f.task_a1),
    );
    let vars = json!({ "u": ward_id, "g": group, "t": task });
    let before = app.ok(&ward, WARD_STATS, vars.clone()).await;

    let data = app
        .ok(&member, REPORT, walk_in("walkin-0001", &group, 12, 5))
        .await;
    let reported = &data["reportActivity"];
    assert_eq!(reported["created"], true);
    assert_eq!(reported["task"], Value::Null, "a walk-in has no task");
    assert_eq!(reported["activity"]["task"], Value::Null);
    assert_eq!(reported["activity"]["group"]["id"], group.as_str());
    let activity = reported["activity"]["id"].as_str().unwrap().to_owned();

    // The phone retries: the same answer, stored once.
    let again = app
        .ok(&member, REPORT, walk_in("walkin-0001", &group, 12, 5))
        .await;
    assert_eq!(again["reportActivity"]["created"], false);
    assert_eq!(again["reportActivity"]["activity"]["id"], activity.as_str());

    let after = app.ok(&ward, WARD_STATS, vars.clone()).await;
    let grew = |path: &[&str], by: i64| {
        let get = |v: &Value| {
            path.iter()
                .fold(v.clone(), |v, k| v[*k].clone())
                .as_i64()
                .unwrap()
        };
        assert_eq!(
            get(&after) - get(&before),
            by,
            "{path:?}: {before} → {after}"
        );
    };
    grew(&["adminUnit", "stats", "activities"], 1);
    grew(&["adminUnit", "stats", "residentsHelped"], 12);
    grew(&["adminUnit", "stats", "peopleTrained"], 5);
    grew(&["group", "stats", "activities"], 1);
    grew(&["group", "stats", "residentsHelped"], 12);
    grew(&["group", "stats", "peopleTrained"], 5);
    assert_eq!(
        after["task"]["progress"], before["task"]["progress"],
        "a walk-in moves no task's progress"
    );

    // By task kind, walk-ins are the row without one.
    let rows = app.ok(&ward, BY_TASK_KIND, json!({ "u": ward_id })).await;
    let walk_ins: Vec<&Value> = rows["statsBreakdown"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["taskKind"].is_null())
        .collect();
    assert_eq!(walk_ins.len(), 1, "{rows}");
    assert_eq!(walk_ins[0]["stats"]["activities"], 1);
    assert_eq!(walk_ins[0]["stats"]["residentsHelped"], 12);
    assert_eq!(walk_ins[0]["stats"]["peopleTrained"], 5);

    // It is listed with the group's reports, and the root list can pick walk-ins by group.
    let listed = app
        .ok(
            &ward,
            "query($g: ID!) { activities(filter: { groupId: $g }) { nodes { id task { id } } } }",
            json!({ "g": group }),
        )
        .await;
    assert!(
        listed["activities"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == activity.as_str() && n["task"].is_null()),
        "{listed}"
    );

    // Corrected, the totals move by the difference; voided, it leaves them.
    let corrected = app
        .ok(
            &member,
            "mutation($i: CorrectActivityInput!) { correctActivity(input: $i) { task { id } activity { residentsHelped } } }",
            json!({ "i": { "id": activity, "idempotencyKey": "walkin-fix-01", "reason": "đếm lại", "residentsHelped": 20, "outcomes": [{ "kind": "PERSON_TRAINED", "count": 7 }] } }),
        )
        .await;
    assert_eq!(corrected["correctActivity"]["task"], Value::Null);
    let fixed = app.ok(&ward, WARD_STATS, vars.clone()).await;
    assert_eq!(
        fixed["adminUnit"]["stats"]["residentsHelped"]
            .as_i64()
            .unwrap(),
        before["adminUnit"]["stats"]["residentsHelped"]
            .as_i64()
            .unwrap()
            + 20
    );
    assert_eq!(
        fixed["group"]["stats"]["peopleTrained"].as_i64().unwrap(),
        before["group"]["stats"]["peopleTrained"].as_i64().unwrap() + 7
    );
    app.ok(
        &member,
        "mutation($i: VoidActivityInput!) { voidActivity(input: $i) { task { id } voided { action } } }",
        json!({ "i": { "id": activity, "idempotencyKey": "walkin-void-01", "reason": "trùng" } }),
    )
    .await;
    let voided = app.ok(&ward, WARD_STATS, vars).await;
    assert_eq!(voided["adminUnit"]["stats"], before["adminUnit"]["stats"]);
    assert_eq!(voided["group"]["stats"], before["group"]["stats"]);
}
on_both_databases!(walk_in_reports_count_toward_their_group_and_ward);

async fn walk_ins_are_refused_out_of_reach_archived_or_ambiguous(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    let (own, other) = (
        gid(NodeType::Group, f.group_a1),
        gid(NodeType::Group, f.group_b1),
    );
    let reports = "query($g: ID!) { activities(filter: { groupId: $g }) { totalCount } }";
    let before = app.ok(&ward, reports, json!({ "g": own })).await;

    // Another ward's group looks exactly like a missing one.
    let (_, body) = app
        .gql(Some(&member), REPORT, walk_in("walkin-0002", &other, 3, 1))
        .await;
    assert_eq!(code(&body).0, "NOT_FOUND", "{body}");
    let (_, body) = app
        .gql(
            Some(&member),
            REPORT,
            walk_in("walkin-0003", &gid(NodeType::Group, 999_999), 3, 1),
        )
        .await;
    assert_eq!(code(&body).0, "NOT_FOUND", "{body}");
    // Only roles that report may.
    let (_, body) = app
        .gql(Some(&viewer), REPORT, walk_in("walkin-0004", &own, 3, 1))
        .await;
    assert_eq!(code(&body).0, "FORBIDDEN", "{body}");

    // A report is for a task or a walk-in: both or neither is refused, naming the field.
    let mut both = walk_in("walkin-0005", &own, 3, 1);
    both["i"]["taskId"] = gid(NodeType::Task, f.task_a1).into();
    let (_, body) = app.gql(Some(&member), REPORT, both).await;
    assert_eq!(code(&body), ("BAD_USER_INPUT", "groupId"), "{body}");
    let mut neither = walk_in("walkin-0006", &own, 3, 1);
    neither["i"].as_object_mut().unwrap().remove("groupId");
    let (_, body) = app.gql(Some(&member), REPORT, neither).await;
    assert_eq!(code(&body), ("BAD_USER_INPUT", "taskId"), "{body}");

    // An archived group takes no walk-ins either.
    app.ok(
        &ward,
        "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { status } } }",
        json!({ "i": { "id": own, "status": "INACTIVE" } }),
    )
    .await;
    let (_, body) = app
        .gql(Some(&member), REPORT, walk_in("walkin-0007", &own, 3, 1))
        .await;
    assert_eq!(code(&body), ("BAD_USER_INPUT", "groupId"), "{body}");
    let after = app.ok(&ward, reports, json!({ "g": own })).await;
    assert_eq!(after, before, "nothing was stored");
}
on_both_databases!(walk_ins_are_refused_out_of_reach_archived_or_ambiguous);
