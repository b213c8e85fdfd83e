//! The administrative tree: search, navigation, and unit-scoped edges.

use cdtg_api::ids::NodeType;
use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

async fn accent_insensitive_search_and_tree_navigation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let data = app
        .ok(
            &token,
            r#"{ adminUnits(filter: { search: "phuoc my" }) { totalCount nodes { id name kind depth
                 parent { name } ancestors { name } children { totalCount nodes { name kind } }
                 groups(filter: { kind: COMMUNITY }) { totalCount } } } }"#,
            json!({}),
        )
        .await;
    let units = &data["adminUnits"];
    assert_eq!(units["totalCount"], 1);
    let u = &units["nodes"][0];
    assert_eq!(u["id"], gid(NodeType::AdminUnit, f.ward_a1));
    assert_eq!(u["name"], "Phước Mỹ");
    assert_eq!(u["kind"], "WARD");
    assert_eq!(u["depth"], 2);
    assert_eq!(u["parent"]["name"], "Sơn Trà");
    assert_eq!(
        u["ancestors"],
        json!([{ "name": "Thành phố Đà Nẵng" }, { "name": "Sơn Trà" }])
    );
    assert_eq!(
        u["children"],
        json!({ "totalCount": 1, "nodes": [{ "name": "Tổ dân phố 1", "kind": "RESIDENTIAL_GROUP" }] })
    );
    // The community group sits on the residential group below the ward: subtree, not direct.
    assert_eq!(u["groups"]["totalCount"], 1);

    // Upper case, đ and stray spaces fold the same way.
    let data = app
        .ok(
            &token,
            r#"{ adminUnits(filter: { search: "  ĐÀ   nẴng " }) { nodes { name } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["adminUnits"]["nodes"],
        json!([{ "name": "Thành phố Đà Nẵng" }])
    );

    // Filters by kind and parent, and a wildcard in the search is literal.
    let data = app
        .ok(&token, r#"query($p: ID!) { adminUnits(filter: { parentId: $p, kind: WARD }) { totalCount } none: adminUnits(filter: { search: "%" }) { totalCount } }"#, json!({ "p": gid(NodeType::AdminUnit, f.district_a) }))
        .await;
    assert_eq!(data["adminUnits"]["totalCount"], 2);
    assert_eq!(data["none"]["totalCount"], 0);
}

async fn unit_groups_and_members_cover_the_whole_subtree(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let data = app
        .ok(
            &token,
            r#"query($d: ID!) { adminUnit(id: $d) { groups { totalCount nodes { name } } members(first: 2) { totalCount pageInfo { hasNextPage } nodes { fullName } } } }"#,
            json!({ "d": gid(NodeType::AdminUnit, f.district_a) }),
        )
        .await;
    let u = &data["adminUnit"];
    assert_eq!(
        u["groups"]["totalCount"], 3,
        "A1 community + A1 management + A2: {u}"
    );
    assert_eq!(u["members"]["totalCount"], 4);
    assert_eq!(u["members"]["pageInfo"]["hasNextPage"], true);
    // People sort by given name first: Chung, Hà, Lan, Tuấn.
    assert_eq!(
        u["members"]["nodes"],
        json!([{ "fullName": "Nguyễn Văn Chung" }, { "fullName": "Trần Thị Hà" }])
    );
}

on_both_databases!(
    accent_insensitive_search_and_tree_navigation,
    unit_groups_and_members_cover_the_whole_subtree
);
