//! Every `orderBy` gives the same pages on SQLite and PostgreSQL, with NULLs and ties present,
//! and priority sorts by urgency.

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};

const CREATE_TASK: &str =
    "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }";
const CREATE_GROUP: &str =
    "mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } } }";

/// The same rows, written in the same order, on either database: ties (equal due dates, equal
/// titles, equal names) and NULLs (no due date, no founding date) on purpose.
async fn world(app: &TestApp) -> String {
    let f = Fixture::load(app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    let tasks = [
        ("Khảo sát", "LOW", Some("2026-12-20")),
        ("Khảo sát", "URGENT", None),
        ("Cài ứng dụng", "HIGH", Some("2026-12-20")),
        ("Tập huấn", "NORMAL", None),
        ("Tập huấn", "URGENT", Some("2026-12-01")),
        ("Ví điện tử", "HIGH", Some("2026-12-31")),
    ];
    for (title, priority, due) in tasks {
        let mut input =
            json!({ "groupId": group, "title": title, "kind": "SURVEY", "priority": priority });
        if let Some(due) = due {
            input["dueOn"] = json!(due);
        }
        app.ok(&ward, CREATE_TASK, json!({ "i": input })).await;
    }
    let unit = gid(NodeType::AdminUnit, f.ward_a1);
    let groups = [
        ("Tổ B", Some("2024-05-01")),
        ("Tổ A", None),
        ("Tổ B", None),
        ("Tổ C", Some("2024-05-01")),
    ];
    for (name, established) in groups {
        let mut input = json!({ "name": name, "kind": "COMMUNITY", "unitId": unit });
        if let Some(d) = established {
            input["establishedOn"] = json!(d);
        }
        app.ok(&ward, CREATE_GROUP, json!({ "i": input })).await;
    }
    ward
}

/// A list read whole and read in pages of 2 (the cursors must agree with the order); each node
/// as the object of the selected `fields`.
async fn read(app: &TestApp, token: &str, root: &str, order: &str, fields: &str) -> Vec<Value> {
    let q = format!(
        "query($after: String) {{ {root}(first: 2, after: $after, orderBy: {order}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} }} }} }}"
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = app.ok(token, &q, json!({ "after": after })).await;
        let conn = &d[root];
        out.extend(conn["nodes"].as_array().unwrap().iter().cloned());
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    let whole = format!("{{ {root}(first: 100, orderBy: {order}) {{ nodes {{ {fields} }} }} }}");
    let d = app.ok(token, &whole, json!({})).await;
    let all: Vec<Value> = d[root]["nodes"].as_array().unwrap().to_vec();
    assert_eq!(out, all, "{root} {order}: pages agree with the whole list");
    out
}

fn orders() -> Vec<(&'static str, String, &'static str)> {
    let mut out = Vec::new();
    for dir in ["ASC", "DESC"] {
        for field in ["DUE_ON", "CREATED_AT", "PRIORITY", "TITLE"] {
            out.push((
                "tasks",
                format!("{{ field: {field}, direction: {dir} }}"),
                "title priority dueOn",
            ));
        }
        for field in ["NAME", "ESTABLISHED_ON", "CREATED_AT"] {
            out.push((
                "groups",
                format!("{{ field: {field}, direction: {dir} }}"),
                "name establishedOn",
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_gives_the_same_pages_on_both_databases() {
    let Some(pg) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let sqlite = TestApp::spawn(Backend::Sqlite).await.expect("SQLite");
    let pg_token = world(&pg).await;
    let sqlite_token = world(&sqlite).await;
    for (root, order, fields) in orders() {
        let on_pg = read(&pg, &pg_token, root, &order, fields).await;
        let on_sqlite = read(&sqlite, &sqlite_token, root, &order, fields).await;
        assert_eq!(on_pg, on_sqlite, "{root} orderBy {order}");
    }
}

async fn priority_sorts_by_urgency(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = world(&app).await;
    let d = app
        .ok(
            &token,
            "{ tasks(first: 100, orderBy: { field: PRIORITY }) { nodes { priority } } }",
            json!({}),
        )
        .await;
    let seen: Vec<&str> = d["tasks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["priority"].as_str().unwrap())
        .collect();
    let rank = |p: &str| {
        ["URGENT", "HIGH", "NORMAL", "LOW"]
            .iter()
            .position(|x| *x == p)
    };
    assert_eq!(seen.first(), Some(&"URGENT"), "{seen:?}");
    assert!(
        seen.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "most urgent first: {seen:?}"
    );

    // Undated tasks come after dated ones in ASC, and first in DESC.
    let due = |dir: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            let d = app
                .ok(
                    token,
                    &format!("{{ tasks(first: 100, orderBy: {{ field: DUE_ON, direction: {dir} }}) {{ nodes {{ dueOn }} }} }}"),
                    json!({}),
                )
                .await;
            d["tasks"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["dueOn"].clone())
                .collect::<Vec<_>>()
        }
    };
    let asc = due("ASC").await;
    assert!(
        asc.last().unwrap().is_null() && !asc[0].is_null(),
        "{asc:?}"
    );
    let desc = due("DESC").await;
    assert!(
        desc[0].is_null() && !desc.last().unwrap().is_null(),
        "{desc:?}"
    );
}

crate::on_both_databases!(priority_sorts_by_urgency);
