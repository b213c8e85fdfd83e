//! Aggregates: the demo's known figures, access, batching by statement count, a
//! property test against a naive recomputation, and identical answers on both databases.

use std::collections::BTreeMap;

use cdtg_api::entity::{
    activity, admin_unit, group, listing, member, product, task, unit_survey, user,
};
use cdtg_api::ids::NodeType;
use cdtg_api::seed::DEMO_PASSWORD;
use cdtg_core::group::{Affiliation, GroupKind, GroupStatus};
use cdtg_core::policy::Role;
use cdtg_core::product::{ListingStatus, Platform};
use cdtg_core::task::{TaskKind, TaskPriority, TaskStatus};
use cdtg_core::unit::UnitKind;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Set};
use serde_json::{Value, json};

use crate::fixture::gid;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

// ---------------------------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------------------------

async fn demo_app(backend: Backend) -> Option<TestApp> {
    let app = TestApp::spawn(backend).await?;
    cdtg_api::seed::demo(&app.state.db, 1)
        .await
        .expect("seed the demo");
    Some(app)
}

async fn unit_id(app: &TestApp, token: &str, search: &str) -> String {
    let data = app
        .ok(
            token,
            "query($s: String!) { adminUnits(filter: { search: $s }, first: 5) { nodes { id name kind } } }",
            json!({ "s": search }),
        )
        .await;
    data["adminUnits"]["nodes"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no unit matches {search}: {data}"))
        .to_owned()
}

async fn city_id(app: &TestApp, token: &str) -> String {
    let data = app
        .ok(
            token,
            "{ adminUnits(filter: { rootsOnly: true }) { nodes { id } } }",
            json!({}),
        )
        .await;
    data["adminUnits"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

async fn demo_figures_and_access(backend: Backend) {
    let Some(app) = demo_app(backend).await else {
        return;
    };
    let admin = app.login("admin", DEMO_PASSWORD).await;
    let city = city_id(&app, &admin).await;

    let data = app
        .ok(
            &admin,
            r#"query($u: ID!) {
                adminUnit(id: $u) { name stats { groups members managementTeams } }
                groups(filter: { kind: COMMUNITY }) { totalCount }
                members { totalCount }
                statsBreakdown(unitId: $u, by: [CHILD_UNIT]) {
                    rows { unit { id name } stats { groups members managementTeams } }
                }
            }"#,
            json!({ "u": city }),
        )
        .await;
    let stats = &data["adminUnit"]["stats"];
    assert_eq!(
        stats["groups"], data["groups"]["totalCount"],
        "city groups vs groups(kind: COMMUNITY): {data}"
    );
    assert_eq!(stats["members"], data["members"]["totalCount"], "{data}");
    assert_eq!(int(&stats["groups"]), 2_500);
    assert_eq!(int(&stats["members"]), 13_000);
    assert_eq!(int(&stats["managementTeams"]), 56);
    let rows = data["statsBreakdown"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "eight districts: {rows:?}");
    for field in ["groups", "members", "managementTeams"] {
        let sum: i64 = rows.iter().map(|r| int(&r["stats"][field])).sum();
        assert_eq!(
            sum,
            int(&stats[field]),
            "{field}: district rows add up to the city"
        );
    }

    let phuoc_my = unit_id(&app, &admin, "phuoc my").await;
    let ward = app
        .ok(
            &admin,
            "query($u: ID!) { adminUnit(id: $u) { name stats { groups managementTeams } } }",
            json!({ "u": phuoc_my }),
        )
        .await;
    assert_eq!(ward["adminUnit"]["name"], "Phước Mỹ");
    assert_eq!(int(&ward["adminUnit"]["stats"]["groups"]), 43);
    assert_eq!(int(&ward["adminUnit"]["stats"]["managementTeams"]), 1);

    // A ward leader: own ward yes, the city above it no.
    let phuocmy = app.login("phuocmy", DEMO_PASSWORD).await;
    let own = app
        .ok(
            &phuocmy,
            "query($u: ID!) { adminUnit(id: $u) { stats { groups } } }",
            json!({ "u": phuoc_my }),
        )
        .await;
    assert_eq!(int(&own["adminUnit"]["stats"]["groups"]), 43);
    let stats_of_city = "query($u: ID!) { adminUnit(id: $u) { stats { groups members } } }";
    assert_eq!(
        app.error_code(Some(&phuocmy), stats_of_city, json!({ "u": city }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&phuocmy),
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [CHILD_UNIT]) { rows { stats { groups } } } }",
            json!({ "u": city })
        )
        .await,
        "FORBIDDEN"
    );

    // A viewer: city figures, but no member names.
    let viewer = app.login("viewer", DEMO_PASSWORD).await;
    let seen = app.ok(&viewer, stats_of_city, json!({ "u": city })).await;
    assert_eq!(
        seen["adminUnit"]["stats"],
        data["adminUnit"]["stats"]
            .as_object()
            .map(|o| json!({ "groups": o["groups"], "members": o["members"] }))
            .unwrap()
    );
    assert_eq!(
        app.error_code(
            Some(&viewer),
            "{ members(first: 1) { nodes { fullName } } }",
            json!({})
        )
        .await,
        "FORBIDDEN"
    );

    // A group leader: the own group's numbers through group { stats }, not the unit's.
    let leader = app.login("phuocmy-leader", DEMO_PASSWORD).await;
    let group = app
        .ok(
            &leader,
            "{ groups(first: 5) { nodes { id stats { members tasks activities residentsHelped } } } }",
            json!({}),
        )
        .await;
    let nodes = group["groups"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "a leader sees one group: {group}");
    assert!(int(&nodes[0]["stats"]["members"]) >= 5, "{group}");
    assert!(int(&nodes[0]["stats"]["tasks"]) >= 1, "{group}");
    assert_eq!(
        app.error_code(
            Some(&leader),
            "query($u: ID!) { adminUnit(id: $u) { stats { groups } } }",
            json!({ "u": phuoc_my })
        )
        .await,
        "FORBIDDEN"
    );

    // Targets: a ward leader sets one for the ward and sees progress; not for the city.
    let set = r#"mutation($u: ID!, $v: Float!) { setUnitTarget(input: {
        unitId: $u, indicator: GROUPS, periodStart: "2026-01-01", periodEnd: "2026-12-31",
        targetValue: $v }) { target { indicator targetValue unit { name } } } }"#;
    let made = app
        .ok(&phuocmy, set, json!({ "u": phuoc_my, "v": 50.0 }))
        .await;
    assert_eq!(made["setUnitTarget"]["target"]["unit"]["name"], "Phước Mỹ");
    let progress = app
        .ok(
            &phuocmy,
            "query($u: ID!) { adminUnit(id: $u) { stats { targets { indicator target actual progress } } } }",
            json!({ "u": phuoc_my }),
        )
        .await;
    let t = &progress["adminUnit"]["stats"]["targets"][0];
    assert_eq!(t["indicator"], "GROUPS");
    assert_eq!(t["actual"].as_f64(), Some(43.0));
    assert!((t["progress"].as_f64().unwrap() - 0.86).abs() < 1e-9, "{t}");
    assert_eq!(
        app.error_code(Some(&phuocmy), set, json!({ "u": city, "v": 3000.0 }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&viewer), set, json!({ "u": city, "v": 3000.0 }))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&admin),
            r#"mutation($u: ID!) { setUnitTarget(input: { unitId: $u, indicator: INTERNET_RATE,
                periodStart: "2026-01-01", periodEnd: "2026-12-31", targetValue: 80 }) { target { targetValue } } }"#,
            json!({ "u": city })
        )
        .await,
        "BAD_USER_INPUT",
        "rates are fractions"
    );
}

