//! The demo dataset, checked the way the issues' acceptance checks ask: the Đà Nẵng figures,
//! and what each demo account may see.

use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use cdtg_api::seed::DEMO_PASSWORD;

async fn demo_figures_and_scoped_views(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let summary = cdtg_api::seed::demo(&app.state.db, 1)
        .await
        .expect("seed the demo");
    assert_eq!((summary.members, summary.users), (13_000, 7));

    let admin = app.login("admin", DEMO_PASSWORD).await;
    let data = app
        .ok(
            &admin,
            "{ groups(filter: { kind: COMMUNITY }) { totalCount } members { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data,
        json!({ "groups": { "totalCount": 2500 }, "members": { "totalCount": 13000 } })
    );
    let data = app
        .ok(&admin, r#"{ adminUnits(filter: { search: "phuoc my" }) { nodes { name groups(filter: { kind: COMMUNITY }) { totalCount } } } }"#, json!({}))
        .await;
    assert_eq!(
        data["adminUnits"]["nodes"],
        json!([{ "name": "Phước Mỹ", "groups": { "totalCount": 43 } }])
    );

    let community = "{ groups(filter: { kind: COMMUNITY }) { totalCount } }";
    for (user, expected) in [("phuocmy", 43), ("tanchinh", 36)] {
        let token = app.login(user, DEMO_PASSWORD).await;
        assert_eq!(
            app.ok(&token, community, json!({})).await["groups"]["totalCount"],
            expected,
            "{user}"
        );
    }

    // One group of each ward, as the admin sees them.
    let ward_group = |name: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let q = r#"query($s: String!) { adminUnits(filter: { search: $s, kind: WARD }) { nodes { id groups(first: 1, filter: { kind: COMMUNITY }) { nodes { id } } } } }"#;
            let d = app.ok(&admin, q, json!({ "s": name })).await;
            let unit = d["adminUnits"]["nodes"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let group = d["adminUnits"]["nodes"][0]["groups"]["nodes"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            (unit, group)
        }
    };
    let (phuoc_my, phuoc_my_group) = ward_group("phuoc my").await;
    let (tan_chinh, tan_chinh_group) = ward_group("tan chinh").await;

    // The Sơn Trà district officer sees Phước Mỹ's groups, not Tân Chính's (Thanh Khê).
    let sontra = app.login("sontra", DEMO_PASSWORD).await;
    let q = r#"query($u: ID!, $g: ID!) { groups(filter: { unitId: $u, kind: COMMUNITY }) { totalCount } group(id: $g) { id } }"#;
    let d = app
        .ok(&sontra, q, json!({ "u": phuoc_my, "g": phuoc_my_group }))
        .await;
    assert_eq!(
        d,
        json!({ "groups": { "totalCount": 43 }, "group": { "id": phuoc_my_group } })
    );
    let d = app
        .ok(&sontra, q, json!({ "u": tan_chinh, "g": tan_chinh_group }))
        .await;
    assert_eq!(d, json!({ "groups": { "totalCount": 0 }, "group": null }));

    // phuocmy asking for a Tân Chính group gets exactly what a nonexistent ID gets.
    let phuocmy = app.login("phuocmy", DEMO_PASSWORD).await;
    let lookup = "query($g: ID!) { group(id: $g) { id name } node(id: $g) { id } }";
    let (_, foreign) = app
        .gql(Some(&phuocmy), lookup, json!({ "g": tan_chinh_group }))
        .await;
    let (_, missing) = app
        .gql(
            Some(&phuocmy),
            lookup,
            json!({ "g": cdtg_api::ids::encode(cdtg_api::ids::NodeType::Group, 99_999_999).0 }),
        )
        .await;
    assert_eq!(foreign, missing);
    assert_eq!(foreign, json!({ "data": { "group": null, "node": null } }));

    // The viewer reads products but never a member's phone.
    let viewer = app.login("viewer", DEMO_PASSWORD).await;
    assert!(
        app.ok(&viewer, "{ products { totalCount } }", json!({}))
            .await["products"]["totalCount"]
            .as_i64()
            .unwrap()
            > 900
    );
    let (_, body) = app
        .gql(
            Some(&viewer),
            "{ members(first: 1) { nodes { phone } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(
        !body.to_string().contains("+84"),
        "no phone number leaks: {body}"
    );

    // The group accounts see their one group and its tasks.
    let leader = app.login("phuocmy-leader", DEMO_PASSWORD).await;
    let d = app
        .ok(
            &leader,
            "{ groups { totalCount } tasks { totalCount } me { scopeGroup { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["groups"]["totalCount"], 1);
    assert_eq!(d["me"]["scopeGroup"]["id"], phuoc_my_group);
    assert!(d["tasks"]["totalCount"].as_i64().unwrap() >= 5);
    app.login("phuocmy-member", DEMO_PASSWORD).await;
}

on_both_databases!(demo_figures_and_scoped_views);
