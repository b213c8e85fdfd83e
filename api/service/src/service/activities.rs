//! The root list of field reports (`activities`): filtered by unit subtree, group, reporter,
//! outcome kind and the day they happened, sorted, scoped like every read (a `MEMBER` sees
//! their own reports only).

use cdtg_core::activity::OutcomeKind;
use cdtg_core::policy::Action;
use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Select,
};

use super::audit;
use super::page::{self, Page, Window};
use super::stats::period_date;
use super::{scope, units};
use crate::entity::{activity, activity_outcome, group};
use crate::error::ApiResult;
use crate::principal::Principal;
use cdtg_core::time::vietnam_midnight;

#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Reports of groups in this unit's subtree.
    pub unit_id: Option<i64>,
    pub group_id: Option<i64>,
    pub task_id: Option<i64>,
    /// Reports sent by this account.
    pub reporter_id: Option<i64>,
    /// The caller's own reports: sent by them, or made as their member record.
    pub mine: bool,
    /// Reports that recorded at least one outcome of this kind.
    pub outcome: Option<OutcomeKind>,
    /// Work done on or after this day (Asia/Ho_Chi_Minh).
    pub from: Option<NaiveDate>,
    /// Work done on or before this day (Asia/Ho_Chi_Minh).
    pub to: Option<NaiveDate>,
    /// Reports received at or after this instant (for incremental sync).
    pub received_since: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ActivityOrder {
    /// When the work was done.
    #[default]
    OccurredAt,
    /// When the report reached the server.
    ReportedAt,
    ResidentsHelped,
}

async fn select(
    db: &DatabaseConnection,
    p: &Principal,
    f: &ActivityFilter,
) -> ApiResult<Select<activity::Entity>> {
    let mut q = activity::Entity::find().filter(scope::activities(p));
    if let Some(path) = units::path_of(db, p, f.unit_id).await? {
        q = q.filter(
            activity::Column::GroupId.in_subquery(
                Query::select()
                    .column(group::Column::Id)
                    .from(group::Entity)
                    .cond_where(scope::unit_subtree(group::Column::UnitPath, &path))
                    .to_owned(),
            ),
        );
    }
    if let Some(g) = f.group_id {
        q = q.filter(activity::Column::GroupId.eq(g));
    }
    if let Some(at) = f.received_since {
        q = q.filter(activity::Column::CreatedAt.gte(at));
    }
    if let Some(t) = f.task_id {
        q = q.filter(activity::Column::TaskId.eq(t));
    }
    if let Some(u) = f.reporter_id {
        q = q.filter(activity::Column::ReportedByUserId.eq(u));
    }
    if f.mine {
        let mut own = Condition::any().add(activity::Column::ReportedByUserId.eq(p.user_id));
        if let Some(m) = p.member_id {
            own = own.add(activity::Column::MemberId.eq(m));
        }
        q = q.filter(own);
    }
    if let Some(kind) = f.outcome {
        q = q.filter(
            activity::Column::Id.in_subquery(
                Query::select()
                    .column(activity_outcome::Column::ActivityId)
                    .from(activity_outcome::Entity)
                    .and_where(Expr::col(activity_outcome::Column::Kind).eq(kind.as_str()))
                    .and_where(Expr::col(activity_outcome::Column::Count).gt(0))
                    .to_owned(),
            ),
        );
    }
    // Days are Vietnam's; the years a period may name bound them, so the arithmetic is safe.
    if let (Some(from), Some(to)) = (f.from, f.to) {
        cdtg_core::validate::not_before("filter.to", &from, &to)?;
    }
    if let Some(from) = f.from {
        let from = period_date("filter.from", from)?;
        q = q.filter(activity::Column::OccurredAt.gte(vietnam_midnight(from)));
    }
    if let Some(to) = f.to {
        let next = period_date("filter.to", to)? + chrono::Duration::days(1);
        q = q.filter(activity::Column::OccurredAt.lt(vietnam_midnight(next)));
    }
    Ok(q)
}

/// Reports in the caller's scope, newest work first unless `order` says otherwise.
pub async fn list(
    db: &DatabaseConnection,
    p: &Principal,
    f: &ActivityFilter,
    order: ActivityOrder,
    descending: bool,
    window: Window,
) -> ApiResult<Page<activity::Model>> {
    audit::authorize(db, p, Action::ReadActivities, "activities").await?;
    use page::{KeyKind, SortTerm};
    let (col, kind) = match order {
        ActivityOrder::OccurredAt => (activity::Column::OccurredAt, KeyKind::Time),
        ActivityOrder::ReportedAt => (activity::Column::CreatedAt, KeyKind::Time),
        ActivityOrder::ResidentsHelped => (activity::Column::ResidentsHelped, KeyKind::Int),
    };
    let terms = [
        SortTerm::asc(col.into_expr(), kind).direction(descending),
        SortTerm::asc(activity::Column::Id.into_expr(), KeyKind::BigInt).direction(descending),
    ];
    page::fetch(db, select(db, p, f).await?, &terms, window).await
}

pub async fn count(db: &DatabaseConnection, p: &Principal, f: &ActivityFilter) -> ApiResult<u64> {
    scope::require(p, Action::ReadActivities)?;
    Ok(select(db, p, f).await?.count(db).await?)
}
