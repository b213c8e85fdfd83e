//! Nested pages read only what their selection asks for: the columns of each member, group and
//! task, and each row's cursor only when `edges { cursor }` or a cursor of `pageInfo` is read.
//! Whatever the selection, a nested page answers exactly what a full read of the same record
//! answers.

use std::collections::{BTreeMap, HashSet};

use cdtg_api::entity::{group, member, task};
use cdtg_api::ids::NodeType;
use cdtg_api::principal::Principal;
use cdtg_api::service::tasks;
use cdtg_core::task::{TaskKind, TaskPriority, TaskStatus};
use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Every field of `type_name`, as a selection: leaves by name, objects by their `id` (or their
/// `__typename`, for those without one: connections, statistics). Read from the schema, so a
/// field added later is covered without touching this test.
async fn fields_of(app: &TestApp, token: &str, type_name: &str) -> Vec<String> {
    let data = app
        .ok(
            token,
            r#"{ __schema { types { name fields { name args { name defaultValue type { kind } }
                 type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"#,
            json!({}),
        )
        .await;
    let types = data["__schema"]["types"].as_array().unwrap();
    let with_id: HashSet<&str> = types
        .iter()
        .filter(|t| {
            t["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["name"] == "id"))
        })
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let fields = types
        .iter()
        .find(|t| t["name"] == type_name)
        .and_then(|t| t["fields"].as_array())
        .unwrap_or_else(|| panic!("no type {type_name}"));
    assert!(fields.len() >= 10, "{fields:?}");
    fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().unwrap();
            assert!(
                f["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["type"]["kind"] != "NON_NULL" || !a["defaultValue"].is_null()),
                "{name} has a required argument: this test does not know what to pass"
            );
            // The innermost type: through NON_NULL and LIST wrappers.
            let mut t = &f["type"];
            while matches!(t["kind"].as_str(), Some("NON_NULL" | "LIST")) {
                t = &t["ofType"];
            }
            match t["kind"].as_str().unwrap() {
                "SCALAR" | "ENUM" => name.to_owned(),
                _ if with_id.contains(t["name"].as_str().unwrap()) => format!("{name} {{ id }}"),
                _ => format!("{name} {{ __typename }}"),
            }
        })
        .collect()
}

/// The records of a list, by id.
fn by_id(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_owned(), m.clone()))
        .collect()
}

/// Reads `ids` of `type_name` in full through `node(id:)`, checks that `checked` holds no
/// neutral value (empty, zero, null) a projection could leave in place unnoticed, then reads
/// every field alone and all of them together through the nested pages of `pages` (a query
/// with `$p` for its parent and a fragment `F` on the type, answering two lists at `paths`),
/// comparing each value with the full record.
async fn projected_equals_full(
    app: &TestApp,
    token: &str,
    type_name: &str,
    (ids, checked): (&[String], &str),
    (pages, parent, paths): (&str, &str, [&[&str]; 2]),
) {
    let fields = fields_of(app, token, type_name).await;
    let mut full = BTreeMap::new();
    for id in ids {
        let q = format!(
            "query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {{ {} }} }} }}",
            fields.join(" ")
        );
        let data = app.ok(token, &q, json!({ "id": id })).await;
        full.insert(id.clone(), data["node"].clone());
    }
    for field in &fields {
        let name = field.split(' ').next().unwrap();
        let value = &full[checked][name];
        assert!(
            !(value.is_null() || value == "" || value == 0 || value == &json!([])),
            "{type_name} {checked}: {name} is {value}, neutral: a projection leaving it out would pass"
        );
    }

    let mut selections: Vec<Vec<String>> = fields.iter().map(|f| vec![f.clone()]).collect();
    selections.push(fields.clone());
    for selection in selections {
        let s = selection.join(" ");
        let q = format!("{pages} fragment F on {type_name} {{ {s} }}");
        let data = app.ok(token, &q, json!({ "p": parent })).await;
        for path in paths {
            let list = path.iter().fold(&data, |v, key| &v[*key]);
            let list = match list.as_array() {
                // `edges`: the nodes inside.
                Some(items) if items.first().is_some_and(|e| e.get("node").is_some()) => {
                    Value::Array(items.iter().map(|e| e["node"].clone()).collect())
                }
                _ => list.clone(),
            };
            let read = by_id(&list);
            for (id, record) in &full {
                let read = read
                    .get(id)
                    .unwrap_or_else(|| panic!("{id} missing at {path:?}: {data}"));
                for field in &selection {
                    let name = field.split(' ').next().unwrap();
                    assert_eq!(
                        read[name], record[name],
                        "{name} of {type_name} {id} at {path:?}, selecting `{s}`"
                    );
                }
            }
        }
    }
}

async fn nested_members_answer_what_a_full_read_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    member::Entity::update_many()
        .col_expr(
            member::Column::TrainedOn,
            Expr::value(NaiveDate::from_ymd_opt(2025, 3, 8).unwrap()),
        )
        .filter(member::Column::Id.eq(f.member_a1_leader))
        .exec(&app.state.db)
        .await
        .unwrap();
    let token = app.login(users::ADMIN, PASSWORD).await;
    let ids: Vec<String> = [f.member_a1_leader, f.member_a1_plain, f.member_a1_third]
        .into_iter()
        .map(|id| gid(NodeType::Member, id))
        .collect();
    // A group's members through `nodes`, a unit's through `edges { node }`.
    let group = gid(NodeType::Group, f.group_a1);
    let pages = r#"query($p: ID!) {
           group(id: $p) { members(first: 20) { nodes { id ...F } }
             unit { parent { members(first: 100) { edges { node { id ...F } } } } } }
         }"#;
    let paths: [&[&str]; 2] = [
        &["group", "members", "nodes"],
        &["group", "unit", "parent", "members", "edges"],
    ];
    let checked = ids[0].clone();
    projected_equals_full(
        &app,
        &token,
        "Member",
        (&ids, &checked),
        (pages, &group, paths),
    )
    .await;
}

