//! The `unit_surveys` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit_surveys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub unit_id: i64,
    pub period_start: Date,
    pub period_end: Date,
    pub households: i64,
    pub with_computer: i64,
    pub with_internet: i64,
    pub with_smartphone: i64,
    pub businesses: i64,
    pub business_households: i64,
    pub avg_income_vnd: Option<i64>,
    pub five_skills_households: i64,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
