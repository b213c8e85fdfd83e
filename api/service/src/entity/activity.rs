//! The `activities` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `None` for a walk-in report (help given outside any task).
    pub task_id: Option<i64>,
    pub group_id: i64,
    pub member_id: Option<i64>,
    pub reported_by_user_id: Option<i64>,
    pub occurred_at: DateTimeUtc,
    pub residents_helped: i32,
    pub vneid_activations: i32,
    pub progress_delta: i64,
    pub note: Option<String>,
    pub idempotency_key: String,
    pub request_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
