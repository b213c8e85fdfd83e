//! `AdminUnit`: a node of the administrative tree.

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, Object};
use std::sync::Arc;

use super::{
    Group, GroupConnection, Member, MemberConnection, UnitGroupsFilter, UnitSurvey, page_args,
};
use crate::entity::admin_unit;
use crate::graphql::connection::{
    Total, connection, deferred, total_for, wants_cursors, wants_total,
};
use crate::graphql::context::{db, loader, page_loader, principal};
use crate::graphql::enums::UnitKind;
use crate::graphql::loaders::{
    Nested, UnitById, UnitChildren, UnitGroupsParams, UnitMembersParams, UnitSurveys,
};
use crate::graphql::plain::PlainFields;
use crate::ids::{NodeType, encode};
use crate::service::page::{Page, Window};
use crate::service::{groups, members, unit_admin, units};

#[derive(Clone)]
pub struct AdminUnit(pub admin_unit::Model);

/// Loads the unit `id` whose materialised path is `path` (`/1/8/12/` for unit 12). When the
/// selection goes on up the tree (`parent`, `ancestors`), the ancestors named by the path are
/// fetched in the same batch: the loader caches every row, so walking up costs no further round
/// trip (a group's unit and district was three sequential statements, now one).
pub async fn load_unit(ctx: &Context<'_>, id: i64, path: &str) -> Result<Option<AdminUnit>> {
    let look = ctx.look_ahead();
    let mut keys = vec![UnitById(id)];
    if look.field("parent").exists() || look.field("ancestors").exists() {
        keys.extend(
            units::path_ids(path)
                .into_iter()
                .filter(|a| *a != id)
                .map(UnitById),
        );
    }
    let mut found = loader(ctx)?.load_many(keys).await?;
    Ok(found.remove(&UnitById(id)).map(AdminUnit))
}

connection!(AdminUnitConnection, AdminUnitEdge, AdminUnit);