async fn nested_groups_answer_what_a_full_read_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    group::Entity::update_many()
        .col_expr(
            group::Column::EstablishedOn,
            Expr::value(NaiveDate::from_ymd_opt(2025, 1, 15).unwrap()),
        )
        .col_expr(group::Column::DecisionNumber, Expr::value("12/QĐ-UBND"))
        .col_expr(
            group::Column::ZaloUrl,
            Expr::value("https://zalo.me/g/abc123"),
        )
        .col_expr(
            group::Column::LeaderMemberId,
            Expr::value(f.member_a1_leader),
        )
        .filter(group::Column::Id.eq(f.group_a1))
        .exec(&app.state.db)
        .await
        .unwrap();
    let token = app.login(users::ADMIN, PASSWORD).await;
    let ids: Vec<String> = [f.group_a1, f.group_a1_management]
        .into_iter()
        .map(|id| gid(NodeType::Group, id))
        .collect();
    let ward = gid(NodeType::AdminUnit, f.ward_a1);
    let pages = r#"query($p: ID!) { adminUnit(id: $p) {
           a: groups(first: 100) { nodes { id ...F } }
           b: groups(first: 100) { edges { node { id ...F } } } } }"#;
    let paths: [&[&str]; 2] = [&["adminUnit", "a", "nodes"], &["adminUnit", "b", "edges"]];
    let checked = ids[0].clone();
    projected_equals_full(
        &app,
        &token,
        "Group",
        (&ids, &checked),
        (pages, &ward, paths),
    )
    .await;
}

async fn nested_tasks_answer_what_a_full_read_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    // The fixture's task, done after its due date, with every field set; and an overdue one
    // with a different kind and priority. `overdue` reads the status and the due date: left
    // without either, one of the two would answer wrongly.
    let completed = Utc.with_ymd_and_hms(2026, 3, 9, 10, 30, 0).unwrap();
    task::Entity::update_many()
        .col_expr(
            task::Column::Description,
            Expr::value("Hai buổi ở nhà văn hoá"),
        )
        .col_expr(
            task::Column::AssigneeMemberId,
            Expr::value(f.member_a1_plain),
        )
        .col_expr(task::Column::Status, Expr::value(TaskStatus::Done))
        .col_expr(task::Column::Progress, Expr::value(50_i64))
        .col_expr(
            task::Column::DueOn,
            Expr::value(NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()),
        )
        .col_expr(task::Column::CompletedAt, Expr::value(completed))
        .filter(task::Column::Id.eq(f.task_a1))
        .exec(&app.state.db)
        .await
        .unwrap();
    let overdue = tasks::create(
        &app.state.db,
        &Principal::system(),
        tasks::NewTask {
            group_id: f.group_a1,
            assignee_id: Some(f.member_a1_leader),
            title: "Khảo sát hộ gia đình".into(),
            description: Some("Phiếu giấy".into()),
            kind: TaskKind::Survey,
            priority: TaskPriority::Urgent,
            due_on: NaiveDate::from_ymd_opt(2025, 1, 31),
            target: Some(40),
        },
    )
    .await
    .unwrap();
    let token = app.login(users::ADMIN, PASSWORD).await;
    let ids = [
        gid(NodeType::Task, f.task_a1),
        gid(NodeType::Task, overdue.id),
    ];
    let group = gid(NodeType::Group, f.group_a1);
    let pages = r#"query($p: ID!) { group(id: $p) {
           a: tasks(first: 20) { nodes { id ...F } }
           b: tasks(first: 20) { edges { node { id ...F } } } } }"#;
    let paths: [&[&str]; 2] = [&["group", "a", "nodes"], &["group", "b", "edges"]];
    let checked = ids[0].clone();
    projected_equals_full(
        &app,
        &token,
        "Task",
        (&ids, &checked),
        (pages, &group, paths),
    )
    .await;
}

async fn nested_cursors_are_read_when_a_fragment_asks(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    // The whole list, in order, for nodes alone (no cursors fetched).
    let all = app
        .ok(
            &token,
            "query($g: ID!) { group(id: $g) { members { nodes { id } } } }",
            json!({ "g": group }),
        )
        .await;
    let all: Vec<&str> = all["group"]["members"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(all.len(), 3);

    // Walk it one at a time, the end cursor asked for only inside fragments, on both paths
    // that carry a cursor.
    let page = "query($g: ID!, $after: String) {
          group(id: $g) { members(first: 1, after: $after) { nodes { id } ...Info ...Edges } }
        }
        fragment Info on MemberConnection { pageInfo { ... on PageInfo { endCursor hasNextPage } } }
        fragment Edges on MemberConnection { edges { cursor } }";
    let mut after = Value::Null;
    let mut walked = vec![];
    loop {
        let data = app
            .ok(&token, page, json!({ "g": group, "after": after }))
            .await;
        let members = &data["group"]["members"];
        let id = members["nodes"][0]["id"].as_str().unwrap().to_owned();
        let end = members["pageInfo"]["endCursor"].clone();
        assert!(end.is_string(), "{data}");
        assert_eq!(members["edges"][0]["cursor"], end, "{data}");
        walked.push(id);
        if members["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert!(walked.len() < 3, "{data}");
        after = end;
    }
    assert_eq!(walked, all);
}

on_both_databases!(
    nested_members_answer_what_a_full_read_answers,
    nested_groups_answer_what_a_full_read_answers,
    nested_tasks_answer_what_a_full_read_answers,
    nested_cursors_are_read_when_a_fragment_asks,
);
