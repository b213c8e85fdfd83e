//! The `admin_units` table.

use sea_orm::entity::prelude::*;

use cdtg_core::unit::UnitKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_units")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub code: Option<String>,
    pub name: String,
    /// `cdtg_core::text::sort_key(name)`: lists sort by it.
    pub name_key: String,
    pub name_folded: String,
    pub kind: UnitKind,
    pub parent_id: Option<i64>,
    pub path: String,
    pub depth: i32,
    pub valid_from: Date,
    pub valid_to: Option<Date>,
    pub merged_into_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

super::changes_principals!();
