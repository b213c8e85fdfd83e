//! Correcting and voiding field reports: random sequences of reports, corrections and voids
//! keep every total, target and task progress equal to the facts; who may change a report; a
//! retry answers like the first time; the old versions stay readable.

use cdtg_api::ids::NodeType;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use std::collections::BTreeMap;

use crate::fixture::{Fixture, PASSWORD, gid, users};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const REPORT: &str =
    "mutation($i: ReportActivityInput!) { reportActivity(input: $i) { activity { id } } }";
const CORRECT: &str = "mutation($i: CorrectActivityInput!) { correctActivity(input: $i) { activity { id residentsHelped revision revisions { revision action residentsHelped reason outcomes { kind count } } } task { progress } } }";
const VOID: &str = "mutation($i: VoidActivityInput!) { voidActivity(input: $i) { voided { activityId action residentsHelped reason } task { progress } } }";
const STATS: &str = "query($u: ID!, $t: ID!) { adminUnit(id: $u) { stats { activities residentsHelped vneidActivations outcomes { indicator count } targets { actual } } november: stats(period: { from: \"2026-11-01\", to: \"2026-11-30\" }) { activities residentsHelped vneidActivations outcomes { indicator count } } } task(id: $t) { progress } }";

/// When reports happened: two days of November (local time) and one of October, so dated
/// statistics and corrections that move a report to another day are exercised.
const DAYS: [&str; 3] = [
    "2026-11-20T02:30:00Z",
    "2026-11-30T16:30:00Z",
    "2026-10-31T16:59:00Z",
];

const KINDS: [&str; 4] = [
    "VNEID_ACTIVATED",
    "CASHLESS_ACCOUNT_OPENED",
    "PERSON_TRAINED",
    "ONLINE_DOSSIER_SUBMITTED",
];

/// A small deterministic generator: the same sequence on both databases.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn outcomes(rng: &mut Rng) -> Value {
    let mut list = vec![];
    for kind in KINDS {
        if rng.below(2) == 0 {
            list.push(json!({ "kind": kind, "count": rng.below(6) }));
        }
    }
    Value::Array(list)
}

/// The ward's figures straight from the facts: all time, and for November in Vietnam
/// (UTC+7: from 2026-10-31T17:00Z to 2026-11-30T17:00Z).
async fn facts(app: &TestApp, ward_path: &str, task: i64) -> Value {
    let all = facts_between(
        app,
        ward_path,
        "2000-01-01T00:00:00Z",
        "2100-01-01T00:00:00Z",
    )
    .await;
    let november = facts_between(
        app,
        ward_path,
        "2026-10-31T17:00:00Z",
        "2026-11-30T17:00:00Z",
    )
    .await;
    let progress: i64 = cdtg_api::entity::activity::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .filter(|a| a.task_id == Some(task))
        .map(|a| a.progress_delta)
        .sum();
    json!({ "all": all, "november": november, "progress": progress })
}

async fn facts_between(app: &TestApp, ward_path: &str, from: &str, to: &str) -> Value {
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let q = |sql: &str| {
        let sql = if backend == sea_orm::DatabaseBackend::Sqlite {
            sql.replace('$', "?")
        } else {
            sql.to_owned()
        };
        let (from, to) = (
            chrono::DateTime::parse_from_rfc3339(from).unwrap().to_utc(),
            chrono::DateTime::parse_from_rfc3339(to).unwrap().to_utc(),
        );
        sea_orm::Statement::from_sql_and_values(
            backend,
            sql,
            [ward_path.into(), from.into(), to.into()],
        )
    };
    let row = db
        .query_one_raw(q("SELECT COUNT(*) AS n, COALESCE(SUM(a.residents_helped), 0) AS r, COALESCE(SUM(a.vneid_activations), 0) AS v FROM activities a JOIN groups g ON g.id = a.group_id WHERE substr(g.unit_path, 1, length($1)) = $1 AND a.occurred_at >= $2 AND a.occurred_at < $3"))
        .await
        .unwrap()
        .unwrap();
    let n: i64 = row.try_get("", "n").unwrap();
    let r: i64 = row.try_get("", "r").unwrap();
    let v: i64 = row.try_get("", "v").unwrap();
    let mut by_kind = BTreeMap::new();
    for row in db
        .query_all_raw(q("SELECT o.kind AS kind, SUM(o.count) AS c FROM activity_outcomes o JOIN activities a ON a.id = o.activity_id JOIN groups g ON g.id = a.group_id WHERE substr(g.unit_path, 1, length($1)) = $1 AND a.occurred_at >= $2 AND a.occurred_at < $3 GROUP BY o.kind"))
        .await
        .unwrap()
    {
        let kind: String = row.try_get("", "kind").unwrap();
        let c: i64 = row.try_get("", "c").unwrap();
        // Outcomes recorded with a count of 0 add nothing (the stats list them as 0 too).
        if c != 0 {
            by_kind.insert(kind, c);
        }
    }
    json!({ "activities": n, "residentsHelped": r, "vneidActivations": v, "outcomes": by_kind })
}

