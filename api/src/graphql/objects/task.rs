//! `Task` and `Activity` (a field report).

use crate::graphql::errors::Result;
use crate::graphql::scalars::Date;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::{Group, Member, page_args};
use crate::entity::{activity, task};
use crate::graphql::connection::{Total, connection, node_reads};
use crate::graphql::context::{loader, page_loader};
use crate::graphql::enums::{OutcomeKind, TaskKind, TaskPriority, TaskStatus};
use crate::graphql::loaders::{
    ActivityOutcomes, GroupById, MemberById, Nested, TaskActivitiesParams, TaskById,
};
use crate::graphql::plain::PlainFields;
use crate::ids::{NodeType, encode};
use crate::service::columns::TaskColumns;
use crate::service::page::Page;
use crate::service::today_in_vietnam;

#[derive(Clone)]
pub struct Task(pub task::Model);

connection!(TaskConnection, TaskEdge, Task);

#[derive(Clone)]
pub struct Activity(pub activity::Model);

connection!(ActivityConnection, ActivityEdge, Activity);

impl Task {
    /// The columns a task connection being resolved reads of its tasks (see
    /// `Member::columns`): a field that reads a column must name it here, and
    /// `tests/api/projection.rs` reads every field of `Task` through a projected page.
    pub fn columns(ctx: &Context<'_>) -> TaskColumns {
        let reads = node_reads(ctx);
        let overdue = reads("overdue");
        TaskColumns {
            title: reads("title"),
            description: reads("description"),
            kind: reads("kind"),
            status: reads("status") || overdue,
            priority: reads("priority"),
            due_on: reads("dueOn") || overdue,
            target: reads("target"),
            progress: reads("progress"),
            version: reads("version"),
            created_at: reads("createdAt"),
            updated_at: reads("updatedAt"),
            completed_at: reads("completedAt"),
            group: reads("group"),
            assignee: reads("assignee"),
        }
    }
}

#[Object]
impl Task {
    pub async fn id(&self) -> ID {
        encode(NodeType::Task, self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn kind(&self) -> Option<TaskKind> {
        Some(self.0.kind.into())
    }
    async fn status(&self) -> Option<TaskStatus> {
        Some(self.0.status.into())
    }
    async fn priority(&self) -> Option<TaskPriority> {
        Some(self.0.priority.into())
    }
    async fn due_on(&self) -> Option<Date> {
        self.0.due_on.map(Date)
    }
    /// Past its due date (judged in Asia/Ho_Chi_Minh) and still `OPEN` or `IN_PROGRESS`: a
    /// `SUBMITTED` task waits for its reviewer, not for the group.
    async fn overdue(&self) -> bool {
        self.0.status.can_be_overdue() && self.0.due_on.is_some_and(|d| d < today_in_vietnam())
    }
    /// The number to reach, e.g. 50 VNeID activations.
    async fn target(&self) -> Option<i64> {
        self.0.target
    }
    /// Sum of the reported outcomes that count toward the target (for kinds without a specific
    /// outcome: residents helped).
    async fn progress(&self) -> i64 {
        self.0.progress
    }
    /// Pass as `expectedVersion` to `updateTask` and `transitionTask`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        Ok(loader(ctx)?
            .load_one(GroupById(self.0.group_id))
            .await?
            .map(Group))
    }
    /// The member the task is assigned to, if one was named.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        match self.0.assignee_member_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(MemberById(id)).await?.map(Member)),
        }
    }
    /// Field reports on this task, newest first.
    #[graphql(
        complexity = "(first.or(last).unwrap_or(20).clamp(0, 100) as usize) * child_complexity"
    )]
    async fn activities(
        &self,
        ctx: &Context<'_>,
        first: Option<i64>,
        after: Option<String>,
        last: Option<i64>,
        before: Option<String>,
    ) -> Result<ActivityConnection> {
        let window = page_args(first, after, last, before).window()?;
        let page = page_loader(ctx)?
            .load_one(Nested {
                parent: self.0.id,
                params: TaskActivitiesParams,
                window,
            })
            .await?
            .map_or_else(|| Page::empty(Some(0)), Arc::unwrap_or_clone);
        let total = Total::Known(page.total.unwrap_or_default());
        Ok(ActivityConnection {
            page: page.map(Activity),
            total,
        })
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for Task {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "title",
        "description",
        "kind",
        "status",
        "priority",
        "dueOn",
        "overdue",
        "target",
        "progress",
        "version",
        "createdAt",
        "updatedAt",
        "completedAt",
    ];
}

/// How many of one kind of outcome a session achieved.
#[derive(SimpleObject, Clone)]
pub struct Outcome {
    pub kind: Option<OutcomeKind>,
    pub count: i32,
}