on_both_databases!(demo_figures_and_access);

// ---------------------------------------------------------------------------------------------
// Statement counts
// ---------------------------------------------------------------------------------------------

const WARD_STATS: &str = r#"query($u: ID!, $n: Int!) { adminUnit(id: $u) {
    children(first: 20) { nodes { children(first: $n) { nodes { name stats { FIELDS } } } } }
} }"#;

async fn cost(
    app: &TestApp,
    token: &str,
    city: &str,
    per_district: i32,
    fields: &str,
) -> (u64, usize) {
    let (spent, data) = app
        .statements_for(
            token,
            &WARD_STATS.replace("FIELDS", fields),
            json!({ "u": city, "n": per_district }),
        )
        .await;
    let wards: usize = data["adminUnit"]["children"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["children"]["nodes"].as_array().unwrap().len())
        .sum();
    (spent, wards)
}

async fn ward_stats_cost_one_statement_per_family(backend: Backend) {
    let Some(app) = demo_app(backend).await else {
        return;
    };
    let admin = app.login("admin", DEMO_PASSWORD).await;
    let city = city_id(&app, &admin).await;
    let all = "groups members tasks residentsHelped";

    let (few, few_wards) = cost(&app, &admin, &city, 1, all).await;
    let (many, many_wards) = cost(&app, &admin, &city, 100, all).await;
    // One district (Hoàng Sa) has no wards: seven wards against all 56.
    assert_eq!((few_wards, many_wards), (7, 56));
    assert_eq!(
        few, many,
        "stats of 56 wards must cost what 8 wards cost ({few} vs {many} statements)"
    );
    let (cheap, _) = cost(&app, &admin, &city, 100, "groups").await;
    assert_eq!(
        cheap + 3,
        many,
        "four families are four statements; `groups` alone is one ({cheap} vs {many})"
    );
    // The fields of one family share its statement.
    let (one_family, _) = cost(
        &app,
        &admin,
        &city,
        100,
        "groups managementTeams activeGroups",
    )
    .await;
    assert_eq!(one_family, cheap);
}

on_both_databases!(ward_stats_cost_one_statement_per_family);

// ---------------------------------------------------------------------------------------------
// Property test
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, deterministic, good enough to vary datasets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const STATUSES: [TaskStatus; 5] = TaskStatus::ALL;
const KINDS: [TaskKind; 4] = [
    TaskKind::VneidActivation,
    TaskKind::Survey,
    TaskKind::AppInstall,
    TaskKind::Other,
];
const AFFILIATIONS: [Affiliation; 3] = [
    Affiliation::YouthUnion,
    Affiliation::Police,
    Affiliation::Resident,
];
const PLATFORMS: [Platform; 3] = [Platform::Voso, Platform::Postmart, Platform::Zalo];
const LISTING_STATUSES: [ListingStatus; 3] = [
    ListingStatus::Draft,
    ListingStatus::Listed,
    ListingStatus::Active,
];

/// The raw rows of one random world, kept for the oracle.
#[derive(Default)]
struct World {
    units: Vec<admin_unit::Model>,
    /// (group, unit path)
    groups: Vec<group::Model>,
    members: Vec<member::Model>,
    tasks: Vec<task::Model>,
    activities: Vec<activity::Model>,
    products: Vec<product::Model>,
    listings: Vec<listing::Model>,
    surveys: Vec<unit_survey::Model>,
}

