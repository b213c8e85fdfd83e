//! Nested pages read only what their selection asks for: the columns of each member, and each
//! row's cursor only when `edges { cursor }` or a cursor of `pageInfo` is read. Whatever the
//! selection, a nested page answers exactly what a full read of the same record answers.

use cdtg_api::entity::member;
use cdtg_api::ids::NodeType;
use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Every field of `Member`, as a selection: leaves by name, objects by their `id`. Read from
/// the schema, so a field added later is covered without touching this test.
async fn member_fields(app: &TestApp, token: &str) -> Vec<String> {
    let data = app
        .ok(
            token,
            r#"{ __type(name: "Member") { fields { name args { name type { kind } }
                 type { kind ofType { kind ofType { kind ofType { kind } } } } } } }"#,
            json!({}),
        )
        .await;
    let fields = data["__type"]["fields"].as_array().unwrap();
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
                    .all(|a| a["type"]["kind"] != "NON_NULL"),
                "{name} has a required argument: this test does not know what to pass"
            );
            // The innermost type's kind: through NON_NULL and LIST wrappers.
            let mut t = &f["type"];
            while matches!(t["kind"].as_str(), Some("NON_NULL" | "LIST")) {
                t = &t["ofType"];
            }
            match t["kind"].as_str().unwrap() {
                "SCALAR" | "ENUM" => name.to_owned(),
                _ => format!("{name} {{ id }}"),
            }
        })
        .collect()
}

/// The members of `data` at `path`, by id.
fn by_id(list: &Value) -> std::collections::BTreeMap<String, Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| (m["id"].as_str().unwrap().to_owned(), m.clone()))
        .collect()
}

async fn nested_members_answer_what_a_full_read_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    // No field of the leader holds a neutral value (empty, zero, null) a projection could
    // leave in place unnoticed.
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
    let fields = member_fields(&app, &token).await;
    let group = gid(NodeType::Group, f.group_a1);
    let ward = gid(NodeType::AdminUnit, f.ward_a1);

    // The full records, read one by one.
    let mut full = std::collections::BTreeMap::new();
    for id in [f.member_a1_leader, f.member_a1_plain, f.member_a1_third] {
        let id = gid(NodeType::Member, id);
        let q = format!(
            "query($id: ID!) {{ node(id: $id) {{ ... on Member {{ {} }} }} }}",
            fields.join(" ")
        );
        let data = app.ok(&token, &q, json!({ "id": id })).await;
        full.insert(id, data["node"].clone());
    }

    let leader = &full[&gid(NodeType::Member, f.member_a1_leader)];
    for field in &fields {
        let name = field.split(' ').next().unwrap();
        let value = &leader[name];
        assert!(
            !(value.is_null() || value == "" || value == 0 || value == &json!([])),
            "the leader's {name} is {value}: neutral, a projection leaving it out would pass"
        );
    }

    // Each field alone, then all of them through a fragment, through `nodes` of a group's
    // members and `edges { node }` of a unit's.
    let mut selections: Vec<Vec<String>> = fields.iter().map(|f| vec![f.clone()]).collect();
    selections.push(fields.clone());
    for selection in selections {
        let s = selection.join(" ");
        let q = format!(
            "query($g: ID!, $u: ID!) {{
               group(id: $g) {{ members(first: 20) {{ nodes {{ id ...M }} }} }}
               adminUnit(id: $u) {{ members(first: 100) {{ edges {{ node {{ id ...M }} }} }} }}
             }}
             fragment M on Member {{ {s} }}"
        );
        let data = app.ok(&token, &q, json!({ "g": group, "u": ward })).await;
        let of_group = by_id(&data["group"]["members"]["nodes"]);
        assert_eq!(of_group.len(), 3, "{data}");
        let edges = data["adminUnit"]["members"]["edges"].as_array().unwrap();
        let of_unit = by_id(&Value::Array(
            edges.iter().map(|e| e["node"].clone()).collect(),
        ));
        for (id, record) in &full {
            for (source, read) in [("group", &of_group), ("unit", &of_unit)] {
                let read = read
                    .get(id)
                    .unwrap_or_else(|| panic!("{id} missing from the {source}'s members"));
                for field in &selection {
                    let name = field.split(' ').next().unwrap();
                    assert_eq!(
                        read[name], record[name],
                        "{name} of {id} through the {source}'s members, selecting `{s}`"
                    );
                }
            }
        }
    }
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
    nested_cursors_are_read_when_a_fragment_asks,
);
