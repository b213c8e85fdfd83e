//! The nodes of a page whose selection names only fields read from the row are answered in
//! place, without async-graphql's future per field (`graphql::plain`). Whatever path a page
//! takes, its answer is the same: each type's plain fields, selected directly, answer exactly
//! what the same selection answers inside a fragment (which always takes async-graphql's own
//! path) — the same values, keys, key order, aliases and `__typename`, and a key selected twice
//! once.

use cdtg_api::graphql::objects::{
    AdminUnit, AuditEvent, Group, Listing, Member, Product, Task, User,
};
use cdtg_api::graphql::plain::PlainFields;
use cdtg_api::ids::NodeType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// The selection of a node: `__typename`, every plain field, an alias of the first and the
/// first again (a key selected twice).
fn selection(plain: &[&str]) -> String {
    format!(
        "__typename {} again: {} {}",
        plain.join(" "),
        plain[0],
        plain[0]
    )
}

/// The response keys `selection(plain)` answers, in order.
fn keys(plain: &[&str]) -> Vec<String> {
    let mut keys = vec!["__typename".to_owned()];
    keys.extend(plain.iter().map(|f| f.to_string()));
    keys.push("again".to_owned());
    keys
}

/// Reads a root connection's nodes with the plain selection directly and inside a fragment,
/// and checks the two answers are the same text, with at least `at_least` nodes.
async fn same_either_way(
    app: &TestApp,
    token: &str,
    (connection, type_name, plain): (&str, &str, &[&str]),
    at_least: usize,
) {
    let s = selection(plain);
    let direct = app
        .ok(
            token,
            &format!("{{ {connection}(first: 100) {{ nodes {{ {s} }} }} }}"),
            json!({}),
        )
        .await;
    let fragment = app
        .ok(
            token,
            &format!(
                "{{ {connection}(first: 100) {{ nodes {{ ... on {type_name} {{ {s} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    let nodes = direct[connection]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{connection}: {direct}"));
    assert!(
        nodes.len() >= at_least,
        "{connection}: {} nodes, the fixture has at least {at_least}",
        nodes.len()
    );
    for node in nodes {
        let answered: Vec<&String> = node.as_object().unwrap().keys().collect();
        let expected = keys(plain);
        assert_eq!(
            answered,
            expected.iter().collect::<Vec<_>>(),
            "{connection}: keys"
        );
        assert_eq!(node["__typename"], json!(type_name));
        assert_eq!(node["again"], node[plain[0]]);
    }
    assert_eq!(
        serde_json::to_string(&direct).unwrap(),
        serde_json::to_string(&fragment).unwrap(),
        "{connection}: the in-place answer differs from async-graphql's"
    );
}

async fn plain_nodes_answer_what_async_graphql_answers(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let _ = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let cases: [(&str, &str, &[&str], usize); 8] = [
        ("adminUnits", "AdminUnit", AdminUnit::PLAIN, 7),
        ("groups", "Group", Group::PLAIN, 4),
        ("members", "Member", Member::PLAIN, 5),
        ("tasks", "Task", Task::PLAIN, 3),
        ("products", "Product", Product::PLAIN, 2),
        ("listings", "Listing", Listing::PLAIN, 1),
        ("users", "User", User::PLAIN, 8),
        // Signing in above wrote at least one.
        ("auditEvents", "AuditEvent", AuditEvent::PLAIN, 1),
    ];
    for (connection, type_name, plain, at_least) in cases {
        same_either_way(&app, &token, (connection, type_name, plain), at_least).await;
    }
}

/// A page whose selection mixes plain fields with one that loads (a member's unit) answers
/// both, in the order asked.
async fn a_mixed_selection_answers_both_kinds_of_field(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let data = app
        .ok(
            &token,
            "query($g: ID!) { group(id: $g) { members(first: 20) { nodes { fullName unit { name } phone } } } }",
            json!({ "g": gid(NodeType::Group, f.group_a1) }),
        )
        .await;
    let nodes = data["group"]["members"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{data}");
    for node in nodes {
        let keys: Vec<&String> = node.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["fullName", "unit", "phone"], "{node}");
        assert!(
            matches!(&node["unit"]["name"], Value::String(s) if !s.is_empty()),
            "{node}"
        );
    }
    assert!(
        nodes.iter().any(|n| n["fullName"] == "Nguyễn Văn Chung"),
        "{data}"
    );
}

