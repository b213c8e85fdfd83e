//! The one place that turns a principal's role and scope into decisions and query filters.
//!
//! What a role may do comes from `cdtg_core::policy` (shared with the phone); which rows it may
//! touch is decided here, as SeaORM conditions that every service query adds. Nothing else in the
//! server filters by scope, so a new query path gets authorisation by calling these functions.

use cdtg_core::policy::{self, Action, Role};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition};

use crate::entity::{
    activity, admin_unit, audit_event, group, listing, member, membership, product, task, user,
};
use crate::error::{ApiError, ApiResult};
use crate::principal::{Principal, Scope};

/// Fails with `FORBIDDEN` unless the role may perform `action` at all.
pub fn require(p: &Principal, action: Action) -> ApiResult<()> {
    if policy::allows(p.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role {} may not do this",
            p.role.as_str()
        )))
    }
}

/// The half-open range `[path, upper)` that contains exactly `path` and its subtree, so a B-tree
/// index answers subtree queries (`/` + 1 is `0`, and paths hold only digits and slashes).
pub fn subtree_range(path: &str) -> (String, String) {
    debug_assert!(path.ends_with('/'));
    let mut upper = path[..path.len() - 1].to_owned();
    upper.push('0');
    (path.to_owned(), upper)
}

/// Join condition: `row_path` (a quoted `"table"."column"`) lies in the subtree of the joined
/// unit row `"admin_units"`. The same half-open range as [`subtree_range`], written in SQL so
/// the unit comes from the join: a B-tree index on the row's path answers it per unit, where
/// `LIKE (path || '%')` with a pattern from another row can only filter a scan of every row.
/// The `LIKE` stays as the definition; the range is what the index uses.
pub fn in_joined_unit_subtree(row_path: &str) -> Expr {
    let unit = r#""admin_units"."path""#;
    Expr::cust(format!(
        "{row_path} >= {unit} AND {row_path} < SUBSTR({unit}, 1, LENGTH({unit}) - 1) || '0' \
         AND {row_path} LIKE ({unit} || '%')"
    ))
}

fn path_in<C: ColumnTrait>(col: C, path: &str) -> Condition {
    let (lo, hi) = subtree_range(path);
    Condition::all().add(col.gte(lo)).add(col.lt(hi))
}

/// Rows whose unit path lies in `path`'s subtree (for explicit unit filters, not scope).
pub fn unit_subtree<C: ColumnTrait>(col: C, path: &str) -> Condition {
    path_in(col, path)
}

/// True when a unit (by path) lies inside the principal's unit scope — for writes that place
/// something in a unit. Group-scoped principals have no unit to write into.
pub fn unit_in_scope(p: &Principal, unit_path: &str) -> bool {
    match &p.scope {
        Scope::Everything => true,
        Scope::Unit { path, .. } => policy::path_within(path, unit_path),
        Scope::Group { .. } => false,
    }
}

/// True when a group (its id and unit path) is inside the principal's scope.
pub fn group_in_scope(p: &Principal, group_id: i64, group_unit_path: &str) -> bool {
    match &p.scope {
        Scope::Everything => true,
        Scope::Unit { path, .. } => policy::path_within(path, group_unit_path),
        Scope::Group { group_id: own, .. } => *own == group_id,
    }
}

/// True when the principal's scope is every row (the system actor, or a unit scope whose unit
/// is the only root): the filters below then add nothing.
fn sees_every_row(p: &Principal) -> bool {
    matches!(
        p.scope,
        Scope::Everything
            | Scope::Unit {
                whole_tree: true,
                ..
            }
    )
}

/// Groups the principal may see.
pub fn groups(p: &Principal) -> Condition {
    if sees_every_row(p) {
        return Condition::all();
    }
    match &p.scope {
        Scope::Everything => Condition::all(),
        Scope::Unit { path, .. } => path_in(group::Column::UnitPath, path),
        Scope::Group { group_id, .. } => Condition::all().add(group::Column::Id.eq(*group_id)),
    }
}

/// `SELECT id FROM groups WHERE <scope>`, for tables that hang off a group.
pub fn visible_group_ids(p: &Principal) -> SelectStatement {
    Query::select()
        .column(group::Column::Id)
        .from(group::Entity)
        .cond_where(groups(p))
        .to_owned()
}

fn group_child<C: ColumnTrait>(p: &Principal, group_col: C) -> Condition {
    if sees_every_row(p) {
        return Condition::all();
    }
    match &p.scope {
        Scope::Everything => Condition::all(),
        Scope::Group { group_id, .. } => Condition::all().add(group_col.eq(*group_id)),
        Scope::Unit { .. } => Condition::all().add(group_col.in_subquery(visible_group_ids(p))),
    }
}

