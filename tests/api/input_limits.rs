//! Bounded inputs and statistics that survive any stored value.
//!
//! Every number, date and search text a client sends has a documented realistic bound
//! (`cdtg_core::limits`, README "Input limits"): past it the API answers `BAD_USER_INPUT` naming
//! the input field and stores nothing. And because rows can still be written around the API (by
//! hand, or by versions before the limits), the statistics are tested against absurd values
//! written straight into the tables: they must answer, saturated, never `INTERNAL`.

use cdtg_api::entity::{activity, product, task, unit_survey, unit_target};
use cdtg_api::ids::NodeType;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set,
};
use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// 2^62: what the penetration test recorded as a household count.
const ABSURD: i64 = 1 << 62;

/// Sends `query` and asserts a single `BAD_USER_INPUT` error naming `field`.
async fn refused(app: &TestApp, token: &str, query: &str, vars: Value, field: &str) {
    let (_, body) = app.gql(Some(token), query, vars).await;
    let err = &body["errors"][0];
    assert_eq!(
        err["extensions"]["code"], "BAD_USER_INPUT",
        "{field}: {body}"
    );
    assert_eq!(err["extensions"]["field"], field, "{body}");
    assert!(
        body["data"].is_null()
            || body["data"]
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_null)),
        "nothing answered: {body}"
    );
}

async fn count<E: EntityTrait>(db: &DatabaseConnection) -> u64
where
    E::Model: Sync,
{
    E::find().count(db).await.unwrap()
}

const SURVEY: &str = "mutation($i: RecordUnitSurveyInput!) { recordUnitSurvey(input: $i) { survey { households } } }";

fn survey(unit: &str, year: i32, changes: Value) -> Value {
    let mut i = json!({ "unitId": unit, "periodStart": format!("{year}-01-01"), "periodEnd": format!("{year}-12-31"),
        "households": 1000, "withComputer": 200, "withInternet": 800, "withSmartphone": 900,
        "businesses": 40, "businessHouseholds": 120, "avgIncomeVnd": 80_000_000, "fiveSkillsHouseholds": 300 });
    for (k, v) in changes.as_object().unwrap() {
        i[k] = v.clone();
    }
    json!({ "i": i })
}

async fn survey_figures_are_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let unit = gid(NodeType::AdminUnit, f.ward_a1);
    let this_year = (Utc::now() + Duration::hours(7)).year();
    for (changes, field) in [
        (json!({ "households": ABSURD }), "households"),
        (json!({ "households": 10_000_001 }), "households"),
        (json!({ "households": -1 }), "households"),
        (json!({ "households": i64::MIN }), "households"),
        (json!({ "withInternet": 1001 }), "withInternet"),
        (json!({ "withComputer": -1 }), "withComputer"),
        (
            json!({ "fiveSkillsHouseholds": ABSURD }),
            "fiveSkillsHouseholds",
        ),
        (json!({ "businesses": 10_000_001 }), "businesses"),
        (json!({ "businesses": -3 }), "businesses"),
        (
            json!({ "businessHouseholds": ABSURD }),
            "businessHouseholds",
        ),
        (
            json!({ "avgIncomeVnd": 10_000_000_001_i64 }),
            "avgIncomeVnd",
        ),
        (json!({ "avgIncomeVnd": -1 }), "avgIncomeVnd"),
        (json!({ "periodStart": "2019-12-01" }), "periodStart"),
        (
            json!({ "periodEnd": format!("{}-01-31", this_year + 2) }),
            "periodEnd",
        ),
        (
            json!({ "periodStart": "2025-07-01", "periodEnd": "2025-06-30" }),
            "periodEnd",
        ),
    ] {
        refused(&app, &ward, SURVEY, survey(&unit, 2025, changes), field).await;
    }
    assert_eq!(
        count::<unit_survey::Entity>(&app.state.db).await,
        0,
        "nothing stored"
    );

    // The maxima themselves, and next year's survey, are accepted.
    let data = app
        .ok(
            &ward,
            SURVEY,
            survey(
                &unit,
                this_year + 1,
                json!({ "households": 10_000_000, "withInternet": 10_000_000, "businesses": 10_000_000,
                    "businessHouseholds": 10_000_000, "avgIncomeVnd": 10_000_000_000_i64 }),
            ),
        )
        .await;
    assert_eq!(data["recordUnitSurvey"]["survey"]["households"], 10_000_000);
}