async fn insert_unit(
    db: &DatabaseConnection,
    name: &str,
    kind: UnitKind,
    parent: Option<&admin_unit::Model>,
) -> admin_unit::Model {
    let u = admin_unit::ActiveModel {
        name: Set(name.to_owned()),
        name_key: Set(cdtg_core::text::sort_key(name)),
        name_folded: Set(cdtg_core::text::fold(name)),
        kind: Set(kind),
        parent_id: Set(parent.map(|p| p.id)),
        path: Set(format!("/pending-{}", uuid::Uuid::new_v4())),
        depth: Set(parent.map_or(0, |p| p.depth + 1)),
        valid_from: Set(NaiveDate::from_ymd_opt(2008, 1, 1).unwrap()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    let path = format!("{}{}/", parent.map_or("/", |p| p.path.as_str()), u.id);
    let mut am: admin_unit::ActiveModel = u.into();
    am.path = Set(path);
    am.update(db).await.unwrap()
}

fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

async fn random_world(db: &DatabaseConnection, seed: u64) -> World {
    let mut rng = Rng(seed);
    let mut w = World::default();
    let now = Utc::now();
    let city = insert_unit(db, &format!("Thành phố {seed}"), UnitKind::Province, None).await;
    w.units.push(city.clone());
    let mut leaves = vec![city.clone()];
    for d in 0..2 + rng.below(2) {
        let district = insert_unit(
            db,
            &format!("Quận {seed}-{d}"),
            UnitKind::District,
            Some(&city),
        )
        .await;
        w.units.push(district.clone());
        leaves.push(district.clone());
        // Sometimes the district reports its own survey too: its wards' households must then
        // not be counted a second time in the district and above.
        if rng.chance(30) {
            let households = 1000 + rng.below(9000) as i64;
            let s = unit_survey::ActiveModel {
                unit_id: Set(district.id),
                period_start: Set(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()),
                period_end: Set(NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()),
                households: Set(households),
                with_computer: Set(households / 3),
                with_internet: Set(households / 2),
                with_smartphone: Set(households / 2),
                businesses: Set(0),
                business_households: Set(0),
                avg_income_vnd: Set(None),
                five_skills_households: Set(households / 4),
                recorded_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
            w.surveys.push(s);
        }
        for k in 0..1 + rng.below(3) {
            let ward = insert_unit(
                db,
                &format!("Phường {seed}-{d}-{k}"),
                UnitKind::Ward,
                Some(&district),
            )
            .await;
            w.units.push(ward.clone());
            leaves.push(ward.clone());
            // Two surveys of which the later one counts; sometimes none.
            if rng.chance(80) {
                for year in [2024, 2025] {
                    let households = 100 + rng.below(900) as i64;
                    let part = |r: &mut Rng| r.below(households as u64 + 1) as i64;
                    let s = unit_survey::ActiveModel {
                        unit_id: Set(ward.id),
                        period_start: Set(NaiveDate::from_ymd_opt(year, 1, 1).unwrap()),
                        period_end: Set(NaiveDate::from_ymd_opt(year, 12, 31).unwrap()),
                        households: Set(households),
                        with_computer: Set(part(&mut rng)),
                        with_internet: Set(part(&mut rng)),
                        with_smartphone: Set(part(&mut rng)),
                        businesses: Set(0),
                        business_households: Set(0),
                        avg_income_vnd: Set(None),
                        five_skills_households: Set(part(&mut rng)),
                        recorded_at: Set(now),
                        ..Default::default()
                    }
                    .insert(db)
                    .await
                    .unwrap();
                    w.surveys.push(s);
                }
            }
            if rng.chance(50) {
                let rg = insert_unit(
                    db,
                    &format!("Tổ {seed}-{d}-{k}"),
                    UnitKind::ResidentialGroup,
                    Some(&ward),
                )
                .await;
                w.units.push(rg.clone());
                leaves.push(rg);
            }
        }
    }
    // Groups anywhere (the city itself included: its rows form the breakdown's own row).
    for i in 0..4 + rng.below(10) {
        let unit = leaves[rng.below(leaves.len() as u64) as usize].clone();
        let g = group::ActiveModel {
            name: Set(format!("Tổ CNS {seed}-{i}")),
            name_key: Set(cdtg_core::text::sort_key(&format!("Tổ CNS {seed}-{i}"))),
            name_folded: Set(format!("to cns {seed}-{i}")),
            kind: Set(if rng.chance(20) {
                GroupKind::Management
            } else {
                GroupKind::Community
            }),
            unit_id: Set(unit.id),
            unit_path: Set(unit.path.clone()),
            status: Set(if rng.chance(80) {
                GroupStatus::Active
            } else {
                GroupStatus::Inactive
            }),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        for t in 0..rng.below(5) {
            let due = rng
                .chance(85)
                .then(|| today() + Duration::days(rng.below(120) as i64 - 60));
            let tk = task::ActiveModel {
                group_id: Set(g.id),
                title: Set(format!("Việc {t}")),
                title_folded: Set(format!("viec {t}")),
                kind: Set(rng.pick(&KINDS)),
                priority: Set(TaskPriority::Normal),
                status: Set(rng.pick(&STATUSES)),
                due_on: Set(due),
                progress: Set(0),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
            for a in 0..rng.below(4) {
                // Around midnight in Vietnam at month ends, to catch time-zone mistakes.
                let day = today() - Duration::days(rng.below(90) as i64);
                let local_minutes = [5, 30, 17 * 60 - 1, 17 * 60 + 1, 23 * 60 + 55];
                let minutes = local_minutes[rng.below(5) as usize];
                let occurred: DateTime<Utc> = day.and_hms_opt(0, 0, 0).unwrap().and_utc()
                    + Duration::minutes(minutes)
                    - Duration::hours(7);
                let act = activity::ActiveModel {
                    task_id: Set(Some(tk.id)),
                    group_id: Set(g.id),
                    occurred_at: Set(occurred),
                    residents_helped: Set(rng.below(20) as i32),
                    vneid_activations: Set(rng.below(5) as i32),
                    progress_delta: Set(0),
                    idempotency_key: Set(format!("{seed}-{}-{a}", tk.id)),
                    request_hash: Set("x".into()),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(db)
                .await
                .unwrap();
                w.activities.push(act);
            }
            w.tasks.push(tk);
        }
        for pi in 0..rng.below(3) {
            let pr = product::ActiveModel {
                name: Set(format!("Sản phẩm {pi}")),
                name_key: Set(cdtg_core::text::sort_key(&format!("Sản phẩm {pi}"))),
                name_folded: Set(format!("san pham {pi}")),
                category: Set("Đặc sản".into()),
                producer: Set("HTX".into()),
                sale_unit: Set("gói".into()),
                ocop_stars: Set(0),
                group_id: Set(g.id),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
            for platform in PLATFORMS {
                if rng.chance(50) {
                    let l = listing::ActiveModel {
                        product_id: Set(pr.id),
                        platform: Set(platform),
                        url: Set(format!("https://example.vn/{}", pr.id)),
                        status: Set(rng.pick(&LISTING_STATUSES)),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    }
                    .insert(db)
                    .await
                    .unwrap();
                    w.listings.push(l);
                }
            }
            w.products.push(pr);
        }
        w.groups.push(g);
    }
    for i in 0..rng.below(25) {
        let unit = leaves[rng.below(leaves.len() as u64) as usize].clone();
        let m = member::ActiveModel {
            family_name: Set("Lê".into()),
            given_name: Set(format!("Số {i}")),
            full_name: Set(format!("Lê Số {i}")),
            search_key: Set(format!("le so {i}")),
            name_key: Set(cdtg_core::text::person_sort_key(
                "Lê",
                None,
                &format!("Số {i}"),
            )),
            affiliation: Set(rng.pick(&AFFILIATIONS)),
            trained_on: Set(rng
                .chance(40)
                .then(|| NaiveDate::from_ymd_opt(2024, 5, 1).unwrap())),
            unit_id: Set(unit.id),
            unit_path: Set(unit.path.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        w.members.push(m);
    }
    w
}

/// One round of random changes to `w`'s rows, through SeaORM as the services write them, with
/// `w` kept equal to the database: status, kind and date changes, groups moved to other units,
/// tasks and products moved to other groups, members moved and retrained, deletes, new rows.
async fn mutate(db: &DatabaseConnection, rng: &mut Rng, w: &mut World) {
    let pick = |n: usize, rng: &mut Rng| rng.below(n as u64) as usize;
    for _ in 0..6 {
        if w.tasks.is_empty() {
            break;
        }
        let i = pick(w.tasks.len(), rng);
        let mut am: task::ActiveModel = w.tasks[i].clone().into();
        match rng.below(4) {
            0 => am.status = Set(rng.pick(&STATUSES)),
            1 => {
                am.due_on = Set(rng
                    .chance(70)
                    .then(|| today() + Duration::days(rng.below(120) as i64 - 60)))
            }
            2 => am.kind = Set(rng.pick(&KINDS)),
            _ => am.group_id = Set(w.groups[pick(w.groups.len(), rng)].id),
        }
        w.tasks[i] = am.update(db).await.unwrap();
    }
    for _ in 0..2 {
        let i = pick(w.groups.len(), rng);
        let unit = w.units[pick(w.units.len(), rng)].clone();
        let mut am: group::ActiveModel = w.groups[i].clone().into();
        if rng.chance(70) {
            am.unit_id = Set(unit.id);
            am.unit_path = Set(unit.path.clone());
        } else {
            am.status = Set(if rng.chance(50) {
                GroupStatus::Active
            } else {
                GroupStatus::Inactive
            });
        }
        w.groups[i] = am.update(db).await.unwrap();
    }
    for _ in 0..3 {
        if w.members.is_empty() {
            break;
        }
        let i = pick(w.members.len(), rng);
        let unit = w.units[pick(w.units.len(), rng)].clone();
        let mut am: member::ActiveModel = w.members[i].clone().into();
        match rng.below(3) {
            0 => am.affiliation = Set(rng.pick(&AFFILIATIONS)),
            1 => {
                am.trained_on = Set(rng
                    .chance(50)
                    .then(|| NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()))
            }
            _ => {
                am.unit_id = Set(unit.id);
                am.unit_path = Set(unit.path.clone());
            }
        }
        w.members[i] = am.update(db).await.unwrap();
    }
    if !w.products.is_empty() {
        let i = pick(w.products.len(), rng);
        let mut am: product::ActiveModel = w.products[i].clone().into();
        am.group_id = Set(w.groups[pick(w.groups.len(), rng)].id);
        w.products[i] = am.update(db).await.unwrap();
    }
    if !w.listings.is_empty() {
        let i = pick(w.listings.len(), rng);
        let mut am: listing::ActiveModel = w.listings[i].clone().into();
        am.status = Set(rng.pick(&LISTING_STATUSES));
        w.listings[i] = am.update(db).await.unwrap();
        if rng.chance(50) {
            let gone = w.listings.remove(pick(w.listings.len(), rng));
            listing::Entity::delete_by_id(gone.id)
                .exec(db)
                .await
                .unwrap();
        }
    }
    if !w.activities.is_empty() {
        let i = pick(w.activities.len(), rng);
        let mut am: activity::ActiveModel = w.activities[i].clone().into();
        am.residents_helped = Set(rng.below(30) as i32);
        am.occurred_at = Set(w.activities[i].occurred_at - Duration::days(rng.below(40) as i64));
        w.activities[i] = am.update(db).await.unwrap();
        let gone = w.activities.remove(pick(w.activities.len(), rng));
        activity::Entity::delete_by_id(gone.id)
            .exec(db)
            .await
            .unwrap();
    }
    if !w.members.is_empty() && rng.chance(50) {
        let gone = w.members.remove(pick(w.members.len(), rng));
        member::Entity::delete_by_id(gone.id)
            .exec(db)
            .await
            .unwrap();
    }
    if let Some(t) = w.tasks.first().cloned() {
        // A new report on a task that may have moved: it counts where its group is now.
        let g = w
            .groups
            .iter()
            .find(|g| g.id == t.group_id)
            .unwrap()
            .clone();
        let act = activity::ActiveModel {
            task_id: Set(Some(t.id)),
            group_id: Set(g.id),
            occurred_at: Set(Utc::now()),
            residents_helped: Set(3),
            vneid_activations: Set(1),
            progress_delta: Set(0),
            idempotency_key: Set(uuid::Uuid::new_v4().to_string()),
            request_hash: Set("x".into()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        w.activities.push(act);
    }
}

/// Every non-zero row of every rollup table, as text, in order (also used by the CLI tests).
pub async fn rollup_rows(db: &DatabaseConnection) -> Vec<(String, Vec<Vec<String>>)> {
    let tables: [(&str, &[&str], bool); 9] = [
        (
            "rollup_anchors",
            &["unit_id", "anchor_unit_id", "own"],
            false,
        ),
        (
            "rollup_groups",
            &["unit_id", "own", "kind", "status", "n"],
            true,
        ),
        (
            "rollup_members",
            &["unit_id", "own", "affiliation", "trained", "n"],
            true,
        ),
        (
            "rollup_tasks",
            &["unit_id", "own", "status", "kind", "due_on", "n"],
            true,
        ),
        (
            "rollup_task_totals",
            &["unit_id", "own", "status", "kind", "n"],
            true,
        ),
        (
            "rollup_activity_totals",
            &[
                "unit_id",
                "own",
                "task_kind",
                "n",
                "residents_helped",
                "vneid_activations",
            ],
            true,
        ),
        (
            "rollup_activities",
            &[
                "unit_id",
                "own",
                "task_kind",
                "day",
                "n",
                "residents_helped",
                "vneid_activations",
            ],
            true,
        ),
        ("rollup_products", &["unit_id", "own", "n"], true),
        (
            "rollup_listings",
            &["unit_id", "own", "platform", "status", "n"],
            true,
        ),
    ];
    let mut out = Vec::new();
    for (table, columns, counted) in tables {
        let select: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("CAST({c} AS VARCHAR(64)) AS c{i}"))
            .collect();
        let sql = format!(
            "SELECT {} FROM {table}{}",
            select.join(", "),
            if counted { " WHERE n <> 0" } else { "" }
        );
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap();
        let mut rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                (0..columns.len())
                    .map(|i| r.try_get::<String>("", &format!("c{i}")).unwrap())
                    .collect()
            })
            .collect();
        rows.sort();
        out.push((table.to_owned(), rows));
    }
    out
}

/// The oracle: every statistic of a unit recomputed from the raw rows.
fn oracle(w: &World, path: &str, period: Option<(NaiveDate, NaiveDate)>) -> Value {
    let inside = |p: &str| p.starts_with(path);
    let groups: Vec<&group::Model> = w.groups.iter().filter(|g| inside(&g.unit_path)).collect();
    let gids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let members: Vec<_> = w.members.iter().filter(|m| inside(&m.unit_path)).collect();
    let tasks: Vec<_> = w
        .tasks
        .iter()
        .filter(|t| gids.contains(&t.group_id))
        .filter(|t| period.is_none_or(|(s, e)| t.due_on.is_some_and(|d| d >= s && d <= e)))
        .collect();
    let local = |a: &activity::Model| (a.occurred_at + Duration::hours(7)).date_naive();
    let acts: Vec<_> = w
        .activities
        .iter()
        .filter(|a| gids.contains(&a.group_id))
        .filter(|a| period.is_none_or(|(s, e)| local(a) >= s && local(a) <= e))
        .collect();
    let products: Vec<_> = w
        .products
        .iter()
        .filter(|p| gids.contains(&p.group_id))
        .collect();
    let pids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let listings: Vec<_> = w
        .listings
        .iter()
        .filter(|l| pids.contains(&l.product_id))
        .collect();
    // Latest survey per unit in the subtree.
    let mut latest: BTreeMap<i64, &unit_survey::Model> = BTreeMap::new();
    for s in &w.surveys {
        let unit = w.units.iter().find(|u| u.id == s.unit_id).unwrap();
        if !inside(&unit.path) {
            continue;
        }
        if let Some((ps, pe)) = period
            && !(s.period_start <= pe && s.period_end >= ps)
        {
            continue;
        }
        let e = latest.entry(s.unit_id).or_insert(s);
        if (s.period_end, s.period_start) > (e.period_end, e.period_start) {
            *e = s;
        }
    }
    // A survey below another counted one (within the subtree asked about) is covered by it.
    let path_of = |unit: i64| &w.units.iter().find(|u| u.id == unit).unwrap().path;
    let counted: Vec<&unit_survey::Model> = latest
        .values()
        .filter(|s| {
            let own = path_of(s.unit_id);
            !latest
                .keys()
                .any(|other| *other != s.unit_id && own.starts_with(path_of(*other).as_str()))
        })
        .copied()
        .collect();
    let households: i64 = counted.iter().map(|s| s.households).sum();
    let internet: i64 = counted.iter().map(|s| s.with_internet).sum();
    let count_tasks =
        |f: &dyn Fn(&task::Model) -> bool| tasks.iter().filter(|t| f(t)).count() as i64;
    let done = count_tasks(&|t| t.status == TaskStatus::Done);
    let live = count_tasks(&|t| t.status != TaskStatus::Cancelled);
    json!({
        "groups": groups.iter().filter(|g| g.kind == GroupKind::Community).count(),
        "managementTeams": groups.iter().filter(|g| g.kind == GroupKind::Management).count(),
        "activeGroups": groups.iter().filter(|g| g.kind == GroupKind::Community && g.status == GroupStatus::Active).count(),
        "members": members.len(),
        "trainedMembers": members.iter().filter(|m| m.trained_on.is_some()).count(),
        "tasks": tasks.len(),
        "done": done,
        "surveyTasks": count_tasks(&|t| t.kind == TaskKind::Survey),
        "tasksOverdue": count_tasks(&|t| t.due_on.is_some_and(|d| d < today()) && t.status.can_be_overdue()),
        "taskCompletionRate": if live > 0 { json!(done as f64 / live as f64) } else { Value::Null },
        "activities": acts.len(),
        "residentsHelped": acts.iter().map(|a| a.residents_helped as i64).sum::<i64>(),
        "vneidActivations": acts.iter().map(|a| a.vneid_activations as i64).sum::<i64>(),
        "products": products.len(),
        "listings": listings.len(),
        "vosoListings": listings.iter().filter(|l| l.platform == Platform::Voso).count(),
        "activeListings": listings.iter().filter(|l| l.status == ListingStatus::Active).count(),
        "households": households,
        "internetRate": if households > 0 { json!(internet as f64 / households as f64) } else { Value::Null },
    })
}

const ALL_STATS: &str = "groups managementTeams activeGroups members trainedMembers tasks
    done: tasks(status: DONE) surveyTasks: tasks(kind: SURVEY) tasksOverdue taskCompletionRate
    activities residentsHelped vneidActivations products listings
    vosoListings: listings(platform: VOSO) activeListings households internetRate";

/// Compares with a tolerance for floats (rates).
fn assert_same(actual: &Value, expected: &Value, what: &str) {
    let (a, e) = (actual.as_object().unwrap(), expected.as_object().unwrap());
    for (k, ev) in e {
        let av = &a[k];
        let same = match (av.as_f64(), ev.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-9,
            _ => av == ev,
        };
        assert!(same, "{what}: {k} is {av}, the rows say {ev}");
    }
}

fn sum_rows(rows: &[Value], field: &str) -> i64 {
    rows.iter().map(|r| int(&r["stats"][field])).sum()
}

async fn stats_match_a_naive_recomputation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let db = app.state.db.clone();
    let hash = cdtg_api::auth::password::hash("property-password");
    for seed in [1_u64, 7, 42] {
        let mut w = random_world(&db, seed).await;
        let city = &w.units[0];
        let username = format!("prop-admin-{seed}");
        user::ActiveModel {
            username: Set(username.clone()),
            password_hash: Set(hash.clone()),
            role: Set(Role::CityAdmin),
            scope_unit_id: Set(Some(city.id)),
            disabled: Set(false),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
        let token = app.login(&username, "property-password").await;

        check_world(&app, &token, &w, seed, "as inserted").await;
        // Then change and delete rows the way every write path can (moves included): the
        // rollups the triggers keep must follow, and equal a rebuild from the facts.
        let mut rng = Rng(seed ^ 0x5EED);
        for round in 0..3 {
            mutate(&db, &mut rng, &mut w).await;
            check_world(
                &app,
                &token,
                &w,
                seed,
                &format!("after changes, round {round}"),
            )
            .await;
        }
        let kept = rollup_rows(&db).await;
        cdtg_migrations::rollups::rebuild(&db).await.unwrap();
        assert_eq!(
            kept,
            rollup_rows(&db).await,
            "seed {seed}: the rollups the triggers kept differ from a rebuild from the facts"
        );
    }
}

/// Every statistic of every unit of `w`, and the city's breakdowns, against the oracle.
async fn check_world(app: &TestApp, token: &str, w: &World, seed: u64, phase: &str) {
    let city = &w.units[0];
    let seed = format!("{seed} ({phase})");
    // Every unit, without and with a period (the last 30 days, inclusive).
    let from = today() - Duration::days(30);
    let to = today();
    for unit in &w.units {
        let q = format!(
            r#"query($u: ID!, $f: Date!, $t: Date!) {{ adminUnit(id: $u) {{
                all: stats {{ {ALL_STATS} }}
                recent: stats(period: {{ from: $f, to: $t }}) {{ {ALL_STATS} }}
            }} }}"#
        );
        let data = app
            .ok(
                token,
                &q,
                json!({ "u": gid(NodeType::AdminUnit, unit.id), "f": from, "t": to }),
            )
            .await;
        let what = format!("seed {seed}, unit {}", unit.name);
        assert_same(
            &data["adminUnit"]["all"],
            &oracle(w, &unit.path, None),
            &what,
        );
        assert_same(
            &data["adminUnit"]["recent"],
            &oracle(w, &unit.path, Some((from, to))),
            &format!("{what}, last 30 days"),
        );
    }

    // Breakdowns of the city: every dimension, alone and with CHILD_UNIT; rows add up.
    let total = oracle(w, &city.path, None);
    let cases: [(&str, &str); 8] = [
        (
            "[CHILD_UNIT]",
            "groups managementTeams members tasks residentsHelped products listings households",
        ),
        ("[TASK_STATUS]", "tasks tasksOverdue"),
        ("[TASK_KIND]", "tasks activities residentsHelped"),
        ("[CHILD_UNIT, TASK_KIND]", "tasks activities"),
        ("[AFFILIATION]", "members trainedMembers"),
        ("[PLATFORM, CHILD_UNIT]", "listings activeListings"),
        ("[MONTH]", "tasks activities residentsHelped"),
        ("[WEEK]", "activities vneidActivations"),
    ];
    for (by, fields) in cases {
        let q = format!(
            r#"query($u: ID!) {{ statsBreakdown(unitId: $u, by: {by}) {{ rows {{
                unit {{ id }} taskKind taskStatus platform affiliation month week
                stats {{ {fields} }} }} }} }}"#
        );
        let data = app
            .ok(token, &q, json!({ "u": gid(NodeType::AdminUnit, city.id) }))
            .await;
        let rows = data["statsBreakdown"]["rows"].as_array().unwrap().clone();
        for field in fields.split_whitespace() {
            assert_eq!(
                json!(sum_rows(&rows, field)),
                total[field],
                "seed {seed}, by {by}: rows of {field} add up to the total"
            );
        }
        // Each row against the oracle restricted to its keys.
        for r in &rows {
            // Rows are the key combinations that have data (only CHILD_UNIT lists every child):
            // a counter that went back to zero after a change is not a row.
            if !by.contains("CHILD_UNIT") {
                assert!(
                    fields.split_whitespace().any(|f| int(&r["stats"][f]) != 0),
                    "seed {seed}, by {by}: a row without data: {r}"
                );
            }
            let kind = r["taskKind"].as_str();
            let status = r["taskStatus"].as_str();
            if by == "[TASK_STATUS]" {
                let n = w
                    .tasks
                    .iter()
                    .filter(|t| Some(t.status.as_str()) == status)
                    .filter(|t| w.groups.iter().any(|g| g.id == t.group_id))
                    .count() as i64;
                assert_eq!(int(&r["stats"]["tasks"]), n, "seed {seed}: {r}");
            }
            if by == "[TASK_KIND]" {
                let tasks: Vec<_> = w
                    .tasks
                    .iter()
                    .filter(|t| Some(t.kind.as_str()) == kind)
                    .collect();
                let acts = w
                    .activities
                    .iter()
                    .filter(|a| tasks.iter().any(|t| Some(t.id) == a.task_id))
                    .count() as i64;
                assert_eq!(
                    int(&r["stats"]["tasks"]),
                    tasks.len() as i64,
                    "seed {seed}: {r}"
                );
                assert_eq!(int(&r["stats"]["activities"]), acts, "seed {seed}: {r}");
            }
            if by == "[MONTH]"
                && let Some(month) = r["month"].as_str()
            {
                let month = NaiveDate::parse_from_str(month, "%Y-%m-%d").unwrap();
                let first = |d: NaiveDate| chrono::Datelike::with_day0(&d, 0).unwrap();
                let acts = w
                    .activities
                    .iter()
                    .filter(|a| first((a.occurred_at + Duration::hours(7)).date_naive()) == month)
                    .count() as i64;
                assert_eq!(int(&r["stats"]["activities"]), acts, "seed {seed}: {r}");
                let tasks = w
                    .tasks
                    .iter()
                    .filter(|t| t.due_on.map(first) == Some(month))
                    .count() as i64;
                assert_eq!(int(&r["stats"]["tasks"]), tasks, "seed {seed}: {r}");
            }
            if by == "[WEEK]"
                && let Some(week) = r["week"].as_str()
            {
                let monday = NaiveDate::parse_from_str(week, "%Y-%m-%d").unwrap();
                assert_eq!(chrono::Datelike::weekday(&monday), chrono::Weekday::Mon);
                let acts = w
                    .activities
                    .iter()
                    .filter(|a| {
                        let d = (a.occurred_at + Duration::hours(7)).date_naive();
                        d >= monday && d < monday + Duration::days(7)
                    })
                    .count() as i64;
                assert_eq!(int(&r["stats"]["activities"]), acts, "seed {seed}: {r}");
            }
        }
        if by == "[CHILD_UNIT]" {
            // Each child row equals the child's own stats.
            for r in &rows {
                let id = r["unit"]["id"].as_str().unwrap();
                let u = w
                    .units
                    .iter()
                    .find(|u| gid(NodeType::AdminUnit, u.id) == id)
                    .unwrap();
                let got = &r["stats"];
                if u.id == city.id {
                    // The city's own row: what is attached to the city itself, not below it.
                    let own = w
                        .groups
                        .iter()
                        .filter(|g| g.unit_path == u.path && g.kind == GroupKind::Community)
                        .count() as i64;
                    assert_eq!(int(&got["groups"]), own, "seed {seed}: the city's own row");
                    continue;
                }
                let expected = oracle(w, &u.path, None);
                for field in [
                    "groups",
                    "members",
                    "tasks",
                    "residentsHelped",
                    "households",
                ] {
                    assert_eq!(
                        got[field], expected[field],
                        "seed {seed}, {}: {field}",
                        u.name
                    );
                }
            }
        }
    }
}

