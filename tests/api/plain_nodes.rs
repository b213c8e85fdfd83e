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

/// A page whose selection mixes plain fields with one that loads (a member's unit) takes
/// async-graphql's path and answers both.
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

on_both_databases!(
    plain_nodes_answer_what_async_graphql_answers,
    a_mixed_selection_answers_both_kinds_of_field,
);