const CREATE_TASK: &str =
    "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id version } } }";
const UPDATE_TASK: &str =
    "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { version dueOn target } } }";
const REPORT: &str = "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { created } }";

async fn task_and_report_numbers_and_dates_are_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);
    let today = (Utc::now() + Duration::hours(7)).date_naive();
    let too_far = today
        .checked_add_months(chrono::Months::new(60))
        .unwrap()
        .succ_opt()
        .unwrap();
    let tasks_before = count::<task::Entity>(&app.state.db).await;
    let new_task = |changes: Value| {
        let mut i = json!({ "groupId": group, "title": "Kích hoạt VNeID", "kind": "VNEID_ACTIVATION",
            "target": 50, "dueOn": "2026-12-31" });
        for (k, v) in changes.as_object().unwrap() {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    for (changes, field) in [
        (json!({ "target": 10_000_001 }), "target"),
        (json!({ "target": -1 }), "target"),
        (json!({ "target": ABSURD }), "target"),
        (json!({ "dueOn": "2019-12-31" }), "dueOn"),
        (json!({ "dueOn": too_far.to_string() }), "dueOn"),
        (json!({ "title": "Tổ 5\ttổ 6" }), "title"),
        (json!({ "title": "VNeID \u{202E}6 ọt" }), "title"),
    ] {
        refused(&app, &ward, CREATE_TASK, new_task(changes), field).await;
    }
    assert_eq!(count::<task::Entity>(&app.state.db).await, tasks_before);

    // The same bounds on update, which changes nothing when refused.
    let task = gid(NodeType::Task, f.task_a1);
    for (changes, field) in [
        (json!({ "dueOn": "2000-01-01" }), "dueOn"),
        (json!({ "dueOn": too_far.to_string() }), "dueOn"),
        (json!({ "target": ABSURD }), "target"),
        (json!({ "title": "a\u{2066}b" }), "title"),
    ] {
        let mut i = json!({ "id": task, "expectedVersion": 1 });
        for (k, v) in changes.as_object().unwrap() {
            i[k] = v.clone();
        }
        refused(&app, &ward, UPDATE_TASK, json!({ "i": i }), field).await;
    }
    // Versions count edits from 1: anything else is refused naming the field, not a parse error
    // or a concurrent edit.
    for v in [0, -1, 1_i64 << 40] {
        refused(
            &app,
            &ward,
            UPDATE_TASK,
            json!({ "i": { "id": task, "expectedVersion": v, "target": 5 } }),
            "expectedVersion",
        )
        .await;
        refused(
            &app,
            &ward,
            "mutation($i: TransitionTaskInput!) { transitionTask(input: $i) { task { status } } }",
            json!({ "i": { "id": task, "action": "START", "expectedVersion": v } }),
            "expectedVersion",
        )
        .await;
    }
    let data = app
        .ok(
            &ward,
            UPDATE_TASK,
            json!({ "i": { "id": task, "expectedVersion": 1, "dueOn": "2020-01-01", "target": 10_000_000,
                "description": "Dòng 1\n\tDòng 2" } }),
        )
        .await;
    assert_eq!(
        data["updateTask"]["task"]["version"], 2,
        "the bounds themselves pass"
    );

    // Field reports: beyond 32 bits is refused naming the field, not a parse error.
    let activities_before = count::<activity::Entity>(&app.state.db).await;
    let report = |changes: Value| {
        let mut i = json!({ "idempotencyKey": "limits-key-0001", "taskId": task, "occurredAt": "2026-11-20T02:30:00Z",
            "residentsHelped": 3, "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 1 }] });
        for (k, v) in changes.as_object().unwrap() {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    let in_ten_minutes = (Utc::now() + Duration::minutes(10)).to_rfc3339();
    for (changes, field) in [
        (json!({ "residentsHelped": ABSURD }), "residentsHelped"),
        (json!({ "residentsHelped": 1_i64 << 32 }), "residentsHelped"),
        (json!({ "residentsHelped": -1 }), "residentsHelped"),
        (
            json!({ "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": ABSURD }] }),
            "outcomes",
        ),
        (
            json!({ "outcomes": [{ "kind": "APP_INSTALLED", "count": -5 }] }),
            "outcomes",
        ),
        (
            json!({ "occurredAt": "2019-12-31T16:59:59Z" }),
            "occurredAt",
        ),
        (json!({ "occurredAt": in_ten_minutes }), "occurredAt"),
        (
            json!({ "idempotencyKey": " limits-key-0001" }),
            "idempotencyKey",
        ),
        (
            json!({ "idempotencyKey": "limits-key-0001\n" }),
            "idempotencyKey",
        ),
        (json!({ "note": "Nhà văn hóa \u{202E}5 ổt" }), "note"),
    ] {
        refused(&app, &member, REPORT, report(changes), field).await;
    }
    assert_eq!(
        count::<activity::Entity>(&app.state.db).await,
        activities_before
    );
    let data = app
        .ok(
            &member,
            REPORT,
            report(json!({ "occurredAt": "2019-12-31T17:00:00Z", "note": "Dòng 1\n\tDòng 2" })),
        )
        .await;
    assert_eq!(
        data["reportActivity"]["created"], true,
        "midnight 2020-01-01 in Vietnam is fine"
    );
}

async fn products_targets_pages_and_searches_are_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let group = gid(NodeType::Group, f.group_a1);

    let products_before = count::<product::Entity>(&app.state.db).await;
    let create =
        "mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }";
    let product = |changes: Value| {
        let mut i = json!({ "name": "Nước mắm Nam Ô", "category": "Thủy sản", "producer": "Hộ Ngọc Lan",
            "saleUnit": "chai", "ocopStars": 4, "groupId": group });
        for (k, v) in changes.as_object().unwrap() {
            i[k] = v.clone();
        }
        json!({ "i": i })
    };
    for (changes, field) in [
        (json!({ "ocopStars": 6 }), "ocopStars"),
        (json!({ "ocopStars": -1 }), "ocopStars"),
        (json!({ "ocopStars": ABSURD }), "ocopStars"),
        (json!({ "name": "Nước mắm\u{200F} Nam Ô" }), "name"),
        (json!({ "producer": "Hộ\nNgọc Lan" }), "producer"),
        (json!({ "saleUnit": "chai\u{0}" }), "saleUnit"),
    ] {
        refused(&app, &ward, create, product(changes), field).await;
    }
    assert_eq!(
        count::<product::Entity>(&app.state.db).await,
        products_before
    );
    let (_, body) = app
        .gql(
            Some(&ward),
            "{ products(filter: { minOcopStars: 4294967296 }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "filter.minOcopStars",
        "{body}"
    );

    // Unit targets: a count indicator is bounded like the counts it measures.
    let set_target =
        "mutation($i: SetUnitTargetInput!) { setUnitTarget(input: $i) { target { targetValue } } }";
    let unit = gid(NodeType::AdminUnit, f.ward_a1);
    for (indicator, value) in [
        ("RESIDENTS_HELPED", 1.0e9),
        ("GROUPS", -1.0),
        ("INTERNET_RATE", 1.5),
    ] {
        refused(
            &app,
            &ward,
            set_target,
            json!({ "i": { "unitId": unit, "indicator": indicator, "periodStart": "2026-01-01",
                "periodEnd": "2026-12-31", "targetValue": value } }),
            "targetValue",
        )
        .await;
    }
    assert_eq!(count::<unit_target::Entity>(&app.state.db).await, 0);

    // Page sizes: negative and huge, as literals and as variables, name the argument.
    for (query, vars, field) in [
        ("{ groups(first: -1) { totalCount } }", json!({}), "first"),
        (
            "{ groups(first: 1099511627776) { totalCount } }",
            json!({}),
            "first",
        ),
        (
            "query($n: Int) { groups(first: $n) { totalCount } }",
            json!({ "n": ABSURD }),
            "first",
        ),
        (
            "query($n: Int) { groups(last: $n) { totalCount } }",
            json!({ "n": -ABSURD }),
            "last",
        ),
        ("{ members(last: 101) { totalCount } }", json!({}), "last"),
        (
            "query($n: Int) { tasks(first: $n) { totalCount } }",
            json!({ "n": 1_i64 << 32 }),
            "first",
        ),
    ] {
        refused(&app, &ward, query, vars, field).await;
    }

    // Searches: at most 100 characters, on every connection that has one.
    let long = "a".repeat(101);
    let fits = "ễ".repeat(100);
    for root in ["adminUnits", "groups", "members", "tasks", "products"] {
        let q =
            format!("query($s: String) {{ {root}(filter: {{ search: $s }}) {{ totalCount }} }}");
        refused(&app, &ward, &q, json!({ "s": long }), "filter.search").await;
        app.ok(&ward, &q, json!({ "s": fits })).await;
    }
    let nested = "query($u: ID!, $s: String) { adminUnit(id: $u) { groups(filter: { search: $s }) { totalCount } } }";
    let (_, body) = app
        .gql(Some(&ward), nested, json!({ "u": unit, "s": long }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "filter.search",
        "{body}"
    );

    // Names of groups and members refuse direction controls and line breaks too.
    let create_group =
        "mutation($i: CreateGroupInput!) { createGroup(input: $i) { group { id } } }";
    refused(
        &app,
        &ward,
        create_group,
        json!({ "i": { "name": "Tổ CNSCĐ\u{202D} 7", "kind": "COMMUNITY", "unitId": unit } }),
        "name",
    )
    .await;
    let create_member =
        "mutation($i: CreateMemberInput!) { createMember(input: $i) { member { id } } }";
    refused(
        &app,
        &ward,
        create_member,
        json!({ "i": { "familyName": "Nguyễn\tVăn", "givenName": "An", "affiliation": "RESIDENT", "unitId": unit } }),
        "familyName",
    )
    .await;
    refused(
        &app,
        &ward,
        create_member,
        json!({ "i": { "familyName": "Nguyễn", "givenName": "An\u{2067}", "affiliation": "RESIDENT", "unitId": unit } }),
        "givenName",
    )
    .await;
}

/// Every figure of a unit's statistics, to ask for in one go.
const ALL_FIGURES: &str = "groups managementTeams activeGroups members trainedMembers tasks tasksOverdue \
    taskCompletionRate activities residentsHelped vneidActivations products activeListings \
    surveyedUnits households internetRate computerRate smartphoneRate fiveSkillsRate";

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn statistics_survive_absurd_stored_values(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let db = &app.state.db;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;

    // Reports on two tasks of different kinds, so every rollup holds several rows per unit.
    let data = app
        .ok(
            &ward,
            CREATE_TASK,
            json!({ "i": { "groupId": gid(NodeType::Group, f.group_a1), "title": "Cài ứng dụng",
                "kind": "APP_INSTALL", "target": 10, "dueOn": "2026-12-31" } }),
        )
        .await;
    let second = data["createTask"]["task"]["id"].clone();
    for (i, task) in [json!(gid(NodeType::Task, f.task_a1)), second]
        .into_iter()
        .enumerate()
    {
        app.ok(
            &member,
            REPORT,
            json!({ "i": { "idempotencyKey": format!("absurd-key-000{i}"), "taskId": task,
                "occurredAt": "2026-11-20T02:30:00Z", "residentsHelped": 5,
                "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 2 }] } }),
        )
        .await;
    }

    // Surveys written around the API, as the penetration test's were before the limits: two
    // wards at 2^62 households overflow any 64-bit sum; a third has none at all.
    let now = Utc::now();
    for (unit, households) in [(f.ward_a1, ABSURD), (f.ward_a2, ABSURD), (f.ward_b1, 0)] {
        unit_survey::ActiveModel {
            unit_id: Set(unit),
            period_start: Set(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
            period_end: Set(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()),
            households: Set(households),
            with_computer: Set(households),
            with_internet: Set(households),
            with_smartphone: Set(households),
            businesses: Set(households),
            business_households: Set(households),
            avg_income_vnd: Set(Some(households)),
            five_skills_households: Set(households),
            recorded_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    // Facts: SQLite stores whatever it is given; PostgreSQL's INTEGER column stops at 2^31 - 1.
    let biggest_fact = match backend {
        Backend::Sqlite => ABSURD,
        Backend::Postgres => i64::from(i32::MAX),
    };
    exec(
        db,
        &format!(
            "UPDATE activities SET residents_helped = {biggest_fact}, vneid_activations = {biggest_fact}"
        ),
    )
    .await;
    // Rollups and other counters, by hand.
    for sql in [
        "UPDATE rollup_activity_totals SET n = {x}, residents_helped = {x}, vneid_activations = {x}",
        "UPDATE rollup_activities SET n = {x}, residents_helped = {x}, vneid_activations = {x}",
        "UPDATE rollup_task_totals SET n = {x}",
        "UPDATE rollup_tasks SET n = {x}",
        "UPDATE rollup_groups SET n = {x}",
        "UPDATE rollup_members SET n = {x}",
        "UPDATE rollup_listings SET n = {x}",
        "UPDATE tasks SET progress = {x}, target = {x}",
    ] {
        exec(db, &sql.replace("{x}", &ABSURD.to_string())).await;
    }

    for user in [users::ADMIN, users::VIEWER, users::DISTRICT_A] {
        let token = app.login(user, PASSWORD).await;
        let unit = if user == users::DISTRICT_A {
            f.district_a
        } else {
            f.city
        };
        let q = format!(
            r#"query($u: ID!) {{
                adminUnit(id: $u) {{ stats {{ {ALL_FIGURES} }}
                    y2025: stats(period: {{ kind: YEAR, date: "2025-06-01" }}) {{ households internetRate }} }}
                byChild: statsBreakdown(unitId: $u, by: [CHILD_UNIT]) {{ rows {{ unit {{ name }} stats {{ {ALL_FIGURES} }} }} }}
                byKind: statsBreakdown(unitId: $u, by: [TASK_KIND], orderBy: {{ field: RESIDENTS_HELPED, direction: DESC }}) {{
                    rows {{ taskKind stats {{ tasks activities residentsHelped vneidActivations }} }} }}
                byMonth: statsBreakdown(unitId: $u, by: [MONTH], period: {{ kind: YEAR, date: "2026-06-01" }}) {{
                    rows {{ month stats {{ tasks activities residentsHelped }} }} }}
            }}"#
        );
        let data = app
            .ok(&token, &q, json!({ "u": gid(NodeType::AdminUnit, unit) }))
            .await;
        let stats = &data["adminUnit"]["stats"];
        assert_eq!(
            stats["households"],
            i64::MAX,
            "saturated, not failed: {stats}"
        );
        assert_eq!(stats["residentsHelped"], i64::MAX, "{stats}");
        assert_eq!(stats["tasks"], i64::MAX, "{stats}");
        for rate in [
            "internetRate",
            "computerRate",
            "smartphoneRate",
            "fiveSkillsRate",
            "taskCompletionRate",
        ] {
            let r = &stats[rate];
            assert!(
                r.is_null() || (0.0..=1.0).contains(&r.as_f64().unwrap()),
                "{rate} is a fraction or null: {stats}"
            );
        }
        assert_eq!(data["adminUnit"]["y2025"]["internetRate"], 1.0, "{data}");
        assert!(!data["byChild"]["rows"].as_array().unwrap().is_empty());
        assert!(!data["byKind"]["rows"].as_array().unwrap().is_empty());
        assert!(!data["byMonth"]["rows"].as_array().unwrap().is_empty());
    }

    // A ward without households has no rates (null), not NaN or an error.
    let ward_b = app.login(users::WARD_B1, PASSWORD).await;
    let data = app
        .ok(
            &ward_b,
            "query($u: ID!) { adminUnit(id: $u) { stats { surveyedUnits households internetRate fiveSkillsRate } } }",
            json!({ "u": gid(NodeType::AdminUnit, f.ward_b1) }),
        )
        .await;
    assert_eq!(
        data["adminUnit"]["stats"],
        json!({ "surveyedUnits": 1, "households": 0, "internetRate": null, "fiveSkillsRate": null })
    );

    // A group's own figures are read from the facts.
    let leader = app.login(users::LEADER_A1, PASSWORD).await;
    let data = app
        .ok(
            &leader,
            "query($g: ID!) { node(id: $g) { ... on Group { stats { activities residentsHelped vneidActivations tasks taskCompletionRate } } } }",
            json!({ "g": gid(NodeType::Group, f.group_a1) }),
        )
        .await;
    let stats = &data["node"]["stats"];
    assert_eq!(stats["activities"], 2, "{stats}");
    assert_eq!(
        stats["residentsHelped"],
        biggest_fact.saturating_mul(2),
        "{stats}"
    );
}

on_both_databases!(
    survey_figures_are_bounded,
    task_and_report_numbers_and_dates_are_bounded,
    products_targets_pages_and_searches_are_bounded,
    statistics_survive_absurd_stored_values,
);
