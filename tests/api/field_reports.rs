//! Field reports as the apps read them: the root `activities` list with its filters and
//! orderings, a member's own reports, an offline report that arrives after the task was
//! completed, the groups that did nothing since a day, and `updatedSince` for incremental sync.

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const REPORT: &str =
    "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { created activity { id } } }";
const TRANSITION: &str =
    "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status version } } }";
const LIST: &str = "query($f: ActivityFilter, $o: ActivityOrder) { activities(filter: $f, orderBy: $o, first: 50) { totalCount nodes { id residentsHelped occurredAt } } }";

fn report(key: &str, task: i64, at: &str, residents: i64, outcome: &str) -> Value {
    json!({ "i": { "idempotencyKey": key, "taskId": gid(NodeType::Task, task), "occurredAt": at,
        "residentsHelped": residents, "outcomes": [{ "kind": outcome, "count": 1 }] } })
}

fn ids(data: &Value) -> Vec<Value> {
    data["activities"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect()
}

async fn send(app: &TestApp, token: &str, vars: Value) -> Value {
    app.ok(token, REPORT, vars).await["reportActivity"]["activity"]["id"].clone()
}

/// Takes a task through START, SUBMIT and COMPLETE as `ward`, its ward leader.
async fn complete(app: &TestApp, ward: &str, task: i64) {
    let task = gid(NodeType::Task, task);
    let version = |data: &Value| data["transitionTask"]["task"]["version"].as_i64().unwrap();
    let mut v = app
        .ok(
            ward,
            "query($t: ID!) { task(id: $t) { version } }",
            json!({ "t": task }),
        )
        .await["task"]["version"]
        .as_i64()
        .unwrap();
    for action in ["START", "SUBMIT", "COMPLETE"] {
        let d = app
            .ok(
                ward,
                TRANSITION,
                json!({ "i": { "id": task, "action": action, "expectedVersion": v } }),
            )
            .await;
        v = version(&d);
    }
}

async fn the_activities_list_filters_sorts_and_keeps_to_scope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let ward_b = app.login(users::WARD_B1, PASSWORD).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    // Late evening of 10 November in Vietnam is still 10 November there (15:30 UTC).
    let m1 = send(
        &app,
        &member,
        report(
            "m-0000001",
            f.task_a1,
            "2026-11-10T15:30:00Z",
            4,
            "VNEID_ACTIVATED",
        ),
    )
    .await;
    let m2 = send(
        &app,
        &member,
        report(
            "m-0000002",
            f.task_a1,
            "2026-11-12T02:00:00Z",
            9,
            "CASHLESS_ACCOUNT_OPENED",
        ),
    )
    .await;
    let l1 = send(
        &app,
        &leader,
        report(
            "l-0000001",
            f.task_a1,
            "2026-11-11T02:00:00Z",
            2,
            "VNEID_ACTIVATED",
        ),
    )
    .await;
    let b1 = send(
        &app,
        &ward_b,
        report(
            "b-0000001",
            f.task_b1,
            "2026-11-11T03:00:00Z",
            5,
            "VNEID_ACTIVATED",
        ),
    )
    .await;

    // Newest work first by default; the admin sees all four.
    let all = app.ok(&admin, LIST, json!({})).await;
    assert_eq!(
        ids(&all),
        vec![m2.clone(), b1.clone(), l1.clone(), m1.clone()]
    );
    // A member sees their own reports only, and `mine` says the same.
    let own = app.ok(&member, LIST, json!({})).await;
    assert_eq!(ids(&own), vec![m2.clone(), m1.clone()]);
    let mine = app
        .ok(&leader, LIST, json!({ "f": { "mine": true } }))
        .await;
    assert_eq!(ids(&mine), vec![l1.clone()]);
    // The leader's group, not the other ward's.
    let leaders = app.ok(&leader, LIST, json!({})).await;
    assert_eq!(leaders["activities"]["totalCount"], 3);
    let filters = [
        (
            json!({ "unitId": gid(NodeType::AdminUnit, f.ward_b1) }),
            vec![b1.clone()],
        ),
        (
            json!({ "groupId": gid(NodeType::Group, f.group_a1) }),
            vec![m2.clone(), l1.clone(), m1.clone()],
        ),
        (
            json!({ "outcome": "CASHLESS_ACCOUNT_OPENED" }),
            vec![m2.clone()],
        ),
        (
            json!({ "from": "2026-11-11", "to": "2026-11-11" }),
            vec![b1.clone(), l1.clone()],
        ),
        (json!({ "to": "2026-11-10" }), vec![m1.clone()]),
        (
            json!({ "reporterId": gid(NodeType::User, crate::helpers::user_id(&app.state.db, users::LEADER_A1).await) }),
            vec![l1.clone()],
        ),
        (
            json!({ "taskId": gid(NodeType::Task, f.task_b1) }),
            vec![b1.clone()],
        ),
    ];
    for (filter, expected) in filters {
        let data = app.ok(&admin, LIST, json!({ "f": filter })).await;
        assert_eq!(ids(&data), expected, "{filter}");
        assert_eq!(data["activities"]["totalCount"], expected.len(), "{filter}");
    }
    let by_size = app
        .ok(
            &admin,
            LIST,
            json!({ "o": { "field": "RESIDENTS_HELPED", "direction": "ASC" } }),
        )
        .await;
    assert_eq!(
        ids(&by_size),
        vec![l1.clone(), m1.clone(), b1.clone(), m2.clone()]
    );
    // Out of scope looks like nothing; a backwards range is refused naming the field.
    let none = app
        .ok(
            &leader,
            LIST,
            json!({ "f": { "groupId": gid(NodeType::Group, f.group_b1) } }),
        )
        .await;
    assert_eq!(none["activities"]["totalCount"], 0);
    let (_, body) = app
        .gql(
            Some(&admin),
            LIST,
            json!({ "f": { "from": "2026-11-12", "to": "2026-11-11" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "filter.to",
        "{body}"
    );
    let (_, body) = app
        .gql(Some(&admin), LIST, json!({ "f": { "from": "1000-01-01" } }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "filter.from",
        "{body}"
    );
    let (_, body) = app
        .gql(
            Some(&admin),
            "{ groups(filter: { noActivitySince: \"0001-01-01\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "filter.noActivitySince",
        "{body}"
    );
    let viewer = app.login(users::VIEWER, PASSWORD).await;
    assert_eq!(
        app.error_code(Some(&viewer), LIST, json!({})).await,
        "FORBIDDEN"
    );
}

async fn offline_work_done_before_completion_still_counts(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    complete(&app, &ward, f.task_a1).await;
    // Done an hour ago, sent now: accepted.
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let data = app
        .ok(
            &member,
            REPORT,
            report(
                "late-0000001",
                f.task_a1,
                &an_hour_ago,
                3,
                "VNEID_ACTIVATED",
            ),
        )
        .await;
    assert_eq!(data["reportActivity"]["created"], true);
    // Work dated after the completion is refused, and says why.
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let (_, body) = app
        .gql(
            Some(&member),
            REPORT,
            report("late-0000002", f.task_a1, &later, 3, "VNEID_ACTIVATED"),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "taskId", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("completed")
    );
}

async fn idle_groups_and_incremental_sync(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let idle =
        "query($d: Date!) { groups(filter: { noActivitySince: $d }, first: 100) { nodes { id } } }";
    let before = app.ok(&admin, idle, json!({ "d": "2026-11-01" })).await;
    let before: Vec<Value> = before["groups"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert!(before.contains(&gid(NodeType::Group, f.group_a1).into()));
    app.ok(
        &ward,
        REPORT,
        report(
            "idle-0000001",
            f.task_a1,
            "2026-11-15T02:00:00Z",
            1,
            "VNEID_ACTIVATED",
        ),
    )
    .await;
    let after = app.ok(&admin, idle, json!({ "d": "2026-11-01" })).await;
    let after: Vec<Value> = after["groups"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert!(
        !after.contains(&gid(NodeType::Group, f.group_a1).into()),
        "group A1 worked on the 15th"
    );
    assert_eq!(after.len() + 1, before.len());
    let later = app.ok(&admin, idle, json!({ "d": "2026-11-16" })).await;
    assert_eq!(
        later["groups"]["nodes"].as_array().unwrap().len(),
        before.len(),
        "nothing since the 16th"
    );

    // updatedSince: only what changed after the app's last read.
    let mark = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.ok(
        &ward,
        "mutation($i: UpdateMemberInput!) { updateMember(input: $i) { member { id } } }",
        json!({ "i": { "id": gid(NodeType::Member, f.member_a1_third), "phone": "0977 000 111" } }),
    )
    .await;
    app.ok(
        &ward,
        "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { id } } }",
        json!({ "i": { "id": gid(NodeType::Group, f.group_a1), "name": "Tổ CNS số 1 (mới)" } }),
    )
    .await;
    let changed = app
        .ok(
            &ward,
            "query($t: DateTime!) { members(filter: { updatedSince: $t }) { nodes { id } } groups(filter: { updatedSince: $t }) { nodes { id } } tasks(filter: { updatedSince: $t }) { totalCount } products(filter: { updatedSince: $t }) { totalCount } }",
            json!({ "t": mark }),
        )
        .await;
    assert_eq!(
        changed["members"]["nodes"],
        json!([{ "id": gid(NodeType::Member, f.member_a1_third) }])
    );
    assert_eq!(
        changed["groups"]["nodes"],
        json!([{ "id": gid(NodeType::Group, f.group_a1) }])
    );
    assert_eq!(changed["tasks"]["totalCount"], 0);
    assert_eq!(changed["products"]["totalCount"], 0);
}

async fn a_wards_groups_are_ranked_and_breakdowns_take_days_and_three_dimensions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let data = app
        .ok(
            &ward,
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
            json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1_management), "title": "Tập huấn", "kind": "DIGITAL_SKILLS_TRAINING" } }),
        )
        .await;
    let mgmt_task = cdtg_api::ids::decode(
        NodeType::Task,
        data["createTask"]["task"]["id"].as_str().unwrap(),
    )
    .unwrap();
    for (i, at) in [
        "2026-11-10T02:00:00Z",
        "2026-11-10T09:00:00Z",
        "2026-11-11T02:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        send(
            &app,
            &ward,
            report(
                &format!("rank-000000{i}"),
                f.task_a1,
                at,
                2,
                "VNEID_ACTIVATED",
            ),
        )
        .await;
    }
    send(
        &app,
        &ward,
        report(
            "rank-0000009",
            mgmt_task,
            "2026-11-11T03:00:00Z",
            7,
            "PERSON_TRAINED",
        ),
    )
    .await;

    let ranked = app
        .ok(
            &ward,
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [GROUP], orderBy: { field: ACTIVITIES, direction: DESC }) { rows { group { id name } stats { activities residentsHelped } } } }",
            json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
        )
        .await;
    let rows = ranked["statsBreakdown"]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["group"]["id"], gid(NodeType::Group, f.group_a1));
    assert_eq!(rows[0]["stats"]["activities"], 3);
    assert_eq!(
        rows[1]["group"]["id"],
        gid(NodeType::Group, f.group_a1_management)
    );
    assert_eq!(rows[1]["stats"]["residentsHelped"], 7);
    // Every group of the ward has a row, idle ones too, and each agrees with the facts.
    let in_ward = app
        .ok(
            &ward,
            "query($u: ID!) { groups(filter: { unitId: $u }) { totalCount } }",
            json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
        )
        .await;
    assert_eq!(
        rows.len() as u64,
        in_ward["groups"]["totalCount"].as_u64().unwrap()
    );
    for row in rows {
        let listed = app
            .ok(
                &ward,
                LIST,
                json!({ "f": { "groupId": row["group"]["id"] } }),
            )
            .await;
        assert_eq!(
            row["stats"]["activities"], listed["activities"]["totalCount"],
            "{row}"
        );
    }

    // Three dimensions, with days in Vietnam.
    let three = app
        .ok(
            &ward,
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [GROUP, TASK_KIND, DAY]) { rows { group { id } taskKind day stats { activities } } } }",
            json!({ "u": gid(NodeType::AdminUnit, f.ward_a1) }),
        )
        .await;
    let mut cells: Vec<(String, String, i64)> = three["statsBreakdown"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["stats"]["activities"].as_i64().unwrap() > 0)
        .map(|r| {
            (
                r["taskKind"].as_str().unwrap().to_owned(),
                r["day"].as_str().unwrap().to_owned(),
                r["stats"]["activities"].as_i64().unwrap(),
            )
        })
        .collect();
    cells.sort();
    let a1_kind = app
        .ok(
            &ward,
            "query($t: ID!) { task(id: $t) { kind } }",
            json!({ "t": gid(NodeType::Task, f.task_a1) }),
        )
        .await["task"]["kind"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut expected = vec![
        (a1_kind.clone(), "2026-11-10".to_owned(), 2),
        (a1_kind, "2026-11-11".to_owned(), 1),
        (
            "DIGITAL_SKILLS_TRAINING".to_owned(),
            "2026-11-11".to_owned(),
            1,
        ),
    ];
    expected.sort();
    assert_eq!(cells, expected);
    for (by, why) in [
        (json!(["GROUP", "CHILD_UNIT"]), "combined"),
        (json!(["GROUP", "TASK_KIND", "DAY", "MONTH"]), "four"),
        (json!(["DAY", "DAY"]), "twice"),
    ] {
        let (_, body) = app
            .gql(
                Some(&ward),
                "query($u: ID!, $by: [StatsDimension!]!) { statsBreakdown(unitId: $u, by: $by) { rows { stats { activities } } } }",
                json!({ "u": gid(NodeType::AdminUnit, f.ward_a1), "by": by }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "by",
            "{why}: {body}"
        );
    }
}

async fn groups_have_targets_with_progress(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    let set = "mutation($i: SetGroupTargetInput!) { setGroupTarget(input: $i) { target { indicator targetValue } } }";
    let target = |indicator: &str, value: f64| json!({ "i": { "groupId": group, "indicator": indicator, "periodStart": "2026-01-01", "periodEnd": "2026-12-31", "targetValue": value } });
    app.ok(&ward, set, target("VNEID_ACTIVATIONS", 20.0)).await;
    app.ok(&ward, set, target("PEOPLE_TRAINED", 4.0)).await;
    send(
        &app,
        &ward,
        report(
            "gt-0000001",
            f.task_a1,
            "2026-11-05T02:00:00Z",
            3,
            "VNEID_ACTIVATED",
        ),
    )
    .await;
    send(
        &app,
        &ward,
        report(
            "gt-0000002",
            f.task_a1,
            "2026-11-06T02:00:00Z",
            2,
            "PERSON_TRAINED",
        ),
    )
    .await;
    let q = "query($g: ID!) { group(id: $g) { stats(period: { from: \"2026-01-01\", to: \"2026-12-31\" }) { vneidActivations peopleTrained targets { indicator target actual progress } } } }";
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    for token in [&ward, &leader] {
        let data = app.ok(token, q, json!({ "g": group })).await;
        let stats = &data["group"]["stats"];
        let targets = stats["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 2, "{data}");
        for t in targets {
            let actual = match t["indicator"].as_str().unwrap() {
                "VNEID_ACTIVATIONS" => stats["vneidActivations"].as_f64().unwrap(),
                "PEOPLE_TRAINED" => stats["peopleTrained"].as_f64().unwrap(),
                other => panic!("unexpected {other}"),
            };
            assert_eq!(t["actual"].as_f64(), Some(actual), "{t}");
            assert!(actual > 0.0);
            let progress = t["progress"].as_f64().unwrap();
            assert!((progress - actual / t["target"].as_f64().unwrap()).abs() < 1e-9);
        }
    }
    // Replacing keeps one target per period; refusals name the field.
    app.ok(&ward, set, target("VNEID_ACTIVATIONS", 30.0)).await;
    let data = app.ok(&ward, q, json!({ "g": group })).await;
    assert_eq!(
        data["group"]["stats"]["targets"].as_array().unwrap().len(),
        2
    );
    let (_, body) = app
        .gql(Some(&ward), set, target("INTERNET_RATE", 0.5))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "indicator",
        "{body}"
    );
    let other = app.login(users::WARD_B1, PASSWORD).await;
    let (_, body) = app
        .gql(Some(&other), set, target("VNEID_ACTIVATIONS", 5.0))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "groupId",
        "{body}"
    );
    assert_eq!(
        app.error_code(Some(&leader), set, target("VNEID_ACTIVATIONS", 5.0))
            .await,
        "FORBIDDEN"
    );
}

