//! Members and their memberships (history kept: leaving a group closes the membership, it is
//! never deleted). Member names and phones are personal data: `VIEWER` never reaches them.

use std::collections::HashMap;

use cdtg_core::group::{Affiliation, MembershipRole};
use cdtg_core::policy::Action;
use cdtg_core::validate::PhoneQuery;
use cdtg_core::{text, validate};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, JoinType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QueryTrait, Select, Set,
};

use super::audit::{self, Touched};
use super::page::{self, Page, Window};
use super::{contains, folded_contains, scope, units};
use crate::db::write_txn;
use crate::entity::{admin_unit, group, member, membership};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::principal::Principal;

#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub unit_id: Option<i64>,
    pub group_id: Option<i64>,
    pub affiliation: Option<Affiliation>,
    pub trained: Option<bool>,
    pub search: Option<String>,
}

/// "Nguyễn Văn Chung": family, middle and given name in Vietnamese order.
pub fn full_name(family: &str, middle: Option<&str>, given: &str) -> String {
    match middle {
        Some(m) if !m.is_empty() => format!("{family} {m} {given}"),
        _ => format!("{family} {given}"),
    }
}

/// The `search` condition on members: a query typed as a phone number (any common spelling, see
/// [`validate::phone_query`]) is looked up in the stored numbers — the whole number exactly, a
/// run of 4 or more digits anywhere in it; anything else matches every word in the folded name.
fn search(query: &str) -> Option<Condition> {
    match validate::phone_query(query) {
        Some(PhoneQuery::Exact(number)) => {
            Some(Condition::all().add(member::Column::Phone.eq(number)))
        }
        Some(PhoneQuery::Digits(digits)) => Some(contains(member::Column::Phone, &digits)),
        None => folded_contains(member::Column::SearchKey, query),
    }
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &MemberFilter,
) -> ApiResult<Select<member::Entity>> {
    let mut q = member::Entity::find().filter(scope::members(p));
    if let Some(path) = units::path_of(db, p, f.unit_id).await? {
        q = q.filter(scope::unit_subtree(member::Column::UnitPath, &path));
    }
    if let Some(gid) = f.group_id {
        // Only a group the caller can see filters anything: members in scope who also belong to
        // a group outside it must not reveal that group (nor who is in it). A foreign group thus
        // matches nothing, exactly like a group that does not exist.
        q = q.filter(
            member::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(membership::Column::MemberId)
                    .from(membership::Entity)
                    .and_where(Expr::col(membership::Column::GroupId).eq(gid))
                    .and_where(
                        Expr::col(membership::Column::GroupId)
                            .in_subquery(scope::visible_group_ids(p)),
                    )
                    .and_where(Expr::col(membership::Column::LeftOn).is_null())
                    .to_owned(),
            ),
        );
    }
    if let Some(a) = f.affiliation {
        q = q.filter(member::Column::Affiliation.eq(a));
    }
    match f.trained {
        Some(true) => q = q.filter(member::Column::TrainedOn.is_not_null()),
        Some(false) => q = q.filter(member::Column::TrainedOn.is_null()),
        None => {}
    }
    if let Some(c) = f.search.as_deref().and_then(search) {
        q = q.filter(c);
    }
    Ok(q.order_by_asc(member::Column::NameKey)
        .order_by_asc(member::Column::Id))
}

pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &MemberFilter,
    window: Window,
) -> ApiResult<Page<member::Model>> {
    audit::authorize(db, p, Action::ReadPersonalData, "members").await?;
    page::fetch(db, select(db, p, f).await?, window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &MemberFilter) -> ApiResult<u64> {
    scope::require(p, Action::ReadPersonalData)?;
    Ok(select(db, p, f).await?.count(db).await?)
}

pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<member::Model>> {
    scope::require(p, Action::ReadPersonalData)?;
    Ok(member::Entity::find_by_id(id)
        .filter(scope::members(p))
        .one(db)
        .await?)
}

pub async fn get_by_ids(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i64],
) -> ApiResult<HashMap<i64, member::Model>> {
    if scope::require(p, Action::ReadPersonalData).is_err() {
        return Ok(HashMap::new());
    }
    let rows = member::Entity::find()
        .filter(member::Column::Id.is_in(ids.iter().copied()))
        .filter(scope::members(p))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|m| (m.id, m)).collect())
}

