//! Administering the unit tree: create, rename, re-parent, close and merge units.
//!
//! Decisions:
//! - **Units are never deleted.** A unit that stops existing gets `valid_to` (its last day) and,
//!   when something took it over, `merged_into_id`. Everything that happened in it stays
//!   attached to it: activities, surveys, targets, the audit trail, and its closed children.
//! - **A merge moves what is current** — the source's groups, members and current child units
//!   (residential groups, villages) — to the successor, and records each moved group and member
//!   in `unit_moves` with the path it had, so statistics read as of an earlier day put it back
//!   where it was ([`super::stats`]). The rollup triggers carry the counters along in the same
//!   transaction, so nothing is counted twice or lost.
//! - **Re-parenting rewrites paths.** A unit's materialised path changes with its parent, and
//!   with it the paths of its subtree, its groups and members; the rollup anchors (which
//!   ancestors a unit counts in) are then rebuilt from the tree in the same transaction. That
//!   recomputes every rollup, which is fine for an act a city performs a few times a year.
//! - **Accounts never widen.** A user scoped to a unit that was closed is not moved to the
//!   successor: authentication refuses the account with a reason until an administrator gives
//!   it a new scope ([`super::users::reassign`]).
//! - **Scope.** `ManageUnits` (city admin, district officer), and every unit touched must lie
//!   within the caller's unit scope; units outside it answer `NOT_FOUND`, like missing ones.
//!   Nobody closes, merges or moves their own scope unit.
//!
//! The `*_in` functions run inside a caller's transaction so the command-line import and the
//! reform can compose them into one all-or-nothing change.

use cdtg_core::policy::Action;
use cdtg_core::task::TaskStatus;
use cdtg_core::unit::UnitKind;
use cdtg_core::{text, validate};
use chrono::{Days, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Set, Statement, Value,
};

use super::audit::{self, Touched};
use super::scope;
use crate::db::write_txn;
use crate::entity::{admin_unit, group, task, user};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};

/// Task statuses that still need work: a unit with such tasks is not closed without a
/// successor to take them.
const OPEN_TASK_STATUSES: [TaskStatus; 3] = [
    TaskStatus::Open,
    TaskStatus::InProgress,
    TaskStatus::Submitted,
];

/// A new unit.
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub code: Option<String>,
    pub name: String,
    pub kind: UnitKind,
    pub parent_id: Option<i64>,
    pub valid_from: NaiveDate,
}

/// What a merge (or a whole reform) changed, for the audit detail and the check report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    pub units_closed: u64,
    pub groups_moved: u64,
    pub members_moved: u64,
    pub units_moved: u64,
    pub open_tasks_moved: u64,
    /// Accounts scoped to a closed unit: held until reassigned.
    pub accounts_held: Vec<String>,
}

impl MergeReport {
    pub fn add(&mut self, o: MergeReport) {
        self.units_closed += o.units_closed;
        self.groups_moved += o.groups_moved;
        self.members_moved += o.members_moved;
        self.units_moved += o.units_moved;
        self.open_tasks_moved += o.open_tasks_moved;
        self.accounts_held.extend(o.accounts_held);
    }

    fn detail(&self) -> String {
        format!(
            "{} units closed, {} groups, {} members, {} units and {} open tasks moved, {} accounts held",
            self.units_closed,
            self.groups_moved,
            self.members_moved,
            self.units_moved,
            self.open_tasks_moved,
            self.accounts_held.len()
        )
    }
}