/// A field report is a fixed handful of statements, with the caller's account read from the
/// principal cache. On PostgreSQL a new report is one statement, its checks (scope, the task's
/// status, an earlier report under the key) included, whether it is for an open task, for work
/// done before its task's completion, or walk-in help; a replay or a refusal adds the look-up
/// that says why nothing was written.
async fn a_report_costs_a_fixed_handful_of_statements(backend: Backend) {
    let mut args = crate::helpers::test_args();
    // Shared request budgets would add one statement per request on PostgreSQL.
    args.rate_limit_per_user = 0.0;
    args.rate_limit_per_address = 0.0;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::MEMBER_A1, PASSWORD).await;
    // Counted with the account cached (the warm-up report caches it).
    let mut cached = AccountCached::now();
    send(
        &app,
        &token,
        report(
            "warm-up-report-1",
            f.task_a1,
            "2026-11-20T08:00:00Z",
            2,
            "VNEID_ACTIVATED",
        ),
    )
    .await;

    let vars = report(
        "counted-report-1",
        f.task_a1,
        "2026-11-20T09:00:00Z",
        3,
        "VNEID_ACTIVATED",
    );
    let (first, filed) = counted(&app, &token, vars.clone()).await;
    assert_eq!(first["reportActivity"]["created"], true);
    // PostgreSQL: one statement for the checks, the progress with the event and its
    // notification, the activity with its outcomes, and the audit row. SQLite, without
    // data-modifying CTEs, takes a look-up and four more.
    let new_report = match backend {
        Backend::Postgres => 1,
        Backend::Sqlite => 6,
    };
    assert!(
        filed <= new_report + cached.read(),
        "{filed} statements for one new report"
    );

    let (again, replayed) = counted(&app, &token, vars).await;
    assert_eq!(again["reportActivity"]["created"], false);
    assert_eq!(
        again["reportActivity"]["activity"],
        first["reportActivity"]["activity"]
    );
    // PostgreSQL: the statement that wrote nothing, the look-up that finds the earlier report,
    // and the report itself. SQLite: the look-up and the report.
    let replay = match backend {
        Backend::Postgres => 3,
        Backend::Sqlite => 2,
    };
    assert!(
        replayed <= replay + cached.read(),
        "{replayed} statements for a replay"
    );

    // The audit row written with the activity (in its statement, on PostgreSQL) names the
    // activity and its reporter, once: the replay wrote nothing.
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let audit = app
        .ok(
            &ward,
            "{ auditEvents(first: 100) { nodes { action objectType objectId actor outcome requestId } } }",
            json!({}),
        )
        .await;
    let reported: Vec<&Value> = audit["auditEvents"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "reportActivity")
        .collect();
    assert_eq!(reported.len(), 2, "warm-up and counted report: {audit}");
    let audited = reported
        .iter()
        .find(|e| e["objectId"] == first["reportActivity"]["activity"]["id"])
        .unwrap_or_else(|| panic!("the counted report's audit row: {audit}"));
    assert_eq!(audited["objectType"], "Activity");
    assert_eq!(audited["actor"], users::MEMBER_A1);
    assert_eq!(audited["outcome"], "SUCCEEDED");
    assert!(audited["requestId"].is_string(), "{audited}");

    // Walk-in help passes its checks (the group in scope and not archived) in the same one
    // statement on PostgreSQL. (The ward leader's sign-in above wrote to accounts: the
    // member's account is cached afresh first.)
    app.ok(&token, "{ me { username } }", json!({})).await;
    cached = AccountCached::now();
    let walk_in = json!({ "i": { "idempotencyKey": "counted-walk-in-1",
        "groupId": gid(NodeType::Group, f.group_a1), "occurredAt": "2026-11-20T10:00:00Z",
        "residentsHelped": 2 } });
    let (data, filed) = counted(&app, &token, walk_in).await;
    assert_eq!(data["reportActivity"]["created"], true);
    assert!(
        filed <= new_report + cached.read(),
        "{filed} statements for walk-in help"
    );

    // Work done before its task's completion, sent after it, is a rule of its own in the
    // checks: still one statement. Work dated after the completion is refused by the same
    // checks, and the look-up then says why.
    complete(&app, &ward, f.task_a1).await;
    let an_hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let late = report(
        "counted-late-1",
        f.task_a1,
        &an_hour_ago,
        1,
        "VNEID_ACTIVATED",
    );
    let (data, filed) = counted(&app, &token, late).await;
    assert_eq!(data["reportActivity"]["created"], true);
    assert!(
        filed <= new_report + cached.read(),
        "{filed} statements for work done before the completion"
    );
    let later = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let refused = report("counted-late-2", f.task_a1, &later, 1, "VNEID_ACTIVATED");
    let (_, body) = app.gql(Some(&token), REPORT, refused).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