on_both_databases!(stats_match_a_naive_recomputation);

/// Field reports land from every ward at once, each in its own write transaction, all touching
/// the city's and their district's rollup rows: none may fail (PostgreSQL would abort one of two
/// writers that lock shared rows in opposite orders), and the counters must add up.
async fn concurrent_reports_from_every_ward_keep_the_rollups_exact(backend: Backend) {
    use sea_orm::{PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
    let Some(app) = demo_app(backend).await else {
        return;
    };
    let db = app.state.db.clone();
    // 48 tasks spread over the city: about 10,000 tasks, numbered ward by ward.
    let tasks: Vec<task::Model> = task::Entity::find()
        .filter(sea_orm::sea_query::Expr::cust("id % 199 = 0"))
        .order_by_asc(task::Column::Id)
        .limit(48)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(tasks.len(), 48);
    let before = activity::Entity::find().count(&db).await.unwrap();
    let writers = tasks.iter().enumerate().map(|(i, t)| {
        let (db, t) = (db.clone(), t.clone());
        async move {
            for k in 0..4 {
                let txn = cdtg_api::db::write_txn(&db).await?;
                activity::ActiveModel {
                    task_id: Set(Some(t.id)),
                    group_id: Set(t.group_id),
                    occurred_at: Set(Utc::now()),
                    residents_helped: Set(2),
                    vneid_activations: Set(1),
                    progress_delta: Set(0),
                    idempotency_key: Set(format!("race-{i}-{k}")),
                    request_hash: Set("x".into()),
                    created_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                txn.commit().await?;
            }
            Ok::<_, sea_orm::DbErr>(())
        }
    });
    for outcome in futures_util::future::join_all(writers).await {
        outcome.expect("every concurrent report lands");
    }
    let after = activity::Entity::find().count(&db).await.unwrap();
    assert_eq!(after, before + 48 * 4);
    let admin = app.login("admin", DEMO_PASSWORD).await;
    let city = city_id(&app, &admin).await;
    let data = app
        .ok(
            &admin,
            "query($u: ID!) { adminUnit(id: $u) { stats { activities } } }",
            json!({ "u": city }),
        )
        .await;
    assert_eq!(int(&data["adminUnit"]["stats"]["activities"]), after as i64);
    let kept = rollup_rows(&db).await;
    cdtg_migrations::rollups::rebuild(&db).await.unwrap();
    assert_eq!(
        kept,
        rollup_rows(&db).await,
        "rollups equal a rebuild after the race"
    );
}

on_both_databases!(concurrent_reports_from_every_ward_keep_the_rollups_exact);

/// A ward surveyed as a whole (4,200 households) and one of its residential groups on its own
/// (100): the ward and everything above count 4,200, not 4,300; the residential group asked
/// about alone counts its 100.
async fn households_are_counted_once_when_a_ward_and_its_groups_both_report(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let f = crate::fixture::Fixture::load(&app).await;
    let ward = app
        .login(crate::fixture::users::WARD_A1, crate::fixture::PASSWORD)
        .await;
    let record =
        "mutation($i: RecordUnitSurveyInput!) { recordUnitSurvey(input: $i) { survey { id } } }";
    for (unit, households) in [(f.ward_a1, 4200), (f.rg_a1, 100)] {
        app.ok(
            &ward,
            record,
            json!({ "i": { "unitId": gid(NodeType::AdminUnit, unit), "periodStart": "2026-01-01", "periodEnd": "2026-06-30", "households": households, "withComputer": 10, "withInternet": households / 2, "withSmartphone": 50, "businesses": 1, "businessHouseholds": 1, "fiveSkillsHouseholds": 5 } }),
        )
        .await;
    }
    let q = "query($u: ID!) { adminUnit(id: $u) { stats { households surveyedUnits } } }";
    for (unit, households, surveyed) in [
        (f.ward_a1, 4200, 1),
        (f.rg_a1, 100, 1),
        (f.district_a, 4200, 1),
        (f.city, 4200, 1),
    ] {
        let data = app
            .ok(
                &ward_or_admin(&app, unit, &f, &ward).await,
                q,
                json!({ "u": gid(NodeType::AdminUnit, unit) }),
            )
            .await;
        assert_eq!(
            data["adminUnit"]["stats"],
            json!({ "households": households, "surveyedUnits": surveyed }),
            "unit {unit}"
        );
    }
}

/// The ward leader for units in their ward, the city admin above it.
async fn ward_or_admin(
    app: &TestApp,
    unit: i64,
    f: &crate::fixture::Fixture,
    ward: &str,
) -> String {
    if unit == f.ward_a1 || unit == f.rg_a1 {
        ward.to_owned()
    } else {
        app.login(crate::fixture::users::ADMIN, crate::fixture::PASSWORD)
            .await
    }
}

on_both_databases!(households_are_counted_once_when_a_ward_and_its_groups_both_report);

/// Every indicator's total, for the demo city and one ward, all time and for one month, equals
/// a direct SQL count over the facts.
async fn every_indicator_equals_a_direct_count_over_the_facts(backend: Backend) {
    let Some(app) = demo_app(backend).await else {
        return;
    };
    let admin = app.login("admin", DEMO_PASSWORD).await;
    let city = city_id(&app, &admin).await;
    let ward = unit_id(&app, &admin, "phuoc my").await;
    let q = "query($u: ID!) { adminUnit(id: $u) { stats { outcomes { indicator count } onlineDossiersSubmitted cashlessAccountsOpened ecommerceAccountsCreated peopleTrained } month: stats(period: { kind: MONTH, date: \"2026-11-15\" }) { outcomes { indicator count } } } }";
    let direct = |path: String, month: bool| {
        let db = app.state.db.clone();
        async move {
            let backend = db.get_database_backend();
            // November 2026 in Vietnam, as UTC instants.
            let window = if month {
                "AND a.occurred_at >= $2 AND a.occurred_at < $3"
            } else {
                ""
            };
            let sql = format!(
                "SELECT o.kind AS kind, SUM(o.count) AS n FROM activity_outcomes o \
                 JOIN activities a ON a.id = o.activity_id JOIN groups g ON g.id = a.group_id \
                 WHERE substr(g.unit_path, 1, length($1)) = $1 {window} GROUP BY o.kind"
            );
            let sql = if backend == sea_orm::DatabaseBackend::Sqlite {
                sql.replace('$', "?")
            } else {
                sql
            };
            let start = chrono::DateTime::parse_from_rfc3339("2026-10-31T17:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            let end = chrono::DateTime::parse_from_rfc3339("2026-11-30T17:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            let mut values: Vec<sea_orm::Value> = vec![path.into()];
            if month {
                values.push(start.into());
                values.push(end.into());
            }
            let rows = db
                .query_all_raw(sea_orm::Statement::from_sql_and_values(
                    backend, sql, values,
                ))
                .await
                .unwrap();
            let mut out = BTreeMap::new();
            for r in rows {
                let kind: String = r.try_get("", "kind").unwrap();
                let n: i64 = r.try_get("", "n").unwrap();
                out.insert(kind, n);
            }
            out
        }
    };
    let mut nonzero = 0;
    for unit in [&city, &ward] {
        let data = app.ok(&admin, q, json!({ "u": unit })).await;
        let row = cdtg_api::ids::decode(NodeType::AdminUnit, unit).unwrap();
        let path = admin_unit::Entity::find_by_id(row)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .path;
        for (field, month) in [("stats", false), ("month", true)] {
            let expected = direct(path.clone(), month).await;
            let got: BTreeMap<String, i64> = data["adminUnit"][field]["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["indicator"].as_str().unwrap().to_owned(),
                        int(&o["count"]),
                    )
                })
                .collect();
            assert_eq!(got.len(), cdtg_core::activity::OutcomeKind::ALL.len());
            for (kind, n) in &got {
                assert_eq!(
                    *n,
                    expected.get(kind).copied().unwrap_or(0),
                    "{unit} {field} {kind}"
                );
                nonzero += usize::from(*n > 0);
            }
        }
        let stats = &data["adminUnit"]["stats"];
        let all = direct(path.clone(), false).await;
        for (named, kind) in [
            ("onlineDossiersSubmitted", "ONLINE_DOSSIER_SUBMITTED"),
            ("cashlessAccountsOpened", "CASHLESS_ACCOUNT_OPENED"),
            ("ecommerceAccountsCreated", "ECOMMERCE_ACCOUNT_CREATED"),
            ("peopleTrained", "PERSON_TRAINED"),
        ] {
            assert_eq!(
                int(&stats[named]),
                all.get(kind).copied().unwrap_or(0),
                "{named}"
            );
        }
    }
    assert!(nonzero > 4, "the demo records several indicators");

    // Broken down by indicator, each row holds its own indicator's count; a filter keeps some.
    let by_indicator = app
        .ok(
            &admin,
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [INDICATOR], filter: { indicators: [CASHLESS_ACCOUNT_OPENED, PERSON_TRAINED] }) { rows { indicator stats { outcomes { indicator count } } } } }",
            json!({ "u": ward }),
        )
        .await;
    let ward_row = cdtg_api::ids::decode(NodeType::AdminUnit, &ward).unwrap();
    let ward_path = admin_unit::Entity::find_by_id(ward_row)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .path;
    let all = direct(ward_path, false).await;
    let rows = by_indicator["statsBreakdown"]["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() <= 2, "{by_indicator}");
    for r in rows {
        let kind = r["indicator"].as_str().unwrap();
        assert!(["CASHLESS_ACCOUNT_OPENED", "PERSON_TRAINED"].contains(&kind));
        let own = r["stats"]["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["indicator"] == kind)
            .unwrap();
        assert_eq!(
            int(&own["count"]),
            all.get(kind).copied().unwrap_or(0),
            "{kind}"
        );
    }
    let (_, body) = app
        .gql(
            Some(&admin),
            "query($u: ID!) { statsBreakdown(unitId: $u, by: [INDICATOR]) { rows { stats { activities } } } }",
            json!({ "u": ward }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "by", "{body}");

    // A target on an indicator measures the same figure.
    let set = r#"mutation($u: ID!) { setUnitTarget(input: { unitId: $u,
        indicator: CASHLESS_ACCOUNTS_OPENED, periodStart: "2020-01-01", periodEnd: "2026-12-31",
        targetValue: 1000 }) { target { indicator } } }"#;
    app.ok(&admin, set, json!({ "u": ward })).await;
    let targets = app
        .ok(
            &admin,
            "query($u: ID!) { adminUnit(id: $u) { stats { targets { indicator target actual progress } } } }",
            json!({ "u": ward }),
        )
        .await;
    let t = &targets["adminUnit"]["stats"]["targets"][0];
    let row = cdtg_api::ids::decode(NodeType::AdminUnit, &ward).unwrap();
    let path = admin_unit::Entity::find_by_id(row)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .path;
    let expected = direct(path, false)
        .await
        .get("CASHLESS_ACCOUNT_OPENED")
        .copied()
        .unwrap_or(0);
    assert_eq!(t["indicator"], "CASHLESS_ACCOUNTS_OPENED");
    assert_eq!(t["actual"].as_f64(), Some(expected as f64), "{t}");
}

