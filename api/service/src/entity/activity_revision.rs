//! The `activity_revisions` table: a field report as it stood before a correction or a void.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_revisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub activity_id: i64,
    /// 1 for the report as first sent, then one more per correction.
    pub revision: i32,
    /// `CORRECTED` or `VOIDED`: what happened to this version.
    pub action: String,
    pub task_id: Option<i64>,
    pub group_id: i64,
    /// The group's unit path when it changed: revisions are scoped by it.
    pub unit_path: String,
    pub reported_by_user_id: Option<i64>,
    pub occurred_at: DateTimeUtc,
    pub residents_helped: i32,
    /// The outcomes as JSON: `[{"kind": "VNEID_ACTIVATED", "count": 3}, …]`.
    pub outcomes: String,
    pub note: Option<String>,
    pub reason: String,
    pub idempotency_key: String,
    pub changed_by_user_id: Option<i64>,
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
