//! What group leaders and members do in their own group, and the roster rules: a leader adds
//! members, changes roles with history, creates, assigns and reviews tasks, and finds other
//! groups missing; a member corrects their own phone; duplicate phones; moving a member to
//! another unit; an archived group takes no tasks; a submitted task is not overdue.

use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const CREATE_MEMBER: &str = "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id fullName phone unit { name } groups { id } } } }";
const UPDATE_MEMBER: &str =
    "mutation($i: UpdateMemberInput!) { updateMember(input: $i) { member { id phone version } } }";
const CREATE_TASK: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id status version assignee { fullName } } } }";
const TRANSITION: &str =
    "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status version } } }";
const CHANGE_ROLE: &str = "mutation($i: ChangeMembershipRoleInput!) { changeMembershipRole(input: $i) { membership { id role active joinedOn member { fullName } } } }";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

async fn a_group_leader_runs_their_own_group_and_nothing_else(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);

    // A new member registered by the leader joins the leader's group.
    let data = app
        .ok(
            &leader,
            CREATE_MEMBER,
            json!({ "i": { "familyName": "Đặng", "givenName": "Thu", "affiliation": "YOUTH_UNION", "unitId": gid(NodeType::AdminUnit, f.rg_a1), "phone": "0933 444 555" } }),
        )
        .await;
    let new_member = data["createMember"]["member"]["id"].clone();
    assert_eq!(data["createMember"]["member"]["groups"][0]["id"], group);
    // Somewhere outside the group's ward is refused.
    let (_, body) = app
        .gql(
            Some(&leader),
            CREATE_MEMBER,
            json!({ "i": { "familyName": "Lý", "givenName": "Na", "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, f.ward_b1) } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    // A task in the group, assigned to the new member, reviewed by the leader.
    let data = app
        .ok(
            &leader,
            CREATE_TASK,
            json!({ "i": { "groupId": group, "title": "Hướng dẫn cài VNeID", "kind": "VNEID_ACTIVATION", "assigneeId": new_member } }),
        )
        .await;
    let task = data["createTask"]["task"]["id"].clone();
    assert_eq!(
        data["createTask"]["task"]["assignee"]["fullName"],
        "Đặng Thu"
    );
    for (action, version, status) in [
        ("START", 1, "IN_PROGRESS"),
        ("SUBMIT", 2, "SUBMITTED"),
        ("SEND_BACK", 3, "IN_PROGRESS"),
        ("SUBMIT", 4, "SUBMITTED"),
        ("COMPLETE", 5, "DONE"),
    ] {
        let data = app
            .ok(
                &leader,
                TRANSITION,
                json!({ "i": { "id": task, "action": action, "expectedVersion": version } }),
            )
            .await;
        assert_eq!(data["transitionTask"]["task"]["status"], status, "{action}");
    }

    // Another group looks exactly like a group that does not exist.
    for other in [
        gid(NodeType::Group, f.group_a2),
        gid(NodeType::Group, 999_999),
    ] {
        let (_, body) = app
            .gql(
                Some(&leader),
                CREATE_TASK,
                json!({ "i": { "groupId": other, "title": "x", "kind": "SURVEY" } }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["message"], "groupId: no such group");
    }
    let (_, foreign) = app
        .gql(
            Some(&leader),
            "mutation($i: AddMembershipInput!) { addMembership(input: $i) { membership { id } } }",
            json!({ "i": { "memberId": new_member, "groupId": gid(NodeType::Group, f.group_a2), "role": "MEMBER" } }),
        )
        .await;
    let (_, missing) = app
        .gql(
            Some(&leader),
            "mutation($i: AddMembershipInput!) { addMembership(input: $i) { membership { id } } }",
            json!({ "i": { "memberId": new_member, "groupId": gid(NodeType::Group, 999_999), "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(foreign, missing);

    // Roles change with history: the old membership ends, a new one begins.
    let memberships = app
        .ok(
            &leader,
            "query($g: ID!) { group(id: $g) { memberships { id role member { fullName } } } }",
            json!({ "g": group }),
        )
        .await;
    let thu = memberships["group"]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member"]["fullName"] == "Đặng Thu")
        .unwrap()["id"]
        .clone();
    let data = app
        .ok(
            &leader,
            CHANGE_ROLE,
            json!({ "i": { "id": thu, "role": "DEPUTY" } }),
        )
        .await;
    assert_eq!(data["changeMembershipRole"]["membership"]["role"], "DEPUTY");
    assert_eq!(data["changeMembershipRole"]["membership"]["active"], true);
    let history = app
        .ok(
            &leader,
            "query($m: ID!) { member(id: $m) { memberships { role active } } }",
            json!({ "m": new_member }),
        )
        .await;
    let mut roles: Vec<(String, bool)> = history["member"]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["active"].as_bool().unwrap(),
            )
        })
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        vec![("DEPUTY".to_owned(), true), ("MEMBER".to_owned(), false)]
    );
    // One leader per group.
    let (_, body) = app
        .gql(Some(&leader), CHANGE_ROLE, json!({ "i": { "id": data["changeMembershipRole"]["membership"]["id"], "role": "LEADER" } }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "role", "{body}");
    // A member may not do any of it.
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let (_, body) = app
        .gql(
            Some(&member),
            CREATE_TASK,
            json!({ "i": { "groupId": group, "title": "x", "kind": "SURVEY" } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
}

async fn members_correct_their_own_phone_and_phones_are_not_duplicated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let own = gid(NodeType::Member, f.member_a1_plain);
    let data = app
        .ok(
            &member,
            UPDATE_MEMBER,
            json!({ "i": { "id": own, "phone": "0966 777 888" } }),
        )
        .await;
    assert_eq!(data["updateMember"]["member"]["phone"], "+84966777888");
    let (_, body) = app
        .gql(
            Some(&member),
            UPDATE_MEMBER,
            json!({ "i": { "id": own, "givenName": "Khác" } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "only contact details: {body}");
    let (_, body) = app
        .gql(
            Some(&member),
            UPDATE_MEMBER,
            json!({ "i": { "id": gid(NodeType::Member, f.member_a1_third), "phone": "0966 777 889" } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "not someone else's: {body}");

    // A phone someone in scope already has: CONFLICT naming them, unless shared on purpose.
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let new = json!({ "familyName": "Võ", "givenName": "Sáu", "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, f.ward_a1), "phone": "+84 905 123 456" });
    let (_, body) = app
        .gql(Some(&ward), CREATE_MEMBER, json!({ "i": new }))
        .await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["existingId"],
        gid(NodeType::Member, f.member_a1_leader)
    );
    let mut shared = new.clone();
    shared["allowSharedPhone"] = json!(true);
    let data = app.ok(&ward, CREATE_MEMBER, json!({ "i": shared })).await;
    let sau = data["createMember"]["member"]["id"].clone();
    assert_eq!(data["createMember"]["member"]["phone"], "+84905123456");
    // Changing a phone to someone else's is refused the same way.
    let (_, body) = app
        .gql(
            Some(&ward),
            UPDATE_MEMBER,
            json!({ "i": { "id": gid(NodeType::Member, f.member_a1_third), "phone": "0966777888" } }),
        )
        .await;
    assert_eq!(code(&body), "CONFLICT");
    assert_eq!(body["errors"][0]["extensions"]["existingId"], own);
    // A member of another ward with the same phone is not in scope: nothing is revealed.
    let other_ward = app.login(users::WARD_B1, PASSWORD).await;
    let data = app
        .ok(
            &other_ward,
            CREATE_MEMBER,
            json!({ "i": { "familyName": "Hồ", "givenName": "Lan", "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, f.ward_b1), "phone": "0966777888" } }),
        )
        .await;
    assert!(data["createMember"]["member"]["id"].is_string());
    assert_ne!(sau, data["createMember"]["member"]["id"]);
}

async fn a_member_moves_to_another_unit_with_their_history(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let district = app.login(users::DISTRICT_A, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let transfer = "mutation($i: TransferMemberInput!) { transferMember(input: $i) { member { unit { name } groups { id } version } } }";
    let who = gid(NodeType::Member, f.member_a1_third);
    // A district officer does not keep rosters; a ward leader cannot send someone out of the
    // ward; a group leader moves no one.
    let (_, body) = app
        .gql(
            Some(&district),
            transfer,
            json!({ "i": { "memberId": who, "unitId": gid(NodeType::AdminUnit, f.ward_a2) } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    let (_, body) = app
        .gql(
            Some(&ward),
            transfer,
            json!({ "i": { "memberId": who, "unitId": gid(NodeType::AdminUnit, f.ward_a2) } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "unitId", "{body}");
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let (_, body) = app
        .gql(
            Some(&leader),
            transfer,
            json!({ "i": { "memberId": who, "unitId": gid(NodeType::AdminUnit, f.rg_a1) } }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");

    let before = app
        .ok(
            &ward,
            "query($m: ID!) { member(id: $m) { unit { name } groups { id } } }",
            json!({ "m": who }),
        )
        .await;
    let target = if before["member"]["unit"]["name"] == "Phước Mỹ" {
        f.rg_a1
    } else {
        f.ward_a1
    };
    let data = app
        .ok(&ward, transfer, json!({ "i": { "memberId": who, "unitId": gid(NodeType::AdminUnit, target), "effectiveOn": "2026-01-01" } }))
        .await;
    assert_ne!(
        data["transferMember"]["member"]["unit"]["name"],
        before["member"]["unit"]["name"]
    );
    assert_eq!(
        data["transferMember"]["member"]["groups"], before["member"]["groups"],
        "memberships stay"
    );
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let moves = cdtg_api::entity::unit_move::Entity::find()
        .filter(cdtg_api::entity::unit_move::Column::ObjectId.eq(f.member_a1_third))
        .filter(cdtg_api::entity::unit_move::Column::ObjectType.eq("MEMBER"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].to_unit_id, target);
    assert_eq!(moves[0].effective_on.to_string(), "2026-01-01");
    let (_, body) = app
        .gql(
            Some(&ward),
            transfer,
            json!({ "i": { "memberId": who, "unitId": gid(NodeType::AdminUnit, target) } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "unitId",
        "already there"
    );
}

async fn archived_groups_take_no_tasks_and_submitted_tasks_are_not_overdue(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    app.ok(
        &ward,
        "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { status } } }",
        json!({ "i": { "id": group, "status": "INACTIVE" } }),
    )
    .await;
    let (_, body) = app
        .gql(
            Some(&ward),
            CREATE_TASK,
            json!({ "i": { "groupId": group, "title": "Khảo sát", "kind": "SURVEY" } }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "groupId");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("archived")
    );
    app.ok(
        &ward,
        "mutation($i: UpdateGroupInput!) { updateGroup(input: $i) { group { status } } }",
        json!({ "i": { "id": group, "status": "ACTIVE" } }),
    )
    .await;

    // Two tasks due yesterday: one still in progress (overdue), one submitted (waiting for the
    // reviewer, so not overdue).
    let mut ids = vec![];
    for title in ["Đang làm", "Đã nộp"] {
        let data = app
            .ok(
                &ward,
                CREATE_TASK,
                json!({ "i": { "groupId": group, "title": title, "kind": "SURVEY" } }),
            )
            .await;
        let id = data["createTask"]["task"]["id"].clone();
        app.ok(
            &ward,
            TRANSITION,
            json!({ "i": { "id": id, "action": "START", "expectedVersion": 1 } }),
        )
        .await;
        ids.push(id);
    }
    app.ok(
        &ward,
        TRANSITION,
        json!({ "i": { "id": ids[1], "action": "SUBMIT", "expectedVersion": 2 } }),
    )
    .await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let yesterday = cdtg_api::service::today_in_vietnam() - chrono::Duration::days(1);
    let rows: Vec<i64> = ids
        .iter()
        .map(|id| cdtg_api::ids::decode(NodeType::Task, id.as_str().unwrap()).unwrap())
        .collect();
    cdtg_api::entity::task::Entity::update_many()
        .col_expr(
            cdtg_api::entity::task::Column::DueOn,
            sea_orm::sea_query::Expr::value(yesterday),
        )
        .filter(cdtg_api::entity::task::Column::Id.is_in(rows))
        .exec(&app.state.db)
        .await
        .unwrap();
    let data = app
        .ok(
            &ward,
            "query($a: ID!, $b: ID!) { a: task(id: $a) { status overdue } b: task(id: $b) { status overdue } }",
            json!({ "a": ids[0], "b": ids[1] }),
        )
        .await;
    assert_eq!(
        data["a"],
        json!({ "status": "IN_PROGRESS", "overdue": true })
    );
    assert_eq!(
        data["b"],
        json!({ "status": "SUBMITTED", "overdue": false })
    );
    let listed = app
        .ok(
            &ward,
            "query($g: ID!) { tasks(filter: { groupId: $g, overdue: true }) { nodes { id } } }",
            json!({ "g": group }),
        )
        .await;
    let listed: Vec<Value> = listed["tasks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert!(
        listed.contains(&ids[0]) && !listed.contains(&ids[1]),
        "{listed:?}"
    );
    // The statistics agree with the list, from the rollups.
    let stats = app
        .ok(
            &ward,
            "query($g: ID!) { group(id: $g) { stats { tasksOverdue } } }",
            json!({ "g": group }),
        )
        .await;
    assert_eq!(stats["group"]["stats"]["tasksOverdue"], listed.len());
}

on_both_databases!(
    a_group_leader_runs_their_own_group_and_nothing_else,
    members_correct_their_own_phone_and_phones_are_not_duplicated,
    a_member_moves_to_another_unit_with_their_history,
    archived_groups_take_no_tasks_and_submitted_tasks_are_not_overdue,
);