#[Object]
impl AdminUnit {
    pub async fn id(&self) -> ID {
        encode(NodeType::AdminUnit, self.0.id)
    }
    /// GSO code, where known.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> Option<UnitKind> {
        Some(self.0.kind.into())
    }
    /// 0 for a root (province), 1 for its children, …
    async fn depth(&self) -> i32 {
        self.0.depth
    }
    async fn valid_from(&self) -> Date {
        Date(self.0.valid_from)
    }
    /// The unit's last day, set when it was abolished or merged (e.g. districts on 30 June
    /// 2025, the day before the reform took effect).
    async fn valid_to(&self) -> Option<Date> {
        self.0.valid_to.map(Date)
    }
    /// Whether the unit exists today (Asia/Ho_Chi_Minh).
    async fn current(&self) -> bool {
        unit_admin::valid_on(&self.0, crate::service::today_in_vietnam())
    }
    /// The unit that took this one over, for a merged unit.
    async fn merged_into(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        match self.0.merged_into_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(UnitById(id)).await?.map(AdminUnit)),
        }
    }
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        match self.0.parent_id {
            None => Ok(None),
            Some(id) => {
                // The parent's path is ours without our own segment.
                let own = format!("{}/", self.0.id);
                let parent_path = self.0.path.strip_suffix(&own).unwrap_or(&self.0.path);
                load_unit(ctx, id, parent_path).await
            }
        }
    }
    /// From the root down to the parent.
    #[graphql(complexity = "5 * child_complexity")]
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<AdminUnit>> {
        let ids: Vec<UnitById> = units::path_ids(&self.0.path)
            .into_iter()
            .filter(|id| *id != self.0.id)
            .map(UnitById)
            .collect();
        let mut rows: Vec<admin_unit::Model> =
            loader(ctx)?.load_many(ids).await?.into_values().collect();
        rows.sort_by_key(|u| u.depth);
        Ok(rows.into_iter().map(AdminUnit).collect())
    }
    /// Direct children that exist on a day, by name: today's by default, so after a reform the
    /// closed units drop out of the list (they stay readable with `asOf`, `node` and
    /// `adminUnit`). A closed unit's children default to those of its last day.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn children(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The day whose tree to read (ISO date, Asia/Ho_Chi_Minh).")] as_of: Option<
            Date,
        >,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<AdminUnitConnection> {
        let window = page_args(first, after, last, before).window()?;
        let day = as_of
            .map(|d| d.0)
            .or(self.0.valid_to)
            .unwrap_or_else(crate::service::today_in_vietnam);
        let mut all = loader(ctx)?
            .load_one(UnitChildren(self.0.id))
            .await?
            .unwrap_or_default();
        all.retain(|u| unit_admin::valid_on(u, day));
        let page = crate::service::page::slice(all, &window, |u| {
            use crate::service::page::KeyValue;
            vec![KeyValue::Text(u.name_key.clone()), KeyValue::Int(u.id)]
        })
        .map(AdminUnit);
        let total = Total::Known(page.total.unwrap_or_default());
        Ok(AdminUnitConnection { page, total })
    }
    /// Groups anywhere in this unit's subtree, within the caller's scope.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        filter: Option<UnitGroupsFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<GroupConnection> {
        let f = filter.unwrap_or_default();
        let params = UnitGroupsParams {
            kind: f.kind.map(Into::into),
            status: f.status.map(Into::into),
            search: super::search_filter(f.search.clone())?,
            columns: Group::columns(ctx),
        };
        let window = Window {
            total_wanted: wants_total(ctx),
            cursors_wanted: wants_cursors(ctx),
            ..page_args(first, after, last, before).window()?
        };
        let key = Nested {
            parent: self.0.id,
            params: params.clone(),
            window,
        };
        let page = page_loader(ctx)?
            .load_one(key)
            .await?
            .map_or_else(|| Page::empty(Some(0)), Arc::unwrap_or_clone);
        let (db, p, unit_id) = (db(ctx).clone(), principal(ctx)?.clone(), self.0.id);
        let filter = groups::GroupFilter {
            unit_id: Some(unit_id),
            kind: params.kind,
            status: params.status,
            search: params.search,
            ..Default::default()
        };
        let total = total_for(
            &page,
            deferred(move || {
                let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
                async move { groups::count(&db, &p, &filter).await }
            }),
        );
        Ok(GroupConnection {
            page: page.map(Group),
            total,
        })
    }
    /// Members registered anywhere in this unit's subtree, within the caller's scope.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<MemberConnection> {
        let window = Window {
            total_wanted: wants_total(ctx),
            cursors_wanted: wants_cursors(ctx),
            ..page_args(first, after, last, before).window()?
        };
        let key = Nested {
            parent: self.0.id,
            params: UnitMembersParams {
                columns: Member::columns(ctx),
            },
            window,
        };
        let page = page_loader(ctx)?
            .load_one(key)
            .await?
            .map_or_else(|| Page::empty(Some(0)), Arc::unwrap_or_clone);
        let (db, p, unit_id) = (db(ctx).clone(), principal(ctx)?.clone(), self.0.id);
        let total = total_for(
            &page,
            deferred(move || {
                let (db, p) = (db.clone(), p.clone());
                async move {
                    members::count(
                        &db,
                        &p,
                        &members::MemberFilter {
                            unit_id: Some(unit_id),
                            ..Default::default()
                        },
                    )
                    .await
                }
            }),
        );
        Ok(MemberConnection {
            page: page.map(Member),
            total,
        })
    }
    /// Aggregates over this unit's whole subtree; only the fields asked for are computed.
    /// `CITY_ADMIN`, `DISTRICT_OFFICER`, `WARD_LEADER` and `VIEWER` for units inside their
    /// scope; `FORBIDDEN` above or beside it. Periods are calendar periods in Asia/Ho_Chi_Minh.
    ///
    /// With `asOf`, groups and members count where they were on that day (before a merge
    /// moved them); a closed unit is read as of its last day unless a day is given.
    async fn stats(
        &self,
        ctx: &Context<'_>,
        period: Option<crate::graphql::stats::PeriodInput>,
        as_of: Option<Date>,
    ) -> Result<crate::graphql::stats::UnitStats> {
        crate::graphql::stats::unit_stats(ctx, &self.0, period, as_of.map(|d| d.0)).await
    }
    /// Household surveys recorded for this unit, newest period first.
    #[graphql(complexity = "5 * child_complexity")]
    async fn surveys(&self, ctx: &Context<'_>) -> Result<Vec<UnitSurvey>> {
        let rows = loader(ctx)?
            .load_one(UnitSurveys(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(UnitSurvey).collect())
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for AdminUnit {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "code",
        "name",
        "kind",
        "depth",
        "validFrom",
        "validTo",
        "current",
    ];
}
