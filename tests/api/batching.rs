//! No N+1: the statements a nested query issues are bounded by its depth, not its rows.

use cdtg_api::entity::{group, member, membership, task};
use cdtg_api::ids::NodeType;
use cdtg_core::group::{Affiliation, GroupKind, GroupStatus, MembershipRole};
use cdtg_core::product::{ListingStatus, Platform};
use cdtg_core::task::{TaskKind, TaskPriority, TaskStatus};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Adds `n` groups under `unit` with 3 members and 2 tasks each, in bulk.
async fn add_groups(app: &TestApp, unit: i64, n: usize) {
    let db = &app.state.db;
    let unit_path = &cdtg_api::entity::admin_unit::Entity::find_by_id(unit)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .path;
    let now = Utc::now();
    let mut groups = vec![];
    let mut members = vec![];
    for i in 0..n {
        groups.push(group::ActiveModel {
            name: Set(format!("Tổ số {i:03}")),
            name_key: Set(cdtg_core::text::sort_key(&format!("Tổ số {i:03}"))),
            name_folded: Set(format!("to so {i:03}")),
            kind: Set(GroupKind::Community),
            unit_id: Set(unit),
            unit_path: Set(unit_path.to_owned()),
            status: Set(GroupStatus::Active),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    group::Entity::insert_many(groups)
        .exec_without_returning(db)
        .await
        .unwrap();
    let created = group::Entity::find().all(db).await.unwrap();
    for g in created
        .iter()
        .filter(|g| g.unit_id == unit && g.name.starts_with("Tổ số"))
    {
        for j in 0..3 {
            members.push(member::ActiveModel {
                family_name: Set("Ngô".into()),
                given_name: Set(format!("Số {j}")),
                full_name: Set(format!("Ngô Số {j} của {}", g.id)),
                search_key: Set(format!("ngo so {j} cua {}", g.id)),
                name_key: Set(cdtg_core::text::person_sort_key(
                    "Ngô",
                    None,
                    &format!("Số {j}"),
                )),
                affiliation: Set(Affiliation::Resident),
                unit_id: Set(unit),
                unit_path: Set(unit_path.to_owned()),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
        }
        for k in 0..2 {
            task::Entity::insert(task::ActiveModel {
                group_id: Set(g.id),
                title: Set(format!("Việc {k}")),
                title_folded: Set(format!("viec {k}")),
                kind: Set(TaskKind::Survey),
                priority: Set(TaskPriority::Normal),
                status: Set(TaskStatus::Open),
                progress: Set(0),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(db)
            .await
            .unwrap();
        }
    }
    member::Entity::insert_many(members)
        .exec_without_returning(db)
        .await
        .unwrap();
    let all_members = member::Entity::find().all(db).await.unwrap();
    let links: Vec<_> = all_members
        .iter()
        .filter(|m| m.unit_id == unit && m.family_name == "Ngô")
        .map(|m| {
            let gid: i64 = m.full_name.rsplit(' ').next().unwrap().parse().unwrap();
            membership::ActiveModel {
                member_id: Set(m.id),
                group_id: Set(gid),
                role: Set(MembershipRole::Member),
                joined_on: Set(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    membership::Entity::insert_many(links)
        .exec_without_returning(db)
        .await
        .unwrap();
}

const NESTED: &str = r#"query($u: ID!) { groups(first: 100, filter: { unitId: $u }) { totalCount nodes {
    name unit { name parent { name } }
    members(first: 20) { totalCount nodes { fullName memberships { role group { name } } } }
    tasks(first: 10) { totalCount nodes { title group { name } activities(first: 5) { totalCount } } }
    products { name listings { platform } }
} } }"#;

async fn nested_cost(app: &TestApp, token: &str, unit: i64) -> (u64, usize) {
    let (spent, data) = app
        .statements_for(
            token,
            NESTED,
            json!({ "u": gid(NodeType::AdminUnit, unit) }),
        )
        .await;
    (spent, data["groups"]["nodes"].as_array().unwrap().len())
}

async fn nested_queries_cost_the_same_for_5_or_50_groups(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    add_groups(&app, f.ward_a2, 4).await;
    add_groups(&app, f.ward_b1, 49).await;
    // Give A2 a listed product as B1 has one, so both answers have the same shape.
    let sys = cdtg_api::principal::Principal::system();
    let p = cdtg_api::service::products::create(
        &app.state.db,
        &sys,
        cdtg_api::service::products::NewProduct {
            name: "Bánh tráng".into(),
            category: "Đặc sản".into(),
            producer: "HTX An Hải".into(),
            sale_unit: "gói".into(),
            ocop_stars: 2,
            group_id: f.group_a2,
            price_vnd: None,
            description: None,
        },
    )
    .await
    .unwrap();
    cdtg_api::service::products::upsert_listing(
        &app.state.db,
        &sys,
        cdtg_api::service::products::ListingInput {
            product_id: p.id,
            platform: Platform::Postmart,
            url: "https://postmart.vn/p/banh-trang".into(),
            status: ListingStatus::Listed,
            listed_on: None,
        },
    )
    .await
    .unwrap();
    let token = app.login(users::ADMIN, PASSWORD).await;

    let (small, small_rows) = nested_cost(&app, &token, f.ward_a2).await;
    let (large, large_rows) = nested_cost(&app, &token, f.ward_b1).await;
    assert_eq!((small_rows, large_rows), (5, 50));
    // The bound depends on the query's shape only: two authentication look-ups, then one
    // statement per level and edge (groups, count, unit filter, units, parents, members,
    // memberships, their groups, tasks, task groups, activities, products, listings). Two sibling
    // edges that load the same groups share a batch or not depending on timing, hence a range.
    const BOUND: u64 = 16;
    assert!(
        small <= BOUND && large <= BOUND,
        "{small} statements for 5 groups, {large} for 50: must stay within {BOUND}"
    );
    assert!(
        large <= small + 1,
        "ten times the rows must not cost more statements: {small} → {large}"
    );
}

/// A group's unit and the units above it are all named by the group's path: walking up costs
/// one batch, not one round trip per level — whether by `parent` chains or `ancestors`.
async fn walking_up_the_tree_costs_one_statement(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let g = json!({ "g": gid(NodeType::Group, f.group_a1) });
    let m = json!({ "m": gid(NodeType::Member, f.member_a1_plain) });
    let cost = |query: &'static str, vars: &serde_json::Value| {
        app.statements_for(&token, query, vars.clone())
    };
    // One chain per request: two root fields (a group and a member) may resolve in different
    // loader ticks, and their units would then be two batches by timing alone.
    let (group_alone, _) = cost("query($g: ID!) { group(id: $g) { name } }", &g).await;
    let (group_walk, data) = cost(
        "query($g: ID!) { group(id: $g) { name unit { name parent { name parent { name parent { name } } } } } }",
        &g,
    )
    .await;
    assert_eq!(
        data["group"]["unit"],
        json!({ "name": "Tổ dân phố 1", "parent": { "name": "Phước Mỹ", "parent": { "name": "Sơn Trà",
            "parent": { "name": "Thành phố Đà Nẵng" } } } })
    );
    assert_eq!(
        group_walk, group_alone,
        "the group's unit and all its ancestors come in the group's own statement"
    );
    // The unit alone (no walk up) comes with the group too, and the chain is the same one the
    // units' own look-ups give.
    let (unit_only, data) = cost(
        "query($g: ID!) { group(id: $g) { name unit { id name kind } } }",
        &g,
    )
    .await;
    assert_eq!(unit_only, group_alone);
    let (_, by_node) = cost(
        "query($u: ID!) { node(id: $u) { ... on AdminUnit { id name kind } } }",
        &json!({ "u": data["group"]["unit"]["id"] }),
    )
    .await;
    assert_eq!(data["group"]["unit"], by_node["node"]);
    // Out of scope, the group read with its units is missing like any other.
    let ward_b1 = app.login(users::WARD_B1, PASSWORD).await;
    let (status, body) = app
        .gql(
            Some(&ward_b1),
            "query($g: ID!) { group(id: $g) { name unit { name parent { name } } } }",
            g.clone(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": { "group": null } }));
    let (member_alone, _) = cost("query($m: ID!) { member(id: $m) { fullName } }", &m).await;
    let (member_walk, data) = cost(
        "query($m: ID!) { member(id: $m) { fullName unit { name parent { name } ancestors { name } } } }",
        &m,
    )
    .await;
    assert_eq!(
        data["member"]["unit"]["ancestors"],
        json!([{ "name": "Thành phố Đà Nẵng" }, { "name": "Sơn Trà" }, { "name": "Phước Mỹ" }])
    );
    assert_eq!(
        member_walk,
        member_alone + 1,
        "the member's unit, its parent and its ancestors: one statement"
    );
}

/// A nested connection's `totalCount` comes out of the batched page statement when the
/// selection reads it, however it is spelled (directly, in a named or an inline fragment), and
/// pages read without it skip the count: the same statements either way, never one count per
/// parent.
async fn nested_totals_come_from_the_batch_only_when_read(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    add_groups(&app, f.ward_b1, 49).await;
    let token = app.login(users::ADMIN, PASSWORD).await;
    let vars = json!({ "u": gid(NodeType::AdminUnit, f.ward_b1) });
    let (app, token, vars) = (&app, &token, &vars);
    let cost = |query: String| async move { app.statements_for(token, &query, vars.clone()).await };
    let query = |members: &str, tasks: &str, groups: &str| {
        format!(
            "query($u: ID!) {{ adminUnit(id: $u) {{ groups(first: 100) {{ {groups} nodes {{ name \
             members(first: 2) {{ {members} nodes {{ fullName }} pageInfo {{ hasNextPage }} }} \
             tasks(first: 1) {{ {tasks} nodes {{ title }} }} }} }} }} }} {fragment}",
            fragment = if members.contains("...Counted") {
                "fragment Counted on MemberConnection { totalCount }"
            } else {
                ""
            }
        )
    };
    let (plain, data) = cost(query("", "", "")).await;
    let (counted, counted_data) = cost(query(
        "...Counted",
        "... on TaskConnection { totalCount }",
        "totalCount",
    ))
    .await;
    assert_eq!(
        plain, counted,
        "totals read from the batched pages, not counted per group"
    );
    let groups = &counted_data["adminUnit"]["groups"];
    assert_eq!(groups["totalCount"], 50, "{groups}");
    let nodes = groups["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 50);
    let added: Vec<_> = nodes
        .iter()
        .filter(|g| g["name"].as_str().unwrap().starts_with("Tổ số"))
        .collect();
    assert_eq!(added.len(), 49);
    for g in &added {
        assert_eq!(g["members"]["totalCount"], 3, "{g}");
        assert_eq!(g["members"]["nodes"].as_array().unwrap().len(), 2, "{g}");
        assert_eq!(g["members"]["pageInfo"]["hasNextPage"], true, "{g}");
        assert_eq!(g["tasks"]["totalCount"], 2, "{g}");
    }
    // Without the totals the pages are the same pages.
    let strip = |mut v: serde_json::Value| {
        let groups = v["adminUnit"]["groups"].as_object_mut().unwrap();
        groups.remove("totalCount");
        for g in groups["nodes"].as_array_mut().unwrap() {
            g["members"].as_object_mut().unwrap().remove("totalCount");
            g["tasks"].as_object_mut().unwrap().remove("totalCount");
        }
        v
    };
    assert_eq!(data, strip(counted_data));
}

/// Every parent's nested page is its own and in its connection's order, forwards and
/// backwards, from a cursor or from the end, with its total or without: the batched pages of a
/// ward's groups equal each group's members read on their own through the top-level
/// connection, a statement that pages one list and numbers nothing.
async fn each_parents_batched_page_is_its_own_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    add_groups(&app, f.ward_b1, 6).await;
    // Each group's first member (the lowest id) sorts last by name, so an order by id and one
    // by name differ inside every group; across groups the names tie, which the id settles.
    member::Entity::update_many()
        .col_expr(
            member::Column::NameKey,
            Expr::value(cdtg_core::text::person_sort_key("Ngô", None, "Số 9")),
        )
        .filter(member::Column::GivenName.eq("Số 0"))
        .exec(&app.state.db)
        .await
        .unwrap();
    let token = app.login(users::ADMIN, PASSWORD).await;
    let ward = gid(NodeType::AdminUnit, f.ward_b1);

    // Cursors from the whole ward's list, so each falls somewhere inside each group's.
    let all = app
        .ok(
            &token,
            "query($u: ID!) { members(filter: { unitId: $u }, first: 100) { edges { cursor } } }",
            json!({ "u": ward }),
        )
        .await;
    let edges = all["members"]["edges"].as_array().unwrap();
    assert!(edges.len() >= 19, "{all}");
    let mut cursors = vec![Value::Null];
    cursors.extend([1, edges.len() / 2, edges.len() - 2].map(|i| edges[i]["cursor"].clone()));

    const PAGE: &str = "totalCount nodes { id } pageInfo { hasNextPage hasPreviousPage }";
    let batched = format!(
        "query($u: ID!, $c: String) {{ adminUnit(id: $u) {{ groups(first: 100) {{ nodes {{ id \
         forward: members(first: 2, after: $c) {{ {PAGE} }} \
         backward: members(last: 2, before: $c) {{ {PAGE} }} \
         bare: members(first: 2, after: $c) {{ nodes {{ id }} }} }} }} }} }}"
    );
    let own = format!(
        "query($g: ID!, $c: String) {{ \
         forward: members(filter: {{ groupId: $g }}, first: 2, after: $c) {{ {PAGE} }} \
         backward: members(filter: {{ groupId: $g }}, last: 2, before: $c) {{ {PAGE} }} }}"
    );
    let (mut pages, mut rows) = (0, 0);
    for c in &cursors {
        let data = app.ok(&token, &batched, json!({ "u": ward, "c": c })).await;
        let groups = data["adminUnit"]["groups"]["nodes"].as_array().unwrap();
        assert_eq!(groups.len(), 7, "{data}");
        for g in groups {
            let alone = app.ok(&token, &own, json!({ "g": g["id"], "c": c })).await;
            for direction in ["forward", "backward"] {
                assert_eq!(
                    g[direction], alone[direction],
                    "{direction} from {c} in {g}"
                );
                rows += g[direction]["nodes"].as_array().unwrap().len();
            }
            assert_eq!(g["bare"]["nodes"], alone["forward"]["nodes"], "{g}");
            pages += 1;
        }
    }
    assert_eq!(pages, 4 * 7);
    // Not every page is empty: six groups of three, read from four places in both directions.
    assert!(rows > 40, "{rows} rows");
}

on_both_databases!(
    nested_queries_cost_the_same_for_5_or_50_groups,
    walking_up_the_tree_costs_one_statement,
    nested_totals_come_from_the_batch_only_when_read,
    each_parents_batched_page_is_its_own_page,
);
