//! The `members` table.

use sea_orm::entity::prelude::*;

use cdtg_core::group::Affiliation;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub family_name: String,
    pub middle_name: Option<String>,
    pub given_name: String,
    pub full_name: String,
    pub search_key: String,
    /// `cdtg_core::text::person_sort_key` of the name parts: lists sort by it.
    pub name_key: String,
    pub phone: Option<String>,
    pub affiliation: Affiliation,
    pub trained_on: Option<Date>,
    pub unit_id: i64,
    pub unit_path: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
