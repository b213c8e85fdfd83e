//! The query root. Each field decodes its arguments and calls one service function.

use crate::graphql::errors::Result;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::connection::{Total, deferred};
use super::context::{db, loader, principal};
use super::enums::*;
use super::loaders::UnitById;
use super::node::{self, Node};
use super::objects::*;
use super::scalars::Date;
use crate::ids::{NodeType, decode};
use crate::service::{activities, api_keys, audit, groups, members, products, tasks, units, users};

pub struct QueryRoot;

#[derive(InputObject, Default)]
pub struct AdminUnitFilter {
    /// Accent-insensitive text in the name: "phuoc my" finds "Phước Mỹ". At most 100 characters.
    pub search: Option<String>,
    pub kind: Option<UnitKind>,
    pub parent_id: Option<ID>,
    /// Only units without a parent.
    pub roots_only: Option<bool>,
    pub code: Option<String>,
    /// Only units inside this unit's subtree (the unit included).
    pub within: Option<ID>,
    /// Exclude units that were abolished or merged.
    pub current_only: Option<bool>,
    /// Only units that existed on this day: the tree as it was (or will be) then.
    pub as_of: Option<Date>,
}

#[derive(InputObject, Default)]
pub struct GroupFilter {
    /// Groups anywhere in this unit's subtree.
    pub unit_id: Option<ID>,
    pub kind: Option<GroupKind>,
    pub status: Option<GroupStatus>,
    /// Accent-insensitive text in the group name. At most 100 characters.
    pub search: Option<String>,
    /// Groups with no field report of work done on or after this day (Asia/Ho_Chi_Minh):
    /// "which groups did nothing this month?".
    pub no_activity_since: Option<Date>,
    /// Only what changed at or after this instant: an app syncs by passing the time of its
    /// last complete read.
    pub updated_since: Option<DateTime<Utc>>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum GroupOrderField {
    #[default]
    Name,
    EstablishedOn,
    CreatedAt,
}

#[derive(InputObject)]
pub struct GroupOrder {
    pub field: GroupOrderField,
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

#[derive(InputObject, Default)]
pub struct MemberFilter {
    pub unit_id: Option<ID>,
    /// Current members of this group.
    pub group_id: Option<ID>,
    pub affiliation: Option<Affiliation>,
    /// Only members who have (or have not) completed training.
    pub trained: Option<bool>,
    /// Accent-insensitive words in the full name, in any order ("van nguyen" finds "Nguyễn Văn …"), or a phone number in any common spelling ("0905 123 456"; 4 or more digits match part of a number). At most 100 characters.
    pub search: Option<String>,
    /// Only what changed at or after this instant: an app syncs by passing the time of its
    /// last complete read.
    pub updated_since: Option<DateTime<Utc>>,
}

#[derive(InputObject, Default)]
pub struct TaskFilter {
    pub unit_id: Option<ID>,
    pub group_id: Option<ID>,
    pub assignee_id: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<TaskStatus>>,
    pub kind: Option<TaskKind>,
    /// Past the due date (judged in Asia/Ho_Chi_Minh) and still `OPEN` or `IN_PROGRESS`.
    pub overdue: Option<bool>,
    /// Accent-insensitive text in the title. At most 100 characters.
    pub search: Option<String>,
    /// Only what changed at or after this instant: an app syncs by passing the time of its
    /// last complete read.
    pub updated_since: Option<DateTime<Utc>>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum TaskOrderField {
    #[default]
    DueOn,
    CreatedAt,
    Priority,
    Title,
}

#[derive(InputObject)]
pub struct TaskOrder {
    pub field: TaskOrderField,
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

#[derive(InputObject, Default)]
pub struct ProductFilter {
    pub unit_id: Option<ID>,
    pub group_id: Option<ID>,
    pub category: Option<String>,
    /// 0 to 5.
    pub min_ocop_stars: Option<i64>,
    /// Products listed on this platform.
    pub platform: Option<Platform>,
    /// Accent-insensitive text in the product name. At most 100 characters.
    pub search: Option<String>,
    /// Only what changed at or after this instant: an app syncs by passing the time of its
    /// last complete read.
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: only archived products (archiving changes `updatedAt`, so a sync learns of it
    /// with `updatedSince`). Absent or `false`: the products in use.
    pub archived: Option<bool>,
}

#[derive(InputObject, Default)]
pub struct ActivityFilter {
    /// Reports of groups in this unit or below.
    pub unit_id: Option<ID>,
    pub group_id: Option<ID>,
    pub task_id: Option<ID>,
    /// Reports sent by this account (a `User` ID).
    pub reporter_id: Option<ID>,
    /// Only your own reports: sent by you, or made as your member record.
    #[graphql(default = false)]
    pub mine: bool,
    /// Reports that recorded at least one outcome of this kind.
    pub outcome: Option<OutcomeKind>,
    /// Work done on or after this day (Asia/Ho_Chi_Minh).
    pub from: Option<Date>,
    /// Work done on or before this day (Asia/Ho_Chi_Minh).
    pub to: Option<Date>,
    /// Only reports received at or after this instant (for incremental sync).
    pub received_since: Option<DateTime<Utc>>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum ActivityOrderField {
    /// When the work was done.
    #[default]
    OccurredAt,
    /// When the report reached the server.
    ReportedAt,
    ResidentsHelped,
}

#[derive(InputObject)]
pub struct ActivityOrder {
    pub field: ActivityOrderField,
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Any of these roles.
    pub role: Option<Vec<Role>>,
    /// Accounts scoped to this unit or below (unit accounts there, and accounts of groups
    /// there).
    pub unit_id: Option<ID>,
    pub disabled: Option<bool>,
    /// Accent-insensitive words in the username or display name, in any order. At most 100
    /// characters.
    pub search: Option<String>,
}

#[derive(InputObject, Default)]
pub struct ListingFilter {
    pub unit_id: Option<ID>,
    pub product_id: Option<ID>,
    pub platform: Option<Platform>,
    pub status: Option<ListingStatus>,
    /// Only what changed at or after this instant (for incremental sync).
    pub updated_since: Option<DateTime<Utc>>,
    /// `true`: only archived listings, and those of archived products. Absent or `false`: the
    /// listings in use.
    pub archived: Option<bool>,
}

/// Decodes an optional filter ID; a malformed or foreign-typed one matches nothing (`-1`), which
/// is how a filter on something you cannot see behaves too.
fn filter_id(t: NodeType, id: &Option<ID>) -> Option<i64> {
    id.as_ref().map(|id| decode(t, id).unwrap_or(-1))
}

#[Object(name = "Query")]
impl QueryRoot {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let p = principal(ctx)?;
        let u = crate::service::users::get(db(ctx), p.user_id)
            .await?
            .ok_or(crate::error::ApiError::Unauthenticated("unknown user"))?;
        Ok(User(u))
    }