/// A statement with `$n` placeholders, written as `?n` for SQLite (positional there too).
fn stmt(backend: sea_orm::DatabaseBackend, sql: String, values: Vec<Value>) -> Statement {
    let sql = if backend == sea_orm::DatabaseBackend::Postgres {
        sql
    } else {
        sql.replace('$', "?")
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Whether the unit exists on `day` (its first and last days included).
pub fn valid_on(u: &admin_unit::Model, day: NaiveDate) -> bool {
    u.valid_from <= day && u.valid_to.is_none_or(|to| to >= day)
}

/// The day before `day` (a closed unit's last day when its successor takes over on `day`).
fn day_before(field: &str, day: NaiveDate) -> ApiResult<NaiveDate> {
    day.checked_sub_days(Days::new(1))
        .ok_or_else(|| ApiError::bad_input(field, "date out of range"))
}

/// A unit kind read from text (a unit file).
pub fn parse_kind(field: &str, kind: &str) -> ApiResult<UnitKind> {
    UnitKind::parse(kind).ok_or_else(|| {
        let all: Vec<&str> = UnitKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::bad_input(
            field,
            format!("unknown unit kind {kind:?}; one of {}", all.join(", ")),
        )
    })
}

/// A validated GSO code: digits only, 1–20 of them. `None` for an empty code.
pub fn parse_code(field: &str, code: Option<&str>) -> ApiResult<Option<String>> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    if code.len() > 20 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_input(
            field,
            "a unit code is 1 to 20 digits (the statistics office's code)",
        ));
    }
    Ok(Some(code.to_owned()))
}

/// A unit the caller may change: it exists, lies within their scope (else `NOT_FOUND`, like a
/// missing one) and is still open.
async fn unit_for_write<C: ConnectionTrait>(
    conn: &C,
    p: &Principal,
    field: &str,
    id: i64,
) -> ApiResult<admin_unit::Model> {
    let unit = admin_unit::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|u| scope::unit_in_scope(p, &u.path))
        .ok_or(ApiError::NotFound("unit"))?;
    if let Some(to) = unit.valid_to {
        return Err(ApiError::bad_input(
            field,
            format!("{} was closed on {to}", unit.name),
        ));
    }
    Ok(unit)
}

/// Refuses to close, merge or move the caller's own scope unit (or a unit above it).
fn not_own_scope(p: &Principal, field: &str, unit: &admin_unit::Model) -> ApiResult<()> {
    if let Scope::Unit { path, .. } = &p.scope
        && cdtg_core::policy::path_within(&unit.path, path)
    {
        return Err(ApiError::forbidden(format!(
            "{} is your own scope; an administrator above it must change it ({field})",
            unit.name
        )));
    }
    Ok(())
}

