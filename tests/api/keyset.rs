//! Keyset cursors: a page starts after the position of the last row read (its sort key and id),
//! so writes between two page reads can neither repeat nor hide a row; offset cursors of the old
//! encoding are refused.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use cdtg_api::ids::NodeType;
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const MEMBERS_PAGE: &str = r#"query($u: ID!, $after: String) {
  members(filter: { unitId: $u }, first: 4, after: $after) {
    edges { cursor node { id fullName } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

const CREATE: &str =
    r#"mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }"#;

/// A name and phone for the n-th extra member; names spread over the alphabet so inserts land
/// before, inside and after the page being read.
fn person(n: usize) -> (String, String, String) {
    const GIVEN: [&str; 8] = ["An", "Bình", "Cường", "Dũng", "Hải", "Khoa", "Phúc", "Yến"];
    const MIDDLE: [&str; 3] = ["Văn", "Minh", "Quốc"];
    (
        MIDDLE[n % MIDDLE.len()].to_owned(),
        GIVEN[n % GIVEN.len()].to_owned(),
        format!("09{:08}", 10_000_000 + n),
    )
}

async fn create(app: &TestApp, token: &str, unit: i64, n: usize) -> String {
    let (middle, given, phone) = person(n);
    let data = app
        .ok(
            token,
            CREATE,
            json!({ "i": { "familyName": "Đỗ", "middleName": middle, "givenName": given, "phone": phone, "affiliation": "RESIDENT", "unitId": gid(NodeType::AdminUnit, unit) } }),
        )
        .await;
    data["createMember"]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn delete_member(app: &TestApp, id: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let raw = cdtg_api::ids::decode(NodeType::Member, id).unwrap();
    let db = &app.state.db;
    let backend = db.get_database_backend();
    for sql in [
        "DELETE FROM memberships WHERE member_id = $1",
        "DELETE FROM members WHERE id = $1",
    ] {
        let sql = if backend == sea_orm::DatabaseBackend::Sqlite {
            sql.replace("$1", "?")
        } else {
            sql.to_owned()
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, [raw.into()]))
            .await
            .unwrap();
    }
}

async fn paging_while_rows_come_and_go(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::WARD_A1, PASSWORD).await;
    let mut ids = Vec::new();
    for n in 0..14 {
        ids.push(create(&app, &token, f.rg_a1, n).await);
    }

    let mut seen: Vec<String> = Vec::new();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut inserted: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut round = 0;
    loop {
        let data = app
            .ok(
                &token,
                MEMBERS_PAGE,
                json!({ "u": gid(NodeType::AdminUnit, f.ward_a1), "after": after }),
            )
            .await;
        let conn = &data["members"];
        for e in conn["edges"].as_array().unwrap() {
            seen.push(e["node"]["id"].as_str().unwrap().to_owned());
        }
        // Between two reads: delete the last row read (the cursor's own row), a row not read
        // yet and one already read; insert rows before and after the position.
        let page_ids: Vec<String> = conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        if let Some(last) = page_ids.last()
            && !deleted.contains(last)
        {
            delete_member(&app, last).await;
            deleted.insert(last.clone());
        }
        if let Some(unread) = ids
            .iter()
            .rev()
            .find(|id| !seen.contains(id) && !deleted.contains(*id))
        {
            delete_member(&app, unread).await;
            deleted.insert(unread.clone());
        }
        for k in 0..2 {
            inserted.push(create(&app, &token, f.rg_a1, 100 + round * 2 + k).await);
        }
        round += 1;
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert_eq!(
            conn["pageInfo"]["endCursor"],
            conn["edges"].as_array().unwrap().last().unwrap()["cursor"]
        );
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        assert!(round < 50, "paging must end");
    }

    let mut counts: HashMap<&String, usize> = HashMap::new();
    for id in &seen {
        *counts.entry(id).or_default() += 1;
    }
    assert!(counts.values().all(|n| *n == 1), "no row twice: {counts:?}");
    // Every row that existed from the start to the end was read exactly once.
    let survivors: Vec<&String> = ids.iter().filter(|id| !deleted.contains(*id)).collect();
    for id in survivors {
        assert!(seen.contains(id), "{id} was skipped");
    }
    let fixture_members = [f.member_a1_leader, f.member_a1_plain, f.member_a1_third];
    for m in fixture_members {
        assert!(seen.contains(&gid(NodeType::Member, m).to_string()));
    }
}

async fn cursors_are_positions_not_offsets(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let offset = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("pos:43");
    for (query, field) in [
        (
            "query($c: String) { members(after: $c) { totalCount } }",
            "after",
        ),
        (
            "query($c: String) { groups(before: $c, last: 2) { totalCount } }",
            "before",
        ),
        (
            "query($c: String) { tasks(after: $c) { totalCount } }",
            "after",
        ),
    ] {
        let (_, body) = app.gql(Some(&token), query, json!({ "c": offset })).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("offset cursors"),
            "{body}"
        );
    }

    // A cursor of one ordering does not fit another.
    let data = app
        .ok(
            &token,
            "{ members(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = data["members"]["pageInfo"]["endCursor"].clone();
    let (_, body) = app
        .gql(
            Some(&token),
            "query($c: String) { tasks(after: $c) { totalCount } }",
            json!({ "c": cursor }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // Backwards from the end, and back again, give the same rows as forwards.
    let all: Vec<Value> = app
        .ok(
            &token,
            "{ members(first: 100) { nodes { id } } }",
            json!({}),
        )
        .await["members"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    let mut backwards = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = app
            .ok(
                &token,
                "query($b: String) { members(last: 2, before: $b) { nodes { id } pageInfo { hasPreviousPage startCursor } } }",
                json!({ "b": before }),
            )
            .await;
        let mut nodes = data["members"]["nodes"].as_array().unwrap().clone();
        nodes.extend(backwards);
        backwards = nodes;
        if !data["members"]["pageInfo"]["hasPreviousPage"]
            .as_bool()
            .unwrap()
        {
            break;
        }
        before = data["members"]["pageInfo"]["startCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(backwards, all);

    // Nested connections take the same cursors and keep their whole total.
    let q = r#"query($g: ID!, $a: String) { group(id: $g) { members(first: 1, after: $a) { totalCount nodes { fullName } pageInfo { endCursor hasNextPage } } } }"#;
    let group = gid(NodeType::Group, f.group_a1);
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.ok(&token, q, json!({ "g": group, "a": after })).await;
        let m = &data["group"]["members"];
        assert_eq!(m["totalCount"], 3, "{m}");
        names.extend(
            m["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["fullName"].clone()),
        );
        if !m["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = m["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(names.len(), 3, "{names:?}");
}

on_both_databases!(
    paging_while_rows_come_and_go,
    cursors_are_positions_not_offsets
);
