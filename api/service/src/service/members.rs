//! Members and their memberships (history kept: leaving a group closes the membership, it is
//! never deleted). Member names and phones are personal data: `VIEWER` never reaches them.

use std::collections::HashMap;

use cdtg_core::group::{Affiliation, MembershipRole};
use cdtg_core::policy::Action;
use cdtg_core::validate::PhoneQuery;
use cdtg_core::{text, validate};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, JoinType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QueryTrait, Select, Set,
};

use super::audit::{self, Touched};
use super::columns::MemberColumns;
use super::page::{self, Page, Window};
use super::{contains, folded_contains, scope, units};
use crate::db::write_txn;
use crate::entity::{admin_unit, group, member, membership};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::ids::NodeType;
use crate::principal::{Principal, Scope};

#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub unit_id: Option<i64>,
    pub group_id: Option<i64>,
    pub affiliation: Option<Affiliation>,
    pub trained: Option<bool>,
    pub search: Option<String>,
    /// Members changed at or after this instant (for incremental sync).
    pub updated_since: Option<chrono::DateTime<Utc>>,
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
    if let Some(at) = f.updated_since {
        q = q.filter(member::Column::UpdatedAt.gte(at));
    }
    Ok(q)
}

/// Members in Vietnamese name order (given name first, see `cdtg_core::text`), then by id.
pub(crate) fn name_order() -> Vec<page::SortTerm> {
    use page::{KeyKind, SortTerm};
    vec![
        SortTerm::asc(
            Expr::col((member::Entity, member::Column::NameKey)),
            KeyKind::Text,
        ),
        SortTerm::asc(
            Expr::col((member::Entity, member::Column::Id)),
            KeyKind::BigInt,
        ),
    ]
}

pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &MemberFilter,
    window: Window,
) -> ApiResult<Page<member::Model>> {
    audit::authorize(db, p, Action::ReadPersonalData, "members").await?;
    page::fetch(db, select(db, p, f).await?, &name_order(), window).await
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
    columns: MemberColumns,
    window: Window,
) -> ApiResult<HashMap<i64, Page<member::Model>>> {
    scope::require(p, Action::ReadPersonalData)?;
    let mut q = columns.select(member::Entity::find().filter(scope::members(p)));
    QueryTrait::query(&mut q).join(
        JoinType::InnerJoin,
        admin_unit::Entity,
        scope::in_joined_unit_subtree(r#""members"."unit_path""#),
    );
    let parent = Expr::col((admin_unit::Entity, admin_unit::Column::Id));
    let decode = |row: &_| columns.decode(row);
    page::fetch_per_parent_with(db, q, parent, unit_ids, &name_order(), window, decode).await
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
    updated_since: Option<DateTime<Utc>>,
) -> ApiResult<HashMap<i64, Vec<membership::Model>>> {
    scope::require(p, Action::ReadGroups)?;
    let mut q = membership::Entity::find()
        .filter(membership::Column::GroupId.is_in(group_ids.iter().copied()))
        .filter(scope::memberships(p));
    if !include_former {
        q = q.filter(membership::Column::LeftOn.is_null());
    }
    if let Some(at) = updated_since {
        q = q.filter(membership::Column::UpdatedAt.gte(at));
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
    /// Also make the person a `MEMBER` of this group, from today (a group leader's new members
    /// always join the leader's group).
    pub group_id: Option<i64>,
    /// Accept a phone another member in scope already has (one household phone for several
    /// people); otherwise that is `CONFLICT` naming the existing member.
    pub allow_shared_phone: bool,
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

pub(crate) async fn create_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    input: NewMember,
) -> ApiResult<(member::Model, Touched)> {
    let (n, phone) = checked_names_and_phone(&input)?;
    let unit = admin_unit::Entity::find_by_id(input.unit_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
    // A group leader registers people living in their group's unit (or below), who join the
    // group; other principals anywhere in their unit scope.
    let join = match &p.scope {
        Scope::Group {
            group_id,
            unit_path,
        } => {
            let area = group_area(txn, unit_path).await?;
            if !cdtg_core::policy::path_within(&area, &unit.path) {
                return Err(ApiError::forbidden("the unit is outside your group's ward"));
            }
            if input.group_id.is_some_and(|g| g != *group_id) {
                return Err(ApiError::bad_input("groupId", "no such group"));
            }
            Some(*group_id)
        }
        _ => {
            refuse_unit_out_of_scope(p, &unit)?;
            match input.group_id {
                Some(g) => Some(
                    group::Entity::find_by_id(g)
                        .filter(scope::groups(p))
                        .one(txn)
                        .await?
                        .ok_or_else(|| ApiError::bad_input("groupId", "no such group"))?
                        .id,
                ),
                None => None,
            }
        }
    };
    if let Some(phone) = &phone
        && !input.allow_shared_phone
    {
        refuse_duplicate_phone(txn, p, phone, None).await?;
    }
    refuse_closed_unit(&unit)?;
    let now = Utc::now();
    let model = new_member_row(&input, n, phone, &unit, now)
        .insert(txn)
        .await?;
    if let Some(group_id) = join {
        new_membership_row(model.id, group_id, MembershipRole::Member, None, now)
            .insert(txn)
            .await?;
    }
    let touched = Touched::new("Member", model.id, unit.path);
    Ok((model, touched))
}

/// The names and the phone of a new member, checked and normalised.
fn checked_names_and_phone(input: &NewMember) -> ApiResult<(Names, Option<String>)> {
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
    Ok((n, phone))
}

fn refuse_unit_out_of_scope(p: &Principal, unit: &admin_unit::Model) -> ApiResult<()> {
    if scope::unit_in_scope(p, &unit.path) {
        Ok(())
    } else {
        Err(ApiError::forbidden("the unit is outside your scope"))
    }
}

fn refuse_closed_unit(unit: &admin_unit::Model) -> ApiResult<()> {
    match unit.valid_to {
        Some(closed) => Err(ApiError::bad_input(
            "unitId",
            format!("{} was closed on {closed}", unit.name),
        )),
        None => Ok(()),
    }
}

/// The row of a new member: the checked names, with the sort and search keys derived from them.
fn new_member_row(
    input: &NewMember,
    n: Names,
    phone: Option<String>,
    unit: &admin_unit::Model,
    now: DateTime<Utc>,
) -> member::ActiveModel {
    let full = full_name(&n.family, n.middle.as_deref(), &n.given);
    let name_key = text::person_sort_key(&n.family, n.middle.as_deref(), &n.given);
    member::ActiveModel {
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
}

/// The row of a new, current membership, from `joined_on` or today.
fn new_membership_row(
    member_id: i64,
    group_id: i64,
    role: MembershipRole,
    joined_on: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> membership::ActiveModel {
    membership::ActiveModel {
        member_id: Set(member_id),
        group_id: Set(group_id),
        role: Set(role),
        joined_on: Set(joined_on.unwrap_or_else(super::today_in_vietnam)),
        left_on: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// The group a new member joins on creation, and in which role.
#[derive(Debug, Clone)]
pub(crate) struct Joining {
    pub group_id: i64,
    pub role: MembershipRole,
    /// Today when not given.
    pub joined_on: Option<NaiveDate>,
}

/// Rows per look-up or multi-row `INSERT` of [`create_many_in`].
const BULK_CHUNK: usize = 500;

/// Creates many members at once, each optionally joining a group: what an import commits.
///
/// The rules are [`create_in`]'s and [`add_membership_in`]'s, checked for every row, but the
/// units, groups and known phones are read once per batch rather than once per row, and the
/// memberships are written with multi-row `INSERT`s: one statement per new member remains
/// (its id comes back from it). Any refusal fails the whole batch; the caller's transaction
/// then leaves nothing behind.
pub(crate) async fn create_many_in(
    txn: &DatabaseTransaction,
    p: &Principal,
    rows: Vec<(NewMember, Option<Joining>)>,
) -> ApiResult<()> {
    if matches!(p.scope, Scope::Group { .. }) {
        // A group leader's registrations follow their own rule (their ward, their group), and
        // rosters are imported by the ward: one by one through `createMember` only.
        return Err(ApiError::forbidden(
            "members are registered one by one by a group leader",
        ));
    }
    let units = by_id(
        txn,
        rows.iter().map(|(m, _)| m.unit_id),
        |ids| admin_unit::Entity::find().filter(admin_unit::Column::Id.is_in(ids)),
        |u: &admin_unit::Model| u.id,
    )
    .await?;
    let groups = by_id(
        txn,
        rows.iter()
            .flat_map(|(m, j)| m.group_id.into_iter().chain(j.as_ref().map(|j| j.group_id))),
        |ids| {
            group::Entity::find()
                .filter(group::Column::Id.is_in(ids))
                .filter(scope::groups(p))
        },
        |g: &group::Model| g.id,
    )
    .await?;
    let mut checked = Vec::with_capacity(rows.len());
    for (input, joining) in &rows {
        let (n, phone) = checked_names_and_phone(input)?;
        let unit = units
            .get(&input.unit_id)
            .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
        refuse_unit_out_of_scope(p, unit)?;
        for g in input
            .group_id
            .iter()
            .chain(joining.as_ref().map(|j| &j.group_id))
        {
            if !groups.contains_key(g) {
                return Err(ApiError::bad_input("groupId", "no such group"));
            }
        }
        checked.push((n, phone, unit));
    }
    refuse_duplicate_phones(txn, p, &rows, &checked).await?;
    for (_, _, unit) in &checked {
        refuse_closed_unit(unit)?;
    }

    let now = Utc::now();
    let mut ids = Vec::with_capacity(rows.len());
    let mut joins = Vec::new();
    for ((input, joining), (n, phone, unit)) in rows.iter().zip(checked) {
        let row = new_member_row(input, n, phone, unit, now);
        let id = member::Entity::insert(row).exec(txn).await?.last_insert_id;
        if let Some(g) = input.group_id {
            joins.push(new_membership_row(id, g, MembershipRole::Member, None, now));
        }
        if let Some(j) = joining {
            joins.push(new_membership_row(id, j.group_id, j.role, j.joined_on, now));
        }
        ids.push(id);
    }
    let leaders: Vec<(i64, i64)> = rows
        .iter()
        .zip(&ids)
        .filter_map(|((_, j), id)| {
            j.as_ref()
                .filter(|j| j.role == MembershipRole::Leader)
                .map(|j| (j.group_id, *id))
        })
        .collect();
    while !joins.is_empty() {
        let rest = joins.split_off(joins.len().min(BULK_CHUNK));
        let inserted = membership::Entity::insert_many(std::mem::replace(&mut joins, rest))
            .exec(txn)
            .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(already_in_group()),
            Err(e) => return Err(e.into()),
        }
    }
    for (group_id, member_id) in leaders {
        set_leader(txn, group_id, member_id).await?;
    }
    Ok(())
}

fn already_in_group() -> ApiError {
    ApiError::Conflict("the member already belongs to this group".to_owned())
}

/// Makes the member the group's leader (a new version of the group).
async fn set_leader(txn: &DatabaseTransaction, group_id: i64, member_id: i64) -> ApiResult<()> {
    group::Entity::update_many()
        .col_expr(group::Column::LeaderMemberId, Expr::value(member_id))
        .col_expr(
            group::Column::Version,
            Expr::col(group::Column::Version).add(1),
        )
        .filter(group::Column::Id.eq(group_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The rows of `select(ids)` for the distinct `ids`, `BULK_CHUNK` ids per statement, by id.
async fn by_id<E, S, K>(
    txn: &DatabaseTransaction,
    ids: impl Iterator<Item = i64>,
    select: S,
    key: K,
) -> ApiResult<HashMap<i64, E::Model>>
where
    E: EntityTrait,
    S: Fn(Vec<i64>) -> Select<E>,
    K: Fn(&E::Model) -> i64,
{
    let mut wanted: Vec<i64> = ids.collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(BULK_CHUNK) {
        for row in select(chunk.to_vec()).all(txn).await? {
            found.insert(key(&row), row);
        }
    }
    Ok(found)
}

/// [`refuse_duplicate_phone`] for a batch: a phone that a member in scope has, or that an
/// earlier row of the batch has, is `CONFLICT` — unless the row accepts a shared phone.
async fn refuse_duplicate_phones(
    txn: &DatabaseTransaction,
    p: &Principal,
    rows: &[(NewMember, Option<Joining>)],
    checked: &[(Names, Option<String>, &admin_unit::Model)],
) -> ApiResult<()> {
    let mut first_with: HashMap<&str, String> = HashMap::new();
    let mut to_check = Vec::new();
    for ((input, _), (n, phone, _)) in rows.iter().zip(checked) {
        let Some(phone) = phone else { continue };
        if !input.allow_shared_phone {
            if let Some(earlier) = first_with.get(phone.as_str()) {
                return Err(ApiError::Conflict(format!("{earlier} {PHONE_TAKEN}")));
            }
            to_check.push(phone.clone());
        }
        first_with
            .entry(phone)
            .or_insert_with(|| full_name(&n.family, n.middle.as_deref(), &n.given));
    }
    for chunk in to_check.chunks(BULK_CHUNK) {
        if let Some(existing) = member::Entity::find()
            .filter(scope::members(p))
            .filter(member::Column::Phone.is_in(chunk.iter().cloned()))
            .order_by_asc(member::Column::Id)
            .one(txn)
            .await?
        {
            return Err(phone_taken(&existing));
        }
    }
    Ok(())
}

/// Where a group leader may register people: the ward (or commune, or special zone) their
/// group's unit lies in — a group of a residential group recruits from the whole ward — or the
/// group's unit itself when it lies under none.
async fn group_area(txn: &DatabaseTransaction, group_unit_path: &str) -> ApiResult<String> {
    use cdtg_core::unit::UnitKind;
    let ids: Vec<i64> = group_unit_path
        .split('/')
        .filter_map(|part| part.parse().ok())
        .collect();
    let ward = admin_unit::Entity::find()
        .filter(admin_unit::Column::Id.is_in(ids))
        .filter(admin_unit::Column::Kind.is_in([
            UnitKind::Ward,
            UnitKind::Commune,
            UnitKind::SpecialZone,
        ]))
        .order_by_desc(admin_unit::Column::Depth)
        .one(txn)
        .await?;
    Ok(ward.map_or_else(|| group_unit_path.to_owned(), |w| w.path))
}

/// Refuses a phone that a member the caller can see already has (`except` aside): `CONFLICT`
/// naming that member. Only what the caller may see is compared, so the answer reveals nothing
/// outside their scope.
async fn refuse_duplicate_phone(
    txn: &DatabaseTransaction,
    p: &Principal,
    phone: &str,
    except: Option<i64>,
) -> ApiResult<()> {
    let mut q = member::Entity::find()
        .filter(scope::members(p))
        .filter(member::Column::Phone.eq(phone));
    if let Some(id) = except {
        q = q.filter(member::Column::Id.ne(id));
    }
    if let Some(existing) = q.order_by_asc(member::Column::Id).one(txn).await? {
        return Err(phone_taken(&existing));
    }
    Ok(())
}

const PHONE_TAKEN: &str =
    "already has this phone number; set allowSharedPhone for a shared household phone";

/// `DUPLICATE`, naming the member who already has the phone.
fn phone_taken(existing: &member::Model) -> ApiError {
    ApiError::Duplicate {
        message: format!("{} {PHONE_TAKEN}", existing.full_name),
        existing: (NodeType::Member, existing.id),
    }
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
    /// Accept a phone another member in scope already has.
    pub allow_shared_phone: bool,
}

impl MemberChanges {
    /// Only contact details: what a member may change on their own record.
    fn contact_only(&self) -> bool {
        self.family_name.is_none()
            && self.middle_name.is_none()
            && self.given_name.is_none()
            && self.affiliation.is_none()
            && self.trained_on.is_none()
    }
}

pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    changes: MemberChanges,
) -> ApiResult<member::Model> {
    // A member corrects their own phone; everything else is for those who keep the roster.
    let own_contact = p.member_id == Some(id) && changes.contact_only();
    if !own_contact {
        audit::authorize(db, p, Action::ManageMembers, "updateMember").await?;
    }
    let txn = write_txn(db).await?;
    let outcome = update_in(&txn, p, id, changes).await;
    audit::conclude(db, txn, p, "updateMember", outcome).await
}

pub(crate) async fn update_in(
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
        let phone = if phone.trim().is_empty() {
            None
        } else {
            Some(validate::phone("phone", &phone)?)
        };
        if let Some(number) = &phone
            && phone != current.phone
            && !c.allow_shared_phone
        {
            refuse_duplicate_phone(txn, p, number, Some(id)).await?;
        }
        am.phone = Set(phone);
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

pub(crate) async fn add_membership_in(
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
    let inserted = new_membership_row(mem.id, grp.id, input.role, input.joined_on, Utc::now())
        .insert(txn)
        .await;
    let model = match inserted {
        Ok(m) => m,
        Err(e) if is_unique_violation(&e) => return Err(already_in_group()),
        Err(e) => return Err(e.into()),
    };
    if input.role == MembershipRole::Leader {
        set_leader(txn, grp.id, mem.id).await?;
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

pub(crate) async fn end_membership_in(
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
    am.updated_at = Set(Utc::now());
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

/// `changeMembershipRole`: ends the membership and opens one with the new role on the same day,
/// so the history shows who held which role when. A group has one leader: making someone
/// `LEADER` while another leads is refused until that one's role changes.
pub async fn change_membership_role(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    role: MembershipRole,
    effective_on: Option<NaiveDate>,
) -> ApiResult<membership::Model> {
    audit::authorize(db, p, Action::ManageMemberships, "changeMembershipRole").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let current = membership::Entity::find_by_id(id)
            .filter(scope::memberships(p))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("membership"))?;
        let grp = group::Entity::find_by_id(current.group_id)
            .filter(scope::groups(p))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("membership"))?;
        if current.left_on.is_some() {
            return Err(ApiError::Conflict(
                "the membership has ended; add a new one".to_owned(),
            ));
        }
        if current.role == role {
            return Ok((
                current.clone(),
                Touched::new("Membership", current.id, grp.unit_path)
                    .with_detail(format!("already {}", role.as_str())),
            ));
        }
        if role == MembershipRole::Leader
            && let Some(leader) = grp.leader_member_id
            && leader != current.member_id
        {
            let name = member::Entity::find_by_id(leader)
                .one(&txn)
                .await?
                .map(|m| m.full_name)
                .unwrap_or_default();
            return Err(ApiError::bad_input(
                "role",
                format!("the group is led by {name}; change their role first"),
            ));
        }
        let day = effective_on.unwrap_or_else(super::today_in_vietnam);
        validate::not_before("effectiveOn", &current.joined_on, &day)?;
        let mut ended: membership::ActiveModel = current.clone().into();
        ended.left_on = Set(Some(day));
        ended.updated_at = Set(Utc::now());
        ended.update(&txn).await?;
        let model = membership::ActiveModel {
            member_id: Set(current.member_id),
            group_id: Set(current.group_id),
            role: Set(role),
            joined_on: Set(day),
            left_on: Set(None),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let leader = match (current.role, role) {
            (_, MembershipRole::Leader) => Some(Some(current.member_id)),
            (MembershipRole::Leader, _) => Some(None),
            _ => None,
        };
        if let Some(leader) = leader {
            group::Entity::update_many()
                .col_expr(group::Column::LeaderMemberId, Expr::value(leader))
                .col_expr(
                    group::Column::Version,
                    Expr::col(group::Column::Version).add(1),
                )
                .filter(group::Column::Id.eq(grp.id))
                .exec(&txn)
                .await?;
        }
        Ok((
            model.clone(),
            Touched::new("Membership", model.id, grp.unit_path).with_detail(format!(
                "{} → {} from {day}",
                current.role.as_str(),
                role.as_str()
            )),
        ))
    }
    .await;
    audit::conclude(db, txn, p, "changeMembershipRole", outcome).await
}

/// `transferMember`: the member now lives in another unit (a move, or a reform the file did not
/// cover). Their memberships stay; the move is kept in `unit_moves`, so statistics as of an
/// earlier day still count them where they were.
pub async fn transfer(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    unit_id: i64,
    effective_on: Option<NaiveDate>,
) -> ApiResult<member::Model> {
    audit::authorize(db, p, Action::ManageMembers, "transferMember").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        if matches!(p.scope, Scope::Group { .. }) {
            return Err(ApiError::forbidden(
                "members move between units through their ward, not their group",
            ));
        }
        let current = member::Entity::find_by_id(id)
            .filter(scope::members(p))
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("member"))?;
        let unit = admin_unit::Entity::find_by_id(unit_id)
            .one(&txn)
            .await?
            .filter(|u| scope::unit_in_scope(p, &u.path))
            .ok_or_else(|| ApiError::bad_input("unitId", "no such unit"))?;
        if let Some(closed) = unit.valid_to {
            return Err(ApiError::bad_input(
                "unitId",
                format!("{} was closed on {closed}", unit.name),
            ));
        }
        if unit.id == current.unit_id {
            return Err(ApiError::bad_input(
                "unitId",
                "the member already lives there",
            ));
        }
        let day = effective_on.unwrap_or_else(super::today_in_vietnam);
        let now = Utc::now();
        let moved = member::Entity::update_many()
            .col_expr(member::Column::UnitId, Expr::value(unit.id))
            .col_expr(member::Column::UnitPath, Expr::value(unit.path.clone()))
            .col_expr(member::Column::Version, Expr::value(current.version + 1))
            .col_expr(member::Column::UpdatedAt, Expr::value(now))
            .filter(member::Column::Id.eq(id))
            .filter(member::Column::Version.eq(current.version))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            return Err(ApiError::Conflict(
                "the member was changed by someone else".to_owned(),
            ));
        }
        crate::entity::unit_move::ActiveModel {
            object_type: Set("MEMBER".to_owned()),
            object_id: Set(id),
            from_unit_id: Set(current.unit_id),
            to_unit_id: Set(unit.id),
            from_path: Set(current.unit_path.clone()),
            effective_on: Set(day),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let model = member::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("member"))?;
        Ok((
            model,
            Touched::new("Member", id, unit.path.clone())
                .with_detail(format!("moved from {} on {day}", current.unit_path)),
        ))
    }
    .await;
    audit::conclude(db, txn, p, "transferMember", outcome).await
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
