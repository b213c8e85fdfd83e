//! The `group_targets` table: a numeric target for one group, indicator and period.

use sea_orm::entity::prelude::*;

use cdtg_core::unit::TargetIndicator;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "group_targets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub group_id: i64,
    pub indicator: TargetIndicator,
    pub period_start: Date,
    /// Inclusive.
    pub period_end: Date,
    /// A count, or a rate in 0..1 for the `*_RATE` indicators.
    pub target_value: f64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