    /// Any object by global ID; null when missing or outside your scope.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(node::resolve(ctx, &id).await?)
    }

    async fn admin_unit(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AdminUnit>> {
        let Some(row) = decode(NodeType::AdminUnit, &id) else {
            return Ok(None);
        };
        Ok(loader(ctx)?.load_one(UnitById(row)).await?.map(AdminUnit))
    }

    /// Units of the administrative tree, shallowest first, then by name.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn admin_units(
        &self,
        ctx: &Context<'_>,
        filter: Option<AdminUnitFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<AdminUnitConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = units::UnitFilter {
            search: search_filter(f.search)?,
            kind: f.kind.map(Into::into),
            parent_id: filter_id(NodeType::AdminUnit, &f.parent_id),
            roots_only: f.roots_only.unwrap_or(false),
            code: f.code,
            within_id: filter_id(NodeType::AdminUnit, &f.within),
            current_only: f.current_only.unwrap_or(false),
            as_of: f.as_of.map(|d| d.0),
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = units::list(&db, &p, &filter, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { units::count(&db, &p, &filter).await }
        }));
        Ok(AdminUnitConnection {
            page: page.map(AdminUnit),
            total,
        })
    }

    async fn group(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Group>> {
        let Some(row) = decode(NodeType::Group, &id) else {
            return Ok(None);
        };
        // The service decides: role first (FORBIDDEN), then scope (missing).
        let unit = ctx.look_ahead().field("unit");
        if !unit.exists() {
            return Ok(groups::get(db(ctx), principal(ctx)?, row).await?.map(Group));
        }
        // Look-ahead: the units the selection reads come with the group, into the loader's
        // cache, where `unit` and `parent` find them.
        let ancestors = unit.field("parent").exists() || unit.field("ancestors").exists();
        let Some((group, units)) =
            groups::get_with_units(db(ctx), principal(ctx)?, row, ancestors).await?
        else {
            return Ok(None);
        };
        loader(ctx)?
            .feed_many(units.into_iter().map(|u| (UnitById(u.id), u)))
            .await;
        Ok(Some(Group(group)))
    }

    /// Groups in your scope. Default order: name.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        filter: Option<GroupFilter>,
        order_by: Option<GroupOrder>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<GroupConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = groups::GroupFilter {
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            kind: f.kind.map(Into::into),
            status: f.status.map(Into::into),
            search: search_filter(f.search)?,
            no_activity_since: f
                .no_activity_since
                .map(|d| crate::service::stats::period_date("filter.noActivitySince", d.0))
                .transpose()?,
            updated_since: f.updated_since,
        };
        let (order, desc) = match order_by {
            None => (groups::GroupOrder::Name, false),
            Some(o) => (
                match o.field {
                    GroupOrderField::Name => groups::GroupOrder::Name,
                    GroupOrderField::EstablishedOn => groups::GroupOrder::EstablishedOn,
                    GroupOrderField::CreatedAt => groups::GroupOrder::CreatedAt,
                },
                o.direction == SortDirection::Desc,
            ),
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = groups::list(&db, &p, &filter, order, desc, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { groups::count(&db, &p, &filter).await }
        }));
        Ok(GroupConnection {
            page: page.map(Group),
            total,
        })
    }

