//! `Group`: a community digital technology group or a ward management team.

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::{
    AdminUnit, Member, MemberConnection, Membership, Product, Task, TaskConnection, page_args,
};
use crate::entity::group;
use crate::graphql::connection::{
    connection, deferred, node_reads, total_for, wants_cursors, wants_total,
};
use crate::graphql::context::{db, loader, page_loader, principal};
use crate::graphql::enums::{GroupKind, GroupStatus, TaskKind, TaskStatus};
use crate::graphql::loaders::{
    GroupMembersParams, GroupMemberships, GroupProducts, GroupTasksParams, MemberById, Nested,
};
use crate::graphql::plain::PlainFields;
use crate::ids::{NodeType, encode};
use crate::service::columns::GroupColumns;
use crate::service::page::{Page, Window};
use crate::service::{members, tasks};

#[derive(Clone)]
pub struct Group(pub group::Model);

connection!(GroupConnection, GroupEdge, Group);

impl Group {
    /// The columns a group connection being resolved reads of its groups: the fields under
    /// `nodes` and `edges { node }`, themselves or in fragments. Keep this next to the fields
    /// below: a field that reads a column must name it here (`stats` hands the whole group on,
    /// so it reads them all), and `tests/api/projection.rs` reads every field of `Group`
    /// through a projected page to hold the two together.
    pub fn columns(ctx: &Context<'_>) -> GroupColumns {
        let reads = node_reads(ctx);
        if reads("stats") {
            return GroupColumns::ALL;
        }
        GroupColumns {
            name: reads("name"),
            kind: reads("kind"),
            status: reads("status"),
            unit: reads("unit"),
            established_on: reads("establishedOn"),
            decision_number: reads("decisionNumber"),
            zalo_url: reads("zaloUrl"),
            leader: reads("leader"),
            version: reads("version"),
            created_at: reads("createdAt"),
            updated_at: reads("updatedAt"),
        }
    }
}

/// Filter for a group's tasks (`Group.tasks`).
#[derive(InputObject, Default, Clone)]
pub struct GroupTasksFilter {
    /// Any of these statuses.
    pub status: Option<Vec<TaskStatus>>,
    pub kind: Option<TaskKind>,
    /// Past the due date (Asia/Ho_Chi_Minh) and neither done nor cancelled.
    pub overdue: Option<bool>,
}

#[Object]
impl Group {
    pub async fn id(&self) -> ID {
        encode(NodeType::Group, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> Option<GroupKind> {
        Some(self.0.kind.into())
    }
    async fn status(&self) -> Option<GroupStatus> {
        Some(self.0.status.into())
    }
    /// The unit the group works in (usually a residential group or a ward).
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<AdminUnit>> {
        super::unit::load_unit(ctx, self.0.unit_id, &self.0.unit_path).await
    }
    async fn established_on(&self) -> Option<Date> {
        self.0.established_on.map(Date)
    }
    /// Number of the decision that established the group.
    async fn decision_number(&self) -> Option<&str> {
        self.0.decision_number.as_deref()
    }
    /// Link to the group's Zalo chat.
    async fn zalo_url(&self) -> Option<&str> {
        self.0.zalo_url.as_deref()
    }
    async fn leader(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        match self.0.leader_member_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(MemberById(id)).await?.map(Member)),
        }
    }
    /// For `expectedVersion` in `updateGroup`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Current members (all who ever belonged with `includeFormer: true`), by name.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_former: bool,
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
            params: GroupMembersParams {
                include_former,
                columns: Member::columns(ctx),
            },
            window,
        };
        let page = page_loader(ctx)?
            .load_one(key)
            .await?
            .map_or_else(|| Page::empty(Some(0)), Arc::unwrap_or_clone);
        let (db, p, gid) = (db(ctx).clone(), principal(ctx)?.clone(), self.0.id);
        let total = total_for(
            &page,
            deferred(move || {
                let (db, p) = (db.clone(), p.clone());
                async move {
                    members::count(
                        &db,
                        &p,
                        &members::MemberFilter {
                            group_id: Some(gid),
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
    /// Memberships with roles and dates; former ones with `includeFormer: true`. A sync
    /// passes `updatedSince` (the time of its last complete read) with `includeFormer: true`
    /// to learn of memberships that ended too.
    #[graphql(complexity = "5 * child_complexity")]
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_former: bool,
        updated_since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Membership>> {
        let key = GroupMemberships {
            group_id: self.0.id,
            include_former,
            updated_since,
        };
        Ok(loader(ctx)?
            .load_one(key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Membership)
            .collect())
    }
    /// Tasks assigned to the group, by due date.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<GroupTasksFilter>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<TaskConnection> {
        let f = filter.unwrap_or_default();
        let params = GroupTasksParams {
            status: f.status.map(|v| v.into_iter().map(Into::into).collect()),
            kind: f.kind.map(Into::into),
            overdue: f.overdue,
            columns: Task::columns(ctx),
        };
        let window = Window {
            total_wanted: wants_total(ctx),
            cursors_wanted: wants_cursors(ctx),
            ..page_args(first, after, last, before).window()?
        };
        let page = page_loader(ctx)?
            .load_one(Nested {
                parent: self.0.id,
                params: params.clone(),
                window,
            })
            .await?
            .map_or_else(|| Page::empty(Some(0)), Arc::unwrap_or_clone);
        let (db, p, gid) = (db(ctx).clone(), principal(ctx)?.clone(), self.0.id);
        let filter = tasks::TaskFilter {
            group_id: Some(gid),
            status: params.status,
            kind: params.kind,
            overdue: params.overdue,
            ..Default::default()
        };
        let total = total_for(
            &page,
            deferred(move || {
                let (db, p, filter) = (db.clone(), p.clone(), filter.clone());
                async move { tasks::count(&db, &p, &filter).await }
            }),
        );
        Ok(TaskConnection {
            page: page.map(Task),
            total,
        })
    }
    /// The group's own figures (its current members, tasks, activities, products and
    /// listings): for its group leader and members, and unit roles with the group in scope.
    /// Survey fields and targets belong to units and are `BAD_USER_INPUT` here.
    async fn stats(
        &self,
        ctx: &Context<'_>,
        period: Option<crate::graphql::stats::PeriodInput>,
    ) -> Result<crate::graphql::stats::UnitStats> {
        crate::graphql::stats::group_stats(ctx, &self.0, period).await
    }
    /// Local products the group supports.
    #[graphql(complexity = "5 * child_complexity")]
    async fn products(&self, ctx: &Context<'_>) -> Result<Vec<Product>> {
        Ok(loader(ctx)?
            .load_one(GroupProducts(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Product)
            .collect())
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for Group {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "name",
        "kind",
        "status",
        "establishedOn",
        "decisionNumber",
        "zaloUrl",
        "version",
        "createdAt",
        "updatedAt",
    ];
}
