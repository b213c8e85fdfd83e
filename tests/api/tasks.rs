//! Tasks, field reports that never double-count, and live task events.

use std::time::Duration;

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp, TestDb, test_args};
use crate::on_both_databases;
use crate::ws::WsClient;

const CREATE: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id status version target progress assignee { fullName } group { name } } } }";
const TRANSITION: &str =
    "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status version } } }";
const REPORT: &str = "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { created activity { id residentsHelped outcomes { kind count } } task { progress } } }";

fn report(key: &str, task: &Value, residents: i64, activated: i64) -> Value {
    json!({ "i": { "idempotencyKey": key, "taskId": task, "occurredAt": "2026-11-20T02:30:00Z", "residentsHelped": residents,
        "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": activated }, { "kind": "VNEID_COLLECTED", "count": 1 }], "note": "Nhà văn hóa tổ 1" } })
}

async fn activity_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    cdtg_api::entity::activity::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn assign_start_report_and_complete(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;

    let data = app
        .ok(&ward, CREATE, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "assigneeId": gid(NodeType::Member, f.member_a1_third), "title": "Kích hoạt VNeID đợt 2", "kind": "VNEID_ACTIVATION", "priority": "HIGH", "dueOn": "2026-12-15", "target": 50 } }))
        .await;
    let task = &data["createTask"]["task"];
    assert_eq!(task["status"], "OPEN");
    assert_eq!(task["assignee"]["fullName"], "Lê Minh Tuấn");
    let id = task["id"].clone();
    // Someone outside the group cannot be the assignee.
    let (_, body) = app
        .gql(Some(&ward), CREATE, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "assigneeId": gid(NodeType::Member, f.member_a2), "title": "x", "kind": "SURVEY" } }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "assigneeId",
        "{body}"
    );

    // Group members move it up to SUBMITTED, never further.
    let d = app
        .ok(
            &leader,
            TRANSITION,
            json!({ "i": { "id": id, "action": "START", "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(
        d["transitionTask"]["task"],
        json!({ "status": "IN_PROGRESS", "version": 2 })
    );
    let (_, stale) = app
        .gql(
            Some(&leader),
            TRANSITION,
            json!({ "i": { "id": id, "action": "SUBMIT", "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(stale["errors"][0]["extensions"]["code"], "CONFLICT");
    let (_, illegal) = app
        .gql(
            Some(&leader),
            TRANSITION,
            json!({ "i": { "id": id, "action": "START", "expectedVersion": 2 } }),
        )
        .await;
    assert_eq!(illegal["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(illegal["errors"][0]["extensions"]["field"], "action");
    assert!(
        illegal["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("IN_PROGRESS"),
        "names the current state: {illegal}"
    );

    // The same report twice: one row, the same answer.
    let first = app
        .ok(&member, REPORT, report("phone-1-key-0001", &id, 12, 7))
        .await;
    let again = app
        .ok(&member, REPORT, report("phone-1-key-0001", &id, 12, 7))
        .await;
    assert_eq!(first["reportActivity"]["created"], true);
    assert_eq!(again["reportActivity"]["created"], false);
    assert_eq!(
        first["reportActivity"]["activity"]["id"],
        again["reportActivity"]["activity"]["id"]
    );
    assert_eq!(
        again["reportActivity"]["task"]["progress"], 7,
        "only VNEID_ACTIVATED counts toward a VNeID target"
    );
    let before = activity_count(&app).await;
    // The same key with different content is a conflict, not a silent overwrite.
    let (_, body) = app
        .gql(
            Some(&member),
            REPORT,
            report("phone-1-key-0001", &id, 13, 7),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    // Negative, absurd and malformed reports are refused and store nothing.
    for (vars, field) in [
        (report("phone-1-key-0002", &id, -1, 1), "residentsHelped"),
        (
            report("phone-1-key-0003", &id, 100_000, 1),
            "residentsHelped",
        ),
        (report("phone-1-key-0004", &id, 3, -2), "outcomes"),
        (report("short", &id, 3, 1), "idempotencyKey"),
    ] {
        let (_, body) = app.gql(Some(&member), REPORT, vars).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    // From outside the group: the task does not exist for them.
    let other = app.login(users::WARD_B1, PASSWORD).await;
    let (_, body) = app
        .gql(Some(&other), REPORT, report("phone-9-key-0001", &id, 3, 1))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(
        activity_count(&app).await,
        before,
        "refused reports store nothing"
    );

    // Members may submit but not complete; the ward leader (or the group leader) completes.
    let d = app
        .ok(
            &member,
            TRANSITION,
            json!({ "i": { "id": id, "action": "SUBMIT", "expectedVersion": 2 } }),
        )
        .await;
    assert_eq!(d["transitionTask"]["task"]["status"], "SUBMITTED");
    let (_, body) = app
        .gql(
            Some(&member),
            TRANSITION,
            json!({ "i": { "id": id, "action": "COMPLETE", "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (_, body) = app
        .gql(
            Some(&leader),
            TRANSITION,
            json!({ "i": { "id": id, "action": "CANCEL", "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "a group leader reviews but does not cancel"
    );
    let d = app
        .ok(
            &ward,
            TRANSITION,
            json!({ "i": { "id": id, "action": "COMPLETE", "expectedVersion": 3 } }),
        )
        .await;
    assert_eq!(
        d["transitionTask"]["task"],
        json!({ "status": "DONE", "version": 4 })
    );
    // Work dated after the completion is refused (work done before it still counts: the
    // phone may have been offline).
    let mut after = report("phone-1-key-0005", &id, 3, 1);
    after["i"]["occurredAt"] = json!(chrono::Utc::now().to_rfc3339());
    let (_, body) = app.gql(Some(&member), REPORT, after).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "no new work on a DONE task: {body}"
    );
    // Reopen brings it back.
    let d = app
        .ok(
            &ward,
            TRANSITION,
            json!({ "i": { "id": id, "action": "REOPEN", "expectedVersion": 4 } }),
        )
        .await;
    assert_eq!(d["transitionTask"]["task"]["status"], "IN_PROGRESS");
    // The audit trail saw it all, inside the ward's scope.
    let audit = app
        .ok(
            &ward,
            "{ auditEvents(first: 100) { nodes { action outcome actor } } }",
            json!({}),
        )
        .await;
    let events = audit["auditEvents"]["nodes"].as_array().unwrap();
    for action in ["createTask", "transitionTask", "reportActivity"] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["outcome"] == "SUCCEEDED"),
            "{action} audited: {audit}"
        );
    }
    assert!(
        events.iter().any(|e| e["outcome"] == "DENIED"),
        "denials audited too: {audit}"
    );
}

async fn concurrent_reports_add_up_exactly(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let id = json!(gid(NodeType::Task, f.task_a1));
    app.ok(
        &leader,
        TRANSITION,
        json!({ "i": { "id": id, "action": "START", "expectedVersion": 1 } }),
    )
    .await;
    // 100 distinct reports at once, plus 20 racing replays of one key.
    let distinct = (0..100).map(|i| {
        let (app, member, id) = (&app, member.clone(), id.clone());
        async move {
            app.gql(
                Some(&member),
                REPORT,
                report(&format!("concurrent-{i:04}"), &id, 2, (i % 5) + 1),
            )
            .await
        }
    });
    let dupes = (0..20).map(|_| {
        let (app, member, id) = (&app, member.clone(), id.clone());
        async move {
            app.gql(
                Some(&member),
                REPORT,
                report("the-same-key-1234", &id, 2, 4),
            )
            .await
        }
    });
    let (a, b) = futures_util::future::join(
        futures_util::future::join_all(distinct),
        futures_util::future::join_all(dupes),
    )
    .await;
    for (_, body) in a.iter().chain(b.iter()) {
        assert!(body.get("errors").is_none(), "{body}");
    }
    let created = b
        .iter()
        .filter(|(_, body)| body["data"]["reportActivity"]["created"] == true)
        .count();
    assert_eq!(
        created, 1,
        "one racing replay stored, the others returned it"
    );
    let expected: i64 = (0..100).map(|i| (i % 5) + 1).sum::<i64>() + 4;
    let d = app
        .ok(
            &member,
            "query($id: ID!) { task(id: $id) { progress activities { totalCount } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(d["task"]["progress"], expected);
    assert_eq!(d["task"]["activities"]["totalCount"], 101);
}

async fn overdue_is_judged_in_vietnam(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let today_vn = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let yesterday = today_vn - chrono::Duration::days(1);
    for (title, due) in [("Hạn hôm qua", yesterday), ("Hạn hôm nay", today_vn)] {
        app.ok(&ward, CREATE, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": title, "kind": "SURVEY", "dueOn": due.to_string() } })).await;
    }
    let d = app
        .ok(
            &ward,
            "{ tasks(filter: { overdue: true }) { nodes { title overdue } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["tasks"]["nodes"],
        json!([{ "title": "Hạn hôm qua", "overdue": true }])
    );
}

async fn subscribers_see_events_in_their_scope_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let outsider = app.login(users::WARD_B1, PASSWORD).await;
    let sub =
        "subscription($g: ID) { taskEvents(groupId: $g) { kind task { title status progress } } }";
    let mut mine = WsClient::connect(&app, &leader).await.unwrap();
    mine.subscribe("1", sub, json!({ "g": gid(NodeType::Group, f.group_a1) }))
        .await;
    let mut theirs = WsClient::connect(&app, &outsider).await.unwrap();
    theirs.subscribe("1", sub, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let d = app.ok(&ward, CREATE, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": "Việc mới", "kind": "APP_INSTALL", "target": 10 } })).await;
    let id = d["createTask"]["task"]["id"].clone();
    let e = mine
        .next_data(Duration::from_secs(5))
        .await
        .expect("assigned event");
    assert_eq!(
        e["taskEvents"],
        json!({ "kind": "ASSIGNED", "task": { "title": "Việc mới", "status": "OPEN", "progress": 0 } })
    );
    app.ok(
        &leader,
        TRANSITION,
        json!({ "i": { "id": id, "action": "START", "expectedVersion": 1 } }),
    )
    .await;
    let e = mine
        .next_data(Duration::from_secs(5))
        .await
        .expect("transitioned event");
    assert_eq!(e["taskEvents"]["kind"], "TRANSITIONED");
    app.ok(&leader, REPORT, json!({ "i": { "idempotencyKey": "sub-test-0001", "taskId": id, "occurredAt": "2026-11-20T02:30:00Z", "residentsHelped": 3, "outcomes": [{ "kind": "APP_INSTALLED", "count": 3 }] } })).await;
    let e = mine
        .next_data(Duration::from_secs(5))
        .await
        .expect("activity event");
    assert_eq!(
        e["taskEvents"],
        json!({ "kind": "ACTIVITY_REPORTED", "task": { "title": "Việc mới", "status": "IN_PROGRESS", "progress": 3 } })
    );

    assert_eq!(e["taskEvents"]["task"]["progress"], 3);
    assert!(
        theirs.next_data(Duration::from_millis(800)).await.is_none(),
        "a ward leader elsewhere sees none of it"
    );

    // Without a valid token there is no subscription at all.
    assert!(WsClient::connect(&app, "not-a-token").await.is_err());
}

async fn a_subscription_ends_when_its_token_expires(backend: Backend) {
    let mut args = test_args();
    args.access_token_ttl_secs = 2;
    let Some(app) = TestApp::spawn_with(backend, args).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &leader).await.unwrap();
    ws.subscribe(
        "1",
        "subscription($g: ID) { taskEvents(groupId: $g) { kind } }",
        json!({ "g": gid(NodeType::Group, f.group_a1) }),
    )
    .await;
    // At expiry the server closes the socket (4403): the client reconnects with a new token.
    assert_eq!(ws.next_message(Duration::from_secs(10)).await, None);
    assert_eq!(
        ws.closed.as_ref().map(|c| c.0),
        Some(4403),
        "{:?}",
        ws.closed
    );
}

async fn a_subscription_ends_when_its_user_is_disabled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let mut ws = WsClient::connect(&app, &member).await.unwrap();
    ws.subscribe(
        "1",
        "subscription($g: ID) { taskEvents(groupId: $g) { kind } }",
        json!({ "g": gid(NodeType::Group, f.group_a1) }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let user = cdtg_api::entity::user::Entity::find()
        .filter(cdtg_api::entity::user::Column::Username.eq(users::MEMBER_A1))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    app.ok(&ward, "mutation($id: ID!) { setUserDisabled(input: {id: $id, disabled: true}) { user { disabled } } }", json!({ "id": gid(NodeType::User, user.id) })).await;
    // Nothing more is delivered to a disabled account: its socket is closed (4403), whether
    // the watcher or the next event notices first.
    app.ok(&ward, CREATE, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": "Sau khi khóa", "kind": "SURVEY" } })).await;
    while let Some(m) = ws.next_message(Duration::from_secs(5)).await {
        assert_eq!(
            m["type"], "complete",
            "no event for a disabled account: {m}"
        );
    }
    assert_eq!(
        ws.closed.as_ref().map(|c| c.0),
        Some(4403),
        "{:?}",
        ws.closed
    );
}

/// Two server instances on one PostgreSQL database: a subscriber on one sees mutations made
/// through the other (LISTEN/NOTIFY).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_cross_instances_on_postgres() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let f = Fixture::load(&first).await;
    let second = TestApp::spawn_on(
        TestDb::Shared {
            url: first.db.url().to_owned(),
        },
        test_args(),
    )
    .await;
    let leader = second.login(users::LEADER_A1, PASSWORD).await;
    let mut ws = WsClient::connect(&second, &leader).await.unwrap();
    ws.subscribe(
        "1",
        "subscription { taskEvents { kind task { title } } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ward = first.login(users::WARD_A1, PASSWORD).await;
    first.ok(&ward, CREATE, json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": "Từ máy chủ thứ nhất", "kind": "COMMUNICATION" } })).await;
    let e = ws
        .next_data(Duration::from_secs(5))
        .await
        .expect("event relayed through PostgreSQL");
    assert_eq!(
        e["taskEvents"],
        json!({ "kind": "ASSIGNED", "task": { "title": "Từ máy chủ thứ nhất" } })
    );

    // A field report's event crosses too: it is written and notified in the report's own
    // single statement, not through `events::record`.
    let started = first
        .ok(
            &ward,
            TRANSITION,
            json!({ "i": { "id": gid(NodeType::Task, f.task_a1), "action": "START", "expectedVersion": 1 } }),
        )
        .await;
    assert_eq!(started["transitionTask"]["task"]["status"], "IN_PROGRESS");
    let e = ws
        .next_data(Duration::from_secs(5))
        .await
        .expect("transition relayed");
    assert_eq!(e["taskEvents"]["kind"], "TRANSITIONED");
    let member = first.login(users::MEMBER_A1, PASSWORD).await;
    let task = json!(gid(NodeType::Task, f.task_a1));
    first
        .ok(
            &member,
            REPORT,
            report("cross-instance-report", &task, 3, 1),
        )
        .await;
    let e = ws
        .next_data(Duration::from_secs(5))
        .await
        .expect("report relayed");
    assert_eq!(e["taskEvents"]["kind"], "ACTIVITY_REPORTED", "{e}");
    assert_eq!(
        e["taskEvents"]["task"]["title"], "Kích hoạt VNeID tổ dân phố 1",
        "{e}"
    );
}

/// A task kind this version does not know (a newer version wrote it) fails that task's lookup
/// with `INTERNAL`, without the stored text; the server keeps answering, other tasks still load.
async fn an_unknown_stored_kind_is_an_internal_error(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE tasks SET kind = 'TELEPORT' WHERE id = {}",
            f.task_a1
        ))
        .await
        .unwrap();
    const TASK: &str = "query($id: ID!) { node(id: $id) { ... on Task { title kind } } }";
    let admin = app.login(users::ADMIN, PASSWORD).await;
    let (_, body) = app
        .gql(
            Some(&admin),
            TASK,
            json!({ "id": gid(NodeType::Task, f.task_a1) }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    assert!(!body.to_string().contains("TELEPORT"), "{body}");
    let d = app
        .ok(
            &admin,
            TASK,
            json!({ "id": gid(NodeType::Task, f.task_b1) }),
        )
        .await;
    assert_eq!(d["node"]["kind"], "CASHLESS_PAYMENT");
}

on_both_databases!(
    assign_start_report_and_complete,
    an_unknown_stored_kind_is_an_internal_error,
    concurrent_reports_add_up_exactly,
    overdue_is_judged_in_vietnam,
    subscribers_see_events_in_their_scope_only,
    a_subscription_ends_when_its_token_expires,
    a_subscription_ends_when_its_user_is_disabled,
);