    async fn member(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Member>> {
        let Some(row) = decode(NodeType::Member, &id) else {
            return Ok(None);
        };
        // Personal data: the service refuses roles without it, then applies scope.
        Ok(members::get(db(ctx), principal(ctx)?, row)
            .await?
            .map(Member))
    }

    /// Members in your scope, by name. Personal data: not for `VIEWER`.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        filter: Option<MemberFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<MemberConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = members::MemberFilter {
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            group_id: filter_id(NodeType::Group, &f.group_id),
            affiliation: f.affiliation.map(Into::into),
            trained: f.trained,
            search: search_filter(f.search)?,
            updated_since: f.updated_since,
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = members::list(&db, &p, &filter, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { members::count(&db, &p, &filter).await }
        }));
        Ok(MemberConnection {
            page: page.map(Member),
            total,
        })
    }

    async fn task(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Task>> {
        let Some(row) = decode(NodeType::Task, &id) else {
            return Ok(None);
        };
        // The service decides: role first (FORBIDDEN), then scope (missing).
        Ok(tasks::get(db(ctx), principal(ctx)?, row).await?.map(Task))
    }

    /// Tasks in your scope. Default order: due date.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskFilter>,
        order_by: Option<TaskOrder>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<TaskConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = tasks::TaskFilter {
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            group_id: filter_id(NodeType::Group, &f.group_id),
            assignee_id: filter_id(NodeType::Member, &f.assignee_id),
            status: f.status.map(|v| v.into_iter().map(Into::into).collect()),
            kind: f.kind.map(Into::into),
            overdue: f.overdue,
            search: search_filter(f.search)?,
            updated_since: f.updated_since,
        };
        let (order, desc) = match order_by {
            None => (tasks::TaskOrder::DueOn, false),
            Some(o) => (
                match o.field {
                    TaskOrderField::DueOn => tasks::TaskOrder::DueOn,
                    TaskOrderField::CreatedAt => tasks::TaskOrder::CreatedAt,
                    TaskOrderField::Priority => tasks::TaskOrder::Priority,
                    TaskOrderField::Title => tasks::TaskOrder::Title,
                },
                o.direction == SortDirection::Desc,
            ),
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = tasks::list(&db, &p, &filter, order, desc, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { tasks::count(&db, &p, &filter).await }
        }));
        Ok(TaskConnection {
            page: page.map(Task),
            total,
        })
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Product>> {
        let Some(row) = decode(NodeType::Product, &id) else {
            return Ok(None);
        };
        // The service decides: role first (FORBIDDEN), then scope (missing).
        Ok(products::get(db(ctx), principal(ctx)?, row)
            .await?
            .map(Product))
    }

