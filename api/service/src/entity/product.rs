//! The `products` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `cdtg_core::text::sort_key(name)`: lists sort by it.
    pub name_key: String,
    pub name_folded: String,
    pub category: String,
    pub producer: String,
    pub sale_unit: String,
    pub ocop_stars: i32,
    pub group_id: i64,
    /// In whole đồng.
    pub price_vnd: Option<i64>,
    pub description: Option<String>,
    /// Set when archived: out of the default lists and the statistics.
    pub archived_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
