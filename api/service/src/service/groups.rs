//! Groups (CDTGs and ward management teams): lookups, filtered lists, batched nested edges, and
//! the create/update mutations of ward leaders.

use std::collections::HashMap;

use cdtg_core::group::{GroupKind, GroupStatus};
use cdtg_core::policy::Action;
use cdtg_core::{text, validate};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::JoinType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryTrait, Select, Set,
};

use super::audit::{self, Touched};
use super::columns::{GroupColumns, MemberColumns};
use super::page::{self, Page, Window};
use super::{folded_contains, scope, units};
use crate::db::write_txn;
use crate::entity::{admin_unit, group, member, membership};
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;

#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Groups anywhere in this unit's subtree.
    pub unit_id: Option<i64>,
    pub kind: Option<GroupKind>,
    pub status: Option<GroupStatus>,
    pub search: Option<String>,
    /// Groups with no field report of work done on or after this day (Asia/Ho_Chi_Minh);
    /// within the years a period may name (`stats::period_date`, checked at the edge).
    pub no_activity_since: Option<chrono::NaiveDate>,
    /// Groups changed at or after this instant (for incremental sync).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupOrder {
    #[default]
    Name,
    EstablishedOn,
    CreatedAt,
}

fn order_col(order: GroupOrder) -> group::Column {
    match order {
        GroupOrder::Name => group::Column::NameKey,
        GroupOrder::EstablishedOn => group::Column::EstablishedOn,
        GroupOrder::CreatedAt => group::Column::CreatedAt,
    }
}

fn apply_filter(
    mut q: Select<group::Entity>,
    f: &GroupFilter,
    unit_path: Option<&str>,
) -> Select<group::Entity> {
    if let Some(path) = unit_path {
        q = q.filter(scope::unit_subtree(group::Column::UnitPath, path));
    }
    if let Some(kind) = f.kind {
        q = q.filter(group::Column::Kind.eq(kind));
    }
    if let Some(status) = f.status {
        q = q.filter(group::Column::Status.eq(status));
    }
    if let Some(day) = f.no_activity_since {
        let since = cdtg_core::time::vietnam_midnight(day);
        q = q.filter(
            group::Column::Id.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(crate::entity::activity::Column::GroupId)
                    .from(crate::entity::activity::Entity)
                    .and_where(
                        sea_orm::sea_query::Expr::col(crate::entity::activity::Column::OccurredAt)
                            .gte(since),
                    )
                    .to_owned(),
            ),
        );
    }
    if let Some(at) = f.updated_since {
        q = q.filter(group::Column::UpdatedAt.gte(at));
    }
    if let Some(c) = f
        .search
        .as_deref()
        .and_then(|s| folded_contains(group::Column::NameFolded, s))
    {
        q = q.filter(c);
    }
    q
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &GroupFilter,
) -> ApiResult<Select<group::Entity>> {
    let path = units::path_of(db, p, f.unit_id).await?;
    let q = apply_filter(
        group::Entity::find().filter(scope::groups(p)),
        f,
        path.as_deref(),
    );
    Ok(q)
}

/// The sort terms of a group list, ending with the id so that ties have one order. Groups
/// without a founding date come last (first in DESC) on both databases.
fn sort(order: GroupOrder, desc: bool) -> Vec<page::SortTerm> {
    use page::{KeyKind, SortTerm};
    let col = |c: group::Column| Expr::col((group::Entity, c));
    let mut terms = match order {
        GroupOrder::Name => vec![SortTerm::asc(col(order_col(order)), KeyKind::Text)],
        GroupOrder::EstablishedOn => vec![
            SortTerm::asc(
                page::nulls_last(col(group::Column::EstablishedOn)),
                KeyKind::Int,
            ),
            SortTerm::asc(col(order_col(order)), KeyKind::Date),
        ],
        GroupOrder::CreatedAt => vec![SortTerm::asc(col(order_col(order)), KeyKind::Time)],
    };
    terms.push(SortTerm::asc(col(group::Column::Id), KeyKind::BigInt));
    terms.into_iter().map(|t| t.direction(desc)).collect()
}

pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &GroupFilter,
    order: GroupOrder,
    desc: bool,
    window: Window,
) -> ApiResult<Page<group::Model>> {
    audit::authorize(db, p, Action::ReadGroups, "groups").await?;
    page::fetch(db, select(db, p, f).await?, &sort(order, desc), window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &GroupFilter) -> ApiResult<u64> {
    scope::require(p, Action::ReadGroups)?;
    Ok(select(db, p, f).await?.count(db).await?)
}

pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<group::Model>> {
    scope::require(p, Action::ReadGroups)?;
    Ok(group::Entity::find_by_id(id)
        .filter(scope::groups(p))
        .one(db)
        .await?)
}

/// A group together with the units a selection of it reads: its own unit, and with
/// `ancestors` every unit above it as well (they are all named by the group's path), in one
/// statement — the look-ahead join behind `group(id) { unit { parent { … } } }`, which cost a
/// second round trip when the units were loaded after the group. Units are reference data
/// everyone may read ([`scope::admin_units`]); the group is filtered by scope as in [`get`].
pub async fn get_with_units(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    ancestors: bool,
) -> ApiResult<Option<(group::Model, Vec<admin_unit::Model>)>> {
    use sea_orm::{Condition, ConnectionTrait, FromQueryResult, IdenStatic, Iterable};
    scope::require(p, Action::ReadGroups)?;
    let backend = db.get_database_backend();
    let unit_id = Expr::col((admin_unit::Entity, admin_unit::Column::Id));
    let on = if !ancestors {
        unit_id.equals((group::Entity, group::Column::UnitId))
    } else if backend == sea_orm::DbBackend::Postgres {
        // The path's ids as an array: an index probe of the units' key per id.
        Expr::cust(
            r#""admin_units"."id" = ANY(CAST(string_to_array(TRIM(BOTH '/' FROM "groups"."unit_path"), '/') AS bigint[]))"#,
        )
    } else {
        // SQLite has no arrays: the path's ids as a JSON list, one key look-up each.
        Expr::cust(
            r#""admin_units"."id" IN (SELECT CAST("value" AS INTEGER) FROM json_each('[' || REPLACE(TRIM("groups"."unit_path", '/'), '/', ',') || ']'))"#,
        )
    };
    let mut q = group::Entity::find_by_id(id)
        .filter(scope::groups(p))
        .into_query();
    q.join(
        JoinType::LeftJoin,
        admin_unit::Entity,
        Condition::all().add(on).add(scope::admin_units(p)),
    );
    for c in admin_unit::Column::iter() {
        q.expr_as(
            Expr::col((admin_unit::Entity, c)),
            sea_orm::sea_query::Alias::new(format!("{UNIT_PREFIX}{}", c.as_str())),
        );
    }
    let rows = db.query_all_raw(backend.build(&q)).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let found = group::Model::from_query_result(first, "")?;
    let mut units = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(unit) = admin_unit::Model::from_query_result_optional(row, UNIT_PREFIX)? {
            units.push(unit);
        }
    }
    Ok(Some((found, units)))
}

/// The prefix of the unit columns in [`get_with_units`]'s rows.
const UNIT_PREFIX: &str = "u_";

pub async fn get_by_ids(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i64],
) -> ApiResult<HashMap<i64, group::Model>> {
    if scope::require(p, Action::ReadGroups).is_err() {
        return Ok(HashMap::new());
    }
    let rows = group::Entity::find()
        .filter(group::Column::Id.is_in(ids.iter().copied()))
        .filter(scope::groups(p))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|g| (g.id, g)).collect())
}

/// Groups in the subtrees of many units at once (`unit.groups` edges): one statement, joining
/// each unit to the groups whose unit path starts with the unit's path.
pub async fn in_units(
    db: &DatabaseConnection,
    p: &Principal,
    unit_ids: &[i64],
    f: &GroupFilter,
    columns: GroupColumns,
    window: Window,
) -> ApiResult<HashMap<i64, Page<group::Model>>> {
    scope::require(p, Action::ReadGroups)?;
    let mut q = columns.select(group::Entity::find().filter(scope::groups(p)));
    QueryTrait::query(&mut q).join(
        JoinType::InnerJoin,
        admin_unit::Entity,
        scope::in_joined_unit_subtree(r#""groups"."unit_path""#),
    );
    let q = apply_filter(q, f, None);
    let parent = Expr::col((admin_unit::Entity, admin_unit::Column::Id));
    let order = sort(GroupOrder::Name, false);
    let decode = |row: &_| columns.decode(row);
    page::fetch_per_parent_with(db, q, parent, unit_ids, &order, window, decode).await
}

/// Members (current, or all with `include_former`) of many groups, one statement.
pub async fn members_of(
    db: &DatabaseConnection,
    p: &Principal,
    group_ids: &[i64],
    include_former: bool,
    columns: MemberColumns,
    window: Window,
) -> ApiResult<HashMap<i64, Page<member::Model>>> {
    scope::require(p, Action::ReadPersonalData)?;
    let mut q = columns.select(member::Entity::find());
    QueryTrait::query(&mut q).join(
        JoinType::InnerJoin,
        membership::Entity,
        Expr::col((membership::Entity, membership::Column::MemberId))
            .equals((member::Entity, member::Column::Id)),
    );
    let mut q = q.filter(scope::memberships(p)).filter(scope::members(p));
    if !include_former {
        q = q.filter(membership::Column::LeftOn.is_null());
    }
    let parent = Expr::col((membership::Entity, membership::Column::GroupId));
    let order = super::members::name_order();
    let decode = |row: &_| columns.decode(row);
    page::fetch_per_parent_with(db, q, parent, group_ids, &order, window, decode).await
}

/// Input of `createGroup`.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub kind: GroupKind,
    pub unit_id: i64,
    pub established_on: Option<NaiveDate>,
    pub decision_number: Option<String>,
    pub zalo_url: Option<String>,
}

pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewGroup,
) -> ApiResult<group::Model> {
    audit::authorize(db, p, Action::ManageGroups, "createGroup").await?;
    let txn = write_txn(db).await?;
    let outcome = create_in(&txn, p, input).await;
    audit::conclude(db, txn, p, "createGroup", outcome).await
}

async fn unit_for_write(
    txn: &DatabaseTransaction,
    p: &Principal,
    unit_id: i64,
) -> ApiResult<admin_unit::Model> {
    let unit = admin_unit::Entity::find_by_id(unit_id)
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
    Ok(unit)
}

pub(crate) async fn create_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewGroup,
) -> ApiResult<(group::Model, Touched)> {
    let name = validate::required_text("name", &input.name, 200)?;
    let decision_number =
        validate::optional_text("decisionNumber", input.decision_number.as_deref(), 64)?;
    let zalo_url = input
        .zalo_url
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|u| validate::http_url("zaloUrl", u))
        .transpose()?;
    let unit = unit_for_write(txn, p, input.unit_id).await?;
    let now = Utc::now();
    let model = group::ActiveModel {
        name_key: Set(text::sort_key(&name)),
        name_folded: Set(text::fold(&name)),
        name: Set(name),
        kind: Set(input.kind),
        unit_id: Set(unit.id),
        unit_path: Set(unit.path.clone()),
        established_on: Set(input.established_on),
        decision_number: Set(decision_number),
        zalo_url: Set(zalo_url),
        status: Set(GroupStatus::Active),
        leader_member_id: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let touched = Touched::new("Group", model.id, model.unit_path.clone());
    Ok((model, touched))
}

/// Input of `updateGroup`: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub status: Option<GroupStatus>,
    pub unit_id: Option<i64>,
    pub established_on: Option<NaiveDate>,
    pub decision_number: Option<String>,
    pub zalo_url: Option<String>,
    pub leader_member_id: Option<i64>,
    pub expected_version: Option<i32>,
}

pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    changes: GroupChanges,
) -> ApiResult<group::Model> {
    audit::authorize(db, p, Action::ManageGroups, "updateGroup").await?;
    let txn = write_txn(db).await?;
    let outcome = update_in(&txn, p, id, changes).await;
    audit::conclude(db, txn, p, "updateGroup", outcome).await
}

pub(crate) async fn update_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    id: i64,
    c: GroupChanges,
) -> ApiResult<(group::Model, Touched)> {
    let current = group::Entity::find_by_id(id)
        .filter(scope::groups(p))
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("group"))?;
    if let Some(expected) = c.expected_version
        && expected != current.version
    {
        return Err(ApiError::Conflict(format!(
            "the group was changed by someone else (version {} now, {} expected)",
            current.version, expected
        )));
    }
    let mut am: group::ActiveModel = current.clone().into();
    if let Some(name) = c.name {
        let name = validate::required_text("name", &name, 200)?;
        am.name_key = Set(text::sort_key(&name));
        am.name_folded = Set(text::fold(&name));
        am.name = Set(name);
    }
    if let Some(status) = c.status {
        am.status = Set(status);
    }
    if let Some(unit_id) = c.unit_id {
        let unit = unit_for_write(txn, p, unit_id).await?;
        am.unit_id = Set(unit.id);
        am.unit_path = Set(unit.path);
    }
    if let Some(d) = c.established_on {
        am.established_on = Set(Some(d));
    }
    if let Some(n) = c.decision_number {
        am.decision_number = Set(validate::optional_text("decisionNumber", Some(&n), 64)?);
    }
    if let Some(u) = c.zalo_url {
        am.zalo_url = Set(if u.trim().is_empty() {
            None
        } else {
            Some(validate::http_url("zaloUrl", &u)?)
        });
    }
    if let Some(leader) = c.leader_member_id {
        if !super::is_current_member(txn, id, leader).await? {
            return Err(ApiError::bad_input(
                "leaderId",
                "must be a current member of the group",
            ));
        }
        am.leader_member_id = Set(Some(leader));
    }
    am.version = Set(current.version + 1);
    am.updated_at = Set(Utc::now());
    // The version check is repeated in the UPDATE itself so two racing writers cannot both win.
    let result = group::Entity::update_many()
        .set(am)
        .filter(group::Column::Id.eq(id))
        .filter(group::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    // A group's unit is part of its leader's and members' scope.
    crate::auth::cache::accounts_changed();
    if result.rows_affected != 1 {
        return Err(ApiError::Conflict(
            "the group was changed by someone else".to_owned(),
        ));
    }
    let model = group::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("group"))?;
    let touched = Touched::new("Group", id, model.unit_path.clone());
    Ok((model, touched))
}