    /// Local products in your scope, by name.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn products(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProductFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<ProductConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = products::ProductFilter {
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            group_id: filter_id(NodeType::Group, &f.group_id),
            category: f.category,
            min_ocop_stars: f
                .min_ocop_stars
                .map(|n| cdtg_core::validate::ocop_stars("filter.minOcopStars", n))
                .transpose()
                .map_err(crate::error::ApiError::from)?,
            platform: f.platform.map(Into::into),
            search: search_filter(f.search)?,
            updated_since: f.updated_since,
            archived: Some(f.archived.unwrap_or(false)),
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = products::list(&db, &p, &filter, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { products::count(&db, &p, &filter).await }
        }));
        Ok(ProductConnection {
            page: page.map(Product),
            total,
        })
    }

    /// Product listings in your scope.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn listings(
        &self,
        ctx: &Context<'_>,
        filter: Option<ListingFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<ListingConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = products::ListingFilter {
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            product_id: filter_id(NodeType::Product, &f.product_id),
            platform: f.platform.map(Into::into),
            status: f.status.map(Into::into),
            updated_since: f.updated_since,
            archived: Some(f.archived.unwrap_or(false)),
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = products::list_listings(&db, &p, &filter, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { products::count_listings(&db, &p, &filter).await }
        }));
        Ok(ListingConnection {
            page: page.map(Listing),
            total,
        })
    }

    /// A unit's aggregates split by one or two dimensions (e.g. `[CHILD_UNIT]`,
    /// `[CHILD_UNIT, TASK_STATUS]`), one statement per statistic family. Rows add up to the
    /// unit's `stats`. Default order: by key; `limit` defaults to 1,000 rows (at most 5,000).
    /// Same access as `AdminUnit.stats`.
    #[allow(clippy::too_many_arguments)]
    async fn stats_breakdown(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        by: Vec<super::stats::StatsDimension>,
        period: Option<super::stats::PeriodInput>,
        filter: Option<super::stats::StatsBreakdownFilter>,
        order_by: Option<super::stats::StatsBreakdownOrder>,
        #[graphql(default = 1000)] limit: i64,
        #[graphql(
            desc = "Read the tree of this day: its children then, with groups and members where they were then. A closed unit defaults to its last day."
        )]
        as_of: Option<Date>,
    ) -> Result<super::stats::StatsBreakdown> {
        super::stats::stats_breakdown(
            ctx,
            unit_id,
            by,
            period,
            filter,
            order_by,
            limit,
            as_of.map(|d| d.0),
        )
        .await
    }

    /// Field reports within your scope (a `MEMBER`: their own), the most recent work first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityFilter>,
        order_by: Option<ActivityOrder>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<ActivityConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = activities::ActivityFilter {
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            group_id: filter_id(NodeType::Group, &f.group_id),
            task_id: filter_id(NodeType::Task, &f.task_id),
            reporter_id: filter_id(NodeType::User, &f.reporter_id),
            mine: f.mine,
            outcome: f.outcome.map(Into::into),
            from: f.from.map(Into::into),
            to: f.to.map(Into::into),
            received_since: f.received_since,
        };
        let (order, desc) = match order_by {
            None => (activities::ActivityOrder::OccurredAt, true),
            Some(o) => (
                match o.field {
                    ActivityOrderField::OccurredAt => activities::ActivityOrder::OccurredAt,
                    ActivityOrderField::ReportedAt => activities::ActivityOrder::ReportedAt,
                    ActivityOrderField::ResidentsHelped => {
                        activities::ActivityOrder::ResidentsHelped
                    }
                },
                o.direction == SortDirection::Desc,
            ),
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = activities::list(&db, &p, &filter, order, desc, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { activities::count(&db, &p, &filter).await }
        }));
        Ok(ActivityConnection {
            page: page.map(Activity),
            total,
        })
    }

    /// Accounts within your scope, by username (`CITY_ADMIN`, `DISTRICT_OFFICER`,
    /// `WARD_LEADER`).
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<UserConnection> {
        let p = principal(ctx)?.clone();
        let f = filter.unwrap_or_default();
        let filter = users::UserFilter {
            roles: f
                .role
                .map(|roles| roles.into_iter().map(Into::into).collect()),
            unit_id: filter_id(NodeType::AdminUnit, &f.unit_id),
            disabled: f.disabled,
            search: search_filter(f.search)?,
        };
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = users::list(&db, &p, &filter, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
            async move { users::count(&db, &p, &filter).await }
        }));
        Ok(UserConnection {
            page: page.map(User),
            total,
        })
    }

    /// API keys whose unit lies within your scope, newest first; ended (revoked or expired)
    /// ones only with `includeEnded`. For those who manage accounts.
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_ended: bool,
    ) -> Result<Vec<ApiKey>> {
        let p = principal(ctx)?;
        Ok(api_keys::list(db(ctx), p, include_ended)
            .await?
            .into_iter()
            .map(ApiKey)
            .collect())
    }

    /// Audit trail within your scope, newest first (`CITY_ADMIN`, `WARD_LEADER`).
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<AuditEventConnection> {
        let p = principal(ctx)?.clone();
        let window = page_args(first, after, last, before).window()?;
        let db = db(ctx).clone();
        let page = audit::list(&db, &p, window).await?;
        let total = Total::Deferred(deferred(move || {
            let (db, p) = (db.clone(), p.clone());
            async move { audit::count(&db, &p).await }
        }));
        Ok(AuditEventConnection {
            page: page.map(AuditEvent),
            total,
        })
    }
}