fn seen(data: &Value) -> Value {
    json!({
        "all": seen_stats(&data["adminUnit"]["stats"]),
        "november": seen_stats(&data["adminUnit"]["november"]),
        "progress": data["task"]["progress"],
    })
}

fn seen_stats(stats: &Value) -> Value {
    let outcomes: BTreeMap<String, i64> = stats["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["count"].as_i64().unwrap() != 0)
        .map(|o| {
            (
                o["indicator"].as_str().unwrap().to_owned(),
                o["count"].as_i64().unwrap(),
            )
        })
        .collect();
    json!({ "activities": stats["activities"], "residentsHelped": stats["residentsHelped"], "vneidActivations": stats["vneidActivations"], "outcomes": outcomes })
}

async fn random_reports_corrections_and_voids_keep_every_total_exact(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let ward_gid = gid(NodeType::AdminUnit, f.ward_a1);
    let task = gid(NodeType::Task, f.task_a1);
    let group = gid(NodeType::Group, f.group_a1);
    let path = cdtg_api::entity::admin_unit::Entity::find_by_id(f.ward_a1)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .path;
    app.ok(
        &ward,
        "mutation($u: ID!) { setUnitTarget(input: { unitId: $u, indicator: VNEID_ACTIVATIONS, periodStart: \"2020-01-01\", periodEnd: \"2030-12-31\", targetValue: 100 }) { target { indicator } } }",
        json!({ "u": ward_gid }),
    )
    .await;
    let mut rng = Rng(42);
    let mut live: Vec<Value> = vec![];
    let (mut corrected, mut voided) = (0, 0);
    for step in 0..40 {
        let op = if live.is_empty() { 0 } else { rng.below(3) };
        let who = if rng.below(2) == 0 { &member } else { &ward };
        match op {
            0 => {
                // A task's report, or walk-in help outside any task.
                let mut report = json!({ "idempotencyKey": format!("p-{step:08}"), "occurredAt": DAYS[rng.below(3) as usize], "residentsHelped": rng.below(30), "outcomes": outcomes(&mut rng) });
                if rng.below(3) == 0 {
                    report["groupId"] = group.clone().into();
                } else {
                    report["taskId"] = task.clone().into();
                }
                let data = app.ok(who, REPORT, json!({ "i": report })).await;
                live.push(data["reportActivity"]["activity"]["id"].clone());
            }
            1 => {
                let id = live[rng.below(live.len() as u64) as usize].clone();
                let (_, body) = app
                    .gql(
                        Some(who),
                        CORRECT,
                        json!({ "i": { "id": id, "idempotencyKey": format!("c-{step:08}"), "reason": "nhập sai", "occurredAt": DAYS[rng.below(3) as usize], "residentsHelped": rng.below(30), "outcomes": outcomes(&mut rng) } }),
                    )
                    .await;
                // A member sees (and may change) only their own reports.
                let code = body["errors"][0]["extensions"]["code"].as_str();
                assert!(code.is_none() || code == Some("NOT_FOUND"), "{body}");
                corrected += usize::from(code.is_none());
            }
            _ => {
                let i = rng.below(live.len() as u64) as usize;
                let (_, body) = app
                    .gql(
                        Some(who),
                        VOID,
                        json!({ "i": { "id": live[i], "idempotencyKey": format!("v-{step:08}"), "reason": "trùng" } }),
                    )
                    .await;
                match body["errors"][0]["extensions"]["code"].as_str() {
                    None => {
                        live.remove(i);
                        voided += 1;
                    }
                    Some(code) => assert_eq!(code, "NOT_FOUND", "{body}"),
                }
            }
        }
        let expected = facts(&app, &path, f.task_a1).await;
        let data = app
            .ok(&ward, STATS, json!({ "u": ward_gid, "t": task }))
            .await;
        assert_eq!(seen(&data), expected, "after step {step}");
        assert_eq!(
            data["adminUnit"]["stats"]["targets"][0]["actual"].as_f64(),
            expected["all"]["vneidActivations"].as_f64(),
            "the target's actual, after step {step}"
        );
    }
    assert!(
        corrected >= 3 && voided >= 3,
        "{corrected} corrections, {voided} voids"
    );
    // The rollups the totals came from equal a rebuild from the facts.
    let before = app
        .ok(&ward, STATS, json!({ "u": ward_gid, "t": task }))
        .await;
    cdtg_migrations::rollups::rebuild(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        before,
        app.ok(&ward, STATS, json!({ "u": ward_gid, "t": task }))
            .await
    );
}

async fn who_may_change_a_report_and_what_stays(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = Fixture::load(&app).await;
    let member = app.login(users::MEMBER_A1, PASSWORD).await;
    let ward = app.login(users::WARD_A1, PASSWORD).await;
    let task = gid(NodeType::Task, f.task_a1);
    let data = app
        .ok(
            &member,
            REPORT,
            json!({ "i": { "idempotencyKey": "w-00000001", "taskId": task, "occurredAt": "2026-11-20T02:30:00Z", "residentsHelped": 10, "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 4 }] } }),
        )
        .await;
    let id = data["reportActivity"]["activity"]["id"].clone();
    let correction = json!({ "i": { "id": id, "idempotencyKey": "w-00000002", "reason": "4 là 3", "residentsHelped": 10, "outcomes": [{ "kind": "VNEID_ACTIVATED", "count": 3 }], "expectedRevision": 1 } });
    let first = app.ok(&member, CORRECT, correction.clone()).await;
    let again = app.ok(&member, CORRECT, correction).await;
    assert_eq!(first, again, "a retry answers like the first time");
    let a = &first["correctActivity"]["activity"];
    assert_eq!(a["revision"], 2);
    assert_eq!(a["revisions"][0]["residentsHelped"], 10);
    assert_eq!(
        a["revisions"][0]["outcomes"],
        json!([{ "kind": "VNEID_ACTIVATED", "count": 4 }])
    );
    assert_eq!(a["revisions"][0]["reason"], "4 là 3");
    // A stale revision is a conflict; another ward cannot see the report at all.
    let (_, body) = app
        .gql(Some(&member), CORRECT, json!({ "i": { "id": id, "idempotencyKey": "w-00000003", "reason": "x", "residentsHelped": 1, "expectedRevision": 1 } }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    let other = app.login(users::WARD_B1, PASSWORD).await;
    let (_, body) = app
        .gql(
            Some(&other),
            VOID,
            json!({ "i": { "id": id, "idempotencyKey": "w-00000004", "reason": "x" } }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let (_, body) = app
        .gql(Some(&member), CORRECT, json!({ "i": { "id": id, "idempotencyKey": "w-00000005", "reason": "   ", "residentsHelped": 1 } }))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "reason");

    // Past the reporter's window only a leader above may change it.
    let row = cdtg_api::ids::decode(NodeType::Activity, id.as_str().unwrap()).unwrap();
    cdtg_api::entity::activity::Entity::update_many()
        .col_expr(
            cdtg_api::entity::activity::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::days(8)),
        )
        .filter(sea_orm::ColumnTrait::eq(
            &cdtg_api::entity::activity::Column::Id,
            row,
        ))
        .exec(&app.state.db)
        .await
        .unwrap();
    use sea_orm::QueryFilter;
    let (_, body) = app
        .gql(
            Some(&member),
            VOID,
            json!({ "i": { "id": id, "idempotencyKey": "w-00000006", "reason": "trùng" } }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let progress_before = app
        .ok(
            &ward,
            "query($t: ID!) { task(id: $t) { progress } }",
            json!({ "t": task }),
        )
        .await["task"]["progress"]
        .as_i64()
        .unwrap();
    let void = json!({ "i": { "id": id, "idempotencyKey": "w-00000007", "reason": "trùng" } });
    let voided = app.ok(&ward, VOID, void.clone()).await;
    assert_eq!(voided["voidActivity"]["voided"]["action"], "VOIDED");
    assert_eq!(voided["voidActivity"]["voided"]["residentsHelped"], 10);
    assert_eq!(
        voided["voidActivity"]["task"]["progress"].as_i64().unwrap(),
        progress_before - 3,
        "the task loses exactly the report's contribution"
    );
    assert_eq!(
        app.ok(&ward, VOID, void).await,
        voided,
        "a retried void answers the same"
    );
    let gone = app
        .ok(
            &ward,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(gone["node"].is_null());
}

on_both_databases!(
    random_reports_corrections_and_voids_keep_every_total_exact,
    who_may_change_a_report_and_what_stays,
);