/// Since when an account has been cached. It is read again — one statement more, allowed for
/// then — should a second pass before a counted request (a slow machine), or should a write to
/// accounts anywhere in this process (another test's server) make the cache stale.
struct AccountCached {
    since: std::time::Instant,
    generation: u64,
}

impl AccountCached {
    fn now() -> Self {
        Self {
            since: std::time::Instant::now(),
            generation: cdtg_api::auth::cache::generation(),
        }
    }

    /// The statements an account read may have added: 0 or 1.
    fn read(&self) -> u64 {
        u64::from(
            self.since.elapsed() >= cdtg_api::auth::cache::PRINCIPAL_TTL
                || cdtg_api::auth::cache::generation() != self.generation,
        )
    }
}

/// Sends one report; its answer and the statements it spent. The server's minute sweep prunes
/// the event log through the same pool: should one run overlap the report (a slow machine), its
/// statements (at most three) are not counted.
async fn counted(app: &TestApp, token: &str, vars: Value) -> (Value, u64) {
    let background = app.state.background.runs();
    let before = app.statements();
    let data = app.ok(token, REPORT, vars).await;
    let spent = app.statements() - before;
    let sweep = 3 * u64::from(!app.quiet_since(background));
    (data, spent.saturating_sub(sweep))
}

on_both_databases!(
    a_report_costs_a_fixed_handful_of_statements,
    the_activities_list_filters_sorts_and_keeps_to_scope,
    offline_work_done_before_completion_still_counts,
    idle_groups_and_incremental_sync,
    a_wards_groups_are_ranked_and_breakdowns_take_days_and_three_dimensions,
    groups_have_targets_with_progress,
);