/// Members in the subtrees of many units (`unit.members`), one statement.
pub async fn in_units(
    db: &DatabaseConnection,
    p: &Principal,
    unit_ids: &[i64],
    window: Window,
) -> ApiResult<HashMap<i64, Page<member::Model>>> {
    scope::require(p, Action::ReadPersonalData)?;
    let mut q = member::Entity::find().filter(scope::members(p));
    QueryTrait::query(&mut q).join(
        JoinType::InnerJoin,
        admin_unit::Entity,
        Expr::cust(r#""members"."unit_path" LIKE ("admin_units"."path" || '%')"#),
    );
    let q = q.filter(admin_unit::Column::Id.is_in(unit_ids.iter().copied()));
    let parent = Expr::col((admin_unit::Entity, admin_unit::Column::Id));
    let order = [
        (
            Expr::col((member::Entity, member::Column::NameKey)),
            Order::Asc,
        ),
        (Expr::col((member::Entity, member::Column::Id)), Order::Asc),
    ];
    page::fetch_per_parent(db, q, parent, &order, window).await
}

/// Memberships of many members (`member.memberships`), one statement, newest first.
pub async fn memberships_of(
    db: &DatabaseConnection,
    p: &Principal,
    member_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<membership::Model>>> {
    scope::require(p, Action::ReadGroups)?;
    let rows = membership::Entity::find()
        .filter(membership::Column::MemberId.is_in(member_ids.iter().copied()))
        .filter(scope::memberships(p))
        .order_by_desc(membership::Column::JoinedOn)
        .order_by_desc(membership::Column::Id)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| row.member_id))
}

/// Memberships of many groups (`group.memberships`), one statement.
pub async fn memberships_in(
    db: &DatabaseConnection,
    p: &Principal,
    group_ids: &[i64],
    include_former: bool,
) -> ApiResult<HashMap<i64, Vec<membership::Model>>> {
    scope::require(p, Action::ReadGroups)?;
    let mut q = membership::Entity::find()
        .filter(membership::Column::GroupId.is_in(group_ids.iter().copied()))
        .filter(scope::memberships(p));
    if !include_former {
        q = q.filter(membership::Column::LeftOn.is_null());
    }
    let rows = q.order_by_asc(membership::Column::Id).all(db).await?;
    Ok(super::group_by_parent(rows, |row| row.group_id))
}

#[derive(Debug, Clone)]
pub struct NewMember {
    pub family_name: String,
    pub middle_name: Option<String>,
    pub given_name: String,
    pub phone: Option<String>,
    pub affiliation: Affiliation,
    pub trained_on: Option<NaiveDate>,
    pub unit_id: i64,
}

pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewMember,
) -> ApiResult<member::Model> {
    audit::authorize(db, p, Action::ManageMembers, "createMember").await?;
    let txn = write_txn(db).await?;
    let outcome = create_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "createMember", outcome).await
}

struct Names {
    family: String,
    middle: Option<String>,
    given: String,
}

fn names(family: &str, middle: Option<&str>, given: &str) -> ApiResult<Names> {
    let family = validate::person_name_part("familyName", family)?;
    let middle = match middle.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => Some(validate::person_name_part("middleName", m)?),
        None => None,
    };
    let given = validate::person_name_part("givenName", given)?;
    Ok(Names {
        family,
        middle,
        given,
    })
}

async fn create_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewMember,
) -> ApiResult<(member::Model, Touched)> {
    let n = names(
        &input.family_name,
        input.middle_name.as_deref(),
        &input.given_name,
    )?;
    let phone = input
        .phone
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| validate::phone("phone", s))
        .transpose()?;
    let unit = admin_unit::Entity::find_by_id(input.unit_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
    if !scope::unit_in_scope(p, &unit.path) {
        return Err(ApiError::forbidden("the unit is outside your scope"));
    }
    if let Some(closed) = unit.valid_to {
        return Err(ApiError::bad_input(
            "unitId",
            format!("{} was closed on {closed}", unit.name),
        ));
    }
    let full = full_name(&n.family, n.middle.as_deref(), &n.given);
    let name_key = text::person_sort_key(&n.family, n.middle.as_deref(), &n.given);
    let now = Utc::now();
    let model = member::ActiveModel {
        name_key: Set(name_key),
        family_name: Set(n.family),
        middle_name: Set(n.middle),
        given_name: Set(n.given),
        search_key: Set(text::fold(&full)),
        full_name: Set(full),
        phone: Set(phone),
        affiliation: Set(input.affiliation),
        trained_on: Set(input.trained_on),
        unit_id: Set(unit.id),
        unit_path: Set(unit.path.clone()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let touched = Touched::new("Member", model.id, unit.path);
    Ok((model, touched))
}

#[derive(Debug, Clone, Default)]
pub struct MemberChanges {
    pub family_name: Option<String>,
    pub middle_name: Option<String>,
    pub given_name: Option<String>,
    pub phone: Option<String>,
    pub affiliation: Option<Affiliation>,
    pub trained_on: Option<NaiveDate>,
    pub expected_version: Option<i32>,
}

pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    changes: MemberChanges,
) -> ApiResult<member::Model> {
    audit::authorize(db, p, Action::ManageMembers, "updateMember").await?;
    let txn = write_txn(db).await?;
    let outcome = update_in(&txn, p, id, changes).await;
    audit::conclude(db, txn, p, "updateMember", outcome).await
}

async fn update_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    c: MemberChanges,
) -> ApiResult<(member::Model, Touched)> {
    let current = member::Entity::find_by_id(id)
        .filter(scope::members(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    if let Some(expected) = c.expected_version
        && expected != current.version
    {
        return Err(ApiError::Conflict(format!(
            "the member was changed by someone else (version {} now, {} expected)",
            current.version, expected
        )));
    }
    let n = names(
        c.family_name.as_deref().unwrap_or(&current.family_name),
        c.middle_name.as_deref().or(current.middle_name.as_deref()),
        c.given_name.as_deref().unwrap_or(&current.given_name),
    )?;
    let mut am: member::ActiveModel = current.clone().into();
    let full = full_name(&n.family, n.middle.as_deref(), &n.given);
    am.name_key = Set(text::person_sort_key(
        &n.family,
        n.middle.as_deref(),
        &n.given,
    ));
    am.search_key = Set(text::fold(&full));
    am.full_name = Set(full);
    am.family_name = Set(n.family);
    am.middle_name = Set(n.middle);
    am.given_name = Set(n.given);
    if let Some(phone) = c.phone {
        am.phone = Set(if phone.trim().is_empty() {
            None
        } else {
            Some(validate::phone("phone", &phone)?)
        });
    }
    if let Some(a) = c.affiliation {
        am.affiliation = Set(a);
    }
    if let Some(d) = c.trained_on {
        am.trained_on = Set(Some(d));
    }
    am.version = Set(current.version + 1);
    am.updated_at = Set(Utc::now());
    let result = member::Entity::update_many()
        .set(am)
        .filter(member::Column::Id.eq(id))
        .filter(member::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::Conflict(
            "the member was changed by someone else".to_owned(),
        ));
    }
    let model = member::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    let touched = Touched::new("Member", id, model.unit_path.clone());
    Ok((model, touched))
}

#[derive(Debug, Clone)]
pub struct NewMembership {
    pub member_id: i64,
    pub group_id: i64,
    pub role: MembershipRole,
    pub joined_on: Option<NaiveDate>,
}

pub async fn add_membership(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewMembership,
) -> ApiResult<membership::Model> {
    audit::authorize(db, p, Action::ManageMemberships, "addMembership").await?;
    let txn = write_txn(db).await?;
    let outcome = add_membership_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "addMembership", outcome).await
}