#[Object]
impl Activity {
    pub async fn id(&self) -> ID {
        encode(NodeType::Activity, self.0.id)
    }
    /// Its versions before this one (corrections), oldest first.
    async fn revisions(&self, ctx: &Context<'_>) -> Result<Vec<ActivityRevision>> {
        Ok(loader(ctx)?
            .load_one(ActivityRevisions(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(ActivityRevision)
            .collect())
    }
    /// 1 for a report never corrected, then one more per correction (`expectedRevision`).
    async fn revision(&self, ctx: &Context<'_>) -> Result<i64> {
        let earlier = loader(ctx)?
            .load_one(ActivityRevisions(self.0.id))
            .await?
            .map_or(0, |v| v.len());
        Ok(earlier as i64 + 1)
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn residents_helped(&self) -> i32 {
        self.0.residents_helped
    }
    #[graphql(complexity = "5 * child_complexity")]
    async fn outcomes(&self, ctx: &Context<'_>) -> Result<Vec<Outcome>> {
        let rows = loader(ctx)?
            .load_one(ActivityOutcomes(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(|o| Outcome {
                kind: Some(o.kind.into()),
                count: o.count,
            })
            .collect())
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The key the reporting phone generated; replays with it return this activity.
    async fn idempotency_key(&self) -> &str {
        &self.0.idempotency_key
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The task the work was for; null for walk-in help outside any task (and for a task out
    /// of the caller's reach).
    async fn task(&self, ctx: &Context<'_>) -> Result<Option<Task>> {
        let Some(id) = self.0.task_id else {
            return Ok(None);
        };
        Ok(loader(ctx)?.load_one(TaskById(id)).await?.map(Task))
    }
    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        Ok(loader(ctx)?
            .load_one(GroupById(self.0.group_id))
            .await?
            .map(Group))
    }
    /// The member who reported it (none when an officer reported it).
    async fn member(&self, ctx: &Context<'_>) -> Result<Option<Member>> {
        match self.0.member_id {
            None => Ok(None),
            Some(id) => Ok(loader(ctx)?.load_one(MemberById(id)).await?.map(Member)),
        }
    }
}

/// The fields above that read only the row (see `plain`).
impl PlainFields for Activity {
    const PLAIN: &'static [&'static str] = &[
        "id",
        "occurredAt",
        "residentsHelped",
        "note",
        "idempotencyKey",
        "createdAt",
    ];
}

/// A field report as it stood before a correction, or when it was voided.
pub struct ActivityRevision(pub crate::entity::activity_revision::Model);

#[Object]
impl ActivityRevision {
    /// The report's id (a voided report's id no longer resolves).
    async fn activity_id(&self) -> ID {
        encode(NodeType::Activity, self.0.activity_id)
    }
    async fn revision(&self) -> i64 {
        i64::from(self.0.revision)
    }
    /// `CORRECTED` (a later revision replaced it) or `VOIDED`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
    async fn residents_helped(&self) -> i64 {
        i64::from(self.0.residents_helped)
    }
    /// The outcomes it recorded.
    async fn outcomes(&self) -> Vec<RevisedOutcome> {
        serde_json::from_str::<Vec<serde_json::Value>>(&self.0.outcomes)
            .unwrap_or_default()
            .iter()
            .filter_map(|o| {
                Some(RevisedOutcome {
                    kind: cdtg_core::activity::OutcomeKind::parse(o["kind"].as_str()?)?.into(),
                    count: o["count"].as_i64()?,
                })
            })
            .collect()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Why it was corrected or voided.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn changed_at(&self) -> DateTime<Utc> {
        self.0.changed_at
    }
}

/// One outcome of a revision.
#[derive(async_graphql::SimpleObject)]
pub struct RevisedOutcome {
    pub kind: crate::graphql::enums::OutcomeKind,
    pub count: i64,
}

/// The earlier versions of a report, batched across a list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ActivityRevisions(pub i64);

impl async_graphql::dataloader::Loader<ActivityRevisions> for crate::graphql::loaders::BatchLoader {
    type Value = Vec<crate::entity::activity_revision::Model>;
    type Error = crate::error::ApiError;

    async fn load(
        &self,
        keys: &[ActivityRevisions],
    ) -> crate::error::ApiResult<
        std::collections::HashMap<ActivityRevisions, Vec<crate::entity::activity_revision::Model>>,
    > {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let mut found =
            crate::service::corrections::revisions_of_many(&self.db, &self.principal, &ids).await?;
        Ok(ids
            .into_iter()
            .map(|id| (ActivityRevisions(id), found.remove(&id).unwrap_or_default()))
            .collect())
    }
}