/// Refuses a code that a current unit other than `except` already has.
async fn code_is_free<C: ConnectionTrait>(
    conn: &C,
    field: &str,
    code: &str,
    except: Option<i64>,
) -> ApiResult<()> {
    let mut q = admin_unit::Entity::find()
        .filter(admin_unit::Column::Code.eq(code))
        .filter(admin_unit::Column::ValidTo.is_null());
    if let Some(id) = except {
        q = q.filter(admin_unit::Column::Id.ne(id));
    }
    if let Some(other) = q.one(conn).await? {
        return Err(ApiError::bad_input(
            field,
            format!("code {code} already belongs to {}", other.name),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Create and update
// ---------------------------------------------------------------------------------------------

pub async fn create(
    db: &DatabaseConnection,
    p: &Principal,
    input: NewUnit,
) -> ApiResult<admin_unit::Model> {
    audit::authorize(db, p, Action::ManageUnits, "createAdminUnit").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let parent = match input.parent_id {
            Some(id) => Some(unit_for_write(&txn, p, "parentId", id).await?),
            None if p.is_system()
                || matches!(
                    p.scope,
                    Scope::Unit {
                        whole_tree: true,
                        ..
                    }
                ) =>
            {
                None
            }
            None => {
                return Err(ApiError::forbidden(
                    "only the city administration creates a root unit",
                ));
            }
        };
        let unit = create_in(&txn, input, parent.as_ref()).await?;
        let touched = Touched::new("AdminUnit", unit.id, unit.path.clone());
        Ok((unit, touched))
    }
    .await;
    audit::conclude(db, txn, p, "createAdminUnit", outcome).await
}

/// Inserts a unit under `parent` (already checked by the caller).
pub async fn create_in<C: ConnectionTrait>(
    conn: &C,
    input: NewUnit,
    parent: Option<&admin_unit::Model>,
) -> ApiResult<admin_unit::Model> {
    let name = validate::required_text("name", &input.name, 200)?;
    let kind = input.kind;
    let code = parse_code("code", input.code.as_deref())?;
    if let Some(code) = &code {
        code_is_free(conn, "code", code, None).await?;
    }
    if let Some(parent) = parent
        && input.valid_from < parent.valid_from
    {
        return Err(ApiError::bad_input(
            "validFrom",
            format!("{} only exists from {}", parent.name, parent.valid_from),
        ));
    }
    // The path holds the id, which the insert assigns: a unique placeholder first.
    let placeholder = format!("/new/{}/", uuid::Uuid::new_v4().simple());
    let inserted = admin_unit::ActiveModel {
        code: Set(code),
        name_key: Set(text::sort_key(&name)),
        name_folded: Set(text::fold(&name)),
        name: Set(name),
        kind: Set(kind),
        parent_id: Set(parent.map(|p| p.id)),
        path: Set(placeholder),
        depth: Set(parent.map_or(0, |p| p.depth + 1)),
        valid_from: Set(input.valid_from),
        valid_to: Set(None),
        merged_into_id: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let path = match parent {
        Some(p) => format!("{}{}/", p.path, inserted.id),
        None => format!("/{}/", inserted.id),
    };
    let mut active: admin_unit::ActiveModel = inserted.into();
    active.path = Set(path);
    Ok(active.update(conn).await?)
}

/// A rename or a new code; `None` leaves a field as it is, `Some(None)` clears the code.
#[derive(Debug, Clone, Default)]
pub struct UnitChanges {
    pub name: Option<String>,
    pub code: Option<Option<String>>,
    pub kind: Option<UnitKind>,
}

pub async fn update(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    changes: UnitChanges,
) -> ApiResult<admin_unit::Model> {
    audit::authorize(db, p, Action::ManageUnits, "updateAdminUnit").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let unit = unit_for_write(&txn, p, "id", id).await?;
        let unit = update_in(&txn, unit, changes).await?;
        let touched = Touched::new("AdminUnit", unit.id, unit.path.clone());
        Ok((unit, touched))
    }
    .await;
    audit::conclude(db, txn, p, "updateAdminUnit", outcome).await
}

/// Applies `changes` to `unit`; a no-op when nothing differs (so a re-import changes nothing).
pub async fn update_in<C: ConnectionTrait>(
    conn: &C,
    unit: admin_unit::Model,
    changes: UnitChanges,
) -> ApiResult<admin_unit::Model> {
    let mut active: admin_unit::ActiveModel = unit.clone().into();
    let mut changed = false;
    if let Some(name) = changes.name {
        let name = validate::required_text("name", &name, 200)?;
        if name != unit.name {
            active.name_key = Set(text::sort_key(&name));
            active.name_folded = Set(text::fold(&name));
            active.name = Set(name);
            changed = true;
        }
    }
    if let Some(code) = changes.code {
        let code = parse_code("code", code.as_deref())?;
        if code != unit.code {
            if let Some(code) = &code {
                code_is_free(conn, "code", code, Some(unit.id)).await?;
            }
            active.code = Set(code);
            changed = true;
        }
    }
    if let Some(kind) = changes.kind
        && kind != unit.kind
    {
        active.kind = Set(kind);
        changed = true;
    }
    if !changed {
        return Ok(unit);
    }
    Ok(active.update(conn).await?)
}

// ---------------------------------------------------------------------------------------------
// Move (re-parent)
// ---------------------------------------------------------------------------------------------

pub async fn move_unit(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    new_parent_id: i64,
    effective_on: NaiveDate,
) -> ApiResult<admin_unit::Model> {
    audit::authorize(db, p, Action::ManageUnits, "moveAdminUnit").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let unit = unit_for_write(&txn, p, "id", id).await?;
        not_own_scope(p, "id", &unit)?;
        let parent = unit_for_write(&txn, p, "parentId", new_parent_id).await?;
        let moved = reparent_in(&txn, &unit, &parent, effective_on).await?;
        rebuild_anchors_in(&txn).await?;
        let touched = Touched::new("AdminUnit", moved.id, moved.path.clone());
        Ok((moved, touched))
    }
    .await;
    audit::conclude(db, txn, p, "moveAdminUnit", outcome).await
}

/// Puts `unit` (and its subtree) under `parent`. The caller rebuilds the rollup anchors
/// ([`rebuild_anchors_in`]) once after all its moves.
pub async fn reparent_in(
    txn: &DatabaseTransaction,
    unit: &admin_unit::Model,
    parent: &admin_unit::Model,
    effective_on: NaiveDate,
) -> ApiResult<admin_unit::Model> {
    if parent.id == unit.id || cdtg_core::policy::path_within(&unit.path, &parent.path) {
        return Err(ApiError::bad_input(
            "parentId",
            format!(
                "{} lies inside {}: a unit cannot move under itself",
                parent.name, unit.name
            ),
        ));
    }
    if unit.parent_id == Some(parent.id) {
        return Ok(unit.clone());
    }
    let old = unit.path.clone();
    let new = format!("{}{}/", parent.path, unit.id);
    let depth_change = parent.depth + 1 - unit.depth;
    let (lo, hi) = scope::subtree_range(&old);
    let backend = txn.get_database_backend();
    // SUBSTR takes an integer position; PostgreSQL has no bigint overload.
    let cut =
        i32::try_from(old.len() + 1).map_err(|_| ApiError::Internal("path too long".into()))?;
    // Record where every group and member of the subtree was, then rewrite the paths.
    for (object_type, table) in [("GROUP", "groups"), ("MEMBER", "members")] {
        txn.execute_raw(stmt(
            backend,
            format!(
                "INSERT INTO unit_moves (object_type, object_id, from_unit_id, to_unit_id, \
                 from_path, effective_on, created_at) SELECT '{object_type}', t.id, t.unit_id, \
                 t.unit_id, t.unit_path, $1, $2 FROM {table} t \
                 WHERE t.unit_path >= $3 AND t.unit_path < $4"
            ),
            vec![
                effective_on.into(),
                Utc::now().into(),
                lo.clone().into(),
                hi.clone().into(),
            ],
        ))
        .await?;
        txn.execute_raw(stmt(
            backend,
            format!(
                "UPDATE {table} SET unit_path = $1 || SUBSTR(unit_path, $2) \
                 WHERE unit_path >= $3 AND unit_path < $4"
            ),
            vec![
                new.clone().into(),
                cut.into(),
                lo.clone().into(),
                hi.clone().into(),
            ],
        ))
        .await?;
    }
    txn.execute_raw(stmt(
        backend,
        "UPDATE admin_units SET path = $1 || SUBSTR(path, $2), depth = depth + $3 \
         WHERE path >= $4 AND path < $5"
            .to_owned(),
        vec![
            new.clone().into(),
            cut.into(),
            Value::from(depth_change),
            lo.into(),
            hi.into(),
        ],
    ))
    .await?;
    let mut active: admin_unit::ActiveModel = admin_unit::Entity::find_by_id(unit.id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("unit"))?
        .into();
    active.parent_id = Set(Some(parent.id));
    Ok(active.update(txn).await?)
}

/// Recomputes the rollups from the tree and the facts, after units changed parents.
pub async fn rebuild_anchors_in(txn: &DatabaseTransaction) -> ApiResult<()> {
    cdtg_migrations::rollups::rebuild(txn)
        .await
        .map_err(ApiError::from)
}

// ---------------------------------------------------------------------------------------------
// Close
// ---------------------------------------------------------------------------------------------

pub async fn close(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
    valid_to: NaiveDate,
) -> ApiResult<admin_unit::Model> {
    audit::authorize(db, p, Action::ManageUnits, "closeAdminUnit").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        let unit = unit_for_write(&txn, p, "id", id).await?;
        not_own_scope(p, "id", &unit)?;
        let closed = close_in(&txn, &unit, valid_to).await?;
        let touched = Touched::new("AdminUnit", closed.id, closed.path.clone());
        Ok((closed, touched))
    }
    .await;
    audit::conclude(db, txn, p, "closeAdminUnit", outcome).await
}

/// Open tasks of the groups in a unit's subtree.
async fn open_tasks_under<C: ConnectionTrait>(conn: &C, path: &str) -> ApiResult<u64> {
    let groups_below = group::Entity::find()
        .filter(scope::unit_subtree(group::Column::UnitPath, path))
        .select_only()
        .column(group::Column::Id)
        .into_query();
    Ok(task::Entity::find()
        .filter(task::Column::GroupId.in_subquery(groups_below))
        .filter(task::Column::Status.is_in(OPEN_TASK_STATUSES))
        .count(conn)
        .await?)
}

/// Closes a unit without a successor: refused while anything current still depends on it.
async fn close_in(
    txn: &DatabaseTransaction,
    unit: &admin_unit::Model,
    valid_to: NaiveDate,
) -> ApiResult<admin_unit::Model> {
    if valid_to < unit.valid_from {
        return Err(ApiError::bad_input(
            "validTo",
            format!("{} only exists from {}", unit.name, unit.valid_from),
        ));
    }
    let open_children = admin_unit::Entity::find()
        .filter(admin_unit::Column::ParentId.eq(unit.id))
        .filter(admin_unit::Column::ValidTo.is_null())
        .count(txn)
        .await?;
    if open_children > 0 {
        return Err(ApiError::bad_input(
            "id",
            format!(
                "{} still has {open_children} open units; close or move them first, or merge it",
                unit.name
            ),
        ));
    }
    let open = open_tasks_under(txn, &unit.path).await?;
    if open > 0 {
        return Err(ApiError::bad_input(
            "id",
            format!(
                "{} still has {open} open tasks; merge it into a successor that takes them",
                unit.name
            ),
        ));
    }
    let mut active: admin_unit::ActiveModel = unit.clone().into();
    active.valid_to = Set(Some(valid_to));
    Ok(active.update(txn).await?)
}

// ---------------------------------------------------------------------------------------------
// Merge
// ---------------------------------------------------------------------------------------------

/// Where a merge puts the sources.
#[derive(Debug, Clone)]
pub enum MergeTarget {
    Existing(i64),
    New(NewUnit),
}

pub async fn merge(
    db: &DatabaseConnection,
    p: &Principal,
    source_ids: &[i64],
    target: MergeTarget,
    effective_on: NaiveDate,
) -> ApiResult<(admin_unit::Model, MergeReport)> {
    audit::authorize(db, p, Action::ManageUnits, "mergeAdminUnits").await?;
    let txn = write_txn(db).await?;
    let outcome = async {
        if source_ids.is_empty() {
            return Err(ApiError::bad_input("sourceIds", "name at least one unit"));
        }
        let mut sources = Vec::with_capacity(source_ids.len());
        for (i, id) in source_ids.iter().enumerate() {
            if source_ids[..i].contains(id) {
                return Err(ApiError::bad_input("sourceIds", "a unit is listed twice"));
            }
            let unit = unit_for_write(&txn, p, "sourceIds", *id).await?;
            not_own_scope(p, "sourceIds", &unit)?;
            sources.push(unit);
        }
        let target = match target {
            MergeTarget::Existing(id) => unit_for_write(&txn, p, "intoId", id).await?,
            MergeTarget::New(new) => {
                let parent = match new.parent_id {
                    Some(id) => unit_for_write(&txn, p, "newUnit.parentId", id).await?,
                    None => {
                        return Err(ApiError::bad_input(
                            "newUnit.parentId",
                            "a merged unit needs a parent",
                        ));
                    }
                };
                if sources
                    .iter()
                    .any(|s| cdtg_core::policy::path_within(&s.path, &parent.path))
                {
                    return Err(ApiError::bad_input(
                        "newUnit.parentId",
                        "the new unit cannot lie inside a unit that is merged away",
                    ));
                }
                create_in(&txn, new, Some(&parent)).await?
            }
        };
        let mut report = MergeReport::default();
        // Deepest first: a source's children that are themselves merged are closed before
        // their parent's current children move.
        sources.sort_by_key(|s| std::cmp::Reverse(s.depth));
        for s in &sources {
            report.add(absorb_in(&txn, s, &target, effective_on).await?);
        }
        if report.units_moved > 0 {
            rebuild_anchors_in(&txn).await?;
        }
        let target = admin_unit::Entity::find_by_id(target.id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound("unit"))?;
        let touched =
            Touched::new("AdminUnit", target.id, target.path.clone()).with_detail(report.detail());
        Ok(((target, report), touched))
    }
    .await;
    audit::conclude(db, txn, p, "mergeAdminUnits", outcome).await
}

/// Closes `source` into `target` effective on `effective_on` (the source's last day is the day
/// before): its groups and members move to the target with a record of where they were, its
/// current child units move under the target, and accounts scoped to it are reported as held.
/// The caller rebuilds the anchors when `units_moved > 0`.
pub async fn absorb_in(
    txn: &DatabaseTransaction,
    source: &admin_unit::Model,
    target: &admin_unit::Model,
    effective_on: NaiveDate,
) -> ApiResult<MergeReport> {
    if source.id == target.id {
        return Err(ApiError::bad_input(
            "intoId",
            format!("{} cannot be merged into itself", source.name),
        ));
    }
    if cdtg_core::policy::path_within(&source.path, &target.path) {
        return Err(ApiError::bad_input(
            "intoId",
            format!(
                "{} lies inside {}: a unit cannot be merged into its own descendant",
                target.name, source.name
            ),
        ));
    }
    if effective_on <= source.valid_from || effective_on < target.valid_from {
        return Err(ApiError::bad_input(
            "effectiveOn",
            format!(
                "the merge must take effect after {} begins ({}) and once {} exists ({})",
                source.name, source.valid_from, target.name, target.valid_from
            ),
        ));
    }
    let last_day = day_before("effectiveOn", effective_on)?;
    let mut report = MergeReport {
        units_closed: 1,
        ..Default::default()
    };
    // Counted before anything moves: the open tasks of the source's groups and of its
    // current child units' groups (children merged earlier have handed theirs on already).
    report.open_tasks_moved = open_tasks_under(txn, &source.path).await?;
    // Current child units move under the target.
    let children = admin_unit::Entity::find()
        .filter(admin_unit::Column::ParentId.eq(source.id))
        .filter(admin_unit::Column::ValidTo.is_null())
        .all(txn)
        .await?;
    for child in &children {
        reparent_in(txn, child, target, effective_on).await?;
        report.units_moved += 1;
    }
    let backend = txn.get_database_backend();
    for (object_type, table) in [("GROUP", "groups"), ("MEMBER", "members")] {
        txn.execute_raw(stmt(
            backend,
            format!(
                "INSERT INTO unit_moves (object_type, object_id, from_unit_id, to_unit_id, \
                 from_path, effective_on, created_at) SELECT '{object_type}', t.id, t.unit_id, \
                 $1, t.unit_path, $2, $3 FROM {table} t WHERE t.unit_id = $4"
            ),
            vec![
                target.id.into(),
                effective_on.into(),
                Utc::now().into(),
                source.id.into(),
            ],
        ))
        .await?;
        // Moving `unit_id` fires the rollup triggers, which carry the counters along.
        let moved = txn
            .execute_raw(stmt(
                backend,
                format!("UPDATE {table} SET unit_id = $1, unit_path = $2 WHERE unit_id = $3"),
                vec![
                    target.id.into(),
                    target.path.clone().into(),
                    source.id.into(),
                ],
            ))
            .await?
            .rows_affected();
        if table == "groups" {
            report.groups_moved = moved;
        } else {
            report.members_moved = moved;
        }
    }
    report.accounts_held = user::Entity::find()
        .filter(user::Column::ScopeUnitId.eq(source.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    let mut active: admin_unit::ActiveModel = admin_unit::Entity::find_by_id(source.id)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("unit"))?
        .into();
    active.valid_to = Set(Some(last_day));
    active.merged_into_id = Set(Some(target.id));
    active.update(txn).await?;
    Ok(report)
}