async fn add_membership_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewMembership,
) -> ApiResult<(membership::Model, Touched)> {
    let grp = group::Entity::find_by_id(input.group_id)
        .filter(scope::groups(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("group"))?;
    let mem = member::Entity::find_by_id(input.member_id)
        .filter(scope::members(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("member"))?;
    let joined_on = input.joined_on.unwrap_or_else(super::today_in_vietnam);
    let inserted = membership::ActiveModel {
        member_id: Set(mem.id),
        group_id: Set(grp.id),
        role: Set(input.role),
        joined_on: Set(joined_on),
        left_on: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await;
    let model = match inserted {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::Conflict(
                "the member already belongs to this group".to_owned(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if input.role == MembershipRole::Leader {
        group::Entity::update_many()
            .col_expr(group::Column::LeaderMemberId, Expr::value(mem.id))
            .col_expr(
                group::Column::Version,
                Expr::col(group::Column::Version).add(1),
            )
            .filter(group::Column::Id.eq(grp.id))
            .exec(txn)
            .await?;
    }
    Ok((
        model.clone(),
        Touched::new("Membership", model.id, grp.unit_path),
    ))
}

pub async fn end_membership(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    left_on: Option<NaiveDate>,
) -> ApiResult<membership::Model> {
    audit::authorize(db, p, Action::ManageMemberships, "endMembership").await?;
    let txn = write_txn(db).await?;
    let outcome = end_membership_in(&txn, p, id, left_on).await;
    audit::conclude(db, txn, p, "endMembership", outcome).await
}

async fn end_membership_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    left_on: Option<NaiveDate>,
) -> ApiResult<(membership::Model, Touched)> {
    let current = membership::Entity::find_by_id(id)
        .filter(scope::memberships(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("membership"))?;
    if current.left_on.is_some() {
        return Err(ApiError::Conflict(
            "the membership has already ended".to_owned(),
        ));
    }
    let left_on = left_on.unwrap_or_else(super::today_in_vietnam);
    validate::not_before("leftOn", &current.joined_on, &left_on)?;
    let grp = group::Entity::find_by_id(current.group_id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("group"))?;
    let mut am: membership::ActiveModel = current.clone().into();
    am.left_on = Set(Some(left_on));
    let model = am.update(txn).await?;
    if grp.leader_member_id == Some(current.member_id) {
        group::Entity::update_many()
            .col_expr(
                group::Column::LeaderMemberId,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                group::Column::Version,
                Expr::col(group::Column::Version).add(1),
            )
            .filter(group::Column::Id.eq(grp.id))
            .exec(txn)
            .await?;
    }
    Ok((model, Touched::new("Membership", id, grp.unit_path)))
}

/// One membership, if visible (`node`).
pub async fn memberships_by_id(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<membership::Model>> {
    if scope::require(p, Action::ReadGroups).is_err() {
        return Ok(None);
    }
    Ok(membership::Entity::find_by_id(id)
        .filter(scope::memberships(p))
        .one(db)
        .await?)
}