/// Members the principal may see: those registered in a unit of the subtree, or — for group
/// roles — anyone who is or was a member of the group.
pub fn members(p: &Principal) -> Condition {
    if sees_every_row(p) {
        return Condition::all();
    }
    match &p.scope {
        Scope::Everything => Condition::all(),
        Scope::Unit { path, .. } => path_in(member::Column::UnitPath, path),
        Scope::Group { group_id, .. } => Condition::all().add(
            member::Column::Id.in_subquery(
                Query::select()
                    .column(membership::Column::MemberId)
                    .from(membership::Entity)
                    .and_where(Expr::col(membership::Column::GroupId).eq(*group_id))
                    .to_owned(),
            ),
        ),
    }
}

/// Memberships the principal may see (through their group).
pub fn memberships(p: &Principal) -> Condition {
    group_child(p, membership::Column::GroupId)
}

/// Tasks the principal may see.
pub fn tasks(p: &Principal) -> Condition {
    group_child(p, task::Column::GroupId)
}

/// Activities the principal may see. A `MEMBER` sees only their own reports.
pub fn activities(p: &Principal) -> Condition {
    let base = group_child(p, activity::Column::GroupId);
    if p.role == Role::Member {
        match p.member_id {
            Some(me) => base.add(activity::Column::MemberId.eq(me)),
            None => base.add(Expr::val(1).eq(0)),
        }
    } else {
        base
    }
}

/// Products the principal may see.
pub fn products(p: &Principal) -> Condition {
    group_child(p, product::Column::GroupId)
}

/// Listings the principal may see (through their product's group).
pub fn listings(p: &Principal) -> Condition {
    if sees_every_row(p) {
        return Condition::all();
    }
    match &p.scope {
        Scope::Everything => Condition::all(),
        _ => Condition::all().add(
            listing::Column::ProductId.in_subquery(
                Query::select()
                    .column(product::Column::Id)
                    .from(product::Entity)
                    .cond_where(products(p))
                    .to_owned(),
            ),
        ),
    }
}

/// Audit events the principal may see: those recorded against units in the subtree.
///
/// No whole-tree shortcut here: events recorded against no unit (the command line's refused
/// requests) are in no subtree, and a unit scope must not see them.
pub fn audit_events(p: &Principal) -> Condition {
    match &p.scope {
        Scope::Everything => Condition::all(),
        Scope::Unit { path, .. } => path_in(audit_event::Column::UnitPath, path),
        Scope::Group { unit_path, .. } => {
            Condition::all().add(audit_event::Column::UnitPath.eq(unit_path.clone()))
        }
    }
}

/// Refuses what only people do — administer accounts and keys — to an API key, whatever its
/// role or write access: a leaked key must not mint people or more keys.
pub fn refuse_api_key(p: &Principal, what: &str) -> ApiResult<()> {
    match p.credential {
        crate::principal::Credential::ApiKey { .. } => Err(ApiError::forbidden(format!(
            "an API key cannot {what}; sign in as a person"
        ))),
        _ => Ok(()),
    }
}

/// User accounts the principal may see: those scoped to a unit, or to a group, inside the
/// principal's unit scope. A group-scoped principal sees only their own account.
pub fn users(p: &Principal) -> Condition {
    if sees_every_row(p) {
        return Condition::all();
    }
    match &p.scope {
        Scope::Everything => Condition::all(),
        Scope::Unit { path, .. } => {
            let units = Query::select()
                .column(admin_unit::Column::Id)
                .from(admin_unit::Entity)
                .cond_where(path_in(admin_unit::Column::Path, path))
                .to_owned();
            let groups = Query::select()
                .column(group::Column::Id)
                .from(group::Entity)
                .cond_where(path_in(group::Column::UnitPath, path))
                .to_owned();
            Condition::any()
                .add(user::Column::ScopeUnitId.in_subquery(units))
                .add(user::Column::ScopeGroupId.in_subquery(groups))
        }
        Scope::Group { .. } => Condition::all().add(user::Column::Id.eq(p.user_id)),
    }
}

/// Admin units are public to every signed-in user (names and tree only); this exists so the
/// rule is written down in the same place as the others.
pub fn admin_units(_p: &Principal) -> Condition {
    Condition::all().add(admin_unit::Column::Id.gt(0))
}

/// `SELECT id FROM admin_units WHERE <inside the principal's unit scope>`, for rows attached to
/// a unit (surveys, targets). Group-scoped principals get their group's unit only.
pub fn units_in_scope(p: &Principal) -> SelectStatement {
    let mut q = Query::select();
    q.column(admin_unit::Column::Id).from(admin_unit::Entity);
    if sees_every_row(p) {
        return q;
    }
    match &p.scope {
        Scope::Everything => {}
        Scope::Unit { path, .. } => {
            q.cond_where(path_in(admin_unit::Column::Path, path));
        }
        Scope::Group { unit_path, .. } => {
            q.and_where(Expr::col(admin_unit::Column::Path).eq(unit_path.clone()));
        }
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_range_excludes_siblings_with_longer_ids() {
        let (lo, hi) = subtree_range("/1/5/");
        assert!(lo.as_str() <= "/1/5/" && "/1/5/" < hi.as_str());
        assert!("/1/5/77/" < hi.as_str());
        assert!("/1/50/" >= hi.as_str(), "/1/50/ must fall outside /1/5/");
        assert!("/1/4/" < lo.as_str());
    }
}
