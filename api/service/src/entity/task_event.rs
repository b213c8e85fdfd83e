//! The `task_events` table: the log of task events, written in the transaction of the change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_events")]
pub struct Model {
    /// Increasing: a subscriber resumes after the last one it received.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// A `TaskEventKind` in SCREAMING_SNAKE_CASE.
    pub kind: String,
    pub task_id: i64,
    pub group_id: i64,
    /// The group's unit path when it happened: subscribers are scoped by it.
    pub unit_path: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
