//! Administrative units: the tree (any depth), looked up by id, code, search or parent. Unit
//! names and the tree are visible to every signed-in user; what hangs off a unit is not.

use std::collections::HashMap;

use cdtg_core::unit::UnitKind;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Select,
};

use super::page::{self, Page, Window};
use super::{folded_contains, scope};
use crate::entity::admin_unit;
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;

#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub search: Option<String>,
    pub kind: Option<UnitKind>,
    pub parent_id: Option<i64>,
    /// Only units with no parent.
    pub roots_only: bool,
    pub code: Option<String>,
    /// Only units inside this unit's subtree (the unit included).
    pub within_id: Option<i64>,
    /// Exclude units whose validity ended (merged or abolished).
    pub current_only: bool,
    /// Only units that existed on this day.
    pub as_of: Option<chrono::NaiveDate>,
}

pub async fn get(
    db: &DatabaseConnection,
    p: &Principal,
    id: i64,
) -> ApiResult<Option<admin_unit::Model>> {
    Ok(admin_unit::Entity::find_by_id(id)
        .filter(scope::admin_units(p))
        .one(db)
        .await?)
}

pub async fn get_by_ids(
    db: &DatabaseConnection,
    p: &Principal,
    ids: &[i64],
) -> ApiResult<HashMap<i64, admin_unit::Model>> {
    let rows = admin_unit::Entity::find()
        .filter(admin_unit::Column::Id.is_in(ids.iter().copied()))
        .filter(scope::admin_units(p))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// Finds a current unit by GSO code, or failing that by exact (folded) name — for the command
/// line. Codes and names of closed units may belong to a current unit too, so only current
/// units are looked at.
pub async fn find_by_code_or_name(
    db: &DatabaseConnection,
    key: &str,
) -> ApiResult<Option<admin_unit::Model>> {
    if let Some(unit) = admin_unit::Entity::find()
        .filter(admin_unit::Column::Code.eq(key))
        .filter(admin_unit::Column::ValidTo.is_null())
        .one(db)
        .await?
    {
        return Ok(Some(unit));
    }
    let mut found = admin_unit::Entity::find()
        .filter(admin_unit::Column::NameFolded.eq(cdtg_core::text::fold(key)))
        .filter(admin_unit::Column::ValidTo.is_null())
        .order_by_asc(admin_unit::Column::Depth)
        .all(db)
        .await?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(ApiError::bad_input(
            "scope",
            "matches several units; use the unit code",
        )),
    }
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &UnitFilter,
) -> ApiResult<Select<admin_unit::Entity>> {
    let mut q = admin_unit::Entity::find().filter(scope::admin_units(p));
    if let Some(search) = f
        .search
        .as_deref()
        .and_then(|s| folded_contains(admin_unit::Column::NameFolded, s))
    {
        q = q.filter(search);
    }
    if let Some(kind) = f.kind {
        q = q.filter(admin_unit::Column::Kind.eq(kind));
    }
    if let Some(parent) = f.parent_id {
        q = q.filter(admin_unit::Column::ParentId.eq(parent));
    }
    if f.roots_only {
        q = q.filter(admin_unit::Column::ParentId.is_null());
    }
    if let Some(code) = &f.code {
        q = q.filter(admin_unit::Column::Code.eq(code.as_str()));
    }
    if f.current_only {
        q = q.filter(admin_unit::Column::ValidTo.is_null());
    }
    if let Some(day) = f.as_of {
        q = q.filter(admin_unit::Column::ValidFrom.lte(day)).filter(
            sea_orm::Condition::any()
                .add(admin_unit::Column::ValidTo.is_null())
                .add(admin_unit::Column::ValidTo.gte(day)),
        );
    }
    if let Some(within) = f.within_id {
        let root = get(db, p, within)
            .await?
            .ok_or(ApiError::NotFound("unit"))?;
        q = q.filter(scope::unit_subtree(admin_unit::Column::Path, &root.path));
    }
    Ok(q)
}

/// Shallowest first, then in Vietnamese name order (the sort key), then by id for ties.
fn sort() -> [page::SortTerm; 3] {
    use page::{KeyKind, SortTerm};
    [
        SortTerm::asc(admin_unit::Column::Depth.into_expr(), KeyKind::Int),
        SortTerm::asc(admin_unit::Column::NameKey.into_expr(), KeyKind::Text),
        SortTerm::asc(admin_unit::Column::Id.into_expr(), KeyKind::BigInt),
    ]
}

pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &UnitFilter,
    window: Window,
) -> ApiResult<Page<admin_unit::Model>> {
    page::fetch(db, select(db, p, f).await?, &sort(), window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &UnitFilter) -> ApiResult<u64> {
    Ok(select(db, p, f).await?.count(db).await?)
}

/// Children of many units at once, in display order (for batched `children` edges).
pub async fn children_of(
    db: &DatabaseConnection,
    p: &Principal,
    parent_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<admin_unit::Model>>> {
    let rows = admin_unit::Entity::find()
        .filter(admin_unit::Column::ParentId.is_in(parent_ids.iter().copied()))
        .filter(scope::admin_units(p))
        .order_by_asc(admin_unit::Column::NameKey)
        .order_by_asc(admin_unit::Column::Id)
        .all(db)
        .await?;
    Ok(super::group_by_parent(rows, |row| {
        row.parent_id.unwrap_or_default()
    }))
}

/// The ids on a materialised path, root first: "/1/5/23/" → [1, 5, 23].
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/').filter_map(|s| s.parse().ok()).collect()
}

/// Resolves an optional unit id filter to the unit's path (NOT_FOUND for an unknown unit).
pub async fn path_of(
    db: &DatabaseConnection,
    p: &Principal,
    id: Option<i64>,
) -> ApiResult<Option<String>> {
    match id {
        None => Ok(None),
        Some(id) => Ok(Some(
            get(db, p, id)
                .await?
                .ok_or(ApiError::NotFound("unit"))?
                .path,
        )),
    }
}
