//! The `tasks` table.

use sea_orm::entity::prelude::*;

use cdtg_core::task::{TaskKind, TaskPriority, TaskStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub group_id: i64,
    pub assignee_member_id: Option<i64>,
    pub title: String,
    pub title_folded: String,
    pub description: Option<String>,
    pub kind: TaskKind,
    pub priority: TaskPriority,
    pub status: TaskStatus,
    pub due_on: Option<Date>,
    pub target: Option<i64>,
    pub progress: i64,
    pub version: i32,
    pub created_by_user_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
