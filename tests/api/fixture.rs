//! A small world for behaviour tests: a city with two districts, three wards, groups in each,
//! members, tasks, products, and one account per role. Built through the service layer (the
//! same code the API runs) as the system actor; units are inserted directly because the API has
//! no unit-creation mutation.

use std::sync::LazyLock;

use cdtg_api::entity::{admin_unit, user};
use cdtg_api::principal::Principal;
use cdtg_api::service::{groups, members, products, tasks};
use cdtg_core::group::{Affiliation, GroupKind, MembershipRole};
use cdtg_core::policy::Role;
use cdtg_core::product::{ListingStatus, Platform};
use cdtg_core::task::{TaskKind, TaskPriority};
use cdtg_core::unit::UnitKind;
use chrono::{NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

use crate::helpers::TestApp;

pub const PASSWORD: &str = "fixture-password";
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| cdtg_api::auth::password::hash(PASSWORD));

/// Ids of everything in the fixture world; each test uses the ones it needs.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub struct Fixture {
    pub city: i64,
    pub district_a: i64,
    pub district_b: i64,
    /// "Phước Mỹ", in district A.
    pub ward_a1: i64,
    /// "An Hải Bắc", sibling of A1 in district A.
    pub ward_a2: i64,
    /// "Tân Chính", in district B.
    pub ward_b1: i64,
    /// A residential group under A1.
    pub rg_a1: i64,
    pub group_a1: i64,
    pub group_a1_management: i64,
    pub group_a2: i64,
    pub group_b1: i64,
    /// Members of group A1: leader "Nguyễn Văn Chung", member "Trần Thị Hà", member "Lê Minh Tuấn".
    pub member_a1_leader: i64,
    pub member_a1_plain: i64,
    pub member_a1_third: i64,
    pub member_a2: i64,
    pub member_b1: i64,
    pub task_a1: i64,
    pub task_a2: i64,
    pub task_b1: i64,
    pub product_a1: i64,
    pub product_b1: i64,
}

/// Usernames of the fixture accounts (password [`PASSWORD`]).
pub mod users {
    pub const ADMIN: &str = "admin";
    pub const DISTRICT_A: &str = "district-a";
    pub const WARD_A1: &str = "ward-a1";
    pub const WARD_A2: &str = "ward-a2";
    pub const WARD_B1: &str = "ward-b1";
    pub const LEADER_A1: &str = "leader-a1";
    pub const MEMBER_A1: &str = "member-a1";
    pub const VIEWER: &str = "viewer";
}