on_both_databases!(every_indicator_equals_a_direct_count_over_the_facts);

// ---------------------------------------------------------------------------------------------
// SQLite and PostgreSQL agree
// ---------------------------------------------------------------------------------------------

const CANONICAL: &str = r#"query($u: ID!) {
    adminUnit(id: $u) {
        stats { groups managementTeams activeGroups members trainedMembers
            membersByAffiliation { affiliation members trained }
            tasks done: tasks(status: DONE) tasksOverdue taskCompletionRate
            activities residentsHelped vneidActivations products listings activeListings
            households internetRate computerRate smartphoneRate fiveSkillsRate surveyedUnits }
        year: stats(period: { kind: YEAR, date: "2026-06-01" }) { tasks activities residentsHelped }
    }
    byDistrict: statsBreakdown(unitId: $u, by: [CHILD_UNIT]) { rows { unit { name }
        stats { groups members tasks activities residentsHelped vneidActivations products listings households internetRate } } }
    byStatus: statsBreakdown(unitId: $u, by: [TASK_STATUS, TASK_KIND]) { rows { taskStatus taskKind stats { tasks } } }
    byMonth: statsBreakdown(unitId: $u, by: [MONTH]) { rows { month stats { activities residentsHelped } } }
    byPlatform: statsBreakdown(unitId: $u, by: [PLATFORM], orderBy: { field: LISTINGS, direction: DESC }) { rows { platform stats { listings activeListings } } }
}"#;

async fn canonical(app: &TestApp) -> Value {
    let admin = app.login("admin", DEMO_PASSWORD).await;
    let city = city_id(app, &admin).await;
    app.ok(&admin, CANONICAL, json!({ "u": city })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_gives_identical_stats_on_sqlite_and_postgresql() {
    let Some(pg) = demo_app(Backend::Postgres).await else {
        return;
    };
    let sqlite = demo_app(Backend::Sqlite).await.unwrap();
    let (a, b) = (canonical(&sqlite).await, canonical(&pg).await);
    assert!(
        a["adminUnit"]["stats"]["activities"].as_i64().unwrap() > 0,
        "the demo has activities: {a}"
    );
    assert_eq!(a, b, "SQLite and PostgreSQL must agree on every figure");
}
