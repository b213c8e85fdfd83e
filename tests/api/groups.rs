//! Groups: lists with filters and pagination, and the ward leader's mutations.

use cdtg_api::ids::NodeType;
use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

async fn filters_search_and_pagination_in_both_directions(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let data = app
        .ok(
            &token,
            r#"query($d: ID!) {
                all: groups { totalCount }
                community: groups(filter: { kind: COMMUNITY }) { totalCount }
                inA: groups(filter: { unitId: $d }) { totalCount }
                search: groups(filter: { search: "tan chinh" }) { nodes { name unit { name } } }
                desc: groups(orderBy: { field: NAME, direction: DESC }, first: 1) { nodes { name } }
            }"#,
            json!({ "d": gid(NodeType::AdminUnit, f.district_a) }),
        )
        .await;
    assert_eq!(data["all"]["totalCount"], 4);
    assert_eq!(data["community"]["totalCount"], 3);
    assert_eq!(data["inA"]["totalCount"], 3);
    assert_eq!(
        data["search"]["nodes"],
        json!([{ "name": "Tổ CNSCĐ Tân Chính", "unit": { "name": "Tân Chính" } }])
    );

    // Walk forward two at a time, then back from the end.
    let page1 = app.ok(&token, "{ groups(first: 2) { edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }", json!({})).await;
    let p1 = &page1["groups"];
    assert_eq!(p1["edges"].as_array().unwrap().len(), 2);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    let page2 = app
        .ok(&token, "query($a: String) { groups(first: 2, after: $a) { nodes { name } pageInfo { hasNextPage hasPreviousPage } } }", json!({ "a": p1["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(page2["groups"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(
        page2["groups"]["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": true })
    );
    let tail = app.ok(&token, "{ groups(last: 2) { nodes { name } pageInfo { hasPreviousPage hasNextPage startCursor } } }", json!({})).await;
    assert_eq!(tail["groups"]["nodes"], page2["groups"]["nodes"]);
    let before = app
        .ok(
            &token,
            "query($b: String) { groups(last: 5, before: $b) { nodes { name } } }",
            json!({ "b": tail["groups"]["pageInfo"]["startCursor"] }),
        )
        .await;
    let names: Vec<_> = p1["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(before["groups"]["nodes"], json!(names));

    // Page size limits are enforced and named.
    let (_, body) = app
        .gql(
            Some(&token),
            "{ groups(first: 101) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "first");
}

async fn create_and_update_with_validation_and_optimistic_concurrency(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let create = r#"mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id name kind status version unit { name } zaloUrl } } }"#;
    let data = app
        .ok(&token, create, json!({ "i": { "name": "  Tổ CNSCĐ   mới ", "kind": "COMMUNITY", "unitId": gid(NodeType::AdminUnit, f.rg_a1), "zaloUrl": "https://zalo.me/g/abc" } }))
        .await;
    let g = &data["createGroup"]["group"];
    assert_eq!(g["name"], "Tổ CNSCĐ mới");
    assert_eq!(g["status"], "ACTIVE");
    assert_eq!(g["version"], 1);
    assert_eq!(g["unit"]["name"], "Tổ dân phố 1");

    for (input, field) in [
        (
            json!({ "name": "   ", "kind": "COMMUNITY", "unitId": gid(NodeType::AdminUnit, f.ward_a1) }),
            "name",
        ),
        (
            json!({ "name": "X", "kind": "COMMUNITY", "unitId": gid(NodeType::AdminUnit, f.ward_a1), "zaloUrl": "javascript:alert(1)" }),
            "zaloUrl",
        ),
        (
            json!({ "name": "X", "kind": "COMMUNITY", "unitId": "not-an-id" }),
            "unitId",
        ),
    ] {
        let (_, body) = app.gql(Some(&token), create, json!({ "i": input })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }

    let update = r#"mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { name version status } } }"#;
    let id = g["id"].clone();
    let data = app.ok(&token, update, json!({ "i": { "id": id, "expectedVersion": 1, "name": "Đổi tên", "status": "INACTIVE" } })).await;
    assert_eq!(
        data["updateGroup"]["group"],
        json!({ "name": "Đổi tên", "version": 2, "status": "INACTIVE" })
    );
    let (_, body) = app
        .gql(
            Some(&token),
            update,
            json!({ "i": { "id": id, "expectedVersion": 1, "name": "Stale" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    let data = app
        .ok(
            &token,
            "query($id: ID!) { group(id: $id) { name version } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data["group"],
        json!({ "name": "Đổi tên", "version": 2 }),
        "a conflict changes nothing"
    );
}

on_both_databases!(
    filters_search_and_pagination_in_both_directions,
    create_and_update_with_validation_and_optimistic_concurrency
);