pub async fn unit(
    db: &DatabaseConnection,
    name: &str,
    kind: UnitKind,
    parent: Option<(i64, &str)>,
) -> (i64, String) {
    let (parent_id, parent_path, depth) = match parent {
        Some((id, path)) => (
            Some(id),
            path.to_owned(),
            path.matches('/').count() as i32 - 1,
        ),
        None => (None, "/".to_owned(), 0),
    };
    let inserted = admin_unit::ActiveModel {
        code: Set(None),
        name: Set(name.to_owned()),
        name_key: Set(cdtg_core::text::sort_key(name)),
        name_folded: Set(cdtg_core::text::fold(name)),
        kind: Set(kind),
        parent_id: Set(parent_id),
        // A unique placeholder until the id is known.
        path: Set(format!("/pending-{}", uuid::Uuid::new_v4())),
        depth: Set(depth),
        valid_from: Set(NaiveDate::from_ymd_opt(2008, 1, 1).unwrap()),
        valid_to: Set(None),
        merged_into_id: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert unit");
    let path = format!("{parent_path}{}/", inserted.id);
    let mut am: admin_unit::ActiveModel = inserted.into();
    am.path = Set(path.clone());
    let saved = am.update(db).await.expect("set unit path");
    (saved.id, path)
}

async fn account(
    db: &DatabaseConnection,
    username: &str,
    role: Role,
    unit: Option<i64>,
    group: Option<i64>,
    member: Option<i64>,
) {
    user::ActiveModel {
        username: Set(username.to_owned()),
        password_hash: Set(PASSWORD_HASH.clone()),
        role: Set(role),
        scope_unit_id: Set(unit),
        scope_group_id: Set(group),
        member_id: Set(member),
        disabled: Set(false),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert user");
}

pub async fn group(db: &DatabaseConnection, name: &str, kind: GroupKind, unit_id: i64) -> i64 {
    let sys = Principal::system();
    groups::create(
        db,
        &sys,
        groups::NewGroup {
            name: name.into(),
            kind,
            unit_id,
            established_on: None,
            decision_number: None,
            zalo_url: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create group: {e:?}"))
    .id
}

#[allow(clippy::too_many_arguments)] // one argument per column reads best in the fixture table
async fn member(
    db: &DatabaseConnection,
    family: &str,
    middle: &str,
    given: &str,
    phone: &str,
    unit_id: i64,
    group_id: i64,
    role: MembershipRole,
) -> i64 {
    let sys = Principal::system();
    let m = members::create(
        db,
        &sys,
        members::NewMember {
            group_id: None,
            allow_shared_phone: false,
            family_name: family.into(),
            middle_name: Some(middle.into()),
            given_name: given.into(),
            phone: Some(phone.into()),
            affiliation: Affiliation::YouthUnion,
            trained_on: None,
            unit_id,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create member: {e:?}"));
    members::add_membership(
        db,
        &sys,
        members::NewMembership {
            member_id: m.id,
            group_id,
            role,
            joined_on: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("add membership: {e:?}"));
    m.id
}

async fn task(
    db: &DatabaseConnection,
    group_id: i64,
    title: &str,
    kind: TaskKind,
    target: i64,
) -> i64 {
    let sys = Principal::system();
    tasks::create(
        db,
        &sys,
        tasks::NewTask {
            group_id,
            assignee_id: None,
            title: title.into(),
            description: None,
            kind,
            priority: TaskPriority::Normal,
            due_on: NaiveDate::from_ymd_opt(2026, 12, 31),
            target: Some(target),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create task: {e:?}"))
    .id
}

async fn product(db: &DatabaseConnection, name: &str, group_id: i64) -> i64 {
    let sys = Principal::system();
    let p = products::create(
        db,
        &sys,
        products::NewProduct {
            name: name.into(),
            category: "Thủy sản".into(),
            producer: "Hộ kinh doanh Ngọc Lan".into(),
            sale_unit: "chai".into(),
            ocop_stars: 3,
            group_id,
            price_vnd: Some(85_000),
            description: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("create product: {e:?}"));
    products::upsert_listing(
        db,
        &sys,
        products::ListingInput {
            product_id: p.id,
            platform: Platform::Voso,
            url: format!("https://voso.vn/p/{}", p.id),
            status: ListingStatus::Active,
            listed_on: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("upsert listing: {e:?}"));
    p.id
}

impl Fixture {
    pub async fn load(app: &TestApp) -> Fixture {
        let db = &app.state.db;
        let (city, city_path) = unit(db, "Thành phố Đà Nẵng", UnitKind::Province, None).await;
        let (district_a, da_path) =
            unit(db, "Sơn Trà", UnitKind::District, Some((city, &city_path))).await;
        let (district_b, db_path) = unit(
            db,
            "Thanh Khê",
            UnitKind::District,
            Some((city, &city_path)),
        )
        .await;
        let (ward_a1, a1_path) =
            unit(db, "Phước Mỹ", UnitKind::Ward, Some((district_a, &da_path))).await;
        let (ward_a2, a2_path) = unit(
            db,
            "An Hải Bắc",
            UnitKind::Ward,
            Some((district_a, &da_path)),
        )
        .await;
        let (ward_b1, b1_path) = unit(
            db,
            "Tân Chính",
            UnitKind::Ward,
            Some((district_b, &db_path)),
        )
        .await;
        let (rg_a1, _) = unit(
            db,
            "Tổ dân phố 1",
            UnitKind::ResidentialGroup,
            Some((ward_a1, &a1_path)),
        )
        .await;
        let _ = b1_path;
        let _ = a2_path;

        let group_a1 = group(
            db,
            "Tổ CNSCĐ Tổ dân phố 1 – Phước Mỹ",
            GroupKind::Community,
            rg_a1,
        )
        .await;
        let group_a1_management = group(
            db,
            "Tổ chỉ đạo chuyển đổi số phường Phước Mỹ",
            GroupKind::Management,
            ward_a1,
        )
        .await;
        let group_a2 = group(db, "Tổ CNSCĐ An Hải Bắc", GroupKind::Community, ward_a2).await;
        let group_b1 = group(db, "Tổ CNSCĐ Tân Chính", GroupKind::Community, ward_b1).await;

        let member_a1_leader = member(
            db,
            "Nguyễn",
            "Văn",
            "Chung",
            "0905 123 456",
            rg_a1,
            group_a1,
            MembershipRole::Leader,
        )
        .await;
        let member_a1_plain = member(
            db,
            "Trần",
            "Thị",
            "Hà",
            "0912345678",
            rg_a1,
            group_a1,
            MembershipRole::Member,
        )
        .await;
        let member_a1_third = member(
            db,
            "Lê",
            "Minh",
            "Tuấn",
            "+84 935 111 222",
            rg_a1,
            group_a1,
            MembershipRole::Member,
        )
        .await;
        let member_a2 = member(
            db,
            "Phạm",
            "Ngọc",
            "Lan",
            "0987654321",
            ward_a2,
            group_a2,
            MembershipRole::Leader,
        )
        .await;
        let member_b1 = member(
            db,
            "Hoàng",
            "Quốc",
            "Bảo",
            "0978111222",
            ward_b1,
            group_b1,
            MembershipRole::Leader,
        )
        .await;

        let task_a1 = task(
            db,
            group_a1,
            "Kích hoạt VNeID tổ dân phố 1",
            TaskKind::VneidActivation,
            50,
        )
        .await;
        let task_a2 = task(
            db,
            group_a2,
            "Hướng dẫn dịch vụ công trực tuyến",
            TaskKind::OnlinePublicService,
            20,
        )
        .await;
        let task_b1 = task(
            db,
            group_b1,
            "Thanh toán không dùng tiền mặt",
            TaskKind::CashlessPayment,
            30,
        )
        .await;

        let product_a1 = product(db, "Nước mắm Nam Ô", group_a1).await;
        let product_b1 = product(db, "Mực một nắng", group_b1).await;

        account(db, users::ADMIN, Role::CityAdmin, Some(city), None, None).await;
        account(
            db,
            users::DISTRICT_A,
            Role::DistrictOfficer,
            Some(district_a),
            None,
            None,
        )
        .await;
        account(
            db,
            users::WARD_A1,
            Role::WardLeader,
            Some(ward_a1),
            None,
            None,
        )
        .await;
        account(
            db,
            users::WARD_A2,
            Role::WardLeader,
            Some(ward_a2),
            None,
            None,
        )
        .await;
        account(
            db,
            users::WARD_B1,
            Role::WardLeader,
            Some(ward_b1),
            None,
            None,
        )
        .await;
        account(
            db,
            users::LEADER_A1,
            Role::GroupLeader,
            None,
            Some(group_a1),
            Some(member_a1_leader),
        )
        .await;
        account(
            db,
            users::MEMBER_A1,
            Role::Member,
            None,
            Some(group_a1),
            Some(member_a1_plain),
        )
        .await;
        account(db, users::VIEWER, Role::Viewer, Some(city), None, None).await;

        Fixture {
            city,
            district_a,
            district_b,
            ward_a1,
            ward_a2,
            ward_b1,
            rg_a1,
            group_a1,
            group_a1_management,
            group_a2,
            group_b1,
            member_a1_leader,
            member_a1_plain,
            member_a1_third,
            member_a2,
            member_b1,
            task_a1,
            task_a2,
            task_b1,
            product_a1,
            product_b1,
        }
    }
}

/// Global ID of a row, as the API spells it.
pub fn gid(t: cdtg_api::ids::NodeType, id: i64) -> String {
    cdtg_api::ids::encode(t, id).0
}