/// The whole response to `{ groups(first: 100) { nodes { <selection> } } }` read by the
/// administrator of the fixture, once it has been checked against the same selection inside a
/// fragment (async-graphql's own path): the same text, errors included. Errors are sorted by
/// path, since the in-place path records a page's errors in item order and async-graphql in
/// the order its futures finish. Each error's location must point at its field in its own
/// text; it is then left out, since the fragment moves every field along the line.
async fn groups_both_ways(backend: Backend, selection: &str) -> Option<Value> {
    let app = TestApp::spawn(backend).await?;
    let _ = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let read = |nodes: String| {
        let (app, token) = (&app, &token);
        async move {
            let text = format!("{{ groups(first: 100) {{ nodes {{ {nodes} }} }} }}");
            let (status, mut body) = app.gql(Some(token), &text, json!({})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if let Some(Value::Array(errors)) = body.get_mut("errors") {
                for error in errors.iter_mut() {
                    let key = error["path"].as_array().and_then(|p| p.last()).cloned();
                    let at = &error["locations"][0];
                    assert_eq!(at["line"], 1, "{error}");
                    let column = at["column"].as_u64().unwrap() as usize;
                    assert!(
                        text[column - 1..]
                            .starts_with(key.as_ref().and_then(Value::as_str).unwrap()),
                        "{error} points elsewhere in {text}"
                    );
                    error.as_object_mut().unwrap().remove("locations");
                }
                errors.sort_by_key(|e| e["path"].to_string());
            }
            body
        }
    };
    let direct = read(selection.to_owned()).await;
    let fragment = read(format!("... on Group {{ {selection} }}")).await;
    assert_eq!(
        serde_json::to_string(&direct).unwrap(),
        serde_json::to_string(&fragment).unwrap()
    );
    let nodes = direct["data"]["groups"]["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 4, "{direct}");
    Some(direct)
}

/// Plain fields around loading ones, a loading field that fails on every node and another
/// nested two levels deep: the page answered in place is the page async-graphql answers,
/// errors (with their paths and codes) included.
async fn loading_fields_answer_what_async_graphql_answers(backend: Backend) {
    let Some(direct) = groups_both_ways(
        backend,
        "__typename id members(first: 2) { totalCount nodes { fullName unit { name } } } \
         name broken: tasks(first: -1) { totalCount } unit { name } status again: id",
    )
    .await
    else {
        return;
    };
    let nodes = direct["data"]["groups"]["nodes"].as_array().unwrap();
    for node in nodes {
        // The failed field is left out, as async-graphql leaves it out.
        let keys: Vec<&String> = node.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "__typename",
                "id",
                "members",
                "name",
                "unit",
                "status",
                "again"
            ],
            "{node}"
        );
        assert!(
            node["members"]["totalCount"].as_i64().unwrap() >= 0,
            "{node}"
        );
        assert!(node["unit"]["name"].is_string(), "{node}");
    }
    let errors = direct["errors"].as_array().unwrap();
    assert_eq!(errors.len(), nodes.len(), "{direct}");
    for error in errors {
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
        assert_eq!(error["path"][0], "groups", "{error}");
        assert_eq!(error["path"][3], "broken", "{error}");
    }
}

/// A loading field selected twice under one key is merged, as async-graphql merges it.
async fn a_loading_field_selected_twice_is_merged(backend: Backend) {
    let Some(direct) = groups_both_ways(
        backend,
        "name members(first: 3) { totalCount } id members(first: 3) { nodes { fullName } }",
    )
    .await
    else {
        return;
    };
    assert!(direct.get("errors").is_none(), "{direct}");
    let nodes = direct["data"]["groups"]["nodes"].as_array().unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| !n["members"]["nodes"].as_array().unwrap().is_empty()),
        "{direct}"
    );
    for node in nodes {
        // Both selections' keys, in one object.
        let members = node["members"].as_object().unwrap();
        let keys: Vec<&String> = members.keys().collect();
        assert_eq!(keys, ["totalCount", "nodes"], "{node}");
        let listed = members["nodes"].as_array().unwrap().len() as u64;
        assert!(members["totalCount"].as_u64().unwrap() >= listed, "{node}");
    }
}

on_both_databases!(
    plain_nodes_answer_what_async_graphql_answers,
    a_mixed_selection_answers_both_kinds_of_field,
    loading_fields_answer_what_async_graphql_answers,
    a_loading_field_selected_twice_is_merged,
);
