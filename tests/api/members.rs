//! Members and memberships: accent-insensitive name search, phone normalisation, history.

use cdtg_api::ids::NodeType;
use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

async fn search_phone_normalisation_and_validation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let data = app.ok(&token, r#"{ members(filter: { search: "nguyen van" }) { nodes { fullName familyName middleName givenName phone } } }"#, json!({})).await;
    assert_eq!(
        data["members"]["nodes"],
        json!([{ "fullName": "Nguyễn Văn Chung", "familyName": "Nguyễn", "middleName": "Văn", "givenName": "Chung", "phone": "+84905123456" }])
    );
    let create = r#"mutation($i: CreateMemberInput!) { createMember(input: $i) { member { fullName phone affiliation } } }"#;
    let ok = app
        .ok(&token, create, json!({ "i": { "familyName": "Võ", "middleName": "Thị", "givenName": "Sáu", "phone": "(+84) 91-234-5679", "affiliation": "WOMENS_UNION", "unitId": gid(NodeType::AdminUnit, f.rg_a1) } }))
        .await;
    assert_eq!(
        ok["createMember"]["member"],
        json!({ "fullName": "Võ Thị Sáu", "phone": "+84912345679", "affiliation": "WOMENS_UNION" })
    );
    for (input, field) in [
        (
            json!({ "familyName": "Võ", "givenName": "Sáu", "phone": "0236 3822 222", "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, f.rg_a1) }),
            "phone",
        ),
        (
            json!({ "familyName": "", "givenName": "Sáu", "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, f.rg_a1) }),
            "familyName",
        ),
        (
            json!({ "familyName": "Võ", "givenName": "S4u", "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, f.rg_a1) }),
            "givenName",
        ),
    ] {
        let (_, body) = app.gql(Some(&token), create, json!({ "i": input })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let data = app
        .ok(
            &token,
            r#"{ members(filter: { search: "vo thi sau" }) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["members"]["totalCount"], 1,
        "nothing half-written by the refused inputs"
    );
}

async fn memberships_keep_history(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    let q = r#"query($g: ID!) { group(id: $g) { leader { fullName } members { totalCount } all: members(includeFormer: true) { totalCount } memberships(includeFormer: true) { id active role member { fullName } } } }"#;
    let data = app.ok(&token, q, json!({ "g": group })).await;
    assert_eq!(data["group"]["leader"]["fullName"], "Nguyễn Văn Chung");
    assert_eq!(data["group"]["members"]["totalCount"], 3);
    let leader_membership = data["group"]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "LEADER")
        .unwrap()["id"]
        .clone();
    let end = r#"mutation($i: EndMembershipInput!) { endMembership(input: $i) { membership { active joinedOn leftOn } } }"#;
    // Leaving before joining is refused and names the field.
    let (_, body) = app
        .gql(
            Some(&token),
            end,
            json!({ "i": { "id": leader_membership, "leftOn": "2001-01-01" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "leftOn", "{body}");
    let data = app
        .ok(&token, end, json!({ "i": { "id": leader_membership } }))
        .await;
    let ended = &data["endMembership"]["membership"];
    assert_eq!(ended["active"], false);
    assert_eq!(
        ended["leftOn"], ended["joinedOn"],
        "joined and left today (the default date)"
    );
    let (_, body) = app
        .gql(
            Some(&token),
            end,
            json!({ "i": { "id": leader_membership } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
    let data = app.ok(&token, q, json!({ "g": group })).await;
    assert_eq!(data["group"]["leader"], json!(null), "the leader left");
    assert_eq!(data["group"]["members"]["totalCount"], 2);
    assert_eq!(data["group"]["all"]["totalCount"], 3, "history is kept");
    // Rejoining is allowed once the old membership has ended.
    let add = r#"mutation($i: AddMembershipInput!) { addMembership(input: $i) { membership { active role } } }"#;
    let data = app.ok(&token, add, json!({ "i": { "memberId": gid(NodeType::Member, f.member_a1_leader), "groupId": group, "role": "DEPUTY" } })).await;
    assert_eq!(
        data["addMembership"]["membership"],
        json!({ "active": true, "role": "DEPUTY" })
    );
    let (_, body) = app.gql(Some(&token), add, json!({ "i": { "memberId": gid(NodeType::Member, f.member_a1_leader), "groupId": group } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
}

on_both_databases!(
    search_phone_normalisation_and_validation,
    memberships_keep_history
);
